//! Kafka's registry entries: the Kafka sink of source connectors (`sink.type=kafka`, the default
//! with a worker cluster) and the Kafka source of every sink connector.

use runnel_core::Error;
use runnel_core::config::{CONNECT_SINK_GROUPS, CONNECT_SINK_PREFIXES, ConfigIssue, ConfigSpec};
use runnel_core::plugin::{CheckReport, SinkPlugin, SourcePlugin};

use crate::consumer::{KafkaSource, offsets_of};
use crate::producer::{self, KafkaSink};

/// `sink.type=kafka`: any `sink.kafka.*` key is a Kafka client property.
pub fn sink_plugin() -> SinkPlugin {
    SinkPlugin {
        sink_type: "kafka",
        class: None,
        aliases: &[],
        groups: &[],
        direct_aliases: &[],
        open_keys: true,
        build: |sink| Ok(Box::new(KafkaSink::new(sink)?)),
        validate: |sink| match producer::validate(sink) {
            Ok(()) => Vec::new(),
            Err(e) => vec![ConfigIssue::new(
                e.key().unwrap_or("sink.type"),
                e.message(),
            )],
        },
        check: None,
    }
}

/// The consumer group every sink connector reads its topics with.
pub fn source_plugin() -> SourcePlugin<KafkaSource> {
    SourcePlugin {
        class: "kafka",
        aliases: &[],
        spec: ConfigSpec {
            groups: &[CONNECT_SINK_GROUPS],
            prefixes: &[CONNECT_SINK_PREFIXES],
        },
        build: |config, worker| KafkaSource::new(config, worker.bootstrap_servers.as_deref()),
        // Nothing to check without touching the broker; librdkafka reports an unreachable one
        // while the connector runs.
        check: |_, _| Box::pin(async { CheckReport::default() }),
        offsets: |_, stored| offsets_of(stored),
        alter_offsets: |_, _| {
            Err(Error::config(
                "altering a sink connector's offsets (its consumer group's) is not supported by \
                 runnel yet; use kafka-consumer-groups.sh --reset-offsets on the group \
                 connect-<name> while the connector is stopped",
            ))
        },
        resettable: false,
        watch: None,
    }
}
