//! The initial snapshot: every captured table read under one exported snapshot (the slot's
//! consistent point), with `COPY … TO STDOUT` on up to `snapshot.max.threads` connections in
//! parallel. Large tables are split into ranges of heap blocks (TID range scans), so one big
//! table is read by several connections too; parts are emitted in table and block order, which
//! keeps Debezium's heap order within a table. Each reader turns its rows straight into batches
//! of `op: "r"` events; the emitter forwards them in table order (sorted by `schema.table`, as
//! Debezium) and only sets Debezium's `source.snapshot` boundary markers (`first`,
//! `first_in_data_collection`, `last_in_data_collection`, `last`; every other row `true`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use runnel_core::fits::FailureMode;
use runnel_core::{
    Batch, ChangeEvent, Datum, Emitted, Error, Event, EventSource, Op, Result, SnapshotMarker,
    SourceStats,
};
use tokio::sync::mpsc;
use tokio_postgres::Client;

use super::catalog::{self, TableRef, TableState, quote_ident};
use super::config::PostgresConfig;
use super::source_block::PgPosition;

type Out = mpsc::Sender<Emitted<PgPosition>>;

/// Where the snapshot is taken.
#[derive(Debug, Clone)]
pub struct SnapshotPoint {
    /// The slot's exported snapshot; `None` when the slot already existed (then each connection
    /// takes its own REPEATABLE READ snapshot, which overlaps the stream: duplicates, never gaps).
    pub snapshot_name: Option<String>,
    /// The WAL position streaming resumes from.
    pub lsn: u64,
    pub ts_us: i64,
    pub tx_id: Option<u64>,
}

/// A part's rows, as a batch of `r` events built by its reader. `last_of_part` marks the
/// part's final batch (possibly empty), which the emitter holds until it knows whether the
/// table has more rows after it.
struct PartBatch {
    batch: Batch,
    last_of_part: bool,
}

/// Batches a reader may run ahead of the emitter per part. With the pipeline's own queue
/// behind the emitter one is enough to keep the reader busy; each costs one batch of memory
/// (at most [`Batch::FULL_DATUMS`] values).
const BATCHES_AHEAD: usize = 1;

/// A unit of snapshot work: a whole table, or a range of its heap blocks.
struct Part {
    table: usize,
    /// First block, and the block after the last one (`None`: to the end of the table).
    blocks: Option<(i64, Option<i64>)>,
}

/// Splits tables larger than `part_blocks` (`snapshot.part.blocks`, 32 MiB of 8 KiB blocks by
/// default) into block ranges, when there is more than one reader.
async fn plan_parts(
    client: &Client,
    tables: &[(TableRef, TableState)],
    threads: usize,
    part_blocks: i64,
) -> Result<Vec<Part>> {
    let mut parts = Vec::new();
    for (i, (table, _)) in tables.iter().enumerate() {
        let blocks = if threads > 1 {
            let row = client
                .query_one(
                    "SELECT pg_relation_size($1::int8::oid) / current_setting('block_size')::int8",
                    &[&i64::from(table.oid)],
                )
                .await
                .map_err(|e| catalog::query_error("reading table sizes", &e))?;
            row.get::<_, i64>(0)
        } else {
            0
        };
        if blocks <= part_blocks {
            parts.push(Part {
                table: i,
                blocks: None,
            });
            continue;
        }
        let mut start = 0;
        while start < blocks {
            let end = start + part_blocks;
            // The last part is open-ended: blocks added since the size was read hold no row
            // visible to the snapshot, but reading them costs nothing and proves it.
            let end = (end < blocks).then_some(end);
            parts.push(Part {
                table: i,
                blocks: Some((start, end)),
            });
            start += part_blocks;
        }
    }
    Ok(parts)
}

/// Reads all `tables` and sends their rows as batches; returns the number of rows.
pub async fn run(
    cfg: &PostgresConfig,
    tables: Vec<(TableRef, TableState)>,
    point: &SnapshotPoint,
    out: &Out,
    stats: &SourceStats,
) -> Result<u64> {
    let threads = cfg.snapshot_max_threads.min(tables.len()).max(1);
    // Open and pin every connection to the snapshot before anything else can run on the
    // exporting session: the exported snapshot lives only until then.
    let mut clients = Vec::with_capacity(threads);
    for i in 0..threads {
        let client = catalog::connect(cfg, &format!("runnel-snapshot-{}-{i}", cfg.name)).await?;
        client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(|e| catalog::query_error("starting the snapshot transaction", &e))?;
        if let Some(name) = &point.snapshot_name {
            client
                .batch_execute(&format!("SET TRANSACTION SNAPSHOT '{name}'"))
                .await
                .map_err(|e| catalog::query_error("importing the slot's snapshot", &e))?;
        }
        clients.push(client);
    }

    let parts =
        Arc::new(plan_parts(&clients[0], &tables, threads, cfg.snapshot_part_blocks).await?);
    let tables = Arc::new(tables);
    let next = Arc::new(AtomicUsize::new(0));
    // One bounded channel per part: readers take parts in order, the emitter drains them in
    // order, so a reader blocked on a later part never blocks the part being emitted.
    let mut senders = Vec::with_capacity(parts.len());
    let mut receivers = Vec::with_capacity(parts.len());
    for _ in 0..parts.len() {
        let (tx, rx) = mpsc::channel::<Result<PartBatch>>(BATCHES_AHEAD);
        senders.push(Some(tx));
        receivers.push(rx);
    }
    let senders = Arc::new(std::sync::Mutex::new(senders));
    let position = EventSource {
        ts_us: point.ts_us,
        snapshot: SnapshotMarker::True,
        coords: [Some(point.lsn), None, point.tx_id, None],
    };
    let max_batch = cfg.max_batch_size;
    let failure_mode = cfg.failure_mode;
    let skipped = Arc::new(AtomicU64::new(0));
    let mut readers = tokio::task::JoinSet::new();
    for client in clients {
        let tables = tables.clone();
        let parts = parts.clone();
        let next = next.clone();
        let senders = senders.clone();
        let skipped = skipped.clone();
        readers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= parts.len() {
                    break;
                }
                let tx = senders.lock().ok().and_then(|mut s| s[i].take());
                let Some(tx) = tx else { break };
                let (table, state) = &tables[parts[i].table];
                let reader = PartReader {
                    state,
                    position,
                    // `max.batch.size`, fewer for wide tables (see `Batch::FULL_DATUMS`).
                    rows: Batch::rows_per_batch(max_batch, state.schema.columns.len()),
                    tx: &tx,
                    failure_mode,
                    skipped: &skipped,
                };
                if let Err(e) = reader.read(&client, table, parts[i].blocks).await {
                    let _ = tx.send(Err(e)).await;
                    break;
                }
            }
            let _ = client.batch_execute("COMMIT").await;
        });
    }

    let mut emitter = Emitter::default();
    for (i, mut rx) in receivers.into_iter().enumerate() {
        while let Some(part_batch) = rx.recv().await {
            emitter.batch(parts[i].table, part_batch?, out).await?;
            stats.snapshot_rows.store(emitter.rows, Ordering::Relaxed);
        }
        if parts
            .get(i + 1)
            .is_none_or(|next| next.table != parts[i].table)
        {
            stats.snapshot_tables_done.fetch_add(1, Ordering::Relaxed);
        }
    }
    let rows = emitter.finish(out).await?;
    stats.snapshot_rows.store(rows, Ordering::Relaxed);
    while let Some(r) = readers.join_next().await {
        r.map_err(|e| Error::internal(format!("snapshot reader failed: {e}")))?;
    }
    stats
        .skipped_events
        .fetch_add(skipped.load(Ordering::Relaxed), Ordering::Relaxed);
    Ok(rows)
}

/// Reads one part with COPY and sends its rows as batches of `r` events.
struct PartReader<'a> {
    state: &'a TableState,
    position: EventSource,
    /// Rows per batch.
    rows: usize,
    tx: &'a mpsc::Sender<Result<PartBatch>>,
    /// `event.processing.failure.handling.mode`, and the rows it skipped.
    failure_mode: FailureMode,
    skipped: &'a AtomicU64,
}

impl PartReader<'_> {
    fn new_batch(&self) -> Batch {
        Batch::with_capacity(self.rows, self.rows * self.state.schema.columns.len())
    }

    async fn read(
        &self,
        client: &Client,
        table: &TableRef,
        blocks: Option<(i64, Option<i64>)>,
    ) -> Result<()> {
        let state = self.state;
        let stream = client
            .copy_out(copy_sql(table, state, blocks).as_str())
            .await
            .map_err(|e| {
                catalog::query_error(&format!("snapshot of {}.{}", table.schema, table.name), &e)
            })?;
        futures_util::pin_mut!(stream);
        let width = state.schema.columns.len();
        let mut carry = BytesMut::new();
        let mut batch = self.new_batch();
        let mut fields: Vec<Option<Bytes>> = Vec::with_capacity(state.source_columns.len());
        while let Some(data) = stream.next().await {
            let data = data.map_err(|e| catalog::query_error("reading snapshot rows", &e))?;
            // PostgreSQL sends one row per CopyData message: take it as is (its fields stay
            // slices of the message); only a message that splits a row needs the carry buffer.
            let complete = if carry.is_empty() && data.last() == Some(&b'\n') {
                data
            } else {
                carry.extend_from_slice(&data);
                let Some(last_nl) = carry.iter().rposition(|&b| b == b'\n') else {
                    continue;
                };
                carry.split_to(last_nl + 1).freeze()
            };
            let mut start = 0;
            while start < complete.len() {
                let end = start
                    + complete[start..]
                        .iter()
                        .position(|&b| b == b'\n')
                        .unwrap_or(complete.len() - start);
                let line = complete.slice(start..end);
                start = end + 1;
                split_copy_line(&line, &mut fields)?;
                if fields.len() != state.inputs.len() {
                    return Err(Error::protocol(format!(
                        "snapshot of {}.{}: expected {} columns, COPY sent {}",
                        table.schema,
                        table.name,
                        state.inputs.len(),
                        fields.len()
                    )));
                }
                // A full batch goes out only when another row follows, so that the part's
                // last row is always in the batch marked `last_of_part`.
                if batch.events.len() >= self.rows {
                    let full = std::mem::replace(&mut batch, self.new_batch());
                    if !self.send(full, false).await {
                        return Ok(());
                    }
                }
                let base = batch.datums.len();
                batch.datums.resize(base + width, Datum::Null);
                let mut failed = None;
                for (input, field) in state.inputs.iter().zip(fields.iter()) {
                    if let (Some((target, parser)), Some(raw)) = (input, field) {
                        match state.decode(*target, parser, raw.clone()) {
                            Ok(d) => batch.datums[base + target] = d,
                            Err(e) => {
                                failed = Some(e);
                                break;
                            }
                        }
                    }
                }
                if let Some(e) = failed {
                    batch.datums.truncate(base);
                    self.skip_or_fail(e, &fields)?;
                    fields.clear();
                    continue;
                }
                fields.clear();
                batch.events.push(Event::Change(ChangeEvent {
                    table: state.schema.clone(),
                    op: Op::Read,
                    before: None,
                    after: Some(base as u32..(base + width) as u32),
                    source: self.position,
                }));
            }
        }
        self.send(batch, true).await;
        Ok(())
    }

    /// A row that failed on a value: the error under `event.processing.failure.handling.mode`
    /// `fail`, else the row is left out and logged with its table and key.
    fn skip_or_fail(&self, e: Error, fields: &[Option<Bytes>]) -> Result<()> {
        let key: Vec<Option<&[u8]>> = fields.iter().map(|f| f.as_deref()).collect();
        catalog::skip_or_fail(
            self.failure_mode,
            e,
            Some(self.state),
            &key,
            "snapshot",
            Some(self.skipped),
        )
    }

    /// False when the emitter is gone (the snapshot is failing elsewhere).
    async fn send(&self, batch: Batch, last_of_part: bool) -> bool {
        self.tx
            .send(Ok(PartBatch {
                batch,
                last_of_part,
            }))
            .await
            .is_ok()
    }
}

fn copy_sql(table: &TableRef, state: &TableState, blocks: Option<(i64, Option<i64>)>) -> String {
    let columns: Vec<String> = state
        .source_columns
        .iter()
        .map(|(name, _, _)| quote_ident(name))
        .collect();
    let range = match blocks {
        None => String::new(),
        Some((start, None)) => format!(" WHERE ctid >= '({start},0)'::tid"),
        Some((start, Some(end))) => {
            format!(" WHERE ctid >= '({start},0)'::tid AND ctid < '({end},0)'::tid")
        }
    };
    format!(
        "COPY (SELECT {} FROM {}.{}{range}) TO STDOUT",
        if columns.is_empty() {
            "NULL".to_string()
        } else {
            columns.join(", ")
        },
        quote_ident(&table.schema),
        quote_ident(&table.name)
    )
}

/// Splits one line of COPY text format into fields (`\N` is NULL), unescaping backslashes.
/// Fields without escapes stay slices of `line`.
fn split_copy_line(line: &Bytes, out: &mut Vec<Option<Bytes>>) -> Result<()> {
    out.clear();
    let mut start = 0;
    loop {
        let end = line[start..]
            .iter()
            .position(|&b| b == b'\t')
            .map_or(line.len(), |p| start + p);
        let field = &line[start..end];
        if field == b"\\N" {
            out.push(None);
        } else if field.contains(&b'\\') {
            out.push(Some(unescape(field)?));
        } else {
            out.push(Some(line.slice(start..end)));
        }
        if end >= line.len() {
            return Ok(());
        }
        start = end + 1;
    }
}

fn unescape(field: &[u8]) -> Result<Bytes> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let next = *field
            .get(i + 1)
            .ok_or_else(|| Error::protocol("COPY field ends with a backslash"))?;
        i += 2;
        match next {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut v = u32::from(next - b'0');
                let mut n = 1;
                while n < 3 && i < field.len() && (b'0'..=b'7').contains(&field[i]) {
                    v = v * 8 + u32::from(field[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            b'x' => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 2 && i < field.len() && field[i].is_ascii_hexdigit() {
                    v = v * 16 + (field[i] as char).to_digit(16).unwrap_or(0);
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
    Ok(Bytes::from(out))
}

/// Forwards the readers' batches in part order and sets Debezium's boundary markers: `first`
/// on the first row of the snapshot, `first_in_data_collection` / `last_in_data_collection` on
/// a table's first and last rows, `last` on the snapshot's last row (`first` wins over `last`,
/// `last` over `first_in_data_collection`, which wins over `last_in_data_collection`). A part's
/// final batch is held until the next non-empty batch shows whether its table goes on.
#[derive(Default)]
struct Emitter {
    held: Option<(usize, Batch)>,
    /// The table of the last row seen.
    table: Option<usize>,
    rows: u64,
}

impl Emitter {
    async fn batch(&mut self, table: usize, part_batch: PartBatch, out: &Out) -> Result<()> {
        let PartBatch {
            mut batch,
            last_of_part,
        } = part_batch;
        if batch.events.is_empty() {
            return Ok(());
        }
        if let Some((held_table, mut held)) = self.held.take() {
            if held_table != table {
                mark_last(&mut held, SnapshotMarker::LastInDataCollection);
            }
            send(out, held).await?;
        }
        if self.table != Some(table) {
            let marker = if self.table.is_none() {
                SnapshotMarker::First
            } else {
                SnapshotMarker::FirstInDataCollection
            };
            if let Some(Event::Change(first)) = batch.events.first_mut() {
                first.source.snapshot = marker;
            }
            self.table = Some(table);
        }
        self.rows += batch.events.len() as u64;
        if last_of_part {
            self.held = Some((table, batch));
            Ok(())
        } else {
            send(out, batch).await
        }
    }

    async fn finish(mut self, out: &Out) -> Result<u64> {
        if let Some((_, mut held)) = self.held.take() {
            mark_last(&mut held, SnapshotMarker::Last);
            send(out, held).await?;
        }
        Ok(self.rows)
    }
}

/// Marks a batch's last row as a table's (or the snapshot's) last, unless a marker that takes
/// precedence is already there.
fn mark_last(batch: &mut Batch, marker: SnapshotMarker) {
    if let Some(Event::Change(last)) = batch.events.last_mut() {
        let keep = match marker {
            SnapshotMarker::Last => last.source.snapshot == SnapshotMarker::First,
            _ => last.source.snapshot != SnapshotMarker::True,
        };
        if !keep {
            last.source.snapshot = marker;
        }
    }
}

async fn send(out: &Out, batch: Batch) -> Result<()> {
    out.send(Emitted {
        batch,
        position: None,
    })
    .await
    .map_err(|_| Error::internal("pipeline closed during snapshot"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_lines_split_and_unescape() {
        let mut out = Vec::new();
        split_copy_line(&Bytes::from_static(b"1\t\\N\ta\\tb\\\\c\t"), &mut out).unwrap();
        assert_eq!(out.len(), 4);
        assert_eq!(out[1], None);
        assert_eq!(out[2].as_deref(), Some(&b"a\tb\\c"[..]));
        assert_eq!(out[3].as_deref(), Some(&b""[..]));
    }
}
