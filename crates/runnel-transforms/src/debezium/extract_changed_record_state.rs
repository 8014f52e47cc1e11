//! `io.debezium.transforms.ExtractChangedRecordState`: headers naming the columns an update
//! changed (`header.changed.name`) and left as they were (`header.unchanged.name`), compared
//! by value between `before` and `after`; empty lists when the event has no before-image.
//! Every change event gets them, so a later `ExtractNewRecordState` with
//! `drop.fields.header.name` or `HeaderToValue` sees the same shape on every record.

use std::sync::Arc;

use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::plugin::TransformPlugin;
use runnel_core::transform::{Transform, TransformContext};
use runnel_core::{Datum, Encoding, Event, Header, Payload, Result, Schema, SchemaMeta};

use super::envelope::{envelope_of, field};
use crate::util::{Opts, fields, record, same_value};

const KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "header.changed.name",
        ValueType::String,
        "Header listing the changed columns (none when unset).",
    ),
    ConfigKey::new(
        "header.unchanged.name",
        ValueType::String,
        "Header listing the unchanged columns (none when unset).",
    ),
];

pub fn plugin() -> TransformPlugin {
    TransformPlugin {
        class: "io.debezium.transforms.ExtractChangedRecordState",
        aliases: &["ExtractChangedRecordState"],
        keys: KEYS,
        build: |c| {
            let o = Opts(c);
            let header = |key: &str| {
                o.get(key).filter(|v| !v.trim().is_empty()).map(|name| {
                    let schema = Schema::new(
                        Encoding::Array(Arc::new(Schema::new(Encoding::String, true))),
                        true,
                    )
                    .with_meta(SchemaMeta::named(name));
                    (Arc::<str>::from(name), Arc::new(schema))
                })
            };
            Ok(Box::new(ExtractChangedRecordState {
                changed: header("header.changed.name"),
                unchanged: header("header.unchanged.name"),
            }))
        },
    }
}

struct ExtractChangedRecordState {
    changed: Option<(Arc<str>, Arc<Schema>)>,
    unchanged: Option<(Arc<str>, Arc<Schema>)>,
}

impl Transform for ExtractChangedRecordState {
    fn apply(&mut self, event: &mut Event, cx: &mut TransformContext<'_>) -> Result<bool> {
        if self.changed.is_none() && self.unchanged.is_none() {
            return Ok(true);
        }
        let r = record(event, cx)?;
        let Some((schema, range)) = envelope_of(r) else {
            return Ok(true);
        };
        let datums = &*cx.datums;
        let at = |name: &str| {
            field(schema, name).map_or(Datum::Null, |(i, _)| {
                datums[range.start as usize + i].clone()
            })
        };
        let (before, after) = (at("before"), at("after"));
        let mut changed = Vec::new();
        let mut unchanged = Vec::new();
        if let (Some(b), Some(a), Some((_, ac))) = (
            fields(datums, &before),
            fields(datums, &after),
            field(schema, "after"),
        ) {
            let names = ac.schema();
            for (i, c) in names.fields().unwrap_or_default().iter().enumerate() {
                let same = match (a.get(i), b.get(i)) {
                    (Some(x), Some(y)) => same_value(datums, x, y),
                    (x, y) => x.is_none() && y.is_none(),
                };
                let list = if same { &mut unchanged } else { &mut changed };
                list.push(Datum::Text(c.name.as_bytes().to_vec().into()));
            }
        }
        for (header, names) in [(&self.changed, changed), (&self.unchanged, unchanged)] {
            if let Some((key, schema)) = header {
                r.headers.push(Header {
                    key: key.clone(),
                    value: Some(Payload::value(schema, Datum::Array(names.into()))),
                });
            }
        }
        Ok(true)
    }
}
