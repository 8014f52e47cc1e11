//! The transform seam: Kafka Connect's single message transforms and predicates over typed
//! events, and the chain that applies them in order (`transforms=a,b`).
//!
//! A transform sees one event at a time, in order, rewrites it in place and says whether to
//! keep it (later stages never see a dropped event; a transform that fails leaves the event as
//! it found it, for the error handling to report). New values (a rewritten row, an added field) go
//! at the end of the batch's value vector, whose earlier ranges stay valid. A transform builds
//! what it derives from a schema once per schema (keyed by the `Arc`), so the work per event is
//! moving values, not rebuilding schemas. A stage with a predicate runs only for the events the
//! predicate accepts (or rejects, with `negate`); the others pass it unchanged. A change event a
//! transform needs as a Kafka Connect record is turned into its Debezium envelope
//! ([`crate::debezium::envelope_record`]) with the source's [`Envelope`].

use std::sync::Arc;

use crate::datum::Datum;
use crate::error::Result;
use crate::event::{Batch, Event};
use crate::source::Envelope;

/// What a transform works with besides the event.
pub struct TransformContext<'a> {
    /// The batch's values: struct and map fields, rows.
    pub datums: &'a mut Vec<Datum>,
    /// How the source envelopes its change events (`None` for records read from Kafka).
    pub envelope: Option<&'a Envelope>,
    /// The batch's undecoded bytes (headers read from Kafka).
    pub bytes: &'a [u8],
    /// When the chain started on this batch (nanoseconds since the epoch): the envelope time of
    /// the batch's change events, read once per batch as the encoder does.
    pub now_ns: i64,
}

pub trait Transform: Send {
    /// Rewrites `event`; `Ok(false)` drops it.
    fn apply(&mut self, event: &mut Event, cx: &mut TransformContext<'_>) -> Result<bool>;
}

pub trait Predicate: Send + Sync {
    fn test(&self, event: &Event, datums: &[Datum]) -> bool;
}

/// One `transforms.<alias>` entry.
pub struct Stage {
    pub alias: String,
    /// The transform's class as configured (error messages name it).
    pub class: String,
    pub transform: Box<dyn Transform>,
    pub predicate: Option<Arc<dyn Predicate>>,
    pub negate: bool,
}

/// What a transform failing on one event tells the error handling: which stage, on what.
#[derive(Debug)]
pub struct TransformFailure {
    pub alias: String,
    pub class: String,
    pub error: crate::error::Error,
    /// The event as it reached the failing stage.
    pub event: Event,
    /// Its key as JSON (without schema), for the message.
    pub key: Option<String>,
    /// The event as it entered the chain (when the chain keeps originals: for a dead letter
    /// queue, which gets the record as it was read).
    pub original: Option<Event>,
}

/// An event's key as JSON without schema (for messages about it): a record's key, or the key
/// columns of a change event's row.
pub fn key_json(event: &Event, datums: &mut Vec<Datum>, bytes: &[u8]) -> Option<String> {
    use crate::encode::json::{JsonEncoder, JsonOptions};
    let encoder = JsonEncoder::new(JsonOptions::schemas(false), None);
    let mark = datums.len();
    let key = match event {
        Event::Record(r) => r.key.clone(),
        Event::Change(c) => {
            let row = c.after.as_ref().or(c.before.as_ref())?;
            crate::debezium::change_key(&c.table, row, datums)
        }
    };
    let json = key.and_then(|k| encoder.encode_payload(datums, bytes, &k, false, false).ok());
    datums.truncate(mark);
    json.map(|j| String::from_utf8_lossy(&j).into_owned())
}

/// The configured transforms of a connector, in order.
#[derive(Default)]
pub struct Chain {
    stages: Vec<Stage>,
    keep_originals: bool,
}

impl Chain {
    pub fn new(stages: Vec<Stage>) -> Self {
        Self {
            stages,
            keep_originals: false,
        }
    }

    /// Hands failures the event as it entered the chain (a copy per event: only for a dead
    /// letter queue).
    pub fn keep_originals(&mut self, keep: bool) {
        self.keep_originals = keep;
    }

    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// Applies every stage to every event of `batch`, in place. An event a stage fails on is
    /// handed to `failed` (which decides: skip it, dead-letter it, or stop with the error).
    pub fn apply(
        &mut self,
        batch: &mut Batch,
        envelope: Option<&Envelope>,
        mut failed: impl FnMut(TransformFailure) -> Result<()>,
    ) -> Result<()> {
        if self.stages.is_empty() {
            return Ok(());
        }
        // Transforms append rows (an unwrapped row with added fields, a rebuilt key): room for
        // them up front, instead of the vector doubling (and copying) mid-batch.
        batch.datums.reserve(batch.datums.len());
        let events = std::mem::take(&mut batch.events);
        let mut kept = Vec::with_capacity(events.len());
        let now_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        let mut cx = TransformContext {
            datums: &mut batch.datums,
            envelope,
            bytes: &batch.bytes,
            now_ns,
        };
        'events: for mut event in events {
            let original = self.keep_originals.then(|| event.clone());
            for stage in &mut self.stages {
                let runs = stage
                    .predicate
                    .as_ref()
                    .is_none_or(|p| p.test(&event, cx.datums) != stage.negate);
                if !runs {
                    continue;
                }
                match stage.transform.apply(&mut event, &mut cx) {
                    Ok(true) => {}
                    Ok(false) => continue 'events,
                    Err(error) => {
                        let key = key_json(&event, cx.datums, cx.bytes);
                        failed(TransformFailure {
                            alias: stage.alias.clone(),
                            class: stage.class.clone(),
                            error,
                            event,
                            key,
                            original,
                        })?;
                        continue 'events;
                    }
                }
            }
            kept.push(event);
        }
        batch.events = kept;
        Ok(())
    }
}
