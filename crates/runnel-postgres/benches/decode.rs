//! The source's hot path: decoding pgoutput Insert messages of an order row (15 columns in
//! text format) and converting each column's text into a typed value.

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use runnel_postgres::source::pgoutput::{self, Message, TupleValue};
use runnel_postgres::source::types::{self, Parser};

const MESSAGES: usize = 2048;

/// An order row as PostgreSQL's text output writes it, with each column's parser.
fn columns(i: usize) -> Vec<(Option<String>, Parser)> {
    vec![
        (Some(format!("{}", 100_000 + i)), Parser::Int),
        (Some(format!("{}", 1 + i % 10_000)), Parser::Int),
        (Some(format!("{}", 1 + i % 9)), Parser::Int),
        (Some("2024-03-17".into()), Parser::Date),
        (Some("2024-03-31".into()), Parser::Date),
        (None, Parser::Date),
        (Some("2".into()), Parser::Int),
        (Some("1234.56".into()), Parser::Numeric),
        (Some("Ship to 123456".into()), Parser::Text),
        (Some("123456 Main Street".into()), Parser::Text),
        (Some("Berlin".into()), Parser::Text),
        (Some("Germany".into()), Parser::Text),
        (Some("new".into()), Parser::Text),
        (
            Some("2024-06-10 12:34:56.123456+00".into()),
            Parser::TimestampTz,
        ),
        (None, Parser::TimestampTz),
    ]
}

/// pgoutput v1 `Insert`: 'I', relation oid, 'N', TupleData.
fn insert_message(i: usize) -> Bytes {
    let cols = columns(i);
    let mut m = BytesMut::with_capacity(256);
    m.put_u8(b'I');
    m.put_u32(16_384);
    m.put_u8(b'N');
    m.put_u16(cols.len() as u16);
    for (value, _) in &cols {
        match value {
            None => m.put_u8(b'n'),
            Some(v) => {
                m.put_u8(b't');
                m.put_u32(v.len() as u32);
                m.put_slice(v.as_bytes());
            }
        }
    }
    m.freeze()
}

fn decode(c: &mut Criterion) {
    let messages: Vec<Bytes> = (0..MESSAGES).map(insert_message).collect();
    let parsers: Vec<Parser> = columns(0).into_iter().map(|(_, p)| p).collect();
    let mut group = c.benchmark_group("pgoutput");
    group.throughput(Throughput::Elements(MESSAGES as u64));
    group.bench_function("decode_insert", |b| {
        b.iter(|| {
            let mut n = 0;
            for m in &messages {
                if let Message::Insert { new, .. } = pgoutput::decode(m.clone()).unwrap() {
                    n += new.len();
                }
            }
            n
        })
    });
    group.bench_function("decode_and_convert", |b| {
        b.iter(|| {
            let mut n = 0;
            for m in &messages {
                let Message::Insert { new, .. } = pgoutput::decode(m.clone()).unwrap() else {
                    continue;
                };
                for (value, parser) in new.into_iter().zip(&parsers) {
                    if let TupleValue::Text(raw) = value {
                        types::parse(parser, raw).unwrap();
                        n += 1;
                    }
                }
            }
            n
        })
    });
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
