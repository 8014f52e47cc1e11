//! `runnel import-connect`: a stopped Kafka Connect cluster's connectors taken over from its
//! config and offset topics (records as Kafka Connect writes them), each resuming from its own
//! offset — a Debezium PostgreSQL connector from its LSN on its slot, without a new snapshot.

use std::path::Path;
use std::process::Command;

use runnel_testkit::{KafkaBroker, PgInstance};
use serde_json::{Value, json};

use crate::kafka::kafka_client;
use crate::support::*;
use crate::worker::{WorkerProcess, has_row, wait_file};

/// One produce line for `kafka_client.py`: key and value as Kafka Connect's JsonConverter
/// (schemas off) writes them, `None` a tombstone.
fn line(key: &str, value: Option<&Value>) -> String {
    json!({"key": key, "value": value.map(|v| v.to_string())}).to_string()
}

/// `runnel import-connect --config <worker config> --state-dir <state>`.
fn import(config: &Path, state: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_runnel"))
        .arg("import-connect")
        .arg("--config")
        .arg(config)
        .arg("--state-dir")
        .arg(state)
        .output()
        .expect("run runnel import-connect")
}

#[test]
fn a_kafka_connect_clusters_connectors_resume_from_their_offsets_after_import() {
    let broker = KafkaBroker::start();
    let bootstrap = broker.bootstrap();
    let pg = PgInstance::start();
    pg.create_database("inv");
    pg.psql(
        "inv",
        "CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items VALUES (1, 'a'), (2, 'b');",
    );
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();

    // The connector as it ran before: snapshot, one streamed change, stopped; its offset is
    // what Debezium keeps in Kafka Connect's offset topic.
    let first = dir.path().join("first.jsonl");
    let cfg = pg_connector(
        &pg,
        "inventory",
        "inv",
        "inventory",
        &first,
        json!({"topic.prefix": "inv", "key.converter.schemas.enable": "false",
               "value.converter.schemas.enable": "false"}),
    );
    let mut w = WorkerProcess::start(&a, runnel_testkit::free_port(), &[]);
    w.ok("POST", "/connectors", Some(&cfg), 201);
    wait_file(&first, "the snapshot", |r| has_row(r, 1) && has_row(r, 2));
    pg.psql("inv", "INSERT INTO items VALUES (3, 'c');");
    wait_file(&first, "row 3", |r| has_row(r, 3));
    w.ok("PUT", "/connectors/inventory/stop", None, 204);
    let offsets = wait_for(
        "the committed offset",
        std::time::Duration::from_secs(30),
        || {
            let o = w.ok("GET", "/connectors/inventory/offsets", None, 200);
            o["offsets"][0]["offset"]["lsn"].is_u64().then_some(o)
        },
    );
    w.stop();
    // Changes while the cluster is down.
    pg.psql(
        "inv",
        "INSERT INTO items VALUES (4, 'd'); UPDATE items SET v = 'a2' WHERE id = 1;",
    );

    // The cluster's topics as its workers left them.
    kafka_client(&["create", &bootstrap, "connect-configs", "1"], "");
    kafka_client(&["create", &bootstrap, "connect-offsets", "5"], "");
    let second = dir.path().join("second.jsonl");
    let mut props = cfg["config"].clone();
    props["name"] = json!("inventory");
    props["sink.file.path"] = json!(second.display().to_string());
    let mut stopped = cfg["config"].clone();
    stopped["name"] = json!("parked");
    stopped["slot.name"] = json!("parked");
    let configs = [
        line("connector-inventory", Some(&json!({"properties": props}))),
        line("task-inventory-0", Some(&json!({"properties": props}))),
        line("commit-inventory", Some(&json!({"tasks": 1}))),
        line("connector-parked", Some(&json!({"properties": stopped}))),
        line(
            "target-state-parked",
            Some(&json!({"state": "PAUSED", "state.v2": "STOPPED"})),
        ),
        line("connector-gone", Some(&json!({"properties": stopped}))),
        line("connector-gone", None),
        line(
            "session-key",
            Some(&json!({"key": "c2VjcmV0", "algorithm": "HmacSHA256", "creation-timestamp": 1})),
        ),
    ];
    kafka_client(
        &["produce", &bootstrap, "connect-configs"],
        &(configs.join("\n") + "\n"),
    );
    let partition = &offsets["offsets"][0]["partition"];
    let key = json!(["inventory", partition]).to_string();
    let older = json!({"lsn": 1, "txId": 1, "ts_usec": 1});
    let offset_lines = [
        line(&key, Some(&older)),
        line(&key, Some(&offsets["offsets"][0]["offset"])),
    ];
    kafka_client(
        &["produce", &bootstrap, "connect-offsets"],
        &(offset_lines.join("\n") + "\n"),
    );

    let props_file = dir.path().join("connect-distributed.properties");
    std::fs::write(
        &props_file,
        format!(
            "bootstrap.servers={bootstrap}\ngroup.id=connect-cluster\n\
             config.storage.topic=connect-configs\noffset.storage.topic=connect-offsets\n\
             status.storage.topic=connect-status\n\
             key.converter=org.apache.kafka.connect.json.JsonConverter\n"
        ),
    )
    .unwrap();
    let state = b.join("state");
    let out = import(&props_file, &state);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "import failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("inventory: imported (STARTED, offset {"),
        "{stdout}"
    );
    assert!(
        stdout.contains("parked: imported (STOPPED, no source offset)"),
        "{stdout}"
    );
    assert!(!stdout.contains("gone"), "{stdout}");

    // The worker on the imported state resumes from the offset: the changes made while the
    // cluster was down, no snapshot.
    let w = WorkerProcess::start(&b, runnel_testkit::free_port(), &[]);
    let names = w.ok("GET", "/connectors", None, 200);
    assert_eq!(names, json!(["inventory", "parked"]));
    let recs = wait_file(&second, "the changes made during the takeover", |r| {
        has_row(r, 4) && r.iter().any(|x| x["value"]["after"]["v"] == "a2")
    });
    assert!(
        recs.iter().all(|r| r["value"]["op"] != "r") && !has_row(&recs, 2),
        "the connector snapshotted again instead of resuming: {recs:?}"
    );
    let parked = w.ok("GET", "/connectors/parked/status", None, 200);
    assert_eq!(parked["connector"]["state"], "STOPPED");

    // Importing again is refused (nothing overwritten); a wrong topic is named.
    let out = import(&props_file, &state);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("connector inventory is already in"),
        "{stderr}"
    );
    let wrong = dir.path().join("wrong.properties");
    std::fs::write(
        &wrong,
        format!(
            "bootstrap.servers={bootstrap}\nconfig.storage.topic=connect-configz\n\
             offset.storage.topic=connect-offsets\n"
        ),
    )
    .unwrap();
    let out = import(&wrong, &state);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("topic connect-configz does not exist"),
        "{stderr}"
    );
}
