//! Delta Lake for runnel: a current-state table per source table, on a local directory or S3,
//! upserted by key from the change stream with `MERGE` (deltalake with DataFusion), the source
//! position kept in each commit so a restart resumes exactly. Usable as the direct sink of a
//! source connector (`sink.type=delta`) and as a sink connector reading Kafka topics
//! (`io.runnel.connect.delta.DeltaSinkConnector`).

pub mod check;
pub mod config;
pub mod plugin;
pub mod position;
pub mod rows;
pub mod sink;
pub mod table;
pub mod upkeep;

pub use plugin::plugin as sink_plugin;
