//! Topic creation as Kafka Connect does for source connectors (KIP-158): when
//! `topic.creation.default.replication.factor` and `.partitions` are set, a topic is created the
//! first time a record goes to it, with the settings of the first group in
//! `topic.creation.groups` whose `include` matches (and `exclude` does not), else `default`.

use std::collections::HashSet;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use regex::Regex;
use runnel_core::config::{ConnectorConfig, split_list};
use runnel_core::{Error, Result};

struct Group {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
    partitions: i32,
    replication: i32,
    /// Topic-level configs (`cleanup.policy`, `compression.type`, …).
    configs: Vec<(String, String)>,
}

pub struct TopicCreator {
    admin: Option<AdminClient<DefaultClientContext>>,
    groups: Vec<Group>,
    known: HashSet<String>,
}

fn int_of(config: &ConnectorConfig, key: &str, default: Option<i32>) -> Result<i32> {
    match config.get(key) {
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| Error::config(format!("\"{key}\" must be an integer, got \"{v}\""))),
        None => default.ok_or_else(|| Error::config(format!("\"{key}\" is required"))),
    }
}

fn regexes(config: &ConnectorConfig, key: &str) -> Result<Vec<Regex>> {
    split_list(config.get(key).unwrap_or(""))
        .iter()
        .map(|p| {
            Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                Error::config(format!(
                    "\"{key}\": invalid regular expression \"{p}\": {e}"
                ))
            })
        })
        .collect()
}

impl TopicCreator {
    /// `admin_config` reaches the same cluster as the producer.
    pub fn new(config: &ConnectorConfig, admin_config: &ClientConfig) -> Result<Self> {
        let enabled = config.get("topic.creation.default.partitions").is_some()
            || config
                .get("topic.creation.default.replication.factor")
                .is_some();
        if !enabled {
            return Ok(Self {
                admin: None,
                groups: Vec::new(),
                known: HashSet::new(),
            });
        }
        let group = |name: &str, default: Option<&Group>| -> Result<Group> {
            let prefix = format!("topic.creation.{name}.");
            let mut configs = Vec::new();
            for (k, v) in config.with_prefix(&prefix) {
                if !matches!(
                    k,
                    "include" | "exclude" | "partitions" | "replication.factor"
                ) {
                    configs.push((k.to_string(), v.to_string()));
                }
            }
            Ok(Group {
                include: regexes(config, &format!("{prefix}include"))?,
                exclude: regexes(config, &format!("{prefix}exclude"))?,
                partitions: int_of(
                    config,
                    &format!("{prefix}partitions"),
                    default.map(|d| d.partitions),
                )?,
                replication: int_of(
                    config,
                    &format!("{prefix}replication.factor"),
                    default.map(|d| d.replication),
                )?,
                configs,
            })
        };
        let default = group("default", None)?;
        let mut groups = Vec::new();
        for name in split_list(config.get("topic.creation.groups").unwrap_or("")) {
            groups.push(group(&name, Some(&default))?);
        }
        groups.push(default);
        let admin = admin_config
            .create::<AdminClient<DefaultClientContext>>()
            .map_err(|e| crate::client::creation_error("Kafka admin client", e))?;
        Ok(Self {
            admin: Some(admin),
            groups,
            known: HashSet::new(),
        })
    }

    /// Creates `topic` if it is new to this connector (an existing topic is left as it is).
    pub fn ensure(&mut self, topic: &str) -> Result<()> {
        let Some(admin) = &self.admin else {
            return Ok(());
        };
        if self.known.contains(topic) {
            return Ok(());
        }
        // The default group (last) matches everything.
        let g = self
            .groups
            .iter()
            .find(|g| {
                (g.include.is_empty() || g.include.iter().any(|r| r.is_match(topic)))
                    && !g.exclude.iter().any(|r| r.is_match(topic))
            })
            .unwrap_or_else(|| &self.groups[self.groups.len() - 1]);
        let mut new = NewTopic::new(topic, g.partitions, TopicReplication::Fixed(g.replication));
        for (k, v) in &g.configs {
            new = new.set(k, v);
        }
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::internal("topic creation needs the tokio runtime"))?;
        let results = handle
            .block_on(admin.create_topics([&new], &opts))
            .map_err(|e| crate::client::kafka_error(&format!("creating topic {topic}"), e))?;
        let mut existed = false;
        for r in results {
            match r {
                Ok(_) => {}
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => existed = true,
                Err((t, code)) => {
                    return Err(crate::client::sink_error(
                        &format!("creating topic {t}"),
                        code,
                    ));
                }
            }
        }
        tracing::info!(
            topic,
            partitions = g.partitions,
            replication = g.replication,
            "{}",
            if existed {
                "topic exists"
            } else {
                "topic created"
            }
        );
        self.known.insert(topic.to_string());
        Ok(())
    }
}
