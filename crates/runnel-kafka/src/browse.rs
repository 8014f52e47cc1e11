//! Reading a Kafka cluster for the console's topic browser: its topics with each partition's
//! offsets, and a page of messages. The consumer has no group and commits nothing (partitions are
//! assigned, not subscribed): browsing moves no one's offsets. Blocking calls: run them off the
//! async threads.

use std::time::{Duration, Instant};

use base64::Engine;
use rdkafka::consumer::{BaseConsumer, Consumer, DefaultConsumerContext};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use runnel_core::{Error, Result};
use serde_json::{Value, json};

use crate::client::{client_config, creation_error};

/// How long one request may take, from metadata to the last message.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Messages one partition is scanned back for a key search.
const KEY_SCAN: i64 = 10_000;
/// The most messages one page shows.
pub const MAX_LIMIT: usize = 500;

/// What page of messages to read.
#[derive(Debug, Clone, Default)]
pub struct MessageQuery {
    pub topic: String,
    /// One partition, or all.
    pub partition: Option<i32>,
    /// From this offset on (per partition); `None`: the newest messages.
    pub offset: Option<i64>,
    pub limit: usize,
    /// Only messages whose key contains this text.
    pub key: Option<String>,
}

fn consumer(bootstrap: &str) -> Result<BaseConsumer<DefaultConsumerContext>> {
    client_config([
        ("bootstrap.servers", bootstrap),
        ("group.id", "runnel-console-browser"),
        ("enable.auto.commit", "false"),
        ("enable.partition.eof", "true"),
        ("client.id", "runnel-console"),
    ])?
    .create()
    .map_err(|e| creation_error("Kafka consumer for the topic browser", e))
}

fn kafka_error(what: &str, e: rdkafka::error::KafkaError) -> Error {
    Error::connection(format!("{what}: {e}"))
}

/// `[{"name", "partitions": [{"partition", "low", "high"}], "messages"}]`, internal topics
/// (`__…`) last.
pub fn topics(bootstrap: &str) -> Result<Value> {
    let c = consumer(bootstrap)?;
    let metadata = c
        .fetch_metadata(None, TIMEOUT)
        .map_err(|e| kafka_error("reading the cluster's topics", e))?;
    let mut out = Vec::new();
    for t in metadata.topics() {
        let mut partitions = Vec::new();
        let mut total = 0i64;
        for p in t.partitions() {
            let (low, high) = c
                .fetch_watermarks(t.name(), p.id(), TIMEOUT)
                .map_err(|e| kafka_error(&format!("reading {}'s offsets", t.name()), e))?;
            total += high - low;
            partitions.push(json!({"partition": p.id(), "low": low, "high": high}));
        }
        partitions.sort_by_key(|p| p["partition"].as_i64());
        out.push(json!({"name": t.name(), "partitions": partitions, "messages": total}));
    }
    out.sort_by(|a, b| {
        let key = |v: &Value| {
            let name = v["name"].as_str().unwrap_or_default().to_string();
            (name.starts_with("__"), name)
        };
        key(a).cmp(&key(b))
    });
    Ok(Value::Array(out))
}

/// Text when the bytes are UTF-8, else base64 (and says so).
fn bytes_json(bytes: Option<&[u8]>) -> (Value, bool) {
    match bytes {
        None => (Value::Null, false),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => (json!(s), false),
            Err(_) => (
                json!(base64::engine::general_purpose::STANDARD.encode(b)),
                true,
            ),
        },
    }
}

fn message_json(m: &rdkafka::message::BorrowedMessage<'_>) -> Value {
    let (key, key_b64) = bytes_json(m.key());
    let (value, value_b64) = bytes_json(m.payload());
    let headers: Vec<Value> = m
        .headers()
        .map(|hs| {
            hs.iter()
                .map(|h| json!({"key": h.key, "value": bytes_json(h.value).0}))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "partition": m.partition(),
        "offset": m.offset(),
        "timestamp": m.timestamp().to_millis(),
        "key": key,
        "key_base64": key_b64,
        "value": value,
        "value_base64": value_b64,
        "headers": headers,
    })
}

/// `{"messages": [...]}`, newest first, at most `limit` (capped at [`MAX_LIMIT`]).
pub fn messages(bootstrap: &str, q: &MessageQuery) -> Result<Value> {
    let limit = q.limit.clamp(1, MAX_LIMIT);
    let c = consumer(bootstrap)?;
    let metadata = c
        .fetch_metadata(Some(&q.topic), TIMEOUT)
        .map_err(|e| kafka_error(&format!("reading topic {}", q.topic), e))?;
    let Some(topic) = metadata.topics().iter().find(|t| t.name() == q.topic) else {
        return Err(Error::config(format!("topic {} does not exist", q.topic)));
    };
    if topic.partitions().is_empty() {
        return Err(Error::config(format!("topic {} does not exist", q.topic)));
    }
    // Where to start and stop in each partition.
    let mut list = TopicPartitionList::new();
    let mut open = Vec::new();
    for p in topic.partitions() {
        if q.partition.is_some_and(|want| want != p.id()) {
            continue;
        }
        let (low, high) = c
            .fetch_watermarks(&q.topic, p.id(), TIMEOUT)
            .map_err(|e| kafka_error(&format!("reading {}'s offsets", q.topic), e))?;
        let back = if q.key.is_some() {
            KEY_SCAN
        } else {
            limit as i64
        };
        let start = match q.offset {
            Some(o) => o.max(low),
            None => (high - back).max(low),
        };
        list.add_partition_offset(&q.topic, p.id(), Offset::Offset(start))
            .map_err(|e| kafka_error("assigning partitions", e))?;
        open.push(p.id());
    }
    if open.is_empty() {
        return Ok(json!({"messages": []}));
    }
    c.assign(&list)
        .map_err(|e| kafka_error("assigning partitions", e))?;
    let deadline = Instant::now() + TIMEOUT;
    let mut found: Vec<Value> = Vec::new();
    while !open.is_empty() && Instant::now() < deadline {
        let Some(polled) = c.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = match polled {
            Ok(m) => m,
            // The end of a partition as the fetch saw it (not the offsets listed before:
            // they may be stale by now, and some brokers list them wrong).
            Err(rdkafka::error::KafkaError::PartitionEOF(p)) => {
                open.retain(|id| *id != p);
                continue;
            }
            Err(e) => return Err(kafka_error(&format!("reading {}", q.topic), e)),
        };
        if let Some(key) = &q.key
            && !m
                .key()
                .is_some_and(|k| String::from_utf8_lossy(k).contains(key.as_str()))
        {
            continue;
        }
        found.push(message_json(&m));
        // From an offset: the first `limit` per request are enough.
        if q.offset.is_some() && found.len() >= limit {
            break;
        }
    }
    // Newest first; a search keeps its newest matches.
    found.sort_by_key(|m| {
        std::cmp::Reverse((
            m["timestamp"].as_i64(),
            m["offset"].as_i64(),
            m["partition"].as_i64(),
        ))
    });
    if q.offset.is_some() {
        found.reverse();
    }
    found.truncate(limit);
    Ok(json!({"messages": found}))
}
