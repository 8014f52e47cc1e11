//! `io.debezium.transforms.HeaderToValue`: copies (`operation=copy`) or moves (`move`) the
//! listed headers into the value, each as the field named at the same place in `fields`
//! (`a.b` puts it inside struct `a`, created when missing). The header's schema becomes the
//! field's. As Debezium, the new value schema is worked out once per value schema, from the
//! first record that has the headers.

use std::sync::Arc;

use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::plugin::TransformPlugin;
use runnel_core::transform::{Transform, TransformContext};
use runnel_core::{Column, Datum, Encoding, Error, Event, Payload, Result, Schema};

use crate::util::{Cache, Opts, basics, fields, record};

const KEYS: &[ConfigKey] = &[
    ConfigKey::new("headers", ValueType::List, "Headers to put into the value.").required(),
    ConfigKey::new(
        "fields",
        ValueType::List,
        "The fields they become (a.b nests), one per header.",
    )
    .required(),
    ConfigKey::new(
        "operation",
        ValueType::Enum(&["copy", "move"]),
        "copy (keep the headers) or move.",
    )
    .required(),
];

pub fn plugin() -> TransformPlugin {
    TransformPlugin {
        class: "io.debezium.transforms.HeaderToValue",
        aliases: &["HeaderToValue"],
        keys: KEYS,
        build: |c| {
            let o = Opts(c);
            let headers = o.list("headers");
            let names = o.list("fields");
            for (key, list) in [("headers", &headers), ("fields", &names)] {
                if list
                    .iter()
                    .any(|n| n.is_empty() || n.contains(char::is_whitespace))
                {
                    return Err(Error::invalid(
                        key,
                        format!("\"{key}\" has an empty entry or one with spaces"),
                    ));
                }
            }
            if headers.is_empty() || headers.len() != names.len() {
                return Err(Error::invalid(
                    "fields",
                    "\"fields\" must have as many entries as \"headers\" (one field per header)",
                ));
            }
            Ok(Box::new(HeaderToValue {
                headers,
                fields: names
                    .iter()
                    .map(|f| f.split('.').map(str::to_string).collect())
                    .collect(),
                copy: o.choice("operation", &["copy", "move"], "")? == "copy",
                plans: Cache::default(),
            }))
        },
    }
}

struct HeaderToValue {
    headers: Vec<String>,
    fields: Vec<Vec<String>>,
    copy: bool,
    plans: Cache<Schema, (Arc<Schema>, Arc<Plan>)>,
}

/// How one struct of the new value is made: per field, where its value comes from.
#[derive(Debug)]
enum Source {
    /// Field `i` of the old struct.
    Old(usize),
    /// The header value of entry `i`.
    Header(usize),
    /// A struct built by the inner plan; `Some(i)`: from field `i` of the old struct.
    Nested(Option<usize>, Plan),
}

type Plan = Vec<Source>;

/// The new schema and plan of `schema` with `entries` (path, header schema, entry index)
/// added at `depth`.
fn build(
    schema: Option<&Schema>,
    entries: &[(&[String], Arc<Schema>, usize)],
    depth: usize,
) -> (Schema, Plan) {
    let old = schema.and_then(|s| s.fields()).unwrap_or_default();
    let mut columns = Vec::new();
    let mut plan = Vec::new();
    for (i, c) in old.iter().enumerate() {
        let nested: Vec<_> = entries
            .iter()
            .filter(|(p, _, _)| p.len() > depth + 1 && p[depth] == *c.name)
            .cloned()
            .collect();
        if !nested.is_empty() && matches!(c.encoding, Encoding::Struct(_)) {
            let (s, p) = build(Some(&c.schema()), &nested, depth + 1);
            columns.push(Column::of(&c.name, &s));
            plan.push(Source::Nested(Some(i), p));
        } else {
            columns.push(c.clone());
            plan.push(Source::Old(i));
        }
    }
    for (path, s, i) in entries.iter().filter(|(p, _, _)| p.len() == depth + 1) {
        if !columns.iter().any(|c| *c.name == *path[depth]) {
            columns.push(Column::of(&path[depth], s));
            plan.push(Source::Header(*i));
        }
    }
    let mut parents: Vec<&str> = Vec::new();
    for (path, _, _) in entries.iter().filter(|(p, _, _)| p.len() > depth + 1) {
        let name = path[depth].as_str();
        if !old.iter().any(|c| *c.name == *name) && !parents.contains(&name) {
            parents.push(name);
        }
    }
    for name in parents {
        let inner: Vec<_> = entries
            .iter()
            .filter(|(p, _, _)| p.len() > depth + 1 && p[depth] == name)
            .cloned()
            .collect();
        let (mut s, p) = build(None, &inner, depth + 1);
        s.optional = true;
        s.meta = None;
        columns.push(Column::of(name, &s));
        plan.push(Source::Nested(None, p));
    }
    let mut s = Schema::new(
        Encoding::Struct(columns.into()),
        schema.is_some_and(|s| s.optional),
    );
    if let Some(old) = schema {
        s.meta = basics(old);
        s.optional = false;
    }
    (s, plan)
}

/// The struct `plan` makes from `old` (null fields of the old struct stay null).
fn make(
    plan: &Plan,
    old: Option<&Datum>,
    values: &[Option<Datum>],
    datums: &mut Vec<Datum>,
) -> Datum {
    let old_fields: Vec<Datum> = old
        .and_then(|o| fields(datums, o))
        .map(<[Datum]>::to_vec)
        .unwrap_or_default();
    let mut out = Vec::with_capacity(plan.len());
    for s in plan {
        out.push(match s {
            Source::Old(i) => old_fields.get(*i).cloned().unwrap_or(Datum::Null),
            Source::Header(i) => values[*i].clone().unwrap_or(Datum::Null),
            Source::Nested(i, inner) => {
                let o = i.and_then(|i| old_fields.get(i).cloned());
                if matches!(o, Some(Datum::Null)) {
                    Datum::Null
                } else {
                    make(inner, o.as_ref(), values, datums)
                }
            }
        });
    }
    let start = datums.len() as u32;
    datums.extend(out);
    Datum::Struct(start..datums.len() as u32)
}

impl Transform for HeaderToValue {
    fn apply(&mut self, event: &mut Event, cx: &mut TransformContext<'_>) -> Result<bool> {
        let r = record(event, cx)?;
        let Some(Payload::Value { schema, datum }) = &r.value else {
            return Ok(true);
        };
        if datum.is_null() {
            return Ok(true);
        }
        let Some(schema) = schema.clone() else {
            return Err(Error::conversion(
                "HeaderToValue needs a value with a schema (a struct)",
            ));
        };
        let datum = datum.clone();
        if !matches!(datum, Datum::Struct(_)) {
            return Err(Error::conversion("HeaderToValue needs a struct value"));
        }
        let mut values: Vec<Option<Datum>> = vec![None; self.headers.len()];
        let mut schemas: Vec<Option<Arc<Schema>>> = vec![None; self.headers.len()];
        for h in &r.headers {
            if let Some(i) = self.headers.iter().position(|n| **n == *h.key)
                && let Some(Payload::Value { schema, datum }) = &h.value
            {
                values[i] = Some(datum.clone());
                schemas[i] = schema.clone();
            }
        }
        if values.iter().all(Option::is_none) {
            return Ok(true);
        }
        let paths = &self.fields;
        let (out, plan) = self
            .plans
            .get_or(&schema, || {
                let entries: Vec<(&[String], Arc<Schema>, usize)> = (0..paths.len())
                    .filter(|i| values[*i].is_some())
                    .map(|i| {
                        let s = schemas[i]
                            .clone()
                            .unwrap_or_else(|| Arc::new(Schema::new(Encoding::String, true)));
                        (paths[i].as_slice(), s, i)
                    })
                    .collect();
                let (s, p) = build(Some(&schema), &entries, 0);
                Ok((Arc::new(s), Arc::new(p)))
            })?
            .clone();
        let value = make(&plan, Some(&datum), &values, cx.datums);
        r.value = Some(Payload::value(&out, value));
        if !self.copy {
            r.headers
                .retain(|h| !self.headers.iter().any(|n| **n == *h.key));
        }
        Ok(true)
    }
}
