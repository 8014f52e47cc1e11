//! The Delta sink against a private PostgreSQL, on a local directory and on a private S3 server
//! (SeaweedFS), read back by independent readers (delta-rs's Python `deltalake`, and DuckDB's
//! delta extension loaded by path: tests/delta_client.py): inserts, updates, deletes, an ADD
//! COLUMN and `kill -9` at random moments, after which the table equals the source row for row
//! (types included) and its `txn` version is the committed source position; compaction and
//! vacuum while a reader reads; clear errors for wrong credentials, a missing bucket and an
//! incompatible type change.

use std::process::Command;
use std::time::{Duration, Instant};

use runnel_testkit::{MotoServer, PgInstance, S3_ACCESS_KEY, S3_SECRET_KEY, S3Server};
use serde_json::{Value, json};

use crate::support::*;

fn delta_client(args: &[&str]) -> Value {
    let out = Command::new("python3")
        .arg(fixture("../delta_client.py"))
        .args(args)
        .env("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)
        .output()
        .expect("run delta_client.py (pip install deltalake duckdb duckdb-extension-delta)");
    assert!(
        out.status.success(),
        "delta_client.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("delta_client.py prints JSON")
}

/// The table's rows, or `None` while it does not exist yet.
fn try_read(uri: &str, endpoint: Option<&str>) -> Option<Value> {
    let mut args = vec!["read", uri];
    if let Some(e) = endpoint {
        args.push(e);
    }
    let out = Command::new("python3")
        .arg(fixture("../delta_client.py"))
        .args(&args)
        .env("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)
        .output()
        .expect("run delta_client.py");
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).expect("JSON"))
}

/// The source table as the readers print it: one JSON object per row, sorted by id.
fn source_rows(pg: &PgInstance, db: &str, table: &str) -> Vec<Value> {
    let text = pg.query_value(
        db,
        &format!(
            "SELECT coalesce(json_agg(row_to_json(t) ORDER BY id), '[]') FROM (SELECT * FROM {table}) t"
        ),
    );
    serde_json::from_str::<Vec<Value>>(&text).unwrap()
}

/// Polls the table until its rows equal `expected` (or `timeout`, or runnel exits).
fn wait_rows(
    uri: &str,
    endpoint: Option<&str>,
    runnel: &mut Runnel,
    timeout: Duration,
    expected: &[Value],
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let read = try_read(uri, endpoint);
        if let Some(r) = &read
            && r["rows"].as_array().unwrap() == expected
        {
            return read.unwrap();
        }
        if let Some(status) = runnel.exited() {
            panic!("runnel exited ({status}); log:\n{}", runnel.log_text());
        }
        if Instant::now() >= deadline {
            let got = read.map(|r| r["rows"].clone()).unwrap_or(Value::Null);
            let got = got.as_array().cloned().unwrap_or_default();
            let differ: Vec<_> = expected
                .iter()
                .filter(|e| !got.contains(e))
                .take(5)
                .collect();
            panic!(
                "{uri}: {} rows, {} expected; first expected rows not found: {differ:?}\nlog:\n{}",
                got.len(),
                expected.len(),
                runnel.log_text()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn connector(pg: &PgInstance, name: &str, db: &str, sink: Value) -> Value {
    let mut cfg = pg_connector(pg, name, db, name, std::path::Path::new("/dev/null"), sink);
    let c = cfg["config"].as_object_mut().unwrap();
    c.remove("sink.file.path");
    cfg
}

const ORDERS: &str = "CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, \
     amount numeric(10,2), placed timestamptz, day date, paid boolean, tags text[], blob bytea)";

/// The orders as the readers print them: numeric as text with its scale, timestamps in UTC
/// with microseconds and no zone, bytea as base64.
fn orders_rows(pg: &PgInstance, db: &str) -> Vec<Value> {
    source_rows(
        pg,
        db,
        "(SELECT id, customer, amount::text AS amount, \
         to_char(placed AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') AS placed, day, paid, \
         tags, encode(blob, 'base64') AS blob, region FROM orders) o",
    )
}

/// Inserts, updates, deletes, an ADD COLUMN and `kill -9` at random moments into two tables
/// (one on a local directory, one on S3): afterwards each equals the source row for row, DuckDB
/// reads the local one the same, and the `txn` version is the source position of the last
/// commit (an LSN between the last change and the current end of the WAL).
#[test]
fn postgres_to_delta_converges_across_kill_9_and_an_added_column_locally_and_on_s3() {
    let s3 = S3Server::start();
    crate::s3::s3_client(&s3, &["mkbucket", "lake"]);
    let pg = PgInstance::start();
    pg.create_database("lake");
    pg.psql("lake", ORDERS);
    let local = tempfile::tempdir().unwrap();
    let root = local.path().display().to_string();
    let common = json!({
        "snapshot.mode": "initial",
        "sink.type": "delta",
        "sink.delta.flush.size": "200",
        "sink.delta.flush.interval.ms": "300",
    });
    let with = |extra: Value| {
        let mut c = common.clone();
        if let (Value::Object(c), Value::Object(e)) = (&mut c, extra) {
            c.extend(e);
        }
        c
    };
    pg.psql(
        "lake",
        "INSERT INTO orders SELECT g, 'c' || (g % 7), g * 1.25, \
         '2024-06-01 10:00:00+02'::timestamptz + g * interval '1 minute', \
         DATE '2024-06-01' + g, g % 2 = 0, ARRAY['a', g::text], decode(lpad(to_hex(g), 4, '0'), 'hex') \
         FROM generate_series(1, 300) g",
    );
    let to_local = connector(
        &pg,
        "to_local",
        "lake",
        with(json!({ "sink.delta.uri": root })),
    );
    let to_s3 = connector(
        &pg,
        "to_s3",
        "lake",
        with(json!({
            "sink.delta.uri": "s3://lake/cdc",
            "sink.delta.store.url": s3.endpoint(),
            "sink.delta.aws.access.key.id": S3_ACCESS_KEY,
            "sink.delta.aws.secret.access.key": S3_SECRET_KEY,
        })),
    );
    let configs = [to_local, to_s3];
    let dir = tempfile::tempdir().unwrap();
    let mut runnel = Runnel::start(dir.path(), &configs);
    wait_slot_active(&pg, "lake", "to_local", &mut runnel);
    wait_slot_active(&pg, "lake", "to_s3", &mut runnel);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next_id = 301;
    for round in 0..5 {
        if round == 2 {
            pg.psql("lake", "ALTER TABLE orders ADD COLUMN region text");
        }
        let mut sql = String::new();
        for _ in 0..40 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let id = 1 + (seed % next_id as u64) as i64;
            match seed % 5 {
                0 | 1 => {
                    let region = if round >= 2 { ", 'eu'" } else { "" };
                    let cols = if round >= 2 { ", region" } else { "" };
                    sql.push_str(&format!(
                        "INSERT INTO orders (id, customer, amount, placed, day, paid, tags, blob{cols}) \
                         VALUES ({next_id}, 'n{round}', {next_id}.5, now(), current_date, true, \
                         ARRAY['x'], '\\x00ff'{region});\n"
                    ));
                    next_id += 1;
                }
                2 | 3 => sql.push_str(&format!(
                    "UPDATE orders SET amount = amount + 1, customer = 'u{round}', tags = tags || 'u'::text \
                     WHERE id = {id};\n"
                )),
                _ => sql.push_str(&format!("DELETE FROM orders WHERE id = {id};\n")),
            }
        }
        pg.psql("lake", &format!("BEGIN;\n{sql}COMMIT;"));
        std::thread::sleep(Duration::from_millis(100 + seed % 900));
        runnel.kill();
        runnel = Runnel::start(dir.path(), &configs);
    }
    let before_last = pg.query_value("lake", "SELECT pg_current_wal_lsn() - '0/0'");
    pg.psql("lake", "UPDATE orders SET paid = NOT paid WHERE id = 2");
    let expected = orders_rows(&pg, "lake");
    let local_uri = format!("{root}/lake.public.orders");
    let read = wait_rows(
        &local_uri,
        None,
        &mut runnel,
        Duration::from_secs(120),
        &expected,
    );
    let on_s3 = wait_rows(
        "s3://lake/cdc/lake.public.orders",
        Some(&s3.endpoint()),
        &mut runnel,
        Duration::from_secs(120),
        &expected,
    );
    let wal_end = pg.query_value("lake", "SELECT pg_current_wal_lsn() - '0/0'");
    runnel.stop();
    // Types: Connect's logical types as Delta's.
    let schema = &read["schema"];
    for (col, ty) in [
        ("id", "\"integer\""),
        ("customer", "\"string\""),
        ("amount", "\"decimal(10,2)\""),
        ("placed", "\"timestamp\""),
        ("day", "\"date\""),
        ("paid", "\"boolean\""),
        ("tags", "ArrayType"),
        ("blob", "\"binary\""),
        ("region", "\"string\""),
    ] {
        let got = schema[col].as_str().unwrap_or_default();
        assert!(
            got.contains(ty),
            "column {col}: {got}, expected {ty}; schema {schema}"
        );
    }
    assert_eq!(on_s3["schema"], read["schema"]);
    // The txn version is the LSN the last commit completes.
    let version = read["txn"]
        .as_object()
        .and_then(|t| t.values().next())
        .and_then(Value::as_i64)
        .expect("a txn version");
    let lsn = read["runnel"]["offset"]["lsn"].as_i64().expect("an lsn");
    assert_eq!(version, lsn, "txn version and the committed offset");
    let (lo, hi): (i64, i64) = (before_last.parse().unwrap(), wal_end.parse().unwrap());
    assert!(lo < version && version <= hi, "{lo} < {version} <= {hi}");
    // DuckDB reads the local table the same.
    let duck = delta_client(&["duckdb", &local_uri]);
    assert_eq!(duck["rows"].as_array().unwrap().len(), expected.len());
    assert_eq!(
        duck["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].clone())
            .collect::<Vec<_>>(),
        expected.iter().map(|r| r["id"].clone()).collect::<Vec<_>>()
    );
}

/// Many small flushes with compaction and vacuum every second while a reader reads the table
/// again and again and another writer appends rows to it: no read fails (a file of an older
/// snapshot vacuumed under a reader is read again at the new version: retention 0 here), files
/// are compacted, the other writer's commits make runnel's conflict and retry from its last
/// committed position, and the rows stay right — runnel's and the other writer's.
#[test]
fn compaction_and_vacuum_run_while_a_reader_reads() {
    let pg = PgInstance::start();
    pg.create_database("upkeep");
    pg.psql("upkeep", "CREATE TABLE t (id int PRIMARY KEY, v text)");
    let local = tempfile::tempdir().unwrap();
    let root = local.path().display().to_string();
    let cfg = connector(
        &pg,
        "upkeep",
        "upkeep",
        json!({
            "snapshot.mode": "no_data",
            "sink.type": "delta",
            "sink.delta.uri": root,
            "sink.delta.flush.interval.ms": "100",
            "sink.delta.delta.compaction.interval.ms": "1500",
            "sink.delta.delta.vacuum.interval.ms": "2500",
            "sink.delta.delta.vacuum.retention.hours": "0",
            "sink.delta.delta.checkpoint.interval": "5",
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut runnel = Runnel::start(dir.path(), &[cfg]);
    wait_slot_active(&pg, "upkeep", "upkeep", &mut runnel);
    let uri = format!("{root}/upkeep.public.t");
    let reader = Command::new("python3")
        .arg(fixture("../delta_client.py"))
        .args(["loop", &uri, "8"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run delta_client.py");
    // Once the table exists, another writer appends to it meanwhile.
    let deadline = Instant::now() + Duration::from_secs(60);
    pg.psql("upkeep", "INSERT INTO t VALUES (-1, 'first')");
    while try_read(&uri, None).is_none() {
        assert!(Instant::now() < deadline, "{}", runnel.log_text());
        std::thread::sleep(Duration::from_millis(200));
    }
    let other = Command::new("python3")
        .arg(fixture("../delta_client.py"))
        .args(["append", &uri, "1000000", "6"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run delta_client.py");
    for i in 0..40 {
        pg.psql(
            "upkeep",
            &format!(
                "INSERT INTO t SELECT g, 'v{i}' FROM generate_series({}, {}) g ON CONFLICT (id) DO UPDATE SET v = excluded.v",
                i * 10,
                i * 10 + 14
            ),
        );
        std::thread::sleep(Duration::from_millis(150));
    }
    let out = reader.wait_with_output().unwrap();
    let loop_result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let out = other.wait_with_output().unwrap();
    let other_result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let written = other_result["written"].as_i64().unwrap();
    assert!(written > 5, "the other writer: {other_result}");
    let others: Vec<Value> = (0..written)
        .map(|i| json!({"id": 1_000_000 + i, "v": "other"}))
        .collect();
    let with_others = |mut rows: Vec<Value>| {
        rows.extend(others.iter().cloned());
        rows
    };
    let expected = with_others(source_rows(&pg, "upkeep", "t"));
    let read = wait_rows(&uri, None, &mut runnel, Duration::from_secs(60), &expected);
    // One more round of upkeep after the last rows.
    std::thread::sleep(Duration::from_secs(3));
    pg.psql("upkeep", "UPDATE t SET v = 'last' WHERE id = 0");
    let expected = with_others(source_rows(&pg, "upkeep", "t"));
    let after = wait_rows(&uri, None, &mut runnel, Duration::from_secs(60), &expected);
    runnel.stop();
    assert!(
        loop_result["errors"].as_array().unwrap().is_empty()
            && loop_result["reads"].as_i64().unwrap() > 3,
        "reader: {loop_result}"
    );
    let log = runnel.log_text();
    assert!(!log.contains("panicked"), "{log}");
    eprintln!(
        "reader {loop_result}; other writer {other_result}; runnel conflicts: {}",
        log.matches("another writer changed it").count()
    );
    let ops: Vec<String> = after["operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o.as_str().map(str::to_string))
        .collect();
    assert!(ops.iter().any(|o| o == "OPTIMIZE"), "{ops:?}");
    assert!(ops.iter().any(|o| o.starts_with("VACUUM")), "{ops:?}");
    assert!(
        after["files"].as_i64().unwrap() < read["version"].as_i64().unwrap(),
        "compaction keeps fewer files than commits: {} files at version {}",
        after["files"],
        read["version"]
    );
    // Checkpoints were written (every 5 commits) and vacuum left only files some version needs.
    let log_dir = std::fs::read_dir(format!("{uri}/_delta_log")).unwrap();
    assert!(
        log_dir.flatten().any(|e| e
            .file_name()
            .to_string_lossy()
            .contains(".checkpoint.parquet")),
        "no checkpoint in the log"
    );
}

/// Wrong credentials (SeaweedFS checks signatures), a missing bucket (moto) and a column whose
/// type changes: `runnel check` reports the first two; each stops the connector with an error
/// that says what to do.
#[test]
fn wrong_credentials_a_missing_bucket_and_a_type_change_are_clear_errors() {
    let s3 = S3Server::start();
    crate::s3::s3_client(&s3, &["mkbucket", "exists"]);
    let moto = MotoServer::start();
    let pg = PgInstance::start();
    pg.create_database("bad");
    pg.psql("bad", "CREATE TABLE t (id int PRIMARY KEY, n int)");
    for (name, endpoint, uri, secret, hint) in [
        (
            "wrong_secret",
            s3.endpoint(),
            "s3://exists/x",
            "not-the-secret",
            "credentials",
        ),
        (
            "no_bucket",
            moto.endpoint(),
            "s3://missing-bucket/x",
            S3_SECRET_KEY,
            "does not exist",
        ),
    ] {
        let cfg = connector(
            &pg,
            name,
            "bad",
            json!({
                "snapshot.mode": "no_data",
                "sink.type": "delta",
                "sink.delta.uri": uri,
                "sink.delta.store.url": endpoint,
                "sink.delta.aws.access.key.id": S3_ACCESS_KEY,
                "sink.delta.aws.secret.access.key": secret,
                "sink.delta.flush.size": "1",
            }),
        );
        let dir = tempfile::tempdir().unwrap();
        let (code, text) = run_check(dir.path(), &cfg);
        assert_ne!(code, 0, "{name}: {text}");
        assert!(text.contains(hint), "{name}: no {hint:?} in:\n{text}");
        // The sink reads the tables' positions before anything streams: it stops there.
        let mut runnel = Runnel::start(dir.path(), &[cfg]);
        let status = wait_exit(&mut runnel, Duration::from_secs(120));
        let log = runnel.log_text();
        assert!(!status.success(), "{name}: {log}");
        let error = log.lines().find(|l| l.starts_with("error:")).unwrap_or("");
        assert!(error.contains(hint), "{name}: no {hint:?} in:\n{log}");
        assert!(!log.contains("panicked"), "{log}");
    }
    // A type change: int → text.
    pg.psql("bad", "INSERT INTO t VALUES (1, 1)");
    let local = tempfile::tempdir().unwrap();
    let cfg = connector(
        &pg,
        "retyped",
        "bad",
        json!({
            "snapshot.mode": "initial",
            "sink.type": "delta",
            "sink.delta.uri": local.path().display().to_string(),
            "sink.delta.flush.interval.ms": "100",
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut runnel = Runnel::start(dir.path(), &[cfg]);
    wait_slot_active(&pg, "bad", "retyped", &mut runnel);
    let uri = format!("{}/bad.public.t", local.path().display());
    let deadline = Instant::now() + Duration::from_secs(60);
    while try_read(&uri, None).is_none() {
        assert!(Instant::now() < deadline, "{}", runnel.log_text());
        std::thread::sleep(Duration::from_millis(300));
    }
    pg.psql(
        "bad",
        "ALTER TABLE t ALTER COLUMN n TYPE text; INSERT INTO t VALUES (1000, 'x')",
    );
    let status = wait_exit(&mut runnel, Duration::from_secs(60));
    let log = runnel.log_text();
    assert!(!status.success(), "{log}");
    let error = log.lines().find(|l| l.starts_with("error:")).unwrap_or("");
    assert!(
        error.contains("bad.public.t") && error.contains("\"n\"") && error.contains("incompatible"),
        "{log}"
    );
}

/// runnel's Delta sink connector reading Debezium's topics from Kafka (envelopes and the
/// tombstones after deletes), as a Kafka Connect sink connector, the table partitioned by a
/// column (`delta.partition.by`) whose value some updates change: the table converges to the
/// source.
#[test]
fn the_delta_sink_connector_reads_debezium_topics_from_kafka() {
    let broker = runnel_testkit::KafkaBroker::start();
    let pg = PgInstance::start();
    pg.create_database("k");
    pg.psql(
        "k",
        "CREATE TABLE items (id int PRIMARY KEY, name text, qty int, kind text)",
    );
    pg.psql(
        "k",
        "INSERT INTO items SELECT g, 'n' || g, g, 'k' || (g % 3) FROM generate_series(1, 200) g",
    );
    let mut to_kafka = pg_connector(
        &pg,
        "to_kafka",
        "k",
        "to_kafka",
        std::path::Path::new("/dev/null"),
        json!({}),
    );
    let c = to_kafka["config"].as_object_mut().unwrap();
    c.retain(|k, _| !k.starts_with("sink."));
    c.insert("topic.creation.default.partitions".into(), json!("1"));
    c.insert(
        "topic.creation.default.replication.factor".into(),
        json!("1"),
    );
    let lake = tempfile::tempdir().unwrap();
    let from_kafka = json!({"name": "lake-sink", "config": {
        "connector.class": "io.runnel.connect.delta.DeltaSinkConnector",
        "topics": "k.public.items",
        "delta.uri": lake.path().display().to_string(),
        "flush.interval.ms": "200",
        "delta.partition.by": "kind",
        "consumer.override.partition.assignment.strategy": "range",
        "consumer.override.max.poll.interval.ms": "10000",
        "consumer.override.session.timeout.ms": "6000",
        "consumer.override.topic.metadata.refresh.interval.ms": "500",
    }});
    let dir = tempfile::tempdir().unwrap();
    let mut runnel =
        Runnel::start_with_kafka(dir.path(), &[to_kafka, from_kafka], &broker.bootstrap());
    wait_slot_active(&pg, "k", "to_kafka", &mut runnel);
    pg.psql(
        "k",
        "UPDATE items SET qty = qty * 10 WHERE id % 3 = 0; DELETE FROM items WHERE id % 7 = 0; \
         UPDATE items SET kind = 'k9' WHERE id % 11 = 0; INSERT INTO items VALUES (500, 'late', 1, 'k0')",
    );
    let expected = source_rows(&pg, "k", "items");
    let uri = format!("{}/k.public.items", lake.path().display());
    wait_rows(&uri, None, &mut runnel, Duration::from_secs(120), &expected);
    runnel.stop();
    // Partitioned by kind: a directory per value, rows that changed kind moved.
    for kind in ["k0", "k1", "k2", "k9"] {
        assert!(
            std::path::Path::new(&format!("{uri}/kind={kind}")).is_dir(),
            "no partition kind={kind}"
        );
    }
}
