//! The typed records that travel from a source through the transforms to a sink, in batches.
//!
//! A [`Batch`] owns one flat vector of [`Datum`]s; each event's rows (and every struct or map
//! value) are ranges into it, so a batch of thousands of rows costs a handful of allocations, not
//! one per row. Two kinds of event:
//! - [`ChangeEvent`]: a row change as a database source captures it, compact: the table's schema,
//!   the op, before/after rows and the per-event part of Debezium's `source` block. Its Debezium
//!   envelope (`before`, `after`, `source`, `op`, `ts_ms`, …) is implied and written by the
//!   encoder, never materialized on the hot path.
//! - [`Record`]: any Kafka Connect record (topic, key, value, headers, timestamp): tombstones,
//!   heartbeats and messages a source emits, records read from Kafka, records a transform rewrote.

use std::ops::Range;
use std::sync::Arc;

use crate::datum::Datum;
use crate::schema::{Schema, TableSchema};

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

    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "r" => Op::Read,
            "c" => Op::Create,
            "u" => Op::Update,
            "d" => Op::Delete,
            "t" => Op::Truncate,
            _ => return None,
        })
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

/// What Debezium's `source` block says about one event beyond the connector and the table:
/// when, whether it is a snapshot read, and where in the source's log it is. The meaning of
/// `coords` is the source's own, and its [`crate::source::SourceBlock`] writes them
/// (PostgreSQL: `[lsn, last commit lsn, txId]`; a binlog source: position, row, server, file and
/// GTID): the
/// event stays a small `Copy` value whatever the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSource {
    /// Commit (or snapshot start) time, microseconds since the epoch.
    pub ts_us: i64,
    pub snapshot: SnapshotMarker,
    pub coords: [Option<u64>; 4],
}

/// One row change.
#[derive(Debug, Clone)]
pub struct ChangeEvent {
    pub table: Arc<TableSchema>,
    pub op: Op,
    pub before: Option<Range<u32>>,
    pub after: Option<Range<u32>>,
    pub source: EventSource,
}

/// A record's key, value or header value.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// A typed Connect value; no schema when it was read with `schemas.enable=false`.
    Value {
        schema: Option<Arc<Schema>>,
        datum: Datum,
    },
    /// The bytes a converter wrote, at `batch.bytes[range]`, not decoded: a record read from
    /// Kafka passes to a sink that writes bytes with the same converter unchanged. Sinks that
    /// read typed values and transforms never see this (the engine has the source decode).
    Encoded(Range<u32>),
}

impl Payload {
    pub fn value(schema: &Arc<Schema>, datum: Datum) -> Self {
        Payload::Value {
            schema: Some(schema.clone()),
            datum,
        }
    }
}

/// A Kafka record header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub key: Arc<str>,
    pub value: Option<Payload>,
}

/// Any Kafka Connect record. A tombstone has `value: None`; a null value *with* a schema is not
/// a tombstone (`Some(Payload::Value { schema: Some(..), datum: Null })`).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub topic: Arc<str>,
    /// The Kafka partition it was read from (or a transform chose); `None`: the sink picks.
    pub partition: Option<i32>,
    /// Its Kafka offset, when read from Kafka.
    pub offset: Option<i64>,
    /// Kafka record timestamp (milliseconds); `None`: the time it is written.
    pub timestamp_ms: Option<i64>,
    pub key: Option<Payload>,
    pub value: Option<Payload>,
    pub headers: Vec<Header>,
    /// Where in the source's log the change it was made from is, when a transform made it
    /// from a change event: a sink that names its output by position (object storage) keeps
    /// reading it through the transforms.
    pub source: Option<EventSource>,
}

impl Record {
    pub fn new(topic: Arc<str>, key: Option<Payload>, value: Option<Payload>) -> Self {
        Self {
            topic,
            partition: None,
            offset: None,
            timestamp_ms: None,
            key,
            value,
            headers: Vec::new(),
            source: None,
        }
    }

    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }
}

/// Anything a source emits.
#[derive(Debug, Clone)]
pub enum Event {
    Change(ChangeEvent),
    Record(Record),
}

impl Event {
    pub fn topic(&self) -> &Arc<str> {
        match self {
            Event::Change(c) => &c.table.topic,
            Event::Record(r) => &r.topic,
        }
    }

    /// Whether the event carries a value (every change event; a record unless a tombstone).
    pub fn has_value(&self) -> bool {
        match self {
            Event::Change(_) => true,
            Event::Record(r) => r.value.is_some(),
        }
    }
}

/// A unit of work between a source and a sink.
#[derive(Debug, Default)]
pub struct Batch {
    pub datums: Vec<Datum>,
    /// Bytes of [`Payload::Encoded`] values.
    pub bytes: Vec<u8>,
    pub events: Vec<Event>,
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
            bytes: Vec::new(),
            events: Vec::with_capacity(events),
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

    /// The fields of a struct (or the alternating keys and values of a map) datum.
    pub fn fields(&self, range: &Range<u32>) -> &[Datum] {
        self.row(range)
    }

    /// Appends Debezium's tombstone for a delete of `row` in `table`: a record with the row's
    /// key and no value, so log compaction can drop the key.
    pub fn push_tombstone(&mut self, table: &Arc<TableSchema>, row: &Range<u32>) {
        let start = self.datums.len();
        for &k in &table.key {
            let d = self.datums[row.start as usize + k].clone();
            self.datums.push(d);
        }
        let key = Datum::Struct(start as u32..self.datums.len() as u32);
        self.events.push(Event::Record(Record::new(
            table.topic.clone(),
            Some(Payload::value(table.key_schema(), key)),
            None,
        )));
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Moves the events from `events_at` on, and the values from `datums_at` on that they (and
    /// only they) use, into a new batch, their ranges rebased: a source that read past a
    /// transaction's commit carries the next transaction's first events over to its next batch.
    /// The values are moved, not copied. Encoded payloads are not supported (a source of
    /// undecoded records does not split batches).
    pub fn split_off(&mut self, events_at: usize, datums_at: usize) -> Batch {
        let base = datums_at as u32;
        let mut datums = self.datums.split_off(datums_at);
        for d in &mut datums {
            rebase_datum(d, base);
        }
        let mut events = self.events.split_off(events_at);
        for e in &mut events {
            match e {
                Event::Change(c) => {
                    for r in [&mut c.before, &mut c.after].into_iter().flatten() {
                        rebase_range(r, base);
                    }
                }
                Event::Record(r) => {
                    let headers = r.headers.iter_mut().filter_map(|h| h.value.as_mut());
                    for p in [r.key.as_mut(), r.value.as_mut()]
                        .into_iter()
                        .flatten()
                        .chain(headers)
                    {
                        if let Payload::Value { datum, .. } = p {
                            rebase_datum(datum, base);
                        }
                    }
                }
            }
        }
        Batch {
            datums,
            bytes: Vec::new(),
            events,
        }
    }

    /// Number of events that carry a value (change events, records but tombstones).
    pub fn value_count(&self) -> usize {
        self.events.iter().filter(|e| e.has_value()).count()
    }

    pub fn clear(&mut self) {
        self.datums.clear();
        self.bytes.clear();
        self.events.clear();
    }
}

fn rebase_range(r: &mut Range<u32>, base: u32) {
    r.start -= base;
    r.end -= base;
}

/// Shifts the ranges a value holds into the batch's values down by `base`.
fn rebase_datum(d: &mut Datum, base: u32) {
    match d {
        Datum::Struct(r) | Datum::Map(r) => rebase_range(r, base),
        Datum::Array(items) => {
            for item in items.iter_mut() {
                rebase_datum(item, base);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, Encoding, TableId};

    #[test]
    fn split_off_moves_the_tail_with_its_values() {
        let table = Arc::new(TableSchema::new(
            TableId::new("public", "t"),
            "p.public.t".into(),
            "p.public.t".into(),
            vec![
                Column::new("id", Encoding::Int32, false),
                Column::new("v", Encoding::String, true),
            ],
            vec![0],
            0,
        ));
        let mut batch = Batch::default();
        let source = EventSource {
            ts_us: 0,
            snapshot: SnapshotMarker::False,
            coords: [None; 4],
        };
        for id in 1..=3 {
            let row = batch.push_row([Datum::Int(id), Datum::text("x")]);
            if id == 3 {
                batch.push_tombstone(&table, &row);
            }
            batch.events.push(Event::Change(ChangeEvent {
                table: table.clone(),
                op: Op::Create,
                before: None,
                after: Some(row),
                source,
            }));
        }
        // The first two events (values 0..4) stay; the third row and its tombstone move.
        let tail = batch.split_off(2, 4);
        assert_eq!(batch.events.len(), 2);
        assert_eq!(batch.datums.len(), 4);
        assert_eq!(tail.events.len(), 2);
        let Event::Record(tombstone) = &tail.events[0] else {
            panic!("tombstone first")
        };
        let Some(Payload::Value {
            datum: Datum::Struct(key),
            ..
        }) = &tombstone.key
        else {
            panic!("struct key")
        };
        assert_eq!(tail.fields(key), &[Datum::Int(3)]);
        let Event::Change(c) = &tail.events[1] else {
            panic!("change")
        };
        assert_eq!(tail.row(c.after.as_ref().unwrap())[0], Datum::Int(3));
    }
}
