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

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use runnel_core::config::ConnectorConfig;
use runnel_core::encode::EncodedBatch;
use runnel_core::plugin::SinkConfig;
use runnel_core::{Batch, Error, Result, Sink, SinkInput};

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
}

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

/// Checks what can be checked without a broker: that there is one to write to.
pub fn validate(sink: &SinkConfig) -> Result<()> {
    let pairs = producer_settings(sink);
    if !pairs.iter().any(|(k, _)| k == "bootstrap.servers") {
        return Err(Error::invalid(
            "sink.type",
            "sink.type=kafka needs \"sink.kafka.bootstrap.servers\" (or the worker's bootstrap servers)",
        ));
    }
    Ok(())
}

impl KafkaSink {
    pub fn new(sink: &SinkConfig) -> Result<Self> {
        validate(sink)?;
        let pairs = producer_settings(sink);
        let config: &ConnectorConfig = &sink.connector;
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
        })
    }

    /// Hands every record of `batch` to the producer. Blocks only while librdkafka's queue is
    /// full.
    fn send(&mut self, batch: &EncodedBatch) -> Result<()> {
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
                        return Err(kafka_error(&format!("producing to {}", r.topic), e));
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
        _offset: Option<&runnel_core::SourceOffset>,
    ) -> Result<()> {
        self.send(encoded)
    }

    fn settle(&mut self, wait: Duration) -> Result<usize> {
        self.settle_reports(wait)
    }
}

impl Drop for KafkaSink {
    fn drop(&mut self) {
        let _ = self.producer.flush(Duration::from_secs(5));
    }
}
