//! `io.debezium.transforms.outbox.EventRouter`: each insert into an outbox table becomes the
//! event it describes — topic from `route.by.field` (default `aggregatetype`) through
//! `route.topic.regex`/`route.topic.replacement` (`outbox.event.<aggregatetype>`), key from
//! `table.field.event.key`, value the payload column (or, with `envelope` placements, a struct of
//! `payload` and those fields), header `id`, the timestamp of the change (or
//! `table.field.event.timestamp`). Deletes and tombstones are dropped, updates per
//! `table.op.invalid.behavior`. `table.expand.json.payload` turns a JSON payload into a typed
//! struct ([`super::json_payload`]).

use std::sync::Arc;

use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::plugin::TransformPlugin;
use runnel_core::transform::{Transform, TransformContext};
use runnel_core::{
    Column, Datum, Encoding, Error, Event, Header, Payload, Record, Result, Schema, SchemaMeta,
};

use super::json_payload::{self, Inference};
use crate::debezium::envelope::{envelope_of, field};
use crate::kafka::regex_router::TopicRewrite;
use crate::util::{Opts, compile, fields, java_replacement, plain, record};

const KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "table.op.invalid.behavior",
        ValueType::Enum(&["warn", "error", "fatal"]),
        "What an update of the outbox table does: warn, error (logged, dropped) or fatal (stops).",
    )
    .default("warn"),
    ConfigKey::new(
        "table.field.event.id",
        ValueType::String,
        "The event id column (header id).",
    )
    .default("id"),
    ConfigKey::new(
        "table.field.event.key",
        ValueType::String,
        "The column that becomes the key.",
    )
    .default("aggregateid"),
    ConfigKey::new(
        "table.field.event.type",
        ValueType::String,
        "The event type column.",
    )
    .default("type"),
    ConfigKey::new(
        "table.field.event.timestamp",
        ValueType::String,
        "A timestamp column for the record timestamp.",
    ),
    ConfigKey::new(
        "table.field.event.payload",
        ValueType::String,
        "The payload column.",
    )
    .default("payload"),
    ConfigKey::new(
        "table.fields.additional.placement",
        ValueType::List,
        "column:header|envelope|partition[:alias], comma separated.",
    ),
    ConfigKey::new(
        "table.field.additional.missing",
        ValueType::Enum(&["error", "ignore"]),
        "An additional column the event lacks: error or ignore.",
    )
    .default("error"),
    ConfigKey::new(
        "table.field.event.schema.version",
        ValueType::String,
        "A column holding the value schema's version.",
    ),
    ConfigKey::new(
        "route.by.field",
        ValueType::String,
        "The column that names the topic.",
    )
    .default("aggregatetype"),
    ConfigKey::new(
        "route.topic.regex",
        ValueType::String,
        "Regex on the routing value.",
    )
    .default("(?<routedByValue>.*)"),
    ConfigKey::new(
        "route.topic.replacement",
        ValueType::String,
        "The topic (${routedByValue} is the routing value).",
    )
    .default("outbox.event.${routedByValue}"),
    ConfigKey::new(
        "route.tombstone.on.empty.payload",
        ValueType::Boolean,
        "An empty or null payload becomes a tombstone.",
    )
    .default("false"),
    ConfigKey::new(
        "table.expand.json.payload",
        ValueType::Boolean,
        "Expand a JSON payload into a struct.",
    )
    .default("false"),
    ConfigKey::new(
        "table.json.payload.null.behavior",
        ValueType::Enum(&["ignore", "optional_bytes"]),
        "JSON nulls when expanding: ignore or optional_bytes.",
    )
    .default("ignore"),
    ConfigKey::new(
        "table.json.payload.empty.array.behavior",
        ValueType::Enum(&["ignore", "optional_string"]),
        "Empty JSON arrays when expanding: ignore or optional_string.",
    )
    .default("ignore"),
    ConfigKey::new(
        "field.name.adjustment.mode",
        ValueType::Enum(&["none", "avro", "avro_unicode"]),
        "Field names of expanded JSON.",
    )
    .default("none"),
    ConfigKey::new(
        "tracing.span.context.field",
        ValueType::String,
        "Accepted; runnel does not trace.",
    )
    .not_implemented(),
    ConfigKey::new(
        "tracing.operation.name",
        ValueType::String,
        "Accepted; runnel does not trace.",
    )
    .not_implemented(),
    ConfigKey::new(
        "tracing.with.context.field.only",
        ValueType::Boolean,
        "Accepted; runnel does not trace.",
    )
    .not_implemented(),
];

pub fn plugin() -> TransformPlugin {
    TransformPlugin {
        class: "io.debezium.transforms.outbox.EventRouter",
        aliases: &["EventRouter"],
        keys: KEYS,
        build: |c| Ok(Box::new(EventRouter::new(&Opts(c))?)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    Header,
    Envelope,
    Partition,
}

struct Additional {
    field: String,
    placement: Placement,
    alias: Arc<str>,
}

struct EventRouter {
    on_update: String,
    id: String,
    key: String,
    timestamp: Option<String>,
    payload: String,
    additional: Vec<Additional>,
    missing_is_error: bool,
    schema_version: Option<String>,
    route_by: String,
    router: TopicRewrite,
    tombstone_on_empty: bool,
    expand: Option<Inference>,
    only_headers: bool,
    /// The value schema per payload schema (equal, not identical: the first record routed
    /// names it, as Debezium's cache does) and per schema version.
    values: Vec<(Schema, Arc<Schema>)>,
    versioned: Vec<(i64, Arc<Schema>)>,
}

impl EventRouter {
    fn new(o: &Opts<'_>) -> Result<Self> {
        let mut additional = Vec::new();
        for item in o.list("table.fields.additional.placement") {
            let parts: Vec<&str> = item.split(':').map(str::trim).collect();
            let placement = match parts.get(1).map(|p| p.to_ascii_lowercase()) {
                Some(p) if p == "header" => Placement::Header,
                Some(p) if p == "envelope" => Placement::Envelope,
                Some(p) if p == "partition" => Placement::Partition,
                _ => {
                    return Err(Error::invalid(
                        "table.fields.additional.placement",
                        format!(
                            "invalid entry \"{item}\" in \"table.fields.additional.placement\": expected column:header, column:envelope or column:partition, optionally :alias"
                        ),
                    ));
                }
            };
            additional.push(Additional {
                field: parts[0].to_string(),
                placement,
                alias: parts.get(2).copied().unwrap_or(parts[0]).into(),
            });
        }
        let regex = o.string("route.topic.regex", "(?<routedByValue>.*)");
        let replacement = o.string("route.topic.replacement", "outbox.event.${routedByValue}");
        let expand = o
            .bool("table.expand.json.payload", false)?
            .then_some(Inference {
                nulls_as_bytes: o.choice(
                    "table.json.payload.null.behavior",
                    &["ignore", "optional_bytes"],
                    "ignore",
                )? == "optional_bytes",
                empty_arrays_as_strings: o.choice(
                    "table.json.payload.empty.array.behavior",
                    &["ignore", "optional_string"],
                    "ignore",
                )? == "optional_string",
            });
        let nonempty = |k: &str| {
            o.get(k)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Ok(Self {
            on_update: o.choice(
                "table.op.invalid.behavior",
                &["warn", "error", "fatal"],
                "warn",
            )?,
            id: o.string("table.field.event.id", "id"),
            key: o.string("table.field.event.key", "aggregateid"),
            timestamp: nonempty("table.field.event.timestamp"),
            payload: o.string("table.field.event.payload", "payload"),
            only_headers: !additional
                .iter()
                .any(|a| a.placement == Placement::Envelope),
            additional,
            missing_is_error: o.choice(
                "table.field.additional.missing",
                &["error", "ignore"],
                "error",
            )? == "error",
            schema_version: nonempty("table.field.event.schema.version"),
            route_by: o.string("route.by.field", "aggregatetype"),
            router: TopicRewrite::new(
                compile("route.topic.regex", &regex, true)?,
                java_replacement(&replacement),
            ),
            tombstone_on_empty: o.bool("route.tombstone.on.empty.payload", false)?,
            expand,
            values: Vec::new(),
            versioned: Vec::new(),
        })
    }

    /// The value struct's schema: `payload` and the envelope placements, named after the
    /// event's row schema and the routing value.
    fn value_schema(&self, payload: &Schema, row: &Schema, routed: &str) -> Result<Schema> {
        let mut columns = vec![Column::of("payload", payload)];
        for a in self
            .additional
            .iter()
            .filter(|a| a.placement == Placement::Envelope)
        {
            match field(row, &a.field) {
                Some((_, c)) => columns.push(Column {
                    name: a.alias.clone(),
                    ..c.clone()
                }),
                None if self.missing_is_error => {
                    return Err(Error::conversion(format!(
                        "unable to find field {} in the outbox event",
                        a.field
                    )));
                }
                None => {}
            }
        }
        let name = match row.name() {
            Some(n) => match n.rfind('.') {
                Some(dot) => format!("{}{routed}.{}", &n[..=dot], &n[dot + 1..]),
                None => format!("{routed}.{n}"),
            },
            None => routed.to_string(),
        };
        Ok(Schema::structure(&name, columns, false))
    }
}

fn text(d: &Datum) -> Option<&str> {
    match d {
        Datum::Text(t) => std::str::from_utf8(t).ok(),
        _ => None,
    }
}

impl Transform for EventRouter {
    fn apply(&mut self, event: &mut Event, cx: &mut TransformContext<'_>) -> Result<bool> {
        let r = record(event, cx)?;
        if r.value.is_none() {
            return Ok(false);
        }
        let Some((envelope, range)) = envelope_of(r) else {
            return Ok(true);
        };
        let envelope = envelope.clone();
        let top = |name: &str| {
            field(&envelope, name).map(|(i, _)| cx.datums[range.start as usize + i].clone())
        };
        let op = top("op").unwrap_or(Datum::Null);
        match text(&op) {
            Some("d") => return Ok(false),
            Some("u") => {
                match self.on_update.as_str() {
                    "fatal" => {
                        return Err(Error::state(format!(
                            "unexpected update of an outbox row (key {:?}): table.op.invalid.behavior=fatal",
                            r.key
                        )));
                    }
                    "error" => {
                        tracing::error!(topic = %r.topic, "unexpected update of an outbox row, ignored")
                    }
                    _ => {
                        tracing::warn!(topic = %r.topic, "unexpected update of an outbox row, ignored")
                    }
                }
                return Ok(false);
            }
            _ => {}
        }
        let ts_ms = top("ts_ms");
        let (after, after_col) = match (top("after"), field(&envelope, "after")) {
            (Some(d @ Datum::Struct(_)), Some((_, c))) => (d, c.schema()),
            _ => return Err(Error::conversion("the outbox event has no \"after\" row")),
        };
        let row: Vec<Datum> = fields(cx.datums, &after).unwrap_or_default().to_vec();
        let columns = after_col.fields().unwrap_or_default().to_vec();
        let col = |name: &str| columns.iter().position(|c| *c.name == *name);
        let get = |name: &str| col(name).map_or(Datum::Null, |i| row[i].clone());
        let Some(payload_at) = col(&self.payload) else {
            return Err(Error::conversion(format!(
                "unable to find payload field {} in the outbox event",
                self.payload
            )));
        };
        let mut payload_schema = columns[payload_at].schema();
        let mut payload = row[payload_at].clone();
        let timestamp = match &self.timestamp {
            None => match ts_ms {
                Some(Datum::Int(t)) => Some(t),
                _ => r.timestamp_ms,
            },
            Some(f) => {
                let Some(i) = col(f) else {
                    return Err(Error::conversion(format!(
                        "unable to find timestamp field {f} in the outbox event"
                    )));
                };
                match (&row[i], &columns[i].encoding) {
                    (Datum::Null, _) => match ts_ms {
                        Some(Datum::Int(t)) => Some(t),
                        _ => r.timestamp_ms,
                    },
                    (
                        Datum::Timestamp(us),
                        Encoding::ConnectTimestamp
                        | Encoding::MilliTimestamp
                        | Encoding::MicroTimestamp,
                    ) => Some(us.div_euclid(1000)),
                    (Datum::Int(ns), Encoding::Int64)
                        if columns[i].meta.as_ref().and_then(|m| m.name.as_deref())
                            == Some("io.debezium.time.NanoTimestamp") =>
                    {
                        Some(ns / 1_000_000)
                    }
                    (_, enc) => {
                        return Err(Error::conversion(format!(
                            "unsupported field type {} for the event timestamp: use a Timestamp, MicroTimestamp or NanoTimestamp column",
                            enc.logical_name().unwrap_or("(without logical name)")
                        )));
                    }
                }
            }
        };
        let Some(id_at) = col(&self.id) else {
            return Err(Error::conversion(format!(
                "unable to find event-id field {} in the outbox event",
                self.id
            )));
        };
        let mut headers = std::mem::take(&mut r.headers);
        headers.push(Header {
            key: "id".into(),
            value: Some(Payload::value(
                &Arc::new(columns[id_at].schema()),
                row[id_at].clone(),
            )),
        });
        if let Some(inference) = self.expand {
            match text(&payload).map(json_payload::parse) {
                Some(Ok(json)) => match inference.schema(&self.payload, &json) {
                    Ok(Some(schema)) => {
                        payload_schema = schema;
                        match json_payload::value(&json, &payload_schema, cx.datums) {
                            Ok(d) => payload = d,
                            // As Debezium: the schema is already switched, the value stays.
                            Err(e) => tracing::warn!(error = %e, "JSON expansion failed"),
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "JSON expansion failed"),
                },
                Some(Err(e)) => tracing::warn!(error = %e, "JSON expansion failed"),
                None if !payload.is_null() => tracing::warn!(
                    "table.expand.json.payload is on but the payload is not a string"
                ),
                None => {}
            }
        }
        let routed_value = get(&self.route_by);
        let Some(routed) = text(&routed_value).map(str::to_string) else {
            return Err(Error::conversion(format!(
                "the outbox event's route.by.field column \"{}\" is null or missing: it names the topic",
                self.route_by
            )));
        };
        let mut partition = None;
        let mut envelope_values = Vec::new();
        for a in &self.additional {
            let Some(i) = col(&a.field) else {
                if self.missing_is_error {
                    return Err(Error::conversion(format!(
                        "unable to find field {} in the outbox event",
                        a.field
                    )));
                }
                continue;
            };
            match a.placement {
                Placement::Envelope => envelope_values.push(row[i].clone()),
                Placement::Header => headers.push(Header {
                    key: a.alias.clone(),
                    value: Some(Payload::value(
                        &Arc::new(columns[i].schema()),
                        row[i].clone(),
                    )),
                }),
                Placement::Partition => {
                    partition = match row[i] {
                        Datum::Int(p) => Some(p as i32),
                        _ => None,
                    }
                }
            }
        }
        let empty = match &payload {
            Datum::Null => true,
            Datum::Text(t) => t.iter().all(u8::is_ascii_whitespace),
            _ => false,
        };
        let value = if empty && self.tombstone_on_empty {
            None
        } else if self.only_headers {
            Some(Payload::value(&Arc::new(payload_schema), payload))
        } else {
            let schema = match (
                &self.schema_version,
                self.schema_version.as_deref().map(get),
            ) {
                (Some(_), Some(Datum::Int(v))) => {
                    match self.versioned.iter().find(|(k, _)| *k == v) {
                        Some((_, s)) => s.clone(),
                        None => {
                            let mut s = self.value_schema(&payload_schema, &after_col, &routed)?;
                            let meta = SchemaMeta {
                                version: Some(v as i32),
                                ..(**s.meta.as_ref().expect("structure names its schema")).clone()
                            };
                            s.meta = Some(Arc::new(meta));
                            let s = Arc::new(s);
                            self.versioned.push((v, s.clone()));
                            s
                        }
                    }
                }
                _ => match self.values.iter().find(|(k, _)| *k == payload_schema) {
                    Some((_, s)) => s.clone(),
                    None => {
                        let s =
                            Arc::new(self.value_schema(&payload_schema, &after_col, &routed)?);
                        if self.values.len() >= 1024 {
                            self.values.remove(0);
                        }
                        self.values.push((payload_schema.clone(), s.clone()));
                        s
                    }
                },
            };
            let start = cx.datums.len() as u32;
            cx.datums.push(payload);
            cx.datums.extend(envelope_values);
            Some(Payload::value(
                &schema,
                Datum::Struct(start..cx.datums.len() as u32),
            ))
        };
        let key = match col(&self.key) {
            Some(i) => Some(Payload::value(
                &Arc::new(columns[i].schema()),
                row[i].clone(),
            )),
            None => Some(Payload::value(&plain(Encoding::String, false), Datum::Null)),
        };
        let topic: Arc<str> = routed.as_str().into();
        let topic = self.router.route(&topic).unwrap_or(topic);
        *r = Record {
            topic,
            partition,
            offset: r.offset,
            timestamp_ms: timestamp,
            key,
            value,
            headers,
            source: r.source,
        };
        Ok(true)
    }
}
