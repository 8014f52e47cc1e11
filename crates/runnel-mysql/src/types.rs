//! Column values into [`Datum`]s, as Debezium's MySQL connector emits them: from a ROWS
//! event's binary row image (the wire type and metadata of the TABLE_MAP event, the
//! declared type of the schema history) and from the text protocol of snapshot reads.
//!
//! Zones: DATETIME is a wall-clock value and is emitted as if it were UTC; TIMESTAMP is stored
//! in UTC and emitted in UTC (snapshot connections set `time_zone='+00:00'` so the server
//! does not convert it). Zero dates (`0000-00-00`) are null in a nullable column and the
//! epoch otherwise, as Debezium.

use bytes::{BufMut, Bytes, BytesMut};
use runnel_core::temporal::days_from_civil;
use runnel_core::{Datum, Encoding, Numeric};

use crate::binlog::{Reader, col};
use crate::tables::{Charset, ColumnDef, Kind};

/// A value the column cannot hold or bytes that are not one of its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError(pub String);

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

type Res<T> = std::result::Result<T, ValueError>;

fn bad(c: &ColumnDef, what: impl std::fmt::Display) -> ValueError {
    ValueError(format!("column \"{}\" ({}): {what}", c.name, c.type_name))
}

const DIG2BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

/// Reads one value of column `c` (wire type `t`, metadata `meta`) from a row image. `data`
/// is the whole event body the reader reads, so text and bytes are slices of it.
pub fn read_binlog(
    r: &mut Reader<'_>,
    data: &Bytes,
    t: u8,
    meta: u16,
    c: &ColumnDef,
    enc: &Encoding,
    scratch: &mut BytesMut,
) -> Res<Datum> {
    let m = |e: crate::binlog::Malformed| bad(c, e);
    let slice = |r: &mut Reader<'_>, n: usize| -> Res<Bytes> {
        let start = r.pos();
        r.take(n, "column value").map_err(m)?;
        Ok(data.slice(start..start + n))
    };
    let unsigned = matches!(c.kind, Kind::Int { unsigned: true, .. });
    let int = |v: u64, bytes: u32| -> Datum {
        if unsigned || bytes == 8 {
            // BIGINT UNSIGNED above 2^63-1 wraps, as Debezium's `long` mode does.
            Datum::Int(v as i64)
        } else {
            let shift = 64 - bytes * 8;
            Datum::Int(((v << shift) as i64) >> shift)
        }
    };
    Ok(match t {
        col::TINY => {
            let v = r.uint_le(1, "tinyint").map_err(m)?;
            if c.kind == Kind::Year {
                Datum::Int(1900 + v as i64)
            } else {
                int(v, 1)
            }
        }
        col::SHORT => int(r.uint_le(2, "smallint").map_err(m)?, 2),
        col::INT24 => int(r.uint_le(3, "mediumint").map_err(m)?, 3),
        col::LONG => int(r.uint_le(4, "int").map_err(m)?, 4),
        col::LONGLONG => {
            let v = r.uint_le(8, "bigint").map_err(m)?;
            if matches!(enc, Encoding::Decimal { .. }) {
                // bigint.unsigned.handling.mode=precise: the exact value.
                scratch.put_slice(v.to_string().as_bytes());
                Datum::Numeric(Numeric::Finite(scratch.split().freeze()))
            } else {
                // long: above 2^63-1 it wraps, as Debezium.
                Datum::Int(v as i64)
            }
        }
        col::FLOAT => Datum::F32(f32::from_bits(r.uint_le(4, "float").map_err(m)? as u32)),
        col::DOUBLE => Datum::F64(f64::from_bits(r.uint_le(8, "double").map_err(m)?)),
        col::YEAR => {
            let v = r.uint_le(1, "year").map_err(m)?;
            // 0 is YEAR 0000; Debezium adds 1900 to every stored byte.
            Datum::Int(1900 + v as i64)
        }
        col::NEWDECIMAL => {
            let precision = (meta >> 8) as usize;
            let scale = (meta & 0xff) as usize;
            read_decimal(r, precision, scale, scratch).map_err(|e| bad(c, e))?
        }
        col::DATE | col::NEWDATE => {
            let v = r.uint_le(3, "date").map_err(m)?;
            let (d, mo, y) = ((v & 31) as u32, ((v >> 5) & 15) as u32, (v >> 9) as i64);
            if y == 0 || mo == 0 || d == 0 {
                zero(c)
            } else {
                Datum::Date(days_from_civil(y, mo, d))
            }
        }
        col::TIME => {
            let v = r.uint_le(3, "time").map_err(m)? as i64;
            let v = (v << 40) >> 40;
            let (neg, a) = (v < 0, v.abs());
            let micros = ((a / 10_000) * 3600 + (a / 100 % 100) * 60 + a % 100) * 1_000_000;
            Datum::Time(if neg { -micros } else { micros })
        }
        col::TIME2 => Datum::Time(read_time2(r, u32::from(meta)).map_err(m)?),
        col::DATETIME => {
            let v = r.uint_le(8, "datetime").map_err(m)?;
            let (date, time) = (v / 1_000_000, v % 1_000_000);
            datetime(
                c,
                (date / 10_000) as i64,
                (date / 100 % 100) as u32,
                (date % 100) as u32,
                (time / 10_000 * 3600 + time / 100 % 100 * 60 + time % 100) as i64 * 1_000_000,
            )
        }
        col::DATETIME2 => {
            let packed = r.uint_be(5, "datetime2").map_err(m)? as i64 - 0x80_0000_0000;
            let frac = read_frac(r, u32::from(meta)).map_err(m)?;
            let ymd = packed >> 17;
            let ym = ymd >> 5;
            let hms = packed & 0x1ffff;
            let secs = (hms >> 12) * 3600 + ((hms >> 6) & 63) * 60 + (hms & 63);
            datetime(
                c,
                ym / 13,
                (ym % 13) as u32,
                (ymd & 31) as u32,
                secs * 1_000_000 + frac,
            )
        }
        col::TIMESTAMP => {
            let secs = r.uint_le(4, "timestamp").map_err(m)? as i64;
            timestamp(c, secs, 0)
        }
        col::TIMESTAMP2 => {
            let secs = r.uint_be(4, "timestamp2").map_err(m)? as i64;
            let frac = read_frac(r, u32::from(meta)).map_err(m)?;
            timestamp(c, secs, frac)
        }
        col::BIT => {
            let nbytes = (meta & 0xff) as usize + usize::from((meta >> 8) > 0);
            let raw = r.take(nbytes, "bit").map_err(m)?;
            bits(c, raw, scratch)
        }
        col::VARCHAR | col::VAR_STRING => {
            let len_bytes = if meta < 256 { 1 } else { 2 };
            let n = r.uint_le(len_bytes, "varchar length").map_err(m)? as usize;
            let b = slice(r, n)?;
            text_or_bytes(c, b, scratch)?
        }
        col::STRING | col::ENUM | col::SET => {
            let (mut real, mut len) = ((meta >> 8) as u8, u32::from(meta & 0xff));
            if t != col::STRING {
                real = t;
            } else if real & 0x30 != 0x30 {
                // Long CHAR: two bits of the length live in the type byte.
                len |= u32::from((real & 0x30) ^ 0x30) << 4;
                real |= 0x30;
            }
            match real {
                col::ENUM => {
                    let idx = r.uint_le(len as usize, "enum index").map_err(m)? as usize;
                    enum_value(c, idx)
                }
                col::SET => {
                    let bitsv = r.uint_le(len as usize, "set bits").map_err(m)?;
                    set_value(c, bitsv, scratch)
                }
                _ => {
                    let n = r
                        .uint_le(if len < 256 { 1 } else { 2 }, "char length")
                        .map_err(m)? as usize;
                    let b = slice(r, n)?;
                    text_or_bytes(c, b, scratch)?
                }
            }
        }
        col::BLOB
        | col::TINY_BLOB
        | col::MEDIUM_BLOB
        | col::LONG_BLOB
        | col::GEOMETRY
        | col::JSON => {
            let n = r.uint_le(meta as usize, "blob length").map_err(m)? as usize;
            let b = slice(r, n)?;
            if t == col::JSON {
                return mysql_json(c, &b, scratch);
            }
            match c.kind {
                Kind::Point | Kind::Geometry => geometry(c, &b)?,
                _ => text_or_bytes(c, b, scratch)?,
            }
        }
        col::NULL => Datum::Null,
        other => {
            return Err(bad(
                c,
                format!("binlog column type {other} is not supported"),
            ));
        }
    })
}

/// MySQL's binary JSON as its text; an empty value (MySQL writes one for a JSON column a
/// statement could not fill) is null, or `{}` where the column is NOT NULL, as Debezium.
fn mysql_json(c: &ColumnDef, b: &[u8], scratch: &mut BytesMut) -> Res<Datum> {
    if b.is_empty() {
        return Ok(if c.nullable {
            Datum::Null
        } else {
            Datum::Text(Bytes::from_static(b"{}"))
        });
    }
    let mut out = Vec::with_capacity(b.len() + 16);
    crate::json::to_text(b, &mut out).map_err(|e| bad(c, format!("binary JSON: {e}")))?;
    scratch.put_slice(&out);
    Ok(Datum::Text(scratch.split().freeze()))
}

/// A zero date in a NOT NULL column is the epoch; in a nullable one null.
fn zero(c: &ColumnDef) -> Datum {
    if c.nullable {
        return Datum::Null;
    }
    match c.kind {
        Kind::Date => Datum::Date(0),
        Kind::Timestamp { .. } => Datum::Text(Bytes::from_static(b"1970-01-01T00:00:00Z")),
        _ => Datum::Timestamp(0),
    }
}

fn datetime(c: &ColumnDef, y: i64, mo: u32, d: u32, micros_of_day: i64) -> Datum {
    if y == 0 && mo == 0 && d == 0 {
        return zero(c);
    }
    // Outside MySQL's range (years 0–9999, a day's microseconds): not a value the column can
    // hold, treated as the zero date it stands for.
    if mo == 0
        || d == 0
        || mo > 12
        || d > 31
        || !(0..=9999).contains(&y)
        || !(0..86_400_000_000).contains(&micros_of_day)
    {
        return zero(c);
    }
    Datum::Timestamp(days_from_civil(y, mo, d) * 86_400_000_000 + micros_of_day)
}

fn timestamp(c: &ColumnDef, secs: i64, frac: i64) -> Datum {
    if (secs == 0 && frac == 0) || !(0..1_000_000).contains(&frac) {
        return zero(c);
    }
    Datum::TimestampTz(secs * 1_000_000 + frac)
}

/// Fractional seconds of TIME2/DATETIME2/TIMESTAMP2, in microseconds (unsigned forms).
fn read_frac(r: &mut Reader<'_>, fsp: u32) -> crate::binlog::Decoded<i64> {
    Ok(match fsp {
        1 | 2 => r.uint_be(1, "fraction")? as i64 * 10_000,
        3 | 4 => r.uint_be(2, "fraction")? as i64 * 100,
        5 | 6 => r.uint_be(3, "fraction")? as i64,
        _ => 0,
    })
}

/// TIME2: signed, may exceed 24 hours; microseconds.
fn read_time2(r: &mut Reader<'_>, fsp: u32) -> crate::binlog::Decoded<i64> {
    const INT_OFS: i64 = 0x80_0000;
    let packed: i64 = match fsp {
        1 | 2 => {
            let mut int = r.uint_be(3, "time2")? as i64 - INT_OFS;
            let mut frac = i64::from(r.u8("time2 fraction")? as i8);
            if int < 0 && frac != 0 {
                int += 1;
                frac -= 0x100;
            }
            (int << 24) + frac * 10_000
        }
        3 | 4 => {
            let mut int = r.uint_be(3, "time2")? as i64 - INT_OFS;
            let mut frac = i64::from(r.uint_be(2, "time2 fraction")? as u16 as i16);
            if int < 0 && frac != 0 {
                int += 1;
                frac -= 0x10000;
            }
            (int << 24) + frac * 100
        }
        5 | 6 => r.uint_be(6, "time2")? as i64 - 0x8000_0000_0000,
        _ => (r.uint_be(3, "time2")? as i64 - INT_OFS) << 24,
    };
    let neg = packed < 0;
    let a = packed.abs();
    let hms = a >> 24;
    let frac = a % (1 << 24);
    let micros =
        (((hms >> 12) & 0x3ff) * 3600 + ((hms >> 6) & 63) * 60 + (hms & 63)) * 1_000_000 + frac;
    Ok(if neg { -micros } else { micros })
}

/// DECIMAL's binary form (groups of nine digits in four bytes, sign in the top bit) as text.
pub(crate) fn read_decimal(
    r: &mut Reader<'_>,
    precision: usize,
    scale: usize,
    scratch: &mut BytesMut,
) -> std::result::Result<Datum, String> {
    if precision == 0 || scale > precision || precision > 65 {
        return Err(format!("invalid DECIMAL({precision},{scale}) metadata"));
    }
    let intg = precision - scale;
    let (intg0, intg0x) = (intg / 9, intg % 9);
    let (frac0, frac0x) = (scale / 9, scale % 9);
    let size = intg0 * 4 + DIG2BYTES[intg0x] + frac0 * 4 + DIG2BYTES[frac0x];
    let raw = r.take(size, "decimal").map_err(|e| e.to_string())?;
    let mut buf = [0u8; 32];
    let buf = &mut buf[..size];
    buf.copy_from_slice(raw);
    let negative = buf[0] & 0x80 == 0;
    buf[0] ^= 0x80;
    if negative {
        for b in buf.iter_mut() {
            *b = !*b;
        }
    }
    let mut p = 0usize;
    let mut group = |n: usize| -> u32 {
        let v = buf[p..p + n]
            .iter()
            .fold(0u32, |a, b| (a << 8) | u32::from(*b));
        p += n;
        v
    };
    let mut digits = String::with_capacity(precision + 2);
    if intg0x > 0 {
        digits.push_str(&group(DIG2BYTES[intg0x]).to_string());
    }
    for _ in 0..intg0 {
        let g = group(4);
        if digits.is_empty() {
            digits.push_str(&g.to_string());
        } else {
            digits.push_str(&format!("{g:09}"));
        }
    }
    let int_part = digits.trim_start_matches('0');
    if negative {
        scratch.put_u8(b'-');
    }
    scratch.put_slice(if int_part.is_empty() {
        b"0"
    } else {
        int_part.as_bytes()
    });
    if scale > 0 {
        scratch.put_u8(b'.');
        for _ in 0..frac0 {
            scratch.put_slice(format!("{:09}", group(4)).as_bytes());
        }
        if frac0x > 0 {
            let g = group(DIG2BYTES[frac0x]);
            scratch.put_slice(format!("{g:0width$}", width = frac0x).as_bytes());
        }
    }
    Ok(Datum::Numeric(Numeric::Finite(scratch.split().freeze())))
}

/// BIT(n) from its big-endian bytes: BIT(1) a boolean, wider ones Debezium's `Bits` bytes —
/// least significant byte first, every byte of the column kept (zero is `n/8` zero bytes,
/// where PostgreSQL's bit strings drop trailing zero bytes).
fn bits(c: &ColumnDef, raw: &[u8], scratch: &mut BytesMut) -> Datum {
    let n = match c.kind {
        Kind::Bit(n) => n,
        _ => (raw.len() * 8) as u32,
    };
    if n == 1 {
        return Datum::Bool(raw.last().is_some_and(|b| b & 1 == 1));
    }
    let nbytes = (n as usize).div_ceil(8);
    for i in 0..nbytes {
        // Shorter input (a text value without leading zero bytes) is zero-extended.
        let b = raw.len().checked_sub(i + 1).map_or(0, |j| raw[j]);
        scratch.put_u8(b);
    }
    Datum::Bytes(scratch.split().freeze())
}

fn enum_value(c: &ColumnDef, idx: usize) -> Datum {
    match &c.kind {
        Kind::Enum(values) if idx >= 1 && idx <= values.len() => {
            Datum::Text(Bytes::copy_from_slice(values[idx - 1].as_bytes()))
        }
        // Index 0 is the empty string MySQL stores for an invalid value.
        _ => Datum::Text(Bytes::new()),
    }
}

fn set_value(c: &ColumnDef, bitsv: u64, scratch: &mut BytesMut) -> Datum {
    if let Kind::Set(values) = &c.kind {
        let mut first = true;
        for (i, v) in values.iter().enumerate().take(64) {
            if bitsv & (1 << i) != 0 {
                if !first {
                    scratch.put_u8(b',');
                }
                scratch.put_slice(v.as_bytes());
                first = false;
            }
        }
    }
    Datum::Text(scratch.split().freeze())
}

fn geometry(c: &ColumnDef, b: &Bytes) -> Res<Datum> {
    // Stored as a 4-byte SRID (0: none, which Debezium writes as null) and the WKB.
    let wkb = b
        .get(4..)
        .ok_or_else(|| bad(c, "geometry value too short"))?;
    let srid = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let srid = (srid != 0).then_some(srid);
    if c.kind == Kind::Geometry {
        return Ok(Datum::Geometry {
            srid,
            wkb: b.slice(4..),
        });
    }
    if wkb.len() < 21 {
        return Err(bad(c, "POINT value too short"));
    }
    let little = wkb[0] == 1;
    let num = |s: &[u8]| {
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        if little {
            f64::from_le_bytes(a)
        } else {
            f64::from_be_bytes(a)
        }
    };
    Ok(Datum::Point {
        x: num(&wkb[5..13]),
        y: num(&wkb[13..21]),
        srid,
    })
}

/// Text in the column's character set as UTF-8, or bytes (BINARY padded to its length).
fn text_or_bytes(c: &ColumnDef, b: Bytes, scratch: &mut BytesMut) -> Res<Datum> {
    match (&c.kind, c.charset()) {
        (Kind::Binary { fixed }, _) => Ok(Datum::Bytes(pad(b, *fixed, scratch))),
        (Kind::Geometry | Kind::Point, _) => geometry(c, &b),
        (Kind::Uuid, _) if b.len() == 16 => Ok(Datum::Text(uuid_text(&b, scratch))),
        (Kind::Inet6, _) if b.len() == 16 => Ok(Datum::text(
            &std::net::Ipv6Addr::from(<[u8; 16]>::try_from(&b[..]).unwrap_or_default()).to_string(),
        )),
        (Kind::Inet4, _) if b.len() == 4 => Ok(Datum::text(
            &std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
        )),
        (_, Charset::Binary) => Ok(Datum::Bytes(b)),
        (_, Charset::Latin1) => {
            for &x in b.iter() {
                let ch = char::from(x);
                let mut tmp = [0u8; 4];
                scratch.put_slice(ch.encode_utf8(&mut tmp).as_bytes());
            }
            Ok(Datum::Text(scratch.split().freeze()))
        }
        (_, Charset::Utf8) => {
            if std::str::from_utf8(&b).is_err() {
                return Err(bad(
                    c,
                    "the value is not valid UTF-8 in the column's character set",
                ));
            }
            Ok(Datum::Text(b))
        }
    }
}

fn pad(b: Bytes, fixed: Option<u32>, scratch: &mut BytesMut) -> Bytes {
    match fixed {
        Some(n) if b.len() < n as usize => {
            scratch.put_slice(&b);
            scratch.put_bytes(0, n as usize - b.len());
            scratch.split().freeze()
        }
        _ => b,
    }
}

fn uuid_text(b: &[u8], scratch: &mut BytesMut) -> Bytes {
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            scratch.put_u8(b'-');
        }
        scratch.put_slice(format!("{x:02x}").as_bytes());
    }
    scratch.split().freeze()
}

fn num<T: std::str::FromStr>(c: &ColumnDef, s: &str) -> Res<T> {
    s.trim()
        .parse()
        .map_err(|_| bad(c, format!("\"{s}\" is not a {}", c.type_name)))
}

/// Parses "YYYY-MM-DD[ hh:mm:ss[.ffffff]]" into (y, m, d, µs of day).
fn parse_datetime(s: &str) -> Option<(i64, u32, u32, i64)> {
    let (date, time) = s.split_once([' ', 'T']).unwrap_or((s, ""));
    let mut it = date.splitn(3, '-');
    let y: i64 = it.next()?.parse().ok().filter(|y| (0..=9999).contains(y))?;
    let mo: u32 = it.next()?.parse().ok().filter(|m| *m <= 12)?;
    let d: u32 = it.next()?.parse().ok().filter(|d| *d <= 31)?;
    let micros = if time.is_empty() {
        0
    } else {
        parse_time(time)?
    };
    Some((y, mo, d, micros))
}

/// Parses "[-]h:mm:ss[.ffffff]" into microseconds.
fn parse_time(s: &str) -> Option<i64> {
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut it = hms.splitn(3, ':');
    // TIME holds ±838:59:59; anything far beyond is not a time.
    let h: i64 = it.next()?.parse().ok().filter(|h| *h < 1_000_000)?;
    let m: i64 = it.next()?.parse().ok().filter(|m| *m < 60)?;
    let sec: i64 = it.next()?.parse().ok().filter(|s| *s < 60)?;
    let mut f: i64 = 0;
    for (i, ch) in frac.chars().take(6).enumerate() {
        f += i64::from(ch.to_digit(10)?) * 10_i64.pow(5 - i as u32);
    }
    let v = (h * 3600 + m * 60 + sec) * 1_000_000 + f;
    Some(if neg { -v } else { v })
}

/// One value of the text protocol (snapshot reads, with `time_zone='+00:00'`) or a DDL
/// literal default (`default`: BIT literals are not parsed).
pub fn parse_text(c: &ColumnDef, enc: &Encoding, raw: &[u8], _default: bool) -> Res<Datum> {
    let text = || std::str::from_utf8(raw).map_err(|_| bad(c, "value is not valid UTF-8"));
    Ok(match &c.kind {
        Kind::Int { bytes, unsigned } => {
            let s = text()?;
            if *bytes == 8 && *unsigned {
                let v: u64 = num(c, s)?;
                if matches!(enc, Encoding::Decimal { .. }) {
                    Datum::Numeric(Numeric::Finite(Bytes::copy_from_slice(s.trim().as_bytes())))
                } else {
                    Datum::Int(v as i64)
                }
            } else {
                Datum::Int(num(c, s)?)
            }
        }
        Kind::Decimal { .. } => {
            let s = text()?.trim();
            runnel_core::decimal::parse(s.as_bytes())
                .ok_or_else(|| bad(c, format!("\"{s}\" is not a number")))?;
            Datum::Numeric(Numeric::Finite(Bytes::copy_from_slice(s.as_bytes())))
        }
        Kind::Float => Datum::F32(num(c, text()?)?),
        Kind::Double => Datum::F64(num(c, text()?)?),
        Kind::Bit(_) => {
            let mut scratch = BytesMut::new();
            bits(c, raw, &mut scratch)
        }
        Kind::Text
        | Kind::Json
        | Kind::Enum(_)
        | Kind::Set(_)
        | Kind::Uuid
        | Kind::Inet4
        | Kind::Inet6 => {
            text()?;
            Datum::Text(Bytes::copy_from_slice(raw))
        }
        Kind::Binary { fixed } => {
            let mut scratch = BytesMut::new();
            Datum::Bytes(pad(Bytes::copy_from_slice(raw), *fixed, &mut scratch))
        }
        Kind::Point | Kind::Geometry => geometry(c, &Bytes::copy_from_slice(raw))?,
        Kind::Year => {
            let y: i64 = num(c, text()?)?;
            Datum::Int(if y == 0 { 1900 } else { y })
        }
        Kind::Date => {
            let s = text()?;
            let (y, mo, d, _) =
                parse_datetime(s).ok_or_else(|| bad(c, format!("\"{s}\" is not a date")))?;
            if y == 0 || mo == 0 || d == 0 {
                zero(c)
            } else {
                Datum::Date(days_from_civil(y, mo, d))
            }
        }
        Kind::Time { .. } => {
            let s = text()?;
            Datum::Time(parse_time(s).ok_or_else(|| bad(c, format!("\"{s}\" is not a time")))?)
        }
        Kind::DateTime { .. } => {
            let s = text()?;
            let (y, mo, d, us) =
                parse_datetime(s).ok_or_else(|| bad(c, format!("\"{s}\" is not a datetime")))?;
            datetime(c, y, mo, d, us)
        }
        Kind::Timestamp { .. } => {
            let s = text()?;
            let (y, mo, d, us) =
                parse_datetime(s).ok_or_else(|| bad(c, format!("\"{s}\" is not a timestamp")))?;
            if y == 0 || mo == 0 || d == 0 {
                zero(c)
            } else {
                Datum::TimestampTz(days_from_civil(y, mo, d) * 86_400_000_000 + us)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(kind: Kind, nullable: bool) -> ColumnDef {
        ColumnDef {
            name: "c".into(),
            kind,
            type_name: "T".into(),
            length: None,
            scale: None,
            nullable,
            default: None,
            auto_increment: false,
            charset: None,
            comment: None,
            generated: false,
        }
    }

    fn decode(t: u8, meta: u16, c: &ColumnDef, bytes: &[u8]) -> Datum {
        let data = Bytes::copy_from_slice(bytes);
        let mut r = Reader::new(&data);
        let mut scratch = BytesMut::new();
        read_binlog(&mut r, &data, t, meta, c, &Encoding::Int64, &mut scratch).unwrap()
    }

    #[test]
    fn decimals_from_their_binary_form() {
        let c = column(
            Kind::Decimal {
                precision: 10,
                scale: 2,
            },
            true,
        );
        // 1234.56 in DECIMAL(10,2): 8 integer digits (4 bytes: 0x800004d2), 2 fraction (1 byte).
        let d = decode(
            col::NEWDECIMAL,
            (10 << 8) | 2,
            &c,
            &[0x80, 0x00, 0x04, 0xd2, 0x38],
        );
        assert_eq!(
            d,
            Datum::Numeric(Numeric::Finite(Bytes::from_static(b"1234.56")))
        );
        // -1234.56: every byte inverted.
        let d = decode(
            col::NEWDECIMAL,
            (10 << 8) | 2,
            &c,
            &[0x7f, 0xff, 0xfb, 0x2d, 0xc7],
        );
        assert_eq!(
            d,
            Datum::Numeric(Numeric::Finite(Bytes::from_static(b"-1234.56")))
        );
    }

    #[test]
    fn temporal_values() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1000, 1, 1), -354_285);
        let c = column(Kind::Time { fsp: 0 }, true);
        // -838:59:59 in TIME2(0).
        let v: i64 = 0x80_0000 - ((838 << 12) | (59 << 6) | 59);
        let b = (v as u32).to_be_bytes();
        assert_eq!(
            decode(col::TIME2, 0, &c, &b[1..]),
            Datum::Time(-3_020_399_000_000)
        );
        let c = column(Kind::Date, false);
        assert_eq!(decode(col::DATE, 0, &c, &[0, 0, 0]), Datum::Date(0));
        let c = column(Kind::Date, true);
        assert_eq!(decode(col::DATE, 0, &c, &[0, 0, 0]), Datum::Null);
        let c = column(Kind::DateTime { fsp: 6 }, true);
        assert_eq!(
            parse_text(
                &c,
                &Encoding::MicroTimestamp,
                b"9999-12-31 23:59:59.999999",
                false
            )
            .unwrap(),
            Datum::Timestamp(253_402_300_799_999_999)
        );
    }

    proptest::proptest! {
        /// Any wire type, metadata, declared type and bytes: a value or an error, never a panic.
        #[test]
        fn row_values_never_panic(
            t in proptest::prelude::any::<u8>(),
            meta in proptest::prelude::any::<u16>(),
            k in 0usize..16,
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let kinds = [
                Kind::Int { bytes: 8, unsigned: true }, Kind::Int { bytes: 3, unsigned: false },
                Kind::Decimal { precision: 65, scale: 30 }, Kind::Bit(64), Kind::Text,
                Kind::Binary { fixed: Some(8) }, Kind::Date, Kind::Time { fsp: 6 },
                Kind::DateTime { fsp: 3 }, Kind::Timestamp { fsp: 6 }, Kind::Year,
                Kind::Enum(std::sync::Arc::from(vec!["a".to_string()])),
                Kind::Set(std::sync::Arc::from(vec!["a".to_string(), "b".into()])),
                Kind::Point, Kind::Uuid, Kind::Inet6,
            ];
            let c = column(kinds[k].clone(), k % 2 == 0);
            let data = Bytes::from(bytes);
            let mut r = Reader::new(&data);
            let mut scratch = BytesMut::new();
            let _ = read_binlog(&mut r, &data, t, meta, &c, &Encoding::Int64, &mut scratch);
            let _ = parse_text(&c, &Encoding::Int64, &data, false);
        }
    }

    #[test]
    fn bits_are_little_endian_and_full_length() {
        let c = column(Kind::Bit(3), true);
        assert_eq!(
            decode(col::BIT, 3 << 8, &c, &[0b101]),
            Datum::Bytes(Bytes::from_static(&[5]))
        );
        let c = column(Kind::Bit(64), true);
        let d = decode(col::BIT, 8, &c, &[0x80, 0, 0, 0, 0, 0, 0, 3]);
        assert_eq!(
            d,
            Datum::Bytes(Bytes::from_static(&[3, 0, 0, 0, 0, 0, 0, 0x80]))
        );
        let c = column(Kind::Bit(1), true);
        assert_eq!(decode(col::BIT, 1 << 8, &c, &[1]), Datum::Bool(true));
    }
}
