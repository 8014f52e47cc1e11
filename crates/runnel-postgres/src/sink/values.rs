//! Typed values as PostgreSQL's text input: what the sink sends (as `text[]` parameters cast to
//! each column's type, so one statement writes a whole batch of rows of any types). The target
//! column's kind decides where a value has several spellings (a boolean into `bit(1)`, a JSON
//! object into `hstore`); everything else is the value's canonical text.

use runnel_core::datum::{NEG_INFINITY, POS_INFINITY};
use runnel_core::encode::json::{JsonEncoder, JsonOptions};
use runnel_core::temporal::{MICROS_PER_DAY, MICROS_PER_SECOND, civil_from_days};
use runnel_core::{Datum, Encoding, Error, Numeric, Payload, Result, Schema};

/// What a target column takes, as far as writing its text is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Bit,
    Number,
    Text,
    Bytea,
    Date,
    Time,
    TimeTz,
    Timestamp,
    TimestampTz,
    Interval,
    Json,
    Hstore,
    Array,
}

impl Kind {
    /// From the (base) type's name and `pg_type.typcategory`.
    pub fn of(type_name: &str, category: u8) -> Self {
        match type_name {
            "bool" => Kind::Bool,
            "bit" | "varbit" => Kind::Bit,
            "bytea" => Kind::Bytea,
            "date" => Kind::Date,
            "time" => Kind::Time,
            "timetz" => Kind::TimeTz,
            "timestamp" => Kind::Timestamp,
            "timestamptz" => Kind::TimestampTz,
            "interval" => Kind::Interval,
            "json" | "jsonb" => Kind::Json,
            "hstore" => Kind::Hstore,
            _ => match category {
                b'A' => Kind::Array,
                b'N' => Kind::Number,
                _ => Kind::Text,
            },
        }
    }
}

/// Renders values of one batch.
pub struct Renderer<'a> {
    pub datums: &'a [Datum],
    pub bytes: &'a [u8],
    json: &'a JsonEncoder,
}

impl<'a> Renderer<'a> {
    pub fn new(datums: &'a [Datum], bytes: &'a [u8], json: &'a JsonEncoder) -> Self {
        Self {
            datums,
            bytes,
            json,
        }
    }

    /// Appends the text of `d` (not NULL, not unavailable) for a column of `kind` (`elem`: the
    /// element kind of an array column), `enc` being how the record typed it.
    pub fn render(
        &self,
        out: &mut Vec<u8>,
        d: &Datum,
        enc: &Encoding,
        kind: Kind,
        elem: Kind,
    ) -> Result<()> {
        match d {
            Datum::Null | Datum::Unavailable => {
                return Err(Error::internal("NULL and unavailable values have no text"));
            }
            Datum::Bool(b) => out.extend_from_slice(match (kind, b) {
                (Kind::Bit | Kind::Number, true) => b"1",
                (Kind::Bit | Kind::Number, false) => b"0",
                (_, true) => b"t",
                (_, false) => b"f",
            }),
            Datum::Int(i) => {
                if kind == Kind::Bool {
                    out.push(if *i != 0 { b't' } else { b'f' });
                } else {
                    out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes());
                }
            }
            Datum::F32(f) => write_float(out, f64::from(*f), Some(*f)),
            Datum::F64(f) => write_float(out, *f, None),
            Datum::Numeric(n) => out.extend_from_slice(match n {
                Numeric::Finite(t) => t,
                Numeric::NaN => b"NaN",
                Numeric::PosInfinity => b"Infinity",
                Numeric::NegInfinity => b"-Infinity",
            }),
            Datum::Text(t) => match (kind, enc) {
                (Kind::Hstore, _) => json_to_hstore(out, t)?,
                _ => out.extend_from_slice(t),
            },
            // A geometry's WKB, as bytea (a PostGIS column takes it too); its SRID is not kept.
            Datum::Bytes(b) | Datum::Geometry { wkb: b, .. } => {
                out.extend_from_slice(b"\\x");
                for byte in b.iter() {
                    out.push(HEX[(byte >> 4) as usize]);
                    out.push(HEX[(byte & 15) as usize]);
                }
            }
            Datum::Date(days) => write_date(out, *days),
            Datum::Time(micros) => write_time(out, *micros),
            Datum::TimeTz {
                micros,
                offset_secs,
            } => {
                write_time(out, *micros);
                write_offset(out, *offset_secs);
            }
            Datum::Timestamp(micros) => write_timestamp(out, *micros, false),
            Datum::TimestampTz(micros) => write_timestamp(out, *micros, true),
            Datum::FarTimestamp {
                zoned,
                days,
                micros_of_day,
            } => {
                write_ymd(out, *days);
                out.push(b' ');
                write_time(out, *micros_of_day);
                if *zoned {
                    out.extend_from_slice(b"+00");
                }
            }
            Datum::Interval {
                months,
                days,
                micros,
            } => write_interval(out, *months, *days, *micros),
            Datum::Bits { len, bits } => {
                if kind == Kind::Bool {
                    out.push(if bits.first().is_some_and(|b| b & 0x80 != 0) {
                        b't'
                    } else {
                        b'f'
                    });
                } else {
                    for i in 0..*len as usize {
                        let set = bits.get(i / 8).is_some_and(|b| b & (0x80 >> (i % 8)) != 0);
                        out.push(if set { b'1' } else { b'0' });
                    }
                }
            }
            Datum::Point { x, y, .. } => {
                out.push(b'(');
                write_float(out, *x, None);
                out.push(b',');
                write_float(out, *y, None);
                out.push(b')');
            }
            Datum::Array(items) => {
                let item_enc = match enc {
                    Encoding::Array(s) => &s.encoding,
                    _ => &Encoding::Dynamic,
                };
                if kind == Kind::Array {
                    self.write_array(out, items, item_enc, elem)?;
                } else {
                    self.write_json(out, d, enc)?;
                }
            }
            Datum::Struct(_) | Datum::Map(_) => self.write_json(out, d, enc)?,
        }
        Ok(())
    }

    /// `{a,"b c",NULL,{…}}`: every element quoted (always valid), nested arrays as they are.
    fn write_array(
        &self,
        out: &mut Vec<u8>,
        items: &[Datum],
        enc: &Encoding,
        elem: Kind,
    ) -> Result<()> {
        out.push(b'{');
        let mut scratch = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match item {
                Datum::Null | Datum::Unavailable => out.extend_from_slice(b"NULL"),
                Datum::Array(inner) => {
                    let inner_enc = match enc {
                        Encoding::Array(s) => &s.encoding,
                        other => other,
                    };
                    self.write_array(out, inner, inner_enc, elem)?;
                }
                other => {
                    scratch.clear();
                    self.render(&mut scratch, other, enc, elem, elem)?;
                    out.push(b'"');
                    for &b in &scratch {
                        if b == b'"' || b == b'\\' {
                            out.push(b'\\');
                        }
                        out.push(b);
                    }
                    out.push(b'"');
                }
            }
        }
        out.push(b'}');
        Ok(())
    }

    /// A struct, map or array as JSON (for `json`/`jsonb` columns and nested values).
    fn write_json(&self, out: &mut Vec<u8>, d: &Datum, enc: &Encoding) -> Result<()> {
        let payload = Payload::Value {
            schema: Some(std::sync::Arc::new(Schema::new(enc.clone(), true))),
            datum: d.clone(),
        };
        let json = self
            .json
            .encode_payload(self.datums, self.bytes, &payload, false, false)?;
        out.extend_from_slice(&json);
        Ok(())
    }
}

/// The JSON writer the renderer uses for nested values (no schemas).
pub fn json_encoder() -> JsonEncoder {
    JsonEncoder::new(JsonOptions::schemas(false), None)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Shortest text that reads back as the same value (`f32` as an `f32`).
fn write_float(out: &mut Vec<u8>, f: f64, single: Option<f32>) {
    if f.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if f.is_infinite() {
        out.extend_from_slice(if f > 0.0 { b"Infinity" } else { b"-Infinity" });
    } else {
        let mut buf = ryu::Buffer::new();
        let text = match single {
            Some(s) => buf.format_finite(s),
            None => buf.format_finite(f),
        };
        out.extend_from_slice(text.as_bytes());
    }
}

/// PostgreSQL's `YYYY-MM-DD` (years before 1 as `… BC`), or ±infinity.
fn write_date(out: &mut Vec<u8>, days: i64) {
    match days {
        POS_INFINITY => out.extend_from_slice(b"infinity"),
        NEG_INFINITY => out.extend_from_slice(b"-infinity"),
        _ => {
            let bc = write_ymd(out, days);
            if bc {
                out.extend_from_slice(b" BC");
            }
        }
    }
}

/// Writes the date; returns whether it is BC (the suffix goes at the very end).
fn write_ymd(out: &mut Vec<u8>, days: i64) -> bool {
    let (y, m, d) = civil_from_days(days);
    let (year, bc) = if y <= 0 { (1 - y, true) } else { (y, false) };
    pad(out, year as u64, 4);
    out.push(b'-');
    pad(out, u64::from(m), 2);
    out.push(b'-');
    pad(out, u64::from(d), 2);
    bc
}

fn write_time(out: &mut Vec<u8>, micros: i64) {
    let secs = micros / MICROS_PER_SECOND;
    pad(out, (secs / 3600) as u64, 2);
    out.push(b':');
    pad(out, ((secs / 60) % 60) as u64, 2);
    out.push(b':');
    pad(out, (secs % 60) as u64, 2);
    out.push(b'.');
    pad(out, (micros % MICROS_PER_SECOND) as u64, 6);
}

/// `+HH:MM[:SS]`, east positive.
fn write_offset(out: &mut Vec<u8>, secs: i32) {
    out.push(if secs < 0 { b'-' } else { b'+' });
    let s = secs.unsigned_abs();
    pad(out, u64::from(s / 3600), 2);
    out.push(b':');
    pad(out, u64::from((s / 60) % 60), 2);
    if !s.is_multiple_of(60) {
        out.push(b':');
        pad(out, u64::from(s % 60), 2);
    }
}

fn write_timestamp(out: &mut Vec<u8>, micros: i64, utc: bool) {
    match micros {
        POS_INFINITY => out.extend_from_slice(b"infinity"),
        NEG_INFINITY => out.extend_from_slice(b"-infinity"),
        _ => {
            let bc = write_ymd(out, micros.div_euclid(MICROS_PER_DAY));
            out.push(b' ');
            write_time(out, micros.rem_euclid(MICROS_PER_DAY));
            if utc {
                out.extend_from_slice(b"+00");
            }
            if bc {
                out.extend_from_slice(b" BC");
            }
        }
    }
}

/// `N mons N days [-]H:MM:SS.ffffff`: each part keeps its own sign, as PostgreSQL does.
fn write_interval(out: &mut Vec<u8>, months: i32, days: i32, micros: i64) {
    let mut n = itoa::Buffer::new();
    out.extend_from_slice(n.format(months).as_bytes());
    out.extend_from_slice(b" mons ");
    out.extend_from_slice(n.format(days).as_bytes());
    out.extend_from_slice(b" days ");
    if micros < 0 {
        out.push(b'-');
    }
    let m = micros.unsigned_abs();
    let secs = m / MICROS_PER_SECOND as u64;
    out.extend_from_slice(n.format(secs / 3600).as_bytes());
    out.push(b':');
    pad(out, (secs / 60) % 60, 2);
    out.push(b':');
    pad(out, secs % 60, 2);
    out.push(b'.');
    pad(out, m % MICROS_PER_SECOND as u64, 6);
}

fn pad(out: &mut Vec<u8>, value: u64, width: usize) {
    let mut buf = itoa::Buffer::new();
    let s = buf.format(value);
    for _ in s.len()..width {
        out.push(b'0');
    }
    out.extend_from_slice(s.as_bytes());
}

/// A JSON object of strings (how Debezium sends `hstore`) as an hstore literal.
fn json_to_hstore(out: &mut Vec<u8>, json: &[u8]) -> Result<()> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(json)
        .map_err(|e| Error::conversion(format!("an hstore value must be a JSON object: {e}")))?;
    let quoted = |out: &mut Vec<u8>, s: &str| {
        out.push(b'"');
        for &b in s.as_bytes() {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    };
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        quoted(out, k);
        out.extend_from_slice(b"=>");
        match v {
            serde_json::Value::Null => out.extend_from_slice(b"NULL"),
            serde_json::Value::String(s) => quoted(out, s),
            other => quoted(out, &other.to_string()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use runnel_core::temporal::days_from_civil;

    fn text(d: Datum, enc: Encoding, kind: Kind, elem: Kind) -> String {
        let json = json_encoder();
        let r = Renderer::new(&[], &[], &json);
        let mut out = Vec::new();
        r.render(&mut out, &d, &enc, kind, elem).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn temporal_values_in_postgres_text() {
        let day = days_from_civil(2024, 2, 29);
        assert_eq!(
            text(Datum::Date(day), Encoding::Date, Kind::Date, Kind::Text),
            "2024-02-29"
        );
        let bc = days_from_civil(-43, 3, 15);
        assert_eq!(
            text(Datum::Date(bc), Encoding::Date, Kind::Date, Kind::Text),
            "0044-03-15 BC"
        );
        let ts = day * MICROS_PER_DAY + 13 * 3_600_000_000 + 123_456;
        assert_eq!(
            text(
                Datum::TimestampTz(ts),
                Encoding::String,
                Kind::TimestampTz,
                Kind::Text
            ),
            "2024-02-29 13:00:00.123456+00"
        );
        assert_eq!(
            text(
                Datum::Timestamp(-1),
                Encoding::MicroTimestamp,
                Kind::Timestamp,
                Kind::Text
            ),
            "1969-12-31 23:59:59.999999"
        );
        assert_eq!(
            text(
                Datum::Timestamp(POS_INFINITY),
                Encoding::MicroTimestamp,
                Kind::Timestamp,
                Kind::Text
            ),
            "infinity"
        );
        assert_eq!(
            text(
                Datum::TimeTz {
                    micros: 48_855_500_000,
                    offset_secs: 7200
                },
                Encoding::ZonedTime,
                Kind::TimeTz,
                Kind::Text
            ),
            "13:34:15.500000+02:00"
        );
        assert_eq!(
            text(
                Datum::Interval {
                    months: 14,
                    days: 3,
                    micros: -1_500_000
                },
                Encoding::MicroDuration,
                Kind::Interval,
                Kind::Text
            ),
            "14 mons 3 days -0:00:01.500000"
        );
    }

    #[test]
    fn arrays_bits_and_special_values() {
        let arr = Datum::Array(
            vec![
                Datum::Array(vec![Datum::Int(1), Datum::Null].into()),
                Datum::Array(vec![Datum::Int(3), Datum::Int(4)].into()),
            ]
            .into(),
        );
        let enc = Encoding::array_of(Encoding::array_of(Encoding::Int32));
        assert_eq!(
            text(arr, enc, Kind::Array, Kind::Number),
            "{{\"1\",NULL},{\"3\",\"4\"}}"
        );
        let strs = Datum::Array(vec![Datum::text("q\"u\\o"), Datum::text("y z")].into());
        assert_eq!(
            text(
                strs,
                Encoding::array_of(Encoding::String),
                Kind::Array,
                Kind::Text
            ),
            r#"{"q\"u\\o","y z"}"#
        );
        let bits = Datum::Bits {
            len: 3,
            bits: Bytes::from_static(&[0b1010_0000]),
        };
        assert_eq!(
            text(
                bits.clone(),
                Encoding::Bits { length: 3 },
                Kind::Bit,
                Kind::Text
            ),
            "101"
        );
        assert_eq!(
            text(Datum::Bool(true), Encoding::Boolean, Kind::Bit, Kind::Text),
            "1"
        );
        assert_eq!(
            text(
                Datum::F32(1.4e-45),
                Encoding::Float32,
                Kind::Number,
                Kind::Text
            ),
            "1e-45"
        );
        assert_eq!(
            text(
                Datum::F64(f64::NEG_INFINITY),
                Encoding::Float64,
                Kind::Number,
                Kind::Text
            ),
            "-Infinity"
        );
        assert_eq!(
            text(
                Datum::Bytes(Bytes::from_static(&[0, 255, 16])),
                Encoding::Binary(runnel_core::BinaryMode::Bytes),
                Kind::Bytea,
                Kind::Text
            ),
            "\\x00ff10"
        );
        assert_eq!(
            text(
                Datum::text(r#"{"a":"1","b c":null}"#),
                Encoding::Json,
                Kind::Hstore,
                Kind::Text
            ),
            r#""a"=>"1", "b c"=>NULL"#
        );
    }
}
