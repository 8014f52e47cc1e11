//! `/metrics` in Prometheus' text format, built from the connectors' counters at scrape time.

use std::sync::atomic::Ordering::Relaxed;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::AppState;

type Labels = Vec<(String, String)>;
type GaugeFamily = Family<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>;

pub(crate) async fn render(State(app): State<AppState>) -> Response {
    let connectors = app.worker.metrics().await;
    let mut registry = Registry::with_prefix("runnel_connector");
    let counter = |registry: &mut Registry, name: &str, help: &str| {
        let f = Family::<Labels, Counter>::default();
        registry.register(name, help, f.clone());
        f
    };
    let gauge = |registry: &mut Registry, name: &str, help: &str| {
        let f = GaugeFamily::default();
        registry.register(name, help, f.clone());
        f
    };
    let events = counter(
        &mut registry,
        "events_written",
        "Change events handed to the sink",
    );
    let records = counter(
        &mut registry,
        "records_durable",
        "Records the sink made durable",
    );
    let batches = counter(
        &mut registry,
        "batches_durable",
        "Batches the sink made durable",
    );
    let errors = counter(
        &mut registry,
        "errors",
        "Errors that stopped or restarted the connector",
    );
    let restarts = counter(
        &mut registry,
        "restarts",
        "Automatic restarts after transient errors",
    );
    let behind = gauge(
        &mut registry,
        "milliseconds_behind_source",
        "Now minus the source commit time of the newest event",
    );
    let last_event = gauge(
        &mut registry,
        "last_event_timestamp_seconds",
        "Source commit time of the newest event",
    );
    let latency = gauge(
        &mut registry,
        "sink_latency_seconds",
        "Time the sink took to make the last group of batches durable",
    );
    let queue = gauge(
        &mut registry,
        "queue_batches",
        "Batches waiting between source and sink",
    );
    let capacity = gauge(
        &mut registry,
        "queue_capacity_batches",
        "Capacity of the queue between source and sink",
    );
    let state = gauge(&mut registry, "state", "1 for the connector's task state");
    let snap_running = gauge(
        &mut registry,
        "snapshot_running",
        "1 while the initial snapshot runs",
    );
    let snap_tables = gauge(
        &mut registry,
        "snapshot_tables_total",
        "Tables in the running or last snapshot",
    );
    let snap_done = gauge(
        &mut registry,
        "snapshot_tables_done",
        "Tables of the snapshot fully read",
    );
    let snap_rows = gauge(
        &mut registry,
        "snapshot_rows",
        "Rows read by the running or last snapshot",
    );
    let skipped = counter(
        &mut registry,
        "skipped_events",
        "Events skipped under event.processing.failure.handling.mode warn or skip",
    );
    // The sources' own gauges (PostgreSQL: its slot's retained WAL), one family per name.
    let mut source_gauges: Vec<(&'static str, GaugeFamily)> = Vec::new();
    for (name, kind, task_state, m) in connectors {
        let kind = kind.map_or("unknown", |k| k.as_str());
        let l: Labels = vec![("connector".into(), name), ("type".into(), kind.into())];
        events
            .get_or_create(&l)
            .inc_by(m.events_written.load(Relaxed));
        records
            .get_or_create(&l)
            .inc_by(m.records_durable.load(Relaxed));
        batches
            .get_or_create(&l)
            .inc_by(m.batches_durable.load(Relaxed));
        errors.get_or_create(&l).inc_by(m.errors.load(Relaxed));
        restarts.get_or_create(&l).inc_by(m.restarts.load(Relaxed));
        behind
            .get_or_create(&l)
            .set(m.millis_behind_source() as f64);
        last_event
            .get_or_create(&l)
            .set(m.last_event_ms.load(Relaxed) as f64 / 1000.0);
        latency
            .get_or_create(&l)
            .set(m.sink_latency_us.load(Relaxed) as f64 / 1e6);
        queue
            .get_or_create(&l)
            .set(m.queue_len.load(Relaxed) as f64);
        capacity
            .get_or_create(&l)
            .set(m.queue_capacity.load(Relaxed) as f64);
        let src = &m.source;
        snap_running
            .get_or_create(&l)
            .set(f64::from(u8::from(src.snapshot_running.load(Relaxed))));
        snap_tables
            .get_or_create(&l)
            .set(src.snapshot_tables_total.load(Relaxed) as f64);
        snap_done
            .get_or_create(&l)
            .set(src.snapshot_tables_done.load(Relaxed) as f64);
        snap_rows
            .get_or_create(&l)
            .set(src.snapshot_rows.load(Relaxed) as f64);
        skipped
            .get_or_create(&l)
            .inc_by(src.skipped_events.load(Relaxed));
        for g in src.gauges() {
            let family = match source_gauges.iter().find(|(n, _)| *n == g.name) {
                Some((_, f)) => f.clone(),
                None => {
                    let f = gauge(&mut registry, g.name, g.help);
                    source_gauges.push((g.name, f.clone()));
                    f
                }
            };
            family.get_or_create(&l).set(g.value);
        }
        let mut with_state = l.clone();
        with_state.push(("state".into(), task_state.as_str().to_string()));
        state.get_or_create(&with_state).set(1.0);
    }
    let mut text = String::new();
    if let Err(e) = encode(&mut text, &registry) {
        return crate::error::ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding metrics: {e}"),
        )
        .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
