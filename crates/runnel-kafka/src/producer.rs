//! The Kafka sink of source connectors. A batch is durable when the broker has acknowledged
//! every record of it (`acks=all`, idempotent producer: no duplicates from retries, per-partition
//! order kept); only then may the pipeline commit the batch's source position.
//!
//! Acknowledgements are pipelined: `submit` hands a batch to librdkafka and returns, so many
//! batches are in flight at once, and `settle` reports how many of the oldest batches have all
//! their delivery reports. Waiting for each batch before sending the next capped throughput at
//! one batch per broker round trip.
//!
//! A broker that is down stalls `settle` (librdkafka keeps retrying) with a warning every few
//! seconds; when `message.timeout.ms` runs out a record fails, `settle` returns the error and the
//! connector restarts from its last committed position: at-least-once, never a gap, never a
//! reorder within a key.
//!
//! **Exactly once** (a distributed worker with `exactly.once.source.support=enabled`, Kafka
//! Connect's KIP-618): the producer is transactional, its id `<group.id>-<connector>-0`. A
//! transaction opens with the first batch after a commit; `settle` writes the newest offset the
//! open transaction's batches complete to the group's offset topic and commits, records and
//! offset at once, at each transaction boundary (`transaction.boundary`; see `commit_due`: only
//! where a batch completes an offset). Only a committed
//! transaction's batches are reported durable. A worker that lost the connector is fenced by the
//! next owner's producer (same id, higher epoch): its next write or commit fails, it stops the
//! connector and writes nothing more.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use runnel_core::config::ConnectorConfig;
use runnel_core::encode::EncodedBatch;
use runnel_core::plugin::{ExactlyOnce, SinkConfig};
use runnel_core::{Batch, Error, Result, Sink, SinkInput, SourceOffset};

use crate::client::{client_config, creation_error, kafka_error, sink_error};
use crate::topics::TopicCreator;

/// Delivery reports still owed, per submitted batch. Callbacks run inside `poll` on the sink's
/// own thread, so the lock is never contended; it is there because the context is shared.
#[derive(Default)]
struct InFlight {
    /// Sequence number of `remaining[0]`.
    base: u64,
    /// Records of each batch not yet reported, oldest batch first.
    remaining: VecDeque<usize>,
    failed: usize,
    /// The first failure: its code (which decides retry or fail) and text.
    first_error: Option<(Option<RDKafkaErrorCode>, String)>,
}

#[derive(Default)]
struct Deliveries {
    in_flight: Mutex<InFlight>,
    /// When a client error was last logged: librdkafka repeats them many times a second.
    last_logged: Mutex<Option<Instant>>,
}

impl ClientContext for Deliveries {
    fn error(&self, error: KafkaError, reason: &str) {
        if let Ok(mut last) = self.last_logged.lock() {
            if last.is_some_and(|t| t.elapsed() < Duration::from_secs(5)) {
                return;
            }
            *last = Some(Instant::now());
        }
        tracing::warn!("kafka: {error}: {reason}");
    }
}

impl ProducerContext for Deliveries {
    /// The sequence number of the record's batch.
    type DeliveryOpaque = usize;
    fn delivery(&self, result: &DeliveryResult<'_>, seq: usize) {
        let Ok(mut f) = self.in_flight.lock() else {
            return;
        };
        if let Err((e, _)) = result {
            f.failed += 1;
            f.first_error
                .get_or_insert_with(|| (e.rdkafka_error_code(), e.to_string()));
        }
        let index = (seq as u64).wrapping_sub(f.base) as usize;
        if let Some(n) = f.remaining.get_mut(index) {
            *n = n.saturating_sub(1);
        }
    }
}

pub struct KafkaSink {
    producer: BaseProducer<Deliveries>,
    topics: TopicCreator,
    /// Last time a batch became durable (or nothing was in flight): for the stall warning.
    progress_at: Instant,
    warned_at: Instant,
    /// Exactly-once mode.
    transactions: Option<Transactions>,
}

/// How long a transaction call (init, commit, abort) may take before the connector restarts.
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(30);

/// The sink's transactions in exactly-once mode.
struct Transactions {
    eos: ExactlyOnce,
    id: String,
    connector: ConnectorConfig,
    /// `transaction.boundary=interval`: how long a transaction may stay open while batches keep
    /// coming (`None`: `poll`, commit at every settle).
    interval: Option<Duration>,
    /// Whether `init_transactions` has run (on the sink thread, before the first batch).
    ready: bool,
    /// When the open transaction began (`None`: none is open).
    open_since: Option<Instant>,
    /// The newest offset the open transaction's batches complete.
    offset: Option<SourceOffset>,
    /// Whether the last batch completed an offset: a commit in the middle of a source
    /// transaction would make its first part durable without an offset to resume after it.
    at_position: bool,
}

/// How long a transaction may wait for the end of a source transaction before it commits
/// anyway, well inside the broker's default transaction.timeout.ms (60 s), after which it
/// would abort it.
const LONGEST_TRANSACTION: Duration = Duration::from_secs(30);

/// Delivery opaque of a record that belongs to no batch (the offset topic's records).
const NO_BATCH: usize = usize::MAX;

/// The producer settings of a connector, lowest precedence first: runnel's defaults (those of
/// a safe Kafka Connect worker), the worker's `bootstrap.servers`, the sink's own keys
/// (`sink.kafka.*` of the connector), then `producer.override.*` as in Kafka Connect.
pub fn producer_settings(sink: &SinkConfig) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = [
        ("acks", "all"),
        ("enable.idempotence", "true"),
        ("compression.type", "lz4"),
        ("partitioner", "murmur2_random"),
        ("linger.ms", "5"),
        // librdkafka's default (100,000 queued records) holds ~30 MB of ~300-byte events; a
        // fifth of it keeps thousands of records in flight per broker round trip.
        ("queue.buffering.max.messages", "20000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if let Some(b) = &sink.worker.bootstrap_servers {
        pairs.push(("bootstrap.servers".into(), b.clone()));
    }
    for (k, v) in &sink.keys {
        pairs.push((k.clone(), v.clone()));
    }
    for (k, v) in sink.connector.with_prefix("producer.override.") {
        pairs.push((k.to_string(), v.to_string()));
    }
    pairs
}

/// Checks what can be checked without a broker: that there is one to write to, and in
/// exactly-once mode that it is the worker group's own cluster (one transaction holds the
/// records and the offset, so both must be on one cluster).
pub fn validate(sink: &SinkConfig) -> Result<()> {
    let pairs = producer_settings(sink);
    let Some((_, bootstrap)) = pairs.iter().rev().find(|(k, _)| k == "bootstrap.servers") else {
        return Err(Error::invalid(
            "sink.type",
            "sink.type=kafka needs \"sink.kafka.bootstrap.servers\" (or the worker's bootstrap servers)",
        ));
    };
    if sink.worker.exactly_once.is_some()
        && sink.worker.bootstrap_servers.as_deref() != Some(bootstrap.as_str())
    {
        return Err(Error::invalid(
            "sink.kafka.bootstrap.servers",
            "with exactly.once.source.support=enabled a source connector writes its records \
             and its offset in one Kafka transaction, so to the worker group's own Kafka \
             cluster: remove sink.kafka.bootstrap.servers (and producer.override.bootstrap.servers) \
             or set exactly.once.source.support=disabled on the workers",
        ));
    }
    Ok(())
}

/// Fences every earlier producer of `transactional_id` (a worker that ran the connector before
/// and may still be writing): a producer with that id bumps its epoch, after which the broker
/// refuses the older ones' writes and aborts their open transaction.
pub fn fence(client: &[(String, String)], transactional_id: &str) -> Result<()> {
    let cfg = client_config(
        client
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain([("transactional.id", transactional_id)]),
    )?;
    let producer: BaseProducer = cfg
        .create()
        .map_err(|e| creation_error("Kafka producer settings", e))?;
    producer
        .init_transactions(TRANSACTION_TIMEOUT)
        .map_err(|e| kafka_error(&format!("fencing transactional.id {transactional_id}"), e))
}

impl KafkaSink {
    pub fn new(sink: &SinkConfig) -> Result<Self> {
        validate(sink)?;
        let mut pairs = producer_settings(sink);
        let config: &ConnectorConfig = &sink.connector;
        let transactions = match &sink.worker.exactly_once {
            Some(eos) => {
                let id = eos.transactional_id(&config.name);
                pairs.push(("transactional.id".into(), id.clone()));
                let interval = match config.get("transaction.boundary").unwrap_or("poll") {
                    "interval" => Some(Duration::from_millis(
                        config
                            .get("transaction.boundary.interval.ms")
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(60_000),
                    )),
                    _ => None,
                };
                Some(Transactions {
                    eos: eos.clone(),
                    id,
                    connector: config.clone(),
                    interval,
                    ready: false,
                    open_since: None,
                    offset: None,
                    at_position: false,
                })
            }
            None => None,
        };
        let cfg = client_config(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        let producer = cfg
            .create_with_context::<_, BaseProducer<Deliveries>>(Deliveries::default())
            .map_err(|e| creation_error("Kafka producer settings", e))?;
        // The admin client reaches the same cluster with the same security settings.
        let admin_pairs = pairs.iter().filter(|(k, _)| {
            k == "bootstrap.servers"
                || k.starts_with("security.")
                || k.starts_with("sasl.")
                || k.starts_with("ssl.")
        });
        let admin_cfg = client_config(admin_pairs.map(|(k, v)| (k.as_str(), v.as_str())))?;
        let topics = TopicCreator::new(config, &admin_cfg)?;
        Ok(Self {
            producer,
            topics,
            progress_at: Instant::now(),
            warned_at: Instant::now(),
            transactions,
        })
    }

    /// Exactly-once mode: opens a transaction unless one is open (the first time, after
    /// fencing every earlier producer of the connector's id).
    fn begin(&mut self) -> Result<()> {
        let Some(t) = &mut self.transactions else {
            return Ok(());
        };
        if t.open_since.is_some() {
            return Ok(());
        }
        if !t.ready {
            if !(t.eos.owns)(&t.connector.name) {
                return Err(Error::sink_permanent(format!(
                    "the worker group no longer gives connector {} to this worker: not \
                     starting its producer (transactional.id {}), which would fence its new owner",
                    t.connector.name, t.id
                )));
            }
            self.producer
                .init_transactions(TRANSACTION_TIMEOUT)
                .map_err(|e| transaction_error(&t.id, "starting the producer", e))?;
            t.ready = true;
        }
        self.producer
            .begin_transaction()
            .map_err(|e| transaction_error(&t.id, "beginning a transaction", e))?;
        t.open_since = Some(Instant::now());
        Ok(())
    }

    /// Exactly-once mode: at a transaction boundary, writes the newest offset and commits;
    /// returns how many batches that made durable (all submitted ones).
    fn commit(&mut self, idle: bool) -> Result<usize> {
        let Some(t) = &mut self.transactions else {
            return Ok(0);
        };
        let Some(since) = t.open_since else {
            return Ok(0);
        };
        if !commit_due(t.at_position, idle, t.interval, since.elapsed()) {
            return Ok(0);
        }
        if let Some(offset) = t.offset.take() {
            for (key, value) in (t.eos.offset_records)(&t.connector, &offset) {
                let record =
                    BaseRecord::<[u8], [u8], usize>::with_opaque_to(&t.eos.offset_topic, NO_BATCH)
                        .key(&key)
                        .payload(&value);
                self.producer.send(record).map_err(|(e, _)| {
                    transaction_error(&t.id, "writing the offset to the offset topic", e)
                })?;
            }
        }
        // Deliver first, serving reports as they come: the client library's commit flushes
        // by polling in steps of up to 100 ms, which made every commit take about that long.
        let deadline = Instant::now() + TRANSACTION_TIMEOUT;
        while self.producer.in_flight_count() > 0 && Instant::now() < deadline {
            self.producer.poll(Duration::from_millis(1));
        }
        let committed = self.producer.commit_transaction(TRANSACTION_TIMEOUT);
        t.open_since = None;
        if let Err(e) = committed {
            let error = transaction_error(&t.id, "committing a transaction", e);
            if error.is_transient() {
                // Abortable (or timed out): abort, so that nothing of it is ever read
                // committed; the connector resends from its last committed offset.
                let _ = self.producer.abort_transaction(TRANSACTION_TIMEOUT);
            }
            return Err(error);
        }
        let mut f = self.lock();
        let done = f.remaining.len();
        f.remaining.clear();
        f.base += done as u64;
        drop(f);
        self.progress_at = Instant::now();
        Ok(done)
    }

    /// Hands every record of `batch` to the producer. Blocks only while librdkafka's queue is
    /// full.
    fn send(&mut self, batch: &EncodedBatch) -> Result<()> {
        self.begin()?;
        let (seq, was_idle) = {
            let mut f = self.lock();
            let was_idle = f.remaining.is_empty();
            f.remaining.push_back(batch.records.len());
            ((f.base + f.remaining.len() as u64 - 1) as usize, was_idle)
        };
        if was_idle {
            self.progress_at = Instant::now();
        }
        let mut last_topic: Option<&std::sync::Arc<str>> = None;
        for r in &batch.records {
            // Records of one table share the topic's Arc: look the topic up once per run.
            if !last_topic.is_some_and(|t| std::sync::Arc::ptr_eq(t, &r.topic)) {
                self.topics.ensure(&r.topic)?;
                last_topic = Some(&r.topic);
            }
            let mut record = BaseRecord::<[u8], [u8], usize>::with_opaque_to(&r.topic, seq);
            if let Some(k) = batch.key(r) {
                record = record.key(k);
            }
            if let Some(v) = batch.value(r) {
                record = record.payload(v);
            }
            if r.timestamp_ms > 0 {
                record = record.timestamp(r.timestamp_ms);
            }
            if let Some(p) = r.partition {
                record = record.partition(p);
            }
            if !r.headers.is_empty() {
                let mut headers = OwnedHeaders::new_with_capacity(r.headers.len());
                for (key, value) in batch.headers(r) {
                    headers = headers.insert(Header { key, value });
                }
                record = record.headers(headers);
            }
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        self.producer.poll(Duration::from_millis(10));
                        self.warn_if_stalled();
                    }
                    Err((e, _)) => {
                        let what = format!("producing to {}", r.topic);
                        return Err(match &self.transactions {
                            Some(t) => transaction_error(&t.id, &what, e),
                            None => kafka_error(&what, e),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Serves delivery reports for at most `wait` and returns how many of the oldest submitted
    /// batches are now fully acknowledged.
    fn settle_reports(&mut self, wait: Duration) -> Result<usize> {
        if self.lock().remaining.front().is_some_and(|n| *n > 0) {
            self.producer.poll(wait);
        }
        let mut f = self.lock();
        if f.failed > 0 {
            let failed = f.failed;
            let (code, first) = f.first_error.clone().unwrap_or_default();
            let what = format!("Kafka did not accept {failed} record(s)");
            return Err(match code {
                Some(code) => sink_error(&what, code),
                None => Error::sink_transient(format!("{what}: {first}")),
            });
        }
        let mut done = 0;
        while f.remaining.front() == Some(&0) {
            f.remaining.pop_front();
            done += 1;
        }
        f.base += done as u64;
        let waiting = f.remaining.len();
        drop(f);
        if done > 0 || waiting == 0 {
            self.progress_at = Instant::now();
        } else {
            self.warn_if_stalled();
        }
        Ok(done)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, InFlight> {
        // A poisoned lock means a delivery callback panicked; the counts are still usable.
        self.producer
            .context()
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn warn_if_stalled(&mut self) {
        let stalled = self.progress_at.elapsed();
        if stalled > Duration::from_secs(5) && self.warned_at.elapsed() > Duration::from_secs(5) {
            self.warned_at = Instant::now();
            let f = self.lock();
            let records: usize = f.remaining.iter().sum();
            let batches = f.remaining.len();
            drop(f);
            tracing::warn!(
                waiting_s = stalled.as_secs(),
                batches,
                records,
                "Kafka has not acknowledged anything for a while (broker down or unreachable?); retrying"
            );
        }
    }
}

impl Sink for KafkaSink {
    fn input(&self) -> SinkInput {
        SinkInput::Encoded
    }

    fn submit(
        &mut self,
        _batch: &Batch,
        encoded: &EncodedBatch,
        offset: Option<&SourceOffset>,
    ) -> Result<()> {
        self.send(encoded)?;
        self.note_offset(offset);
        Ok(())
    }

    fn settle(&mut self, wait: Duration) -> Result<usize> {
        if self.transactions.is_some() {
            // The engine waits only when nothing more is queued: commit then, whatever the
            // interval, so that an idle or stopping source is never left uncommitted.
            let done = self.commit(!wait.is_zero())?;
            if done == 0 {
                self.settle_reports(wait)?;
            }
            return Ok(done);
        }
        self.settle_reports(wait)
    }

    fn wants_positions(&self) -> bool {
        self.transactions.is_some()
    }
}

impl KafkaSink {
    /// Exactly-once mode: remembers the newest offset of the open transaction and whether the
    /// transaction may end here.
    fn note_offset(&mut self, offset: Option<&SourceOffset>) {
        if let Some(t) = &mut self.transactions {
            t.at_position = offset.is_some();
            if let Some(o) = offset {
                t.offset = Some(o.clone());
            }
        }
    }
}

impl Drop for KafkaSink {
    fn drop(&mut self) {
        match &self.transactions {
            // An open transaction is aborted now rather than when it times out, so that
            // read_committed consumers are not held back until then.
            Some(t) if t.open_since.is_some() => {
                let _ = self.producer.abort_transaction(Duration::from_secs(5));
            }
            Some(_) => {}
            None => {
                let _ = self.producer.flush(Duration::from_secs(5));
            }
        }
    }
}

/// Whether the open transaction (open for `open`) commits now: only where the last batch
/// completed an offset, at once with `poll` boundaries (`interval` None) or when the source is
/// idle, else once the interval is over; and in any case before the broker's timeout aborts it.
fn commit_due(at_position: bool, idle: bool, interval: Option<Duration>, open: Duration) -> bool {
    (at_position && (idle || interval.is_none_or(|i| open >= i))) || open >= LONGEST_TRANSACTION
}

/// An error of a transactional producer: a fenced one (another worker took the connector)
/// stops the connector for good on this worker; an abortable one restarts it.
fn transaction_error(id: &str, what: &str, e: KafkaError) -> Error {
    use RDKafkaErrorCode as C;
    let fatal = match &e {
        KafkaError::Transaction(t) => t.is_fatal(),
        _ => false,
    };
    let fenced = matches!(
        e.rdkafka_error_code(),
        Some(C::Fenced | C::ProducerFenced | C::InvalidProducerEpoch)
    );
    if fenced || fatal {
        Error::sink_permanent(format!(
            "{what}: this worker's producer (transactional.id {id}) was fenced: another worker \
             runs the connector now (the group gave it away while this one did not answer), so \
             this one writes nothing more ({e})"
        ))
    } else {
        kafka_error(&format!("{what} (transactional.id {id})"), e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_commits_only_where_an_offset_is_complete() {
        let ms = Duration::from_millis;
        // poll: every settle, but never in the middle of a source transaction.
        assert!(commit_due(true, false, None, ms(0)));
        assert!(!commit_due(false, true, None, ms(10)));
        // interval: not before it is over while the source keeps the sink busy; at once when
        // the source has nothing more queued.
        let every = Some(ms(1000));
        assert!(!commit_due(true, false, every, ms(999)));
        assert!(commit_due(true, false, every, ms(1000)));
        assert!(commit_due(true, true, every, ms(1)));
        // A source transaction that stays open 30 s is committed in part rather than aborted
        // by the broker's transaction timeout.
        assert!(!commit_due(false, false, every, ms(29_999)));
        assert!(commit_due(false, false, None, LONGEST_TRANSACTION));
    }
}
