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
        // Text values are slices of the message they came in, as the pgoutput decoder makes them.
        let message =
            Bytes::copy_from_slice(b"Ship to 123456123456 Main StreetBerlinGermanynew1234.56");
        let text = |range: std::ops::Range<usize>| Datum::Text(message.slice(range));
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
            Datum::Numeric(runnel_core::Numeric::Finite(message.slice(48..55))),
            text(0..14),
            text(14..32),
            text(32..38),
            text(38..45),
            text(45..48),
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
                    None,
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

/// The seeds' chain (unwrap, route, add a field) on the same batch, then the encoding: what a
/// transformed pipeline costs over the untransformed `encode`.
fn chain(c: &mut Criterion) {
    use runnel_core::config::ConnectorConfig;
    use runnel_core::{Chain, Stage};
    let table = orders();
    let stage = |alias: &str, props: &[(&str, &str)]| {
        let config = ConnectorConfig {
            name: alias.into(),
            props: props
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let class = props[0].1;
        let plugin = runnel_transforms::transforms()
            .into_iter()
            .find(|t| t.class == class)
            .expect("a transform of this build");
        Stage {
            alias: alias.into(),
            class: class.into(),
            transform: (plugin.build)(&config).unwrap(),
            predicate: None,
            negate: false,
        }
    };
    let chain = || {
        Chain::new(vec![
            stage(
                "unwrap",
                &[("type", "io.debezium.transforms.ExtractNewRecordState")],
            ),
            stage(
                "route",
                &[
                    ("type", "org.apache.kafka.connect.transforms.RegexRouter"),
                    ("regex", "rig\\.public\\.(.*)"),
                    ("replacement", "cdc_$1"),
                ],
            ),
            stage(
                "insert",
                &[
                    (
                        "type",
                        "org.apache.kafka.connect.transforms.InsertField$Value",
                    ),
                    ("static.field", "pipeline"),
                    ("static.value", "bench"),
                    ("topic.field", "routed_topic"),
                ],
            ),
        ])
    };
    let mut group = c.benchmark_group("json_chain");
    group.throughput(Throughput::Elements(ROWS as u64));
    let enc = encoder(false);
    let envelope = Envelope {
        source: Arc::new(PgSourceBlock::new("rig", "rig")),
        unavailable_placeholder: Bytes::from_static(b"__debezium_unavailable_value"),
    };
    let mut out = EncodedBatch::default();
    let mut chain = chain();
    group.bench_function("unwrap_route_insert_schemas_off", |b| {
        b.iter_batched(
            || batch(&table),
            |mut batch| {
                chain
                    .apply(&mut batch, Some(&envelope), |f| Err(f.error))
                    .unwrap();
                out.clear();
                enc.encode(&batch, &mut out).unwrap();
                out.buf.len()
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.bench_function("untransformed_schemas_off", |b| {
        b.iter_batched(
            || batch(&table),
            |batch| {
                out.clear();
                enc.encode(&batch, &mut out).unwrap();
                out.buf.len()
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, encode, chain);
criterion_main!(benches);
