//! `org.apache.kafka.connect.transforms.ValueToKey`: the key becomes a struct of the value's
//! `fields` (an unnamed struct with their schemas), or a map of them for a schemaless value.

use std::sync::Arc;

use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::plugin::TransformPlugin;
use runnel_core::transform::{Transform, TransformContext};
use runnel_core::{Column, Datum, Encoding, Error, Event, Payload, Result, Schema};

use super::{key_datum, pairs, push_map, wrong_type};
use crate::util::{Cache, Opts, fields, record, typed};

const KEYS: &[ConfigKey] = &[
    ConfigKey::new("fields", ValueType::List, "Value fields that make the key.").required(),
    ConfigKey::new(
        "replace.null.with.default",
        ValueType::Boolean,
        "Copy a null field that has a default as its default.",
    )
    .default("true"),
];

pub fn plugin() -> TransformPlugin {
    TransformPlugin {
        class: "org.apache.kafka.connect.transforms.ValueToKey",
        aliases: &["ValueToKey"],
        keys: KEYS,
        build: |c| {
            let o = Opts(c);
            let fields = o.list("fields");
            if fields.is_empty() {
                return Err(Error::invalid(
                    "fields",
                    "\"fields\" is empty: name the value fields that make the key",
                ));
            }
            Ok(Box::new(ValueToKey {
                fields,
                replace_null: o.bool("replace.null.with.default", true)?,
                keys: Cache::default(),
            }))
        },
    }
}

struct ValueToKey {
    fields: Vec<String>,
    replace_null: bool,
    /// Per value schema: the key schema and, per key field, its index in the value.
    keys: Cache<Schema, (Arc<Schema>, Vec<usize>)>,
}

const PURPOSE: &str = "copying fields from value to key";

impl Transform for ValueToKey {
    fn apply(&mut self, event: &mut Event, cx: &mut TransformContext<'_>) -> Result<bool> {
        let r = record(event, cx)?;
        let (schema, datum) = match typed(&r.value)? {
            Some((s, d)) => (s.cloned(), d.clone()),
            None => (None, Datum::Null),
        };
        let Some(schema) = schema else {
            let Some(pairs) = pairs(cx.datums, &datum) else {
                return Err(wrong_type("a map", PURPOSE, &datum));
            };
            let pairs: Vec<(&[u8], &Datum)> = pairs.collect();
            let key = self
                .fields
                .iter()
                .map(|f| {
                    let v = pairs
                        .iter()
                        .find(|(k, _)| *k == f.as_bytes())
                        .map_or(Datum::Null, |(_, v)| (*v).clone());
                    (key_datum(f), v)
                })
                .collect();
            let key = push_map(cx.datums, key);
            r.key = Some(Payload::Value {
                schema: None,
                datum: key,
            });
            return Ok(true);
        };
        let Some(values) = fields(cx.datums, &datum) else {
            return Err(wrong_type("a struct", PURPOSE, &datum));
        };
        let names = &self.fields;
        let (key_schema, at) = self.keys.get_or(&schema, || {
            let mut columns = Vec::new();
            let mut at = Vec::new();
            for f in names {
                let Some(i) = schema
                    .fields()
                    .unwrap_or_default()
                    .iter()
                    .position(|c| *c.name == **f)
                else {
                    return Err(Error::conversion(format!(
                        "field does not exist: {f} (ValueToKey fields)"
                    )));
                };
                at.push(i);
                columns.push(Column {
                    name: f.as_str().into(),
                    ..schema.fields().unwrap_or_default()[i].clone()
                });
            }
            Ok((
                Arc::new(Schema::new(Encoding::Struct(columns.into()), false)),
                at,
            ))
        })?;
        let columns = schema.fields().unwrap_or_default();
        let key: Vec<Datum> = at
            .iter()
            .map(|&i| match (&values[i], &columns[i].default) {
                (Datum::Null, Some(d)) if self.replace_null => d.clone(),
                (v, _) => v.clone(),
            })
            .collect();
        let start = cx.datums.len() as u32;
        cx.datums.extend(key);
        r.key = Some(Payload::value(
            key_schema,
            Datum::Struct(start..cx.datums.len() as u32),
        ));
        Ok(true)
    }
}
