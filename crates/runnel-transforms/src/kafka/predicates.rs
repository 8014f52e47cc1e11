//! Kafka Connect's predicates: `TopicNameMatches`, `HasHeaderKey`, `RecordIsTombstone`.

use std::sync::Arc;

use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::plugin::PredicatePlugin;
use runnel_core::transform::Predicate;
use runnel_core::{Datum, Event, Payload};

use crate::util::Opts;

const PATTERN: &[ConfigKey] = &[ConfigKey::new(
    "pattern",
    ValueType::String,
    "Regular expression the whole topic must match.",
)
.required()];
const NAME: &[ConfigKey] =
    &[ConfigKey::new("name", ValueType::String, "The header name.").required()];

pub fn plugins() -> Vec<PredicatePlugin> {
    vec![
        PredicatePlugin {
            class: "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            aliases: &["TopicNameMatches"],
            keys: PATTERN,
            build: |c| Ok(Arc::new(TopicNameMatches(Opts(c).regex("pattern", true)?))),
        },
        PredicatePlugin {
            class: "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
            aliases: &["HasHeaderKey"],
            keys: NAME,
            build: |c| Ok(Arc::new(HasHeaderKey(Opts(c).required("name")?))),
        },
        PredicatePlugin {
            class: "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
            aliases: &["RecordIsTombstone"],
            keys: &[],
            build: |_| Ok(Arc::new(RecordIsTombstone)),
        },
    ]
}

struct TopicNameMatches(regex::Regex);

impl Predicate for TopicNameMatches {
    fn test(&self, event: &Event, _: &[Datum]) -> bool {
        self.0.is_match(event.topic())
    }
}

struct HasHeaderKey(String);

impl Predicate for HasHeaderKey {
    fn test(&self, event: &Event, _: &[Datum]) -> bool {
        match event {
            Event::Record(r) => r.headers.iter().any(|h| *h.key == *self.0),
            Event::Change(_) => false,
        }
    }
}

/// A record whose value is null — a tombstone, or a null value with a schema (what
/// `ExtractNewRecordState` makes of a delete): Kafka Connect tests `record.value() == null`.
struct RecordIsTombstone;

impl Predicate for RecordIsTombstone {
    fn test(&self, event: &Event, _: &[Datum]) -> bool {
        match event {
            Event::Record(r) => matches!(
                r.value,
                None | Some(Payload::Value {
                    datum: Datum::Null,
                    ..
                })
            ),
            Event::Change(_) => false,
        }
    }
}
