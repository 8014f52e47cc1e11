//! The PostgreSQL source connector's configuration: Debezium's property names and defaults
//! (`io.debezium.connector.postgresql.PostgresConnector`), parsed into a typed struct.

use regex::Regex;
use runnel_core::config::tables::{KeyColumns, Skipped, regexes, topic_name};
use runnel_core::config::{
    CONNECT_SOURCE_GROUPS, CONNECT_SOURCE_PREFIXES, ConfigGroup, ConfigKey, ConfigSpec,
    ConnectorConfig, Props, ValueType as T, issues_error,
};
use runnel_core::{BinaryMode, Error, Result};

use super::types::{DecimalMode, IntervalMode, TimePrecisionMode, TypeModes};

pub const CONNECTOR_CLASS: &str = "io.debezium.connector.postgresql.PostgresConnector";

const SNAPSHOT_MODES: &[&str] = &[
    "initial",
    "no_data",
    "never",
    "initial_only",
    "always",
    "when_needed",
    "configuration_based",
    "custom",
];

const CONNECTION_KEYS: &[ConfigKey] = &[
    ConfigKey::new("database.hostname", T::String, "PostgreSQL server host.").required(),
    ConfigKey::new("database.port", T::Int, "PostgreSQL server port.").default("5432"),
    ConfigKey::new(
        "database.user",
        T::String,
        "User to connect as (needs REPLICATION).",
    )
    .required(),
    ConfigKey::new(
        "database.password",
        T::Password,
        "Password of database.user.",
    ),
    ConfigKey::new("database.dbname", T::String, "Database to capture.").required(),
];

const CONNECTION_ADVANCED_SSL_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "database.sslmode",
        T::Enum(&[
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ]),
        "TLS mode, as libpq's sslmode.",
    )
    .default("prefer"),
    ConfigKey::new(
        "database.sslrootcert",
        T::String,
        "CA certificate file for verify-ca/verify-full.",
    ),
    ConfigKey::new("database.sslcert", T::String, "Client certificate file.").not_implemented(),
    ConfigKey::new("database.sslkey", T::String, "Client key file.").not_implemented(),
    ConfigKey::new("database.sslpassword", T::Password, "Client key password.").not_implemented(),
    ConfigKey::new(
        "database.sslfactory",
        T::String,
        "JDBC SSL factory (ignored: runnel uses rustls).",
    )
    .not_implemented(),
];

const CONNECTION_ADVANCED_KEYS: &[ConfigKey] = &[
    ConfigKey::new("database.tcpKeepAlive", T::Boolean, "TCP keepalive.").default("true"),
    ConfigKey::new(
        "database.initial.statements",
        T::String,
        "Statements run on each new JDBC connection.",
    )
    .not_implemented(),
    ConfigKey::new(
        "database.server.name",
        T::String,
        "Deprecated (Debezium 1.x); use topic.prefix.",
    )
    .not_implemented(),
    ConfigKey::new(
        "database.history.kafka.bootstrap.servers",
        T::String,
        "Not used by the PostgreSQL connector.",
    )
    .not_implemented(),
    ConfigKey::new(
        "database.history.kafka.topic",
        T::String,
        "Not used by the PostgreSQL connector.",
    )
    .not_implemented(),
];

const CONNECTOR_KEYS_NAMING: &[ConfigKey] = &[
    ConfigKey::new(
        "topic.prefix",
        T::String,
        "Prefix of every topic name; also source.name.",
    )
    .required(),
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
        "topic.transaction",
        T::String,
        "Suffix of the transaction topic.",
    )
    .default("transaction"),
    ConfigKey::new(
        "topic.naming.strategy",
        T::String,
        "Topic naming strategy class.",
    )
    .default("io.debezium.schema.SchemaTopicNamingStrategy"),
    ConfigKey::new("topic.cache.size", T::Int, "Topic name cache size.").default("10000"),
];

const CONNECTION_ADVANCED_REPLICATION_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "plugin.name",
        T::Enum(&["pgoutput", "decoderbufs"]),
        "Logical decoding plugin.",
    )
    .default("pgoutput"),
    ConfigKey::new("slot.name", T::String, "Replication slot name.").default("debezium"),
    ConfigKey::new(
        "slot.drop.on.stop",
        T::Boolean,
        "Drop the slot when the connector stops.",
    )
    .default("false"),
    ConfigKey::new(
        "slot.max.retained.wal.bytes",
        T::Long,
        "runnel only: WAL the slot may hold on the server before the worker raises a warning \
         (status, log, metric) and applies slot.retained.wal.policy; 0 turns the check off.",
    )
    .default("10737418240"),
    ConfigKey::new(
        "slot.retained.wal.policy",
        T::Enum(&["warn", "drop"]),
        "runnel only: what the worker does when the slot holds more than \
         slot.max.retained.wal.bytes: warn, or drop the slot (stopping the connector) so the \
         database's disk cannot fill; the connector then needs a new snapshot.",
    )
    .default("warn"),
    ConfigKey::new(
        "slot.stream.params",
        T::String,
        "Extra pgoutput parameters.",
    )
    .not_implemented(),
    ConfigKey::new(
        "slot.max.retries",
        T::Int,
        "Retries when the slot is in use.",
    )
    .default("6"),
    ConfigKey::new(
        "slot.retry.delay.ms",
        T::Long,
        "Delay between slot retries.",
    )
    .default("10000"),
    ConfigKey::new(
        "slot.failover",
        T::Boolean,
        "Create a failover slot (PostgreSQL 17+).",
    )
    .default("false"),
    ConfigKey::new(
        "slot.seek.to.known.offset.on.start",
        T::Boolean,
        "Seek the slot to the stored offset.",
    )
    .not_implemented(),
    ConfigKey::new("publication.name", T::String, "Publication name.").default("dbz_publication"),
    ConfigKey::new(
        "publication.autocreate.mode",
        T::Enum(&["all_tables", "disabled", "filtered", "no_tables"]),
        "How the publication is created.",
    )
    .default("all_tables"),
    ConfigKey::new(
        "publish.via.partition.root",
        T::Boolean,
        "Publish partitions as their root table.",
    )
    .default("false"),
    ConfigKey::new(
        "replica.identity.autoset.values",
        T::String,
        "REPLICA IDENTITY to set per table.",
    )
    .not_implemented(),
];

const FILTERS_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "schema.include.list",
        T::List,
        "Regexes of schemas to capture.",
    ),
    ConfigKey::new(
        "schema.exclude.list",
        T::List,
        "Regexes of schemas not to capture.",
    ),
    ConfigKey::new(
        "table.include.list",
        T::List,
        "Regexes of schema.table to capture.",
    ),
    ConfigKey::new(
        "table.exclude.list",
        T::List,
        "Regexes of schema.table not to capture.",
    ),
    ConfigKey::new("table.ignore.builtin", T::Boolean, "Ignore system tables.").default("true"),
    ConfigKey::new(
        "column.include.list",
        T::List,
        "Regexes of schema.table.column to include.",
    ),
    ConfigKey::new(
        "column.exclude.list",
        T::List,
        "Regexes of schema.table.column to exclude.",
    ),
    ConfigKey::new(
        "message.key.columns",
        T::String,
        "schema.table:col1,col2;… key columns for tables.",
    ),
];

const CONNECTOR_SNAPSHOT_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "snapshot.mode",
        T::Enum(SNAPSHOT_MODES),
        "When to snapshot.",
    )
    .default("initial"),
    ConfigKey::new(
        "snapshot.max.threads",
        T::Int,
        "Connections reading tables in parallel during the snapshot.",
    )
    .default("1"),
    ConfigKey::new(
        "snapshot.part.blocks",
        T::Int,
        "runnel only: with snapshot.max.threads > 1, tables larger than this many heap blocks are \
         read in parts of this size by several connections.",
    )
    .default("4096"),
    ConfigKey::new(
        "snapshot.fetch.size",
        T::Int,
        "Rows fetched per round trip during the snapshot.",
    )
    .default("10240"),
    ConfigKey::new(
        "snapshot.include.collection.list",
        T::List,
        "Tables to snapshot (subset of the captured ones).",
    ),
    ConfigKey::new(
        "snapshot.isolation.mode",
        T::Enum(&[
            "serializable",
            "repeatable_read",
            "read_committed",
            "read_uncommitted",
        ]),
        "Isolation of the snapshot transaction.",
    )
    .default("repeatable_read"),
    ConfigKey::new(
        "snapshot.locking.mode",
        T::Enum(&["shared", "none", "custom"]),
        "Table locks during the snapshot.",
    )
    .default("none"),
    ConfigKey::new(
        "snapshot.lock.timeout.ms",
        T::Long,
        "Lock timeout during the snapshot.",
    )
    .default("10000"),
    ConfigKey::new(
        "snapshot.delay.ms",
        T::Long,
        "Delay before the snapshot starts.",
    )
    .default("0"),
    ConfigKey::new(
        "snapshot.select.statement.overrides",
        T::String,
        "Custom snapshot SELECTs.",
    )
    .not_implemented(),
    ConfigKey::new(
        "snapshot.tables.order.by.row.count",
        T::Enum(&["disabled", "ascending", "descending"]),
        "Snapshot table order.",
    )
    .default("disabled"),
    ConfigKey::new(
        "snapshot.query.mode",
        T::Enum(&["select_all", "custom"]),
        "Snapshot query mode.",
    )
    .default("select_all"),
];

const ADVANCED_HEARTBEAT_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "heartbeat.interval.ms",
        T::Int,
        "Heartbeat interval; 0 disables heartbeat records.",
    )
    .default("0"),
    ConfigKey::new(
        "heartbeat.action.query",
        T::String,
        "Query run on each heartbeat.",
    )
    .not_implemented(),
];

const CONNECTOR_KEYS_EVENTS: &[ConfigKey] = &[
    ConfigKey::new(
        "tombstones.on.delete",
        T::Boolean,
        "Emit a tombstone after each delete.",
    )
    .default("true"),
    ConfigKey::new(
        "decimal.handling.mode",
        T::Enum(&["precise", "string", "double"]),
        "How DECIMAL/NUMERIC values are encoded.",
    )
    .default("precise"),
    ConfigKey::new(
        "time.precision.mode",
        T::Enum(&[
            "adaptive",
            "adaptive_time_microseconds",
            "connect",
            "isostring",
            "microseconds",
            "nanoseconds",
        ]),
        "How temporal values are encoded.",
    )
    .default("adaptive"),
    ConfigKey::new(
        "binary.handling.mode",
        T::Enum(&["bytes", "base64", "base64-url-safe", "hex"]),
        "How binary values are encoded.",
    )
    .default("bytes"),
    ConfigKey::new(
        "interval.handling.mode",
        T::Enum(&["numeric", "string"]),
        "How intervals are encoded.",
    )
    .default("numeric"),
    ConfigKey::new(
        "hstore.handling.mode",
        T::Enum(&["json", "map"]),
        "How hstore values are encoded.",
    )
    .default("json"),
    ConfigKey::new("money.fraction.digits", T::Int, "Scale of MONEY values.").default("2"),
    ConfigKey::new(
        "unavailable.value.placeholder",
        T::String,
        "Placeholder for unchanged TOASTed values.",
    )
    .default("__debezium_unavailable_value"),
    ConfigKey::new(
        "include.unknown.datatypes",
        T::Boolean,
        "Columns of types Debezium does not know (box, circle, tsvector, …): runnel always \
         sends them, as their text by default; true sends the text's bytes, as Debezium does.",
    )
    .default("false"),
    ConfigKey::new(
        "skipped.operations",
        T::List,
        "Operations not to emit: c, u, d, t, none.",
    )
    .default("t"),
    ConfigKey::new(
        "provide.transaction.metadata",
        T::Boolean,
        "Emit transaction metadata.",
    )
    .not_implemented()
    .default("false"),
    ConfigKey::new(
        "include.schema.changes",
        T::Boolean,
        "Not used by the PostgreSQL connector.",
    )
    .default("true"),
];

const CONNECTOR_ADVANCED_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "status.update.interval.ms",
        T::Int,
        "Standby status update interval.",
    )
    .default("10000"),
    ConfigKey::new("max.batch.size", T::Int, "Maximum events per batch.").default("2048"),
    ConfigKey::new(
        "max.queue.size",
        T::Int,
        "Maximum batches queued between source and sink (runnel counts events).",
    )
    .default("8192"),
    ConfigKey::new("max.queue.size.in.bytes", T::Long, "Queue limit in bytes.").default("0"),
    ConfigKey::new(
        "poll.interval.ms",
        T::Long,
        "Longest wait before a partial batch is handed on.",
    )
    .default("500"),
    ConfigKey::new(
        "schema.refresh.mode",
        T::Enum(&["columns_diff", "columns_diff_exclude_unchanged_toast"]),
        "When the table schema is refreshed.",
    )
    .default("columns_diff"),
    ConfigKey::new(
        "schema.name.adjustment.mode",
        T::Enum(&["none", "avro", "avro_unicode"]),
        "Schema name adjustment.",
    )
    .default("none"),
    ConfigKey::new(
        "field.name.adjustment.mode",
        T::Enum(&["none", "avro", "avro_unicode"]),
        "Field name adjustment.",
    )
    .default("none"),
    ConfigKey::new(
        "event.processing.failure.handling.mode",
        T::Enum(&["fail", "warn", "skip", "ignore"]),
        "An event with a value its schema cannot hold (or runnel cannot parse): fail stops \
         the connector with the error; warn and skip leave that one event out, logged with \
         its table, key and position and counted in runnel_connector_skipped_events.",
    )
    .default("fail"),
    ConfigKey::new("converters", T::List, "Custom converters.").not_implemented(),
    ConfigKey::new("signal.data.collection", T::String, "Signalling table.").not_implemented(),
    ConfigKey::new("signal.enabled.channels", T::List, "Signal channels.").not_implemented(),
    ConfigKey::new(
        "incremental.snapshot.chunk.size",
        T::Int,
        "Incremental snapshot chunk size.",
    )
    .not_implemented(),
    ConfigKey::new(
        "column.propagate.source.type",
        T::List,
        "Add source type parameters to columns.",
    )
    .not_implemented(),
    ConfigKey::new(
        "datatype.propagate.source.type",
        T::List,
        "Add source type parameters to types.",
    )
    .not_implemented(),
    ConfigKey::new(
        "message.prefix.include.list",
        T::List,
        "Logical decoding message prefixes to include.",
    ),
    ConfigKey::new(
        "message.prefix.exclude.list",
        T::List,
        "Logical decoding message prefixes to exclude.",
    ),
    ConfigKey::new("xmin.fetch.interval.ms", T::Long, "xmin fetch interval.").default("0"),
    ConfigKey::new(
        "lsn.flush.mode",
        T::Enum(&["manual", "connector", "connector_and_driver"]),
        "Who flushes the LSN.",
    )
    .default("connector"),
    ConfigKey::new(
        "errors.max.retries",
        T::Int,
        "Retries of retriable errors (-1 unlimited).",
    )
    .default("-1"),
    ConfigKey::new(
        "retriable.restart.connector.wait.ms",
        T::Long,
        "Wait before restarting after a retriable error.",
    )
    .default("10000"),
    ConfigKey::new("custom.metric.tags", T::String, "Extra metric tags.").not_implemented(),
];

/// Every key the PostgreSQL connector accepts, in Debezium's groups.
pub const POSTGRES_GROUPS: &[ConfigGroup] = &[
    ConfigGroup {
        name: "CONNECTION",
        keys: CONNECTION_KEYS,
    },
    ConfigGroup {
        name: "CONNECTION_ADVANCED_SSL",
        keys: CONNECTION_ADVANCED_SSL_KEYS,
    },
    ConfigGroup {
        name: "CONNECTION_ADVANCED",
        keys: CONNECTION_ADVANCED_KEYS,
    },
    ConfigGroup {
        name: "CONNECTOR",
        keys: CONNECTOR_KEYS_NAMING,
    },
    ConfigGroup {
        name: "CONNECTION_ADVANCED_REPLICATION",
        keys: CONNECTION_ADVANCED_REPLICATION_KEYS,
    },
    ConfigGroup {
        name: "FILTERS",
        keys: FILTERS_KEYS,
    },
    ConfigGroup {
        name: "CONNECTOR_SNAPSHOT",
        keys: CONNECTOR_SNAPSHOT_KEYS,
    },
    ConfigGroup {
        name: "ADVANCED_HEARTBEAT",
        keys: ADVANCED_HEARTBEAT_KEYS,
    },
    ConfigGroup {
        name: "CONNECTOR",
        keys: CONNECTOR_KEYS_EVENTS,
    },
    ConfigGroup {
        name: "CONNECTOR_ADVANCED",
        keys: CONNECTOR_ADVANCED_KEYS,
    },
];

pub const POSTGRES_PREFIXES: &[&str] = &[
    "slot.stream.params.",
    "snapshot.select.statement.overrides.",
    "column.mask.",
    "column.truncate.",
    "driver.",
    "snapshot.mode.configuration.based.",
];

/// The accepted keys of the PostgreSQL connector.
pub fn spec() -> ConfigSpec {
    ConfigSpec {
        groups: &[CONNECT_SOURCE_GROUPS, POSTGRES_GROUPS],
        prefixes: &[POSTGRES_PREFIXES, CONNECT_SOURCE_PREFIXES],
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMode {
    Initial,
    NoData,
    InitialOnly,
    Always,
    WhenNeeded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicationAutocreate {
    AllTables,
    Filtered,
    Disabled,
    NoTables,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// A validated PostgreSQL source configuration.
#[derive(Debug, Clone)]
pub struct PostgresConfig {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub dbname: String,
    pub sslmode: SslMode,
    pub sslrootcert: Option<String>,
    pub topic_prefix: String,
    pub topic_delimiter: String,
    pub heartbeat_topic_prefix: String,
    pub slot_name: String,
    pub slot_drop_on_stop: bool,
    /// 0: no limit.
    pub slot_max_retained_wal_bytes: u64,
    pub slot_drop_on_wal_limit: bool,
    pub publication_name: String,
    pub publication_autocreate: PublicationAutocreate,
    pub schema_include: Vec<Regex>,
    pub schema_exclude: Vec<Regex>,
    pub table_include: Vec<Regex>,
    pub table_exclude: Vec<Regex>,
    pub column_include: Vec<Regex>,
    pub column_exclude: Vec<Regex>,
    pub message_key_columns: KeyColumns,
    pub snapshot_mode: SnapshotMode,
    pub snapshot_max_threads: usize,
    pub snapshot_part_blocks: i64,
    pub snapshot_include: Vec<Regex>,
    pub heartbeat_interval_ms: u64,
    pub tombstones_on_delete: bool,
    /// `event.processing.failure.handling.mode`.
    pub failure_mode: runnel_core::fits::FailureMode,
    pub modes: TypeModes,
    pub placeholder: String,
    pub skip_creates: bool,
    pub skip_updates: bool,
    pub skip_deletes: bool,
    pub skip_truncates: bool,
    pub status_interval_ms: u64,
    pub max_batch_size: usize,
    pub max_queue_size: usize,
    pub poll_interval_ms: u64,
    pub message_prefix_include: Vec<Regex>,
    pub message_prefix_exclude: Vec<Regex>,
    /// Keys accepted but not acted on, for a warning at start.
    pub not_implemented: Vec<String>,
}

impl PostgresConfig {
    /// The `application_name` of the connector's sessions (the replication one included): how
    /// `pg_stat_activity` and the checks tell its sessions from others'.
    pub fn application_name(&self) -> String {
        format!("runnel-{}", self.name)
    }

    /// Validates `config` (every problem, one line each) and builds the typed config.
    pub fn from_connector(config: &ConnectorConfig) -> Result<Self> {
        let spec = spec();
        let issues = spec.validate(config);
        if !issues.is_empty() {
            return Err(issues_error(&issues));
        }
        let p = Props::new(config, &spec);
        let class = p.require("connector.class")?;
        if class != CONNECTOR_CLASS && class != "PostgresConnector" {
            return Err(Error::invalid(
                "connector.class",
                format!(
                    "connector.class \"{class}\" is not the PostgreSQL connector ({CONNECTOR_CLASS})"
                ),
            ));
        }
        if p.choice("plugin.name").as_deref() != Some("pgoutput") {
            return Err(Error::invalid(
                "plugin.name",
                "plugin.name \"decoderbufs\" is not supported: runnel reads pgoutput, which every \
                 PostgreSQL 10+ has built in; set \"plugin.name\": \"pgoutput\"",
            ));
        }
        let snapshot_mode = match p.choice("snapshot.mode").as_deref() {
            Some("initial") => SnapshotMode::Initial,
            Some("no_data") | Some("never") => SnapshotMode::NoData,
            Some("initial_only") => SnapshotMode::InitialOnly,
            Some("always") => SnapshotMode::Always,
            Some("when_needed") => SnapshotMode::WhenNeeded,
            Some(other) => {
                return Err(Error::invalid(
                    "snapshot.mode",
                    format!(
                        "snapshot.mode \"{other}\" is not supported by runnel yet; use initial, no_data, \
                     initial_only, always or when_needed"
                    ),
                ));
            }
            None => SnapshotMode::Initial,
        };
        let publication_autocreate = match p.choice("publication.autocreate.mode").as_deref() {
            Some("filtered") => PublicationAutocreate::Filtered,
            Some("disabled") => PublicationAutocreate::Disabled,
            Some("no_tables") => PublicationAutocreate::NoTables,
            _ => PublicationAutocreate::AllTables,
        };
        let sslmode = match p.choice("database.sslmode").as_deref() {
            Some("disable") => SslMode::Disable,
            Some("require") => SslMode::Require,
            Some("verify-ca") => SslMode::VerifyCa,
            Some("verify-full") => SslMode::VerifyFull,
            _ => SslMode::Prefer,
        };
        let decimal = match p.choice("decimal.handling.mode").as_deref() {
            Some("string") => DecimalMode::String,
            Some("double") => DecimalMode::Double,
            _ => DecimalMode::Precise,
        };
        let time = match p.choice("time.precision.mode").as_deref() {
            Some("connect") => TimePrecisionMode::Connect,
            Some("adaptive_time_microseconds") => TimePrecisionMode::AdaptiveTimeMicroseconds,
            Some("adaptive") | None => TimePrecisionMode::Adaptive,
            Some(other) => {
                return Err(Error::invalid(
                    "time.precision.mode",
                    format!(
                        "time.precision.mode \"{other}\" is not supported by runnel yet; use adaptive, \
                     adaptive_time_microseconds or connect"
                    ),
                ));
            }
        };
        let binary = match p.choice("binary.handling.mode").as_deref() {
            Some("base64") => BinaryMode::Base64,
            Some("base64-url-safe") => BinaryMode::Base64UrlSafe,
            Some("hex") => BinaryMode::Hex,
            _ => BinaryMode::Bytes,
        };
        let interval = match p.choice("interval.handling.mode").as_deref() {
            Some("string") => IntervalMode::String,
            _ => IntervalMode::Numeric,
        };
        let skipped = Skipped::parse(&p)?;
        let message_key_columns = KeyColumns::parse(&p, "schema.table")?;
        let positive = |key: &str, v: i64| -> Result<i64> {
            if v < 0 {
                Err(Error::invalid(
                    key,
                    format!("\"{key}\" must not be negative (got {v})"),
                ))
            } else {
                Ok(v)
            }
        };
        let port = p.int("database.port")?.unwrap_or(5432);
        let port = u16::try_from(port).map_err(|_| {
            Error::invalid(
                "database.port",
                format!("\"database.port\" {port} is not a TCP port (1–65535)"),
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
            host: p.require("database.hostname")?,
            port,
            user: p.require("database.user")?,
            password: p.string("database.password").unwrap_or_default(),
            dbname: p.require("database.dbname")?,
            sslmode,
            sslrootcert: p.string("database.sslrootcert"),
            topic_prefix: p.require("topic.prefix")?,
            topic_delimiter: p.string("topic.delimiter").unwrap_or_else(|| ".".into()),
            heartbeat_topic_prefix: p
                .string("topic.heartbeat.prefix")
                .unwrap_or_else(|| "__debezium-heartbeat".into()),
            slot_name: p.require("slot.name")?,
            slot_drop_on_stop: p.bool("slot.drop.on.stop")?.unwrap_or(false),
            slot_max_retained_wal_bytes: positive(
                "slot.max.retained.wal.bytes",
                p.int("slot.max.retained.wal.bytes")?
                    .unwrap_or(10 * 1024 * 1024 * 1024),
            )? as u64,
            slot_drop_on_wal_limit: p.choice("slot.retained.wal.policy").as_deref() == Some("drop"),
            publication_name: p.require("publication.name")?,
            publication_autocreate,
            schema_include: regexes(&p, "schema.include.list")?,
            schema_exclude: regexes(&p, "schema.exclude.list")?,
            table_include: regexes(&p, "table.include.list")?,
            table_exclude: regexes(&p, "table.exclude.list")?,
            column_include: regexes(&p, "column.include.list")?,
            column_exclude: regexes(&p, "column.exclude.list")?,
            message_key_columns,
            snapshot_mode,
            snapshot_max_threads: positive(
                "snapshot.max.threads",
                p.int("snapshot.max.threads")?.unwrap_or(1),
            )?
            .max(1) as usize,
            snapshot_part_blocks: positive(
                "snapshot.part.blocks",
                p.int("snapshot.part.blocks")?.unwrap_or(4096),
            )?
            .max(1),
            snapshot_include: regexes(&p, "snapshot.include.collection.list")?,
            heartbeat_interval_ms: positive(
                "heartbeat.interval.ms",
                p.int("heartbeat.interval.ms")?.unwrap_or(0),
            )? as u64,
            tombstones_on_delete: p.bool("tombstones.on.delete")?.unwrap_or(true),
            failure_mode: runnel_core::fits::FailureMode::parse(
                p.choice("event.processing.failure.handling.mode")
                    .as_deref(),
            ),
            modes: TypeModes {
                decimal,
                time,
                binary,
                interval,
                money_fraction_digits: positive(
                    "money.fraction.digits",
                    p.int("money.fraction.digits")?.unwrap_or(2),
                )? as u32,
                unknown_as_bytes: p.bool("include.unknown.datatypes")?.unwrap_or(false),
            },
            placeholder: p
                .string("unavailable.value.placeholder")
                .unwrap_or_else(|| "__debezium_unavailable_value".into()),
            skip_creates: skipped.creates,
            skip_updates: skipped.updates,
            skip_deletes: skipped.deletes,
            skip_truncates: skipped.truncates,
            status_interval_ms: positive(
                "status.update.interval.ms",
                p.int("status.update.interval.ms")?.unwrap_or(10_000),
            )?
            .max(100) as u64,
            max_batch_size: positive("max.batch.size", p.int("max.batch.size")?.unwrap_or(2048))?
                .max(1) as usize,
            max_queue_size: positive("max.queue.size", p.int("max.queue.size")?.unwrap_or(8192))?
                .max(1) as usize,
            poll_interval_ms: positive(
                "poll.interval.ms",
                p.int("poll.interval.ms")?.unwrap_or(500),
            )? as u64,
            message_prefix_include: regexes(&p, "message.prefix.include.list")?,
            message_prefix_exclude: regexes(&p, "message.prefix.exclude.list")?,
            not_implemented,
        })
    }

    /// Debezium's table filter: schema lists, then table lists, on `schema.table`.
    pub fn table_included(&self, schema: &str, table: &str) -> bool {
        if !self.schema_include.is_empty()
            && !self.schema_include.iter().any(|r| r.is_match(schema))
        {
            return false;
        }
        if self.schema_exclude.iter().any(|r| r.is_match(schema)) {
            return false;
        }
        let fq = format!("{schema}.{table}");
        if !self.table_include.is_empty() && !self.table_include.iter().any(|r| r.is_match(&fq)) {
            return false;
        }
        !self.table_exclude.iter().any(|r| r.is_match(&fq))
    }

    pub fn column_included(&self, schema: &str, table: &str, column: &str) -> bool {
        if self.column_include.is_empty() && self.column_exclude.is_empty() {
            return true;
        }
        let fq = format!("{schema}.{table}.{column}");
        if !self.column_include.is_empty() && !self.column_include.iter().any(|r| r.is_match(&fq)) {
            return false;
        }
        !self.column_exclude.iter().any(|r| r.is_match(&fq))
    }

    pub fn snapshot_included(&self, schema: &str, table: &str) -> bool {
        self.snapshot_include.is_empty()
            || self
                .snapshot_include
                .iter()
                .any(|r| r.is_match(&format!("{schema}.{table}")))
    }

    /// `message.key.columns` for a table, if configured.
    pub fn key_columns_for(&self, schema: &str, table: &str) -> Option<&[String]> {
        self.message_key_columns
            .for_table(&format!("{schema}.{table}"))
    }

    /// `<topic.prefix>.<schema>.<table>`, with every character Kafka does not allow in a topic
    /// name replaced by `_`, as Debezium's topic naming strategy does (schema names follow).
    pub fn topic_for(&self, schema: &str, table: &str) -> String {
        let d = &self.topic_delimiter;
        topic_name(&format!("{}{d}{schema}{d}{table}", self.topic_prefix))
    }

    pub fn message_included(&self, prefix: &str) -> bool {
        if !self.message_prefix_include.is_empty()
            && !self
                .message_prefix_include
                .iter()
                .any(|r| r.is_match(prefix))
        {
            return false;
        }
        !self
            .message_prefix_exclude
            .iter()
            .any(|r| r.is_match(prefix))
    }
}
