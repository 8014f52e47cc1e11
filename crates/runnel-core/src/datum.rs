//! Decoded values. Sources parse the database's representation once into a [`Datum`];
//! encoders write it in the configured format. Text and bytes stay slices of the buffer they
//! arrived in (`Bytes`), so decoding a row copies no strings. Structs and maps hold no values of
//! their own: their fields are a range of the batch's value vector (`Batch::datums`), so a
//! nested record costs no allocation either.

use std::ops::Range;

use bytes::Bytes;

/// Sentinel for `+infinity` dates, timestamps and timestamptz values.
pub const POS_INFINITY: i64 = i64::MAX;
/// Sentinel for `-infinity` dates, timestamps and timestamptz values.
pub const NEG_INFINITY: i64 = i64::MIN;

/// One column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Datum {
    Null,
    /// The source did not send the value because it did not change (PostgreSQL's unchanged
    /// TOAST). Encoded as `unavailable.value.placeholder`, as Debezium does.
    Unavailable,
    Bool(bool),
    Int(i64),
    F32(f32),
    F64(f64),
    Numeric(Numeric),
    /// UTF-8 text (sources validate it when decoding).
    Text(Bytes),
    Bytes(Bytes),
    /// Days since 1970-01-01; [`POS_INFINITY`]/[`NEG_INFINITY`] for ±infinity.
    Date(i64),
    /// Microseconds since midnight (24:00:00 is 86 400 000 000).
    Time(i64),
    /// Local microseconds since midnight and the UTC offset in seconds (east positive).
    TimeTz {
        micros: i64,
        offset_secs: i32,
    },
    /// Microseconds since 1970-01-01 00:00:00 without a zone; ±infinity sentinels.
    Timestamp(i64),
    /// Microseconds since the Unix epoch (UTC); ±infinity sentinels.
    TimestampTz(i64),
    /// A timestamp past what microseconds since 1970 in 64 bits hold (after
    /// 294247-01-10T04:00:54.775807Z: PostgreSQL's range ends in 294276), as days since
    /// 1970-01-01 and microseconds into that day. Encodings that count milliseconds or print
    /// text hold it; microsecond encodings refuse it rather than wrap around.
    FarTimestamp {
        zoned: bool,
        days: i64,
        micros_of_day: i64,
    },
    Interval {
        months: i32,
        days: i32,
        micros: i64,
    },
    /// A bit string: `len` bits, most significant first, packed in `bits`.
    Bits {
        len: u32,
        bits: Bytes,
    },
    /// A point, with its spatial reference id (none: 0 or unknown).
    Point {
        x: f64,
        y: f64,
        srid: Option<i32>,
    },
    /// A spatial value as WKB, with its spatial reference id (none: 0 or unknown).
    Geometry {
        srid: Option<i32>,
        wkb: Bytes,
    },
    Array(Box<[Datum]>),
    /// A Connect struct: its fields, in schema order, are `batch.datums[range]`.
    Struct(Range<u32>),
    /// A Connect map: keys and values alternate in `batch.datums[range]`.
    Map(Range<u32>),
}

/// An exact decimal, kept as the database printed it until it is encoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Numeric {
    /// ASCII decimal text: optional sign, digits, optional `.` and fraction digits.
    Finite(Bytes),
    NaN,
    PosInfinity,
    NegInfinity,
}

impl Datum {
    pub fn is_null(&self) -> bool {
        matches!(self, Datum::Null)
    }

    pub fn text(s: &str) -> Self {
        Datum::Text(Bytes::copy_from_slice(s.as_bytes()))
    }

    pub fn numeric(s: &str) -> Self {
        Datum::Numeric(Numeric::Finite(Bytes::copy_from_slice(s.as_bytes())))
    }
}
