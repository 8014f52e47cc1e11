//! Each connector's recent metrics, sampled by the worker at a fixed interval into a bounded
//! ring (an hour at 5 s: 720 samples of 40 bytes, 29 KB per connector, 14 MB for 500), for
//! the console's charts and `GET /connectors/{name}/history`. Samples are packed (seconds,
//! `f32` rates, saturating `u32` gauges): a chart needs no more.

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
    pub at_s: u32,
    /// Records made durable per second since the previous sample.
    pub records_per_s: f32,
    pub ms_behind_source: u32,
    /// How long the sink took to make the last batches durable.
    pub sink_latency_us: u32,
    /// Batches queued between source and sink, per mille of the queue.
    pub queue_permille: u16,
    pub errors: u32,
    pub snapshot_rows: u64,
    /// PostgreSQL: the WAL the connector's replication slot keeps on the server
    /// ([`NONE`]: not a slot's connector).
    pub retained_wal_bytes: u64,
}

/// The retained WAL of a connector without a slot.
pub const NONE: u64 = u64::MAX;

fn saturate(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
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
            .map_or(NONE, |g| g.value as u64);
        if self.samples.len() == CAPACITY {
            self.samples.pop_front();
        } else if self.samples.capacity() == 0 {
            // Exactly the ring's size, not the next power of two.
            self.samples.reserve_exact(CAPACITY);
        }
        self.samples.push_back(Sample {
            at_s: saturate(now_ms / 1000),
            records_per_s: records_per_s as f32,
            ms_behind_source: saturate(m.millis_behind_source()),
            sink_latency_us: saturate(m.sink_latency_us.load(Ordering::Relaxed)),
            queue_permille: (queued.saturating_mul(1000) / capacity.max(1)).min(1000) as u16,
            errors: saturate(m.errors.load(Ordering::Relaxed)),
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
            "at_ms": column(|s| json!(u64::from(s.at_s) * 1000)),
            "records_per_s": column(|s| json!((f64::from(s.records_per_s) * 10.0).round() / 10.0)),
            "ms_behind_source": column(|s| json!(s.ms_behind_source)),
            "sink_latency_us": column(|s| json!(s.sink_latency_us)),
            "queue_fill": column(|s| json!(f64::from(s.queue_permille) / 1000.0)),
            "errors": column(|s| json!(s.errors)),
            "snapshot_rows": column(|s| json!(s.snapshot_rows)),
            "retained_wal_bytes": column(|s| {
                if s.retained_wal_bytes == NONE {
                    Value::Null
                } else {
                    json!(s.retained_wal_bytes)
                }
            }),
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
        assert_eq!(s[1].queue_permille, 250);
        assert_eq!(s[1].retained_wal_bytes, 4096);
        assert_eq!(std::mem::size_of::<Sample>(), 40);
        for i in 0..2 * CAPACITY as u64 {
            h.record(&m, 10_000 + i * 5_000);
        }
        assert_eq!(h.samples().count(), CAPACITY);
        let j = h.to_json();
        assert_eq!(j["at_ms"].as_array().unwrap().len(), CAPACITY);
        assert_eq!(j["retained_wal_bytes"][0], json!(4096));
        assert_eq!(j["queue_fill"][0], json!(0.25));
    }
}
