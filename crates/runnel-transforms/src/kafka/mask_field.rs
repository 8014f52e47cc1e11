//! `org.apache.kafka.connect.transforms.MaskField$Key` / `$Value`: the listed fields become
//! their type's empty value (`""`, `0`, `0.0`, `false`, `[]`, `{}`, the epoch), or
//! `replacement` parsed as the field's type (strings and numbers only). Nulls stay null; the
//! schema is unchanged.

use std::sync::Arc;

use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::plugin::TransformPlugin;
use runnel_core::{Datum, Encoding, Error, Numeric, Result, Schema};

use super::{Meta, OnSide, PayloadTransform, map_entries, push_map, wrong_type};
use crate::util::{Cache, Opts, Side, fields};

const KEYS: &[ConfigKey] = &[
    ConfigKey::new("fields", ValueType::List, "Fields to mask.").required(),
    ConfigKey::new(
        "replacement",
        ValueType::String,
        "The masked value (strings and numbers); the type's empty value when unset.",
    ),
    ConfigKey::new(
        "replace.null.with.default",
        ValueType::Boolean,
        "A null field that has a default shows as its default.",
    )
    .default("true"),
];

pub fn plugin() -> TransformPlugin {
    TransformPlugin {
        class: "org.apache.kafka.connect.transforms.MaskField$Value",
        aliases: &[
            "MaskField$Value",
            "org.apache.kafka.connect.transforms.MaskField$Key",
            "MaskField$Key",
        ],
        keys: KEYS,
        build: |c| {
            let o = Opts(c);
            let fields = o.list("fields");
            if fields.is_empty() {
                return Err(Error::invalid(
                    "fields",
                    "\"fields\" is empty: name the fields to mask",
                ));
            }
            let replacement = o
                .get("replacement")
                .filter(|r| !r.is_empty())
                .map(str::to_string);
            Ok(OnSide::boxed(
                Side::of_class(c.get("type").unwrap_or("")),
                MaskField {
                    fields,
                    replacement,
                    replace_null: o.bool("replace.null.with.default", true)?,
                    masked: Cache::default(),
                },
            ))
        },
    }
}

struct MaskField {
    fields: Vec<String>,
    replacement: Option<String>,
    replace_null: bool,
    /// Per schema: which fields are masked.
    masked: Cache<Schema, Vec<bool>>,
}

impl MaskField {
    fn mask(&self, enc: &Encoding, d: &Datum) -> Result<Datum> {
        let cannot = |what: &str| Error::conversion(format!("MaskField cannot mask {what}"));
        Ok(match &self.replacement {
            None => match d {
                Datum::Null => Datum::Null,
                Datum::Bool(_) => Datum::Bool(false),
                Datum::Int(_) => Datum::Int(0),
                Datum::F32(_) => Datum::F32(0.0),
                Datum::F64(_) => Datum::F64(0.0),
                Datum::Numeric(_) => {
                    Datum::Numeric(Numeric::Finite(bytes::Bytes::from_static(b"0")))
                }
                Datum::Text(_) => Datum::text(""),
                Datum::Date(_) => Datum::Date(0),
                Datum::Time(_) => Datum::Time(0),
                Datum::Timestamp(_) => Datum::Timestamp(0),
                Datum::TimestampTz(_) => Datum::TimestampTz(0),
                Datum::Array(_) => Datum::Array(Box::new([])),
                Datum::Map(_) => Datum::Map(0..0),
                Datum::Bytes(_) => return Err(cannot("bytes")),
                _ => return Err(cannot("a struct")),
            },
            Some(r) => {
                let number = |ok: bool| {
                    if ok {
                        Ok(())
                    } else {
                        Err(Error::conversion(format!(
                            "MaskField cannot use replacement \"{r}\" for a number"
                        )))
                    }
                };
                match (enc, d) {
                    (_, Datum::Null) => Datum::Null,
                    (_, Datum::Text(_)) => Datum::text(r),
                    (
                        Encoding::Int8
                        | Encoding::Int16
                        | Encoding::Int32
                        | Encoding::Int64
                        | Encoding::Dynamic,
                        Datum::Int(_),
                    ) => {
                        let v = r.parse::<i64>().ok();
                        number(v.is_some())?;
                        Datum::Int(v.unwrap_or(0))
                    }
                    (_, Datum::F32(_)) => {
                        let v = r.parse::<f32>().ok();
                        number(v.is_some())?;
                        Datum::F32(v.unwrap_or(0.0))
                    }
                    (_, Datum::F64(_)) => {
                        let v = r.parse::<f64>().ok();
                        number(v.is_some())?;
                        Datum::F64(v.unwrap_or(0.0))
                    }
                    (_, Datum::Numeric(_)) => {
                        number(runnel_core::decimal::parse(r.as_bytes()).is_some())?;
                        Datum::numeric(r)
                    }
                    _ => return Err(cannot("this type with a custom replacement")),
                }
            }
        })
    }
}

impl PayloadTransform for MaskField {
    fn transform(
        &mut self,
        _meta: &Meta<'_>,
        schema: Option<&Arc<Schema>>,
        datum: &Datum,
        datums: &mut Vec<Datum>,
    ) -> Result<Option<(Option<Arc<Schema>>, Datum)>> {
        let Some(schema) = schema else {
            let mut entries = map_entries(datums, datum)
                .ok_or_else(|| wrong_type("a map", "masking fields", datum))?;
            for f in &self.fields {
                match entries
                    .iter_mut()
                    .find(|(k, _)| matches!(k, Datum::Text(t) if &t[..] == f.as_bytes()))
                {
                    Some((_, v)) => *v = self.mask(&Encoding::Dynamic, v)?,
                    None => entries.push((Datum::text(f), Datum::Null)),
                }
            }
            return Ok(Some((None, push_map(datums, entries))));
        };
        let Some(values) = fields(datums, datum) else {
            return Err(wrong_type("a struct", "masking fields", datum));
        };
        let names = &self.fields;
        let masked = self
            .masked
            .get_or(schema, || {
                Ok(schema
                    .fields()
                    .unwrap_or_default()
                    .iter()
                    .map(|c| names.iter().any(|n| **n == *c.name))
                    .collect())
            })?
            .clone();
        let columns = schema.fields().unwrap_or_default();
        let mut new = Vec::with_capacity(values.len());
        for ((c, v), m) in columns.iter().zip(values).zip(&masked) {
            let v = match (v, &c.default) {
                (Datum::Null, Some(d)) if self.replace_null => d.clone(),
                _ => v.clone(),
            };
            new.push(if *m { self.mask(&c.encoding, &v)? } else { v });
        }
        let start = datums.len() as u32;
        datums.extend(new);
        Ok(Some((
            Some(schema.clone()),
            Datum::Struct(start..datums.len() as u32),
        )))
    }
}
