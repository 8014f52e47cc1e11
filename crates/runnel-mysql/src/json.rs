//! MySQL's binary JSON (the form a JSON column has in the binlog) as JSON text, written as
//! Debezium writes it (its binlog client's string formatter): compact, strings escaped as
//! Jackson escapes them, doubles as Java prints them (exact decimal expansion where Java
//! would use an exponent), DECIMAL exact, dates and times as quoted text, other opaque values
//! as base64.
//!
//! The format (MySQL's `json_binary.h`): a type byte, then the value. Objects and arrays hold
//! an element count and byte size (2 bytes each in the small form, 4 in the large), an entry
//! per key (offset, length) and per value (type, then an offset or the value itself when it
//! fits), offsets counted from the start of the object. MariaDB stores JSON as text and never
//! gets here.

use bytes::BytesMut;
use runnel_core::encode::writer;

use crate::binlog::{Decoded, Malformed, Reader};

const SMALL_OBJECT: u8 = 0x00;
const LARGE_OBJECT: u8 = 0x01;
const SMALL_ARRAY: u8 = 0x02;
const LARGE_ARRAY: u8 = 0x03;
const LITERAL: u8 = 0x04;
const INT16: u8 = 0x05;
const UINT16: u8 = 0x06;
const INT32: u8 = 0x07;
const UINT32: u8 = 0x08;
const INT64: u8 = 0x09;
const UINT64: u8 = 0x0a;
const DOUBLE: u8 = 0x0b;
const STRING: u8 = 0x0c;
const OPAQUE: u8 = 0x0f;

/// Nesting MySQL allows (`JSON_DOCUMENT_MAX_DEPTH`); deeper input is malformed, not a
/// stack overflow.
const MAX_DEPTH: usize = 100;

/// Writes the JSON text of a binary JSON document.
pub fn to_text(doc: &[u8], out: &mut Vec<u8>) -> Decoded<()> {
    let (&kind, body) = doc.split_first().ok_or(Malformed("JSON type"))?;
    value(kind, body, 0, out, 0)
}

/// A value of type `kind` at `at` in `buf` (the enclosing object or array, or the document).
fn value(kind: u8, buf: &[u8], at: usize, out: &mut Vec<u8>, depth: usize) -> Decoded<()> {
    if depth > MAX_DEPTH {
        return Err(Malformed("JSON nesting"));
    }
    let mut r = Reader::new(buf.get(at..).ok_or(Malformed("JSON value offset"))?);
    match kind {
        SMALL_OBJECT | LARGE_OBJECT | SMALL_ARRAY | LARGE_ARRAY => {
            let body = &buf[at..];
            container(kind, body, out, depth)?
        }
        LITERAL => literal(r.u8("JSON literal")?.into(), out)?,
        INT16 => writer::int(out, i64::from(r.uint_le(2, "JSON int16")? as u16 as i16)),
        UINT16 => writer::uint(out, r.uint_le(2, "JSON uint16")?),
        INT32 => writer::int(out, i64::from(r.uint_le(4, "JSON int32")? as u32 as i32)),
        UINT32 => writer::uint(out, r.uint_le(4, "JSON uint32")?),
        INT64 => writer::int(out, r.uint_le(8, "JSON int64")? as i64),
        UINT64 => writer::uint(out, r.uint_le(8, "JSON uint64")?),
        DOUBLE => double(f64::from_bits(r.uint_le(8, "JSON double")?), out),
        STRING => {
            let n = var_len(&mut r)?;
            let s = r.take(n, "JSON string")?;
            std::str::from_utf8(s).map_err(|_| Malformed("JSON string (not UTF-8)"))?;
            writer::escaped(out, s);
        }
        OPAQUE => opaque(&mut r, out)?,
        _ => return Err(Malformed("JSON value type")),
    }
    Ok(())
}

fn literal(v: u64, out: &mut Vec<u8>) -> Decoded<()> {
    out.extend_from_slice(match v {
        0 => b"null",
        1 => b"true",
        2 => b"false",
        _ => return Err(Malformed("JSON literal")),
    });
    Ok(())
}

fn container(kind: u8, body: &[u8], out: &mut Vec<u8>, depth: usize) -> Decoded<()> {
    let large = kind == LARGE_OBJECT || kind == LARGE_ARRAY;
    let object = kind == SMALL_OBJECT || kind == LARGE_OBJECT;
    let width = if large { 4 } else { 2 };
    let mut r = Reader::new(body);
    let count = r.uint_le(width, "JSON element count")? as usize;
    let size = r.uint_le(width, "JSON size")? as usize;
    let body = body.get(..size).ok_or(Malformed("JSON size"))?;
    // The entries must fit before anything is written for them.
    let entries = count
        .checked_mul(if object { width + 2 } else { 0 } + 1 + width)
        .ok_or(Malformed("JSON element count"))?;
    if 2 * width + entries > body.len() {
        return Err(Malformed("JSON element count"));
    }
    let keys_at = 2 * width;
    let values_at = keys_at + if object { count * (width + 2) } else { 0 };
    out.push(if object { b'{' } else { b'[' });
    for i in 0..count {
        if i > 0 {
            out.push(b',');
        }
        if object {
            let mut k = Reader::new(&body[keys_at + i * (width + 2)..]);
            let offset = k.uint_le(width, "JSON key offset")? as usize;
            let len = k.uint_le(2, "JSON key length")? as usize;
            let key = offset
                .checked_add(len)
                .and_then(|end| body.get(offset..end))
                .ok_or(Malformed("JSON key"))?;
            std::str::from_utf8(key).map_err(|_| Malformed("JSON key (not UTF-8)"))?;
            writer::escaped(out, key);
            out.push(b':');
        }
        let mut v = Reader::new(&body[values_at + i * (1 + width)..]);
        let t = v.u8("JSON value type")?;
        let inline = match t {
            LITERAL | INT16 | UINT16 => true,
            INT32 | UINT32 => large,
            _ => false,
        };
        if inline {
            let raw = v.take(width, "JSON inline value")?;
            value(t, raw, 0, out, depth + 1)?;
        } else {
            let offset = v.uint_le(width, "JSON value offset")? as usize;
            value(t, body, offset, out, depth + 1)?;
        }
    }
    out.push(if object { b'}' } else { b']' });
    Ok(())
}

/// A length of 7 bits per byte, least significant first, the high bit saying more follow.
fn var_len(r: &mut Reader<'_>) -> Decoded<usize> {
    let mut n = 0usize;
    for i in 0..5 {
        let b = r.u8("JSON length")?;
        n |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(n);
        }
    }
    Err(Malformed("JSON length"))
}

/// A value of another MySQL type inside JSON: its field type, length, then its bytes.
fn opaque(r: &mut Reader<'_>, out: &mut Vec<u8>) -> Decoded<()> {
    use crate::binlog::col;
    let field_type = r.u8("JSON opaque type")?;
    let n = var_len(r)?;
    let data = r.take(n, "JSON opaque value")?;
    let mut d = Reader::new(data);
    match field_type {
        col::DECIMAL | col::NEWDECIMAL => {
            let precision = usize::from(d.u8("JSON decimal precision")?);
            let scale = usize::from(d.u8("JSON decimal scale")?);
            let mut scratch = BytesMut::new();
            match crate::types::read_decimal(&mut d, precision, scale, &mut scratch) {
                Ok(runnel_core::Datum::Numeric(runnel_core::Numeric::Finite(text))) => {
                    out.extend_from_slice(&text)
                }
                _ => return Err(Malformed("JSON decimal")),
            }
        }
        col::DATE
        | col::TIME
        | col::TIME2
        | col::DATETIME
        | col::DATETIME2
        | col::TIMESTAMP
        | col::TIMESTAMP2 => {
            let packed = d.uint_le(8, "JSON date or time")? as i64;
            out.push(b'"');
            if matches!(field_type, col::TIME | col::TIME2) {
                time(packed, out);
            } else {
                date_time(packed, field_type == col::DATE, out);
            }
            out.push(b'"');
        }
        _ => writer::base64(out, data),
    }
    Ok(())
}

/// MySQL's packed DATETIME (`year*13+month`, day, hour, minute, second, then 24 bits of
/// microseconds) as `yyyy-mm-dd[ hh:mm:ss[.ffffff]]`.
fn date_time(packed: i64, date_only: bool, out: &mut Vec<u8>) {
    let micros = packed.rem_euclid(1 << 24);
    let v = packed >> 24;
    let year_month = (v >> 22) % (1 << 17);
    let day = (v >> 17) % (1 << 5);
    let text = format!("{:04}-{:02}-{:02}", year_month / 13, year_month % 13, day);
    out.extend_from_slice(text.as_bytes());
    if !date_only {
        out.push(b' ');
        clock(
            (v >> 12) % (1 << 5),
            (v >> 6) % (1 << 6),
            v % (1 << 6),
            micros,
            out,
        );
    }
}

/// MySQL's packed TIME (negative: the whole value negated) as `[-]hh:mm:ss[.ffffff]`.
fn time(packed: i64, out: &mut Vec<u8>) {
    if packed < 0 {
        out.push(b'-');
    }
    let a = packed.unsigned_abs() as i64;
    let v = a >> 24;
    clock(
        (v >> 12) % (1 << 10),
        (v >> 6) % (1 << 6),
        v % (1 << 6),
        a % (1 << 24),
        out,
    );
}

fn clock(h: i64, m: i64, s: i64, micros: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("{h:02}:{m:02}:{s:02}").as_bytes());
    if micros != 0 {
        let frac = format!("{micros:06}");
        out.push(b'.');
        out.extend_from_slice(frac.trim_end_matches('0').as_bytes());
    }
}

/// A double as Java's `Double.toString`, or, where that has an exponent, as the exact
/// decimal value of the double (`BigDecimal(double).toPlainString()`), as Debezium does.
fn double(v: f64, out: &mut Vec<u8>) {
    let start = out.len();
    writer::f64(out, v);
    if !out[start..].contains(&b'E') {
        return;
    }
    out.truncate(start);
    exact_decimal(v, out);
}

/// The exact decimal expansion of a finite double: mantissa × 2^exp, written as an integer
/// (exp ≥ 0) or as mantissa × 5^-exp with the point -exp digits from the right.
fn exact_decimal(v: f64, out: &mut Vec<u8>) {
    let bits = v.to_bits();
    let negative = bits >> 63 == 1;
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (mut mantissa, mut exp) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), biased - 1075)
    };
    if mantissa == 0 {
        out.push(b'0');
        return;
    }
    while mantissa & 1 == 0 && exp < 0 {
        mantissa >>= 1;
        exp += 1;
    }
    if negative {
        out.push(b'-');
    }
    // Little-endian limbs of nine decimal digits.
    let mut limbs: Vec<u64> = vec![mantissa % 1_000_000_000, mantissa / 1_000_000_000];
    let (factor, times) = if exp >= 0 { (2, exp) } else { (5, -exp) };
    for _ in 0..times {
        let mut carry = 0u64;
        for limb in limbs.iter_mut() {
            let x = *limb * factor + carry;
            *limb = x % 1_000_000_000;
            carry = x / 1_000_000_000;
        }
        if carry > 0 {
            limbs.push(carry);
        }
    }
    while limbs.len() > 1 && limbs.last() == Some(&0) {
        limbs.pop();
    }
    let mut digits = limbs.last().map(u64::to_string).unwrap_or_default();
    for limb in limbs.iter().rev().skip(1) {
        digits.push_str(&format!("{limb:09}"));
    }
    let scale = if exp >= 0 { 0 } else { (-exp) as usize };
    if scale == 0 {
        out.extend_from_slice(digits.as_bytes());
    } else if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.extend_from_slice(format!("{int}.{frac}").as_bytes());
    } else {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', scale - digits.len()));
        out.extend_from_slice(digits.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(doc: &[u8]) -> String {
        let mut out = Vec::new();
        to_text(doc, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// A small object written as MySQL lays it out: {"a": 1, "bc": "x\n", "d": [true, null]}.
    fn sample() -> Vec<u8> {
        let mut doc = vec![SMALL_OBJECT];
        // count 3; header 4 + keys 3*4 + values 3*3 = 25; keys "a","bc","d" at 25..29;
        // the string at 29 (len 2 + "x\n" → 3 bytes), the array at 32.
        let array = [
            2u8, 0, 10, 0, // count 2, size 10 (4 + 2*3)
            LITERAL, 1, 0, LITERAL, 0, 0,
        ];
        let size = 32 + array.len();
        doc.extend_from_slice(&[3, 0, size as u8, 0]);
        doc.extend_from_slice(&[25, 0, 1, 0, 26, 0, 2, 0, 28, 0, 1, 0]);
        doc.extend_from_slice(&[INT16, 1, 0, STRING, 29, 0, SMALL_ARRAY, 32, 0]);
        doc.extend_from_slice(b"abcd");
        doc.extend_from_slice(&[2, b'x', b'\n']);
        doc.extend_from_slice(&array);
        doc
    }

    #[test]
    fn objects_arrays_and_scalars_read_as_debezium_writes_them() {
        assert_eq!(text(&sample()), r#"{"a":1,"bc":"x\n","d":[true,null]}"#);
        assert_eq!(text(&[INT16, 0xff, 0xff]), "-1");
        assert_eq!(
            text(&[UINT64, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            "18446744073709551615"
        );
        let mut d = vec![DOUBLE];
        d.extend_from_slice(&1.5f64.to_le_bytes());
        assert_eq!(text(&d), "1.5");
        let mut d = vec![DOUBLE];
        d.extend_from_slice(&1.0e10f64.to_le_bytes());
        assert_eq!(text(&d), "10000000000");
        let mut d = vec![DOUBLE];
        d.extend_from_slice(&1.0e-4f64.to_le_bytes());
        assert_eq!(
            text(&d),
            "0.000100000000000000004792173602385929598312941379845142364501953125"
        );
    }

    #[test]
    fn opaque_decimals_dates_and_times() {
        // DECIMAL(5,2) -12.50 in its binary form.
        let dec = [5u8, 2, 0x7f, 0xf3, 0xcd];
        let mut d = vec![OPAQUE, crate::binlog::col::NEWDECIMAL, dec.len() as u8];
        d.extend_from_slice(&dec);
        assert_eq!(text(&d), "-12.50");
        // DATETIME 2024-02-29 13:05:09.120000.
        let ym = 2024 * 13 + 2;
        let v: i64 = (ym << 22) | (29 << 17) | (13 << 12) | (5 << 6) | 9;
        let packed = (v << 24) | 120_000;
        let mut d = vec![OPAQUE, crate::binlog::col::DATETIME2, 8];
        d.extend_from_slice(&packed.to_le_bytes());
        assert_eq!(text(&d), r#""2024-02-29 13:05:09.12""#);
        let mut d = vec![OPAQUE, crate::binlog::col::DATE, 8];
        d.extend_from_slice(&(((ym << 22) | (29 << 17)) << 24).to_le_bytes());
        assert_eq!(text(&d), r#""2024-02-29""#);
        let t: i64 = ((838 << 12) | (59 << 6) | 58) << 24;
        let mut d = vec![OPAQUE, crate::binlog::col::TIME2, 8];
        d.extend_from_slice(&(-t).to_le_bytes());
        assert_eq!(text(&d), r#""-838:59:58""#);
        let d = [OPAQUE, crate::binlog::col::BLOB, 3, 1, 2, 3];
        assert_eq!(text(&d), r#""AQID""#);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_are_text_or_an_error(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let mut out = Vec::new();
            let _ = to_text(&bytes, &mut out);
        }

        #[test]
        fn cut_documents_are_errors(cut in 0usize..44) {
            let doc = sample();
            let mut out = Vec::new();
            proptest::prop_assert!(to_text(&doc[..cut.min(doc.len() - 1)], &mut out).is_err());
        }
    }
}
