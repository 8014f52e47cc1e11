//! PostgreSQL → Kafka and Kafka → file against a real Kafka-protocol broker (nisshi, or tansu),
//! checked with an independent client (Python confluent-kafka, tests/kafka_client.py).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use runnel_testkit::KafkaBroker;
use serde_json::{Value, json};

use crate::conformance::strip;
use crate::support::*;

/// Records of the topics matching `pattern`, read from the beginning by the independent client.
pub(crate) fn kafka_records(broker: &KafkaBroker, pattern: &str, min: usize) -> Vec<Value> {
    let out = Command::new("python3")
        .arg(fixture("../kafka_client.py"))
        .args(["read", &broker.bootstrap(), pattern, &min.to_string(), "60"])
        .output()
        .expect("run kafka_client.py (pip install confluent-kafka)");
    assert!(
        out.status.success(),
        "kafka_client.py read failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub(crate) fn kafka_client(args: &[&str], stdin: &str) {
    use std::io::Write;
    let mut child = Command::new("python3")
        .arg(fixture("../kafka_client.py"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("run kafka_client.py");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "kafka_client.py {args:?}");
}

fn json_of(raw: &Value) -> Value {
    raw.as_str()
        .map(|s| serde_json::from_str(s).unwrap())
        .unwrap_or(Value::Null)
}

/// Per topic and key, the sequence of values (normalized): what per-key order promises.
fn by_key(
    recs: impl Iterator<Item = (String, Value, Value)>,
) -> BTreeMap<(String, String), Vec<Value>> {
    let mut map: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for (topic, key, mut value) in recs {
        strip(&mut value);
        map.entry((topic, key.to_string())).or_default().push(value);
    }
    map
}

/// A Kafka → file sink connector. tansu's consumer groups (the fallback test broker) hang with
/// the default cooperative assignor (DEPENDENCIES.md): the tests use `range` and short group
/// timeouts.
fn file_sink_connector(name: &str, file: &std::path::Path, extra: Value) -> Value {
    let mut config = json!({
        "connector.class": "io.runnel.connect.file.FileSinkConnector",
        "file": file.display().to_string(),
        "consumer.override.partition.assignment.strategy": "range",
        "consumer.override.max.poll.interval.ms": "10000",
        "consumer.override.session.timeout.ms": "6000",
        "consumer.override.topic.metadata.refresh.interval.ms": "500",
    });
    if let (Value::Object(c), Value::Object(e)) = (&mut config, extra) {
        c.extend(e);
    }
    json!({"name": name, "config": config})
}

#[test]
fn postgres_to_kafka_to_file_matches_postgres_to_file() {
    let broker = KafkaBroker::start();
    let pg = PgInstance::start();
    pg.create_database("rig");
    pg.psql_file("rig", &fixture("postgres/schema.sql"));
    pg.psql("rig", "CALL rig_seed(50)");
    let dir = tempfile::tempdir().unwrap();
    let direct = dir.path().join("direct.jsonl");
    let via_kafka = dir.path().join("via-kafka.jsonl");
    let to_file = pg_connector(
        &pg,
        "direct",
        "rig",
        "direct",
        &direct,
        json!({"snapshot.mode": "no_data"}),
    );
    let mut to_kafka = pg_connector(
        &pg,
        "to-kafka",
        "rig",
        "to_kafka",
        &direct,
        json!({"snapshot.mode": "no_data", "topic.creation.default.partitions": "3",
               "topic.creation.default.replication.factor": "1"}),
    );
    let c = to_kafka["config"].as_object_mut().unwrap();
    c.remove("sink.type");
    c.remove("sink.file.path");
    let from_kafka = file_sink_connector(
        "from-kafka",
        &via_kafka,
        json!({"topics.regex": "rig\\.public\\..*"}),
    );
    let mut runnel = Runnel::start_with_kafka(
        dir.path(),
        &[to_file, to_kafka, from_kafka],
        &broker.bootstrap(),
    );
    wait_slot_active(&pg, "rig", "direct", &mut runnel);
    wait_slot_active(&pg, "rig", "to_kafka", &mut runnel);
    pg.psql_file("rig", &fixture("postgres/sample.sql"));
    // sample.sql: Debezium's 39 records and 22 step markers.
    let direct_recs = wait_records(
        &direct,
        "direct",
        Duration::from_secs(60),
        &mut runnel,
        |r| r.len() >= 61,
    );
    let via = wait_records(
        &via_kafka,
        "records via Kafka",
        Duration::from_secs(90),
        &mut runnel,
        |r| r.len() >= direct_recs.len(),
    );
    runnel.stop();
    let plain = |recs: &[Value]| {
        by_key(
            recs.iter()
                .map(|r| (topic(r).to_string(), r["key"].clone(), r["value"].clone())),
        )
    };
    assert_eq!(
        plain(&via),
        plain(&direct_recs),
        "Kafka → file differs from the direct file sink"
    );

    // What the independent client sees: same records, each on the Java client's partition.
    let on_broker = kafka_records(&broker, "rig\\.public\\..*", direct_recs.len());
    assert_eq!(on_broker.len(), direct_recs.len());
    for r in &on_broker {
        let key = r["key_raw"].as_str().unwrap();
        let want = runnel_kafka::partition::partition_for_key(key.as_bytes(), 3);
        assert_eq!(r["partition"], want, "key {key} on the wrong partition");
    }
    let seen = by_key(on_broker.iter().map(|r| {
        (
            r["topic"].as_str().unwrap().to_string(),
            json_of(&r["key_raw"]),
            json_of(&r["value_raw"]),
        )
    }));
    assert_eq!(seen, plain(&direct_recs));
}

/// Partitions the Java client (kafka-clients 4.3.0, `Utils.toPositive(Utils.murmur2(key)) % 3`)
/// picks for the keys `{"id":1}` … `{"id":20}`.
const JAVA_PARTITIONS_OF_3: [i64; 20] =
    [0, 1, 0, 2, 2, 1, 0, 0, 0, 1, 1, 2, 0, 0, 0, 2, 0, 0, 2, 0];

/// A database `shop` with table `t (id, v)` and a connector streaming it to `bootstrap`
/// (3 partitions, schemas off).
fn shop_to_kafka(pg: &PgInstance, dir: &std::path::Path, bootstrap: &str) -> Value {
    pg.create_database("shop");
    pg.psql(
        "shop",
        "CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)",
    );
    let mut cfg = pg_connector(
        pg,
        "shop",
        "shop",
        "shop",
        &dir.join("unused"),
        json!({"snapshot.mode": "no_data", "sink.type": "kafka",
               "sink.kafka.bootstrap.servers": bootstrap,
               "topic.creation.default.partitions": "3",
               "topic.creation.default.replication.factor": "1",
               "key.converter.schemas.enable": "false", "value.converter.schemas.enable": "false"}),
    );
    cfg["config"]
        .as_object_mut()
        .unwrap()
        .remove("sink.file.path");
    cfg
}

/// Waits until the slot's confirmed position reaches the last commit: runnel has every change
/// acknowledged by Kafka.
fn wait_acknowledged(pg: &PgInstance, runnel: &mut Runnel) {
    let end = pg.query_value("shop", "SELECT pg_current_wal_lsn()::text");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while pg.query_value(
        "shop",
        &format!("SELECT confirmed_flush_lsn >= '{end}' FROM pg_replication_slots WHERE slot_name = 'shop'"),
    ) != "t"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "not acknowledged after the outage:\n{}",
            runnel.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every key 1..=20 of `t` went through v = 0, 1, …, `rounds` in that order (repeats allowed:
/// at-least-once), on the partition the Java client picks.
fn assert_every_change_in_key_order(all: &[Value], rounds: i64, log: &str) {
    for r in all {
        let id = json_of(&r["key_raw"])["id"].as_i64().unwrap();
        assert_eq!(
            r["partition"],
            JAVA_PARTITIONS_OF_3[id as usize - 1],
            "key {id}"
        );
    }
    for id in 1..=20 {
        let values: Vec<i64> = all
            .iter()
            .map(|r| (json_of(&r["key_raw"]), json_of(&r["value_raw"])))
            .filter(|(k, _)| k["id"] == id)
            .map(|(_, v)| v["after"]["v"].as_i64().unwrap())
            .collect();
        let mut dedup = values.clone();
        dedup.dedup();
        assert_eq!(
            dedup,
            (0..=rounds).collect::<Vec<_>>(),
            "key {id}: {values:?}; log:\n{log}"
        );
    }
}

/// The broker is down for the first 30 s of changes: runnel stalls, says so, retries, and
/// when the broker comes up every change is there, in per-key order, on the partition the Java
/// client would pick.
#[test]
fn a_broker_down_for_30_s_loses_nothing_and_keys_land_on_java_partitions() {
    let port = runnel_testkit::free_port();
    let pg = PgInstance::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = shop_to_kafka(&pg, dir.path(), &format!("127.0.0.1:{port}"));
    let mut runnel = Runnel::start(dir.path(), &[cfg]);
    wait_slot_active(&pg, "shop", "shop", &mut runnel);
    pg.psql(
        "shop",
        "INSERT INTO t SELECT g, 0 FROM generate_series(1, 20) g",
    );
    for round in 1..=10 {
        std::thread::sleep(Duration::from_secs(3));
        pg.psql("shop", &format!("UPDATE t SET v = {round}"));
    }
    assert!(
        runnel.exited().is_none(),
        "runnel gave up during the outage:\n{}",
        runnel.log_text()
    );
    let broker = KafkaBroker::start_on(port);
    wait_acknowledged(&pg, &mut runnel);
    let all = kafka_records(&broker, "shop\\.public\\.t", 220);
    runnel.stop();
    let log = runnel.log_text();
    assert!(log.contains("WARN"), "the outage was not reported:\n{log}");
    assert_every_change_in_key_order(&all, 10, &log);
}

/// Mid-stream, the broker crashes (SIGKILL) and stays down for 30 s; during the outage runnel
/// is killed too and restarted. When the broker is back (same storage) nothing is lost and
/// each key's changes are in order: what was acknowledged before the crash is kept, the rest
/// is sent again from the last committed position.
#[test]
fn a_broker_killed_mid_stream_and_runnel_killed_during_the_outage_lose_nothing() {
    let mut broker = KafkaBroker::start_durable();
    let pg = PgInstance::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = shop_to_kafka(&pg, dir.path(), &broker.bootstrap());
    let mut runnel = Runnel::start(dir.path(), std::slice::from_ref(&cfg));
    wait_slot_active(&pg, "shop", "shop", &mut runnel);
    pg.psql(
        "shop",
        "INSERT INTO t SELECT g, 0 FROM generate_series(1, 20) g",
    );
    for round in 1..=13 {
        if round == 4 {
            broker.stop();
        }
        if round == 8 {
            runnel.kill();
            runnel = Runnel::start(dir.path(), std::slice::from_ref(&cfg));
        }
        pg.psql("shop", &format!("UPDATE t SET v = {round}"));
        std::thread::sleep(Duration::from_millis(if round < 4 { 300 } else { 3000 }));
    }
    assert!(
        runnel.exited().is_none(),
        "runnel gave up during the outage:\n{}",
        runnel.log_text()
    );
    broker.restart();
    wait_acknowledged(&pg, &mut runnel);
    let all = kafka_records(&broker, "shop\\.public\\.t", 20 * 14);
    runnel.stop();
    let log = runnel.log_text();
    assert!(log.contains("WARN"), "the outage was not reported:\n{log}");
    assert_every_change_in_key_order(&all, 13, &log);
}

#[test]
fn kafka_to_file_sends_poison_records_to_the_dead_letter_queue_and_resumes_after_restart() {
    let broker = KafkaBroker::start();
    let b = broker.bootstrap();
    for (topic, partitions) in [("events", "2"), ("events-dlq", "1")] {
        kafka_client(&["create", &b, topic, partitions], "");
    }
    let good =
        |i: u32| format!("{{\"key\": \"{{\\\"id\\\":{i}}}\", \"value\": \"{{\\\"n\\\":{i}}}\"}}\n");
    let mut lines = String::new();
    for i in 1..=5 {
        lines += &good(i);
    }
    lines += "{\"key\": \"{\\\"id\\\":99}\", \"value\": \"this is not JSON\"}\n";
    // Converts, but the transform fails on it: dead-lettered as it was read.
    lines += "{\"key\": \"{\\\"id\\\":50}\", \"value\": \"{\\\"n\\\":\\\"fifty\\\"}\"}\n";
    lines += "{\"key\": \"{\\\"id\\\":6}\", \"value\": null}\n";
    kafka_client(&["produce", &b, "events"], &lines);

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let cfg = file_sink_connector(
        "events-to-file",
        &out,
        json!({
            "topics": "events",
            "key.converter.schemas.enable": "false",
            "value.converter.schemas.enable": "false",
            "errors.tolerance": "all",
            "errors.log.enable": "true",
            "errors.deadletterqueue.topic.name": "events-dlq",
            "errors.deadletterqueue.context.headers.enable": "true",
            "transforms": "cast",
            "transforms.cast.type": "org.apache.kafka.connect.transforms.Cast$Value",
            "transforms.cast.spec": "n:int32",
        }),
    );
    let mut runnel = Runnel::start_with_kafka(dir.path(), std::slice::from_ref(&cfg), &b);
    let recs = wait_records(
        &out,
        "good records",
        Duration::from_secs(60),
        &mut runnel,
        |r| r.len() >= 6,
    );
    runnel.stop();
    assert_eq!(recs.len(), 6, "{recs:?}");
    assert!(
        recs.iter()
            .any(|r| r["key"]["id"] == 6 && r["value"].is_null()),
        "tombstone kept"
    );
    let dlq = kafka_records(&broker, "events-dlq", 2);
    assert_eq!(dlq.len(), 2, "{dlq:?}");
    let stage = |d: &Value| {
        d["headers"]["__connect.errors.stage"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let converter = dlq
        .iter()
        .find(|d| stage(d) == "VALUE_CONVERTER")
        .expect("the converter's dead letter");
    assert_eq!(converter["value_raw"], "this is not JSON");
    assert_eq!(converter["headers"]["__connect.errors.topic"], "events");
    assert_eq!(
        converter["headers"]["__connect.errors.connector.name"],
        "events-to-file"
    );
    let transform = dlq
        .iter()
        .find(|d| stage(d) == "TRANSFORMATION")
        .expect("the transform's dead letter");
    assert_eq!(
        json_of(&transform["value_raw"]),
        json!({"n": "fifty"}),
        "{transform}"
    );
    assert_eq!(
        json_of(&transform["key_raw"]),
        json!({"id": 50}),
        "{transform}"
    );
    assert_eq!(
        transform["headers"]["__connect.errors.class.name"],
        "org.apache.kafka.connect.transforms.Cast$Value"
    );
    assert_eq!(transform["headers"]["__connect.errors.topic"], "events");
    assert!(
        runnel.log_text().contains("cannot be converted"),
        "errors.log.enable"
    );

    // Restart: committed records are not read again; new ones are.
    kafka_client(&["produce", &b, "events"], &(good(7) + &good(8)));
    let mut runnel = Runnel::start_with_kafka(dir.path(), &[cfg], &b);
    let recs = wait_records(
        &out,
        "records after restart",
        Duration::from_secs(60),
        &mut runnel,
        |r| r.len() >= 8,
    );
    std::thread::sleep(Duration::from_secs(2));
    runnel.stop();
    let recs_now = records(&out);
    assert_eq!(recs_now.len(), 8, "re-read after restart: {recs:?}");
}
