//! Each connector's recent metrics, sampled by the worker at a fixed interval, for the console's
//! charts and `GET /connectors/{name}/history`: an hour at 5 s (720 samples).
//!
//! Kept compact, because a worker runs hundreds of connectors and most of them are quiet most of
//! the time: samples are encoded as they come, each field as its difference from what the last
//! sample predicts (the next tick; the same rate; "behind source" growing with the clock while
//! nothing arrives), only the fields that differ written (a bit mask, then zigzag varints), and
//! a run of unchanged samples is one counter. An idle connector's hour takes a few dozen bytes,
//! a busy one's a few KB (measured in the tests below), instead of 720 × 40 bytes.
//! Samples live in blocks of [`BLOCK`], each decodable on its own, so the oldest five minutes
//! are dropped by dropping one block.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};

use crate::metrics::ConnectorMetrics;

/// How often the worker samples every connector.
pub const INTERVAL: Duration = Duration::from_secs(5);
/// Samples shown per connector: an hour at [`INTERVAL`].
pub const CAPACITY: usize = 720;
/// Samples per encoded block (five minutes).
const BLOCK: usize = 60;
/// Full blocks kept besides the one being written: at least [`CAPACITY`] samples in all.
const SEALED: usize = CAPACITY / BLOCK;

/// One sample: rates over the interval before it, gauges at its time.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sample {
    pub at_s: u64,
    /// Records made durable per second since the previous sample, in tenths.
    pub records_per_s_tenths: u64,
    pub ms_behind_source: u64,
    /// How long the sink took to make the last batches durable.
    pub sink_latency_us: u64,
    /// Batches queued between source and sink, per mille of the queue.
    pub queue_permille: u64,
    pub errors: u64,
    pub snapshot_rows: u64,
    /// PostgreSQL: the WAL the connector's replication slot keeps on the server
    /// ([`NONE`]: not a slot's connector).
    pub retained_wal_bytes: u64,
}

/// The retained WAL of a connector without a slot.
pub const NONE: u64 = u64::MAX;

const FIELDS: usize = 8;

impl Sample {
    pub fn records_per_s(&self) -> f64 {
        self.records_per_s_tenths as f64 / 10.0
    }

    fn fields(&self) -> [u64; FIELDS] {
        [
            self.at_s,
            self.records_per_s_tenths,
            self.ms_behind_source,
            self.sink_latency_us,
            self.queue_permille,
            self.errors,
            self.snapshot_rows,
            self.retained_wal_bytes,
        ]
    }

    fn from_fields(f: [u64; FIELDS]) -> Self {
        Self {
            at_s: f[0],
            records_per_s_tenths: f[1],
            ms_behind_source: f[2],
            sink_latency_us: f[3],
            queue_permille: f[4],
            errors: f[5],
            snapshot_rows: f[6],
            retained_wal_bytes: f[7],
        }
    }
}

/// What field `k` of the next sample is expected to be, given the fields before it in the
/// same sample (`next[..k]`) and the previous sample (`None` at a block's start: zeros).
fn predicted(prev: Option<&[u64; FIELDS]>, next: &[u64; FIELDS], k: usize) -> u64 {
    let Some(p) = prev else { return 0 };
    match k {
        0 => p[0].wrapping_add(INTERVAL.as_secs()),
        // Nothing arrived: the newest event is older by the time that passed.
        2 if next[1] == 0 => p[2].saturating_add(next[0].saturating_sub(p[0]).saturating_mul(1000)),
        _ => p[k],
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// A block's samples, encoded: per sample a mask of the fields that differ from their
/// prediction and their zigzag varint differences; mask 0 is followed by a run length.
#[derive(Debug, Default)]
struct Block {
    bytes: Vec<u8>,
    len: usize,
    /// Where the last zero-run's counter is, while it can still grow.
    run_at: Option<usize>,
    prev: Option<[u64; FIELDS]>,
}

impl Block {
    fn push(&mut self, s: &Sample) {
        let next = s.fields();
        let mut mask = 0u8;
        let mut diffs = [0u64; FIELDS];
        for k in 0..FIELDS {
            let d = next[k].wrapping_sub(predicted(self.prev.as_ref(), &next, k)) as i64;
            if d != 0 {
                mask |= 1 << k;
                diffs[k] = zigzag(d);
            }
        }
        self.len += 1;
        self.prev = Some(next);
        if mask == 0 {
            match self.run_at {
                Some(at) if self.bytes[at] < u8::MAX => self.bytes[at] += 1,
                _ => {
                    self.bytes.extend([0, 1]);
                    self.run_at = Some(self.bytes.len() - 1);
                }
            }
            return;
        }
        self.run_at = None;
        self.bytes.push(mask);
        for (k, d) in diffs.iter().enumerate() {
            if mask & (1 << k) != 0 {
                put_varint(&mut self.bytes, *d);
            }
        }
    }
}

/// A block's samples, oldest first (an encoding error ends them: it cannot happen to bytes
/// `Block::push` wrote).
fn decode(bytes: &[u8], out: &mut impl FnMut(Sample)) {
    let mut pos = 0;
    let mut prev: Option<[u64; FIELDS]> = None;
    while pos < bytes.len() {
        let mask = bytes[pos];
        pos += 1;
        let repeat = if mask == 0 {
            let Some(&n) = bytes.get(pos) else { return };
            pos += 1;
            n
        } else {
            1
        };
        for _ in 0..repeat {
            let mut next = [0u64; FIELDS];
            for k in 0..FIELDS {
                let d = if mask & (1 << k) != 0 {
                    let Some(v) = get_varint(bytes, &mut pos) else {
                        return;
                    };
                    unzigzag(v)
                } else {
                    0
                };
                next[k] = predicted(prev.as_ref(), &next, k).wrapping_add(d as u64);
            }
            out(Sample::from_fields(next));
            prev = Some(next);
        }
    }
}

fn saturate_u64(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        v as u64
    } else {
        0
    }
}

/// A connector's samples and the counter the next rate is taken from.
#[derive(Debug, Default)]
pub struct History {
    sealed: VecDeque<Box<[u8]>>,
    current: Block,
    last_counter: Option<(u64, u64)>,
}

impl History {
    /// Takes a sample of `m` at `now_ms`; the oldest block goes when an hour is kept besides.
    pub fn record(&mut self, m: &ConnectorMetrics, now_ms: u64) {
        let durable = m.records_durable.load(Ordering::Relaxed);
        let rate = match self.last_counter {
            Some((at, before)) if now_ms > at => {
                durable.saturating_sub(before) as f64 * 1000.0 / (now_ms - at) as f64
            }
            _ => 0.0,
        };
        self.last_counter = Some((now_ms, durable));
        let capacity = m.queue_capacity.load(Ordering::Relaxed);
        let queued = m.queue_len.load(Ordering::Relaxed);
        let retained_wal_bytes = m
            .source
            .gauges()
            .iter()
            .find(|g| g.name == "slot_retained_wal_bytes")
            .map_or(NONE, |g| saturate_u64(g.value));
        let sample = Sample {
            at_s: now_ms / 1000,
            records_per_s_tenths: saturate_u64((rate * 10.0).round()),
            ms_behind_source: m.millis_behind_source(),
            sink_latency_us: m.sink_latency_us.load(Ordering::Relaxed),
            queue_permille: (queued.saturating_mul(1000) / capacity.max(1)).min(1000),
            errors: m.errors.load(Ordering::Relaxed),
            snapshot_rows: m.source.snapshot_rows.load(Ordering::Relaxed),
            retained_wal_bytes,
        };
        self.push(sample);
    }

    fn push(&mut self, sample: Sample) {
        if self.current.len == BLOCK {
            let mut full = std::mem::take(&mut self.current).bytes;
            full.shrink_to_fit();
            self.sealed.push_back(full.into_boxed_slice());
            if self.sealed.len() > SEALED {
                self.sealed.pop_front();
            }
        }
        self.current.push(&sample);
    }

    /// The newest sample.
    pub fn last(&self) -> Option<Sample> {
        // A full block is sealed only when the next sample arrives: the block being written
        // always holds the newest.
        self.current.prev.map(Sample::from_fields)
    }

    /// The last hour's samples, oldest first.
    pub fn samples(&self) -> Vec<Sample> {
        let mut all = Vec::with_capacity(self.sealed.len() * BLOCK + self.current.len);
        let mut push = |s| all.push(s);
        for bytes in &self.sealed {
            decode(bytes, &mut push);
        }
        decode(&self.current.bytes, &mut push);
        let extra = all.len().saturating_sub(CAPACITY);
        all.drain(..extra);
        all
    }

    /// Heap bytes the history holds (the encoded blocks).
    pub fn heap_bytes(&self) -> usize {
        self.sealed.iter().map(|b| b.len()).sum::<usize>()
            + self.sealed.capacity() * std::mem::size_of::<Box<[u8]>>()
            + self.current.bytes.capacity()
    }

    /// The samples as the API returns them: column arrays (compact for a chart to read).
    pub fn to_json(&self) -> Value {
        let samples = self.samples();
        let column =
            |f: fn(&Sample) -> Value| -> Value { Value::Array(samples.iter().map(f).collect()) };
        json!({
            "interval_ms": INTERVAL.as_millis() as u64,
            "at_ms": column(|s| json!(s.at_s * 1000)),
            "records_per_s": column(|s| json!(s.records_per_s())),
            "ms_behind_source": column(|s| json!(s.ms_behind_source)),
            "sink_latency_us": column(|s| json!(s.sink_latency_us)),
            "queue_fill": column(|s| json!(s.queue_permille as f64 / 1000.0)),
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
    fn rates_come_from_the_counter_and_an_hour_is_kept() {
        let m = ConnectorMetrics::default();
        let mut h = History::default();
        h.record(&m, 1_000);
        m.records_durable.store(500, Ordering::Relaxed);
        m.queue_capacity.store(4, Ordering::Relaxed);
        m.queue_len.store(1, Ordering::Relaxed);
        m.source
            .set_gauge("slot_retained_wal_bytes", "retained", 4096.0);
        h.record(&m, 6_000);
        let s = h.samples();
        assert_eq!(s[0].records_per_s(), 0.0);
        assert_eq!(s[0].retained_wal_bytes, NONE);
        assert_eq!(s[1].records_per_s(), 100.0);
        assert_eq!(s[1].queue_permille, 250);
        assert_eq!(s[1].retained_wal_bytes, 4096);
        assert_eq!(h.last(), Some(s[1]));
        for i in 0..2 * CAPACITY as u64 {
            h.record(&m, 10_000 + i * 5_000);
        }
        assert_eq!(h.samples().len(), CAPACITY);
        let j = h.to_json();
        assert_eq!(j["at_ms"].as_array().unwrap().len(), CAPACITY);
        assert_eq!(j["retained_wal_bytes"][0], json!(4096));
        assert_eq!(j["queue_fill"][0], json!(0.25));
        assert_eq!(
            j["at_ms"][CAPACITY - 1],
            json!((10_000 + (2 * CAPACITY as u64 - 1) * 5_000) / 1000 * 1000)
        );
    }

    /// Pseudo-random but repeatable figures for a busy connector.
    fn busy_sample(i: u64, at_s: u64) -> Sample {
        let x = i
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407)
            >> 33;
        Sample {
            at_s,
            records_per_s_tenths: 40_000 + x % 20_000,
            ms_behind_source: 50 + x % 400,
            sink_latency_us: 2_000 + x % 9_000,
            queue_permille: x % 300,
            errors: i / 500,
            snapshot_rows: 1_000_000,
            retained_wal_bytes: 8_000_000 + (x % 1_000) * 4096,
        }
    }

    #[test]
    fn every_sample_round_trips_and_the_hour_is_small() {
        // Busy: every field moves every sample.
        let mut busy = History::default();
        let mut want = Vec::new();
        for i in 0..CAPACITY as u64 * 2 {
            let s = busy_sample(i, 1_700_000_000 + i * 5 + u64::from(i % 97 == 0));
            busy.push(s);
            want.push(s);
        }
        assert_eq!(busy.samples(), want[want.len() - CAPACITY..]);
        // Idle: nothing arrives, "behind source" grows with the clock.
        let mut idle = History::default();
        let mut want = Vec::new();
        for i in 0..CAPACITY as u64 * 2 {
            let s = Sample {
                at_s: 1_700_000_000 + i * 5,
                ms_behind_source: 90_000 + i * 5_000,
                snapshot_rows: 12_345,
                retained_wal_bytes: NONE,
                ..Sample::default()
            };
            idle.push(s);
            want.push(s);
        }
        assert_eq!(idle.samples(), want[want.len() - CAPACITY..]);
        let (b, i) = (busy.heap_bytes(), idle.heap_bytes());
        println!("an hour of history: busy connector {b} bytes, idle connector {i} bytes");
        assert!(b < 12_000, "busy hour {b} bytes");
        assert!(i < 600, "idle hour {i} bytes");
    }

    #[test]
    fn extreme_values_round_trip() {
        let mut h = History::default();
        let values = [0, 1, u64::MAX, u64::MAX - 1, 1 << 63, 42];
        let mut want = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let s = Sample::from_fields([i as u64 * 7, *v, *v, 0, *v, 1, *v, *v]);
            h.push(s);
            want.push(s);
        }
        assert_eq!(h.samples(), want);
    }
}
