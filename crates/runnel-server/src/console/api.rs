//! `/ui/api/…`: what each console page shows, gathered in one request. Read-only: actions go
//! through the REST API itself, so auth, `--read-only` and Kafka Connect's semantics apply to
//! the console exactly as to curl.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::Stream;
use runnel_core::SourceStats;
use runnel_runtime::metrics::ConnectorMetrics;
use runnel_runtime::registry::ConnectorClass;
use runnel_runtime::worker::{ConnectorStatus, Overview};
use serde_json::{Map, Value, json};

use super::secrets;
use crate::AppState;
use crate::connectors::{kind, status_json};
use crate::error::{ApiError, ApiResult};

/// How often an open overview receives the connectors' state.
const STREAM_INTERVAL: Duration = Duration::from_secs(2);
/// How long a connector's live check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

fn snapshot_json(stats: &SourceStats) -> Value {
    json!({
        "running": stats.snapshot_running.load(Relaxed),
        "tables_total": stats.snapshot_tables_total.load(Relaxed),
        "tables_done": stats.snapshot_tables_done.load(Relaxed),
        "rows": stats.snapshot_rows.load(Relaxed),
    })
}

fn nonzero(v: u64) -> Value {
    if v == 0 { Value::Null } else { json!(v) }
}

/// The counters both pages show.
fn metrics_json(m: &ConnectorMetrics) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("events".into(), json!(m.events_written.load(Relaxed)));
    out.insert("records".into(), json!(m.records_durable.load(Relaxed)));
    out.insert("ms_behind_source".into(), json!(m.millis_behind_source()));
    out.insert(
        "last_event_ms".into(),
        nonzero(m.last_event_ms.load(Relaxed)),
    );
    out.insert("errors".into(), json!(m.errors.load(Relaxed)));
    out.insert("restarts".into(), json!(m.restarts.load(Relaxed)));
    out.insert("snapshot".into(), snapshot_json(&m.source));
    out
}

/// One overview row.
fn row(o: &Overview) -> Value {
    let status = &o.status;
    let mut r = metrics_json(&o.metrics);
    r.insert("name".into(), json!(status.name));
    r.insert("type".into(), json!(kind(status.kind)));
    r.insert("class".into(), json!(o.class));
    r.insert("state".into(), json!(status.connector.state.as_str()));
    r.insert("tasks".into(), tasks_json(status));
    r.insert("worker_id".into(), json!(status.connector.worker_id));
    r.insert(
        "records_per_s".into(),
        json!(o.last.map_or(0.0, |s| s.records_per_s())),
    );
    let warning = status
        .connector
        .warning
        .as_ref()
        .or_else(|| status.tasks.iter().find_map(|(_, t)| t.warning.as_ref()));
    r.insert("warning".into(), json!(warning));
    Value::Object(r)
}

async fn overview_json(app: &AppState) -> Value {
    let rows: Vec<Value> = app.worker.overview().await.iter().map(row).collect();
    json!({
        "worker": {
            "id": app.worker.worker_id(),
            "version": runnel_core::VERSION,
            "read_only": app.options.read_only,
            "kafka": app.worker.settings().bootstrap_servers,
            "topics": app.options.topics.is_some(),
            "history_bytes": app.worker.history_bytes().await,
        },
        "connectors": rows,
    })
}

/// `GET /ui/api/overview`: the worker and every connector's state and figures.
pub(crate) async fn overview(State(app): State<AppState>) -> Json<Value> {
    Json(overview_json(&app).await)
}

/// `GET /ui/api/stream`: the overview as server-sent events, every [`STREAM_INTERVAL`] while
/// the page is open (one snapshot of the worker per interval, whatever the number of pages
/// that ask for its figures in between).
pub(crate) async fn stream(
    State(app): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut tick = tokio::time::interval(STREAM_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let events = futures_util::stream::unfold((app, tick), |(app, mut tick)| async move {
        tick.tick().await;
        let data = overview_json(&app).await.to_string();
        Some((
            Ok(Event::default().event("overview").data(data)),
            (app, tick),
        ))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

fn gauge(m: &ConnectorMetrics, name: &str) -> Value {
    m.source
        .gauges()
        .iter()
        .find(|g| g.name == name)
        .map_or(Value::Null, |g| json!(g.value))
}

/// A PostgreSQL connector's replication slot as the worker's slot watch last saw it; null for
/// a connector whose class has no slot.
fn slot_json(
    class: Option<&ConnectorClass>,
    config: &BTreeMap<String, String>,
    m: &ConnectorMetrics,
) -> Value {
    let Some(spec) = class.map(|c| &c.spec) else {
        return Value::Null;
    };
    let Some(limit_key) = spec.find("slot.max.retained.wal.bytes") else {
        return Value::Null;
    };
    let value_of =
        |key: &str, default: Option<&'static str>| config.get(key).map(String::as_str).or(default);
    let limit = value_of(limit_key.name, limit_key.default).and_then(|v| v.parse::<u64>().ok());
    let name = value_of("slot.name", spec.find("slot.name").and_then(|k| k.default));
    json!({
        "name": name,
        "active": gauge(m, "slot_active").as_f64().map(|v| v > 0.0),
        "retained_wal_bytes": gauge(m, "slot_retained_wal_bytes"),
        "flush_lag_bytes": gauge(m, "slot_flush_lag_bytes"),
        "max_retained_wal_bytes": limit,
    })
}

/// `[{"id", "state"}]` of a status's tasks.
fn tasks_json(status: &ConnectorStatus) -> Value {
    status
        .tasks
        .iter()
        .map(|(id, t)| json!({"id": id, "state": t.state.as_str()}))
        .collect()
}

/// `GET /ui/api/connectors/{name}`: config (secrets masked), status, figures, history,
/// offsets, topics and (PostgreSQL) the slot.
pub(crate) async fn connector(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let info = app.worker.info(&name).await?;
    let o = app.worker.overview_one(&name).await?;
    let registry = app.worker.registry();
    let class = registry.class(&o.class);
    let config: Map<String, Value> = info
        .config
        .iter()
        .map(|(k, v)| (k.clone(), json!(secrets::shown(class.as_ref(), k, v))))
        .collect();
    let offsets = match app.worker.offsets(&name).await {
        Ok(list) => json!(
            list.into_iter()
                .map(|(partition, offset)| json!({"partition": partition, "offset": offset}))
                .collect::<Vec<_>>()
        ),
        Err(e) => json!({"error": e.to_string()}),
    };
    let slot = slot_json(class.as_ref(), &info.config, &o.metrics);
    let mut out = metrics_json(&o.metrics);
    out.insert("name".into(), json!(name));
    out.insert("type".into(), json!(kind(o.status.kind)));
    out.insert("class".into(), json!(o.class));
    out.insert("config".into(), Value::Object(config));
    out.insert("status".into(), status_json(&o.status));
    out.insert("history".into(), app.worker.history(&name).await?);
    out.insert("offsets".into(), offsets);
    out.insert("topics".into(), json!(app.worker.topics(&name).await?));
    out.insert("slot".into(), slot);
    out.insert(
        "sink_latency_us".into(),
        json!(o.metrics.sink_latency_us.load(Relaxed)),
    );
    out.insert("read_only".into(), json!(app.options.read_only));
    Ok(Json(Value::Object(out)))
}

/// `GET /ui/api/connectors/{name}/check`: `runnel check` of the connector on its live systems.
pub(crate) async fn check(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let report = tokio::time::timeout(CHECK_TIMEOUT, app.worker.check(&name))
        .await
        .map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "the check of {name} did not finish within {}s: a server it needs is not answering",
                    CHECK_TIMEOUT.as_secs()
                ),
            )
        })??;
    let problems: Vec<Value> = report
        .problems
        .iter()
        .map(|p| json!({"key": p.key, "message": p.message}))
        .collect();
    Ok(Json(json!({
        "ok": report.is_ok(),
        "passed": report.passed,
        "warnings": report.warnings,
        "problems": problems,
    })))
}

/// The server a source connector reads: `host:port` of its `database.*` keys (the class's
/// default port when the config has none), as the watches name servers.
fn server_of(config: &BTreeMap<String, String>, class: Option<&ConnectorClass>) -> Option<String> {
    let host = config.get("database.hostname")?;
    let port = config
        .get("database.port")
        .map(String::as_str)
        .or_else(|| {
            class
                .and_then(|c| c.spec.find("database.port"))
                .and_then(|k| k.default)
        })
        .unwrap_or("default port");
    Some(format!("{host}:{port}"))
}

/// `GET /ui/api/databases`: each database server the source connectors read, with the
/// connectors (state, slot) and what the watches last saw there (PostgreSQL: every slot).
pub(crate) async fn databases(State(app): State<AppState>) -> ApiResult<Json<Value>> {
    let registry = app.worker.registry();
    let mut servers: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for o in app.worker.overview().await {
        let Ok(info) = app.worker.info(&o.status.name).await else {
            continue;
        };
        let class = registry.class(&o.class);
        let Some(server) = server_of(&info.config, class.as_ref()) else {
            continue;
        };
        let slot = slot_json(class.as_ref(), &info.config, &o.metrics);
        servers.entry(server).or_default().push(json!({
            "name": o.status.name,
            "class": o.class,
            "state": o.status.connector.state.as_str(),
            "tasks": tasks_json(&o.status),
            "database": info.config.get("database.dbname"),
            "slot": slot,
        }));
    }
    let mut seen = app.worker.servers();
    let list: Vec<Value> = servers
        .into_iter()
        .map(|(server, connectors)| {
            let (seen_ms, report) = seen.remove(&server).unwrap_or((0, Value::Null));
            json!({"server": server, "connectors": connectors, "seen_ms": nonzero(seen_ms),
                   "report": report})
        })
        .collect();
    Ok(Json(json!({"servers": list})))
}

fn browser(app: &AppState) -> ApiResult<std::sync::Arc<dyn crate::TopicBrowser>> {
    app.options.topics.clone().ok_or_else(|| {
        ApiError::not_found(
            "this worker has no Kafka cluster to browse: start it with --bootstrap-servers",
        )
    })
}

fn browse_error(message: String) -> ApiError {
    ApiError::new(axum::http::StatusCode::BAD_GATEWAY, message)
}

/// `GET /ui/api/topics`: the worker's Kafka cluster's topics and their partitions' offsets.
pub(crate) async fn topics(State(app): State<AppState>) -> ApiResult<Json<Value>> {
    let found = browser(&app)?.topics().await.map_err(browse_error)?;
    Ok(Json(json!({"topics": found})))
}

/// `GET /ui/api/topics/{topic}/messages?partition=&offset=&limit=&key=`: newest first, or
/// from `offset` on; `key` keeps the messages whose key contains it.
pub(crate) async fn messages(
    State(app): State<AppState>,
    Path(topic): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let number = |key: &str| -> ApiResult<Option<i64>> {
        match q.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!("{key} must be a whole number, not \"{v}\""))
            }),
        }
    };
    let query = crate::TopicQuery {
        topic,
        partition: number("partition")?.map(|p| p as i32),
        offset: number("offset")?,
        limit: number("limit")?.map_or(50, |l| l.max(1) as usize),
        key: q.get("key").filter(|k| !k.is_empty()).cloned(),
    };
    Ok(Json(
        browser(&app)?.messages(query).await.map_err(browse_error)?,
    ))
}
