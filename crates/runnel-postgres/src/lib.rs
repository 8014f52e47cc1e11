//! PostgreSQL for runnel: a logical-replication source (pgoutput) compatible with Debezium's
//! PostgreSQL connector.

pub mod source;

pub use source::config::{CONNECTOR_CLASS, PostgresConfig};
pub use source::{PostgresSource, RunEnd, SourceContext};
