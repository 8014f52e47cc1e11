//! Kafka Connect's header transforms: `HeaderFrom$Key` / `$Value` (fields to headers, `copy`
//! or `move`), `InsertHeader` (a literal, typed as Kafka Connect's `Values.parseString` types
//! it) and `DropHeaders`. Headers keep the order they were added in.

use std::sync::Arc;

use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::plugin::TransformPlugin;
use runnel_core::transform::{Transform, TransformContext};
use runnel_core::{Datum, Encoding, Error, Event, Header, Payload, Result, Schema};

use super::{pairs, push_map, wrong_type};
use crate::util::{Cache, Opts, Projection, Side, fields, plain, record};

const FROM_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "fields",
        ValueType::List,
        "Fields to copy or move to headers.",
    )
    .required(),
    ConfigKey::new(
        "headers",
        ValueType::List,
        "The headers' names, one per field.",
    )
    .required(),
    ConfigKey::new(
        "operation",
        ValueType::Enum(&["copy", "move"]),
        "copy or move.",
    )
    .required(),
    ConfigKey::new(
        "replace.null.with.default",
        ValueType::Boolean,
        "A null field that has a default gives its default.",
    )
    .default("true"),
];
const INSERT_KEYS: &[ConfigKey] = &[
    ConfigKey::new("header", ValueType::String, "The header's name.").required(),
    ConfigKey::new("value.literal", ValueType::String, "The header's value.").required(),
];
const DROP_KEYS: &[ConfigKey] =
    &[ConfigKey::new("headers", ValueType::List, "Headers to remove.").required()];

pub fn plugins() -> Vec<TransformPlugin> {
    vec![
        TransformPlugin {
            class: "org.apache.kafka.connect.transforms.HeaderFrom$Value",
            aliases: &[
                "HeaderFrom$Value",
                "org.apache.kafka.connect.transforms.HeaderFrom$Key",
                "HeaderFrom$Key",
            ],
            keys: FROM_KEYS,
            build: |c| {
                let o = Opts(c);
                let fields = o.list("fields");
                let headers: Vec<Arc<str>> = o.list("headers").into_iter().map(Arc::from).collect();
                if fields.is_empty() || fields.len() != headers.len() {
                    return Err(Error::invalid(
                        "headers",
                        "\"fields\" and \"headers\" must name as many entries as each other (one header per field)",
                    ));
                }
                let copy = o.choice("operation", &["copy", "move"], "")? == "copy";
                Ok(Box::new(HeaderFrom {
                    side: Side::of_class(c.get("type").unwrap_or("")),
                    fields,
                    headers,
                    copy,
                    replace_null: o.bool("replace.null.with.default", true)?,
                    moves: Cache::default(),
                }))
            },
        },
        TransformPlugin {
            class: "org.apache.kafka.connect.transforms.InsertHeader",
            aliases: &["InsertHeader"],
            keys: INSERT_KEYS,
            build: |c| {
                let o = Opts(c);
                let name = o.required("header")?;
                let literal = o.get("value.literal").ok_or_else(|| {
                    Error::invalid("value.literal", "missing required option \"value.literal\"")
                })?;
                Ok(Box::new(InsertHeader {
                    key: name.into(),
                    value: parse_literal(literal),
                }))
            },
        },
        TransformPlugin {
            class: "org.apache.kafka.connect.transforms.DropHeaders",
            aliases: &["DropHeaders"],
            keys: DROP_KEYS,
            build: |c| {
                let headers = Opts(c).list("headers");
                if headers.is_empty() {
                    return Err(Error::invalid(
                        "headers",
                        "\"headers\" is empty: name the headers to remove",
                    ));
                }
                Ok(Box::new(DropHeaders(headers)))
            },
        },
    ]
}

/// A literal as `Values.parseString` types it: booleans, the smallest integer type that holds
/// the number, doubles, else a string (all non-optional).
pub fn parse_literal(text: &str) -> Payload {
    let t = text.trim();
    let (enc, datum) = if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false") {
        (
            Encoding::Boolean,
            Datum::Bool(t.eq_ignore_ascii_case("true")),
        )
    } else if let Ok(i) = t.parse::<i64>() {
        let enc = if i8::try_from(i).is_ok() {
            Encoding::Int8
        } else if i16::try_from(i).is_ok() {
            Encoding::Int16
        } else if i32::try_from(i).is_ok() {
            Encoding::Int32
        } else {
            Encoding::Int64
        };
        (enc, Datum::Int(i))
    } else if let Ok(f) = t.parse::<f64>().map_err(|_| ()).and_then(|f| {
        if t.contains(['.', 'e', 'E']) {
            Ok(f)
        } else {
            Err(())
        }
    }) {
        (Encoding::Float64, Datum::F64(f))
    } else {
        (Encoding::String, Datum::text(text))
    };
    Payload::value(&plain(enc, false), datum)
}

struct HeaderFrom {
    side: Side,
    fields: Vec<String>,
    headers: Vec<Arc<str>>,
    copy: bool,
    replace_null: bool,
    moves: Cache<Schema, Projection>,
}

impl Transform for HeaderFrom {
    fn apply(&mut self, event: &mut Event, cx: &mut TransformContext<'_>) -> Result<bool> {
        let r = record(event, cx)?;
        let purpose = if self.copy {
            "header copy"
        } else {
            "header move"
        };
        let (schema, datum) = match self.side.get(r) {
            None => (None, Datum::Null),
            Some(Payload::Value { schema, datum }) => (schema.clone(), datum.clone()),
            Some(Payload::Encoded(_)) => {
                return Err(Error::internal("a transform got undecoded bytes"));
            }
        };
        let Some(schema) = schema else {
            let Some(entries) = pairs(cx.datums, &datum) else {
                return Err(wrong_type("a map", purpose, &datum));
            };
            let entries: Vec<(Vec<u8>, Datum)> =
                entries.map(|(k, v)| (k.to_vec(), v.clone())).collect();
            for (f, h) in self.fields.iter().zip(&self.headers) {
                let v = entries
                    .iter()
                    .find(|(k, _)| k == f.as_bytes())
                    .map_or(Datum::Null, |(_, v)| v.clone());
                r.headers.push(Header {
                    key: h.clone(),
                    value: Some(Payload::Value {
                        schema: None,
                        datum: v,
                    }),
                });
            }
            if !self.copy {
                let kept = entries
                    .into_iter()
                    .filter(|(k, _)| !self.fields.iter().any(|f| f.as_bytes() == &k[..]))
                    .map(|(k, v)| (Datum::Text(k.into()), v))
                    .collect();
                let d = push_map(cx.datums, kept);
                *self.side.get_mut(r) = Some(Payload::Value {
                    schema: None,
                    datum: d,
                });
            }
            return Ok(true);
        };
        let Some(values) = fields(cx.datums, &datum) else {
            return Err(wrong_type("a struct", purpose, &datum));
        };
        let columns = schema.fields().unwrap_or_default();
        for (f, h) in self.fields.iter().zip(&self.headers) {
            let Some(i) = columns.iter().position(|c| *c.name == **f) else {
                return Err(Error::conversion(format!(
                    "{f} is not a valid field name (HeaderFrom fields)"
                )));
            };
            let v = match (&values[i], &columns[i].default) {
                (Datum::Null, Some(d)) if self.replace_null => d.clone(),
                (v, _) => v.clone(),
            };
            r.headers.push(Header {
                key: h.clone(),
                value: Some(Payload::value(&Arc::new(columns[i].schema()), v)),
            });
        }
        if !self.copy {
            let names = &self.fields;
            let p = self.moves.get_or(&schema, || {
                Ok(Projection::new(&schema, |c| {
                    (!names.iter().any(|n| **n == *c.name)).then(|| c.name.clone())
                }))
            })?;
            let d = p.apply(cx.datums, &datum, self.replace_null);
            *self.side.get_mut(r) = Some(Payload::value(&p.schema, d));
        }
        Ok(true)
    }
}

struct InsertHeader {
    key: Arc<str>,
    value: Payload,
}

impl Transform for InsertHeader {
    fn apply(&mut self, event: &mut Event, cx: &mut TransformContext<'_>) -> Result<bool> {
        let r = record(event, cx)?;
        r.headers.push(Header {
            key: self.key.clone(),
            value: Some(self.value.clone()),
        });
        Ok(true)
    }
}

struct DropHeaders(Vec<String>);

impl Transform for DropHeaders {
    fn apply(&mut self, event: &mut Event, _cx: &mut TransformContext<'_>) -> Result<bool> {
        if let Event::Record(r) = event {
            r.headers.retain(|h| !self.0.iter().any(|d| **d == *h.key));
        }
        Ok(true)
    }
}
