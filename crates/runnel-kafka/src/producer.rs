//! The Kafka sink of source connectors. A batch is durable when the broker has acknowledged
//! every record of it (`acks=all`, idempotent producer: no duplicates from retries, per-partition
//! order kept); only then does the pipeline commit the source position. A broker that is down
//! stalls `write` (librdkafka keeps retrying) with a warning every few seconds; when
//! `message.timeout.ms` runs out the batch fails and the connector restarts from its last
//! committed position: at-least-once, never a gap, never a reorder within a key.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use runnel_core::config::ConnectorConfig;
use runnel_core::encode::EncodedBatch;
use runnel_core::{Error, Result};

use crate::client::{client_config, creation_error};
use crate::topics::TopicCreator;

/// Counts delivery reports of the batch in flight.
#[derive(Default)]
struct Deliveries {
    done: AtomicUsize,
    failed: AtomicUsize,
    first_error: Mutex<Option<String>>,
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
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.failed.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut first) = self.first_error.lock() {
                first.get_or_insert_with(|| e.to_string());
            }
        }
        self.done.fetch_add(1, Ordering::SeqCst);
    }
}

pub struct KafkaSink {
    producer: BaseProducer<Deliveries>,
    topics: TopicCreator,
}

/// The producer settings of a connector, lowest precedence first: runnel's defaults (those of
/// a safe Kafka Connect worker), the worker's `bootstrap.servers`, `sink.kafka.*`, then
/// `producer.override.*` as in Kafka Connect.
pub fn producer_settings(
    config: &ConnectorConfig,
    worker_bootstrap: Option<&str>,
) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = [
        ("acks", "all"),
        ("enable.idempotence", "true"),
        ("compression.type", "lz4"),
        ("partitioner", "murmur2_random"),
        ("linger.ms", "5"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if let Some(b) = worker_bootstrap {
        pairs.push(("bootstrap.servers".into(), b.into()));
    }
    for prefix in ["sink.kafka.", "producer.override."] {
        for (k, v) in config.with_prefix(prefix) {
            pairs.push((k.to_string(), v.to_string()));
        }
    }
    pairs
}

impl KafkaSink {
    pub fn new(config: &ConnectorConfig, worker_bootstrap: Option<&str>) -> Result<Self> {
        let pairs = producer_settings(config, worker_bootstrap);
        if !pairs.iter().any(|(k, _)| k == "bootstrap.servers") {
            return Err(Error::config(
                "sink.type=kafka needs \"sink.kafka.bootstrap.servers\" (or the worker's bootstrap servers)",
            ));
        }
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
        Ok(Self { producer, topics })
    }

    /// Sends every record of `batch` and returns when the broker acknowledged all of them.
    pub fn write(&mut self, batch: &EncodedBatch) -> Result<()> {
        if batch.records.is_empty() {
            return Ok(());
        }
        let ctx = self.producer.context();
        ctx.done.store(0, Ordering::SeqCst);
        ctx.failed.store(0, Ordering::SeqCst);
        if let Ok(mut e) = ctx.first_error.lock() {
            *e = None;
        }
        let mut last_topic: Option<&std::sync::Arc<str>> = None;
        for r in &batch.records {
            // Records of one table share the topic's Arc: look the topic up once per run.
            if !last_topic.is_some_and(|t| std::sync::Arc::ptr_eq(t, &r.topic)) {
                self.topics.ensure(&r.topic)?;
                last_topic = Some(&r.topic);
            }
            let mut record = BaseRecord::<[u8], [u8]>::to(&r.topic);
            if let Some(k) = batch.key(r) {
                record = record.key(k);
            }
            if let Some(v) = batch.value(r) {
                record = record.payload(v);
            }
            if r.timestamp_ms > 0 {
                record = record.timestamp(r.timestamp_ms);
            }
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        self.producer.poll(Duration::from_millis(10));
                    }
                    Err((e, _)) => {
                        return Err(Error::sink(format!("producing to {}: {e}", r.topic)));
                    }
                }
            }
        }
        let n = batch.records.len();
        let started = Instant::now();
        let mut warned = Instant::now();
        while self.producer.context().done.load(Ordering::SeqCst) < n {
            self.producer.poll(Duration::from_millis(50));
            if warned.elapsed() > Duration::from_secs(5) {
                warned = Instant::now();
                let done = self.producer.context().done.load(Ordering::SeqCst);
                tracing::warn!(
                    waiting_s = started.elapsed().as_secs(),
                    acknowledged = done,
                    of = n,
                    "Kafka has not acknowledged the batch yet (broker down or unreachable?); retrying"
                );
            }
        }
        let ctx = self.producer.context();
        if ctx.failed.load(Ordering::SeqCst) > 0 {
            let first = ctx
                .first_error
                .lock()
                .ok()
                .and_then(|e| e.clone())
                .unwrap_or_default();
            return Err(Error::sink(format!(
                "Kafka did not accept {} of {n} records: {first}",
                ctx.failed.load(Ordering::SeqCst)
            )));
        }
        Ok(())
    }
}

impl Drop for KafkaSink {
    fn drop(&mut self) {
        let _ = self.producer.flush(Duration::from_secs(5));
    }
}
