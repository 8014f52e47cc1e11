//! The consistent snapshot: the binlog position read together with the snapshot of the data,
//! then each captured table read as `op: r` events, tables in parallel across
//! `snapshot.max.threads` readers that share that one point in time.
//!
//! How the point is fixed: on MariaDB with one reader, without any lock — a
//! `START TRANSACTION WITH CONSISTENT SNAPSHOT` reports the binlog position it is consistent
//! with (`binlog_snapshot_file`/`_position`). Otherwise, with `snapshot.locking.mode=minimal`,
//! `FLUSH TABLES WITH READ LOCK` is held only while every reader opens its consistent-snapshot
//! transaction and the position is read, then released before any row is read.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use runnel_core::{
    Batch, ChangeEvent, Datum, Emitted, Error, Event, EventSource, Op, Result, SnapshotMarker,
    SourceStats,
};
use tokio::sync::mpsc;

use crate::config::MySqlConfig;
use crate::connection::{self, error};
use crate::source_block::{BinlogPosition, BinlogSourceBlock};
use crate::tables::Captured;
use crate::types::parse_text;

/// The point the snapshot is consistent with.
#[derive(Debug, Clone)]
pub struct SnapshotPoint {
    pub file: String,
    pub pos: u64,
    pub gtids: Option<String>,
    pub ts_sec: i64,
}

/// Opens `readers` connections, each in a consistent-snapshot transaction at one binlog
/// position.
pub async fn open(
    cfg: &MySqlConfig,
    mariadb: bool,
    readers: usize,
) -> Result<(Vec<Conn>, SnapshotPoint)> {
    let begin = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY";
    let isolation = "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ";
    let ts_sec = runnel_core::temporal::now_micros() / 1_000_000;
    if mariadb && readers == 1 {
        let mut conn = connection::connect(cfg, "snapshot").await?;
        conn.query_drop(isolation)
            .await
            .map_err(|e| error(cfg, "snapshot", e))?;
        conn.query_drop(begin)
            .await
            .map_err(|e| error(cfg, "starting the snapshot", e))?;
        let rows: Vec<(String, String)> = conn
            .query("SHOW STATUS LIKE 'binlog_snapshot_%'")
            .await
            .map_err(|e| error(cfg, "reading the snapshot's binlog position", e))?;
        let get = |n: &str| {
            rows.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.clone())
        };
        let file = get("binlog_snapshot_file").unwrap_or_default();
        let pos: u64 = get("binlog_snapshot_position")
            .and_then(|p| p.parse().ok())
            .unwrap_or(4);
        if file.is_empty() {
            return Err(Error::prerequisite(
                "the server reports no binlog position for the snapshot: its binary log is off; start it with --log-bin",
            ));
        }
        let gtids: Option<String> = conn
            .query_first::<Option<String>, _>(format!("SELECT BINLOG_GTID_POS('{file}', {pos})"))
            .await
            .map_err(|e| error(cfg, "reading the snapshot's GTID position", e))?
            .flatten()
            .filter(|g| !g.is_empty());
        return Ok((
            vec![conn],
            SnapshotPoint {
                file,
                pos,
                gtids,
                ts_sec,
            },
        ));
    }
    let mut lock = connection::connect(cfg, "snapshot lock").await?;
    if cfg.snapshot_lock {
        lock.query_drop("FLUSH TABLES WITH READ LOCK").await.map_err(|e| {
            error(cfg, "taking the snapshot's global read lock (FLUSH TABLES WITH READ LOCK, needs RELOAD; or set \"snapshot.locking.mode\": \"none\")", e)
        })?;
    } else {
        tracing::warn!(connector = %cfg.name, "snapshot.locking.mode=none with several readers: the readers' snapshots and the binlog position are not guaranteed to be one point in time");
    }
    let mut conns = Vec::with_capacity(readers);
    let result = async {
        for _ in 0..readers {
            let mut c = connection::connect(cfg, "snapshot reader").await?;
            c.query_drop(isolation)
                .await
                .map_err(|e| error(cfg, "snapshot", e))?;
            c.query_drop(begin)
                .await
                .map_err(|e| error(cfg, "starting the snapshot", e))?;
            conns.push(c);
        }
        connection::binlog_end(&mut lock, cfg, mariadb).await
    }
    .await;
    if cfg.snapshot_lock {
        let _ = lock.query_drop("UNLOCK TABLES").await;
    }
    let (file, pos, gtids) = result?;
    Ok((
        conns,
        SnapshotPoint {
            file,
            pos,
            gtids,
            ts_sec,
        },
    ))
}

fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// What the readers share.
pub struct Reading<'a> {
    pub cfg: &'a MySqlConfig,
    pub block: &'a BinlogSourceBlock,
    pub point: &'a SnapshotPoint,
    pub out: &'a mpsc::Sender<Emitted<BinlogPosition>>,
    pub stats: &'a SourceStats,
}

/// What a reader reads at once: a whole table, or a range of its integer primary key.
struct Part {
    table: Arc<Captured>,
    /// `column >= from AND column < to`, either bound open.
    range: Option<(String, Option<i128>, Option<i128>)>,
    /// The table's first and last parts carry its first and last snapshot markers.
    first: bool,
    last: bool,
}

/// Most parts one table is cut into.
const MAX_PARTS: u64 = 1024;

/// A table's parts: several ranges of its key when readers can share it (more than one
/// reader, one integer key column, more rows than `snapshot.part.rows` by the server's
/// estimate); the bounds come from `MIN`/`MAX` read in the snapshot itself, so the first part
/// holds the smallest key and the last the largest.
async fn parts(
    r: &Reading<'_>,
    conn: &mut Conn,
    table: Arc<Captured>,
    readers: usize,
) -> Result<Vec<Part>> {
    let whole = |table| {
        Ok(vec![Part {
            table,
            range: None,
            first: true,
            last: true,
        }])
    };
    let def = &table.def;
    let key = match def.primary_key.as_slice() {
        [k] if readers > 1 => k.clone(),
        _ => return whole(table),
    };
    if !def
        .column_index(&key)
        .is_some_and(|i| matches!(def.columns[i].kind, crate::tables::Kind::Int { .. }))
    {
        return whole(table);
    }
    let what = format!("planning the snapshot of {}.{}", def.db, def.name);
    let estimate: Option<u64> = conn
        .exec_first(
            "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (def.db.as_str(), def.name.as_str()),
        )
        .await
        .map_err(|e| error(r.cfg, &what, e))?
        .flatten();
    let estimate = estimate.unwrap_or(0);
    if estimate <= r.cfg.snapshot_part_rows {
        return whole(table);
    }
    let bounds: Option<(Option<String>, Option<String>)> = conn
        .query_first(format!(
            "SELECT CAST(MIN({k}) AS CHAR), CAST(MAX({k}) AS CHAR) FROM {}.{}",
            quote(&def.db),
            quote(&def.name),
            k = quote(&key)
        ))
        .await
        .map_err(|e| error(r.cfg, &what, e))?;
    let (Some(lo), Some(hi)) = bounds
        .map(|(lo, hi)| {
            (
                lo.and_then(|v| v.parse::<i128>().ok()),
                hi.and_then(|v| v.parse::<i128>().ok()),
            )
        })
        .unwrap_or_default()
    else {
        return whole(table);
    };
    let n = estimate.div_ceil(r.cfg.snapshot_part_rows).min(MAX_PARTS) as i128;
    let step = (hi - lo) / n + 1;
    let mut cuts: Vec<i128> = (1..n).map(|k| lo + k * step).filter(|c| *c <= hi).collect();
    cuts.dedup();
    let mut from = None;
    let mut out = Vec::with_capacity(cuts.len() + 1);
    for (i, to) in cuts.iter().map(|c| Some(*c)).chain([None]).enumerate() {
        out.push(Part {
            table: table.clone(),
            range: Some((key.clone(), from, to)),
            first: i == 0,
            last: to.is_none(),
        });
        from = to;
    }
    tracing::info!(connector = %r.cfg.name, table = %format!("{}.{}", def.db, def.name), parts = out.len(), estimate, "reading the table in ranges of its key");
    Ok(out)
}

/// Reads every table (in order; the first event of all is `first`, the last `last`) with the
/// readers, big tables in parts, and returns the rows read.
pub async fn read_tables(
    r: &Reading<'_>,
    mut conns: Vec<Conn>,
    tables: Vec<Arc<Captured>>,
) -> Result<u64> {
    let readers = conns.len();
    let mut all = Vec::new();
    for table in tables {
        all.extend(parts(r, &mut conns[0], table, readers).await?);
    }
    let n = all.len();
    let queue = Arc::new(std::sync::Mutex::new(
        all.into_iter()
            .enumerate()
            .collect::<std::collections::VecDeque<_>>(),
    ));
    let mut tasks = Vec::new();
    for conn in conns {
        let queue = queue.clone();
        tasks.push(async move {
            let mut conn = conn;
            let mut rows = 0u64;
            loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                let Some((i, part)) = next else { break };
                rows += read_table(r, &mut conn, &part, i == 0, i + 1 == n).await?;
                if part.last {
                    r.stats.snapshot_tables_done.fetch_add(1, Ordering::Relaxed);
                }
            }
            let _ = conn.query_drop("COMMIT").await;
            Ok::<u64, Error>(rows)
        });
    }
    let counts = futures_util::future::try_join_all(tasks).await?;
    Ok(counts.into_iter().sum())
}

async fn read_table(
    r: &Reading<'_>,
    conn: &mut Conn,
    part: &Part,
    first_table: bool,
    last_table: bool,
) -> Result<u64> {
    let cfg = r.cfg;
    let table = &part.table;
    let schema = &table.snapshot_schema;
    let def = &table.def;
    let cols: Vec<&crate::tables::ColumnDef> = def
        .columns
        .iter()
        .zip(&table.slots)
        .filter(|(_, s)| s.is_some())
        .map(|(c, _)| c)
        .collect();
    let list: Vec<String> = cols.iter().map(|c| quote(&c.name)).collect();
    let mut sql = format!(
        "SELECT {} FROM {}.{}",
        if list.is_empty() {
            "1".to_string()
        } else {
            list.join(", ")
        },
        quote(&def.db),
        quote(&def.name)
    );
    if let Some((key, from, to)) = &part.range {
        let bounds: Vec<String> = [(from, ">="), (to, "<")]
            .into_iter()
            .filter_map(|(b, op)| b.map(|b| format!("{} {op} {b}", quote(key))))
            .collect();
        if !bounds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&bounds.join(" AND "));
        }
    }
    let what = format!("reading {}.{} for the snapshot", def.db, def.name);
    let mut result = conn
        .query_iter(sql)
        .await
        .map_err(|e| error(cfg, &what, e))?;
    let rows_per_batch = Batch::rows_per_batch(cfg.max_batch_size, cols.len().max(1));
    let mut batch = Batch::with_capacity(rows_per_batch, rows_per_batch * cols.len());
    let source = |marker: SnapshotMarker| EventSource {
        ts_us: r.point.ts_sec * 1_000_000,
        snapshot: marker,
        coords: [
            Some(r.point.pos),
            Some(0),
            Some(r.block.file_number(&r.point.file)),
            None,
        ],
    };
    let mut count = 0u64;
    while let Some(row) = result.next().await.map_err(|e| error(cfg, &what, e))? {
        let start = batch.datums.len() as u32;
        for (i, c) in cols.iter().enumerate() {
            let enc = &schema.columns[i].encoding;
            let d = match row.as_ref(i) {
                None | Some(mysql_async::Value::NULL) => Datum::Null,
                Some(mysql_async::Value::Bytes(b)) => parse_text(c, enc, b, false)
                    .map_err(|e| Error::conversion(format!("{what}: {e}")))?,
                Some(other) => {
                    let text = other.as_sql(true);
                    parse_text(c, enc, text.trim_matches('\'').as_bytes(), false)
                        .map_err(|e| Error::conversion(format!("{what}: {e}")))?
                }
            };
            batch.datums.push(d);
        }
        let after = start..batch.datums.len() as u32;
        let marker = if count == 0 && first_table {
            SnapshotMarker::First
        } else if count == 0 && part.first {
            SnapshotMarker::FirstInDataCollection
        } else {
            SnapshotMarker::True
        };
        batch.events.push(Event::Change(ChangeEvent {
            table: schema.clone(),
            op: Op::Read,
            before: None,
            after: Some(after),
            source: source(marker),
        }));
        count += 1;
        if batch.events.len() > rows_per_batch {
            // Keep the newest event back: whether it is the table's last is known only later.
            let keep = batch.events.len() - 1;
            let at = match &batch.events[keep] {
                Event::Change(c) => c.after.as_ref().map_or(0, |a| a.start as usize),
                Event::Record(_) => batch.datums.len(),
            };
            let tail = batch.split_off(keep, at);
            let full = std::mem::replace(&mut batch, tail);
            r.stats
                .snapshot_rows
                .fetch_add(full.events.len() as u64, Ordering::Relaxed);
            if r.out
                .send(Emitted {
                    batch: full,
                    position: None,
                })
                .await
                .is_err()
            {
                return Err(Error::internal("pipeline closed"));
            }
        }
    }
    if let Some(Event::Change(last)) = batch.events.last_mut().filter(|_| part.last) {
        let is_first_of_all = count == 1 && first_table;
        last.source.snapshot = if last_table {
            SnapshotMarker::Last
        } else if is_first_of_all {
            SnapshotMarker::First
        } else {
            SnapshotMarker::LastInDataCollection
        };
    }
    r.stats
        .snapshot_rows
        .fetch_add(batch.events.len() as u64, Ordering::Relaxed);
    if !batch.events.is_empty()
        && r.out
            .send(Emitted {
                batch,
                position: None,
            })
            .await
            .is_err()
    {
        return Err(Error::internal("pipeline closed"));
    }
    Ok(count)
}
