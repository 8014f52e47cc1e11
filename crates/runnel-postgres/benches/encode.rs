//! JSON encoding of PostgreSQL change envelopes, the sink's hot path: a batch of 2,048 order
//! rows (15 columns: integers, a date, numeric, text, timestamptz), with and without schemas.

use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use runnel_core::encode::EncodedBatch;
use runnel_core::encode::json::{JsonEncoder, JsonOptions};
use runnel_core::{
    Batch, ChangeEvent, Column, Datum, Encoding, Envelope, Event, EventSource, Op, SnapshotMarker,
    TableId, TableSchema,
};
use runnel_postgres::PgSourceBlock;

const ROWS: usize = 2048;

fn orders() -> Arc<TableSchema> {
    let col = |name: &str, encoding: Encoding, optional: bool| Column {
        type_name: "t".into(),
        ..Column::new(name, encoding, optional)
    };
    let columns = vec![
        col("order_id", Encoding::Int64, false),
        col("customer_id", Encoding::Int64, false),
        col("employee_id", Encoding::Int32, true),
        col("order_date", Encoding::Date, false),
        col("required_date", Encoding::Date, true),
        col("shipped_date", Encoding::Date, true),
        col("ship_via", Encoding::Int32, true),
        col(
            "freight",
            Encoding::Decimal {
                scale: 2,
                precision: Some(10),
            },
            true,
        ),
        col("ship_name", Encoding::String, true),
        col("ship_address", Encoding::String, true),
        col("ship_city", Encoding::String, true),
        col("ship_country", Encoding::String, true),
        col("status", Encoding::String, false),
        col(
            "created_at",
            Encoding::ZonedTimestamp { fraction: 0 },
            false,
        ),
        col("updated_at", Encoding::ZonedTimestamp { fraction: 0 }, true),
    ];
    Arc::new(TableSchema::new(
        TableId::new("public", "orders"),
        "rig.public.orders".into(),
        "rig.public.orders".into(),
        columns,
        vec![0],
        0,
    ))
}

fn batch(table: &Arc<TableSchema>) -> Batch {
    let mut b = Batch::with_capacity(ROWS, ROWS * 15);
    for i in 0..ROWS as i64 {
        let after = b.push_row([
            Datum::Int(100_000 + i),
            Datum::Int(1 + i % 10_000),
            Datum::Int(1 + i % 9),
            Datum::Date(19_723 + i % 365),
            Datum::Date(19_737 + i % 365),
            if i % 3 == 0 {
                Datum::Date(19_727)
            } else {
                Datum::Null
            },
            Datum::Int(1 + i % 3),
            Datum::numeric("1234.56"),
            Datum::text("Ship to 123456"),
            Datum::text("123456 Main Street"),
            Datum::text("Berlin"),
            Datum::text("Germany"),
            Datum::text("new"),
            Datum::TimestampTz(1_718_000_000_000_000 + i),
            Datum::Null,
        ]);
        b.events.push(Event::Change(ChangeEvent {
            table: table.clone(),
            op: Op::Create,
            before: None,
            after: Some(after),
            source: EventSource {
                ts_us: 1_718_000_000_000_000,
                snapshot: SnapshotMarker::False,
                coords: [
                    Some(0x1_0000_0000 + i as u64),
                    Some(0x1_0000_0000),
                    Some(1234),
                ],
            },
        }));
    }
    b
}

fn encoder(schemas: bool) -> JsonEncoder {
    JsonEncoder::new(
        JsonOptions::schemas(schemas),
        Some(Envelope {
            source: Arc::new(PgSourceBlock::new("rig", "rig")),
            unavailable_placeholder: Bytes::from_static(b"__debezium_unavailable_value"),
        }),
    )
}

fn encode(c: &mut Criterion) {
    let table = orders();
    let batch = batch(&table);
    let mut group = c.benchmark_group("json_envelope");
    group.throughput(Throughput::Elements(ROWS as u64));
    for schemas in [false, true] {
        let enc = encoder(schemas);
        let mut out = EncodedBatch::default();
        let name = if schemas { "schemas_on" } else { "schemas_off" };
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                enc.encode(&batch, &mut out).unwrap();
                out.buf.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
