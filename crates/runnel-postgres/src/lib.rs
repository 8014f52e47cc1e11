//! PostgreSQL for runnel: a logical-replication source (pgoutput) compatible with Debezium's
//! PostgreSQL connector.

pub mod source;

pub use source::PostgresSource;
pub use source::config::{CONNECTOR_CLASS, PostgresConfig};
pub use source::plugin::plugin as source_plugin;
pub use source::source_block::{PgPosition, PgSourceBlock};

#[cfg(feature = "sink")]
pub mod sink;
#[cfg(feature = "sink")]
pub use sink::plugin::plugin as sink_plugin;
