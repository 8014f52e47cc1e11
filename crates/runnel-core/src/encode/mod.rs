//! Encoders turn batches of events into records (topic, key bytes, value bytes), once, at the
//! sink boundary. Every sink writes the same bytes.

pub mod json;
mod writer;

use std::ops::Range;
use std::sync::Arc;

use crate::offset::SourceOffset;

/// One encoded record. `key`/`value` are ranges into [`EncodedBatch::buf`]; `None` is a null
/// (a tombstone's value, a truncate's key).
#[derive(Debug, Clone)]
pub struct Record {
    pub topic: Arc<str>,
    pub key: Option<Range<usize>>,
    pub value: Option<Range<usize>>,
    /// Kafka record timestamp (milliseconds).
    pub timestamp_ms: i64,
}

/// The encoded form of a [`crate::event::Batch`].
#[derive(Debug, Default)]
pub struct EncodedBatch {
    pub buf: Vec<u8>,
    pub records: Vec<Record>,
    /// Committable once this batch and all before it are durable.
    pub offset: Option<SourceOffset>,
    /// Row-change events in the batch (for metrics).
    pub changes: usize,
}

impl EncodedBatch {
    pub fn clear(&mut self) {
        self.buf.clear();
        self.records.clear();
        self.offset = None;
        self.changes = 0;
    }
    pub fn key(&self, r: &Record) -> Option<&[u8]> {
        r.key.clone().map(|k| &self.buf[k])
    }
    pub fn value(&self, r: &Record) -> Option<&[u8]> {
        r.value.clone().map(|v| &self.buf[v])
    }
}
