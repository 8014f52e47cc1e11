//! Kafka Connect's `JsonConverter` output for Debezium envelopes, written straight into a byte
//! buffer. With `schemas.enable=true` each key/value is `{"schema": …, "payload": …}`; the schema
//! part of a table is built once per table version and copied, never rebuilt per record.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::writer as w;
use super::{EncodedBatch, Record};
use crate::datum::{Datum, NEG_INFINITY, Numeric, POS_INFINITY};
use crate::decimal;
use crate::error::{Error, Result};
use crate::event::{Batch, ChangeEvent, Event, Op, SourcePosition};
use crate::schema::{BinaryMode, Column, Encoding, TableSchema};
use crate::temporal;

/// The per-connector constants of Debezium's `source` block.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    /// `postgresql`, `mysql`, …
    pub connector: &'static str,
    pub version: Arc<str>,
    /// `topic.prefix`.
    pub name: Arc<str>,
    pub db: Arc<str>,
}

/// What a connector's converters and Debezium options ask for.
#[derive(Debug, Clone)]
pub struct JsonOptions {
    pub key_schemas: bool,
    pub value_schemas: bool,
    pub tombstones_on_delete: bool,
    /// `unavailable.value.placeholder`.
    pub placeholder: Bytes,
    pub source: SourceInfo,
    /// `__debezium-heartbeat.<topic.prefix>` by default.
    pub heartbeat_topic: Arc<str>,
    /// `<topic.prefix>.message` for logical decoding messages.
    pub message_topic: Arc<str>,
}

/// Encodes batches as Kafka Connect JSON.
#[derive(Debug, Clone)]
pub struct JsonEncoder {
    opts: JsonOptions,
    source_schema: Arc<str>,
    /// `{"version":…,"connector":…,"name":…,"ts_ms":`: the constant start of every source block.
    source_prefix: Arc<[u8]>,
}

/// What is the same for every event of one table, written once and cached in
/// [`TableSchema::json_cache`]: the schema JSON, each column's `"name":` token and the source
/// block's `"schema"`/`"table"` fields (escaping them per row was a tenth of the snapshot's
/// instructions).
struct CachedSchemas {
    key: Vec<u8>,
    envelope: Vec<u8>,
    /// `"column":` for each column, concatenated; `column_keys_at[i]` is where column i's ends.
    column_keys: Vec<u8>,
    column_keys_at: Vec<usize>,
    /// `,"schema":"…","table":"…"`.
    source_table: Vec<u8>,
}

impl CachedSchemas {
    fn column_key(&self, i: usize) -> &[u8] {
        let start = if i == 0 {
            0
        } else {
            self.column_keys_at[i - 1]
        };
        &self.column_keys[start..self.column_keys_at[i]]
    }
}

impl JsonEncoder {
    pub fn new(opts: JsonOptions) -> Self {
        let source_schema = postgres_source_schema().into();
        let mut prefix = Vec::new();
        prefix.extend_from_slice(b"{\"version\":");
        w::str(&mut prefix, &opts.source.version);
        prefix.extend_from_slice(b",\"connector\":");
        w::str(&mut prefix, opts.source.connector);
        prefix.extend_from_slice(b",\"name\":");
        w::str(&mut prefix, &opts.source.name);
        prefix.extend_from_slice(b",\"ts_ms\":");
        Self {
            opts,
            source_schema,
            source_prefix: prefix.into(),
        }
    }

    pub fn options(&self) -> &JsonOptions {
        &self.opts
    }

    /// Appends every record of `batch` to `out`.
    pub fn encode(&self, batch: &Batch, out: &mut EncodedBatch) -> Result<()> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        for event in &batch.events {
            match event {
                Event::Change(ev) => {
                    out.changes += 1;
                    self.encode_change(batch, ev, now, out)?;
                }
                Event::Message {
                    prefix,
                    content,
                    transactional,
                    source,
                } => self.encode_message(prefix, content, *transactional, source, now, out),
                Event::Heartbeat { ts_ms } => self.encode_heartbeat(*ts_ms, out),
            }
        }
        if batch.offset.is_some() {
            out.offset = batch.offset.clone();
        }
        Ok(())
    }

    fn schemas<'a>(&self, table: &'a TableSchema) -> &'a CachedSchemas {
        let any = table.json_cache.get_or_init(|| {
            let mut column_keys = Vec::new();
            let mut column_keys_at = Vec::with_capacity(table.columns.len());
            for c in &table.columns {
                w::key(&mut column_keys, &c.name);
                column_keys_at.push(column_keys.len());
            }
            let mut source_table = b",\"schema\":".to_vec();
            w::str(&mut source_table, &table.id.schema);
            source_table.extend_from_slice(b",\"table\":");
            w::str(&mut source_table, &table.id.table);
            Arc::new(CachedSchemas {
                key: key_schema(table),
                envelope: envelope_schema(table, &self.source_schema),
                column_keys,
                column_keys_at,
                source_table,
            })
        });
        any.downcast_ref::<CachedSchemas>()
            .expect("json_cache holds only CachedSchemas")
    }

    fn encode_change(
        &self,
        batch: &Batch,
        ev: &ChangeEvent,
        now_ns: i64,
        out: &mut EncodedBatch,
    ) -> Result<()> {
        let table = &*ev.table;
        let buf = &mut out.buf;
        let ts_ms = now_ns / 1_000_000;

        // Key: the key columns of the row the event is about.
        let key = if ev.op == Op::Truncate || table.key.is_empty() {
            None
        } else {
            let row = match (ev.op, &ev.after, &ev.before) {
                (Op::Delete, _, Some(before)) => batch.row(before),
                (_, Some(after), _) => batch.row(after),
                (_, None, Some(before)) => batch.row(before),
                _ => return Err(Error::internal("change event without a row")),
            };
            let start = buf.len();
            let cached = self.schemas(table);
            let schemas = self.opts.key_schemas.then_some(cached);
            if let Some(s) = schemas {
                buf.extend_from_slice(b"{\"schema\":");
                buf.extend_from_slice(&s.key);
                buf.extend_from_slice(b",\"payload\":");
            }
            buf.push(b'{');
            for (i, &c) in table.key.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                let column = &table.columns[c];
                buf.extend_from_slice(cached.column_key(c));
                self.write_datum(buf, column, &column.encoding, &row[c])?;
            }
            buf.push(b'}');
            if schemas.is_some() {
                buf.push(b'}');
            }
            Some(start..buf.len())
        };

        let start = buf.len();
        let cached = self.schemas(table);
        let schemas = self.opts.value_schemas.then_some(cached);
        if let Some(s) = schemas {
            buf.extend_from_slice(b"{\"schema\":");
            buf.extend_from_slice(&s.envelope);
            buf.extend_from_slice(b",\"payload\":");
        }
        buf.extend_from_slice(b"{\"before\":");
        self.write_row(buf, table, cached, ev.before.as_ref().map(|r| batch.row(r)))?;
        buf.extend_from_slice(b",\"after\":");
        self.write_row(buf, table, cached, ev.after.as_ref().map(|r| batch.row(r)))?;
        buf.extend_from_slice(b",\"source\":");
        self.write_source(buf, &ev.source, &cached.source_table);
        buf.extend_from_slice(b",\"transaction\":null,\"op\":\"");
        buf.extend_from_slice(ev.op.code().as_bytes());
        buf.extend_from_slice(b"\",\"ts_ms\":");
        w::int(buf, ts_ms);
        buf.extend_from_slice(b",\"ts_us\":");
        w::int(buf, now_ns / 1000);
        buf.extend_from_slice(b",\"ts_ns\":");
        w::int(buf, now_ns);
        buf.push(b'}');
        if schemas.is_some() {
            buf.push(b'}');
        }
        let value = start..buf.len();
        out.records.push(Record {
            topic: table.topic.clone(),
            key: key.clone(),
            value: Some(value),
            timestamp_ms: ts_ms,
        });
        if ev.op == Op::Delete && self.opts.tombstones_on_delete && key.is_some() {
            out.records.push(Record {
                topic: table.topic.clone(),
                key,
                value: None,
                timestamp_ms: ts_ms,
            });
        }
        Ok(())
    }

    fn write_row(
        &self,
        buf: &mut Vec<u8>,
        table: &TableSchema,
        cached: &CachedSchemas,
        row: Option<&[Datum]>,
    ) -> Result<()> {
        let Some(row) = row else {
            buf.extend_from_slice(b"null");
            return Ok(());
        };
        buf.push(b'{');
        for (i, (column, datum)) in table.columns.iter().zip(row).enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            buf.extend_from_slice(cached.column_key(i));
            self.write_datum(buf, column, &column.encoding, datum)?;
        }
        buf.push(b'}');
        Ok(())
    }

    /// `source_table` is `,"schema":…,"table":…` (cached per table).
    fn write_source(&self, buf: &mut Vec<u8>, pos: &SourcePosition, source_table: &[u8]) {
        let s = &self.opts.source;
        buf.extend_from_slice(&self.source_prefix);
        w::int(buf, pos.ts_us.div_euclid(1000));
        buf.extend_from_slice(b",\"snapshot\":\"");
        buf.extend_from_slice(pos.snapshot.as_str().as_bytes());
        buf.extend_from_slice(b"\",\"db\":");
        w::str(buf, &s.db);
        buf.extend_from_slice(b",\"sequence\":");
        match pos.lsn {
            Some(lsn) => {
                buf.extend_from_slice(b"\"[");
                match pos.last_commit_lsn {
                    Some(c) => {
                        buf.extend_from_slice(b"\\\"");
                        w::uint(buf, c);
                        buf.extend_from_slice(b"\\\"");
                    }
                    None => buf.extend_from_slice(b"null"),
                }
                buf.extend_from_slice(b",\\\"");
                w::uint(buf, lsn);
                buf.extend_from_slice(b"\\\"]\"");
            }
            None => buf.extend_from_slice(b"null"),
        }
        buf.extend_from_slice(b",\"ts_us\":");
        w::int(buf, pos.ts_us);
        buf.extend_from_slice(b",\"ts_ns\":");
        w::int(buf, pos.ts_us.saturating_mul(1000));
        buf.extend_from_slice(source_table);
        buf.extend_from_slice(b",\"txId\":");
        match pos.tx_id {
            Some(x) => w::uint(buf, x),
            None => buf.extend_from_slice(b"null"),
        }
        buf.extend_from_slice(b",\"lsn\":");
        match pos.lsn {
            Some(x) => w::uint(buf, x),
            None => buf.extend_from_slice(b"null"),
        }
        buf.extend_from_slice(b",\"xmin\":null,\"origin\":null,\"origin_lsn\":null}");
    }

    fn encode_message(
        &self,
        prefix: &str,
        content: &[u8],
        transactional: bool,
        source: &SourcePosition,
        now_ns: i64,
        out: &mut EncodedBatch,
    ) {
        let buf = &mut out.buf;
        let start = buf.len();
        let key_schema = self.opts.key_schemas;
        if key_schema {
            buf.extend_from_slice(
                br#"{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"prefix"}],"optional":false,"name":"io.debezium.connector.postgresql.MessageKey"},"payload":"#,
            );
        }
        buf.extend_from_slice(b"{\"prefix\":");
        w::str(buf, prefix);
        buf.push(b'}');
        if key_schema {
            buf.push(b'}');
        }
        let key = start..buf.len();
        let start = buf.len();
        if self.opts.value_schemas {
            buf.extend_from_slice(b"{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":\"op\"},{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ms\"},");
            buf.extend_from_slice(&self.source_schema.as_bytes()[..self.source_schema.len() - 1]);
            buf.extend_from_slice(b",\"field\":\"source\"},{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":\"prefix\"},{\"type\":\"bytes\",\"optional\":true,\"field\":\"content\"}],\"optional\":false,\"name\":\"io.debezium.connector.postgresql.Message\",\"field\":\"message\"}],\"optional\":false,\"name\":\"io.debezium.connector.postgresql.MessageValue\"},\"payload\":");
        }
        buf.extend_from_slice(b"{\"op\":\"m\",\"ts_ms\":");
        w::int(buf, now_ns / 1_000_000);
        buf.extend_from_slice(b",\"source\":");
        let mut pos = *source;
        if !transactional {
            pos.tx_id = None;
        }
        self.write_source(buf, &pos, b",\"schema\":\"\",\"table\":\"\"");
        buf.extend_from_slice(b",\"message\":{\"prefix\":");
        w::str(buf, prefix);
        buf.extend_from_slice(b",\"content\":");
        w::base64(buf, content);
        buf.extend_from_slice(b"}}");
        if self.opts.value_schemas {
            buf.push(b'}');
        }
        out.records.push(Record {
            topic: self.opts.message_topic.clone(),
            key: Some(key),
            value: Some(start..buf.len()),
            timestamp_ms: now_ns / 1_000_000,
        });
    }

    fn encode_heartbeat(&self, ts_ms: i64, out: &mut EncodedBatch) {
        let buf = &mut out.buf;
        let start = buf.len();
        if self.opts.key_schemas {
            buf.extend_from_slice(br#"{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"serverName"}],"optional":false,"name":"io.debezium.connector.common.ServerNameKey"},"payload":"#);
        }
        buf.extend_from_slice(b"{\"serverName\":");
        w::str(buf, &self.opts.source.name);
        buf.push(b'}');
        if self.opts.key_schemas {
            buf.push(b'}');
        }
        let key = start..buf.len();
        let start = buf.len();
        if self.opts.value_schemas {
            buf.extend_from_slice(br#"{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"ts_ms"}],"optional":false,"name":"io.debezium.connector.common.Heartbeat"},"payload":"#);
        }
        buf.extend_from_slice(b"{\"ts_ms\":");
        w::int(buf, ts_ms);
        buf.push(b'}');
        if self.opts.value_schemas {
            buf.push(b'}');
        }
        out.records.push(Record {
            topic: self.opts.heartbeat_topic.clone(),
            key: Some(key),
            value: Some(start..buf.len()),
            timestamp_ms: ts_ms,
        });
    }

    /// Writes one value. A NULL in a non-optional column (a DELETE's before-image carries only
    /// the key) becomes the column default or the type's zero value, as Debezium does.
    fn write_datum(
        &self,
        buf: &mut Vec<u8>,
        column: &Column,
        enc: &Encoding,
        datum: &Datum,
    ) -> Result<()> {
        match datum {
            Datum::Null if column.optional => {
                buf.extend_from_slice(b"null");
                Ok(())
            }
            Datum::Null => match &column.default {
                Some(d) if !d.is_null() => self.write_value(buf, column, enc, d),
                _ => {
                    write_zero(buf, enc);
                    Ok(())
                }
            },
            Datum::Unavailable => {
                self.write_unavailable(buf, enc);
                Ok(())
            }
            d => self.write_value(buf, column, enc, d),
        }
    }

    /// The placeholder for an unchanged TOASTed value, in the column's own type where the type
    /// is not a string (Debezium: bytes for binary, `[placeholder]` for arrays).
    fn write_unavailable(&self, buf: &mut Vec<u8>, enc: &Encoding) {
        match enc {
            Encoding::Binary(_) | Encoding::Bits { .. } => w::base64(buf, &self.opts.placeholder),
            Encoding::Array(inner) => {
                buf.push(b'[');
                self.write_unavailable(buf, inner);
                buf.push(b']');
            }
            _ => w::escaped(buf, &self.opts.placeholder),
        }
    }

    fn write_value(
        &self,
        buf: &mut Vec<u8>,
        column: &Column,
        enc: &Encoding,
        datum: &Datum,
    ) -> Result<()> {
        let mismatch = || {
            Error::conversion(format!(
                "column \"{}\" ({}): cannot encode {datum:?} as {enc:?}",
                column.name, column.type_name
            ))
        };
        match (enc, datum) {
            (_, Datum::Null) => buf.extend_from_slice(b"null"),
            (_, Datum::Unavailable) => self.write_unavailable(buf, enc),
            (Encoding::Boolean, Datum::Bool(b)) => {
                buf.extend_from_slice(if *b { b"true" } else { b"false" })
            }
            (Encoding::Boolean, Datum::Bits { len: 1, bits }) => {
                let set = bits.first().is_some_and(|b| b & 0x80 != 0);
                buf.extend_from_slice(if set { b"true" } else { b"false" })
            }
            (Encoding::Int16 | Encoding::Int32 | Encoding::Int64, Datum::Int(v)) => w::int(buf, *v),
            (Encoding::Float32, Datum::F32(v)) => w::f32(buf, *v),
            (Encoding::Float64, Datum::F64(v)) => w::f64(buf, *v),
            (Encoding::Float64, Datum::F32(v)) => w::f64(buf, f64::from(*v)),
            (
                Encoding::String
                | Encoding::Uuid
                | Encoding::Json
                | Encoding::Xml
                | Encoding::Enum { .. }
                | Encoding::Ltree,
                Datum::Text(t),
            ) => w::escaped(buf, t),
            (Encoding::Binary(mode), Datum::Bytes(b)) => match mode {
                BinaryMode::Bytes | BinaryMode::Base64 => w::base64(buf, b),
                BinaryMode::Base64UrlSafe => w::base64_url(buf, b),
                BinaryMode::Hex => w::hex(buf, b),
            },
            (Encoding::Decimal { scale, .. }, Datum::Numeric(n)) => {
                let text = finite(n, column)?;
                let parsed = decimal::parse(text).ok_or_else(mismatch)?;
                let mut bytes = Vec::with_capacity(16);
                parsed.unscaled_bytes(*scale, &mut bytes);
                w::base64(buf, &bytes);
            }
            (Encoding::VariableScaleDecimal, Datum::Numeric(n)) => {
                let text = finite(n, column)?;
                let parsed = decimal::parse(text).ok_or_else(mismatch)?;
                // Debezium strips trailing zeros of variable-scale values (3.0 → scale 0).
                let scale = parsed.trimmed_scale();
                let mut bytes = Vec::with_capacity(16);
                parsed.unscaled_bytes(scale, &mut bytes);
                buf.extend_from_slice(b"{\"scale\":");
                w::uint(buf, u64::from(scale));
                buf.extend_from_slice(b",\"value\":");
                w::base64(buf, &bytes);
                buf.push(b'}');
            }
            (Encoding::DecimalString, Datum::Numeric(n)) => match n {
                Numeric::Finite(t) => w::escaped(buf, t),
                Numeric::NaN => w::str(buf, "NaN"),
                Numeric::PosInfinity => w::str(buf, "Infinity"),
                Numeric::NegInfinity => w::str(buf, "-Infinity"),
            },
            (Encoding::DecimalDouble, Datum::Numeric(n)) => w::f64(buf, numeric_to_f64(n)),
            (Encoding::Date | Encoding::ConnectDate, Datum::Date(d)) => w::int(buf, date_days(*d)),
            (Encoding::MicroTime, Datum::Time(t)) => w::int(buf, *t),
            (Encoding::MilliTime | Encoding::ConnectTime, Datum::Time(t)) => w::int(buf, t / 1000),
            (Encoding::MicroTimestamp, Datum::Timestamp(t)) => w::int(buf, timestamp_micros(*t)),
            (Encoding::MilliTimestamp | Encoding::ConnectTimestamp, Datum::Timestamp(t)) => {
                w::int(buf, timestamp_micros(*t).div_euclid(1000))
            }
            (Encoding::ZonedTimestamp { fraction }, Datum::TimestampTz(t)) => match *t {
                POS_INFINITY => w::str(buf, "infinity"),
                NEG_INFINITY => w::str(buf, "-infinity"),
                t => {
                    buf.push(b'"');
                    temporal::write_iso_utc(buf, t, *fraction);
                    buf.push(b'"');
                }
            },
            (
                Encoding::ZonedTime,
                Datum::TimeTz {
                    micros,
                    offset_secs,
                },
            ) => {
                let utc = (micros - i64::from(*offset_secs) * temporal::MICROS_PER_SECOND)
                    .rem_euclid(temporal::MICROS_PER_DAY);
                buf.push(b'"');
                temporal::write_time_of_day(buf, utc, 0);
                buf.extend_from_slice(b"Z\"");
            }
            (
                Encoding::MicroDuration,
                Datum::Interval {
                    months,
                    days,
                    micros,
                },
            ) => {
                // Debezium: a month is 365.25 / 12 = 30.4375 days = 2 629 800 s. Debezium wraps
                // past ±292,000 years; runnel refuses rather than write a wrong duration.
                let v = i64::from(*months)
                    .checked_mul(2_629_800_000_000)
                    .and_then(|m| m.checked_add(i64::from(*days) * temporal::MICROS_PER_DAY))
                    .and_then(|m| m.checked_add(*micros))
                    .ok_or_else(|| {
                        Error::conversion(format!(
                            "column \"{}\" holds an interval too long for microseconds in 64 \
                             bits; set \"interval.handling.mode\" to \"string\" to capture it",
                            column.name
                        ))
                    })?;
                w::int(buf, v);
            }
            (
                Encoding::IntervalString,
                Datum::Interval {
                    months,
                    days,
                    micros,
                },
            ) => {
                buf.push(b'"');
                write_iso_interval(buf, *months, *days, *micros);
                buf.push(b'"');
            }
            (Encoding::Bits { .. }, Datum::Bits { len, bits }) => {
                w::base64(buf, &bits_little_endian(*len, bits));
            }
            (Encoding::Point, Datum::Point { x, y }) => {
                buf.extend_from_slice(b"{\"x\":");
                w::f64(buf, *x);
                buf.extend_from_slice(b",\"y\":");
                w::f64(buf, *y);
                buf.extend_from_slice(b",\"wkb\":");
                let mut wkb = Vec::with_capacity(21);
                wkb.push(1);
                wkb.extend_from_slice(&1u32.to_le_bytes());
                wkb.extend_from_slice(&x.to_le_bytes());
                wkb.extend_from_slice(&y.to_le_bytes());
                w::base64(buf, &wkb);
                buf.extend_from_slice(b",\"srid\":null}");
            }
            (Encoding::Array(inner), Datum::Array(items)) => {
                buf.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    self.write_value(buf, column, inner, item)?;
                }
                buf.push(b']');
            }
            (_, Datum::Array(_)) => {
                // PostgreSQL does not enforce an array column's declared dimensions.
                return Err(Error::conversion(format!(
                    "column \"{}\" ({}) holds an array with more dimensions than the column \
                     declares; declare it with every dimension (e.g. integer[][]) so that its \
                     schema can carry the value",
                    column.name, column.type_name
                )));
            }
            _ => return Err(mismatch()),
        }
        Ok(())
    }
}

fn finite<'a>(n: &'a Numeric, column: &Column) -> Result<&'a [u8]> {
    match n {
        Numeric::Finite(t) => Ok(t),
        special => Err(Error::conversion(format!(
            "column \"{}\" holds {}, which decimal.handling.mode=precise cannot represent; set \
             \"decimal.handling.mode\" to \"string\" (or \"double\") to capture it",
            column.name,
            match special {
                Numeric::NaN => "NaN",
                Numeric::PosInfinity => "Infinity",
                _ => "-Infinity",
            }
        ))),
    }
}

fn numeric_to_f64(n: &Numeric) -> f64 {
    match n {
        Numeric::Finite(t) => std::str::from_utf8(t)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(f64::NAN),
        Numeric::NaN => f64::NAN,
        Numeric::PosInfinity => f64::INFINITY,
        Numeric::NegInfinity => f64::NEG_INFINITY,
    }
}

/// ±infinity dates. `-infinity` is what Debezium sends (PostgreSQL's internal minimum moved to
/// the Unix epoch); for `infinity` Debezium's int arithmetic wraps into the far past, so runnel
/// sends the largest Connect Date instead (README, Compatibility).
fn date_days(d: i64) -> i64 {
    match d {
        POS_INFINITY => i64::from(i32::MAX),
        NEG_INFINITY => i64::from(i32::MIN) + 10_957,
        d => d,
    }
}

/// Debezium's ±infinity timestamps (`PGStatement.DATE_POSITIVE_INFINITY` read as micros).
fn timestamp_micros(t: i64) -> i64 {
    match t {
        POS_INFINITY => 9_223_372_036_825_200_000,
        NEG_INFINITY => -9_223_372_036_832_400_000,
        t => t,
    }
}

/// Connect `Bits` holds the bit string's integer value little-endian, as `BitSet.toByteArray`.
fn bits_little_endian(len: u32, packed: &[u8]) -> Vec<u8> {
    let nbytes = (len as usize).div_ceil(8);
    let mut out = vec![0u8; nbytes];
    for i in 0..len as usize {
        let set = packed
            .get(i / 8)
            .is_some_and(|b| b & (0x80 >> (i % 8)) != 0);
        if set {
            // Bit i from the left is bit (len-1-i) of the value.
            let pos = len as usize - 1 - i;
            out[pos / 8] |= 1 << (pos % 8);
        }
    }
    // BitSet.toByteArray drops trailing zero bytes: all-zero bits are an empty array.
    while out.last() == Some(&0) {
        out.pop();
    }
    out
}

fn write_iso_interval(buf: &mut Vec<u8>, months: i32, days: i32, micros: i64) {
    let years = months / 12;
    let months = months % 12;
    buf.push(b'P');
    w::int(buf, i64::from(years));
    buf.push(b'Y');
    w::int(buf, i64::from(months));
    buf.push(b'M');
    w::int(buf, i64::from(days));
    buf.extend_from_slice(b"DT");
    let hours = micros / 3_600_000_000;
    let minutes = (micros / 60_000_000) % 60;
    let secs = (micros % 60_000_000) as f64 / 1e6;
    w::int(buf, hours);
    buf.push(b'H');
    w::int(buf, minutes);
    buf.push(b'M');
    buf.extend_from_slice(ryu::Buffer::new().format(secs).as_bytes());
    buf.push(b'S');
}

/// The type's zero value, for a NULL in a non-optional field without a default.
fn write_zero(buf: &mut Vec<u8>, enc: &Encoding) {
    let text: &[u8] = match enc {
        Encoding::Boolean => b"false",
        Encoding::Int16
        | Encoding::Int32
        | Encoding::Int64
        | Encoding::Date
        | Encoding::ConnectDate
        | Encoding::MilliTime
        | Encoding::MicroTime
        | Encoding::ConnectTime
        | Encoding::MilliTimestamp
        | Encoding::MicroTimestamp
        | Encoding::ConnectTimestamp
        | Encoding::MicroDuration => b"0",
        Encoding::Float32 | Encoding::Float64 | Encoding::DecimalDouble => b"0.0",
        Encoding::Decimal { .. } => b"\"AA==\"",
        Encoding::VariableScaleDecimal => b"{\"scale\":0,\"value\":\"AA==\"}",
        Encoding::ZonedTimestamp { .. } => b"\"1970-01-01T00:00:00Z\"",
        Encoding::ZonedTime => b"\"00:00:00Z\"",
        Encoding::Binary(_) | Encoding::Bits { .. } => b"\"\"",
        Encoding::Point => b"{\"x\":0.0,\"y\":0.0,\"wkb\":null,\"srid\":null}",
        Encoding::Array(_) => b"[]",
        Encoding::DecimalString
        | Encoding::String
        | Encoding::IntervalString
        | Encoding::Uuid
        | Encoding::Json
        | Encoding::Xml
        | Encoding::Enum { .. }
        | Encoding::Ltree => b"\"\"",
    };
    buf.extend_from_slice(text);
}

// ---- schemas -------------------------------------------------------------------------------

/// (Connect type, logical name, version, parameters) of an encoding.
type TypeJson = (
    &'static str,
    Option<&'static str>,
    Option<u32>,
    Vec<(&'static str, String)>,
);

/// The Connect schema parts of one encoding; `optional`/`default`/`field` are the caller's.
fn type_json(enc: &Encoding) -> TypeJson {
    match enc {
        Encoding::Boolean => ("boolean", None, None, vec![]),
        Encoding::Int16 => ("int16", None, None, vec![]),
        Encoding::Int32 => ("int32", None, None, vec![]),
        Encoding::Int64 => ("int64", None, None, vec![]),
        Encoding::Float32 => ("float", None, None, vec![]),
        Encoding::Float64 | Encoding::DecimalDouble => ("double", None, None, vec![]),
        Encoding::String | Encoding::DecimalString => ("string", None, None, vec![]),
        Encoding::Binary(BinaryMode::Bytes) => ("bytes", None, None, vec![]),
        Encoding::Binary(_) => ("string", None, None, vec![]),
        Encoding::Decimal { scale, precision } => {
            let mut params = vec![("scale", scale.to_string())];
            if let Some(p) = precision {
                params.push(("connect.decimal.precision", p.to_string()));
            }
            (
                "bytes",
                Some("org.apache.kafka.connect.data.Decimal"),
                Some(1),
                params,
            )
        }
        Encoding::VariableScaleDecimal => (
            "struct",
            Some("io.debezium.data.VariableScaleDecimal"),
            Some(1),
            vec![],
        ),
        Encoding::Date => ("int32", Some("io.debezium.time.Date"), Some(1), vec![]),
        Encoding::ConnectDate => (
            "int32",
            Some("org.apache.kafka.connect.data.Date"),
            Some(1),
            vec![],
        ),
        Encoding::MilliTime => ("int32", Some("io.debezium.time.Time"), Some(1), vec![]),
        Encoding::MicroTime => ("int64", Some("io.debezium.time.MicroTime"), Some(1), vec![]),
        Encoding::ConnectTime => (
            "int32",
            Some("org.apache.kafka.connect.data.Time"),
            Some(1),
            vec![],
        ),
        Encoding::MilliTimestamp => ("int64", Some("io.debezium.time.Timestamp"), Some(1), vec![]),
        Encoding::MicroTimestamp => (
            "int64",
            Some("io.debezium.time.MicroTimestamp"),
            Some(1),
            vec![],
        ),
        Encoding::ConnectTimestamp => (
            "int64",
            Some("org.apache.kafka.connect.data.Timestamp"),
            Some(1),
            vec![],
        ),
        Encoding::ZonedTimestamp { .. } => (
            "string",
            Some("io.debezium.time.ZonedTimestamp"),
            Some(1),
            vec![],
        ),
        Encoding::ZonedTime => (
            "string",
            Some("io.debezium.time.ZonedTime"),
            Some(1),
            vec![],
        ),
        Encoding::MicroDuration => (
            "int64",
            Some("io.debezium.time.MicroDuration"),
            Some(1),
            vec![],
        ),
        Encoding::IntervalString => ("string", Some("io.debezium.time.Interval"), Some(1), vec![]),
        Encoding::Uuid => ("string", Some("io.debezium.data.Uuid"), Some(1), vec![]),
        Encoding::Json => ("string", Some("io.debezium.data.Json"), Some(1), vec![]),
        Encoding::Xml => ("string", Some("io.debezium.data.Xml"), Some(1), vec![]),
        Encoding::Ltree => ("string", Some("io.debezium.data.Ltree"), Some(1), vec![]),
        Encoding::Enum { allowed } => (
            "string",
            Some("io.debezium.data.Enum"),
            Some(1),
            vec![("allowed", allowed.to_string())],
        ),
        Encoding::Bits { length } => (
            "bytes",
            Some("io.debezium.data.Bits"),
            Some(1),
            vec![("length", length.to_string())],
        ),
        Encoding::Point => (
            "struct",
            Some("io.debezium.data.geometry.Point"),
            Some(1),
            vec![],
        ),
        Encoding::Array(_) => ("array", None, None, vec![]),
    }
}

/// Appends a Connect field schema: `{"type":…, [nested], "optional":…, name, version, doc,
/// parameters, default, "field":…}` — the key order Kafka's `JsonConverter` writes.
fn field_schema(
    out: &mut Vec<u8>,
    enc: &Encoding,
    optional: bool,
    default: Option<(&Column, &Datum)>,
    field: Option<&str>,
) {
    let (ty, name, version, params) = type_json(enc);
    out.extend_from_slice(b"{\"type\":");
    w::str(out, ty);
    match enc {
        Encoding::Array(inner) => {
            out.extend_from_slice(b",\"items\":");
            field_schema(out, inner, true, None, None);
        }
        Encoding::VariableScaleDecimal => out.extend_from_slice(
            br#","fields":[{"type":"int32","optional":false,"field":"scale"},{"type":"bytes","optional":false,"field":"value"}]"#,
        ),
        Encoding::Point => out.extend_from_slice(
            br#","fields":[{"type":"double","optional":false,"field":"x"},{"type":"double","optional":false,"field":"y"},{"type":"bytes","optional":true,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}]"#,
        ),
        _ => {}
    }
    out.extend_from_slice(b",\"optional\":");
    out.extend_from_slice(if optional { b"true" } else { b"false" });
    if let Some(name) = name {
        out.extend_from_slice(b",\"name\":");
        w::str(out, name);
    }
    if let Some(v) = version {
        out.extend_from_slice(b",\"version\":");
        w::uint(out, u64::from(v));
    }
    match enc {
        Encoding::VariableScaleDecimal => {
            out.extend_from_slice(b",\"doc\":\"Variable scaled decimal\"")
        }
        Encoding::Point => out.extend_from_slice(b",\"doc\":\"Geometry (POINT)\""),
        _ => {}
    }
    if !params.is_empty() {
        out.extend_from_slice(b",\"parameters\":{");
        for (i, (k, v)) in params.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            w::key(out, k);
            w::str(out, v);
        }
        out.push(b'}');
    }
    if let Some((column, datum)) = default {
        // Schema defaults go through the same writer as values; the encoder's options do not
        // matter for defaults (no TOAST placeholders, no special values).
        let mut tmp = Vec::new();
        let encoder = JsonEncoder::new(JsonOptions {
            key_schemas: false,
            value_schemas: false,
            tombstones_on_delete: false,
            placeholder: Bytes::new(),
            source: SourceInfo {
                connector: "",
                version: "".into(),
                name: "".into(),
                db: "".into(),
            },
            heartbeat_topic: "".into(),
            message_topic: "".into(),
        });
        if encoder.write_value(&mut tmp, column, enc, datum).is_ok() {
            out.extend_from_slice(b",\"default\":");
            out.extend_from_slice(&tmp);
        }
    }
    if let Some(field) = field {
        out.extend_from_slice(b",\"field\":");
        w::str(out, field);
    }
    out.push(b'}');
}

fn column_schema(out: &mut Vec<u8>, column: &Column) {
    let default = column
        .default
        .as_ref()
        .filter(|d| !d.is_null())
        .map(|d| (column, d));
    field_schema(
        out,
        &column.encoding,
        column.optional,
        default,
        Some(&column.name),
    );
}

fn key_schema(table: &TableSchema) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"type\":\"struct\",\"fields\":[");
    for (i, &c) in table.key.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        column_schema(&mut out, &table.columns[c]);
    }
    out.extend_from_slice(b"],\"optional\":false,\"name\":");
    w::str(&mut out, &format!("{}.Key", table.schema_name));
    out.push(b'}');
    out
}

fn row_schema(out: &mut Vec<u8>, table: &TableSchema, field: &str) {
    out.extend_from_slice(b"{\"type\":\"struct\",\"fields\":[");
    for (i, column) in table.columns.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        column_schema(out, column);
    }
    out.extend_from_slice(b"],\"optional\":true,\"name\":");
    w::str(out, &format!("{}.Value", table.schema_name));
    out.extend_from_slice(b",\"field\":");
    w::str(out, field);
    out.push(b'}');
}

fn envelope_schema(table: &TableSchema, source_schema: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(b"{\"type\":\"struct\",\"fields\":[");
    row_schema(&mut out, table, "before");
    out.push(b',');
    row_schema(&mut out, table, "after");
    out.push(b',');
    out.extend_from_slice(&source_schema.as_bytes()[..source_schema.len() - 1]);
    out.extend_from_slice(b",\"field\":\"source\"},");
    out.extend_from_slice(TRANSACTION_SCHEMA);
    out.extend_from_slice(br#",{"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"},{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional":true,"field":"ts_ns"}],"optional":false,"name":"#);
    w::str(&mut out, &format!("{}.Envelope", table.schema_name));
    out.extend_from_slice(b",\"version\":2}");
    out
}

const TRANSACTION_SCHEMA: &[u8] = br#"{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":false,"field":"total_order"},{"type":"int64","optional":false,"field":"data_collection_order"}],"optional":true,"name":"event.block","version":1,"field":"transaction"}"#;

/// Debezium's PostgreSQL `source` struct schema (without the trailing `"field"`).
fn postgres_source_schema() -> String {
    concat!(
        r#"{"type":"struct","fields":["#,
        r#"{"type":"string","optional":false,"field":"version"},"#,
        r#"{"type":"string","optional":false,"field":"connector"},"#,
        r#"{"type":"string","optional":false,"field":"name"},"#,
        r#"{"type":"int64","optional":false,"field":"ts_ms"},"#,
        r#"{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},"default":"false","field":"snapshot"},"#,
        r#"{"type":"string","optional":false,"field":"db"},"#,
        r#"{"type":"string","optional":true,"field":"sequence"},"#,
        r#"{"type":"int64","optional":true,"field":"ts_us"},"#,
        r#"{"type":"int64","optional":true,"field":"ts_ns"},"#,
        r#"{"type":"string","optional":false,"field":"schema"},"#,
        r#"{"type":"string","optional":false,"field":"table"},"#,
        r#"{"type":"int64","optional":true,"field":"txId"},"#,
        r#"{"type":"int64","optional":true,"field":"lsn"},"#,
        r#"{"type":"int64","optional":true,"field":"xmin"},"#,
        r#"{"type":"string","optional":true,"field":"origin"},"#,
        r#"{"type":"int64","optional":true,"field":"origin_lsn"}"#,
        r#"],"optional":false,"name":"io.debezium.connector.postgresql.Source","version":1}"#
    )
    .to_string()
}
