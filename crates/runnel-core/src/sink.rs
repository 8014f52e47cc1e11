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
//!
//! **Positions kept with the data.** A sink that commits in transactions (a database) can do
//! better than at least once: it stores the source's offset in the same transaction as the data
//! ([`Sink::keeps_offsets`]). The engine then hands [`Sink::submit`] the offset each batch
//! completes, and before the first batch asks [`Sink::resume`] for the offset the destination
//! holds, which it prefers to its own state store's: the destination is never behind the
//! state store (the store is written only after the sink settled), so a restart resumes exactly
//! where the destination is. The offset *generation* tells a stale offset from a current one:
//! it changes whenever the user resets or alters the connector's offsets, or deletes and
//! creates it again, and a sink must ignore an offset stored under another generation.

use std::time::Duration;

use crate::encode::EncodedBatch;
use crate::error::Result;
use crate::event::Batch;
use crate::offset::SourceOffset;

/// What a sink reads of each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkInput {
    /// The converter's encoding of every record (key and value bytes, topic, timestamp): sinks
    /// that write bytes (Kafka, files, object storage in JSON).
    Encoded,
    /// The typed values (table schema, op, before/after, record values): database sinks, which
    /// never parse JSON back.
    Typed,
    /// Both: the converter's bytes to write and the typed values to choose where (object
    /// storage partitioning by a field's value).
    Both,
}

pub trait Sink: Send {
    fn input(&self) -> SinkInput;

    /// Hands `batch` to the destination; it is not durable yet. `encoded` is the converter's
    /// encoding of it when [`Sink::input`] is [`SinkInput::Encoded`] (empty otherwise).
    /// `offset` is the offset the batch completes, given only to a sink that
    /// [`Sink::keeps_offsets`] or [`Sink::wants_positions`] (`None`: the batch completes none,
    /// e.g. the middle of a source transaction). May block while the sink's own buffers are full (back-pressure).
    fn submit(
        &mut self,
        batch: &Batch,
        encoded: &EncodedBatch,
        offset: Option<&SourceOffset>,
    ) -> Result<()>;

    /// Waits at most `wait` for progress, then returns how many submitted batches, in submit
    /// order, became durable since the last call.
    fn settle(&mut self, wait: Duration) -> Result<usize>;

    /// Whether the sink stores the source's offset with the data, in the same transaction.
    fn keeps_offsets(&self) -> bool {
        false
    }

    /// Whether [`Sink::submit`] should get the offset each batch completes even though the
    /// sink does not keep it: a sink that must close its output only where a position is
    /// complete (object storage, whose objects then never straddle a committed position).
    fn wants_positions(&self) -> bool {
        false
    }

    /// The offset the destination holds for this connector under `generation` (see the
    /// module's doc), read before the first batch; the sink stores `generation` with every
    /// offset from now on. Called only when [`Sink::keeps_offsets`].
    fn resume(&mut self, generation: &str) -> Result<Option<SourceOffset>> {
        let _ = generation;
        Ok(None)
    }

    /// Records of the last submitted batch the sink did not write because of the record
    /// itself (a value the destination cannot hold, a write it refused), by index in
    /// `batch.events`, with why. The engine applies `errors.tolerance` to each — skip and log
    /// (with the dead letter queue of a sink connector), or stop the connector — before the
    /// batch can be acknowledged. A sink reports a record here only when leaving it out loses
    /// nothing else.
    fn rejected(&mut self) -> Vec<(usize, crate::error::Error)> {
        Vec::new()
    }

    /// Whether rows must arrive with the rows they reference first: a sink that checks foreign
    /// keys as it writes asks a source to read referenced tables before the tables that
    /// reference them in its snapshot.
    fn referenced_first(&self) -> bool {
        false
    }
}
