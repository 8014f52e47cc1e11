//! `io.debezium.transforms.SchemaChangeEventFilter`: drops the schema change events (the
//! `…SchemaChangeValue` records of the schema change topic) whose kind —
//! `tableChanges[0].type`, or `DATABASE` when no table changed — is in
//! `schema.change.event.exclude.list`. Other records pass.

use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::plugin::TransformPlugin;
use runnel_core::transform::{Transform, TransformContext};
use runnel_core::{Datum, Error, Event, Payload, Result};

use super::envelope::field;
use crate::util::{Opts, fields};

const KINDS: &[&str] = &["CREATE", "ALTER", "DROP", "TRUNCATE", "DATABASE"];

const KEYS: &[ConfigKey] = &[ConfigKey::new(
    "schema.change.event.exclude.list",
    ValueType::String,
    "Kinds of schema change to drop: CREATE, ALTER, DROP, TRUNCATE, DATABASE.",
)
.required()];

pub fn plugin() -> TransformPlugin {
    TransformPlugin {
        class: "io.debezium.transforms.SchemaChangeEventFilter",
        aliases: &["SchemaChangeEventFilter"],
        keys: KEYS,
        build: |c| {
            let o = Opts(c);
            let mut exclude = Vec::new();
            for kind in o
                .required("schema.change.event.exclude.list")?
                .split(',')
                .map(str::trim)
            {
                if !KINDS.contains(&kind) {
                    return Err(Error::invalid(
                        "schema.change.event.exclude.list",
                        format!(
                            "unknown schema change kind \"{kind}\" in \"schema.change.event.exclude.list\": the kinds are {}",
                            KINDS.join(", ")
                        ),
                    ));
                }
                exclude.push(kind.as_bytes().to_vec());
            }
            Ok(Box::new(SchemaChangeEventFilter { exclude }))
        },
    }
}

struct SchemaChangeEventFilter {
    exclude: Vec<Vec<u8>>,
}

impl Transform for SchemaChangeEventFilter {
    fn apply(&mut self, event: &mut Event, cx: &mut TransformContext<'_>) -> Result<bool> {
        let Event::Record(r) = event else {
            return Ok(true);
        };
        let Some(Payload::Value {
            schema: Some(schema),
            datum: value @ Datum::Struct(_),
        }) = &r.value
        else {
            return Ok(true);
        };
        if !schema
            .name()
            .is_some_and(|n| n.ends_with(".SchemaChangeValue"))
        {
            return Ok(true);
        }
        let datums = &*cx.datums;
        let changes = field(schema, "tableChanges")
            .and_then(|(i, _)| fields(datums, value).map(|f| f[i].clone()));
        let kind: Vec<u8> = match changes {
            Some(Datum::Array(items)) => match items.first() {
                None => b"DATABASE".to_vec(),
                Some(first) => {
                    let item_schema =
                        field(schema, "tableChanges").and_then(|(_, c)| match &c.encoding {
                            runnel_core::Encoding::Array(items) => Some(items.clone()),
                            _ => None,
                        });
                    let ty = item_schema
                        .as_deref()
                        .and_then(|s| field(s, "type"))
                        .and_then(|(i, _)| fields(datums, first).map(|f| f[i].clone()));
                    match ty {
                        Some(Datum::Text(t)) => t.to_vec(),
                        _ => return Ok(true),
                    }
                }
            },
            _ => return Ok(false),
        };
        Ok(!self.exclude.contains(&kind))
    }
}
