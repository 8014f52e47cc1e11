//! Writing the worker group's internal topics (configs, offsets, statuses): one idempotent
//! producer, each append answered with where the broker put the record, so that a writer can
//! wait until its own reader has read it back.

use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use runnel_core::{Error, Result};
use tokio::sync::oneshot;

use crate::client::{client_config, creation_error, kafka_error, sink_error};

type Ack = std::result::Result<(i32, i64), String>;

struct Acks;

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = Box<oneshot::Sender<Ack>>;
    fn delivery(&self, result: &DeliveryResult<'_>, tx: Self::DeliveryOpaque) {
        let ack = match result {
            Ok(m) => Ok((m.partition(), m.offset())),
            Err((e, _)) => Err(e.to_string()),
        };
        let _ = tx.send(ack);
    }
}

pub struct LogWriter {
    producer: ThreadedProducer<Acks>,
}

/// One internal topic to create when missing: compacted, as Kafka Connect creates its own.
pub struct InternalTopic<'a> {
    pub name: &'a str,
    pub partitions: i32,
    pub replication: i32,
    /// `compact` for the three state topics; `delete` for the control topic.
    pub cleanup_policy: &'a str,
}

/// Creates each missing topic (an existing one is left as it is).
pub async fn ensure_topics(pairs: &[(String, String)], topics: &[InternalTopic<'_>]) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        client_config(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?
            .create()
            .map_err(|e| creation_error("Kafka admin client", e))?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            NewTopic::new(t.name, t.partitions, TopicReplication::Fixed(t.replication))
                .set("cleanup.policy", t.cleanup_policy)
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(new.iter(), &opts)
        .await
        .map_err(|e| kafka_error("creating the worker group's topics", e))?;
    for r in results {
        match r {
            Ok(t) => tracing::info!(topic = %t, "topic created"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, code)) => return Err(sink_error(&format!("creating topic {t}"), code)),
        }
    }
    Ok(())
}

impl LogWriter {
    pub fn new(pairs: &[(String, String)]) -> Result<Self> {
        let mut all: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        all.extend([
            ("enable.idempotence", "true"),
            ("acks", "all"),
            ("linger.ms", "5"),
            // The Java client's partitioner, so offset records land where Kafka Connect's do.
            ("partitioner", "murmur2_random"),
        ]);
        let producer = client_config(all)?
            .create_with_context(Acks)
            .map_err(|e| creation_error("Kafka producer for the worker group's topics", e))?;
        Ok(Self { producer })
    }

    /// Appends one record (`value` None: a tombstone) and waits for the broker's
    /// acknowledgement: (partition, offset).
    pub async fn append(
        &self,
        topic: &str,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<(i32, i64)> {
        let (tx, rx) = oneshot::channel();
        let mut record: BaseRecord<'_, [u8], [u8], Box<oneshot::Sender<Ack>>> =
            BaseRecord::with_opaque_to(topic, Box::new(tx)).key(key);
        if let Some(v) = value {
            record = record.payload(v);
        }
        self.producer
            .send(record)
            .map_err(|(e, _)| kafka_error(&format!("writing to topic {topic}"), e))?;
        match tokio::time::timeout(Duration::from_secs(60), rx).await {
            Ok(Ok(Ok(at))) => Ok(at),
            Ok(Ok(Err(e))) => Err(Error::sink_transient(format!(
                "writing to topic {topic}: {e}"
            ))),
            Ok(Err(_)) => Err(Error::internal("the producer dropped a delivery report")),
            Err(_) => Err(Error::connection(format!(
                "writing to topic {topic}: no acknowledgement within 60 s; is the broker reachable?"
            ))),
        }
    }

    /// Sends what is queued (on shutdown).
    pub fn flush(&self) {
        let _ = self.producer.flush(Duration::from_secs(10));
    }
}
