//! A private MariaDB server (Debian's `mariadb-server`): its own datadir, socket and port,
//! binlog on with ROW format, full row images and strict GTIDs, as a CDC source needs.
//! `--no-defaults` keeps the machine's own `/etc/mysql` settings out.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use crate::process::ServerProcess;
use crate::{free_port, wait_for};

const INSTALL: &str = "apt-get install mariadb-server";

/// A running private MariaDB server; killed and deleted on drop.
pub struct MariaDb {
    pub port: u16,
    pub host: String,
    dir: tempfile::TempDir,
    process: ServerProcess,
    extra: Vec<String>,
}

impl MariaDb {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with extra `mariadbd` options (`--binlog-format=MIXED`, …), which
    /// come after the defaults and so override them.
    pub fn start_with(extra: &[&str]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("runnel-mariadb-")
            .tempdir()
            .expect("create temp dir");
        let data = dir.path().join("data");
        // mariadb-install-db bootstraps a server of its own; seen failing once when six tests
        // started servers at the same moment, so a failure is tried again on a fresh directory
        // before the test fails with what it printed.
        let mut failure = String::new();
        for attempt in 0..3 {
            if attempt > 0 {
                let _ = std::fs::remove_dir_all(&data);
                std::thread::sleep(Duration::from_millis(500));
            }
            let out = Command::new("mariadb-install-db")
                .args([
                    "--no-defaults",
                    "--user=root",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    "--skip-name-resolve",
                ])
                .arg(format!("--datadir={}", data.display()))
                .output()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot run mariadb-install-db: {e}; the test command installs it ({INSTALL})"
                    )
                });
            if out.status.success() {
                failure.clear();
                break;
            }
            failure = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            eprintln!(
                "mariadb-install-db failed (attempt {}): {failure}",
                attempt + 1
            );
        }
        if !failure.is_empty() {
            panic!("mariadb-install-db failed three times: {failure}");
        }
        let log = dir.path().join("mariadb.log");
        let mut db = Self {
            port: free_port(),
            host: "127.0.0.1".into(),
            process: ServerProcess::new(&log),
            dir,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        db.restart();
        db
    }

    fn server_command(&self) -> Command {
        let d = self.dir.path();
        let mut c = Command::new("mariadbd");
        c.args([
            "--no-defaults",
            "--user=root",
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            "--log-bin=rig-bin",
            "--binlog-format=ROW",
            "--binlog-row-image=FULL",
            "--server-id=1",
            "--gtid-strict-mode=1",
            "--log-slave-updates=1",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_general_ci",
            "--default-time-zone=+00:00",
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=48M",
            "--innodb-flush-log-at-trx-commit=2",
            "--sync-binlog=0",
            "--skip-innodb-doublewrite",
            "--max-connections=200",
            "--explicit-defaults-for-timestamp=ON",
        ])
        .arg(format!("--port={}", self.port))
        .arg(format!("--datadir={}", d.join("data").display()))
        .arg(format!("--socket={}", d.join("mysqld.sock").display()))
        .arg(format!("--pid-file={}", d.join("mysqld.pid").display()))
        .arg(format!("--tmpdir={}", d.display()))
        .args(&self.extra);
        c
    }

    /// (Re)starts the server on the same port and data; a running one is killed first (as a
    /// crash).
    pub fn restart(&mut self) {
        let mut cmd = self.server_command();
        self.process.start(&mut cmd, self.port, "mariadbd", INSTALL);
        wait_for("MariaDB to accept queries", Duration::from_secs(60), || {
            self.try_sql("SELECT 1").filter(|o| o.status.success())
        });
    }

    /// Kills the server (SIGKILL).
    pub fn kill(&mut self) {
        self.process.stop();
    }

    pub fn log_text(&self) -> String {
        self.process.log_text()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn client(&self) -> Command {
        let mut c = Command::new("mariadb");
        c.args([
            "--no-defaults",
            "--protocol=TCP",
            "-h",
            &self.host,
            "-u",
            "root",
            "--batch",
            "--skip-column-names",
        ])
        .arg(format!("--port={}", self.port))
        .arg("--default-character-set=utf8mb4");
        c
    }

    fn try_sql(&self, sql: &str) -> Option<Output> {
        self.client().args(["-e", sql]).output().ok()
    }

    /// Runs SQL (several statements allowed) as root; panics with the client's message on
    /// failure. Returns the output rows, tab-separated.
    pub fn sql(&self, sql: &str) -> String {
        let out = self.try_sql(sql).expect("run the mariadb client");
        if !out.status.success() {
            panic!(
                "mariadb failed on {sql:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs SQL in a database, as the client's `--database`.
    pub fn sql_in(&self, db: &str, sql: &str) -> String {
        let out = self
            .client()
            .args(["--database", db, "-e", sql])
            .output()
            .expect("run the mariadb client");
        if !out.status.success() {
            panic!(
                "mariadb failed on {sql:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a script file (it may use DELIMITER) in a database.
    pub fn source_file(&self, db: &str, path: &std::path::Path) {
        let file = std::fs::File::open(path).expect("open SQL file");
        let out = self
            .client()
            .args(["--database", db])
            .stdin(file)
            .output()
            .expect("run the mariadb client");
        if !out.status.success() {
            panic!(
                "mariadb failed on {}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// One value (first column of the first row), trimmed.
    pub fn value(&self, sql: &str) -> String {
        self.sql(sql)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string()
    }
}
