//! Integration tests: one binary (one link) with a module per area. Every test starts its own
//! private PostgreSQL and runs the real `runnel` binary against it.

mod support;

mod cli;
mod conformance;
mod console;
#[cfg(feature = "delta")]
mod delta;
mod deploy;
mod distributed;
mod import_connect;
mod kafka;
mod mongodb;
mod mysql;
mod postgres_sink;
mod s3;
mod streaming;
mod transforms;
mod worker;
