//! Distributed mode: three `runnel worker`s started from `connect-distributed.properties` files
//! share thirty PostgreSQL → Kafka connectors through one private broker. Every worker answers
//! for every connector; a rolling restart (static membership) moves nothing; `kill -9` of the
//! busiest worker moves its connectors to the other two, and every committed change is on
//! Kafka, per key complete and in order, with never two walsenders on one connector's slot.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use runnel_testkit::{KafkaBroker, PgInstance, PgOptions, free_port};
use serde_json::{Value, json};

use crate::kafka::{kafka_client, kafka_records};
use crate::support::*;
use crate::worker::WorkerProcess;

const CONNECTORS: usize = 30;
// Kafka Connect's default; a rolling restart must be back within it, even on a loaded CI machine.
const SESSION_TIMEOUT_MS: u64 = 10_000;

/// A distributed worker's properties file, as a Kafka Connect user writes it, with `extra`
/// lines.
fn worker_properties(dir: &Path, bootstrap: &str, port: u16, extra: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("connect-distributed.properties");
    std::fs::write(
        &path,
        format!(
            "bootstrap.servers={bootstrap}\n\
             group.id=connect-cluster\n\
             config.storage.topic=connect-configs\n\
             offset.storage.topic=connect-offsets\n\
             status.storage.topic=connect-status\n\
             config.storage.replication.factor=1\n\
             offset.storage.replication.factor=1\n\
             status.storage.replication.factor=1\n\
             key.converter=org.apache.kafka.connect.json.JsonConverter\n\
             value.converter=org.apache.kafka.connect.json.JsonConverter\n\
             listeners=http://127.0.0.1:{port}\n\
             rest.advertised.host.name=127.0.0.1\n\
             rest.advertised.port={port}\n\
             session.timeout.ms={SESSION_TIMEOUT_MS}\n\
             heartbeat.interval.ms=1000\n\
             {extra}"
        ),
    )
    .unwrap();
    path
}

struct Member {
    port: u16,
    process: WorkerProcess,
}

impl Member {
    fn start(root: &Path, n: usize, bootstrap: &str, port: u16) -> Self {
        let dir = root.join(format!("worker-{n}"));
        let props = worker_properties(&dir, bootstrap, port, "");
        let process = WorkerProcess::start(&dir, port, &["--config", props.to_str().unwrap()]);
        Self { port, process }
    }

    fn id(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// Which worker runs each connector, as `worker` answers (None until all run).
fn placement(worker: &WorkerProcess) -> Option<BTreeMap<String, String>> {
    placement_of(worker, CONNECTORS, &[])
}

/// The same for the first `count` connectors but those `deleted`.
fn placement_of(
    worker: &WorkerProcess,
    count: usize,
    deleted: &[&str],
) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for name in (0..count).map(|i| format!("c{i}")) {
        if deleted.contains(&name.as_str()) {
            continue;
        }
        let s = worker.ok("GET", &format!("/connectors/{name}/status"), None, 200);
        let task = &s["tasks"][0];
        if task["state"] != "RUNNING" || s["connector"]["state"] != "RUNNING" {
            return None;
        }
        out.insert(name, task["worker_id"].as_str()?.to_string());
    }
    Some(out)
}

fn connector(pg: &PgInstance, i: usize) -> Value {
    json!({
        "name": format!("c{i}"),
        "config": {
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "database.hostname": pg.host,
            "database.port": pg.port.to_string(),
            "database.user": pg.user,
            "database.password": "",
            "database.dbname": "shop",
            "topic.prefix": format!("c{i}"),
            "plugin.name": "pgoutput",
            "slot.name": format!("slot_{i}"),
            "publication.name": format!("pub_{i}"),
            "publication.autocreate.mode": "filtered",
            "table.include.list": format!("public.t{i}"),
            "poll.interval.ms": "50",
            "key.converter.schemas.enable": "false",
            "value.converter.schemas.enable": "false",
        }
    })
}

#[test]
fn three_workers_share_thirty_connectors_and_survive_a_rolling_restart_and_a_kill_9() {
    let broker = KafkaBroker::start();
    let bootstrap = broker.bootstrap();
    // A paused worker's walsenders end after wal_sender_timeout, freeing its slots.
    let pg = PgInstance::start_with(PgOptions {
        settings: vec![("wal_sender_timeout".into(), "5s".into())],
        ..PgOptions::default()
    });
    pg.create_database("shop");
    let mut ddl = String::new();
    for i in 0..CONNECTORS {
        ddl.push_str(&format!(
            "CREATE TABLE t{i} (id int PRIMARY KEY, v int NOT NULL); INSERT INTO t{i} VALUES (1, 0);"
        ));
    }
    pg.psql("shop", &ddl);
    let root = tempfile::tempdir().unwrap();
    let ports = [free_port(), free_port(), free_port()];
    let mut members: Vec<Member> = (0..3)
        .map(|n| Member::start(root.path(), n, &bootstrap, ports[n]))
        .collect();

    // Created on one worker, visible on every worker (read back from the config topic).
    for i in 0..CONNECTORS {
        members[i % 3]
            .process
            .ok("POST", "/connectors", Some(&connector(&pg, i)), 201);
    }
    for m in &members {
        wait_for(
            "every connector on every worker",
            Duration::from_secs(30),
            || {
                let names = m.process.ok("GET", "/connectors", None, 200);
                (names.as_array().map_or(0, Vec::len) == CONNECTORS).then_some(())
            },
        );
    }
    let started = Instant::now();
    let before = wait_for(
        "thirty connectors RUNNING",
        Duration::from_secs(180),
        || placement(&members[2].process),
    );
    eprintln!(
        "all {CONNECTORS} RUNNING {:?} after the last create",
        started.elapsed()
    );
    let ids: BTreeSet<String> = members.iter().map(Member::id).collect();
    let used: BTreeSet<&String> = before.values().collect();
    assert_eq!(
        used.len(),
        3,
        "every worker should run some connectors: {before:?}"
    );
    assert!(before.values().all(|w| ids.contains(w)), "{before:?}");
    // Every worker answers with the same placement (once the statuses are read back).
    for m in &members {
        wait_for(
            "the same placement on every worker",
            Duration::from_secs(10),
            || (placement(&m.process).as_ref() == Some(&before)).then_some(()),
        );
    }

    // A rolling restart of one worker (static membership, back within the session timeout):
    // nothing moves.
    let restarted = 1;
    let t = Instant::now();
    members[restarted].process.stop();
    let stopped_in = t.elapsed();
    let port = members[restarted].port;
    members[restarted] = Member::start(root.path(), restarted, &bootstrap, port);
    eprintln!(
        "rolling restart: stopped in {stopped_in:?}, answering again {:?} after the stop began",
        t.elapsed()
    );
    let after_restart = runnel_testkit::try_wait(Duration::from_secs(60), || {
        placement(&members[0].process)
    })
    .unwrap_or_else(|| {
        let logs: Vec<String> = members
            .iter()
            .map(|m| format!("== {}\n{}", m.id(), m.process.log_text()))
            .collect();
        panic!(
            "the restarted worker's connectors not RUNNING again within 60 s; status: {}\nlogs:\n{}",
            members[0].process.ok("GET", "/connectors?expand=status", None, 200),
            logs.join("\n")
        )
    });
    assert_eq!(
        after_restart,
        before,
        "a rolling restart moved connectors; its log:\n{}",
        members[restarted].process.log_text()
    );

    // Changes flow while the busiest worker is killed; a sampler watches the walsenders.
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let doubled = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (stop, doubled) = (stop_sampling.clone(), doubled.clone());
        let conn = pg.conn_str("shop");
        std::thread::spawn(move || {
            let mut samples = 0;
            while !stop.load(Ordering::Relaxed) {
                let out = std::process::Command::new("psql")
                    .args([&conn, "-Atc"])
                    .arg(
                        "SELECT application_name FROM pg_stat_replication \
                         GROUP BY 1 HAVING count(*) > 1",
                    )
                    .output();
                if let Ok(o) = out
                    && !String::from_utf8_lossy(&o.stdout).trim().is_empty()
                {
                    doubled.fetch_add(1, Ordering::Relaxed);
                    eprintln!("two walsenders: {}", String::from_utf8_lossy(&o.stdout));
                }
                samples += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            samples
        })
    };
    const ROUNDS: i32 = 20;
    let mut counts: BTreeMap<&String, usize> = BTreeMap::new();
    for w in before.values() {
        *counts.entry(w).or_default() += 1;
    }
    let busiest = counts
        .iter()
        .max_by_key(|(_, n)| **n)
        .unwrap()
        .0
        .to_string();
    let victim = members.iter().position(|m| m.id() == busiest).unwrap();
    let mut killed_at = None;
    for round in 1..=ROUNDS {
        let mut sql = String::from("BEGIN;");
        for i in 0..CONNECTORS {
            sql.push_str(&format!(
                "INSERT INTO t{i} VALUES ({}, {round}); UPDATE t{i} SET v = {round} WHERE id = 1;",
                round + 1
            ));
        }
        sql.push_str("COMMIT;");
        pg.psql("shop", &sql);
        if round == ROUNDS / 2 {
            members[victim].process.kill9();
            killed_at = Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let killed_at = killed_at.unwrap();
    let survivor = (victim + 1) % 3;
    let after_kill = wait_for(
        "the killed worker's connectors RUNNING on the others",
        Duration::from_secs(120),
        || placement(&members[survivor].process).filter(|p| p.values().all(|w| *w != busiest)),
    );
    let failover = killed_at.elapsed();
    eprintln!(
        "failover: {} connectors of {busiest} RUNNING elsewhere within {failover:?} of the kill \
         (session.timeout.ms={SESSION_TIMEOUT_MS})",
        counts[&busiest]
    );
    for (c, w) in &before {
        if *w != busiest {
            assert_eq!(&after_kill[c], w, "{c} moved though its worker lived");
        }
    }

    // Every committed change on Kafka: per table every row, and per key the versions in order.
    let mut missing = Vec::new();
    let records = runnel_testkit::try_wait(Duration::from_secs(120), || {
        let records = kafka_records(&broker, r"c\d+\.public\.t\d+", 0);
        missing.clear();
        for i in 0..CONNECTORS {
            let topic = format!("c{i}.public.t{i}");
            let rows: BTreeSet<i64> = records
                .iter()
                .filter(|r| r["topic"] == topic.as_str())
                .filter_map(|r| value_of(r)["after"]["id"].as_i64())
                .collect();
            let last_v = records
                .iter()
                .filter(|r| r["topic"] == topic.as_str())
                .filter_map(|r| {
                    let v = value_of(r);
                    (v["after"]["id"] == 1).then(|| v["after"]["v"].as_i64())?
                })
                .next_back();
            if rows.len() != (ROUNDS + 1) as usize || last_v != Some(ROUNDS as i64) {
                missing.push(format!("{topic}: {} rows, last v {last_v:?}", rows.len()));
            }
        }
        missing.is_empty().then_some(records)
    })
    .unwrap_or_else(|| panic!("changes missing on Kafka: {missing:?}"));
    for i in 0..CONNECTORS {
        let topic = format!("c{i}.public.t{i}");
        let versions: Vec<i64> = records
            .iter()
            .filter(|r| r["topic"] == topic.as_str())
            .filter_map(|r| {
                let v = value_of(r);
                (v["after"]["id"] == 1).then(|| v["after"]["v"].as_i64())?
            })
            .collect();
        // At least once around the kill: a replay may repeat versions already sent, but in
        // first appearance they are in commit order, and none is missing.
        let mut firsts: Vec<i64> = Vec::new();
        for v in &versions {
            if !firsts.contains(v) {
                firsts.push(*v);
            }
        }
        assert!(
            firsts.windows(2).all(|w| w[0] < w[1]),
            "{topic}: row 1's versions out of order: {versions:?}"
        );
        assert!(
            (1..=ROUNDS as i64).all(|v| firsts.contains(&v)),
            "{topic}: a version of row 1 is missing: {versions:?}"
        );
        assert_eq!(versions.last(), Some(&(ROUNDS as i64)), "{topic}");
        assert!(
            versions.len() <= firsts.len() * 2,
            "{topic}: unbounded duplicates"
        );
    }

    // Writes on one worker for a connector another runs: applied by its owner, seen by all.
    let other = (survivor + 1) % 3;
    let a = &members[survivor].process;
    let b = &members[other].process;
    let on_b = after_kill
        .iter()
        .find(|(_, w)| **w == members[other].id())
        .map(|(c, _)| c.clone())
        .expect("a connector on the other survivor");
    let state_on = |w: &WorkerProcess| {
        let s = w.ok("GET", &format!("/connectors/{on_b}/status"), None, 200);
        (
            s["connector"]["state"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            s["connector"]["worker_id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    };
    a.ok("PUT", &format!("/connectors/{on_b}/pause"), None, 202);
    wait_for("the pause, seen on both", Duration::from_secs(20), || {
        let want = ("PAUSED".to_string(), members[other].id());
        (state_on(a) == want && state_on(b) == want).then_some(())
    });
    a.ok("PUT", &format!("/connectors/{on_b}/resume"), None, 202);
    wait_for("the resume", Duration::from_secs(20), || {
        (state_on(a).0 == "RUNNING").then_some(())
    });
    let offsets = a.ok("GET", &format!("/connectors/{on_b}/offsets"), None, 200);
    assert!(
        offsets["offsets"][0]["offset"]["lsn"].is_u64(),
        "the offset of a connector another worker runs: {offsets}"
    );
    a.ok("DELETE", &format!("/connectors/{on_b}"), None, 204);
    wait_for(
        "the delete, seen on the other",
        Duration::from_secs(20),
        || {
            let names = b.ok("GET", "/connectors", None, 200);
            (names.as_array().map_or(0, Vec::len) == CONNECTORS - 1).then_some(())
        },
    );
    b.ok("GET", &format!("/connectors/{on_b}/status"), None, 404);

    // `kill -STOP` of one of the two: its connectors move to the other; after `kill -CONT` it
    // finds its work lost, stops it without writing an offset, and rejoins for a share.
    let paused_at = Instant::now();
    b.signal("STOP");
    let alone = members[survivor].id();
    wait_for(
        "the paused worker's connectors RUNNING on the other",
        Duration::from_secs(120),
        || {
            placement_of(a, CONNECTORS, &[on_b.as_str()])
                .filter(|p| p.values().all(|w| *w == alone))
        },
    );
    eprintln!(
        "kill -STOP: every connector RUNNING on the other worker {:?} later",
        paused_at.elapsed()
    );
    b.signal("CONT");
    wait_for(
        "the woken worker to find its work lost",
        Duration::from_secs(60),
        || b.log_text().contains("work lost").then_some(()),
    );
    let mut sql = String::from("BEGIN;");
    for i in 0..CONNECTORS {
        sql.push_str(&format!("UPDATE t{i} SET v = 100 WHERE id = 1;"));
    }
    sql.push_str("COMMIT;");
    pg.psql("shop", &sql);
    let last = wait_for(
        "the change after the pause on Kafka",
        Duration::from_secs(120),
        || {
            let records = kafka_records(&broker, r"c\d+\.public\.t\d+", 0);
            let done = (0..CONNECTORS)
                .filter(|i| format!("c{i}") != on_b)
                .all(|i| {
                    records.iter().any(|r| {
                        r["topic"] == format!("c{i}.public.t{i}").as_str()
                            && value_of(r)["after"]["v"] == 100
                    })
                });
            done.then_some(records)
        },
    );
    for i in (0..CONNECTORS).filter(|i| format!("c{i}") != on_b) {
        let topic = format!("c{i}.public.t{i}");
        // Row 1's changes (one key: one partition, in order).
        let after_pause: Vec<i64> = last
            .iter()
            .filter(|r| r["topic"] == topic.as_str())
            .map(value_of)
            .filter(|v| v["after"]["id"] == 1)
            .filter_map(|v| v["after"]["v"].as_i64())
            .skip_while(|v| *v != 100)
            .collect();
        if !after_pause.iter().all(|v| *v == 100) {
            let name = format!("connector=c{i} ");
            let slot = format!("slot=slot_{i} ");
            let logs: Vec<String> = members
                .iter()
                .flat_map(|m| {
                    let id = m.id();
                    m.process
                        .log_text()
                        .lines()
                        .filter(|l| l.contains(&name) || l.contains(&slot) || l.contains("work "))
                        .map(|l| format!("{id} {l}"))
                        .collect::<Vec<_>>()
                })
                .collect();
            panic!(
                "{topic}: an older change written after the newest: {after_pause:?}\n{}",
                logs.join("\n")
            );
        }
    }

    stop_sampling.store(true, Ordering::Relaxed);
    let samples = sampler.join().unwrap();
    assert_eq!(
        doubled.load(Ordering::Relaxed),
        0,
        "a connector had two walsenders at once"
    );
    eprintln!("no connector had two walsenders in {samples} samples of pg_stat_replication");
}

fn value_of(record: &Value) -> Value {
    record["value_raw"]
        .as_str()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null)
}

/// Exactly once (`exactly.once.source.support=enabled`, KIP-618) on a broker that serves
/// transactions: a connector's records and its offset commit together; a producer that took the
/// connector's transactional id (as its next owner's does) fences the worker, which then writes
/// nothing more; started again, the worker fences that one and resumes from the offset it
/// committed, every change once.
#[test]
fn exactly_once_commits_offsets_with_records_and_a_fenced_worker_writes_nothing_more() {
    let broker = KafkaBroker::start_transactional();
    let bootstrap = broker.bootstrap();
    // A paused worker's walsender ends after wal_sender_timeout, freeing the slot.
    let pg = PgInstance::start_with(PgOptions {
        settings: vec![("wal_sender_timeout".into(), "5s".into())],
        ..PgOptions::default()
    });
    pg.create_database("shop");
    pg.psql(
        "shop",
        "CREATE TABLE t0 (id int PRIMARY KEY, v int NOT NULL); INSERT INTO t0 VALUES (1, 0);",
    );
    let root = tempfile::tempdir().unwrap();
    let port = free_port();
    let dir = root.path().join("worker-0");
    let props = worker_properties(
        &dir,
        &bootstrap,
        port,
        "exactly.once.source.support=enabled\n",
    );
    let w = WorkerProcess::start(&dir, port, &["--config", props.to_str().unwrap()]);

    // Kafka Connect's preflight checks of a connector that requires exactly once.
    let mut to_file = connector(&pg, 9);
    to_file["config"]["exactly.once.support"] = json!("required");
    to_file["config"]["sink.type"] = json!("file");
    to_file["config"]["sink.file.path"] = json!(dir.join("out.jsonl").to_str().unwrap());
    let refused = w.ok("POST", "/connectors", Some(&to_file), 400);
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("does not support exactly-once semantics")),
        "{refused}"
    );

    let mut c = connector(&pg, 0);
    c["config"]["exactly.once.support"] = json!("required");
    w.ok("POST", "/connectors", Some(&c), 201);
    wait_for("the connector RUNNING", Duration::from_secs(60), || {
        placement_of(&w, 1, &[])
    });
    pg.psql("shop", "INSERT INTO t0 VALUES (2, 0);");
    // The ids of the rows on Kafka, sorted (each key has its own partition's order).
    let rows = |records: &[Value]| -> Vec<i64> {
        let mut ids: Vec<i64> = records
            .iter()
            .filter_map(|r| value_of(r)["after"]["id"].as_i64())
            .collect();
        ids.sort_unstable();
        ids
    };
    wait_for("rows 1 and 2 on Kafka", Duration::from_secs(60), || {
        let got = rows(&kafka_records(&broker, r"c0\.public\.t0", 0));
        got.contains(&2).then_some(())
    });
    // The offset went to the offset topic in the records' transaction (the worker's separate
    // offset publisher leaves transactional connectors alone).
    let offsets = wait_for(
        "the offset on the offset topic",
        Duration::from_secs(30),
        || {
            let o = kafka_records(&broker, "connect-offsets", 0);
            o.iter()
                .any(|r| {
                    r["key_raw"]
                        .as_str()
                        .is_some_and(|k| k.starts_with("[\"c0\","))
                })
                .then_some(o)
        },
    );
    assert!(
        offsets.iter().all(|r| r["value_raw"]
            .as_str()
            .is_some_and(|v| v.contains("\"lsn\""))),
        "{offsets:?}"
    );

    // Another producer takes the connector's transactional id, as its next owner would: the
    // worker's next write is refused, the connector stops, and the change is not on Kafka.
    kafka_client(&["fence", &bootstrap, "connect-cluster-c0-0"], "");
    pg.psql("shop", "INSERT INTO t0 VALUES (3, 0);");
    let trace = wait_for(
        "the fenced connector to stop",
        Duration::from_secs(60),
        || {
            let s = w.ok("GET", "/connectors/c0/status", None, 200);
            (s["tasks"][0]["state"] == "FAILED").then(|| s["tasks"][0]["trace"].to_string())
        },
    );
    assert!(trace.contains("was fenced"), "{trace}");
    std::thread::sleep(Duration::from_secs(2));
    let got = rows(&kafka_records(&broker, r"c0\.public\.t0", 0));
    assert!(!got.contains(&3), "a fenced worker wrote: {got:?}");

    // Started again (as on its next owner), it fences the other producer and resumes from the
    // offset it committed: every row once.
    w.ok(
        "POST",
        "/connectors/c0/restart?includeTasks=true",
        None,
        202,
    );
    let got = wait_for("row 3 on Kafka", Duration::from_secs(60), || {
        let got = rows(&kafka_records(&broker, r"c0\.public\.t0", 0));
        got.contains(&3).then_some(got)
    });
    assert_eq!(got, vec![1, 2, 3], "every change once");

    // A second worker joins; `kill -STOP` of the one running the connector: the other fences
    // it, reads the committed offset and runs it; woken by `kill -CONT`, the paused one finds
    // its work lost and writes nothing more. Every change once.
    let port2 = free_port();
    let dir2 = root.path().join("worker-1");
    let props2 = worker_properties(
        &dir2,
        &bootstrap,
        port2,
        "exactly.once.source.support=enabled\n",
    );
    let w2 = WorkerProcess::start(&dir2, port2, &["--config", props2.to_str().unwrap()]);
    let runner = wait_for(
        "the connector RUNNING, seen by both",
        Duration::from_secs(60),
        || {
            let a = placement_of(&w, 1, &[])?;
            (placement_of(&w2, 1, &[]).as_ref() == Some(&a)).then(|| a["c0"].clone())
        },
    );
    let (busy, other, other_id) = if runner == format!("127.0.0.1:{port}") {
        (&w, &w2, format!("127.0.0.1:{port2}"))
    } else {
        (&w2, &w, format!("127.0.0.1:{port}"))
    };
    let paused_at = Instant::now();
    busy.signal("STOP");
    pg.psql("shop", "INSERT INTO t0 VALUES (4, 0);");
    wait_for(
        "the connector RUNNING on the other worker",
        Duration::from_secs(120),
        || {
            let s = other.ok("GET", "/connectors/c0/status", None, 200);
            (s["tasks"][0]["state"] == "RUNNING" && s["tasks"][0]["worker_id"] == other_id.as_str())
                .then_some(())
        },
    );
    wait_for("row 4 on Kafka", Duration::from_secs(120), || {
        rows(&kafka_records(&broker, r"c0\.public\.t0", 0))
            .contains(&4)
            .then_some(())
    });
    eprintln!(
        "exactly once: the paused worker's connector wrote row 4 from the other {:?} after kill -STOP",
        paused_at.elapsed()
    );
    busy.signal("CONT");
    wait_for(
        "the woken worker to find its work lost",
        Duration::from_secs(60),
        || busy.log_text().contains("work lost").then_some(()),
    );
    pg.psql("shop", "INSERT INTO t0 VALUES (5, 0);");
    let got = wait_for("row 5 on Kafka", Duration::from_secs(60), || {
        let got = rows(&kafka_records(&broker, r"c0\.public\.t0", 0));
        got.contains(&5).then_some(got)
    });
    std::thread::sleep(Duration::from_secs(2));
    let last = rows(&kafka_records(&broker, r"c0\.public\.t0", 0));
    assert_eq!(last, got);
    assert_eq!(got, vec![1, 2, 3, 4, 5], "every change once");
    // (The woken worker rejoins the group and may be given the connector back: that is a new
    // start, which fences the other.)
    assert!(
        other
            .log_text()
            .contains("fenced the connector's earlier producers"),
        "the new owner did not fence first:\n{}\n---\n{}",
        other.log_text(),
        busy.log_text()
    );
}
