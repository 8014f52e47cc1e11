//! Kafka Connect's records in its three internal topics, byte for byte as Kafka Connect 4.3
//! writes them (its internal JsonConverter, schemas off): the config topic (`connector-<n>`,
//! `task-<n>-<i>`, `commit-<n>`, `target-state-<n>`, `restart-connector-<n>`,
//! `tasks-fencing-<n>`), the offset topic (key `["<connector>", {partition}]`, value the
//! offset) and the status topic (`status-connector-<n>`, `status-task-<n>-<i>`). The
//! groundwork of distributed mode: a worker that reads and writes these can share a cluster's
//! state with Kafka Connect's own workers, or take over their topics. Checked against the
//! records the real connect-runtime jar writes (`tools/kafka-connect/vectors.sh`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::status::{State, TargetState};

/// A record for one of the internal topics: its key, and its value (`None`: a tombstone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRecord {
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

fn record(key: impl Into<Vec<u8>>, value: &Value) -> ConnectRecord {
    ConnectRecord {
        key: key.into(),
        // Serialising a `Value` cannot fail.
        value: Some(serde_json::to_vec(value).unwrap_or_default()),
    }
}

fn properties(props: &BTreeMap<String, String>) -> Value {
    let map: Map<String, Value> = props
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({ "properties": map })
}

/// `connector-<name>`: the connector's config as the user wrote it (placeholders unresolved).
pub fn connector_config(name: &str, props: &BTreeMap<String, String>) -> ConnectRecord {
    record(format!("connector-{name}"), &properties(props))
}

/// The tombstone that deletes a connector.
pub fn connector_deleted(name: &str) -> ConnectRecord {
    ConnectRecord {
        key: format!("connector-{name}").into_bytes(),
        value: None,
    }
}

/// `task-<name>-<task>`: one task's config.
pub fn task_config(name: &str, task: u32, props: &BTreeMap<String, String>) -> ConnectRecord {
    record(format!("task-{name}-{task}"), &properties(props))
}

/// `commit-<name>`: the task configs written before it are complete.
pub fn tasks_commit(name: &str, tasks: u32) -> ConnectRecord {
    record(format!("commit-{name}"), &json!({ "tasks": tasks }))
}

/// `target-state-<name>`: `state` stays readable by workers older than STOPPED (KIP-875: they
/// read PAUSED), `state.v2` is the state.
pub fn target_state(name: &str, target: TargetState) -> ConnectRecord {
    let v2 = match target {
        TargetState::Started => "STARTED",
        TargetState::Paused => "PAUSED",
        TargetState::Stopped => "STOPPED",
    };
    let v1 = if v2 == "STOPPED" { "PAUSED" } else { v2 };
    record(
        format!("target-state-{name}"),
        &json!({ "state": v1, "state.v2": v2 }),
    )
}

/// `restart-connector-<name>` (KIP-745).
pub fn restart_request(name: &str, include_tasks: bool, only_failed: bool) -> ConnectRecord {
    record(
        format!("restart-connector-{name}"),
        &json!({ "include-tasks": include_tasks, "only-failed": only_failed }),
    )
}

/// `tasks-fencing-<name>` (KIP-618): the task count whose producers were fenced.
pub fn task_count(name: &str, count: u32) -> ConnectRecord {
    record(
        format!("tasks-fencing-{name}"),
        &json!({ "task-count": count }),
    )
}

/// An offset: key `["<connector>", {partition}]`, value the offset (`None`: a tombstone, the
/// offset reset).
pub fn offset(connector: &str, partition: &Value, offset: Option<&Value>) -> ConnectRecord {
    ConnectRecord {
        key: serde_json::to_vec(&json!([connector, partition])).unwrap_or_default(),
        value: offset.map(|o| serde_json::to_vec(o).unwrap_or_default()),
    }
}

/// Reads an offset record's key back: (connector, partition); `None` when it is not
/// `["<connector>", {partition}]`.
pub fn parse_offset_key(key: &[u8]) -> Option<(String, Value)> {
    match serde_json::from_slice::<Value>(key).ok()? {
        Value::Array(mut parts) if parts.len() == 2 => {
            let partition = parts.pop()?;
            let name = parts.pop()?.as_str()?.to_string();
            Some((name, partition))
        }
        _ => None,
    }
}

/// The status of a connector (`task` None) or one of its tasks, as the worker running it
/// reports it; `generation` is the group generation it was assigned in.
pub struct StatusRecord<'a> {
    pub connector: &'a str,
    pub task: Option<u32>,
    pub state: State,
    pub trace: Option<&'a str>,
    pub worker_id: &'a str,
    pub generation: i32,
    /// The connector plugin's version (KIP-891).
    pub version: Option<&'a str>,
}

/// `status-connector-<name>` or `status-task-<name>-<task>`.
pub fn status(s: &StatusRecord<'_>) -> ConnectRecord {
    record(
        status_key(s.connector, s.task),
        &json!({
            "state": s.state.as_str(),
            "trace": s.trace,
            "worker_id": s.worker_id,
            "generation": s.generation,
            "version": s.version,
        }),
    )
}

/// A status record read back: state, trace, the worker that wrote it, its generation.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusRead {
    pub state: State,
    pub trace: Option<String>,
    pub worker_id: String,
    pub generation: i32,
}

/// Reads a status-topic value; `None` when it is not one.
pub fn parse_status(value: &[u8]) -> Option<StatusRead> {
    let v: Value = serde_json::from_slice(value).ok()?;
    Some(StatusRead {
        state: State::parse(v.get("state")?.as_str()?)?,
        trace: v.get("trace").and_then(Value::as_str).map(str::to_string),
        worker_id: v.get("worker_id")?.as_str()?.to_string(),
        generation: v.get("generation").and_then(Value::as_i64).unwrap_or(0) as i32,
    })
}

/// The key of a connector's (`task` None) or task's status record.
pub fn status_key(connector: &str, task: Option<u32>) -> Vec<u8> {
    match task {
        None => format!("status-connector-{connector}"),
        Some(t) => format!("status-task-{connector}-{t}"),
    }
    .into_bytes()
}

/// What a config-topic record says, read back (by a worker replaying the topic).
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigRecord {
    Connector {
        name: String,
        props: Option<BTreeMap<String, String>>,
    },
    Task {
        name: String,
        task: u32,
        props: BTreeMap<String, String>,
    },
    Commit {
        name: String,
        tasks: u32,
    },
    TargetState {
        name: String,
        target: Option<TargetState>,
    },
    Restart {
        name: String,
        include_tasks: bool,
        only_failed: bool,
    },
    TaskCount {
        name: String,
        count: u32,
    },
    /// A record of a kind runnel does not act on (`session-key`, `logger-cluster-…`).
    Other(String),
}

fn parse_properties(v: &Value) -> Option<BTreeMap<String, String>> {
    v.get("properties")?
        .as_object()?
        .iter()
        .map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

/// Reads one config-topic record; `None` when it is not what its key says (a corrupt record
/// must be reported, not guessed at).
pub fn parse_config(key: &str, value: Option<&[u8]>) -> Option<ConfigRecord> {
    let value: Option<Value> = match value {
        None => None,
        Some(bytes) => Some(serde_json::from_slice(bytes).ok()?),
    };
    let number = |v: &Value, field: &str| v.get(field)?.as_u64().map(|n| n as u32);
    if let Some(name) = key.strip_prefix("connector-") {
        let props = match &value {
            None => None,
            Some(v) => Some(parse_properties(v)?),
        };
        return Some(ConfigRecord::Connector {
            name: name.into(),
            props,
        });
    }
    if let Some(name) = key.strip_prefix("target-state-") {
        let target = match &value {
            None => None,
            Some(v) => {
                let state = v.get("state.v2").or_else(|| v.get("state"))?.as_str()?;
                Some(match state {
                    "STARTED" => TargetState::Started,
                    "PAUSED" => TargetState::Paused,
                    "STOPPED" => TargetState::Stopped,
                    _ => return None,
                })
            }
        };
        return Some(ConfigRecord::TargetState {
            name: name.into(),
            target,
        });
    }
    if let Some(name) = key.strip_prefix("restart-connector-") {
        let v = value?;
        let flag = |f: &str| v.get(f).and_then(Value::as_bool).unwrap_or(false);
        return Some(ConfigRecord::Restart {
            name: name.into(),
            include_tasks: flag("include-tasks"),
            only_failed: flag("only-failed"),
        });
    }
    if let Some(name) = key.strip_prefix("tasks-fencing-") {
        return Some(ConfigRecord::TaskCount {
            name: name.into(),
            count: number(value.as_ref()?, "task-count")?,
        });
    }
    if let Some(name) = key.strip_prefix("commit-") {
        return Some(ConfigRecord::Commit {
            name: name.into(),
            tasks: number(value.as_ref()?, "tasks")?,
        });
    }
    if let Some(rest) = key.strip_prefix("task-") {
        // The connector's name may itself contain dashes: the task number is after the last.
        let (name, task) = rest.rsplit_once('-')?;
        return Some(ConfigRecord::Task {
            name: name.into(),
            task: task.parse().ok()?,
            props: parse_properties(value.as_ref()?)?,
        });
    }
    Some(ConfigRecord::Other(key.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Kafka Connect 4.3 itself wrote for these inputs (`tools/kafka-connect/vectors.sh`).
    const FIXTURE: &str = include_str!("../tests/fixtures/kafka-connect-4.3-records.jsonl");

    fn expected(topic: &str, key: &str) -> ConnectRecord {
        for line in FIXTURE.lines() {
            let r: Value = serde_json::from_str(line).unwrap();
            if r["topic"] == topic && r["key"] == key {
                return ConnectRecord {
                    key: key.as_bytes().to_vec(),
                    value: r["value"].as_str().map(|v| v.as_bytes().to_vec()),
                };
            }
        }
        panic!("no {topic} record {key} in the fixture");
    }

    fn props() -> BTreeMap<String, String> {
        [
            (
                "connector.class",
                "io.debezium.connector.postgresql.PostgresConnector",
            ),
            ("database.hostname", "db"),
            (
                "database.password",
                "${file:/secrets/db.properties:password}",
            ),
            ("name", "inventory"),
            ("tasks.max", "1"),
            ("topic.prefix", "inv"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn config_records_are_kafka_connects_byte_for_byte() {
        assert_eq!(
            connector_config("inventory", &props()),
            expected("config", "connector-inventory")
        );
        assert_eq!(
            task_config("inventory", 0, &props()),
            expected("config", "task-inventory-0")
        );
        assert_eq!(
            tasks_commit("inventory", 1),
            expected("config", "commit-inventory")
        );
        for (target, suffix) in [
            (TargetState::Started, "started"),
            (TargetState::Paused, "paused"),
            (TargetState::Stopped, "stopped"),
        ] {
            let name = format!("inventory-{suffix}");
            assert_eq!(
                target_state(&name, target),
                expected("config", &format!("target-state-{name}"))
            );
        }
        assert_eq!(
            restart_request("inventory", true, false),
            expected("config", "restart-connector-inventory")
        );
        assert_eq!(
            task_count("inventory", 1),
            expected("config", "tasks-fencing-inventory")
        );
        assert_eq!(
            connector_deleted("deleted"),
            expected("config", "connector-deleted")
        );
    }

    #[test]
    fn offset_and_status_records_are_kafka_connects_byte_for_byte() {
        let pg_offset = json!({"lsn": 24023128, "lsn_proc": 24023128, "lsn_commit": 24023080,
            "ts_usec": 1733400000000000u64, "txId": 754, "messageType": "INSERT"});
        let want = expected("offsets", r#"["inventory",{"server":"inv"}]"#);
        assert_eq!(
            offset("inventory", &json!({"server": "inv"}), Some(&pg_offset)),
            want
        );
        let mysql_offset = json!({"transaction_id": null, "ts_sec": 1733400000, "file": "mysql-bin.000003",
            "pos": 1234, "gtids": "0-1-42", "row": 1, "server_id": 1, "event": 2});
        assert_eq!(
            offset(
                "shop-mysql",
                &json!({"server": "shop"}),
                Some(&mysql_offset)
            ),
            expected("offsets", r#"["shop-mysql",{"server":"shop"}]"#)
        );
        assert_eq!(
            parse_offset_key(&want.key),
            Some(("inventory".to_string(), json!({"server": "inv"})))
        );
        assert_eq!(parse_offset_key(br#"{"server":"inv"}"#), None);
        let connector = StatusRecord {
            connector: "inventory",
            task: None,
            state: State::Running,
            trace: None,
            worker_id: "10.0.0.7:8083",
            generation: 3,
            version: Some("3.6.3.Final"),
        };
        assert_eq!(
            status(&connector),
            expected("status", "status-connector-inventory")
        );
        let task = StatusRecord {
            task: Some(0),
            state: State::Failed,
            trace: Some(
                "org.apache.kafka.connect.errors.ConnectException: boom\n\tat x.y(Z.java:1)\n",
            ),
            ..connector
        };
        assert_eq!(status(&task), expected("status", "status-task-inventory-0"));
    }

    #[test]
    fn every_config_record_of_kafka_connect_reads_back() {
        for line in FIXTURE.lines() {
            let r: Value = serde_json::from_str(line).unwrap();
            if r["topic"] != "config" {
                continue;
            }
            let key = r["key"].as_str().unwrap();
            let parsed = parse_config(key, r["value"].as_str().map(str::as_bytes));
            let parsed = parsed.unwrap_or_else(|| panic!("{key} did not read back"));
            assert!(!matches!(parsed, ConfigRecord::Other(_)), "{key}");
        }
        assert_eq!(
            parse_config("task-my-connector-12", Some(br#"{"properties":{"a":"b"}}"#)),
            Some(ConfigRecord::Task {
                name: "my-connector".into(),
                task: 12,
                props: [("a".to_string(), "b".to_string())].into()
            })
        );
        assert_eq!(
            parse_config(
                "target-state-x",
                Some(br#"{"state":"PAUSED","state.v2":"STOPPED"}"#)
            ),
            Some(ConfigRecord::TargetState {
                name: "x".into(),
                target: Some(TargetState::Stopped)
            })
        );
        // A worker older than KIP-875 wrote only "state".
        assert_eq!(
            parse_config("target-state-x", Some(br#"{"state":"PAUSED"}"#)),
            Some(ConfigRecord::TargetState {
                name: "x".into(),
                target: Some(TargetState::Paused)
            })
        );
        assert_eq!(parse_config("connector-x", Some(b"{not json")), None);
        assert_eq!(
            parse_config("session-key", Some(b"{}")),
            Some(ConfigRecord::Other("session-key".into()))
        );
    }
}
