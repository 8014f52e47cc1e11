//! The worker's HTTP API: Kafka Connect's REST paths, status codes and JSON shapes (so curl
//! scripts, Kafka Connect UIs and operators work unchanged), plus `/metrics` (Prometheus),
//! `/health` and the web console under `/ui/`.

mod admin;
mod auth;
mod connectors;
mod console;
mod error;
mod metrics;
mod plugins;
pub mod tls;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::ServiceExt;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post, put};
use runnel_runtime::Worker;
use tokio::net::TcpListener;
use tower_http::normalize_path::NormalizePath;

pub use admin::LogControl;
pub use error::ApiError;

/// How the API checks callers.
#[derive(Clone)]
pub enum Auth {
    Bearer(String),
    Basic { user: String, password: String },
}

#[derive(Clone)]
pub struct ServerOptions {
    pub auth: Option<Auth>,
    /// Serve only GET requests.
    pub read_only: bool,
    pub logs: Arc<dyn LogControl>,
    /// The worker's Kafka cluster, for the console's topic browser (none without Kafka).
    pub topics: Option<Arc<dyn TopicBrowser>>,
}

/// What the console's topic browser reads (the Kafka client lives in its own crate, behind
/// its feature): JSON as `/ui/api/topics…` answers it, or a message saying what failed.
pub trait TopicBrowser: Send + Sync {
    /// `[{"name", "partitions": [{"partition", "low", "high"}], "messages"}]`.
    fn topics(&self) -> runnel_core::plugin::BoxFuture<Result<serde_json::Value, String>>;
    /// `{"messages": [{"partition", "offset", "timestamp", "key", "value", "headers"}]}`.
    fn messages(
        &self,
        query: TopicQuery,
    ) -> runnel_core::plugin::BoxFuture<Result<serde_json::Value, String>>;
}

/// A page of one topic's messages: a partition or all, from an offset or the newest, those
/// whose key contains a text.
#[derive(Debug, Clone, Default)]
pub struct TopicQuery {
    pub topic: String,
    pub partition: Option<i32>,
    pub offset: Option<i64>,
    pub limit: usize,
    pub key: Option<String>,
}

#[derive(Clone)]
pub(crate) struct AppState {
    worker: Arc<Worker>,
    options: Arc<ServerOptions>,
}

/// The API's routes over `worker`.
pub fn router(worker: Arc<Worker>, options: ServerOptions) -> Router {
    let state = AppState {
        worker,
        options: Arc::new(options),
    };
    let c = "/connectors/{name}";
    Router::new()
        .route("/", get(admin::root))
        .route("/health", get(admin::health))
        .route("/metrics", get(metrics::render))
        .route(
            "/connectors",
            get(connectors::list).post(connectors::create),
        )
        .route(c, get(connectors::info).delete(connectors::delete))
        .route(
            &format!("{c}/config"),
            get(connectors::get_config)
                .put(connectors::put_config)
                .patch(connectors::patch_config),
        )
        .route(&format!("{c}/status"), get(connectors::status))
        .route(&format!("{c}/history"), get(connectors::history))
        .route(&format!("{c}/tasks"), get(connectors::tasks))
        .route(
            &format!("{c}/tasks/{{task}}/status"),
            get(connectors::task_status),
        )
        .route(
            &format!("{c}/tasks/{{task}}/restart"),
            post(connectors::restart_task),
        )
        .route(&format!("{c}/pause"), put(connectors::pause))
        .route(&format!("{c}/resume"), put(connectors::resume))
        .route(&format!("{c}/stop"), put(connectors::stop))
        .route(&format!("{c}/restart"), post(connectors::restart))
        .route(
            &format!("{c}/offsets"),
            get(connectors::offsets)
                .patch(connectors::alter_offsets)
                .delete(connectors::reset_offsets),
        )
        .route(&format!("{c}/topics"), get(connectors::topics))
        .route(&format!("{c}/topics/reset"), put(connectors::reset_topics))
        .route("/connector-plugins", get(plugins::list))
        .route(
            "/connector-plugins/{plugin}/config",
            get(plugins::config_defs),
        )
        .route(
            "/connector-plugins/{plugin}/config/validate",
            put(plugins::validate),
        )
        .route("/admin/loggers", get(admin::loggers))
        .route(
            "/admin/loggers/{logger}",
            get(admin::logger).put(admin::set_logger),
        )
        .merge(console::routes())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "HTTP 404 Not Found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "HTTP 405 Method Not Allowed",
            )
        })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::read_only,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), auth::check))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` completes; over TLS when `tls` is given.
/// A trailing slash is ignored (`/connectors/` is `/connectors`), as Kafka Connect's Jersey
/// does: clients check a connector's existence with either.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = NormalizePath::trim_trailing_slash(router);
    let Some(tls) = tls else {
        return axum::serve(listener, ServiceExt::<Request>::into_make_service(app))
            .with_graceful_shutdown(shutdown)
            .await;
    };
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    axum_server::from_tcp_rustls(listener.into_std()?, tls)?
        .handle(handle)
        .serve(ServiceExt::<Request>::into_make_service(app))
        .await
}
