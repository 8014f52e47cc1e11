//! Kafka Connect's transforms (`org.apache.kafka.connect.transforms.*`) and predicates. Most
//! work on a record's key (`$Key`) or value (`$Value`): [`OnSide`] runs such a
//! [`PayloadTransform`] on the side its class names, with a schema (a Connect struct) or
//! without (a map, as `schemas.enable=false` reads JSON).

pub mod cast;
pub mod extract_field;
pub mod filter;
pub mod flatten;
pub mod headers;
pub mod hoist_field;
pub mod insert_field;
pub mod mask_field;
pub mod predicates;
pub mod regex_router;
pub mod replace_field;
pub mod set_schema_metadata;
pub mod timestamp_converter;
pub mod timestamp_router;
pub mod value_to_key;

use std::sync::Arc;

use runnel_core::transform::{Transform, TransformContext};
use runnel_core::{Datum, Error, Event, Payload, Result, Schema};

use crate::util::{Side, record};

/// What a key/value transform may read of the record around the payload.
pub struct Meta<'r> {
    pub topic: &'r Arc<str>,
    pub partition: Option<i32>,
    pub offset: Option<i64>,
    pub timestamp_ms: Option<i64>,
}

/// A transform of one key or value: `schema` is `None` for a schemaless payload, `datum` is
/// `Null` for a null one (a tombstone has neither). `Ok(None)` leaves it as it is.
pub trait PayloadTransform: Send {
    fn transform(
        &mut self,
        meta: &Meta<'_>,
        schema: Option<&Arc<Schema>>,
        datum: &Datum,
        datums: &mut Vec<Datum>,
    ) -> Result<Option<(Option<Arc<Schema>>, Datum)>>;
}

/// Runs a [`PayloadTransform`] on a record's key or value.
pub struct OnSide<T> {
    pub side: Side,
    pub inner: T,
}

impl<T: PayloadTransform> OnSide<T> {
    pub fn boxed(class_side: Side, inner: T) -> Box<dyn Transform>
    where
        T: 'static,
    {
        Box::new(OnSide {
            side: class_side,
            inner,
        })
    }
}

impl<T: PayloadTransform> Transform for OnSide<T> {
    fn apply(&mut self, event: &mut Event, cx: &mut TransformContext<'_>) -> Result<bool> {
        let r = record(event, cx)?;
        // The payload is taken out while the transform reads the record around it, and put
        // back when it is left as it is (or the transform fails).
        let (schema, datum) = match self.side.get_mut(r).take() {
            None => (None, Datum::Null),
            Some(Payload::Value { schema, datum }) => (schema, datum),
            Some(p @ Payload::Encoded(_)) => {
                *self.side.get_mut(r) = Some(p);
                return Err(Error::internal(
                    "a transform got undecoded bytes: records must be decoded before transforms",
                ));
            }
        };
        let meta = Meta {
            topic: &r.topic,
            partition: r.partition,
            offset: r.offset,
            timestamp_ms: r.timestamp_ms,
        };
        let outcome = self
            .inner
            .transform(&meta, schema.as_ref(), &datum, cx.datums);
        let (schema, datum) = match outcome {
            Ok(Some(new)) => new,
            Ok(None) => (schema, datum),
            Err(e) => {
                *self.side.get_mut(r) = restore(schema, datum);
                return Err(e);
            }
        };
        *self.side.get_mut(r) = restore(schema, datum);
        Ok(true)
    }
}

/// A payload from its parts: no schema and null is no payload (a tombstone).
fn restore(schema: Option<Arc<Schema>>, datum: Datum) -> Option<Payload> {
    match (schema, datum) {
        (None, Datum::Null) => None,
        (schema, datum) => Some(Payload::Value { schema, datum }),
    }
}

/// Kafka Connect's `Requirements.requireStruct` / `requireMap` failure.
pub fn wrong_type(what: &str, purpose: &str, datum: &Datum) -> Error {
    let found = match datum {
        Datum::Null => "null",
        Datum::Struct(_) => "a struct",
        Datum::Map(_) => "a map",
        Datum::Array(_) => "an array",
        Datum::Text(_) => "a string",
        _ => "a primitive value",
    };
    Error::conversion(format!(
        "{purpose} needs {what}, but the record has {found}"
    ))
}

/// A schemaless map's key/value pairs.
pub fn pairs<'d>(
    datums: &'d [Datum],
    d: &Datum,
) -> Option<impl Iterator<Item = (&'d [u8], &'d Datum)>> {
    match d {
        Datum::Map(r) => Some(
            datums[r.start as usize..r.end as usize]
                .chunks_exact(2)
                .map(|kv| match &kv[0] {
                    Datum::Text(t) => (&t[..], &kv[1]),
                    _ => (&b""[..], &kv[1]),
                }),
        ),
        _ => None,
    }
}

/// Appends a map of `pairs`.
pub fn push_map(datums: &mut Vec<Datum>, pairs: Vec<(Datum, Datum)>) -> Datum {
    let start = datums.len() as u32;
    for (k, v) in pairs {
        datums.push(k);
        datums.push(v);
    }
    Datum::Map(start..datums.len() as u32)
}

/// A schemaless map's pairs, owned (to rebuild it).
pub fn map_entries(datums: &[Datum], d: &Datum) -> Option<Vec<(Datum, Datum)>> {
    match d {
        Datum::Map(r) => Some(
            datums[r.start as usize..r.end as usize]
                .chunks_exact(2)
                .map(|kv| (kv[0].clone(), kv[1].clone()))
                .collect(),
        ),
        _ => None,
    }
}

/// `name` as a map key.
pub fn key_datum(name: &str) -> Datum {
    Datum::text(name)
}
