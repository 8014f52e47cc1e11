//! Table upkeep on a schedule, so a table fed every few seconds for weeks stays fast to read:
//! compaction (`OPTIMIZE`: the small files each merge leaves are rewritten into files of
//! `delta.compaction.target.file.size`) of the tables written since the last one, and `VACUUM`
//! of files no version within `delta.vacuum.retention.hours` needs. Checkpoints of the log are
//! written by the commits themselves, every `delta.checkpoint.interval` commits (a table
//! property). Upkeep runs between flushes, on the sink's thread; a failure is logged and tried
//! again next time (the data is already committed).

use std::collections::{BTreeSet, HashMap};
use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use deltalake::DeltaTable;
use runnel_core::Result;

use crate::config::DeltaConfig;

pub struct Upkeep {
    next_compaction: Option<Instant>,
    next_vacuum: Option<Instant>,
    touched: BTreeSet<String>,
}

fn after(every: Option<Duration>) -> Option<Instant> {
    every.map(|d| Instant::now() + d)
}

impl Upkeep {
    pub fn new(cfg: &DeltaConfig) -> Self {
        Self {
            next_compaction: after(cfg.compaction_interval),
            next_vacuum: after(cfg.vacuum_interval),
            touched: BTreeSet::new(),
        }
    }

    pub fn touched(&mut self, names: &[String]) {
        self.touched.extend(names.iter().cloned());
    }

    pub fn run(
        &mut self,
        cfg: &DeltaConfig,
        rt: &tokio::runtime::Runtime,
        tables: &mut HashMap<String, DeltaTable>,
    ) -> Result<()> {
        let now = Instant::now();
        if self.next_compaction.is_some_and(|t| now >= t) {
            let target = NonZeroU64::new(cfg.target_file_size).unwrap_or(NonZeroU64::MIN);
            for name in std::mem::take(&mut self.touched) {
                let Some(table) = tables.remove(&name) else {
                    continue;
                };
                let kept = table.clone();
                match rt.block_on(table.optimize().with_target_size(target).into_future()) {
                    Ok((table, metrics)) => {
                        tracing::info!(table = %name, files_removed = metrics.num_files_removed, files_added = metrics.num_files_added, "compacted the Delta table");
                        tables.insert(name, table);
                    }
                    Err(e) => {
                        tracing::warn!(table = %name, error = %e, "compacting the Delta table failed; trying again next time");
                        tables.insert(name, kept);
                    }
                }
            }
            self.next_compaction = after(cfg.compaction_interval);
        }
        if self.next_vacuum.is_some_and(|t| now >= t) {
            let retention =
                chrono::Duration::from_std(cfg.vacuum_retention).unwrap_or(chrono::Duration::MAX);
            let names: Vec<String> = tables.keys().cloned().collect();
            for name in names {
                let table = tables.remove(&name).expect("listed");
                let kept = table.clone();
                let vacuum = table
                    .vacuum()
                    .with_retention_period(retention)
                    .with_enforce_retention_duration(false);
                match rt.block_on(vacuum.into_future()) {
                    Ok((table, metrics)) => {
                        tracing::info!(table = %name, files_deleted = metrics.files_deleted.len(), "vacuumed the Delta table");
                        tables.insert(name, table);
                    }
                    Err(e) => {
                        tracing::warn!(table = %name, error = %e, "vacuuming the Delta table failed; trying again next time");
                        tables.insert(name, kept);
                    }
                }
            }
            self.next_vacuum = after(cfg.vacuum_interval);
        }
        Ok(())
    }
}
