//! The registry entries: `sink.type=s3` (Confluent's and Lenses' S3 sink connector classes as
//! Kafka Connect sink connectors) and `sink.type=files` (a local directory, the same code path).

use runnel_core::config::issues_error;
use runnel_core::plugin::SinkPlugin;

use crate::config::{self, CONFLUENT_CLASS, LENSES_CLASS, ObjectSinkConfig};
use crate::sink::ObjectSink;

pub fn plugin() -> SinkPlugin {
    SinkPlugin {
        sink_type: "s3",
        class: Some(CONFLUENT_CLASS),
        aliases: &[LENSES_CLASS],
        groups: config::GROUPS,
        direct_aliases: &[
            ("bucket", "s3.bucket.name"),
            ("region", "s3.region"),
            ("endpoint", "store.url"),
            ("kcql", "connect.s3.kcql"),
        ],
        open_keys: false,
        build: |sink| {
            let cfg = ObjectSinkConfig::parse(sink, false).map_err(|i| issues_error(&i))?;
            Ok(Box::new(ObjectSink::new(cfg)?))
        },
        validate: |sink| {
            ObjectSinkConfig::parse(sink, false)
                .err()
                .unwrap_or_default()
        },
        check: Some(|sink, scope| Box::pin(crate::check::check(sink, scope, false))),
    }
}

/// `sink.type=files`: objects in a local directory (`sink.files.path`), one subdirectory per
/// bucket.
pub fn files_plugin() -> SinkPlugin {
    SinkPlugin {
        sink_type: "files",
        class: None,
        aliases: &[],
        groups: config::GROUPS,
        direct_aliases: &[],
        open_keys: false,
        build: |sink| {
            let cfg = ObjectSinkConfig::parse(sink, true).map_err(|i| issues_error(&i))?;
            Ok(Box::new(ObjectSink::new(cfg)?))
        },
        validate: |sink| {
            ObjectSinkConfig::parse(sink, true)
                .err()
                .unwrap_or_default()
        },
        check: Some(|sink, scope| Box::pin(crate::check::check(sink, scope, true))),
    }
}
