//! The source contract: what a connector that reads changes (a database's log, a Kafka topic)
//! gives the engine and gets from it.
//!
//! **Durability contract.** A source emits batches in order, each with an optional typed
//! position: the point from which it can resume having delivered everything up to and including
//! that batch. The engine commits a position (state store, then [`SourceContext::acked`]) only
//! after the sink made that batch and every batch before it durable. The source may let its
//! upstream forget data (PostgreSQL: confirm the LSN to the slot; Kafka: commit the group's
//! offsets) only up to an acknowledged position. After a crash it resumes from
//! [`SourceContext::stored`]: batches after it are emitted again, so delivery is at least once
//! and duplicates are bounded by what was in flight.
//!
//! A batch with a position ends exactly at it: every event of the batch is before the position
//! and none after it (a source that has read into the next transaction carries those events to
//! the next batch). A sink that commits in transactions can then commit a batch's events with
//! its position and never a part of a source transaction, and a batch without a position is
//! the middle of one transaction (or of a snapshot) too large for one batch.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::{mpsc, watch};

use crate::datum::Datum;
use crate::error::Result;
use crate::event::{Batch, EventSource};
use crate::offset::SourceOffset;
use crate::schema::{Schema, TableId};

/// Where a source can resume from. PostgreSQL: the commit LSN, its txId and time; a binlog
/// source: file + position or a GTID set; Kafka: the next offset of every partition.
pub trait Position: Clone + Send + Sync + fmt::Debug + 'static {
    /// The offset the state store keeps, in the shape Debezium (or Kafka Connect) gives it, so
    /// it reads the same as Kafka Connect's offsets and can be set through the offsets API.
    fn to_offset(&self) -> SourceOffset;

    /// Where an event is in the source's log, for a message about a record that has no
    /// position of its own (one inside a transaction), in the offset's own terms.
    fn event_at(source: &EventSource) -> Option<String> {
        let _ = source;
        None
    }
}

/// A batch and the position reached once it is durable (`None`: the batch completes no
/// position, e.g. the middle of a transaction or of a snapshot).
#[derive(Debug)]
pub struct Emitted<P> {
    pub batch: Batch,
    pub position: Option<P>,
}

/// What the engine gives a running source.
pub struct SourceContext<P> {
    /// Batches to the sink (bounded: a slow sink slows the source).
    pub out: mpsc::Sender<Emitted<P>>,
    /// The newest position the engine has made durable (sink + state store).
    pub acked: watch::Receiver<Option<P>>,
    /// The offset stored when the connector last stopped.
    pub stored: Option<SourceOffset>,
    pub shutdown: watch::Receiver<bool>,
    /// Progress for metrics.
    pub stats: Arc<SourceStats>,
    /// Whether records must be decoded into typed values because transforms or a sink that
    /// reads typed values follow. When false, a source of encoded records (Kafka) may pass
    /// their bytes on as [`crate::event::Payload::Encoded`].
    pub decode: bool,
    /// Whether the sink checks foreign keys as it writes ([`crate::Sink::referenced_first`]):
    /// a snapshot then reads tables that others reference before the tables referencing them.
    pub referenced_first: bool,
    /// Records a transform failed on, for the source's dead letter queue (a sink connector's
    /// `errors.deadletterqueue.topic.name`). The engine sends a batch's dead letters before it
    /// acknowledges the batch: a source that has one writes the dead letters it has received
    /// before committing a newly acknowledged position. Sources without one never get any.
    pub dead_letters: mpsc::UnboundedReceiver<DeadLetter>,
    /// The connector's schema history (a binlog source's DDL with the positions it was read
    /// at), kept in the state store next to its offset.
    pub history: Arc<dyn SchemaHistory>,
}

/// A source's schema history: the DDL it has applied, in order, each entry with the position
/// it was read at, so that a restart at any position decodes rows with the schema in force
/// then. Kept in the embedded state store, not in a Kafka topic that can be lost or
/// compacted away. An entry is written before any event after it is emitted, so the history
/// is never behind a committed offset; entries past the offset a restart resumes from are
/// the source's to ignore (it reads their DDL again).
pub trait SchemaHistory: Send + Sync {
    /// Every entry, oldest first.
    fn load(&self) -> Result<Vec<String>>;
    /// Appends one entry durably.
    fn append(&self, entry: &str) -> Result<()>;
    /// Forgets every entry (a new snapshot records the schema afresh).
    fn clear(&self) -> Result<()>;
}

/// A history held in memory only: for sources that keep none and for tests.
#[derive(Debug, Default)]
pub struct MemoryHistory(Mutex<Vec<String>>);

impl SchemaHistory for MemoryHistory {
    fn load(&self) -> Result<Vec<String>> {
        Ok(self.0.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }
    fn append(&self, entry: &str) -> Result<()> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(entry.to_string());
        Ok(())
    }
    fn clear(&self) -> Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
        Ok(())
    }
}

/// A record a transform failed on, as it was read (re-encoded with the connector's
/// converter), and what failed.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub topic: Arc<str>,
    pub partition: Option<i32>,
    pub offset: Option<i64>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(Arc<str>, Option<Vec<u8>>)>,
    /// The failing transform's class (or the sink connector's).
    pub class: String,
    pub reason: String,
    /// Kafka Connect's stage of the failure: `TRANSFORMATION`, or `TASK_PUT` for a record the
    /// sink refused.
    pub stage: &'static str,
}

impl<P> SourceContext<P> {
    /// Sends a batch; false when the engine is gone (stopping or failing elsewhere).
    pub async fn emit(&self, batch: Batch, position: Option<P>) -> bool {
        self.out.send(Emitted { batch, position }).await.is_ok()
    }
}

/// How a source's run ended (other than by an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Shutdown was requested.
    Stopped,
    /// The source has nothing more to do (`snapshot.mode=initial_only` finished its snapshot).
    Finished,
}

/// A connector that reads changes.
pub trait Source: Send + Sized + 'static {
    type Position: Position;

    /// How this source's [`crate::event::ChangeEvent`]s are wrapped in Debezium's envelope;
    /// `None` for a source that emits only records.
    fn envelope(&self) -> Option<Envelope>;

    /// Reads until shutdown (`Ok(RunEnd::Stopped)`), the end of its work, or an error.
    fn run(self, ctx: SourceContext<Self::Position>)
    -> impl Future<Output = Result<RunEnd>> + Send;
}

/// Debezium's `source` block of one connector: its schema, and how an event's
/// [`EventSource`] becomes its fields.
pub trait SourceBlock: Send + Sync + fmt::Debug {
    /// The block's Connect schema (`io.debezium.connector.postgresql.Source`, …).
    fn schema(&self) -> &Arc<Schema>;
    /// The JSON of the fields fixed for one table (`,"schema":…,"table":…`), which encoders
    /// compute once per table and pass to [`Self::write_json`].
    fn table_json(&self, table: &TableId) -> Vec<u8>;
    /// Writes the block of one event as a JSON object: the hot path of every byte sink.
    fn write_json(&self, out: &mut Vec<u8>, ev: &EventSource, table_json: &[u8]);
    /// Appends the block's field values, in schema order, for typed consumers (transforms,
    /// database sinks).
    fn push_values(&self, out: &mut Vec<Datum>, ev: &EventSource, table: &TableId);
}

/// What a byte sink needs to write a source's change events as Debezium does.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub source: Arc<dyn SourceBlock>,
    /// `unavailable.value.placeholder`: what a value the source did not send (PostgreSQL's
    /// unchanged TOAST) is written as.
    pub unavailable_placeholder: Bytes,
}

/// Progress a source reports while it runs, read by the runtime's metrics. Atomics, updated
/// per chunk or per check, never per row.
#[derive(Debug, Default)]
pub struct SourceStats {
    /// True while the initial snapshot runs.
    pub snapshot_running: AtomicBool,
    pub snapshot_tables_total: AtomicU64,
    pub snapshot_tables_done: AtomicU64,
    pub snapshot_rows: AtomicU64,
    /// Events skipped under `event.processing.failure.handling.mode` `warn` or `skip`: a value
    /// the event's schema cannot hold, logged with its table, key and position.
    pub skipped_events: AtomicU64,
    /// Gauges of the source's own, refreshed by its watch (PostgreSQL: the WAL its replication
    /// slot retains), exported as `runnel_connector_<name>`.
    gauges: Mutex<Vec<Gauge>>,
}

/// One source-specific gauge.
#[derive(Debug, Clone, PartialEq)]
pub struct Gauge {
    pub name: &'static str,
    pub help: &'static str,
    pub value: f64,
}

impl SourceStats {
    pub fn set_gauge(&self, name: &'static str, help: &'static str, value: f64) {
        let mut gauges = self.gauges.lock().unwrap_or_else(|p| p.into_inner());
        match gauges.iter_mut().find(|g| g.name == name) {
            Some(g) => g.value = value,
            None => gauges.push(Gauge { name, help, value }),
        }
    }

    pub fn gauges(&self) -> Vec<Gauge> {
        self.gauges
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn snapshot_started(&self, tables: u64) {
        self.snapshot_running.store(true, Ordering::Relaxed);
        self.snapshot_tables_total.store(tables, Ordering::Relaxed);
        self.snapshot_tables_done.store(0, Ordering::Relaxed);
        self.snapshot_rows.store(0, Ordering::Relaxed);
    }
}
