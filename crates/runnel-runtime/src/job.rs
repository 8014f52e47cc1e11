//! A connector ready to run, and what a run gets: the validated [`Job`] (its source, sink,
//! transforms and converters), the source plugin behind it with its type erased
//! ([`SourceEntry`], implemented by the engine for every source plugin), and the
//! [`RunContext`] of one run.

use std::sync::Arc;

use runnel_core::config::{ConfigSpec, ConnectorConfig};
use runnel_core::encode::json::JsonOptions;
use runnel_core::plugin::{
    BoxFuture, CheckReport, CheckScope, OffsetPair, PredicatePlugin, SinkConfig, SinkPlugin,
    TransformPlugin, Watch, WorkerContext,
};
use runnel_core::{Chain, Result, RunEnd, SourceOffset, Stage};
use tokio::sync::watch;

use crate::metrics::ConnectorMetrics;
use crate::state::StateStore;

/// Kafka Connect's `type` of a connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorKind {
    Source,
    Sink,
}

impl ConnectorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorKind::Source => "source",
            ConnectorKind::Sink => "sink",
        }
    }
}

/// What one run of a job needs besides the job.
#[derive(Clone)]
pub struct RunContext {
    pub store: StateStore,
    pub shutdown: watch::Receiver<bool>,
    pub metrics: Arc<ConnectorMetrics>,
}

/// A source plugin with its type erased: what the registry keeps of a [`SourcePlugin`].
pub trait SourceEntry: Send + Sync {
    fn class(&self) -> &'static str;
    fn aliases(&self) -> &'static [&'static str];
    fn spec(&self) -> ConfigSpec;
    /// Parses the config as building would, and drops the result.
    fn validate(&self, config: &ConnectorConfig, worker: &WorkerContext) -> Result<()>;
    fn check(&self, config: ConnectorConfig, scope: CheckScope) -> BoxFuture<CheckReport>;
    fn offsets(&self, config: &ConnectorConfig, stored: &SourceOffset) -> Vec<OffsetPair>;
    fn alter_offsets(
        &self,
        config: &ConnectorConfig,
        items: &[OffsetPair],
    ) -> Result<Option<SourceOffset>>;
    fn resettable(&self) -> bool;
    fn watch(&self) -> Option<Arc<dyn Watch>>;
    /// One run of the engine with this source.
    fn run(&self, job: Arc<Job>, ctx: RunContext) -> BoxFuture<Result<RunEnd>>;
}

/// One `transforms.<alias>` entry, resolved.
#[derive(Clone)]
pub(crate) struct StagePlan {
    pub(crate) alias: String,
    /// The class as configured (error reports name it).
    pub(crate) class: String,
    pub(crate) transform: &'static TransformPlugin,
    pub(crate) config: ConnectorConfig,
    pub(crate) predicate: Option<(&'static PredicatePlugin, ConnectorConfig)>,
    pub(crate) negate: bool,
}

/// Builds the stages of a chain, fresh.
pub(crate) fn build_chain(stages: &[StagePlan]) -> Result<Chain> {
    let mut out = Vec::with_capacity(stages.len());
    for s in stages {
        let predicate = match &s.predicate {
            Some((p, config)) => Some((p.build)(config)?),
            None => None,
        };
        out.push(Stage {
            alias: s.alias.clone(),
            class: s.class.clone(),
            transform: (s.transform.build)(&s.config)?,
            predicate,
            negate: s.negate,
        });
    }
    Ok(Chain::new(out))
}

/// What to do with a record a transform fails on: Kafka Connect's `errors.tolerance`, and for
/// source connectors also Debezium's `event.processing.failure.handling.mode`
/// (`fail`, `warn`: skip and log, `skip`: skip quietly).
#[derive(Debug, Clone, Copy, Default)]
pub struct Tolerance {
    /// `all` (or `warn`/`skip`): skip it; `none` (the default): stop the connector.
    pub all: bool,
    /// `errors.log.enable`.
    pub log: bool,
    /// `errors.log.include.messages`.
    pub log_messages: bool,
    /// A source connector's (whose records have a table and a source position).
    pub source: bool,
}

/// A validated connector, ready to run (and to run again after a restart).
pub struct Job {
    /// Secrets resolved.
    pub config: ConnectorConfig,
    pub kind: ConnectorKind,
    pub source: Arc<dyn SourceEntry>,
    pub sink: &'static SinkPlugin,
    pub sink_config: SinkConfig,
    pub json: JsonOptions,
    pub worker: WorkerContext,
    pub(crate) stages: Vec<StagePlan>,
}

impl Job {
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// A fresh transform chain (transforms may keep state; each run starts clean).
    pub fn chain(&self) -> Result<Chain> {
        build_chain(&self.stages)
    }

    /// `errors.tolerance` and the error log settings, for records a transform fails on.
    pub fn tolerance(&self) -> Tolerance {
        let flag = |key: &str| {
            self.config
                .get(key)
                .and_then(runnel_core::config::parse_bool)
                .unwrap_or(false)
        };
        let mode = match self.kind {
            ConnectorKind::Source => self
                .config
                .get("event.processing.failure.handling.mode")
                .map(|v| v.trim().to_ascii_lowercase()),
            ConnectorKind::Sink => None,
        };
        Tolerance {
            all: self
                .config
                .get("errors.tolerance")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("all"))
                || matches!(mode.as_deref(), Some("warn" | "skip")),
            log: flag("errors.log.enable") || mode.as_deref() == Some("warn"),
            log_messages: flag("errors.log.include.messages"),
            source: matches!(self.kind, ConnectorKind::Source),
        }
    }

    /// Batches between the source and the sink thread: Debezium's `max.queue.size` in batches
    /// of `max.batch.size` (8,192 / 2,048 = 4 by default), at least 2, at most 64.
    pub fn queue_batches(&self) -> usize {
        let get = |key: &str, default: usize| {
            self.config
                .get(key)
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|v| *v > 0)
                .unwrap_or(default)
        };
        (get("max.queue.size", 8192) / get("max.batch.size", 2048)).clamp(2, 64)
    }

    /// `errors.max.retries` (Debezium's): retries after transient errors before the task fails;
    /// negative is unlimited.
    pub fn max_retries(&self) -> i64 {
        self.config
            .get("errors.max.retries")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(-1)
    }
}
