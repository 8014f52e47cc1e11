//! `runnel check` (and `config/validate`) for the PostgreSQL sink: the target answers, the
//! user may create what schema evolution needs and write the tables it will write, and the
//! foreign keys among them can be kept (a table referencing one the connector does not
//! capture will refuse rows the target lacks). Reads only.

use runnel_core::config::split_list;
use runnel_core::plugin::{CheckReport, CheckScope, SinkConfig};
use tokio_postgres::Client;

use super::catalog::qualified;
use super::config::{Dialect, InsertMode, PgSinkConfig};

pub async fn check(sink: SinkConfig, scope: CheckScope) -> CheckReport {
    let mut report = CheckReport::default();
    let cfg = match PgSinkConfig::parse(&sink) {
        Ok(cfg) => cfg,
        Err(issues) => {
            for i in issues {
                report.problem(Some(&i.key), i.message);
            }
            return report;
        }
    };
    let client = match super::connect(&cfg, "runnel-check").await {
        Ok(c) => c,
        Err(e) => {
            report.problem(
                Some(e.key().unwrap_or("connection.url")),
                e.message().to_string(),
            );
            return report;
        }
    };
    report.passed.push(format!(
        "target PostgreSQL at {} answers as \"{}\"",
        cfg.target(),
        cfg.user
    ));
    if scope == CheckScope::Full
        && let Err(e) = full(&client, &cfg, &sink, &mut report).await
    {
        report.problem(Some("connection.url"), e.to_string());
    }
    report
}

async fn full(
    client: &Client,
    cfg: &PgSinkConfig,
    sink: &SinkConfig,
    report: &mut CheckReport,
) -> Result<(), tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT current_schema()::text, has_schema_privilege(current_schema(), 'CREATE')",
            &[],
        )
        .await?;
    let schema: Option<String> = row.get(0);
    let schema = schema.unwrap_or_else(|| "public".into());
    let create_in_schema: bool = row.get(1);
    let creates = cfg.create_tables || cfg.add_columns || cfg.dialect == Dialect::Direct;
    if creates && !create_in_schema {
        report.problem(
            Some("connection.username"),
            format!(
                "user \"{}\" may not create tables in schema \"{schema}\", which schema evolution \
                 (and the offsets table) needs: GRANT CREATE ON SCHEMA \"{schema}\" TO \"{}\"",
                cfg.user, cfg.user
            ),
        );
    } else if creates {
        report.passed.push(format!(
            "user \"{}\" may create tables in \"{schema}\"",
            cfg.user
        ));
    }
    // The tables a direct sink writes: the source's captured tables named literally.
    let tables: Vec<(String, String)> = match cfg.dialect {
        Dialect::Direct => sink
            .connector
            .get("table.include.list")
            .map(split_list)
            .unwrap_or_default()
            .into_iter()
            .filter(|t| {
                t.chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
            })
            .filter_map(|t| {
                let (s, n) = t.split_once('.')?;
                let name = cfg
                    .table_format
                    .replace("${source.schema}", s)
                    .replace("${source.table}", n)
                    .replace(
                        "${source.db}",
                        sink.connector.get("database.dbname").unwrap_or(""),
                    );
                let (s, n) = name.split_once('.').unwrap_or((&schema, &name));
                Some((s.to_string(), n.to_string()))
            })
            .collect(),
        _ => Vec::new(),
    };
    let needs: &[&str] = match (cfg.insert_mode, cfg.delete_enabled) {
        (InsertMode::Insert, false) => &["INSERT"],
        (InsertMode::Update, false) => &["UPDATE"],
        _ => &["INSERT", "UPDATE", "DELETE"],
    };
    let mut captured_oids = Vec::new();
    for (s, n) in &tables {
        let q = qualified(s, n);
        let row = client
            .query_opt(
                "SELECT c.oid::int8 FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace \
                 WHERE ns.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
                &[s, n],
            )
            .await?;
        let Some(row) = row else {
            if cfg.create_tables {
                report.passed.push(format!("table {q} will be created"));
            } else {
                report.problem(
                    Some("schema.evolution"),
                    format!("table {q} does not exist: create it, or set schema.evolution=basic"),
                );
            }
            continue;
        };
        let oid: i64 = row.get(0);
        captured_oids.push(oid);
        let mut missing = Vec::new();
        for p in needs {
            let ok: bool = client
                .query_one("SELECT has_table_privilege($1::int8::oid, $2)", &[&oid, p])
                .await?
                .get(0);
            if !ok {
                missing.push(*p);
            }
        }
        if missing.is_empty() {
            report
                .passed
                .push(format!("user \"{}\" may write {q}", cfg.user));
        } else {
            report.problem(
                Some("connection.username"),
                format!(
                    "user \"{}\" lacks {} on {q}: GRANT {} ON {q} TO \"{}\"",
                    cfg.user,
                    missing.join(", "),
                    missing.join(", "),
                    cfg.user
                ),
            );
        }
    }
    // Foreign keys from a written table to one the connector does not capture.
    if !captured_oids.is_empty() {
        let rows = client
            .query(
                "SELECT conrelid::regclass::text, confrelid::regclass::text, conname::text, confrelid::int8 \
                 FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY($1::int8[]::oid[])",
                &[&captured_oids],
            )
            .await?;
        for r in rows {
            let referenced: i64 = r.get(3);
            if !captured_oids.contains(&referenced) {
                let (from, to, name): (String, String, String) = (r.get(0), r.get(1), r.get(2));
                report.warnings.push(format!(
                    "foreign key {name} of {from} references {to}, which this connector does not \
                     capture: rows referencing a {to} row the target lacks will be refused; \
                     capture {to} too, or drop the constraint on the target"
                ));
            }
        }
    }
    Ok(())
}
