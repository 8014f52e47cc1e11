//! Optional authentication for the API (Kafka Connect leaves it to JAAS extensions; runnel has
//! it built in): a bearer token or HTTP basic credentials. `/health` stays open for probes, and
//! the console's files (no data in them) for the page that asks for the credentials, and a
//! browser's `GET /` for its redirect there.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use crate::error::ApiError;
use crate::{AppState, Auth};

/// The header the console sends with its requests.
const CONSOLE_HEADER: &str = "x-runnel-console";

pub(crate) async fn check(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let Some(auth) = &app.options.auth else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    let to_console = path == "/" && crate::admin::wants_html(request.headers());
    if path == "/health" || to_console || crate::console::is_public(path) {
        return next.run(request).await;
    }
    // The console asks for credentials in its own form: a basic challenge in its requests'
    // answers would open the browser's dialog instead, so it goes under a header of its own.
    let from_console = request.headers().contains_key(CONSOLE_HEADER);
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let ok = match auth {
        Auth::Bearer(token) => given
            .strip_prefix("Bearer ")
            .is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes())),
        Auth::Basic { user, password } => given
            .strip_prefix("Basic ")
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .is_some_and(|d| {
                let expected = format!("{user}:{password}");
                constant_time_eq(&d, expected.as_bytes())
            }),
    };
    if ok {
        return next.run(request).await;
    }
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "This worker requires authentication: send the configured bearer token or basic credentials",
    )
    .into_response();
    let challenge = match auth {
        Auth::Bearer(_) => "Bearer",
        Auth::Basic { .. } => "Basic realm=\"runnel\"",
    };
    let name = if from_console {
        header::HeaderName::from_static("x-runnel-authenticate")
    } else {
        header::WWW_AUTHENTICATE
    };
    if let Ok(v) = challenge.parse() {
        response.headers_mut().insert(name, v);
    }
    response
}

/// Compares secrets without an early exit, so response time does not tell how much matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `--read-only`: only reads are served.
pub(crate) async fn read_only(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if app.options.read_only && request.method() != axum::http::Method::GET {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "This worker is read-only (--read-only): only GET requests are served",
        )
        .into_response();
    }
    next.run(request).await
}
