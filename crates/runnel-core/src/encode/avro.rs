//! Avro: a Connect schema as the Avro schema Confluent's `AvroConverter` (its `AvroData`)
//! makes of it, and values as Avro binary datums written straight from a batch's values —
//! no per-row intermediate value, the same physical values the JSON encoder writes (Debezium's
//! `MicroTimestamp` is a `long` of microseconds, a `Decimal` the unscaled bytes, …).
//!
//! The mapping, as `AvroData` with its defaults (`connect.meta.data=true`):
//! - int8/int16 are `int` with `"connect.type"`; int32 `int`, int64 `long`, float32 `float`,
//!   float64 `double`, strings `string`, bytes `bytes`, arrays `array`, maps with string keys
//!   `map`, other maps an array of `{key, value}` records;
//! - a struct is a `record` named by its Connect name (`rig.public.orders.Value` is record
//!   `Value` in namespace `rig.public.orders`), unnamed ones `ConnectDefault`, `ConnectDefault2`,
//!   … in `io.confluent.connect.avro`; a record name seen before is referred to by name;
//! - an optional schema is the union `["null", T]`, an optional field has `"default": null`;
//! - named Connect types keep `"connect.name"`, `"connect.version"` and `"connect.parameters"`;
//!   `Decimal` is `bytes` with `"logicalType": "decimal"` (precision from
//!   `connect.decimal.precision`, 64 without it), Connect's `Date`, `Time` and `Timestamp` are
//!   `date`, `time-millis` and `timestamp-millis`.
//!
//! Where runnel goes further: names that Avro does not allow (`my-table`, `1col`) are written
//! with `_` in place of each character Avro refuses (Confluent fails unless
//! `scrub.invalid.names=true`, which does the same).

use std::collections::HashSet;

use serde_json::{Map, Value as J, json};

use super::json::{
    bits_little_endian, date_days, numeric_to_f64, point_wkb, timestamp_micros, type_json,
    write_iso_interval,
};
use crate::datum::{Datum, NEG_INFINITY, Numeric, POS_INFINITY};
use crate::decimal;
use crate::error::{Error, Result};
use crate::event::Batch;
use crate::schema::{BinaryMode, Column, Encoding, Schema, SchemaMeta};
use crate::temporal;

/// Debezium's `unavailable.value.placeholder` default: an unchanged TOASTed value.
const PLACEHOLDER: &[u8] = b"__debezium_unavailable_value";

/// The Avro schema (JSON) of a record value or key of `schema`.
pub fn schema_of(schema: &Schema) -> String {
    let mut names = Names::default();
    let ty = avro_type(
        &schema.encoding,
        schema.meta.as_deref(),
        schema.optional,
        &mut names,
    );
    ty.to_string()
}

#[derive(Default)]
struct Names {
    defined: HashSet<String>,
    unnamed: u32,
}

impl Names {
    /// `(namespace, name)` of a record with Connect name `connect`; `None` when that full name
    /// was defined earlier in the schema (refer to it by name).
    fn record(&mut self, connect: Option<&str>) -> (Option<String>, String, bool) {
        let full = match connect {
            Some(n) => n.split('.').map(avro_name).collect::<Vec<_>>().join("."),
            None => {
                self.unnamed += 1;
                let n = if self.unnamed == 1 {
                    "ConnectDefault".to_string()
                } else {
                    format!("ConnectDefault{}", self.unnamed)
                };
                format!("io.confluent.connect.avro.{n}")
            }
        };
        let seen = !self.defined.insert(full.clone());
        match full.rsplit_once('.') {
            Some((ns, n)) => (Some(ns.to_string()), n.to_string(), seen),
            None => (None, full, seen),
        }
    }
}

/// A name Avro accepts: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn avro_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn avro_type(enc: &Encoding, meta: Option<&SchemaMeta>, optional: bool, names: &mut Names) -> J {
    let base = base_type(enc, meta, names);
    if optional {
        json!(["null", base])
    } else {
        base
    }
}

fn base_type(enc: &Encoding, meta: Option<&SchemaMeta>, names: &mut Names) -> J {
    let (connect_ty, implied_name, implied_version, implied_params) = type_json(enc);
    let name = meta.map_or(implied_name.map(str::to_string), |m| {
        m.name.as_deref().map(str::to_string)
    });
    let version = meta.map_or(implied_version.map(i64::from), |m| m.version.map(i64::from));
    let params: Vec<(String, String)> = match meta {
        Some(m) => m
            .parameters
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        None => implied_params
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    };
    let doc = meta.and_then(|m| m.doc.as_deref().map(str::to_string));
    let mut obj = Map::new();
    match enc {
        Encoding::Struct(_)
        | Encoding::VariableScaleDecimal
        | Encoding::Point
        | Encoding::Geometry => {
            let (namespace, rec_name, seen) = names.record(name.as_deref());
            if seen {
                return J::String(match namespace {
                    Some(ns) => format!("{ns}.{rec_name}"),
                    None => rec_name,
                });
            }
            obj.insert("type".into(), json!("record"));
            obj.insert("name".into(), json!(rec_name));
            if let Some(ns) = namespace {
                obj.insert("namespace".into(), json!(ns));
            }
            let fields: Vec<J> = match enc {
                Encoding::Struct(cols) => cols.iter().map(|c| field(c, names)).collect(),
                Encoding::VariableScaleDecimal => vec![
                    json!({"name": "scale", "type": "int"}),
                    json!({"name": "value", "type": "bytes"}),
                ],
                Encoding::Geometry => vec![
                    json!({"name": "wkb", "type": "bytes"}),
                    json!({"name": "srid", "type": ["null", "int"], "default": null}),
                ],
                _ => vec![
                    json!({"name": "x", "type": "double"}),
                    json!({"name": "y", "type": "double"}),
                    json!({"name": "wkb", "type": ["null", "bytes"], "default": null}),
                    json!({"name": "srid", "type": ["null", "int"], "default": null}),
                ],
            };
            obj.insert("fields".into(), J::Array(fields));
            if let Some(d) = doc {
                obj.insert("doc".into(), json!(d));
            }
            if let Some(v) = version {
                obj.insert("connect.version".into(), json!(v));
            }
            if let Some(n) = &name {
                obj.insert("connect.name".into(), json!(n));
            }
            return J::Object(obj);
        }
        Encoding::Array(items) => {
            obj.insert("type".into(), json!("array"));
            obj.insert(
                "items".into(),
                avro_type(
                    &items.encoding,
                    items.meta.as_deref(),
                    items.optional,
                    names,
                ),
            );
        }
        Encoding::Map { keys, values } if matches!(keys.encoding, Encoding::String) => {
            obj.insert("type".into(), json!("map"));
            obj.insert(
                "values".into(),
                avro_type(
                    &values.encoding,
                    values.meta.as_deref(),
                    values.optional,
                    names,
                ),
            );
        }
        Encoding::Map { keys, values } => {
            let (namespace, rec_name, seen) =
                names.record(Some("io.confluent.connect.avro.MapEntry"));
            let entry = if seen {
                json!("io.confluent.connect.avro.MapEntry")
            } else {
                json!({
                    "type": "record",
                    "name": rec_name,
                    "namespace": namespace,
                    "fields": [
                        {"name": "key", "type": avro_type(&keys.encoding, keys.meta.as_deref(), keys.optional, names)},
                        {"name": "value", "type": avro_type(&values.encoding, values.meta.as_deref(), values.optional, names)},
                    ],
                })
            };
            obj.insert("type".into(), json!("array"));
            obj.insert("items".into(), entry);
        }
        _ => {
            let ty = match connect_ty {
                "boolean" => "boolean",
                "int8" | "int16" | "int32" => "int",
                "int64" => "long",
                "float" => "float",
                "double" => "double",
                "bytes" => "bytes",
                _ => "string",
            };
            obj.insert("type".into(), json!(ty));
            if matches!(connect_ty, "int8" | "int16") {
                obj.insert("connect.type".into(), json!(connect_ty));
            }
        }
    }
    if let Some(d) = doc {
        obj.insert("connect.doc".into(), json!(d));
    }
    if let Some(v) = version {
        obj.insert("connect.version".into(), json!(v));
    }
    if !params.is_empty() {
        let p: Map<String, J> = params.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        obj.insert("connect.parameters".into(), J::Object(p));
    }
    if let Some(n) = &name {
        obj.insert("connect.name".into(), json!(n));
        match n.as_str() {
            "org.apache.kafka.connect.data.Decimal" => {
                let param = |k: &str| params.iter().find(|(pk, _)| pk == k).map(|(_, v)| v);
                let scale: u64 = param("scale").and_then(|s| s.parse().ok()).unwrap_or(0);
                let precision: u64 = param("connect.decimal.precision")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(64);
                obj.insert("logicalType".into(), json!("decimal"));
                obj.insert("precision".into(), json!(precision));
                obj.insert("scale".into(), json!(scale));
            }
            "org.apache.kafka.connect.data.Date" => {
                obj.insert("logicalType".into(), json!("date"));
            }
            "org.apache.kafka.connect.data.Time" => {
                obj.insert("logicalType".into(), json!("time-millis"));
            }
            "org.apache.kafka.connect.data.Timestamp" => {
                obj.insert("logicalType".into(), json!("timestamp-millis"));
            }
            _ => {}
        }
    }
    // A primitive without properties is its bare name (`"int"`), as Avro prints it.
    if obj.len() == 1
        && let Some(J::String(t)) = obj.get("type")
    {
        return J::String(t.clone());
    }
    J::Object(obj)
}

fn field(c: &Column, names: &mut Names) -> J {
    let mut f = Map::new();
    f.insert("name".into(), json!(avro_name(&c.name)));
    f.insert(
        "type".into(),
        avro_type(&c.encoding, c.meta.as_deref(), c.optional, names),
    );
    if c.optional {
        f.insert("default".into(), J::Null);
    }
    J::Object(f)
}

// ---- datums ---------------------------------------------------------------------------------

/// Appends the Avro binary datum of `datum`, a value of `schema`.
pub fn write_value(buf: &mut Vec<u8>, batch: &Batch, schema: &Schema, datum: &Datum) -> Result<()> {
    Datums { batch }.write(
        buf,
        "value",
        &schema.encoding,
        schema.optional,
        schema.default.as_ref(),
        datum,
    )
}

/// Appends the Avro binary datum of a record of `columns` whose field values are `values`
/// (a row that is not a struct of the batch: a projection of fields).
pub fn write_row(
    buf: &mut Vec<u8>,
    batch: &Batch,
    columns: &[Column],
    values: &[Datum],
) -> Result<()> {
    let d = Datums { batch };
    for (i, c) in columns.iter().enumerate() {
        let v = values.get(i).unwrap_or(&Datum::Null);
        d.write(buf, &c.name, &c.encoding, c.optional, c.default.as_ref(), v)?;
    }
    Ok(())
}

/// Avro's variable-length zig-zag `long` (and `int`).
/// A spatial reference id: the union `["null", "int"]`.
fn write_srid(buf: &mut Vec<u8>, srid: Option<i32>) {
    match srid {
        Some(s) => {
            buf.push(2);
            write_long(buf, i64::from(s));
        }
        None => buf.push(0),
    }
}

pub fn write_long(buf: &mut Vec<u8>, v: i64) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        buf.push((n as u8) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

/// Avro `bytes` and `string`: the length, then the bytes.
pub fn write_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    write_long(buf, b.len() as i64);
    buf.extend_from_slice(b);
}

/// Reads a `long` at `*at`, moving past it.
pub fn read_long(data: &[u8], at: &mut usize) -> Option<i64> {
    let mut n: u64 = 0;
    let mut shift = 0;
    loop {
        let b = *data.get(*at)?;
        *at += 1;
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    Some(((n >> 1) as i64) ^ -((n & 1) as i64))
}

struct Datums<'a> {
    batch: &'a Batch,
}

impl Datums<'_> {
    fn write(
        &self,
        buf: &mut Vec<u8>,
        name: &str,
        enc: &Encoding,
        optional: bool,
        default: Option<&Datum>,
        datum: &Datum,
    ) -> Result<()> {
        if optional {
            if datum.is_null() {
                buf.push(0);
                return Ok(());
            }
            buf.push(2); // union branch 1, zig-zag
        } else if datum.is_null() {
            // A non-optional field without a value (a key-only old row): its default, or the
            // type's zero, as Debezium fills such fields.
            return match default.filter(|d| !d.is_null()) {
                Some(d) => self.value(buf, name, enc, d),
                None => self.zero(buf, enc),
            };
        }
        self.value(buf, name, enc, datum)
    }

    fn value(&self, buf: &mut Vec<u8>, name: &str, enc: &Encoding, datum: &Datum) -> Result<()> {
        let mismatch = || {
            Error::conversion(format!(
                "field \"{name}\": cannot write {datum:?} as Avro of {enc:?}"
            ))
        };
        match (enc, datum) {
            (_, Datum::Unavailable) => self.unavailable(buf, enc)?,
            (Encoding::Boolean, Datum::Bool(b)) => buf.push(u8::from(*b)),
            (Encoding::Boolean, Datum::Bits { len: 1, bits }) => {
                buf.push(u8::from(bits.first().is_some_and(|b| b & 0x80 != 0)))
            }
            (
                Encoding::Int8 | Encoding::Int16 | Encoding::Int32 | Encoding::Int64,
                Datum::Int(v),
            ) => write_long(buf, *v),
            (Encoding::Float32, Datum::F32(v)) => buf.extend_from_slice(&v.to_le_bytes()),
            (Encoding::Float32, Datum::F64(v)) => buf.extend_from_slice(&(*v as f32).to_le_bytes()),
            (Encoding::Float64, Datum::F64(v)) => buf.extend_from_slice(&v.to_le_bytes()),
            (Encoding::Float64, Datum::F32(v)) => {
                buf.extend_from_slice(&f64::from(*v).to_le_bytes())
            }
            (
                Encoding::String
                | Encoding::Uuid
                | Encoding::Json
                | Encoding::Xml
                | Encoding::Enum { .. }
                | Encoding::Ltree
                | Encoding::ZonedTimestamp { .. }
                | Encoding::ZonedTime
                | Encoding::IntervalString
                | Encoding::DecimalString,
                Datum::Text(t),
            ) => write_bytes(buf, t),
            (Encoding::Binary(BinaryMode::Bytes), Datum::Bytes(b)) => write_bytes(buf, b),
            (Encoding::Binary(mode), Datum::Bytes(b)) => {
                // binary.handling.mode=base64/hex: the schema says string.
                let mut text = Vec::with_capacity(b.len() * 2 + 2);
                match mode {
                    BinaryMode::Hex => super::writer::hex(&mut text, b),
                    BinaryMode::Base64UrlSafe => super::writer::base64_url(&mut text, b),
                    _ => super::writer::base64(&mut text, b),
                }
                // The JSON writers quote: the text is between the quotes.
                write_bytes(buf, text.get(1..text.len() - 1).unwrap_or_default());
            }
            (Encoding::Decimal { scale, .. }, Datum::Numeric(Numeric::Finite(t))) => {
                let parsed = decimal::parse(t).ok_or_else(mismatch)?;
                let mut bytes = Vec::with_capacity(16);
                parsed.unscaled_bytes(*scale, &mut bytes);
                write_bytes(buf, &bytes);
            }
            (Encoding::VariableScaleDecimal, Datum::Numeric(Numeric::Finite(t))) => {
                let parsed = decimal::parse(t).ok_or_else(mismatch)?;
                let scale = parsed.trimmed_scale();
                let mut bytes = Vec::with_capacity(16);
                parsed.unscaled_bytes(scale, &mut bytes);
                write_long(buf, i64::from(scale));
                write_bytes(buf, &bytes);
            }
            (Encoding::DecimalString, Datum::Numeric(n)) => write_bytes(
                buf,
                match n {
                    Numeric::Finite(t) => t,
                    Numeric::NaN => b"NaN",
                    Numeric::PosInfinity => b"Infinity",
                    Numeric::NegInfinity => b"-Infinity",
                },
            ),
            (Encoding::DecimalDouble, Datum::Numeric(n)) => {
                buf.extend_from_slice(&numeric_to_f64(n).to_le_bytes())
            }
            (Encoding::Decimal { .. } | Encoding::VariableScaleDecimal, Datum::Numeric(_)) => {
                return Err(Error::conversion(format!(
                    "field \"{name}\" holds NaN or ±Infinity, which a Connect Decimal cannot \
                     hold; set decimal.handling.mode=string (or double)"
                )));
            }
            (Encoding::Date | Encoding::ConnectDate, Datum::Date(d)) => {
                write_long(buf, date_days(*d))
            }
            (Encoding::Date | Encoding::ConnectDate, Datum::Int(d)) => write_long(buf, *d),
            (Encoding::MicroTime, Datum::Time(t)) => write_long(buf, *t),
            (Encoding::MilliTime | Encoding::ConnectTime, Datum::Time(t)) => {
                write_long(buf, t / 1000)
            }
            (Encoding::MicroTimestamp, Datum::Timestamp(t)) => {
                write_long(buf, timestamp_micros(*t))
            }
            (Encoding::MilliTimestamp | Encoding::ConnectTimestamp, Datum::Timestamp(t)) => {
                write_long(buf, timestamp_micros(*t).div_euclid(1000))
            }
            (
                Encoding::MilliTimestamp | Encoding::ConnectTimestamp,
                Datum::FarTimestamp {
                    days,
                    micros_of_day,
                    ..
                },
            ) => write_long(buf, days * 86_400_000 + micros_of_day / 1000),
            (
                Encoding::MicroTime
                | Encoding::MilliTime
                | Encoding::ConnectTime
                | Encoding::MicroTimestamp
                | Encoding::MilliTimestamp
                | Encoding::ConnectTimestamp
                | Encoding::MicroDuration,
                Datum::Int(v),
            ) => write_long(buf, *v),
            (Encoding::ZonedTimestamp { fraction }, Datum::TimestampTz(t)) => {
                let mut text = Vec::with_capacity(32);
                match *t {
                    POS_INFINITY => text.extend_from_slice(b"infinity"),
                    NEG_INFINITY => text.extend_from_slice(b"-infinity"),
                    t => temporal::write_iso_utc(&mut text, t, *fraction),
                }
                write_bytes(buf, &text);
            }
            (
                Encoding::ZonedTimestamp { fraction },
                Datum::FarTimestamp {
                    days,
                    micros_of_day,
                    ..
                },
            ) => {
                let mut text = Vec::with_capacity(32);
                temporal::write_iso_utc_parts(&mut text, *days, *micros_of_day, *fraction);
                write_bytes(buf, &text);
            }
            (
                Encoding::ZonedTime,
                Datum::TimeTz {
                    micros,
                    offset_secs,
                },
            ) => {
                let mut text = Vec::with_capacity(24);
                temporal::write_zoned_time(&mut text, *micros, *offset_secs);
                write_bytes(buf, &text);
            }
            (
                Encoding::MicroDuration,
                Datum::Interval {
                    months,
                    days,
                    micros,
                },
            ) => {
                let v = temporal::interval_micros(*months, *days, *micros).ok_or_else(|| {
                    Error::conversion(format!(
                        "field \"{name}\": the interval is longer than MicroDuration holds; \
                         set interval.handling.mode=string"
                    ))
                })?;
                write_long(buf, v);
            }
            (
                Encoding::IntervalString,
                Datum::Interval {
                    months,
                    days,
                    micros,
                },
            ) => {
                let mut text = Vec::with_capacity(32);
                write_iso_interval(&mut text, *months, *days, *micros);
                write_bytes(buf, &text);
            }
            (Encoding::Bits { .. }, Datum::Bits { len, bits }) => {
                write_bytes(buf, &bits_little_endian(*len, bits))
            }
            (Encoding::Bits { .. }, Datum::Bytes(b)) => write_bytes(buf, b),
            (Encoding::Point, Datum::Point { x, y, srid }) => {
                buf.extend_from_slice(&x.to_le_bytes());
                buf.extend_from_slice(&y.to_le_bytes());
                buf.push(2);
                write_bytes(buf, &point_wkb(*x, *y));
                write_srid(buf, *srid);
            }
            (Encoding::Geometry, Datum::Geometry { srid, wkb }) => {
                write_bytes(buf, wkb);
                write_srid(buf, *srid);
            }
            (Encoding::Array(items), Datum::Array(values)) => {
                if !values.is_empty() {
                    write_long(buf, values.len() as i64);
                    for v in values.iter() {
                        self.write(
                            buf,
                            name,
                            &items.encoding,
                            items.optional,
                            items.default.as_ref(),
                            v,
                        )?;
                    }
                }
                buf.push(0);
            }
            (Encoding::Struct(columns), Datum::Struct(range)) => {
                let values = self.batch.fields(range);
                for (i, c) in columns.iter().enumerate() {
                    let v = values.get(i).unwrap_or(&Datum::Null);
                    self.write(buf, &c.name, &c.encoding, c.optional, c.default.as_ref(), v)?;
                }
            }
            (Encoding::Map { keys, values }, Datum::Map(range)) => {
                let kv = self.batch.fields(range);
                let n = kv.len() / 2;
                if n > 0 {
                    write_long(buf, n as i64);
                    for pair in kv.chunks_exact(2) {
                        // A map with string keys writes each key as a string; other maps are
                        // arrays of {key, value} records: the same bytes, key then value.
                        self.write(
                            buf,
                            name,
                            &keys.encoding,
                            keys.optional && !matches!(keys.encoding, Encoding::String),
                            None,
                            &pair[0],
                        )?;
                        self.write(
                            buf,
                            name,
                            &values.encoding,
                            values.optional,
                            values.default.as_ref(),
                            &pair[1],
                        )?;
                    }
                }
                buf.push(0);
            }
            (Encoding::Dynamic, _) => {
                return Err(Error::config(
                    "Avro needs values with a schema: keep value.converter.schemas.enable=true",
                ));
            }
            _ => return Err(mismatch()),
        }
        Ok(())
    }

    /// The placeholder Debezium writes for an unchanged TOASTed value.
    fn unavailable(&self, buf: &mut Vec<u8>, enc: &Encoding) -> Result<()> {
        match enc {
            Encoding::Array(items) => {
                write_long(buf, 1);
                if items.optional {
                    buf.push(2);
                }
                self.unavailable(buf, &items.encoding)?;
                buf.push(0);
            }
            Encoding::String
            | Encoding::Binary(BinaryMode::Bytes)
            | Encoding::Bits { .. }
            | Encoding::Json
            | Encoding::Xml
            | Encoding::Uuid
            | Encoding::Enum { .. }
            | Encoding::Ltree => write_bytes(buf, PLACEHOLDER),
            _ => {
                return Err(Error::conversion(format!(
                    "an unchanged TOASTed value of {enc:?} has no Avro placeholder; set the \
                     table's REPLICA IDENTITY FULL"
                )));
            }
        }
        Ok(())
    }

    /// The type's zero value, for a null in a non-optional field without a default.
    fn zero(&self, buf: &mut Vec<u8>, enc: &Encoding) -> Result<()> {
        match enc {
            Encoding::Boolean => buf.push(0),
            Encoding::Float32 => buf.extend_from_slice(&0f32.to_le_bytes()),
            Encoding::Float64 | Encoding::DecimalDouble => {
                buf.extend_from_slice(&0f64.to_le_bytes())
            }
            Encoding::Decimal { .. } => write_bytes(buf, &[0]),
            Encoding::VariableScaleDecimal => {
                buf.push(0);
                write_bytes(buf, &[0]);
            }
            Encoding::ZonedTimestamp { .. } => write_bytes(buf, b"1970-01-01T00:00:00Z"),
            Encoding::ZonedTime => write_bytes(buf, b"00:00:00Z"),
            Encoding::Point => {
                buf.extend_from_slice(&0f64.to_le_bytes());
                buf.extend_from_slice(&0f64.to_le_bytes());
                buf.extend_from_slice(&[0, 0]);
            }
            Encoding::Geometry => buf.extend_from_slice(&[0, 0]),
            Encoding::Struct(columns) => {
                for c in columns.iter() {
                    self.write(
                        buf,
                        &c.name,
                        &c.encoding,
                        c.optional,
                        c.default.as_ref(),
                        &Datum::Null,
                    )?;
                }
            }
            Encoding::Dynamic => {
                return Err(Error::config(
                    "Avro needs values with a schema: keep value.converter.schemas.enable=true",
                ));
            }
            // Integers, times, dates: 0. Strings, bytes: empty. Arrays, maps: no items.
            _ => buf.push(0),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longs_are_zigzag_varints() {
        for (v, bytes) in [
            (0i64, vec![0u8]),
            (-1, vec![1]),
            (1, vec![2]),
            (-64, vec![0x7f]),
            (64, vec![0x80, 0x01]),
        ] {
            let mut b = Vec::new();
            write_long(&mut b, v);
            assert_eq!(b, bytes, "{v}");
            let mut at = 0;
            assert_eq!(read_long(&b, &mut at), Some(v));
        }
        let mut b = Vec::new();
        write_long(&mut b, i64::MIN);
        let mut at = 0;
        assert_eq!(read_long(&b, &mut at), Some(i64::MIN));
    }

    #[test]
    fn a_debezium_value_schema_maps_as_confluents_avro_data() {
        let schema = Schema::structure(
            "rig.public.orders-x.Value",
            vec![
                Column::new("id", Encoding::Int32, false),
                Column::new(
                    "amount",
                    Encoding::Decimal {
                        scale: 2,
                        precision: Some(10),
                    },
                    true,
                ),
                Column::new("at", Encoding::MicroTimestamp, true),
                Column::new("small", Encoding::Int16, false),
            ],
            true,
        );
        let j: J = serde_json::from_str(&schema_of(&schema)).unwrap();
        assert_eq!(j[0], json!("null"));
        let rec = &j[1];
        assert_eq!(rec["type"], "record");
        assert_eq!(rec["name"], "Value");
        assert_eq!(rec["namespace"], "rig.public.orders_x");
        assert_eq!(rec["fields"][0], json!({"name": "id", "type": "int"}));
        let amount = &rec["fields"][1];
        assert_eq!(amount["default"], J::Null);
        assert_eq!(amount["type"][1]["logicalType"], "decimal");
        assert_eq!(amount["type"][1]["precision"], 10);
        assert_eq!(amount["type"][1]["scale"], 2);
        assert_eq!(
            rec["fields"][2]["type"][1]["connect.name"],
            "io.debezium.time.MicroTimestamp"
        );
        assert_eq!(rec["fields"][3]["type"]["connect.type"], "int16");
    }
}
