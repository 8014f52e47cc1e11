//! A compacted topic followed from its first record, as Kafka Connect's `KafkaBasedLog` follows
//! its config, offset and status topics: every partition assigned from the beginning (no group,
//! nothing committed), the latest value of each key kept, and "read to the end" available as a
//! barrier, so that a worker answers from what the topic held when it was asked. Runs on its
//! own thread (rdkafka's calls block).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, DefaultConsumerContext};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use runnel_core::{Error, Result};

use crate::client::{client_config, creation_error, kafka_error};
use crate::whole_topic::TopicRecord;

/// Called with each record in topic order, before the view counts it as read: the config
/// topic's reader applies configs there, so "read" means "applied".
pub type OnRecord = Box<dyn FnMut(&TopicRecord) + Send>;

#[derive(Default)]
struct Folded {
    latest: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The next offset to read, per partition.
    next: BTreeMap<i32, i64>,
}

struct Shared {
    folded: Mutex<Folded>,
    read: Condvar,
}

pub struct TopicView {
    topic: String,
    partitions: Vec<i32>,
    shared: Arc<Shared>,
    /// A second client for the end offsets (the reading one is busy in its thread).
    ends: BaseConsumer<DefaultConsumerContext>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn consumer(pairs: &[(String, String)]) -> Result<BaseConsumer<DefaultConsumerContext>> {
    let mut all: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.extend([
        ("group.id", "runnel-topic-view"),
        ("enable.auto.commit", "false"),
        ("fetch.wait.max.ms", "100"),
    ]);
    client_config(all)?
        .create()
        .map_err(|e| creation_error("Kafka consumer", e))
}

/// The partition ids of `topic`, or a config error when it does not exist.
pub fn partitions_of(
    client: &BaseConsumer<DefaultConsumerContext>,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<i32>> {
    let metadata = client
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| kafka_error(&format!("reading topic {topic}'s partitions"), e))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(Error::config(format!(
            "topic {topic} does not exist on this Kafka cluster"
        )));
    }
    Ok(partitions)
}

impl TopicView {
    /// Starts following `topic` with the client settings `pairs` (Java names).
    pub fn start(
        pairs: &[(String, String)],
        topic: &str,
        mut on_record: Option<OnRecord>,
    ) -> Result<Self> {
        let reader = consumer(pairs)?;
        let ends = consumer(pairs)?;
        let partitions = partitions_of(&ends, topic, Duration::from_secs(30))?;
        let mut tpl = TopicPartitionList::new();
        for p in &partitions {
            tpl.add_partition_offset(topic, *p, Offset::Beginning)
                .map_err(|e| kafka_error("assigning a partition", e))?;
        }
        reader
            .assign(&tpl)
            .map_err(|e| kafka_error(&format!("following topic {topic}"), e))?;
        let shared = Arc::new(Shared {
            folded: Mutex::new(Folded {
                latest: BTreeMap::new(),
                next: partitions.iter().map(|p| (*p, 0)).collect(),
            }),
            read: Condvar::new(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (shared, stop, name) = (shared.clone(), stop.clone(), topic.to_string());
            std::thread::Builder::new()
                .name(format!("view-{topic}"))
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let message = match reader.poll(Duration::from_millis(100)) {
                            None => {
                                // Caught up: the consumer's position may be past the last
                                // record read, over a transaction's commit marker (never
                                // delivered, but counted in the end offset).
                                advance_to_position(&reader, &shared);
                                continue;
                            }
                            Some(Ok(m)) => m,
                            Some(Err(e)) => {
                                tracing::debug!(topic = %name, "following the topic: {e}");
                                continue;
                            }
                        };
                        let record = TopicRecord {
                            partition: message.partition(),
                            offset: message.offset(),
                            key: message.key().map(<[u8]>::to_vec),
                            value: message.payload().map(<[u8]>::to_vec),
                        };
                        if let Some(f) = on_record.as_mut() {
                            f(&record);
                        }
                        let mut folded = shared.folded.lock().unwrap_or_else(|p| p.into_inner());
                        if let Some(key) = record.key {
                            match record.value {
                                Some(v) => {
                                    folded.latest.insert(key, v);
                                }
                                None => {
                                    folded.latest.remove(&key);
                                }
                            }
                        }
                        folded.next.insert(record.partition, record.offset + 1);
                        drop(folded);
                        shared.read.notify_all();
                    }
                })
                .map_err(|e| Error::internal(format!("cannot start a thread: {e}")))?
        };
        Ok(Self {
            topic: topic.to_string(),
            partitions,
            shared,
            ends,
            stop,
            thread: Some(thread),
        })
    }

    pub fn partition_count(&self) -> i32 {
        self.partitions.len() as i32
    }

    /// Waits until the view has read every record the topic held when called (blocking).
    pub fn read_to_end(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut ends = Vec::with_capacity(self.partitions.len());
        for p in &self.partitions {
            let (_, high) = self
                .ends
                .fetch_watermarks(&self.topic, *p, timeout)
                .map_err(|e| kafka_error(&format!("reading topic {}'s end", self.topic), e))?;
            ends.push((*p, high));
        }
        self.wait(&ends, deadline)
    }

    /// Waits until the view has read `offset` of `partition` (a record this worker wrote).
    pub fn wait_for(&self, partition: i32, offset: i64, timeout: Duration) -> Result<()> {
        self.wait(&[(partition, offset + 1)], Instant::now() + timeout)
    }

    fn wait(&self, ends: &[(i32, i64)], deadline: Instant) -> Result<()> {
        let mut folded = self.shared.folded.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let behind = ends
                .iter()
                .find(|(p, end)| folded.next.get(p).copied().unwrap_or(0) < *end);
            let Some((p, end)) = behind else {
                return Ok(());
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::connection(format!(
                    "topic {}: partition {p} not read up to offset {end} in time (at {}); is the \
                     broker reachable?",
                    self.topic,
                    folded.next.get(p).copied().unwrap_or(0)
                )));
            }
            folded = self
                .shared
                .read
                .wait_timeout(folded, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// The latest value of `key`, as read so far.
    pub fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let folded = self.shared.folded.lock().unwrap_or_else(|p| p.into_inner());
        folded.latest.get(key).cloned()
    }

    /// Every key starting with `prefix` and its latest value, as read so far.
    pub fn with_prefix(&self, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let folded = self.shared.folded.lock().unwrap_or_else(|p| p.into_inner());
        folded
            .latest
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl Drop for TopicView {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Moves each partition's read-up-to offset to the consumer's position where that is further.
fn advance_to_position(reader: &BaseConsumer, shared: &Shared) {
    let Ok(positions) = reader.position() else {
        return;
    };
    let mut folded = shared.folded.lock().unwrap_or_else(|p| p.into_inner());
    let mut moved = false;
    for e in positions.elements() {
        if let Offset::Offset(at) = e.offset()
            && let Some(next) = folded.next.get_mut(&e.partition())
            && *next < at
        {
            *next = at;
            moved = true;
        }
    }
    drop(folded);
    if moved {
        shared.read.notify_all();
    }
}
