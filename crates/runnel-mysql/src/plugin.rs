//! The registry entries: `io.debezium.connector.mysql.MySqlConnector` and
//! `io.debezium.connector.mariadb.MariaDbConnector`, one source for both.

use runnel_core::config::ConnectorConfig;
use runnel_core::plugin::{CheckReport, SourcePlugin};
use runnel_core::{Error, Result, SourceOffset};
use serde_json::Value;

use crate::check;
use crate::config::{self, MARIADB_CLASS, MYSQL_CLASS, MySqlConfig};
use crate::source::{MySqlSource, offset_partition};

fn plugin(class: &'static str, aliases: &'static [&'static str]) -> SourcePlugin<MySqlSource> {
    SourcePlugin {
        class,
        aliases,
        spec: config::spec(),
        build: |config, _| MySqlConfig::from_connector(config).map(MySqlSource::new),
        check: |config, scope| {
            Box::pin(async move {
                match MySqlConfig::from_connector(&config) {
                    Ok(c) => check::check(&c, scope).await,
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
        watch: None,
    }
}

pub fn mysql() -> SourcePlugin<MySqlSource> {
    // MySqlCdcSource(V2): Confluent Cloud's fully managed name for the same connector.
    plugin(
        MYSQL_CLASS,
        &[
            "MySqlConnector",
            "MySql",
            "MySqlCdcSource",
            "MySqlCdcSourceV2",
        ],
    )
}

pub fn mariadb() -> SourcePlugin<MySqlSource> {
    plugin(MARIADB_CLASS, &["MariaDbConnector", "MariaDb"])
}

fn partition(config: &ConnectorConfig) -> Value {
    offset_partition(config.get("topic.prefix").unwrap_or(&config.name))
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
            Value::Object(o)
                if o.get("file").is_some_and(Value::is_string)
                    && o.get("pos").is_some_and(Value::is_u64) =>
            {
                Some(SourceOffset(o.clone()))
            }
            _ => {
                return Err(Error::invalid(
                    "file",
                    "the offset needs \"file\" (a binlog file name) and \"pos\" (a position in it)",
                ));
            }
        };
    }
    Ok(result)
}
