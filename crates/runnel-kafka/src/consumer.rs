//! The Kafka source of sink connectors: a consumer group `connect-<connector name>` over
//! `topics` or `topics.regex`. Each polled record is converted as Kafka Connect's
//! JsonConverter would (decoded into typed values when transforms or a typed sink follow;
//! checked and passed on as bytes otherwise) and handed to the engine; the group's offsets are
//! committed only once the engine acknowledges that the destination made the records durable
//! (at-least-once, as Kafka Connect). A record the converter rejects fails the connector with
//! `errors.tolerance=none`; with `all` it is logged (`errors.log.enable`) and sent to
//! `errors.deadletterqueue.topic.name` with Kafka Connect's `__connect.errors.*` headers, and
//! the connector goes on.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, DefaultConsumerContext};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use runnel_core::config::{ConnectorConfig, parse_bool, split_list};
use runnel_core::decode::json::JsonDecoder;
use runnel_core::{
    Batch, Error, Event, Payload, Position, Record, Result, RunEnd, Source, SourceContext,
    SourceOffset,
};
use serde_json::{Value, json};

use crate::client::{client_config, creation_error, kafka_error};

/// What a sink connector reads and how it treats bad records (Kafka Connect's keys).
#[derive(Debug, Clone)]
pub struct SinkConnectorConfig {
    pub name: String,
    pub topics: Vec<String>,
    pub topics_regex: Option<String>,
    pub key_schemas: bool,
    pub value_schemas: bool,
    pub tolerate_all: bool,
    pub log_errors: bool,
    pub log_messages: bool,
    pub dlq_topic: Option<String>,
    pub dlq_context_headers: bool,
}

impl SinkConnectorConfig {
    pub fn from_connector(config: &ConnectorConfig) -> Result<Self> {
        let flag = |key: &str, default: bool| -> Result<bool> {
            match config.get(key) {
                None => Ok(default),
                Some(v) => parse_bool(v).ok_or_else(|| {
                    Error::config(format!("\"{key}\" must be true or false, got \"{v}\""))
                }),
            }
        };
        let topics = split_list(config.get("topics").unwrap_or(""));
        let topics_regex = config
            .get("topics.regex")
            .map(str::to_string)
            .filter(|s| !s.is_empty());
        match (topics.is_empty(), &topics_regex) {
            (true, None) => {
                return Err(Error::invalid(
                    "topics",
                    "a sink connector needs \"topics\" (a comma-separated list) or \"topics.regex\"",
                ));
            }
            (false, Some(_)) => {
                return Err(Error::invalid(
                    "topics.regex",
                    "\"topics\" and \"topics.regex\" are both set: give only one",
                ));
            }
            _ => {}
        }
        if let Some(re) = &topics_regex {
            regex::Regex::new(re).map_err(|e| {
                Error::invalid(
                    "topics.regex",
                    format!("\"topics.regex\": invalid regular expression: {e}"),
                )
            })?;
        }
        let tolerate_all = match config.get("errors.tolerance").unwrap_or("none") {
            "none" => false,
            "all" => true,
            other => {
                return Err(Error::config(format!(
                    "\"errors.tolerance\" must be none or all, got \"{other}\""
                )));
            }
        };
        let dlq_topic = config
            .get("errors.deadletterqueue.topic.name")
            .map(str::to_string)
            .filter(|s| !s.is_empty());
        if dlq_topic.is_some() && !tolerate_all {
            tracing::warn!(
                "errors.deadletterqueue.topic.name is set but errors.tolerance=none: the first bad record fails the connector, as in Kafka Connect"
            );
        }
        Ok(Self {
            name: config.name.clone(),
            topics,
            topics_regex,
            key_schemas: flag("key.converter.schemas.enable", true)?,
            value_schemas: flag("value.converter.schemas.enable", true)?,
            tolerate_all,
            log_errors: flag("errors.log.enable", false)?,
            log_messages: flag("errors.log.include.messages", false)?,
            dlq_topic,
            dlq_context_headers: flag("errors.deadletterqueue.context.headers.enable", false)?,
        })
    }
}

/// Where a sink connector resumes: the next offset of every partition it has read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KafkaPosition {
    pub next: Arc<BTreeMap<(Arc<str>, i32), i64>>,
}

impl Position for KafkaPosition {
    /// `{"partitions": [{"kafka_topic": …, "kafka_partition": …, "kafka_offset": …}, …]}`: the
    /// pairs Kafka Connect's offsets API shows for a sink connector.
    fn to_offset(&self) -> SourceOffset {
        let list: Vec<Value> = self
            .next
            .iter()
            .map(
                |((t, p), o)| json!({"kafka_topic": &**t, "kafka_partition": p, "kafka_offset": o}),
            )
            .collect();
        SourceOffset::new().set("partitions", list)
    }
}

/// The Kafka Connect (partition, offset) pairs of a stored sink connector offset.
pub fn offsets_of(stored: &SourceOffset) -> Vec<(Value, Value)> {
    stored
        .0
        .get("partitions")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|p| {
                    (
                        json!({"kafka_topic": p["kafka_topic"], "kafka_partition": p["kafka_partition"]}),
                        json!({"kafka_offset": p["kafka_offset"]}),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A sink connector's Kafka source. Building it only reads the config; the consumer (and the
/// dead letter queue's producer) are created when it runs.
pub struct KafkaSource {
    cfg: SinkConnectorConfig,
    config: ConnectorConfig,
    worker_bootstrap: Option<String>,
    /// Records per batch.
    max_batch: usize,
}

/// The running consumer.
struct Consuming {
    cfg: SinkConnectorConfig,
    consumer: BaseConsumer<DefaultConsumerContext>,
    dlq: Option<BaseProducer>,
    max_batch: usize,
}

/// Consumer settings, lowest precedence first: Kafka Connect's sink defaults, the worker's
/// `bootstrap.servers`, then `consumer.override.*`.
fn consumer_settings(
    config: &ConnectorConfig,
    worker_bootstrap: Option<&str>,
) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = vec![
        ("group.id".into(), format!("connect-{}", config.name)),
        ("enable.auto.commit".into(), "false".into()),
        ("auto.offset.reset".into(), "earliest".into()),
        (
            "partition.assignment.strategy".into(),
            "cooperative-sticky".into(),
        ),
        ("enable.partition.eof".into(), "false".into()),
    ];
    if let Some(b) = worker_bootstrap {
        pairs.push(("bootstrap.servers".into(), b.into()));
    }
    for (k, v) in config.with_prefix("consumer.override.") {
        pairs.push((k.to_string(), v.to_string()));
    }
    pairs
}

/// The cluster a sink connector reads: `consumer.override.bootstrap.servers`, else the worker's.
pub fn bootstrap_of(config: &ConnectorConfig, worker_bootstrap: Option<&str>) -> Result<String> {
    consumer_settings(config, worker_bootstrap)
        .into_iter()
        .rev()
        .find(|(k, _)| k == "bootstrap.servers")
        .map(|(_, v)| v)
        .ok_or_else(|| {
            Error::invalid(
                "connector.class",
                "a sink connector reads Kafka: run with --bootstrap-servers (or set \"consumer.override.bootstrap.servers\")",
            )
        })
}

/// What happened to one polled record.
enum Polled {
    /// Handed on in the batch.
    Kept,
    /// Rejected by the converter and dead-lettered (`errors.tolerance=all`).
    Skipped,
}

impl KafkaSource {
    /// Reads the config (no I/O, no client yet).
    pub fn new(config: &ConnectorConfig, worker_bootstrap: Option<&str>) -> Result<Self> {
        let cfg = SinkConnectorConfig::from_connector(config)?;
        bootstrap_of(config, worker_bootstrap)?;
        Ok(Self {
            cfg,
            config: config.clone(),
            worker_bootstrap: worker_bootstrap.map(str::to_string),
            max_batch: 4096,
        })
    }

    /// Creates the consumer and the dead letter queue's producer.
    fn connect(self) -> Result<Consuming> {
        let (config, worker_bootstrap) = (&self.config, self.worker_bootstrap.as_deref());
        let cfg = self.cfg;
        let bootstrap = bootstrap_of(config, worker_bootstrap)?;
        let pairs = consumer_settings(config, worker_bootstrap);
        let consumer: BaseConsumer<DefaultConsumerContext> =
            client_config(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?
                .create()
                .map_err(|e| creation_error("Kafka consumer settings", e))?;
        let dlq = match &cfg.dlq_topic {
            Some(_) if cfg.tolerate_all => {
                let mut dlq_pairs = vec![
                    ("bootstrap.servers".to_string(), bootstrap),
                    ("acks".into(), "all".into()),
                    ("enable.idempotence".into(), "true".into()),
                ];
                for (k, v) in config.with_prefix("producer.override.") {
                    dlq_pairs.push((k.to_string(), v.to_string()));
                }
                Some(
                    client_config(dlq_pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?
                        .create::<BaseProducer>()
                        .map_err(|e| creation_error("dead letter queue producer", e))?,
                )
            }
            _ => None,
        };
        Ok(Consuming {
            cfg,
            consumer,
            dlq,
            max_batch: self.max_batch,
        })
    }
}

impl Consuming {
    fn subscribe(&self) -> Result<()> {
        match &self.cfg.topics_regex {
            // librdkafka subscribes by pattern when the name starts with `^`.
            Some(re) => self
                .consumer
                .subscribe(&[&format!("^{}", re.trim_start_matches('^'))]),
            None => self.consumer.subscribe(
                &self
                    .cfg
                    .topics
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            ),
        }
        .map_err(|e| Error::config(format!("subscribing: {e}")))
    }

    /// The consume loop, on its own thread (librdkafka's consumer blocks).
    fn consume(self, mut ctx: SourceContext<KafkaPosition>) -> Result<RunEnd> {
        self.subscribe()?;
        let mut key_decoder = JsonDecoder::new(self.cfg.key_schemas);
        let mut value_decoder = JsonDecoder::new(self.cfg.value_schemas);
        let mut next: BTreeMap<(Arc<str>, i32), i64> = BTreeMap::new();
        let mut topics: HashMap<String, Arc<str>> = HashMap::new();
        let mut committed: Option<KafkaPosition> = None;
        let mut acked = ctx.acked.clone();
        loop {
            if *ctx.shutdown.borrow() {
                let position = acked.borrow().clone();
                self.write_dead_letters(&mut ctx)?;
                self.commit(&position, &mut committed, CommitMode::Sync);
                return Ok(RunEnd::Stopped);
            }
            if acked.has_changed().unwrap_or(false) {
                let position = acked.borrow_and_update().clone();
                // The engine sent a batch's dead letters before acknowledging it: read the
                // acknowledgement first, then every letter sent before it is here.
                self.write_dead_letters(&mut ctx)?;
                self.commit(&position, &mut committed, CommitMode::Async);
            }
            let mut batch = Batch::default();
            let mut advanced = false;
            let mut timeout = Duration::from_millis(200);
            while batch.events.len() < self.max_batch {
                let Some(polled) = self.consumer.poll(timeout) else {
                    break;
                };
                // After the first record, take only what is already here.
                timeout = Duration::ZERO;
                let msg = match polled {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(connector = %self.cfg.name, "kafka consumer: {e}");
                        break;
                    }
                };
                let topic = topics
                    .entry(msg.topic().to_string())
                    .or_insert_with(|| msg.topic().into())
                    .clone();
                let (partition, offset) = (msg.partition(), msg.offset());
                self.take(
                    &msg,
                    &topic,
                    ctx.decode,
                    &mut key_decoder,
                    &mut value_decoder,
                    &mut batch,
                )?;
                next.insert((topic, partition), offset + 1);
                advanced = true;
            }
            if !advanced {
                continue;
            }
            // Also a batch of only dead-lettered records: their offsets are handled too.
            let position = KafkaPosition {
                next: Arc::new(next.clone()),
            };
            if ctx
                .out
                .blocking_send(runnel_core::Emitted {
                    batch,
                    position: Some(position),
                })
                .is_err()
            {
                return Ok(RunEnd::Stopped);
            }
        }
    }

    /// Converts one message into the batch (or dead-letters it).
    fn take(
        &self,
        msg: &BorrowedMessage<'_>,
        topic: &Arc<str>,
        decode: bool,
        key_decoder: &mut JsonDecoder,
        value_decoder: &mut JsonDecoder,
        batch: &mut Batch,
    ) -> Result<Polled> {
        let key = msg.key();
        let value = msg.payload();
        let converted = if decode {
            let datums = &mut batch.datums;
            let mut convert = |bytes: Option<&[u8]>, decoder: &mut JsonDecoder, what: &str| {
                bytes
                    .map(|b| {
                        decoder
                            .decode(&Bytes::copy_from_slice(b), datums)
                            .map_err(|e| format!("{what}: {}", e.message()))
                    })
                    .transpose()
            };
            convert(key, key_decoder, "key")
                .and_then(|k| convert(value, value_decoder, "value").map(|v| (k, v)))
        } else {
            check_json(key, self.cfg.key_schemas, "key")
                .and_then(|_| check_json(value, self.cfg.value_schemas, "value"))
                .map(|()| {
                    let mut raw = |b: &[u8]| {
                        let start = batch.bytes.len() as u32;
                        batch.bytes.extend_from_slice(b);
                        Payload::Encoded(start..batch.bytes.len() as u32)
                    };
                    (key.map(&mut raw), value.map(&mut raw))
                })
        };
        let (key_payload, value_payload) = match converted {
            Ok(kv) => kv,
            Err(reason) => {
                let (partition, offset) = (msg.partition(), msg.offset());
                let what = format!(
                    "record {topic}-{partition}@{offset} cannot be converted by JsonConverter: {reason}"
                );
                if !self.cfg.tolerate_all {
                    return Err(Error::conversion(format!(
                        "{what}; set \"errors.tolerance\": \"all\" (with \"errors.deadletterqueue.topic.name\") to skip such records"
                    )));
                }
                if self.cfg.log_errors {
                    if self.cfg.log_messages {
                        tracing::error!(connector = %self.cfg.name, key = ?key.map(String::from_utf8_lossy), value = ?value.map(String::from_utf8_lossy), "{what}");
                    } else {
                        tracing::error!(connector = %self.cfg.name, "{what}");
                    }
                }
                self.dead_letter(topic, partition, offset, key, value, &reason)?;
                return Ok(Polled::Skipped);
            }
        };
        let mut record = Record::new(topic.clone(), key_payload, value_payload);
        record.partition = Some(msg.partition());
        record.offset = Some(msg.offset());
        record.timestamp_ms = msg.timestamp().to_millis();
        if let Some(headers) = msg.headers() {
            for h in headers.iter() {
                let value = h.value.map(|v| {
                    let start = batch.bytes.len() as u32;
                    batch.bytes.extend_from_slice(v);
                    Payload::Encoded(start..batch.bytes.len() as u32)
                });
                record.headers.push(runnel_core::Header {
                    key: h.key.into(),
                    value,
                });
            }
        }
        batch.events.push(Event::Record(record));
        Ok(Polled::Kept)
    }

    /// Writes the records the transforms failed on to the dead letter queue, with Kafka
    /// Connect's context headers (stage `TRANSFORMATION`, the transform's class).
    fn write_dead_letters(&self, ctx: &mut SourceContext<KafkaPosition>) -> Result<()> {
        while let Ok(letter) = ctx.dead_letters.try_recv() {
            let mut context: Vec<(&str, String)> = Vec::new();
            if self.cfg.dlq_context_headers {
                context = vec![
                    ("__connect.errors.topic", letter.topic.to_string()),
                    (
                        "__connect.errors.partition",
                        letter.partition.unwrap_or(-1).to_string(),
                    ),
                    (
                        "__connect.errors.offset",
                        letter.offset.unwrap_or(-1).to_string(),
                    ),
                    ("__connect.errors.connector.name", self.cfg.name.clone()),
                    ("__connect.errors.task.id", "0".into()),
                    ("__connect.errors.stage", letter.stage.into()),
                    ("__connect.errors.class.name", letter.class.clone()),
                    (
                        "__connect.errors.exception.class.name",
                        "org.apache.kafka.connect.errors.DataException".into(),
                    ),
                    ("__connect.errors.exception.message", letter.reason.clone()),
                ];
            }
            let (Some(dlq), Some(dlq_topic)) = (&self.dlq, &self.cfg.dlq_topic) else {
                continue;
            };
            let mut record = BaseRecord::<[u8], [u8]>::to(dlq_topic);
            if let Some(k) = &letter.key {
                record = record.key(&k[..]);
            }
            if let Some(v) = &letter.value {
                record = record.payload(&v[..]);
            }
            let mut h = OwnedHeaders::new_with_capacity(letter.headers.len() + context.len());
            for (k, v) in &letter.headers {
                h = h.insert(Header {
                    key: k,
                    value: v.as_deref(),
                });
            }
            for (k, v) in &context {
                h = h.insert(Header {
                    key: k,
                    value: Some(v.as_bytes()),
                });
            }
            record = record.headers(h);
            dlq.send(record)
                .map_err(|(e, _)| kafka_error(&format!("dead letter queue {dlq_topic}"), e))?;
            dlq.flush(Duration::from_secs(60))
                .map_err(|e| kafka_error(&format!("dead letter queue {dlq_topic}"), e))?;
        }
        Ok(())
    }

    /// Sends a rejected record to the dead letter queue and waits for the broker's ack.
    fn dead_letter(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        reason: &str,
    ) -> Result<()> {
        let (Some(dlq), Some(dlq_topic)) = (&self.dlq, &self.cfg.dlq_topic) else {
            return Ok(());
        };
        let mut record = BaseRecord::<[u8], [u8]>::to(dlq_topic);
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(v) = value {
            record = record.payload(v);
        }
        if self.cfg.dlq_context_headers {
            let partition = partition.to_string();
            let offset = offset.to_string();
            let headers = [
                ("__connect.errors.topic", topic),
                ("__connect.errors.partition", partition.as_str()),
                ("__connect.errors.offset", offset.as_str()),
                ("__connect.errors.connector.name", self.cfg.name.as_str()),
                ("__connect.errors.task.id", "0"),
                ("__connect.errors.stage", "VALUE_CONVERTER"),
                (
                    "__connect.errors.class.name",
                    "org.apache.kafka.connect.json.JsonConverter",
                ),
                (
                    "__connect.errors.exception.class.name",
                    "org.apache.kafka.connect.errors.DataException",
                ),
                ("__connect.errors.exception.message", reason),
            ];
            let mut h = OwnedHeaders::new_with_capacity(headers.len());
            for (k, v) in headers {
                h = h.insert(Header {
                    key: k,
                    value: Some(v),
                });
            }
            record = record.headers(h);
        }
        dlq.send(record)
            .map_err(|(e, _)| kafka_error(&format!("dead letter queue {dlq_topic}"), e))?;
        dlq.flush(Duration::from_secs(60))
            .map_err(|e| kafka_error(&format!("dead letter queue {dlq_topic}"), e))?;
        Ok(())
    }

    /// Commits the acknowledged position to the group, if it moved.
    fn commit(
        &self,
        acked: &Option<KafkaPosition>,
        committed: &mut Option<KafkaPosition>,
        mode: CommitMode,
    ) {
        let Some(position) = acked else { return };
        if committed.as_ref() == Some(position) {
            return;
        }
        let mut list = TopicPartitionList::new();
        for ((topic, partition), next) in position.next.iter() {
            if list
                .add_partition_offset(topic, *partition, Offset::Offset(*next))
                .is_err()
            {
                return;
            }
        }
        match self.consumer.commit(&list, mode) {
            Ok(()) => *committed = Some(position.clone()),
            // A rebalance took a partition away: its records come again to the new owner
            // (at-least-once), nothing is lost.
            Err(e) => {
                tracing::warn!(connector = %self.cfg.name, "committing offsets: {e}; the records will be delivered again")
            }
        }
    }
}

impl Source for KafkaSource {
    type Position = KafkaPosition;

    fn envelope(&self) -> Option<runnel_core::Envelope> {
        None
    }

    async fn run(self, ctx: SourceContext<KafkaPosition>) -> Result<RunEnd> {
        tokio::task::spawn_blocking(move || self.connect()?.consume(ctx))
            .await
            .map_err(|e| Error::internal(format!("Kafka source thread failed: {e}")))?
    }
}

/// Checks bytes as Kafka Connect's JsonConverter would before converting them: valid JSON, and
/// with `schemas.enable` an envelope with exactly `schema` and `payload`. Null is always fine.
fn check_json(bytes: Option<&[u8]>, schemas: bool, what: &str) -> std::result::Result<(), String> {
    let Some(bytes) = bytes else {
        return Ok(());
    };
    if schemas {
        let map: HashMap<String, serde::de::IgnoredAny> = serde_json::from_slice(bytes)
            .map_err(|e| format!("{what} is not a JSON object: {e}"))?;
        if map.len() != 2 || !map.contains_key("schema") || !map.contains_key("payload") {
            return Err(format!(
                "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields ({what})"
            ));
        }
        Ok(())
    } else {
        serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
            .map(drop)
            .map_err(|e| format!("{what} is not valid JSON: {e}"))
    }
}
