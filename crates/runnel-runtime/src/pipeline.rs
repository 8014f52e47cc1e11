//! One connector's pipeline: source task → bounded queue → sink thread (encode once, write,
//! make durable) → offset committed to the state store → acknowledged to the source, which only
//! then tells the database it may recycle its log.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use runnel_core::config::{ConnectorConfig, parse_bool};
use runnel_core::encode::EncodedBatch;
use runnel_core::encode::json::{JsonEncoder, JsonOptions, SourceInfo};
use runnel_core::{Batch, Error, Result, SourceOffset};
use runnel_postgres::{PostgresConfig, PostgresSource, RunEnd, SourceContext};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, watch};

use crate::metrics::ConnectorMetrics;
use crate::sink::Sink;
use crate::state::StateStore;

const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";

/// Builds the JSON encoder the connector's converter settings ask for.
pub fn encoder_for(config: &ConnectorConfig, pg: &PostgresConfig) -> Result<JsonEncoder> {
    for side in ["key", "value"] {
        if let Some(class) = config.get(&format!("{side}.converter"))
            && class != JSON_CONVERTER
        {
            return Err(Error::config(format!(
                "{side}.converter \"{class}\" is not supported yet: runnel writes Kafka Connect JSON \
                 ({JSON_CONVERTER})"
            )));
        }
    }
    let schemas = |side: &str| -> Result<bool> {
        let key = format!("{side}.converter.schemas.enable");
        match config.get(&key) {
            None => Ok(true),
            Some(v) => parse_bool(v).ok_or_else(|| {
                Error::config(format!(
                    "invalid value \"{v}\" for \"{key}\": expected true or false"
                ))
            }),
        }
    };
    Ok(JsonEncoder::new(JsonOptions {
        key_schemas: schemas("key")?,
        value_schemas: schemas("value")?,
        tombstones_on_delete: pg.tombstones_on_delete,
        placeholder: Bytes::from(pg.placeholder.clone().into_bytes()),
        source: SourceInfo {
            connector: "postgresql",
            version: runnel_core::VERSION.into(),
            name: pg.topic_prefix.as_str().into(),
            db: pg.dbname.as_str().into(),
        },
        heartbeat_topic: format!("{}.{}", pg.heartbeat_topic_prefix, pg.topic_prefix).into(),
        message_topic: format!("{}.message", pg.topic_prefix).into(),
    }))
}

/// Batches submitted before the sink settles (bounds the work between two commits).
const GROUP_LIMIT: usize = 64;
/// How long the sink thread waits for acknowledgements when no new batch is queued.
const SETTLE_WAIT: Duration = Duration::from_millis(2);
/// How long a stopping connector waits for in-flight batches (Kafka Connect's default
/// task.shutdown.graceful.timeout.ms).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Commits the offsets of batches the sink made durable, oldest first.
struct Committer<'a> {
    store: &'a StateStore,
    name: &'a str,
    acked: &'a watch::Sender<Option<SourceOffset>>,
    metrics: &'a ConnectorMetrics,
    /// The offset (None: a batch without one) and record count of each submitted, not yet
    /// durable batch.
    pending: VecDeque<(Option<SourceOffset>, u64)>,
}

impl Committer<'_> {
    /// The oldest `durable` batches are durable: store the newest of their offsets and tell
    /// the source, which may then let the database recycle its log up to it.
    fn commit(&mut self, durable: usize, took: Duration) -> Result<()> {
        let mut records = 0;
        let mut newest = None;
        for (offset, n) in self.pending.drain(..durable) {
            records += n;
            if offset.is_some() {
                newest = offset;
            }
        }
        self.metrics
            .durable(durable, records, took.as_micros() as u64);
        if let Some(offset) = newest {
            self.store.save_offset(self.name, &offset)?;
            let _ = self.acked.send(Some(offset));
        }
        Ok(())
    }
}

/// Settings of the process that runs connectors (Kafka Connect's worker config).
#[derive(Debug, Clone, Default)]
pub struct WorkerSettings {
    /// The worker's Kafka cluster: source connectors write to it unless `sink.type` says
    /// otherwise, sink connectors read from it.
    pub bootstrap_servers: Option<String>,
}

/// What a connector does.
pub enum Role {
    /// A database → its destination (`sink.type`).
    Source {
        pg: Box<PostgresConfig>,
        encoder: JsonEncoder,
    },
    /// Kafka topics → a destination (Kafka Connect's sink connectors).
    #[cfg(feature = "kafka")]
    KafkaSink,
}

/// Everything a connector needs that can be checked before it touches the database.
pub struct Prepared {
    pub config: ConnectorConfig,
    pub role: Role,
    pub worker: WorkerSettings,
}

impl Prepared {
    /// The PostgreSQL settings of a source connector.
    pub fn postgres(&self) -> Option<&PostgresConfig> {
        match &self.role {
            Role::Source { pg, .. } => Some(pg),
            #[cfg(feature = "kafka")]
            Role::KafkaSink => None,
        }
    }
}

/// Validates a connector config fully (keys, values, converters, sink).
pub fn prepare(config: ConnectorConfig, worker: &WorkerSettings) -> Result<Prepared> {
    #[cfg(feature = "kafka")]
    if crate::sink_connector::is_sink_connector(&config) {
        crate::sink_connector::validate(&config, worker)?;
        return Ok(Prepared {
            config,
            role: Role::KafkaSink,
            worker: worker.clone(),
        });
    }
    let pg = PostgresConfig::from_connector(&config)?;
    let encoder = encoder_for(&config, &pg)?;
    // Building the sink validates its keys; it is built again when running.
    Sink::from_config(&config, worker)?;
    Ok(Prepared {
        config,
        role: Role::Source {
            pg: Box::new(pg),
            encoder,
        },
        worker: worker.clone(),
    })
}

/// Runs one connector until `shutdown` flips to true or an error ends it.
pub async fn run_connector(
    prepared: &Prepared,
    store: &StateStore,
    shutdown: watch::Receiver<bool>,
    metrics: &Arc<ConnectorMetrics>,
) -> Result<RunEnd> {
    let (pg, encoder) = match &prepared.role {
        Role::Source { pg, encoder } => (pg, encoder),
        #[cfg(feature = "kafka")]
        Role::KafkaSink => return crate::sink_connector::run(prepared, shutdown, metrics).await,
    };
    let name = prepared.config.name.clone();
    let mut sink = Sink::from_config(&prepared.config, &prepared.worker)?;
    let stored = store.offset(&name)?;
    let queue = (pg.max_queue_size / pg.max_batch_size).clamp(2, 64);
    let (tx, mut rx) = mpsc::channel::<Batch>(queue);
    let (acked_tx, acked_rx) = watch::channel::<Option<SourceOffset>>(stored.clone());

    // The sink runs on its own thread: encoding, writing, fsync and the state store are
    // blocking work that must not stall the source's socket.
    let encoder = encoder.clone();
    let sink_store = store.clone();
    let sink_name = name.clone();
    let sink_shutdown = shutdown.clone();
    let source_stats = metrics.source.clone();
    let metrics = metrics.clone();
    metrics
        .queue_capacity
        .store(queue as u64, Ordering::Relaxed);
    let sink_thread = tokio::task::spawn_blocking(move || -> Result<()> {
        let mut committer = Committer {
            store: &sink_store,
            name: &sink_name,
            acked: &acked_tx,
            metrics: &metrics,
            pending: VecDeque::new(),
        };
        let mut encoded = EncodedBatch::default();
        let mut open = true;
        let mut drain_deadline: Option<Instant> = None;
        while open || !committer.pending.is_empty() {
            // Submit what is queued, blocking for the next batch only when nothing is in
            // flight; then settle once for all of it (one fsync, or the Kafka acks so far).
            let mut taken = 0;
            while open && taken < GROUP_LIMIT {
                let next = if committer.pending.is_empty() && taken == 0 {
                    rx.blocking_recv()
                } else {
                    match rx.try_recv() {
                        Ok(batch) => Some(batch),
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => None,
                    }
                };
                let Some(batch) = next else {
                    open = false;
                    break;
                };
                encoded.clear();
                encoder.encode(&batch, &mut encoded)?;
                sink.submit(&encoded)?;
                metrics.submitted(&encoded);
                committer
                    .pending
                    .push_back((encoded.offset.take(), encoded.records.len() as u64));
                taken += 1;
            }
            metrics.queue_len.store(rx.len() as u64, Ordering::Relaxed);
            if committer.pending.is_empty() {
                continue;
            }
            let wait = if taken == 0 {
                SETTLE_WAIT
            } else {
                Duration::ZERO
            };
            let started = Instant::now();
            let durable = sink.settle(wait)?;
            committer.commit(durable, started.elapsed().saturating_sub(wait))?;
            // Stopping (not failing): give what is in flight a moment, as Kafka Connect's
            // task.shutdown.graceful.timeout.ms; what is left is sent again after a restart.
            if !open && *sink_shutdown.borrow() && !committer.pending.is_empty() {
                let deadline =
                    *drain_deadline.get_or_insert_with(|| Instant::now() + SHUTDOWN_GRACE);
                if Instant::now() >= deadline {
                    tracing::warn!(
                        connector = %sink_name,
                        batches = committer.pending.len(),
                        "stopping with batches the sink has not acknowledged; they are sent again after a restart"
                    );
                    break;
                }
            }
        }
        Ok(())
    });

    let source = PostgresSource::new(PostgresConfig::clone(pg));
    let ctx = SourceContext {
        stats: source_stats,
        out: tx,
        acked: acked_rx,
        stored,
        shutdown,
    };
    let source_run = source.run(ctx);
    tokio::pin!(source_run);
    let mut sink_thread = sink_thread;
    let sink_done = |r: std::result::Result<Result<()>, tokio::task::JoinError>| {
        r.map_err(|e| Error::internal(format!("sink thread failed: {e}")))?
    };
    tokio::select! {
        source_result = &mut source_run => {
            // The source dropped its sender: the sink drains what is queued, then ends.
            sink_done(sink_thread.await)?;
            source_result
        }
        sink_result = &mut sink_thread => {
            // The sink failed (or ended) first: stop the source now rather than when its
            // next message arrives; dropping its future closes its connections.
            sink_done(sink_result)?;
            source_run.await
        }
    }
}

/// Runs a connector, restarting it with backoff after transient errors, until shutdown or a
/// permanent error. Status is kept in the state store (`RUNNING`, `FAILED`, `STOPPED`).
pub async fn supervise(
    prepared: Arc<Prepared>,
    store: StateStore,
    shutdown: watch::Receiver<bool>,
    metrics: Arc<ConnectorMetrics>,
) -> Result<()> {
    let name = prepared.config.name.clone();
    let mut backoff = Duration::from_millis(500);
    loop {
        store.set_status(&name, "RUNNING", None)?;
        let result = run_connector(&prepared, &store, shutdown.clone(), &metrics).await;
        if *shutdown.borrow() {
            store.set_status(&name, "STOPPED", None)?;
            return result.map(drop);
        }
        match result {
            Ok(RunEnd::SnapshotOnlyDone) => {
                tracing::info!(connector = %name, "snapshot.mode=initial_only: snapshot done, not streaming");
                store.set_status(&name, "STOPPED", None)?;
                return Ok(());
            }
            Ok(RunEnd::Stopped) => {
                store.set_status(&name, "STOPPED", None)?;
                return Ok(());
            }
            Err(e) if e.is_transient() => {
                metrics.errors.fetch_add(1, Ordering::Relaxed);
                metrics.restarts.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(connector = %name, "{e}; retrying in {backoff:?}");
                store.set_status(&name, "RESTARTING", Some(e.message()))?;
                let mut sd = shutdown.clone();
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = sd.changed() => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
            Err(e) => {
                metrics.errors.fetch_add(1, Ordering::Relaxed);
                store.set_status(&name, "FAILED", Some(e.message()))?;
                return Err(e.context(format!("connector \"{name}\"")));
            }
        }
    }
}
