//! Property tests of the text parsers and the encodings: a value in PostgreSQL's text form
//! (as `DateStyle=ISO`, `IntervalStyle=iso_8601` and `extra_float_digits=1` print it) becomes
//! the event value that means the same instant, number or array, or the clear error of a value
//! the encoding cannot hold. Plus a bounded fuzz pass: arbitrary bytes through every parser and
//! the pgoutput decoder never panic and fail with a typed error.

use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;
use runnel_core::encode::json::{JsonEncoder, JsonOptions};
use runnel_core::temporal::{MICROS_PER_DAY, civil_from_days};
use runnel_core::{Datum, Encoding, Payload, Schema, fits};

use super::types::{Parser, parse};

/// PostgreSQL's range: 4713-01-01 BC (Julian day 0) to 294276-12-31 AD (timestamps) and
/// 5874897-12-31 AD (dates), as days since 1970-01-01.
const FIRST_DAY: i64 = -2_440_588;
const LAST_TIMESTAMP_DAY: i64 = 106_762_939;
const LAST_DATE_DAY: i64 = 2_145_042_905;

fn encode(encoding: Encoding, datum: Datum) -> Result<String, String> {
    let schema = Arc::new(Schema::new(encoding, true));
    JsonEncoder::new(JsonOptions::schemas(false), None)
        .encode_payload(&[], &[], &Payload::value(&schema, datum), false, false)
        .map(|b| String::from_utf8(b).unwrap())
        .map_err(|e| e.message().to_string())
}

fn parsed(parser: &Parser, text: &str) -> Datum {
    parse(parser, Bytes::copy_from_slice(text.as_bytes()))
        .unwrap_or_else(|e| panic!("{text:?}: {}", e.message()))
}

/// `YYYY-MM-DD[ BC]` as PostgreSQL prints a date.
fn pg_date(days: i64) -> (String, bool) {
    let (y, m, d) = civil_from_days(days);
    let (year, bc) = if y <= 0 { (1 - y, true) } else { (y, false) };
    (format!("{year:04}-{m:02}-{d:02}"), bc)
}

/// `HH:MM:SS[.ffffff]` with PostgreSQL's trailing zeros dropped.
fn pg_time(micros: i64) -> String {
    let secs = micros / 1_000_000;
    let frac = micros % 1_000_000;
    let mut s = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if frac != 0 {
        s.push_str(format!(".{frac:06}").trim_end_matches('0'));
    }
    s
}

fn pg_offset(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    let mut s = format!("{sign}{:02}", a / 3600);
    if !a.is_multiple_of(3600) {
        s.push_str(&format!(":{:02}", a / 60 % 60));
        if !a.is_multiple_of(60) {
            s.push_str(&format!(":{:02}", a % 60));
        }
    }
    s
}

/// ISO-8601 UTC as Debezium's ZonedTimestamp prints it, computed independently of the
/// encoder (from the civil date, with `fraction` digits).
fn iso(days: i64, in_day: i64, fraction: usize) -> String {
    let (y, m, d) = civil_from_days(days);
    let year = if y > 9999 {
        format!("+{y}")
    } else if y < 0 {
        format!("-{:04}", -y)
    } else {
        format!("{y:04}")
    };
    let secs = in_day / 1_000_000;
    let frac = format!("{:06}", in_day % 1_000_000);
    format!(
        "{year}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        &frac[..fraction]
    )
}

fn precision() -> impl Strategy<Value = u32> {
    0u32..=6
}

/// A time of day at precision `p` (PostgreSQL rounds to the column's precision on input).
fn truncate(micros: i64, p: u32) -> i64 {
    let unit = 10i64.pow(6 - p);
    micros / unit * unit
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn dates_over_the_whole_range(days in FIRST_DAY..=LAST_DATE_DAY) {
        let (text, bc) = pg_date(days);
        let text = if bc { format!("{text} BC") } else { text };
        let datum = parsed(&Parser::Date, &text);
        prop_assert_eq!(encode(Encoding::Date, datum).unwrap(), days.to_string());
    }

    #[test]
    fn times_at_every_precision(micros in 0i64..=MICROS_PER_DAY, p in precision()) {
        let micros = truncate(micros, p).min(MICROS_PER_DAY);
        let datum = parsed(&Parser::Time, &pg_time(micros));
        prop_assert_eq!(encode(Encoding::MicroTime, datum.clone()).unwrap(), micros.to_string());
        prop_assert_eq!(encode(Encoding::MilliTime, datum).unwrap(), (micros / 1000).to_string());
    }

    #[test]
    fn times_with_zones(micros in 0i64..MICROS_PER_DAY, offset in -57_599i32..=57_599) {
        let text = format!("{}{}", pg_time(micros), pg_offset(offset));
        let datum = parsed(&Parser::TimeTz, &text);
        let utc = (micros - i64::from(offset) * 1_000_000).rem_euclid(MICROS_PER_DAY);
        let secs = utc / 1_000_000;
        let mut want = format!("\"{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
        if utc % 1_000_000 != 0 {
            want.push_str(format!(".{:06}", utc % 1_000_000).trim_end_matches('0'));
        }
        want.push_str("Z\"");
        prop_assert_eq!(encode(Encoding::ZonedTime, datum).unwrap(), want);
    }

    /// Every instant PostgreSQL holds, in every encoding Debezium gives a timestamp: the same
    /// instant back, or (microseconds past 294247) the clear error.
    #[test]
    fn timestamps_over_the_whole_range(
        days in FIRST_DAY..=LAST_TIMESTAMP_DAY,
        in_day in 0i64..MICROS_PER_DAY,
        p in precision(),
        offset in prop_oneof![Just(0i32), -50_400i32..=50_400],
        zoned in any::<bool>(),
    ) {
        let in_day = truncate(in_day, p);
        let (date, bc) = pg_date(days);
        let mut text = format!("{date} {}", pg_time(in_day));
        // The local time PostgreSQL prints for a zoned value is the UTC instant plus the offset.
        let instant = i128::from(days) * i128::from(MICROS_PER_DAY) + i128::from(in_day);
        if zoned {
            let local = instant + i128::from(offset) * 1_000_000;
            let (ld, lt) = (local.div_euclid(MICROS_PER_DAY as i128) as i64, local.rem_euclid(MICROS_PER_DAY as i128) as i64);
            let (ldate, lbc) = pg_date(ld);
            text = format!("{ldate} {}{}{}", pg_time(lt), pg_offset(offset), if lbc { " BC" } else { "" });
        } else if bc {
            text.push_str(" BC");
        }
        let datum = parsed(if zoned { &Parser::TimestampTz } else { &Parser::Timestamp }, &text);
        if zoned {
            let got = encode(Encoding::ZonedTimestamp { fraction: 6 }, datum).unwrap();
            prop_assert_eq!(got, format!("\"{}\"", iso(days, in_day, 6)));
        } else {
            let millis = instant.div_euclid(1000);
            prop_assert_eq!(encode(Encoding::MilliTimestamp, datum.clone()).unwrap(), millis.to_string());
            match i64::try_from(instant) {
                Ok(us) if us != i64::MAX => {
                    prop_assert_eq!(encode(Encoding::MicroTimestamp, datum).unwrap(), us.to_string());
                }
                _ => {
                    let err = encode(Encoding::MicroTimestamp, datum).unwrap_err();
                    prop_assert!(err.contains("time.precision.mode"), "{}", err);
                }
            }
        }
    }

    /// Numerics of every scale: the Connect Decimal's unscaled bytes are the number's digits.
    #[test]
    fn numerics_of_every_scale(unscaled in any::<i64>(), scale in 0u32..=30, extra in 0u32..=3) {
        let digits = unscaled.unsigned_abs().to_string();
        let scale_usize = scale as usize;
        let padded = format!("{digits:0>width$}", width = scale_usize + 1);
        let (int, frac) = padded.split_at(padded.len() - scale_usize);
        let sign = if unscaled < 0 { "-" } else { "" };
        let text = if scale == 0 { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") };
        let datum = parsed(&Parser::Numeric, &text);
        // Encoded at the column's scale (which may be larger than the value's).
        let got = encode(Encoding::Decimal { scale: scale + extra, precision: None }, datum.clone()).unwrap();
        let bytes = base64_decode(got.trim_matches('"'));
        let want = i128::from(unscaled) * 10i128.pow(extra);
        prop_assert_eq!(signed_be(&bytes), want);
        prop_assert_eq!(encode(Encoding::DecimalString, datum).unwrap(), format!("\"{text}\""));
    }

    /// Doubles and reals, including -0, subnormals, NaN and the infinities: Java's text reads
    /// back as the same value.
    #[test]
    fn floats_of_every_kind(bits in any::<u64>(), bits32 in any::<u32>()) {
        let v = f64::from_bits(bits);
        let text = pg_float(v.is_nan(), v.is_infinite(), v > 0.0, ryu::Buffer::new().format(v));
        let got = encode(Encoding::Float64, parsed(&Parser::Float8, &text)).unwrap();
        prop_assert!(same_f64(&got, v), "{} → {}", text, got);
        let w = f32::from_bits(bits32);
        let text = pg_float(w.is_nan(), w.is_infinite(), w > 0.0, ryu::Buffer::new().format(w));
        let got = encode(Encoding::Float32, parsed(&Parser::Float4, &text)).unwrap();
        prop_assert!(reads_as_f32(&got, w), "{} → {}", text, got);
    }

    /// Arrays of every dimension count (rectangular, as PostgreSQL requires), with NULL and
    /// quoted elements, in columns declaring any number of dimensions: the nesting kept (fewer
    /// dimensions than declared wrapped to the declared depth), or the clear error when the
    /// value has more dimensions than the schema.
    #[test]
    fn arrays_of_every_dimension(
        shape in prop::collection::vec(1usize..=3, 0..=4),
        declared in 0u32..=4,
        seed in any::<u64>(),
        text_elements in any::<bool>(),
    ) {
        let mut n = seed;
        let mut next = move || { n = n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); n >> 33 };
        let (pg, json) = build_array(&shape, &mut next, text_elements);
        let elem = if text_elements { Parser::Text } else { Parser::Int };
        let mut parser = Parser::Array(Box::new(elem));
        let mut encoding = Encoding::array_of(if text_elements { Encoding::String } else { Encoding::Int32 });
        for _ in 1..declared.max(1) {
            encoding = Encoding::array_of(encoding);
        }
        if declared > 1 {
            parser = Parser::Dims(Box::new(parser), declared);
        }
        let depth = shape.len() as u32;
        match parse(&parser, Bytes::from(pg.clone())) {
            Ok(datum) => {
                let misfit = fits::misfit(&encoding, &datum);
                if depth > declared.max(1) && depth > 0 {
                    prop_assert!(misfit.is_some(), "{} in {} dims", pg, declared);
                } else {
                    prop_assert!(misfit.is_none(), "{}: {:?}", pg, misfit);
                    let mut want = json;
                    if depth > 0 {
                        for _ in depth..declared.max(1) {
                            want = format!("[{want}]");
                        }
                    }
                    prop_assert_eq!(encode(encoding, datum).unwrap(), want);
                }
            }
            Err(e) => {
                prop_assert!(declared > 1 && depth > declared, "{}: {}", pg, e.message());
            }
        }
    }

    /// Bit strings of any length: Debezium's Bits bytes hold the string's integer value.
    #[test]
    fn bit_strings(bits in prop::collection::vec(any::<bool>(), 2..=200)) {
        let text: String = bits.iter().map(|&b| if b { '1' } else { '0' }).collect();
        let datum = parsed(&Parser::Bits, &text);
        let got = encode(Encoding::Bits { length: bits.len() as u32 }, datum).unwrap();
        let bytes = base64_decode(got.trim_matches('"'));
        // BitSet.toByteArray: little-endian, bit i of the value is the i-th bit from the right.
        for (i, &b) in bits.iter().rev().enumerate() {
            let set = bytes.get(i / 8).is_some_and(|v| v & (1 << (i % 8)) != 0);
            prop_assert_eq!(set, b, "bit {} of {}", i, text);
        }
    }

    /// Intervals: months, days and microseconds as PostgreSQL's iso_8601 style prints them.
    #[test]
    fn intervals(months in any::<i32>(), days in any::<i32>(), micros in any::<i64>()) {
        let text = pg_interval(months, days, micros);
        let datum = parsed(&Parser::Interval, &text);
        prop_assert_eq!(&datum, &Datum::Interval { months, days, micros });
        // Debezium's month: 30.4375 days, computed here in 128 bits.
        let wide = i128::from(months) * 2_629_800_000_000
            + i128::from(days) * i128::from(MICROS_PER_DAY)
            + i128::from(micros);
        let total = i64::try_from(wide).ok();
        match total {
            Some(t) => prop_assert_eq!(encode(Encoding::MicroDuration, datum).unwrap(), t.to_string()),
            None => prop_assert!(fits::misfit(&Encoding::MicroDuration, &datum).is_some()),
        }
    }
}

fn pg_interval(months: i32, days: i32, micros: i64) -> String {
    let mut s = String::from("P");
    let (y, m) = (months / 12, months % 12);
    if y != 0 {
        s.push_str(&format!("{y}Y"));
    }
    if m != 0 {
        s.push_str(&format!("{m}M"));
    }
    if days != 0 {
        s.push_str(&format!("{days}D"));
    }
    if micros != 0 {
        s.push('T');
        let (h, rest) = (micros / 3_600_000_000, micros % 3_600_000_000);
        let (mi, rest) = (rest / 60_000_000, rest % 60_000_000);
        if h != 0 {
            s.push_str(&format!("{h}H"));
        }
        if mi != 0 {
            s.push_str(&format!("{mi}M"));
        }
        if rest != 0 {
            let sign = if rest < 0 { "-" } else { "" };
            let a = rest.unsigned_abs();
            let mut sec = format!("{sign}{}", a / 1_000_000);
            if a % 1_000_000 != 0 {
                sec.push_str(format!(".{:06}", a % 1_000_000).trim_end_matches('0'));
            }
            s.push_str(&format!("{sec}S"));
        }
    }
    if s == "P" {
        s.push_str("T0S");
    }
    s
}

/// PostgreSQL's float text (shortest round-trip digits since PostgreSQL 12).
fn pg_float(nan: bool, infinite: bool, positive: bool, shortest: &str) -> String {
    if nan {
        "NaN".into()
    } else if infinite {
        if positive { "Infinity" } else { "-Infinity" }.into()
    } else {
        shortest.into()
    }
}

fn same_f64(json: &str, v: f64) -> bool {
    match json {
        "\"NaN\"" => v.is_nan(),
        "\"Infinity\"" => v == f64::INFINITY,
        "\"-Infinity\"" => v == f64::NEG_INFINITY,
        text => text
            .parse::<f64>()
            .is_ok_and(|back| back.to_bits() == v.to_bits() || (back == v && v != 0.0)),
    }
}

fn reads_as_f32(json: &str, v: f32) -> bool {
    match json {
        "\"NaN\"" => v.is_nan(),
        "\"Infinity\"" => v == f32::INFINITY,
        "\"-Infinity\"" => v == f32::NEG_INFINITY,
        text => text
            .parse::<f32>()
            .is_ok_and(|back| back.to_bits() == v.to_bits()),
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut nbits = 0;
    for c in s.bytes().filter(|&c| c != b'=') {
        acc = acc << 6 | ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((acc >> nbits) as u8);
        }
    }
    out
}

/// A big-endian two's complement integer.
fn signed_be(bytes: &[u8]) -> i128 {
    let mut v: i128 = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        -1
    } else {
        0
    };
    for &b in bytes {
        v = v << 8 | i128::from(b);
    }
    v
}

/// A random rectangular array of `shape` in PostgreSQL's text and as the JSON runnel writes.
fn build_array(shape: &[usize], next: &mut impl FnMut() -> u64, text: bool) -> (String, String) {
    let Some((&n, rest)) = shape.split_first() else {
        return ("{}".into(), "[]".into());
    };
    let mut pg = Vec::new();
    let mut json = Vec::new();
    for _ in 0..n {
        if rest.is_empty() {
            let r = next();
            if r.is_multiple_of(5) {
                pg.push("NULL".to_string());
                json.push("null".to_string());
            } else if text {
                let pieces = ["a", " ", "\"", "\\", ",", "{", "}", "NULL", "é", "x y"];
                let s: String = (0..r % 4)
                    .map(|i| pieces[((r >> (i * 4)) % 10) as usize])
                    .collect();
                let mut quoted = String::from("\"");
                for c in s.chars() {
                    if c == '"' || c == '\\' {
                        quoted.push('\\');
                    }
                    quoted.push(c);
                }
                quoted.push('"');
                pg.push(quoted);
                json.push(serde_json::to_string(&s).unwrap());
            } else {
                let v = (r as i64 % 2_000_000_000) - 1_000_000_000;
                pg.push(v.to_string());
                json.push(v.to_string());
            }
        } else {
            let (p, j) = build_array(rest, next, text);
            pg.push(p);
            json.push(j);
        }
    }
    if rest.is_empty() || !pg.is_empty() {
        (
            format!("{{{}}}", pg.join(",")),
            format!("[{}]", json.join(",")),
        )
    } else {
        ("{}".into(), "[]".into())
    }
}

/// The fuzz pass: arbitrary bytes (and mutations of valid values) through every text parser
/// and the pgoutput decoder. Nothing may panic; a failure is a typed error.
mod fuzz {
    use super::*;
    use crate::source::pgoutput;

    fn parsers() -> Vec<Parser> {
        vec![
            Parser::Bool,
            Parser::Int,
            Parser::Float4,
            Parser::Float8,
            Parser::Numeric,
            Parser::Money,
            Parser::Text,
            Parser::TextBytes,
            Parser::Bytea,
            Parser::Date,
            Parser::Time,
            Parser::TimeTz,
            Parser::Timestamp,
            Parser::TimestampTz,
            Parser::Interval,
            Parser::Bits,
            Parser::Point,
            Parser::Hstore,
            Parser::Array(Box::new(Parser::Int)),
            Parser::Array(Box::new(Parser::Text)),
            Parser::Dims(Box::new(Parser::Array(Box::new(Parser::Timestamp))), 3),
        ]
    }

    /// Valid values of each parser's type, mutated by the strategy below.
    const SEEDS: &[&str] = &[
        "t",
        "-9223372036854775808",
        "1.4e-45",
        "-123456789012345678901234567890.123456789",
        "$1,234.56",
        "\\x00ff",
        "294276-12-31",
        "24:00:00",
        "23:59:59.999999+14:59:59",
        "294276-12-31 23:59:59.999999",
        "4713-01-01 00:00:00+00 BC",
        "P-178000000Y-2M3DT-4H-5M-6.789S",
        "0101",
        "(1.5,-2e300)",
        "\"a\"=>\"1\", \"b\"=>NULL",
        "[0:1]={{1,NULL},{\"x\\\"\",4}}",
        "{{{\"2024-01-01 00:00:00\"}}}",
    ];

    fn input() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            (
                prop::sample::select(SEEDS),
                prop::collection::vec((any::<usize>(), any::<u8>()), 0..4)
            )
                .prop_map(|(seed, edits)| {
                    let mut b = seed.as_bytes().to_vec();
                    for (at, byte) in edits {
                        if b.is_empty() {
                            b.push(byte);
                        } else if byte % 3 == 0 {
                            b.remove(at % b.len());
                        } else {
                            let i = at % b.len();
                            b[i] = byte;
                        }
                    }
                    b
                }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        #[test]
        fn text_parsers_never_panic(bytes in input()) {
            for parser in parsers() {
                if let Err(e) = parse(&parser, Bytes::from(bytes.clone())) {
                    prop_assert!(!e.message().is_empty());
                }
            }
        }

        #[test]
        fn pgoutput_decoder_never_panics(tag in prop::sample::select(b"BCORIUDTYMZ".as_slice()),
                                         body in prop::collection::vec(any::<u8>(), 0..96)) {
            let mut msg = vec![tag];
            msg.extend_from_slice(&body);
            let _ = pgoutput::decode(Bytes::from(msg));
        }
    }

    /// Inputs that once failed (the corpus): each must give a typed error or a value.
    #[test]
    fn corpus() {
        let corpus = include_str!("../../fuzz-corpus.txt");
        for line in corpus
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let bytes = line.replace("\\n", "\n").into_bytes();
            for parser in parsers() {
                let _ = parse(&parser, Bytes::from(bytes.clone()));
            }
            let _ = pgoutput::decode(Bytes::from(bytes.clone()));
        }
    }
}
