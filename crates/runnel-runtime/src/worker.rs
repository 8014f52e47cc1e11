//! The worker: many connectors in one process, each its own supervised task, managed the way
//! Kafka Connect manages them (create, reconfigure, pause, resume, stop, restart, delete, offsets)
//! with configs, target states, offsets and status in the embedded state store, so a restarted
//! worker picks up where it was — or, in a group of workers, in Kafka (`worker/distributed.rs`). One connector failing, being added or being removed never
//! touches another. The REST layer (`runnel-server`) turns the typed answers here into Kafka
//! Connect's JSON.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use runnel_core::config::{ConfigIssue, ConnectorConfig};
use runnel_core::plugin::{CheckReport, CheckScope, WatchOutcome, Watched, WorkerContext};
use runnel_core::{Error, ErrorKind};
use serde_json::{Map, Value};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

use crate::cluster::Cluster;
use crate::config_providers::ConfigProviders;
use crate::job::ConnectorKind;
use crate::job::RunContext;
use crate::metrics::ConnectorMetrics;
use crate::registry::{ConnectorClass, Registry};
use crate::state::StateStore;
use crate::status::{State, TargetState};
use crate::supervisor::supervise;

mod distributed;
use distributed::{offset_records, read_offsets};

/// Errors of worker operations, one per HTTP status Kafka Connect answers with.
#[derive(Debug)]
pub enum WorkerError {
    NotFound(String),
    AlreadyExists(String),
    /// A request Kafka Connect rejects with 400 (invalid config, wrong state, bad body).
    BadRequest(String),
    Internal(Error),
}

impl std::fmt::Display for WorkerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WorkerError::NotFound(name) => write!(f, "Connector {name} not found"),
            WorkerError::AlreadyExists(name) => write!(f, "Connector {name} already exists"),
            WorkerError::BadRequest(m) => f.write_str(m),
            WorkerError::Internal(e) => f.write_str(e.message()),
        }
    }
}

impl std::error::Error for WorkerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WorkerError::Internal(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Error> for WorkerError {
    fn from(e: Error) -> Self {
        match e.kind() {
            ErrorKind::Config => WorkerError::BadRequest(e.message().to_string()),
            _ => WorkerError::Internal(e),
        }
    }
}

pub type WorkerResult<T> = std::result::Result<T, WorkerError>;

/// The worker's own settings (Kafka Connect's worker config).
#[derive(Debug, Clone, Default)]
pub struct WorkerSettings {
    /// The worker's Kafka cluster: source connectors write to it unless `sink.type` says
    /// otherwise, sink connectors read from it.
    pub bootstrap_servers: Option<String>,
    /// A distributed worker with `exactly.once.source.support=enabled`.
    pub exactly_once: Option<ExactlyOnceSettings>,
}

/// What exactly-once delivery needs of the worker group's config.
#[derive(Debug, Clone)]
pub struct ExactlyOnceSettings {
    pub group_id: String,
    pub offset_topic: String,
}

impl WorkerSettings {
    /// The context connectors get, without exactly-once delivery (a worker's own adds it:
    /// [`Worker`] knows how to write offsets).
    pub fn context(&self) -> WorkerContext {
        WorkerContext {
            bootstrap_servers: self.bootstrap_servers.clone(),
            exactly_once: None,
        }
    }
}

/// `GET /connectors/{name}`.
#[derive(Debug, Clone)]
pub struct ConnectorInfo {
    pub name: String,
    /// As stored (placeholders, not secrets), with `name`.
    pub config: BTreeMap<String, String>,
    /// Task ids (none while STOPPED).
    pub tasks: Vec<u32>,
    pub kind: Option<ConnectorKind>,
}

/// The state of a connector or a task in a status answer.
#[derive(Debug, Clone)]
pub struct StateInfo {
    pub state: State,
    pub worker_id: String,
    /// Why it failed.
    pub trace: Option<String>,
    /// runnel only: what a running task retries, or a watch's warning.
    pub warning: Option<String>,
}

/// `GET /connectors/{name}/status`.
#[derive(Debug, Clone)]
pub struct ConnectorStatus {
    pub name: String,
    pub connector: StateInfo,
    pub tasks: Vec<(u32, StateInfo)>,
    pub kind: Option<ConnectorKind>,
}

/// One connector as the console's overview shows it.
pub struct Overview {
    pub status: ConnectorStatus,
    pub class: String,
    pub metrics: Arc<ConnectorMetrics>,
    /// The newest history sample (its rate is the last interval's).
    pub last: Option<crate::history::Sample>,
}

/// What `config/validate` reports: the class (its keys and groups) and every problem.
pub struct ValidationReport {
    pub class: Option<ConnectorClass>,
    pub issues: Vec<ConfigIssue>,
}

struct Entry {
    /// As the user wrote it: placeholders unresolved.
    config: ConnectorConfig,
    /// The config with its secrets, as the task last started with it (or as a watch last
    /// needed it), kept in memory only: the watches reuse it instead of asking the config
    /// providers (a Kubernetes API call per Secret) at every tick.
    resolved: Option<ConnectorConfig>,
    target: TargetState,
    kind: Option<ConnectorKind>,
    task: Option<Task>,
    /// Why the connector could not start (invalid config, unresolvable secret): connector
    /// state FAILED with this trace.
    start_error: Option<String>,
    metrics: Arc<ConnectorMetrics>,
    /// The last hour of its metrics (see `history.rs`).
    history: crate::history::History,
    /// Distributed mode: the local store holds the offset the group's offset topic had when
    /// this worker took the connector (false: read it from the topic before starting).
    adopted: bool,
    /// Distributed mode, exactly once: its records and offsets go to Kafka in transactions,
    /// so its offsets are not published separately.
    transactional: bool,
}

struct Task {
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

/// Waits for a stopping task, aborting it after [`STOP_TIMEOUT`].
async fn join_or_abort(mut handle: JoinHandle<()>, name: &str) {
    if tokio::time::timeout(STOP_TIMEOUT, &mut handle)
        .await
        .is_err()
    {
        tracing::warn!(connector = %name, "did not stop within {STOP_TIMEOUT:?}; aborted");
        handle.abort();
    }
}

/// How long a stopping task may take before it is aborted.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Worker {
    store: StateStore,
    settings: WorkerSettings,
    /// What every connector gets of the worker: the settings' context, with exactly-once
    /// delivery in a group that enables it (built in `Worker::new`).
    context: WorkerContext,
    providers: ConfigProviders,
    registry: Arc<Registry>,
    worker_id: String,
    connectors: Mutex<BTreeMap<String, Entry>>,
    /// Distributed mode: the worker group (see `distributed.rs`); `None` standalone.
    cluster: Option<Arc<dyn Cluster>>,
    /// Target states read before their connector's config (Kafka Connect writes a new
    /// connector's initial state first).
    pending_targets: std::sync::Mutex<BTreeMap<String, TargetState>>,
    /// What the watches last saw on each server: when (ms since the epoch) and what.
    servers: std::sync::Mutex<BTreeMap<String, (u64, Value)>>,
}

fn invalid(issues: &[ConfigIssue]) -> WorkerError {
    let lines: Vec<&str> = issues.iter().map(|i| i.message.as_str()).collect();
    WorkerError::BadRequest(format!(
        "Connector configuration is invalid and contains the following {} error(s):\n{}\n\
         You can also find the above list of errors at the endpoint \
         `/connector-plugins/{{connectorType}}/config/validate`",
        lines.len(),
        lines.join("\n")
    ))
}

impl Worker {
    /// A worker with no connector yet: standalone (`cluster` None) or in a group.
    fn new(
        store: StateStore,
        settings: WorkerSettings,
        providers: ConfigProviders,
        registry: Arc<Registry>,
        worker_id: String,
        cluster: Option<Arc<dyn Cluster>>,
    ) -> Self {
        let mut context = settings.context();
        context.exactly_once = settings.exactly_once.as_ref().map(|e| {
            let registry = registry.clone();
            let cluster = cluster.clone();
            runnel_core::plugin::ExactlyOnce {
                owns: Arc::new(move |name| cluster.as_ref().is_some_and(|c| c.owns(name))),
                group_id: e.group_id.clone(),
                offset_topic: e.offset_topic.clone(),
                offset_records: Arc::new(move |config, offset| {
                    offset_records(&registry, config, offset)
                        .into_iter()
                        .map(|r| (r.key, r.value.unwrap_or_default()))
                        .collect()
                }),
            }
        });
        Self {
            store,
            settings,
            context,
            providers,
            registry,
            worker_id,
            connectors: Mutex::new(BTreeMap::new()),
            cluster,
            pending_targets: Default::default(),
            servers: Default::default(),
        }
    }

    /// Opens the worker on `store` and starts every connector whose target state is STARTED.
    pub async fn open(
        store: StateStore,
        settings: WorkerSettings,
        providers: ConfigProviders,
        registry: Arc<Registry>,
        worker_id: String,
    ) -> WorkerResult<Arc<Self>> {
        let worker = Arc::new(Self::new(
            store, settings, providers, registry, worker_id, None,
        ));
        let stored = worker.store.configs()?;
        let mut map = worker.connectors.lock().await;
        for (name, text) in stored {
            let config = match ConnectorConfig::from_json(&text) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(connector = %name, "stored config unreadable: {}", e.message());
                    continue;
                }
            };
            let target = worker.store.target(&name)?.unwrap_or(TargetState::Started);
            let mut entry = worker.entry(config, target);
            if target == TargetState::Started {
                worker.start_task(&mut entry);
            }
            map.insert(name, entry);
        }
        drop(map);
        Ok(worker)
    }

    fn entry(&self, config: ConnectorConfig, target: TargetState) -> Entry {
        Entry {
            kind: self.kind_of(&config),
            config,
            resolved: None,
            target,
            task: None,
            start_error: None,
            metrics: Arc::default(),
            history: Default::default(),
            adopted: false,
            transactional: false,
        }
    }

    fn kind_of(&self, config: &ConnectorConfig) -> Option<ConnectorKind> {
        self.registry
            .class(config.get("connector.class").unwrap_or_default())
            .map(|c| c.kind)
    }

    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    pub fn store(&self) -> &StateStore {
        &self.store
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn settings(&self) -> &WorkerSettings {
        &self.settings
    }

    /// Validates `config` as Kafka Connect's `config/validate` does: every key checked (secrets
    /// resolved for the check only, never echoed), then, if the config is valid, the
    /// connector's connection checked on the live system (reading only).
    pub async fn validate(&self, config: &ConnectorConfig) -> ValidationReport {
        let resolved = match self.providers.resolve(config) {
            Ok(c) => c,
            Err(e) => {
                return ValidationReport {
                    class: self
                        .registry
                        .class(config.get("connector.class").unwrap_or_default()),
                    issues: vec![ConfigIssue::new(
                        e.key().unwrap_or("connector.class"),
                        e.message(),
                    )],
                };
            }
        };
        let v = self.registry.validate(&resolved, &self.context);
        let mut issues = v.issues;
        if issues.is_empty() {
            let report = self
                .registry
                .check(resolved, CheckScope::Connection, &self.context)
                .await;
            for p in report.problems {
                issues.push(ConfigIssue::new(
                    p.key.unwrap_or_else(|| "connector.class".into()),
                    p.message,
                ));
            }
        }
        ValidationReport {
            class: v.class,
            issues,
        }
    }

    async fn require_valid(&self, config: &ConnectorConfig) -> WorkerResult<()> {
        let report = self.validate(config).await;
        if report.issues.is_empty() {
            Ok(())
        } else {
            Err(invalid(&report.issues))
        }
    }

    /// Starts the connector's task (resolving secrets now). A config that cannot start marks
    /// the connector FAILED with the reason; nothing else is touched.
    fn start_task(&self, entry: &mut Entry) {
        entry.start_error = None;
        let name = entry.config.name.clone();
        let job = self.providers.resolve(&entry.config).and_then(|c| {
            // A config change may have moved it to or from Kafka.
            entry.transactional = self.registry.is_transactional(&c, &self.context);
            let job = self.registry.prepare(&c, &self.context);
            entry.resolved = Some(c);
            job
        });
        let job = match job {
            Ok(j) => Arc::new(j),
            Err(e) => {
                tracing::error!(connector = %name, "cannot start: {}", e.message());
                entry.start_error = Some(e.message().to_string());
                let _ = self
                    .store
                    .set_status(&name, State::Failed, Some(e.message()));
                return;
            }
        };
        let (stop, stop_rx) = watch::channel(false);
        let ctx = RunContext {
            store: self.store.clone(),
            shutdown: stop_rx,
            metrics: entry.metrics.clone(),
        };
        let handle = tokio::spawn(async move {
            if let Err(e) = supervise(job, ctx).await {
                tracing::error!(connector = %name, "{}", e.message());
            }
        });
        entry.task = Some(Task { stop, handle });
    }

    async fn stop_task(entry: &mut Entry) {
        if let Some(task) = entry.task.take() {
            let _ = task.stop.send(true);
            join_or_abort(task.handle, &entry.config.name).await;
        }
    }

    fn save(&self, entry: &Entry) -> WorkerResult<()> {
        self.store.save_connector(&entry.config)?;
        self.store.set_target(&entry.config.name, entry.target)?;
        Ok(())
    }

    pub async fn names(&self) -> Vec<String> {
        self.connectors.lock().await.keys().cloned().collect()
    }

    /// `POST /connectors`.
    pub async fn create(
        &self,
        config: ConnectorConfig,
        target: TargetState,
    ) -> WorkerResult<ConnectorInfo> {
        if self.connectors.lock().await.contains_key(&config.name) {
            return Err(WorkerError::AlreadyExists(config.name));
        }
        // Validation may reach the database: outside the lock, so other requests go on.
        self.require_valid(&config).await?;
        if let Some(cluster) = &self.cluster {
            self.publish_config(cluster, &config, Some(target)).await?;
            return self.info(&config.name).await;
        }
        let mut map = self.connectors.lock().await;
        if map.contains_key(&config.name) {
            return Err(WorkerError::AlreadyExists(config.name));
        }
        let mut entry = self.entry(config, target);
        self.save(&entry)?;
        if target == TargetState::Started {
            self.start_task(&mut entry);
        }
        let info = self.info_of(&entry);
        map.insert(entry.config.name.clone(), entry);
        Ok(info)
    }

    /// `PUT /connectors/{name}/config`: creates or replaces; the connector restarts with the
    /// new config. Returns whether it was created, and its info.
    pub async fn put_config(&self, config: ConnectorConfig) -> WorkerResult<(bool, ConnectorInfo)> {
        self.require_valid(&config).await?;
        if let Some(cluster) = &self.cluster {
            let created = !self.connectors.lock().await.contains_key(&config.name);
            self.publish_config(cluster, &config, None).await?;
            return Ok((created, self.info(&config.name).await?));
        }
        let mut map = self.connectors.lock().await;
        let name = config.name.clone();
        let created = !map.contains_key(&name);
        let entry = map
            .entry(name)
            .or_insert_with(|| self.entry(config.clone(), TargetState::Started));
        Self::stop_task(entry).await;
        entry.kind = self.kind_of(&config);
        entry.config = config;
        entry.resolved = None;
        self.save(entry)?;
        if entry.target == TargetState::Started {
            self.start_task(entry);
        }
        Ok((created, self.info_of(entry)))
    }

    /// `PATCH /connectors/{name}/config` (KIP-477): keys with null values are removed.
    pub async fn patch_config(
        &self,
        name: &str,
        patch: Map<String, Value>,
    ) -> WorkerResult<ConnectorInfo> {
        let current = {
            let map = self.connectors.lock().await;
            map.get(name)
                .ok_or_else(|| WorkerError::NotFound(name.into()))?
                .config
                .clone()
        };
        let mut props = current.props;
        for (k, v) in patch {
            match v {
                Value::Null => {
                    props.remove(&k);
                }
                Value::String(s) => {
                    props.insert(k, s);
                }
                Value::Number(_) | Value::Bool(_) => {
                    props.insert(k, v.to_string());
                }
                _ => {
                    return Err(WorkerError::BadRequest(format!(
                        "config key \"{k}\" must be a string, number, boolean or null"
                    )));
                }
            }
        }
        if let Some(n) = props.remove("name")
            && n != name
        {
            return Err(WorkerError::BadRequest(format!(
                "Connector name configuration ({n}) doesn't match connector name in the URL ({name})"
            )));
        }
        let (_, info) = self
            .put_config(ConnectorConfig {
                name: name.into(),
                props,
            })
            .await?;
        Ok(info)
    }

    /// `DELETE /connectors/{name}`: stops it and forgets config, offsets and status.
    pub async fn delete(&self, name: &str) -> WorkerResult<()> {
        if let Some(cluster) = &self.cluster {
            return self.publish_delete(cluster, name).await;
        }
        let mut map = self.connectors.lock().await;
        let mut entry = map
            .remove(name)
            .ok_or_else(|| WorkerError::NotFound(name.into()))?;
        Self::stop_task(&mut entry).await;
        self.store.delete_connector(name)?;
        Ok(())
    }

    /// Changes the target state (`pause`, `resume`, `stop`).
    pub async fn set_target(&self, name: &str, target: TargetState) -> WorkerResult<()> {
        if let Some(cluster) = &self.cluster {
            return self.publish_target(cluster, name, target).await;
        }
        let mut map = self.connectors.lock().await;
        let entry = map
            .get_mut(name)
            .ok_or_else(|| WorkerError::NotFound(name.into()))?;
        if entry.target == target && (target != TargetState::Started || entry.task.is_some()) {
            return Ok(());
        }
        entry.target = target;
        self.save(entry)?;
        match target {
            TargetState::Started => {
                if entry.task.is_none() {
                    self.start_task(entry);
                }
            }
            TargetState::Paused | TargetState::Stopped => {
                Self::stop_task(entry).await;
                self.store.set_status(name, target.state(), None)?;
            }
        }
        Ok(())
    }

    /// `POST /connectors/{name}/restart` (KIP-745) and `…/tasks/0/restart`: restarts the
    /// connector unless `only_failed` and it has not failed, and answers with the restart plan
    /// Kafka Connect reports: every instance restarted is RESTARTING (the task only when
    /// `include_tasks`). `None` when nothing was restarted.
    pub async fn restart(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> WorkerResult<(bool, ConnectorStatus)> {
        if let Some(cluster) = &self.cluster {
            return self
                .publish_restart(cluster, name, include_tasks, only_failed)
                .await;
        }
        let mut map = self.connectors.lock().await;
        let entry = map
            .get_mut(name)
            .ok_or_else(|| WorkerError::NotFound(name.into()))?;
        let (restarting, plan) = self.restart_plan(entry, include_tasks, only_failed);
        if !restarting {
            return Ok((false, plan));
        }
        self.store.set_status(name, State::Restarting, None)?;
        Self::stop_task(entry).await;
        self.start_task(entry);
        Ok((true, plan))
    }

    /// Whether a restart request restarts anything, and the plan it answers with.
    fn restart_plan(
        &self,
        entry: &Entry,
        include_tasks: bool,
        only_failed: bool,
    ) -> (bool, ConnectorStatus) {
        let mut plan = self.status_of(entry);
        if entry.target != TargetState::Started {
            return (false, plan);
        }
        let connector_failed = plan.connector.state == State::Failed;
        let task_failed = plan.tasks.iter().any(|(_, t)| t.state == State::Failed);
        let restart_connector = !only_failed || connector_failed || task_failed;
        let restart_task = include_tasks && (!only_failed || task_failed);
        if !restart_connector && !restart_task {
            return (false, plan);
        }
        if restart_connector {
            plan.connector.state = State::Restarting;
        }
        if restart_task {
            for (_, t) in &mut plan.tasks {
                t.state = State::Restarting;
                t.trace = None;
            }
        }
        (true, plan)
    }

    fn task_state(&self, entry: &Entry) -> StateInfo {
        let info = |state, trace, warning| StateInfo {
            state,
            worker_id: self.worker_id.clone(),
            trace,
            warning,
        };
        match entry.target {
            TargetState::Paused => return info(State::Paused, None, None),
            TargetState::Stopped => return info(State::Stopped, None, None),
            TargetState::Started => {}
        }
        let stored = self.store.status(&entry.config.name).ok().flatten();
        let task_done = entry.task.as_ref().is_none_or(|t| t.handle.is_finished());
        match stored {
            Some((State::Failed, trace)) => info(State::Failed, trace, None),
            Some((State::Restarting, _)) => info(State::Restarting, None, None),
            // A task that ended by itself (snapshot.mode=initial_only) is done: Kafka Connect
            // has no such state; UNASSIGNED is the closest it reports for a task not running.
            _ if task_done => info(State::Unassigned, None, None),
            // Running, possibly retrying after a transient error (the note says what).
            Some((_, note)) => info(State::Running, None, note),
            None => info(State::Running, None, None),
        }
    }

    fn info_of(&self, entry: &Entry) -> ConnectorInfo {
        let mut config = entry.config.props.clone();
        config.insert("name".into(), entry.config.name.clone());
        ConnectorInfo {
            name: entry.config.name.clone(),
            config,
            tasks: if entry.target == TargetState::Stopped {
                vec![]
            } else {
                vec![0]
            },
            kind: entry.kind,
        }
    }

    fn status_of(&self, entry: &Entry) -> ConnectorStatus {
        if let Some(cluster) = &self.cluster
            && !cluster.owns(&entry.config.name)
        {
            return Self::remote_status(cluster.as_ref(), entry);
        }
        let name = entry.config.name.clone();
        let connector = |state, trace, warning| StateInfo {
            state,
            worker_id: self.worker_id.clone(),
            trace,
            warning,
        };
        if let Some(trace) = &entry.start_error {
            return ConnectorStatus {
                name,
                connector: connector(State::Failed, Some(trace.clone()), None),
                tasks: vec![],
                kind: entry.kind,
            };
        }
        let tasks = if entry.target == TargetState::Stopped {
            vec![]
        } else {
            vec![(0, self.task_state(entry))]
        };
        ConnectorStatus {
            name,
            connector: connector(entry.target.state(), None, entry.metrics.warning()),
            tasks,
            kind: entry.kind,
        }
    }

    async fn with_entry<T>(&self, name: &str, f: impl FnOnce(&Entry) -> T) -> WorkerResult<T> {
        let map = self.connectors.lock().await;
        map.get(name)
            .map(f)
            .ok_or_else(|| WorkerError::NotFound(name.into()))
    }

    pub async fn info(&self, name: &str) -> WorkerResult<ConnectorInfo> {
        self.with_entry(name, |e| self.info_of(e)).await
    }

    pub async fn status(&self, name: &str) -> WorkerResult<ConnectorStatus> {
        self.with_entry(name, |e| self.status_of(e)).await
    }

    pub async fn topics(&self, name: &str) -> WorkerResult<Vec<String>> {
        self.with_entry(name, |e| e.metrics.topics()).await
    }

    pub async fn reset_topics(&self, name: &str) -> WorkerResult<()> {
        self.with_entry(name, |e| e.metrics.reset_topics()).await
    }

    /// Every connector's metrics, for `/metrics`: name, type, task state, counters.
    pub async fn metrics(
        &self,
    ) -> Vec<(String, Option<ConnectorKind>, State, Arc<ConnectorMetrics>)> {
        let map = self.connectors.lock().await;
        map.values()
            .map(|e| {
                // The task's state, or the connector's when it has no task (STOPPED, or
                // FAILED before it could start).
                let status = self.status_of(e);
                let state = status
                    .tasks
                    .first()
                    .map_or(status.connector.state, |(_, t)| t.state);
                (e.config.name.clone(), e.kind, state, e.metrics.clone())
            })
            .collect()
    }

    /// Every connector's status, class, metrics and newest history sample, read under one
    /// lock: the console's overview (cheap enough to build every few seconds for 500).
    pub async fn overview(&self) -> Vec<Overview> {
        let map = self.connectors.lock().await;
        map.values().map(|e| self.overview_of(e)).collect()
    }

    /// One connector's overview (its page), without the others'.
    pub async fn overview_one(&self, name: &str) -> WorkerResult<Overview> {
        self.with_entry(name, |e| self.overview_of(e)).await
    }

    fn overview_of(&self, e: &Entry) -> Overview {
        Overview {
            status: self.status_of(e),
            class: e.config.get("connector.class").unwrap_or_default().into(),
            metrics: e.metrics.clone(),
            last: e.history.last(),
        }
    }

    /// What the watches last saw on each server (`host:port`): when (ms since the epoch) and
    /// the report.
    pub fn servers(&self) -> BTreeMap<String, (u64, Value)> {
        self.servers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Heap bytes every connector's metric history holds.
    pub async fn history_bytes(&self) -> usize {
        let map = self.connectors.lock().await;
        map.values().map(|e| e.history.heap_bytes()).sum()
    }

    /// `runnel check` of a connector, its secrets resolved for the check only: every
    /// prerequisite on the live systems (reading only).
    pub async fn check(&self, name: &str) -> WorkerResult<CheckReport> {
        let config = self.with_entry(name, |e| e.config.clone()).await?;
        let resolved = self.providers.resolve(&config)?;
        Ok(self
            .registry
            .check(resolved, CheckScope::Full, &self.context)
            .await)
    }

    /// `GET /connectors/{name}/history`: the connector's sampled metrics, oldest first.
    pub async fn history(&self, name: &str) -> WorkerResult<Value> {
        self.with_entry(name, |e| e.history.to_json()).await
    }

    /// Samples every connector's metrics each [`crate::history::INTERVAL`] into its history,
    /// until the worker is gone.
    pub fn spawn_history(self: &Arc<Self>) -> JoinHandle<()> {
        let worker = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(crate::history::INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(w) = worker.upgrade() else { return };
                let now = crate::metrics::now_ms();
                let mut map = w.connectors.lock().await;
                for e in map.values_mut() {
                    e.history.record(&e.metrics, now);
                }
            }
        })
    }

    /// `GET /connectors/{name}/offsets` (KIP-875): (partition, offset) pairs.
    pub async fn offsets(&self, name: &str) -> WorkerResult<Vec<(Value, Value)>> {
        let config = self.with_entry(name, |e| e.config.clone()).await?;
        let Some(source) = self.registry.source_of(&config) else {
            return Ok(vec![]);
        };
        if let Some(cluster) = &self.cluster {
            return Ok(read_offsets(cluster.as_ref(), name).await?);
        }
        Ok(match self.store.offset(name)? {
            Some(o) => source.offsets(&config, &o),
            None => vec![],
        })
    }

    async fn require_stopped(&self, name: &str) -> WorkerResult<ConnectorConfig> {
        let (target, config) = self
            .with_entry(name, |e| (e.target, e.config.clone()))
            .await?;
        if target != TargetState::Stopped {
            return Err(WorkerError::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. \
                 This can be done for the specified connector by issuing a 'PUT' request to the \
                 '/connectors/{name}/stop' endpoint"
            )));
        }
        Ok(config)
    }

    /// `PATCH /connectors/{name}/offsets`: only while STOPPED.
    pub async fn alter_offsets(&self, name: &str, items: &[(Value, Value)]) -> WorkerResult<()> {
        let config = self.require_stopped(name).await?;
        let source = self.registry.source_of(&config).ok_or_else(|| {
            WorkerError::BadRequest(format!(
                "connector {name} has no connector class of this build"
            ))
        })?;
        let offset = source.alter_offsets(&config, items)?;
        if let Some(cluster) = &self.cluster {
            let items = offset.map(|o| source.offsets(&config, &o));
            return self.publish_offsets(cluster, name, items).await;
        }
        self.store.replace_offset(name, offset.as_ref())?;
        Ok(())
    }

    /// `DELETE /connectors/{name}/offsets`: only while STOPPED.
    pub async fn reset_offsets(&self, name: &str) -> WorkerResult<()> {
        let config = self.require_stopped(name).await?;
        if let Some(source) = self.registry.source_of(&config)
            && !source.resettable()
        {
            return Err(WorkerError::BadRequest(
                "resetting a sink connector's offsets (its consumer group's) is not supported by \
                 runnel yet; delete the consumer group connect-<name> with kafka-consumer-groups.sh \
                 while the connector is stopped"
                    .into(),
            ));
        }
        if let Some(cluster) = &self.cluster {
            return self.publish_offsets(cluster, name, None).await;
        }
        self.store.replace_offset(name, None)?;
        Ok(())
    }

    /// Runs every source's watch each `interval`, over its connectors whatever their state,
    /// until the worker is gone: warnings go to the status, stop requests are carried out.
    pub fn spawn_watches(self: &Arc<Self>, interval: Duration) -> JoinHandle<()> {
        let worker = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(w) = worker.upgrade() else { return };
                for (entry, watch) in w.registry.watches() {
                    let watched = w
                        .watched(|c| {
                            w.registry
                                .source_of(c)
                                .is_some_and(|s| Arc::ptr_eq(&s, &entry))
                        })
                        .await;
                    if watched.is_empty() {
                        continue;
                    }
                    for outcome in watch.check(watched).await {
                        w.apply(outcome).await;
                    }
                }
            }
        })
    }

    /// The connectors `matches` selects, with their secrets resolved.
    async fn watched(&self, matches: impl Fn(&ConnectorConfig) -> bool) -> Vec<Watched> {
        let mut map = self.connectors.lock().await;
        map.values_mut()
            .filter(|e| matches(&e.config))
            // In a group, each worker watches what it runs.
            .filter(|e| self.cluster.as_ref().is_none_or(|c| c.owns(&e.config.name)))
            .filter_map(|e| {
                if e.resolved.is_none() {
                    e.resolved = self.providers.resolve(&e.config).ok();
                }
                Some(Watched {
                    connector: e.config.name.clone(),
                    config: e.resolved.clone()?,
                    stats: e.metrics.source.clone(),
                })
            })
            .collect()
    }

    async fn apply(&self, outcome: WatchOutcome) {
        match outcome {
            WatchOutcome::Warning { connector, warning } => {
                let map = self.connectors.lock().await;
                let Some(entry) = map.get(&connector) else {
                    return;
                };
                if entry.metrics.set_warning(warning.clone()) {
                    match warning {
                        Some(w) => tracing::warn!(connector = %connector, "{w}"),
                        None => tracing::info!(connector = %connector, "warning cleared"),
                    }
                }
            }
            WatchOutcome::Server { server, report } => {
                let mut servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
                servers.insert(server, (crate::metrics::now_ms(), report));
            }
            WatchOutcome::Stop { connector, finish } => {
                let mut map = self.connectors.lock().await;
                let Some(entry) = map.get_mut(&connector) else {
                    return;
                };
                Self::stop_task(entry).await;
                let trace = finish.await;
                tracing::error!(connector = %connector, "{trace}");
                let _ = self
                    .store
                    .set_status(&connector, State::Failed, Some(&trace));
                entry.start_error = Some(trace);
            }
        }
    }

    /// Stops every task (the worker is shutting down); target states stay as they are.
    pub async fn shutdown(&self) {
        let mut map = self.connectors.lock().await;
        let mut stopping = Vec::new();
        // Signal every task first, so they all stop at once, then wait for each.
        for entry in map.values_mut() {
            if let Some(task) = entry.task.take() {
                let _ = task.stop.send(true);
                stopping.push((task.handle, entry.config.name.clone()));
            }
        }
        for (handle, name) in stopping {
            join_or_abort(handle, &name).await;
        }
    }
}
