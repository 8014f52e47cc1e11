//! The registry entry: `sink.type=delta` (the direct sink of a source connector, keys as
//! `sink.delta.<key>`, `sink.delta.uri` the table root) and
//! `io.runnel.connect.delta.DeltaSinkConnector` (a sink connector reading Kafka topics).

use runnel_core::config::issues_error;
use runnel_core::plugin::SinkPlugin;

use crate::config::{self, DELTA_CLASS, DeltaConfig};
use crate::sink::DeltaSink;

pub fn plugin() -> SinkPlugin {
    SinkPlugin {
        sink_type: "delta",
        class: Some(DELTA_CLASS),
        aliases: &["DeltaSinkConnector"],
        groups: config::GROUPS,
        direct_aliases: &[("uri", "delta.uri")],
        open_keys: false,
        build: |sink| {
            let cfg = DeltaConfig::parse(sink).map_err(|i| issues_error(&i))?;
            Ok(Box::new(DeltaSink::new(cfg)?))
        },
        validate: |sink| DeltaConfig::parse(sink).err().unwrap_or_default(),
        check: Some(|sink, scope| Box::pin(crate::check::check(sink, scope))),
    }
}
