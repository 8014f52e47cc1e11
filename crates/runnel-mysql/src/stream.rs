//! Streaming: the binlog read over the replication protocol from a position, its ROWS events
//! turned into change events of whole transactions, its DDL applied to the schema history.
//!
//! A batch ends at a transaction's commit (XID, `COMMIT`, or a DDL statement, which commits
//! implicitly) and carries the position after it, so a restart resumes exactly after the last
//! durable transaction; a transaction too large for one batch goes out in batches without a
//! position. MariaDB: the GTID event opens a transaction (there is no `BEGIN` query), and the
//! GTID state is kept for resuming by GTID.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, StreamExt};
use mysql_async::BinlogStreamRequest;
use mysql_async::prelude::Queryable;
use runnel_core::fits::FailureMode;
use runnel_core::{Batch, ChangeEvent, Datum, Error, Event, Op, Result, SourceContext};

use crate::binlog::{self, Reader, RowsKind, TableMap, kind};
use crate::config::MySqlConfig;
use crate::connection::{self, error};
use crate::ddl;
use crate::schema_change::SchemaChanges;
use crate::schema_history::{Entry, History};
use crate::schemas::Schemas;
use crate::source_block::{BinlogPosition, BinlogSourceBlock, streaming_source};
use crate::tables::Captured;
use crate::types::read_binlog;

pub struct Streamer {
    pub cfg: Arc<MySqlConfig>,
    pub block: Arc<BinlogSourceBlock>,
    pub schemas: Schemas,
    pub history: History,
    pub changes: SchemaChanges,
    pub mariadb: bool,
    /// The position streaming starts from.
    pub start: BinlogPosition,
}

struct State {
    file: Arc<str>,
    file_no: u64,
    maps: HashMap<u64, Option<(Arc<Captured>, TableMap)>>,
    gtids: BTreeMap<u32, binlog::MariaGtid>,
    mysql_gtids: Option<String>,
    current_gtid: Option<binlog::MariaGtid>,
    in_txn: bool,
    batch: Batch,
    scratch: BytesMut,
    /// The position after the last transaction in `batch`.
    committed: Option<BinlogPosition>,
    server_id: u32,
    /// The server writes a CRC32 after every event (`binlog_checksum`).
    crc: bool,
    /// The position of the last batch handed over (a heartbeat's, when nothing is new).
    emitted: BinlogPosition,
    last_heartbeat: Instant,
}

impl Streamer {
    pub async fn run(mut self, ctx: &mut SourceContext<BinlogPosition>) -> Result<()> {
        let cfg = self.cfg.clone();
        let mut conn = connection::connect(&cfg, "binlog connection").await?;
        let heartbeat_ms = if cfg.heartbeat_interval_ms > 0 {
            cfg.heartbeat_interval_ms
        } else {
            10_000
        };
        let mut setup = vec![format!(
            "SET @master_heartbeat_period = {}",
            heartbeat_ms * 1_000_000
        )];
        if self.mariadb {
            // Ask for MariaDB's own events (GTID, GTID list, annotate) rather than the
            // MySQL-compatible substitutes.
            setup.push("SET @mariadb_slave_capability = 4".into());
            if let Some(g) = &self.start.gtids {
                // Resume by GTID: the server finds the transaction after this state in
                // whichever binlog file holds it (after a rotation, a purge of older files
                // or a failover to a replica with other file names).
                setup.push(format!("SET @slave_connect_state = '{g}'"));
                setup.push("SET @slave_gtid_strict_mode = 1".into());
            }
        }
        for s in &setup {
            conn.query_drop(s)
                .await
                .map_err(|e| error(&cfg, "preparing the binlog connection", e))?;
        }
        let crc = connection::variable(&mut conn, &cfg, "binlog_checksum")
            .await?
            .is_some_and(|v| !v.eq_ignore_ascii_case("NONE"));
        let by_gtid = self.mariadb && self.start.gtids.is_some();
        let file = if by_gtid {
            String::new()
        } else {
            self.start.file.to_string()
        };
        let mut request = BinlogStreamRequest::new(cfg.server_id)
            .with_filename(file.as_bytes())
            .with_pos(if by_gtid { 4 } else { self.start.pos.max(4) });
        // MySQL with GTIDs: COM_BINLOG_DUMP_GTID from the executed set, so that the server finds
        // the next transaction in whichever file holds it.
        if !self.mariadb
            && let Some(set) = &self.start.gtids
        {
            let sids = mysql_gtid_set(set).map_err(|e| {
                Error::invalid(
                    "gtids",
                    format!("the stored offset's GTID set {set:?} is not one: {e}"),
                )
            })?;
            request = request.with_gtid().with_gtid_set(sids);
        }
        let mut stream = conn
            .get_binlog_stream(request)
            .await
            .map_err(|e| error(&cfg, "requesting the binlog", e))?;
        tracing::info!(connector = %cfg.name, file = %self.start.file, pos = self.start.pos, gtids = ?self.start.gtids, "streaming the binlog");
        let mut st = State {
            file: self.start.file.clone(),
            file_no: self.block.file_number(&self.start.file),
            maps: HashMap::new(),
            gtids: parse_gtids(self.start.gtids.as_deref()),
            mysql_gtids: if self.mariadb {
                None
            } else {
                self.start.gtids.as_ref().map(|g| g.to_string())
            },
            current_gtid: None,
            in_txn: false,
            batch: Batch::default(),
            scratch: BytesMut::with_capacity(64 * 1024),
            committed: None,
            server_id: 0,
            crc,
            emitted: self.start.clone(),
            last_heartbeat: Instant::now(),
        };
        let idle_limit = Duration::from_millis(heartbeat_ms * 3 + 5_000);
        let mut shutdown = ctx.shutdown.clone();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let next = match stream.next().now_or_never() {
                Some(ev) => ev,
                None => {
                    // Nothing more at hand: hand over what is complete.
                    if !st.in_txn {
                        self.flush(&mut st, ctx).await?;
                    }
                    tokio::select! {
                        ev = tokio::time::timeout(idle_limit, stream.next()) => match ev {
                            Ok(ev) => ev,
                            Err(_) => return Err(Error::connection(format!(
                                "no binlog event or heartbeat from {}:{} for {} s: the connection is lost",
                                cfg.host, cfg.port, idle_limit.as_secs()
                            ))),
                        },
                        _ = shutdown.changed() => break,
                    }
                }
            };
            let Some(ev) = next else {
                return Err(Error::connection(format!(
                    "the server at {}:{} ended the binlog stream",
                    cfg.host, cfg.port
                )));
            };
            let ev = ev.map_err(|e| error(&cfg, "reading the binlog", e))?;
            self.handle(&mut st, &ev, ctx)?;
            self.heartbeat(&mut st);
            if !st.in_txn
                && (st.batch.events.len() >= cfg.max_batch_size
                    || st.batch.datums.len() >= Batch::FULL_DATUMS)
            {
                self.flush(&mut st, ctx).await?;
            } else if st.in_txn
                && (st.batch.events.len() >= cfg.max_batch_size * 4
                    || st.batch.datums.len() >= Batch::FULL_DATUMS * 4)
            {
                // A large transaction: its first part goes out without a position.
                let batch = next_batch(&mut st.batch);
                st.committed = None;
                if !ctx.emit(batch, None).await {
                    return Err(Error::internal("pipeline closed"));
                }
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), stream.close()).await;
        Ok(())
    }

    async fn flush(&self, st: &mut State, ctx: &SourceContext<BinlogPosition>) -> Result<()> {
        let Some(pos) = st.committed.take() else {
            return Ok(());
        };
        let batch = next_batch(&mut st.batch);
        st.emitted = pos.clone();
        if !ctx.emit(batch, Some(pos)).await {
            return Err(Error::internal("pipeline closed"));
        }
        Ok(())
    }

    /// Every `heartbeat.interval.ms` between transactions, a heartbeat record with the latest
    /// position: when only tables that are not captured change, the committed offset still
    /// follows the binlog, so the server may purge old files without stranding the connector.
    fn heartbeat(&self, st: &mut State) {
        let every = self.cfg.heartbeat_interval_ms;
        if every == 0 || st.in_txn || st.last_heartbeat.elapsed() < Duration::from_millis(every) {
            return;
        }
        st.last_heartbeat = Instant::now();
        runnel_core::debezium::push_heartbeat(
            &mut st.batch,
            &self.cfg.heartbeat_topic,
            &self.cfg.topic_prefix,
            runnel_core::temporal::now_micros() / 1000,
        );
        if st.committed.is_none() {
            st.committed = Some(st.emitted.clone());
        }
    }

    fn position_after(&self, st: &State, log_pos: u32, ts: u32) -> BinlogPosition {
        let gtids = if self.mariadb {
            let set: Vec<String> = st
                .gtids
                .values()
                .filter(|g| self.cfg.gtid_sources.accepts(&g.domain.to_string()))
                .map(|g| g.to_string())
                .collect();
            (!set.is_empty()).then(|| set.join(",").into())
        } else {
            st.mysql_gtids.as_deref().map(Into::into)
        };
        BinlogPosition {
            file: st.file.clone(),
            pos: u64::from(log_pos),
            gtids,
            ts_sec: i64::from(ts),
            server_id: st.server_id,
            snapshot_completed: true,
            in_snapshot: false,
        }
    }

    fn commit(&self, st: &mut State, log_pos: u32, ts: u32) {
        if let Some(g) = st.current_gtid.take() {
            st.gtids.insert(g.domain, g);
        }
        st.in_txn = false;
        if log_pos > 0 {
            st.committed = Some(self.position_after(st, log_pos, ts));
        }
    }

    fn handle(
        &mut self,
        st: &mut State,
        ev: &mysql_async::binlog::events::Event,
        ctx: &SourceContext<BinlogPosition>,
    ) -> Result<()> {
        let h = ev.header();
        let header = binlog::Header {
            timestamp: h.timestamp(),
            kind: h.event_type_raw(),
            server_id: h.server_id(),
            event_size: h.event_size(),
            log_pos: h.log_pos(),
            flags: h.flags_raw(),
        };
        // The event reader cuts the CRC32 only when the server's version says it writes one
        // (5.6.1 and later): a server announcing an older version (MariaDB's `5.5.5-` prefix,
        // set for Debezium's sake) leaves it on the body.
        let mut body = ev.data();
        if st.crc && body.len() + 19 == header.event_size as usize && body.len() >= 4 {
            body = &body[..body.len() - 4];
        }
        let malformed = |e: binlog::Malformed| {
            Error::protocol(format!(
                "{e} (type {} at {}:{})",
                header.kind,
                st_file(st),
                header.start()
            ))
        };
        match header.kind {
            kind::ROTATE => {
                let r = binlog::rotate(body).map_err(malformed)?;
                let file = String::from_utf8_lossy(r.file).into_owned();
                st.file_no = self.block.file_number(&file);
                st.file = file.into();
                if header.timestamp != 0 || header.log_pos != 0 {
                    st.maps.clear();
                }
            }
            kind::MARIADB_GTID => {
                let g = binlog::mariadb_gtid(body, header.server_id).map_err(malformed)?;
                st.current_gtid = Some(g.gtid);
                st.in_txn = !g.standalone;
                st.server_id = header.server_id;
            }
            kind::GTID => {
                let g = binlog::mysql_gtid(body).map_err(malformed)?;
                st.in_txn = true;
                st.server_id = header.server_id;
                st.mysql_gtids = Some(merge_mysql_gtid(
                    st.mysql_gtids.as_deref(),
                    &g.uuid(),
                    g.gno,
                ));
            }
            kind::XID => self.commit(st, header.log_pos, header.timestamp),
            kind::QUERY => {
                let q = binlog::query(body).map_err(malformed)?;
                let sql = String::from_utf8_lossy(q.sql);
                let trimmed = sql.trim();
                if trimmed.eq_ignore_ascii_case("BEGIN") {
                    st.in_txn = true;
                    st.server_id = header.server_id;
                } else if trimmed.eq_ignore_ascii_case("COMMIT")
                    || trimmed.eq_ignore_ascii_case("ROLLBACK")
                {
                    self.commit(st, header.log_pos, header.timestamp);
                } else {
                    let db = String::from_utf8_lossy(q.schema).into_owned();
                    if ddl::is_schema_statement(trimmed) {
                        // DDL commits implicitly: its own transaction.
                        self.ddl(st, &header, &db, trimmed, ctx)?;
                        self.commit(st, header.log_pos, header.timestamp);
                    }
                }
            }
            kind::TABLE_MAP => {
                let map = binlog::table_map(body, 6).map_err(malformed)?;
                let captured = match self.schemas.captured(&map.schema, &map.table) {
                    Ok(c) => c,
                    Err(crate::schemas::Unknown) => {
                        return Err(Error::state(format!(
                            "rows of {}.{} arrive at {}:{} but the schema history does not know the \
                             table; set \"snapshot.mode\": \"recovery\" to rebuild the history from \
                             the current tables",
                            map.schema,
                            map.table,
                            st.file,
                            header.start()
                        )));
                    }
                };
                st.maps.insert(map.table_id, captured.map(|c| (c, map)));
            }
            kind::WRITE_ROWS_V1
            | kind::UPDATE_ROWS_V1
            | kind::DELETE_ROWS_V1
            | kind::WRITE_ROWS
            | kind::UPDATE_ROWS
            | kind::DELETE_ROWS => self.rows(st, &header, body, ctx)?,
            kind::TRANSACTION_PAYLOAD => self.payload(st, body, &header, ctx)?,
            kind::PARTIAL_UPDATE_ROWS => {
                return Err(Error::prerequisite(
                    "the binlog has partial JSON updates (binlog_row_value_options=PARTIAL_JSON); \
                     set binlog_row_value_options='' on the server so rows carry whole values",
                ));
            }
            kind::MARIADB_WRITE_ROWS_COMPRESSED_V1..=kind::MARIADB_DELETE_ROWS_COMPRESSED_V1 => {
                return Err(Error::prerequisite(
                    "the binlog has compressed row events (log_bin_compress=ON); turn \
                     log_bin_compress off on the server",
                ));
            }
            // FORMAT_DESCRIPTION, heartbeats, GTID lists, annotate rows, checkpoints,
            // previous GTIDs: nothing to emit.
            _ => {}
        }
        Ok(())
    }

    /// A MySQL 8 compressed transaction (`binlog_transaction_compression=ON`): its events,
    /// decompressed, handled as if they had come one by one; the position after it is the
    /// payload event's own end (the inner events have none of their own, nor checksums).
    fn payload(
        &mut self,
        st: &mut State,
        body: &[u8],
        header: &binlog::Header,
        ctx: &SourceContext<BinlogPosition>,
    ) -> Result<()> {
        let at = format!("{}:{}", st_file(st), header.start());
        let broken = |e: String| {
            Error::protocol(format!(
                "the compressed transaction at {at} could not be read: {e}"
            ))
        };
        let mut events = binlog::PayloadEvents::new(body).map_err(broken)?;
        let crc = std::mem::replace(&mut st.crc, false);
        let mut result = Ok(());
        while result.is_ok() {
            match events.next_event() {
                Ok(Some(inner)) => result = self.handle(st, &inner, ctx),
                Ok(None) => break,
                Err(e) => result = Err(broken(e)),
            }
        }
        st.crc = crc;
        result?;
        if !st.in_txn {
            self.commit(st, header.log_pos, header.timestamp);
        }
        Ok(())
    }

    fn ddl(
        &mut self,
        st: &mut State,
        header: &binlog::Header,
        db: &str,
        sql: &str,
        _ctx: &SourceContext<BinlogPosition>,
    ) -> Result<()> {
        if !ddl::is_schema_statement(sql) {
            return Ok(());
        }
        let changes = match ddl::apply(&mut self.schemas.tables, db, sql) {
            Ok(c) => c,
            Err(e) if self.cfg.skip_unparseable_ddl => {
                tracing::warn!(connector = %self.cfg.name, "skipping DDL at {}:{}: {e}", st.file, header.start());
                return Ok(());
            }
            Err(e) => {
                return Err(Error::state(format!(
                    "{e} (at {}:{}); fix the statement's table by hand or set \
                     \"schema.history.internal.skip.unparseable.ddl\": true to skip it",
                    st.file,
                    header.start()
                )));
            }
        };
        self.schemas.invalidate();
        st.maps.clear();
        self.history.record(&Entry {
            file: st.file.to_string(),
            pos: u64::from(header.log_pos),
            db: db.to_string(),
            ddl: sql.to_string(),
        })?;
        let source = streaming_source(
            header.timestamp,
            header.start(),
            0,
            header.server_id,
            st.file_no,
            st.current_gtid,
        );
        if self.cfg.include_schema_changes && (db.is_empty() || self.cfg.databases.accepts(db)) {
            self.changes.push_ddl(
                &mut st.batch,
                &self.schemas.tables,
                &source,
                db,
                sql,
                &changes,
            );
        }
        Ok(())
    }

    fn rows(
        &mut self,
        st: &mut State,
        header: &binlog::Header,
        body: &[u8],
        ctx: &SourceContext<BinlogPosition>,
    ) -> Result<()> {
        let data = Bytes::copy_from_slice(body);
        let ev = binlog::rows(header.kind, &data, 6)
            .map_err(|e| Error::protocol(format!("{e} at {}:{}", st.file, header.start())))?;
        let Some(Some((cap, map))) = st.maps.get(&ev.table_id) else {
            return Ok(());
        };
        let (cap, map) = (cap.clone(), map.clone());
        if map.types.len() != cap.def.columns.len() || ev.columns != map.types.len() {
            return Err(Error::state(format!(
                "rows of {}.{} at {}:{} have {} columns but the schema history says {}: the \
                 history is out of step with the server; set \"snapshot.mode\": \"recovery\" to \
                 rebuild it",
                cap.def.db,
                cap.def.name,
                st.file,
                header.start(),
                map.types.len(),
                cap.def.columns.len()
            )));
        }
        let body_start = data.len() - ev.body.len();
        let mut r = Reader::new(&data);
        let _ = r.take(body_start, "rows header");
        let events_before = st.batch.events.len();
        let datums_before = st.batch.datums.len();
        let mut row = 0u32;
        let result: Result<()> = (|| {
            while r.remaining() > 0 {
                let source = streaming_source(
                    header.timestamp,
                    header.start(),
                    row,
                    header.server_id,
                    st.file_no,
                    st.current_gtid,
                );
                let first = self.image(st, &mut r, &data, &cap, &map, ev.present)?;
                match ev.kind {
                    RowsKind::Write => {
                        emit(&self.cfg, st, &cap, Op::Create, None, Some(first), source);
                    }
                    RowsKind::Delete => {
                        emit(&self.cfg, st, &cap, Op::Delete, Some(first), None, source);
                    }
                    RowsKind::Update => {
                        let after = self.image(st, &mut r, &data, &cap, &map, ev.present_after)?;
                        let key = &cap.schema.key;
                        let key_changed = !key.is_empty()
                            && key.iter().any(|&k| {
                                st.batch.datums[first.start as usize + k]
                                    != st.batch.datums[after.start as usize + k]
                            });
                        if key_changed {
                            emit(&self.cfg, st, &cap, Op::Delete, Some(first), None, source);
                            emit(&self.cfg, st, &cap, Op::Create, None, Some(after), source);
                        } else {
                            emit(
                                &self.cfg,
                                st,
                                &cap,
                                Op::Update,
                                Some(first),
                                Some(after),
                                source,
                            );
                        }
                    }
                }
                row += 1;
            }
            Ok(())
        })();
        if let Err(e) = result {
            st.batch.events.truncate(events_before);
            st.batch.datums.truncate(datums_before);
            let e = e.context(format!(
                "{}.{} at {}:{}",
                cap.def.db,
                cap.def.name,
                st.file,
                header.start()
            ));
            if self.cfg.failure_mode != FailureMode::Fail {
                ctx.stats
                    .skipped_events
                    .fetch_add(u64::from(row.max(1)), std::sync::atomic::Ordering::Relaxed);
            }
            match self.cfg.failure_mode {
                FailureMode::Fail => return Err(e),
                FailureMode::Warn => {
                    tracing::warn!(connector = %self.cfg.name, "skipping a rows event: {e}")
                }
                FailureMode::Skip => {
                    tracing::info!(connector = %self.cfg.name, "skipping a rows event: {e}")
                }
            }
        }
        Ok(())
    }

    /// Decodes one row image into the batch: the captured columns' values, in order.
    fn image(
        &self,
        st: &mut State,
        r: &mut Reader<'_>,
        data: &Bytes,
        cap: &Captured,
        map: &TableMap,
        present: &[u8],
    ) -> Result<std::ops::Range<u32>> {
        let n = map.types.len();
        let present_count = (0..n).filter(|&i| binlog::bit(present, i)).count();
        let nulls = r
            .take(present_count.div_ceil(8), "row null bitmap")
            .map_err(|e| Error::protocol(e.to_string()))?;
        let start = st.batch.datums.len() as u32;
        let mut j = 0usize;
        for i in 0..n {
            let slot = cap.slots[i];
            if !binlog::bit(present, i) {
                if slot.is_some() {
                    st.batch.datums.push(Datum::Unavailable);
                }
                continue;
            }
            let is_null = binlog::bit(nulls, j);
            j += 1;
            let value = if is_null {
                Datum::Null
            } else {
                let enc = slot
                    .map(|s| &cap.schema.columns[s].encoding)
                    .unwrap_or(&runnel_core::Encoding::Dynamic);
                read_binlog(
                    r,
                    data,
                    map.types[i],
                    map.meta[i],
                    &cap.def.columns[i],
                    enc,
                    &mut st.scratch,
                )
                .map_err(|e| Error::conversion(e.0))?
            };
            if slot.is_some() {
                st.batch.datums.push(value);
            }
        }
        Ok(start..st.batch.datums.len() as u32)
    }
}

/// The batch built so far, replaced by an empty one sized like it: the next batch is filled
/// without growing (and copying) its vectors step by step, which left freed blocks behind.
fn next_batch(batch: &mut Batch) -> Batch {
    let sized = Batch::with_capacity(batch.events.len(), batch.datums.len());
    std::mem::replace(batch, sized)
}

fn st_file(st: &State) -> &str {
    &st.file
}

/// Appends a change unless `skipped.operations` leaves its op out; a delete is followed by a
/// tombstone of its key when `tombstones.on.delete` says so.
fn emit(
    cfg: &MySqlConfig,
    st: &mut State,
    cap: &Captured,
    op: Op,
    before: Option<std::ops::Range<u32>>,
    after: Option<std::ops::Range<u32>>,
    source: runnel_core::EventSource,
) {
    let (skipped, tombstone) = match op {
        Op::Create => (cfg.skip_creates, false),
        Op::Update => (cfg.skip_updates, false),
        Op::Delete => (cfg.skip_deletes, cfg.tombstones_on_delete),
        _ => (false, false),
    };
    if skipped {
        return;
    }
    st.batch.events.push(Event::Change(ChangeEvent {
        table: cap.schema.clone(),
        op,
        before: before.clone(),
        after,
        source,
    }));
    if tombstone && let Some(b) = before {
        st.batch.push_tombstone(&cap.schema, &b);
    }
}

/// A MySQL GTID set (`uuid:1-5:7,uuid2:1-3`) as the binlog dump request takes it.
pub fn mysql_gtid_set(text: &str) -> std::result::Result<Vec<mysql_async::Sid<'static>>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<mysql_async::Sid<'static>>()
                .map_err(|e| format!("{s:?}: {e}"))
        })
        .collect()
}

/// A MariaDB GTID position (`0-1-42,1-2-7`) by domain.
pub fn parse_gtids(text: Option<&str>) -> BTreeMap<u32, binlog::MariaGtid> {
    text.unwrap_or("")
        .split(',')
        .filter_map(binlog::MariaGtid::parse)
        .map(|g| (g.domain, g))
        .collect()
}

/// Adds `uuid:gno` to a MySQL GTID set text, extending the interval that ends just before it.
pub fn merge_mysql_gtid(set: Option<&str>, uuid: &str, gno: u64) -> String {
    let mut parts: Vec<String> = set
        .unwrap_or("")
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let mut found = false;
    for p in &mut parts {
        if let Some(rest) = p.strip_prefix(uuid).and_then(|r| r.strip_prefix(':')) {
            found = true;
            let (first, last) = match rest.rsplit(':').next().and_then(|iv| iv.split_once('-')) {
                Some((a, b)) => (a.parse().unwrap_or(gno), b.parse().unwrap_or(gno)),
                None => {
                    let v = rest.parse().unwrap_or(gno);
                    (v, v)
                }
            };
            *p = format!("{uuid}:{}-{}", first.min(gno), last.max(gno));
        }
    }
    if !found {
        parts.push(format!("{uuid}:1-{gno}"));
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_gtid_sets_grow() {
        let s = merge_mysql_gtid(None, "3e11fa47-71ca-11e1-9e33-c80aa9429562", 5);
        assert_eq!(s, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5");
        let s = merge_mysql_gtid(Some(&s), "3e11fa47-71ca-11e1-9e33-c80aa9429562", 6);
        assert_eq!(s, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-6");
        assert_eq!(parse_gtids(Some("0-1-42,1-2-7")).len(), 2);
        let sids = mysql_gtid_set(
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-6, 4e11fa47-71ca-11e1-9e33-c80aa9429562:1-3:5",
        )
        .unwrap();
        assert_eq!(sids.len(), 2);
        assert!(mysql_gtid_set("not a gtid").is_err());
    }
}
