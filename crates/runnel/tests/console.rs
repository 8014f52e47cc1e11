//! The web console in a real headless Chromium (`console_browser.py`, Playwright for Python
//! with Debian's Chromium) against a live worker and a private PostgreSQL: every page driven as
//! a user would, checked with axe-core, screenshots saved under `target/tmp/console-screenshots`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::support::*;
use crate::worker::WorkerProcess;

const TOKEN: &str = "console-token";

/// Runs one phase of the browser script; panics with its output when it fails.
fn browse(base: &str, phase: &str, pg_port: u16, shots: &Path, dir: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console_browser.py");
    let out_path = dir.join(format!("browser-{phase}.log"));
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = Command::new("python3")
        .arg(&script)
        .args(["--base", base, "--token", TOKEN, "--phase", phase])
        .args(["--pg-port", &pg_port.to_string()])
        .arg("--shots")
        .arg(shots)
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .expect("python3 runs the browser script");
    let status =
        runnel_testkit::try_wait(Duration::from_secs(600), || child.try_wait().ok().flatten());
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "the browser phase {phase} did not finish within 10 minutes:\n{}",
            std::fs::read_to_string(&out_path).unwrap_or_default()
        );
    };
    assert!(
        status.success(),
        "the browser phase {phase} failed (screenshots in {}):\n{}",
        shots.display(),
        std::fs::read_to_string(&out_path).unwrap_or_default()
    );
}

#[test]
fn the_console_runs_connectors_in_a_real_browser() {
    let pg = PgInstance::start();
    pg.create_database("shop");
    pg.psql(
        "shop",
        "CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
         INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, 50) g;",
    );
    // A slot no connector uses: the database page shows it too.
    pg.psql(
        "shop",
        "SELECT pg_create_logical_replication_slot('forgotten', 'pgoutput')",
    );
    let dir = tempfile::tempdir().unwrap();
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    let port = runnel_testkit::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let args = ["--auth-token", TOKEN, "--slot-check-interval-ms", "500"];
    let mut w = WorkerProcess::start(dir.path(), port, &args);
    // A connector that fails when it starts (its publication is missing and may not be made).
    let broken = pg_connector(
        &pg,
        "broken",
        "shop",
        "broken",
        &dir.path().join("broken.jsonl"),
        json!({"publication.name": "missing_pub", "publication.autocreate.mode": "disabled"}),
    );
    w.ok("POST", "/connectors", Some(&broken), 201);

    // The database changes all along: events to count, WAL for a stopped slot to retain.
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                pg.psql(
                    "shop",
                    "INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, 20) g",
                );
                std::thread::sleep(Duration::from_millis(300));
            }
        });
        let outcome = std::panic::catch_unwind(|| {
            browse(&base, "main", pg.port, &shots, dir.path());
            browse(&base, "auth", pg.port, &shots, dir.path());
        });
        done.store(true, Ordering::Relaxed);
        if let Err(e) = outcome {
            eprintln!("worker log:\n{}", w.log_text());
            std::panic::resume_unwind(e);
        }
    });

    // The same worker, read-only: the pages show no action.
    w.stop();
    let mut args = args.to_vec();
    args.push("--read-only");
    let w = WorkerProcess::start(dir.path(), port, &args);
    browse(&base, "readonly", pg.port, &shots, dir.path());
    drop(w);
}

#[test]
fn the_console_browses_the_workers_kafka_topics() {
    let broker = runnel_testkit::KafkaBroker::start();
    let pg = PgInstance::start();
    pg.create_database("shop");
    pg.psql(
        "shop",
        "CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
         INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 30) g;",
    );
    let dir = tempfile::tempdir().unwrap();
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    let port = runnel_testkit::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let bootstrap = broker.bootstrap();
    let w = WorkerProcess::start(
        dir.path(),
        port,
        &["--auth-token", TOKEN, "--bootstrap-servers", &bootstrap],
    );
    // The worker's Kafka is the connector's sink.
    let mut shop = pg_connector(
        &pg,
        "shop",
        "shop",
        "shop",
        Path::new("/unused"),
        json!({"topic.creation.default.partitions": "2",
               "topic.creation.default.replication.factor": "1"}),
    );
    let config = shop["config"].as_object_mut().unwrap();
    config.remove("sink.type");
    config.remove("sink.file.path");
    w.ok("POST", "/connectors", Some(&shop), 201);
    // The snapshot, then an update streamed, are on Kafka before the browser looks.
    let on_kafka = |records: u64| {
        let mut last = serde_json::Value::Null;
        let durable = runnel_testkit::try_wait(Duration::from_secs(60), || {
            last = w.ok("GET", "/ui/api/connectors/shop", None, 200);
            (last["records"].as_u64() >= Some(records)).then_some(())
        });
        assert!(
            durable.is_some(),
            "{records} records did not reach Kafka: {}\nworker log:\n{}",
            last["status"],
            w.log_text()
        );
    };
    on_kafka(30);
    pg.psql("shop", "UPDATE customers SET name = 'renamed' WHERE id = 7");
    on_kafka(31);
    browse(&base, "topics", pg.port, &shots, dir.path());
}
