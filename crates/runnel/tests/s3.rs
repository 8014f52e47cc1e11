//! The object storage sink against a private S3 server (SeaweedFS), read back by an independent
//! client (boto3, tests/s3_client.py): the data-lake seed's KCQL config (outbox table → unwrap →
//! JSON partitioned by customer and order), Confluent's field and time partitioners, `kill -9`
//! at random moments (every row exactly once across all objects), and clear errors for wrong
//! credentials and a missing bucket. The local-directory form (`sink.type=files`) shares the
//! code path.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use runnel_testkit::{
    MotoServer, S3_ACCESS_KEY as ACCESS_KEY, S3_SECRET_KEY as SECRET_KEY, S3Server,
};
use serde_json::{Value, json};

use crate::support::*;

pub(crate) fn s3_client(s3: &S3Server, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg(fixture("../s3_client.py"))
        .arg(s3.endpoint())
        .args(args)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .output()
        .expect("run s3_client.py (pip install boto3)");
    assert!(
        out.status.success(),
        "s3_client.py {args:?}: {}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        s3.log_text()
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every object of `bucket`: its key and its lines.
fn objects(s3: &S3Server, bucket: &str) -> Vec<(String, Vec<String>)> {
    s3_client(s3, &["dump", bucket])
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let lines = v["lines"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            (v["key"].as_str().unwrap().to_string(), lines)
        })
        .collect()
}

type Objects = Vec<(String, Vec<String>)>;

/// Lines in all objects.
fn line_count(objs: &Objects) -> usize {
    objs.iter().map(|(_, l)| l.len()).sum()
}

/// Polls `bucket` until `done` says its objects are complete (or `timeout`, or runnel exits).
fn wait_objects(
    s3: &S3Server,
    bucket: &str,
    runnel: &mut Runnel,
    timeout: Duration,
    done: impl Fn(&Objects) -> bool,
) -> Objects {
    let deadline = Instant::now() + timeout;
    loop {
        let objs = objects(s3, bucket);
        if done(&objs) {
            return objs;
        }
        if let Some(status) = runnel.exited() {
            panic!("runnel exited ({status}); log:\n{}", runnel.log_text());
        }
        assert!(
            Instant::now() < deadline,
            "{} lines so far in {bucket}: {objs:?}; log:\n{}",
            line_count(&objs),
            runnel.log_text()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn s3_sink(s3: &S3Server, extra: Value) -> Value {
    let mut c = json!({
        "sink.type": "s3",
        "sink.s3.connect.s3.aws.auth.mode": "Credentials",
        "sink.s3.connect.s3.aws.access.key": ACCESS_KEY,
        "sink.s3.connect.s3.aws.secret.key": SECRET_KEY,
        "sink.s3.connect.s3.aws.region": "us-east-1",
        "sink.s3.connect.s3.custom.endpoint": s3.endpoint(),
    });
    if let (Value::Object(c), Value::Object(e)) = (&mut c, extra) {
        c.extend(e);
    }
    c
}

fn connector(pg: &PgInstance, name: &str, db: &str, sink: Value) -> Value {
    let mut cfg = pg_connector(pg, name, db, name, std::path::Path::new("/dev/null"), sink);
    let c = cfg["config"].as_object_mut().unwrap();
    c.remove("sink.file.path");
    cfg
}

/// The data-lake seed: its KCQL unchanged, an outbox table captured, unwrapped, and written as
/// JSON lines under `cdc-events/customer_id=…/order_id=…/`. 50 rows of one path close every
/// open object at once (WITH_FLUSH_COUNT = 50), so the rows of the other paths come too.
#[test]
fn the_data_lake_seed_kcql_config_writes_each_row_once_partitioned_by_customer_and_order() {
    let s3 = S3Server::start();
    s3_client(&s3, &["mkbucket", "data-lake-demo-cevo"]);
    let pg = PgInstance::start();
    pg.create_database("msk");
    pg.psql(
        "msk",
        "CREATE SCHEMA datalake; CREATE TABLE datalake.cdc_events (id serial PRIMARY KEY, \
         customer_id int NOT NULL, order_id int NOT NULL, status text)",
    );
    let mut cfg = connector(
        &pg,
        "datalake",
        "msk",
        s3_sink(
            &s3,
            json!({
                "snapshot.mode": "no_data",
                "topic.prefix": "msk",
                "sink.s3.connect.s3.kcql": "INSERT INTO data-lake-demo-cevo:cdc-events SELECT * FROM msk.datalake.cdc_events PARTITIONBY customer_id,order_id STOREAS `json` WITH_FLUSH_INTERVAL = 60 WITH_FLUSH_COUNT = 50",
                "transforms": "unwrap",
                "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
                "value.converter.schemas.enable": "false",
            }),
        ),
    );
    cfg["config"]["topic.prefix"] = "msk".into();
    let dir = tempfile::tempdir().unwrap();
    let mut runnel = Runnel::start(dir.path(), &[cfg]);
    wait_slot_active(&pg, "msk", "datalake", &mut runnel);
    // 70 rows over six paths, then 50 rows of a seventh: its 50th closes every object.
    pg.psql(
        "msk",
        "INSERT INTO datalake.cdc_events (customer_id, order_id, status) \
           SELECT 1 + g % 3, 1 + g % 2, 'placed' FROM generate_series(1, 70) g; \
         INSERT INTO datalake.cdc_events (customer_id, order_id, status) \
           SELECT 9, 9, 'bulk' FROM generate_series(1, 50) g;",
    );
    let objs = wait_objects(
        &s3,
        "data-lake-demo-cevo",
        &mut runnel,
        Duration::from_secs(60),
        |o| line_count(o) >= 120,
    );
    runnel.stop();
    let mut seen = BTreeMap::new();
    for (key, lines) in &objs {
        assert!(key.starts_with("cdc-events/customer_id="), "{key}");
        assert!(key.contains("/msk.datalake.cdc_events(0_"), "{key}");
        for line in lines {
            let row: Value = serde_json::from_str(line).unwrap();
            let path = format!(
                "cdc-events/customer_id={}/order_id={}/",
                row["customer_id"], row["order_id"]
            );
            assert!(key.starts_with(&path), "{row} in {key}");
            assert!(
                seen.insert(row["id"].as_i64().unwrap(), row).is_none(),
                "twice: {line}"
            );
        }
    }
    assert_eq!(seen.len(), 120);
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        (1..=120).collect::<Vec<_>>()
    );
    assert_eq!(
        objs.len(),
        7,
        "{:?}",
        objs.iter().map(|o| &o.0).collect::<Vec<_>>()
    );
}

/// Confluent's keys: FieldPartitioner and a time-based partitioner on a record field, flushed by
/// `flush.size` and by `rotate.schedule.interval.ms`.
#[test]
fn confluent_field_and_time_partitioners_flush_by_size_and_by_schedule() {
    let s3 = S3Server::start();
    s3_client(&s3, &["mkbucket", "lake"]);
    let pg = PgInstance::start();
    pg.create_database("shop");
    pg.psql(
        "shop",
        "CREATE TABLE orders (id int PRIMARY KEY, region text NOT NULL, placed_ms bigint NOT NULL)",
    );
    let confluent = |partitioner: Value| {
        let mut sink = json!({
            "sink.type": "s3",
            "sink.s3.s3.bucket.name": "lake",
            "sink.s3.s3.region": "us-east-1",
            "sink.s3.store.url": s3.endpoint(),
            "sink.s3.aws.access.key.id": ACCESS_KEY,
            "sink.s3.aws.secret.access.key": SECRET_KEY,
            "sink.s3.flush.size": "4",
            "sink.s3.rotate.schedule.interval.ms": "1000",
            "snapshot.mode": "no_data",
            "transforms": "unwrap",
            "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
            "value.converter.schemas.enable": "false",
        });
        if let (Value::Object(c), Value::Object(e)) = (&mut sink, partitioner) {
            c.extend(e);
        }
        sink
    };
    let by_field = connector(
        &pg,
        "by_field",
        "shop",
        confluent(json!({
            "sink.s3.topics.dir": "by-field",
            "sink.s3.partitioner.class": "io.confluent.connect.storage.partitioner.FieldPartitioner",
            "sink.s3.partition.field.name": "region",
        })),
    );
    let by_time = connector(
        &pg,
        "by_time",
        "shop",
        confluent(json!({
            "sink.s3.topics.dir": "by-time",
            "sink.s3.partitioner.class": "io.confluent.connect.storage.partitioner.TimeBasedPartitioner",
            "sink.s3.path.format": "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH",
            "sink.s3.partition.duration.ms": "3600000",
            "sink.s3.timezone": "UTC",
            "sink.s3.locale": "en-US",
            "sink.s3.timestamp.extractor": "RecordField",
            "sink.s3.timestamp.field": "placed_ms",
        })),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut runnel = Runnel::start(dir.path(), &[by_field, by_time]);
    wait_slot_active(&pg, "shop", "by_field", &mut runnel);
    wait_slot_active(&pg, "shop", "by_time", &mut runnel);
    // 2024-06-01T10:00Z and 11:00Z; 10 rows: two objects of 4 by size, the rest by schedule.
    pg.psql(
        "shop",
        "INSERT INTO orders SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, \
         1717236000000 + (g % 2) * 3600000 FROM generate_series(1, 10) g",
    );
    let objs = wait_objects(&s3, "lake", &mut runnel, Duration::from_secs(60), |objs| {
        let rows = |dir: &str| {
            objs.iter()
                .filter(|(k, _)| k.starts_with(dir))
                .map(|(_, l)| l.len())
                .sum::<usize>()
        };
        rows("by-field/") >= 10 && rows("by-time/") >= 10
    });
    runnel.stop();
    let topic = "shop.public.orders";
    for (key, lines) in &objs {
        let name = key.rsplit('/').next().unwrap();
        assert!(
            name.starts_with(&format!("{topic}+0+")) && name.ends_with(".json"),
            "{key}"
        );
        assert!(lines.len() <= 4, "{key}: {lines:?}");
        for line in lines {
            let row: Value = serde_json::from_str(line).unwrap();
            let want = if key.starts_with("by-field/") {
                format!(
                    "by-field/{topic}/region={}/",
                    row["region"].as_str().unwrap()
                )
            } else {
                let hour = if row["placed_ms"] == 1717236000000i64 {
                    10
                } else {
                    11
                };
                format!("by-time/{topic}/year=2024/month=06/day=01/hour={hour}/")
            };
            assert!(
                key.starts_with(&want),
                "{row} in {key}, expected under {want}"
            );
        }
    }
}

/// `kill -9` at random moments while rows are written: afterwards every row is in exactly one
/// object line, in S3 and in a local directory (`sink.type=files`).
#[test]
fn kill_9_at_random_moments_leaves_every_row_exactly_once() {
    let s3 = S3Server::start();
    s3_client(&s3, &["mkbucket", "crash"]);
    let pg = PgInstance::start();
    pg.create_database("crash");
    pg.psql("crash", "CREATE TABLE t (id int PRIMARY KEY, v text)");
    let files = tempfile::tempdir().unwrap();
    let common = json!({
        "snapshot.mode": "no_data",
        "transforms": "unwrap",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "value.converter.schemas.enable": "false",
    });
    let with = |extra: Value| {
        let mut c = common.clone();
        if let (Value::Object(c), Value::Object(e)) = (&mut c, extra) {
            c.extend(e);
        }
        c
    };
    let to_s3 = connector(
        &pg,
        "to_s3",
        "crash",
        with(json!({
            "sink.type": "s3",
            "sink.s3.s3.bucket.name": "crash",
            "sink.s3.s3.region": "us-east-1",
            "sink.s3.store.url": s3.endpoint(),
            "sink.s3.aws.access.key.id": ACCESS_KEY,
            "sink.s3.aws.secret.access.key": SECRET_KEY,
            "sink.s3.flush.size": "37",
            "sink.s3.rotate.schedule.interval.ms": "200",
        })),
    );
    let to_files = connector(
        &pg,
        "to_files",
        "crash",
        with(json!({
            "sink.type": "files",
            "sink.files.path": files.path().display().to_string(),
            "sink.files.flush.size": "53",
            "sink.files.rotate.schedule.interval.ms": "150",
        })),
    );
    let dir = tempfile::tempdir().unwrap();
    let configs = [to_s3, to_files];
    let mut runnel = Runnel::start(dir.path(), &configs);
    wait_slot_active(&pg, "crash", "to_s3", &mut runnel);
    wait_slot_active(&pg, "crash", "to_files", &mut runnel);
    let total = 1500;
    let mut next = 1;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for round in 0..6 {
        // Small transactions of 1–20 rows for a while, then a kill at a random moment.
        let until = (next + 250).min(total + 1);
        let mut sql = String::new();
        while next < until {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let n = (1 + seed % 20).min((until - next) as u64) as i64;
            sql.push_str(&format!(
                "INSERT INTO t SELECT g, 'r{round}' FROM generate_series({next}, {}) g;\n",
                next + n - 1
            ));
            next += n;
        }
        pg.psql("crash", &sql);
        std::thread::sleep(Duration::from_millis(50 + seed % 400));
        runnel.kill();
        runnel = Runnel::start(dir.path(), &configs);
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    let files_root = files.path().to_path_buf();
    loop {
        let in_s3 = ids(objects(&s3, "crash").into_iter().flat_map(|(_, l)| l));
        let in_files = ids(local_lines(&files_root));
        if in_s3.len() >= total as usize && in_files.len() >= total as usize {
            runnel.stop();
            assert_exactly_once(&in_s3, total, "S3");
            assert_exactly_once(&in_files, total, "files");
            break;
        }
        if let Some(status) = runnel.exited() {
            panic!("runnel exited ({status}); log:\n{}", runnel.log_text());
        }
        assert!(
            Instant::now() < deadline,
            "{} rows in S3, {} in files; log:\n{}",
            in_s3.len(),
            in_files.len(),
            runnel.log_text()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn ids(lines: impl IntoIterator<Item = String>) -> Vec<i64> {
    lines
        .into_iter()
        .map(|l| {
            // Schemaless rows, or rows with their schema (`payload.id`).
            let v: Value = serde_json::from_str(&l).unwrap();
            v["id"]
                .as_i64()
                .or_else(|| v["payload"]["id"].as_i64())
                .unwrap_or_else(|| panic!("no id in {l}"))
        })
        .collect()
}

fn local_lines(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&p).unwrap();
                out.extend(text.lines().map(str::to_string));
            }
        }
    }
    out
}

fn assert_exactly_once(ids: &[i64], total: i64, what: &str) {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    let mut dupes = sorted.clone();
    dupes.dedup();
    assert_eq!(
        dupes.len(),
        sorted.len(),
        "{what}: some rows are written twice"
    );
    assert_eq!(
        sorted,
        (1..=total).collect::<Vec<_>>(),
        "{what}: rows missing"
    );
}

/// The S3 endpoint goes away for 30 s while rows keep coming: runnel retries (the slot keeps
/// the rows meanwhile), and once the server is back on its storage every row is in the bucket
/// exactly once. Objects past `s3.part.size` go up as multipart uploads.
#[test]
fn an_endpoint_down_for_30_s_loses_nothing_and_writes_nothing_twice() {
    let mut s3 = S3Server::start();
    s3_client(&s3, &["mkbucket", "down-lake"]);
    let pg = PgInstance::start();
    pg.create_database("shop");
    pg.psql("shop", "CREATE TABLE items (id int PRIMARY KEY, note text)");
    let cfg = connector(
        &pg,
        "down",
        "shop",
        json!({
            "sink.type": "s3",
            "sink.s3.s3.bucket.name": "down-lake",
            "sink.s3.s3.region": "us-east-1",
            "sink.s3.store.url": s3.endpoint(),
            "sink.s3.aws.access.key.id": ACCESS_KEY,
            "sink.s3.aws.secret.access.key": SECRET_KEY,
            "sink.s3.flush.size": "200",
            "sink.s3.rotate.schedule.interval.ms": "1000",
            "sink.s3.s3.part.size": "5242880",
            "snapshot.mode": "no_data",
            "transforms": "unwrap",
            "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
            "value.converter.schemas.enable": "false",
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut runnel = Runnel::start(dir.path(), &[cfg]);
    wait_slot_active(&pg, "shop", "down", &mut runnel);
    // 30 kB rows: 200 of them make an object of 6 MB, past the 5 MiB part size.
    let insert = |from: i64, to: i64| {
        pg.psql(
            "shop",
            &format!(
                "INSERT INTO items SELECT g, repeat(md5(g::text), 940) \
                 FROM generate_series({from}, {to}) g"
            ),
        )
    };
    insert(1, 200);
    wait_objects(
        &s3,
        "down-lake",
        &mut runnel,
        Duration::from_secs(60),
        |o| line_count(o) >= 200,
    );
    s3.stop();
    let down = Instant::now();
    for step in 0..6 {
        insert(201 + step * 50, 250 + step * 50);
        std::thread::sleep(Duration::from_secs(5));
    }
    assert!(down.elapsed() >= Duration::from_secs(30));
    s3.restart();
    insert(501, 600);
    let objs = wait_objects(
        &s3,
        "down-lake",
        &mut runnel,
        Duration::from_secs(240),
        |o| line_count(o) >= 600,
    );
    runnel.stop();
    let all: Vec<String> = objs.iter().flat_map(|(_, l)| l.clone()).collect();
    assert_exactly_once(&ids(all), 600, "after the endpoint came back");
    assert!(
        objs.iter().any(|(_, l)| l.len() == 200),
        "a full 6 MB object (multipart): {:?}",
        objs.iter().map(|(k, l)| (k, l.len())).collect::<Vec<_>>()
    );
}

/// Wrong credentials (SeaweedFS checks signatures) and a missing bucket (moto, which does not
/// create one on a write as SeaweedFS does): `runnel check` reports them, and they stop the
/// connector with an error that says so.
#[test]
fn wrong_credentials_and_a_missing_bucket_are_clear_errors() {
    let s3 = S3Server::start();
    s3_client(&s3, &["mkbucket", "exists"]);
    let moto = MotoServer::start();
    let pg = PgInstance::start();
    pg.create_database("bad");
    pg.psql("bad", "CREATE TABLE t (id int PRIMARY KEY)");
    for (name, endpoint, bucket, secret, hint) in [
        (
            "wrong_secret",
            s3.endpoint(),
            "exists",
            "not-the-secret",
            "access key",
        ),
        (
            "no_bucket",
            moto.endpoint(),
            "missing-bucket",
            SECRET_KEY,
            "does not exist",
        ),
    ] {
        let cfg = connector(
            &pg,
            name,
            "bad",
            json!({
                "snapshot.mode": "no_data",
                "sink.type": "s3",
                "sink.s3.s3.bucket.name": bucket,
                "sink.s3.s3.region": "us-east-1",
                "sink.s3.store.url": endpoint,
                "sink.s3.aws.access.key.id": ACCESS_KEY,
                "sink.s3.aws.secret.access.key": secret,
                "sink.s3.flush.size": "1",
            }),
        );
        let dir = tempfile::tempdir().unwrap();
        // `runnel check` says it before anything runs.
        let (code, text) = run_check(dir.path(), &cfg);
        assert_ne!(code, 0, "{name}: {text}");
        assert!(text.contains(hint), "{name}: no {hint:?} in:\n{text}");
        let mut runnel = Runnel::start(dir.path(), &[cfg]);
        wait_slot_active(&pg, "bad", name, &mut runnel);
        pg.psql(
            "bad",
            "INSERT INTO t SELECT coalesce(max(id), 0) + 1 FROM t",
        );
        let status = wait_exit(&mut runnel, Duration::from_secs(120));
        let log = runnel.log_text();
        assert!(!status.success(), "{name}: {log}");
        let error = log.lines().find(|l| l.starts_with("error:")).unwrap_or("");
        assert!(error.contains(hint), "{name}: no {hint:?} in:\n{log}");
        assert!(!log.contains("panicked"), "{log}");
    }
}

/// Confluent's S3 sink connector reading a Kafka topic (two partitions) that a PostgreSQL
/// source fills, across `kill -9`s: per partition the objects' start offsets follow on from one
/// another without gap or overlap (`<topic>+<partition>+<offset>`), and every row is in exactly
/// one line.
#[test]
fn confluent_s3_sink_connector_from_kafka_names_objects_by_offset_exactly_once() {
    use runnel_testkit::KafkaBroker;

    let s3 = S3Server::start();
    s3_client(&s3, &["mkbucket", "from-kafka"]);
    let broker = KafkaBroker::start();
    let pg = PgInstance::start();
    pg.create_database("src");
    pg.psql("src", "CREATE TABLE items (id int PRIMARY KEY, v text)");
    let mut to_kafka = pg_connector(
        &pg,
        "to_kafka",
        "src",
        "to_kafka",
        std::path::Path::new("/dev/null"),
        json!({
            "snapshot.mode": "no_data",
            "topic.creation.default.partitions": "2",
            "topic.creation.default.replication.factor": "1",
        }),
    );
    let c = to_kafka["config"].as_object_mut().unwrap();
    c.remove("sink.type");
    c.remove("sink.file.path");
    let sink = json!({"name": "s3-sink", "config": {
        "connector.class": "io.confluent.connect.s3.S3SinkConnector",
        "topics": "src.public.items",
        "s3.bucket.name": "from-kafka",
        "s3.region": "us-east-1",
        "store.url": s3.endpoint(),
        "aws.access.key.id": ACCESS_KEY,
        "aws.secret.access.key": SECRET_KEY,
        "flush.size": "25",
        "rotate.schedule.interval.ms": "300",
        "format.class": "io.confluent.connect.s3.format.json.JsonFormat",
        "behavior.on.null.values": "ignore",
        "transforms": "unwrap",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "consumer.override.partition.assignment.strategy": "range",
        "consumer.override.max.poll.interval.ms": "10000",
        "consumer.override.session.timeout.ms": "6000",
        "consumer.override.topic.metadata.refresh.interval.ms": "500",
    }});
    let configs = [to_kafka, sink];
    let dir = tempfile::tempdir().unwrap();
    let mut runnel = Runnel::start_with_kafka(dir.path(), &configs, &broker.bootstrap());
    wait_slot_active(&pg, "src", "to_kafka", &mut runnel);
    let total = 600;
    for round in 0..3 {
        let (from, to) = (round * 200 + 1, round * 200 + 200);
        for start in (from..=to).step_by(20) {
            pg.psql(
                "src",
                &format!(
                    "INSERT INTO items SELECT g, 'v' FROM generate_series({start}, {}) g",
                    start + 19
                ),
            );
        }
        std::thread::sleep(Duration::from_millis(300 + round as u64 * 250));
        runnel.kill();
        runnel = Runnel::start_with_kafka(dir.path(), &configs, &broker.bootstrap());
    }
    let objs = wait_objects(
        &s3,
        "from-kafka",
        &mut runnel,
        Duration::from_secs(120),
        |o| line_count(o) >= total as usize,
    );
    runnel.stop();
    assert_exactly_once(
        &ids(objs.iter().flat_map(|(_, l)| l.clone())),
        total,
        "from Kafka",
    );
    // Per partition, each object starts where the one before it ended.
    let mut next: BTreeMap<String, u64> = BTreeMap::new();
    for (key, lines) in &objs {
        let name = key.rsplit('/').next().unwrap();
        let mut parts = name.trim_end_matches(".json").split('+');
        let (topic, partition, offset) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        assert_eq!(topic, "src.public.items", "{key}");
        assert_eq!(offset.len(), 10, "{key}: offsets are zero-padded to 10");
        assert!(
            key.starts_with(&format!("topics/src.public.items/partition={partition}/")),
            "{key}"
        );
        let offset: u64 = offset.parse().unwrap();
        let expected = next.entry(partition.to_string()).or_insert(0);
        assert_eq!(
            offset, *expected,
            "{key}: a gap or an overlap in partition {partition}"
        );
        *expected += lines.len() as u64;
    }
}

/// The typed-rows workload of the Parquet and Avro tests: table `orders` of database "shop"
/// (decimal, timestamp, date, array, nullable text, a smallint with a default), unwrapped and
/// written by the sink `sink(s3)` into `bucket`: 20 rows (`note` is `even` on even ids),
/// then a column added and a 21st row. Returns the rows by id, each object key checked by
/// `key_ok` and each row found once.
fn orders_with_a_column_added(
    s3: &S3Server,
    bucket: &str,
    name: &str,
    even: &str,
    sink: impl Fn(&S3Server) -> Value,
    key_ok: impl Fn(&str) -> bool,
) -> BTreeMap<i64, Value> {
    s3_client(s3, &["mkbucket", bucket]);
    let pg = PgInstance::start();
    pg.create_database("shop");
    pg.psql(
        "shop",
        "CREATE TABLE orders (id int PRIMARY KEY, amount numeric(10,2), placed timestamp, \
         day date, tags text[], note text, small smallint NOT NULL DEFAULT 7)",
    );
    let mut extra = sink(s3);
    extra["snapshot.mode"] = "no_data".into();
    extra["transforms"] = "unwrap".into();
    extra["transforms.unwrap.type"] = "io.debezium.transforms.ExtractNewRecordState".into();
    let mut cfg = connector(&pg, name, "shop", extra);
    cfg["config"]["topic.prefix"] = "shop".into();
    let dir = tempfile::tempdir().unwrap();
    let mut runnel = Runnel::start(dir.path(), &[cfg]);
    wait_slot_active(&pg, "shop", name, &mut runnel);
    pg.psql(
        "shop",
        &format!(
            "INSERT INTO orders SELECT g, g * 1.25, '2024-06-01 12:00:00.123456'::timestamp + g * interval '1 hour', \
             date '2024-01-01' + g, ARRAY['a' || g, NULL], CASE WHEN g % 2 = 0 THEN '{even}' END \
             FROM generate_series(1, 20) g"
        ),
    );
    // Wait for the first rows, then change the schema.
    let wait_rows = |n: usize, runnel: &mut Runnel| {
        wait_objects(s3, bucket, runnel, Duration::from_secs(60), |o| {
            line_count(o) >= n
        })
    };
    wait_rows(20, &mut runnel);
    pg.psql(
        "shop",
        "ALTER TABLE orders ADD COLUMN qty int; INSERT INTO orders (id, amount, qty) VALUES (21, 9.99, 3)",
    );
    let objs = wait_rows(21, &mut runnel);
    runnel.stop();
    let mut rows = BTreeMap::new();
    for (key, lines) in &objs {
        assert!(key_ok(key), "{key}");
        for line in lines {
            let row: Value = serde_json::from_str(line).unwrap();
            assert!(
                rows.insert(row["id"].as_i64().unwrap(), row).is_none(),
                "twice: {line}"
            );
        }
    }
    rows
}

/// Parquet objects (Lenses' `STOREAS parquet`) of unwrapped rows, read back independently with
/// pyarrow: decimals as DECIMAL, timestamps as TIMESTAMP(MICROS), dates as DATE, arrays as
/// lists, each row once and equal to the source's; a column added mid-stream opens an object
/// with the new schema.
#[test]
fn parquet_objects_carry_the_rows_with_their_logical_types() {
    let s3 = S3Server::start();
    let rows = orders_with_a_column_added(
        &s3,
        "pq-lake",
        "pq",
        "even",
        |s3| {
            s3_sink(
                s3,
                json!({
                    "sink.s3.connect.s3.kcql": "INSERT INTO pq-lake:lake SELECT * FROM `*` STOREAS `parquet` WITH_FLUSH_COUNT = 1000 WITH_FLUSH_INTERVAL = 1",
                }),
            )
        },
        |key| key.starts_with("lake/shop.public.orders/0/") && key.ends_with(".parquet"),
    );
    assert_eq!(rows.len(), 21);
    // pyarrow's view: Decimal('2.50'), a datetime, a date, a list.
    assert_eq!(rows[&2]["amount"], "2.50");
    assert_eq!(rows[&2]["placed"], "2024-06-01 14:00:00.123456");
    assert_eq!(rows[&2]["day"], "2024-01-03");
    assert_eq!(rows[&2]["tags"], json!(["a2", null]));
    assert_eq!(rows[&2]["note"], "even");
    assert_eq!(rows[&3]["note"], Value::Null);
    assert_eq!(rows[&21]["qty"], 3);
    assert!(
        rows[&1].get("qty").is_none(),
        "the first object has the first schema"
    );
    let schema = objects_schema(&s3, "pq-lake");
    assert!(schema.contains("amount: decimal128(10, 2)"), "{schema}");
    assert!(schema.contains("placed: timestamp[us]"), "{schema}");
    assert!(schema.contains("day: date32[day]"), "{schema}");
}

/// Avro object container files (Confluent's `AvroFormat`, `avro.codec=deflate`) of unwrapped
/// rows, read back with Apache Avro's own Python reader: the schema Confluent's AvroConverter
/// makes (record `Value` in namespace `shop.public.orders`, optional fields as unions with
/// `null`, `Decimal` as the decimal logical type), each row once and equal to the source's; a
/// column added mid-stream opens an object with the new schema.
#[test]
fn avro_objects_carry_the_rows_with_confluents_avro_schema() {
    let s3 = S3Server::start();
    let rows = orders_with_a_column_added(
        &s3,
        "avro-lake",
        "av",
        "even ✓",
        |s3| {
            json!({
                "sink.type": "s3",
                "sink.s3.s3.bucket.name": "avro-lake",
                "sink.s3.s3.region": "us-east-1",
                "sink.s3.store.url": s3.endpoint(),
                "sink.s3.aws.access.key.id": ACCESS_KEY,
                "sink.s3.aws.secret.access.key": SECRET_KEY,
                "sink.s3.format.class": "io.confluent.connect.s3.format.avro.AvroFormat",
                "sink.s3.avro.codec": "deflate",
                "sink.s3.flush.size": "1000",
                "sink.s3.rotate.schedule.interval.ms": "1000",
            })
        },
        |key| {
            key.starts_with("topics/shop.public.orders/partition=0/shop.public.orders+0+")
                && key.ends_with(".avro")
        },
    );
    assert_eq!(rows.len(), 21);
    // Avro's Python view: a Decimal, MicroTimestamp and Date as Debezium's numbers.
    assert_eq!(rows[&2]["amount"], "2.50");
    assert_eq!(rows[&2]["placed"], 1_717_250_400_123_456i64);
    assert_eq!(rows[&2]["day"], 19_725);
    assert_eq!(rows[&2]["tags"], json!(["a2", null]));
    assert_eq!(rows[&2]["note"], "even ✓");
    assert_eq!(rows[&3]["note"], Value::Null);
    assert_eq!(rows[&2]["small"], 7);
    assert_eq!(rows[&21]["qty"], 3);
    assert!(
        rows[&1].get("qty").is_none(),
        "the first object has the first schema"
    );
    let schemas: Vec<Value> = s3_client(&s3, &["dump", "avro-lake"])
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["schema"].clone())
        .map(|s| serde_json::from_str(s.as_str().unwrap()).unwrap())
        .collect();
    // The unwrapped row's schema is not optional: the record itself, not a union.
    let first = &schemas[0];
    assert_eq!(first["type"], "record", "{first}");
    assert_eq!(first["name"], "Value", "{first}");
    assert_eq!(first["namespace"], "shop.public.orders", "{first}");
    let amount = &first["fields"][1];
    assert_eq!(amount["name"], "amount");
    assert_eq!(amount["default"], Value::Null, "{amount}");
    assert_eq!(amount["type"][0], "null", "{amount}");
    assert_eq!(amount["type"][1]["logicalType"], "decimal", "{amount}");
    assert_eq!(amount["type"][1]["precision"], 10, "{amount}");
    assert_eq!(
        first["fields"][2]["type"][1]["connect.name"], "io.debezium.time.MicroTimestamp",
        "{first}"
    );
    assert_eq!(
        first["fields"][6]["type"]["connect.type"], "int16",
        "{first}"
    );
}

/// runnel streaming database "shop" through ExtractNewRecordState into `files` with a Lenses
/// KCQL statement (`sink.type=files`), its slot active.
fn start_kcql_to_files(
    pg: &PgInstance,
    name: &str,
    files: &std::path::Path,
    state: &std::path::Path,
    kcql: &str,
) -> Runnel {
    let mut cfg = connector(
        pg,
        name,
        "shop",
        json!({
            "sink.type": "files",
            "sink.files.path": files.display().to_string(),
            "sink.files.connect.s3.kcql": kcql,
            "snapshot.mode": "no_data",
            "transforms": "unwrap",
            "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        }),
    );
    cfg["config"]["topic.prefix"] = "shop".into();
    let mut runnel = Runnel::start(state, &[cfg]);
    wait_slot_active(pg, "shop", name, &mut runnel);
    runnel
}

/// Lenses' `STOREAS CSV_WITHHEADERS` into a local directory (`sink.type=files`), read back with
/// Python's csv module: a header line in every object, quoting where a cell needs it, NULL as
/// an empty cell, decimals as their digits.
#[test]
fn csv_objects_have_a_header_and_quote_what_needs_quoting() {
    let pg = PgInstance::start();
    pg.create_database("shop");
    pg.psql(
        "shop",
        "CREATE TABLE notes (id int PRIMARY KEY, body text, amount numeric(8,2), done boolean)",
    );
    let files = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut runnel = start_kcql_to_files(
        &pg,
        "csv",
        files.path(),
        dir.path(),
        "INSERT INTO lake:notes SELECT * FROM `*` STOREAS `CSV_WITHHEADERS` WITH_FLUSH_COUNT = 1000 WITH_FLUSH_INTERVAL = 1",
    );
    pg.psql(
        "shop",
        "INSERT INTO notes VALUES (1, 'plain', 1.50, true), (2, 'a, b', NULL, false), \
         (3, E'say \"hi\"\nthere', 2.00, NULL)",
    );
    let read = || {
        let out = Command::new("python3")
            .arg("-c")
            .arg(
                "import csv, json, pathlib, sys\n\
                 for p in sorted(pathlib.Path(sys.argv[1]).rglob('*.csv')):\n\
                 \x20   print(json.dumps(list(csv.reader(open(p, newline='')))))",
            )
            .arg(files.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<Vec<Vec<String>>>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let objects = loop {
        let objects = read();
        if objects
            .iter()
            .map(|o| o.len().saturating_sub(1))
            .sum::<usize>()
            >= 3
        {
            break objects;
        }
        assert!(
            Instant::now() < deadline,
            "{objects:?}; log:\n{}",
            runnel.log_text()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    runnel.stop();
    assert_eq!(objects.len(), 1, "{objects:?}");
    let rows = &objects[0];
    assert_eq!(rows[0], ["id", "body", "amount", "done"]);
    assert_eq!(rows[1], ["1", "plain", "1.50", "true"]);
    assert_eq!(rows[2], ["2", "a, b", "", "false"]);
    assert_eq!(rows[3], ["3", "say \"hi\"\nthere", "2.00", ""]);
}

/// KCQL's SELECT of fields: value fields (one renamed with AS) and a key field, written as JSON
/// objects of just those fields.
#[test]
fn kcql_select_writes_the_chosen_fields_under_their_names() {
    let pg = PgInstance::start();
    pg.create_database("shop");
    pg.psql(
        "shop",
        "CREATE TABLE notes (id int PRIMARY KEY, body text, secret text, amount numeric(8,2))",
    );
    let files = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut runnel = start_kcql_to_files(
        &pg,
        "sel",
        files.path(),
        dir.path(),
        "INSERT INTO lake:sel SELECT body AS text, amount, _key.id AS key_id FROM `*` STOREAS `json` WITH_FLUSH_COUNT = 1000 WITH_FLUSH_INTERVAL = 1",
    );
    pg.psql(
        "shop",
        "INSERT INTO notes VALUES (1, 'one', 'x', 1.50), (2, NULL, 'y', NULL)",
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let lines = loop {
        let lines = local_lines(files.path());
        if lines.len() >= 2 {
            break lines;
        }
        assert!(
            Instant::now() < deadline,
            "{lines:?}; log:\n{}",
            runnel.log_text()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    runnel.stop();
    let rows: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Connect's Decimal in JSON is base64 of the unscaled value: 150 → "AJY=".
    assert_eq!(
        rows[0],
        json!({"text": "one", "amount": "AJY=", "key_id": 1})
    );
    assert_eq!(rows[1], json!({"text": null, "amount": null, "key_id": 2}));
}

/// The Parquet schemas of a bucket's objects, as pyarrow prints them.
fn objects_schema(s3: &S3Server, bucket: &str) -> String {
    s3_client(s3, &["dump", bucket])
        .lines()
        .filter_map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["schema"]
                .as_str()
                .map(str::to_string)
        })
        .collect::<Vec<_>>()
        .join("\n")
}
