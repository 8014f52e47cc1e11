//! Kafka Connect's `JsonConverter` output, written straight into a byte buffer: Debezium
//! envelopes of change events, and any record with a Connect schema (or none). With
//! `schemas.enable=true` each key/value is `{"schema": …, "payload": …}`; a table's schemas are
//! built once per table version, a record schema's JSON once per schema, and copied, never
//! rebuilt per record.

use std::ops::Range;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::writer as w;
use super::{EncodedBatch, EncodedHeader, EncodedRecord};
use crate::datum::{Datum, NEG_INFINITY, Numeric, POS_INFINITY};
use crate::decimal;
use crate::error::{Error, Result};
use crate::event::{Batch, ChangeEvent, Event, Op, Payload, Record};
use crate::schema::{BinaryMode, Column, Encoding, Schema, SchemaMeta, TableSchema};
use crate::source::Envelope;
use crate::temporal;

/// What a connector's converters ask for (`key.converter.schemas.enable`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JsonOptions {
    pub key_schemas: bool,
    pub value_schemas: bool,
    /// `key.converter.replace.null.with.default` / `value.…`: a null whose schema has a
    /// default is written as the default. Kafka Connect's converter does this by default;
    /// runnel writes null unless asked (README, Compatibility).
    pub key_replace_null: bool,
    pub value_replace_null: bool,
}

impl JsonOptions {
    /// Schemas on or off for both sides, nulls kept.
    pub fn schemas(on: bool) -> Self {
        Self {
            key_schemas: on,
            value_schemas: on,
            ..Self::default()
        }
    }
}

/// Encodes batches as Kafka Connect JSON.
#[derive(Debug, Clone)]
pub struct JsonEncoder {
    opts: JsonOptions,
    /// How change events are enveloped (their source's block and placeholder).
    envelope: Option<Envelope>,
    /// The `source` field's schema JSON without its closing `}`.
    source_schema: Arc<[u8]>,
    keys: Arc<StructKeys>,
}

/// The `"field":` tokens of the struct schemas a record's values use (a transformed row, a
/// record read from Kafka), escaped once per schema: checking and copying each name per value
/// was a fifth of encoding a transformed batch. Keyed by the fields' `Arc`, which the entry
/// holds, so the address cannot be reused while it is cached.
#[derive(Debug, Default)]
struct StructKeys {
    entries: std::sync::Mutex<Vec<KeysOf>>,
}

/// A struct's fields and their keys.
type KeysOf = (Arc<[Column]>, Arc<FieldKeys>);

#[derive(Debug)]
struct FieldKeys {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl FieldKeys {
    fn key(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }
}

impl StructKeys {
    const SIZE: usize = 64;

    fn of(&self, fields: &Arc<[Column]>) -> Arc<FieldKeys> {
        thread_local! {
            // The schema this thread wrote last: the records of a batch mostly share one, and
            // the lock is then not taken at all. The entry holds the fields' `Arc`.
            static LAST: std::cell::RefCell<Option<KeysOf>> =
                const { std::cell::RefCell::new(None) };
        }
        if let Some(keys) = LAST.with_borrow(|last| {
            last.as_ref()
                .filter(|(f, _)| Arc::ptr_eq(f, fields))
                .map(|(_, k)| k.clone())
        }) {
            return keys;
        }
        let keys = self.lookup(fields);
        LAST.set(Some((fields.clone(), keys.clone())));
        keys
    }

    fn lookup(&self, fields: &Arc<[Column]>) -> Arc<FieldKeys> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = entries.iter().position(|(f, _)| Arc::ptr_eq(f, fields)) {
            return entries[i].1.clone();
        }
        let mut bytes = Vec::new();
        let mut ends = Vec::with_capacity(fields.len());
        for f in fields.iter() {
            w::key(&mut bytes, &f.name);
            ends.push(bytes.len());
        }
        let keys = Arc::new(FieldKeys { bytes, ends });
        if entries.len() >= Self::SIZE {
            entries.remove(0);
        }
        entries.push((fields.clone(), keys.clone()));
        keys
    }
}

/// What is the same for every event of one table, written once and cached in
/// [`TableSchema::json_cache`]: the schema JSON, each column's `"name":` token and the source
/// block's per-table fields (escaping them per row was a tenth of the snapshot's
/// instructions).
struct CachedSchemas {
    key: Vec<u8>,
    envelope: Vec<u8>,
    /// `"column":` for each column, concatenated; `column_keys_at[i]` is where column i's ends.
    column_keys: Vec<u8>,
    column_keys_at: Vec<usize>,
    /// The source block's fields fixed for this table.
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

/// What a record's key or value (or an array item) is called in error messages, as a column
/// of its own: values are written with the column they belong to, whose name is read only
/// when something fails (building a name per value was a tenth of the encoder's work).
/// The JSON of one value of `column` (without schema), as the encoder writes it inside a
/// record: for sinks that lay out values themselves (a CSV cell, a selected field).
pub fn write_value_json(
    buf: &mut Vec<u8>,
    batch: &Batch,
    column: &Column,
    datum: &Datum,
) -> Result<()> {
    Values {
        arena: &batch.datums,
        placeholder: b"__debezium_unavailable_value",
        keys: None,
        replace_null: false,
    }
    .write_value(buf, column, &column.encoding, datum)
}

fn value_column() -> &'static Column {
    static VALUE: std::sync::OnceLock<Column> = std::sync::OnceLock::new();
    VALUE.get_or_init(|| Column::new("value", Encoding::Dynamic, true))
}

/// Writes values: the batch's value vector (for structs and maps) and the placeholder of
/// unavailable values.
struct Values<'a> {
    arena: &'a [Datum],
    placeholder: &'a [u8],
    /// Escaped field names of struct schemas (none: escaped per value).
    keys: Option<&'a StructKeys>,
    /// `replace.null.with.default`.
    replace_null: bool,
}

impl JsonEncoder {
    pub fn new(opts: JsonOptions, envelope: Option<Envelope>) -> Self {
        let source_schema: Arc<[u8]> = match &envelope {
            Some(e) => {
                let mut json = schema_json(e.source.schema()).to_vec();
                json.pop();
                json.into()
            }
            None => Arc::from(&b""[..]),
        };
        Self {
            opts,
            envelope,
            source_schema,
            keys: Arc::default(),
        }
    }

    pub fn options(&self) -> JsonOptions {
        self.opts
    }

    /// Appends every record of `batch` to `out`.
    pub fn encode(&self, batch: &Batch, out: &mut EncodedBatch) -> Result<()> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        for event in &batch.events {
            match event {
                Event::Change(ev) => self.encode_change(batch, ev, now, out)?,
                Event::Record(r) => self.encode_record(batch, r, now / 1_000_000, out)?,
            }
        }
        Ok(())
    }

    fn values<'a>(&'a self, arena: &'a [Datum], replace_null: bool) -> Values<'a> {
        Values {
            arena,
            keys: Some(&self.keys),
            placeholder: self
                .envelope
                .as_ref()
                .map_or(&b""[..], |e| &e.unavailable_placeholder[..]),
            replace_null,
        }
    }

    /// One payload alone as this encoder writes it (`schemas`: with its schema): a header's
    /// value with the JSON converter, or a record's key or value outside a batch.
    pub fn encode_payload(
        &self,
        datums: &[Datum],
        bytes: &[u8],
        p: &Payload,
        schemas: bool,
        replace_null: bool,
    ) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.write_payload(&mut buf, datums, bytes, p, schemas, replace_null)?;
        Ok(buf)
    }

    fn schemas<'a>(&self, table: &'a TableSchema) -> Result<&'a CachedSchemas> {
        let Some(envelope) = &self.envelope else {
            return Err(Error::internal(format!(
                "a change event of {} reached an encoder without its source's envelope",
                table.id
            )));
        };
        let any = table.json_cache.get_or_init(|| {
            let mut column_keys = Vec::new();
            let mut column_keys_at = Vec::with_capacity(table.columns.len());
            for c in &table.columns {
                w::key(&mut column_keys, &c.name);
                column_keys_at.push(column_keys.len());
            }
            Arc::new(CachedSchemas {
                key: schema_json(table.key_schema()).to_vec(),
                envelope: envelope_schema(table, &self.source_schema),
                column_keys,
                column_keys_at,
                source_table: envelope.source.table_json(&table.id),
            })
        });
        Ok(any
            .downcast_ref::<CachedSchemas>()
            .expect("json_cache holds only CachedSchemas"))
    }

    fn encode_change(
        &self,
        batch: &Batch,
        ev: &ChangeEvent,
        now_ns: i64,
        out: &mut EncodedBatch,
    ) -> Result<()> {
        let table = &*ev.table;
        let cached = self.schemas(table)?;
        let values = self.values(&batch.datums, self.opts.value_replace_null);
        let key_values = self.values(&batch.datums, self.opts.key_replace_null);
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
            if self.opts.key_schemas {
                buf.extend_from_slice(b"{\"schema\":");
                buf.extend_from_slice(&cached.key);
                buf.extend_from_slice(b",\"payload\":");
            }
            buf.push(b'{');
            for (i, &c) in table.key.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                buf.extend_from_slice(cached.column_key(c));
                key_values.write_column(buf, &table.columns[c], &row[c])?;
            }
            buf.push(b'}');
            if self.opts.key_schemas {
                buf.push(b'}');
            }
            Some(start..buf.len())
        };

        let start = buf.len();
        if self.opts.value_schemas {
            buf.extend_from_slice(b"{\"schema\":");
            buf.extend_from_slice(&cached.envelope);
            buf.extend_from_slice(b",\"payload\":");
        }
        buf.extend_from_slice(b"{\"before\":");
        values.write_row(buf, table, cached, ev.before.as_ref().map(|r| batch.row(r)))?;
        buf.extend_from_slice(b",\"after\":");
        values.write_row(buf, table, cached, ev.after.as_ref().map(|r| batch.row(r)))?;
        buf.extend_from_slice(b",\"source\":");
        if let Some(envelope) = &self.envelope {
            envelope
                .source
                .write_json(buf, &ev.source, &cached.source_table);
        }
        buf.extend_from_slice(b",\"transaction\":null,\"op\":\"");
        buf.extend_from_slice(ev.op.code().as_bytes());
        buf.extend_from_slice(b"\",\"ts_ms\":");
        w::int(buf, ts_ms);
        buf.extend_from_slice(b",\"ts_us\":");
        w::int(buf, now_ns / 1000);
        buf.extend_from_slice(b",\"ts_ns\":");
        w::int(buf, now_ns);
        buf.push(b'}');
        if self.opts.value_schemas {
            buf.push(b'}');
        }
        let value = start..buf.len();
        let headers = out.headers.len() as u32;
        out.records.push(EncodedRecord {
            topic: table.topic.clone(),
            partition: None,
            key,
            value: Some(value),
            timestamp_ms: ts_ms,
            headers: headers..headers,
        });
        Ok(())
    }

    fn encode_record(
        &self,
        batch: &Batch,
        r: &Record,
        now_ms: i64,
        out: &mut EncodedBatch,
    ) -> Result<()> {
        let (datums, bytes) = (&batch.datums[..], &batch.bytes[..]);
        let o = self.opts;
        let key = match &r.key {
            Some(p) => Some(self.write_payload(
                &mut out.buf,
                datums,
                bytes,
                p,
                o.key_schemas,
                o.key_replace_null,
            )?),
            None => None,
        };
        let value = match &r.value {
            Some(p) => Some(self.write_payload(
                &mut out.buf,
                datums,
                bytes,
                p,
                o.value_schemas,
                o.value_replace_null,
            )?),
            None => None,
        };
        let first = out.headers.len() as u32;
        for h in &r.headers {
            // A null header value has no bytes (Kafka Connect's SimpleHeaderConverter).
            let value = match &h.value {
                Some(Payload::Value {
                    datum: Datum::Null, ..
                })
                | None => None,
                Some(p) => Some(self.write_header(&mut out.buf, batch, p)?),
            };
            out.headers.push(EncodedHeader {
                key: h.key.clone(),
                value,
            });
        }
        out.records.push(EncodedRecord {
            topic: r.topic.clone(),
            partition: r.partition,
            key,
            value,
            timestamp_ms: r.timestamp_ms.unwrap_or(now_ms),
            headers: first..out.headers.len() as u32,
        });
        Ok(())
    }

    /// One key or value: the converter's bytes as they came, or `{"schema":…,"payload":…}`
    /// (schemas on) / the payload alone (schemas off).
    fn write_payload(
        &self,
        buf: &mut Vec<u8>,
        datums: &[Datum],
        bytes: &[u8],
        p: &Payload,
        schemas: bool,
        replace_null: bool,
    ) -> Result<Range<usize>> {
        let start = buf.len();
        match p {
            Payload::Encoded(range) => {
                buf.extend_from_slice(&bytes[range.start as usize..range.end as usize]);
            }
            Payload::Value { schema, datum } => {
                if schemas {
                    buf.extend_from_slice(b"{\"schema\":");
                    match schema {
                        Some(s) => buf.extend_from_slice(schema_json(s)),
                        None => buf.extend_from_slice(b"null"),
                    }
                    buf.extend_from_slice(b",\"payload\":");
                }
                let values = self.values(datums, replace_null);
                match schema {
                    Some(s) => values.write_schema_value(buf, value_column(), s, datum)?,
                    None => values.write_dynamic(buf, datum)?,
                }
                if schemas {
                    buf.push(b'}');
                }
            }
        }
        Ok(start..buf.len())
    }

    /// A header value as Kafka Connect's default `SimpleHeaderConverter` writes it: strings as
    /// their UTF-8 bytes, numbers and booleans as text, anything else as JSON.
    fn write_header(&self, buf: &mut Vec<u8>, batch: &Batch, p: &Payload) -> Result<Range<usize>> {
        let start = buf.len();
        match p {
            Payload::Encoded(range) => {
                buf.extend_from_slice(&batch.bytes[range.start as usize..range.end as usize]);
            }
            Payload::Value {
                datum: Datum::Text(t),
                ..
            } => buf.extend_from_slice(t),
            Payload::Value { schema, datum } => {
                let values = self.values(&batch.datums, false);
                match schema {
                    Some(s) => values.write_schema_value(buf, value_column(), s, datum)?,
                    None => values.write_dynamic(buf, datum)?,
                }
            }
        }
        Ok(start..buf.len())
    }
}

impl Values<'_> {
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
            self.write_column(buf, column, datum)?;
        }
        buf.push(b'}');
        Ok(())
    }

    /// Writes one column of a table row. A NULL in a non-optional column (a DELETE's
    /// before-image carries only the key) becomes the column default or the type's zero value,
    /// as Debezium does.
    fn write_column(&self, buf: &mut Vec<u8>, column: &Column, datum: &Datum) -> Result<()> {
        match datum {
            Datum::Null if column.optional => match &column.default {
                Some(d) if self.replace_null && !d.is_null() => {
                    self.write_value(buf, column, &column.encoding, d)
                }
                _ => {
                    buf.extend_from_slice(b"null");
                    Ok(())
                }
            },
            Datum::Null => match &column.default {
                Some(d) if !d.is_null() => self.write_value(buf, column, &column.encoding, d),
                _ => {
                    write_zero(buf, &column.encoding);
                    Ok(())
                }
            },
            d => self.write_value(buf, column, &column.encoding, d),
        }
    }

    /// A record's value under `schema`.
    fn write_schema_value(
        &self,
        buf: &mut Vec<u8>,
        ctx: &Column,
        schema: &Schema,
        datum: &Datum,
    ) -> Result<()> {
        match (datum, &schema.default) {
            (Datum::Null, Some(d)) if self.replace_null => {
                self.write_value(buf, ctx, &schema.encoding, d)
            }
            _ => self.write_value(buf, ctx, &schema.encoding, datum),
        }
    }

    /// The placeholder for an unchanged TOASTed value, in the column's own type where the type
    /// is not a string (Debezium: bytes for binary, `[placeholder]` for arrays).
    fn write_unavailable(&self, buf: &mut Vec<u8>, enc: &Encoding) {
        match enc {
            Encoding::Binary(_) | Encoding::Bits { .. } => w::base64(buf, self.placeholder),
            Encoding::Array(inner) => {
                buf.push(b'[');
                self.write_unavailable(buf, &inner.encoding);
                buf.push(b']');
            }
            _ => w::escaped(buf, self.placeholder),
        }
    }

    fn fields(&self, range: &Range<u32>) -> Result<&[Datum]> {
        self.arena
            .get(range.start as usize..range.end as usize)
            .ok_or_else(|| Error::internal("a struct value points outside its batch"))
    }

    /// A value without a schema (`schemas.enable=false` on the way in): JSON of what it is.
    fn write_dynamic(&self, buf: &mut Vec<u8>, datum: &Datum) -> Result<()> {
        match datum {
            Datum::Null | Datum::Unavailable => buf.extend_from_slice(b"null"),
            Datum::Bool(b) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
            Datum::Int(v) => w::int(buf, *v),
            Datum::F32(v) => w::f32(buf, *v),
            Datum::F64(v) => w::f64(buf, *v),
            Datum::Numeric(Numeric::Finite(t)) => buf.extend_from_slice(t),
            Datum::Numeric(_) => buf.extend_from_slice(b"null"),
            Datum::Text(t) => w::escaped(buf, t),
            Datum::Bytes(b) => w::base64(buf, b),
            Datum::Array(items) => {
                buf.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    self.write_dynamic(buf, item)?;
                }
                buf.push(b']');
            }
            Datum::Map(range) => {
                let kv = self.fields(range)?;
                if kv.chunks(2).all(|p| matches!(p[0], Datum::Text(_))) {
                    buf.push(b'{');
                    for (i, pair) in kv.chunks(2).enumerate() {
                        if i > 0 {
                            buf.push(b',');
                        }
                        self.write_dynamic(buf, &pair[0])?;
                        buf.push(b':');
                        self.write_dynamic(buf, pair.get(1).unwrap_or(&Datum::Null))?;
                    }
                    buf.push(b'}');
                } else {
                    self.write_pairs(buf, kv, None)?;
                }
            }
            other => {
                return Err(Error::conversion(format!(
                    "a value without a schema holds {other:?}, which JSON without a schema \
                     cannot carry; enable schemas on the converter"
                )));
            }
        }
        Ok(())
    }

    /// A map with non-string keys, as `JsonConverter` writes it: `[[key, value], …]`.
    fn write_pairs(
        &self,
        buf: &mut Vec<u8>,
        kv: &[Datum],
        schemas: Option<(&Schema, &Schema)>,
    ) -> Result<()> {
        buf.push(b'[');
        for (i, pair) in kv.chunks(2).enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            buf.push(b'[');
            let v = pair.get(1).unwrap_or(&Datum::Null);
            match schemas {
                Some((ks, vs)) => {
                    self.write_value(buf, value_column(), &ks.encoding, &pair[0])?;
                    buf.push(b',');
                    self.write_value(buf, value_column(), &vs.encoding, v)?;
                }
                None => {
                    self.write_dynamic(buf, &pair[0])?;
                    buf.push(b',');
                    self.write_dynamic(buf, v)?;
                }
            }
            buf.push(b']');
        }
        buf.push(b']');
        Ok(())
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
            (
                Encoding::Int8 | Encoding::Int16 | Encoding::Int32 | Encoding::Int64,
                Datum::Int(v),
            ) => w::int(buf, *v),
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
                let text = finite(n, &column.name)?;
                let parsed = decimal::parse(text).ok_or_else(mismatch)?;
                let mut bytes = Vec::with_capacity(16);
                parsed.unscaled_bytes(*scale, &mut bytes);
                w::base64(buf, &bytes);
            }
            (Encoding::VariableScaleDecimal, Datum::Numeric(n)) => {
                let text = finite(n, &column.name)?;
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
                Encoding::MilliTimestamp | Encoding::ConnectTimestamp,
                Datum::FarTimestamp {
                    days,
                    micros_of_day,
                    ..
                },
            ) => w::int(buf, days * 86_400_000 + micros_of_day / 1000),
            (
                Encoding::ZonedTimestamp { fraction },
                Datum::FarTimestamp {
                    days,
                    micros_of_day,
                    ..
                },
            ) => {
                buf.push(b'"');
                temporal::write_iso_utc_parts(buf, *days, *micros_of_day, *fraction);
                buf.push(b'"');
            }
            (Encoding::MicroTimestamp, Datum::FarTimestamp { .. }) => {
                // Debezium wraps these around to a date 290,000 years BC.
                return Err(refused(column, enc, datum));
            }
            // A zoned value a transform rewrote in another offset (TimezoneConverter) is text.
            (Encoding::ZonedTimestamp { .. } | Encoding::ZonedTime, Datum::Text(t)) => {
                w::escaped(buf, t)
            }
            (
                Encoding::ZonedTime,
                Datum::TimeTz {
                    micros,
                    offset_secs,
                },
            ) => {
                buf.push(b'"');
                temporal::write_zoned_time(buf, *micros, *offset_secs);
                buf.push(b'"');
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
                let v = temporal::interval_micros(*months, *days, *micros)
                    .ok_or_else(|| refused(column, enc, datum))?;
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
            // Already Debezium's bytes (least significant first), as a binlog source gives them.
            (Encoding::Bits { .. }, Datum::Bytes(b)) => w::base64(buf, b),
            (Encoding::Point, Datum::Point { x, y, srid }) => {
                buf.extend_from_slice(b"{\"x\":");
                w::f64(buf, *x);
                buf.extend_from_slice(b",\"y\":");
                w::f64(buf, *y);
                buf.extend_from_slice(b",\"wkb\":");
                w::base64(buf, &point_wkb(*x, *y));
                write_srid(buf, *srid);
            }
            (Encoding::Geometry, Datum::Geometry { srid, wkb }) => {
                buf.extend_from_slice(b"{\"wkb\":");
                w::base64(buf, wkb);
                write_srid(buf, *srid);
            }
            (Encoding::Array(inner), Datum::Array(items)) => {
                buf.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    self.write_value(buf, column, &inner.encoding, item)?;
                }
                buf.push(b']');
            }
            (Encoding::Struct(fields), Datum::Struct(range)) => {
                let values = self.fields(range)?;
                let keys = self.keys.map(|k| k.of(fields));
                buf.push(b'{');
                for (i, (field, value)) in fields.iter().zip(values).enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    match &keys {
                        Some(k) => buf.extend_from_slice(k.key(i)),
                        None => w::key(buf, &field.name),
                    }
                    match (value, &field.default) {
                        (Datum::Null, Some(d)) if self.replace_null => {
                            self.write_value(buf, field, &field.encoding, d)?
                        }
                        _ => self.write_value(buf, field, &field.encoding, value)?,
                    }
                }
                buf.push(b'}');
            }
            (Encoding::Map { keys, values }, Datum::Map(range)) => {
                let kv = self.fields(range)?;
                if matches!(keys.encoding, Encoding::String) {
                    buf.push(b'{');
                    for (i, pair) in kv.chunks(2).enumerate() {
                        if i > 0 {
                            buf.push(b',');
                        }
                        self.write_value(buf, column, &keys.encoding, &pair[0])?;
                        buf.push(b':');
                        let v = pair.get(1).unwrap_or(&Datum::Null);
                        self.write_value(buf, column, &values.encoding, v)?;
                    }
                    buf.push(b'}');
                } else {
                    self.write_pairs(buf, kv, Some((keys, values)))?;
                }
            }
            (Encoding::Dynamic, d) => self.write_dynamic(buf, d)?,
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

/// A value its encoding cannot hold, as [`crate::fits`] explains it.
fn refused(column: &Column, enc: &Encoding, datum: &Datum) -> Error {
    let why = crate::fits::misfit(enc, datum)
        .unwrap_or_else(|| "holds a value its schema cannot carry".to_string());
    Error::conversion(format!("column \"{}\" {why}", column.name))
}

fn finite<'a>(n: &'a Numeric, column: &str) -> Result<&'a [u8]> {
    match n {
        Numeric::Finite(t) => Ok(t),
        special => Err(Error::conversion(format!(
            "column \"{}\" holds {}, which decimal.handling.mode=precise cannot represent; set \
             \"decimal.handling.mode\" to \"string\" (or \"double\") to capture it",
            column,
            match special {
                Numeric::NaN => "NaN",
                Numeric::PosInfinity => "Infinity",
                _ => "-Infinity",
            }
        ))),
    }
}

/// A spatial value's `srid` field and the struct's end.
fn write_srid(buf: &mut Vec<u8>, srid: Option<i32>) {
    buf.extend_from_slice(b",\"srid\":");
    match srid {
        Some(s) => w::int(buf, i64::from(s)),
        None => buf.extend_from_slice(b"null"),
    }
    buf.push(b'}');
}

/// A point as Debezium's `wkb`: little-endian WKB of type 1 (Point).
pub(crate) fn point_wkb(x: f64, y: f64) -> [u8; 21] {
    let mut wkb = [0u8; 21];
    wkb[0] = 1;
    wkb[1..5].copy_from_slice(&1u32.to_le_bytes());
    wkb[5..13].copy_from_slice(&x.to_le_bytes());
    wkb[13..21].copy_from_slice(&y.to_le_bytes());
    wkb
}

pub(crate) fn numeric_to_f64(n: &Numeric) -> f64 {
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
pub(crate) fn date_days(d: i64) -> i64 {
    match d {
        POS_INFINITY => i64::from(i32::MAX),
        NEG_INFINITY => i64::from(i32::MIN) + 10_957,
        d => d,
    }
}

/// Debezium's ±infinity timestamps (`PGStatement.DATE_POSITIVE_INFINITY` read as micros).
pub(crate) fn timestamp_micros(t: i64) -> i64 {
    match t {
        POS_INFINITY => 9_223_372_036_825_200_000,
        NEG_INFINITY => -9_223_372_036_832_400_000,
        t => t,
    }
}

/// Connect `Bits` holds the bit string's integer value little-endian, as `BitSet.toByteArray`.
pub(crate) fn bits_little_endian(len: u32, packed: &[u8]) -> Vec<u8> {
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

pub(crate) fn write_iso_interval(buf: &mut Vec<u8>, months: i32, days: i32, micros: i64) {
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
        Encoding::Int8
        | Encoding::Int16
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
        Encoding::Geometry => b"{\"wkb\":\"\",\"srid\":null}",
        Encoding::Array(_) => b"[]",
        Encoding::Map { .. } | Encoding::Struct(_) => b"{}",
        Encoding::Dynamic => b"null",
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

/// (Connect type, logical name, version, parameters) an encoding implies.
pub(crate) type TypeJson = (
    &'static str,
    Option<&'static str>,
    Option<u32>,
    Vec<(&'static str, String)>,
);

/// The Connect schema parts an encoding implies; `optional`/`default`/`field` are the caller's.
pub(crate) fn type_json(enc: &Encoding) -> TypeJson {
    let logical = enc.logical_name();
    let versioned = |ty: &'static str| (ty, logical, Some(1), vec![]);
    match enc {
        Encoding::Boolean => ("boolean", None, None, vec![]),
        Encoding::Int8 => ("int8", None, None, vec![]),
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
            ("bytes", logical, Some(1), params)
        }
        Encoding::VariableScaleDecimal | Encoding::Point | Encoding::Geometry => {
            versioned("struct")
        }
        Encoding::Date | Encoding::ConnectDate | Encoding::MilliTime | Encoding::ConnectTime => {
            versioned("int32")
        }
        Encoding::MicroTime
        | Encoding::MilliTimestamp
        | Encoding::MicroTimestamp
        | Encoding::ConnectTimestamp
        | Encoding::MicroDuration => versioned("int64"),
        Encoding::ZonedTimestamp { .. }
        | Encoding::ZonedTime
        | Encoding::IntervalString
        | Encoding::Uuid
        | Encoding::Json
        | Encoding::Xml
        | Encoding::Ltree => versioned("string"),
        Encoding::Enum { allowed } => (
            "string",
            logical,
            Some(1),
            vec![("allowed", allowed.to_string())],
        ),
        Encoding::Bits { length } => (
            "bytes",
            logical,
            Some(1),
            vec![("length", length.to_string())],
        ),
        Encoding::Array(_) => ("array", None, None, vec![]),
        Encoding::Map { .. } => ("map", None, None, vec![]),
        Encoding::Struct(_) => ("struct", None, None, vec![]),
        // Never written: a value without a schema has no schema JSON.
        Encoding::Dynamic => ("string", None, None, vec![]),
    }
}

/// Appends a Connect schema: `{"type":…, [nested], "optional":…, name, version, doc,
/// parameters, default, "field":…}` — the key order Kafka's `JsonConverter` writes. `meta`,
/// when given, replaces the name, version, doc and parameters the encoding implies.
fn write_schema(
    out: &mut Vec<u8>,
    enc: &Encoding,
    optional: bool,
    default: Option<&Datum>,
    meta: Option<&SchemaMeta>,
    field: Option<&str>,
) {
    let (ty, name, version, params) = type_json(enc);
    out.extend_from_slice(b"{\"type\":");
    w::str(out, ty);
    match enc {
        Encoding::Array(items) => {
            out.extend_from_slice(b",\"items\":");
            write_schema_of(out, items, None);
        }
        Encoding::Map { keys, values } => {
            out.extend_from_slice(b",\"keys\":");
            write_schema_of(out, keys, None);
            out.extend_from_slice(b",\"values\":");
            write_schema_of(out, values, None);
        }
        Encoding::Struct(fields) => {
            out.extend_from_slice(b",\"fields\":[");
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                column_schema(out, f);
            }
            out.push(b']');
        }
        Encoding::VariableScaleDecimal => out.extend_from_slice(
            br#","fields":[{"type":"int32","optional":false,"field":"scale"},{"type":"bytes","optional":false,"field":"value"}]"#,
        ),
        Encoding::Point => out.extend_from_slice(
            br#","fields":[{"type":"double","optional":false,"field":"x"},{"type":"double","optional":false,"field":"y"},{"type":"bytes","optional":true,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}]"#,
        ),
        Encoding::Geometry => out.extend_from_slice(
            br#","fields":[{"type":"bytes","optional":false,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}]"#,
        ),
        _ => {}
    }
    out.extend_from_slice(b",\"optional\":");
    out.extend_from_slice(if optional { b"true" } else { b"false" });
    match meta {
        Some(m) => {
            if let Some(name) = &m.name {
                out.extend_from_slice(b",\"name\":");
                w::str(out, name);
            }
            if let Some(v) = m.version {
                out.extend_from_slice(b",\"version\":");
                w::int(out, i64::from(v));
            }
            if let Some(doc) = &m.doc {
                out.extend_from_slice(b",\"doc\":");
                w::str(out, doc);
            }
            write_parameters(out, m.parameters.iter().map(|(k, v)| (&**k, &**v)));
        }
        None => {
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
                Encoding::Geometry => out.extend_from_slice(b",\"doc\":\"Geometry\""),
                _ => {}
            }
            write_parameters(out, params.iter().map(|(k, v)| (*k, v.as_str())));
        }
    }
    if let Some(datum) = default.filter(|d| !d.is_null()) {
        // Schema defaults go through the same writer as values; no placeholder, no batch.
        let mut tmp = Vec::new();
        let values = Values {
            arena: &[],
            keys: None,
            placeholder: b"",
            replace_null: false,
        };
        if values
            .write_value(&mut tmp, value_column(), enc, datum)
            .is_ok()
        {
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

fn write_parameters<'a>(out: &mut Vec<u8>, params: impl Iterator<Item = (&'a str, &'a str)>) {
    let mut first = true;
    for (k, v) in params {
        out.extend_from_slice(if first { b",\"parameters\":{" } else { b"," });
        first = false;
        w::key(out, k);
        w::str(out, v);
    }
    if !first {
        out.push(b'}');
    }
}

fn write_schema_of(out: &mut Vec<u8>, schema: &Schema, field: Option<&str>) {
    write_schema(
        out,
        &schema.encoding,
        schema.optional,
        schema.default.as_ref(),
        schema.meta.as_deref(),
        field,
    );
}

fn column_schema(out: &mut Vec<u8>, column: &Column) {
    write_schema(
        out,
        &column.encoding,
        column.optional,
        column.default.as_ref(),
        column.meta.as_deref(),
        Some(&column.name),
    );
}

/// The JSON of `schema`, written on first use and kept with it.
pub fn schema_json(schema: &Schema) -> &[u8] {
    schema.json_cache.get_or_init(|| {
        let mut out = Vec::with_capacity(256);
        write_schema_of(&mut out, schema, None);
        out.into_boxed_slice()
    })
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

/// `source_schema`: the source block's schema JSON without its closing `}`.
fn envelope_schema(table: &TableSchema, source_schema: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(b"{\"type\":\"struct\",\"fields\":[");
    row_schema(&mut out, table, "before");
    out.push(b',');
    row_schema(&mut out, table, "after");
    out.push(b',');
    out.extend_from_slice(source_schema);
    out.extend_from_slice(b",\"field\":\"source\"},");
    out.extend_from_slice(TRANSACTION_SCHEMA);
    out.extend_from_slice(br#",{"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"},{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional":true,"field":"ts_ns"}],"optional":false,"name":"#);
    w::str(&mut out, &format!("{}.Envelope", table.schema_name));
    out.extend_from_slice(b",\"version\":2}");
    out
}

const TRANSACTION_SCHEMA: &[u8] = br#"{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":false,"field":"total_order"},{"type":"int64","optional":false,"field":"data_collection_order"}],"optional":true,"name":"event.block","version":1,"field":"transaction"}"#;
