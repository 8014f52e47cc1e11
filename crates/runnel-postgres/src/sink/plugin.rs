//! The PostgreSQL sink's registry entry: `sink.type=postgres` of a source connector, and the
//! JDBC sink connector classes of Debezium and Confluent reading Kafka topics.

use runnel_core::config::issues_error;
use runnel_core::plugin::SinkPlugin;

use super::PostgresSink;
use super::config::{self, CONFLUENT_CLASS, DEBEZIUM_CLASS, PgSinkConfig};

pub fn plugin() -> SinkPlugin {
    SinkPlugin {
        sink_type: "postgres",
        class: Some(DEBEZIUM_CLASS),
        aliases: &["JdbcSinkConnector", CONFLUENT_CLASS],
        groups: config::GROUPS,
        direct_aliases: &[],
        open_keys: false,
        build: |sink| {
            let cfg = PgSinkConfig::parse(sink).map_err(|issues| issues_error(&issues))?;
            // `${source.db}` of a PostgreSQL source's changes.
            let source_db = sink
                .connector
                .get("database.dbname")
                .unwrap_or_default()
                .to_string();
            Ok(Box::new(PostgresSink::new(cfg, source_db)?))
        },
        validate: |sink| PgSinkConfig::parse(sink).err().unwrap_or_default(),
        check: Some(|sink, scope| Box::pin(super::check::check(sink, scope))),
    }
}
