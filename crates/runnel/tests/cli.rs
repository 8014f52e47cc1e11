//! Config errors and `runnel check`: one clear line each, non-zero exit, no panic.

use std::process::Command;

use serde_json::json;

use crate::support::*;

#[test]
fn config_errors_are_one_clear_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let bad = json!({"name": "x", "config": {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostnme": "localhost", "database.user": "u", "database.dbname": "d",
        "topic.prefix": "p", "snapshot.mode": "sometimes", "tombstones.on.delete": "yes"
    }});
    let (code, text) = run_check(dir.path(), &bad);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains(
            "unknown config key \"database.hostnme\": did you mean \"database.hostname\"?"
        ),
        "{text}"
    );
    assert!(
        text.contains("invalid value \"sometimes\" for \"snapshot.mode\""),
        "{text}"
    );
    assert!(
        text.contains("invalid value \"yes\" for \"tombstones.on.delete\": expected true or false"),
        "{text}"
    );
    assert!(
        text.contains("missing required config key \"database.hostname\""),
        "{text}"
    );
    let (code, text) = run_check(dir.path(), &json!({"config": {}}));
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("has no \"name\""), "{text}");
    std::fs::write(dir.path().join("broken.json"), "{not json").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_runnel"))
        .arg("check")
        .arg(dir.path().join("broken.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid JSON"));
}

#[test]
fn check_reports_wal_level_privilege_and_keyless_tables() {
    let pg = PgInstance::start_with(runnel_testkit::PgOptions {
        wal_level: "replica",
        ..Default::default()
    });
    pg.create_database("chk");
    pg.psql(
        "chk",
        "CREATE TABLE nokey (a int); CREATE ROLE plain LOGIN; GRANT ALL ON SCHEMA public TO plain;",
    );
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = pg_connector(
        &pg,
        "chk",
        "chk",
        "chk_slot",
        &dir.path().join("o.jsonl"),
        json!({}),
    );
    cfg["config"]["database.user"] = "plain".into();
    let (code, text) = run_check(dir.path(), &cfg);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("wal_level is \"replica\""), "{text}");
    assert!(text.contains("lacks the REPLICATION attribute"), "{text}");
    assert!(
        text.contains("\"public\".\"nokey\" has no primary key"),
        "{text}"
    );

    // A good database passes.
    let pg = PgInstance::start();
    pg.create_database("good");
    pg.psql("good", "CREATE TABLE t (id int PRIMARY KEY)");
    let cfg = pg_connector(
        &pg,
        "good",
        "good",
        "good_slot",
        &dir.path().join("o.jsonl"),
        json!({}),
    );
    let (code, text) = run_check(dir.path(), &cfg);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("ready"), "{text}");
}

#[test]
fn run_fails_clearly_when_wal_level_is_not_logical() {
    let pg = PgInstance::start_with(runnel_testkit::PgOptions {
        wal_level: "replica",
        ..Default::default()
    });
    pg.create_database("w");
    let dir = tempfile::tempdir().unwrap();
    let cfg = pg_connector(
        &pg,
        "w",
        "w",
        "w_slot",
        &dir.path().join("o.jsonl"),
        json!({}),
    );
    let mut runnel = Runnel::start(dir.path(), &[cfg]);
    let status = wait_for("runnel to exit", std::time::Duration::from_secs(30), || {
        runnel.exited()
    });
    assert!(!status.success());
    let log = runnel.log_text();
    assert!(log.contains("wal_level is \"replica\""), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

/// A connector class this build lacks is one error naming the classes it has (not a dozen
/// "unknown key" lines as if it were another connector); a transform it lacks stops the
/// connector before it writes untransformed records; a sink key of another sink is named.
#[test]
fn unknown_classes_transforms_and_sink_keys_are_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let es = json!({"name": "m", "config": {
        "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
        "connection.url": "http://es:9200", "type.name": "_doc", "key.ignore": "true", "topics": "t"
    }});
    let (code, text) = run_check(dir.path(), &es);
    assert_eq!(code, 2, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        text.contains(
            "no connector class \"io.confluent.connect.elasticsearch.ElasticsearchSinkConnector\""
        ) && text.contains("io.debezium.connector.postgresql.PostgresConnector")
            && text.contains("io.runnel.connect.file.FileSinkConnector"),
        "{text}"
    );

    let pg = |extra: serde_json::Value| {
        let mut config = json!({
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "database.hostname": "localhost", "database.user": "u", "database.dbname": "d",
            "topic.prefix": "p"
        });
        config
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"name": "p", "config": config})
    };
    let (code, text) = run_check(
        dir.path(),
        &pg(json!({"transforms": "mine",
                   "transforms.mine.type": "com.example.kafka.MyOwnTransform"})),
    );
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("transform class \"com.example.kafka.MyOwnTransform\" is not in this build"),
        "{text}"
    );
    let (code, text) = run_check(
        dir.path(),
        &pg(json!({"sink.type": "stdout", "sink.file.path": "/tmp/x.jsonl"})),
    );
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("unknown config key \"sink.file.path\": sink.type is \"stdout\""),
        "{text}"
    );
    let (code, text) = run_check(
        dir.path(),
        &pg(json!({"sink.type": "file", "sink.file.pth": "x"})),
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("did you mean \"sink.file.path\"?"), "{text}");
}

#[test]
fn worker_properties_files_are_read_and_bad_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let port = runnel_testkit::free_port();
    // Kafka Connect's own keys that do not apply are accepted; the listener and state are used.
    let good = dir.path().join("worker.properties");
    std::fs::write(
        &good,
        format!(
            "listeners=http://127.0.0.1:{port}\nrunnel.state.dir={}\n\
             key.converter=org.apache.kafka.connect.json.JsonConverter\nplugin.path=/usr/share/java\n",
            dir.path().join("state").display()
        ),
    )
    .unwrap();
    let mut worker = Command::new(env!("CARGO_BIN_EXE_runnel"))
        .args(["worker", "--config"])
        .arg(&good)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let up = runnel_testkit::try_wait(std::time::Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let _ = worker.kill();
    let _ = worker.wait();
    assert!(
        up.is_some(),
        "the worker did not listen on the configured port"
    );
    assert!(dir.path().join("state").exists());

    let refused = |text: &str, want: &str| {
        let path = dir.path().join("other.properties");
        std::fs::write(&path, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_runnel"))
            .args(["worker", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(want), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    };
    refused("rest.prot=8083\n", "did you mean \"rest.port\"?");
    // A connect-distributed.properties missing what Kafka Connect requires, or with a value it
    // would not take, is refused before anything starts.
    refused(
        "group.id=connect-cluster\nbootstrap.servers=127.0.0.1:9\nconfig.storage.topic=connect-configs\n",
        "offset.storage.topic is missing",
    );
    refused(
        "group.id=connect-cluster\nbootstrap.servers=127.0.0.1:9\nconfig.storage.topic=c\n\
         offset.storage.topic=o\nstatus.storage.topic=s\nexactly.once.source.support=on\n",
        "exactly.once.source.support=on is not one of enabled, preparing, disabled",
    );
}
