//! The MySQL and MariaDB source: a consistent snapshot, then the row binlog over the
//! replication protocol, with the schema history kept in the state store. Debezium's
//! `MySqlConnector` and `MariaDbConnector` property names, events and offsets.

pub mod binlog;
pub mod check;
pub mod config;
pub mod connection;
pub mod ddl;
pub mod json;
pub mod plugin;
pub mod schema_change;
pub mod schema_history;
pub mod schemas;
pub mod snapshot;
pub mod source;
pub mod source_block;
pub mod stream;
pub mod tables;
pub mod types;

pub use source::MySqlSource;
