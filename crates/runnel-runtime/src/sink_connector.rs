//! Sink connectors: Kafka topics → a destination, as Kafka Connect's sink connectors. The one
//! destination so far is the JSON-lines file (`io.runnel.connect.file.FileSinkConnector`,
//! `file` as Kafka Connect's FileStreamSink): the same lines the file sink of a source connector
//! writes, so `PostgreSQL → Kafka → file` gives the file `PostgreSQL → file` gives.
//!
//! Loop: poll a batch → write it and fsync → commit the group's offsets. A crash between the
//! write and the commit repeats that batch (at-least-once, Kafka Connect's contract).

use std::time::Duration;

use runnel_core::config::{
    CONNECT_COMMON_KEYS, CONNECT_COMMON_PREFIXES, ConfigSpec, ConnectorConfig,
};
use runnel_core::encode::EncodedBatch;
use runnel_core::{Error, Result};
use runnel_kafka::consumer::SINK_CONNECTOR_KEYS;
use runnel_kafka::{KafkaSource, PendingOffsets, SinkConnectorConfig};
use runnel_postgres::RunEnd;
use tokio::sync::watch;

use crate::metrics::ConnectorMetrics;
use crate::pipeline::{Prepared, WorkerSettings};
use crate::sink::FileSink;
use std::sync::Arc;

pub const FILE_SINK_CLASS: &str = "io.runnel.connect.file.FileSinkConnector";

const FILE_SINK_KEYS: &[runnel_core::config::ConfigKey] = &[runnel_core::config::ConfigKey::new(
    "file",
    runnel_core::config::ValueType::String,
    "The JSON-lines file the records are appended to.",
)];

pub fn spec() -> ConfigSpec {
    ConfigSpec {
        keys: &[SINK_CONNECTOR_KEYS, FILE_SINK_KEYS, CONNECT_COMMON_KEYS],
        prefixes: &[CONNECT_COMMON_PREFIXES],
    }
}

pub fn is_sink_connector(config: &ConnectorConfig) -> bool {
    matches!(
        config.get("connector.class"),
        Some(FILE_SINK_CLASS) | Some("FileSinkConnector")
    )
}

/// Checks a sink connector's config without touching Kafka.
pub fn validate(config: &ConnectorConfig, worker: &WorkerSettings) -> Result<()> {
    let issues = spec().validate(config);
    if !issues.is_empty() {
        let lines: Vec<String> = issues.iter().map(|i| i.message.clone()).collect();
        return Err(Error::config(lines.join("\n")));
    }
    SinkConnectorConfig::from_connector(config)?;
    if config.get("file").is_none_or(str::is_empty) {
        return Err(Error::config(format!(
            "{FILE_SINK_CLASS} needs \"file\": the JSON-lines file to append to"
        )));
    }
    if worker.bootstrap_servers.is_none()
        && config.get("consumer.override.bootstrap.servers").is_none()
    {
        return Err(Error::config(
            "a sink connector reads Kafka: run with --bootstrap-servers (or set \"consumer.override.bootstrap.servers\")",
        ));
    }
    Ok(())
}

/// Runs the consume → write → commit loop until `shutdown`.
pub async fn run(
    prepared: &Prepared,
    shutdown: watch::Receiver<bool>,
    metrics: &Arc<ConnectorMetrics>,
) -> Result<RunEnd> {
    let config = prepared.config.clone();
    let metrics = metrics.clone();
    let worker = prepared.worker.clone();
    tokio::task::spawn_blocking(move || -> Result<RunEnd> {
        let path = config.get("file").unwrap_or_default().to_string();
        let mut sink = FileSink::open(path.as_ref())?;
        let mut source = KafkaSource::new(&config, worker.bootstrap_servers.as_deref())?;
        let mut batch = EncodedBatch::default();
        let mut pending = PendingOffsets::default();
        loop {
            if *shutdown.borrow() {
                return Ok(RunEnd::Stopped);
            }
            batch.clear();
            source.poll_batch(&mut batch, &mut pending, 4096, Duration::from_millis(200))?;
            if !batch.records.is_empty() {
                metrics.submitted(&batch);
                let started = std::time::Instant::now();
                sink.write(&batch)?;
                metrics.durable(
                    1,
                    batch.records.len() as u64,
                    started.elapsed().as_micros() as u64,
                );
            }
            // Also after a batch of only dead-lettered records: they are handled too.
            source.commit(&mut pending)?;
        }
    })
    .await
    .map_err(|e| Error::internal(format!("sink connector thread failed: {e}")))?
}
