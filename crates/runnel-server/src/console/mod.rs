//! The web console under `/ui/`: one page of the worker's own (HTML, JS and CSS embedded in the
//! binary — no CDN, no build step, works offline) over the REST API, plus a few read-only
//! endpoints under `/ui/api/` that gather what a page shows in one request (the overview of 500
//! connectors is one lock and one response, not 1,000 calls).
//!
//! The page's files carry no data and are served without credentials, so that the page can ask
//! for them; everything under `/ui/api/` and the REST API stays behind the worker's auth and
//! `--read-only`.

mod api;
mod assets;
mod secrets;

use axum::Router;
use axum::routing::get;

use crate::AppState;

pub(crate) use assets::is_public;

/// The console's routes (merged into the API's router).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui", get(assets::index))
        .route("/ui/{file}", get(assets::file))
        .route("/ui/api/overview", get(api::overview))
        .route("/ui/api/stream", get(api::stream))
        .route("/ui/api/connectors/{name}", get(api::connector))
        .route("/ui/api/connectors/{name}/check", get(api::check))
        .route("/ui/api/databases", get(api::databases))
        .route("/ui/api/topics", get(api::topics))
        .route("/ui/api/topics/{topic}/messages", get(api::messages))
}
