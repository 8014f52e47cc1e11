//! `runnel check` (and `config/validate`) for the Delta sink: the table root answers a listing
//! with the given credentials (S3), or is a directory runnel can create tables in (local).
//! Writes nothing.

use std::time::Duration;

use runnel_core::plugin::{CheckReport, CheckScope, SinkConfig};

use crate::config::{DeltaConfig, Location};
use crate::table;

pub async fn check(sink: SinkConfig, _scope: CheckScope) -> CheckReport {
    let mut report = CheckReport::default();
    let cfg = match DeltaConfig::parse(&sink) {
        Ok(c) => c,
        Err(issues) => {
            for i in issues {
                report.problem(Some(&i.key), i.message);
            }
            return report;
        }
    };
    let key = sink.user_key("delta.uri").to_string();
    match &cfg.location {
        Location::Local(dir) => {
            // The nearest existing ancestor must be a writable directory.
            let mut at = std::path::Path::new(dir);
            while !at.exists() {
                match at.parent() {
                    Some(p) => at = p,
                    None => break,
                }
            }
            match std::fs::metadata(at) {
                Ok(m) if m.is_dir() && !m.permissions().readonly() => {
                    report
                        .passed
                        .push(format!("tables can be created under {dir}"));
                }
                Ok(_) => report.problem(
                    Some(&key),
                    format!(
                        "{} is not a writable directory: tables cannot be created under {dir}",
                        at.display()
                    ),
                ),
                Err(e) => report.problem(Some(&key), format!("{dir}: {e}")),
            }
        }
        Location::S3 { url, .. } => {
            deltalake::aws::register_handlers(None);
            let listed = tokio::time::timeout(Duration::from_secs(20), async {
                let root = table::open(&cfg, "").await?;
                let store = root.log_store().object_store(None);
                store.list_with_delimiter(None).await.map_err(|e| {
                    table::table_error(
                        "(root)",
                        "listing the tables",
                        deltalake::DeltaTableError::from(e),
                    )
                })
            })
            .await;
            match listed {
                Err(_) => report.problem(
                    Some(&key),
                    format!("{url} did not answer within 20 s; check store.url and that the server is running"),
                ),
                Ok(Err(e)) => report.problem(Some(e.key().unwrap_or(&key)), e.message().to_string()),
                Ok(Ok(l)) => report.passed.push(format!(
                    "{url} lists with these credentials ({} table directories)",
                    l.common_prefixes.len()
                )),
            }
        }
    }
    report
}
