//! Each connector's recent metrics, sampled by the worker at a fixed interval into a bounded
//! ring (an hour at 5 s: 720 samples of a few dozen bytes, about 40 KB per connector), for the
//! console's charts and `GET /connectors/{name}/history`.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};

use crate::metrics::ConnectorMetrics;

/// How often the worker samples every connector.
pub const INTERVAL: Duration = Duration::from_secs(5);
/// Samples kept per connector: an hour at [`INTERVAL`].
pub const CAPACITY: usize = 720;

/// One sample: rates over the interval before it, gauges at its time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub at_ms: u64,
    /// Records made durable per second since the previous sample.
    pub records_per_s: f64,
    pub ms_behind_source: u64,
    /// How long the sink took to make the last batches durable.
    pub sink_latency_us: u64,
    /// Batches queued between source and sink, as a share of the queue.
    pub queue_fill: f64,
    pub errors: u64,
    pub snapshot_rows: u64,
    /// PostgreSQL: the WAL the connector's replication slot keeps on the server.
    pub retained_wal_bytes: Option<u64>,
}

/// A connector's samples, oldest first, and the counter the next rate is taken from.
#[derive(Debug, Default)]
pub struct History {
    samples: VecDeque<Sample>,
    last: Option<(u64, u64)>,
}

impl History {
    /// Takes a sample of `m` at `now_ms`; the oldest goes when the ring is full.
    pub fn record(&mut self, m: &ConnectorMetrics, now_ms: u64) {
        let durable = m.records_durable.load(Ordering::Relaxed);
        let records_per_s = match self.last {
            Some((at, before)) if now_ms > at => {
                durable.saturating_sub(before) as f64 * 1000.0 / (now_ms - at) as f64
            }
            _ => 0.0,
        };
        self.last = Some((now_ms, durable));
        let capacity = m.queue_capacity.load(Ordering::Relaxed);
        let queued = m.queue_len.load(Ordering::Relaxed);
        let retained_wal_bytes = m
            .source
            .gauges()
            .iter()
            .find(|g| g.name == "slot_retained_wal_bytes")
            .map(|g| g.value as u64);
        if self.samples.len() == CAPACITY {
            self.samples.pop_front();
        }
        self.samples.push_back(Sample {
            at_ms: now_ms,
            records_per_s,
            ms_behind_source: m.millis_behind_source(),
            sink_latency_us: m.sink_latency_us.load(Ordering::Relaxed),
            queue_fill: if capacity == 0 {
                0.0
            } else {
                queued as f64 / capacity as f64
            },
            errors: m.errors.load(Ordering::Relaxed),
            snapshot_rows: m.source.snapshot_rows.load(Ordering::Relaxed),
            retained_wal_bytes,
        });
    }

    pub fn samples(&self) -> impl Iterator<Item = &Sample> {
        self.samples.iter()
    }

    /// The samples as the API returns them: column arrays (compact for a chart to read).
    pub fn to_json(&self) -> Value {
        let column = |f: fn(&Sample) -> Value| -> Value {
            Value::Array(self.samples.iter().map(f).collect())
        };
        json!({
            "interval_ms": INTERVAL.as_millis() as u64,
            "at_ms": column(|s| json!(s.at_ms)),
            "records_per_s": column(|s| json!((s.records_per_s * 10.0).round() / 10.0)),
            "ms_behind_source": column(|s| json!(s.ms_behind_source)),
            "sink_latency_us": column(|s| json!(s.sink_latency_us)),
            "queue_fill": column(|s| json!((s.queue_fill * 1000.0).round() / 1000.0)),
            "errors": column(|s| json!(s.errors)),
            "snapshot_rows": column(|s| json!(s.snapshot_rows)),
            "retained_wal_bytes": column(|s| json!(s.retained_wal_bytes)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_come_from_the_counter_and_the_ring_is_bounded() {
        let m = ConnectorMetrics::default();
        let mut h = History::default();
        h.record(&m, 1_000);
        m.records_durable.store(500, Ordering::Relaxed);
        m.queue_capacity.store(4, Ordering::Relaxed);
        m.queue_len.store(1, Ordering::Relaxed);
        m.source
            .set_gauge("slot_retained_wal_bytes", "retained", 4096.0);
        h.record(&m, 6_000);
        let s: Vec<_> = h.samples().copied().collect();
        assert_eq!(s[0].records_per_s, 0.0);
        assert_eq!(s[1].records_per_s, 100.0);
        assert_eq!(s[1].queue_fill, 0.25);
        assert_eq!(s[1].retained_wal_bytes, Some(4096));
        for i in 0..2 * CAPACITY as u64 {
            h.record(&m, 10_000 + i * 5_000);
        }
        assert_eq!(h.samples().count(), CAPACITY);
        let j = h.to_json();
        assert_eq!(j["at_ms"].as_array().unwrap().len(), CAPACITY);
        assert_eq!(j["retained_wal_bytes"][0], json!(4096));
    }
}
