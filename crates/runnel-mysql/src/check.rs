//! `runnel check`: the MySQL/MariaDB source's prerequisites verified on the server before
//! anything runs, each problem with how to fix it. Reads, never writes.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use runnel_core::plugin::{CheckReport, CheckScope};

use crate::config::MySqlConfig;
use crate::connection::{self, error};

/// The key connection problems are reported on, as Debezium's connector validation does.
const CONNECTION_KEY: &str = "database.hostname";

/// How long validation waits for the server.
const VALIDATION_TIMEOUT: Duration = Duration::from_secs(20);

pub async fn check(cfg: &MySqlConfig, scope: CheckScope) -> CheckReport {
    let mut r = CheckReport::default();
    let mut conn = match tokio::time::timeout(
        VALIDATION_TIMEOUT,
        connection::connect(cfg, "connecting"),
    )
    .await
    {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            r.problem(e.key().or(Some(CONNECTION_KEY)), e.message());
            return r;
        }
        Err(_) => {
            r.problem(
                Some(CONNECTION_KEY),
                format!(
                    "connection validation timed out after {} s: check database.hostname and database.port",
                    VALIDATION_TIMEOUT.as_secs()
                ),
            );
            return r;
        }
    };
    r.passed.push(format!(
        "connected to {}:{} as {}",
        cfg.host, cfg.port, cfg.user
    ));
    if scope == CheckScope::Connection {
        return r;
    }
    let facts = match connection::facts(&mut conn, cfg).await {
        Ok(f) => f,
        Err(e) => {
            r.problem(Some(CONNECTION_KEY), e.message());
            return r;
        }
    };
    let problems = connection::binlog_problems(&facts);
    if problems.is_empty() {
        r.passed
            .push("binary log on, binlog_format=ROW, binlog_row_image=FULL".into());
    }
    for (_, msg) in problems {
        r.problem(None, msg);
    }
    if cfg.connector == "mysql" && facts.mariadb {
        r.warnings.push(format!(
            "the server is MariaDB ({}): runnel reads it with either class, but \
             io.debezium.connector.mariadb.MariaDbConnector says so in source.connector",
            facts.version
        ));
    }
    if facts.server_id == cfg.server_id {
        r.problem(
            Some("database.server.id"),
            format!(
                "database.server.id {} is the server's own server_id: choose another number, unique \
                 among the server's replicas",
                cfg.server_id
            ),
        );
    }
    // Other replicas registered with the same id would be disconnected by the server.
    if let Ok(rows) = conn.query::<mysql_async::Row, _>("SHOW SLAVE HOSTS").await {
        let clash = rows.iter().any(|row| match row.as_ref(0) {
            Some(mysql_async::Value::Bytes(b)) => {
                std::str::from_utf8(b)
                    .ok()
                    .and_then(|s| s.parse::<u32>().ok())
                    == Some(cfg.server_id)
            }
            Some(mysql_async::Value::Int(v)) => *v == i64::from(cfg.server_id),
            Some(mysql_async::Value::UInt(v)) => *v == u64::from(cfg.server_id),
            _ => false,
        });
        if clash {
            r.problem(
                Some("database.server.id"),
                format!(
                    "another replica of the server already uses server id {}: give this connector \
                     its own database.server.id",
                    cfg.server_id
                ),
            );
        }
    }
    match conn
        .query::<String, _>("SHOW GRANTS FOR CURRENT_USER()")
        .await
    {
        Ok(grants) => {
            let all = grants.join("\n").to_ascii_uppercase();
            let has = |p: &str| all.contains("ALL PRIVILEGES ON *.*") || all.contains(p);
            let mut missing = Vec::new();
            for p in ["REPLICATION SLAVE", "SELECT"] {
                if !has(p) {
                    missing.push(p);
                }
            }
            if !has("REPLICATION CLIENT") && !has("BINLOG MONITOR") {
                missing.push("REPLICATION CLIENT");
            }
            if cfg.snapshot_lock && cfg.snapshot_max_threads > 1 && !has("RELOAD") {
                missing.push("RELOAD");
            }
            if missing.is_empty() {
                r.passed.push("privileges: replication and SELECT".into());
            } else {
                r.problem(
                    Some("database.user"),
                    format!(
                        "user \"{}\" lacks {}: GRANT {} ON *.* TO '{}'",
                        cfg.user,
                        missing.join(", "),
                        missing.join(", "),
                        cfg.user
                    ),
                );
            }
        }
        Err(e) => r.warnings.push(
            error(cfg, "reading the user's grants", e)
                .message()
                .to_string(),
        ),
    }
    r
}
