//! `runnel worker`: Kafka Connect's REST API against a running worker, checked endpoint by
//! endpoint for the status codes and JSON shapes Kafka Connect documents; secrets masked; a
//! failing connector beside a healthy one; configs, target states and offsets across a restart.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

/// A running `runnel worker`; killed and reaped on drop.
pub(crate) struct WorkerProcess {
    child: Option<Child>,
    base: String,
    log: std::path::PathBuf,
    token: Option<String>,
}

impl WorkerProcess {
    pub(crate) fn start(dir: &Path, port: u16, args: &[&str]) -> Self {
        Self::start_with_env(dir, port, args, &[])
    }

    /// Starts with more environment variables (a pod's, for the Kubernetes providers).
    pub(crate) fn start_with_env(
        dir: &Path,
        port: u16,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let log = dir.join("worker.log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_runnel"))
            .arg("worker")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--state-dir")
            .arg(dir.join("state"))
            .args(args)
            .env("RUNNEL_LOG", "info")
            .env("RUNNEL_TEST_SECRET", "hunter2-secret")
            .envs(env.iter().copied())
            .env_remove("RUNNEL_AUTH_TOKEN")
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn runnel worker");
        let token = args
            .iter()
            .position(|a| *a == "--auth-token")
            .map(|i| args[i + 1].to_string());
        let w = Self {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            log,
            token,
        };
        wait_for("the worker to answer", Duration::from_secs(30), || {
            (w.call("GET", "/health", None).0 == 200).then_some(())
        });
        w
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One request; returns the status and the JSON body (Null when empty).
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let url = format!("{}{path}", self.base);
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let body_text = body.map(|b| b.to_string()).unwrap_or_default();
        macro_rules! with_auth {
            ($req:expr) => {{
                let r = $req.header("Content-Type", "application/json");
                match &auth {
                    Some(a) => r.header("Authorization", a.as_str()),
                    None => r,
                }
            }};
        }
        let result = match method {
            "GET" => with_auth!(agent.get(&url)).call(),
            "DELETE" => with_auth!(agent.delete(&url)).call(),
            "POST" => with_auth!(agent.post(&url)).send(body_text.as_bytes()),
            "PUT" => with_auth!(agent.put(&url)).send(body_text.as_bytes()),
            "PATCH" => with_auth!(agent.patch(&url)).send(body_text.as_bytes()),
            _ => unreachable!(),
        };
        let Ok(mut resp) = result else {
            return (0, Value::Null);
        };
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    pub(crate) fn ok(&self, method: &str, path: &str, body: Option<&Value>, want: u16) -> Value {
        let (status, json) = self.call(method, path, body);
        assert_eq!(
            status,
            want,
            "{method} {path} answered {json}; log:\n{}",
            self.log_text()
        );
        json
    }

    fn task_state(&self, name: &str) -> String {
        let s = self.ok("GET", &format!("/connectors/{name}/status"), None, 200);
        s["tasks"][0]["state"]
            .as_str()
            .unwrap_or("none")
            .to_string()
    }

    fn wait_task_state(&self, name: &str, state: &str) {
        wait_for(
            &format!("{name}'s task to be {state}"),
            Duration::from_secs(60),
            || (self.task_state(name) == state).then_some(()),
        );
    }

    /// Sends a signal (`STOP`, `CONT`) to the worker.
    pub(crate) fn signal(&self, signal: &str) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .args([&format!("-{signal}"), &c.id().to_string()])
                .status();
        }
    }

    /// `kill -9`: no goodbye to anyone.
    pub(crate) fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            wait_for("the worker to stop", Duration::from_secs(30), || {
                c.try_wait().ok().flatten()
            });
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A test CA and a server certificate it signed for 127.0.0.1 (openssl), valid for a day:
/// (ca.pem, cert.pem, key.pem). rustls refuses a self-signed CA certificate as a server's.
fn test_certificates(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let (ca, ca_key) = (dir.join("ca.pem"), dir.join("ca.key"));
    let (cert, key, csr) = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("cert.csr"),
    );
    let ext = dir.join("cert.ext");
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let openssl = |args: &[&std::ffi::OsStr]| {
        let ok = Command::new("openssl")
            .args(args)
            .stderr(Stdio::null())
            .status()
            .expect("run openssl");
        assert!(ok.success(), "openssl {args:?}");
    };
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    openssl(&[
        os("req"),
        os("-x509"),
        os("-newkey"),
        os("rsa:2048"),
        os("-nodes"),
        os("-days"),
        os("1"),
        os("-subj"),
        os("/CN=runnel-test-ca"),
        os("-keyout"),
        ca_key.as_os_str(),
        os("-out"),
        ca.as_os_str(),
    ]);
    openssl(&[
        os("req"),
        os("-newkey"),
        os("rsa:2048"),
        os("-nodes"),
        os("-subj"),
        os("/CN=127.0.0.1"),
        os("-keyout"),
        key.as_os_str(),
        os("-out"),
        csr.as_os_str(),
    ]);
    openssl(&[
        os("x509"),
        os("-req"),
        os("-in"),
        csr.as_os_str(),
        os("-CA"),
        ca.as_os_str(),
        os("-CAkey"),
        ca_key.as_os_str(),
        os("-CAcreateserial"),
        os("-days"),
        os("1"),
        os("-extfile"),
        ext.as_os_str(),
        os("-out"),
        cert.as_os_str(),
    ]);
    (ca, cert, key)
}

/// A private PostgreSQL with database `shop` and its table `t (id, v)`, holding row 1 when
/// `with_row`.
fn shop(with_row: bool) -> PgInstance {
    let pg = PgInstance::start();
    pg.create_database("shop");
    pg.psql("shop", "CREATE TABLE t (id int PRIMARY KEY, v text)");
    if with_row {
        pg.psql("shop", "INSERT INTO t VALUES (1, 'one')");
    }
    pg
}

pub(crate) fn wait_file(path: &Path, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    wait_for(what, Duration::from_secs(60), || {
        let recs = records(path);
        pred(&recs).then_some(recs)
    })
}

/// Waits until a walsender streams from `slot` of database `db`.
fn wait_streaming(pg: &PgInstance, db: &str, slot: &str) {
    wait_for(
        &format!("slot {slot} to stream"),
        Duration::from_secs(60),
        || {
            (pg.query_value(
                db,
                &format!("SELECT active FROM pg_replication_slots WHERE slot_name = '{slot}'"),
            ) == "t")
                .then_some(())
        },
    );
}

pub(crate) fn has_row(recs: &[Value], id: i64) -> bool {
    recs.iter().any(|r| r["value"]["after"]["id"] == id)
}

#[test]
fn the_rest_api_manages_connectors_as_kafka_connect_does() {
    let pg = shop(true);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shop.jsonl");
    let port = runnel_testkit::free_port();
    let mut w = WorkerProcess::start(dir.path(), port, &[]);

    // GET /, plugins, their config definitions.
    let root = w.ok("GET", "/", None, 200);
    assert!(root["version"].is_string() && root.get("commit").is_some());
    let plugins = w.ok("GET", "/connector-plugins", None, 200);
    assert!(plugins.as_array().unwrap().iter().any(|p| p["class"]
        == "io.debezium.connector.postgresql.PostgresConnector"
        && p["type"] == "source"));
    let defs = w.ok(
        "GET",
        "/connector-plugins/PostgresConnector/config",
        None,
        200,
    );
    let hostname = defs
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "database.hostname")
        .expect("database.hostname defined");
    for field in [
        "type",
        "required",
        "default_value",
        "importance",
        "documentation",
        "order",
    ] {
        assert!(hostname.get(field).is_some(), "definition lacks {field}");
    }

    // A config whose password comes from the environment (config provider).
    let cfg = pg_connector(
        &pg,
        "shop",
        "shop",
        "shop",
        &out,
        json!({"database.password": "${env:RUNNEL_TEST_SECRET}",
               "key.converter.schemas.enable": "false", "value.converter.schemas.enable": "false"}),
    );

    // Validation in Kafka Connect's shape: a misspelled key is an error; the password hidden.
    let mut bad = cfg["config"].clone();
    bad["slot.nme"] = json!("x");
    bad["database.password"] = json!("plain-secret");
    let v = w.ok(
        "PUT",
        "/connector-plugins/io.debezium.connector.postgresql.PostgresConnector/config/validate",
        Some(&bad),
        200,
    );
    assert_eq!(v["error_count"], 1, "{v}");
    let entry = |name: &str| -> Value {
        v["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["value"]["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(entry("database.password")["value"]["value"], "[hidden]");
    assert_eq!(entry("database.password")["definition"]["type"], "PASSWORD");
    let misspelled = entry("slot.nme");
    assert!(
        misspelled["value"]["errors"][0]
            .as_str()
            .unwrap()
            .contains("did you mean \"slot.name\""),
        "{misspelled}"
    );
    assert!(!v.to_string().contains("plain-secret"));

    // POST /connectors: 400 for an invalid config, 201 for a good one, 409 for a duplicate.
    let e = w.ok(
        "POST",
        "/connectors",
        Some(&json!({"name": "shop", "config": bad})),
        400,
    );
    assert_eq!(e["error_code"], 400);
    assert!(e["message"].as_str().unwrap().contains("slot.nme"));
    let created = w.ok("POST", "/connectors", Some(&cfg), 201);
    assert_eq!(created["name"], "shop");
    assert_eq!(created["type"], "source");
    assert_eq!(created["tasks"], json!([{"connector": "shop", "task": 0}]));
    assert_eq!(created["config"]["name"], "shop");
    let dup = w.ok("POST", "/connectors", Some(&cfg), 409);
    assert_eq!(dup["message"], "Connector shop already exists");

    // It runs: the snapshot and a change reach the file.
    w.wait_task_state("shop", "RUNNING");
    wait_file(&out, "the snapshot", |r| has_row(r, 1));
    pg.psql("shop", "INSERT INTO t VALUES (2, 'two')");
    wait_file(&out, "a streamed insert", |r| has_row(r, 2));

    // A failing connector beside it (its publication is missing and it may not create one:
    // the connection is fine, so it is accepted, and fails when it starts) never disturbs it.
    let mut failing = pg_connector(
        &pg,
        "broken",
        "shop",
        "broken",
        &dir.path().join("broken.jsonl"),
        json!({"publication.name": "missing_pub", "publication.autocreate.mode": "disabled"}),
    );
    failing["initial_state"] = json!("RUNNING");
    w.ok("POST", "/connectors", Some(&failing), 201);
    wait_for(
        "the broken connector to report its error",
        Duration::from_secs(60),
        || {
            let s = w.ok("GET", "/connectors/broken/status", None, 200);
            let state = s["tasks"][0]["state"].as_str().unwrap_or("").to_string();
            ((state == "FAILED" || state == "RESTARTING") && s["tasks"][0]["trace"].is_string())
                .then_some(())
        },
    );
    pg.psql("shop", "INSERT INTO t VALUES (3, 'three')");
    wait_file(&out, "a change while the other connector fails", |r| {
        has_row(r, 3)
    });
    assert_eq!(w.task_state("shop"), "RUNNING");

    // Listing, with and without expand.
    let names = w.ok("GET", "/connectors", None, 200);
    assert_eq!(names, json!(["broken", "shop"]));
    let expanded = w.ok("GET", "/connectors?expand=status&expand=info", None, 200);
    assert_eq!(expanded["shop"]["status"]["connector"]["state"], "RUNNING");
    assert_eq!(expanded["shop"]["info"]["type"], "source");

    // Info, config (the placeholder, not the secret), tasks, task status, topics.
    let info = w.ok("GET", "/connectors/shop", None, 200);
    assert_eq!(
        info["config"]["database.password"],
        "${env:RUNNEL_TEST_SECRET}"
    );
    let config = w.ok("GET", "/connectors/shop/config", None, 200);
    assert_eq!(config["database.password"], "${env:RUNNEL_TEST_SECRET}");
    let tasks = w.ok("GET", "/connectors/shop/tasks", None, 200);
    assert_eq!(tasks[0]["id"], json!({"connector": "shop", "task": 0}));
    let ts = w.ok("GET", "/connectors/shop/tasks/0/status", None, 200);
    assert_eq!(ts["id"], 0);
    assert_eq!(ts["state"], "RUNNING");
    assert_eq!(ts["worker_id"], format!("127.0.0.1:{port}"));
    w.ok("GET", "/connectors/shop/tasks/7/status", None, 404);
    let topics = w.ok("GET", "/connectors/shop/topics", None, 200);
    assert_eq!(topics, json!({"shop": {"topics": ["shop.public.t"]}}));

    // Metrics per connector.
    let (status, metrics) = w.call("GET", "/metrics", None);
    assert_eq!(status, 200);
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    let written = metrics
        .lines()
        .find(|l| l.starts_with("runnel_connector_events_written_total{") && l.contains("\"shop\""))
        .unwrap_or_else(|| panic!("no events metric:\n{metrics}"));
    let n: f64 = written.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 3.0, "{written}");
    for (metric, want) in [
        ("snapshot_tables_total", "1.0"),
        ("snapshot_tables_done", "1.0"),
        ("snapshot_rows", "1.0"),
        ("snapshot_running", "0.0"),
    ] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with(&format!("runnel_connector_{metric}{{"))
                    && l.contains("\"shop\"")
                    && l.ends_with(&format!(" {want}"))),
            "{metric} != {want}:\n{metrics}"
        );
    }

    // Pause and resume (202), restart (204; 202 with a status when asked for tasks).
    w.ok("PUT", "/connectors/shop/pause", None, 202);
    let s = w.ok("GET", "/connectors/shop/status", None, 200);
    assert_eq!(s["connector"]["state"], "PAUSED");
    assert_eq!(s["tasks"][0]["state"], "PAUSED");
    pg.psql("shop", "INSERT INTO t VALUES (4, 'four')");
    w.ok("PUT", "/connectors/shop/resume", None, 202);
    wait_file(&out, "the change made while paused", |r| has_row(r, 4));
    w.ok("POST", "/connectors/shop/restart", None, 204);
    let r = w.ok(
        "POST",
        "/connectors/shop/restart?includeTasks=true&onlyFailed=false",
        None,
        202,
    );
    assert_eq!(r["name"], "shop");
    w.ok("POST", "/connectors/shop/tasks/0/restart", None, 204);
    w.wait_task_state("shop", "RUNNING");

    // Offsets (KIP-875): only when STOPPED.
    let offsets = w.ok("GET", "/connectors/shop/offsets", None, 200);
    assert_eq!(
        offsets["offsets"][0]["partition"],
        json!({"server": "shop"})
    );
    assert!(offsets["offsets"][0]["offset"]["lsn"].is_u64(), "{offsets}");
    let e = w.ok("DELETE", "/connectors/shop/offsets", None, 400);
    assert!(e["message"].as_str().unwrap().contains("STOPPED state"));
    w.ok("PUT", "/connectors/shop/stop", None, 204);
    let s = w.ok("GET", "/connectors/shop/status", None, 200);
    assert_eq!(s["connector"]["state"], "STOPPED");
    assert_eq!(s["tasks"], json!([]));
    let lsn = offsets["offsets"][0]["offset"]["lsn"].clone();
    let altered = w.ok(
        "PATCH",
        "/connectors/shop/offsets",
        Some(&json!({"offsets": [{"partition": {"server": "shop"}, "offset": {"lsn": lsn}}]})),
        200,
    );
    assert_eq!(
        altered["message"],
        "The offsets for this connector have been altered successfully"
    );

    // Config updates: PUT (200 for an existing connector, 201 for a new one) and PATCH.
    let mut updated = cfg["config"].clone();
    updated["poll.interval.ms"] = json!("100");
    let u = w.ok("PUT", "/connectors/shop/config", Some(&updated), 200);
    assert_eq!(u["config"]["poll.interval.ms"], "100");
    let p = w.ok(
        "PATCH",
        "/connectors/shop/config",
        Some(&json!({"poll.interval.ms": null, "heartbeat.interval.ms": "0"})),
        200,
    );
    assert!(p["config"].get("poll.interval.ms").is_none());
    assert_eq!(p["config"]["heartbeat.interval.ms"], "0");
    let mut other = cfg["config"].clone();
    other["slot.name"] = json!("other");
    other["sink.file.path"] = json!(dir.path().join("other.jsonl").display().to_string());
    w.ok("PUT", "/connectors/other/config", Some(&other), 201);
    w.ok("DELETE", "/connectors/other", None, 204);
    w.ok("GET", "/connectors/other", None, 404);

    // Loggers.
    let loggers = w.ok("GET", "/admin/loggers", None, 200);
    assert_eq!(loggers["root"]["level"], "INFO");
    let changed = w.ok(
        "PUT",
        "/admin/loggers/runnel_postgres",
        Some(&json!({"level": "DEBUG"})),
        200,
    );
    assert_eq!(changed, json!(["runnel_postgres"]));
    w.ok(
        "PUT",
        "/admin/loggers/root",
        Some(&json!({"level": "LOUD"})),
        400,
    );

    // Errors in Kafka Connect's shape for unknown paths and methods.
    let e = w.ok("GET", "/nope", None, 404);
    assert_eq!(e["error_code"], 404);
    w.ok("DELETE", "/connectors", None, 405);

    // Restart the worker: configs, target states and offsets are still there.
    w.stop();
    let w = WorkerProcess::start(dir.path(), port, &[]);
    assert_eq!(
        w.ok("GET", "/connectors", None, 200),
        json!(["broken", "shop"])
    );
    let s = w.ok("GET", "/connectors/shop/status", None, 200);
    assert_eq!(s["connector"]["state"], "STOPPED", "{s}");
    let offsets = w.ok("GET", "/connectors/shop/offsets", None, 200);
    assert_eq!(offsets["offsets"][0]["offset"]["lsn"], lsn);
    pg.psql("shop", "INSERT INTO t VALUES (5, 'five')");
    w.ok("PUT", "/connectors/shop/resume", None, 202);
    wait_file(&out, "a change after the worker restarted", |r| {
        has_row(r, 5)
    });
    w.ok("DELETE", "/connectors/broken", None, 204);

    // The secret never reached a response or the log.
    assert!(
        !w.log_text().contains("hunter2-secret"),
        "the secret is in the log"
    );
}

#[test]
fn the_api_can_require_a_token_and_be_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let port = runnel_testkit::free_port();
    let w = WorkerProcess::start(dir.path(), port, &["--auth-token", "t0ken", "--read-only"]);
    // With the token: reads are served, writes refused (read-only).
    w.ok("GET", "/connectors", None, 200);
    let e = w.ok(
        "POST",
        "/connectors",
        Some(&json!({"name": "x", "config": {}})),
        403,
    );
    assert_eq!(e["error_code"], 403);
    // Without it: 401, except /health.
    let anonymous = WorkerProcess {
        child: None,
        base: w.base.clone(),
        log: w.log.clone(),
        token: None,
    };
    let e = anonymous.ok("GET", "/connectors", None, 401);
    assert_eq!(e["error_code"], 401);
    anonymous.ok("GET", "/health", None, 200);
    let wrong = WorkerProcess {
        child: None,
        base: w.base.clone(),
        log: w.log.clone(),
        token: Some("t0ken-not".into()),
    };
    wrong.ok("GET", "/connectors", None, 401);
}

/// Two stopped connectors whose slots pin WAL past their limit: one warns (status, metric),
/// the other's slot is dropped by policy and the connector says how to start again.
#[test]
fn a_slot_holding_too_much_wal_warns_or_is_dropped_by_policy() {
    let pg = shop(false);
    let dir = tempfile::tempdir().unwrap();
    let port = runnel_testkit::free_port();
    let w = WorkerProcess::start(dir.path(), port, &["--slot-check-interval-ms", "300"]);
    for (name, policy) in [("warned", "warn"), ("dropped", "drop")] {
        let cfg = pg_connector(
            &pg,
            name,
            "shop",
            name,
            &dir.path().join(format!("{name}.jsonl")),
            json!({"slot.max.retained.wal.bytes": "1048576", "slot.retained.wal.policy": policy,
                   "snapshot.mode": "no_data"}),
        );
        w.ok("POST", "/connectors", Some(&cfg), 201);
    }
    for name in ["warned", "dropped"] {
        wait_streaming(&pg, "shop", name);
        w.ok("PUT", &format!("/connectors/{name}/stop"), None, 204);
    }
    // About 8 MB of WAL that no connector consumes.
    pg.psql(
        "shop",
        "INSERT INTO t SELECT g, repeat('x', 1000) FROM generate_series(1, 8000) g",
    );

    let status = wait_for("the warning", Duration::from_secs(60), || {
        let s = w.ok("GET", "/connectors/warned/status", None, 200);
        s["connector"]["warning"].is_string().then_some(s)
    });
    let warning = status["connector"]["warning"].as_str().unwrap();
    assert!(
        warning.contains("slot.max.retained.wal.bytes") && warning.contains("\"warned\""),
        "{warning}"
    );
    assert_eq!(status["connector"]["state"], "STOPPED");
    let (_, metrics) = w.call("GET", "/metrics", None);
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("runnel_connector_slot_retained_wal_bytes{") && l.contains("\"warned\"")
        })
        .unwrap_or_else(|| panic!("no retained-WAL metric:\n{metrics}"));
    let bytes: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(bytes > 1_048_576.0, "{line}");
    // The history a console charts (a sample every 5 s): the retained WAL among its samples.
    let history = wait_for(
        "a history sample of the retained WAL",
        Duration::from_secs(30),
        || {
            let h = w.ok("GET", "/connectors/warned/history", None, 200);
            h["retained_wal_bytes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v.as_u64().is_some_and(|b| b > 1_048_576))
                .then_some(h)
        },
    );
    assert_eq!(history["interval_ms"], 5000);
    assert_eq!(
        history["at_ms"].as_array().unwrap().len(),
        history["records_per_s"].as_array().unwrap().len()
    );
    w.ok("GET", "/connectors/nope/history", None, 404);
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("runnel_connector_slot_wal_warning{")
                && l.contains("\"warned\"")
                && l.ends_with(" 1.0")),
        "{metrics}"
    );

    let status = wait_for("the drop", Duration::from_secs(60), || {
        let s = w.ok("GET", "/connectors/dropped/status", None, 200);
        (s["connector"]["state"] == "FAILED").then_some(s)
    });
    let trace = status["connector"]["trace"].as_str().unwrap();
    assert!(
        trace.contains("slot was dropped") && trace.contains("DELETE /connectors/dropped/offsets"),
        "{trace}"
    );
    assert_eq!(
        pg.query_value(
            "shop",
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'dropped'"
        ),
        "0"
    );
    // The warned connector's slot is kept.
    assert_eq!(
        pg.query_value(
            "shop",
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'warned'"
        ),
        "1"
    );
}

/// `runnel connectors …` against a worker: create from a file, list as a table and as JSON,
/// status, stop, offsets, delete; an API error is one line and exit code 2.
#[test]
fn the_connectors_command_drives_a_worker() {
    let dir = tempfile::tempdir().unwrap();
    let port = runnel_testkit::free_port();
    let w = WorkerProcess::start(dir.path(), port, &["--auth-token", "t0ken"]);
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_runnel"))
            .arg("connectors")
            .args(["--url", &w.base, "--token", "t0ken"])
            .args(args)
            .env_remove("RUNNEL_URL")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // A connector on a live database (validation connects to it, as Debezium's does).
    let pg = PgInstance::start();
    pg.create_database("d");
    let file = dir.path().join("c.json");
    let cfg = json!({"name": "orders", "config": {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": pg.host, "database.port": pg.port.to_string(),
        "database.user": pg.user, "database.dbname": "d", "topic.prefix": "orders",
        "sink.type": "file", "sink.file.path": dir.path().join("o.jsonl").display().to_string()}});
    std::fs::write(&file, cfg.to_string()).unwrap();
    let (code, out, err) = cli(&["create", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "created orders\n");
    let (code, out, _) = cli(&["list"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("TASK"),
        "{out}"
    );
    assert!(lines[1].starts_with("orders  source  RUNNING"), "{out}");
    let (_, out, _) = cli(&["-o", "json", "list"]);
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["orders"]["status"]["type"], "source");
    let (code, out, _) = cli(&["stop", "orders"]);
    assert_eq!((code, out.as_str()), (0, "orders: stopped\n"));
    let (_, out, _) = cli(&["status", "orders"]);
    assert!(
        out.starts_with("orders (source): connector STOPPED"),
        "{out}"
    );
    let (code, out, _) = cli(&["offsets", "orders", "--reset"]);
    assert_eq!(code, 0);
    assert!(out.contains("reset successfully"), "{out}");
    let (code, out, _) = cli(&["delete", "orders"]);
    assert_eq!((code, out.as_str()), (0, "orders: deleted\n"));
    let (code, _, err) = cli(&["status", "orders"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("Connector orders not found (HTTP 404)"),
        "{err}"
    );
}

/// `--tls-cert`/`--tls-key`: the API speaks HTTPS (checked with curl against the certificate).
#[test]
fn the_api_serves_https_with_a_pem_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_certificates(dir.path());
    let port = runnel_testkit::free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_runnel"))
        .arg("worker")
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Reaped on drop, also when an assertion fails.
    let _worker = WorkerProcess {
        child: Some(child),
        base: String::new(),
        log: dir.path().join("none.log"),
        token: None,
    };
    let curl = |url: &str| {
        Command::new("curl")
            .args(["-s", "--max-time", "5", "--cacert"])
            .arg(&ca)
            .arg(url)
            .output()
            .map(|o| {
                (
                    o.status.success(),
                    String::from_utf8_lossy(&o.stdout).into_owned(),
                )
            })
            .unwrap_or((false, String::new()))
    };
    let https = format!("https://127.0.0.1:{port}/connectors");
    let body = wait_for("the HTTPS API", Duration::from_secs(30), || {
        let (ok, body) = curl(&https);
        ok.then_some(body)
    });
    assert_eq!(body, "[]");
    // Plain HTTP on the same port gets no API answer.
    let (_, body) = curl(&format!("http://127.0.0.1:{port}/connectors"));
    assert_ne!(body, "[]");
}

/// What third-party Kafka Connect clients rely on: trailing slashes, the KIP-745 restart plan,
/// an empty offsets PATCH refused, validation that reports an unreachable database on
/// `database.hostname` (so `POST` answers 400), lists its groups and creates nothing.
#[test]
fn the_rest_api_answers_as_kafka_connect_clients_expect() {
    let pg = shop(false);
    let dir = tempfile::tempdir().unwrap();
    let port = runnel_testkit::free_port();
    let w = WorkerProcess::start(dir.path(), port, &[]);
    let validate =
        "/connector-plugins/io.debezium.connector.postgresql.PostgresConnector/config/validate";

    // Transforms and predicates are plugins too, as Kafka Connect lists them.
    let all = w.ok("GET", "/connector-plugins?connectorsOnly=false", None, 200);
    let has = |class: &str, ty: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .any(|p| p["class"] == class && p["type"] == ty)
    };
    assert!(
        has(
            "io.debezium.transforms.ExtractNewRecordState",
            "transformation"
        ),
        "{all}"
    );
    assert!(
        has(
            "org.apache.kafka.connect.transforms.InsertField$Key",
            "transformation"
        ),
        "{all}"
    );
    assert!(
        has(
            "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            "predicate"
        ),
        "{all}"
    );
    assert!(
        has("org.apache.kafka.connect.json.JsonConverter", "converter"),
        "{all}"
    );
    let only = w.ok("GET", "/connector-plugins", None, 200);
    assert!(
        only.as_array()
            .unwrap()
            .iter()
            .all(|p| p["type"] == "source" || p["type"] == "sink"),
        "{only}"
    );
    let defs = w.ok(
        "GET",
        "/connector-plugins/org.apache.kafka.connect.transforms.RegexRouter/config",
        None,
        200,
    );
    let names: Vec<&str> = defs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["regex", "replacement"], "{defs}");

    // Validation creates nothing: the file sink's directory does not exist before or after.
    let not_there = dir.path().join("not/yet/there");
    let cfg = pg_connector(
        &pg,
        "shop",
        "shop",
        "shop",
        &not_there.join("out.jsonl"),
        json!({}),
    );
    let v = w.ok("PUT", validate, Some(&cfg["config"]), 200);
    assert_eq!(v["error_count"], 0, "{v}");
    assert!(
        !not_there.parent().unwrap().exists(),
        "validation created a directory"
    );
    let groups: Vec<&str> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for g in [
        "Common",
        "Transforms",
        "Error Handling",
        "CONNECTION",
        "CONNECTOR_SNAPSHOT",
    ] {
        assert!(groups.contains(&g), "no group {g} in {groups:?}");
    }
    let hostname = v["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["definition"]["name"] == "database.hostname")
        .unwrap();
    assert_eq!(hostname["definition"]["group"], "CONNECTION");

    // Exactly once required of a worker that does not have it: on its key, as Kafka Connect.
    let mut required = cfg.clone();
    required["config"]["exactly.once.support"] = json!("required");
    let v = w.ok("PUT", validate, Some(&required["config"]), 200);
    assert_eq!(v["error_count"], 1, "{v}");
    let on_key = v["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["value"]["name"] == "exactly.once.support")
        .unwrap();
    assert!(
        on_key["value"]["errors"][0]
            .as_str()
            .is_some_and(|m| m.contains("does not have exactly-once source support enabled")),
        "{on_key}"
    );

    // An unreachable database: the error is on database.hostname, and POST answers 400.
    let mut unreachable = cfg.clone();
    unreachable["config"]["database.port"] = json!(runnel_testkit::free_port().to_string());
    let v = w.ok("PUT", validate, Some(&unreachable["config"]), 200);
    assert_eq!(v["error_count"], 1, "{v}");
    let on_host = v["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["value"]["name"] == "database.hostname")
        .unwrap();
    let message = on_host["value"]["errors"][0].as_str().unwrap_or_default();
    assert!(message.contains("cannot connect"), "{on_host}");
    let e = w.ok("POST", "/connectors", Some(&unreachable), 400);
    assert!(
        e["message"].as_str().unwrap().contains("cannot connect"),
        "{e}"
    );
    w.ok("GET", "/connectors/shop", None, 404);

    // Trailing slashes are the same paths.
    w.ok("POST", "/connectors", Some(&cfg), 201);
    assert_eq!(w.ok("GET", "/connectors/", None, 200), json!(["shop"]));
    assert_eq!(w.ok("GET", "/connectors/shop/", None, 200)["name"], "shop");
    w.ok("GET", "/connectors/shop/status/", None, 200);
    w.wait_task_state("shop", "RUNNING");

    // A restart with includeTasks reports every restarted instance RESTARTING.
    let r = w.ok(
        "POST",
        "/connectors/shop/restart?includeTasks=true",
        None,
        202,
    );
    assert_eq!(r["connector"]["state"], "RESTARTING", "{r}");
    assert_eq!(r["tasks"][0]["state"], "RESTARTING", "{r}");
    // onlyFailed on a healthy connector restarts nothing.
    let r = w.ok(
        "POST",
        "/connectors/shop/restart?includeTasks=true&onlyFailed=true",
        None,
        202,
    );
    assert_eq!(r["connector"]["state"], "RUNNING", "{r}");
    w.wait_task_state("shop", "RUNNING");

    // An empty offsets PATCH is refused, as Kafka Connect does, even before STOPPED is checked.
    let e = w.ok(
        "PATCH",
        "/connectors/shop/offsets",
        Some(&json!({"offsets": []})),
        400,
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("Partitions / offsets need to be provided"),
        "{e}"
    );
    w.ok("PUT", "/connectors/shop/stop", None, 204);
    w.ok("PATCH", "/connectors/shop/offsets", Some(&json!({})), 400);
}

/// A task whose database goes away stays RUNNING while it retries (its status says what it
/// retries), recovers when the database is back, and with `errors.max.retries` fails after that
/// many retries, as Debezium does.
#[test]
fn a_task_retrying_its_connection_stays_running_then_fails_after_max_retries() {
    let pg = shop(false);
    let dir = tempfile::tempdir().unwrap();
    let port = runnel_testkit::free_port();
    let w = WorkerProcess::start(dir.path(), port, &[]);
    let patient_out = dir.path().join("patient.jsonl");
    let patient = pg_connector(
        &pg,
        "patient",
        "shop",
        "patient",
        &patient_out,
        json!({"key.converter.schemas.enable": "false", "value.converter.schemas.enable": "false"}),
    );
    let limited = pg_connector(
        &pg,
        "limited",
        "shop",
        "limited",
        &dir.path().join("limited.jsonl"),
        json!({"errors.max.retries": "2"}),
    );
    for cfg in [&patient, &limited] {
        w.ok("POST", "/connectors", Some(cfg), 201);
    }
    for name in ["patient", "limited"] {
        wait_streaming(&pg, "shop", name);
    }

    pg.stop();
    let status = wait_for("the retry to show", Duration::from_secs(60), || {
        let s = w.ok("GET", "/connectors/patient/status", None, 200);
        s["tasks"][0]["warning"].is_string().then_some(s)
    });
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    assert!(status["tasks"][0].get("trace").is_none(), "{status}");
    let failed = wait_for(
        "the limited connector to fail",
        Duration::from_secs(60),
        || {
            let s = w.ok("GET", "/connectors/limited/status", None, 200);
            let state = s["tasks"][0]["state"].as_str().unwrap_or("").to_string();
            assert_ne!(state, "RESTARTING", "a retrying task is RUNNING: {s}");
            (state == "FAILED").then_some(s)
        },
    );
    let trace = failed["tasks"][0]["trace"].as_str().unwrap();
    assert!(trace.contains("errors.max.retries"), "{trace}");
    assert_eq!(w.task_state("patient"), "RUNNING");

    pg.resume();
    pg.psql("shop", "INSERT INTO t VALUES (1, 'back')");
    wait_file(
        &patient_out,
        "the change after the database came back",
        |r| has_row(r, 1),
    );
    wait_for("the retry note to clear", Duration::from_secs(60), || {
        let s = w.ok("GET", "/connectors/patient/status", None, 200);
        (s["tasks"][0]["state"] == "RUNNING" && s["tasks"][0].get("warning").is_none())
            .then_some(())
    });
}

/// A stand-in Kubernetes API server (`kubernetes_api.py`); killed and reaped on drop.
struct FakeKubernetesApi {
    child: Child,
    port: u16,
    requests: std::path::PathBuf,
}

impl FakeKubernetesApi {
    fn start(dir: &Path, cert: &Path, key: &Path, token: &str, objects: &Value) -> Self {
        let port = runnel_testkit::free_port();
        let objects_path = dir.join("objects.json");
        std::fs::write(&objects_path, objects.to_string()).unwrap();
        let requests = dir.join("requests.log");
        std::fs::write(&requests, "").unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kubernetes_api.py");
        let child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(cert)
            .arg(key)
            .arg(token)
            .arg(&objects_path)
            .arg(&requests)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the fake Kubernetes API");
        let api = Self {
            child,
            port,
            requests,
        };
        wait_for(
            "the fake Kubernetes API to listen",
            Duration::from_secs(30),
            || std::net::TcpStream::connect(("127.0.0.1", port)).ok(),
        );
        api
    }

    /// The paths read so far.
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.requests)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }
}

impl Drop for FakeKubernetesApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Strimzi's config providers: `${secrets:<ns>/<secret>:<key>}` (base64 Secret data) and
/// `${configmaps:<ns>/<map>:<key>}` read from the Kubernetes API with the pod's token when a
/// task starts (and for validation), never stored resolved; RBAC refusals, missing keys and a
/// rejected token are one clear message each.
#[test]
fn strimzi_kubernetes_secrets_resolve_when_a_task_starts_and_are_never_stored() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let pg = shop(true);
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_certificates(dir.path());
    let api = FakeKubernetesApi::start(
        dir.path(),
        &cert,
        &key,
        "pod-token",
        &json!({
            "secrets/kafka/pg-credentials": {"type": "Opaque", "data": {
                "user": b64(&pg.user), "password": b64("s3cret-pw-xyz")}},
            "configmaps/kafka/pg-settings": {"data": {"dbname": "shop"}},
            "secrets/kafka/not-ours": {"data": {"user": b64("x")}},
            "forbidden": ["secrets/kafka/not-ours"],
        }),
    );
    let props = dir.path().join("worker.properties");
    std::fs::write(
        &props,
        "config.providers=secrets,configmaps\n\
         config.providers.secrets.class=io.strimzi.kafka.KubernetesSecretConfigProvider\n\
         config.providers.configmaps.class=io.strimzi.kafka.KubernetesConfigMapConfigProvider\n",
    )
    .unwrap();
    let api_port = api.port.to_string();
    let cert_path = ca.display().to_string();
    let pod_env = |token: &'static str| {
        [
            ("KUBERNETES_SERVICE_HOST", "127.0.0.1"),
            ("KUBERNETES_SERVICE_PORT", api_port.as_str()),
            ("KUBERNETES_AUTH_TOKEN", token),
            ("KUBERNETES_CERTS_CA_FILE", cert_path.as_str()),
        ]
    };
    let port = runnel_testkit::free_port();
    let props_arg = props.display().to_string();
    // Slot watches every 300 ms: they reuse the started task's resolved config.
    let mut w = WorkerProcess::start_with_env(
        dir.path(),
        port,
        &["--config", &props_arg, "--slot-check-interval-ms", "300"],
        &pod_env("pod-token"),
    );
    assert!(
        api.requests().is_empty(),
        "nothing is read before a connector needs it"
    );

    let out = dir.path().join("shop.jsonl");
    let cfg = pg_connector(
        &pg,
        "shop",
        "${configmaps:kafka/pg-settings:dbname}",
        "shop",
        &out,
        json!({"database.user": "${secrets:kafka/pg-credentials:user}",
               "database.password": "${secrets:kafka/pg-credentials:password}",
               "topic.prefix": "shop", "key.converter.schemas.enable": "false",
               "value.converter.schemas.enable": "false"}),
    );
    w.ok("POST", "/connectors", Some(&cfg), 201);
    wait_file(&out, "the snapshot row", |r| has_row(r, 1));
    let reads = api.requests();
    assert!(
        reads.contains(&"/api/v1/namespaces/kafka/secrets/pg-credentials".to_string())
            && reads.contains(&"/api/v1/namespaces/kafka/configmaps/pg-settings".to_string()),
        "{reads:?}"
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        api.requests().len(),
        reads.len(),
        "the watches asked the API again"
    );
    let config = w.ok("GET", "/connectors/shop/config", None, 200);
    assert_eq!(
        config["database.password"],
        "${secrets:kafka/pg-credentials:password}"
    );
    // The resolved secret is nowhere on disk.
    for entry in std::fs::read_dir(dir.path().join("state")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        assert!(
            !bytes.windows(13).any(|w| w == b"s3cret-pw-xyz"),
            "a resolved secret was stored"
        );
    }

    // Refusals are one message each, answered by validation before anything is created.
    let mut forbidden = cfg.clone();
    forbidden["name"] = json!("other");
    forbidden["config"]["database.user"] = json!("${secrets:kafka/not-ours:user}");
    let e = w.ok("POST", "/connectors", Some(&forbidden), 400);
    let msg = e["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("${secrets:kafka/not-ours:user}")
            && msg.contains("may not read the Secret kafka/not-ours (403)")
            && msg.contains("\"get\" on secrets"),
        "{e}"
    );
    let mut missing = cfg.clone();
    missing["name"] = json!("other");
    missing["config"]["database.user"] = json!("${secrets:kafka/pg-credentials:usr}");
    let e = w.ok("POST", "/connectors", Some(&missing), 400);
    assert!(
        e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("the Secret kafka/pg-credentials has no key \"usr\""),
        "{e}"
    );

    // A restart reads the Secret again when the task starts: with a token the API rejects, the
    // connector fails with the reason instead of starting on a stale value.
    w.stop();
    let before = api.requests().len();
    let w = WorkerProcess::start_with_env(
        dir.path(),
        port,
        &["--config", &props_arg],
        &pod_env("expired-token"),
    );
    wait_for("the connector to fail", Duration::from_secs(30), || {
        let s = w.ok("GET", "/connectors/shop/status", None, 200);
        (s["connector"]["state"] == "FAILED").then_some(s)
    });
    let s = w.ok("GET", "/connectors/shop/status", None, 200);
    assert!(
        s["connector"]["trace"]
            .as_str()
            .unwrap_or_default()
            .contains("refused runnel's credentials"),
        "{s}"
    );
    assert!(api.requests().len() > before);
}
