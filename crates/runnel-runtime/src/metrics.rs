//! Per-connector counters the pipeline bumps and `/metrics` reads. Plain atomics: the sink
//! thread updates them once per batch, never per record, and a scrape reads them without
//! stopping anything.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use runnel_core::{Batch, Event, SourceStats};

#[derive(Debug, Default)]
pub struct ConnectorMetrics {
    /// Events with a value (change events, messages, heartbeats, records read from Kafka;
    /// not tombstones) handed to the sink.
    pub events_written: AtomicU64,
    /// Records (events, tombstones, heartbeats) the sink made durable.
    pub records_durable: AtomicU64,
    pub batches_durable: AtomicU64,
    /// Source commit time of the newest durable record, ms since the epoch.
    pub last_event_ms: AtomicU64,
    /// When the newest record became durable, ms since the epoch.
    pub last_durable_at_ms: AtomicU64,
    /// Time the last settle took to make its batches durable (fsync, Kafka acks), µs.
    pub sink_latency_us: AtomicU64,
    /// Batches waiting between source and sink, and the queue's capacity.
    pub queue_len: AtomicU64,
    pub queue_capacity: AtomicU64,
    pub errors: AtomicU64,
    pub restarts: AtomicU64,
    /// Topics the connector has written to (`GET /connectors/{name}/topics`).
    topics: Mutex<BTreeSet<Arc<str>>>,
    /// What the source reports: snapshot progress, its own gauges (a slot's retained WAL).
    pub source: Arc<SourceStats>,
    /// A watch's warning that does not stop the connector (its slot retains more WAL than
    /// allowed): shown in the status.
    pub warning: Mutex<Option<String>>,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl ConnectorMetrics {
    /// Counts a batch handed to the sink and remembers its topics.
    pub(crate) fn submitted(&self, batch: &Batch) {
        let mut values = 0;
        let mut last: Option<&Arc<str>> = None;
        let mut newest = 0;
        for event in &batch.events {
            let ts_ms = match event {
                Event::Change(c) => c.source.ts_us / 1000,
                Event::Record(r) => r.timestamp_ms.unwrap_or(0),
            };
            newest = newest.max(ts_ms.max(0) as u64);
            values += u64::from(event.has_value());
            let topic = event.topic();
            if last.is_some_and(|t| Arc::ptr_eq(t, topic)) {
                continue;
            }
            last = Some(topic);
            if let Ok(mut topics) = self.topics.lock()
                && !topics.contains(topic)
            {
                topics.insert(topic.clone());
            }
        }
        self.events_written.fetch_add(values, Ordering::Relaxed);
        if newest > 0 {
            self.last_event_ms.fetch_max(newest, Ordering::Relaxed);
        }
    }

    pub(crate) fn durable(&self, batches: usize, records: u64, took_us: u64) {
        if batches == 0 {
            return;
        }
        self.batches_durable
            .fetch_add(batches as u64, Ordering::Relaxed);
        self.records_durable.fetch_add(records, Ordering::Relaxed);
        self.sink_latency_us.store(took_us, Ordering::Relaxed);
        self.last_durable_at_ms.store(now_ms(), Ordering::Relaxed);
    }

    pub fn topics(&self) -> Vec<String> {
        self.topics
            .lock()
            .map(|t| t.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default()
    }

    pub fn warning(&self) -> Option<String> {
        self.warning.lock().ok().and_then(|w| w.clone())
    }

    /// Sets the watch's warning; returns whether it changed.
    pub fn set_warning(&self, warning: Option<String>) -> bool {
        let Ok(mut w) = self.warning.lock() else {
            return false;
        };
        let changed = *w != warning;
        *w = warning;
        changed
    }

    pub fn reset_topics(&self) {
        if let Ok(mut t) = self.topics.lock() {
            t.clear();
        }
    }

    /// How far the sink is behind the source: now minus the commit time of the newest durable
    /// event; 0 before the first event.
    pub fn millis_behind_source(&self) -> u64 {
        match self.last_event_ms.load(Ordering::Relaxed) {
            0 => 0,
            t => now_ms().saturating_sub(t),
        }
    }
}
