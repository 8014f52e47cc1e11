//! The console's files, compiled into the binary.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

const INDEX: &str = include_str!("../../console/index.html");
const FILES: &[(&str, &str, &str)] = &[
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/console.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../console/console.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../console/favicon.svg"),
    ),
];

/// Whether `path` is one of the console's files (served without credentials: they hold no
/// data, and the page must load to ask for a token).
pub(crate) fn is_public(path: &str) -> bool {
    path == "/ui"
        || path == "/ui/"
        || path
            .strip_prefix("/ui/")
            .is_some_and(|f| FILES.iter().any(|(name, _, _)| *name == f))
}

fn respond(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // A new binary's page must not be mixed with an old one's script.
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'",
            ),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn index() -> Response {
    respond("text/html; charset=utf-8", INDEX)
}

pub(crate) async fn file(Path(file): Path<String>) -> Response {
    match FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => respond(content_type, body),
        None => ApiError::new(StatusCode::NOT_FOUND, "HTTP 404 Not Found").into_response(),
    }
}
