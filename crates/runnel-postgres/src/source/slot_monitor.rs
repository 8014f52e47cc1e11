//! Watches the replication slots of the worker's PostgreSQL connectors, running or not: a
//! stopped, paused or failing connector is exactly when a slot makes the server keep WAL until
//! its disk fills. One short query per database server per check (`pg_replication_slots` is
//! cluster-wide), whatever the number of connectors.
//!
//! For each slot: WAL retained (current position − `restart_lsn`), the confirmed position's
//! lag (current − `confirmed_flush_lsn`) and whether it is active go to the connector's
//! metrics (and from there to `/metrics` and the console). Every slot of the server, the ones
//! no connector of this worker uses included (a forgotten one fills the disk just as well), goes
//! to the worker's report of the server for the console's database page. Past the connector's
//! `slot.max.retained.wal.bytes` its status carries a warning; with
//! `slot.retained.wal.policy=drop` the worker stops the connector and the slot is dropped.

use std::collections::BTreeMap;
use std::time::Duration;

use runnel_core::plugin::{BoxFuture, Watch, WatchOutcome, Watched};

use super::catalog;
use super::config::PostgresConfig;

const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The watch of every PostgreSQL connector.
pub struct SlotMonitor;

impl Watch for SlotMonitor {
    fn check(&self, watched: Vec<Watched>) -> BoxFuture<Vec<WatchOutcome>> {
        Box::pin(check(watched))
    }
}

async fn check(watched: Vec<Watched>) -> Vec<WatchOutcome> {
    // Group by server (and the credentials to reach it).
    let mut servers: BTreeMap<(String, u16, String), Vec<(Watched, PostgresConfig)>> =
        BTreeMap::new();
    for w in watched {
        let Ok(pg) = PostgresConfig::from_connector(&w.config) else {
            continue;
        };
        servers
            .entry((pg.host.clone(), pg.port, pg.user.clone()))
            .or_default()
            .push((w, pg));
    }
    let mut outcomes = Vec::new();
    for group in servers.into_values() {
        let pg = &group[0].1;
        let rows = match tokio::time::timeout(QUERY_TIMEOUT, query(pg)).await {
            Ok(Ok(rows)) => rows,
            Ok(Err(e)) => {
                tracing::debug!(server = %pg.host, "slot check failed: {e}");
                continue;
            }
            Err(_) => {
                tracing::debug!(server = %pg.host, "slot check timed out");
                continue;
            }
        };
        outcomes.push(WatchOutcome::Server {
            server: format!("{}:{}", pg.host, pg.port),
            report: server_report(&rows),
        });
        for (w, pg) in group {
            let Some(slot) = rows.get(&pg.slot_name) else {
                continue;
            };
            let (retained, lag, active) = (slot.retained, slot.lag, slot.active);
            let limit = pg.slot_max_retained_wal_bytes;
            let over = limit > 0 && retained > limit;
            w.stats.set_gauge(
                "slot_retained_wal_bytes",
                "WAL the server keeps for the connector's replication slot",
                retained as f64,
            );
            w.stats.set_gauge(
                "slot_flush_lag_bytes",
                "Current WAL position minus the slot's confirmed_flush_lsn",
                lag as f64,
            );
            w.stats.set_gauge(
                "slot_active",
                "1 while a connection streams from the connector's replication slot",
                f64::from(u8::from(active)),
            );
            w.stats.set_gauge(
                "slot_wal_warning",
                "1 while the slot holds more WAL than slot.max.retained.wal.bytes",
                f64::from(u8::from(over)),
            );
            let message = over.then(|| {
                format!(
                    "replication slot \"{}\" holds {} of WAL on the server, more than \
                     slot.max.retained.wal.bytes ({}): the connector is not keeping up or not \
                     running, and the server cannot recycle that WAL",
                    pg.slot_name,
                    human_bytes(retained),
                    human_bytes(limit)
                )
            });
            if let Some(message) = &message
                && pg.slot_drop_on_wal_limit
            {
                let name = w.connector.clone();
                let message = message.clone();
                outcomes.push(WatchOutcome::Stop {
                    connector: w.connector.clone(),
                    finish: Box::pin(async move {
                        match drop_slot(&pg).await {
                            Ok(()) => format!(
                                "{message}. The slot was dropped (slot.retained.wal.policy=drop) and \
                                 the connector stopped: changes since its last offset are no longer \
                                 available. To stream again with a new snapshot: PUT \
                                 /connectors/{name}/stop, DELETE /connectors/{name}/offsets, PUT \
                                 /connectors/{name}/resume"
                            ),
                            Err(e) => format!(
                                "{message}. The connector was stopped to drop the slot, but dropping \
                                 it failed: {}",
                                e.message()
                            ),
                        }
                    }),
                });
            }
            outcomes.push(WatchOutcome::Warning {
                connector: w.connector,
                warning: message,
            });
        }
    }
    outcomes
}

/// One replication slot of the server.
struct Slot {
    retained: u64,
    lag: u64,
    active: bool,
    database: Option<String>,
    plugin: Option<String>,
    /// The `application_name` of the session streaming from it.
    holder: Option<String>,
}

/// Every slot of the server, by name: one short query of the cluster-wide view.
async fn query(pg: &PostgresConfig) -> runnel_core::Result<BTreeMap<String, Slot>> {
    let client = catalog::connect(pg, "runnel-slot-monitor").await?;
    let rows = client
        .query(
            "SELECT slot_name::text,
                    COALESCE((pg_current_wal_lsn() - restart_lsn)::int8, 0),
                    COALESCE((pg_current_wal_lsn() - confirmed_flush_lsn)::int8, 0),
                    active, database::text, plugin::text,
                    (SELECT application_name::text FROM pg_stat_activity WHERE pid = active_pid)
               FROM pg_replication_slots",
            &[],
        )
        .await
        .map_err(|e| catalog::query_error("reading pg_replication_slots", &e))?;
    Ok(rows
        .iter()
        .map(|r| {
            let retained: i64 = r.get(1);
            let lag: i64 = r.get(2);
            let slot = Slot {
                retained: retained.max(0) as u64,
                lag: lag.max(0) as u64,
                active: r.get(3),
                database: r.get(4),
                plugin: r.get(5),
                holder: r.get(6),
            };
            (r.get(0), slot)
        })
        .collect())
}

/// The server's slots as the console shows them.
fn server_report(slots: &BTreeMap<String, Slot>) -> serde_json::Value {
    let list: Vec<serde_json::Value> = slots
        .iter()
        .map(|(name, s)| {
            serde_json::json!({
                "slot": name,
                "database": s.database,
                "plugin": s.plugin,
                "active": s.active,
                "held_by": s.holder,
                "retained_wal_bytes": s.retained,
                "flush_lag_bytes": s.lag,
            })
        })
        .collect();
    serde_json::json!({"slots": list})
}

/// Drops a slot (after its connector stopped).
async fn drop_slot(pg: &PostgresConfig) -> runnel_core::Result<()> {
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
