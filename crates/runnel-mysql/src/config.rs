//! The MySQL/MariaDB source connector's configuration: Debezium's property names and defaults
//! (`io.debezium.connector.mysql.MySqlConnector`, `io.debezium.connector.mariadb.MariaDbConnector`),
//! parsed into a typed struct.

use regex::Regex;
use runnel_core::config::tables::{KeyColumns, Skipped, regexes, topic_name};
use runnel_core::config::{
    CONNECT_SOURCE_GROUPS, CONNECT_SOURCE_PREFIXES, ConfigGroup, ConfigKey, ConfigSpec,
    ConnectorConfig, Props, ValueType as T, issues_error,
};
use runnel_core::{BinaryMode, Error, Result};

pub const MYSQL_CLASS: &str = "io.debezium.connector.mysql.MySqlConnector";
pub const MARIADB_CLASS: &str = "io.debezium.connector.mariadb.MariaDbConnector";

const SNAPSHOT_MODES: &[&str] = &[
    "initial",
    "no_data",
    "schema_only",
    "never",
    "when_needed",
    "initial_only",
    "always",
    "recovery",
    "schema_only_recovery",
];

const CONNECTION_KEYS: &[ConfigKey] = &[
    ConfigKey::new("database.hostname", T::String, "MySQL/MariaDB server host.").required(),
    ConfigKey::new("database.port", T::Int, "Server port.").default("3306"),
    ConfigKey::new(
        "database.user",
        T::String,
        "User to connect as (needs REPLICATION SLAVE, REPLICATION CLIENT, SELECT).",
    )
    .required(),
    ConfigKey::new(
        "database.password",
        T::Password,
        "Password of database.user.",
    ),
    ConfigKey::new(
        "database.server.id",
        T::Long,
        "Replica server id this connector registers with; unique among the server's replicas.",
    )
    .required(),
    ConfigKey::new(
        "database.connectionTimeZone",
        T::String,
        "Session time zone of the connector's connections (TIMESTAMP values are read in UTC \
         whatever it is).",
    ),
    ConfigKey::new(
        "connect.timeout.ms",
        T::Long,
        "How long to wait for a connection to the server.",
    )
    .default("30000"),
    ConfigKey::new(
        "database.ssl.mode",
        T::Enum(&[
            "disabled",
            "preferred",
            "required",
            "verify_ca",
            "verify_identity",
        ]),
        "TLS mode of the connections to the server.",
    )
    .default("preferred"),
    ConfigKey::new(
        "database.ssl.truststore",
        T::String,
        "CA certificate file (PEM) for verify_ca/verify_identity.",
    ),
    ConfigKey::new(
        "database.ssl.truststore.password",
        T::Password,
        "Java truststore password (unused: runnel reads PEM).",
    )
    .not_implemented(),
    ConfigKey::new(
        "database.ssl.keystore",
        T::String,
        "Client certificate keystore.",
    )
    .not_implemented(),
    ConfigKey::new(
        "database.ssl.keystore.password",
        T::Password,
        "Client keystore password.",
    )
    .not_implemented(),
    ConfigKey::new(
        "database.initial.statements",
        T::String,
        "Statements run on each new connection, separated by ';'.",
    ),
];

const NAMING_KEYS: &[ConfigKey] = &[
    // Required, or its Debezium 1.x name database.server.name (checked when the config is read).
    ConfigKey::new(
        "topic.prefix",
        T::String,
        "Prefix of every topic name; also source.name.",
    ),
    ConfigKey::new(
        "database.server.name",
        T::String,
        "Debezium 1.x's name of topic.prefix.",
    ),
    ConfigKey::new(
        "topic.delimiter",
        T::String,
        "Delimiter between topic name parts.",
    )
    .default("."),
    ConfigKey::new(
        "topic.heartbeat.prefix",
        T::String,
        "Prefix of the heartbeat topic.",
    )
    .default("__debezium-heartbeat"),
    ConfigKey::new(
        "topic.naming.strategy",
        T::String,
        "Topic naming strategy class.",
    )
    .default("io.debezium.schema.DefaultTopicNamingStrategy"),
];

const FILTER_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "database.include.list",
        T::List,
        "Regular expressions of the databases to capture.",
    ),
    ConfigKey::new(
        "database.exclude.list",
        T::List,
        "Regular expressions of the databases not to capture.",
    ),
    ConfigKey::new(
        "table.include.list",
        T::List,
        "Regular expressions of the tables (database.table) to capture.",
    ),
    ConfigKey::new(
        "table.exclude.list",
        T::List,
        "Regular expressions of the tables (database.table) not to capture.",
    ),
    ConfigKey::new(
        "column.include.list",
        T::List,
        "Regular expressions of the columns (database.table.column) to include.",
    ),
    ConfigKey::new(
        "column.exclude.list",
        T::List,
        "Regular expressions of the columns (database.table.column) to leave out.",
    ),
    ConfigKey::new(
        "message.key.columns",
        T::String,
        "Key columns per table: database.table:col1,col2;…",
    ),
    ConfigKey::new(
        "gtid.source.includes",
        T::List,
        "Regular expressions of the GTID source UUIDs (MySQL) or domain ids (MariaDB) to follow.",
    ),
    ConfigKey::new(
        "gtid.source.excludes",
        T::List,
        "Regular expressions of the GTID sources to ignore.",
    ),
    ConfigKey::new(
        "skipped.operations",
        T::List,
        "Operations not to emit: c, u, d, t, or none.",
    )
    .default("t"),
];

/// Debezium 1.x's names of the filter keys, still in many users' configs (and Confluent Cloud's
/// managed MySQL CDC connector's): read as their new names.
const LEGACY_KEYS: &[(&str, &str)] = &[
    ("database.whitelist", "database.include.list"),
    ("database.blacklist", "database.exclude.list"),
    ("table.whitelist", "table.include.list"),
    ("table.blacklist", "table.exclude.list"),
    ("column.whitelist", "column.include.list"),
    ("column.blacklist", "column.exclude.list"),
    ("database.server.name", "topic.prefix"),
];

const LEGACY_FILTER_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "database.whitelist",
        T::List,
        "Debezium 1.x's database.include.list.",
    ),
    ConfigKey::new(
        "database.blacklist",
        T::List,
        "Debezium 1.x's database.exclude.list.",
    ),
    ConfigKey::new(
        "table.whitelist",
        T::List,
        "Debezium 1.x's table.include.list.",
    ),
    ConfigKey::new(
        "table.blacklist",
        T::List,
        "Debezium 1.x's table.exclude.list.",
    ),
    ConfigKey::new(
        "column.whitelist",
        T::List,
        "Debezium 1.x's column.include.list.",
    ),
    ConfigKey::new(
        "column.blacklist",
        T::List,
        "Debezium 1.x's column.exclude.list.",
    ),
    // Confluent Cloud's fully managed connector: its Kafka credentials (the worker's Kafka
    // settings apply here) and output format (JSON; other converters are not implemented).
    ConfigKey::new(
        "kafka.api.key",
        T::String,
        "Confluent Cloud's Kafka API key (unused: the worker's Kafka settings apply).",
    )
    .not_implemented(),
    ConfigKey::new(
        "kafka.api.secret",
        T::Password,
        "Confluent Cloud's Kafka API secret (unused).",
    )
    .not_implemented(),
    ConfigKey::new(
        "kafka.auth.mode",
        T::String,
        "Confluent Cloud's Kafka authentication mode (unused).",
    )
    .not_implemented(),
    ConfigKey::new(
        "output.data.format",
        T::Enum(&["JSON", "AVRO", "JSON_SR", "PROTOBUF"]),
        "Confluent Cloud's value format: JSON (the JsonConverter) is what runnel writes.",
    ),
    ConfigKey::new(
        "output.key.format",
        T::Enum(&["JSON", "AVRO", "JSON_SR", "PROTOBUF", "STRING"]),
        "Confluent Cloud's key format: JSON is what runnel writes.",
    ),
];

const SNAPSHOT_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "snapshot.mode",
        T::Enum(SNAPSHOT_MODES),
        "When to snapshot: initial, no_data, when_needed, initial_only, always, recovery.",
    )
    .default("initial"),
    ConfigKey::new(
        "snapshot.locking.mode",
        T::Enum(&["minimal", "minimal_percona", "extended", "none"]),
        "How long the snapshot holds a global read lock: minimal (only while the binlog position \
         is read; none on MariaDB, whose consistent snapshot gives the position lock-free) or none.",
    )
    .default("minimal"),
    ConfigKey::new(
        "snapshot.max.threads",
        T::Int,
        "Tables read in parallel during the snapshot.",
    )
    .default("1"),
    ConfigKey::new(
        "snapshot.part.rows",
        T::Int,
        "runnel only: with snapshot.max.threads > 1, a table with an integer primary key and more \
         rows than this (the server's estimate) is read in ranges of its key of about this many \
         rows, by several readers at once.",
    )
    .default("200000"),
    ConfigKey::new(
        "snapshot.include.collection.list",
        T::List,
        "Regular expressions of the tables (database.table) to snapshot; all captured ones when \
         empty.",
    ),
    ConfigKey::new(
        "snapshot.fetch.size",
        T::Int,
        "Rows per snapshot batch.",
    ),
];

const TYPE_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "decimal.handling.mode",
        T::Enum(&["precise", "double", "string"]),
        "How DECIMAL values are emitted.",
    )
    .default("precise"),
    ConfigKey::new(
        "time.precision.mode",
        T::Enum(&["adaptive_time_microseconds", "connect", "adaptive"]),
        "How temporal values are emitted.",
    )
    .default("adaptive_time_microseconds"),
    ConfigKey::new(
        "bigint.unsigned.handling.mode",
        T::Enum(&["long", "precise"]),
        "BIGINT UNSIGNED as int64 (long; values over 2^63-1 wrap, as Debezium) or as Decimal \
         (precise).",
    )
    .default("long"),
    ConfigKey::new(
        "binary.handling.mode",
        T::Enum(&["bytes", "base64", "base64-url-safe", "hex"]),
        "How binary values are emitted.",
    )
    .default("bytes"),
    ConfigKey::new(
        "include.schema.changes",
        T::Boolean,
        "Emit schema changes on the <topic.prefix> topic.",
    )
    .default("true"),
    ConfigKey::new(
        "include.query",
        T::Boolean,
        "Put the statement text in source.query (needs binlog_rows_query_log_events / \
         binlog_annotate_row_events).",
    )
    .default("false")
    .not_implemented(),
    ConfigKey::new(
        "tombstones.on.delete",
        T::Boolean,
        "Follow every delete with a tombstone.",
    )
    .default("true"),
    ConfigKey::new(
        "event.processing.failure.handling.mode",
        T::Enum(&["fail", "warn", "skip", "ignore"]),
        "What to do with an event that cannot be processed.",
    )
    .default("fail"),
    ConfigKey::new(
        "inconsistent.schema.handling.mode",
        T::Enum(&["fail", "warn", "skip"]),
        "What to do with a row of a table whose schema is unknown.",
    )
    .default("fail"),
    ConfigKey::new(
        "heartbeat.interval.ms",
        T::Int,
        "How often a heartbeat record goes to <topic.heartbeat.prefix>.<topic.prefix>, carrying \
         the latest binlog position (so the offset moves while the captured tables are quiet), \
         and how often the server sends a binlog heartbeat when idle; 0: no heartbeat records, \
         a server heartbeat every 10 s.",
    )
    .default("0"),
    ConfigKey::new(
        "max.batch.size",
        T::Int,
        "Largest batch of events handed to the sink.",
    )
    .default("2048"),
    ConfigKey::new(
        "max.queue.size",
        T::Int,
        "Events queued between the reader and the sink.",
    )
    .default("8192"),
    ConfigKey::new(
        "poll.interval.ms",
        T::Long,
        "How long a partial batch waits for more events.",
    )
    .default("500"),
];

const HISTORY_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "schema.history.internal.skip.unparseable.ddl",
        T::Boolean,
        "Skip DDL that cannot be parsed (with a warning) instead of stopping.",
    )
    .default("false"),
    ConfigKey::new(
        "schema.history.internal.store.only.captured.tables.ddl",
        T::Boolean,
        "Record only the DDL of captured tables.",
    )
    .default("false"),
    ConfigKey::new(
        "schema.history.internal",
        T::String,
        "Schema history implementation (runnel keeps the history in its state store).",
    )
    .not_implemented(),
    ConfigKey::new(
        "schema.history.internal.kafka.bootstrap.servers",
        T::String,
        "Kafka schema history servers (runnel keeps the history in its state store).",
    )
    .not_implemented(),
    ConfigKey::new(
        "schema.history.internal.kafka.topic",
        T::String,
        "Kafka schema history topic (runnel keeps the history in its state store).",
    )
    .not_implemented(),
];

const MYSQL_GROUPS: &[ConfigGroup] = &[
    ConfigGroup {
        name: "MySQL",
        keys: CONNECTION_KEYS,
    },
    ConfigGroup {
        name: "Naming",
        keys: NAMING_KEYS,
    },
    ConfigGroup {
        name: "Filters",
        keys: FILTER_KEYS,
    },
    ConfigGroup {
        name: "Legacy",
        keys: LEGACY_FILTER_KEYS,
    },
    ConfigGroup {
        name: "Snapshot",
        keys: SNAPSHOT_KEYS,
    },
    ConfigGroup {
        name: "Events",
        keys: TYPE_KEYS,
    },
    ConfigGroup {
        name: "History",
        keys: HISTORY_KEYS,
    },
];

const MYSQL_PREFIXES: &[&str] = &[
    "driver.",
    "database.history.",
    "schema.history.internal.",
    "signal.",
    "notification.",
];

pub fn spec() -> ConfigSpec {
    ConfigSpec {
        groups: &[CONNECT_SOURCE_GROUPS, MYSQL_GROUPS],
        prefixes: &[MYSQL_PREFIXES, CONNECT_SOURCE_PREFIXES],
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMode {
    Initial,
    NoData,
    WhenNeeded,
    InitialOnly,
    Always,
    /// Rebuild the schema history from the current tables, then stream from the stored offset.
    Recovery,
}

impl SnapshotMode {
    /// Whether table rows are read (not only the schema).
    pub fn reads_data(self) -> bool {
        matches!(
            self,
            SnapshotMode::Initial
                | SnapshotMode::WhenNeeded
                | SnapshotMode::InitialOnly
                | SnapshotMode::Always
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disabled,
    Preferred,
    Required,
    VerifyCa,
    VerifyIdentity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalMode {
    Precise,
    Double,
    String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeMode {
    /// Debezium's default: TIME as µs, DATETIME as ms or µs by precision.
    AdaptiveTimeMicroseconds,
    /// Kafka Connect's Date/Time/Timestamp (ms).
    Connect,
}

/// How values become Connect values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeModes {
    pub decimal: DecimalMode,
    pub time: TimeMode,
    pub bigint_precise: bool,
    pub binary: BinaryMode,
}

/// Include and exclude regular expressions of one name level.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

impl Filter {
    fn new(p: &Props<'_>, include: &str, exclude: &str) -> Result<Self> {
        Ok(Self {
            include: regexes(p, include)?,
            exclude: regexes(p, exclude)?,
        })
    }

    pub fn accepts(&self, name: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|r| r.is_match(name)))
            && !self.exclude.iter().any(|r| r.is_match(name))
    }

    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }
}

/// A validated MySQL/MariaDB source configuration.
#[derive(Debug, Clone)]
pub struct MySqlConfig {
    pub name: String,
    /// `mysql` or `mariadb`: `source.connector`, and the class the user chose.
    pub connector: &'static str,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub server_id: u32,
    pub time_zone: Option<String>,
    pub connect_timeout_ms: u64,
    pub ssl: SslMode,
    pub ssl_ca: Option<String>,
    pub initial_statements: Vec<String>,
    pub topic_prefix: String,
    pub topic_delimiter: String,
    pub databases: Filter,
    pub tables: Filter,
    pub columns: Filter,
    pub message_key_columns: KeyColumns,
    pub gtid_sources: Filter,
    pub skip_creates: bool,
    pub skip_updates: bool,
    pub skip_deletes: bool,
    pub skip_truncates: bool,
    pub snapshot_mode: SnapshotMode,
    pub snapshot_lock: bool,
    pub snapshot_max_threads: usize,
    pub snapshot_part_rows: u64,
    pub snapshot_include: Filter,
    pub modes: TypeModes,
    pub include_schema_changes: bool,
    pub tombstones_on_delete: bool,
    pub failure_mode: runnel_core::fits::FailureMode,
    pub heartbeat_interval_ms: u64,
    /// `<topic.heartbeat.prefix>.<topic.prefix>`.
    pub heartbeat_topic: std::sync::Arc<str>,
    pub max_batch_size: usize,
    pub max_queue_size: usize,
    pub poll_interval_ms: u64,
    pub skip_unparseable_ddl: bool,
    pub only_captured_ddl: bool,
    /// Keys accepted for compatibility that runnel does not act on.
    pub not_implemented: Vec<String>,
}

/// The config with Debezium 1.x's key names read as the new ones (a key given under both
/// names is an error: which one was meant is not clear).
fn with_new_names(config: &ConnectorConfig) -> Result<ConnectorConfig> {
    let mut out = config.clone();
    for (old, new) in LEGACY_KEYS {
        if let Some(v) = out.props.remove(*old) {
            if out.props.contains_key(*new) {
                return Err(Error::invalid(
                    old,
                    format!(
                        "\"{old}\" and \"{new}\" are the same setting (its Debezium 1.x and 2.x names): keep \"{new}\""
                    ),
                ));
            }
            out.props.insert(new.to_string(), v);
        }
    }
    Ok(out)
}

fn non_negative(p: &Props<'_>, key: &str, default: i64) -> Result<u64> {
    let v = p.int(key)?.unwrap_or(default);
    u64::try_from(v)
        .map_err(|_| Error::invalid(key, format!("\"{key}\" must not be negative (got {v})")))
}

impl MySqlConfig {
    /// Validates `config` (every problem, one line each) and builds the typed config.
    pub fn from_connector(config: &ConnectorConfig) -> Result<Self> {
        let spec = spec();
        let issues = spec.validate(config);
        if !issues.is_empty() {
            return Err(issues_error(&issues));
        }
        let config = &with_new_names(config)?;
        let p = Props::new(config, &spec);
        for format in ["output.data.format", "output.key.format"] {
            if let Some(f) = p
                .choice(format)
                .filter(|f| !f.eq_ignore_ascii_case("JSON") && !f.eq_ignore_ascii_case("STRING"))
            {
                return Err(Error::invalid(
                    format,
                    format!(
                        "\"{format}\": \"{f}\" is not supported: runnel writes JSON (Kafka Connect's \
                         JsonConverter); remove the key or set it to JSON"
                    ),
                ));
            }
        }
        if p.string("topic.prefix").is_none() {
            return Err(Error::invalid(
                "topic.prefix",
                "missing required key \"topic.prefix\" (the prefix of every topic name, e.g. the server's \
                 logical name)",
            ));
        }
        let class = p.require("connector.class")?;
        let connector = match class.as_str() {
            MYSQL_CLASS | "MySqlConnector" | "MySql" | "MySqlCdcSource" | "MySqlCdcSourceV2" => {
                "mysql"
            }
            MARIADB_CLASS | "MariaDbConnector" | "MariaDb" => "mariadb",
            _ => {
                return Err(Error::invalid(
                    "connector.class",
                    format!(
                        "connector.class \"{class}\" is not the MySQL ({MYSQL_CLASS}) or MariaDB \
                         ({MARIADB_CLASS}) connector"
                    ),
                ));
            }
        };
        let snapshot_mode = match p.choice("snapshot.mode").as_deref() {
            Some("no_data") | Some("schema_only") | Some("never") => SnapshotMode::NoData,
            Some("when_needed") => SnapshotMode::WhenNeeded,
            Some("initial_only") => SnapshotMode::InitialOnly,
            Some("always") => SnapshotMode::Always,
            Some("recovery") | Some("schema_only_recovery") => SnapshotMode::Recovery,
            _ => SnapshotMode::Initial,
        };
        let ssl = match p.choice("database.ssl.mode").as_deref() {
            Some("disabled") => SslMode::Disabled,
            Some("required") => SslMode::Required,
            Some("verify_ca") => SslMode::VerifyCa,
            Some("verify_identity") => SslMode::VerifyIdentity,
            _ => SslMode::Preferred,
        };
        if p.choice("time.precision.mode").as_deref() == Some("adaptive") {
            return Err(Error::invalid(
                "time.precision.mode",
                "time.precision.mode \"adaptive\" is not supported by the MySQL connector (as in \
                 Debezium); use adaptive_time_microseconds or connect",
            ));
        }
        let modes = TypeModes {
            decimal: match p.choice("decimal.handling.mode").as_deref() {
                Some("double") => DecimalMode::Double,
                Some("string") => DecimalMode::String,
                _ => DecimalMode::Precise,
            },
            time: match p.choice("time.precision.mode").as_deref() {
                Some("connect") => TimeMode::Connect,
                _ => TimeMode::AdaptiveTimeMicroseconds,
            },
            bigint_precise: p.choice("bigint.unsigned.handling.mode").as_deref() == Some("precise"),
            binary: match p.choice("binary.handling.mode").as_deref() {
                Some("base64") => BinaryMode::Base64,
                Some("base64-url-safe") => BinaryMode::Base64UrlSafe,
                Some("hex") => BinaryMode::Hex,
                _ => BinaryMode::Bytes,
            },
        };
        let skipped = Skipped::parse(&p)?;
        let message_key_columns = KeyColumns::parse(&p, "database.table")?;
        let port = p.int("database.port")?.unwrap_or(3306);
        let port = u16::try_from(port).ok().filter(|p| *p > 0).ok_or_else(|| {
            Error::invalid(
                "database.port",
                format!("\"database.port\" {port} is not a TCP port (1–65535)"),
            )
        })?;
        let server_id = p.int("database.server.id")?.unwrap_or(0);
        let server_id = u32::try_from(server_id).ok().filter(|id| *id > 0).ok_or_else(|| {
            Error::invalid(
                "database.server.id",
                format!(
                    "\"database.server.id\" {server_id} is not a replica server id: use a number \
                     from 1 to 4294967295 that no other replica of the server uses"
                ),
            )
        })?;
        let not_implemented = config
            .props
            .keys()
            .filter(|k| spec.find(k).is_some_and(|s| s.not_implemented))
            .cloned()
            .collect();
        Ok(Self {
            name: config.name.clone(),
            connector,
            host: p.require("database.hostname")?,
            port,
            user: p.require("database.user")?,
            password: p.string("database.password").unwrap_or_default(),
            server_id,
            time_zone: p.string("database.connectionTimeZone"),
            connect_timeout_ms: non_negative(&p, "connect.timeout.ms", 30_000)?.max(1),
            ssl,
            ssl_ca: p.string("database.ssl.truststore"),
            initial_statements: p
                .string("database.initial.statements")
                .map(|s| {
                    s.split(';')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
            topic_prefix: p.require("topic.prefix")?,
            topic_delimiter: p.string("topic.delimiter").unwrap_or_else(|| ".".into()),
            databases: Filter::new(&p, "database.include.list", "database.exclude.list")?,
            tables: Filter::new(&p, "table.include.list", "table.exclude.list")?,
            columns: Filter::new(&p, "column.include.list", "column.exclude.list")?,
            message_key_columns,
            gtid_sources: Filter::new(&p, "gtid.source.includes", "gtid.source.excludes")?,
            skip_creates: skipped.creates,
            skip_updates: skipped.updates,
            skip_deletes: skipped.deletes,
            skip_truncates: skipped.truncates,
            snapshot_mode,
            snapshot_lock: p.choice("snapshot.locking.mode").as_deref() != Some("none"),
            snapshot_max_threads: non_negative(&p, "snapshot.max.threads", 1)?.max(1) as usize,
            snapshot_part_rows: non_negative(&p, "snapshot.part.rows", 200_000)?.max(1),
            snapshot_include: Filter {
                include: regexes(&p, "snapshot.include.collection.list")?,
                exclude: Vec::new(),
            },
            modes,
            include_schema_changes: p.bool("include.schema.changes")?.unwrap_or(true),
            tombstones_on_delete: p.bool("tombstones.on.delete")?.unwrap_or(true),
            failure_mode: runnel_core::fits::FailureMode::parse(
                p.choice("event.processing.failure.handling.mode")
                    .as_deref(),
            ),
            heartbeat_interval_ms: non_negative(&p, "heartbeat.interval.ms", 0)?,
            // Debezium's topic naming strategies join the two with topic.delimiter.
            heartbeat_topic: format!(
                "{}{}{}",
                p.string("topic.heartbeat.prefix")
                    .unwrap_or_else(|| "__debezium-heartbeat".into()),
                p.string("topic.delimiter").unwrap_or_else(|| ".".into()),
                p.require("topic.prefix")?
            )
            .into(),
            max_batch_size: non_negative(&p, "max.batch.size", 2048)?.max(1) as usize,
            max_queue_size: non_negative(&p, "max.queue.size", 8192)?.max(1) as usize,
            poll_interval_ms: non_negative(&p, "poll.interval.ms", 500)?,
            skip_unparseable_ddl: p
                .bool("schema.history.internal.skip.unparseable.ddl")?
                .unwrap_or(false),
            only_captured_ddl: p
                .bool("schema.history.internal.store.only.captured.tables.ddl")?
                .unwrap_or(false),
            not_implemented,
        })
    }

    /// Debezium's table filter: the database lists on the database, the table lists on
    /// `database.table`.
    pub fn table_included(&self, db: &str, table: &str) -> bool {
        if !self.databases.accepts(db) {
            return false;
        }
        self.tables.is_empty() || self.tables.accepts(&format!("{db}.{table}"))
    }

    pub fn column_included(&self, db: &str, table: &str, column: &str) -> bool {
        self.columns.is_empty() || self.columns.accepts(&format!("{db}.{table}.{column}"))
    }

    pub fn snapshot_included(&self, db: &str, table: &str) -> bool {
        self.snapshot_include.accepts(&format!("{db}.{table}"))
    }

    /// `message.key.columns` for a table, if configured.
    pub fn key_columns_for(&self, db: &str, table: &str) -> Option<&[String]> {
        self.message_key_columns.for_table(&format!("{db}.{table}"))
    }

    /// `<topic.prefix>.<database>.<table>`, with every character Kafka does not allow in a
    /// topic name replaced by `_`, as Debezium's topic naming strategy does.
    pub fn topic_for(&self, db: &str, table: &str) -> String {
        let d = &self.topic_delimiter;
        topic_name(&format!("{}{d}{db}{d}{table}", self.topic_prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &[(&str, &str)]) -> Result<MySqlConfig> {
        let mut props = serde_json::Map::new();
        for (k, v) in [
            ("connector.class", MYSQL_CLASS),
            ("database.hostname", "127.0.0.1"),
            ("database.user", "dbz"),
            ("database.server.id", "184054"),
            ("topic.prefix", "rig"),
        ]
        .iter()
        .chain(extra)
        {
            props.insert(k.to_string(), serde_json::Value::String(v.to_string()));
        }
        let json = serde_json::json!({"name": "m", "config": props}).to_string();
        MySqlConfig::from_connector(&ConnectorConfig::from_json(&json)?)
    }

    #[test]
    fn debezium_keys_and_defaults() {
        let c = config(&[
            ("database.include.list", "rig"),
            ("table.exclude.list", "rig.rig_marker"),
        ])
        .unwrap();
        assert_eq!(c.port, 3306);
        assert_eq!(c.connector, "mysql");
        assert_eq!(c.snapshot_mode, SnapshotMode::Initial);
        assert!(c.table_included("rig", "customers"));
        assert!(!c.table_included("rig", "rig_marker"));
        assert!(!c.table_included("other", "customers"));
        assert_eq!(c.topic_for("rig", "customers"), "rig.rig.customers");
        assert!(c.skip_truncates && !c.skip_deletes);
    }

    #[test]
    fn debezium_1_names_and_confluent_clouds_class_work() {
        let c = config(&[
            ("connector.class", "MySqlCdcSource"),
            ("database.whitelist", "employee"),
            ("table.whitelist", "employee.departments"),
            ("output.data.format", "JSON"),
        ])
        .unwrap();
        assert!(c.table_included("employee", "departments"));
        assert!(!c.table_included("employee", "salaries"));
        let e = config(&[("output.data.format", "AVRO")]).unwrap_err();
        assert!(e.to_string().contains("output.data.format"), "{e}");
        let e = config(&[("table.whitelist", "a.b"), ("table.include.list", "a.c")]).unwrap_err();
        assert!(e.to_string().contains("table.include.list"), "{e}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let e = config(&[("database.server.id", "0")]).unwrap_err();
        assert!(e.to_string().contains("database.server.id"), "{e}");
        let e = config(&[("snapshot.mode", "sometimes")]).unwrap_err();
        assert!(e.to_string().contains("snapshot.mode"), "{e}");
        let e = config(&[("databse.include.list", "rig")]).unwrap_err();
        assert!(e.to_string().contains("database.include.list"), "{e}");
    }
}
