//! Streaming from the logical replication slot: pgoutput messages become change events, batched;
//! a commit's position becomes the batch's offset, and the slot is told (standby status update)
//! only what the sink has made durable.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use pgwire_replication::{Lsn, PgWireError, ReplicationClient, ReplicationEvent};
use runnel_core::{
    Batch, ChangeEvent, Datum, Emitted, Error, Event, EventSource, Op, Result, SourceContext,
    SourceStats,
};
use tokio_postgres::Client;

use super::catalog::{self, TableRef, TableState};
use super::config::PostgresConfig;
use super::pgoutput::{self, Message, Relation, TupleValue};
use super::source_block::{self, PgPosition, PgSourceBlock};
use super::types::TypeRegistry;

/// Microseconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01.
const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

/// How often an idle stream records the server's WAL position as its offset.
const IDLE_OFFSET_INTERVAL: Duration = Duration::from_secs(1);

struct OpenTx {
    xid: u32,
    commit_ts_us: i64,
}

pub struct Streamer<'a> {
    cfg: &'a PostgresConfig,
    client: &'a Client,
    types: TypeRegistry,
    /// Shared so that handling a row clones a pointer, not the table's parsers.
    tables: HashMap<u32, Arc<TableState>>,
    versions: HashMap<u32, u32>,
    tx: Option<OpenTx>,
    last_commit_lsn: Option<u64>,
    /// The newest position known to be safe to resume from (commit end or idle WAL end).
    position: u64,
    /// The newest position put in a batch's offset.
    offered: u64,
    last_offer: Instant,
    last_heartbeat: Instant,
    batch: Batch,
    /// The position the batch completes, if it completes one.
    batch_position: Option<PgPosition>,
    /// Where the batch stood (events, values) when it reached `batch_position`: what comes
    /// after belongs to an open transaction and moves to the next batch (a batch ends at its
    /// position, see `runnel_core::source`).
    position_mark: Option<(usize, usize)>,
    events_in_batch: usize,
    block: Arc<PgSourceBlock>,
    heartbeat_topic: Arc<str>,
    message_topic: Arc<str>,
    /// The connector's source stats (skipped events), set when it runs.
    stats: Option<Arc<SourceStats>>,
}

impl<'a> Streamer<'a> {
    pub fn new(
        cfg: &'a PostgresConfig,
        client: &'a Client,
        types: TypeRegistry,
        start: u64,
        block: Arc<PgSourceBlock>,
    ) -> Self {
        Self {
            cfg,
            client,
            types,
            tables: HashMap::new(),
            versions: HashMap::new(),
            tx: None,
            last_commit_lsn: None,
            position: start,
            offered: start,
            last_offer: Instant::now(),
            last_heartbeat: Instant::now(),
            batch: Batch::with_capacity(cfg.max_batch_size, cfg.max_batch_size * 8),
            batch_position: None,
            position_mark: None,
            events_in_batch: 0,
            block,
            heartbeat_topic: format!("{}.{}", cfg.heartbeat_topic_prefix, cfg.topic_prefix).into(),
            message_topic: format!("{}.message", cfg.topic_prefix).into(),
            stats: None,
        }
    }

    /// Runs until shutdown or error.
    pub async fn run(
        &mut self,
        repl: &mut ReplicationClient,
        ctx: &mut SourceContext<PgPosition>,
    ) -> Result<()> {
        self.stats = Some(ctx.stats.clone());
        let poll = Duration::from_millis(self.cfg.poll_interval_ms.max(1));
        let heartbeat = (self.cfg.heartbeat_interval_ms > 0)
            .then(|| Duration::from_millis(self.cfg.heartbeat_interval_ms));
        let mut tick = tokio::time::interval(poll.min(Duration::from_millis(200)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.forward_acks(repl, ctx);
            tokio::select! {
                ev = repl.recv() => {
                    let Some(ev) = ev.map_err(replication_error)? else { return Ok(()) };
                    self.handle(ev).await?;
                    // Take whatever else is already buffered, up to a full batch.
                    while self.events_in_batch < self.cfg.max_batch_size
                        && self.batch.datums.len() < Batch::FULL_DATUMS
                    {
                        match repl.recv().now_or_never() {
                            Some(Ok(Some(ev))) => self.handle(ev).await?,
                            Some(Ok(None)) => break,
                            Some(Err(e)) => return Err(replication_error(e)),
                            None => break,
                        }
                    }
                }
                _ = tick.tick() => {}
                _ = ctx.shutdown.changed() => return Ok(()),
            }
            if let Some(every) = heartbeat
                && self.tx.is_none()
                && self.last_heartbeat.elapsed() >= every
            {
                self.last_heartbeat = Instant::now();
                runnel_core::debezium::push_heartbeat(
                    &mut self.batch,
                    &self.heartbeat_topic,
                    &self.cfg.topic_prefix,
                    now_ms(),
                );
                self.offer_position();
            }
            if self.tx.is_none()
                && self.position > self.offered
                && self.last_offer.elapsed() >= IDLE_OFFSET_INTERVAL
            {
                self.offer_position();
            }
            if !self.batch.is_empty() || self.batch_position.is_some() {
                let next = match self.position_mark.take() {
                    // Read into a transaction after the position: its events go next time.
                    Some((events, datums)) if events < self.batch.events.len() => {
                        self.batch.split_off(events, datums)
                    }
                    _ => Batch::with_capacity(self.cfg.max_batch_size, self.cfg.max_batch_size * 8),
                };
                self.events_in_batch = next.events.len();
                let full = Emitted {
                    batch: std::mem::replace(&mut self.batch, next),
                    position: self.batch_position.take(),
                };
                tokio::select! {
                    r = ctx.out.send(full) => r.map_err(|_| Error::internal("pipeline closed"))?,
                    _ = ctx.shutdown.changed() => return Ok(()),
                }
            }
        }
    }

    /// Tells the server what the sink has made durable, so it can recycle WAL.
    fn forward_acks(&self, repl: &ReplicationClient, ctx: &SourceContext<PgPosition>) {
        if let Some(p) = *ctx.acked.borrow() {
            repl.update_applied_lsn(Lsn::from_u64(p.lsn));
        }
    }

    fn offer_position(&mut self) {
        self.offered = self.position;
        self.last_offer = Instant::now();
        self.position_mark = Some((self.batch.events.len(), self.batch.datums.len()));
        self.batch_position = Some(PgPosition::new(
            self.position,
            self.last_commit_lsn,
            None,
            now_ms() * 1000,
        ));
    }

    async fn handle(&mut self, ev: ReplicationEvent) -> Result<()> {
        match ev {
            ReplicationEvent::Begin {
                xid,
                commit_time_micros,
                ..
            } => {
                self.tx = Some(OpenTx {
                    xid,
                    commit_ts_us: commit_time_micros + PG_EPOCH_OFFSET_US,
                });
            }
            ReplicationEvent::Commit {
                lsn,
                end_lsn,
                commit_time_micros,
            } => {
                let tx = self.tx.take();
                self.last_commit_lsn = Some(lsn.as_u64());
                self.position = self.position.max(end_lsn.as_u64());
                self.offered = self.position;
                self.last_offer = Instant::now();
                self.batch_position = Some(PgPosition::new(
                    end_lsn.as_u64(),
                    Some(lsn.as_u64()),
                    tx.map(|t| u64::from(t.xid)),
                    commit_time_micros + PG_EPOCH_OFFSET_US,
                ));
                self.position_mark = Some((self.batch.events.len(), self.batch.datums.len()));
            }
            ReplicationEvent::XLogData {
                wal_start, data, ..
            } => {
                let message = pgoutput::decode(data)?;
                self.message(message, wal_start.as_u64()).await?;
            }
            ReplicationEvent::Message {
                transactional,
                lsn,
                prefix,
                content,
            } => {
                if self.cfg.message_included(&prefix) {
                    let mut source = self.source_position(lsn.as_u64());
                    if !transactional {
                        source.coords[source_block::TX_ID] = None;
                    }
                    source_block::push_message(
                        &mut self.batch,
                        &self.block,
                        &self.message_topic,
                        &prefix,
                        content,
                        &source,
                        now_ms(),
                    );
                    self.events_in_batch += 1;
                }
            }
            ReplicationEvent::KeepAlive { wal_end, .. } => {
                if self.tx.is_none() {
                    self.position = self.position.max(wal_end.as_u64());
                }
            }
            ReplicationEvent::StoppedAt { .. } => {}
        }
        Ok(())
    }

    fn source_position(&self, lsn: u64) -> EventSource {
        let (ts_us, tx_id) = match &self.tx {
            Some(t) => (t.commit_ts_us, Some(u64::from(t.xid))),
            None => (now_ms() * 1000, None),
        };
        source_block::streaming_source(ts_us, lsn, self.last_commit_lsn, tx_id)
    }

    async fn message(&mut self, message: Message, lsn: u64) -> Result<()> {
        match message {
            Message::Relation(rel) => self.relation(rel).await?,
            Message::Type { oid, .. } => {
                if !self.types.contains(oid) {
                    self.types = catalog::load_types(self.client).await?;
                }
            }
            change @ (Message::Insert { .. } | Message::Update { .. } | Message::Delete { .. }) => {
                let mark = (
                    self.batch.events.len(),
                    self.batch.datums.len(),
                    self.events_in_batch,
                );
                if let Err(e) = self.change(&change, lsn) {
                    self.batch.events.truncate(mark.0);
                    self.batch.datums.truncate(mark.1);
                    self.events_in_batch = mark.2;
                    self.skip_or_fail(e, &change, lsn)?;
                }
            }
            Message::Truncate { rels, .. } => {
                if self.cfg.skip_truncates {
                    return Ok(());
                }
                for rel in rels {
                    if let Some(state) = self.table(rel) {
                        self.push(&state, Op::Truncate, None, None, lsn);
                    }
                }
            }
            Message::Origin { .. } | Message::Other(_) => {}
        }
        Ok(())
    }

    /// An insert, update or delete: its change events into the batch.
    fn change(&mut self, message: &Message, lsn: u64) -> Result<()> {
        match message {
            Message::Insert { rel, new } => {
                if self.cfg.skip_creates {
                    return Ok(());
                }
                let Some(state) = self.table(*rel) else {
                    return Ok(());
                };
                let after = self.row(&state, new, None, false)?;
                self.push(&state, Op::Create, None, Some(after), lsn);
            }
            Message::Update { rel, old, new } => {
                let Some(state) = self.table(*rel) else {
                    return Ok(());
                };
                let old_full = old
                    .as_ref()
                    .filter(|(k, _)| *k == b'O')
                    .map(|(_, t)| t.as_slice());
                let before = match old {
                    Some((kind, t)) => Some(self.row(&state, t, None, *kind == b'K')?),
                    None => None,
                };
                let after = self.row(&state, new, old_full, false)?;
                let key_changed = before.as_ref().is_some_and(|b| {
                    let key = &state.schema.key;
                    !key.is_empty()
                        && key.iter().any(|&k| {
                            self.batch.datums[b.start as usize + k]
                                != self.batch.datums[after.start as usize + k]
                        })
                });
                if key_changed {
                    // Debezium: a primary-key change is a delete of the old key (plus tombstone)
                    // and a create of the new one.
                    if !self.cfg.skip_deletes {
                        self.push(&state, Op::Delete, before, None, lsn);
                    }
                    if !self.cfg.skip_creates {
                        self.push(&state, Op::Create, None, Some(after), lsn);
                    }
                } else if !self.cfg.skip_updates {
                    let before = before.filter(|_| old_full.is_some());
                    self.push(&state, Op::Update, before, Some(after), lsn);
                }
            }
            Message::Delete { rel, old } => {
                if self.cfg.skip_deletes {
                    return Ok(());
                }
                let Some(state) = self.table(*rel) else {
                    return Ok(());
                };
                let before = self.row(&state, &old.1, None, old.0 == b'K')?;
                self.push(&state, Op::Delete, Some(before), None, lsn);
            }
            _ => {}
        }
        Ok(())
    }

    /// A change that failed on a value: with `event.processing.failure.handling.mode=fail` (the
    /// default) or any other kind of error, the error, with where to find the event; with
    /// `warn` or `skip`, the event is left out and logged with its table, key and position.
    fn skip_or_fail(&self, e: Error, change: &Message, lsn: u64) -> Result<()> {
        let (rel, tuple) = match change {
            Message::Insert { rel, new } => (*rel, new),
            Message::Update { rel, new, .. } => (*rel, new),
            Message::Delete { rel, old } => (*rel, &old.1),
            _ => return Err(e),
        };
        let key: Vec<Option<&[u8]>> = tuple
            .iter()
            .map(|v| match v {
                TupleValue::Text(raw) => Some(&raw[..]),
                _ => None,
            })
            .collect();
        catalog::skip_or_fail(
            self.cfg.failure_mode,
            e,
            self.tables.get(&rel).map(|s| &**s),
            &key,
            &Lsn::from_u64(lsn).to_string(),
            self.stats.as_ref().map(|s| &s.skipped_events),
        )
    }

    /// The captured table with relation `rel`, if any (a pointer clone).
    fn table(&self, rel: u32) -> Option<Arc<TableState>> {
        self.tables.get(&rel).cloned()
    }

    fn push(
        &mut self,
        state: &TableState,
        op: Op,
        before: Option<std::ops::Range<u32>>,
        after: Option<std::ops::Range<u32>>,
        lsn: u64,
    ) {
        let source = self.source_position(lsn);
        let tombstone =
            (op == Op::Delete && self.cfg.tombstones_on_delete && !state.schema.key.is_empty())
                .then(|| before.clone())
                .flatten();
        self.batch.events.push(Event::Change(ChangeEvent {
            table: state.schema.clone(),
            op,
            before,
            after,
            source,
        }));
        self.events_in_batch += 1;
        // Debezium follows a delete with a tombstone of its key, for log compaction.
        if let Some(row) = tombstone {
            self.batch.push_tombstone(&state.schema, &row);
        }
    }

    /// Decodes a tuple into the batch. An unchanged TOASTed value takes the old row's value
    /// when the old row was sent whole (REPLICA IDENTITY FULL), else the placeholder. A key-only
    /// old tuple (`key_only`: REPLICA IDENTITY DEFAULT or USING INDEX) has nulls in the other
    /// columns: the non-optional ones get their default or their type's zero, as Debezium
    /// fills them, so the row matches its schema.
    fn row(
        &mut self,
        state: &TableState,
        tuple: &[TupleValue],
        old_full: Option<&[TupleValue]>,
        key_only: bool,
    ) -> Result<std::ops::Range<u32>> {
        if tuple.len() != state.inputs.len() {
            return Err(Error::protocol(format!(
                "table {}: tuple has {} columns, relation has {}",
                state.schema.id,
                tuple.len(),
                state.inputs.len()
            )));
        }
        let width = state.schema.columns.len();
        let start = self.batch.datums.len();
        self.batch.datums.resize(start + width, Datum::Null);
        for (i, (input, value)) in state.inputs.iter().zip(tuple).enumerate() {
            let Some((target, parser)) = input else {
                continue;
            };
            let value = match (value, old_full.and_then(|o| o.get(i))) {
                (TupleValue::Unchanged, Some(old @ TupleValue::Text(_))) => old,
                (v, _) => v,
            };
            let datum = match value {
                TupleValue::Null => Datum::Null,
                TupleValue::Unchanged => Datum::Unavailable,
                TupleValue::Text(raw) => state.decode(*target, parser, raw.clone())?,
                TupleValue::Binary(_) => {
                    return Err(Error::protocol("binary tuple values are not requested"));
                }
            };
            self.batch.datums[start + target] = datum;
        }
        if key_only {
            for (i, column) in state.schema.columns.iter().enumerate() {
                if !column.optional && self.batch.datums[start + i].is_null() {
                    self.batch.datums[start + i] = runnel_core::debezium::required_fill(column);
                }
            }
        }
        Ok(start as u32..(start + width) as u32)
    }

    /// A Relation message: (re)build the table's schema; a new version when its shape changed
    /// (ALTER TABLE mid-stream), so later events carry the new schema.
    async fn relation(&mut self, rel: Relation) -> Result<()> {
        if !self.cfg.table_included(&rel.namespace, &rel.name) {
            self.tables.remove(&rel.oid);
            return Ok(());
        }
        if rel.columns.iter().any(|c| !self.types.contains(c.type_oid)) {
            self.types = catalog::load_types(self.client).await?;
        }
        let (catalog_columns, pk) = catalog::table_columns(self.client, rel.oid).await?;
        let columns: Vec<(String, u32, i32)> = rel
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.type_oid, c.typmod))
            .collect();
        let table = TableRef {
            oid: rel.oid,
            schema: rel.namespace.clone(),
            name: rel.name.clone(),
        };
        let version = self.versions.get(&rel.oid).copied().unwrap_or(0);
        let mut state = catalog::build_table(
            self.cfg,
            &self.types,
            &table,
            &columns,
            &catalog_columns,
            &pk,
            version,
        )?;
        if let Some(old) = self.tables.get(&rel.oid) {
            if old.schema.same_shape(&state.schema) {
                state.schema = old.schema.clone();
            } else {
                let v = version + 1;
                self.versions.insert(rel.oid, v);
                state = catalog::build_table(
                    self.cfg,
                    &self.types,
                    &table,
                    &columns,
                    &catalog_columns,
                    &pk,
                    v,
                )?;
                tracing::info!(table = %state.schema.id, version = v, "table schema changed");
            }
        }
        self.tables.insert(rel.oid, Arc::new(state));
        Ok(())
    }
}

pub fn now_ms() -> i64 {
    runnel_core::temporal::now_micros() / 1000
}

/// The SQLSTATE of a server error (pgwire-replication writes it as `(SQLSTATE xxxxx)`).
pub fn sqlstate(e: &PgWireError) -> Option<&str> {
    match e {
        PgWireError::Server(text) => {
            let at = text.rfind("SQLSTATE ")? + "SQLSTATE ".len();
            text.get(at..at + 5)
        }
        _ => None,
    }
}

/// Classifies a replication-connection error from its SQLSTATE class and the driver's error
/// kind: what the user must fix (privileges, a missing object, authentication, TLS) is
/// permanent, the rest (network, a server restarting) transient.
pub fn replication_error(e: PgWireError) -> Error {
    let text = e.to_string();
    let permanent = match sqlstate(&e) {
        // 28: invalid authorization; 42: syntax error or access rule violation (42501
        // insufficient privilege, 42704 undefined object); 3D: invalid catalog name; 55: object
        // not in prerequisite state (but 55006, a slot in use, passes); 53400: configuration
        // limit exceeded (slots).
        Some(code) => {
            code != "55006"
                && (["28", "42", "3D", "55"].iter().any(|c| code.starts_with(c)) || code == "53400")
        }
        None => matches!(e, PgWireError::Auth(_) | PgWireError::Tls(_)),
    };
    let err = if permanent {
        Error::prerequisite(format!("replication stream: {text}"))
    } else {
        Error::connection(format!("replication stream: {text}"))
    };
    err.caused_by(e)
}
