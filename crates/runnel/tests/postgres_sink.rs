//! The PostgreSQL sink against two private PostgreSQL instances: a source and a target with
//! NOT DEFERRABLE foreign keys, replicated directly (`sink.type=postgres`) through `kill -9`s,
//! and through Kafka with Debezium's JDBC sink connector config; schema changes, TOAST, every
//! type, and the errors a user meets.

use std::time::{Duration, Instant};

use runnel_testkit::KafkaBroker;
use serde_json::{Value, json};

use crate::support::*;

/// The order-management schema, with foreign keys checked immediately (the target has the same).
const SCHEMA: &str = "
CREATE SEQUENCE cust_seq; CREATE SEQUENCE ord_seq; CREATE SEQUENCE prod_seq START 100;
CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, city text,
  balance numeric(12,2), updated_at timestamptz);
CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL,
  tags text[]);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers(id),
  status text NOT NULL, note text, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE order_details (order_id bigint NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
  product_id int NOT NULL REFERENCES products(id), qty int NOT NULL,
  PRIMARY KEY (order_id, product_id));
CREATE INDEX ON orders (customer_id);
CREATE TABLE audit (at timestamptz NOT NULL DEFAULT clock_timestamp(), what text NOT NULL);
";

const TARGET_SCHEMA: &str = "
CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, city text,
  balance numeric(12,2), updated_at timestamptz);
CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL,
  tags text[]);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers(id),
  status text NOT NULL, note text, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE order_details (order_id bigint NOT NULL REFERENCES orders(id),
  product_id int NOT NULL REFERENCES products(id), qty int NOT NULL,
  PRIMARY KEY (order_id, product_id));
CREATE INDEX ON orders (customer_id);
CREATE TABLE audit (at timestamptz NOT NULL, what text NOT NULL);
";

const SEED: &str = "
INSERT INTO products SELECT g, 'p' || g, g * 1.5, ARRAY['a', 'b' || g] FROM generate_series(1, 20) g;
INSERT INTO customers SELECT nextval('cust_seq'), 'c' || g, 'city' || (g % 7), g * 10.25, now()
  FROM generate_series(1, 300) g;
INSERT INTO orders (id, customer_id, status, note) SELECT nextval('ord_seq'), 1 + g % 300, 'new',
  repeat('n', g % 50) FROM generate_series(1, 600) g;
INSERT INTO order_details SELECT o.id, 1 + (o.id * 7 + k) % 20, k FROM orders o,
  generate_series(1, 3) k;
";

const TABLES: [(&str, &str); 5] = [
    ("customers", "id"),
    ("products", "id"),
    ("orders", "id"),
    ("order_details", "order_id, product_id"),
    ("audit", "at, what"),
];

/// Transaction `n` of the workload: new orders, updates, deletes (cascading), an order moved
/// to another customer before the first is deleted, new products, and now and then one large
/// transaction (more rows than a batch) and a large cascade.
fn workload_sql(n: u64) -> String {
    let pick = |table: &str| format!("(SELECT id FROM {table} ORDER BY random() LIMIT 1)");
    match n % 10 {
        0..=3 => format!(
            "BEGIN;
             INSERT INTO customers SELECT nextval('cust_seq'), 'c' || currval('cust_seq'),
               'city' || (random() * 10)::int, round((random() * 1000)::numeric, 2), now();
             INSERT INTO orders (id, customer_id, status, note)
               SELECT nextval('ord_seq'), {}, 'new', repeat('x', (random() * 100)::int);
             INSERT INTO order_details SELECT currval('ord_seq'), p.id, 1 + (random() * 5)::int
               FROM (SELECT id FROM products ORDER BY random() LIMIT 3) p;
             INSERT INTO audit (what) VALUES ('order ' || currval('ord_seq'));
             COMMIT;",
            pick("customers")
        ),
        4 => format!(
            "UPDATE orders SET status = 'shipped', note = coalesce(note, '') || 'u' WHERE id = {};",
            pick("orders")
        ),
        5 => format!("DELETE FROM orders WHERE id = {};", pick("orders")),
        6 => "BEGIN;
              CREATE TEMP TABLE IF NOT EXISTS gone (id bigint);
              TRUNCATE gone;
              INSERT INTO gone SELECT id FROM customers ORDER BY random() LIMIT 1;
              UPDATE orders SET customer_id = (SELECT min(id) FROM customers WHERE id NOT IN (SELECT id FROM gone))
                WHERE customer_id IN (SELECT id FROM gone);
              DELETE FROM customers WHERE id IN (SELECT id FROM gone);
              INSERT INTO audit (what) VALUES ('moved');
              COMMIT;"
            .into(),
        7 => format!(
            "BEGIN;
             INSERT INTO products SELECT nextval('prod_seq'), 'p' || currval('prod_seq'),
               round((random() * 100)::numeric, 2) + 1, ARRAY['n'];
             UPDATE products SET price = price + 1, tags = tags || 'x'::text WHERE id = {};
             UPDATE customers SET balance = balance + 1, updated_at = now() WHERE id = {};
             COMMIT;",
            pick("products"),
            pick("customers")
        ),
        8 if n % 50 == 8 => "BEGIN;
             INSERT INTO customers SELECT nextval('cust_seq'), 'bulk', 'x', 1, now()
               FROM generate_series(1, 1500);
             INSERT INTO orders (id, customer_id, status)
               SELECT nextval('ord_seq'), id, 'bulk' FROM customers WHERE name = 'bulk'
               AND id NOT IN (SELECT customer_id FROM orders);
             INSERT INTO order_details SELECT o.id, 1 + o.id % 20, 1 FROM orders o WHERE status = 'bulk'
               ON CONFLICT DO NOTHING;
             COMMIT;"
            .into(),
        8 if n % 50 == 18 => "BEGIN;
             DELETE FROM orders WHERE status = 'bulk';
             DELETE FROM customers WHERE name = 'bulk' AND id NOT IN (SELECT customer_id FROM orders);
             COMMIT;"
            .into(),
        _ => "INSERT INTO audit (what) SELECT 'tick' FROM generate_series(1, 3);".into(),
    }
}

/// Runs the workload on `conn` until `stop` is set; returns the number of transactions.
fn spawn_workload(
    conn: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, c) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(c);
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Err(e) = client.batch_execute(&workload_sql(n)).await {
                    let _ = client.batch_execute("ROLLBACK").await;
                    panic!("workload transaction {n} failed: {e}");
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            n
        })
    })
}

/// Each table's rows in key order, hashed (and counted).
fn checksums(pg: &PgInstance, db: &str) -> Vec<String> {
    TABLES
        .iter()
        .map(|(t, key)| {
            pg.query_value(
                db,
                &format!(
                    "SELECT count(*) || ' ' || coalesce(md5(string_agg(x::text, '|' ORDER BY {key})), '') \
                     FROM {t} x"
                ),
            )
        })
        .collect()
}

fn wait_equal(
    source: &PgInstance,
    target: &PgInstance,
    runnel: &mut Runnel,
    timeout: Duration,
) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let want = checksums(source, "src");
        let got = checksums(target, "dst");
        if want == got {
            return want;
        }
        if let Some(status) = runnel.exited() {
            panic!("runnel exited ({status}); log:\n{}", runnel.log_text());
        }
        if Instant::now() > deadline {
            let activity = target.query_value(
                "postgres",
                "SELECT string_agg(application_name || ' ' || state || ' ' || coalesce(wait_event, '-') || ' ' || left(query, 200), E'\n') FROM pg_stat_activity WHERE datname = 'dst'",
            );
            let tuples = target.query_value(
                "dst",
                "SELECT string_agg(relname || ' live=' || n_live_tup || ' dead=' || n_dead_tup || ' seq=' || seq_scan || ' seq_tup=' || seq_tup_read, ', ') FROM pg_stat_user_tables",
            );
            let activity = format!("{activity}\n{tuples}");
            let repl = source.query_value(
                "postgres",
                "SELECT string_agg(slot_name || ' active=' || active || ' confirmed=' || confirmed_flush_lsn::text, ',') FROM pg_replication_slots",
            );
            panic!(
                "the target did not converge: source {want:?}, target {got:?}\ntarget activity:\n{activity}\nslots: {repl}; log:\n{}",
                runnel.log_text()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn direct_connector(source: &PgInstance, target: &PgInstance, name: &str, extra: Value) -> Value {
    let mut config = json!({
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": source.host,
        "database.port": source.port.to_string(),
        "database.user": source.user,
        "database.password": "",
        "database.dbname": "src",
        "topic.prefix": "src",
        "plugin.name": "pgoutput",
        "slot.name": name,
        "publication.name": format!("{name}_pub"),
        "table.include.list": "public.customers,public.products,public.orders,public.order_details,public.audit",
        "sink.type": "postgres",
        "sink.postgres.connection.url": format!("jdbc:postgresql://{}:{}/dst", target.host, target.port),
        "sink.postgres.connection.username": target.user,
        "poll.interval.ms": "20",
    });
    if let (Value::Object(c), Value::Object(e)) = (&mut config, extra) {
        c.extend(e);
    }
    json!({ "name": name, "config": config })
}

fn two_instances() -> (PgInstance, PgInstance) {
    let (source, target) = std::thread::scope(|s| {
        let a = s.spawn(PgInstance::start);
        let b = s.spawn(PgInstance::start);
        (a.join().unwrap(), b.join().unwrap())
    });
    source.create_database("src");
    target.create_database("dst");
    (source, target)
}

/// A small pseudo-random sequence (no RNG dependency): kill moments vary from run to run.
fn jitter(state: &mut u64, max_ms: u64) -> Duration {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    Duration::from_millis(200 + (*state >> 33) % max_ms)
}

#[test]
fn direct_replication_keeps_foreign_keys_and_converges_through_kill_9() {
    let (source, target) = two_instances();
    source.psql("src", SCHEMA);
    source.psql("src", SEED);
    target.psql("dst", TARGET_SCHEMA);
    let dir = tempfile::tempdir().unwrap();
    let cfg = direct_connector(&source, &target, "pgsink", json!({}));
    let mut runnel = Runnel::start(dir.path(), std::slice::from_ref(&cfg));
    // The snapshot lands whole (tables referenced first, whatever their names).
    wait_equal(&source, &target, &mut runnel, Duration::from_secs(120));

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = spawn_workload(source.conn_str("src"), stop.clone());
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    for _ in 0..6 {
        std::thread::sleep(jitter(&mut seed, 1500));
        runnel.kill();
        std::thread::sleep(jitter(&mut seed, 300));
        runnel = Runnel::start(dir.path(), std::slice::from_ref(&cfg));
    }
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let transactions = writer.join().unwrap();
    assert!(
        transactions > 50,
        "the workload ran ({transactions} transactions)"
    );
    let sums = wait_equal(&source, &target, &mut runnel, Duration::from_secs(120));
    // `audit` has no primary key: every row inserted exactly once means no transaction was
    // applied twice across the restarts, and none was lost.
    assert!(sums[4].split(' ').next().unwrap().parse::<u64>().unwrap() > 0);
    // The position is in the target, written with the rows.
    let stored = target.query_value(
        "dst",
        "SELECT \"offset\"->>'lsn' FROM runnel_offsets WHERE connector = 'pgsink'",
    );
    assert!(!stored.is_empty(), "the offset is kept in the target");
    let log = runnel.log_text();
    assert!(
        log.contains("resuming from the offset the sink holds"),
        "restarts resume from the target's offset; log:\n{log}"
    );
    runnel.stop();
}

#[test]
fn schema_changes_toast_and_truncate_flow_to_the_target() {
    let (source, target) = two_instances();
    source.psql(
        "src",
        "CREATE TABLE items (id int PRIMARY KEY, name text, big text, price numeric(8,2));
         CREATE TABLE scratch (id int PRIMARY KEY, v text);
         INSERT INTO items VALUES (1, 'a', repeat('toast', 20000), 1.5);
         INSERT INTO scratch VALUES (1, 'x');",
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = direct_connector(
        &source,
        &target,
        "ddl",
        // Debezium skips truncates by default (skipped.operations=t).
        json!({"table.include.list": "public.items,public.scratch", "skipped.operations": "none"}),
    );
    let mut runnel = Runnel::start(dir.path(), std::slice::from_ref(&cfg));
    let wait = |runnel: &mut Runnel, sql: &str, want: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let got = target.try_query_value("dst", sql).unwrap_or_default();
            if got == want {
                return;
            }
            if let Some(status) = runnel.exited() {
                panic!("runnel exited ({status}); log:\n{}", runnel.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "{sql}: got {got:?}, want {want:?}; log:\n{}",
                runnel.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // Created from the snapshot's schema, with its key and types.
    wait(
        &mut runnel,
        "SELECT length(big) FROM items WHERE id = 1",
        "100000",
    );
    assert_eq!(
        target.query_value(
            "dst",
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'price'"
        ),
        "numeric(8,2)"
    );
    // An update that leaves the TOASTed value alone must not overwrite it with a placeholder.
    source.psql("src", "UPDATE items SET name = 'b' WHERE id = 1");
    wait(
        &mut runnel,
        "SELECT name || length(big) FROM items WHERE id = 1",
        "b100000",
    );
    // ADD COLUMN mid-stream: the target gets the column.
    source.psql(
        "src",
        "ALTER TABLE items ADD COLUMN added_at date DEFAULT '2024-01-02';
         INSERT INTO items (id, name, price) VALUES (2, 'c', 2.25);",
    );
    wait(
        &mut runnel,
        "SELECT added_at::text FROM items WHERE id = 2",
        "2024-01-02",
    );
    // DROP COLUMN: the target keeps it, rows written after get NULL.
    source.psql(
        "src",
        "ALTER TABLE items DROP COLUMN price; INSERT INTO items (id, name) VALUES (3, 'd');
         UPDATE items SET name = 'c2' WHERE id = 2;",
    );
    wait(
        &mut runnel,
        "SELECT coalesce(price::text, 'null') FROM items WHERE id = 3",
        "null",
    );
    wait(
        &mut runnel,
        "SELECT name || coalesce(price::text, 'null') FROM items WHERE id = 2",
        "c2null",
    );
    // TRUNCATE.
    source.psql(
        "src",
        "TRUNCATE scratch; INSERT INTO scratch VALUES (2, 'y');",
    );
    wait(
        &mut runnel,
        "SELECT string_agg(id::text, ',') FROM scratch",
        "2",
    );
    runnel.stop();
}

/// Every column of `all_types` as text, row by row.
fn type_rows(pg: &PgInstance, db: &str, columns: &[String]) -> Vec<String> {
    columns
        .iter()
        .map(|c| {
            pg.query_value(
                db,
                &format!("SELECT string_agg(coalesce({c}::text, 'NULL'), ' | ' ORDER BY id) FROM all_types"),
            )
        })
        .collect()
}

#[test]
fn every_type_round_trips_into_an_existing_and_a_created_table() {
    let (source, target) = two_instances();
    source.psql_file("src", &fixture("postgres/types.sql"));
    target.psql_file("dst", &fixture("postgres/types.sql"));
    target.create_database("auto");
    source.psql("src", "INSERT INTO all_types (id) VALUES (100)");
    let dir = tempfile::tempdir().unwrap();
    let existing = direct_connector(
        &source,
        &target,
        "types_existing",
        json!({"table.include.list": "public.all_types"}),
    );
    let mut created = direct_connector(
        &source,
        &target,
        "types_created",
        json!({"table.include.list": "public.all_types"}),
    );
    created["config"]["sink.postgres.connection.url"] = json!(format!(
        "jdbc:postgresql://{}:{}/auto",
        target.host, target.port
    ));
    let mut runnel = Runnel::start(dir.path(), &[existing, created]);
    let columns: Vec<String> = source
        .query_value(
            "src",
            "SELECT string_agg(quote_ident(attname), ',' ORDER BY attnum) FROM pg_attribute \
             WHERE attrelid = 'all_types'::regclass AND attnum > 0 AND NOT attisdropped",
        )
        .split(',')
        .map(str::to_string)
        .collect();
    let count = |db: &str| target.query_value(db, "SELECT count(*) FROM all_types");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(target.query_value("dst", "SELECT count(*) FROM all_types") == "1"
        && target.query_value(
            "auto",
            "SELECT count(*) FROM pg_tables WHERE tablename = 'all_types'",
        ) == "1"
        && count("auto") == "1")
    {
        if let Some(status) = runnel.exited() {
            panic!("runnel exited ({status}); log:\n{}", runnel.log_text());
        }
        assert!(
            Instant::now() < deadline,
            "snapshot not applied; log:\n{}",
            runnel.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    source.psql_file("src", &fixture("postgres/types-workload.sql"));
    let want_count = source.query_value("src", "SELECT count(*) FROM all_types");
    let deadline = Instant::now() + Duration::from_secs(60);
    while count("dst") != want_count
        || count("auto") != want_count
        || target.query_value("dst", "SELECT c_text FROM all_types WHERE id = 1") != "updated"
        || target.query_value("auto", "SELECT c_text FROM all_types WHERE id = 1") != "updated"
    {
        if let Some(status) = runnel.exited() {
            panic!("runnel exited ({status}); log:\n{}", runnel.log_text());
        }
        assert!(
            Instant::now() < deadline,
            "workload not applied; log:\n{}",
            runnel.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Into a table of the same types: every value exactly (the generated column computed by
    // the target itself).
    assert_eq!(
        type_rows(&target, "dst", &columns),
        type_rows(&source, "src", &columns)
    );
    // Into a table the sink created: the same values; the types the target may lack became
    // their nearest built-in (enum and domain as their base, hstore as jsonb).
    let created_columns: Vec<String> = columns
        .iter()
        .filter(|c| !["c_gen", "c_hstore"].contains(&c.as_str()))
        .cloned()
        .collect();
    assert_eq!(
        type_rows(&target, "auto", &created_columns),
        type_rows(&source, "src", &created_columns)
    );
    assert_eq!(
        target.query_value("auto", "SELECT string_agg(coalesce(c_hstore::text, 'NULL'), ' | ' ORDER BY id) FROM all_types"),
        source.query_value("src", "SELECT string_agg(coalesce(hstore_to_jsonb(c_hstore)::text, 'NULL'), ' | ' ORDER BY id) FROM all_types"),
    );
    runnel.stop();
}

#[test]
fn through_kafka_with_the_jdbc_sink_connector_config_upserts_converge() {
    let broker = KafkaBroker::start();
    let (source, target) = two_instances();
    source.psql("src", SCHEMA);
    source.psql("src", SEED);
    let dir = tempfile::tempdir().unwrap();
    let mut to_kafka = direct_connector(&source, &target, "to_kafka", json!({}));
    let c = to_kafka["config"].as_object_mut().unwrap();
    c.retain(|k, _| !k.starts_with("sink."));
    c.insert("topic.creation.default.partitions".into(), json!("2"));
    c.insert(
        "topic.creation.default.replication.factor".into(),
        json!("1"),
    );
    // Debezium's JDBC sink connector config, as users have it.
    let from_kafka = json!({"name": "jdbc-sink", "config": {
        "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
        "topics.regex": "src\\.public\\.(customers|products|orders|order_details)",
        "connection.url": format!("jdbc:postgresql://{}:{}/dst", target.host, target.port),
        "connection.username": target.user,
        "connection.password": "",
        "insert.mode": "upsert",
        "delete.enabled": "true",
        "primary.key.mode": "record_key",
        "schema.evolution": "basic",
        "collection.name.format": "${source.table}",
        "consumer.override.partition.assignment.strategy": "range",
        "consumer.override.max.poll.interval.ms": "10000",
        "consumer.override.session.timeout.ms": "6000",
        "consumer.override.topic.metadata.refresh.interval.ms": "500",
    }});
    // Confluent's JDBC sink config on the unwrapped rows (ExtractNewRecordState), as users of
    // that connector have it: tables named by the topic, created by auto.create.
    target.create_database("dst2");
    let confluent = json!({"name": "confluent-sink", "config": {
        "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
        "topics": "src.public.products",
        "connection.url": format!("jdbc:postgresql://{}:{}/dst2", target.host, target.port),
        "connection.user": target.user,
        "insert.mode": "upsert",
        "pk.mode": "record_key",
        "delete.enabled": "true",
        "auto.create": "true",
        "auto.evolve": "true",
        "transforms": "unwrap",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "consumer.override.partition.assignment.strategy": "range",
        "consumer.override.max.poll.interval.ms": "10000",
        "consumer.override.session.timeout.ms": "6000",
        "consumer.override.topic.metadata.refresh.interval.ms": "500",
    }});
    let mut runnel = Runnel::start_with_kafka(
        dir.path(),
        &[to_kafka.clone(), from_kafka.clone(), confluent.clone()],
        &broker.bootstrap(),
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = spawn_workload(source.conn_str("src"), stop.clone());
    std::thread::sleep(Duration::from_secs(4));
    // A crash mid-stream: records after the committed offsets come again (at least once);
    // upserts by key make them harmless.
    runnel.kill();
    runnel = Runnel::start_with_kafka(
        dir.path(),
        &[to_kafka, from_kafka, confluent],
        &broker.bootstrap(),
    );
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    // Through separate topics the tables converge (no foreign keys on this target: records of
    // different topics arrive in any order).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let want: Vec<String> = checksums(&source, "src")[..4].to_vec();
        let got: Vec<String> = TABLES[..4]
            .iter()
            .map(|(t, key)| {
                let exists = target.query_value("dst", &format!("SELECT count(*) FROM pg_tables WHERE tablename = '{t}'"));
                if exists != "1" {
                    return String::new();
                }
                target.query_value(
                    "dst",
                    &format!(
                        "SELECT count(*) || ' ' || coalesce(md5(string_agg(x::text, '|' ORDER BY {key})), '') \
                         FROM (SELECT {cols} FROM {t}) x",
                        cols = source.query_value("src", &format!(
                            "SELECT string_agg(quote_ident(attname), ',' ORDER BY attnum) FROM pg_attribute \
                             WHERE attrelid = '{t}'::regclass AND attnum > 0 AND NOT attisdropped")),
                    ),
                )
            })
            .collect();
        // Confluent's table name is the topic, "catalog.schema.table": src.public.products
        // lands in public.products of dst2.
        let confluent_products = target
            .try_query_value(
                "dst2",
                "SELECT count(*) || ' ' || coalesce(md5(string_agg(x::text, '|' ORDER BY id)), '') \
                 FROM (SELECT id, name, price, tags FROM public.products) x",
            )
            .unwrap_or_default();
        if want == got && confluent_products == want[1] {
            break;
        }
        if let Some(status) = runnel.exited() {
            panic!("runnel exited ({status}); log:\n{}", runnel.log_text());
        }
        assert!(
            Instant::now() < deadline,
            "the target did not converge: source {want:?}, target {got:?}; {}; log:\n{}",
            customers_in_kafka(&broker, &source, &target),
            runnel.log_text()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    runnel.stop();
}

/// For a failure: the customers the target has and the source does not, and what the topic
/// holds for them — whether the delete reached Kafka (then the consumer or sink lost it) or not
/// (then the source or broker did).
fn customers_in_kafka(broker: &KafkaBroker, source: &PgInstance, target: &PgInstance) -> String {
    let ids = |pg: &PgInstance, db: &str| -> std::collections::BTreeSet<i64> {
        pg.query_value(
            db,
            "SELECT coalesce(string_agg(id::text, ','), '') FROM customers",
        )
        .split(',')
        .filter_map(|v| v.parse().ok())
        .collect()
    };
    let extra: Vec<i64> = ids(target, "dst")
        .difference(&ids(source, "src"))
        .copied()
        .collect();
    if extra.is_empty() {
        return "no extra customers in the target".into();
    }
    let records = crate::kafka::kafka_records(broker, r"src\.public\.customers", 0);
    let mut deletes_seen = 0;
    let mut last_ops = std::collections::BTreeMap::new();
    for r in &records {
        let key: Value =
            serde_json::from_str(r["key_raw"].as_str().unwrap_or("null")).unwrap_or_default();
        let id = key["payload"]["id"].as_i64().or(key["id"].as_i64());
        let Some(id) = id.filter(|id| extra.contains(id)) else {
            continue;
        };
        let value: Value =
            serde_json::from_str(r["value_raw"].as_str().unwrap_or("null")).unwrap_or_default();
        let op = value["payload"]["op"]
            .as_str()
            .unwrap_or("tombstone")
            .to_string();
        if op == "d" {
            deletes_seen += 1;
        }
        last_ops.insert(id, format!("{op}@{}:{}", r["partition"], r["offset"]));
    }
    format!(
        "{} customers only in the target, {deletes_seen} of their deletes in the topic; last record of the first: {:?}",
        extra.len(),
        last_ops.iter().take(5).collect::<Vec<_>>()
    )
}

#[test]
fn bad_targets_are_clear_errors_and_nothing_is_half_applied() {
    let (source, target) = two_instances();
    source.psql(
        "src",
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'one');",
    );
    let dir = tempfile::tempdir().unwrap();
    // An unreachable target: `runnel check` says where and what to fix.
    let mut down = direct_connector(
        &source,
        &target,
        "down",
        json!({"table.include.list": "public.t"}),
    );
    down["config"]["sink.postgres.connection.url"] = json!(format!(
        "jdbc:postgresql://127.0.0.1:{}/dst",
        runnel_testkit::free_port()
    ));
    let path = dir.path().join("down.json");
    std::fs::write(&path, down.to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runnel"))
        .args(["check", path.to_str().unwrap()])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("cannot connect to the target PostgreSQL") && text.contains("connection.url"),
        "{text}"
    );
    // A misspelled key.
    let mut typo = direct_connector(&source, &target, "typo", json!({}));
    typo["config"]["sink.postgres.insert.mdoe"] = json!("upsert");
    let path = dir.path().join("typo.json");
    std::fs::write(&path, typo.to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runnel"))
        .args(["check", path.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        text.contains("did you mean \"sink.postgres.insert.mode\""),
        "{text}"
    );

    // A user who may not write the table, and a column of a type the values cannot take: the
    // connector fails naming table and column, and the target holds nothing of the batch.
    target.psql(
        "dst",
        "CREATE TABLE t (id int PRIMARY KEY, v integer);
         CREATE ROLE limited LOGIN; GRANT SELECT ON t TO limited; GRANT CREATE ON SCHEMA public TO limited;",
    );
    let mut limited = direct_connector(
        &source,
        &target,
        "limited",
        json!({"table.include.list": "public.t"}),
    );
    limited["config"]["sink.postgres.connection.username"] = json!("limited");
    let path = dir.path().join("limited.json");
    std::fs::write(&path, limited.to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runnel"))
        .args(["check", path.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("lacks INSERT, UPDATE, DELETE on \"public\".\"t\""),
        "{text}"
    );

    let wrong_type = direct_connector(
        &source,
        &target,
        "wrongtype",
        json!({"table.include.list": "public.t"}),
    );
    let mut runnel = Runnel::start(dir.path(), &[wrong_type]);
    let status = wait_exit(&mut runnel, Duration::from_secs(60));
    assert!(!status.success());
    let log = runnel.log_text();
    assert!(
        log.contains("column \"v\" is integer, which cannot take field \"v\""),
        "the type mismatch names table and column; log:\n{log}"
    );
    assert_eq!(target.query_value("dst", "SELECT count(*) FROM t"), "0");
}
