//! `io.debezium.transforms.ByLogicalTableRouter` and its newer name `ToLogicalTopicRouter`:
//! topics the regex matches whole (sharded or partitioned tables) go to one logical topic;
//! the key gains a field naming the physical source (`key.field.name`, from the old topic or
//! `key.field.regex`/`key.field.replacement`) so keys of different tables stay distinct, and the
//! key, envelope and row schemas are renamed after the new topic. Tombstones are rerouted too.

use std::collections::HashMap;
use std::sync::Arc;

use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::plugin::TransformPlugin;
use runnel_core::transform::{Transform, TransformContext};
use runnel_core::{Column, Datum, Encoding, Error, Event, Payload, Result, Schema, SchemaMeta};

use super::envelope::is_envelope;
use crate::util::{Cache, Opts, compile, fields, java_replacement, record};

const KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "topic.regex",
        ValueType::String,
        "Regex the whole topic must match.",
    )
    .required(),
    ConfigKey::new(
        "topic.replacement",
        ValueType::String,
        "The logical topic ($1 … refer to groups).",
    )
    .required(),
    ConfigKey::new(
        "key.enforce.uniqueness",
        ValueType::Boolean,
        "Add a key field naming the physical table.",
    )
    .default("true"),
    ConfigKey::new(
        "key.field.regex",
        ValueType::String,
        "Regex on the old topic for the key field's value.",
    ),
    ConfigKey::new(
        "key.field.replacement",
        ValueType::String,
        "The key field's value ($1 … refer to groups).",
    ),
    ConfigKey::new(
        "key.field.name",
        ValueType::String,
        "Name of the added key field.",
    ),
    ConfigKey::new(
        "schema.name.adjustment.mode",
        ValueType::Enum(&["none", "avro", "avro_unicode"]),
        "How new schema names are adjusted: none, avro, avro_unicode.",
    )
    .default("none"),
    ConfigKey::new(
        "logical.destination.cache.size",
        ValueType::Int,
        "Accepted; runnel sizes its caches itself.",
    )
    .default("16"),
    ConfigKey::new(
        "logical.table.cache.size",
        ValueType::Int,
        "Older name of logical.destination.cache.size.",
    ),
];

pub fn plugins() -> Vec<TransformPlugin> {
    vec![
        TransformPlugin {
            class: "io.debezium.transforms.ByLogicalTableRouter",
            aliases: &["ByLogicalTableRouter"],
            keys: KEYS,
            build: |c| {
                Ok(Box::new(LogicalTopicRouter::new(
                    &Opts(c),
                    "__dbz__physicalTableIdentifier",
                )?))
            },
        },
        TransformPlugin {
            class: "io.debezium.transforms.ToLogicalTopicRouter",
            aliases: &["ToLogicalTopicRouter"],
            keys: KEYS,
            build: |c| {
                Ok(Box::new(LogicalTopicRouter::new(
                    &Opts(c),
                    "__dbz__sourceIdentifier",
                )?))
            },
        },
    ]
}

/// A regex and its replacement.
type Rewrite = (regex::Regex, String);

struct LogicalTopicRouter {
    topic: regex::Regex,
    replacement: String,
    /// The added key field's name and, with `key.field.regex`, how its value is made.
    key_field: Option<(Arc<str>, Option<Rewrite>)>,
    avro_names: bool,
    /// Per old topic: the new topic and the key field's value (`None`: not routed).
    routes: HashMap<Arc<str>, Option<(Arc<str>, Datum)>>,
    keys: Cache<Schema, Arc<Schema>>,
    envelopes: Cache<Schema, Arc<Schema>>,
}

impl LogicalTopicRouter {
    fn new(o: &Opts<'_>, default_key_field: &str) -> Result<Self> {
        let key_regex = match o
            .get("key.field.regex")
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            Some(r) => {
                let replacement = o
                    .get("key.field.replacement")
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .ok_or_else(|| {
                        Error::invalid(
                            "key.field.replacement",
                            "key.field.replacement must be non-empty if key.field.regex is set",
                        )
                    })?;
                Some((
                    compile("key.field.regex", r, true)?,
                    java_replacement(replacement),
                ))
            }
            None => None,
        };
        let key_field = o.bool("key.enforce.uniqueness", true)?.then(|| {
            (
                Arc::from(o.string("key.field.name", default_key_field)),
                key_regex,
            )
        });
        Ok(Self {
            topic: o.regex("topic.regex", true)?,
            replacement: java_replacement(&o.required("topic.replacement")?),
            key_field,
            avro_names: o.choice(
                "schema.name.adjustment.mode",
                &["none", "avro", "avro_unicode"],
                "none",
            )? != "none",
            routes: HashMap::new(),
            keys: Cache::default(),
            envelopes: Cache::default(),
        })
    }

    fn route(&mut self, topic: &Arc<str>) -> Option<(Arc<str>, Datum)> {
        if let Some(r) = self.routes.get(topic) {
            return r.clone();
        }
        let routed = self.topic.is_match(topic).then(|| {
            self.topic
                .replace(topic, self.replacement.as_str())
                .into_owned()
        });
        let r = routed.filter(|t| !t.is_empty()).map(|t| {
            let id = match &self.key_field {
                Some((_, Some((re, rep)))) if re.is_match(topic) => {
                    re.replace(topic, rep.as_str()).into_owned()
                }
                _ => topic.to_string(),
            };
            (Arc::<str>::from(t), Datum::text(&id))
        });
        if self.routes.len() >= 10_000 {
            self.routes.clear();
        }
        self.routes.insert(topic.clone(), r.clone());
        r
    }
}

/// Debezium's Avro name adjustment: characters Avro does not allow become `_`.
fn adjust(name: &str, avro: bool) -> Arc<str> {
    if !avro {
        return name.into();
    }
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if c.is_ascii_alphabetic() || c == '_' || (i > 0 && (c.is_ascii_digit() || c == '.')) {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .into()
}

/// `schema` named `name`: version, doc, parameters and optionality kept, no default.
fn renamed(schema: &Schema, encoding: Encoding, name: Arc<str>) -> Schema {
    let old = schema.meta.as_deref();
    let meta = SchemaMeta {
        name: Some(name),
        version: old.and_then(|m| m.version),
        doc: old.and_then(|m| m.doc.clone()),
        parameters: old.map(|m| m.parameters.clone()).unwrap_or_default(),
    };
    Schema::new(encoding, schema.optional).with_meta(Arc::new(meta))
}

impl Transform for LogicalTopicRouter {
    fn apply(&mut self, event: &mut Event, cx: &mut TransformContext<'_>) -> Result<bool> {
        let topic = event.topic().clone();
        let Some((new_topic, id)) = self.route(&topic) else {
            return Ok(true);
        };
        let r = record(event, cx)?;
        let avro = self.avro_names;
        if let Some(key) = &r.key {
            let Payload::Value {
                schema: Some(ks),
                datum: key @ Datum::Struct(_),
            } = key
            else {
                return Err(Error::conversion(
                    "ByLogicalTableRouter needs a struct key with a schema (schemas.enable=true)",
                ));
            };
            let (ks, key) = (ks.clone(), key.clone());
            let key_field = &self.key_field;
            let new_ks = self
                .keys
                .get_or(&ks, || {
                    let mut columns = ks.fields().unwrap_or_default().to_vec();
                    if let Some((name, _)) = key_field {
                        columns.push(Column::new(name, Encoding::String, false));
                    }
                    let name = adjust(&format!("{new_topic}.Key"), avro);
                    Ok(Arc::new(renamed(
                        &ks,
                        Encoding::Struct(columns.into()),
                        name,
                    )))
                })?
                .clone();
            let start = cx.datums.len();
            if let Some(f) = fields(cx.datums, &key) {
                let f = f.to_vec();
                cx.datums.extend(f);
            }
            if self.key_field.is_some() {
                cx.datums.push(id);
            }
            r.key = Some(Payload::value(
                &new_ks,
                Datum::Struct(start as u32..cx.datums.len() as u32),
            ));
        }
        if let Some(Payload::Value {
            schema: Some(vs),
            datum: Datum::Struct(_),
        }) = &r.value
            && is_envelope(vs)
        {
            let vs = vs.clone();
            let new_vs = self
                .envelopes
                .get_or(&vs, || {
                    let columns = vs.fields().unwrap_or_default();
                    let row = columns
                        .iter()
                        .find(|c| &*c.name == "before")
                        .or_else(|| columns.iter().find(|c| &*c.name == "after"));
                    let row = row.map(|c| {
                        let s = c.schema();
                        renamed(
                            &s,
                            s.encoding.clone(),
                            adjust(&format!("{new_topic}.Value"), avro),
                        )
                    });
                    let new: Vec<Column> = columns
                        .iter()
                        .map(|c| match (&row, &*c.name) {
                            (Some(row), "before" | "after") => Column::of(&c.name, row),
                            _ => c.clone(),
                        })
                        .collect();
                    Ok(Arc::new(renamed(
                        &vs,
                        Encoding::Struct(new.into()),
                        adjust(&format!("{new_topic}.Envelope"), avro),
                    )))
                })?
                .clone();
            if let Some(Payload::Value { schema, .. }) = &mut r.value {
                *schema = Some(new_vs);
            }
        }
        r.topic = new_topic;
        Ok(true)
    }
}
