//! The MySQL and MariaDB source: a consistent snapshot, then the row binlog over the
//! replication protocol, with the schema history kept in the state store. Debezium's
//! `MySqlConnector` and `MariaDbConnector` property names, events and offsets.

pub mod binlog;
pub mod config;
pub mod ddl;
pub mod tables;
pub mod types;
