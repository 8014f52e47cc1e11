//! `GET /`, `/health` and `/admin/loggers`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult, parse_body};

/// What `/admin/loggers` changes: the process's log filter.
pub trait LogControl: Send + Sync {
    /// Every logger with an explicit level, `root` first, levels as Kafka Connect writes them
    /// (`INFO`, `DEBUG`, …).
    fn levels(&self) -> Vec<(String, String)>;
    /// Sets one logger's level; returns the loggers changed.
    fn set(&self, logger: &str, level: &str) -> Result<Vec<String>, String>;
}

/// Whether a request comes from a browser navigating (it accepts HTML).
pub(crate) fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// `GET /`: Kafka Connect's version JSON; a browser (`Accept: text/html`) is sent to the
/// console instead.
pub(crate) async fn root(headers: HeaderMap) -> Response {
    if wants_html(&headers) {
        return Redirect::to("/ui/").into_response();
    }
    Json(json!({
        "version": runnel_core::VERSION,
        "commit": option_env!("RUNNEL_GIT_COMMIT").unwrap_or("unknown"),
        "kafka_cluster_id": null,
    }))
    .into_response()
}

/// KIP-1017's health check.
pub(crate) async fn health() -> Json<Value> {
    Json(json!({
        "status": "healthy",
        "message": "Worker has completed startup and is ready to handle requests."
    }))
}

pub(crate) async fn loggers(State(app): State<AppState>) -> Json<Value> {
    let mut out = Map::new();
    for (name, level) in app.options.logs.levels() {
        out.insert(name, json!({"level": level}));
    }
    Json(Value::Object(out))
}

pub(crate) async fn logger(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    app.options
        .logs
        .levels()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, level)| Json(json!({"level": level})))
        .ok_or_else(|| ApiError::not_found(format!("Logger {name} not found.")))
}

pub(crate) async fn set_logger(
    State(app): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body = parse_body(&body)?;
    let level = body["level"].as_str().ok_or_else(|| {
        ApiError::bad_request("Desired 'level' parameter was not specified in request.")
    })?;
    let changed = app
        .options
        .logs
        .set(&name, level)
        .map_err(ApiError::bad_request)?;
    Ok(Json(json!(changed)))
}
