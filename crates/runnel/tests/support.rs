//! Helpers shared by the integration tests: a private PostgreSQL, the `runnel` binary as a child
//! process (always reaped), and readers of the file sink's JSON lines.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) use runnel_testkit::{PgInstance, wait_for};
use serde_json::{Value, json};

pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A connector config for `db` on `pg`, writing to `out` with the file sink.
pub(crate) fn pg_connector(
    pg: &PgInstance,
    name: &str,
    db: &str,
    slot: &str,
    out: &Path,
    extra: Value,
) -> Value {
    let mut config = json!({
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": pg.host,
        "database.port": pg.port.to_string(),
        "database.user": pg.user,
        "database.password": "",
        "database.dbname": db,
        "topic.prefix": db,
        "plugin.name": "pgoutput",
        "slot.name": slot,
        "publication.name": "dbz_publication",
        "sink.type": "file",
        "sink.file.path": out.display().to_string(),
        "poll.interval.ms": "50",
    });
    if let (Value::Object(c), Value::Object(e)) = (&mut config, extra) {
        c.extend(e);
    }
    json!({ "name": name, "config": config })
}

/// A running `runnel run`; killed and reaped on drop.
pub(crate) struct Runnel {
    child: Option<Child>,
    pub(crate) log: PathBuf,
}

impl Runnel {
    pub(crate) fn start(dir: &Path, configs: &[Value]) -> Self {
        Self::start_args(dir, configs, &[])
    }

    /// With the worker's Kafka cluster (`--bootstrap-servers`).
    pub(crate) fn start_with_kafka(dir: &Path, configs: &[Value], bootstrap: &str) -> Self {
        Self::start_args(dir, configs, &["--bootstrap-servers", bootstrap])
    }

    fn start_args(dir: &Path, configs: &[Value], extra: &[&str]) -> Self {
        let mut paths = Vec::new();
        for (i, c) in configs.iter().enumerate() {
            let p = dir.join(format!("connector-{i}.json"));
            std::fs::write(&p, serde_json::to_vec_pretty(c).unwrap()).unwrap();
            paths.push(p);
        }
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("runnel.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_runnel"))
            .arg("run")
            .args(&paths)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .args(extra)
            // RUNNEL_TEST_LOG=debug (or any filter) for a closer look at one test's runnel.
            .env(
                "RUNNEL_LOG",
                std::env::var("RUNNEL_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn runnel");
        Self {
            child: Some(child),
            log: dir.join("runnel.log"),
        }
    }

    /// SIGKILL, as a crash.
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit (at most 30 s).
    pub(crate) fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = c.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!(
                    "runnel did not stop within 30 s of SIGTERM; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    pub(crate) fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for Runnel {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Records written so far by the file sink (complete lines only).
pub(crate) fn records(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits until `pred` holds for the file's records.
pub(crate) fn wait_records(
    path: &Path,
    what: &str,
    timeout: Duration,
    runnel: &mut Runnel,
    pred: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let recs = records(path);
        if pred(&recs) {
            return recs;
        }
        if let Some(status) = runnel.exited() {
            panic!(
                "runnel exited ({status}) while waiting for {what}; log:\n{}",
                runnel.log_text()
            );
        }
        if Instant::now() > deadline {
            panic!(
                "timed out waiting for {what}: {} records so far; log:\n{}",
                recs.len(),
                runnel.log_text()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until the slot exists and a walsender streams from it.
pub(crate) fn wait_slot_active(pg: &PgInstance, db: &str, slot: &str, runnel: &mut Runnel) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let active = pg.query_value(
            db,
            &format!("SELECT active FROM pg_replication_slots WHERE slot_name = '{slot}'"),
        );
        if active == "t" {
            return;
        }
        if let Some(status) = runnel.exited() {
            panic!(
                "runnel exited ({status}) before streaming; log:\n{}",
                runnel.log_text()
            );
        }
        if Instant::now() > deadline {
            panic!(
                "slot {slot} never became active; log:\n{}",
                runnel.log_text()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn value_op(r: &Value) -> Option<String> {
    let v = r.get("value")?;
    let v = v.get("payload").unwrap_or(v);
    v.get("op").and_then(Value::as_str).map(str::to_string)
}

pub(crate) fn topic(r: &Value) -> &str {
    r.get("topic").and_then(Value::as_str).unwrap_or("")
}

/// Waits (at most `timeout`) for runnel to exit by itself; returns its status.
pub(crate) fn wait_exit(runnel: &mut Runnel, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = runnel.exited() {
            return status;
        }
        if Instant::now() > deadline {
            panic!(
                "runnel did not exit within {timeout:?}; log:\n{}",
                runnel.log_text()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `runnel check` on `config` (written into `dir`): its exit code and everything it printed,
/// which never holds a panic.
pub(crate) fn run_check(dir: &std::path::Path, config: &serde_json::Value) -> (i32, String) {
    let path = dir.join("c.json");
    std::fs::write(&path, serde_json::to_vec(config).unwrap()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runnel"))
        .arg("check")
        .arg(&path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("panicked") && !text.contains("RUST_BACKTRACE"),
        "{text}"
    );
    (out.status.code().unwrap_or(-1), text)
}
