//! Debezium's scripting transforms, `io.debezium.transforms.Filter` (keep the records a
//! condition holds for) and `io.debezium.transforms.ContentBasedRouter` (the topic an
//! expression names), with expressions in CEL, the Common Expression Language
//! (`language=cel`): safe (no I/O, always terminates) and run in process, where Debezium runs
//! Groovy or JavaScript on the JVM. The variables are Debezium's: `value`, `key`,
//! `valueSchema`, `keySchema`, `topic` and `header` (`header.<name>.value`). Groovy's and
//! JavaScript's languages are refused with the CEL to write instead: simple Groovy
//! conditions (`value.op == 'u' && value.before.id == 2`) are CEL as they are.
//! `topic.regex` limits a transform to the topics it matches; `null.handling.mode` says what
//! a tombstone does (keep, drop, evaluate).

use std::collections::HashMap;
use std::sync::Arc;

use cel_interpreter::{Context, Program, Value};
use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::plugin::TransformPlugin;
use runnel_core::transform::{Transform, TransformContext};
use runnel_core::{Datum, Encoding, Error, Event, Payload, Record, Result};

use crate::util::{Opts, compile, fields, record};

const VARIABLES: &[&str] = &[
    "value",
    "key",
    "valueSchema",
    "keySchema",
    "topic",
    "header",
];

const fn keys(expression: &'static str, doc: &'static str) -> [ConfigKey; 4] {
    [
        ConfigKey::new(
            "language",
            ValueType::String,
            "The expression language: cel.",
        )
        .required(),
        ConfigKey::new(expression, ValueType::String, doc).required(),
        ConfigKey::new(
            "topic.regex",
            ValueType::String,
            "Only records of topics this regex matches are evaluated.",
        ),
        ConfigKey::new(
            "null.handling.mode",
            ValueType::Enum(&["keep", "drop", "evaluate"]),
            "What a record with a null value does: keep, drop, evaluate.",
        )
        .default("keep"),
    ]
}

const FILTER_KEYS: &[ConfigKey] = &keys("condition", "A CEL condition: true keeps the record.");
const ROUTER_KEYS: &[ConfigKey] = &keys(
    "topic.expression",
    "A CEL expression giving the topic (null: keep it).",
);

pub fn plugins() -> Vec<TransformPlugin> {
    vec![
        TransformPlugin {
            class: "io.debezium.transforms.Filter",
            aliases: &[],
            keys: FILTER_KEYS,
            build: |c| Ok(Box::new(Scripted::new(&Opts(c), Kind::Filter)?)),
        },
        TransformPlugin {
            class: "io.debezium.transforms.ContentBasedRouter",
            aliases: &["ContentBasedRouter"],
            keys: ROUTER_KEYS,
            build: |c| Ok(Box::new(Scripted::new(&Opts(c), Kind::Router)?)),
        },
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Filter,
    Router,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nulls {
    Keep,
    Drop,
    Evaluate,
}

struct Scripted {
    kind: Kind,
    program: Program,
    /// The variables the expression uses: only those are built per record.
    uses: Vec<&'static str>,
    topics: Option<regex::Regex>,
    nulls: Nulls,
    root: Context<'static>,
    routed: HashMap<String, Arc<str>>,
}

/// A CEL parse error in one line: where, and what was expected.
fn parse_error(key: &str, text: &str, e: &cel_interpreter::ParseError) -> Error {
    let at = e
        .span
        .start
        .as_ref()
        .map(|l| format!(" at column {}", l.column + 1))
        .unwrap_or_default();
    Error::invalid(
        key,
        format!(
            "invalid CEL expression \"{text}\" in \"{key}\"{at}: {}",
            e.msg
        ),
    )
}

impl Scripted {
    fn new(o: &Opts<'_>, kind: Kind) -> Result<Self> {
        let key = match kind {
            Kind::Filter => "condition",
            Kind::Router => "topic.expression",
        };
        let language = o.required("language")?;
        let text = o.required(key)?;
        let compiled = Program::compile(&text);
        match language.to_ascii_lowercase().as_str() {
            "cel" | "jsr223.cel" => {}
            other => {
                let what = if other.contains("groovy") {
                    "Groovy"
                } else if other.contains("js") || other.contains("javascript") {
                    "JavaScript"
                } else {
                    "a JSR 223 script engine"
                };
                let advice = if compiled.is_ok() {
                    format!(
                        "this {key} is already valid CEL, so setting \"language\" to \"cel\" is enough"
                    )
                } else {
                    format!(
                        "rewrite the {key} in CEL, e.g. value.op == 'u' && value.after.id == 2 (docs/transforms.md maps Groovy and JavaScript to CEL)"
                    )
                };
                return Err(Error::invalid(
                    "language",
                    format!(
                        "language \"{language}\" needs {what} on a JVM, which runnel does not run: set \"language\" to \"cel\"; {advice}"
                    ),
                ));
            }
        }
        let program = compiled.map_err(|e| parse_error(key, &text, &e))?;
        let refs = program.references();
        let uses: Vec<&'static str> = VARIABLES
            .iter()
            .copied()
            .filter(|v| refs.has_variable(v))
            .collect();
        let topics = match o.get("topic.regex").filter(|r| !r.trim().is_empty()) {
            Some(r) => Some(compile("topic.regex", r, true)?),
            None => None,
        };
        let nulls = match o
            .choice("null.handling.mode", &["keep", "drop", "evaluate"], "keep")?
            .as_str()
        {
            "drop" => Nulls::Drop,
            "evaluate" => Nulls::Evaluate,
            _ => Nulls::Keep,
        };
        Ok(Self {
            kind,
            program,
            uses,
            topics,
            nulls,
            root: Context::default(),
            routed: HashMap::new(),
        })
    }

    fn evaluate(&self, r: &Record, datums: &[Datum]) -> Result<Value> {
        let mut cx = self.root.new_inner_scope();
        for &name in &self.uses {
            let v = match name {
                "value" => payload(datums, &r.value),
                "key" => payload(datums, &r.key),
                "valueSchema" => schema_of(&r.value),
                "keySchema" => schema_of(&r.key),
                "topic" => Value::from(&*r.topic),
                _ => {
                    let mut headers: HashMap<String, Value> = HashMap::new();
                    for h in &r.headers {
                        let mut m: HashMap<String, Value> = HashMap::new();
                        m.insert("value".into(), payload(datums, &h.value));
                        m.insert("schema".into(), schema_of(&h.value));
                        headers.insert(h.key.to_string(), Value::from(m));
                    }
                    Value::from(headers)
                }
            };
            cx.add_variable_from_value(name, v);
        }
        self.program.execute(&cx).map_err(|e| {
            Error::conversion(format!("the CEL expression failed on this record: {e}"))
        })
    }

    /// Evaluates, with every variable when the parser's list of references missed one.
    fn run(&mut self, r: &Record, datums: &[Datum]) -> Result<Value> {
        match self.evaluate(r, datums) {
            Err(e)
                if e.message().contains("Undeclared reference")
                    && self.uses.len() < VARIABLES.len() =>
            {
                self.uses = VARIABLES.to_vec();
                self.evaluate(r, datums)
            }
            other => other,
        }
    }
}

impl Transform for Scripted {
    fn apply(&mut self, event: &mut Event, cx: &mut TransformContext<'_>) -> Result<bool> {
        if let Some(re) = &self.topics
            && !re.is_match(event.topic())
        {
            return Ok(true);
        }
        let r = record(event, cx)?;
        if matches!(
            r.value,
            None | Some(Payload::Value {
                datum: Datum::Null,
                ..
            })
        ) {
            match self.nulls {
                Nulls::Keep => return Ok(true),
                Nulls::Drop => return Ok(false),
                Nulls::Evaluate => {}
            }
        }
        let v = self.run(r, cx.datums)?;
        match (self.kind, v) {
            (Kind::Filter, Value::Bool(keep)) => Ok(keep),
            (Kind::Router, Value::String(t)) => {
                let topic = match self.routed.get(t.as_str()) {
                    Some(t) => t.clone(),
                    None => {
                        if self.routed.len() >= 10_000 {
                            self.routed.clear();
                        }
                        let a: Arc<str> = t.as_str().into();
                        self.routed.insert(t.to_string(), a.clone());
                        a
                    }
                };
                r.topic = topic;
                Ok(true)
            }
            (Kind::Router, Value::Null) => Ok(true),
            (Kind::Filter, other) => Err(Error::conversion(format!(
                "the Filter condition gave {other:?}, not true or false"
            ))),
            (Kind::Router, other) => Err(Error::conversion(format!(
                "the ContentBasedRouter topic.expression gave {other:?}, not a topic name or null"
            ))),
        }
    }
}

/// A schema as the expressions see it: its name, type and version.
fn schema_of(p: &Option<Payload>) -> Value {
    let Some(Payload::Value {
        schema: Some(s), ..
    }) = p
    else {
        return Value::Null;
    };
    let mut m: HashMap<String, Value> = HashMap::new();
    m.insert("name".into(), s.name().map_or(Value::Null, Value::from));
    m.insert("optional".into(), Value::Bool(s.optional));
    Value::from(m)
}

fn payload(datums: &[Datum], p: &Option<Payload>) -> Value {
    match p {
        Some(Payload::Value { schema, datum }) => match schema {
            Some(s) => value(datums, &s.encoding, datum),
            None => value(datums, &Encoding::Dynamic, datum),
        },
        _ => Value::Null,
    }
}

/// A value as CEL sees it: structs and maps as maps, numbers, strings, bytes, lists; time
/// values as their Connect (wire) values.
fn value(datums: &[Datum], enc: &Encoding, d: &Datum) -> Value {
    match (enc, d) {
        (_, Datum::Null | Datum::Unavailable) => Value::Null,
        (_, Datum::Bool(b)) => Value::Bool(*b),
        (_, Datum::Int(i)) => Value::Int(*i),
        (_, Datum::F32(f)) => Value::Float(f64::from(*f)),
        (_, Datum::F64(f)) => Value::Float(*f),
        (_, Datum::Text(t)) => Value::from(String::from_utf8_lossy(t).into_owned()),
        (_, Datum::Bytes(b)) => Value::from(b.to_vec()),
        (_, Datum::Numeric(runnel_core::Numeric::Finite(t))) => std::str::from_utf8(t)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .map_or(Value::Null, Value::Float),
        (_, Datum::Date(days)) => Value::Int(*days),
        (Encoding::MilliTime | Encoding::ConnectTime, Datum::Time(us)) => Value::Int(us / 1000),
        (_, Datum::Time(us)) => Value::Int(*us),
        (Encoding::MilliTimestamp | Encoding::ConnectTimestamp, Datum::Timestamp(us)) => {
            Value::Int(us.div_euclid(1000))
        }
        (_, Datum::Timestamp(us)) => Value::Int(*us),
        (Encoding::ZonedTimestamp { fraction }, Datum::TimestampTz(us)) => {
            let mut b = Vec::new();
            runnel_core::temporal::write_iso_utc(&mut b, *us, *fraction);
            Value::from(String::from_utf8_lossy(&b).into_owned())
        }
        (_, Datum::Array(items)) => {
            let item = match enc {
                Encoding::Array(s) => s.encoding.clone(),
                _ => Encoding::Dynamic,
            };
            Value::from(
                items
                    .iter()
                    .map(|i| value(datums, &item, i))
                    .collect::<Vec<Value>>(),
            )
        }
        (Encoding::Struct(columns), d @ Datum::Struct(_)) => {
            let mut m: HashMap<String, Value> = HashMap::new();
            for (c, v) in columns.iter().zip(fields(datums, d).unwrap_or_default()) {
                m.insert(c.name.to_string(), value(datums, &c.encoding, v));
            }
            Value::from(m)
        }
        (_, Datum::Map(r)) => {
            let vals = match enc {
                Encoding::Map { values, .. } => values.encoding.clone(),
                _ => Encoding::Dynamic,
            };
            let mut m: HashMap<String, Value> = HashMap::new();
            for kv in datums[r.start as usize..r.end as usize].chunks_exact(2) {
                if let Datum::Text(k) = &kv[0] {
                    m.insert(
                        String::from_utf8_lossy(k).into_owned(),
                        value(datums, &vals, &kv[1]),
                    );
                }
            }
            Value::from(m)
        }
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runnel_core::config::ConnectorConfig;

    fn build(props: &[(&str, &str)]) -> Result<Scripted> {
        let config = ConnectorConfig {
            name: "f".into(),
            props: props
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        Scripted::new(&Opts(&config), Kind::Filter)
    }

    #[test]
    fn groovy_is_refused_with_the_cel_to_write() {
        let e = build(&[
            ("language", "jsr223.groovy"),
            ("condition", "value.op == 'u' && value.before.id == 2"),
        ])
        .err()
        .unwrap();
        assert!(e.message().contains("already valid CEL"), "{}", e.message());
        let e = build(&[
            ("language", "jsr223.graal.js"),
            ("condition", "value.get('op') === 'u'"),
        ])
        .err()
        .unwrap();
        assert!(
            e.message().contains("JavaScript") && e.message().contains("rewrite"),
            "{}",
            e.message()
        );
        let e = build(&[("language", "cel"), ("condition", "value.op == ")])
            .err()
            .unwrap();
        assert!(
            e.message().starts_with("invalid CEL expression"),
            "{}",
            e.message()
        );
        assert!(build(&[("language", "cel"), ("condition", "value.op == 'u'")]).is_ok());
    }
}
