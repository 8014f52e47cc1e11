//! The PostgreSQL source: an initial consistent snapshot, then streaming from a logical
//! replication slot (pgoutput), resuming after the last acknowledged commit.

pub mod catalog;
pub mod check;
pub mod config;
pub mod pgoutput;
pub mod replication;
pub mod snapshot;
pub mod types;

use std::time::Duration;

use pgwire_replication::{Lsn, ReplicationClient, ReplicationConfig, TlsConfig};
use runnel_core::{Batch, Error, Result, SourceOffset, SourceStats};
use tokio::sync::{mpsc, watch};

use self::catalog::{TableRef, TableState};
use self::config::{PostgresConfig, SnapshotMode, SslMode};
use self::snapshot::SnapshotPoint;

/// What the runtime gives a running source.
pub struct SourceContext {
    /// Batches to the sink (bounded: a slow sink slows the source).
    pub out: mpsc::Sender<Batch>,
    /// The newest offset the runtime has made durable (sink + state store).
    pub acked: watch::Receiver<Option<SourceOffset>>,
    /// The offset stored when the connector last stopped.
    pub stored: Option<SourceOffset>,
    pub shutdown: watch::Receiver<bool>,
    /// Progress for metrics.
    pub stats: std::sync::Arc<SourceStats>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Shutdown was requested.
    Stopped,
    /// `snapshot.mode=initial_only` finished its snapshot.
    SnapshotOnlyDone,
}

pub struct PostgresSource {
    cfg: PostgresConfig,
}

impl PostgresSource {
    pub fn new(cfg: PostgresConfig) -> Self {
        Self { cfg }
    }

    pub fn config(&self) -> &PostgresConfig {
        &self.cfg
    }

    /// Snapshot (when the mode and stored offset call for one), then stream until shutdown.
    pub async fn run(&self, mut ctx: SourceContext) -> Result<RunEnd> {
        let cfg = &self.cfg;
        for key in &cfg.not_implemented {
            tracing::warn!(connector = %cfg.name, "config key \"{key}\" is accepted for compatibility but runnel does not act on it yet");
        }
        let client = catalog::connect(cfg, &format!("runnel-{}", cfg.name)).await?;
        check::require_logical(&client).await?;
        let types = catalog::load_types(&client).await?;
        let tables = catalog::ensure_publication(&client, cfg).await?;
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
        let stored_lsn = ctx
            .stored
            .as_ref()
            .filter(|o| o.bool("snapshot").is_none_or(|s| !s))
            .and_then(|o| o.u64("lsn"));

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
            ctx.stats
                .snapshot_running
                .store(true, std::sync::atomic::Ordering::Relaxed);
            let rows = snapshot::run(cfg, states, &point, &ctx.out, &ctx.stats).await;
            ctx.stats
                .snapshot_running
                .store(false, std::sync::atomic::Ordering::Relaxed);
            let rows = rows?;
            tracing::info!(connector = %cfg.name, rows, elapsed_ms = started.elapsed().as_millis() as u64, "snapshot completed");
            let done = Batch {
                offset: Some(
                    replication::offset(start_lsn, None, None, None)
                        .set("snapshot_completed", true),
                ),
                ..Batch::default()
            };
            ctx.out
                .send(done)
                .await
                .map_err(|_| Error::internal("pipeline closed"))?;
            if cfg.snapshot_mode == SnapshotMode::InitialOnly {
                return Ok(RunEnd::SnapshotOnlyDone);
            }
        }

        repl.start().await.map_err(replication::replication_error)?;
        repl.wait_started().await.map_err(|e| {
            let text = e.to_string();
            if text.contains("is active for PID") {
                Error::connection(format!(
                    "replication slot \"{}\" is in use by another connection ({text}); stop the other \
                     consumer or use another slot.name",
                    cfg.slot_name
                ))
            } else {
                replication::replication_error(e)
            }
        })?;
        tracing::info!(connector = %cfg.name, slot = %cfg.slot_name, lsn = %Lsn::from_u64(start_lsn), "streaming");
        let mut streamer = replication::Streamer::new(cfg, &client, types, start_lsn);
        let result = streamer.run(&mut repl, &mut ctx).await;
        // Final acknowledgement before closing, so the slot is not left behind what is durable.
        if let Some(lsn) = ctx.acked.borrow().as_ref().and_then(|o| o.u64("lsn")) {
            repl.update_applied_lsn(Lsn::from_u64(lsn));
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
        .with_application_name(format!("runnel-{}", cfg.name))
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
            let text = e.to_string();
            if text.contains("all replication slots are in use") {
                Error::prerequisite(format!(
                    "cannot create replication slot \"{}\": all replication slots are in use; raise \
                     max_replication_slots or drop unused slots",
                    cfg.slot_name
                ))
            } else if text.contains("permission denied") || text.contains("must be superuser or replication") {
                Error::prerequisite(format!(
                    "cannot create replication slot: {text}; grant it with ALTER ROLE {} REPLICATION \
                     (on RDS: GRANT rds_replication TO {})",
                    cfg.user, cfg.user
                ))
            } else {
                replication::replication_error(e)
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
