//! Progress a source reports while it runs (snapshot progress, replication slot health), read
//! by the runtime's metrics. Atomics, updated per chunk or per check, never per row.

use std::sync::atomic::{AtomicBool, AtomicU64};

#[derive(Debug, Default)]
pub struct SourceStats {
    /// True while the initial snapshot runs.
    pub snapshot_running: AtomicBool,
    pub snapshot_tables_total: AtomicU64,
    pub snapshot_tables_done: AtomicU64,
    pub snapshot_rows: AtomicU64,
    /// Replication slot health, refreshed by the worker's slot monitor: WAL the server keeps
    /// for the slot (current WAL position − `restart_lsn`) and how far the slot's confirmed
    /// position trails the server (current − `confirmed_flush_lsn`), in bytes.
    pub slot_retained_wal_bytes: AtomicU64,
    pub slot_flush_lag_bytes: AtomicU64,
    /// When the slot was last checked, ms since the epoch (0: never).
    pub slot_checked_at_ms: AtomicU64,
}
