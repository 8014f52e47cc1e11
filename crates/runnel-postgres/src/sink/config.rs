//! The PostgreSQL sink's configuration, under the names users already have: Debezium's JDBC sink
//! (`io.debezium.connector.jdbc.JdbcSinkConnector`) and Confluent's
//! (`io.confluent.connect.jdbc.JdbcSinkConnector`), either one's keys accepted whatever the
//! class (Confluent's are aliases of Debezium's); the class decides the defaults where the two
//! differ. As the direct sink of a source connector (`sink.type=postgres`, keys under
//! `sink.postgres.*`) the defaults keep a replica: upserts, deletes and truncates applied, tables
//! created and evolved, names kept as the source has them, the position stored with the data.

use std::collections::BTreeMap;

use regex::Regex;
use runnel_core::Error;
use runnel_core::config::{ConfigGroup, ConfigIssue, ConfigKey, ValueType, parse_bool, split_list};
use runnel_core::plugin::SinkConfig;

pub const DEBEZIUM_CLASS: &str = "io.debezium.connector.jdbc.JdbcSinkConnector";
pub const CONFLUENT_CLASS: &str = "io.confluent.connect.jdbc.JdbcSinkConnector";

/// Where the sink's records come from, which decides defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Debezium's JDBC sink connector, reading Kafka.
    Debezium,
    /// Confluent's JDBC sink connector, reading Kafka.
    Confluent,
    /// The direct sink of a source connector in the same process.
    Direct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertMode {
    Insert,
    Upsert,
    Update,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkMode {
    None,
    Kafka,
    RecordKey,
    RecordValue,
}

/// A `jdbc:postgresql://host:port/db?…` URL, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JdbcUrl {
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub params: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct PgSinkConfig {
    pub dialect: Dialect,
    /// The connector's name (the key of its row in the offsets table).
    pub connector: String,
    pub url: JdbcUrl,
    pub user: String,
    pub password: String,
    pub insert_mode: InsertMode,
    pub delete_enabled: bool,
    pub truncate_enabled: bool,
    pub pk_mode: PkMode,
    pub pk_fields: Vec<String>,
    /// Create missing tables and add missing columns (`schema.evolution=basic`,
    /// `auto.create`/`auto.evolve`).
    pub create_tables: bool,
    pub add_columns: bool,
    /// Drop target columns the source no longer has (runnel only).
    pub drop_columns: bool,
    /// `collection.name.format` / `table.name.format`.
    pub table_format: String,
    /// Debezium's `${topic}` has its dots replaced by underscores; Confluent's is the topic.
    pub topic_dots_to_underscores: bool,
    /// `quote.identifiers`: names exactly as they come; otherwise folded to lower case as an
    /// unquoted SQL identifier is.
    pub quote_identifiers: bool,
    pub batch_size: usize,
    pub time_zone: String,
    pub field_include: Vec<Regex>,
    pub field_exclude: Vec<Regex>,
    /// The table holding each connector's offset (direct sinks), `schema.table` or `table`.
    pub offsets_table: String,
    /// What an unchanged TOAST value reads as in records from Kafka.
    pub unavailable_placeholder: String,
}

const CONNECTION_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "connection.url",
        ValueType::String,
        "JDBC URL of the target database: jdbc:postgresql://host:port/database (user, password \
         and sslmode may be given as URL parameters).",
    )
    .required(),
    ConfigKey::new(
        "connection.username",
        ValueType::String,
        "User the sink connects as (Confluent: connection.user).",
    ),
    ConfigKey::new(
        "connection.password",
        ValueType::Password,
        "Password of the user.",
    ),
    ConfigKey::new(
        "connection.provider",
        ValueType::String,
        "Debezium: the JDBC connection pool class. runnel keeps one connection per task.",
    ),
    ConfigKey::new(
        "connection.pool.min_size",
        ValueType::Int,
        "Debezium: connection pool size (accepted; runnel keeps one connection per task).",
    ),
    ConfigKey::new(
        "connection.pool.max_size",
        ValueType::Int,
        "Debezium: connection pool size (accepted; runnel keeps one connection per task).",
    ),
    ConfigKey::new(
        "connection.pool.acquire_increment",
        ValueType::Int,
        "Debezium: connection pool setting (accepted, not used).",
    ),
    ConfigKey::new(
        "connection.pool.timeout",
        ValueType::Long,
        "Debezium: connection pool setting (accepted, not used).",
    ),
    ConfigKey::new(
        "connection.restart.on.errors",
        ValueType::Boolean,
        "Debezium: reconnect after a connection error (runnel always restarts the task).",
    ),
];

const WRITE_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "insert.mode",
        ValueType::Enum(&["insert", "upsert", "update"]),
        "insert: INSERT; upsert: INSERT … ON CONFLICT DO UPDATE by the primary key; update: \
         UPDATE by the primary key. Default insert (upsert as the direct sink of a source).",
    ),
    ConfigKey::new(
        "delete.enabled",
        ValueType::Boolean,
        "Apply deletes and tombstones as DELETE by the primary key (needs primary.key.mode \
         record_key). Default false (true as the direct sink of a source).",
    ),
    ConfigKey::new(
        "truncate.enabled",
        ValueType::Boolean,
        "Apply truncate events as TRUNCATE. Default false (true as the direct sink of a source).",
    ),
    ConfigKey::new(
        "primary.key.mode",
        ValueType::Enum(&["none", "kafka", "record_key", "record_value"]),
        "Where the primary key comes from. Default none (record_key as the direct sink of a \
         source).",
    ),
    ConfigKey::new(
        "primary.key.fields",
        ValueType::List,
        "The primary key's fields (a subset of the key's, the value's, or the column name of a \
         primitive key).",
    ),
    ConfigKey::new(
        "batch.size",
        ValueType::Int,
        "Rows per statement at most (Debezium: 500, Confluent: 3000).",
    ),
    ConfigKey::new(
        "use.reduction.buffer",
        ValueType::Boolean,
        "Debezium: reduce changes of one row to the last (runnel always does within a batch).",
    ),
    ConfigKey::new(
        "flush.max.retries",
        ValueType::Int,
        "Debezium: retries of a failed flush (runnel retries the task with backoff).",
    ),
    ConfigKey::new(
        "flush.retry.delay.ms",
        ValueType::Long,
        "Debezium: delay between flush retries (runnel retries the task with backoff).",
    ),
];

const MAPPING_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "collection.name.format",
        ValueType::String,
        "The target table of a record: ${topic} (Debezium: dots as underscores), \
         ${source.db}, ${source.schema}, ${source.table}; \"schema.table\" names a schema. \
         Default ${topic} (${source.schema}.${source.table} as the direct sink of a source).",
    ),
    ConfigKey::new(
        "table.name.format",
        ValueType::String,
        "The older name of collection.name.format (and Confluent's).",
    ),
    ConfigKey::new(
        "collection.naming.strategy",
        ValueType::String,
        "Debezium: naming strategy class (only the default is supported).",
    ),
    ConfigKey::new(
        "column.naming.strategy",
        ValueType::String,
        "Debezium: column naming strategy class (only the default is supported).",
    ),
    ConfigKey::new(
        "quote.identifiers",
        ValueType::Boolean,
        "Keep table and column names exactly (quoted); false folds them to lower case. \
         Default false (true as the direct sink of a source).",
    ),
    ConfigKey::new(
        "schema.evolution",
        ValueType::Enum(&["none", "basic"]),
        "basic: create missing tables and add missing columns. Default none (basic as the \
         direct sink of a source).",
    ),
    ConfigKey::new(
        "schema.evolution.drop.columns",
        ValueType::Boolean,
        "runnel: drop target columns the source no longer has (default false: they stay and \
         new rows get NULL).",
    )
    .default("false"),
    ConfigKey::new(
        "use.time.zone",
        ValueType::String,
        "Time zone of values without one written to columns with one.",
    )
    .default("UTC"),
    ConfigKey::new(
        "database.time_zone",
        ValueType::String,
        "The older name of use.time.zone.",
    ),
    ConfigKey::new(
        "field.include.list",
        ValueType::List,
        "Regular expressions of <topic>:<field> names to write (the others are left out).",
    ),
    ConfigKey::new(
        "field.exclude.list",
        ValueType::List,
        "Regular expressions of <topic>:<field> names to leave out.",
    ),
    ConfigKey::new(
        "dialect.postgres.postgis.schema",
        ValueType::String,
        "Debezium: schema of PostGIS (accepted, not used).",
    ),
    ConfigKey::new(
        "dialect.postgres.unnest.insert.enabled",
        ValueType::Boolean,
        "Debezium: UNNEST batch inserts (runnel always writes with UNNEST).",
    ),
    ConfigKey::new(
        "offsets.table",
        ValueType::String,
        "runnel: the table (schema.table or table) holding each direct connector's source \
         position, written in the same transaction as the rows.",
    )
    .default("runnel_offsets"),
    ConfigKey::new(
        "unavailable.value.placeholder",
        ValueType::String,
        "What an unchanged TOAST value reads as in records from Kafka: such a value never \
         overwrites the column.",
    )
    .default("__debezium_unavailable_value"),
];

const CONFLUENT_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "connection.user",
        ValueType::String,
        "Confluent: connection.username.",
    ),
    ConfigKey::new(
        "connection.attempts",
        ValueType::Int,
        "Confluent: connection attempts (runnel retries the task with backoff).",
    ),
    ConfigKey::new(
        "connection.backoff.ms",
        ValueType::Long,
        "Confluent: delay between connection attempts.",
    ),
    ConfigKey::new(
        "pk.mode",
        ValueType::Enum(&["none", "kafka", "record_key", "record_value"]),
        "Confluent: primary.key.mode.",
    ),
    ConfigKey::new(
        "pk.fields",
        ValueType::List,
        "Confluent: primary.key.fields.",
    ),
    ConfigKey::new(
        "auto.create",
        ValueType::Boolean,
        "Confluent: create missing tables.",
    ),
    ConfigKey::new(
        "auto.evolve",
        ValueType::Boolean,
        "Confluent: add missing columns.",
    ),
    ConfigKey::new(
        "fields.whitelist",
        ValueType::List,
        "Confluent: the value fields to write (all when empty).",
    ),
    ConfigKey::new(
        "db.timezone",
        ValueType::String,
        "Confluent: use.time.zone.",
    ),
    ConfigKey::new(
        "quote.sql.identifiers",
        ValueType::Enum(&["always", "never"]),
        "Confluent: quote.identifiers (always by default).",
    ),
    ConfigKey::new(
        "max.retries",
        ValueType::Int,
        "Confluent: retries (runnel retries the task with backoff).",
    ),
    ConfigKey::new(
        "retry.backoff.ms",
        ValueType::Int,
        "Confluent: delay between retries.",
    ),
    ConfigKey::new(
        "dialect.name",
        ValueType::String,
        "Confluent: the database dialect (PostgreSqlDatabaseDialect is the only one here).",
    ),
    ConfigKey::new(
        "table.types",
        ValueType::List,
        "Confluent: table types written to (TABLE, PARTITIONED TABLE).",
    ),
];

pub const GROUPS: &[ConfigGroup] = &[
    ConfigGroup {
        name: "Connection",
        keys: CONNECTION_KEYS,
    },
    ConfigGroup {
        name: "Writes",
        keys: WRITE_KEYS,
    },
    ConfigGroup {
        name: "Data mapping",
        keys: MAPPING_KEYS,
    },
    ConfigGroup {
        name: "Confluent JDBC",
        keys: CONFLUENT_KEYS,
    },
];

/// Which way the sink is used, from the connector's class.
pub fn dialect(sink: &SinkConfig) -> Dialect {
    match sink.connector.get("connector.class") {
        Some(c) if c == CONFLUENT_CLASS => Dialect::Confluent,
        Some(c) if c == DEBEZIUM_CLASS || c == "JdbcSinkConnector" => Dialect::Debezium,
        _ => Dialect::Direct,
    }
}

impl PgSinkConfig {
    /// Parses and validates (no I/O): every problem as an issue on its key.
    pub fn parse(sink: &SinkConfig) -> std::result::Result<Self, Vec<ConfigIssue>> {
        let dialect = dialect(sink);
        let direct = dialect == Dialect::Direct;
        let mut issues = Vec::new();
        let key = |k: &str| sink.user_key(k).to_string();
        // The first of `names` that is set (Debezium's name first, then its aliases).
        let get = |names: &[&'static str]| {
            names
                .iter()
                .find_map(move |n| sink.get(n).map(|v| (*n, v.trim())))
        };
        let flag =
            |names: &[&'static str], default: bool, issues: &mut Vec<ConfigIssue>| match get(names)
            {
                None => default,
                Some((k, v)) => parse_bool(v).unwrap_or_else(|| {
                    issues.push(ConfigIssue::new(
                        k,
                        format!(
                            "invalid value \"{v}\" for \"{}\": expected true or false",
                            key(k)
                        ),
                    ));
                    default
                }),
            };

        let url = match sink.get("connection.url").map(str::trim) {
            Some(u) if !u.is_empty() => match parse_jdbc_url(u) {
                Ok(url) => Some(url),
                Err(m) => {
                    issues.push(ConfigIssue::new("connection.url", m));
                    None
                }
            },
            _ => {
                issues.push(ConfigIssue::new(
                    "connection.url",
                    format!(
                        "the PostgreSQL sink needs \"{}\": jdbc:postgresql://host:port/database",
                        key("connection.url")
                    ),
                ));
                None
            }
        };
        let user = get(&["connection.username", "connection.user"])
            .map(|(_, v)| v.to_string())
            .or_else(|| url.as_ref().and_then(|u| u.params.get("user").cloned()));
        if user.is_none() {
            issues.push(ConfigIssue::new(
                "connection.username",
                format!(
                    "the PostgreSQL sink needs \"{}\" (or user=… in connection.url)",
                    key("connection.username")
                ),
            ));
        }
        let password = sink
            .get("connection.password")
            .map(str::to_string)
            .or_else(|| url.as_ref().and_then(|u| u.params.get("password").cloned()))
            .unwrap_or_default();
        if let Some(u) = &url
            && let Some(mode) = u.params.get("sslmode")
            && !matches!(mode.as_str(), "disable" | "allow" | "prefer")
        {
            issues.push(ConfigIssue::new(
                "connection.url",
                format!(
                    "sslmode={mode} is not supported by the PostgreSQL sink yet; use sslmode=prefer \
                     or disable (or a TLS-terminating proxy)"
                ),
            ));
        }

        let insert_mode = match sink
            .get("insert.mode")
            .map(|v| v.trim().to_ascii_lowercase())
        {
            None if direct => InsertMode::Upsert,
            None => InsertMode::Insert,
            Some(v) => match v.as_str() {
                "insert" => InsertMode::Insert,
                "upsert" => InsertMode::Upsert,
                "update" => InsertMode::Update,
                _ => {
                    issues.push(ConfigIssue::new(
                        "insert.mode",
                        format!(
                            "invalid value \"{v}\" for \"{}\": expected insert, upsert or update",
                            key("insert.mode")
                        ),
                    ));
                    InsertMode::Insert
                }
            },
        };
        let pk_mode_set = get(&["primary.key.mode", "pk.mode"]);
        let pk_mode = match pk_mode_set.map(|(k, v)| (k, v.to_ascii_lowercase())) {
            None if direct => PkMode::RecordKey,
            None => PkMode::None,
            Some((k, v)) => match v.as_str() {
                "none" => PkMode::None,
                "kafka" => PkMode::Kafka,
                "record_key" => PkMode::RecordKey,
                "record_value" => PkMode::RecordValue,
                _ => {
                    issues.push(ConfigIssue::new(
                        k,
                        format!(
                            "invalid value \"{v}\" for \"{}\": expected none, kafka, record_key or record_value",
                            key(k)
                        ),
                    ));
                    PkMode::None
                }
            },
        };
        let pk_fields = get(&["primary.key.fields", "pk.fields"])
            .map(|(_, v)| split_list(v))
            .unwrap_or_default();
        let delete_enabled = flag(&["delete.enabled"], direct, &mut issues);
        let truncate_enabled = flag(&["truncate.enabled"], direct, &mut issues);
        if delete_enabled && pk_mode != PkMode::RecordKey {
            issues.push(ConfigIssue::new(
                "delete.enabled",
                format!(
                    "\"{}\" needs \"{}\": \"record_key\" (a delete is applied by its record's key)",
                    key("delete.enabled"),
                    key("primary.key.mode")
                ),
            ));
        }
        if insert_mode != InsertMode::Insert && pk_mode == PkMode::None {
            issues.push(ConfigIssue::new(
                "insert.mode",
                format!(
                    "insert.mode {} needs a primary key: set \"{}\" (record_key, record_value or kafka)",
                    if insert_mode == InsertMode::Upsert { "upsert" } else { "update" },
                    key("primary.key.mode")
                ),
            ));
        }
        if pk_mode == PkMode::RecordValue && pk_fields.is_empty() {
            issues.push(ConfigIssue::new(
                "primary.key.fields",
                format!(
                    "primary.key.mode record_value needs \"{}\": the value's key fields",
                    key("primary.key.fields")
                ),
            ));
        }

        let evolution = match sink
            .get("schema.evolution")
            .map(|v| v.trim().to_ascii_lowercase())
        {
            None => direct,
            Some(v) if v == "basic" => true,
            Some(v) if v == "none" => false,
            Some(v) => {
                issues.push(ConfigIssue::new(
                    "schema.evolution",
                    format!(
                        "invalid value \"{v}\" for \"{}\": expected none or basic",
                        key("schema.evolution")
                    ),
                ));
                false
            }
        };
        let create_tables = flag(&["auto.create"], evolution, &mut issues);
        let add_columns = flag(&["auto.evolve"], evolution, &mut issues);
        let drop_columns = flag(&["schema.evolution.drop.columns"], false, &mut issues);

        let table_format = get(&["collection.name.format", "table.name.format"])
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| {
                if direct {
                    "${source.schema}.${source.table}".into()
                } else {
                    "${topic}".into()
                }
            });
        if table_format.is_empty() {
            issues.push(ConfigIssue::new(
                "collection.name.format",
                "collection.name.format must not be empty",
            ));
        }
        for (k, default) in [
            (
                "collection.naming.strategy",
                "DefaultCollectionNamingStrategy",
            ),
            ("column.naming.strategy", "DefaultColumnNamingStrategy"),
        ] {
            if let Some(v) = sink.get(k)
                && !v.trim().is_empty()
                && !v.trim().ends_with(default)
            {
                issues.push(ConfigIssue::new(
                    k,
                    format!(
                        "\"{}\" = \"{v}\" is not supported: runnel has only Debezium's {default}; \
                         rename tables with collection.name.format",
                        key(k)
                    ),
                ));
            }
        }
        let quote_identifiers = match (
            sink.get("quote.identifiers"),
            sink.get("quote.sql.identifiers"),
        ) {
            (Some(_), _) => flag(&["quote.identifiers"], false, &mut issues),
            (None, Some(v)) => !v.trim().eq_ignore_ascii_case("never"),
            (None, None) => dialect != Dialect::Debezium,
        };
        let batch_size = match sink.get("batch.size").map(|v| v.trim().parse::<usize>()) {
            None => match dialect {
                Dialect::Confluent => 3000,
                Dialect::Debezium => 500,
                Dialect::Direct => 2048,
            },
            Some(Ok(n)) if n > 0 => n,
            Some(_) => {
                issues.push(ConfigIssue::new(
                    "batch.size",
                    format!("\"{}\" must be a positive number", key("batch.size")),
                ));
                500
            }
        };
        let time_zone = get(&["use.time.zone", "database.time_zone", "db.timezone"])
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| "UTC".into());
        let regexes = |names: &[&'static str], issues: &mut Vec<ConfigIssue>| -> Vec<Regex> {
            let Some((k, v)) = get(names) else {
                return Vec::new();
            };
            split_list(v)
                .into_iter()
                .filter_map(|p| match Regex::new(&format!("^(?:{p})$")) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        issues.push(ConfigIssue::new(
                            k,
                            format!("\"{}\": invalid regular expression \"{p}\": {e}", key(k)),
                        ));
                        None
                    }
                })
                .collect()
        };
        let mut field_include = regexes(&["field.include.list"], &mut issues);
        let field_exclude = regexes(&["field.exclude.list"], &mut issues);
        if !field_include.is_empty() && !field_exclude.is_empty() {
            issues.push(ConfigIssue::new(
                "field.exclude.list",
                "set field.include.list or field.exclude.list, not both",
            ));
        }
        // Confluent's whitelist names value fields of every topic.
        if let Some(list) = sink.get("fields.whitelist") {
            for f in split_list(list) {
                if let Ok(r) = Regex::new(&format!("^.*:{}$", regex::escape(&f))) {
                    field_include.push(r);
                }
            }
        }
        let offsets_table = sink
            .get("offsets.table")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or("runnel_offsets")
            .to_string();
        let unavailable_placeholder = sink
            .get("unavailable.value.placeholder")
            .unwrap_or("__debezium_unavailable_value")
            .to_string();

        match (issues.is_empty(), url, user) {
            (true, Some(url), Some(user)) => Ok(Self {
                dialect,
                connector: sink.connector.name.clone(),
                url,
                user,
                password,
                insert_mode,
                delete_enabled,
                truncate_enabled,
                pk_mode,
                pk_fields,
                create_tables,
                add_columns,
                drop_columns,
                table_format,
                topic_dots_to_underscores: dialect == Dialect::Debezium,
                quote_identifiers,
                batch_size,
                time_zone,
                field_include,
                field_exclude,
                offsets_table,
                unavailable_placeholder,
            }),
            _ => Err(issues),
        }
    }

    /// Whether the field `field` of records of `topic` is written.
    pub fn field_included(&self, topic: &str, field: &str) -> bool {
        if self.field_include.is_empty() && self.field_exclude.is_empty() {
            return true;
        }
        let name = format!("{topic}:{field}");
        if !self.field_include.is_empty() {
            return self.field_include.iter().any(|r| r.is_match(&name));
        }
        !self.field_exclude.iter().any(|r| r.is_match(&name))
    }

    /// `host:port/db` for messages.
    pub fn target(&self) -> String {
        format!("{}:{}/{}", self.url.host, self.url.port, self.url.dbname)
    }
}

/// One config error from parse issues.
pub fn issues_to_error(issues: &[ConfigIssue]) -> Error {
    runnel_core::config::issues_error(issues)
}

/// `jdbc:postgresql://host[:port][/database][?k=v&…]` (also `postgresql://…` and
/// `postgres://…`).
pub fn parse_jdbc_url(url: &str) -> std::result::Result<JdbcUrl, String> {
    let rest = url
        .strip_prefix("jdbc:postgresql://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .or_else(|| url.strip_prefix("postgres://"))
        .ok_or_else(|| {
            if url.starts_with("jdbc:") {
                let driver = url.split(':').nth(1).unwrap_or("");
                format!(
                    "connection.url \"{url}\" is for {driver}: runnel's JDBC sink writes to PostgreSQL \
                     (jdbc:postgresql://host:port/database)"
                )
            } else {
                format!("connection.url \"{url}\" is not a JDBC URL: expected jdbc:postgresql://host:port/database")
            }
        })?;
    let (authority_path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = authority_path
        .split_once('/')
        .unwrap_or((authority_path, ""));
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    if authority.contains(',') {
        return Err(format!(
            "connection.url \"{url}\" names several hosts: runnel connects to one (put the primary first and only)"
        ));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            let port = p
                .parse::<u16>()
                .map_err(|_| format!("connection.url \"{url}\": port \"{p}\" is not a number"))?;
            (h.trim_matches(['[', ']']).to_string(), port)
        }
        _ => (authority.to_string(), 5432),
    };
    let host = if host.is_empty() {
        "localhost".into()
    } else {
        host
    };
    let mut params = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        params.insert(k.to_string(), percent_decode(v));
    }
    let dbname = percent_decode(path);
    if dbname.is_empty() {
        return Err(format!(
            "connection.url \"{url}\" names no database: jdbc:postgresql://host:port/database"
        ));
    }
    Ok(JdbcUrl {
        host,
        port,
        dbname,
        params,
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) =
                u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or(""), 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jdbc_urls() {
        let u = parse_jdbc_url("jdbc:postgresql://db.example:6543/shop?user=a&password=p%40ss")
            .unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.dbname.as_str()),
            ("db.example", 6543, "shop")
        );
        assert_eq!(u.params["password"], "p@ss");
        let u = parse_jdbc_url("jdbc:postgresql://127.0.0.1/target").unwrap();
        assert_eq!(u.port, 5432);
        assert!(
            parse_jdbc_url("jdbc:mysql://h/db")
                .unwrap_err()
                .contains("PostgreSQL")
        );
        assert!(
            parse_jdbc_url("jdbc:postgresql://h:5432")
                .unwrap_err()
                .contains("no database")
        );
        assert!(
            parse_jdbc_url("jdbc:postgresql://h:x/db")
                .unwrap_err()
                .contains("not a number")
        );
    }
}
