//! `org.apache.kafka.connect.transforms.InsertField$Key` / `$Value`: appends the record's
//! topic, partition, offset (records read from Kafka), timestamp and a static string — always
//! in that order, whatever order the options come in. `name!` makes a field required, `name?`
//! (or a bare name) optional. A null key/value is left alone.

use std::sync::Arc;

use bytes::Bytes;
use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::plugin::TransformPlugin;
use runnel_core::{Column, Datum, Encoding, Error, Result, Schema};

use super::{Meta, OnSide, PayloadTransform, key_datum, map_entries, push_map, wrong_type};
use crate::util::{Cache, Opts, Side, rebuilt_struct};

const KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "topic.field",
        ValueType::String,
        "Field for the topic (name! required, name? optional).",
    ),
    ConfigKey::new(
        "partition.field",
        ValueType::String,
        "Field for the Kafka partition.",
    ),
    ConfigKey::new(
        "offset.field",
        ValueType::String,
        "Field for the Kafka offset (records read from Kafka).",
    ),
    ConfigKey::new(
        "timestamp.field",
        ValueType::String,
        "Field for the record timestamp.",
    ),
    ConfigKey::new("static.field", ValueType::String, "Field for static.value."),
    ConfigKey::new(
        "static.value",
        ValueType::String,
        "The static field's value.",
    ),
    ConfigKey::new(
        "replace.null.with.default",
        ValueType::Boolean,
        "Copy a null field that has a default as its default.",
    )
    .default("true"),
];

pub fn plugin() -> TransformPlugin {
    TransformPlugin {
        class: "org.apache.kafka.connect.transforms.InsertField$Value",
        aliases: &[
            "InsertField$Value",
            "org.apache.kafka.connect.transforms.InsertField$Key",
            "InsertField$Key",
        ],
        keys: KEYS,
        build: |c| {
            Ok(OnSide::boxed(
                Side::of_class(c.get("type").unwrap_or("")),
                InsertField::new(&Opts(c))?,
            ))
        },
    }
}

/// `name`, `name!` or `name?`.
#[derive(Clone)]
struct Spec {
    name: Arc<str>,
    optional: bool,
}

impl Spec {
    fn parse(o: &Opts<'_>, key: &str) -> Option<Spec> {
        let v = o.get(key)?;
        let (name, optional) = match (v.strip_suffix('?'), v.strip_suffix('!')) {
            (Some(n), _) => (n, true),
            (_, Some(n)) => (n, false),
            _ => (v, true),
        };
        Some(Spec {
            name: name.into(),
            optional,
        })
    }
}

pub struct InsertField {
    specs: Specs,
    replace_null: bool,
    /// Per schema: the new schema, and whether any field has a default.
    schemas: Cache<Schema, (Arc<Schema>, bool)>,
    last_topic: Option<(Arc<str>, Datum)>,
}

/// The fields to insert.
struct Specs {
    topic: Option<Spec>,
    partition: Option<Spec>,
    offset: Option<Spec>,
    timestamp: Option<Spec>,
    fixed: Option<(Spec, Datum)>,
}

impl InsertField {
    pub fn new(o: &Opts<'_>) -> Result<Self> {
        let fixed = match (Spec::parse(o, "static.field"), o.get("static.value")) {
            (Some(s), Some(v)) => Some((s, Datum::text(v))),
            (Some(s), None) => {
                return Err(Error::invalid(
                    "static.value",
                    format!(
                        "static.field \"{}\" has no \"static.value\": set the value to insert",
                        s.name
                    ),
                ));
            }
            (None, _) => None,
        };
        let t = Specs {
            topic: Spec::parse(o, "topic.field"),
            partition: Spec::parse(o, "partition.field"),
            offset: Spec::parse(o, "offset.field"),
            timestamp: Spec::parse(o, "timestamp.field"),
            fixed,
        };
        if t.topic.is_none()
            && t.partition.is_none()
            && t.offset.is_none()
            && t.timestamp.is_none()
            && t.fixed.is_none()
        {
            return Err(Error::invalid(
                "topic.field",
                "no field insertion configured: set topic.field, partition.field, offset.field, timestamp.field or static.field",
            ));
        }
        Ok(Self {
            specs: t,
            replace_null: o.bool("replace.null.with.default", true)?,
            schemas: Cache::default(),
            last_topic: None,
        })
    }

    fn topic_datum(&mut self, topic: &Arc<str>) -> Datum {
        match &self.last_topic {
            Some((t, d)) if Arc::ptr_eq(t, topic) => d.clone(),
            _ => {
                let d = Datum::Text(Bytes::copy_from_slice(topic.as_bytes()));
                self.last_topic = Some((topic.clone(), d.clone()));
                d
            }
        }
    }

    /// The inserted values, in the fixed order, with their names; `None` for a value the
    /// record lacks. `out` receives them (a struct's new fields) or they are returned by name
    /// (a map's).
    fn values(
        &mut self,
        meta: &Meta<'_>,
        schemaless: bool,
        out: &mut Vec<Datum>,
        named: &mut Vec<(Arc<str>, Option<Datum>)>,
    ) -> Result<()> {
        if !schemaless {
            if self.specs.topic.is_some() {
                let d = self.topic_datum(meta.topic);
                out.push(d);
            }
            let specs = &self.specs;
            if specs.partition.is_some() {
                out.push(meta.partition.map_or(Datum::Null, |p| Datum::Int(p.into())));
            }
            if let Some(s) = &specs.offset {
                let Some(offset) = meta.offset else {
                    return Err(no_offset(s));
                };
                out.push(Datum::Int(offset));
            }
            if specs.timestamp.is_some() {
                out.push(
                    meta.timestamp_ms
                        .map_or(Datum::Null, |t| Datum::Timestamp(t * 1000)),
                );
            }
            if let Some((_, d)) = &specs.fixed {
                out.push(d.clone());
            }
            return Ok(());
        }
        let topic = self.specs.topic.as_ref().map(|s| s.name.clone());
        let topic = topic.map(|name| (name, Some(self.topic_datum(meta.topic))));
        let specs = &self.specs;
        let mut put = |name: &Arc<str>, d: Option<Datum>| {
            if schemaless {
                named.push((name.clone(), d));
            } else {
                out.push(d.unwrap_or(Datum::Null));
            }
        };
        if let Some((name, d)) = topic {
            put(&name, d);
        }
        if let Some(s) = &specs.partition {
            put(&s.name, meta.partition.map(|p| Datum::Int(p.into())));
        }
        if let Some(s) = &specs.offset {
            let Some(offset) = meta.offset else {
                return Err(no_offset(s));
            };
            put(&s.name, Some(Datum::Int(offset)));
        }
        if let Some(s) = &specs.timestamp {
            // A schemaless timestamp is epoch milliseconds (Java puts the Long).
            let t = meta.timestamp_ms.map(|t| {
                if schemaless {
                    Datum::Int(t)
                } else {
                    Datum::Timestamp(t * 1000)
                }
            });
            put(&s.name, t);
        }
        if let Some((s, d)) = &specs.fixed {
            put(&s.name, Some(d.clone()));
        }
        Ok(())
    }
}

impl Specs {
    fn schema(&self, schema: &Schema) -> Schema {
        let mut fields = schema.fields().unwrap_or_default().to_vec();
        let mut add = |s: &Option<Spec>, enc: Encoding| {
            if let Some(s) = s {
                fields.push(Column::new(&s.name, enc, s.optional));
            }
        };
        add(&self.topic, Encoding::String);
        add(&self.partition, Encoding::Int32);
        add(&self.offset, Encoding::Int64);
        add(&self.timestamp, Encoding::ConnectTimestamp);
        add(
            &self.fixed.as_ref().map(|(s, _)| s.clone()),
            Encoding::String,
        );
        rebuilt_struct(schema, fields)
    }
}

impl PayloadTransform for InsertField {
    fn transform(
        &mut self,
        meta: &Meta<'_>,
        schema: Option<&Arc<Schema>>,
        datum: &Datum,
        datums: &mut Vec<Datum>,
    ) -> Result<Option<(Option<Arc<Schema>>, Datum)>> {
        if datum.is_null() {
            return Ok(None);
        }
        let Some(schema) = schema else {
            let mut values = Vec::new();
            self.values(meta, true, &mut Vec::new(), &mut values)?;
            let mut entries = map_entries(datums, datum)
                .ok_or_else(|| wrong_type("a map", "field insertion", datum))?;
            for (name, v) in values {
                let Some(v) = v else { continue };
                match entries
                    .iter_mut()
                    .find(|(k, _)| matches!(k, Datum::Text(t) if **t == *name.as_bytes()))
                {
                    Some(e) => e.1 = v,
                    None => entries.push((key_datum(&name), v)),
                }
            }
            let value = push_map(datums, entries);
            return Ok(Some((None, value)));
        };
        let Datum::Struct(range) = datum else {
            return Err(wrong_type("a struct", "field insertion", datum));
        };
        let specs = &self.specs;
        let (out, defaults) = self
            .schemas
            .get_or(schema, || {
                let defaults = schema
                    .fields()
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.default.is_some());
                Ok((Arc::new(specs.schema(schema)), defaults))
            })?
            .clone();
        let columns = schema.fields().unwrap_or_default();
        let nulls_to_fill = self.replace_null
            && defaults
            && columns
                .iter()
                .zip(&datums[range.start as usize..range.end as usize])
                .any(|(c, d)| d.is_null() && c.default.is_some());
        // The struct an earlier transform just made (ExtractNewRecordState's row) is the last
        // thing in the values: the new fields go right after it, nothing is copied.
        if range.end as usize == datums.len() && !nulls_to_fill {
            self.values(meta, false, datums, &mut Vec::new())?;
            return Ok(Some((
                Some(out),
                Datum::Struct(range.start..datums.len() as u32),
            )));
        }
        let start = datums.len();
        datums.reserve(range.len() + 5);
        if nulls_to_fill {
            for (i, c) in columns.iter().enumerate() {
                let d = match (&datums[range.start as usize + i], &c.default) {
                    (Datum::Null, Some(def)) => def.clone(),
                    (d, _) => d.clone(),
                };
                datums.push(d);
            }
        } else {
            datums.extend_from_within(range.start as usize..range.end as usize);
        }
        self.values(meta, false, datums, &mut Vec::new())?;
        Ok(Some((
            Some(out),
            Datum::Struct(start as u32..datums.len() as u32),
        )))
    }
}

fn no_offset(s: &Spec) -> Error {
    Error::conversion(format!(
        "offset.field \"{}\" needs a record read from Kafka (a sink connector's); this record has no Kafka offset",
        s.name
    ))
}
