//! Encoders turn batches of typed events into records (topic, key bytes, value bytes,
//! headers), once, at the sink boundary. Every byte sink writes the same bytes.

pub mod avro;
pub mod json;
pub mod writer;

use std::ops::Range;
use std::sync::Arc;

/// One encoded record. `key`/`value` are ranges into [`EncodedBatch::buf`]; `None` is a null
/// (a tombstone's value, a truncate's key).
#[derive(Debug, Clone)]
pub struct EncodedRecord {
    pub topic: Arc<str>,
    /// The partition the record asks for; `None`: the sink's partitioner decides.
    pub partition: Option<i32>,
    pub key: Option<Range<usize>>,
    pub value: Option<Range<usize>>,
    /// Kafka record timestamp (milliseconds).
    pub timestamp_ms: i64,
    /// This record's entries of [`EncodedBatch::headers`].
    pub headers: Range<u32>,
}

/// One encoded header: its value is a range of [`EncodedBatch::buf`] (`None`: null).
#[derive(Debug, Clone)]
pub struct EncodedHeader {
    pub key: Arc<str>,
    pub value: Option<Range<usize>>,
}

/// The encoded form of a [`crate::event::Batch`].
#[derive(Debug, Default)]
pub struct EncodedBatch {
    pub buf: Vec<u8>,
    pub records: Vec<EncodedRecord>,
    pub headers: Vec<EncodedHeader>,
}

impl EncodedBatch {
    pub fn clear(&mut self) {
        self.buf.clear();
        self.records.clear();
        self.headers.clear();
    }
    pub fn key(&self, r: &EncodedRecord) -> Option<&[u8]> {
        r.key.clone().map(|k| &self.buf[k])
    }
    pub fn value(&self, r: &EncodedRecord) -> Option<&[u8]> {
        r.value.clone().map(|v| &self.buf[v])
    }
    /// The record's headers: key and value bytes.
    pub fn headers<'a>(
        &'a self,
        r: &EncodedRecord,
    ) -> impl Iterator<Item = (&'a str, Option<&'a [u8]>)> + 'a {
        self.headers[r.headers.start as usize..r.headers.end as usize]
            .iter()
            .map(|h| (&*h.key, h.value.clone().map(|v| &self.buf[v])))
    }
}
