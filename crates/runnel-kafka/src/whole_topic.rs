//! Reading a topic whole, first record to last, as Kafka Connect's `KafkaBasedLog` reads its
//! config and offset topics at startup: each partition assigned from the beginning (no group,
//! nothing committed) and read until it reports its end. Blocking: run it off the async
//! threads.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, DefaultConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use runnel_core::{Error, Result};

use crate::client::{client_config, creation_error, kafka_error};

/// One record as the topic holds it.
#[derive(Debug, Clone)]
pub struct TopicRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    /// `None`: a tombstone.
    pub value: Option<Vec<u8>>,
}

/// Every record of `topic`, in offset order within each partition (partitions one after the
/// other), reading with the client settings `pairs` (Java names, as a worker config has them).
pub fn read_whole_topic(
    pairs: &[(String, String)],
    topic: &str,
    timeout: Duration,
) -> Result<Vec<TopicRecord>> {
    let mut all: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.extend([
        ("group.id", "runnel-whole-topic-reader"),
        ("enable.auto.commit", "false"),
        ("enable.partition.eof", "true"),
    ]);
    let consumer: BaseConsumer<DefaultConsumerContext> = client_config(all)?
        .create()
        .map_err(|e| creation_error("Kafka consumer", e))?;
    let deadline = Instant::now() + timeout;
    let partitions = crate::topic_view::partitions_of(&consumer, topic, timeout)?;
    // One partition at a time, each to the end its fetch reports (the fetch's own high
    // watermark; a listed end offset can lag behind it on some brokers, and some answer a
    // fetch of many partitions with one partition's records).
    let mut records = Vec::new();
    for p in partitions {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .map_err(|e| kafka_error("assigning a partition", e))?;
        consumer
            .assign(&tpl)
            .map_err(|e| kafka_error("assigning a partition", e))?;
        loop {
            if Instant::now() > deadline {
                return Err(Error::connection(format!(
                    "reading topic {topic} did not reach the end of partition {p} within {} s \
                     ({} records read)",
                    timeout.as_secs(),
                    records.len()
                )));
            }
            match consumer.poll(Duration::from_millis(200)) {
                None => {}
                Some(Ok(m)) if m.partition() == p => records.push(TopicRecord {
                    partition: p,
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().map(<[u8]>::to_vec),
                }),
                Some(Ok(_)) => {}
                Some(Err(KafkaError::PartitionEOF(eof))) if eof == p => break,
                Some(Err(KafkaError::MessageConsumption(
                    code @ (RDKafkaErrorCode::TopicAuthorizationFailed
                    | RDKafkaErrorCode::GroupAuthorizationFailed
                    | RDKafkaErrorCode::UnknownTopicOrPartition),
                ))) => {
                    return Err(Error::config(format!("reading topic {topic}: {code}")));
                }
                Some(Err(e)) => tracing::debug!(%topic, "while reading the whole topic: {e}"),
            }
        }
    }
    records.sort_by_key(|r| (r.partition, r.offset));
    Ok(records)
}
