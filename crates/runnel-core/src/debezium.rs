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

/// The value a non-optional column has where the database sent none (a delete's before-image
/// under REPLICA IDENTITY DEFAULT carries only the key): its default, else its type's zero —
/// what Debezium puts in the struct.
pub fn required_fill(column: &crate::schema::Column) -> Datum {
    use crate::datum::Numeric;
    use crate::schema::Encoding as E;
    if let Some(d) = column.default.as_ref().filter(|d| !d.is_null()) {
        return d.clone();
    }
    match &column.encoding {
        E::Boolean => Datum::Bool(false),
        E::Int8 | E::Int16 | E::Int32 | E::Int64 => Datum::Int(0),
        E::Float32 => Datum::F32(0.0),
        E::Float64 => Datum::F64(0.0),
        E::Decimal { .. } | E::VariableScaleDecimal | E::DecimalDouble => {
            Datum::Numeric(Numeric::Finite(bytes::Bytes::from_static(b"0")))
        }
        E::Date | E::ConnectDate => Datum::Date(0),
        E::MilliTime | E::MicroTime | E::ConnectTime => Datum::Time(0),
        E::MilliTimestamp | E::MicroTimestamp | E::ConnectTimestamp => Datum::Timestamp(0),
        E::ZonedTimestamp { .. } => Datum::TimestampTz(0),
        E::ZonedTime => Datum::TimeTz {
            micros: 0,
            offset_secs: 0,
        },
        E::MicroDuration | E::IntervalString => Datum::Interval {
            months: 0,
            days: 0,
            micros: 0,
        },
        E::Binary(_) => Datum::Bytes(bytes::Bytes::new()),
        E::Bits { length } => Datum::Bits {
            len: *length,
            bits: bytes::Bytes::from(vec![0u8; (*length as usize).div_ceil(8)]),
        },
        E::Point => Datum::Point {
            x: 0.0,
            y: 0.0,
            srid: None,
        },
        E::Geometry => Datum::Geometry {
            srid: None,
            wkb: bytes::Bytes::new(),
        },
        E::Array(_) => Datum::Array(Box::new([])),
        _ => Datum::text(""),
    }
}

/// `row` of `table` with every null in a non-optional column filled ([`required_fill`]): the
/// same range when nothing needs filling, else a copy at the end of `datums`.
pub fn filled_row(
    table: &crate::schema::TableSchema,
    row: &std::ops::Range<u32>,
    datums: &mut Vec<Datum>,
) -> std::ops::Range<u32> {
    let needs = table
        .columns
        .iter()
        .zip(&datums[row.start as usize..row.end as usize])
        .any(|(c, d)| !c.optional && d.is_null());
    if !needs {
        return row.clone();
    }
    let start = datums.len();
    for (i, c) in table.columns.iter().enumerate() {
        let d = &datums[row.start as usize + i];
        let d = if !c.optional && d.is_null() {
            required_fill(c)
        } else {
            d.clone()
        };
        datums.push(d);
    }
    start as u32..datums.len() as u32
}

/// A change event as the Kafka Connect record Debezium would have produced: its key struct and
/// its envelope (`before`, `after`, `source`, `transaction`, `op`, `ts_ms`, `ts_us`, `ts_ns`),
/// with the values in `datums`. For transforms that work on records; the encoders write change
/// events directly.
pub fn envelope_record(
    ev: &crate::event::ChangeEvent,
    envelope: &crate::source::Envelope,
    datums: &mut Vec<Datum>,
    now_ns: i64,
) -> Record {
    use crate::event::Op;
    let table = &ev.table;
    let before = ev.before.as_ref().map(|r| filled_row(table, r, datums));
    let after = ev.after.as_ref().map(|r| filled_row(table, r, datums));
    let key_row = match (ev.op, &after, &before) {
        (Op::Truncate, _, _) => None,
        (Op::Delete, _, Some(b)) => Some(b.clone()),
        (_, Some(a), _) => Some(a.clone()),
        (_, None, b) => b.clone(),
    };
    let key = key_row.and_then(|row| change_key(table, &row, datums));
    let source_start = datums.len() as u32;
    envelope.source.push_values(datums, &ev.source, &table.id);
    let source = Datum::Struct(source_start..datums.len() as u32);
    let row = |r: Option<std::ops::Range<u32>>| r.map_or(Datum::Null, Datum::Struct);
    let fields = [
        row(before),
        row(after),
        source,
        Datum::Null,
        Datum::text(ev.op.code()),
        Datum::Int(now_ns / 1_000_000),
        Datum::Int(now_ns / 1_000),
        Datum::Int(now_ns),
    ];
    let start = datums.len() as u32;
    datums.extend(fields);
    let schema = table.envelope_schema(envelope.source.schema());
    let mut r = Record::new(
        table.topic.clone(),
        key,
        Some(Payload::value(
            schema,
            Datum::Struct(start..datums.len() as u32),
        )),
    );
    // The time a byte sink stamps a change event with: the envelope's `ts_ms`.
    r.timestamp_ms = Some(now_ns / 1_000_000);
    r.source = Some(ev.source);
    r
}

/// The key struct of `table` for `row` (its key columns, copied to the end of `datums`), or
/// `None` for a table without key.
pub fn change_key(
    table: &crate::schema::TableSchema,
    row: &std::ops::Range<u32>,
    datums: &mut Vec<Datum>,
) -> Option<Payload> {
    if table.key.is_empty() {
        return None;
    }
    let start = datums.len();
    for &k in &table.key {
        let d = datums[row.start as usize + k].clone();
        datums.push(d);
    }
    Some(Payload::value(
        table.key_schema(),
        Datum::Struct(start as u32..datums.len() as u32),
    ))
}
