//! The MongoDB sink against a private MongoDB-protocol server (SecantusDB), read back by an
//! independent client (pymongo, tests/mongo_client.py): the first seed's pipeline (unwrap,
//! PartialValueStrategy on `pk_`, UpdateOneTimestampsStrategy) directly and through Kafka across
//! `kill -9`s, the CDC handlers, a poison record to the dead letter queue, a server away for 30 s.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use runnel_testkit::{KafkaBroker, MongoServer};
use serde_json::{Value, json};

use crate::kafka::{kafka_client, kafka_records};
use crate::support::*;

const SCHEMA: &str = "
CREATE TABLE orders (id int NOT NULL, region text NOT NULL, pk_ text NOT NULL,
  amount numeric(12,4), placed_at timestamptz, day date, note text, qty smallint,
  PRIMARY KEY (id, region));
INSERT INTO orders SELECT g, 'eu', g || '-eu', g * 1.2345, '2024-06-01 12:00:00.123456+00'::timestamptz + g * interval '1 minute',
  date '2024-01-01' + g, 'seed ' || g, g % 100 FROM generate_series(1, 200) g;
";

/// Documents of a collection, by `pk_` (canonical Extended JSON: types visible).
fn documents(mongo: &MongoServer, db: &str, coll: &str) -> BTreeMap<String, Value> {
    let out = Command::new("python3")
        .arg(fixture("../mongo_client.py"))
        .args(["dump", &mongo.uri(), db, coll])
        .output()
        .expect("run mongo_client.py (pip install pymongo)");
    assert!(
        out.status.success(),
        "mongo_client.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|d| {
            let key = d["pk_"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| d["_id"].to_string());
            (key, d)
        })
        .collect()
}

/// The source rows as the documents must hold them, by `pk_`.
fn expected(pg: &PgInstance) -> BTreeMap<String, Value> {
    let rows = pg.query_value(
        "src",
        "SELECT coalesce(json_agg(json_build_object(
            'id', id, 'region', region, 'pk_', pk_, 'amount', amount::text,
            'placed_at', floor(extract(epoch from placed_at) * 1000)::bigint::text,
            'day', ((day - date '1970-01-01')::bigint * 86400000)::text,
            'note', note, 'qty', qty) ORDER BY id, region), '[]') FROM orders",
    );
    let rows: Vec<Value> = serde_json::from_str(&rows).unwrap();
    rows.into_iter()
        .map(|r| (r["pk_"].as_str().unwrap().to_string(), r))
        .collect()
}

/// Whether a document holds the row, with MongoDB's types: Decimal128 exact, dates, Int32.
fn matches(doc: &Value, row: &Value) -> bool {
    let date = |v: &Value| v["$date"]["$numberLong"].as_str().map(str::to_string);
    doc["id"]["$numberInt"].as_str() == Some(&row["id"].to_string())
        && doc["region"] == row["region"]
        && doc["amount"]["$numberDecimal"].as_str() == row["amount"].as_str()
        && date(&doc["placed_at"]).as_deref() == row["placed_at"].as_str()
        && date(&doc["day"]).as_deref() == row["day"].as_str()
        && doc["note"] == row["note"]
        && doc["qty"]["$numberInt"].as_str() == Some(&row["qty"].to_string())
        && doc["_id"] == json!({"pk_": row["pk_"]})
        && doc["_insertedTS"].get("$date").is_some()
        && doc["_modifiedTS"].get("$date").is_some()
}

fn wait_collection_equals(
    mongo: &MongoServer,
    pg: &PgInstance,
    db: &str,
    coll: &str,
    runnel: &mut Runnel,
) -> BTreeMap<String, Value> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let want = expected(pg);
        let got = documents(mongo, db, coll);
        if got.len() == want.len()
            && want
                .iter()
                .all(|(k, row)| got.get(k).is_some_and(|d| matches(d, row)))
        {
            return got;
        }
        if let Some(status) = runnel.exited() {
            panic!("runnel exited ({status}); log:\n{}", runnel.log_text());
        }
        if Instant::now() > deadline {
            let wrong: Vec<_> = want
                .iter()
                .filter(|(k, row)| !got.get(*k).is_some_and(|d| matches(d, row)))
                .take(3)
                .map(|(k, row)| (row.clone(), got.get(k).cloned()))
                .collect();
            let server_log = mongo.log_text();
            let tail: Vec<&str> = server_log
                .lines()
                .rev()
                .filter(|l| !l.ends_with("disconnected") && !l.contains(" connected from "))
                .take(30)
                .collect();
            panic!(
                "{db}.{coll}: {} documents for {} rows; first differences {wrong:#?}; log:\n{}\n\
                 SecantusDB's log (last lines, newest first):\n{}",
                got.len(),
                want.len(),
                runnel.log_text(),
                tail.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The first seed's MongoDB sink config, as its keys are written for the connector.
fn seed_sink_keys(mongo: &MongoServer, db: &str) -> Value {
    json!({
        "connection.uri": mongo.uri(),
        "database": db,
        "collection": "orders",
        "document.id.strategy": "com.mongodb.kafka.connect.sink.processor.id.strategy.PartialValueStrategy",
        "document.id.strategy.partial.value.projection.list": "pk_",
        "document.id.strategy.partial.value.projection.type": "AllowList",
        "writemodel.strategy": "com.mongodb.kafka.connect.sink.writemodel.strategy.UpdateOneTimestampsStrategy",
        "delete.on.null.values": "true",
        "delete.writemodel.strategy": "com.mongodb.kafka.connect.sink.writemodel.strategy.DeleteOneTombstoneBusinessKeyStrategy",
    })
}

fn source_connector(pg: &PgInstance, name: &str, extra: Value) -> Value {
    let mut config = json!({
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": pg.host,
        "database.port": pg.port.to_string(),
        "database.user": pg.user,
        "database.password": "",
        "database.dbname": "src",
        "topic.prefix": "src",
        "slot.name": name,
        "publication.name": format!("{name}_pub"),
        "table.include.list": "public.orders",
        "poll.interval.ms": "20",
    });
    if let (Value::Object(c), Value::Object(e)) = (&mut config, extra) {
        c.extend(e);
    }
    json!({"name": name, "config": config})
}

fn workload(pg: &PgInstance, rounds: u32) {
    for r in 0..rounds {
        pg.psql(
            "src",
            &format!(
                "BEGIN;
                 INSERT INTO orders SELECT g, 'us', g || '-us', g * 0.0001 + {r}, now(), date '2025-03-01', 'new', 1
                   FROM generate_series({a}, {b}) g;
                 UPDATE orders SET amount = amount + 1.0001, note = 'upd {r}', qty = qty + 1 WHERE id % 7 = {m};
                 DELETE FROM orders WHERE region = 'eu' AND id % 50 = {m};
                 COMMIT;",
                a = 1000 + r * 20,
                b = 1019 + r * 20,
                m = r % 7
            ),
        );
    }
}

#[test]
fn the_seed_pipeline_directly_and_through_kafka_survives_kill_9() {
    let mongo = MongoServer::start();
    let broker = KafkaBroker::start();
    let pg = PgInstance::start();
    pg.create_database("src");
    pg.psql("src", SCHEMA);
    let dir = tempfile::tempdir().unwrap();
    let unwrap = json!({
        "transforms": "unwrap",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
    });
    // Directly: the sink's keys under sink.mongodb.*.
    let mut direct_extra = unwrap.clone();
    direct_extra["sink.type"] = json!("mongodb");
    for (k, v) in seed_sink_keys(&mongo, "direct").as_object().unwrap() {
        direct_extra[format!("sink.mongodb.{k}")] = v.clone();
    }
    let direct = source_connector(&pg, "direct", direct_extra);
    // Through Kafka: Debezium to a topic, the MongoDB sink connector from it (unwrapping there).
    let to_kafka = source_connector(
        &pg,
        "to_kafka",
        json!({"topic.creation.default.partitions": "2", "topic.creation.default.replication.factor": "1"}),
    );
    let mut sink_config = seed_sink_keys(&mongo, "via_kafka");
    sink_config["connector.class"] = json!("com.mongodb.kafka.connect.MongoSinkConnector");
    sink_config["topics"] = json!("src.public.orders");
    for (k, v) in unwrap.as_object().unwrap() {
        sink_config[k] = v.clone();
    }
    for (k, v) in [
        ("consumer.override.partition.assignment.strategy", "range"),
        ("consumer.override.max.poll.interval.ms", "10000"),
        ("consumer.override.session.timeout.ms", "6000"),
        (
            "consumer.override.topic.metadata.refresh.interval.ms",
            "500",
        ),
    ] {
        sink_config[k] = json!(v);
    }
    let from_kafka = json!({"name": "mongo-sink", "config": sink_config});
    let configs = [direct, to_kafka, from_kafka];
    let mut runnel = Runnel::start_with_kafka(dir.path(), &configs, &broker.bootstrap());
    let first = wait_collection_equals(&mongo, &pg, "direct", "orders", &mut runnel);
    wait_collection_equals(&mongo, &pg, "via_kafka", "orders", &mut runnel);

    // Updates leave _insertedTS alone and move _modifiedTS.
    pg.psql("src", "UPDATE orders SET note = 'touched' WHERE id = 3");
    let deadline = Instant::now() + Duration::from_secs(60);
    let touched = loop {
        let docs = documents(&mongo, "direct", "orders");
        if docs["3-eu"]["note"] == "touched" {
            break docs["3-eu"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "the update did not arrive; log:\n{}",
            runnel.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(touched["_insertedTS"], first["3-eu"]["_insertedTS"]);
    assert_ne!(touched["_modifiedTS"], first["3-eu"]["_modifiedTS"]);

    // Changes while runnel is killed at random moments. Each transaction touches a bounded
    // number of rows: SecantusDB finds a document-valued _id (PartialValueStrategy's {pk_: …})
    // by scanning the collection, ~7 ms a write at 800 documents, so updating a third of a
    // growing table each time (thousands of writes, replayed after every kill) outran the
    // test's deadline on a loaded 2-core machine without saying anything about runnel.
    let writer = {
        let conn = pg.conn_str("src");
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let (client, c) = tokio_postgres::connect(&conn, tokio_postgres::NoTls).await.unwrap();
                tokio::spawn(c);
                for r in 0..60u32 {
                    client
                        .batch_execute(&format!(
                            "BEGIN;
                             INSERT INTO orders SELECT g, 'ap', g || '-ap', g * 0.5 + {r}, now(), current_date, 'w', 2
                               FROM generate_series({a}, {b}) g;
                             UPDATE orders SET qty = qty + 1, amount = amount + 0.5
                               WHERE region = 'ap' AND id % 3 = {m} AND id >= {a} - 60;
                             DELETE FROM orders WHERE region = 'ap' AND id % 11 = {m} AND id < {a};
                             COMMIT;",
                            a = 5000 + r * 10,
                            b = 5009 + r * 10,
                            m = r % 3
                        ))
                        .await
                        .unwrap();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
        })
    };
    for pause in [700u64, 1300, 900] {
        std::thread::sleep(Duration::from_millis(pause));
        runnel.kill();
        runnel = Runnel::start_with_kafka(dir.path(), &configs, &broker.bootstrap());
    }
    writer.join().unwrap();
    workload(&pg, 3);
    wait_collection_equals(&mongo, &pg, "direct", "orders", &mut runnel);
    wait_collection_equals(&mongo, &pg, "via_kafka", "orders", &mut runnel);
    runnel.stop();
}

#[test]
fn change_events_and_the_cdc_handler_keep_documents_by_key() {
    let mongo = MongoServer::start();
    let broker = KafkaBroker::start();
    let pg = PgInstance::start();
    pg.create_database("src");
    pg.psql("src", SCHEMA);
    let dir = tempfile::tempdir().unwrap();
    // Directly, no transform: the source's changes applied as Debezium's CDC handler would.
    let direct = source_connector(
        &pg,
        "direct",
        json!({"sink.type": "mongodb", "sink.mongodb.connection.uri": mongo.uri(),
               "sink.mongodb.database": "cdc", "sink.mongodb.collection": "direct"}),
    );
    let to_kafka = source_connector(
        &pg,
        "to_kafka",
        json!({"topic.creation.default.partitions": "1", "topic.creation.default.replication.factor": "1"}),
    );
    let cdc = json!({"name": "mongo-cdc", "config": {
        "connector.class": "com.mongodb.kafka.connect.MongoSinkConnector",
        "topics": "src.public.orders",
        "connection.uri": mongo.uri(),
        "database": "cdc",
        "collection": "handler",
        "change.data.capture.handler": "com.mongodb.kafka.connect.sink.cdc.debezium.rdbms.postgres.PostgresHandler",
        "consumer.override.partition.assignment.strategy": "range",
        "consumer.override.max.poll.interval.ms": "10000",
        "consumer.override.session.timeout.ms": "6000",
        "consumer.override.topic.metadata.refresh.interval.ms": "500",
    }});
    // FullKeyStrategy with ReplaceOne on unwrapped rows: _id is the whole key.
    let full_key = json!({"name": "mongo-fullkey", "config": {
        "connector.class": "com.mongodb.kafka.connect.MongoSinkConnector",
        "topics": "src.public.orders",
        "connection.uri": mongo.uri(),
        "database": "cdc",
        "collection": "fullkey",
        "document.id.strategy": "FullKeyStrategy",
        "writemodel.strategy": "ReplaceOneDefaultStrategy",
        "delete.on.null.values": "true",
        "transforms": "unwrap",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "consumer.override.partition.assignment.strategy": "range",
        "consumer.override.max.poll.interval.ms": "10000",
        "consumer.override.session.timeout.ms": "6000",
        "consumer.override.topic.metadata.refresh.interval.ms": "500",
    }});
    let mut runnel = Runnel::start_with_kafka(
        dir.path(),
        &[direct, to_kafka, cdc, full_key],
        &broker.bootstrap(),
    );
    workload(&pg, 4);
    let want = expected(&pg);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let sizes: Vec<usize> = ["direct", "handler", "fullkey"]
            .iter()
            .map(|c| documents(&mongo, "cdc", c).len())
            .collect();
        if sizes.iter().all(|&n| n == want.len()) {
            break;
        }
        if let Some(status) = runnel.exited() {
            panic!("runnel exited ({status}); log:\n{}", runnel.log_text());
        }
        assert!(
            Instant::now() < deadline,
            "documents {sizes:?} for {} rows; log:\n{}",
            want.len(),
            runnel.log_text()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // The CDC handlers: _id is the key's fields, the document the row without them.
    for coll in ["direct", "handler"] {
        for (pk, doc) in documents(&mongo, "cdc", coll) {
            let row = &want[&pk];
            assert_eq!(
                doc["_id"]["id"]["$numberInt"].as_str(),
                Some(row["id"].to_string().as_str())
            );
            assert_eq!(doc["_id"]["region"], row["region"]);
            assert!(
                doc.get("id").is_none() && doc.get("region").is_none(),
                "{doc}"
            );
            assert_eq!(
                doc["amount"]["$numberDecimal"].as_str(),
                row["amount"].as_str(),
                "{coll}"
            );
            assert_eq!(doc["note"], row["note"]);
        }
    }
    for (pk, doc) in documents(&mongo, "cdc", "fullkey") {
        let row = &want[&pk];
        assert_eq!(doc["_id"]["region"], row["region"]);
        assert_eq!(doc["region"], row["region"]);
    }
    runnel.stop();
}

#[test]
fn a_poison_record_goes_to_the_dead_letter_queue_and_a_server_away_for_30s_loses_nothing() {
    let mut mongo = MongoServer::start();
    let broker = KafkaBroker::start();
    let b = broker.bootstrap();
    for topic in ["events", "events-dlq"] {
        kafka_client(&["create", &b, topic, "1"], "");
    }
    let good = |id: u32| {
        format!(
            "{{\"key\": \"{{\\\"id\\\":{id}}}\", \"value\": \"{{\\\"id\\\":{id},\\\"name\\\":\\\"n{id}\\\"}}\"}}\n"
        )
    };
    // A value that is no document: refused, dead-lettered, and the records after it written.
    let mut lines = good(1) + &good(2);
    lines += "{\"key\": \"{\\\"id\\\":3}\", \"value\": \"\\\"not a document\\\"\"}\n";
    lines += &good(4);
    kafka_client(&["produce", &b, "events"], &lines);
    let dir = tempfile::tempdir().unwrap();
    let cfg = json!({"name": "events-to-mongo", "config": {
        "connector.class": "com.mongodb.kafka.connect.MongoSinkConnector",
        "topics": "events",
        "connection.uri": mongo.uri(),
        "database": "events",
        "collection": "events",
        "document.id.strategy": "ProvidedInKeyStrategy",
        "key.converter.schemas.enable": "false",
        "value.converter.schemas.enable": "false",
        "transforms": "id",
        "transforms.id.type": "org.apache.kafka.connect.transforms.ReplaceField$Key",
        "transforms.id.renames": "id:_id",
        "errors.tolerance": "all",
        "errors.deadletterqueue.topic.name": "events-dlq",
        "errors.deadletterqueue.context.headers.enable": "true",
        "consumer.override.partition.assignment.strategy": "range",
        "consumer.override.max.poll.interval.ms": "10000",
        "consumer.override.session.timeout.ms": "6000",
        "consumer.override.topic.metadata.refresh.interval.ms": "500",
    }});
    let mut runnel = Runnel::start_with_kafka(dir.path(), std::slice::from_ref(&cfg), &b);
    let count = |mongo: &MongoServer| documents(mongo, "events", "events").len();
    let deadline = Instant::now() + Duration::from_secs(90);
    while count(&mongo) < 3 {
        if let Some(status) = runnel.exited() {
            panic!("runnel exited ({status}); log:\n{}", runnel.log_text());
        }
        assert!(Instant::now() < deadline, "log:\n{}", runnel.log_text());
        std::thread::sleep(Duration::from_millis(300));
    }
    // The dead letter queue's topic appears with its first record.
    let deadline = Instant::now() + Duration::from_secs(60);
    let dlq = loop {
        let dlq = kafka_records(&broker, "events-dlq", 1);
        if !dlq.is_empty() || Instant::now() > deadline {
            break dlq;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(dlq.len(), 1, "{dlq:?}; log:\n{}", runnel.log_text());
    assert_eq!(dlq[0]["headers"]["__connect.errors.stage"], "TASK_PUT");
    assert!(
        dlq[0]["headers"]["__connect.errors.exception.message"]
            .as_str()
            .unwrap()
            .contains("not a struct"),
        "{dlq:?}"
    );

    // The server goes away for 30 s while records keep coming: retried, nothing lost.
    mongo.stop();
    let more: String = (5..=20).map(good).collect();
    kafka_client(&["produce", &b, "events"], &more);
    std::thread::sleep(Duration::from_secs(30));
    mongo.restart();
    let deadline = Instant::now() + Duration::from_secs(120);
    while count(&mongo) < 19 {
        if let Some(status) = runnel.exited() {
            panic!("runnel exited ({status}); log:\n{}", runnel.log_text());
        }
        assert!(
            Instant::now() < deadline,
            "{} documents; log:\n{}",
            count(&mongo),
            runnel.log_text()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let docs = documents(&mongo, "events", "events");
    assert!(
        docs.values()
            .all(|d| d["name"].as_str().is_some_and(|n| n.starts_with('n')))
    );
    runnel.stop();
}
