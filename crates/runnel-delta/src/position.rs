//! The source position kept in the tables themselves, so that a restart resumes exactly where
//! the tables are.
//!
//! A flush commits each table it touched once, all with the same Delta transaction identifier:
//! `txn` application id `runnel-<connector>-<offset generation>` and version *N*, the flush's
//! number (for PostgreSQL the LSN the flush completes, when that grows; one more than the last
//! otherwise — snapshot flushes share one LSN, and MySQL coordinates or Kafka partitions have no
//! single number). The same commit's `commitInfo` carries `runnel`: the source offset the flush
//! completes, the offset before it, and the tables of the flush.
//!
//! On restart the newest version *N* found in any table decides: when every table of flush *N*
//! holds it, the flush is whole and the source resumes after it; when one does not (the process
//! died between two tables' commits), it resumes from the offset before flush *N*, and the
//! tables that hold it merge the same changes again — by key, which leaves them as they were.

use deltalake::DeltaTable;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use futures_util::TryStreamExt;
use runnel_core::{Error, Result, SourceOffset};
use serde_json::{Value, json};

use crate::table::table_error;

/// The key of the commit metadata runnel writes.
pub const META: &str = "runnel";

pub fn app_id(connector: &str, generation: &str) -> String {
    format!("runnel-{connector}-{generation}")
}

/// The version of the flush after `last` that completes `offset`.
pub fn next_version(last: i64, offset: Option<&SourceOffset>) -> i64 {
    let lsn = offset
        .filter(|o| o.bool("snapshot") != Some(true))
        .and_then(|o| o.u64("lsn"))
        .and_then(|l| i64::try_from(l).ok());
    match lsn {
        Some(l) if l > last => l,
        _ => last + 1,
    }
}

/// What a flush's commits carry.
#[derive(Debug, Clone)]
pub struct FlushMark {
    pub app_id: String,
    pub version: i64,
    pub offset: Option<SourceOffset>,
    pub previous: Option<SourceOffset>,
    pub tables: Vec<String>,
    pub connector: String,
}

impl FlushMark {
    pub fn commit_properties(&self) -> CommitProperties {
        let meta = json!({
            "connector": self.connector,
            "app_id": self.app_id,
            "version": self.version,
            "offset": self.offset.as_ref().map(|o| Value::Object(o.0.clone())),
            "previous_offset": self.previous.as_ref().map(|o| Value::Object(o.0.clone())),
            "tables": self.tables,
        });
        CommitProperties::default()
            .with_application_transaction(Transaction::new(&self.app_id, self.version))
            .with_metadata([(META.to_string(), meta)])
    }
}

/// One table's newest mark for an application id.
#[derive(Debug, Clone)]
pub struct TableMark {
    pub version: i64,
    pub offset: Option<SourceOffset>,
    pub previous: Option<SourceOffset>,
    pub tables: Vec<String>,
}

fn offset_of(v: Option<&Value>) -> Option<SourceOffset> {
    match v? {
        Value::Object(m) => Some(SourceOffset(m.clone())),
        _ => None,
    }
}

/// The newest mark `table` holds for `app_id`, from its `txn` and the commit that wrote it
/// (searched among the newest 100 commits: upkeep commits come between flushes, a few per
/// flush at most).
pub async fn read_mark(name: &str, table: &DeltaTable, app_id: &str) -> Result<Option<TableMark>> {
    let Ok(state) = table.snapshot() else {
        return Ok(None);
    };
    let log_store = table.log_store();
    let Some(version) = state
        .transaction_version(log_store.as_ref(), app_id)
        .await
        .map_err(|e| table_error(name, "reading its transaction ids", e))?
    else {
        return Ok(None);
    };
    let infos: Vec<_> = table
        .history(Some(100))
        .try_collect()
        .await
        .map_err(|e| table_error(name, "reading its history", e))?;
    for info in infos {
        let Some(meta) = info.info.get(META) else {
            continue;
        };
        if meta.get("app_id").and_then(Value::as_str) != Some(app_id)
            || meta.get("version").and_then(Value::as_i64) != Some(version)
        {
            continue;
        }
        return Ok(Some(TableMark {
            version,
            offset: offset_of(meta.get("offset")),
            previous: offset_of(meta.get("previous_offset")),
            tables: meta
                .get("tables")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        }));
    }
    Err(Error::state(format!(
        "Delta table {name} holds transaction {app_id} version {version} but none of its last \
         100 commits says which source position that is (its history was cleaned up?); delete \
         the connector's offsets to write the tables anew"
    )))
}

/// Where to resume, from every table's newest mark: `(offset, version of the last whole flush
/// or the interrupted one, replayed)`.
pub fn resume_point(marks: &[(String, TableMark)]) -> Option<(Option<SourceOffset>, i64)> {
    let (_, newest) = marks.iter().max_by_key(|(_, m)| m.version)?;
    let whole = newest.tables.iter().all(|t| {
        marks
            .iter()
            .any(|(name, m)| name == t && m.version >= newest.version)
    });
    if whole {
        Some((newest.offset.clone(), newest.version))
    } else {
        Some((newest.previous.clone(), newest.version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(version: i64, at: u64, tables: &[&str]) -> TableMark {
        TableMark {
            version,
            offset: Some(SourceOffset::new().set("lsn", at)),
            previous: Some(SourceOffset::new().set("lsn", at - 1)),
            tables: tables.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn a_whole_flush_resumes_after_it_and_an_interrupted_one_before_it() {
        let whole = vec![
            ("a".to_string(), mark(7, 70, &["a", "b"])),
            ("b".to_string(), mark(7, 70, &["a", "b"])),
            ("c".to_string(), mark(3, 30, &["c"])),
        ];
        let (offset, v) = resume_point(&whole).unwrap();
        assert_eq!(offset.unwrap().u64("lsn"), Some(70));
        assert_eq!(v, 7);
        let torn = vec![
            ("a".to_string(), mark(7, 70, &["a", "b"])),
            ("b".to_string(), mark(5, 50, &["b"])),
        ];
        let (offset, _) = resume_point(&torn).unwrap();
        assert_eq!(offset.unwrap().u64("lsn"), Some(69));
        assert!(resume_point(&[]).is_none());
    }

    #[test]
    fn versions_follow_the_lsn_when_it_grows() {
        let streaming = SourceOffset::new().set("lsn", 5000u64);
        assert_eq!(next_version(0, Some(&streaming)), 5000);
        assert_eq!(next_version(5000, Some(&streaming)), 5001);
        let snapshot = SourceOffset::new()
            .set("lsn", 9000u64)
            .set("snapshot", true);
        assert_eq!(next_version(4, Some(&snapshot)), 5);
        assert_eq!(next_version(4, None), 5);
    }
}
