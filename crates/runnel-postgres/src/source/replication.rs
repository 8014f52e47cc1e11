//! Streaming from the logical replication slot: pgoutput messages become change events, batched;
//! a commit's position becomes the batch's offset, and the slot is told (standby status update)
//! only what the sink has made durable.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use pgwire_replication::{Lsn, ReplicationClient, ReplicationEvent};
use runnel_core::{
    Batch, ChangeEvent, Datum, Error, Event, Op, Result, SnapshotMarker, SourceOffset,
    SourcePosition,
};
use tokio_postgres::Client;

use super::SourceContext;
use super::catalog::{self, TableRef, TableState};
use super::config::PostgresConfig;
use super::pgoutput::{self, Message, Relation, TupleValue};
use super::types::{self, TypeRegistry};

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
    events_in_batch: usize,
}

impl<'a> Streamer<'a> {
    pub fn new(
        cfg: &'a PostgresConfig,
        client: &'a Client,
        types: TypeRegistry,
        start: u64,
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
            events_in_batch: 0,
        }
    }

    /// Runs until shutdown or error.
    pub async fn run(
        &mut self,
        repl: &mut ReplicationClient,
        ctx: &mut SourceContext,
    ) -> Result<()> {
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
                let ts_ms = now_ms();
                self.batch.events.push(Event::Heartbeat { ts_ms });
                self.offer_position();
            }
            if self.tx.is_none()
                && self.position > self.offered
                && self.last_offer.elapsed() >= IDLE_OFFSET_INTERVAL
            {
                self.offer_position();
            }
            if !self.batch.is_empty() {
                let full = std::mem::replace(
                    &mut self.batch,
                    Batch::with_capacity(self.cfg.max_batch_size, self.cfg.max_batch_size * 8),
                );
                self.events_in_batch = 0;
                tokio::select! {
                    r = ctx.out.send(full) => r.map_err(|_| Error::internal("pipeline closed"))?,
                    _ = ctx.shutdown.changed() => return Ok(()),
                }
            }
        }
    }

    /// Tells the server what the sink has made durable, so it can recycle WAL.
    fn forward_acks(&self, repl: &ReplicationClient, ctx: &SourceContext) {
        if let Some(lsn) = ctx.acked.borrow().as_ref().and_then(|o| o.u64("lsn")) {
            repl.update_applied_lsn(Lsn::from_u64(lsn));
        }
    }

    fn offer_position(&mut self) {
        self.offered = self.position;
        self.last_offer = Instant::now();
        self.batch.offset = Some(offset(self.position, self.last_commit_lsn, None, None));
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
                self.batch.offset = Some(offset(
                    end_lsn.as_u64(),
                    Some(lsn.as_u64()),
                    tx.map(|t| t.xid),
                    Some(commit_time_micros + PG_EPOCH_OFFSET_US),
                ));
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
                    let source = self.source_position(lsn.as_u64());
                    self.batch.events.push(Event::Message {
                        prefix: prefix.into(),
                        content,
                        transactional,
                        source,
                    });
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

    fn source_position(&self, lsn: u64) -> SourcePosition {
        let (ts_us, tx_id) = match &self.tx {
            Some(t) => (t.commit_ts_us, Some(u64::from(t.xid))),
            None => (now_ms() * 1000, None),
        };
        SourcePosition {
            ts_us,
            snapshot: SnapshotMarker::False,
            lsn: Some(lsn),
            last_commit_lsn: self.last_commit_lsn,
            tx_id,
        }
    }

    async fn message(&mut self, message: Message, lsn: u64) -> Result<()> {
        match message {
            Message::Relation(rel) => self.relation(rel).await?,
            Message::Type { oid, .. } => {
                if !self.types.contains(oid) {
                    self.types = catalog::load_types(self.client).await?;
                }
            }
            Message::Insert { rel, new } => {
                if self.cfg.skip_creates {
                    return Ok(());
                }
                let Some(state) = self.table(rel) else {
                    return Ok(());
                };
                let after = self.row(&state, &new, None)?;
                self.push(&state, Op::Create, None, Some(after), lsn);
            }
            Message::Update { rel, old, new } => {
                let Some(state) = self.table(rel) else {
                    return Ok(());
                };
                let old_full = old
                    .as_ref()
                    .filter(|(k, _)| *k == b'O')
                    .map(|(_, t)| t.as_slice());
                let before = match &old {
                    Some((_, t)) => Some(self.row(&state, t, None)?),
                    None => None,
                };
                let after = self.row(&state, &new, old_full)?;
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
                let Some(state) = self.table(rel) else {
                    return Ok(());
                };
                let before = self.row(&state, &old.1, None)?;
                self.push(&state, Op::Delete, Some(before), None, lsn);
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
        self.batch.events.push(Event::Change(ChangeEvent {
            table: state.schema.clone(),
            op,
            before,
            after,
            source,
        }));
        self.events_in_batch += 1;
    }

    /// Decodes a tuple into the batch. An unchanged TOASTed value takes the old row's value
    /// when the old row was sent whole (REPLICA IDENTITY FULL), else the placeholder.
    fn row(
        &mut self,
        state: &TableState,
        tuple: &[TupleValue],
        old_full: Option<&[TupleValue]>,
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
                TupleValue::Text(raw) => types::parse(parser, raw.clone()).map_err(|e| {
                    e.context(format!(
                        "table {} column \"{}\"",
                        state.schema.id, state.schema.columns[*target].name
                    ))
                })?,
                TupleValue::Binary(_) => {
                    return Err(Error::protocol("binary tuple values are not requested"));
                }
            };
            self.batch.datums[start + target] = datum;
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

/// The Debezium-shaped offset of a position.
pub fn offset(
    lsn: u64,
    commit_lsn: Option<u64>,
    xid: Option<u32>,
    ts_us: Option<i64>,
) -> SourceOffset {
    let mut o = SourceOffset::new().set("lsn", lsn).set("lsn_proc", lsn);
    if let Some(c) = commit_lsn {
        o = o.set("lsn_commit", c);
    }
    if let Some(x) = xid {
        o = o.set("txId", u64::from(x));
    }
    o.set("ts_usec", ts_us.unwrap_or_else(|| now_ms() * 1000))
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub fn replication_error(e: pgwire_replication::PgWireError) -> Error {
    let text = e.to_string();
    if text.contains("does not exist")
        || text.contains("permission denied")
        || text.contains("must be")
    {
        Error::prerequisite(format!("replication stream: {text}"))
    } else {
        Error::connection(format!("replication stream: {text}"))
    }
}
