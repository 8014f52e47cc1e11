//! `org.apache.kafka.connect.transforms.RegexRouter`: a topic the regex matches whole becomes
//! `replacement` (Java's `$1` group syntax). A change event keeps its envelope: its table is
//! given the new topic (once per table).

use std::collections::HashMap;
use std::sync::Arc;

use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::plugin::TransformPlugin;
use runnel_core::transform::{Transform, TransformContext};
use runnel_core::{Event, Result, TableSchema};

use crate::util::{Cache, Opts, java_replacement};

const KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "regex",
        ValueType::String,
        "Regular expression the whole topic must match.",
    )
    .required(),
    ConfigKey::new(
        "replacement",
        ValueType::String,
        "Replacement string ($1, ${name} refer to groups).",
    )
    .required(),
];

pub fn plugin() -> TransformPlugin {
    TransformPlugin {
        class: "org.apache.kafka.connect.transforms.RegexRouter",
        aliases: &["RegexRouter"],
        keys: KEYS,
        build: |c| {
            let o = Opts(c);
            Ok(Box::new(TopicRewrite::new(
                o.regex("regex", true)?,
                java_replacement(&o.required("replacement")?),
            )))
        },
    }
}

/// Rewrites topics by a regex, remembering each topic's answer (and each table's new schema).
pub struct TopicRewrite {
    regex: regex::Regex,
    replacement: String,
    topics: HashMap<Arc<str>, Option<Arc<str>>>,
    last: Option<(Arc<str>, Option<Arc<str>>)>,
    tables: Cache<TableSchema, Arc<TableSchema>>,
}

/// Topics remembered before the memory is cleared (topics are usually few).
const TOPICS: usize = 10_000;

impl TopicRewrite {
    pub fn new(regex: regex::Regex, replacement: String) -> Self {
        Self {
            regex,
            replacement,
            topics: HashMap::new(),
            last: None,
            tables: Cache::default(),
        }
    }

    /// The new topic of `topic`, if the regex matches it.
    pub fn route(&mut self, topic: &Arc<str>) -> Option<Arc<str>> {
        // Consecutive records mostly share a topic (a table's rows come in runs).
        if let Some((last, routed)) = &self.last
            && Arc::ptr_eq(last, topic)
        {
            return routed.clone();
        }
        let routed = self.lookup(topic);
        self.last = Some((topic.clone(), routed.clone()));
        routed
    }

    fn lookup(&mut self, topic: &Arc<str>) -> Option<Arc<str>> {
        if let Some(t) = self.topics.get(topic) {
            return t.clone();
        }
        let routed = self
            .regex
            .is_match(topic)
            .then(|| Arc::from(&*self.regex.replace(topic, self.replacement.as_str())));
        if self.topics.len() >= TOPICS {
            self.topics.clear();
        }
        self.topics.insert(topic.clone(), routed.clone());
        routed
    }
}

impl Transform for TopicRewrite {
    fn apply(&mut self, event: &mut Event, _cx: &mut TransformContext<'_>) -> Result<bool> {
        let Some(topic) = self.route(event.topic()) else {
            return Ok(true);
        };
        match event {
            Event::Record(r) => r.topic = topic,
            Event::Change(c) => {
                let table = c.table.clone();
                c.table = self
                    .tables
                    .get_or(&table, || Ok(Arc::new(retopic(&table, topic))))?
                    .clone();
            }
        }
        Ok(true)
    }
}

/// `table` publishing to `topic`.
pub fn retopic(table: &TableSchema, topic: Arc<str>) -> TableSchema {
    TableSchema::new(
        table.id.clone(),
        topic,
        table.schema_name.clone(),
        table.columns.clone(),
        table.key.clone(),
        table.version,
    )
}
