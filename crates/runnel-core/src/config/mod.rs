//! Kafka Connect connector configs: `{"name": …, "config": {flat string map}}`, validated against
//! a [`ConfigSpec`] so that unknown or misspelled keys, missing keys and invalid values each get
//! one clear line that says what is wrong and how to fix it.

#[cfg(feature = "tables")]
pub mod tables;

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// A connector's configuration as the user wrote it: a name and a flat map of dotted keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorConfig {
    pub name: String,
    pub props: BTreeMap<String, String>,
}

impl ConnectorConfig {
    /// Parses Kafka Connect's JSON shape `{"name": "...", "config": {...}}`, or the flat map that
    /// `PUT /connectors/{name}/config` takes (then `name` must be inside it). Numbers and booleans
    /// are accepted where Kafka Connect expects strings, as its REST API does.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            Error::config(format!(
                "the connector config is not valid JSON ({e}); expected {{\"name\": \"...\", \"config\": {{...}}}}"
            ))
        })?;
        let serde_json::Value::Object(mut top) = value else {
            return Err(Error::config(
                "the connector config must be a JSON object: {\"name\": \"...\", \"config\": {...}}",
            ));
        };
        let (name, map) = match top.remove("config") {
            Some(serde_json::Value::Object(config)) => {
                let name = match top.remove("name") {
                    Some(serde_json::Value::String(name)) => Some(name),
                    None => None,
                    Some(_) => return Err(Error::config("\"name\" must be a string")),
                };
                if let Some(extra) = top.keys().next() {
                    return Err(Error::config(format!(
                        "unexpected top-level key \"{extra}\": a connector config has only \"name\" and \"config\""
                    )));
                }
                (name, config)
            }
            Some(_) => return Err(Error::config("\"config\" must be a JSON object of strings")),
            None => (None, top),
        };
        let mut props = BTreeMap::new();
        for (key, value) in map {
            let text = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Null => continue,
                _ => {
                    return Err(Error::config(format!(
                        "config key \"{key}\" must be a string, number or boolean"
                    )));
                }
            };
            props.insert(key, text);
        }
        let inner_name = props.get("name").cloned();
        let name = match (name, inner_name) {
            (Some(outer), Some(inner)) if outer != inner => {
                return Err(Error::config(format!(
                    "\"name\" is \"{outer}\" but config.name is \"{inner}\": they must match"
                )));
            }
            (Some(n), _) | (None, Some(n)) => n,
            (None, None) => {
                return Err(Error::config(
                    "the connector config has no \"name\": add \"name\": \"my-connector\" next to \"config\"",
                ));
            }
        };
        if name.trim().is_empty() {
            return Err(Error::config("the connector \"name\" must not be empty"));
        }
        props.remove("name");
        Ok(Self { name, props })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.props.get(key).map(String::as_str)
    }

    /// Keys that start with `prefix`, with the prefix removed.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.props
            .range(prefix.to_string()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(move |(k, v)| (&k[prefix.len()..], v.as_str()))
    }
}

/// The type of a config value, used for validation and for `/connector-plugins/{type}/config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    String,
    Password,
    Int,
    Long,
    Boolean,
    /// Comma-separated list.
    List,
    /// One of the listed values (case-insensitive, as Debezium).
    Enum(&'static [&'static str]),
}

/// One key a connector understands.
#[derive(Debug, Clone, Copy)]
pub struct ConfigKey {
    pub name: &'static str,
    pub ty: ValueType,
    pub default: Option<&'static str>,
    pub required: bool,
    pub doc: &'static str,
    /// Debezium has this key but runnel does not act on it yet: accepted with a warning so an
    /// existing config still starts, never silently.
    pub not_implemented: bool,
}

impl ConfigKey {
    pub const fn new(name: &'static str, ty: ValueType, doc: &'static str) -> Self {
        Self {
            name,
            ty,
            default: None,
            required: false,
            doc,
            not_implemented: false,
        }
    }
    pub const fn default(mut self, default: &'static str) -> Self {
        self.default = Some(default);
        self
    }
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub const fn not_implemented(mut self) -> Self {
        self.not_implemented = true;
        self
    }
}

/// Keys shown together, as Kafka Connect's `ConfigDef` groups them (`config/validate` lists
/// the groups in order and each key's definition names its group).
#[derive(Debug, Clone, Copy)]
pub struct ConfigGroup {
    pub name: &'static str,
    pub keys: &'static [ConfigKey],
}

/// Everything one connector class accepts: exact keys (in groups) plus key prefixes
/// (`transforms.`, `consumer.override.`, …).
#[derive(Debug, Clone, Copy)]
pub struct ConfigSpec {
    pub groups: &'static [&'static [ConfigGroup]],
    pub prefixes: &'static [&'static [&'static str]],
}

/// One problem found in a config. `key` is the offending key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub key: String,
    pub message: String,
}

impl ConfigIssue {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// One config error carrying every issue, one line each (the key of the first, for callers
/// that report a single key).
pub fn issues_error(issues: &[ConfigIssue]) -> Error {
    let lines: Vec<&str> = issues.iter().map(|i| i.message.as_str()).collect();
    let e = Error::config(lines.join("\n"));
    match issues.first() {
        Some(i) => e.with_key(&i.key),
        None => e,
    }
}

const COMMON_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "connector.class",
        ValueType::String,
        "The connector implementation class.",
    )
    .required(),
    ConfigKey::new("tasks.max", ValueType::Int, "Maximum number of tasks.").default("1"),
    ConfigKey::new(
        "tasks.max.enforce",
        ValueType::Boolean,
        "Kafka Connect: enforce tasks.max.",
    )
    .default("true"),
    ConfigKey::new(
        "key.converter",
        ValueType::String,
        "Converter class for record keys.",
    )
    .default("org.apache.kafka.connect.json.JsonConverter"),
    ConfigKey::new(
        "value.converter",
        ValueType::String,
        "Converter class for record values.",
    )
    .default("org.apache.kafka.connect.json.JsonConverter"),
    ConfigKey::new(
        "header.converter",
        ValueType::String,
        "Converter class for headers.",
    )
    .not_implemented(),
    ConfigKey::new(
        "config.action.reload",
        ValueType::Enum(&["none", "restart"]),
        "Kafka Connect: what to do when a config provider's value changes.",
    )
    .default("restart"),
];

const SINK_COMMON_KEYS: &[ConfigKey] = &[
    ConfigKey::new("topics", ValueType::List, "Topics to consume."),
    ConfigKey::new(
        "topics.regex",
        ValueType::String,
        "Regular expression of topics to consume.",
    ),
];

const TRANSFORM_KEYS: &[ConfigKey] = &[ConfigKey::new(
    "transforms",
    ValueType::List,
    "Aliases of the transformations to apply, in order.",
)];

const PREDICATE_KEYS: &[ConfigKey] = &[ConfigKey::new(
    "predicates",
    ValueType::List,
    "Aliases of the predicates used by transforms.",
)];

const ERROR_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "errors.retry.timeout",
        ValueType::Long,
        "Kafka Connect: retry timeout for failed operations.",
    )
    .default("0"),
    ConfigKey::new(
        "errors.retry.delay.max.ms",
        ValueType::Long,
        "Kafka Connect: max delay between retries.",
    )
    .default("60000"),
    ConfigKey::new(
        "errors.tolerance",
        ValueType::Enum(&["none", "all"]),
        "Kafka Connect: error tolerance.",
    )
    .default("none"),
    ConfigKey::new(
        "errors.log.enable",
        ValueType::Boolean,
        "Kafka Connect: log errors.",
    )
    .default("false"),
    ConfigKey::new(
        "errors.log.include.messages",
        ValueType::Boolean,
        "Kafka Connect: include records in error logs.",
    )
    .default("false"),
];

const DLQ_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "errors.deadletterqueue.topic.name",
        ValueType::String,
        "Topic for records the converter rejects (with errors.tolerance=all).",
    ),
    ConfigKey::new(
        "errors.deadletterqueue.topic.replication.factor",
        ValueType::Int,
        "Replication factor of the dead letter queue topic.",
    )
    .default("3"),
    ConfigKey::new(
        "errors.deadletterqueue.context.headers.enable",
        ValueType::Boolean,
        "Add __connect.errors.* headers to dead-lettered records.",
    )
    .default("false"),
];

const EXACTLY_ONCE_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "exactly.once.support",
        ValueType::Enum(&["requested", "required"]),
        "Kafka Connect: exactly-once support for source connectors.",
    )
    .default("requested"),
    ConfigKey::new(
        "transaction.boundary",
        ValueType::Enum(&["poll", "interval", "connector"]),
        "Kafka Connect: when an exactly-once source's transaction commits: poll (each group \
         of batches the sink takes at once) or interval (transaction.boundary.interval.ms).",
    )
    .default("poll"),
    ConfigKey::new(
        "transaction.boundary.interval.ms",
        ValueType::Long,
        "Kafka Connect: with transaction.boundary=interval, how often a transaction commits.",
    )
    .default("60000"),
];

const OFFSETS_TOPIC_KEYS: &[ConfigKey] = &[ConfigKey::new(
    "offsets.storage.topic",
    ValueType::String,
    "Kafka Connect: per-connector offsets topic.",
)
.not_implemented()];

/// `sink.type` and the keys of the sink it names (`sink.<type>.*`): runnel's direct sink of a
/// source connector.
pub const SINK_TYPE_KEY: &str = "sink.type";

const RUNNEL_SOURCE_KEYS: &[ConfigKey] = &[ConfigKey::new(
    SINK_TYPE_KEY,
    ValueType::String,
    "runnel: where a source connector's records go without Kafka (`stdout`, `file`, or any sink \
     of this build; `kafka` by default when the worker has bootstrap servers). The sink's own \
     keys follow as `sink.<type>.<key>`.",
)];

/// Kafka Connect's keys of every source connector, in its groups.
pub const CONNECT_SOURCE_GROUPS: &[ConfigGroup] = &[
    ConfigGroup {
        name: "Common",
        keys: COMMON_KEYS,
    },
    ConfigGroup {
        name: "Transforms",
        keys: TRANSFORM_KEYS,
    },
    ConfigGroup {
        name: "Predicates",
        keys: PREDICATE_KEYS,
    },
    ConfigGroup {
        name: "Error Handling",
        keys: ERROR_KEYS,
    },
    ConfigGroup {
        name: "Exactly Once Support",
        keys: EXACTLY_ONCE_KEYS,
    },
    ConfigGroup {
        name: "offsets.topic",
        keys: OFFSETS_TOPIC_KEYS,
    },
    ConfigGroup {
        name: "runnel",
        keys: RUNNEL_SOURCE_KEYS,
    },
];

/// Kafka Connect's keys of every sink connector, in its groups.
pub const CONNECT_SINK_GROUPS: &[ConfigGroup] = &[
    ConfigGroup {
        name: "Common",
        keys: COMMON_KEYS,
    },
    ConfigGroup {
        name: "Common",
        keys: SINK_COMMON_KEYS,
    },
    ConfigGroup {
        name: "Transforms",
        keys: TRANSFORM_KEYS,
    },
    ConfigGroup {
        name: "Predicates",
        keys: PREDICATE_KEYS,
    },
    ConfigGroup {
        name: "Error Handling",
        keys: ERROR_KEYS,
    },
    ConfigGroup {
        name: "Error Handling",
        keys: DLQ_KEYS,
    },
];

/// Key prefixes every source connector accepts.
pub const CONNECT_SOURCE_PREFIXES: &[&str] = &[
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "transforms.",
    "predicates.",
    "topic.creation.",
    "producer.override.",
    "admin.override.",
    "sink.",
];

/// Key prefixes every sink connector accepts.
pub const CONNECT_SINK_PREFIXES: &[&str] = &[
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "transforms.",
    "predicates.",
    "consumer.override.",
    "producer.override.",
    "admin.override.",
];

impl ConfigSpec {
    /// Every key with its group, in order.
    pub fn keys(&self) -> impl Iterator<Item = (&'static str, &'static ConfigKey)> + '_ {
        self.groups
            .iter()
            .flat_map(|gs| gs.iter())
            .flat_map(|g| g.keys.iter().map(move |k| (g.name, k)))
    }

    /// Group names in order of first appearance.
    pub fn group_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = Vec::new();
        for g in self.groups.iter().flat_map(|gs| gs.iter()) {
            if !names.contains(&g.name) {
                names.push(g.name);
            }
        }
        names
    }

    pub fn find(&self, key: &str) -> Option<&'static ConfigKey> {
        self.keys().map(|(_, k)| k).find(|k| k.name == key)
    }

    /// Whether `key` is one of the spec's prefixes (`transforms.…`).
    pub fn has_prefix_of(&self, key: &str) -> bool {
        self.prefixes
            .iter()
            .flat_map(|g| g.iter())
            .any(|p| key.starts_with(p))
    }

    fn all_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.keys().map(|(_, k)| k.name)
    }

    /// Every problem in `config`, one line each (empty when valid).
    pub fn validate(&self, config: &ConnectorConfig) -> Vec<ConfigIssue> {
        let mut issues = Vec::new();
        for (key, value) in &config.props {
            match self.find(key) {
                Some(spec) => {
                    if let Err(message) = check_value(spec, value) {
                        issues.push(ConfigIssue {
                            key: key.clone(),
                            message,
                        });
                    }
                }
                None if self.has_prefix_of(key) => {}
                None => {
                    let hint = match self.suggest(key) {
                        Some(s) => format!("did you mean \"{s}\"?"),
                        None => {
                            "remove it, or check the spelling against the connector's documentation"
                                .to_string()
                        }
                    };
                    issues.push(ConfigIssue {
                        key: key.clone(),
                        message: format!("unknown config key \"{key}\": {hint}"),
                    });
                }
            }
        }
        for (_, key) in self.keys() {
            if key.required && !config.props.contains_key(key.name) {
                issues.push(ConfigIssue {
                    key: key.name.to_string(),
                    message: format!(
                        "missing required config key \"{}\" ({})",
                        key.name,
                        key.doc.trim_end_matches('.')
                    ),
                });
            }
        }
        issues
    }

    /// The closest known key, if it is close enough to be a likely typo.
    pub fn suggest(&self, key: &str) -> Option<&'static str> {
        let mut best: Option<(usize, &'static str)> = None;
        for name in self.all_names() {
            let d = edit_distance(key, name);
            if best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, name));
            }
        }
        let (distance, name) = best?;
        // Allow about one typo per four characters, at least two.
        let limit = (key.len() / 4).max(2);
        (distance <= limit).then_some(name)
    }
}

/// Whether `value` is one `spec` accepts (its type, its enum), as one message if not.
pub fn check_value(spec: &ConfigKey, value: &str) -> std::result::Result<(), String> {
    let key = spec.name;
    match spec.ty {
        ValueType::Int => value.trim().parse::<i32>().map(drop).map_err(|_| {
            format!("invalid value \"{value}\" for \"{key}\": expected a whole number")
        }),
        ValueType::Long => value.trim().parse::<i64>().map(drop).map_err(|_| {
            format!("invalid value \"{value}\" for \"{key}\": expected a whole number")
        }),
        ValueType::Boolean => parse_bool(value).map(drop).ok_or_else(|| {
            format!("invalid value \"{value}\" for \"{key}\": expected true or false")
        }),
        ValueType::Enum(allowed) => {
            if allowed.iter().any(|a| a.eq_ignore_ascii_case(value.trim())) {
                Ok(())
            } else {
                Err(format!(
                    "invalid value \"{value}\" for \"{key}\": expected one of {}",
                    allowed.join(", ")
                ))
            }
        }
        ValueType::String | ValueType::Password | ValueType::List => Ok(()),
    }
}

pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Splits a comma-separated list as Kafka Connect does: trimmed, empty items dropped.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Levenshtein distance, for "did you mean" suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Typed access to validated props, with the spec's defaults.
pub struct Props<'a> {
    config: &'a ConnectorConfig,
    spec: &'a ConfigSpec,
}

impl<'a> Props<'a> {
    pub fn new(config: &'a ConnectorConfig, spec: &'a ConfigSpec) -> Self {
        Self { config, spec }
    }

    pub fn raw(&self, key: &str) -> Option<&'a str> {
        self.config.get(key)
    }

    /// The value, or the spec's default.
    pub fn string(&self, key: &str) -> Option<String> {
        if let Some(v) = self.config.get(key) {
            return Some(v.to_string());
        }
        self.spec
            .find(key)
            .and_then(|k| k.default)
            .map(str::to_string)
    }

    pub fn require(&self, key: &str) -> Result<String> {
        self.string(key)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::invalid(key, format!("missing required config key \"{key}\"")))
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>> {
        match self.string(key) {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
                Error::invalid(
                    key,
                    format!("invalid value \"{v}\" for \"{key}\": expected a whole number"),
                )
            }),
        }
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.string(key) {
            None => Ok(None),
            Some(v) => parse_bool(&v).map(Some).ok_or_else(|| {
                Error::invalid(
                    key,
                    format!("invalid value \"{v}\" for \"{key}\": expected true or false"),
                )
            }),
        }
    }

    /// Lower-cased enum value (validation already checked membership).
    pub fn choice(&self, key: &str) -> Option<String> {
        self.string(key).map(|s| s.trim().to_ascii_lowercase())
    }

    pub fn list(&self, key: &str) -> Vec<String> {
        self.string(key).map(|v| split_list(&v)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[ConfigKey] = &[
        ConfigKey::new("database.hostname", ValueType::String, "Host.").required(),
        ConfigKey::new(
            "snapshot.mode",
            ValueType::Enum(&["initial", "no_data"]),
            "Mode.",
        )
        .default("initial"),
    ];
    const GROUPS: &[ConfigGroup] = &[ConfigGroup {
        name: "CONNECTION",
        keys: KEYS,
    }];
    const SPEC: ConfigSpec = ConfigSpec {
        groups: &[GROUPS, CONNECT_SOURCE_GROUPS],
        prefixes: &[CONNECT_SOURCE_PREFIXES],
    };

    #[test]
    fn parses_connect_shape_and_flat_shape() {
        let a = ConnectorConfig::from_json(
            r#"{"name":"a","config":{"connector.class":"x","tasks.max":1}}"#,
        )
        .unwrap();
        assert_eq!(a.name, "a");
        assert_eq!(a.get("tasks.max"), Some("1"));
        let b = ConnectorConfig::from_json(r#"{"name":"b","connector.class":"x"}"#).unwrap();
        assert_eq!(b.name, "b");
        assert!(ConnectorConfig::from_json(r#"{"config":{}}"#).is_err());
    }

    #[test]
    fn misspelled_key_gets_a_suggestion() {
        let c = ConnectorConfig::from_json(
            r#"{"name":"a","config":{"connector.class":"x","database.hostnme":"h","snapshot.mode":"sometimes"}}"#,
        )
        .unwrap();
        let issues = SPEC.validate(&c);
        let text: Vec<String> = issues.iter().map(|i| i.message.clone()).collect();
        assert!(
            text.iter()
                .any(|t| t.contains("did you mean \"database.hostname\"")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("expected one of initial, no_data")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("missing required config key \"database.hostname\""))
        );
    }

    #[test]
    fn prefixed_keys_are_accepted() {
        let c = ConnectorConfig::from_json(
            r#"{"name":"a","config":{"connector.class":"x","database.hostname":"h","transforms.unwrap.type":"t"}}"#,
        )
        .unwrap();
        assert!(SPEC.validate(&c).is_empty());
    }
}
