//! `/connectors/…`: Kafka Connect's connector endpoints, with its status codes and shapes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use runnel_core::config::ConnectorConfig;
use runnel_runtime::TargetState;
use runnel_runtime::worker::{ConnectorInfo, ConnectorStatus, StateInfo};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult, parse_body};

/// Kafka Connect's `type` of a connector (`unknown` for a class this build lacks).
pub(crate) fn kind(k: Option<runnel_runtime::ConnectorKind>) -> &'static str {
    k.map_or("unknown", |k| k.as_str())
}

/// `{"name", "config", "tasks": [{"connector", "task"}], "type"}`.
pub(crate) fn info_json(info: &ConnectorInfo) -> Value {
    let tasks: Vec<Value> = info
        .tasks
        .iter()
        .map(|t| json!({"connector": info.name, "task": t}))
        .collect();
    json!({"name": info.name, "config": info.config, "tasks": tasks, "type": kind(info.kind)})
}

fn state_json(s: &StateInfo) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("state".into(), json!(s.state.as_str()));
    m.insert("worker_id".into(), json!(s.worker_id));
    if let Some(trace) = &s.trace {
        m.insert("trace".into(), json!(trace));
    }
    // runnel only: what a running task retries, or a watch's warning.
    if let Some(warning) = &s.warning {
        m.insert("warning".into(), json!(warning));
    }
    m
}

/// `{"name", "connector": {"state", "worker_id", …}, "tasks": [{"id", "state", …}], "type"}`.
pub(crate) fn status_json(status: &ConnectorStatus) -> Value {
    let tasks: Vec<Value> = status
        .tasks
        .iter()
        .map(|(id, t)| {
            let mut m = Map::new();
            m.insert("id".into(), json!(id));
            m.extend(state_json(t));
            Value::Object(m)
        })
        .collect();
    json!({"name": status.name, "connector": state_json(&status.connector), "tasks": tasks,
           "type": kind(status.kind)})
}

/// The values of `key` in a query string (`?expand=status&expand=info`).
fn query_values<'a>(query: &'a Option<String>, key: &'a str) -> impl Iterator<Item = &'a str> {
    query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .filter_map(move |pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == key).then_some(v)
        })
}

fn query_flag(query: &Option<String>, key: &str) -> bool {
    query_values(query, key).any(|v| v.eq_ignore_ascii_case("true"))
}

/// `GET /connectors`, `?expand=status`, `?expand=info`.
pub(crate) async fn list(
    State(app): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let expand: Vec<&str> = query_values(&q, "expand").collect();
    let names = app.worker.names().await;
    if expand.is_empty() {
        return Ok(Json(json!(names)));
    }
    let mut out = Map::new();
    for name in names {
        let mut one = Map::new();
        if expand.contains(&"status") {
            one.insert(
                "status".into(),
                status_json(&app.worker.status(&name).await?),
            );
        }
        if expand.contains(&"info") {
            one.insert("info".into(), info_json(&app.worker.info(&name).await?));
        }
        out.insert(name, Value::Object(one));
    }
    Ok(Json(Value::Object(out)))
}

/// `POST /connectors` with `{"name", "config", "initial_state"?}`.
pub(crate) async fn create(State(app): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let mut body = parse_body(&body)?;
    let initial = match body.as_object_mut().and_then(|o| o.remove("initial_state")) {
        None | Some(Value::Null) => TargetState::Started,
        Some(Value::String(s)) => TargetState::from_initial_state(&s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Invalid initial state \"{s}\": expected RUNNING, PAUSED or STOPPED"
            ))
        })?,
        Some(_) => return Err(ApiError::bad_request("initial_state must be a string")),
    };
    if body.get("config").is_none() {
        return Err(ApiError::bad_request(
            "Connector config is missing: expected {\"name\": \"...\", \"config\": {...}}",
        ));
    }
    let config = ConnectorConfig::from_json(&body.to_string())
        .map_err(|e| ApiError::bad_request(e.message()))?;
    let info = app.worker.create(config, initial).await?;
    Ok((StatusCode::CREATED, Json(info_json(&info))).into_response())
}

pub(crate) async fn info(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(info_json(&app.worker.info(&name).await?)))
}

pub(crate) async fn delete(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    app.worker.delete(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The config as stored: placeholders, not secrets.
pub(crate) async fn get_config(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(app.worker.info(&name).await?.config)))
}

/// `PUT /connectors/{name}/config`: 201 when created, 200 when updated.
pub(crate) async fn put_config(
    State(app): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let mut body = parse_body(&body)?;
    let Some(map) = body.as_object_mut() else {
        return Err(ApiError::bad_request(
            "expected a JSON object of config keys",
        ));
    };
    match map.get("name") {
        Some(Value::String(n)) if *n != name => {
            return Err(ApiError::bad_request(format!(
                "Connector name configuration ({n}) doesn't match connector name in the URL ({name})"
            )));
        }
        _ => {
            map.insert("name".into(), Value::String(name.clone()));
        }
    }
    let config = ConnectorConfig::from_json(&body.to_string())
        .map_err(|e| ApiError::bad_request(e.message()))?;
    let (created, info) = app.worker.put_config(config).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(info_json(&info))).into_response())
}

pub(crate) async fn patch_config(
    State(app): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let Value::Object(patch) = parse_body(&body)? else {
        return Err(ApiError::bad_request(
            "expected a JSON object of config keys",
        ));
    };
    Ok(Json(info_json(
        &app.worker.patch_config(&name, patch).await?,
    )))
}

pub(crate) async fn status(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(status_json(&app.worker.status(&name).await?)))
}

/// `GET /connectors/{name}/history` (runnel's own): the last hour of the connector's metrics,
/// one array per measure, sampled every 5 s.
pub(crate) async fn history(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(app.worker.history(&name).await?))
}

/// `GET /connectors/{name}/tasks`: each task and its config.
pub(crate) async fn tasks(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let info = app.worker.info(&name).await?;
    let tasks: Vec<Value> = info
        .tasks
        .iter()
        .map(|t| json!({"id": {"connector": info.name, "task": t}, "config": info.config}))
        .collect();
    Ok(Json(Value::Array(tasks)))
}

fn task_id(task: &str) -> ApiResult<u32> {
    task.parse()
        .map_err(|_| ApiError::not_found(format!("Task {task} not found")))
}

pub(crate) async fn task_status(
    State(app): State<AppState>,
    Path((name, task)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let id = task_id(&task)?;
    let status = app.worker.status(&name).await.map_err(|e| match e {
        runnel_runtime::WorkerError::NotFound(_) => {
            ApiError::not_found(format!("Task {name}-{task} not found"))
        }
        e => e.into(),
    })?;
    let json = status_json(&status);
    json["tasks"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["id"] == id))
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("Task {name}-{task} not found")))
}

pub(crate) async fn restart_task(
    State(app): State<AppState>,
    Path((name, task)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    if task_id(&task)? != 0 {
        return Err(ApiError::not_found(format!("Task {name}-{task} not found")));
    }
    app.worker.restart(&name, true, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn pause(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    app.worker.set_target(&name, TargetState::Paused).await?;
    Ok(StatusCode::ACCEPTED)
}

pub(crate) async fn resume(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    app.worker.set_target(&name, TargetState::Started).await?;
    Ok(StatusCode::ACCEPTED)
}

pub(crate) async fn stop(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    app.worker.set_target(&name, TargetState::Stopped).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /connectors/{name}/restart?includeTasks=&onlyFailed=`: 204 for a plain restart,
/// 202 with the status when either flag is set (KIP-745).
pub(crate) async fn restart(
    State(app): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let include_tasks = query_flag(&q, "includeTasks");
    let only_failed = query_flag(&q, "onlyFailed");
    // One task per connector: restarting the connector restarts its task too.
    let (_, plan) = app
        .worker
        .restart(&name, include_tasks, only_failed)
        .await?;
    if !include_tasks && !only_failed {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    // The restart plan: every instance restarted is RESTARTING, as Kafka Connect answers.
    Ok((StatusCode::ACCEPTED, Json(status_json(&plan))).into_response())
}

pub(crate) async fn offsets(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let offsets: Vec<Value> = app
        .worker
        .offsets(&name)
        .await?
        .into_iter()
        .map(|(partition, offset)| json!({"partition": partition, "offset": offset}))
        .collect();
    Ok(Json(json!({"offsets": offsets})))
}

/// `PATCH /connectors/{name}/offsets` with `{"offsets": [{"partition": …, "offset": …}]}`.
pub(crate) async fn alter_offsets(
    State(app): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body = parse_body(&body)?;
    let items: Vec<(Value, Value)> = match body.get("offsets") {
        Some(Value::Array(list)) => list
            .iter()
            .map(|i| (i["partition"].clone(), i["offset"].clone()))
            .collect(),
        None | Some(Value::Null) => vec![],
        Some(_) => {
            return Err(ApiError::bad_request(
                "expected {\"offsets\": [{\"partition\": {...}, \"offset\": {...}}]}",
            ));
        }
    };
    // Kafka Connect refuses an empty list before anything else.
    if items.is_empty() {
        return Err(ApiError::bad_request(
            "Partitions / offsets need to be provided for an alter offsets request",
        ));
    }
    app.worker.alter_offsets(&name, &items).await?;
    Ok(Json(
        json!({"message": "The offsets for this connector have been altered successfully"}),
    ))
}

pub(crate) async fn reset_offsets(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    app.worker.reset_offsets(&name).await?;
    Ok(Json(
        json!({"message": "The offsets for this connector have been reset successfully"}),
    ))
}

/// `GET /connectors/{name}/topics` (KIP-558).
pub(crate) async fn topics(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let topics = app.worker.topics(&name).await?;
    let mut out = Map::new();
    out.insert(name, json!({"topics": topics}));
    Ok(Json(Value::Object(out)))
}

pub(crate) async fn reset_topics(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    app.worker.reset_topics(&name).await?;
    Ok(StatusCode::ACCEPTED)
}
