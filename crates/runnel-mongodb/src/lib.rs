//! MongoDB for runnel: a sink configured as the MongoDB Kafka sink connector
//! (`com.mongodb.kafka.connect.MongoSinkConnector`), usable as a Kafka Connect sink connector and
//! as the direct sink of a source connector (`sink.type=mongodb`).
//!
//! A batch's records become writes ([`strategy`]) of typed values converted once to BSON
//! ([`document`]); writes of one document are reduced to the last (per-key order kept), and each
//! namespace gets one `update` command (replaces and updates, all upserts) and one `delete`
//! command — MongoDB's own bulk write commands, with the connection string's write concern. A
//! batch is durable when its commands are acknowledged; a replayed batch converges to the same
//! documents (`_insertedTS` is set only on insert).

pub mod check;
pub mod config;
pub mod document;
pub mod plugin;
pub mod sink;
pub mod strategy;

pub use plugin::plugin as sink_plugin;
