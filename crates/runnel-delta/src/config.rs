//! The Delta sink's configuration: where the tables are (`delta.uri`, a local directory or
//! `s3://bucket/prefix`, with the object storage sink's S3 keys: `store.url`, `s3.region`,
//! `aws.access.key.id`, …), how a topic names its table (`table.name.format`, as the JDBC sink
//! names it), when rows are merged (`flush.size`, `flush.interval.ms`) and the table upkeep
//! (checkpoints, compaction, vacuum).

use std::collections::HashMap;
use std::time::Duration;

use runnel_core::config::{ConfigGroup, ConfigIssue, ConfigKey, ValueType as T, parse_bool};
use runnel_core::plugin::SinkConfig;

/// runnel's own sink connector class for Kafka topics.
pub const DELTA_CLASS: &str = "io.runnel.connect.delta.DeltaSinkConnector";

/// Where the tables are.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    /// A local directory (absolute).
    Local(String),
    /// `s3://bucket/prefix` and the storage options deltalake's S3 store takes.
    S3 {
        url: String,
        options: HashMap<String, String>,
    },
}

#[derive(Debug, Clone)]
pub struct DeltaConfig {
    pub location: Location,
    /// `${topic}` replaced by the record's topic.
    pub table_name_format: String,
    pub flush_size: usize,
    pub flush_interval: Duration,
    pub delete_enabled: bool,
    pub partition_by: Vec<String>,
    /// Commits between checkpoints (`delta.checkpointInterval` of the tables created).
    pub checkpoint_interval: u32,
    /// `None`: never.
    pub compaction_interval: Option<Duration>,
    pub target_file_size: u64,
    pub vacuum_interval: Option<Duration>,
    pub vacuum_retention: Duration,
    /// The connector's name (the `txn` application id's stem).
    pub connector: String,
    /// The direct sink of a source connector (positions kept in the tables), not a sink
    /// connector reading Kafka.
    pub direct: bool,
}

const LOCATION_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "delta.uri",
        T::String,
        "Where the tables are: a local directory or s3://bucket/prefix; each table at <uri>/<table name>.",
    ),
    ConfigKey::new(
        "table.name.format",
        T::String,
        "A table's name from its topic: ${topic} is replaced by the topic (dots kept).",
    )
    .default("${topic}"),
    ConfigKey::new(
        "store.url",
        T::String,
        "An S3-compatible endpoint (http://host:port), as the object storage sink names it.",
    ),
    ConfigKey::new("s3.region", T::String, "The bucket's region.").default("us-east-1"),
    ConfigKey::new(
        "aws.access.key.id",
        T::String,
        "Access key; empty: the default chain.",
    ),
    ConfigKey::new("aws.secret.access.key", T::Password, "Secret key."),
    ConfigKey::new(
        "s3.path.style.access.enabled",
        T::Boolean,
        "Path-style URLs (bucket in the path).",
    )
    .default("true"),
];

const WRITE_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "flush.size",
        T::Int,
        "Changes buffered before they are merged into the tables (one commit per table).",
    )
    .default("10000"),
    ConfigKey::new(
        "flush.interval.ms",
        T::Long,
        "Buffered changes are merged at the latest this long after the first of them.",
    )
    .default("5000"),
    ConfigKey::new(
        "delete.enabled",
        T::Boolean,
        "Deletes (and tombstones) delete the row with their key; false: ignored.",
    )
    .default("true"),
    ConfigKey::new(
        "delta.partition.by",
        T::List,
        "Columns the tables it creates are partitioned by (comma-separated).",
    ),
];

const UPKEEP_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "delta.checkpoint.interval",
        T::Int,
        "Commits between checkpoints of the log (delta.checkpointInterval of the tables it creates).",
    )
    .default("10"),
    ConfigKey::new(
        "delta.compaction.interval.ms",
        T::Long,
        "How often small files are compacted (OPTIMIZE); -1: never.",
    )
    .default("600000"),
    ConfigKey::new(
        "delta.compaction.target.file.size",
        T::Long,
        "The size compaction aims at, in bytes.",
    )
    .default("104857600"),
    ConfigKey::new(
        "delta.vacuum.interval.ms",
        T::Long,
        "How often files no version within the retention needs are deleted (VACUUM); -1: never.",
    )
    .default("3600000"),
    ConfigKey::new(
        "delta.vacuum.retention.hours",
        T::Long,
        "How long replaced files stay for readers of older versions.",
    )
    .default("168"),
];

pub const GROUPS: &[ConfigGroup] = &[
    ConfigGroup {
        name: "Location",
        keys: LOCATION_KEYS,
    },
    ConfigGroup {
        name: "Writes",
        keys: WRITE_KEYS,
    },
    ConfigGroup {
        name: "Upkeep",
        keys: UPKEEP_KEYS,
    },
];

struct Keys<'a> {
    sink: &'a SinkConfig,
    issues: Vec<ConfigIssue>,
}

impl Keys<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.sink.get(key).map(str::trim).filter(|v| !v.is_empty())
    }

    fn issue(&mut self, key: &str, message: impl Into<String>) {
        self.issues
            .push(ConfigIssue::new(self.sink.user_key(key), message.into()));
    }

    /// A number at least `min`, or the default.
    fn int(&mut self, key: &str, default: i64, min: i64) -> i64 {
        let Some(v) = self.get(key) else {
            return default;
        };
        match v.parse::<i64>() {
            Ok(n) if n >= min => n,
            _ => {
                let message = format!(
                    "\"{}\" must be a whole number of at least {min}, not \"{v}\"",
                    self.sink.user_key(key)
                );
                self.issue(key, message);
                default
            }
        }
    }

    /// Milliseconds, or `None` for -1 (never).
    fn interval(&mut self, key: &str, default: i64) -> Option<Duration> {
        match self.int(key, default, -1) {
            n if n <= 0 => None,
            n => Some(Duration::from_millis(n as u64)),
        }
    }

    fn bool(&mut self, key: &str, default: bool) -> bool {
        match self.get(key).map(str::to_string) {
            None => default,
            Some(v) => parse_bool(&v).unwrap_or_else(|| {
                let message = format!(
                    "\"{}\" must be true or false, not \"{v}\"",
                    self.sink.user_key(key)
                );
                self.issue(key, message);
                default
            }),
        }
    }
}

/// Whether `class` is the Delta sink connector's (in full or by its simple name).
pub fn is_connector_class(class: &str) -> bool {
    class == DELTA_CLASS || class == "DeltaSinkConnector"
}

impl DeltaConfig {
    /// Parses and validates (no I/O): every problem as an issue on its key.
    pub fn parse(sink: &SinkConfig) -> Result<Self, Vec<ConfigIssue>> {
        let mut k = Keys {
            sink,
            issues: Vec::new(),
        };
        let location = match k.get("delta.uri").map(str::to_string) {
            None => {
                let message = format!(
                    "\"{}\" is required: a local directory or s3://bucket/prefix for the tables",
                    sink.user_key("delta.uri")
                );
                k.issue("delta.uri", message);
                Location::Local(String::new())
            }
            Some(uri) => location(&mut k, &uri),
        };
        let table_name_format = k.get("table.name.format").unwrap_or("${topic}").to_string();
        if table_name_format.contains('/') {
            k.issue(
                "table.name.format",
                "a table name cannot contain '/': each table is one directory under delta.uri",
            );
        }
        let flush_size = k.int("flush.size", 10_000, 1) as usize;
        let flush_interval = Duration::from_millis(k.int("flush.interval.ms", 5_000, 1) as u64);
        let delete_enabled = k.bool("delete.enabled", true);
        let partition_by = k
            .get("delta.partition.by")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let checkpoint_interval = k.int("delta.checkpoint.interval", 10, 1) as u32;
        let compaction_interval = k.interval("delta.compaction.interval.ms", 600_000);
        let target_file_size =
            k.int("delta.compaction.target.file.size", 100 << 20, 1 << 20) as u64;
        let vacuum_interval = k.interval("delta.vacuum.interval.ms", 3_600_000);
        let vacuum_retention =
            Duration::from_secs(k.int("delta.vacuum.retention.hours", 168, 0) as u64 * 3600);
        if !k.issues.is_empty() {
            return Err(k.issues);
        }
        let class = sink.connector.get("connector.class").unwrap_or_default();
        Ok(Self {
            location,
            table_name_format,
            flush_size,
            flush_interval,
            delete_enabled,
            partition_by,
            checkpoint_interval,
            compaction_interval,
            target_file_size,
            vacuum_interval,
            vacuum_retention,
            connector: sink.connector.name.clone(),
            direct: !is_connector_class(class.trim()),
        })
    }

    /// The table a topic's records go to.
    pub fn table_name(&self, topic: &str) -> String {
        self.table_name_format.replace("${topic}", topic)
    }
}

fn location(k: &mut Keys, uri: &str) -> Location {
    if let Some(rest) = uri
        .strip_prefix("s3://")
        .or_else(|| uri.strip_prefix("s3a://"))
    {
        if rest.split('/').next().is_none_or(str::is_empty) {
            k.issue(
                "delta.uri",
                format!("\"{uri}\" names no bucket: write s3://bucket/prefix"),
            );
        }
        let mut options = HashMap::new();
        let region = k.get("s3.region").unwrap_or("us-east-1").to_string();
        options.insert("AWS_REGION".to_string(), region);
        if let Some(endpoint) = k.get("store.url") {
            options.insert("AWS_ENDPOINT_URL".into(), endpoint.to_string());
            if endpoint.starts_with("http://") {
                options.insert("AWS_ALLOW_HTTP".into(), "true".into());
            }
        }
        match (k.get("aws.access.key.id"), k.get("aws.secret.access.key")) {
            (Some(a), Some(s)) => {
                options.insert("AWS_ACCESS_KEY_ID".into(), a.to_string());
                options.insert("AWS_SECRET_ACCESS_KEY".into(), s.to_string());
            }
            (None, None) => {}
            _ => k.issue(
                "aws.access.key.id",
                "give both aws.access.key.id and aws.secret.access.key, or neither (the default credential chain)",
            ),
        }
        let virtual_hosted = !k.bool("s3.path.style.access.enabled", true);
        options.insert(
            "AWS_VIRTUAL_HOSTED_STYLE_REQUEST".into(),
            virtual_hosted.to_string(),
        );
        // Commits are put-if-absent (S3's conditional writes): two writers can never both
        // write version N of a table's log, so no lock service is needed.
        options.insert("conditional_put".into(), "etag".into());
        Location::S3 {
            url: format!("s3://{}", rest.trim_end_matches('/')),
            options,
        }
    } else if uri.contains("://") && !uri.starts_with("file://") {
        k.issue(
            "delta.uri",
            format!(
                "\"{uri}\": runnel writes Delta tables to a local directory or s3://bucket/prefix"
            ),
        );
        Location::Local(String::new())
    } else {
        let path = uri.strip_prefix("file://").unwrap_or(uri);
        if !path.starts_with('/') {
            k.issue(
                "delta.uri",
                format!("\"{uri}\" is relative: give the directory's absolute path"),
            );
        }
        Location::Local(path.trim_end_matches('/').to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runnel_core::config::ConnectorConfig;
    use std::collections::BTreeMap;

    fn sink(pairs: &[(&str, &str)], class: &str) -> SinkConfig {
        let keys: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut all = serde_json::Map::new();
        all.insert("name".into(), "lake".into());
        all.insert("connector.class".into(), class.into());
        for (k, v) in &keys {
            all.insert(k.clone(), v.clone().into());
        }
        SinkConfig {
            keys,
            connector: ConnectorConfig::from_json(&serde_json::Value::Object(all).to_string())
                .unwrap(),
            worker: Default::default(),
            spelled: [("delta.uri".to_string(), "sink.delta.uri".to_string())].into(),
        }
    }

    #[test]
    fn a_local_directory_and_an_s3_prefix() {
        let c = DeltaConfig::parse(&sink(
            &[("delta.uri", "/data/lake/")],
            "io.debezium.connector.postgresql.PostgresConnector",
        ))
        .unwrap();
        assert_eq!(c.location, Location::Local("/data/lake".into()));
        assert!(c.direct);
        assert_eq!(c.table_name("pg.public.orders"), "pg.public.orders");
        let c = DeltaConfig::parse(&sink(
            &[
                ("delta.uri", "s3://lake/cdc/"),
                ("store.url", "http://127.0.0.1:9000"),
                ("aws.access.key.id", "k"),
                ("aws.secret.access.key", "s"),
                ("table.name.format", "t_${topic}"),
            ],
            DELTA_CLASS,
        ))
        .unwrap();
        assert!(!c.direct);
        assert_eq!(c.table_name("a.b"), "t_a.b");
        let Location::S3 { url, options } = c.location else {
            panic!("s3")
        };
        assert_eq!(url, "s3://lake/cdc");
        assert_eq!(options["AWS_ALLOW_HTTP"], "true");
        assert_eq!(options["AWS_ACCESS_KEY_ID"], "k");
    }

    #[test]
    fn problems_name_the_users_keys() {
        let issues = DeltaConfig::parse(&sink(
            &[("flush.size", "0"), ("aws.access.key.id", "k")],
            "io.debezium.connector.postgresql.PostgresConnector",
        ))
        .unwrap_err();
        let text = format!("{issues:?}");
        assert!(text.contains("sink.delta.uri"), "{text}");
        assert!(text.contains("flush.size"), "{text}");
        let issues =
            DeltaConfig::parse(&sink(&[("delta.uri", "relative/dir")], DELTA_CLASS)).unwrap_err();
        assert!(format!("{issues:?}").contains("absolute path"));
    }
}
