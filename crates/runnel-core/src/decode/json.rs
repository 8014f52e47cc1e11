//! Kafka Connect's `JsonConverter` on the way in: `{"schema": …, "payload": …}` (or plain JSON
//! with `schemas.enable=false`) to a [`Payload`] of typed values.
//!
//! A schema is parsed once and kept by its JSON bytes, so the records of a topic share one
//! `Arc<Schema>`. Payloads are read in one pass guided by the schema (no JSON tree), struct and
//! map values go into the batch's value vector, and text values are slices of the message's
//! bytes when they need no unescaping. Logical types become the values a source would have
//! produced: `Decimal` bytes and `VariableScaleDecimal` become exact decimals, Connect's and
//! Debezium's dates, times and timestamps become dates, times and timestamps, so a sink reads a
//! `MicroTimestamp` from Kafka exactly as from PostgreSQL; the schema's own name, version,
//! parameters and doc are kept, so encoding a decoded record gives back the same JSON.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::datum::{Datum, Numeric};
use crate::decimal;
use crate::error::{Error, Result};
use crate::event::Payload;
use crate::schema::{BinaryMode, Column, Encoding, Schema, SchemaMeta};

/// Schemas kept per decoder (a connector rarely reads more distinct schemas at once).
const CACHED_SCHEMAS: usize = 64;

/// What `JsonConverter` says when `schemas.enable=true` meets something else.
const ENVELOPE_REQUIRED: &str = "JsonConverter with schemas.enable requires \"schema\" and \
     \"payload\" fields and may not contain additional fields. If you are trying to deserialize \
     plain JSON data, set schemas.enable=false in your converter configuration.";

pub struct JsonDecoder {
    schemas: bool,
    /// Parsed schemas by their JSON, most recently used last.
    cache: Vec<(Box<[u8]>, Arc<Schema>)>,
}

impl JsonDecoder {
    /// `schemas`: the converter's `schemas.enable`.
    pub fn new(schemas: bool) -> Self {
        Self {
            schemas,
            cache: Vec::new(),
        }
    }

    /// Decodes one key or value (`bytes`: the whole of it); struct and map values are appended
    /// to `datums`. The error says why `JsonConverter` would reject it.
    pub fn decode(&mut self, bytes: &Bytes, datums: &mut Vec<Datum>) -> Result<Payload> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| Error::conversion(format!("not valid UTF-8 JSON: {e}")))?;
        if !self.schemas {
            let datum = read(text, Ty::DYNAMIC, datums, Some(bytes))?;
            return Ok(Payload::Value {
                schema: None,
                datum,
            });
        }
        let parts: HashMap<&str, &RawValue> = serde_json::from_str(text)
            .map_err(|e| Error::conversion(format!("{ENVELOPE_REQUIRED} ({e})")))?;
        let (Some(schema), Some(payload), 2) =
            (parts.get("schema"), parts.get("payload"), parts.len())
        else {
            return Err(Error::conversion(ENVELOPE_REQUIRED));
        };
        let schema = match schema.get() {
            "null" => None,
            json => Some(self.schema(json)?),
        };
        let ty = schema.as_deref().map_or(Ty::DYNAMIC, Ty::of);
        let datum = read(payload.get(), ty, datums, Some(bytes))?;
        Ok(Payload::Value { schema, datum })
    }

    fn schema(&mut self, json: &str) -> Result<Arc<Schema>> {
        if let Some(i) = self
            .cache
            .iter()
            .rposition(|(bytes, _)| **bytes == *json.as_bytes())
        {
            let hit = self.cache.remove(i);
            let schema = hit.1.clone();
            self.cache.push(hit);
            return Ok(schema);
        }
        let value: Value = serde_json::from_str(json)
            .map_err(|e| Error::conversion(format!("the schema is not valid JSON: {e}")))?;
        let schema = Arc::new(parse_schema(&value).map_err(Error::conversion)?);
        if self.cache.len() >= CACHED_SCHEMAS {
            self.cache.remove(0);
        }
        self.cache.push((json.as_bytes().into(), schema.clone()));
        Ok(schema)
    }
}

/// Reads `json` as a value of `ty`.
fn read(json: &str, ty: Ty<'_>, datums: &mut Vec<Datum>, base: Option<&Bytes>) -> Result<Datum> {
    let mut de = serde_json::Deserializer::from_str(json);
    let datum = ValueSeed {
        ty,
        arena: datums,
        base,
    }
    .deserialize(&mut de)
    .and_then(|d| de.end().map(|()| d))
    .map_err(|e| Error::conversion(format!("cannot convert the JSON: {e}")))?;
    Ok(datum)
}

/// A Connect schema from its `JsonConverter` JSON.
pub fn parse_schema(v: &Value) -> std::result::Result<Schema, String> {
    let o = v.as_object().ok_or("a schema must be a JSON object")?;
    let ty = o
        .get("type")
        .and_then(Value::as_str)
        .ok_or("Schema must contain 'type' field")?;
    let name = o.get("name").and_then(Value::as_str);
    let version = o.get("version").and_then(Value::as_i64);
    let doc = o.get("doc").and_then(Value::as_str);
    let parameters: Vec<(Arc<str>, Arc<str>)> = o
        .get("parameters")
        .and_then(Value::as_object)
        .map(|p| {
            p.iter()
                .map(|(k, v)| (k.as_str().into(), v.as_str().unwrap_or_default().into()))
                .collect()
        })
        .unwrap_or_default();
    let param = |key: &str| {
        parameters
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| v.clone())
    };
    let number = |key: &str| param(key).and_then(|v| v.parse::<u32>().ok());
    let sub = |key: &str| -> std::result::Result<Arc<Schema>, String> {
        o.get(key)
            .ok_or_else(|| format!("a {ty} schema needs \"{key}\""))
            .and_then(parse_schema)
            .map(Arc::new)
    };
    let encoding = match (ty, name) {
        ("int8", _) => Encoding::Int8,
        ("int16", _) => Encoding::Int16,
        ("int32", Some("io.debezium.time.Date")) => Encoding::Date,
        ("int32", Some("org.apache.kafka.connect.data.Date")) => Encoding::ConnectDate,
        ("int32", Some("io.debezium.time.Time")) => Encoding::MilliTime,
        ("int32", Some("org.apache.kafka.connect.data.Time")) => Encoding::ConnectTime,
        ("int32", _) => Encoding::Int32,
        ("int64", Some("io.debezium.time.MicroTime")) => Encoding::MicroTime,
        ("int64", Some("io.debezium.time.Timestamp")) => Encoding::MilliTimestamp,
        ("int64", Some("io.debezium.time.MicroTimestamp")) => Encoding::MicroTimestamp,
        ("int64", Some("org.apache.kafka.connect.data.Timestamp")) => Encoding::ConnectTimestamp,
        ("int64", Some("io.debezium.time.MicroDuration")) => Encoding::MicroDuration,
        ("int64", _) => Encoding::Int64,
        ("float", _) => Encoding::Float32,
        ("double", _) => Encoding::Float64,
        ("boolean", _) => Encoding::Boolean,
        ("string", Some("io.debezium.data.Uuid")) => Encoding::Uuid,
        ("string", Some("io.debezium.data.Json")) => Encoding::Json,
        ("string", Some("io.debezium.data.Xml")) => Encoding::Xml,
        ("string", Some("io.debezium.data.Ltree")) => Encoding::Ltree,
        ("string", Some("io.debezium.data.Enum")) => Encoding::Enum {
            allowed: param("allowed").unwrap_or_else(|| "".into()),
        },
        ("string", _) => Encoding::String,
        ("bytes", Some("org.apache.kafka.connect.data.Decimal")) => Encoding::Decimal {
            scale: number("scale").ok_or("a Decimal schema needs a \"scale\" parameter")?,
            precision: number("connect.decimal.precision"),
        },
        ("bytes", Some("io.debezium.data.Bits")) => Encoding::Bits {
            length: number("length").unwrap_or(0),
        },
        ("bytes", _) => Encoding::Binary(BinaryMode::Bytes),
        ("array", _) => Encoding::Array(sub("items")?),
        ("map", _) => Encoding::Map {
            keys: sub("keys")?,
            values: sub("values")?,
        },
        ("struct", Some("io.debezium.data.VariableScaleDecimal")) => Encoding::VariableScaleDecimal,
        ("struct", Some("io.debezium.data.geometry.Point")) => Encoding::Point,
        ("struct", Some("io.debezium.data.geometry.Geometry")) => Encoding::Geometry,
        ("struct", _) => {
            let fields = o
                .get("fields")
                .and_then(Value::as_array)
                .ok_or("a struct schema needs \"fields\"")?;
            let mut columns = Vec::with_capacity(fields.len());
            for f in fields {
                let field = f
                    .get("field")
                    .and_then(Value::as_str)
                    .ok_or("a struct field needs \"field\", its name")?;
                let mut column = Column::of(field, &parse_schema(f)?);
                column.type_name = f.get("type").and_then(Value::as_str).unwrap_or("").into();
                columns.push(column);
            }
            Encoding::Struct(columns.into())
        }
        (other, _) => return Err(format!("Unknown schema type: {other}")),
    };
    let mut schema = Schema::new(
        encoding,
        o.get("optional").and_then(Value::as_bool).unwrap_or(false),
    );
    if name.is_some() || version.is_some() || doc.is_some() || !parameters.is_empty() {
        schema.meta = Some(Arc::new(SchemaMeta {
            name: name.map(Into::into),
            version: version.map(|v| v as i32),
            doc: doc.map(Into::into),
            parameters,
        }));
    }
    if let Some(default) = o.get("default").filter(|d| !d.is_null()) {
        // Defaults of structs and maps would need a batch to live in; Debezium writes none.
        let mut scratch = Vec::new();
        let datum = ValueSeed {
            ty: Ty::of(&schema),
            arena: &mut scratch,
            base: None,
        }
        .deserialize(default)
        .map_err(|e| format!("invalid default value: {e}"))?;
        if !matches!(datum, Datum::Struct(_) | Datum::Map(_)) {
            schema.default = Some(datum);
        }
    }
    Ok(schema)
}

/// The type a value is read as.
#[derive(Clone, Copy)]
struct Ty<'a> {
    enc: &'a Encoding,
    optional: bool,
    default: Option<&'a Datum>,
}

impl<'a> Ty<'a> {
    const DYNAMIC: Ty<'static> = Ty {
        enc: &Encoding::Dynamic,
        optional: true,
        default: None,
    };

    fn of(s: &'a Schema) -> Self {
        Self {
            enc: &s.encoding,
            optional: s.optional,
            default: s.default.as_ref(),
        }
    }

    fn field(c: &'a Column) -> Self {
        Self {
            enc: &c.encoding,
            optional: c.optional,
            default: c.default.as_ref(),
        }
    }

    /// Kafka Connect's treatment of a missing or null value: the default, else null when
    /// optional, else an error.
    fn null<E: de::Error>(self) -> std::result::Result<Datum, E> {
        match self.default {
            Some(d) => Ok(d.clone()),
            None if self.optional => Ok(Datum::Null),
            None => Err(E::custom(format!(
                "Invalid null value for required {} field",
                type_name(self.enc)
            ))),
        }
    }
}

fn type_name(enc: &Encoding) -> &'static str {
    match enc {
        Encoding::Boolean => "BOOLEAN",
        Encoding::Int8 => "INT8",
        Encoding::Int16 => "INT16",
        Encoding::Int32
        | Encoding::Date
        | Encoding::ConnectDate
        | Encoding::MilliTime
        | Encoding::ConnectTime => "INT32",
        Encoding::Int64
        | Encoding::MicroTime
        | Encoding::MilliTimestamp
        | Encoding::MicroTimestamp
        | Encoding::ConnectTimestamp
        | Encoding::MicroDuration => "INT64",
        Encoding::Float32 => "FLOAT32",
        Encoding::Float64 | Encoding::DecimalDouble => "FLOAT64",
        Encoding::Binary(BinaryMode::Bytes) | Encoding::Decimal { .. } | Encoding::Bits { .. } => {
            "BYTES"
        }
        Encoding::Array(_) => "ARRAY",
        Encoding::Map { .. } => "MAP",
        Encoding::Struct(_)
        | Encoding::VariableScaleDecimal
        | Encoding::Point
        | Encoding::Geometry => "STRUCT",
        _ => "STRING",
    }
}

/// Reads one value of `ty`, appending struct and map fields to `arena`.
struct ValueSeed<'a, 'b> {
    ty: Ty<'a>,
    arena: &'b mut Vec<Datum>,
    /// The message the JSON is a slice of: unescaped strings become slices of it.
    base: Option<&'b Bytes>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = Datum;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Datum, D::Error> {
        d.deserialize_any(self)
    }
}

impl ValueSeed<'_, '_> {
    fn mismatch<E: de::Error>(&self, what: &str) -> E {
        E::custom(format!(
            "Invalid type for {}: {what}",
            type_name(self.ty.enc)
        ))
    }

    fn text_bytes(&self, v: &str, borrowed: bool) -> Bytes {
        if borrowed && let Some(base) = self.base {
            let start = (v.as_ptr() as usize).wrapping_sub(base.as_ptr() as usize);
            if start <= base.len() && start + v.len() <= base.len() {
                return base.slice(start..start + v.len());
            }
        }
        Bytes::copy_from_slice(v.as_bytes())
    }

    fn int<E: de::Error>(self, v: i64) -> std::result::Result<Datum, E> {
        let millis = |v: i64| {
            v.checked_mul(1000)
                .ok_or_else(|| self.mismatch("out of range"))
        };
        Ok(match self.ty.enc {
            Encoding::Int8
            | Encoding::Int16
            | Encoding::Int32
            | Encoding::Int64
            | Encoding::Dynamic => Datum::Int(v),
            Encoding::Float32 => Datum::F32(v as f32),
            Encoding::Float64 => Datum::F64(v as f64),
            Encoding::Date | Encoding::ConnectDate => Datum::Date(v),
            Encoding::MilliTime | Encoding::ConnectTime => Datum::Time(millis(v)?),
            Encoding::MicroTime => Datum::Time(v),
            // Milliseconds reach further than microseconds in 64 bits: PostgreSQL's last days
            // (year 294276) come as milliseconds only.
            Encoding::MilliTimestamp | Encoding::ConnectTimestamp => match v.checked_mul(1000) {
                Some(us) if us != i64::MAX && us != i64::MIN => Datum::Timestamp(us),
                _ => Datum::FarTimestamp {
                    zoned: false,
                    days: v.div_euclid(86_400_000),
                    micros_of_day: v.rem_euclid(86_400_000) * 1000,
                },
            },
            Encoding::MicroTimestamp => Datum::Timestamp(v),
            Encoding::MicroDuration => Datum::Interval {
                months: 0,
                days: 0,
                micros: v,
            },
            _ => return Err(self.mismatch("a number")),
        })
    }

    fn text<E: de::Error>(self, v: &str, borrowed: bool) -> std::result::Result<Datum, E> {
        let base64 = |v: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(v)
                .map_err(|e| E::custom(format!("invalid base64 bytes: {e}")))
        };
        Ok(match self.ty.enc {
            Encoding::String
            | Encoding::Uuid
            | Encoding::Json
            | Encoding::Xml
            | Encoding::Ltree
            | Encoding::Enum { .. }
            | Encoding::Dynamic => Datum::Text(self.text_bytes(v, borrowed)),
            Encoding::Binary(_) => Datum::Bytes(Bytes::from(base64(v)?)),
            Encoding::Decimal { scale, .. } => Datum::Numeric(Numeric::Finite(Bytes::from(
                decimal::from_unscaled(&base64(v)?, *scale),
            ))),
            Encoding::Bits { length } => Datum::Bits {
                len: *length,
                bits: Bytes::from(bits_packed(*length, &base64(v)?)),
            },
            // Jackson writes non-finite numbers as strings.
            Encoding::Float32 | Encoding::Float64 => {
                let f = match v {
                    "NaN" => f64::NAN,
                    "Infinity" => f64::INFINITY,
                    "-Infinity" => f64::NEG_INFINITY,
                    _ => return Err(self.mismatch("a string")),
                };
                if matches!(self.ty.enc, Encoding::Float32) {
                    Datum::F32(f as f32)
                } else {
                    Datum::F64(f)
                }
            }
            _ => return Err(self.mismatch("a string")),
        })
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = Datum;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} value", type_name(self.ty.enc))
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Datum, E> {
        self.ty.null()
    }

    fn visit_none<E: de::Error>(self) -> std::result::Result<Datum, E> {
        self.ty.null()
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Datum, E> {
        match self.ty.enc {
            Encoding::Boolean | Encoding::Dynamic => Ok(Datum::Bool(v)),
            _ => Err(self.mismatch("a boolean")),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Datum, E> {
        self.int(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Datum, E> {
        match i64::try_from(v) {
            Ok(v) => self.int(v),
            Err(_) if matches!(self.ty.enc, Encoding::Dynamic) => {
                Ok(Datum::Numeric(Numeric::Finite(Bytes::from(v.to_string()))))
            }
            Err(_) => Err(self.mismatch("a number out of range")),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Datum, E> {
        match self.ty.enc {
            Encoding::Float32 => Ok(Datum::F32(v as f32)),
            Encoding::Float64 | Encoding::Dynamic => Ok(Datum::F64(v)),
            _ => Err(self.mismatch("a number with a fraction")),
        }
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> std::result::Result<Datum, E> {
        self.text(v, true)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Datum, E> {
        self.text(v, false)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Datum, A::Error> {
        match self.ty.enc {
            Encoding::Array(items) => {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(d) = seq.next_element_seed(ValueSeed {
                    ty: Ty::of(items),
                    arena: &mut *self.arena,
                    base: self.base,
                })? {
                    out.push(d);
                }
                Ok(Datum::Array(out.into_boxed_slice()))
            }
            Encoding::Dynamic => {
                let mut out = Vec::new();
                while let Some(d) = seq.next_element_seed(ValueSeed {
                    ty: Ty::DYNAMIC,
                    arena: &mut *self.arena,
                    base: self.base,
                })? {
                    out.push(d);
                }
                Ok(Datum::Array(out.into_boxed_slice()))
            }
            // A map with non-string keys: `[[key, value], …]`.
            Encoding::Map { keys, values } => {
                let mut pairs = Vec::new();
                while let Some((k, v)) = seq.next_element_seed(PairSeed {
                    keys,
                    values,
                    arena: &mut *self.arena,
                    base: self.base,
                })? {
                    pairs.push(k);
                    pairs.push(v);
                }
                Ok(append(self.arena, pairs, Datum::Map))
            }
            _ => Err(self.mismatch("an array")),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Datum, A::Error> {
        match self.ty.enc {
            Encoding::Struct(fields) => {
                // Reserve the fields first, so nested values land after them.
                let start = self.arena.len();
                self.arena.resize(start + fields.len(), Datum::Unavailable);
                let mut expected = 0;
                while let Some(Key(key)) = map.next_key()? {
                    let i = if fields.get(expected).is_some_and(|f| *f.name == *key) {
                        Some(expected)
                    } else {
                        fields.iter().position(|f| *f.name == *key)
                    };
                    let Some(i) = i else {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    };
                    expected = i + 1;
                    let d = map.next_value_seed(ValueSeed {
                        ty: Ty::field(&fields[i]),
                        arena: &mut *self.arena,
                        base: self.base,
                    })?;
                    self.arena[start + i] = d;
                }
                for (i, f) in fields.iter().enumerate() {
                    if matches!(self.arena[start + i], Datum::Unavailable) {
                        self.arena[start + i] = Ty::field(f).null()?;
                    }
                }
                Ok(Datum::Struct(start as u32..(start + fields.len()) as u32))
            }
            Encoding::Map { values, .. } => {
                let mut pairs = Vec::new();
                while let Some(Key(key)) = map.next_key()? {
                    pairs.push(Datum::Text(Bytes::copy_from_slice(key.as_bytes())));
                    pairs.push(map.next_value_seed(ValueSeed {
                        ty: Ty::of(values),
                        arena: &mut *self.arena,
                        base: self.base,
                    })?);
                }
                Ok(append(self.arena, pairs, Datum::Map))
            }
            Encoding::Dynamic => {
                let mut pairs = Vec::new();
                while let Some(Key(key)) = map.next_key()? {
                    pairs.push(Datum::Text(Bytes::copy_from_slice(key.as_bytes())));
                    pairs.push(map.next_value_seed(ValueSeed {
                        ty: Ty::DYNAMIC,
                        arena: &mut *self.arena,
                        base: self.base,
                    })?);
                }
                Ok(append(self.arena, pairs, Datum::Map))
            }
            Encoding::VariableScaleDecimal => {
                let (mut scale, mut value) = (None, None);
                while let Some(Key(key)) = map.next_key()? {
                    match &*key {
                        "scale" => scale = Some(map.next_value::<u32>()?),
                        "value" => value = Some(map.next_value::<String>()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let (Some(scale), Some(value)) = (scale, value) else {
                    return Err(self.mismatch("a VariableScaleDecimal without scale and value"));
                };
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(value)
                    .map_err(de::Error::custom)?;
                Ok(Datum::Numeric(Numeric::Finite(Bytes::from(
                    decimal::from_unscaled(&bytes, scale),
                ))))
            }
            Encoding::Point => {
                let (mut x, mut y, mut srid) = (None, None, None);
                while let Some(Key(key)) = map.next_key()? {
                    match &*key {
                        "x" => x = Some(map.next_value::<f64>()?),
                        "y" => y = Some(map.next_value::<f64>()?),
                        "srid" => srid = map.next_value::<Option<i32>>()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                match (x, y) {
                    (Some(x), Some(y)) => Ok(Datum::Point { x, y, srid }),
                    _ => Err(self.mismatch("a Point without x and y")),
                }
            }
            Encoding::Geometry => {
                let (mut wkb, mut srid) = (None, None);
                while let Some(Key(key)) = map.next_key()? {
                    match &*key {
                        "wkb" => wkb = Some(map.next_value::<String>()?),
                        "srid" => srid = map.next_value::<Option<i32>>()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let Some(wkb) = wkb else {
                    return Err(self.mismatch("a Geometry without wkb"));
                };
                let wkb = base64::engine::general_purpose::STANDARD
                    .decode(wkb)
                    .map_err(de::Error::custom)?;
                Ok(Datum::Geometry {
                    srid,
                    wkb: Bytes::from(wkb),
                })
            }
            _ => Err(self.mismatch("an object")),
        }
    }
}

/// Appends `values` to the arena as one contiguous range.
fn append(
    arena: &mut Vec<Datum>,
    values: Vec<Datum>,
    make: fn(std::ops::Range<u32>) -> Datum,
) -> Datum {
    let start = arena.len() as u32;
    arena.extend(values);
    make(start..arena.len() as u32)
}

/// One `[key, value]` pair of a map with non-string keys.
struct PairSeed<'a, 'b> {
    keys: &'a Schema,
    values: &'a Schema,
    arena: &'b mut Vec<Datum>,
    base: Option<&'b Bytes>,
}

impl<'de> DeserializeSeed<'de> for PairSeed<'_, '_> {
    type Value = (Datum, Datum);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PairSeed<'_, '_> {
    type Value = (Datum, Datum);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a [key, value] pair")
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let bad = || de::Error::custom("a map entry must be a [key, value] pair");
        let k = seq
            .next_element_seed(ValueSeed {
                ty: Ty::of(self.keys),
                arena: &mut *self.arena,
                base: self.base,
            })?
            .ok_or_else(bad)?;
        let v = seq
            .next_element_seed(ValueSeed {
                ty: Ty::of(self.values),
                arena: &mut *self.arena,
                base: self.base,
            })?
            .ok_or_else(bad)?;
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(bad());
        }
        Ok((k, v))
    }
}

/// An object key, borrowed from the input when it needs no unescaping.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(
                self,
                v: &'de str,
            ) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// `io.debezium.data.Bits` bytes (the value's integer, least significant byte first, trailing
/// zero bytes dropped) back to `len` bits packed most significant first.
fn bits_packed(len: u32, little_endian: &[u8]) -> Vec<u8> {
    let len = len as usize;
    let mut out = vec![0u8; len.div_ceil(8)];
    for pos in 0..len {
        let set = little_endian
            .get(pos / 8)
            .is_some_and(|b| b & (1 << (pos % 8)) != 0);
        if set {
            // Bit `pos` of the value is bit (len-1-pos) from the left.
            let i = len - 1 - pos;
            out[i / 8] |= 0x80 >> (i % 8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::EncodedBatch;
    use crate::encode::json::{JsonEncoder, JsonOptions};
    use crate::event::{Batch, Event, Record};

    /// Decodes `json` and encodes it again with the same converter settings.
    fn round_trip(json: &str, schemas: bool) -> String {
        let mut batch = Batch::default();
        let value = JsonDecoder::new(schemas)
            .decode(&Bytes::copy_from_slice(json.as_bytes()), &mut batch.datums)
            .unwrap();
        batch
            .events
            .push(Event::Record(Record::new("t".into(), None, Some(value))));
        let encoder = JsonEncoder::new(JsonOptions::schemas(schemas), None);
        let mut out = EncodedBatch::default();
        encoder.encode(&batch, &mut out).unwrap();
        String::from_utf8(out.value(&out.records[0]).unwrap().to_vec()).unwrap()
    }

    #[test]
    fn schemaless_json_round_trips() {
        let json = r#"{"id":1,"name":"a\"b","tags":["x",null,2.5],"nested":{"deep":true}}"#;
        assert_eq!(round_trip(json, false), json);
    }

    #[test]
    fn logical_types_round_trip_with_their_schemas() {
        let json = r#"{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"price"},{"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1,"field":"at"},{"type":"struct","fields":[{"type":"int32","optional":false,"field":"scale"},{"type":"bytes","optional":false,"field":"value"}],"optional":true,"name":"io.debezium.data.VariableScaleDecimal","version":1,"doc":"Variable scaled decimal","field":"any"},{"type":"array","items":{"type":"string","optional":true},"optional":true,"field":"tags"},{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int32","optional":true},"optional":true,"field":"counts"},{"type":"bytes","optional":true,"name":"io.debezium.data.Bits","version":1,"parameters":{"length":"3"},"field":"b"},{"type":"boolean","optional":false,"default":true,"field":"active"},{"type":"struct","fields":[{"type":"bytes","optional":false,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}],"optional":true,"name":"io.debezium.data.geometry.Geometry","version":1,"doc":"Geometry","field":"shape"}],"optional":false,"name":"rig.public.t.Value"},"payload":{"id":7,"price":"AeJA","at":1718000000123456,"any":{"scale":3,"value":"AeJA"},"tags":["a",null],"counts":{"x":1},"b":"BQ==","active":false,"shape":{"wkb":"AQIAAAAA","srid":4326}}}"#;
        assert_eq!(round_trip(json, true), json);
        let mut datums = Vec::new();
        let Payload::Value { datum, .. } = JsonDecoder::new(true)
            .decode(&Bytes::copy_from_slice(json.as_bytes()), &mut datums)
            .unwrap()
        else {
            panic!("a value");
        };
        let Datum::Struct(range) = datum else {
            panic!("a struct");
        };
        let row = &datums[range.start as usize..range.end as usize];
        assert_eq!(row[1], Datum::numeric("1234.56"));
        assert_eq!(row[2], Datum::Timestamp(1_718_000_000_123_456));
        assert_eq!(row[3], Datum::numeric("123.456"));
        assert!(matches!(&row[8], Datum::Geometry { srid: Some(4326), wkb } if wkb.len() == 6));
    }

    #[test]
    fn a_missing_required_field_takes_its_default_or_fails() {
        let schema = r#"{"type":"struct","fields":[{"type":"boolean","optional":false,"default":true,"field":"a"},{"type":"int32","optional":false,"field":"b"}],"optional":false}"#;
        let mut d = JsonDecoder::new(true);
        let ok = format!(r#"{{"schema":{schema},"payload":{{"b":1}}}}"#);
        let mut datums = Vec::new();
        d.decode(&Bytes::from(ok), &mut datums).unwrap();
        assert_eq!(datums[0], Datum::Bool(true));
        let bad = format!(r#"{{"schema":{schema},"payload":{{"a":false}}}}"#);
        let e = d.decode(&Bytes::from(bad), &mut datums).unwrap_err();
        assert!(e.message().contains("required INT32"), "{e}");
    }

    #[test]
    fn envelope_shape_is_checked_as_kafka_connect_does() {
        let mut d = JsonDecoder::new(true);
        let mut datums = Vec::new();
        for bad in [
            r#"{"id":1}"#,
            r#"{"schema":null,"payload":1,"x":2}"#,
            "not json",
        ] {
            let e = d.decode(&Bytes::from(bad), &mut datums).unwrap_err();
            assert!(e.message().contains("schemas.enable"), "{bad}: {e}");
        }
        assert!(
            JsonDecoder::new(false)
                .decode(&Bytes::from("this is not JSON"), &mut datums)
                .is_err()
        );
    }
}
