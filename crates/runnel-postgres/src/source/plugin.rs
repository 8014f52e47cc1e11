//! The PostgreSQL source's registry entry: `io.debezium.connector.postgresql.PostgresConnector`.

use std::sync::Arc;

use runnel_core::config::ConnectorConfig;
use runnel_core::plugin::{CheckReport, SourcePlugin};
use runnel_core::{Error, Result, SourceOffset};
use serde_json::{Value, json};

use super::config::{self, CONNECTOR_CLASS, PostgresConfig};
use super::slot_monitor::SlotMonitor;
use super::{PostgresSource, check};

pub fn plugin() -> SourcePlugin<PostgresSource> {
    SourcePlugin {
        class: CONNECTOR_CLASS,
        aliases: &["PostgresConnector", "Postgres"],
        spec: config::spec(),
        build: |config, _| PostgresConfig::from_connector(config).map(PostgresSource::new),
        check: |config, scope| {
            Box::pin(async move {
                match PostgresConfig::from_connector(&config) {
                    Ok(pg) => check::check(&pg, scope).await,
                    Err(e) => {
                        let mut r = CheckReport::default();
                        r.problem(e.key(), e.message());
                        r
                    }
                }
            })
        },
        offsets: |config, stored| vec![(partition(config), Value::Object(stored.0.clone()))],
        alter_offsets,
        resettable: true,
        watch: Some(Arc::new(SlotMonitor)),
    }
}

/// Debezium keys a PostgreSQL connector's offsets by `{"server": <topic.prefix>}`.
fn partition(config: &ConnectorConfig) -> Value {
    json!({"server": config.get("topic.prefix").unwrap_or(&config.name)})
}

fn alter_offsets(
    config: &ConnectorConfig,
    items: &[(Value, Value)],
) -> Result<Option<SourceOffset>> {
    let ours = partition(config);
    let mut result = None;
    for (p, offset) in items {
        if *p != ours {
            return Err(Error::config(format!(
                "unknown source partition {p}: this connector's partition is {ours}"
            )));
        }
        result = match offset {
            Value::Null => None,
            Value::Object(o) if o.get("lsn").is_some_and(Value::is_u64) => {
                Some(SourceOffset(o.clone()))
            }
            _ => {
                return Err(Error::invalid(
                    "lsn",
                    "the offset needs \"lsn\" as a number (the WAL position to resume after)",
                ));
            }
        };
    }
    Ok(result)
}
