//! The PostgreSQL source: an initial consistent snapshot, then streaming from a logical
//! replication slot (pgoutput), resuming after the last acknowledged commit.

pub mod catalog;
pub mod check;
pub mod config;
pub mod pgoutput;
pub mod plugin;
#[cfg(test)]
mod properties;
pub mod replication;
pub mod slot_monitor;
pub mod snapshot;
pub mod source_block;
pub mod types;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use pgwire_replication::{Lsn, ReplicationClient, ReplicationConfig, TlsConfig};
use runnel_core::{Batch, Envelope, Error, Result, RunEnd, Source, SourceContext};

use self::catalog::{TableRef, TableState};
use self::config::{PostgresConfig, SnapshotMode, SslMode};
use self::snapshot::SnapshotPoint;
use self::source_block::{PgPosition, PgSourceBlock};

pub struct PostgresSource {
    cfg: PostgresConfig,
    block: Arc<PgSourceBlock>,
}

impl Source for PostgresSource {
    type Position = PgPosition;

    fn envelope(&self) -> Option<Envelope> {
        Some(Envelope {
            source: self.block.clone(),
            unavailable_placeholder: Bytes::from(self.cfg.placeholder.clone().into_bytes()),
        })
    }

    async fn run(self, ctx: SourceContext<PgPosition>) -> Result<RunEnd> {
        self.stream(ctx).await
    }
}

impl PostgresSource {
    pub fn new(cfg: PostgresConfig) -> Self {
        let block = Arc::new(PgSourceBlock::new(&cfg.topic_prefix, &cfg.dbname));
        Self { cfg, block }
    }

    pub fn config(&self) -> &PostgresConfig {
        &self.cfg
    }

    /// Snapshot (when the mode and stored offset call for one), then stream until shutdown.
    async fn stream(&self, mut ctx: SourceContext<PgPosition>) -> Result<RunEnd> {
        let cfg = &self.cfg;
        for key in &cfg.not_implemented {
            tracing::warn!(connector = %cfg.name, "config key \"{key}\" is accepted for compatibility but runnel does not act on it yet");
        }
        let client = catalog::connect(cfg, &cfg.application_name()).await?;
        check::require_logical(&client).await?;
        let types = catalog::load_types(&client).await?;
        let mut tables = catalog::ensure_publication(&client, cfg).await?;
        if ctx.referenced_first {
            catalog::order_referenced_first(&client, &mut tables).await?;
        }
        let slot = catalog::slot_info(&client, &cfg.slot_name).await?;
        if let Some(s) = &slot
            && (s.plugin.as_deref() != Some("pgoutput")
                || s.database.as_deref() != Some(cfg.dbname.as_str()))
        {
            return Err(Error::prerequisite(format!(
                "replication slot \"{}\" exists but is for plugin {:?} on database {:?}; runnel needs a \
                     pgoutput slot on \"{}\": drop it (SELECT pg_drop_replication_slot('{}')) or choose another slot.name",
                cfg.slot_name, s.plugin, s.database, cfg.dbname, cfg.slot_name
            )));
        }
        let stored = ctx
            .stored
            .as_ref()
            .map(PgPosition::from_offset)
            .transpose()?;
        let stored_lsn = stored.filter(|p| !p.in_snapshot).map(|p| p.lsn);

        let mut repl =
            ReplicationClient::connect_gated(self.replication_config(stored_lsn.unwrap_or(0)))
                .await
                .map_err(replication::replication_error)?;

        // Decide whether to snapshot, and from which point streaming starts.
        let mut snapshot_point: Option<SnapshotPoint> = None;
        let start_lsn: u64;
        match (stored_lsn, &slot) {
            (Some(lsn), Some(_)) => {
                start_lsn = lsn;
                if cfg.snapshot_mode == SnapshotMode::Always {
                    snapshot_point = Some(self.fresh_point(lsn));
                }
            }
            (Some(lsn), None) => {
                if matches!(
                    cfg.snapshot_mode,
                    SnapshotMode::WhenNeeded | SnapshotMode::Always
                ) {
                    let (point, lsn) = self.create_slot(&mut repl, true).await?;
                    snapshot_point = point;
                    start_lsn = lsn;
                } else {
                    return Err(Error::prerequisite(format!(
                        "replication slot \"{}\" is gone but the stored offset (LSN {}) needs it: changes \
                         since then are lost to the slot. Set \"snapshot.mode\": \"when_needed\" to take a \
                         new snapshot, or reset the connector's offsets",
                        cfg.slot_name,
                        Lsn::from_u64(lsn)
                    )));
                }
            }
            (None, None) => {
                let want = cfg.snapshot_mode != SnapshotMode::NoData;
                let (point, lsn) = self.create_slot(&mut repl, want).await?;
                snapshot_point = point;
                start_lsn = lsn;
            }
            (None, Some(s)) => {
                start_lsn = s.confirmed_flush_lsn.unwrap_or(0);
                if cfg.snapshot_mode != SnapshotMode::NoData {
                    snapshot_point = Some(self.fresh_point(start_lsn));
                }
            }
        }

        if let Some(point) = snapshot_point {
            let mut states: Vec<(TableRef, TableState)> = Vec::new();
            for t in tables
                .iter()
                .filter(|t| cfg.snapshot_included(&t.schema, &t.name))
            {
                let (columns, pk) = catalog::table_columns(&client, t.oid).await?;
                let source: Vec<(String, u32, i32)> = columns
                    .iter()
                    .map(|c| (c.name.clone(), c.type_oid, c.typmod))
                    .collect();
                states.push((
                    t.clone(),
                    catalog::build_table(cfg, &types, t, &source, &columns, &pk, 0)?,
                ));
            }
            let started = std::time::Instant::now();
            ctx.stats.snapshot_started(states.len() as u64);
            let rows = snapshot::run(cfg, states, &point, &ctx.out, &ctx.stats).await;
            ctx.stats
                .snapshot_running
                .store(false, std::sync::atomic::Ordering::Relaxed);
            let rows = rows?;
            tracing::info!(connector = %cfg.name, rows, elapsed_ms = started.elapsed().as_millis() as u64, "snapshot completed");
            let mut done = PgPosition::new(start_lsn, None, None, replication::now_ms() * 1000);
            done.snapshot_completed = true;
            if !ctx.emit(Batch::default(), Some(done)).await {
                return Err(Error::internal("pipeline closed"));
            }
            if cfg.snapshot_mode == SnapshotMode::InitialOnly {
                return Ok(RunEnd::Finished);
            }
        }

        repl.start().await.map_err(replication::replication_error)?;
        repl.wait_started().await.map_err(|e| {
            // 55006 object_in_use: another walsender streams from the slot.
            if replication::sqlstate(&e) == Some("55006") {
                Error::connection(format!(
                    "replication slot \"{}\" is in use by another connection ({e}); stop the other \
                     consumer or use another slot.name",
                    cfg.slot_name
                ))
                .caused_by(e)
            } else {
                replication::replication_error(e)
            }
        })?;
        tracing::info!(connector = %cfg.name, slot = %cfg.slot_name, lsn = %Lsn::from_u64(start_lsn), "streaming");
        let mut streamer =
            replication::Streamer::new(cfg, &client, types, start_lsn, self.block.clone());
        let result = streamer.run(&mut repl, &mut ctx).await;
        // Final acknowledgement before closing, so the slot is not left behind what is durable.
        if let Some(p) = *ctx.acked.borrow() {
            repl.update_applied_lsn(Lsn::from_u64(p.lsn));
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), repl.shutdown()).await;
        result?;
        if cfg.slot_drop_on_stop {
            let _ = client
                .execute("SELECT pg_drop_replication_slot($1)", &[&cfg.slot_name])
                .await;
        }
        Ok(RunEnd::Stopped)
    }

    fn replication_config(&self, start_lsn: u64) -> ReplicationConfig {
        let cfg = &self.cfg;
        let tls = match cfg.sslmode {
            SslMode::Disable | SslMode::Prefer => TlsConfig::disabled(),
            SslMode::Require => TlsConfig::require(),
            SslMode::VerifyCa => TlsConfig::verify_ca(cfg.sslrootcert.clone().map(Into::into)),
            SslMode::VerifyFull => TlsConfig::verify_full(cfg.sslrootcert.clone().map(Into::into)),
        };
        ReplicationConfig::new(
            cfg.host.clone(),
            cfg.user.clone(),
            cfg.password.clone(),
            cfg.dbname.clone(),
            catalog::quote_ident(&cfg.slot_name),
            cfg.publication_name.clone(),
        )
        .with_port(cfg.port)
        .with_tls(tls)
        .with_start_lsn(Lsn::from_u64(start_lsn))
        .with_status_interval(Duration::from_millis(cfg.status_interval_ms.min(1000)))
        .with_wakeup_interval(Duration::from_secs(1))
        .with_options(catalog::SESSION_OPTIONS)
        .with_application_name(cfg.application_name())
    }

    /// Creates the slot on the replication session; with `export`, keeps its snapshot for the
    /// initial snapshot. Returns the snapshot point and the slot's consistent point.
    async fn create_slot(
        &self,
        repl: &mut ReplicationClient,
        export: bool,
    ) -> Result<(Option<SnapshotPoint>, u64)> {
        let cfg = &self.cfg;
        let sql = format!(
            "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput {}",
            catalog::quote_ident(&cfg.slot_name),
            if export {
                "EXPORT_SNAPSHOT"
            } else {
                "NOEXPORT_SNAPSHOT"
            }
        );
        let rows = repl.simple_query(&sql).await.map_err(|e| {
            match replication::sqlstate(&e) {
                // configuration_limit_exceeded
                Some("53400") => Error::prerequisite(format!(
                    "cannot create replication slot \"{}\": all replication slots are in use; raise \
                     max_replication_slots or drop unused slots",
                    cfg.slot_name
                ))
                .caused_by(e),
                // insufficient_privilege
                Some("42501") => Error::prerequisite(format!(
                    "cannot create replication slot: {e}; grant it with ALTER ROLE {} REPLICATION \
                     (on RDS: GRANT rds_replication TO {})",
                    cfg.user, cfg.user
                ))
                .caused_by(e),
                _ => replication::replication_error(e),
            }
        })?;
        let row = rows
            .into_iter()
            .next()
            .ok_or_else(|| Error::protocol("CREATE_REPLICATION_SLOT returned no row"))?;
        let text = |i: usize| {
            row.get(i)
                .cloned()
                .flatten()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        };
        let lsn = text(1)
            .as_deref()
            .and_then(catalog::parse_lsn)
            .ok_or_else(|| {
                Error::protocol("CREATE_REPLICATION_SLOT returned no consistent point")
            })?;
        tracing::info!(slot = %cfg.slot_name, lsn = %Lsn::from_u64(lsn), "created replication slot");
        let point = text(2).filter(|_| export).map(|name| SnapshotPoint {
            snapshot_name: Some(name),
            lsn,
            ts_us: replication::now_ms() * 1000,
            tx_id: None,
        });
        Ok((point, lsn))
    }

    /// A snapshot without an exported snapshot (the slot already exists): each reader takes its
    /// own REPEATABLE READ snapshot, which can only overlap the stream.
    fn fresh_point(&self, lsn: u64) -> SnapshotPoint {
        SnapshotPoint {
            snapshot_name: None,
            lsn,
            ts_us: replication::now_ms() * 1000,
            tx_id: None,
        }
    }
}
