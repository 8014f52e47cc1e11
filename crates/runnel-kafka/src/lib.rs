//! Kafka for runnel: the Kafka sink of source connectors (records to topics, acknowledged only
//! after the broker's delivery report) and the Kafka source of sink connectors (a consumer group
//! whose offsets are committed only after the destination made the records durable).

pub mod browse;
pub mod client;
pub mod consumer;
pub mod group_member;
pub mod log_writer;
pub mod partition;
pub mod plugin;
pub mod producer;
pub mod topic_view;
pub mod topics;
pub mod whole_topic;

pub use consumer::{KafkaPosition, KafkaSource, SinkConnectorConfig};
pub use plugin::{sink_plugin, source_plugin};
pub use producer::KafkaSink;
