//! The worker: many connectors in one process, each its own supervised task, managed the way
//! Kafka Connect manages them (create, reconfigure, pause, resume, stop, restart, delete, offsets)
//! with configs, target states, offsets and status in the embedded state store, so a restarted
//! worker picks up where it was. One connector failing, being added or being removed never
//! touches another.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use runnel_core::config::{ConfigSpec, ConnectorConfig};
use runnel_core::{Error, SourceOffset};
use serde_json::{Map, Value, json};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

use crate::config_providers::ConfigProviders;
use crate::metrics::ConnectorMetrics;
use crate::pipeline::{WorkerSettings, prepare, supervise};
use crate::slot_monitor::{self, DropRequest, SlotWatch};
use crate::state::StateStore;

/// Errors of worker operations, one per HTTP status Kafka Connect answers with.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("Connector {0} not found")]
    NotFound(String),
    #[error("Connector {0} already exists")]
    AlreadyExists(String),
    /// A request Kafka Connect rejects with 400 (invalid config, wrong state, bad body).
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Internal(String),
}

impl From<Error> for WorkerError {
    fn from(e: Error) -> Self {
        WorkerError::Internal(e.message().to_string())
    }
}

pub type WorkerResult<T> = std::result::Result<T, WorkerError>;

/// Kafka Connect's target states: what the user asked for, kept across restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    Started,
    Paused,
    Stopped,
}

impl TargetState {
    fn as_str(self) -> &'static str {
        match self {
            TargetState::Started => "STARTED",
            TargetState::Paused => "PAUSED",
            TargetState::Stopped => "STOPPED",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "STARTED" => Some(TargetState::Started),
            "PAUSED" => Some(TargetState::Paused),
            "STOPPED" => Some(TargetState::Stopped),
            _ => None,
        }
    }

    /// `initial_state` of `POST /connectors` (KIP-980).
    pub fn from_initial_state(s: &str) -> WorkerResult<Self> {
        match s.to_ascii_uppercase().as_str() {
            "RUNNING" => Ok(TargetState::Started),
            "PAUSED" => Ok(TargetState::Paused),
            "STOPPED" => Ok(TargetState::Stopped),
            _ => Err(WorkerError::BadRequest(format!(
                "Invalid initial state \"{s}\": expected RUNNING, PAUSED or STOPPED"
            ))),
        }
    }
}

/// A connector class this build can run.
pub struct Plugin {
    pub class: &'static str,
    /// `source` or `sink`.
    pub kind: &'static str,
    pub spec: ConfigSpec,
}

/// The connector classes of this build, for `/connector-plugins`.
pub fn plugins() -> Vec<Plugin> {
    // Only pushed to when the kafka feature is on.
    #[allow(unused_mut)]
    let mut v = vec![Plugin {
        class: runnel_postgres::source::config::CONNECTOR_CLASS,
        kind: "source",
        spec: runnel_postgres::source::config::spec(),
    }];
    #[cfg(feature = "kafka")]
    v.push(Plugin {
        class: crate::sink_connector::FILE_SINK_CLASS,
        kind: "sink",
        spec: crate::sink_connector::spec(),
    });
    v
}

/// The plugin a `connector.class` names: the full class name or its simple name, as Kafka
/// Connect accepts (`PostgresConnector`, `PostgresConnector`'s alias `Postgres`).
pub fn plugin_for(class: &str) -> Option<Plugin> {
    plugins().into_iter().find(|p| {
        let simple = p.class.rsplit('.').next().unwrap_or(p.class);
        class == p.class || class == simple || Some(class) == simple.strip_suffix("Connector")
    })
}

struct Entry {
    /// As the user wrote it: placeholders unresolved.
    config: ConnectorConfig,
    target: TargetState,
    kind: &'static str,
    task: Option<Task>,
    /// Why the connector could not start (invalid config, unresolvable secret): connector
    /// state FAILED with this trace.
    start_error: Option<String>,
    metrics: Arc<ConnectorMetrics>,
}

impl Entry {
    /// A connector not started yet.
    fn new(config: ConnectorConfig, target: TargetState) -> Self {
        Self {
            kind: kind_of(&config),
            config,
            target,
            task: None,
            start_error: None,
            metrics: Arc::default(),
        }
    }
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
    providers: ConfigProviders,
    worker_id: String,
    connectors: Mutex<BTreeMap<String, Entry>>,
}

impl Worker {
    /// Opens the worker on `store` and starts every connector whose target state is STARTED.
    pub async fn open(
        store: StateStore,
        settings: WorkerSettings,
        providers: ConfigProviders,
        worker_id: String,
    ) -> WorkerResult<Arc<Self>> {
        let worker = Arc::new(Self {
            store,
            settings,
            providers,
            worker_id,
            connectors: Mutex::new(BTreeMap::new()),
        });
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
            let target = worker
                .store
                .target(&name)?
                .and_then(|t| TargetState::parse(&t))
                .unwrap_or(TargetState::Started);
            let mut entry = Entry::new(config, target);
            if target == TargetState::Started {
                worker.start_task(&mut entry);
            }
            map.insert(name, entry);
        }
        drop(map);
        Ok(worker)
    }

    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    pub fn store(&self) -> &StateStore {
        &self.store
    }

    pub fn providers(&self) -> &ConfigProviders {
        &self.providers
    }

    pub fn settings(&self) -> &WorkerSettings {
        &self.settings
    }

    /// Validates `config` as starting it would, without resolving secrets (so a placeholder
    /// is checked as written, and a secret never ends up in an error message).
    fn validate(&self, config: &ConnectorConfig) -> WorkerResult<()> {
        if plugin_for(config.get("connector.class").unwrap_or_default()).is_none() {
            return Err(WorkerError::BadRequest(format!(
                "Connector configuration is invalid and contains the following 1 error(s):\n\
                 connector.class: {}\n\
                 You can also find the above list of errors at the endpoint \
                 `/connector-plugins/{{connectorType}}/config/validate`",
                match config.get("connector.class") {
                    Some(c) => format!(
                        "no connector class \"{c}\" in this build; GET /connector-plugins lists them"
                    ),
                    None => "missing: set \"connector.class\"".into(),
                }
            )));
        }
        if ConfigProviders::has_placeholders(config) {
            return Ok(());
        }
        prepare(config.clone(), &self.settings).map(drop).map_err(|e| {
            let lines: Vec<&str> = e.message().lines().collect();
            WorkerError::BadRequest(format!(
                "Connector configuration is invalid and contains the following {} error(s):\n{}\n\
                 You can also find the above list of errors at the endpoint \
                 `/connector-plugins/{{connectorType}}/config/validate`",
                lines.len(),
                lines.join("\n")
            ))
        })
    }

    /// Starts the connector's task (resolving secrets now). A config that cannot start marks
    /// the connector FAILED with the reason; nothing else is touched.
    fn start_task(&self, entry: &mut Entry) {
        entry.start_error = None;
        let name = entry.config.name.clone();
        let prepared = self
            .providers
            .resolve(&entry.config)
            .and_then(|c| prepare(c, &self.settings));
        let prepared = match prepared {
            Ok(p) => Arc::new(p),
            Err(e) => {
                tracing::error!(connector = %name, "cannot start: {}", e.message());
                entry.start_error = Some(e.message().to_string());
                let _ = self.store.set_status(&name, "FAILED", Some(e.message()));
                return;
            }
        };
        let (stop, stop_rx) = watch::channel(false);
        let store = self.store.clone();
        let metrics = entry.metrics.clone();
        let handle = tokio::spawn(async move {
            if let Err(e) = supervise(prepared, store, stop_rx, metrics).await {
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
        let mut config: Map<String, Value> = entry
            .config
            .props
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        config.insert("name".into(), Value::String(entry.config.name.clone()));
        let text = json!({"name": entry.config.name, "config": config}).to_string();
        self.store.save_config(&entry.config.name, &text)?;
        self.store
            .set_target(&entry.config.name, entry.target.as_str())?;
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
    ) -> WorkerResult<Value> {
        let mut map = self.connectors.lock().await;
        if map.contains_key(&config.name) {
            return Err(WorkerError::AlreadyExists(config.name));
        }
        self.validate(&config)?;
        let mut entry = Entry::new(config, target);
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
    pub async fn put_config(&self, config: ConnectorConfig) -> WorkerResult<(bool, Value)> {
        let mut map = self.connectors.lock().await;
        self.validate(&config)?;
        let name = config.name.clone();
        let created = !map.contains_key(&name);
        let entry = map
            .entry(name)
            .or_insert_with(|| Entry::new(config.clone(), TargetState::Started));
        Self::stop_task(entry).await;
        entry.kind = kind_of(&config);
        entry.config = config;
        self.save(entry)?;
        if entry.target == TargetState::Started {
            self.start_task(entry);
        }
        Ok((created, self.info_of(entry)))
    }

    /// `PATCH /connectors/{name}/config` (KIP-477): keys with null values are removed.
    pub async fn patch_config(&self, name: &str, patch: Map<String, Value>) -> WorkerResult<Value> {
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
                self.store.set_status(name, target.as_str(), None)?;
            }
        }
        Ok(())
    }

    /// `POST /connectors/{name}/restart` and `.../tasks/0/restart`. With `only_failed`, a
    /// connector that has not failed is left alone. Returns false if nothing was restarted.
    pub async fn restart(&self, name: &str, only_failed: bool) -> WorkerResult<bool> {
        let mut map = self.connectors.lock().await;
        let entry = map
            .get_mut(name)
            .ok_or_else(|| WorkerError::NotFound(name.into()))?;
        if entry.target != TargetState::Started {
            return Ok(false);
        }
        let failed = entry.start_error.is_some() || self.task_state(entry).0 == "FAILED";
        if only_failed && !failed {
            return Ok(false);
        }
        Self::stop_task(entry).await;
        self.start_task(entry);
        Ok(true)
    }

    fn task_state(&self, entry: &Entry) -> (String, Option<String>) {
        match entry.target {
            TargetState::Paused => return ("PAUSED".into(), None),
            TargetState::Stopped => return ("STOPPED".into(), None),
            TargetState::Started => {}
        }
        let stored = self.store.status(&entry.config.name).ok().flatten();
        let task_done = entry.task.as_ref().is_none_or(|t| t.handle.is_finished());
        match stored {
            Some((state, trace)) if state == "FAILED" => ("FAILED".into(), trace),
            Some((state, trace)) if state == "RESTARTING" => ("RESTARTING".into(), trace),
            // A task that ended by itself (snapshot.mode=initial_only) is done: Kafka Connect
            // has no such state; UNASSIGNED is the closest it reports for a task not running.
            _ if task_done => ("UNASSIGNED".into(), None),
            _ => ("RUNNING".into(), None),
        }
    }

    fn info_of(&self, entry: &Entry) -> Value {
        let mut config = props_json(&entry.config);
        config.insert("name".into(), Value::String(entry.config.name.clone()));
        let tasks = if entry.target == TargetState::Stopped {
            vec![]
        } else {
            vec![json!({"connector": entry.config.name, "task": 0})]
        };
        json!({"name": entry.config.name, "config": config, "tasks": tasks, "type": entry.kind})
    }

    fn status_of(&self, entry: &Entry) -> Value {
        let name = &entry.config.name;
        let id = &self.worker_id;
        if let Some(trace) = &entry.start_error {
            return json!({"name": name,
                "connector": {"state": "FAILED", "worker_id": id, "trace": trace},
                "tasks": [], "type": entry.kind});
        }
        let connector_state = match entry.target {
            TargetState::Started => "RUNNING",
            TargetState::Paused => "PAUSED",
            TargetState::Stopped => "STOPPED",
        };
        let tasks = if entry.target == TargetState::Stopped {
            vec![]
        } else {
            let (state, trace) = self.task_state(entry);
            let mut t = json!({"id": 0, "state": state, "worker_id": id});
            if let Some(trace) = trace {
                t["trace"] = Value::String(trace);
            }
            vec![t]
        };
        let mut connector = json!({"state": connector_state, "worker_id": id});
        // runnel only: a warning that does not stop the connector (its slot holds too much WAL).
        if let Some(warning) = entry.metrics.slot_warning() {
            connector["warning"] = Value::String(warning);
        }
        json!({"name": name, "connector": connector, "tasks": tasks, "type": entry.kind})
    }

    async fn with_entry<T>(&self, name: &str, f: impl FnOnce(&Entry) -> T) -> WorkerResult<T> {
        let map = self.connectors.lock().await;
        map.get(name)
            .map(f)
            .ok_or_else(|| WorkerError::NotFound(name.into()))
    }

    pub async fn info(&self, name: &str) -> WorkerResult<Value> {
        self.with_entry(name, |e| self.info_of(e)).await
    }

    pub async fn status(&self, name: &str) -> WorkerResult<Value> {
        self.with_entry(name, |e| self.status_of(e)).await
    }

    /// The config as stored: placeholders, not secrets.
    pub async fn config(&self, name: &str) -> WorkerResult<Value> {
        self.with_entry(name, |e| {
            let mut c = props_json(&e.config);
            c.insert("name".into(), Value::String(e.config.name.clone()));
            Value::Object(c)
        })
        .await
    }

    /// `GET /connectors/{name}/tasks`: the one task and its config.
    pub async fn tasks(&self, name: &str) -> WorkerResult<Value> {
        self.with_entry(name, |e| {
            if e.target == TargetState::Stopped {
                return json!([]);
            }
            let mut c = props_json(&e.config);
            c.insert("name".into(), Value::String(e.config.name.clone()));
            json!([{"id": {"connector": e.config.name, "task": 0}, "config": c}])
        })
        .await
    }

    pub async fn task_status(&self, name: &str, task: u32) -> WorkerResult<Value> {
        let status = self.status(name).await?;
        status["tasks"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["id"] == task))
            .cloned()
            .ok_or_else(|| WorkerError::NotFound(format!("{name} task {task}")))
    }

    pub async fn topics(&self, name: &str) -> WorkerResult<Vec<String>> {
        self.with_entry(name, |e| e.metrics.topics()).await
    }

    pub async fn reset_topics(&self, name: &str) -> WorkerResult<()> {
        self.with_entry(name, |e| e.metrics.reset_topics()).await
    }

    /// Every connector's metrics, for `/metrics`.
    pub async fn metrics(&self) -> Vec<(String, &'static str, String, Arc<ConnectorMetrics>)> {
        let map = self.connectors.lock().await;
        map.values()
            .map(|e| {
                // The task's state, or the connector's when it has no task (STOPPED, or
                // FAILED before it could start).
                let status = self.status_of(e);
                let state = status["tasks"][0]["state"]
                    .as_str()
                    .or(status["connector"]["state"].as_str())
                    .unwrap_or("UNASSIGNED")
                    .to_string();
                (e.config.name.clone(), e.kind, state, e.metrics.clone())
            })
            .collect()
    }

    /// The source partition Debezium keys a PostgreSQL connector's offsets by.
    fn partition_of(entry: &Entry) -> Value {
        json!({"server": entry.config.get("topic.prefix").unwrap_or(&entry.config.name)})
    }

    /// `GET /connectors/{name}/offsets` (KIP-875).
    pub async fn offsets(&self, name: &str) -> WorkerResult<Value> {
        let partition = self.with_entry(name, Self::partition_of).await?;
        let offsets = match self.store.offset(name)? {
            Some(o) => vec![json!({"partition": partition, "offset": Value::Object(o.0)})],
            None => vec![],
        };
        Ok(json!({"offsets": offsets}))
    }

    async fn require_stopped(&self, name: &str) -> WorkerResult<Value> {
        let (target, partition) = self
            .with_entry(name, |e| (e.target, Self::partition_of(e)))
            .await?;
        if target != TargetState::Stopped {
            return Err(WorkerError::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. \
                 This can be done for the specified connector by issuing a 'PUT' request to the \
                 '/connectors/{name}/stop' endpoint"
            )));
        }
        Ok(partition)
    }

    /// `PATCH /connectors/{name}/offsets`: only while STOPPED.
    pub async fn alter_offsets(&self, name: &str, body: &Value) -> WorkerResult<()> {
        let partition = self.require_stopped(name).await?;
        let list = body["offsets"].as_array().ok_or_else(|| {
            WorkerError::BadRequest(
                "expected {\"offsets\": [{\"partition\": {...}, \"offset\": {...}}]}".into(),
            )
        })?;
        for item in list {
            if item["partition"] != partition {
                return Err(WorkerError::BadRequest(format!(
                    "unknown source partition {}: this connector's partition is {partition}",
                    item["partition"]
                )));
            }
            match &item["offset"] {
                Value::Null => self.store.delete_offset(name)?,
                Value::Object(o) => {
                    if !o.get("lsn").is_some_and(Value::is_u64) {
                        return Err(WorkerError::BadRequest(
                            "the offset needs \"lsn\" as a number (the WAL position to resume after)"
                                .into(),
                        ));
                    }
                    self.store.save_offset(name, &SourceOffset(o.clone()))?;
                }
                _ => {
                    return Err(WorkerError::BadRequest(
                        "\"offset\" must be an object or null".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// `DELETE /connectors/{name}/offsets`: only while STOPPED.
    pub async fn reset_offsets(&self, name: &str) -> WorkerResult<()> {
        self.require_stopped(name).await?;
        self.store.delete_offset(name)?;
        Ok(())
    }

    /// The replication slots of the PostgreSQL source connectors, running or not.
    pub async fn slot_watches(&self) -> Vec<SlotWatch> {
        let map = self.connectors.lock().await;
        map.values()
            .filter(|e| e.kind == "source")
            .filter_map(|e| {
                let resolved = self.providers.resolve(&e.config).ok()?;
                let pg = runnel_postgres::PostgresConfig::from_connector(&resolved).ok()?;
                Some(SlotWatch {
                    connector: e.config.name.clone(),
                    pg,
                    metrics: e.metrics.clone(),
                })
            })
            .collect()
    }

    /// Checks the slots every `interval` until the worker stops; applies the drop policy.
    pub fn spawn_slot_monitor(self: &Arc<Self>, interval: Duration) -> JoinHandle<()> {
        let worker = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(w) = worker.upgrade() else { return };
                let watches = w.slot_watches().await;
                for request in slot_monitor::check(&watches).await {
                    w.drop_slot(&request, &watches).await;
                }
            }
        })
    }

    /// `slot.retained.wal.policy=drop`: stop the connector, drop its slot, and leave it FAILED
    /// with what happened and how to start again.
    async fn drop_slot(&self, request: &DropRequest, watches: &[SlotWatch]) {
        let Some(watch) = watches.iter().find(|w| w.connector == request.connector) else {
            return;
        };
        let mut map = self.connectors.lock().await;
        let Some(entry) = map.get_mut(&request.connector) else {
            return;
        };
        Self::stop_task(entry).await;
        let name = &request.connector;
        let outcome = match slot_monitor::drop_slot(&watch.pg).await {
            Ok(()) => format!(
                "{}. The slot was dropped (slot.retained.wal.policy=drop) and the connector \
                 stopped: changes since its last offset are no longer available. To stream \
                 again with a new snapshot: PUT /connectors/{name}/stop, DELETE \
                 /connectors/{name}/offsets, PUT /connectors/{name}/resume",
                request.message
            ),
            Err(e) => format!(
                "{}. The connector was stopped to drop the slot, but dropping it failed: {}",
                request.message,
                e.message()
            ),
        };
        tracing::error!(connector = %name, "{outcome}");
        let _ = self.store.set_status(name, "FAILED", Some(&outcome));
        entry.start_error = Some(outcome);
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

fn kind_of(config: &ConnectorConfig) -> &'static str {
    plugin_for(config.get("connector.class").unwrap_or_default())
        .map(|p| p.kind)
        .unwrap_or("unknown")
}

fn props_json(config: &ConnectorConfig) -> Map<String, Value> {
    config
        .props
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}
