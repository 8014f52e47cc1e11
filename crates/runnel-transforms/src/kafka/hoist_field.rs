//! `org.apache.kafka.connect.transforms.HoistField$Key` / `$Value`: the key or value becomes a
//! struct (or map) of one field holding it — a null too, which becomes a non-null struct.

use std::sync::Arc;

use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::plugin::TransformPlugin;
use runnel_core::{Column, Datum, Encoding, Result, Schema};

use super::{Meta, OnSide, PayloadTransform, key_datum, push_map};
use crate::util::{Cache, Opts, Side};

const KEYS: &[ConfigKey] = &[ConfigKey::new(
    "field",
    ValueType::String,
    "The field the key or value goes into.",
)
.required()];

pub fn plugin() -> TransformPlugin {
    TransformPlugin {
        class: "org.apache.kafka.connect.transforms.HoistField$Value",
        aliases: &[
            "HoistField$Value",
            "org.apache.kafka.connect.transforms.HoistField$Key",
            "HoistField$Key",
        ],
        keys: KEYS,
        build: |c| {
            let field = Opts(c).required("field")?;
            Ok(OnSide::boxed(
                Side::of_class(c.get("type").unwrap_or("")),
                HoistField {
                    key: key_datum(&field),
                    field,
                    schemas: Cache::default(),
                },
            ))
        },
    }
}

struct HoistField {
    field: String,
    key: Datum,
    schemas: Cache<Schema, Arc<Schema>>,
}

impl PayloadTransform for HoistField {
    fn transform(
        &mut self,
        _meta: &Meta<'_>,
        schema: Option<&Arc<Schema>>,
        datum: &Datum,
        datums: &mut Vec<Datum>,
    ) -> Result<Option<(Option<Arc<Schema>>, Datum)>> {
        let Some(schema) = schema else {
            return Ok(Some((
                None,
                push_map(datums, vec![(self.key.clone(), datum.clone())]),
            )));
        };
        let field = &self.field;
        let out = self
            .schemas
            .get_or(schema, || {
                Ok(Arc::new(Schema::new(
                    Encoding::Struct(vec![Column::of(field, schema)].into()),
                    false,
                )))
            })?
            .clone();
        let start = datums.len() as u32;
        datums.push(datum.clone());
        Ok(Some((Some(out), Datum::Struct(start..start + 1))))
    }
}
