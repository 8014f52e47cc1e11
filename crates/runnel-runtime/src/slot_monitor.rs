//! Watches the replication slots of the worker's PostgreSQL connectors, running or not: a
//! stopped, paused or failing connector is exactly when a slot makes the server keep WAL until
//! its disk fills. One short query per database server per interval (`pg_replication_slots`
//! is cluster-wide), whatever the number of connectors.
//!
//! For each slot: WAL retained (current position − `restart_lsn`) and the confirmed position's
//! lag (current − `confirmed_flush_lsn`) go to the connector's metrics. Past the connector's
//! `slot.max.retained.wal.bytes` its status carries a warning and the log says so; with
//! `slot.retained.wal.policy=drop` the worker stops the connector and drops the slot.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use runnel_postgres::PostgresConfig;
use runnel_postgres::source::catalog;

use crate::metrics::{ConnectorMetrics, now_ms};

/// One connector's slot to check.
pub struct SlotWatch {
    pub connector: String,
    pub pg: PostgresConfig,
    pub metrics: Arc<ConnectorMetrics>,
}

/// What the monitor found for a connector whose slot is over its limit with the drop policy.
pub struct DropRequest {
    pub connector: String,
    pub message: String,
}

const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks every slot once; returns the connectors whose slot must be dropped.
pub async fn check(watches: &[SlotWatch]) -> Vec<DropRequest> {
    // Group by server (and the credentials to reach it).
    let mut servers: BTreeMap<(String, u16, String), Vec<&SlotWatch>> = BTreeMap::new();
    for w in watches {
        servers
            .entry((w.pg.host.clone(), w.pg.port, w.pg.user.clone()))
            .or_default()
            .push(w);
    }
    let mut drops = Vec::new();
    for group in servers.values() {
        let slots: Vec<String> = group.iter().map(|w| w.pg.slot_name.clone()).collect();
        let rows = match tokio::time::timeout(QUERY_TIMEOUT, query(&group[0].pg, &slots)).await {
            Ok(Ok(rows)) => rows,
            Ok(Err(e)) => {
                tracing::debug!(server = %group[0].pg.host, "slot check failed: {e}");
                continue;
            }
            Err(_) => {
                tracing::debug!(server = %group[0].pg.host, "slot check timed out");
                continue;
            }
        };
        for w in group {
            let Some(&(retained, lag)) = rows.get(&w.pg.slot_name) else {
                continue;
            };
            let stats = &w.metrics.source;
            stats.slot_retained_wal_bytes.store(retained, Relaxed);
            stats.slot_flush_lag_bytes.store(lag, Relaxed);
            stats.slot_checked_at_ms.store(now_ms(), Relaxed);
            let limit = w.pg.slot_max_retained_wal_bytes;
            let over = limit > 0 && retained > limit;
            let message = over.then(|| {
                format!(
                    "replication slot \"{}\" holds {} of WAL on the server, more than \
                     slot.max.retained.wal.bytes ({}): the connector is not keeping up or not \
                     running, and the server cannot recycle that WAL",
                    w.pg.slot_name,
                    human_bytes(retained),
                    human_bytes(limit)
                )
            });
            let was = w.metrics.slot_warning();
            if message.is_some() && was.is_none() {
                tracing::warn!(connector = %w.connector, "{}", message.as_deref().unwrap_or_default());
            } else if message.is_none() && was.is_some() {
                tracing::info!(connector = %w.connector, slot = %w.pg.slot_name, "slot back under its WAL limit");
            }
            if let Ok(mut warning) = w.metrics.slot_warning.lock() {
                warning.clone_from(&message);
            }
            if let Some(message) = message
                && w.pg.slot_drop_on_wal_limit
            {
                drops.push(DropRequest {
                    connector: w.connector.clone(),
                    message,
                });
            }
        }
    }
    drops
}

/// `slot name → (retained WAL bytes, confirmed-position lag bytes)`.
async fn query(
    pg: &PostgresConfig,
    slots: &[String],
) -> runnel_core::Result<BTreeMap<String, (u64, u64)>> {
    let client = catalog::connect(pg, "runnel-slot-monitor").await?;
    let rows = client
        .query(
            "SELECT slot_name::text,
                    COALESCE((pg_current_wal_lsn() - restart_lsn)::int8, 0),
                    COALESCE((pg_current_wal_lsn() - confirmed_flush_lsn)::int8, 0)
               FROM pg_replication_slots WHERE slot_name = ANY($1)",
            &[&slots],
        )
        .await
        .map_err(|e| catalog::query_error("reading pg_replication_slots", &e))?;
    Ok(rows
        .iter()
        .map(|r| {
            let retained: i64 = r.get(1);
            let lag: i64 = r.get(2);
            (r.get(0), (retained.max(0) as u64, lag.max(0) as u64))
        })
        .collect())
}

/// Drops a slot (after its connector stopped).
pub async fn drop_slot(pg: &PostgresConfig) -> runnel_core::Result<()> {
    let client = catalog::connect(pg, "runnel-slot-monitor").await?;
    client
        .execute("SELECT pg_drop_replication_slot($1)", &[&pg.slot_name])
        .await
        .map_err(|e| catalog::query_error("dropping the replication slot", &e))?;
    Ok(())
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
