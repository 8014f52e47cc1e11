//! Parquet objects: records of one value schema as an Arrow record batch, written with
//! arrow-rs. Connect's logical types become Parquet's: Decimal as DECIMAL (precision ≤ 38),
//! timestamps as TIMESTAMP(MICROS) (UTC for zoned ones), Date as DATE, times as TIME(MICROS),
//! structs nested, arrays as lists.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int8Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder,
    Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, ListArray, RecordBatch, StructArray};
use arrow_schema::{DataType, Field, Fields, TimeUnit};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use runnel_core::datum::{NEG_INFINITY, POS_INFINITY};
use runnel_core::{Batch, Column, Datum, Encoding, Error, Numeric, Result, Schema};

/// A value with its nested structs and arrays copied out of the batch (leaves stay `Datum`s:
/// text and bytes are shared, not copied).
#[derive(Debug, Clone)]
pub enum Owned {
    Leaf(Datum),
    Struct(Vec<Owned>),
    List(Vec<Owned>),
}

impl Owned {
    pub fn of(batch: &Batch, d: &Datum) -> Owned {
        match d {
            Datum::Struct(range) => Owned::Struct(
                batch
                    .fields(range)
                    .iter()
                    .map(|v| Owned::of(batch, v))
                    .collect(),
            ),
            Datum::Array(items) => Owned::List(items.iter().map(|v| Owned::of(batch, v)).collect()),
            other => Owned::Leaf(other.clone()),
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Owned::Leaf(Datum::Null))
    }
}

/// Which Arrow types the columns take: Parquet files keep times and local timestamps as
/// such; a Delta table has neither (Delta's `timestamp` is UTC, and it has no time type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Parquet,
    /// Times as microseconds (Debezium's MicroTime value, a `long`), every timestamp as UTC
    /// microseconds.
    Delta,
}

/// The Arrow type of a Connect encoding.
pub fn data_type(enc: &Encoding, flavor: Flavor) -> Result<DataType> {
    Ok(match enc {
        Encoding::Boolean => DataType::Boolean,
        Encoding::Int8 => DataType::Int8,
        Encoding::Int16 => DataType::Int16,
        Encoding::Int32 => DataType::Int32,
        Encoding::Int64 | Encoding::MicroDuration => DataType::Int64,
        Encoding::Float32 => DataType::Float32,
        Encoding::Float64 | Encoding::DecimalDouble => DataType::Float64,
        Encoding::Binary(_) | Encoding::Bits { .. } => DataType::Binary,
        Encoding::Decimal {
            scale,
            precision: Some(p),
        } if *p <= 38 && *scale <= *p => DataType::Decimal128(*p as u8, *scale as i8),
        Encoding::Decimal { scale, .. } if *scale <= 38 => DataType::Decimal128(38, *scale as i8),
        Encoding::Date | Encoding::ConnectDate => DataType::Date32,
        Encoding::MilliTime | Encoding::MicroTime | Encoding::ConnectTime => match flavor {
            Flavor::Parquet => DataType::Time64(TimeUnit::Microsecond),
            Flavor::Delta => DataType::Int64,
        },
        Encoding::MilliTimestamp | Encoding::MicroTimestamp | Encoding::ConnectTimestamp => {
            match flavor {
                Flavor::Parquet => DataType::Timestamp(TimeUnit::Microsecond, None),
                Flavor::Delta => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            }
        }
        Encoding::ZonedTimestamp { .. } => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        }
        Encoding::Struct(fields) => DataType::Struct(arrow_fields(fields, flavor)?),
        Encoding::Array(items) => DataType::List(Arc::new(Field::new(
            "element",
            data_type(&items.encoding, flavor)?,
            true,
        ))),
        Encoding::Map { .. } => {
            return Err(Error::config(
                "a map field cannot be written to Parquet or Delta yet: flatten it with a \
                 transform, or write JSON",
            ));
        }
        // Strings and every type sent as text (UUID, JSON, XML, enums, variable-scale and
        // string decimals, intervals as text, zoned times, points as text, …).
        _ => DataType::Utf8,
    })
}

/// Every field nullable: a row can lack any of them (a dropped column, a delete's key-only row).
pub fn arrow_fields(columns: &[Column], flavor: Flavor) -> Result<Fields> {
    columns
        .iter()
        .map(|c| {
            Ok(Field::new(
                c.name.as_ref(),
                data_type(&c.encoding, flavor)?,
                true,
            ))
        })
        .collect::<Result<Vec<_>>>()
        .map(Fields::from)
}

/// Writes `rows` (values of `schema`, a struct) as one Parquet file.
pub fn write(schema: &Schema, rows: &[Owned], compression: Compression) -> Result<Vec<u8>> {
    let columns = schema.fields().ok_or_else(|| {
        Error::config(
            "Parquet needs records whose value is a struct with a schema: unwrap Debezium's \
             envelope (ExtractNewRecordState) and keep value.converter.schemas.enable=true",
        )
    })?;
    let batch = record_batch(columns, rows, Flavor::Parquet)?;
    let arrow_schema = batch.schema();
    let props = WriterProperties::builder()
        .set_compression(compression)
        .build();
    let mut writer = ArrowWriter::try_new(Vec::new(), arrow_schema, Some(props))
        .map_err(|e| Error::internal(format!("opening a Parquet writer: {e}")))?;
    writer
        .write(&batch)
        .map_err(|e| Error::internal(format!("writing Parquet: {e}")))?;
    writer
        .into_inner()
        .map_err(|e| Error::internal(format!("closing a Parquet file: {e}")))
}

/// `rows` (structs of `columns`' values) as one Arrow record batch.
pub fn record_batch(columns: &[Column], rows: &[Owned], flavor: Flavor) -> Result<RecordBatch> {
    let fields = arrow_fields(columns, flavor)?;
    let mut arrays = Vec::with_capacity(columns.len());
    for (i, c) in columns.iter().enumerate() {
        let values: Vec<&Owned> = rows
            .iter()
            .map(|r| match r {
                Owned::Struct(v) => v.get(i).unwrap_or(&NULL),
                _ => &NULL,
            })
            .collect();
        arrays.push(build(&c.encoding, &c.name, &values, flavor)?);
    }
    RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), arrays)
        .map_err(|e| Error::internal(format!("building an Arrow record batch: {e}")))
}

/// Rows in an existing Parquet object (from its footer).
pub fn row_count(data: Bytes) -> Result<u64> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(data).map_err(|e| {
        Error::sink_permanent(format!("an existing object is not a Parquet file: {e}"))
    })?;
    Ok(reader.metadata().file_metadata().num_rows().max(0) as u64)
}

static NULL: Owned = Owned::Leaf(Datum::Null);

/// A decimal's unscaled value at `scale`, if it fits 128 bits.
fn unscaled_i128(text: &[u8], scale: u32) -> Option<i128> {
    let parsed = runnel_core::decimal::parse(text)?;
    let mut bytes = Vec::with_capacity(16);
    parsed.unscaled_bytes(scale, &mut bytes);
    if bytes.is_empty() || bytes.len() > 16 {
        return None;
    }
    let negative = bytes[0] & 0x80 != 0;
    let mut v: i128 = if negative { -1 } else { 0 };
    for b in bytes {
        v = (v << 8) | i128::from(b);
    }
    Some(v)
}

fn mismatch(name: &str, enc: &Encoding, v: &Owned) -> Error {
    Error::conversion(format!(
        "field \"{name}\" ({enc:?}) holds a value its schema does not describe ({v:?})"
    ))
}

fn leaf(v: &Owned) -> Option<&Datum> {
    match v {
        Owned::Leaf(Datum::Null) => None,
        Owned::Leaf(d) => Some(d),
        _ => None,
    }
}

fn timestamp_micros(d: &Datum) -> Option<i64> {
    match d {
        Datum::Timestamp(t) | Datum::TimestampTz(t) => match *t {
            POS_INFINITY | NEG_INFINITY => None,
            t => Some(t),
        },
        Datum::Text(t) => std::str::from_utf8(t)
            .ok()?
            .parse::<jiff::Timestamp>()
            .ok()
            .map(|ts| ts.as_microsecond()),
        Datum::Int(v) => Some(*v),
        _ => None,
    }
}

fn text_of(d: &Datum) -> Option<String> {
    Some(match d {
        Datum::Text(t) => String::from_utf8_lossy(t).into_owned(),
        Datum::Numeric(Numeric::Finite(t)) => String::from_utf8_lossy(t).into_owned(),
        Datum::Numeric(Numeric::NaN) => "NaN".into(),
        Datum::Numeric(Numeric::PosInfinity) => "Infinity".into(),
        Datum::Numeric(Numeric::NegInfinity) => "-Infinity".into(),
        Datum::Int(v) => v.to_string(),
        Datum::F64(v) => v.to_string(),
        Datum::F32(v) => v.to_string(),
        Datum::Bool(b) => b.to_string(),
        Datum::Interval {
            months,
            days,
            micros,
        } => format!("P{months}M{days}DT{}S", *micros as f64 / 1e6),
        Datum::Point { x, y, .. } => format!("({x},{y})"),
        // Hex WKB, as PostGIS prints a geometry.
        Datum::Geometry { wkb, .. } => wkb.iter().map(|b| format!("{b:02X}")).collect(),
        Datum::TimeTz {
            micros,
            offset_secs,
        } => format!("{micros}us{offset_secs:+}s"),
        other => format!("{other:?}"),
    })
}

/// One column of values of `enc`.
fn build(enc: &Encoding, name: &str, values: &[&Owned], flavor: Flavor) -> Result<ArrayRef> {
    macro_rules! primitive {
        ($builder:ty, $get:expr) => {{
            let mut b = <$builder>::with_capacity(values.len());
            for v in values {
                match leaf(v) {
                    None => b.append_null(),
                    Some(d) => match $get(d) {
                        Some(x) => b.append_value(x),
                        None => return Err(mismatch(name, enc, v)),
                    },
                }
            }
            Arc::new(b.finish()) as ArrayRef
        }};
    }
    let int = |d: &Datum| match d {
        Datum::Int(v) => Some(*v),
        _ => None,
    };
    Ok(match data_type(enc, flavor)? {
        DataType::Boolean => primitive!(BooleanBuilder, |d: &Datum| match d {
            Datum::Bool(b) => Some(*b),
            _ => None,
        }),
        DataType::Int8 => primitive!(Int8Builder, |d: &Datum| int(d).map(|v| v as i8)),
        DataType::Int16 => primitive!(Int16Builder, |d: &Datum| int(d).map(|v| v as i16)),
        DataType::Int32 => primitive!(Int32Builder, |d: &Datum| int(d).map(|v| v as i32)),
        DataType::Int64 => primitive!(Int64Builder, |d: &Datum| match d {
            Datum::Int(v) | Datum::Time(v) => Some(*v),
            Datum::Interval {
                months,
                days,
                micros,
            } => runnel_core::temporal::interval_micros(*months, *days, *micros),
            _ => None,
        }),
        DataType::Float32 => primitive!(Float32Builder, |d: &Datum| match d {
            Datum::F32(v) => Some(*v),
            Datum::F64(v) => Some(*v as f32),
            _ => None,
        }),
        DataType::Float64 => primitive!(Float64Builder, |d: &Datum| match d {
            Datum::F64(v) => Some(*v),
            Datum::F32(v) => Some(f64::from(*v)),
            Datum::Numeric(Numeric::Finite(t)) =>
                std::str::from_utf8(t).ok().and_then(|s| s.parse().ok()),
            _ => None,
        }),
        DataType::Binary => {
            let mut b = BinaryBuilder::new();
            for v in values {
                match leaf(v) {
                    None => b.append_null(),
                    Some(Datum::Bytes(x)) => b.append_value(x),
                    Some(Datum::Bits { bits, .. }) => b.append_value(bits),
                    Some(Datum::Text(t)) => b.append_value(t),
                    Some(_) => return Err(mismatch(name, enc, v)),
                }
            }
            Arc::new(b.finish())
        }
        DataType::Decimal128(p, s) => {
            let mut b = Decimal128Builder::with_capacity(values.len());
            for v in values {
                match leaf(v) {
                    None => b.append_null(),
                    Some(Datum::Numeric(Numeric::Finite(t))) => {
                        let unscaled =
                            unscaled_i128(t, s as u32).ok_or_else(|| mismatch(name, enc, v))?;
                        b.append_value(unscaled);
                    }
                    Some(Datum::Numeric(_)) => b.append_null(),
                    Some(_) => return Err(mismatch(name, enc, v)),
                }
            }
            Arc::new(
                b.finish()
                    .with_precision_and_scale(p, s)
                    .map_err(|e| Error::internal(format!("decimal column {name}: {e}")))?,
            )
        }
        DataType::Date32 => primitive!(Date32Builder, |d: &Datum| match d {
            Datum::Date(days) => i32::try_from(*days).ok(),
            Datum::Int(days) => i32::try_from(*days).ok(),
            _ => None,
        }),
        DataType::Time64(_) => primitive!(Time64MicrosecondBuilder, |d: &Datum| match d {
            Datum::Time(us) => Some(*us),
            _ => None,
        }),
        DataType::Timestamp(_, tz) => {
            let mut b = TimestampMicrosecondBuilder::with_capacity(values.len());
            for v in values {
                match leaf(v) {
                    None => b.append_null(),
                    Some(d) => match timestamp_micros(d) {
                        Some(us) => b.append_value(us),
                        None => b.append_null(),
                    },
                }
            }
            Arc::new(b.finish().with_timezone_opt(tz))
        }
        DataType::Utf8 => {
            let mut b = StringBuilder::new();
            for v in values {
                match leaf(v) {
                    None => b.append_null(),
                    Some(d) => match text_of(d) {
                        Some(s) => b.append_value(s),
                        None => b.append_null(),
                    },
                }
            }
            Arc::new(b.finish())
        }
        DataType::Struct(fields) => {
            let Encoding::Struct(columns) = enc else {
                return Err(mismatch(
                    name,
                    enc,
                    values.first().copied().unwrap_or(&NULL),
                ));
            };
            let mut children = Vec::with_capacity(columns.len());
            for (i, c) in columns.iter().enumerate() {
                let child: Vec<&Owned> = values
                    .iter()
                    .map(|v| match v {
                        Owned::Struct(items) => items.get(i).unwrap_or(&NULL),
                        _ => &NULL,
                    })
                    .collect();
                children.push(build(&c.encoding, &c.name, &child, flavor)?);
            }
            let nulls: Vec<bool> = values.iter().map(|v| !v.is_null()).collect();
            Arc::new(
                StructArray::try_new(fields, children, Some(nulls.into()))
                    .map_err(|e| Error::internal(format!("struct column {name}: {e}")))?,
            )
        }
        DataType::List(field) => {
            let Encoding::Array(items) = enc else {
                return Err(mismatch(
                    name,
                    enc,
                    values.first().copied().unwrap_or(&NULL),
                ));
            };
            let mut offsets = vec![0i32];
            let mut flat: Vec<&Owned> = Vec::new();
            let mut nulls = Vec::with_capacity(values.len());
            for v in values {
                match v {
                    Owned::List(xs) => {
                        flat.extend(xs.iter());
                        nulls.push(true);
                    }
                    _ => nulls.push(false),
                }
                offsets.push(flat.len() as i32);
            }
            let child = build(&items.encoding, name, &flat, flavor)?;
            Arc::new(
                ListArray::try_new(
                    field,
                    arrow_buffer::OffsetBuffer::new(offsets.into()),
                    child,
                    Some(nulls.into()),
                )
                .map_err(|e| Error::internal(format!("list column {name}: {e}")))?,
            )
        }
        other => {
            return Err(Error::internal(format!(
                "column {name}: no Parquet builder for {other}"
            )));
        }
    })
}

/// `parquet.codec`: none, snappy (Confluent's default) or gzip.
pub fn codec(name: Option<&str>) -> std::result::Result<Compression, String> {
    match name.map(str::to_ascii_lowercase).as_deref() {
        None | Some("snappy") => Ok(Compression::SNAPPY),
        Some("none") | Some("uncompressed") => Ok(Compression::UNCOMPRESSED),
        Some(other) => Err(format!(
            "parquet.codec \"{other}\": runnel writes snappy (the default) or none"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    #[test]
    fn rows_become_a_parquet_file_with_logical_types() {
        let schema = Schema::structure(
            "t.Value",
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
                Column::new("day", Encoding::Date, true),
                Column::new("tags", Encoding::array_of(Encoding::String), true),
            ],
            false,
        );
        let row = |id: i64| {
            Owned::Struct(vec![
                Owned::Leaf(Datum::Int(id)),
                Owned::Leaf(Datum::Numeric(Numeric::Finite(Bytes::from_static(b"12.5")))),
                Owned::Leaf(Datum::Timestamp(1_718_000_000_123_456)),
                Owned::Leaf(Datum::Date(19_875)),
                Owned::List(vec![
                    Owned::Leaf(Datum::text("a")),
                    Owned::Leaf(Datum::Null),
                ]),
            ])
        };
        let bytes = write(&schema, &[row(1), row(2)], Compression::SNAPPY).unwrap();
        assert_eq!(row_count(Bytes::from(bytes.clone())).unwrap(), 2);
        let reader = SerializedFileReader::new(Bytes::from(bytes)).unwrap();
        let s = reader.metadata().file_metadata().schema_descr();
        let amount = s.column(1);
        assert!(amount.logical_type_ref().is_some());
    }
}
