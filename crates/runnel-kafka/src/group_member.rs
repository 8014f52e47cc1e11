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
        let mut pairs: Vec<(String, String)> = settings.client.to_vec();
        pairs.extend(
            [
                ("group.id", settings.group_id.to_string()),
                ("enable.auto.commit", "false".into()),
                ("partition.assignment.strategy", "cooperative-sticky".into()),
                (
                    "session.timeout.ms",
                    settings.session_timeout_ms.to_string(),
                ),
                (
                    "heartbeat.interval.ms",
                    settings.heartbeat_interval_ms.to_string(),
                ),
                // The control topic carries no records; what matters is staying a member.
                ("topic.metadata.refresh.interval.ms", "2000".into()),
            ]
            .map(|(k, v)| (k.to_string(), v)),
        );
        if let Some(id) = settings.instance_id {
            pairs.push(("group.instance.id".into(), id.to_string()));
        }
        let generation = Arc::new(AtomicI32::new(0));
        let group = settings.group_id.to_string();
        let topic = topic.to_string();
        let connect = {
            let (generation, on_owned, group) =
                (generation.clone(), on_owned.clone(), group.clone());
            move || -> Result<BaseConsumer<Context>> {
                let context = Context {
                    topic: topic.clone(),
                    owned: Default::default(),
                    generation: generation.clone(),
                    on_owned: on_owned.clone(),
                };
                let consumer: BaseConsumer<Context> =
                    client_config(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?
                        .create_with_context(context)
                        .map_err(|e| creation_error("Kafka consumer for the worker group", e))?;
                consumer
                    .subscribe(&[topic.as_str()])
                    .map_err(|e| kafka_error(&format!("joining group {group}"), e))?;
                Ok(consumer)
            }
        };
        let mut consumer = connect()?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("worker-group".into())
                .spawn(move || {
                    loop {
                        // Polling keeps the membership (and runs the rebalance callbacks here).
                        if let Some(Err(e)) = consumer.poll(Duration::from_millis(200)) {
                            tracing::warn!(%group, "worker group: {e}");
                        }
                        if stop.load(Ordering::Relaxed) {
                            // Leaving: dropping the consumer closes it, which runs the
                            // revocation callback (the work is released) and, for a static
                            // member, sends no LeaveGroup (KIP-345): the group keeps its
                            // partitions for it until `session.timeout.ms`, so a restart within
                            // that moves nothing. (`unsubscribe` would leave the group and hand
                            // the work to others.)
                            drop(consumer);
                            return;
                        }
                        // A fatal error (a static member fenced by another with its id) ends
                        // this consumer for good: stop the work it held, then join again.
                        if let Some((code, reason)) = consumer.client().fatal_error() {
                            tracing::error!(%group, "worker group: {code}: {reason}; work lost, joining again");
                            drop(consumer);
                            on_owned(&BTreeSet::new(), true);
                            loop {
                                std::thread::sleep(Duration::from_secs(1));
                                if stop.load(Ordering::Relaxed) {
                                    return;
                                }
                                match connect() {
                                    Ok(c) => {
                                        consumer = c;
                                        break;
                                    }
                                    Err(e) => tracing::warn!(%group, "joining again: {e}"),
                                }
                            }
                        }
                    }
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
