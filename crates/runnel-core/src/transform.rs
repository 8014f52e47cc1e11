//! The transform seam: Kafka Connect's single message transforms and predicates over typed
//! events, and the chain that applies them in order (`transforms=a,b`).
//!
//! A transform sees one event at a time, in order, and returns it rewritten, or `None` to drop
//! it (later stages never see a dropped event). New values (a rewritten row, an added field) go
//! at the end of the batch's value vector, whose earlier ranges stay valid. A transform builds
//! what it derives from a schema once per schema (keyed by the `Arc`), so the work per event is
//! moving values, not rebuilding schemas. A stage with a predicate runs only for the events the
//! predicate accepts (or rejects, with `negate`); the others pass it unchanged.

use std::sync::Arc;

use crate::datum::Datum;
use crate::error::Result;
use crate::event::{Batch, Event};

pub trait Transform: Send {
    fn apply(&mut self, event: Event, datums: &mut Vec<Datum>) -> Result<Option<Event>>;
}

pub trait Predicate: Send + Sync {
    fn test(&self, event: &Event, datums: &[Datum]) -> bool;
}

/// One `transforms.<alias>` entry.
pub struct Stage {
    pub alias: String,
    pub transform: Box<dyn Transform>,
    pub predicate: Option<Arc<dyn Predicate>>,
    pub negate: bool,
}

/// The configured transforms of a connector, in order.
#[derive(Default)]
pub struct Chain {
    stages: Vec<Stage>,
}

impl Chain {
    pub fn new(stages: Vec<Stage>) -> Self {
        Self { stages }
    }

    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// Applies every stage to every event of `batch`, in place.
    pub fn apply(&mut self, batch: &mut Batch) -> Result<()> {
        if self.stages.is_empty() {
            return Ok(());
        }
        let events = std::mem::take(&mut batch.events);
        let mut kept = Vec::with_capacity(events.len());
        'events: for event in events {
            let mut event = event;
            for stage in &mut self.stages {
                let runs = stage
                    .predicate
                    .as_ref()
                    .is_none_or(|p| p.test(&event, &batch.datums) != stage.negate);
                if !runs {
                    continue;
                }
                match stage
                    .transform
                    .apply(event, &mut batch.datums)
                    .map_err(|e| e.context(format!("transform \"{}\"", stage.alias)))?
                {
                    Some(next) => event = next,
                    None => continue 'events,
                }
            }
            kept.push(event);
        }
        batch.events = kept;
        Ok(())
    }
}
