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
    schemas: Cache<Schema, Arc<Schema>>,
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

    /// The inserted values, in the fixed order; `None` for a value the record lacks.
    fn values(
        &mut self,
        meta: &Meta<'_>,
        schemaless: bool,
    ) -> Result<Vec<(Arc<str>, Option<Datum>)>> {
        let mut out = Vec::with_capacity(5);
        if let Some(s) = self.specs.topic.clone() {
            let d = self.topic_datum(meta.topic);
            out.push((s.name, Some(d)));
        }
        let specs = &self.specs;
        if let Some(s) = &specs.partition {
            out.push((s.name.clone(), meta.partition.map(|p| Datum::Int(p.into()))));
        }
        if let Some(s) = &specs.offset {
            let Some(offset) = meta.offset else {
                return Err(Error::conversion(format!(
                    "offset.field \"{}\" needs a record read from Kafka (a sink connector's); this record has no Kafka offset",
                    s.name
                )));
            };
            out.push((s.name.clone(), Some(Datum::Int(offset))));
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
            out.push((s.name.clone(), t));
        }
        if let Some((s, d)) = &specs.fixed {
            out.push((s.name.clone(), Some(d.clone())));
        }
        Ok(out)
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
        let values = self.values(meta, schema.is_none())?;
        let Some(schema) = schema else {
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
        let out = self
            .schemas
            .get_or(schema, || Ok(Arc::new(specs.schema(schema))))?
            .clone();
        let start = datums.len();
        let columns = schema.fields().unwrap_or_default();
        if self.replace_null {
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
        datums.extend(values.into_iter().map(|(_, v)| v.unwrap_or(Datum::Null)));
        Ok(Some((
            Some(out),
            Datum::Struct(start as u32..datums.len() as u32),
        )))
    }
}
