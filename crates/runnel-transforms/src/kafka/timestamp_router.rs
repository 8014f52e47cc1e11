//! `org.apache.kafka.connect.transforms.TimestampRouter`: the topic becomes `topic.format` with
//! `${topic}` and `${timestamp}` (the record timestamp in `timestamp.format`, UTC) filled in.

use std::sync::Arc;

use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::plugin::TransformPlugin;
use runnel_core::transform::{Transform, TransformContext};
use runnel_core::{Error, Event, Result};

use super::timestamp_converter::DateFormat;
use crate::util::{Opts, record};

const KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "topic.format",
        ValueType::String,
        "The new topic, with ${topic} and ${timestamp}.",
    )
    .default("${topic}-${timestamp}"),
    ConfigKey::new(
        "timestamp.format",
        ValueType::String,
        "SimpleDateFormat pattern of ${timestamp}.",
    )
    .default("yyyyMMdd"),
];

pub fn plugin() -> TransformPlugin {
    TransformPlugin {
        class: "org.apache.kafka.connect.transforms.TimestampRouter",
        aliases: &["TimestampRouter"],
        keys: KEYS,
        build: |c| {
            let o = Opts(c);
            Ok(Box::new(TimestampRouter {
                topic_format: o.string("topic.format", "${topic}-${timestamp}"),
                format: DateFormat::new(&o.string("timestamp.format", "yyyyMMdd"))
                    .map_err(|e| e.with_key("timestamp.format"))?,
                last: None,
            }))
        },
    }
}

struct TimestampRouter {
    topic_format: String,
    format: DateFormat,
    /// The last topic made, by (topic, formatted time): consecutive records mostly share it.
    last: Option<(Arc<str>, String, Arc<str>)>,
}

impl Transform for TimestampRouter {
    fn apply(&mut self, event: &mut Event, cx: &mut TransformContext<'_>) -> Result<bool> {
        let r = record(event, cx)?;
        let Some(ts) = r.timestamp_ms else {
            return Err(Error::conversion(format!(
                "TimestampRouter needs a record timestamp; the record for topic \"{}\" has none",
                r.topic
            )));
        };
        let stamp = self.format.format(ts);
        if let Some((topic, s, out)) = &self.last
            && Arc::ptr_eq(topic, &r.topic)
            && *s == stamp
        {
            r.topic = out.clone();
            return Ok(true);
        }
        let out: Arc<str> = self
            .topic_format
            .replace("${topic}", &r.topic)
            .replace("${timestamp}", &stamp)
            .into();
        self.last = Some((r.topic.clone(), stamp, out.clone()));
        r.topic = out;
        Ok(true)
    }
}
