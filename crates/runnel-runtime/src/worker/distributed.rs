//! The worker in a group of workers (distributed mode). Every worker holds every connector's
//! config, read from the group's config topic in its one order; a REST write on any worker is
//! appended there and answered once read back. Only the worker the group gives a connector to
//! runs it: before it starts, it reads the connector's offset from the offset topic; while it
//! runs, each offset made durable is published there; its status goes to the status topic,
//! from which the other workers answer status requests.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use runnel_core::SourceOffset;
use runnel_core::config::ConnectorConfig;
use serde_json::Value;
use tokio::task::JoinHandle;

use super::{ConnectorStatus, Entry, StateInfo, Worker, WorkerError, WorkerResult};
use crate::cluster::{Cluster, InternalTopic};
use crate::config_providers::ConfigProviders;
use crate::connect_records::{self as records, ConfigRecord, ConnectRecord, StatusRecord};
use crate::registry::Registry;
use crate::state::StateStore;
use crate::status::{State, TargetState};

/// The offset topic's key prefix of a connector's records: `["<name>",`.
fn offset_prefix(name: &str) -> Vec<u8> {
    let mut prefix = b"[".to_vec();
    prefix.extend(serde_json::to_vec(name).unwrap_or_default());
    prefix.push(b',');
    prefix
}

/// A connector's (partition, offset) pairs as the offset topic holds them now.
pub(super) async fn read_offsets(
    cluster: &dyn Cluster,
    name: &str,
) -> runnel_core::Result<Vec<(Value, Value)>> {
    let records = cluster
        .read(InternalTopic::Offset, offset_prefix(name))
        .await?;
    Ok(records
        .into_iter()
        .filter_map(|(key, value)| {
            let (connector, partition) = records::parse_offset_key(&key)?;
            let offset = serde_json::from_slice(&value).ok()?;
            (connector == name).then_some((partition, offset))
        })
        .collect())
}

/// A connector's offset as the offset topic's records (one per source partition).
pub(super) fn offset_records(
    registry: &Registry,
    config: &ConnectorConfig,
    offset: &SourceOffset,
) -> Vec<ConnectRecord> {
    let Some(source) = registry.source_of(config) else {
        return vec![];
    };
    source
        .offsets(config, offset)
        .iter()
        .map(|(partition, value)| records::offset(&config.name, partition, Some(value)))
        .collect()
}

fn with_name(config: &ConnectorConfig) -> BTreeMap<String, String> {
    let mut props = config.props.clone();
    props.insert("name".into(), config.name.clone());
    props
}

impl Worker {
    /// A worker in a group: nothing is loaded from `store` (the config topic is the truth;
    /// `store` keeps what this worker runs: offsets, statuses, schema histories). The caller
    /// feeds it the config topic (`apply_config`) and the group's assignments (`reconcile`).
    pub async fn open_in_cluster(
        store: StateStore,
        settings: super::WorkerSettings,
        providers: ConfigProviders,
        registry: Arc<Registry>,
        worker_id: String,
        cluster: Arc<dyn Cluster>,
    ) -> Arc<Self> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<(String, SourceOffset)>();
        store.set_offset_listener(Box::new(move |name, offset| {
            let _ = tx.send((name.to_string(), offset.clone()));
        }));
        let worker = Arc::new(Self::new(
            store,
            settings,
            providers,
            registry,
            worker_id,
            Some(cluster),
        ));
        worker.spawn_offset_publisher(rx);
        worker
    }

    /// Publishes each offset made durable here to the offset topic, newest per connector
    /// (many commits in a burst are one record each), and only while this worker still owns
    /// the connector: one that lost it must not move its offset.
    fn spawn_offset_publisher(
        self: &Arc<Self>,
        mut rx: tokio::sync::mpsc::UnboundedReceiver<(String, SourceOffset)>,
    ) {
        let worker = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut waiting: BTreeMap<String, SourceOffset> = BTreeMap::new();
            loop {
                if waiting.is_empty() {
                    match rx.recv().await {
                        Some((name, offset)) => {
                            waiting.insert(name, offset);
                        }
                        None => return,
                    }
                }
                while let Ok((name, offset)) = rx.try_recv() {
                    waiting.insert(name, offset);
                }
                let Some(w) = worker.upgrade() else { return };
                let Some(cluster) = w.cluster.clone() else {
                    return;
                };
                let records = w.offset_records(cluster.as_ref(), &waiting).await;
                match cluster.append(InternalTopic::Offset, records).await {
                    Ok(()) => waiting.clear(),
                    Err(e) => {
                        tracing::warn!("publishing offsets to the offset topic (retrying): {e}");
                        drop(w);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
    }

    async fn offset_records(
        &self,
        cluster: &dyn Cluster,
        offsets: &BTreeMap<String, SourceOffset>,
    ) -> Vec<ConnectRecord> {
        let map = self.connectors.lock().await;
        let mut out = Vec::new();
        for (name, offset) in offsets {
            let Some(entry) = map.get(name) else { continue };
            // A transactional connector's offsets went with its records, in its transactions.
            if !cluster.owns(name) || entry.transactional {
                continue;
            }
            out.extend(self.offset_records_of(entry, offset));
        }
        out
    }

    /// A connector's offset as the offset topic's records (one per source partition).
    fn offset_records_of(&self, entry: &Entry, offset: &SourceOffset) -> Vec<ConnectRecord> {
        offset_records(&self.registry, &entry.config, offset)
    }

    /// A connector's status records (the connector's, and its task's when it has one) as
    /// this worker reports them.
    fn status_records(
        &self,
        name: &str,
        connector: (State, Option<&str>),
        task: Option<(State, Option<&str>)>,
        generation: i32,
    ) -> Vec<ConnectRecord> {
        let record = |task, (state, trace)| {
            records::status(&StatusRecord {
                connector: name,
                task,
                state,
                trace,
                worker_id: &self.worker_id,
                generation,
                version: None,
            })
        };
        let mut out = vec![record(None, connector)];
        out.extend(task.map(|t| record(Some(0), t)));
        out
    }

    /// Applies one config-topic record, in topic order (every worker applies the same).
    pub async fn apply_config(&self, record: ConfigRecord) {
        match record {
            ConfigRecord::Connector {
                name,
                props: Some(mut props),
            } => {
                props.remove("name");
                let config = ConnectorConfig {
                    name: name.clone(),
                    props,
                };
                let mut map = self.connectors.lock().await;
                match map.get_mut(&name) {
                    Some(entry) if entry.config.props == config.props => return,
                    Some(entry) => {
                        Self::stop_task(entry).await;
                        entry.kind = self.kind_of(&config);
                        entry.config = config;
                        entry.resolved = None;
                        entry.start_error = None;
                    }
                    None => {
                        let target = self
                            .pending_targets
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&name)
                            .unwrap_or(TargetState::Started);
                        map.insert(name.clone(), self.entry(config, target));
                    }
                }
                if let Some(entry) = map.get_mut(&name) {
                    if let Err(e) = self.save(entry) {
                        tracing::warn!(connector = %name, "keeping the config locally: {e}");
                    }
                    self.run_if_owned(entry).await;
                }
            }
            ConfigRecord::Connector { name, props: None } => {
                let removed = self.connectors.lock().await.remove(&name);
                if let Some(mut entry) = removed {
                    Self::stop_task(&mut entry).await;
                }
                let _ = self.store.delete_connector(&name);
            }
            ConfigRecord::TargetState {
                name,
                target: Some(target),
            } => {
                let mut map = self.connectors.lock().await;
                let Some(entry) = map.get_mut(&name) else {
                    self.pending_targets
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(name, target);
                    return;
                };
                entry.target = target;
                let _ = self.store.set_target(&name, target);
                if target == TargetState::Stopped {
                    // Offsets may be changed while stopped: read them again at the next start.
                    entry.adopted = false;
                }
                self.run_if_owned(entry).await;
            }
            ConfigRecord::Restart {
                name,
                include_tasks,
                only_failed,
            } => {
                let mut map = self.connectors.lock().await;
                let Some(entry) = map.get_mut(&name) else {
                    return;
                };
                let owned = self.cluster.as_ref().is_some_and(|c| c.owns(&name));
                if !owned || !self.restart_plan(entry, include_tasks, only_failed).0 {
                    return;
                }
                let _ = self.store.set_status(&name, State::Restarting, None);
                Self::stop_task(entry).await;
                self.run_if_owned(entry).await;
            }
            _ => {}
        }
    }

    /// Starts or stops each connector as the group's assignment and its target state say:
    /// called after every change of what this worker owns (before a revocation completes).
    /// With `hand_over`, the released connectors' last durable offsets are in the offset
    /// topic before this returns, so their next owner starts exactly there; without it (the
    /// work was lost: another worker may run it already) this worker writes nothing more.
    pub async fn reconcile(&self, hand_over: bool) {
        let mut map = self.connectors.lock().await;
        // Stop first, all at once, so released work is free for its next owner soonest.
        let mut stopping = Vec::new();
        for entry in map.values_mut() {
            if !self.owns(&entry.config.name) {
                entry.adopted = false;
                if let Some(task) = entry.task.take() {
                    let _ = task.stop.send(true);
                    stopping.push((task.handle, entry.config.name.clone()));
                }
            }
        }
        let released: Vec<String> = stopping.iter().map(|(_, n)| n.clone()).collect();
        for (handle, name) in stopping {
            super::join_or_abort(handle, &name).await;
        }
        if hand_over && !released.is_empty() {
            let mut out = Vec::new();
            for name in &released {
                if let (Some(entry), Ok(Some(offset))) = (map.get(name), self.store.offset(name))
                    && !entry.transactional
                {
                    out.extend(self.offset_records_of(entry, &offset));
                }
            }
            if let Some(cluster) = &self.cluster {
                if let Err(e) = cluster.append(InternalTopic::Offset, out).await {
                    tracing::warn!(
                        "handing over offsets: {e}; the next owner may repeat some changes"
                    );
                }
                // Not running here any more, as Kafka Connect reports a released task.
                let generation = cluster.generation();
                let unassigned = (State::Unassigned, None);
                let statuses = released
                    .iter()
                    .flat_map(|name| {
                        self.status_records(name, unassigned, Some(unassigned), generation)
                    })
                    .collect();
                if let Err(e) = cluster.append(InternalTopic::Status, statuses).await {
                    tracing::warn!("publishing released connectors' statuses: {e}");
                }
            }
        }
        for entry in map.values_mut() {
            self.run_if_owned(entry).await;
        }
    }

    fn owns(&self, name: &str) -> bool {
        self.cluster.as_ref().is_some_and(|c| c.owns(name))
    }

    /// Runs the connector here if the group gave it to this worker and its target is
    /// STARTED; stops it otherwise.
    async fn run_if_owned(&self, entry: &mut Entry) {
        let name = entry.config.name.clone();
        if !self.owns(&name) {
            entry.adopted = false;
            Self::stop_task(entry).await;
            return;
        }
        match entry.target {
            TargetState::Started => {
                if entry.task.is_some() {
                    return;
                }
                if !entry.adopted {
                    // Exactly once: fence whoever ran it before (a worker the group gave up on
                    // may still be writing) before reading the offset it committed last.
                    entry.transactional =
                        self.registry.is_transactional(&entry.config, &self.context);
                    if let (true, Some(cluster), Some(eos)) = (
                        entry.transactional,
                        &self.cluster,
                        &self.context.exactly_once,
                    ) {
                        let id = eos.transactional_id(&name);
                        if let Err(e) = cluster.fence(id.clone()).await {
                            let trace =
                                format!("cannot fence the connector's earlier producers: {e}");
                            tracing::error!(connector = %name, "{trace}");
                            entry.start_error = Some(trace);
                            return;
                        }
                        tracing::info!(connector = %name, transactional_id = %id, "fenced the connector's earlier producers");
                    }
                    match self.adopt_offset(&entry.config).await {
                        Ok(()) => entry.adopted = true,
                        Err(e) => {
                            let trace = format!(
                                "cannot read the connector's offset from the offset topic: {e}"
                            );
                            tracing::error!(connector = %name, "{trace}");
                            entry.start_error = Some(trace);
                            return;
                        }
                    }
                }
                self.start_task(entry);
            }
            TargetState::Paused | TargetState::Stopped => {
                Self::stop_task(entry).await;
                let _ = self.store.set_status(&name, entry.target.state(), None);
            }
        }
    }

    /// Makes the local store hold the offset the offset topic has for the connector.
    async fn adopt_offset(&self, config: &ConnectorConfig) -> runnel_core::Result<()> {
        let (Some(cluster), Some(source)) = (&self.cluster, self.registry.source_of(config)) else {
            return Ok(());
        };
        let items = read_offsets(cluster.as_ref(), &config.name).await?;
        let offset = if items.is_empty() {
            None
        } else {
            source.alter_offsets(config, &items)?
        };
        match offset {
            Some(o) => self.store.save_offset_here(&config.name, &o),
            None => self.store.delete_offset(&config.name),
        }
    }

    /// Publishes the status of every connector this worker runs whenever it changes, with
    /// this worker's id and generation, until the worker is gone.
    pub fn spawn_status_publisher(self: &Arc<Self>, interval: Duration) -> JoinHandle<()> {
        let worker = Arc::downgrade(self);
        tokio::spawn(async move {
            type Said = (State, Option<String>, Option<(State, Option<String>)>, i32);
            let mut said: BTreeMap<String, Said> = BTreeMap::new();
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(w) = worker.upgrade() else { return };
                let Some(cluster) = w.cluster.clone() else {
                    return;
                };
                let generation = cluster.generation();
                let mut out = Vec::new();
                {
                    let map = w.connectors.lock().await;
                    said.retain(|name, _| map.contains_key(name) && cluster.owns(name));
                    for entry in map.values() {
                        let name = &entry.config.name;
                        if !cluster.owns(name) {
                            continue;
                        }
                        let s = w.status_of(entry);
                        let task = s.tasks.first().map(|(_, t)| (t.state, t.trace.clone()));
                        let now: Said = (
                            s.connector.state,
                            s.connector.trace.clone(),
                            task.clone(),
                            generation,
                        );
                        // Said already, unless the topic now says another worker runs it (a
                        // worker the group gave up on, reporting late): say it again.
                        if said.get(name) == Some(&now)
                            && !w.reported_elsewhere(cluster.as_ref(), name)
                        {
                            continue;
                        }
                        out.extend(
                            w.status_records(
                                name,
                                (s.connector.state, s.connector.trace.as_deref()),
                                task.as_ref()
                                    .map(|(state, trace)| (*state, trace.as_deref())),
                                generation,
                            ),
                        );
                        said.insert(name.clone(), now);
                    }
                }
                if out.is_empty() {
                    continue;
                }
                if let Err(e) = cluster.append(InternalTopic::Status, out).await {
                    tracing::warn!("publishing statuses (retrying): {e}");
                    said.clear();
                }
            }
        })
    }

    /// Whether the status topic's latest word on `name` names another worker.
    fn reported_elsewhere(&self, cluster: &dyn Cluster, name: &str) -> bool {
        cluster
            .cached(InternalTopic::Status, &records::status_key(name, None))
            .and_then(|v| records::parse_status(&v))
            .is_some_and(|s| s.worker_id != self.worker_id)
    }

    /// The status of a connector another worker runs, as the status topic last said it.
    pub(super) fn remote_status(cluster: &dyn Cluster, entry: &Entry) -> ConnectorStatus {
        let name = &entry.config.name;
        let read = |task| {
            let said = cluster
                .cached(InternalTopic::Status, &records::status_key(name, task))
                .and_then(|v| records::parse_status(&v));
            match said {
                Some(s) => StateInfo {
                    state: s.state,
                    worker_id: s.worker_id,
                    trace: s.trace,
                    warning: None,
                },
                None => StateInfo {
                    state: State::Unassigned,
                    worker_id: String::new(),
                    trace: None,
                    warning: None,
                },
            }
        };
        let mut connector = read(None);
        let tasks = match entry.target {
            TargetState::Stopped => {
                connector.state = State::Stopped;
                vec![]
            }
            _ => vec![(0, read(Some(0)))],
        };
        ConnectorStatus {
            name: name.clone(),
            connector,
            tasks,
            kind: entry.kind,
        }
    }

    /// `POST /connectors` and `PUT …/config` in a group: the config (and a new connector's
    /// initial state, first, as Kafka Connect writes it) to the config topic.
    pub(super) async fn publish_config(
        &self,
        cluster: &Arc<dyn Cluster>,
        config: &ConnectorConfig,
        initial: Option<TargetState>,
    ) -> WorkerResult<()> {
        let props = with_name(config);
        let mut out = Vec::new();
        if let Some(target) = initial.filter(|t| *t != TargetState::Started) {
            out.push(records::target_state(&config.name, target));
        }
        out.push(records::connector_config(&config.name, &props));
        out.push(records::task_config(&config.name, 0, &props));
        out.push(records::tasks_commit(&config.name, 1));
        Ok(cluster.append(InternalTopic::Config, out).await?)
    }

    pub(super) async fn publish_delete(
        &self,
        cluster: &Arc<dyn Cluster>,
        name: &str,
    ) -> WorkerResult<()> {
        self.require_known(name).await?;
        let target = ConnectRecord {
            key: format!("target-state-{name}").into_bytes(),
            value: None,
        };
        Ok(cluster
            .append(
                InternalTopic::Config,
                vec![records::connector_deleted(name), target],
            )
            .await?)
    }

    pub(super) async fn publish_target(
        &self,
        cluster: &Arc<dyn Cluster>,
        name: &str,
        target: TargetState,
    ) -> WorkerResult<()> {
        self.require_known(name).await?;
        Ok(cluster
            .append(
                InternalTopic::Config,
                vec![records::target_state(name, target)],
            )
            .await?)
    }

    pub(super) async fn publish_restart(
        &self,
        cluster: &Arc<dyn Cluster>,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> WorkerResult<(bool, ConnectorStatus)> {
        let (restarting, plan) = self
            .with_entry(name, |e| self.restart_plan(e, include_tasks, only_failed))
            .await?;
        if restarting {
            cluster
                .append(
                    InternalTopic::Config,
                    vec![records::restart_request(name, include_tasks, only_failed)],
                )
                .await?;
        }
        Ok((restarting, plan))
    }

    /// Writes a stopped connector's new offsets (`None`: reset, a tombstone per partition).
    pub(super) async fn publish_offsets(
        &self,
        cluster: &Arc<dyn Cluster>,
        name: &str,
        items: Option<Vec<(Value, Value)>>,
    ) -> WorkerResult<()> {
        let out: Vec<ConnectRecord> = match items {
            Some(items) => items
                .iter()
                .map(|(p, o)| records::offset(name, p, Some(o)))
                .collect(),
            None => read_offsets(cluster.as_ref(), name)
                .await?
                .iter()
                .map(|(p, _)| records::offset(name, p, None))
                .collect(),
        };
        Ok(cluster.append(InternalTopic::Offset, out).await?)
    }

    async fn require_known(&self, name: &str) -> WorkerResult<()> {
        if self.connectors.lock().await.contains_key(name) {
            Ok(())
        } else {
            Err(WorkerError::NotFound(name.into()))
        }
    }
}
