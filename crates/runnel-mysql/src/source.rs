//! The source: decides whether to snapshot and where streaming starts, from the stored offset,
//! the schema history and `snapshot.mode`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use runnel_core::{Batch, Envelope, Error, Result, RunEnd, Source, SourceContext};

use crate::config::{MySqlConfig, SnapshotMode};
use crate::connection::{self, error};
use crate::ddl;
use crate::schema_change::SchemaChanges;
use crate::schema_history::{Entry, History};
use crate::schemas::Schemas;
use crate::snapshot::{self, Reading, SnapshotPoint};
use crate::source_block::{BinlogPosition, BinlogSourceBlock};
use crate::stream::Streamer;
use crate::tables::Tables;

pub struct MySqlSource {
    cfg: Arc<MySqlConfig>,
    block: Arc<BinlogSourceBlock>,
}

impl MySqlSource {
    pub fn new(cfg: MySqlConfig) -> Self {
        let block = Arc::new(BinlogSourceBlock::new(cfg.connector, &cfg.topic_prefix));
        Self {
            cfg: Arc::new(cfg),
            block,
        }
    }

    pub fn config(&self) -> &MySqlConfig {
        &self.cfg
    }
}

impl Source for MySqlSource {
    type Position = BinlogPosition;

    fn envelope(&self) -> Option<Envelope> {
        Some(Envelope {
            source: self.block.clone(),
            unavailable_placeholder: Bytes::from_static(b"__debezium_unavailable_value"),
        })
    }

    async fn run(self, mut ctx: SourceContext<BinlogPosition>) -> Result<RunEnd> {
        let cfg = self.cfg.clone();
        for key in &cfg.not_implemented {
            tracing::warn!(connector = %cfg.name, "config key \"{key}\" is accepted for compatibility but runnel does not act on it");
        }
        let mut conn = connection::connect(&cfg, "connecting").await?;
        let facts = connection::facts(&mut conn, &cfg).await?;
        if let Some((_, msg)) = connection::binlog_problems(&facts).into_iter().next() {
            return Err(Error::prerequisite(msg));
        }
        let history = History::new(ctx.history.clone());
        let stored = ctx
            .stored
            .as_ref()
            .map(BinlogPosition::from_offset)
            .transpose()?
            .filter(|p| !p.in_snapshot);
        let changes = SchemaChanges::new(self.block.clone(), &cfg.topic_prefix);

        // Where streaming starts, and whether rows are read first.
        let read_data;
        let mut tables: Option<Tables> = None;
        let mut start = stored.clone();
        if let Some(p) = &stored {
            self.block.file_number(&p.file);
            // Resuming by GTID, the server finds the file itself (and says when it cannot).
            let by_gtid = facts.mariadb && p.gtids.is_some();
            if !by_gtid && !binlog_available(&mut conn, &cfg, p).await? {
                if cfg.snapshot_mode == SnapshotMode::WhenNeeded {
                    tracing::warn!(connector = %cfg.name, file = %p.file, "the stored binlog position is no longer on the server: taking a new snapshot (snapshot.mode=when_needed)");
                    start = None;
                } else {
                    return Err(Error::prerequisite(format!(
                        "the stored binlog position {}:{} is no longer on the server (its binlogs were \
                         purged); the changes since then are lost to it. Set \"snapshot.mode\": \
                         \"when_needed\" to take a new snapshot, or reset the connector's offsets",
                        p.file, p.pos
                    )));
                }
            }
        }
        if let Some(p) = &start {
            if cfg.snapshot_mode != SnapshotMode::Recovery {
                tables = history.replay(p.key(), cfg.skip_unparseable_ddl)?;
            }
            if tables.is_none() {
                tracing::warn!(connector = %cfg.name, "no schema history for the stored position: rebuilding it from the tables as they are now");
            }
            read_data = cfg.snapshot_mode == SnapshotMode::Always;
        } else {
            read_data = cfg.snapshot_mode.reads_data();
        }

        if start.is_none() || tables.is_none() || read_data {
            // A snapshot: of the schema always, of the data when the mode says so.
            let readers = if read_data {
                cfg.snapshot_max_threads
            } else {
                1
            };
            let (conns, point) = snapshot::open(&cfg, facts.mariadb, readers).await?;
            let mut conns = conns;
            let (schema_tables, names) = schema_snapshot(&cfg, &mut conns[0]).await?;
            history.reset()?;
            record_snapshot_history(&history, &point, &names)?;
            let mut schemas = Schemas::new(cfg.clone(), schema_tables);
            if cfg.include_schema_changes {
                let batch = snapshot_schema_events(
                    &cfg,
                    &self.block,
                    &changes,
                    &point,
                    &schemas.tables,
                    &names,
                );
                if !ctx.emit(batch, None).await {
                    return Err(Error::internal("pipeline closed"));
                }
            }
            let position = |completed: bool| BinlogPosition {
                file: point.file.clone().into(),
                pos: point.pos,
                gtids: point.gtids.clone().map(Into::into),
                ts_sec: point.ts_sec,
                server_id: facts.server_id,
                snapshot_completed: completed,
                in_snapshot: false,
            };
            if read_data {
                let captured: Vec<_> = schemas
                    .all_captured()
                    .into_iter()
                    .filter(|c| cfg.snapshot_included(&c.def.db, &c.def.name))
                    .collect();
                ctx.stats.snapshot_started(captured.len() as u64);
                let started = std::time::Instant::now();
                let reading = Reading {
                    cfg: &cfg,
                    block: &self.block,
                    point: &point,
                    out: &ctx.out,
                    stats: &ctx.stats,
                };
                let rows = snapshot::read_tables(&reading, conns, captured).await;
                ctx.stats.snapshot_running.store(false, Ordering::Relaxed);
                let rows = rows?;
                tracing::info!(connector = %cfg.name, rows, elapsed_ms = started.elapsed().as_millis() as u64, "snapshot completed");
            } else {
                for mut c in conns {
                    let _ = c.query_drop("COMMIT").await;
                }
            }
            if !ctx.emit(Batch::default(), Some(position(true))).await {
                return Err(Error::internal("pipeline closed"));
            }
            if read_data && cfg.snapshot_mode == SnapshotMode::InitialOnly {
                return Ok(RunEnd::Finished);
            }
            // Streaming from the stored position (`always`, `recovery`) or the snapshot's.
            let from = start.unwrap_or_else(|| position(true));
            schemas.invalidate();
            drop(conn);
            return self
                .stream(&mut ctx, schemas, history, changes, facts.mariadb, from)
                .await;
        }
        drop(conn);
        let schemas = Schemas::new(cfg.clone(), tables.unwrap_or_default());
        let from = start.ok_or_else(|| Error::internal("no start position"))?;
        self.stream(&mut ctx, schemas, history, changes, facts.mariadb, from)
            .await
    }
}

impl MySqlSource {
    async fn stream(
        &self,
        ctx: &mut SourceContext<BinlogPosition>,
        schemas: Schemas,
        history: History,
        changes: SchemaChanges,
        mariadb: bool,
        start: BinlogPosition,
    ) -> Result<RunEnd> {
        let streamer = Streamer {
            cfg: self.cfg.clone(),
            block: self.block.clone(),
            schemas,
            history,
            changes,
            mariadb,
            start,
        };
        streamer.run(ctx).await?;
        Ok(RunEnd::Stopped)
    }
}

/// Whether the server still has the binlog file of a position.
async fn binlog_available(conn: &mut Conn, cfg: &MySqlConfig, p: &BinlogPosition) -> Result<bool> {
    let rows: Vec<mysql_async::Row> = conn.query("SHOW BINARY LOGS").await.map_err(|e| {
        error(
            cfg,
            "listing the binlogs (SHOW BINARY LOGS, needs REPLICATION CLIENT)",
            e,
        )
    })?;
    Ok(rows.iter().any(|r| match r.as_ref(0) {
        Some(mysql_async::Value::Bytes(b)) => b.as_slice() == p.file.as_bytes(),
        _ => false,
    }))
}

/// The databases and tables the history records: every base table of the included
/// databases, as `SHOW CREATE TABLE` gives it, applied to a fresh history.
async fn schema_snapshot(
    cfg: &MySqlConfig,
    conn: &mut Conn,
) -> Result<(Tables, Vec<(String, String, String)>)> {
    let mut rows: Vec<(String, String)> = conn
        .query(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' \
             AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')",
        )
        .await
        .map_err(|e| error(cfg, "listing the tables", e))?;
    // By name as bytes, as Debezium orders them (the server's collation puts `_` elsewhere).
    rows.sort();
    let mut tables = Tables::default();
    let mut ddls = Vec::new();
    for (db, table) in rows {
        if !cfg.databases.accepts(&db) {
            continue;
        }
        if cfg.only_captured_ddl && !cfg.table_included(&db, &table) {
            continue;
        }
        let row: Option<(String, String)> = conn
            .query_first(format!(
                "SHOW CREATE TABLE `{}`.`{}`",
                db.replace('`', "``"),
                table.replace('`', "``")
            ))
            .await
            .map_err(|e| error(cfg, &format!("reading the structure of {db}.{table}"), e))?;
        let Some((_, ddl)) = row else { continue };
        match ddl::apply(&mut tables, &db, &ddl) {
            Ok(_) => ddls.push((db, table, ddl)),
            Err(e) if cfg.skip_unparseable_ddl || !cfg.table_included(&db, &table) => {
                tracing::warn!(connector = %cfg.name, "schema snapshot: skipping {db}.{table}: {e}");
            }
            Err(e) => {
                return Err(Error::state(format!(
                    "schema snapshot of {db}.{table}: {e}; exclude the table or set \
                     \"schema.history.internal.skip.unparseable.ddl\": true"
                )));
            }
        }
    }
    Ok((tables, ddls))
}

/// Records the schema snapshot as the history's first entries: each table's CREATE at the
/// snapshot's position.
fn record_snapshot_history(
    history: &History,
    point: &SnapshotPoint,
    ddls: &[(String, String, String)],
) -> Result<()> {
    for (db, _, ddl) in ddls {
        history.record(&Entry {
            file: point.file.clone(),
            pos: point.pos,
            db: db.clone(),
            ddl: ddl.clone(),
        })?;
    }
    Ok(())
}

/// Debezium's schema snapshot records: the server's character set, a DROP per table, the
/// databases dropped and created, and each table's CREATE.
fn snapshot_schema_events(
    cfg: &MySqlConfig,
    block: &Arc<BinlogSourceBlock>,
    changes: &SchemaChanges,
    point: &SnapshotPoint,
    tables: &Tables,
    ddls: &[(String, String, String)],
) -> Batch {
    use crate::ddl::ChangeKind;
    use runnel_core::{EventSource, SnapshotMarker};
    let _ = cfg;
    let file = block.file_number(&point.file);
    let now_us = runnel_core::temporal::now_micros();
    let source = |marker: SnapshotMarker| EventSource {
        ts_us: now_us,
        snapshot: marker,
        coords: [Some(point.pos), Some(0), Some(file), None],
    };
    let mut batch = Batch::default();
    changes.push(
        &mut batch,
        &source(SnapshotMarker::True),
        "",
        None,
        "SET character_set_server=utf8mb4, collation_server=utf8mb4_general_ci",
        &[],
    );
    let mut dbs: Vec<&str> = ddls.iter().map(|(d, _, _)| d.as_str()).collect();
    dbs.dedup();
    for (db, table, _) in ddls {
        changes.push(
            &mut batch,
            &source(SnapshotMarker::True),
            db,
            Some(table),
            &format!("DROP TABLE IF EXISTS `{db}`.`{table}`"),
            &[(ChangeKind::Drop, db, table, None)],
        );
    }
    for db in &dbs {
        for ddl in [
            format!("DROP DATABASE IF EXISTS `{db}`"),
            format!("CREATE DATABASE `{db}` CHARSET utf8mb4 COLLATE utf8mb4_general_ci"),
            format!("USE `{db}`"),
        ] {
            changes.push(
                &mut batch,
                &source(SnapshotMarker::True),
                db,
                None,
                &ddl,
                &[],
            );
        }
    }
    for (i, (db, table, ddl)) in ddls.iter().enumerate() {
        let marker = if i + 1 == ddls.len() {
            SnapshotMarker::Last
        } else {
            SnapshotMarker::True
        };
        changes.push(
            &mut batch,
            &source(marker),
            db,
            Some(table),
            ddl,
            &[(ChangeKind::Create, db, table, tables.get(db, table))],
        );
    }
    batch
}

/// An offset's source partition: Debezium keys a binlog connector's offsets by
/// `{"server": <topic.prefix>}`.
pub fn offset_partition(topic_prefix: &str) -> serde_json::Value {
    serde_json::json!({ "server": topic_prefix })
}
