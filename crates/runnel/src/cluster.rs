//! Distributed mode on Kafka: the worker group's state in Kafka Connect's three internal topics
//! (config, offset, status; `connect-distributed.properties` names them), each followed from
//! its first record by every worker, and the work shared out by Kafka's consumer group
//! protocol over a control topic whose partitions stand for connectors (`murmur2(name) %
//! partitions`, the Java client's partitioner): the group gives each worker a share of the
//! partitions and a worker runs the connectors whose partition it holds. See
//! docs/distributed.md for the design and its limits.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use runnel_core::plugin::BoxFuture;
use runnel_core::{Error, Result};
use runnel_kafka::group_member::{GroupMember, GroupSettings};
use runnel_kafka::log_writer::{InternalTopic as Topic, LogWriter, ensure_topics};
use runnel_kafka::partition::partition_for_key;
use runnel_kafka::topic_view::{OnRecord, TopicView};
use runnel_runtime::cluster::{Cluster, InternalTopic, KeyValues};
use runnel_runtime::config_providers::ConfigProviders;
use runnel_runtime::connect_records::{ConnectRecord, parse_config};
use runnel_runtime::{Registry, StateStore, Worker, WorkerSettings};

/// How long a worker waits to read a topic to its end.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A distributed worker's settings, from its `connect-distributed.properties`.
#[derive(Debug, Clone)]
pub(crate) struct GroupConfig {
    pub group_id: String,
    pub config_topic: String,
    pub offset_topic: String,
    pub status_topic: String,
    pub offset_partitions: i32,
    pub status_partitions: i32,
    /// Replication factors of the config, offset and status topics.
    pub replication: [i32; 3],
    /// The control topic whose partitions the group shares out (`runnel.work.topic`).
    pub work_topic: String,
    pub work_partitions: i32,
    pub session_timeout_ms: u32,
    pub heartbeat_interval_ms: u32,
    /// `runnel.group.instance.id`; the worker id when unset.
    pub instance_id: Option<String>,
    /// bootstrap.servers and the security keys, for the worker's own clients.
    pub client: Vec<(String, String)>,
    /// `exactly.once.source.support=enabled`: source connectors writing to Kafka do so in
    /// transactions, records and offsets together.
    pub exactly_once: bool,
}

fn number<T: std::str::FromStr>(
    props: &BTreeMap<String, String>,
    key: &str,
    default: T,
) -> Result<T> {
    match props.get(key) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| {
            Error::config(format!(
                "worker config: {key}={v} is not a number (a whole number is expected)"
            ))
        }),
    }
}

impl GroupConfig {
    /// The distributed settings of a worker config with `group.id`; `None` without one.
    pub(crate) fn from_properties(props: &BTreeMap<String, String>) -> Result<Option<Self>> {
        let Some(group_id) = props.get("group.id").map(|g| g.trim().to_string()) else {
            return Ok(None);
        };
        let topic = |key: &str| -> Result<String> {
            props
                .get(key)
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    let example = match key {
                        "config.storage.topic" => "connect-configs",
                        "offset.storage.topic" => "connect-offsets",
                        _ => "connect-status",
                    };
                    Error::config(format!(
                        "worker config: group.id is set (a distributed worker) but {key} is \
                         missing: name the topic, as Kafka Connect requires (for example \
                         {key}={example})"
                    ))
                })
        };
        let bootstrap = props.get("bootstrap.servers").ok_or_else(|| {
            Error::config(
                "worker config: a distributed worker (group.id) needs bootstrap.servers: its \
                 state is kept in Kafka",
            )
        })?;
        // Kafka Connect's `preparing` readies a cluster for a rolling upgrade to `enabled`;
        // runnel's workers fence per connector whenever one starts, so it is `disabled` here.
        let exactly_once = match props
            .get("exactly.once.source.support")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("disabled") | Some("preparing") => false,
            Some("enabled") => true,
            Some(other) => {
                return Err(Error::config(format!(
                    "worker config: exactly.once.source.support={other} is not one of enabled, \
                     preparing, disabled"
                )));
            }
        };
        let client = runnel_kafka::client::worker_client_settings(props, bootstrap);
        let config_topic = topic("config.storage.topic")?;
        Ok(Some(Self {
            work_topic: props
                .get("runnel.work.topic")
                .cloned()
                .unwrap_or_else(|| format!("{config_topic}-work")),
            config_topic,
            offset_topic: topic("offset.storage.topic")?,
            status_topic: topic("status.storage.topic")?,
            offset_partitions: number(props, "offset.storage.partitions", 25)?,
            status_partitions: number(props, "status.storage.partitions", 5)?,
            replication: [
                number(props, "config.storage.replication.factor", 3)?,
                number(props, "offset.storage.replication.factor", 3)?,
                number(props, "status.storage.replication.factor", 3)?,
            ],
            work_partitions: number(props, "runnel.work.partitions", 60)?.max(1),
            session_timeout_ms: number(props, "session.timeout.ms", 10_000)?,
            heartbeat_interval_ms: number(props, "heartbeat.interval.ms", 3_000)?,
            instance_id: props.get("runnel.group.instance.id").cloned(),
            group_id,
            client,
            exactly_once,
        }))
    }
}

struct Inner {
    config: GroupConfig,
    writer: LogWriter,
    views: OnceLock<[TopicView; 3]>,
    owned: RwLock<BTreeSet<i32>>,
    /// Taken out when the worker leaves the group.
    member: Mutex<Option<GroupMember>>,
}

impl Inner {
    fn topic(&self, topic: InternalTopic) -> &str {
        match topic {
            InternalTopic::Config => &self.config.config_topic,
            InternalTopic::Offset => &self.config.offset_topic,
            InternalTopic::Status => &self.config.status_topic,
        }
    }

    fn view(&self, topic: InternalTopic) -> Result<&TopicView> {
        let views = self
            .views
            .get()
            .ok_or_else(|| Error::internal("the worker group's topics are not read yet"))?;
        Ok(&views[topic as usize])
    }
}

/// The worker group as the worker sees it (`runnel_runtime::cluster::Cluster`).
#[derive(Clone)]
pub(crate) struct KafkaCluster(Arc<Inner>);

/// Runs blocking rdkafka work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal(format!("a blocking task failed: {e}")))?
}

impl Cluster for KafkaCluster {
    fn append(&self, topic: InternalTopic, records: Vec<ConnectRecord>) -> BoxFuture<Result<()>> {
        let inner = self.0.clone();
        Box::pin(async move {
            let name = inner.topic(topic).to_string();
            let mut last = None;
            for r in &records {
                last = Some(
                    inner
                        .writer
                        .append(&name, &r.key, r.value.as_deref())
                        .await?,
                );
            }
            if let (InternalTopic::Config, Some((partition, offset))) = (topic, last) {
                let inner = inner.clone();
                blocking(move || inner.view(topic)?.wait_for(partition, offset, READ_TIMEOUT))
                    .await?;
            }
            Ok(())
        })
    }

    fn read(&self, topic: InternalTopic, prefix: Vec<u8>) -> BoxFuture<Result<KeyValues>> {
        let inner = self.0.clone();
        Box::pin(blocking(move || {
            let view = inner.view(topic)?;
            view.read_to_end(READ_TIMEOUT)?;
            Ok(view.with_prefix(&prefix))
        }))
    }

    fn cached(&self, topic: InternalTopic, key: &[u8]) -> Option<Vec<u8>> {
        self.0.view(topic).ok()?.get(key)
    }

    fn owns(&self, connector: &str) -> bool {
        let p = partition_for_key(connector.as_bytes(), self.0.config.work_partitions);
        self.0
            .owned
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&p)
    }

    fn fence(&self, transactional_id: String) -> BoxFuture<Result<()>> {
        let inner = self.0.clone();
        Box::pin(blocking(move || {
            runnel_kafka::producer::fence(&inner.config.client, &transactional_id)
        }))
    }

    fn generation(&self) -> i32 {
        self.0
            .member
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map_or(0, GroupMember::generation)
    }
}

/// A distributed worker, joined: its group membership ends with `leave`.
pub(crate) struct Joined {
    pub worker: Arc<Worker>,
    cluster: KafkaCluster,
}

impl Joined {
    /// Leaves the group (this worker's connectors stop first, their offsets published).
    pub(crate) async fn leave(self) {
        let member = self
            .cluster
            .0
            .member
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(member) = member {
            let _ = blocking(move || {
                member.leave();
                Ok(())
            })
            .await;
        }
        self.worker.shutdown().await;
        self.cluster.0.writer.flush();
    }
}

/// Creates the group's topics when missing, reads the config topic to its end (every
/// connector known, none running yet), then joins the group: the connectors the group gives
/// this worker start.
pub(crate) async fn join(
    group: GroupConfig,
    store: StateStore,
    settings: WorkerSettings,
    providers: ConfigProviders,
    registry: Arc<Registry>,
    worker_id: String,
) -> Result<Joined> {
    let client = group.client.clone();
    ensure_topics(
        &client,
        &[
            Topic {
                name: &group.config_topic,
                partitions: 1,
                replication: group.replication[0],
                cleanup_policy: "compact",
            },
            Topic {
                name: &group.offset_topic,
                partitions: group.offset_partitions,
                replication: group.replication[1],
                cleanup_policy: "compact",
            },
            Topic {
                name: &group.status_topic,
                partitions: group.status_partitions,
                replication: group.replication[2],
                cleanup_policy: "compact",
            },
            Topic {
                name: &group.work_topic,
                partitions: group.work_partitions,
                replication: group.replication[0],
                cleanup_policy: "delete",
            },
        ],
    )
    .await?;
    let cluster = KafkaCluster(Arc::new(Inner {
        writer: LogWriter::new(&client)?,
        config: group.clone(),
        views: OnceLock::new(),
        owned: RwLock::default(),
        member: Mutex::new(None),
    }));
    let worker = Worker::open_in_cluster(
        store,
        settings,
        providers,
        registry,
        worker_id.clone(),
        Arc::new(cluster.clone()),
    )
    .await;
    let runtime = tokio::runtime::Handle::current();
    let on_config: OnRecord = {
        let (worker, runtime) = (Arc::downgrade(&worker), runtime.clone());
        let topic = group.config_topic.clone();
        Box::new(move |r| {
            let key = String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).into_owned();
            let Some(record) = parse_config(&key, r.value.as_deref()) else {
                tracing::error!(%topic, offset = r.offset, "record {key} is not what Kafka Connect writes under that key; skipped");
                return;
            };
            if let Some(w) = worker.upgrade() {
                runtime.block_on(w.apply_config(record));
            }
        })
    };
    {
        let cluster = cluster.clone();
        blocking(move || {
            let c = &cluster.0.config;
            let views = [
                TopicView::start(&c.client, &c.config_topic, Some(on_config))?,
                TopicView::start(&c.client, &c.offset_topic, None)?,
                TopicView::start(&c.client, &c.status_topic, None)?,
            ];
            for v in &views {
                v.read_to_end(READ_TIMEOUT)?;
            }
            let _ = cluster.0.views.set(views);
            Ok(())
        })
        .await?;
    }
    let on_owned = {
        let (worker, cluster, runtime) = (Arc::downgrade(&worker), cluster.clone(), runtime);
        Arc::new(move |owned: &BTreeSet<i32>, lost: bool| {
            *cluster.0.owned.write().unwrap_or_else(|p| p.into_inner()) = owned.clone();
            if let Some(w) = worker.upgrade() {
                runtime.block_on(w.reconcile(!lost));
            }
        })
    };
    let instance = group.instance_id.clone().unwrap_or(worker_id);
    let member = blocking(move || {
        GroupMember::join(
            &GroupSettings {
                client: &group.client,
                group_id: &group.group_id,
                instance_id: Some(&instance),
                session_timeout_ms: group.session_timeout_ms,
                heartbeat_interval_ms: group.heartbeat_interval_ms,
            },
            &group.work_topic,
            on_owned,
        )
    })
    .await?;
    *cluster.0.member.lock().unwrap_or_else(|p| p.into_inner()) = Some(member);
    Ok(Joined { worker, cluster })
}

#[cfg(test)]
mod tests {
    use super::GroupConfig;
    use std::collections::BTreeMap;

    fn props(text: &str) -> BTreeMap<String, String> {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const BASE: &str = "group.id=connect-cluster\nbootstrap.servers=k:9092\n\
                        config.storage.topic=connect-configs\noffset.storage.topic=connect-offsets\n\
                        status.storage.topic=connect-status";

    #[test]
    fn a_connect_distributed_properties_gives_kafka_connects_defaults() {
        assert!(
            GroupConfig::from_properties(&props("bootstrap.servers=k:9092"))
                .unwrap()
                .is_none()
        );
        let g = GroupConfig::from_properties(&props(&format!(
            "{BASE}\nsasl.mechanism=PLAIN\nsecurity.protocol=SASL_SSL\nkey.converter=x"
        )))
        .unwrap()
        .unwrap();
        assert_eq!(g.group_id, "connect-cluster");
        assert_eq!((g.offset_partitions, g.status_partitions), (25, 5));
        assert_eq!(g.replication, [3, 3, 3]);
        assert_eq!(g.work_topic, "connect-configs-work");
        assert_eq!(g.work_partitions, 60);
        assert_eq!(g.session_timeout_ms, 10_000);
        let keys: Vec<&str> = g.client.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["bootstrap.servers", "sasl.mechanism", "security.protocol"]
        );
    }

    #[test]
    fn a_distributed_config_missing_or_asking_too_much_is_one_clear_error() {
        let err = |text: &str| {
            GroupConfig::from_properties(&props(text))
                .err()
                .map(|e| e.message().to_string())
                .unwrap_or_default()
        };
        assert!(
            err("group.id=g\nbootstrap.servers=k:9092\nconfig.storage.topic=c\noffset.storage.topic=o")
                .contains("status.storage.topic is missing"),
        );
        assert!(
            err("group.id=g\nconfig.storage.topic=c").contains("needs bootstrap.servers"),
            "{}",
            err("group.id=g\nconfig.storage.topic=c")
        );
        assert!(
            err(&format!("{BASE}\nsession.timeout.ms=ten"))
                .contains("session.timeout.ms=ten is not a number")
        );
        assert!(
            err(&format!("{BASE}\nexactly.once.source.support=yes"))
                .contains("is not one of enabled, preparing, disabled")
        );
        let eos = |v: &str| {
            GroupConfig::from_properties(&props(&format!(
                "{BASE}\nexactly.once.source.support={v}"
            )))
            .unwrap()
            .unwrap()
            .exactly_once
        };
        assert!(eos("enabled") && eos("Enabled"));
        assert!(!eos("preparing") && !eos("disabled"));
    }
}
