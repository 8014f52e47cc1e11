//! `runnel check`: every prerequisite of the PostgreSQL source, verified on the database before
//! anything runs, each problem with how to fix it.

use runnel_core::plugin::{CheckReport, CheckScope};
use runnel_core::{Error, Result};
use tokio_postgres::Client;

use super::catalog;
use super::config::{PostgresConfig, PublicationAutocreate};

/// The key connection problems are reported on, as Debezium's connector validation does.
const CONNECTION_KEY: &str = "database.hostname";

/// Fails unless `wal_level` is `logical` (the one prerequisite without which nothing works).
pub async fn require_logical(client: &Client) -> Result<()> {
    let level: String = client
        .query_one("SHOW wal_level", &[])
        .await
        .map_err(|e| catalog::query_error("SHOW wal_level", &e))?
        .get(0);
    if level != "logical" {
        return Err(Error::prerequisite(wal_level_problem(&level)));
    }
    Ok(())
}

fn wal_level_problem(level: &str) -> String {
    format!(
        "wal_level is \"{level}\" but logical decoding needs \"logical\": run ALTER SYSTEM SET wal_level = logical \
         and restart PostgreSQL (on RDS/Aurora: set rds.logical_replication = 1 in the parameter group)"
    )
}

/// How long validation waits for the database (Debezium's
/// `database.connection.validation.timeout.ms` is 60 s; a REST call should answer sooner).
const VALIDATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Checks the database: the connection only (`config/validate`, `POST /connectors`), or every
/// prerequisite (`runnel check`). Reads, never writes.
pub async fn check(cfg: &PostgresConfig, scope: CheckScope) -> CheckReport {
    let mut r = CheckReport::default();
    let application = format!("runnel-check-{}", cfg.name);
    let connect = catalog::connect(cfg, &application);
    let client = match tokio::time::timeout(VALIDATION_TIMEOUT, connect).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            r.problem(Some(CONNECTION_KEY), e.to_string());
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
    let checked = match scope {
        CheckScope::Connection => client
            .simple_query("SELECT version()")
            .await
            .map(drop)
            .map_err(|e| catalog::query_error("SELECT version()", &e)),
        CheckScope::Full => run_checks(&client, cfg, &mut r).await,
    };
    if let Err(e) = checked {
        r.problem(Some(CONNECTION_KEY), e.to_string());
    }
    r
}

async fn one<T: for<'a> tokio_postgres::types::FromSql<'a>>(
    client: &Client,
    sql: &str,
) -> Result<T> {
    Ok(client
        .query_one(sql, &[])
        .await
        .map_err(|e| catalog::query_error(sql, &e))?
        .get(0))
}

async fn run_checks(client: &Client, cfg: &PostgresConfig, r: &mut CheckReport) -> Result<()> {
    let version: String = one(client, "SHOW server_version_num").await?;
    let version: u32 = version.parse().unwrap_or(0);
    if version < 100_000 {
        r.problem(
            None,
            format!("PostgreSQL {version} has no pgoutput: runnel needs PostgreSQL 10 or newer"),
        );
    } else {
        r.passed.push(format!("server version {version}"));
    }

    let level: String = one(client, "SHOW wal_level").await?;
    if level == "logical" {
        r.passed.push("wal_level = logical".into());
    } else {
        r.problem(None, wal_level_problem(&level));
    }

    let encoding: String = one(client, "SHOW server_encoding").await?;
    if encoding != "UTF8" {
        r.problem(None, format!(
            "server_encoding is {encoding}: runnel reads text values as UTF-8; create the database with ENCODING 'UTF8'"
        ));
    }

    let privileged: bool = one(
        client,
        "SELECT r.rolsuper OR r.rolreplication OR EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid \
         WHERE m.member = r.oid AND g.rolname = 'rds_replication') FROM pg_roles r WHERE r.rolname = current_user",
    )
    .await?;
    if privileged {
        r.passed
            .push(format!("user \"{}\" may replicate", cfg.user));
    } else {
        r.problem(None, format!(
            "user \"{}\" lacks the REPLICATION attribute: run ALTER ROLE \"{}\" REPLICATION (on RDS: GRANT rds_replication TO \"{}\")",
            cfg.user, cfg.user, cfg.user
        ));
    }

    let slot = catalog::slot_info(client, &cfg.slot_name).await?;
    let max_slots: String = one(client, "SHOW max_replication_slots").await?;
    let used_slots: i64 = one(client, "SELECT count(*) FROM pg_replication_slots").await?;
    let max_slots: i64 = max_slots.parse().unwrap_or(0);
    let own = cfg.application_name();
    match &slot {
        // Streaming to a connector of this name: this one, when the worker checks it running.
        Some(s) if s.active && s.holder.as_deref() == Some(own.as_str()) => r.warnings.push(format!(
            "replication slot \"{}\" is streaming to {own} (a connector of this name): if this \
             connector is not running, another process runs one with its name",
            cfg.slot_name
        )),
        Some(s) if s.active => r.problem(None, format!(
            "replication slot \"{}\" is in use by another connection: stop it or choose another slot.name",
            cfg.slot_name
        )),
        Some(_) => r.passed.push(format!("slot \"{}\" exists and is free", cfg.slot_name)),
        None if used_slots >= max_slots => r.problem(None, format!(
            "no free replication slot ({used_slots} of max_replication_slots = {max_slots} used): raise \
             max_replication_slots (restart needed) or drop unused slots"
        )),
        None => r.passed.push(format!("{} of {max_slots} replication slots free", max_slots - used_slots)),
    }
    let max_senders: String = one(client, "SHOW max_wal_senders").await?;
    let senders: i64 = one(client, "SELECT count(*) FROM pg_stat_replication").await?;
    let max_senders: i64 = max_senders.parse().unwrap_or(0);
    if senders >= max_senders {
        r.problem(None, format!(
            "no free WAL sender ({senders} of max_wal_senders = {max_senders} in use): raise max_wal_senders (restart needed)"
        ));
    }

    // Inactive slots pin WAL until the disk fills.
    let rows = client
        .query(
            "SELECT slot_name::text, coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::int8 \
             FROM pg_replication_slots WHERE NOT active",
            &[],
        )
        .await
        .map_err(|e| catalog::query_error("reading inactive slots", &e))?;
    for row in rows {
        let name: String = row.get(0);
        let bytes: i64 = row.get(1);
        r.warnings.push(format!(
            "inactive replication slot \"{name}\" holds {bytes} bytes of WAL; if nothing will consume it, drop it: \
             SELECT pg_drop_replication_slot('{name}')"
        ));
    }

    // Publication and the tables it would capture.
    let exists: Option<bool> = client
        .query_opt(
            "SELECT puballtables FROM pg_publication WHERE pubname = $1",
            &[&cfg.publication_name],
        )
        .await
        .map_err(|e| catalog::query_error("reading pg_publication", &e))?
        .map(|row| row.get(0));
    if exists.is_none() {
        if cfg.publication_autocreate == PublicationAutocreate::Disabled {
            r.problem(None, format!(
                "publication \"{}\" does not exist and publication.autocreate.mode is disabled: CREATE PUBLICATION \"{}\" FOR ALL TABLES",
                cfg.publication_name, cfg.publication_name
            ));
        } else {
            let can_create: bool = one(
                client,
                "SELECT has_database_privilege(current_user, current_database(), 'CREATE')",
            )
            .await?;
            if can_create {
                r.passed.push(format!(
                    "publication \"{}\" will be created",
                    cfg.publication_name
                ));
            } else {
                r.problem(None, format!(
                    "publication \"{}\" does not exist and user \"{}\" cannot create it: GRANT CREATE ON DATABASE \"{}\" TO \"{}\", or create the publication yourself",
                    cfg.publication_name, cfg.user, cfg.dbname, cfg.user
                ));
            }
        }
    }
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text, c.relreplident::text, \
                    EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' \
             ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(|e| catalog::query_error("listing tables", &e))?;
    let mut captured = 0;
    for row in rows {
        let schema: String = row.get(0);
        let table: String = row.get(1);
        if !cfg.table_included(&schema, &table) {
            continue;
        }
        captured += 1;
        let ident: String = row.get(2);
        let has_pk: bool = row.get(3);
        if !has_pk && ident == "d" {
            r.problem(None, format!(
                "table \"{schema}\".\"{table}\" has no primary key and REPLICA IDENTITY DEFAULT: PostgreSQL rejects its \
                 UPDATEs and DELETEs once published; add a primary key or run ALTER TABLE \"{schema}\".\"{table}\" REPLICA IDENTITY FULL"
            ));
        } else if !has_pk && ident == "n" {
            r.problem(None, format!(
                "table \"{schema}\".\"{table}\" has REPLICA IDENTITY NOTHING: its UPDATEs and DELETEs cannot be captured; \
                 run ALTER TABLE \"{schema}\".\"{table}\" REPLICA IDENTITY FULL"
            ));
        } else if !has_pk {
            r.warnings.push(format!(
                "table \"{schema}\".\"{table}\" has no primary key: its events have a null key (set message.key.columns to key them)"
            ));
        }
    }
    if captured == 0 {
        r.warnings
            .push("no table matches the table/schema include and exclude lists".into());
    } else {
        r.passed.push(format!("{captured} table(s) captured"));
    }
    Ok(())
}
