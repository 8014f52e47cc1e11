//! The sink contract: what a connector that writes records (Kafka, a file, a database, object
//! storage) does with the batches the engine hands it.
//!
//! **Durability contract.** The engine calls [`Sink::submit`] with batches in source order;
//! submitting does not make a batch durable. [`Sink::settle`] reports how many of the submitted
//! batches, oldest first, have become durable since the last call (Kafka: every record
//! acknowledged with `acks=all`; a file: fsynced; a database: committed). Only their positions
//! are committed, so a sink must never report a batch durable before it is. An error from either
//! call means some batch may never become durable: the engine stops and the connector restarts
//! from its last committed position, handing the sink again every batch after it. A sink must
//! therefore tolerate receiving records again (at least once); an idempotent sink (upsert by
//! key, deterministic object names, the position stored with the data) makes the result exactly
//! once. Errors say whether retrying can help ([`crate::Error::sink_transient`]) or not
//! ([`crate::Error::sink_permanent`]).

use std::time::Duration;

use crate::encode::EncodedBatch;
use crate::error::Result;
use crate::event::Batch;

/// What a sink reads of each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkInput {
    /// The converter's encoding of every record (key and value bytes, topic, timestamp): sinks
    /// that write bytes (Kafka, files, object storage in JSON).
    Encoded,
    /// The typed values (table schema, op, before/after, record values): database sinks, which
    /// never parse JSON back.
    Typed,
}

pub trait Sink: Send {
    fn input(&self) -> SinkInput;

    /// Hands `batch` to the destination; it is not durable yet. `encoded` is the converter's
    /// encoding of it when [`Sink::input`] is [`SinkInput::Encoded`] (empty otherwise). May
    /// block while the sink's own buffers are full (back-pressure).
    fn submit(&mut self, batch: &Batch, encoded: &EncodedBatch) -> Result<()>;

    /// Waits at most `wait` for progress, then returns how many submitted batches, in submit
    /// order, became durable since the last call.
    fn settle(&mut self, wait: Duration) -> Result<usize>;
}
