//! Connections to the server: options from the config (TLS per `database.ssl.mode`, the
//! session settings every connection needs), server errors turned into messages that say what
//! to do, and the server facts the source depends on.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, SslOpts};
use runnel_core::{Error, Result};

use crate::config::{MySqlConfig, SslMode};

/// What the server is and how its binlog is set up.
#[derive(Debug, Clone)]
pub struct ServerFacts {
    pub version: String,
    pub mariadb: bool,
    pub log_bin: bool,
    pub binlog_format: String,
    pub binlog_row_image: String,
    pub server_id: u32,
}

/// Turns a driver error into runnel's, naming the server and what to check.
pub fn error(cfg: &MySqlConfig, what: &str, e: mysql_async::Error) -> Error {
    let at = format!("{}:{}", cfg.host, cfg.port);
    match &e {
        mysql_async::Error::Server(s) => match s.code {
            // ER_ACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR
            1045 | 1044 => Error::prerequisite(format!(
                "{what}: the server at {at} refused user \"{}\": {} (check database.user and \
                 database.password)",
                cfg.user, s.message
            ))
            .with_key("database.password"),
            // ER_SPECIFIC_ACCESS_DENIED_ERROR, ER_TABLEACCESS_DENIED_ERROR, ER_PROCACCESS…
            1227 | 1142 | 1143 | 1370 => Error::prerequisite(format!(
                "{what}: {} — grant the connector's user what it needs: GRANT SELECT, RELOAD, \
                 SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '{}' (MariaDB \
                 10.5+: also BINLOG MONITOR, SLAVE MONITOR)",
                s.message, cfg.user
            )),
            // ER_MASTER_FATAL_ERROR_READING_BINLOG: purged or unknown position
            1236 => Error::prerequisite(format!(
                "{what}: the server at {at} cannot send the binlog from the stored position: {}. \
                 The changes since then are gone from the server's binlogs (raise \
                 expire_logs_days / binlog_expire_logs_seconds); set \"snapshot.mode\": \
                 \"when_needed\" to take a new snapshot, or reset the connector's offsets",
                s.message
            )),
            _ => Error::connection(format!(
                "{what}: server error {} at {at}: {}",
                s.code, s.message
            )),
        }
        .caused_by(e),
        mysql_async::Error::Io(_) => Error::connection(format!(
            "{what}: cannot reach the server at {at}: {e} (check database.hostname and \
             database.port, and that the server is running)"
        ))
        .caused_by(e),
        _ => Error::connection(format!("{what}: {at}: {e}")).caused_by(e),
    }
}

fn builder(cfg: &MySqlConfig, tls: bool) -> OptsBuilder {
    let mut init = vec![
        // Text of every value in UTF-8; TIMESTAMPs in UTC (snapshot reads).
        "SET NAMES utf8mb4".to_string(),
        "SET time_zone = '+00:00'".to_string(),
    ];
    init.extend(cfg.initial_statements.iter().cloned());
    let mut b = OptsBuilder::default()
        .ip_or_hostname(cfg.host.clone())
        .tcp_port(cfg.port)
        .user(Some(cfg.user.clone()))
        .pass(Some(cfg.password.clone()))
        .prefer_socket(false)
        .tcp_keepalive(Some(Duration::from_secs(30)))
        .stmt_cache_size(0)
        .init(init);
    if tls {
        let mut ssl = SslOpts::default();
        match cfg.ssl {
            SslMode::VerifyIdentity => {}
            SslMode::VerifyCa => ssl = ssl.with_danger_skip_domain_validation(true),
            _ => ssl = ssl.with_danger_accept_invalid_certs(true),
        }
        if let Some(ca) = &cfg.ssl_ca {
            ssl = ssl.with_root_certs(vec![std::path::PathBuf::from(ca).into()]);
        }
        b = b.ssl_opts(Some(ssl));
    }
    b
}

/// Opens a connection within `connect.timeout.ms`. `preferred` TLS falls back to plain when
/// the server offers none.
pub async fn connect(cfg: &MySqlConfig, what: &str) -> Result<Conn> {
    let timeout = Duration::from_millis(cfg.connect_timeout_ms);
    let attempt = |tls: bool| async move {
        match tokio::time::timeout(timeout, Conn::new(builder(cfg, tls))).await {
            Ok(r) => r,
            Err(_) => Err(mysql_async::Error::Other(
                format!(
                    "no answer within {} ms (connect.timeout.ms)",
                    cfg.connect_timeout_ms
                )
                .into(),
            )),
        }
    };
    let result = match cfg.ssl {
        SslMode::Disabled => attempt(false).await,
        SslMode::Preferred => match attempt(true).await {
            Err(mysql_async::Error::Driver(
                mysql_async::DriverError::NoClientSslFlagFromServer,
            )) => attempt(false).await,
            other => other,
        },
        _ => attempt(true).await,
    };
    result.map_err(|e| match e {
        mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer) => {
            Error::prerequisite(format!(
                "{what}: database.ssl.mode is {:?} but the server at {}:{} does not offer TLS; \
                 enable TLS on the server or set \"database.ssl.mode\": \"preferred\"",
                cfg.ssl, cfg.host, cfg.port
            ))
        }
        mysql_async::Error::Other(m) => Error::connection(format!(
            "{what}: cannot reach the server at {}:{}: {m} (check database.hostname and database.port)",
            cfg.host, cfg.port
        )),
        e => error(cfg, what, e),
    })
}

/// One server variable's value (`None` when the server has no such variable).
pub async fn variable(conn: &mut Conn, cfg: &MySqlConfig, name: &str) -> Result<Option<String>> {
    let rows: Vec<(String, Option<String>)> = conn
        .query(format!("SHOW GLOBAL VARIABLES LIKE '{name}'"))
        .await
        .map_err(|e| error(cfg, "reading server variables", e))?;
    Ok(rows.into_iter().next().and_then(|(_, v)| v))
}

pub async fn facts(conn: &mut Conn, cfg: &MySqlConfig) -> Result<ServerFacts> {
    let version: Option<String> = conn
        .query_first("SELECT VERSION()")
        .await
        .map_err(|e| error(cfg, "reading the server version", e))?;
    let version = version.unwrap_or_default();
    let var = |v: Option<String>| v.unwrap_or_default();
    Ok(ServerFacts {
        mariadb: version.to_ascii_lowercase().contains("mariadb"),
        version,
        log_bin: var(variable(conn, cfg, "log_bin").await?).eq_ignore_ascii_case("ON"),
        binlog_format: var(variable(conn, cfg, "binlog_format").await?).to_ascii_uppercase(),
        binlog_row_image: var(variable(conn, cfg, "binlog_row_image").await?).to_ascii_uppercase(),
        server_id: var(variable(conn, cfg, "server_id").await?)
            .parse()
            .unwrap_or(0),
    })
}

/// The binlog settings row capture needs, each with how to fix it.
pub fn binlog_problems(f: &ServerFacts) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if !f.log_bin {
        out.push((
            "log_bin",
            "the server's binary log is off (log_bin=OFF): start the server with --log-bin \
             (and --server-id) so that changes can be read"
                .to_string(),
        ));
    }
    if f.log_bin && f.binlog_format != "ROW" {
        out.push((
            "binlog_format",
            format!(
                "binlog_format is {} but row capture needs ROW: SET GLOBAL binlog_format = 'ROW' \
                 (and in the server's configuration)",
                f.binlog_format
            ),
        ));
    }
    if f.log_bin && !f.binlog_row_image.is_empty() && f.binlog_row_image != "FULL" {
        out.push((
            "binlog_row_image",
            format!(
                "binlog_row_image is {} but change events need every column: SET GLOBAL \
                 binlog_row_image = 'FULL' (and in the server's configuration)",
                f.binlog_row_image
            ),
        ));
    }
    out
}

/// The current end of the binlog: (file, position, GTID position when the server has one).
pub async fn binlog_end(
    conn: &mut Conn,
    cfg: &MySqlConfig,
    mariadb: bool,
) -> Result<(String, u64, Option<String>)> {
    let row: Option<mysql_async::Row> = conn
        .query_first("SHOW MASTER STATUS")
        .await
        .map_err(|e| error(cfg, "reading the binlog position (SHOW MASTER STATUS)", e))?;
    let row = row.ok_or_else(|| {
        Error::prerequisite("SHOW MASTER STATUS returned nothing: the server's binary log is off; start it with --log-bin")
    })?;
    let text = |i: usize| match row.as_ref(i) {
        Some(mysql_async::Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(mysql_async::Value::Int(v)) => v.to_string(),
        Some(mysql_async::Value::UInt(v)) => v.to_string(),
        _ => String::new(),
    };
    let (file, pos) = (text(0), text(1).parse().unwrap_or(4));
    let gtids = if mariadb {
        conn.query_first::<Option<String>, _>(format!("SELECT BINLOG_GTID_POS('{file}', {pos})"))
            .await
            .map_err(|e| error(cfg, "reading the GTID position", e))?
            .flatten()
    } else {
        Some(text(4)).filter(|g| !g.is_empty())
    };
    Ok((file, pos, gtids))
}
