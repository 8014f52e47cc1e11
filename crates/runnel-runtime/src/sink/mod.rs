//! Sinks of the standalone pipeline. The pipeline `submit`s batches in source order and then
//! `settle`s: settle reports how many of the submitted batches, oldest first, are now durable,
//! and only their offsets may be committed. Submitting does not wait for durability, so a sink
//! can have many batches in flight (Kafka) or make several durable at once (one fsync).

mod file;
mod stdout;

pub use file::FileSink;
pub use stdout::StdoutSink;

use std::time::Duration;

use runnel_core::config::ConnectorConfig;
use runnel_core::encode::EncodedBatch;
use runnel_core::{Error, Result};

use crate::pipeline::WorkerSettings;

/// A destination for encoded records.
pub enum Sink {
    Stdout(StdoutSink),
    File(FileSink),
    #[cfg(feature = "kafka")]
    Kafka(Box<runnel_kafka::KafkaSink>),
}

impl Sink {
    /// Builds the sink named by `sink.type` with its `sink.<type>.*` keys. Without `sink.type`
    /// it is Kafka when the worker has a Kafka cluster (as Kafka Connect), else stdout.
    pub fn from_config(config: &ConnectorConfig, worker: &WorkerSettings) -> Result<Self> {
        let default = if worker.bootstrap_servers.is_some() {
            "kafka"
        } else {
            "stdout"
        };
        let kind = config
            .get("sink.type")
            .unwrap_or(default)
            .trim()
            .to_ascii_lowercase();
        let allowed: &[&str] = match kind.as_str() {
            "stdout" => &[],
            "file" => &["sink.file.path"],
            #[cfg(feature = "kafka")]
            "kafka" => &[],
            other => {
                return Err(Error::config(format!(
                    "unknown sink.type \"{other}\": expected {}",
                    if cfg!(feature = "kafka") {
                        "stdout, file or kafka"
                    } else {
                        "stdout or file (this build has no Kafka support)"
                    }
                )));
            }
        };
        for (key, _) in config.with_prefix("sink.") {
            let full = format!("sink.{key}");
            // Any sink.kafka.* key is a Kafka client property; librdkafka judges it.
            if kind == "kafka" && full.starts_with("sink.kafka.") {
                continue;
            }
            if full != "sink.type" && !allowed.contains(&full.as_str()) {
                let hint = allowed
                    .iter()
                    .map(|a| (runnel_core::config::edit_distance(&full, a), a))
                    .min()
                    .filter(|(d, _)| *d <= 3)
                    .map(|(_, a)| format!(": did you mean \"{a}\"?"))
                    .unwrap_or_else(|| format!(" for sink.type={kind}"));
                return Err(Error::config(format!(
                    "unknown config key \"{full}\"{hint}"
                )));
            }
        }
        Ok(match kind.as_str() {
            "file" => {
                let path = config.get("sink.file.path").ok_or_else(|| {
                    Error::config(
                        "sink.type=file needs \"sink.file.path\": the JSON-lines file to append to",
                    )
                })?;
                Sink::File(FileSink::open(path.as_ref())?)
            }
            #[cfg(feature = "kafka")]
            "kafka" => Sink::Kafka(Box::new(runnel_kafka::KafkaSink::new(
                config,
                worker.bootstrap_servers.as_deref(),
            )?)),
            _ => Sink::Stdout(StdoutSink::new()),
        })
    }

    /// Hands `batch` to the destination; it is not durable yet. May block while the sink's
    /// own buffers are full (back-pressure).
    pub fn submit(&mut self, batch: &EncodedBatch) -> Result<()> {
        match self {
            Sink::Stdout(s) => s.submit(batch),
            Sink::File(s) => s.submit(batch),
            #[cfg(feature = "kafka")]
            Sink::Kafka(s) => s.submit(batch),
        }
    }

    /// Waits at most `wait` for progress, then returns how many submitted batches, in submit
    /// order, became durable since the last call. An error means some batch will never be
    /// durable: the connector must restart from its last committed offset.
    pub fn settle(&mut self, wait: Duration) -> Result<usize> {
        #[cfg(not(feature = "kafka"))]
        let _ = wait;
        match self {
            Sink::Stdout(s) => s.settle(),
            Sink::File(s) => s.settle(),
            #[cfg(feature = "kafka")]
            Sink::Kafka(s) => s.settle(wait),
        }
    }
}

/// Bytes a file or stdout sink buffers before writing: a batch streams through this much memory
/// instead of being copied whole (2,048 records with schemas are several megabytes).
pub(crate) const WRITE_BUFFER: usize = 256 * 1024;

/// One JSON line per record: `{"topic": …, "key": …, "value": …}` (key and value as JSON).
pub(crate) fn write_lines(
    batch: &EncodedBatch,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    // The topic's JSON is escaped once per run of records of the same table, not per record.
    let mut last: Option<(&std::sync::Arc<str>, String)> = None;
    for r in &batch.records {
        if !last
            .as_ref()
            .is_some_and(|(t, _)| std::sync::Arc::ptr_eq(t, &r.topic))
        {
            let json = serde_json::to_string(&*r.topic).unwrap_or_else(|_| "\"\"".into());
            last = Some((&r.topic, json));
        }
        let topic = last.as_ref().map_or("\"\"", |(_, json)| json.as_str());
        out.write_all(b"{\"topic\":")?;
        out.write_all(topic.as_bytes())?;
        out.write_all(b",\"key\":")?;
        out.write_all(batch.key(r).unwrap_or(b"null"))?;
        out.write_all(b",\"value\":")?;
        out.write_all(batch.value(r).unwrap_or(b"null"))?;
        out.write_all(b"}\n")?;
    }
    Ok(())
}
