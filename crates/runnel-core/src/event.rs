//! Change events and the batches that carry them from a source to a sink.
//!
//! A [`Batch`] owns one flat vector of [`Datum`]s; each event's `before`/`after` rows are ranges
//! into it, so a batch of thousands of rows costs a handful of allocations, not one per row.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;

use crate::datum::Datum;
use crate::offset::SourceOffset;
use crate::schema::TableSchema;

/// Debezium's `op` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Snapshot read (`r`).
    Read,
    /// Insert (`c`).
    Create,
    /// Update (`u`).
    Update,
    /// Delete (`d`).
    Delete,
    /// Truncate (`t`).
    Truncate,
}

impl Op {
    pub fn code(self) -> &'static str {
        match self {
            Op::Read => "r",
            Op::Create => "c",
            Op::Update => "u",
            Op::Delete => "d",
            Op::Truncate => "t",
        }
    }
}

/// Debezium's `source.snapshot` marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMarker {
    False,
    True,
    First,
    FirstInDataCollection,
    LastInDataCollection,
    Last,
    Incremental,
}

impl SnapshotMarker {
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotMarker::False => "false",
            SnapshotMarker::True => "true",
            SnapshotMarker::First => "first",
            SnapshotMarker::FirstInDataCollection => "first_in_data_collection",
            SnapshotMarker::LastInDataCollection => "last_in_data_collection",
            SnapshotMarker::Last => "last",
            SnapshotMarker::Incremental => "incremental",
        }
    }
}

/// Where an event came from: the fields of Debezium's `source` block that vary per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourcePosition {
    /// Commit (or snapshot start) time, microseconds since the epoch.
    pub ts_us: i64,
    pub snapshot: SnapshotMarker,
    /// PostgreSQL: the LSN of the change.
    pub lsn: Option<u64>,
    /// PostgreSQL: the commit LSN of the last transaction completely processed before this one.
    pub last_commit_lsn: Option<u64>,
    pub tx_id: Option<u64>,
}

/// One row change.
#[derive(Debug, Clone)]
pub struct ChangeEvent {
    pub table: Arc<TableSchema>,
    pub op: Op,
    pub before: Option<Range<u32>>,
    pub after: Option<Range<u32>>,
    pub source: SourcePosition,
}

/// Anything a source emits.
#[derive(Debug, Clone)]
pub enum Event {
    Change(ChangeEvent),
    /// A logical decoding message (`pg_logical_emit_message`), Debezium's `op: "m"`.
    Message {
        prefix: Arc<str>,
        content: Bytes,
        transactional: bool,
        source: SourcePosition,
    },
    /// A heartbeat: lets an idle or filtered source still advance its position downstream.
    Heartbeat {
        ts_ms: i64,
    },
}

/// A unit of work between a source and a sink.
#[derive(Debug, Default)]
pub struct Batch {
    pub datums: Vec<Datum>,
    pub events: Vec<Event>,
    /// Set when everything up to and including this batch completes a source position: once the
    /// sink has made this batch (and all before it) durable, this offset may be committed.
    pub offset: Option<SourceOffset>,
}

impl Batch {
    /// Values (columns of all rows) at which a source cuts a batch even if it has fewer than
    /// `max.batch.size` events: 16,384 datums, about 640 KiB. Wide rows then make shorter
    /// batches, so what is in flight between source and sink is bounded in bytes, not only in
    /// rows. Measured on a 1M-row, 15-column snapshot: 2,048-row batches (1.2 MiB) peaked at
    /// 36 MB RSS and took 3.4–4.0 s; 1,024-row batches 29 MB and 3.3 s (less to page in).
    pub const FULL_DATUMS: usize = 16 * 1024;

    /// Rows of `width` columns that fill a batch, at most `max_rows`.
    pub fn rows_per_batch(max_rows: usize, width: usize) -> usize {
        max_rows.min(Self::FULL_DATUMS / width.max(1)).max(1)
    }

    pub fn with_capacity(events: usize, datums: usize) -> Self {
        Self {
            datums: Vec::with_capacity(datums),
            events: Vec::with_capacity(events),
            offset: None,
        }
    }

    /// Appends a row and returns its range.
    pub fn push_row(&mut self, row: impl IntoIterator<Item = Datum>) -> Range<u32> {
        let start = self.datums.len() as u32;
        self.datums.extend(row);
        start..self.datums.len() as u32
    }

    pub fn row(&self, range: &Range<u32>) -> &[Datum] {
        &self.datums[range.start as usize..range.end as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.offset.is_none()
    }

    /// Number of row-change events.
    pub fn change_count(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Change(_)))
            .count()
    }
}
