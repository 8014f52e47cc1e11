//! The MySQL/MariaDB source against a private MariaDB (binlog on, ROW, GTID strict): event by
//! event against Debezium 3.6.3's own output for the same workload (fixtures copied from
//! shared/conformance/mariadb), DDL mid-stream, restarts (clean and kill -9) that must lose
//! and double nothing, and configuration and prerequisite errors.

use std::path::Path;
use std::time::Duration;

use runnel_testkit::MariaDb;
use serde_json::{Value, json};

use crate::conformance::compare_by;
use crate::support::*;

/// A MariaDB with the fixture's database and the connector's user (the fixture's grants).
fn mariadb_with_rig(seed: &str) -> MariaDb {
    let db = MariaDb::start();
    db.sql(
        "CREATE DATABASE rig; CREATE USER 'dbz'@'%' IDENTIFIED BY 'dbz'; \
         GRANT SELECT, RELOAD, SHOW DATABASES, LOCK TABLES, REPLICATION SLAVE, BINLOG MONITOR, \
         SLAVE MONITOR ON *.* TO 'dbz'@'%'; GRANT INSERT ON rig.* TO 'dbz'@'%'",
    );
    db.source_file("rig", &fixture("mariadb/schema.sql"));
    db.sql_in("rig", seed);
    db
}

fn connector(db: &MariaDb, name: &str, out: &Path, extra: Value) -> Value {
    let mut config = json!({
        "connector.class": "io.debezium.connector.mysql.MySqlConnector",
        "database.hostname": db.host,
        "database.port": db.port.to_string(),
        "database.user": "dbz",
        "database.password": "dbz",
        "database.server.id": "184054",
        "database.include.list": "rig",
        "topic.prefix": "rig",
        "include.schema.changes": "true",
        "sink.type": "file",
        "sink.file.path": out.display().to_string(),
        "poll.interval.ms": "50",
    });
    if let (Value::Object(c), Value::Object(e)) = (&mut config, extra) {
        c.extend(e);
    }
    json!({ "name": name, "config": config })
}

fn expected(file: &str) -> Vec<Value> {
    std::fs::read_to_string(fixture(&format!("mariadb/{file}")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Drops what differs by nature: times, version, binlog file and position.
fn strip(value: &mut Value) {
    let payload = match value.get_mut("payload") {
        Some(p) => p,
        None => value,
    };
    let Some(p) = payload.as_object_mut() else {
        return;
    };
    for k in ["ts_ms", "ts_us", "ts_ns"] {
        p.remove(k);
    }
    if let Some(Value::Object(source)) = p.get_mut("source") {
        for k in ["ts_ms", "ts_us", "ts_ns", "version", "file", "pos"] {
            source.remove(k);
        }
    }
}

fn normalized(r: &Value) -> (String, Value, Value) {
    let mut value = r.get("value").cloned().unwrap_or(Value::Null);
    strip(&mut value);
    (
        topic(r).to_string(),
        r.get("key").cloned().unwrap_or(Value::Null),
        value,
    )
}

fn rows_only(recs: &[Value]) -> Vec<Value> {
    recs.iter()
        .filter(|r| topic(r).starts_with("rig.rig.") && topic(r) != "rig.rig.rig_marker")
        .cloned()
        .collect()
}

/// Waits until the connector streams: a marker row written after it started comes out (one
/// every second, since one written before the connector's start position never does).
fn wait_streaming(db: &MariaDb, out: &Path, runnel: &mut Runnel) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        db.sql_in("rig", "INSERT INTO rig_marker(note) VALUES ('streaming?')");
        let seen = wait_for_quietly(Duration::from_secs(1), || {
            records(out)
                .iter()
                .any(|r| topic(r) == "rig.rig.rig_marker")
        });
        if seen {
            return;
        }
        if let Some(status) = runnel.exited() {
            panic!(
                "runnel exited ({status}) before streaming; log:\n{}",
                runnel.log_text()
            );
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the connector did not stream within 60 s; log:\n{}",
            runnel.log_text()
        );
    }
}

fn wait_for_quietly(timeout: Duration, check: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

fn capture_streaming(db: &MariaDb, dir: &Path, name: &str, schemas: bool, n: usize) -> Vec<Value> {
    let out = dir.join(format!("{name}.jsonl"));
    let mut cfg = connector(db, name, &out, json!({"snapshot.mode": "no_data"}));
    let flag = if schemas { "true" } else { "false" };
    cfg["config"]["key.converter.schemas.enable"] = flag.into();
    cfg["config"]["value.converter.schemas.enable"] = flag.into();
    let run_dir = dir.join(name);
    std::fs::create_dir_all(&run_dir).unwrap();
    let mut runnel = Runnel::start(&run_dir, &[cfg]);
    wait_streaming(db, &out, &mut runnel);
    db.source_file("rig", &fixture("mariadb/sample.sql"));
    let recs = wait_records(&out, name, Duration::from_secs(60), &mut runnel, |recs| {
        rows_only(recs).len() >= n
    });
    runnel.stop();
    recs
}

#[test]
fn mariadb_streaming_and_schema_changes_match_debezium() {
    let dir = tempfile::tempdir().unwrap();
    for schemas in [false, true] {
        let db = mariadb_with_rig("CALL rig_seed(1000, 1000, 77, 10)");
        let suffix = if schemas { "schemas-on" } else { "schemas-off" };
        let want = expected(&format!("debezium-3.6.3-{suffix}.jsonl"));
        let name = format!("rig_{suffix}");
        let got = capture_streaming(&db, dir.path(), &name, schemas, want.len());
        compare_by(&rows_only(&got), &want, suffix, normalized);

        // The schema-change topic: the schema snapshot, then the streamed ALTER.
        let file = if schemas {
            "debezium-3.6.3-schema-changes-schemas-on.jsonl"
        } else {
            "debezium-3.6.3-schema-changes.jsonl"
        };
        let want = expected(file);
        let got: Vec<Value> = got.iter().filter(|r| topic(r) == "rig").cloned().collect();
        compare_by(
            &got,
            &want,
            &format!("schema changes, {suffix}"),
            schema_change_normalized,
        );
    }
}

/// A schema-change record without what differs by nature (the snapshot's DDL text carries the
/// seed's AUTO_INCREMENT counter).
fn schema_change_normalized(r: &Value) -> (String, Value, Value) {
    let (t, k, mut v) = normalized(r);
    let p = match v.get_mut("payload") {
        Some(p) => p,
        None => &mut v,
    };
    if let Some(Value::String(ddl)) = p.get_mut("ddl") {
        *ddl = ddl
            .split(' ')
            .filter(|w| !w.starts_with("AUTO_INCREMENT="))
            .collect::<Vec<_>>()
            .join(" ");
    }
    (t, k, v)
}

#[test]
fn mariadb_snapshot_matches_debezium() {
    let dir = tempfile::tempdir().unwrap();
    for schemas in [false, true] {
        let db = mariadb_with_rig("CALL rig_seed(3, 3, 3, 3)");
        let suffix = if schemas {
            "snapshot-schemas-on"
        } else {
            "snapshot"
        };
        let want = expected(&format!("debezium-3.6.3-{suffix}.jsonl"));
        let out = dir.path().join(format!("{suffix}.jsonl"));
        let mut cfg = connector(
            &db,
            suffix,
            &out,
            json!({
                "snapshot.mode": "initial",
                "snapshot.include.collection.list": "rig.customers,rig.documents,rig.order_details,rig.orders,rig.products",
            }),
        );
        let flag = if schemas { "true" } else { "false" };
        cfg["config"]["key.converter.schemas.enable"] = flag.into();
        cfg["config"]["value.converter.schemas.enable"] = flag.into();
        let run_dir = dir.path().join(suffix);
        std::fs::create_dir_all(&run_dir).unwrap();
        let mut runnel = Runnel::start(&run_dir, &[cfg]);
        let recs = wait_records(&out, suffix, Duration::from_secs(60), &mut runnel, |recs| {
            rows_only(recs).len() >= want.len()
        });
        runnel.stop();
        compare_by(&rows_only(&recs), &want, suffix, normalized);
    }
}

/// The newest state of every key from the change events of `topic` (deletes remove it).
fn final_state(
    recs: &[Value],
    topic_name: &str,
    cols: &[&str],
) -> std::collections::BTreeMap<i64, Vec<String>> {
    let mut state = std::collections::BTreeMap::new();
    for r in recs.iter().filter(|r| topic(r) == topic_name) {
        let Some(v) = r.get("value").filter(|v| !v.is_null()) else {
            continue;
        };
        match v["op"].as_str() {
            Some("d") => {
                state.remove(&v["before"]["id"].as_i64().unwrap());
            }
            Some(_) => {
                let after = &v["after"];
                let row = cols
                    .iter()
                    .map(|c| match &after[*c] {
                        Value::Null => "NULL".to_string(),
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                state.insert(after["id"].as_i64().unwrap(), row);
            }
            None => {}
        }
    }
    state
}

/// The table as the database has it, in the same shape.
fn db_state(
    db: &MariaDb,
    table: &str,
    cols: &[&str],
) -> std::collections::BTreeMap<i64, Vec<String>> {
    let sql = format!("SELECT id, {} FROM {table} ORDER BY id", cols.join(", "));
    db.sql_in("rig", &sql)
        .lines()
        .map(|l| {
            let mut f = l.split('\t');
            let id = f.next().unwrap().parse().unwrap();
            (
                id,
                cols.iter()
                    .map(|_| f.next().unwrap_or("NULL").to_string())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn ddl_rotation_and_kill_9_lose_nothing() {
    let db = mariadb_with_rig("SELECT 1");
    db.sql_in(
        "rig",
        "CREATE TABLE items (id INT PRIMARY KEY, a INT NOT NULL, b VARCHAR(20)); \
         INSERT INTO items SELECT seq, seq * 10, CONCAT('v', seq) FROM seq_1_to_200",
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("items.jsonl");
    let cfg = connector(
        &db,
        "items",
        &out,
        json!({"table.include.list": "rig.items,rig.items2,rig.net", "max.batch.size": "64",
               "key.converter.schemas.enable": "false", "value.converter.schemas.enable": "false"}),
    );
    let mut runnel = Runnel::start(dir.path(), std::slice::from_ref(&cfg));
    wait_records(
        &out,
        "the snapshot",
        Duration::from_secs(60),
        &mut runnel,
        |recs| {
            recs.iter()
                .filter(|r| value_op(r).as_deref() == Some("r"))
                .count()
                >= 200
        },
    );
    // Streaming with DDL in between, and a crash in the middle of it.
    let steps: Vec<String> = vec![
        "INSERT INTO items SELECT seq, seq, 'new' FROM seq_201_to_400".into(),
        "ALTER TABLE items ADD COLUMN c INT NOT NULL DEFAULT 7 AFTER a".into(),
        "UPDATE items SET c = id % 5, b = 'upd' WHERE id % 3 = 0".into(),
        "FLUSH BINARY LOGS".into(),
        "START TRANSACTION; DELETE FROM items WHERE id % 7 = 0; UPDATE items SET a = a + 1 WHERE id < 50; COMMIT".into(),
        "ALTER TABLE items DROP COLUMN b, MODIFY a BIGINT NOT NULL".into(),
        "INSERT INTO items (id, a, c) SELECT seq, seq, 1 FROM seq_401_to_600".into(),
        "RENAME TABLE items TO items2".into(),
        // MariaDB-only types in a table created while streaming (Debezium's parser stops here).
        "CREATE TABLE net (id INT PRIMARY KEY, u UUID, ip INET6, ip4 INET4)".into(),
        "INSERT INTO net VALUES (1, '6ccd780c-baba-1026-9564-5b8c656024db', '2001:db8::1', '10.1.2.3')".into(),
        "UPDATE items2 SET a = -a WHERE id > 500".into(),
        // Every row once more, so each key's last event has the table's final columns.
        "UPDATE items2 SET a = a + 1".into(),
    ];
    for (i, sql) in steps.iter().enumerate() {
        db.sql_in("rig", sql);
        if i == 4 {
            // kill -9 while the stream is mid-flight, restart on the same state.
            runnel.kill();
            runnel = Runnel::start(dir.path(), std::slice::from_ref(&cfg));
        }
    }
    db.sql_in("rig", "INSERT INTO rig_marker(note) VALUES ('done')");
    let cols = ["a", "c"];
    let want = db_state(&db, "items2", &cols);
    let recs = wait_records(
        &out,
        "the stream to converge",
        Duration::from_secs(90),
        &mut runnel,
        |recs| {
            let mut state = final_state(recs, "rig.rig.items", &cols);
            state.extend(final_state(recs, "rig.rig.items2", &cols));
            // items2's events take over from items' (the rename).
            let merged = {
                let mut m = final_state(recs, "rig.rig.items", &cols);
                for (k, v) in final_state(recs, "rig.rig.items2", &cols) {
                    m.insert(k, v);
                }
                m
            };
            let _ = state;
            merged.len() == want.len() && merged == want
        },
    );
    // The restart resumed where it was: the first 200 snapshot rows are not read twice, and
    // each insert of the first step appears at least once.
    let reads = recs
        .iter()
        .filter(|r| value_op(r).as_deref() == Some("r"))
        .count();
    assert_eq!(reads, 200, "the snapshot was taken again after the restart");
    let created: std::collections::BTreeSet<i64> = recs
        .iter()
        .filter(|r| value_op(r).as_deref() == Some("c"))
        .filter_map(|r| r["value"]["after"]["id"].as_i64())
        .collect();
    assert_eq!(created.len(), 401, "every inserted row comes out");
    let net = recs
        .iter()
        .find(|r| topic(r) == "rig.rig.net")
        .expect("the net table's row");
    assert_eq!(
        net["value"]["after"]["u"],
        "6ccd780c-baba-1026-9564-5b8c656024db"
    );
    assert_eq!(net["value"]["after"]["ip"], "2001:db8::1");
    assert_eq!(net["value"]["after"]["ip4"], "10.1.2.3");
    runnel.stop();
}

#[test]
fn a_restart_resumes_from_its_gtid_across_rotations_and_a_purge_is_a_clear_error() {
    let db = mariadb_with_rig("SELECT 1");
    db.sql_in("rig", "CREATE TABLE g (id INT PRIMARY KEY, v INT)");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g.jsonl");
    let cfg = connector(
        &db,
        "g",
        &out,
        json!({"table.include.list": "rig.g,rig.rig_marker", "snapshot.mode": "no_data",
               "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
               "heartbeat.interval.ms": "300",
               "key.converter.schemas.enable": "false", "value.converter.schemas.enable": "false"}),
    );
    let ids = |recs: &[Value]| -> Vec<i64> {
        recs.iter()
            .filter(|r| topic(r) == "rig.rig.g")
            .filter_map(|r| r["value"]["after"]["id"].as_i64())
            .collect()
    };
    let mut runnel = Runnel::start(dir.path(), std::slice::from_ref(&cfg));
    wait_streaming(&db, &out, &mut runnel);
    db.sql_in("rig", "INSERT INTO g VALUES (1, 1), (2, 2)");
    wait_records(
        &out,
        "two rows",
        Duration::from_secs(60),
        &mut runnel,
        |recs| ids(recs).len() >= 2,
    );
    // Heartbeats, as Debezium's: on __debezium-heartbeat.<topic.prefix>, also while only a
    // table that is not captured changes.
    db.sql_in(
        "rig",
        "CREATE TABLE not_captured (id INT PRIMARY KEY); INSERT INTO not_captured VALUES (1)",
    );
    let recs = wait_records(
        &out,
        "heartbeats",
        Duration::from_secs(30),
        &mut runnel,
        |recs| {
            recs.iter()
                .filter(|r| topic(r) == "__debezium-heartbeat.rig")
                .count()
                >= 2
        },
    );
    let beat = recs
        .iter()
        .find(|r| topic(r) == "__debezium-heartbeat.rig")
        .unwrap();
    assert_eq!(beat["key"], json!({"serverName": "rig"}));
    assert!(beat["value"]["ts_ms"].as_i64().unwrap() > 1_700_000_000_000);
    runnel.stop();
    // While it is down: new binlog files and more changes.
    db.sql_in(
        "rig",
        "INSERT INTO g VALUES (3, 3); FLUSH BINARY LOGS; INSERT INTO g VALUES (4, 4); \
         FLUSH BINARY LOGS; INSERT INTO g VALUES (5, 5)",
    );
    let mut runnel = Runnel::start(dir.path(), std::slice::from_ref(&cfg));
    let recs = wait_records(
        &out,
        "rows 3 to 5",
        Duration::from_secs(60),
        &mut runnel,
        |recs| ids(recs).len() >= 5,
    );
    runnel.stop();
    assert_eq!(
        ids(&recs),
        vec![1, 2, 3, 4, 5],
        "resumed exactly after row 2"
    );
    // The MariaDB connector's source block names the connector and each row's GTID.
    let source = &recs.iter().rfind(|r| topic(r) == "rig.rig.g").unwrap()["value"]["source"];
    assert_eq!(source["connector"], "mariadb");
    let gtid = source["gtid"].as_str().unwrap_or_default();
    assert!(gtid.starts_with("0-1-"), "{source}");
    assert!(
        runnel.log_text().contains("gtids"),
        "the stream resumed from a GTID position"
    );

    // A purge of what the connector still needs: a clear error with the ways out.
    db.sql_in("rig", "INSERT INTO g VALUES (6, 6)");
    // MariaDB keeps a file until its transactions are checkpointed in InnoDB: purge until only
    // the current file is left.
    wait_for("the purge", Duration::from_secs(30), || {
        db.sql("FLUSH BINARY LOGS");
        let current = db.value("SHOW MASTER STATUS");
        let file = current.split('\t').next().unwrap().to_string();
        db.sql(&format!("PURGE BINARY LOGS TO '{file}'"));
        (db.sql("SHOW BINARY LOGS").lines().count() == 1).then_some(())
    });
    let mut runnel = Runnel::start(dir.path(), std::slice::from_ref(&cfg));
    let seen = wait_for_quietly(Duration::from_secs(30), || {
        let log = runnel.log_text();
        log.contains("purged") && log.contains("when_needed")
    });
    assert!(seen, "no purge error; log:\n{}", runnel.log_text());
    runnel.stop();
}

/// A big table read by two readers in ranges of its key: every row once, the table's first
/// and last markers once each, then streaming from the snapshot's point.
#[test]
fn a_big_table_is_read_in_key_ranges_by_several_readers() {
    let db = mariadb_with_rig("SELECT 1");
    db.sql_in(
        "rig",
        "CREATE TABLE big (id BIGINT UNSIGNED PRIMARY KEY, v VARCHAR(20)); \
         INSERT INTO big SELECT seq * 7, CONCAT('v', seq) FROM seq_1_to_3000; ANALYZE TABLE big",
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("big.jsonl");
    let cfg = connector(
        &db,
        "big",
        &out,
        json!({"table.include.list": "rig.big,rig.rig_marker", "snapshot.max.threads": "2",
               "snapshot.part.rows": "500",
               "key.converter.schemas.enable": "false", "value.converter.schemas.enable": "false"}),
    );
    let mut runnel = Runnel::start(dir.path(), &[cfg]);
    wait_streaming(&db, &out, &mut runnel);
    db.sql_in("rig", "INSERT INTO big VALUES (5, 'streamed')");
    let big = |recs: &[Value]| -> Vec<Value> {
        recs.iter()
            .filter(|r| topic(r) == "rig.rig.big")
            .map(|r| r["value"].clone())
            .collect()
    };
    let recs = wait_records(
        &out,
        "the streamed row",
        Duration::from_secs(60),
        &mut runnel,
        |recs| big(recs).iter().any(|v| v["op"] == "c"),
    );
    runnel.stop();
    let values = big(&recs);
    let mut ids: Vec<i64> = values
        .iter()
        .filter(|v| v["op"] == "r")
        .map(|v| v["after"]["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=3000).map(|i| i * 7).collect::<Vec<_>>());
    let markers = |m: &str| {
        values
            .iter()
            .filter(|v| v["source"]["snapshot"] == m)
            .count()
    };
    assert_eq!(markers("first_in_data_collection") + markers("first"), 1);
    assert_eq!(markers("last_in_data_collection") + markers("last"), 1);
    assert!(
        runnel
            .log_text()
            .contains("reading the table in ranges of its key"),
        "{}",
        runnel.log_text()
    );
}

/// Spatial values other than points as Debezium's Geometry struct, points as its Point: the WKB
/// and the SRID (null for none), read by the snapshot and from the binlog alike.
#[test]
fn spatial_values_are_debeziums_geometry_struct() {
    let db = mariadb_with_rig("SELECT 1");
    db.sql_in(
        "rig",
        "CREATE TABLE shapes (id INT PRIMARY KEY, g GEOMETRY, l LINESTRING NOT NULL, p POINT); \
         INSERT INTO shapes VALUES (1, ST_GeomFromText('POLYGON((0 0,2 0,2 2,0 0))'), \
           ST_GeomFromText('LINESTRING(0 0,1 1)'), ST_GeomFromText('POINT(1 2)'))",
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shapes.jsonl");
    let cfg = connector(
        &db,
        "shapes",
        &out,
        json!({"table.include.list": "rig.shapes,rig.rig_marker"}),
    );
    let mut runnel = Runnel::start(dir.path(), &[cfg]);
    wait_streaming(&db, &out, &mut runnel);
    db.sql_in(
        "rig",
        "INSERT INTO shapes VALUES (2, ST_GeomFromText('MULTIPOINT(1 2,3 4)', 4326), \
           ST_GeomFromText('LINESTRING(5 5,6 7)', 3857), ST_GeomFromText('POINT(3 4)', 4326))",
    );
    let shapes = |recs: &[Value]| -> Vec<Value> {
        recs.iter()
            .filter(|r| topic(r) == "rig.rig.shapes")
            .cloned()
            .collect()
    };
    let recs = wait_records(
        &out,
        "both rows",
        Duration::from_secs(60),
        &mut runnel,
        |recs| shapes(recs).len() >= 2,
    );
    runnel.stop();
    let wkb = |id: i64, col: &str| {
        db.sql_in(
            "rig",
            &format!("SELECT TO_BASE64(ST_AsBinary({col})) FROM shapes WHERE id = {id}"),
        )
        .lines()
        .last()
        .unwrap()
        .trim()
        // TO_BASE64 breaks its text every 76 characters; the client prints the break as \n.
        .replace("\\n", "")
    };
    let rows = shapes(&recs);
    let after = |i: usize| rows[i]["value"]["payload"]["after"].clone();
    assert_eq!(
        after(0)["g"],
        json!({"wkb": wkb(1, "g"), "srid": null}),
        "{}",
        rows[0]
    );
    assert_eq!(after(0)["l"], json!({"wkb": wkb(1, "l"), "srid": null}));
    assert_eq!(
        after(1)["g"],
        json!({"wkb": wkb(2, "g"), "srid": 4326}),
        "{}",
        rows[1]
    );
    assert_eq!(after(1)["l"], json!({"wkb": wkb(2, "l"), "srid": 3857}));
    // Points keep their SRID too (Debezium's Point struct).
    assert_eq!(after(0)["p"]["srid"], Value::Null);
    assert_eq!(after(1)["p"]["srid"], json!(4326));
    assert_eq!(after(1)["p"]["x"], json!(3.0));
    let fields = &rows[1]["value"]["schema"]["fields"][1]["fields"];
    let g = fields
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "g")
        .unwrap();
    assert_eq!(
        g,
        &json!({"type": "struct", "fields": [
            {"type": "bytes", "optional": false, "field": "wkb"},
            {"type": "int32", "optional": true, "field": "srid"}],
            "optional": true, "name": "io.debezium.data.geometry.Geometry", "version": 1,
            "doc": "Geometry", "field": "g"})
    );
}

#[test]
fn configuration_and_prerequisite_errors_say_what_to_fix() {
    let db = MariaDb::start_with(&["--binlog-format=STATEMENT"]);
    db.sql("CREATE DATABASE rig; CREATE USER 'dbz'@'%' IDENTIFIED BY 'dbz'; GRANT SELECT ON *.* TO 'dbz'@'%'");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.jsonl");
    // A misspelled key.
    let mut cfg = connector(&db, "bad", &out, json!({}));
    cfg["config"]["database.hostnam"] = "x".into();
    let (code, text) = run_check(dir.path(), &cfg);
    assert_ne!(code, 0);
    assert!(text.contains("database.hostname"), "{text}");
    // A wrong password.
    let cfg = connector(&db, "bad", &out, json!({"database.password": "nope"}));
    let (code, text) = run_check(dir.path(), &cfg);
    assert_ne!(code, 0);
    assert!(text.contains("database.password"), "{text}");
    // Statement-based binlog and missing privileges, all in one report.
    let cfg = connector(&db, "bad", &out, json!({}));
    let (code, text) = run_check(dir.path(), &cfg);
    assert_ne!(code, 0);
    assert!(text.contains("binlog_format is STATEMENT"), "{text}");
    assert!(text.contains("REPLICATION SLAVE"), "{text}");
    // An unreachable server.
    let mut cfg = connector(&db, "bad", &out, json!({}));
    cfg["config"]["database.port"] = runnel_testkit::free_port().to_string().into();
    let (code, text) = run_check(dir.path(), &cfg);
    assert_ne!(code, 0);
    assert!(text.contains("cannot reach"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    // Running it fails with the same message rather than reading nothing.
    let cfg = connector(&db, "bad", &out, json!({}));
    let run_dir = dir.path().join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let mut runnel = Runnel::start(&run_dir, &[cfg]);
    wait_for("the error in the log", Duration::from_secs(30), || {
        runnel
            .log_text()
            .contains("binlog_format is STATEMENT")
            .then_some(())
    });
    runnel.stop();
}
