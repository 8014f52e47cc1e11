//! A private PostgreSQL server from the installed binaries (`/usr/lib/postgresql/<v>/bin`).
//! PostgreSQL refuses to run as root, so as root (CI) it runs as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::{free_port, is_root, wait_for};

/// Settings for a private instance.
#[derive(Debug, Clone)]
pub struct PgOptions {
    pub wal_level: &'static str,
    /// Extra `-c name=value` settings.
    pub settings: Vec<(String, String)>,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            wal_level: "logical",
            settings: Vec::new(),
        }
    }
}

/// A running private PostgreSQL server. Stopped and deleted on drop.
pub struct PgInstance {
    pub port: u16,
    pub host: String,
    pub user: String,
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
}

impl PgInstance {
    /// Starts a server with `wal_level=logical`.
    pub fn start() -> Self {
        Self::start_with(PgOptions::default())
    }

    pub fn start_with(opts: PgOptions) -> Self {
        let bin = find_bin_dir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install them \
                 with `apt-get install postgresql` (the test command does this)"
            )
        });
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("runnel-pg-")
            .tempdir()
            .expect("create temp dir");
        let data = dir.path().join("data");
        if as_postgres {
            run_ok(
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(dir.path()),
            );
        }
        let inst = Self {
            port: free_port(),
            host: "127.0.0.1".to_string(),
            user: "postgres".to_string(),
            dir,
            bin,
            as_postgres,
        };
        run_ok(inst.command("initdb").args([
            "-D",
            data.to_str().unwrap(),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]));
        let log = inst.dir.path().join("postgres.log");
        // The port free_port found may be taken by another test's server before PostgreSQL
        // binds it (S3 servers open a dozen): then another port.
        let mut inst = inst;
        for attempt in 1.. {
            let mut conf = format!(
                "listen_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n\
                 wal_level = {}\nmax_replication_slots = 250\nmax_wal_senders = 250\n\
                 max_connections = 400\nwal_sender_timeout = '10s'\nfsync = off\n\
                 full_page_writes = off\nsynchronous_commit = off\nTimeZone = 'UTC'\n\
                 shared_buffers = '64MB'\nlogging_collector = off\n",
                inst.port,
                inst.dir.path().display(),
                opts.wal_level
            );
            for (k, v) in &opts.settings {
                conf.push_str(&format!("{k} = '{v}'\n"));
            }
            let conf_path = data.join("postgresql.auto.conf");
            std::fs::write(&conf_path, conf).expect("write postgresql.auto.conf");
            if as_postgres {
                run_ok(
                    Command::new("chown")
                        .arg("postgres:postgres")
                        .arg(&conf_path),
                );
            }
            let status = inst
                .command("pg_ctl")
                .args([
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-D",
                    data.to_str().unwrap(),
                    "-l",
                    log.to_str().unwrap(),
                ])
                .stdout(Stdio::null())
                .status()
                .expect("run pg_ctl start");
            if status.success() {
                break;
            }
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if attempt < 5 && text.contains("Address already in use") {
                inst.port = free_port();
                continue;
            }
            panic!("PostgreSQL did not start:\n{text}");
        }
        wait_for(
            "PostgreSQL to accept connections",
            Duration::from_secs(30),
            || {
                inst.psql_output("postgres", "SELECT 1")
                    .status
                    .success()
                    .then_some(())
            },
        );
        inst
    }

    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// A libpq/tokio-postgres connection string for `dbname`.
    pub fn conn_str(&self, dbname: &str) -> String {
        format!(
            "host={} port={} user={} dbname={dbname}",
            self.host, self.port, self.user
        )
    }

    /// Runs SQL with `psql` (ON_ERROR_STOP); panics with psql's output on failure.
    pub fn psql(&self, dbname: &str, sql: &str) -> String {
        let out = self.psql_output(dbname, sql);
        if !out.status.success() {
            panic!(
                "psql failed: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a SQL file with `psql` (ON_ERROR_STOP).
    pub fn psql_file(&self, dbname: &str, file: &Path) -> String {
        let out = self
            .psql_command(dbname)
            .arg("-f")
            .arg(file)
            .output()
            .expect("run psql");
        if !out.status.success() {
            panic!(
                "psql -f {} failed: {}",
                file.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// One value from a query (first column of the first row), trimmed.
    pub fn query_value(&self, dbname: &str, sql: &str) -> String {
        let out = self
            .psql_command(dbname)
            .args(["-At", "-c", sql])
            .output()
            .expect("run psql");
        if !out.status.success() {
            panic!("psql failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Like [`Self::query_value`], `None` when the query fails (a table not there yet).
    pub fn try_query_value(&self, dbname: &str, sql: &str) -> Option<String> {
        let out = self
            .psql_command(dbname)
            .args(["-At", "-c", sql])
            .output()
            .expect("run psql");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn psql_output(&self, dbname: &str, sql: &str) -> Output {
        self.psql_command(dbname)
            .args(["-c", sql])
            .output()
            .expect("run psql")
    }

    fn psql_command(&self, dbname: &str) -> Command {
        let mut c = Command::new(self.bin.join("psql"));
        c.args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            &self.host,
            "-p",
            &self.port.to_string(),
            "-U",
            &self.user,
            "-d",
            dbname,
        ]);
        c.env("PGTZ", "UTC").stdin(Stdio::null());
        c
    }

    pub fn create_database(&self, name: &str) {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
    }

    /// Stops the server (fast shutdown: clients are disconnected), keeping its data.
    pub fn stop(&self) {
        run_ok(
            self.command("pg_ctl")
                .args(["stop", "-m", "fast", "-w", "-t", "60", "-D"])
                .arg(self.data_dir()),
        );
    }

    /// Starts a server stopped with [`PgInstance::stop`] again, on the same port and data.
    pub fn resume(&self) {
        run_ok(
            self.command("pg_ctl")
                .args(["start", "-w", "-t", "60", "-D"])
                .arg(self.data_dir())
                .arg("-l")
                .arg(self.log_path()),
        );
    }
}

impl Drop for PgInstance {
    fn drop(&mut self) {
        let data = self.data_dir();
        let _ = self
            .command("pg_ctl")
            .args(["stop", "-m", "immediate", "-w", "-t", "30", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn find_bin_dir() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("postgres").exists() && p.join("initdb").exists())
        .collect();
    // Prefer the newest major version.
    candidates.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    candidates.pop()
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
