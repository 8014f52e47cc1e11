//! The Kafka source of sink connectors: a consumer group `connect-<connector name>` over
//! `topics` or `topics.regex`. Each polled batch is checked as Kafka Connect's JsonConverter
//! would, written to the destination, and only when the destination made it durable are the
//! group's offsets committed (at-least-once, as Kafka Connect). A record the converter rejects
//! fails the connector with `errors.tolerance=none`; with `all` it is logged
//! (`errors.log.enable`) and sent to `errors.deadletterqueue.topic.name` with Kafka Connect's
//! `__connect.errors.*` headers, and the connector goes on.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, DefaultConsumerContext};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use runnel_core::config::{ConnectorConfig, parse_bool, split_list};
use runnel_core::encode::{EncodedBatch, Record};
use runnel_core::{Error, Result};

use crate::client::{client_config, creation_error};

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
                return Err(Error::config(
                    "a sink connector needs \"topics\" (a comma-separated list) or \"topics.regex\"",
                ));
            }
            (false, Some(_)) => {
                return Err(Error::config(
                    "\"topics\" and \"topics.regex\" are both set: give only one",
                ));
            }
            _ => {}
        }
        if let Some(re) = &topics_regex {
            regex::Regex::new(re).map_err(|e| {
                Error::config(format!("\"topics.regex\": invalid regular expression: {e}"))
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

/// Consumed records waiting for the destination; their offsets commit together.
#[derive(Default)]
pub struct PendingOffsets {
    next: HashMap<(String, i32), i64>,
}

impl PendingOffsets {
    pub fn is_empty(&self) -> bool {
        self.next.is_empty()
    }
}

pub struct KafkaSource {
    cfg: SinkConnectorConfig,
    consumer: BaseConsumer<DefaultConsumerContext>,
    dlq: Option<BaseProducer>,
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

impl KafkaSource {
    pub fn new(config: &ConnectorConfig, worker_bootstrap: Option<&str>) -> Result<Self> {
        let cfg = SinkConnectorConfig::from_connector(config)?;
        let pairs = consumer_settings(config, worker_bootstrap);
        let Some(bootstrap) = pairs
            .iter()
            .rev()
            .find(|(k, _)| k == "bootstrap.servers")
            .map(|(_, v)| v.clone())
        else {
            return Err(Error::config(
                "a sink connector needs the Kafka cluster: run with --bootstrap-servers (or set \"consumer.override.bootstrap.servers\")",
            ));
        };
        let consumer: BaseConsumer<DefaultConsumerContext> =
            client_config(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?
                .create()
                .map_err(|e| creation_error("Kafka consumer settings", e))?;
        match &cfg.topics_regex {
            // librdkafka subscribes by pattern when the name starts with `^`.
            Some(re) => consumer.subscribe(&[&format!("^{}", re.trim_start_matches('^'))]),
            None => consumer.subscribe(&cfg.topics.iter().map(String::as_str).collect::<Vec<_>>()),
        }
        .map_err(|e| Error::config(format!("subscribing: {e}")))?;
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
        Ok(Self { cfg, consumer, dlq })
    }

    /// Polls up to `max` records (waiting at most `wait` for the first) into `batch`, in
    /// partition order. Records the converter rejects are handled per `errors.tolerance`.
    pub fn poll_batch(
        &mut self,
        batch: &mut EncodedBatch,
        pending: &mut PendingOffsets,
        max: usize,
        wait: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + wait;
        let mut timeout = wait;
        while batch.records.len() < max {
            let Some(polled) = self.consumer.poll(timeout) else {
                break;
            };
            // After the first record, take only what is already here.
            timeout = Duration::ZERO;
            let msg = match polled {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(connector = %self.cfg.name, "kafka consumer: {e}");
                    if Instant::now() > deadline {
                        break;
                    }
                    continue;
                }
            };
            let (topic, partition, offset) =
                (msg.topic().to_string(), msg.partition(), msg.offset());
            let key = msg.key();
            let value = msg.payload();
            let checked = check_json(key, self.cfg.key_schemas, "key")
                .and_then(|_| check_json(value, self.cfg.value_schemas, "value"));
            match checked {
                Ok(()) => {
                    let start = batch.buf.len();
                    let key_range = key.map(|k| {
                        batch.buf.extend_from_slice(k);
                        start..batch.buf.len()
                    });
                    let vstart = batch.buf.len();
                    let value_range = value.map(|v| {
                        batch.buf.extend_from_slice(v);
                        vstart..batch.buf.len()
                    });
                    batch.records.push(Record {
                        topic: topic.as_str().into(),
                        key: key_range,
                        value: value_range,
                        timestamp_ms: msg.timestamp().to_millis().unwrap_or(0),
                    });
                }
                Err(reason) => {
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
                    self.dead_letter(&topic, partition, offset, key, value, &reason)?;
                }
            }
            pending.next.insert((topic, partition), offset + 1);
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
            .map_err(|(e, _)| Error::sink(format!("dead letter queue {dlq_topic}: {e}")))?;
        dlq.flush(Duration::from_secs(60))
            .map_err(|e| Error::sink(format!("dead letter queue {dlq_topic}: {e}")))?;
        Ok(())
    }

    /// Commits the offsets of records the destination has made durable.
    pub fn commit(&mut self, pending: &mut PendingOffsets) -> Result<()> {
        if pending.next.is_empty() {
            return Ok(());
        }
        let mut list = TopicPartitionList::new();
        for ((topic, partition), next) in pending.next.drain() {
            list.add_partition_offset(&topic, partition, Offset::Offset(next))
                .map_err(|e| Error::internal(format!("offset list: {e}")))?;
        }
        if let Err(e) = self.consumer.commit(&list, CommitMode::Sync) {
            // A rebalance took the partition away: its records come again to the new owner
            // (at-least-once), nothing is lost.
            tracing::warn!(connector = %self.cfg.name, "committing offsets: {e}; the records will be delivered again");
        }
        Ok(())
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

/// Keys of Kafka Connect sink connectors that runnel acts on (beside the common ones).
pub const SINK_CONNECTOR_KEYS: &[runnel_core::config::ConfigKey] = {
    use runnel_core::config::{ConfigKey, ValueType as T};
    &[
        ConfigKey::new("topics", T::List, "Topics to consume."),
        ConfigKey::new(
            "topics.regex",
            T::String,
            "Regular expression of topics to consume.",
        ),
        ConfigKey::new(
            "errors.deadletterqueue.topic.name",
            T::String,
            "Topic for records the converter rejects (with errors.tolerance=all).",
        ),
        ConfigKey::new(
            "errors.deadletterqueue.topic.replication.factor",
            T::Int,
            "Replication factor of the dead letter queue topic.",
        )
        .default("3"),
        ConfigKey::new(
            "errors.deadletterqueue.context.headers.enable",
            T::Boolean,
            "Add __connect.errors.* headers to dead-lettered records.",
        )
        .default("false"),
    ]
};
