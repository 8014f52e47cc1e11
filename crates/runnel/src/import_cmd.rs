//! `runnel import-connect`: takes over a Kafka Connect cluster's connectors. It reads the
//! cluster's config topic (connector configs, target states) and offset topic (source offsets)
//! as Kafka Connect's workers read them at startup, and writes each connector, its target
//! state and its offset into a runnel worker's state directory: a Debezium connector then
//! resumes from its own offset (a PostgreSQL connector from its LSN, on its slot, without a new
//! snapshot). Sink connectors need no offset: their consumer group `connect-<name>` is the one
//! runnel's Kafka source commits to.
//!
//! Run it with the Kafka Connect cluster stopped (two owners of one slot would fight), then
//! start `runnel worker` on the state directory.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use runnel_core::Error;
use runnel_core::config::ConnectorConfig;
use runnel_runtime::connect_records::{ConfigRecord, parse_config, parse_offset_key};
use runnel_runtime::status::TargetState;
use runnel_runtime::{Registry, StateStore, WorkerSettings};
use serde_json::Value;

/// How long reading one topic may take.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, clap::Args)]
pub(crate) struct ImportArgs {
    /// The Kafka Connect cluster's worker config (connect-distributed.properties): its
    /// bootstrap.servers, security settings, config.storage.topic and offset.storage.topic.
    #[arg(long)]
    pub config: PathBuf,
    /// The runnel state directory to import into.
    #[arg(long, default_value = "runnel-state", env = "RUNNEL_STATE_DIR")]
    pub state_dir: PathBuf,
    /// Import only this connector (repeatable); all of them by default.
    #[arg(long = "connector")]
    pub connectors: Vec<String>,
}

/// What the two topics say, folded as Kafka Connect folds them (the last record per key wins; a
/// tombstone deletes).
#[derive(Default)]
struct ClusterState {
    configs: BTreeMap<String, BTreeMap<String, String>>,
    targets: BTreeMap<String, TargetState>,
    /// Per connector: partition (as JSON text) → (partition, offset).
    offsets: BTreeMap<String, BTreeMap<String, (Value, Value)>>,
}

pub(crate) async fn import(args: ImportArgs, registry: &Registry) -> Result<(), Error> {
    let props = crate::worker_cmd::read_properties(&args.config)?;
    let required = |key: &str| {
        props.get(key).cloned().ok_or_else(|| {
            Error::config(format!(
                "{}: \"{key}\" is missing; it is the Kafka Connect cluster's worker config \
                 (connect-distributed.properties) runnel reads the topics from",
                args.config.display()
            ))
        })
    };
    let config_topic = required("config.storage.topic")?;
    let offset_topic = required("offset.storage.topic")?;
    // The worker's own clients reach the cluster with the top-level connection settings.
    let client =
        runnel_kafka::client::worker_client_settings(&props, &required("bootstrap.servers")?);
    let read = |topic: String| {
        let client = client.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                runnel_kafka::whole_topic::read_whole_topic(&client, &topic, READ_TIMEOUT)
                    .map_err(|e| e.context(format!("topic {topic}")))
            })
            .await
            .map_err(|e| Error::internal(format!("reading thread failed: {e}")))?
        }
    };
    let mut cluster = ClusterState::default();
    for r in read(config_topic.clone()).await? {
        let key = String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).into_owned();
        match parse_config(&key, r.value.as_deref()) {
            Some(ConfigRecord::Connector { name, props }) => match props {
                Some(p) => {
                    cluster.configs.insert(name, p);
                }
                None => {
                    cluster.configs.remove(&name);
                    cluster.targets.remove(&name);
                }
            },
            Some(ConfigRecord::TargetState { name, target }) => match target {
                Some(t) => {
                    cluster.targets.insert(name, t);
                }
                None => {
                    cluster.targets.remove(&name);
                }
            },
            Some(_) => {}
            None => {
                return Err(Error::config(format!(
                    "topic {config_topic}: the record {key} at offset {} is not what Kafka \
                     Connect writes under that key; is config.storage.topic right?",
                    r.offset
                )));
            }
        }
    }
    for r in read(offset_topic.clone()).await? {
        let Some((name, partition)) = r.key.as_deref().and_then(parse_offset_key) else {
            tracing::warn!(topic = %offset_topic, offset = r.offset, partition = r.partition,
                "not a Kafka Connect offset record; skipped");
            continue;
        };
        let slot = cluster.offsets.entry(name).or_default();
        match r.value.as_deref().map(serde_json::from_slice::<Value>) {
            Some(Ok(offset)) => {
                slot.insert(partition.to_string(), (partition, offset));
            }
            None => {
                slot.remove(&partition.to_string());
            }
            Some(Err(e)) => {
                return Err(Error::config(format!(
                    "topic {offset_topic}: the offset at partition {} offset {} is not JSON: {e}",
                    r.partition, r.offset
                )));
            }
        }
    }
    for wanted in &args.connectors {
        if !cluster.configs.contains_key(wanted) {
            return Err(Error::config(format!(
                "connector {wanted} is not in topic {config_topic}; it has: {}",
                cluster
                    .configs
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let store = StateStore::open(&args.state_dir)?;
    let existing: Vec<String> = store.configs()?.into_iter().map(|(n, _)| n).collect();
    let selected: Vec<(&String, &BTreeMap<String, String>)> = cluster
        .configs
        .iter()
        .filter(|(n, _)| args.connectors.is_empty() || args.connectors.contains(n))
        .collect();
    if let Some((name, _)) = selected.iter().find(|(n, _)| existing.contains(n)) {
        return Err(Error::config(format!(
            "connector {name} is already in {}: delete it there (DELETE /connectors/{name}) or \
             leave it out with --connector",
            args.state_dir.display()
        )));
    }
    let worker = WorkerSettings {
        bootstrap_servers: props.get("bootstrap.servers").cloned(),
        exactly_once: None,
    };
    for (name, props) in selected {
        let mut props = props.clone();
        props.remove("name");
        let config = ConnectorConfig {
            name: name.clone(),
            props,
        };
        let target = cluster
            .targets
            .get(name)
            .copied()
            .unwrap_or(TargetState::Started);
        let items: Vec<(Value, Value)> = cluster
            .offsets
            .get(name)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        let offset = match registry.source_of(&config) {
            Some(source) if !items.is_empty() => source
                .alter_offsets(&config, &items)
                .map_err(|e| e.context(format!("connector {name}'s offset")))?,
            _ => None,
        };
        store.save_connector(&config)?;
        store.set_target(name, target)?;
        if let Some(offset) = &offset {
            store.replace_offset(name, Some(offset))?;
        }
        let issues = registry.validate(&config, &worker.context()).issues;
        println!(
            "{name}: imported ({}, {}){}",
            target.as_str(),
            match &offset {
                Some(o) => format!("offset {}", o.to_json()),
                None => "no source offset".into(),
            },
            if issues.is_empty() {
                String::new()
            } else {
                format!(
                    "; it will not start until its config is fixed: {}",
                    issues
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            }
        );
    }
    Ok(())
}
