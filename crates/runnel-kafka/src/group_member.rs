//! Membership of a worker group on Kafka's ordinary consumer protocol: every worker subscribes
//! to one control topic in the group, and the partitions the group gives a worker are the work
//! it owns (librdkafka cannot speak Kafka Connect's own `connect` protocol type). With
//! `cooperative-sticky` a rebalance moves only what must move; with `group.instance.id` (static
//! membership) a worker restarted within `session.timeout.ms` gets its partitions back without
//! a rebalance. The owner is told before a partition is revoked and the revocation waits for
//! it, so work is released before anyone else is given it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::{ClientContext, TopicPartitionList};
use runnel_core::{Error, Result};

use crate::client::{client_config, creation_error, kafka_error};

/// Told what the worker owns: called with the new set before a revocation completes (so
/// the owner stops that work first; the call may block) and after an assignment. The flag
/// says the partitions were lost rather than handed over (the group went on without this
/// worker, after a pause or a partition): someone else may own them already.
pub type OnOwned = Arc<dyn Fn(&BTreeSet<i32>, bool) + Send + Sync>;

struct Context {
    topic: String,
    owned: std::sync::Mutex<BTreeSet<i32>>,
    generation: Arc<AtomicI32>,
    on_owned: OnOwned,
}

fn partitions(tpl: &TopicPartitionList, topic: &str) -> Vec<i32> {
    tpl.elements()
        .iter()
        .filter(|e| e.topic() == topic)
        .map(|e| e.partition())
        .collect()
}

impl ClientContext for Context {}

impl ConsumerContext for Context {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let lost = consumer.assignment_lost();
            let revoked = partitions(tpl, &self.topic);
            let now = {
                let mut owned = self.owned.lock().unwrap_or_else(|p| p.into_inner());
                for p in &revoked {
                    owned.remove(p);
                }
                owned.clone()
            };
            if lost {
                tracing::warn!(topic = %self.topic, ?revoked, "work lost (this worker was out of the group); stopping it");
            } else {
                tracing::info!(topic = %self.topic, ?revoked, "work revoked; releasing it");
            }
            (self.on_owned)(&now, lost);
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(_) = rebalance {
            let now: BTreeSet<i32> = match consumer.assignment() {
                Ok(tpl) => partitions(&tpl, &self.topic).into_iter().collect(),
                Err(e) => {
                    tracing::error!(topic = %self.topic, "reading the assignment: {e}");
                    return;
                }
            };
            self.generation.fetch_add(1, Ordering::Relaxed);
            tracing::info!(topic = %self.topic, owned = ?now, "work assigned");
            *self.owned.lock().unwrap_or_else(|p| p.into_inner()) = now.clone();
            (self.on_owned)(&now, false);
        }
    }
}

/// Settings of a membership.
pub struct GroupSettings<'a> {
    /// Client settings (Java names): bootstrap servers, security.
    pub client: &'a [(String, String)],
    pub group_id: &'a str,
    /// The stable name of this worker (a StatefulSet pod's name), for static membership.
    pub instance_id: Option<&'a str>,
    pub session_timeout_ms: u32,
    pub heartbeat_interval_ms: u32,
}

pub struct GroupMember {
    generation: Arc<AtomicI32>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GroupMember {
    /// Joins the group on `topic`; `on_owned` is told every change of what this worker owns.
    pub fn join(settings: &GroupSettings<'_>, topic: &str, on_owned: OnOwned) -> Result<Self> {
        let session = settings.session_timeout_ms.to_string();
        let heartbeat = settings.heartbeat_interval_ms.to_string();
        let mut all: Vec<(&str, &str)> = settings
            .client
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        all.extend([
            ("group.id", settings.group_id),
            ("enable.auto.commit", "false"),
            ("partition.assignment.strategy", "cooperative-sticky"),
            ("session.timeout.ms", session.as_str()),
            ("heartbeat.interval.ms", heartbeat.as_str()),
            // The control topic carries no records; what matters is staying a member.
            ("topic.metadata.refresh.interval.ms", "2000"),
        ]);
        if let Some(id) = settings.instance_id {
            all.push(("group.instance.id", id));
        }
        let generation = Arc::new(AtomicI32::new(0));
        let context = Context {
            topic: topic.to_string(),
            owned: Default::default(),
            generation: generation.clone(),
            on_owned,
        };
        let consumer: BaseConsumer<Context> = client_config(all)?
            .create_with_context(context)
            .map_err(|e| creation_error("Kafka consumer for the worker group", e))?;
        consumer
            .subscribe(&[topic])
            .map_err(|e| kafka_error(&format!("joining group {}", settings.group_id), e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            let group = settings.group_id.to_string();
            std::thread::Builder::new()
                .name("worker-group".into())
                .spawn(move || {
                    // Polling keeps the membership (and runs the rebalance callbacks here).
                    while !stop.load(Ordering::Relaxed) {
                        if let Some(Err(e)) = consumer.poll(Duration::from_millis(200)) {
                            tracing::warn!(%group, "worker group: {e}");
                        }
                    }
                    // Leaving: dropping the consumer closes it, which runs the revocation
                    // callback (the work is released) and, for a static member, sends no
                    // LeaveGroup (KIP-345): the group keeps its partitions for it until
                    // `session.timeout.ms`, so a restart within that moves nothing.
                    // (`unsubscribe` would leave the group and hand the work to others.)
                    drop(consumer);
                })
                .map_err(|e| Error::internal(format!("cannot start a thread: {e}")))?
        };
        Ok(Self {
            generation,
            stop,
            thread: Some(thread),
        })
    }

    /// How many assignments this worker has had: the generation its statuses carry.
    pub fn generation(&self) -> i32 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Leaves the group (releasing the work first) and waits for the thread.
    pub fn leave(mut self) {
        self.stop_thread();
    }

    fn stop_thread(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for GroupMember {
    fn drop(&mut self) {
        self.stop_thread();
    }
}
