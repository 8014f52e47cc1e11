//! The MongoDB sink's registry entry: `sink.type=mongodb` of a source connector, and the MongoDB
//! Kafka sink connector class reading Kafka topics.

use runnel_core::config::issues_error;
use runnel_core::plugin::SinkPlugin;

use crate::config::{self, CONNECTOR_CLASS, MongoSinkConfig};
use crate::sink::MongoSink;

pub fn plugin() -> SinkPlugin {
    SinkPlugin {
        sink_type: "mongodb",
        class: Some(CONNECTOR_CLASS),
        aliases: &["MongoSinkConnector"],
        groups: config::GROUPS,
        direct_aliases: &[],
        // `topic.override.<topic>.<key>` keys are checked when parsed.
        open_keys: false,
        build: |sink| {
            let cfg = MongoSinkConfig::parse(sink).map_err(|issues| issues_error(&issues))?;
            Ok(Box::new(MongoSink::new(cfg)?))
        },
        validate: |sink| MongoSinkConfig::parse(sink).err().unwrap_or_default(),
        check: Some(|sink, scope| Box::pin(crate::check::check(sink, scope))),
    }
}
