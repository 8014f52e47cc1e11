//! `runnel check` (and `config/validate`) for the object storage sink: each bucket answers a
//! listing with the given credentials. Writes nothing.

use futures_util::StreamExt;
use object_store::path::Path;
use runnel_core::plugin::{CheckReport, CheckScope, SinkConfig};

use crate::config::{ObjectSinkConfig, Store};
use crate::sink::{build_store, store_error};

/// Both scopes list each bucket: that is the connection, and all the sink needs besides writing.
pub async fn check(sink: SinkConfig, _scope: CheckScope, local: bool) -> CheckReport {
    let mut report = CheckReport::default();
    let cfg = match ObjectSinkConfig::parse(&sink, local) {
        Ok(c) => c,
        Err(issues) => {
            for i in issues {
                report.problem(Some(&i.key), i.message);
            }
            return report;
        }
    };
    let key = match (&cfg.store, sink.get("connect.s3.kcql").is_some()) {
        (Store::Local { .. }, _) => "path",
        (_, true) => "connect.s3.kcql",
        _ => "s3.bucket.name",
    };
    let mut seen = Vec::new();
    for t in &cfg.targets {
        if seen.contains(&t.bucket) {
            continue;
        }
        seen.push(t.bucket.clone());
        let store = match build_store(&cfg.store, &t.bucket) {
            Ok(s) => s,
            Err(e) => {
                report.problem(Some(sink.user_key(key)), e.message().to_string());
                continue;
            }
        };
        let prefix = Path::from(t.prefix.as_str());
        let listed = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            store.list(Some(&prefix)).next(),
        )
        .await;
        match listed {
            Err(_) => report.problem(
                Some(sink.user_key(key)),
                format!(
                    "bucket \"{}\" did not answer within 20 s; check the endpoint",
                    t.bucket
                ),
            ),
            Ok(Some(Err(e))) => report.problem(
                Some(sink.user_key(key)),
                store_error(&t.bucket, &t.prefix, e).message().to_string(),
            ),
            Ok(_) => {}
        }
    }
    report
}
