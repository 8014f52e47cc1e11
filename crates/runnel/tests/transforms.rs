//! Transform chains against what the real Kafka Connect 4.3.0 and Debezium 3.6.3 transforms
//! output for Debezium's own events (fixtures/transforms, copied from shared/conformance): each
//! input line is read as a sink connector reads a record (JsonConverter with schemas), goes
//! through the chain as `config/validate` and the engine build it, and is written with the
//! JsonConverter, schemas on and off, and Kafka Connect's SimpleHeaderConverter for headers.
//! The README of the fixture says exactly how the expected lines were made.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use runnel_core::config::ConnectorConfig;
use runnel_core::decode::json::JsonDecoder;
use runnel_core::encode::json::{JsonEncoder, JsonOptions};
use runnel_core::{Batch, Datum, Event, Payload, Record};
use runnel_runtime::Registry;
use serde_json::{Value, json};

use crate::support::fixture;

fn registry() -> Registry {
    let mut r = Registry::new();
    for t in runnel_transforms::transforms() {
        r.transform(t);
    }
    for p in runnel_transforms::predicates() {
        r.predicate(p);
    }
    r
}

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// What one output record is, in the fixture's line format.
fn output_line(seq: &Value, label: &Value, batch: &Batch, r: &Record) -> Value {
    let with = |schemas: bool| {
        JsonEncoder::new(
            JsonOptions {
                key_schemas: schemas,
                value_schemas: schemas,
                key_replace_null: true,
                value_replace_null: true,
            },
            None,
        )
    };
    let (on, off) = (with(true), with(false));
    let encode =
        |enc: &JsonEncoder, p: &Option<Payload>, schemas: bool| -> Result<Option<Value>, String> {
            match p {
                None => Ok(None),
                Some(p) => enc
                    .encode_payload(&batch.datums, &batch.bytes, p, schemas, true)
                    .map(|b| Some(serde_json::from_slice(&b).unwrap()))
                    .map_err(|e| e.message().to_string()),
            }
        };
    let error = |stage: &str, message: String| json!({"seq": seq, "label": label, "error_stage": stage, "error": message});
    let mut headers = Vec::new();
    let mut simple = Vec::new();
    for h in &r.headers {
        let full = match &h.value {
            None => Value::Null,
            Some(p) => match encode(&on, &Some(p.clone()), true) {
                Ok(v) => v.unwrap_or(Value::Null),
                Err(e) => return error("HEADER_CONVERTER", e),
            },
        };
        let plain = match &h.value {
            None
            | Some(Payload::Value {
                datum: Datum::Null, ..
            }) => Value::Null,
            Some(Payload::Value {
                datum: Datum::Text(t),
                ..
            }) => Value::String(String::from_utf8_lossy(t).into_owned()),
            Some(p) => match encode(&off, &Some(p.clone()), false) {
                Ok(v) => Value::String(v.map(|v| v.to_string()).unwrap_or_default()),
                Err(e) => return error("HEADER_CONVERTER", e),
            },
        };
        headers.push(json!([&*h.key, full]));
        simple.push(json!([&*h.key, plain]));
    }
    let (key, key_schemaless) = match (encode(&on, &r.key, true), encode(&off, &r.key, false)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return error("KEY_CONVERTER", e),
    };
    let (value, value_schemaless) =
        match (encode(&on, &r.value, true), encode(&off, &r.value, false)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => return error("VALUE_CONVERTER", e),
        };
    json!({
        "seq": seq, "label": label, "topic": &*r.topic, "partition": r.partition,
        "timestamp": r.timestamp_ms,
        "key_bytes_null": key.is_none(), "value_bytes_null": value.is_none(),
        "key": key.unwrap_or(Value::Null), "value": value.unwrap_or(Value::Null),
        "headers": headers, "headers_simple": simple,
        "key_schemaless": key_schemaless.unwrap_or(Value::Null),
        "value_schemaless": value_schemaless.unwrap_or(Value::Null),
    })
}

/// Runs one chain over one input; returns the output lines.
fn run_chain(registry: &Registry, props: &Value, input: &[Value]) -> Vec<Value> {
    let mut props: BTreeMap<String, String> = props
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    props.insert(
        "connector.class".into(),
        "io.debezium.connector.postgresql.PostgresConnector".into(),
    );
    let config = ConnectorConfig {
        name: "conformance".into(),
        props,
    };
    let mut chain = match registry.chain(&config) {
        Ok(c) => c,
        Err(e) => return vec![json!({"seq": null, "config_error": e.message()})],
    };
    let mut keys = JsonDecoder::new(true);
    let mut values = JsonDecoder::new(true);
    let mut out = Vec::new();
    for line in input {
        let mut batch = Batch::default();
        let mut decode = |v: &Value, d: &mut JsonDecoder| {
            (!v.is_null()).then(|| {
                d.decode(&Bytes::from(v.to_string()), &mut batch.datums)
                    .unwrap()
            })
        };
        let key = decode(&line["key"], &mut keys);
        let value = decode(&line["value"], &mut values);
        let mut record = Record::new(line["topic"].as_str().unwrap().into(), key, value);
        record.timestamp_ms = line["value"]["payload"]["ts_ms"].as_i64();
        batch.events.push(Event::Record(record));
        let mut failures = Vec::new();
        chain
            .apply(&mut batch, None, |f| {
                failures.push(f);
                Ok(())
            })
            .unwrap();
        for f in failures {
            out.push(json!({"seq": line["seq"], "label": line["label"],
                "error_stage": "TRANSFORMATION", "error_executing_class": f.class,
                "error": f.error.message()}));
        }
        for e in &batch.events {
            let Event::Record(r) = e else {
                panic!("a transform left a change event")
            };
            out.push(output_line(&line["seq"], &line["label"], &batch, r));
        }
    }
    out
}

/// Paths of `a` and `b` that differ (at most a few).
fn diffs(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    if out.len() >= 6 {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                diffs(
                    &format!("{path}.{k}"),
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diffs(&format!("{path}[{i}]"), p, q, out);
            }
        }
        _ if a != b => out.push(format!("{path}: runnel {a} / expected {b}")),
        _ => {}
    }
}

#[test]
fn every_chain_matches_kafka_connect_and_debezium_record_by_record() {
    let dir = fixture("transforms");
    let chains: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("chains.resolved.json")).unwrap())
            .unwrap();
    let only = std::env::var("RUNNEL_CHAIN").ok();
    let registry = registry();
    let mut failed = Vec::new();
    let table = std::fs::read_to_string(dir.join("chains.tsv")).unwrap();
    for row in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = row.split('\t').collect();
        let (chain, input, expected) = (cols[0], cols[1], cols[2]);
        if only.as_deref().is_some_and(|o| !chain.starts_with(o)) {
            continue;
        }
        let actual = run_chain(&registry, &chains[chain], &lines(&dir.join(input)));
        let expected = lines(&dir.join(expected));
        let mut problems = Vec::new();
        let by_seq = |v: &[Value]| -> BTreeMap<String, Value> {
            v.iter()
                .map(|l| (l["seq"].to_string(), l.clone()))
                .collect()
        };
        let (a, e) = (by_seq(&actual), by_seq(&expected));
        for (seq, want) in &e {
            let Some(got) = a.get(seq) else {
                problems.push(format!(
                    "seq {seq}: missing (expected {:.200})",
                    want.to_string()
                ));
                continue;
            };
            if want.get("error").is_some() {
                if got.get("error_stage") != want.get("error_stage") {
                    problems.push(format!(
                        "seq {seq}: expected an error at {} ({}), got {:.300}",
                        want["error_stage"],
                        want["error"],
                        got.to_string()
                    ));
                }
                continue;
            }
            let mut d = Vec::new();
            diffs("", got, want, &mut d);
            if !d.is_empty() {
                problems.push(format!("seq {seq}: {}", d.join("; ")));
            }
        }
        for seq in a.keys().filter(|s| !e.contains_key(*s)) {
            problems.push(format!(
                "seq {seq}: runnel output {:.300}, expected none",
                a[seq].to_string()
            ));
        }
        if !problems.is_empty() {
            problems.truncate(5);
            failed.push(format!("{chain} on {input}:\n  {}", problems.join("\n  ")));
        }
    }
    assert!(
        failed.is_empty(),
        "{} chain run(s) differ:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// The chain `props` configures, or its config error's text.
fn chain_error(props: &[(&str, &str)]) -> String {
    let mut all: BTreeMap<String, String> = props
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    all.insert(
        "connector.class".into(),
        "io.debezium.connector.postgresql.PostgresConnector".into(),
    );
    let config = ConnectorConfig {
        name: "errors".into(),
        props: all,
    };
    match registry().chain(&config) {
        Ok(_) => "no error".into(),
        Err(e) => e.message().to_string(),
    }
}

#[test]
fn transform_config_errors_are_one_clear_line_each() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[
                ("transforms", "u"),
                (
                    "transforms.u.type",
                    "io.debezium.transforms.ExtractNewRecordStat",
                ),
            ],
            "did you mean \"io.debezium.transforms.ExtractNewRecordState\"",
        ),
        (
            &[
                ("transforms", "r"),
                (
                    "transforms.r.type",
                    "org.apache.kafka.connect.transforms.RegexRouter",
                ),
                ("transforms.r.regex", "a"),
            ],
            "needs \"transforms.r.replacement\"",
        ),
        (
            &[
                ("transforms", "r"),
                (
                    "transforms.r.type",
                    "org.apache.kafka.connect.transforms.RegexRouter",
                ),
                ("transforms.r.regex", "rig\\.(.*"),
                ("transforms.r.replacement", "x"),
            ],
            "invalid regular expression \"rig\\.(.*\" in \"regex\"",
        ),
        (
            &[
                ("transforms", "u"),
                (
                    "transforms.u.type",
                    "io.debezium.transforms.ExtractNewRecordState",
                ),
                ("transforms.u.delete.tombstone.handling.mod", "drop"),
            ],
            "unknown option \"transforms.u.delete.tombstone.handling.mod\" for io.debezium.transforms.ExtractNewRecordState: did you mean \"transforms.u.delete.tombstone.handling.mode\"?",
        ),
        (
            &[
                ("transforms", "u"),
                (
                    "transforms.u.type",
                    "io.debezium.transforms.ExtractNewRecordState",
                ),
                ("transforms.u.delete.tombstone.handling.mode", "remove"),
            ],
            "invalid value \"remove\" for \"delete.tombstone.handling.mode\": expected one of drop, tombstone, rewrite",
        ),
        (
            &[
                ("transforms", "x"),
                (
                    "transforms.x.type",
                    "org.apache.kafka.connect.transforms.ExtractField$Value",
                ),
                ("transforms.x.field.syntax.version", "V2"),
                ("transforms.x.field", "`a.b"),
            ],
            "incomplete backtick pair in path \"`a.b\"",
        ),
        (
            &[
                ("transforms", "f"),
                (
                    "transforms.f.type",
                    "org.apache.kafka.connect.transforms.Filter",
                ),
                ("transforms.f.predicate", "isBig"),
            ],
            "predicate \"isBig\" is not declared in \"predicates\"",
        ),
        (
            &[
                ("transforms", "f"),
                ("transforms.f.type", "Filter"),
                ("transforms.f.predicate", "p"),
                ("predicates", "p"),
                (
                    "predicates.p.type",
                    "org.apache.kafka.connect.transforms.predicates.TopicNameMatch",
                ),
            ],
            "did you mean \"org.apache.kafka.connect.transforms.predicates.TopicNameMatches\"",
        ),
        (
            &[
                ("transforms", "c"),
                (
                    "transforms.c.type",
                    "org.apache.kafka.connect.transforms.Cast$Value",
                ),
                ("transforms.c.spec", "a:decimal"),
            ],
            "Cast does not cast to \"decimal\"",
        ),
    ];
    for (props, want) in cases {
        let got = chain_error(props);
        assert!(
            got.contains(want),
            "config {props:?}\n  expected an error containing: {want}\n  got: {got}"
        );
        assert_eq!(got.lines().count(), 1, "one line for {props:?}: {got}");
    }
    // The old Debezium option names still mean what they meant.
    assert_eq!(
        chain_error(&[
            ("transforms", "u"),
            (
                "transforms.u.type",
                "io.debezium.transforms.ExtractNewRecordState"
            ),
            ("transforms.u.drop.tombstones", "false"),
            ("transforms.u.delete.handling.mode", "rewrite"),
        ]),
        "no error"
    );
}

/// Fields whose values differ by nature between two captures (times, log positions), in
/// envelopes, rows with `add.fields`, and flattened envelopes.
const BY_NATURE: &[&str] = &[
    "ts_ms",
    "ts_us",
    "ts_ns",
    "version",
    "lsn",
    "txId",
    "sequence",
    "xmin",
    "__lsn",
    "__source_ts_ms",
    "record_ts",
    "source_ts_ms",
    "source_ts_us",
    "source_ts_ns",
    "source_version",
    "source_lsn",
    "source_txId",
    "source_sequence",
    "source_xmin",
];

fn strip_nature(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.retain(|k, _| !BY_NATURE.contains(&k.as_str()));
            o.values_mut().for_each(strip_nature);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nature),
        _ => {}
    }
}

/// Connectors running `runs` (chain, expected output) on database `db` of `pg`, one slot
/// each, with `extra` config; `workload` runs once they stream. Returns the differences.
fn live_runs(
    pg: &crate::support::PgInstance,
    db: &str,
    runs: &[(String, String)],
    extra: Value,
    workload: &std::path::Path,
) -> Vec<String> {
    use crate::support::{Runnel, pg_connector, records, topic, wait_records, wait_slot_active};
    let dir_fixtures = fixture("transforms");
    let chains: Value = serde_json::from_str(
        &std::fs::read_to_string(dir_fixtures.join("chains.resolved.json")).unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut configs = Vec::new();
    for (i, (chain, _)) in runs.iter().enumerate() {
        let name = format!("{db}{i:02}");
        let mut config = chains[chain].clone();
        for (k, v) in extra.as_object().unwrap() {
            config[k] = v.clone();
        }
        // The fixture's converter settings (Kafka's JsonConverter defaults).
        for k in [
            "key.converter.schemas.enable",
            "value.converter.schemas.enable",
            "key.converter.replace.null.with.default",
            "value.converter.replace.null.with.default",
        ] {
            config[k] = "true".into();
        }
        config["snapshot.mode"] = "no_data".into();
        configs.push(pg_connector(
            pg,
            &name,
            db,
            &name,
            &dir.path().join(format!("{name}.jsonl")),
            config,
        ));
    }
    let mut runnel = Runnel::start(dir.path(), &configs);
    for i in 0..runs.len() {
        wait_slot_active(pg, db, &format!("{db}{i:02}"), &mut runnel);
    }
    pg.psql_file(db, workload);
    let mut failed = Vec::new();
    for (i, (chain, expected)) in runs.iter().enumerate() {
        let want: Vec<Value> = lines(&dir_fixtures.join(expected))
            .into_iter()
            .filter(|l| l.get("error").is_none())
            .collect();
        let out = dir.path().join(format!("{db}{i:02}.jsonl"));
        let not_marker = |r: &&Value| !topic(r).ends_with("rig_marker");
        wait_records(&out, chain, Duration::from_secs(60), &mut runnel, |recs| {
            recs.iter().filter(not_marker).count() >= want.len()
        });
        let got: Vec<Value> = records(&out).iter().filter(not_marker).cloned().collect();
        let mut problems = Vec::new();
        if got.len() != want.len() {
            problems.push(format!("{} records, expected {}", got.len(), want.len()));
        }
        for (g, w) in got.iter().zip(&want) {
            let mut g = json!({"topic": g["topic"], "key": g["key"], "value": g["value"],
                "headers": g.get("headers").cloned().unwrap_or(json!([]))});
            let mut w = json!({"topic": w["topic"], "key": w["key"], "value": w["value"], "headers": w["headers_simple"]});
            strip_nature(&mut g);
            strip_nature(&mut w);
            let mut d = Vec::new();
            diffs("", &g, &w, &mut d);
            if !d.is_empty() {
                problems.push(format!(
                    "{} {}: {}",
                    w["topic"],
                    w["key"]["payload"],
                    d.join("; ")
                ));
            }
        }
        if !problems.is_empty() {
            problems.truncate(4);
            failed.push(format!("{chain}:\n  {}", problems.join("\n  ")));
        }
    }
    runnel.stop();
    failed
}

/// The chains on live PostgreSQL connectors (change events from the source, through the
/// engine, to the file sink) give what the real transforms made of Debezium's events for the
/// same workloads: every streaming chain, and the outbox EventRouter on the outbox table.
#[test]
fn live_changes_through_the_chains_match_the_real_transforms() {
    let dir_fixtures = fixture("transforms");
    let runs = |input: &str| -> Vec<(String, String)> {
        std::fs::read_to_string(dir_fixtures.join("chains.tsv"))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.split('\t').collect::<Vec<_>>())
            .filter(|c| c[1] == input)
            .map(|c| (c[0].to_string(), c[2].to_string()))
            .collect()
    };
    let pg = crate::support::PgInstance::start();
    pg.create_database("rig");
    pg.psql_file("rig", &fixture("postgres/schema.sql"));
    pg.psql("rig", "CALL rig_seed(1000)");
    // Debezium's schemas-on capture saw the workload a second time (see conformance.rs).
    pg.psql_file("rig", &fixture("postgres/sample.sql"));
    // Chain 27 routes by the record's timestamp, which live is the time of the run.
    let streaming: Vec<(String, String)> = runs("../postgres/debezium-3.6.3-schemas-on.jsonl")
        .into_iter()
        .filter(|(c, _)| !c.starts_with("27-"))
        .collect();
    let mut failed = live_runs(
        &pg,
        "rig",
        &streaming,
        json!({}),
        &fixture("postgres/sample.sql"),
    );
    pg.create_database("ob");
    pg.psql_file("ob", &dir_fixtures.join("outbox-schema.sql"));
    // Chain 20 turns one record into a value the converter rejects (the fixture's
    // VALUE_CONVERTER error): with errors.tolerance=none that stops a connector, in Kafka
    // Connect as here, so it runs on Debezium's records above, not live.
    let outbox: Vec<(String, String)> = runs("debezium-3.6.3-outbox-schemas-on.jsonl")
        .into_iter()
        .filter(|(c, _)| !c.starts_with("20-"))
        .collect();
    failed.extend(live_runs(
        &pg,
        "ob",
        &outbox,
        json!({"topic.prefix": "rig", "table.include.list": "public.outbox"}),
        &dir_fixtures.join("outbox-sample.sql"),
    ));
    assert!(
        failed.is_empty(),
        "{} chain(s) differ on live changes:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// Debezium's Filter and ContentBasedRouter with CEL expressions, on Debezium's events: the
/// records they keep and route are the ones the expressions name.
#[test]
fn cel_filter_and_router_keep_and_route_what_the_expressions_say() {
    let input = lines(&fixture("transforms").join("../postgres/debezium-3.6.3-schemas-on.jsonl"));
    let registry = registry();
    let op = |l: &Value| l["value"]["payload"]["op"].as_str().map(str::to_string);
    let filter = json!({
        "transforms": "f",
        "transforms.f.type": "io.debezium.transforms.Filter",
        "transforms.f.language": "cel",
        "transforms.f.condition": "value.op == 'u' || value.op == 'c'",
        "transforms.f.topic.regex": "rig\\.public\\.customers",
    });
    let out = run_chain(&registry, &filter, &input);
    let want: Vec<&Value> = input
        .iter()
        .filter(|l| {
            l["topic"] != "rig.public.customers"
                || l["value"].is_null()
                || matches!(op(l).as_deref(), Some("u" | "c"))
        })
        .collect();
    assert_eq!(out.len(), want.len(), "{out:?}");
    assert!(out.iter().all(|o| o.get("error").is_none()), "{out:?}");
    let router = json!({
        "transforms": "r",
        "transforms.r.type": "io.debezium.transforms.ContentBasedRouter",
        "transforms.r.language": "cel",
        "transforms.r.topic.expression": "value.op == 'd' ? 'deletes.' + topic : null",
        "transforms.r.null.handling.mode": "drop",
    });
    let out = run_chain(&registry, &router, &input);
    let deletes = input
        .iter()
        .filter(|l| op(l).as_deref() == Some("d"))
        .count();
    assert_eq!(
        out.len(),
        input.iter().filter(|l| !l["value"].is_null()).count()
    );
    assert!(out.iter().all(|o| o.get("error").is_none()), "{out:?}");
    assert_eq!(
        out.iter()
            .filter(|o| o["topic"]
                .as_str()
                .unwrap()
                .starts_with("deletes.rig.public."))
            .count(),
        deletes
    );
}

/// A transform failing on a live change stops the connector with one line naming the
/// transform, the table, the key and the position; with
/// `event.processing.failure.handling.mode=warn` the record is skipped and the rest flows.
#[test]
fn a_transform_failing_on_a_change_stops_with_its_record_or_skips_it() {
    use crate::support::{
        PgInstance, Runnel, pg_connector, records, wait_exit, wait_records, wait_slot_active,
    };
    let pg = PgInstance::start();
    pg.create_database("rig");
    pg.psql(
        "rig",
        "CREATE TABLE items (id int PRIMARY KEY, code text NOT NULL)",
    );
    let dir = tempfile::tempdir().unwrap();
    let chain = json!({
        "snapshot.mode": "no_data",
        "transforms": "unwrap,cast",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "transforms.cast.type": "org.apache.kafka.connect.transforms.Cast$Value",
        "transforms.cast.spec": "code:int32",
    });
    let run = |name: &str, extra: &[(&str, &str)]| {
        let mut cfg_extra = chain.clone();
        for (k, v) in extra {
            cfg_extra[*k] = (*v).into();
        }
        let run_dir = dir.path().join(name);
        std::fs::create_dir_all(&run_dir).unwrap();
        let out = run_dir.join("out.jsonl");
        let cfg = pg_connector(&pg, name, "rig", name, &out, cfg_extra);
        let mut runnel = Runnel::start(&run_dir, &[cfg]);
        wait_slot_active(&pg, "rig", name, &mut runnel);
        (runnel, out)
    };
    let (mut strict, strict_out) = run("strict", &[]);
    let (mut lenient, lenient_out) = run(
        "lenient",
        &[("event.processing.failure.handling.mode", "warn")],
    );
    let before = pg.query_value("rig", "SELECT pg_current_wal_lsn()");
    pg.psql(
        "rig",
        "INSERT INTO items VALUES (1, '10'), (2, 'ten'), (3, '30')",
    );
    let status = wait_exit(&mut strict, Duration::from_secs(60));
    let log = strict.log_text();
    assert!(!status.success(), "{log}");
    let error = log.lines().find(|l| l.starts_with("error:")).unwrap_or("");
    for want in [
        "transform \"cast\" (org.apache.kafka.connect.transforms.Cast$Value) failed on",
        "public.items",
        "with key {\"id\":2}",
        "position",
        "event.processing.failure.handling.mode",
    ] {
        assert!(error.contains(want), "no {want:?} in: {error}\n{log}");
    }
    assert!(!log.contains("panicked"), "{log}");
    // Nothing from the failing record on is written, and no position inside the transaction
    // is committed: the slot keeps it all. (A row before the failure may have gone out in an
    // earlier batch of the same transaction, when the source read the transaction in two
    // parts: it comes again after a restart, at least once.)
    let written = records(&strict_out);
    assert!(
        written
            .iter()
            .all(|r| r["value"]["payload"]["id"].as_i64() == Some(1)),
        "{written:?}"
    );
    let kept = pg.query_value(
        "rig",
        &format!(
            "SELECT confirmed_flush_lsn <= '{before}'::pg_lsn FROM pg_replication_slots \
             WHERE slot_name = 'strict'"
        ),
    );
    assert_eq!(kept, "t", "the slot moved past the failed transaction");
    let recs = wait_records(
        &lenient_out,
        "the two good items",
        Duration::from_secs(60),
        &mut lenient,
        |r| r.len() >= 2,
    );
    lenient.stop();
    let codes: Vec<&Value> = recs
        .iter()
        .map(|r| &r["value"]["payload"]["code"])
        .collect();
    assert_eq!(codes, [&json!(10), &json!(30)], "{recs:?}");
}
