//! Records Debezium defines for every connector, built as typed records: heartbeats
//! (`__debezium-heartbeat.<topic.prefix>`), which let an idle or filtered source still move its
//! position downstream.

use std::sync::{Arc, OnceLock};

use crate::datum::Datum;
use crate::event::{Batch, Event, Payload, Record};
use crate::schema::{Column, Encoding, Schema};

fn heartbeat_schemas() -> &'static (Arc<Schema>, Arc<Schema>) {
    static SCHEMAS: OnceLock<(Arc<Schema>, Arc<Schema>)> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let key = Schema::structure(
            "io.debezium.connector.common.ServerNameKey",
            vec![Column::new("serverName", Encoding::String, false)],
            false,
        );
        let value = Schema::structure(
            "io.debezium.connector.common.Heartbeat",
            vec![Column::new("ts_ms", Encoding::Int64, false)],
            false,
        );
        (Arc::new(key), Arc::new(value))
    })
}

/// Appends Debezium's heartbeat record: key `{serverName}`, value `{ts_ms}`.
pub fn push_heartbeat(batch: &mut Batch, topic: &Arc<str>, server_name: &str, ts_ms: i64) {
    let (key_schema, value_schema) = heartbeat_schemas();
    let key = batch.push_row([Datum::text(server_name)]);
    let value = batch.push_row([Datum::Int(ts_ms)]);
    let mut record = Record::new(
        topic.clone(),
        Some(Payload::value(key_schema, Datum::Struct(key))),
        Some(Payload::value(value_schema, Datum::Struct(value))),
    );
    record.timestamp_ms = Some(ts_ms);
    batch.events.push(Event::Record(record));
}
