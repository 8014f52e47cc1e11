//! What a connector crate hands the registry: for each connector class, transform and predicate
//! its config spec, how to build it from a config (validating, touching nothing) and how to check
//! its prerequisites against the live system (reading, never writing). The runtime's registry
//! erases these into one table served to `runnel run`, the worker, `/connector-plugins`,
//! `config/validate` and `runnel check`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use crate::config::{ConfigGroup, ConfigIssue, ConfigKey, ConfigSpec, ConnectorConfig};
use crate::error::Result;
use crate::offset::SourceOffset;
use crate::sink::Sink;
use crate::source::{Source, SourceStats};
use crate::transform::{Predicate, Transform};

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A (source partition, offset) pair of Kafka Connect's offsets API.
pub type OffsetPair = (Value, Value);

/// How deep a check goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckScope {
    /// What `config/validate` and `POST /connectors` check, as Debezium's connector validation
    /// does: the connection (reported on `database.hostname`).
    Connection,
    /// Every prerequisite `runnel check` verifies.
    Full,
}

/// One problem a check found; `key` is the config key it is reported on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: Option<String>,
    pub message: String,
}

/// The outcome of a check: problems stop the connector; warnings do not.
#[derive(Debug, Default, Clone)]
pub struct CheckReport {
    pub problems: Vec<Problem>,
    pub warnings: Vec<String>,
    pub passed: Vec<String>,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn problem(&mut self, key: Option<&str>, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.map(str::to_string),
            message: message.into(),
        });
    }
}

/// Where connectors run: the worker's settings a plugin may need.
#[derive(Debug, Clone, Default)]
pub struct WorkerContext {
    /// The worker's Kafka cluster (`bootstrap.servers`).
    pub bootstrap_servers: Option<String>,
    /// Set on a distributed worker with `exactly.once.source.support=enabled`.
    pub exactly_once: Option<ExactlyOnce>,
}

/// Exactly-once delivery of a source connector's records to Kafka, Kafka Connect's KIP-618: the
/// Kafka sink writes each transaction's records and the offset they complete (to the worker
/// group's offset topic) in one Kafka transaction under the connector's transactional id, so a
/// `read_committed` reader sees both or neither, and a worker that lost the connector is fenced
/// by its next owner's producer (which bumps the id's epoch) instead of writing on.
#[derive(Clone)]
pub struct ExactlyOnce {
    /// The worker group's `group.id`: a connector's transactional id is
    /// `<group.id>-<connector>-0`, as Kafka Connect names a task's.
    pub group_id: String,
    /// The group's `offset.storage.topic`.
    pub offset_topic: String,
    /// The offset topic's records (key, value) that store `offset` for the connector, in Kafka
    /// Connect's format (one per source partition).
    pub offset_records: Arc<OffsetRecords>,
    /// Whether the group still gives the connector (named) to this worker: checked before a
    /// producer starts (and so fences every other), so that a worker that woke from a pause
    /// and restarts a failed run before it hears it lost the connector does not fence its new
    /// owner.
    pub owns: Arc<dyn Fn(&str) -> bool + Send + Sync>,
}

/// See [`ExactlyOnce::offset_records`].
pub type OffsetRecords =
    dyn Fn(&ConnectorConfig, &SourceOffset) -> Vec<(Vec<u8>, Vec<u8>)> + Send + Sync;

impl ExactlyOnce {
    /// The transactional id of `connector`'s (only) task.
    pub fn transactional_id(&self, connector: &str) -> String {
        format!("{}-{connector}-0", self.group_id)
    }
}

impl std::fmt::Debug for ExactlyOnce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExactlyOnce")
            .field("group_id", &self.group_id)
            .field("offset_topic", &self.offset_topic)
            .finish_non_exhaustive()
    }
}

/// A source connector class (or the Kafka source of every sink connector).
pub struct SourcePlugin<S: Source> {
    pub class: &'static str,
    /// Other names Kafka Connect accepts for it (the simple class name, its alias).
    pub aliases: &'static [&'static str],
    pub spec: ConfigSpec,
    /// Parses and validates the config (every problem, on its key) and builds the source. No
    /// I/O.
    pub build: fn(&ConnectorConfig, &WorkerContext) -> Result<S>,
    /// Checks prerequisites on the live system, writing nothing.
    pub check: fn(ConnectorConfig, CheckScope) -> BoxFuture<CheckReport>,
    /// A stored offset as Kafka Connect's offsets API shows it: (source partition, offset)
    /// pairs (PostgreSQL: `({"server": <topic.prefix>}, {"lsn": …, …})`).
    pub offsets: fn(&ConnectorConfig, &SourceOffset) -> Vec<OffsetPair>,
    /// `PATCH /connectors/{name}/offsets`: the offset to store for these (partition, offset)
    /// pairs (`None`: remove it), or why they cannot be applied.
    pub alter_offsets: fn(&ConnectorConfig, &[OffsetPair]) -> Result<Option<SourceOffset>>,
    /// Whether `DELETE /connectors/{name}/offsets` may reset by forgetting the stored offset
    /// (a Kafka sink connector's real offsets are its consumer group's).
    pub resettable: bool,
    /// Watches what matters even while the connector does not run.
    pub watch: Option<Arc<dyn Watch>>,
}

/// A sink's config: its own keys, as a Kafka Connect sink connector names them, and the whole
/// connector config they came from (for connector-level keys such as `producer.override.*`).
#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub keys: BTreeMap<String, String>,
    pub connector: ConnectorConfig,
    pub worker: WorkerContext,
    /// How the user spells the sink's keys when they differ (`file` → `sink.file.path` for the
    /// direct sink of a source connector), for messages.
    pub spelled: BTreeMap<String, String>,
}

impl SinkConfig {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.keys.get(key).map(String::as_str)
    }

    /// `key` as the user writes it.
    pub fn user_key<'a>(&'a self, key: &'a str) -> &'a str {
        self.spelled.get(key).map_or(key, String::as_str)
    }
}

/// A sink, usable both as the direct sink of a source connector (`sink.type=<sink_type>`, its
/// keys as `sink.<sink_type>.<key>`) and, when it has a `class`, as a Kafka Connect sink
/// connector reading Kafka topics (its keys as they are).
pub struct SinkPlugin {
    pub sink_type: &'static str,
    pub class: Option<&'static str>,
    pub aliases: &'static [&'static str],
    pub groups: &'static [ConfigGroup],
    /// Direct-form key names that differ from the connector form: `("path", "file")` makes
    /// `sink.file.path` the sink's `file`.
    pub direct_aliases: &'static [(&'static str, &'static str)],
    /// Accepts any `sink.<sink_type>.*` key (Kafka: every key is a client property).
    pub open_keys: bool,
    /// Validates (no I/O) and builds.
    pub build: fn(&SinkConfig) -> Result<Box<dyn Sink>>,
    /// Validates without building: what `config/validate` reports for the sink's keys.
    pub validate: fn(&SinkConfig) -> Vec<ConfigIssue>,
    /// Checks the destination's prerequisites (connection, privileges, tables), writing
    /// nothing; problems name the sink's own keys.
    pub check: Option<fn(SinkConfig, CheckScope) -> BoxFuture<CheckReport>>,
}

impl SinkPlugin {
    pub fn keys(&self) -> impl Iterator<Item = &'static ConfigKey> + '_ {
        self.groups.iter().flat_map(|g| g.keys.iter())
    }
}

/// A single message transform class.
pub struct TransformPlugin {
    pub class: &'static str,
    pub aliases: &'static [&'static str],
    pub keys: &'static [ConfigKey],
    /// Builds from the transform's keys (`transforms.<alias>.` removed).
    pub build: fn(&ConnectorConfig) -> Result<Box<dyn Transform>>,
}

/// A predicate class.
pub struct PredicatePlugin {
    pub class: &'static str,
    pub aliases: &'static [&'static str],
    pub keys: &'static [ConfigKey],
    pub build: fn(&ConnectorConfig) -> Result<Arc<dyn Predicate>>,
}

/// A connector a [`Watch`] looks at.
pub struct Watched {
    pub connector: String,
    /// Secrets resolved.
    pub config: ConnectorConfig,
    pub stats: Arc<SourceStats>,
}

/// What a watch found.
pub enum WatchOutcome {
    /// The connector's status warning (`None` clears it).
    Warning {
        connector: String,
        warning: Option<String>,
    },
    /// Stop the connector, then run `finish`, and leave it FAILED with the trace it returns.
    Stop {
        connector: String,
        finish: BoxFuture<String>,
    },
    /// What the watch saw on one server (`host:port`), whoever it belongs to (PostgreSQL:
    /// every replication slot, the ones no connector of this worker uses included), for the
    /// console's database page.
    Server {
        server: String,
        report: serde_json::Value,
    },
}

/// Periodic checks of a source's external state that matter whether or not its connectors run
/// (PostgreSQL: WAL a replication slot makes the server keep).
pub trait Watch: Send + Sync {
    fn check(&self, watched: Vec<Watched>) -> BoxFuture<Vec<WatchOutcome>>;
}
