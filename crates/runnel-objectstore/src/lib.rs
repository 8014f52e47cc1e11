//! Object storage for runnel: a sink configured as Confluent's S3 sink connector
//! (`io.confluent.connect.s3.S3SinkConnector`) or Lenses' (`…aws.s3.sink.S3SinkConnector`,
//! KCQL), usable as a Kafka Connect sink connector and as the direct sink of a source connector
//! (`sink.type=s3`, or `sink.type=files` for a local directory), on `object_store`.
//!
//! Records are buffered per object and written whole, with conditional puts, so that the output
//! is exactly once across crashes ([`sink`]); object names and partition paths are those of the
//! connector the config comes from ([`partition`]).

pub mod avro_format;
pub mod check;
pub mod config;
pub mod kcql;
#[cfg(feature = "parquet")]
pub mod parquet_format;
pub mod partition;
pub mod plugin;
pub mod select;
pub mod sink;
pub mod text_format;

pub use plugin::{files_plugin, plugin as sink_plugin};
