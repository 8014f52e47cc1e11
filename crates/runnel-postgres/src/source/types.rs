//! PostgreSQL types: the catalog of types a database has, how each maps to Debezium's Connect
//! encoding, and the parsers from PostgreSQL's text output (pgoutput and COPY both send text) to
//! [`Datum`]s.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use runnel_core::datum::{NEG_INFINITY, POS_INFINITY};
use runnel_core::encode::writer;
use runnel_core::temporal::{MICROS_PER_DAY, MICROS_PER_SECOND, days_from_civil};
use runnel_core::{BinaryMode, Datum, Encoding, Error, Numeric, Result};

/// Debezium's handling modes that change how a type is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalMode {
    Precise,
    String,
    Double,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePrecisionMode {
    Adaptive,
    AdaptiveTimeMicroseconds,
    Connect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalMode {
    Numeric,
    String,
}

#[derive(Debug, Clone, Copy)]
pub struct TypeModes {
    pub decimal: DecimalMode,
    pub time: TimePrecisionMode,
    pub binary: BinaryMode,
    pub interval: IntervalMode,
    pub money_fraction_digits: u32,
    /// `include.unknown.datatypes=true`: a type Debezium does not know is sent as the bytes of
    /// its text (base64 in JSON), as Debezium does; otherwise runnel sends the text itself.
    pub unknown_as_bytes: bool,
}

/// How to parse one column's text.
#[derive(Debug, Clone, PartialEq)]
pub enum Parser {
    Bool,
    Int,
    Float4,
    Float8,
    Numeric,
    Money,
    Text,
    /// The text form kept as bytes (`include.unknown.datatypes=true`).
    TextBytes,
    Bytea,
    Date,
    Time,
    TimeTz,
    Timestamp,
    TimestampTz,
    Interval,
    Bits,
    Point,
    Hstore,
    Array(Box<Parser>),
    /// An array column declared with more than one dimension (`int[][]`: `attndims` 2), whose
    /// schema nests that deep. PostgreSQL does not enforce declared dimensions, so a value
    /// with fewer is wrapped to the declared depth (`{1,2}` → `[[1,2]]`).
    Dims(Box<Parser>, u32),
}

/// One row of `pg_type`.
#[derive(Debug, Clone)]
pub struct PgType {
    pub oid: u32,
    pub name: String,
    pub schema: String,
    /// `b` base, `c` composite, `d` domain, `e` enum, `p` pseudo, `r` range, `m` multirange.
    pub typtype: u8,
    pub elem: u32,
    pub category: u8,
    pub base: u32,
    pub base_typmod: i32,
    pub enum_labels: Option<Arc<str>>,
}

/// The query that loads [`TypeRegistry`].
pub const TYPE_QUERY: &str = "SELECT t.oid::int8, t.typname::text, n.nspname::text, t.typtype::text, \
     t.typelem::int8, t.typcategory::text, t.typbasetype::int8, t.typtypmod, \
     (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) \
     FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace";

/// Every type of one database, by OID.
#[derive(Debug, Default, Clone)]
pub struct TypeRegistry {
    types: HashMap<u32, PgType>,
}

impl TypeRegistry {
    pub fn from_rows(rows: Vec<PgType>) -> Self {
        Self {
            types: rows.into_iter().map(|t| (t.oid, t)).collect(),
        }
    }

    pub fn get(&self, oid: u32) -> Option<&PgType> {
        self.types.get(&oid)
    }

    pub fn contains(&self, oid: u32) -> bool {
        self.types.contains_key(&oid)
    }

    /// The type name Debezium reports (`int8`, `varchar`, `_text` for arrays, …).
    pub fn name(&self, oid: u32) -> String {
        self.get(oid)
            .map(|t| t.name.clone())
            .unwrap_or_else(|| format!("oid:{oid}"))
    }

    /// Parser and encoding of a column of type `oid` with modifier `typmod`.
    pub fn map(&self, oid: u32, typmod: i32, modes: &TypeModes) -> (Parser, Encoding) {
        self.map_depth(oid, typmod, modes, 0)
    }

    fn map_depth(
        &self,
        oid: u32,
        typmod: i32,
        modes: &TypeModes,
        depth: u32,
    ) -> (Parser, Encoding) {
        let text = (Parser::Text, Encoding::String);
        if depth > 8 {
            return text;
        }
        let Some(t) = self.get(oid) else {
            return builtin(oid, typmod, modes).unwrap_or(text);
        };
        match t.typtype {
            b'd' => {
                let typmod = if typmod < 0 { t.base_typmod } else { typmod };
                return self.map_depth(t.base, typmod, modes, depth + 1);
            }
            b'e' => {
                let allowed = t.enum_labels.clone().unwrap_or_else(|| "".into());
                return (Parser::Text, Encoding::Enum { allowed });
            }
            _ => {}
        }
        if t.category == b'A' && t.elem != 0 {
            let (p, e) = self.map_depth(t.elem, typmod, modes, depth + 1);
            return (Parser::Array(Box::new(p)), Encoding::array_of(e));
        }
        if let Some(m) = builtin(oid, typmod, modes) {
            return m;
        }
        match t.name.as_str() {
            "hstore" => (Parser::Hstore, Encoding::Json),
            "ltree" => (Parser::Text, Encoding::Ltree),
            _ if modes.unknown_as_bytes && !debezium_knows(t) => {
                (Parser::TextBytes, Encoding::Binary(modes.binary))
            }
            _ => text,
        }
    }
}

/// Whether Debezium maps a type that runnel sends as text (strings, network addresses, ranges,
/// the extensions it knows); the rest (geometry other than point, text search, `pg_lsn`, …) are
/// its "unknown" types, dropped unless `include.unknown.datatypes=true`.
fn debezium_knows(t: &PgType) -> bool {
    const KNOWN: &[u32] = &[
        18, 19, 25, 1042, 1043, // char, name, text, bpchar, varchar
        650, 869, 829, 774, // cidr, inet, macaddr, macaddr8
        3904, 3906, 3908, 3910, 3912, 3926, // ranges
    ];
    KNOWN.contains(&t.oid)
        || matches!(t.typtype, b'e' | b'r' | b'm')
        || matches!(
            t.name.as_str(),
            "citext" | "isbn" | "geometry" | "geography" | "vector" | "halfvec" | "sparsevec"
        )
}

fn time_precision(typmod: i32) -> i32 {
    if typmod < 0 { 6 } else { typmod }
}

/// Built-in types by OID (stable across PostgreSQL versions).
fn builtin(oid: u32, typmod: i32, m: &TypeModes) -> Option<(Parser, Encoding)> {
    Some(match oid {
        16 => (Parser::Bool, Encoding::Boolean),
        17 => (Parser::Bytea, Encoding::Binary(m.binary)),
        20 => (Parser::Int, Encoding::Int64),
        21 => (Parser::Int, Encoding::Int16),
        23 => (Parser::Int, Encoding::Int32),
        26 => (Parser::Int, Encoding::Int64),
        700 => (Parser::Float4, Encoding::Float32),
        701 => (Parser::Float8, Encoding::Float64),
        1700 => (
            Parser::Numeric,
            match m.decimal {
                DecimalMode::String => Encoding::DecimalString,
                DecimalMode::Double => Encoding::DecimalDouble,
                DecimalMode::Precise if typmod < 4 => Encoding::VariableScaleDecimal,
                DecimalMode::Precise => {
                    let t = typmod - 4;
                    Encoding::Decimal {
                        scale: (t & 0xffff) as u32,
                        precision: Some(((t >> 16) & 0xffff) as u32),
                    }
                }
            },
        ),
        790 => (
            Parser::Money,
            match m.decimal {
                DecimalMode::String => Encoding::DecimalString,
                DecimalMode::Double => Encoding::DecimalDouble,
                DecimalMode::Precise => Encoding::Decimal {
                    scale: m.money_fraction_digits,
                    precision: None,
                },
            },
        ),
        114 | 3802 => (Parser::Text, Encoding::Json),
        142 => (Parser::Text, Encoding::Xml),
        2950 => (Parser::Text, Encoding::Uuid),
        1082 => (
            Parser::Date,
            if m.time == TimePrecisionMode::Connect {
                Encoding::ConnectDate
            } else {
                Encoding::Date
            },
        ),
        1083 => (
            Parser::Time,
            match m.time {
                TimePrecisionMode::Connect => Encoding::ConnectTime,
                TimePrecisionMode::AdaptiveTimeMicroseconds => Encoding::MicroTime,
                TimePrecisionMode::Adaptive if time_precision(typmod) <= 3 => Encoding::MilliTime,
                TimePrecisionMode::Adaptive => Encoding::MicroTime,
            },
        ),
        1266 => (Parser::TimeTz, Encoding::ZonedTime),
        1114 => (
            Parser::Timestamp,
            match m.time {
                TimePrecisionMode::Connect => Encoding::ConnectTimestamp,
                _ if time_precision(typmod) <= 3 => Encoding::MilliTimestamp,
                _ => Encoding::MicroTimestamp,
            },
        ),
        1184 => (
            Parser::TimestampTz,
            Encoding::ZonedTimestamp {
                fraction: time_precision(typmod) as u32,
            },
        ),
        1186 => (
            Parser::Interval,
            match m.interval {
                IntervalMode::Numeric => Encoding::MicroDuration,
                IntervalMode::String => Encoding::IntervalString,
            },
        ),
        1560 | 1562 => {
            let length = if typmod > 0 { typmod as u32 } else { 0 };
            if oid == 1560 && length <= 1 {
                (Parser::Bits, Encoding::Boolean)
            } else {
                (Parser::Bits, Encoding::Bits { length })
            }
        }
        600 => (Parser::Point, Encoding::Point),
        // char, name, text, bpchar, varchar and every type Debezium sends as its text form
        // (network addresses, ranges, geometry other than point, tsvector, …).
        _ => return None,
    })
}

// ---- text parsers --------------------------------------------------------------------------

fn bad(kind: &str, text: &[u8]) -> Error {
    Error::conversion(format!(
        "cannot parse {kind} value {:?}",
        String::from_utf8_lossy(&text[..text.len().min(80)])
    ))
}

/// Parses one value in PostgreSQL's text output format. `raw` is a slice of the buffer the
/// message arrived in, so text values are kept without copying.
pub fn parse(parser: &Parser, raw: Bytes) -> Result<Datum> {
    let s: &[u8] = &raw;
    Ok(match parser {
        Parser::Text => {
            std::str::from_utf8(s).map_err(|_| {
                Error::protocol(
                    "a text value is not valid UTF-8: the database encoding must be UTF8",
                )
            })?;
            Datum::Text(raw)
        }
        Parser::TextBytes => Datum::Bytes(raw),
        Parser::Int => Datum::Int(parse_int(s).ok_or_else(|| bad("integer", s))?),
        Parser::Bool => match s {
            b"t" => Datum::Bool(true),
            b"f" => Datum::Bool(false),
            _ => return Err(bad("boolean", s)),
        },
        Parser::Float4 => Datum::F32(parse_float32(s).ok_or_else(|| bad("real", s))?),
        Parser::Float8 => Datum::F64(parse_float(s).ok_or_else(|| bad("double", s))?),
        Parser::Numeric => Datum::Numeric(match s {
            b"NaN" => Numeric::NaN,
            b"Infinity" => Numeric::PosInfinity,
            b"-Infinity" => Numeric::NegInfinity,
            _ => {
                runnel_core::decimal::parse(s).ok_or_else(|| bad("numeric", s))?;
                Numeric::Finite(raw)
            }
        }),
        Parser::Money => {
            // lc_monetary decides the symbol and separators: keep sign, digits and the point.
            let negative = s.contains(&b'-') || s.starts_with(b"(");
            let mut out = Vec::with_capacity(s.len());
            if negative {
                out.push(b'-');
            }
            out.extend(s.iter().filter(|b| b.is_ascii_digit() || **b == b'.'));
            Datum::Numeric(Numeric::Finite(Bytes::from(out)))
        }
        Parser::Bytea => Datum::Bytes(parse_bytea(s).ok_or_else(|| bad("bytea", s))?),
        Parser::Date => Datum::Date(parse_date(s).ok_or_else(|| bad("date", s))?),
        Parser::Time => Datum::Time(parse_time(s).ok_or_else(|| bad("time", s))?.0),
        Parser::TimeTz => {
            let (micros, rest) = parse_time(s).ok_or_else(|| bad("timetz", s))?;
            let offset_secs = parse_offset(rest).ok_or_else(|| bad("timetz", s))?;
            Datum::TimeTz {
                micros,
                offset_secs,
            }
        }
        Parser::Timestamp => parse_timestamp(s, false).ok_or_else(|| bad("timestamp", s))?,
        Parser::TimestampTz => parse_timestamp(s, true).ok_or_else(|| bad("timestamptz", s))?,
        Parser::Interval => {
            let (months, days, micros) = parse_iso_interval(s).ok_or_else(|| bad("interval", s))?;
            Datum::Interval {
                months,
                days,
                micros,
            }
        }
        Parser::Bits => {
            let len = s.len() as u32;
            let mut packed = vec![0u8; s.len().div_ceil(8)];
            for (i, &b) in s.iter().enumerate() {
                match b {
                    b'1' => packed[i / 8] |= 0x80 >> (i % 8),
                    b'0' => {}
                    _ => return Err(bad("bit", s)),
                }
            }
            Datum::Bits {
                len,
                bits: Bytes::from(packed),
            }
        }
        Parser::Point => {
            let inner = s
                .strip_prefix(b"(")
                .and_then(|x| x.strip_suffix(b")"))
                .ok_or_else(|| bad("point", s))?;
            let comma = inner
                .iter()
                .position(|&b| b == b',')
                .ok_or_else(|| bad("point", s))?;
            let x = parse_float(&inner[..comma]).ok_or_else(|| bad("point", s))?;
            let y = parse_float(&inner[comma + 1..]).ok_or_else(|| bad("point", s))?;
            Datum::Point { x, y, srid: None }
        }
        Parser::Hstore => Datum::Text(Bytes::from(
            hstore_to_json(s).ok_or_else(|| bad("hstore", s))?,
        )),
        Parser::Array(elem) => parse_array(elem, &raw)?,
        Parser::Dims(array, declared) => fit_dims(parse(array, raw)?, *declared)?,
    })
}

/// Wraps an array value with fewer dimensions than its column declares to the declared depth;
/// refuses one with more (its schema cannot hold it).
fn fit_dims(value: Datum, declared: u32) -> Result<Datum> {
    let mut depth = 0;
    let mut probe = &value;
    while let Datum::Array(items) = probe {
        depth += 1;
        match items.first() {
            Some(first) => probe = first,
            // `{}`: an empty array has every depth.
            None => return Ok(value),
        }
    }
    if depth > declared {
        return Err(Error::conversion(format!(
            "a {depth}-dimensional array in a column declared with {declared} dimensions: \
             PostgreSQL does not enforce declared dimensions, runnel's schema follows them; \
             declare the column with {depth} (ALTER TABLE … ALTER COLUMN … TYPE …{}), or set \
             \"event.processing.failure.handling.mode\" to \"warn\" to skip the event",
            "[]".repeat(depth as usize)
        )));
    }
    let mut value = value;
    for _ in depth..declared {
        value = Datum::Array(Box::new([value]));
    }
    Ok(value)
}

fn parse_int(s: &[u8]) -> Option<i64> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

fn parse_float(s: &[u8]) -> Option<f64> {
    parse_ieee(s, f64::NAN, f64::INFINITY)
}

/// Parsed as f32 directly: through f64 a value could be rounded twice.
fn parse_float32(s: &[u8]) -> Option<f32> {
    parse_ieee(s, f32::NAN, f32::INFINITY)
}

/// PostgreSQL's float text: `NaN`, `±Infinity`, or a decimal number.
fn parse_ieee<F>(s: &[u8], nan: F, infinity: F) -> Option<F>
where
    F: std::str::FromStr + std::ops::Neg<Output = F>,
{
    match s {
        b"NaN" => Some(nan),
        b"Infinity" => Some(infinity),
        b"-Infinity" => Some(-infinity),
        _ => std::str::from_utf8(s).ok()?.trim().parse().ok(),
    }
}

fn parse_bytea(s: &[u8]) -> Option<Bytes> {
    let hex = s.strip_prefix(b"\\x")?;
    if hex.len() % 2 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(hex.len() / 2);
    for pair in hex.chunks_exact(2) {
        let v = |c: u8| -> Option<u8> {
            match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                b'A'..=b'F' => Some(c - b'A' + 10),
                _ => None,
            }
        };
        out.push(v(pair[0])? << 4 | v(pair[1])?);
    }
    Some(Bytes::from(out))
}

/// Digits at the start of `s`: (value, count).
fn digits(s: &[u8]) -> (i64, usize) {
    let mut v: i64 = 0;
    let mut n = 0;
    while n < s.len() && s[n].is_ascii_digit() && n < 18 {
        v = v * 10 + i64::from(s[n] - b'0');
        n += 1;
    }
    (v, n)
}

/// `YYYY-MM-DD[ BC]`, `infinity`, `-infinity` → days since epoch.
fn parse_date(s: &[u8]) -> Option<i64> {
    match s {
        b"infinity" => return Some(POS_INFINITY),
        b"-infinity" => return Some(NEG_INFINITY),
        _ => {}
    }
    let (days, rest) = parse_date_prefix(s)?;
    let bc = rest == b" BC";
    if !rest.is_empty() && !bc {
        return None;
    }
    Some(days)
}

/// The date at the start of `s` and what follows it. Years before 1 AD (`BC`) are handled by the
/// caller's suffix check via [`apply_bc`].
fn parse_date_prefix(s: &[u8]) -> Option<(i64, &[u8])> {
    let (y, ny) = digits(s);
    // PostgreSQL's years have at most 7 digits (5874897 AD); more would overflow the arithmetic.
    if !(4..=7).contains(&ny) || s.get(ny) != Some(&b'-') {
        return None;
    }
    let (mo, nm) = digits(&s[ny + 1..]);
    let p = ny + 1 + nm;
    if nm != 2 || s.get(p) != Some(&b'-') {
        return None;
    }
    let (d, nd) = digits(&s[p + 1..]);
    if nd != 2 {
        return None;
    }
    let rest = &s[p + 1 + nd..];
    let bc = rest.ends_with(b" BC");
    // Astronomical year numbering: 1 BC is year 0.
    let year = if bc { 1 - y } else { y };
    Some((days_from_civil(year, mo as u32, d as u32), rest))
}

/// `HH:MM:SS[.ffffff]` → (micros since midnight, rest).
fn parse_time(s: &[u8]) -> Option<(i64, &[u8])> {
    if s.len() < 8 || s[2] != b':' || s[5] != b':' {
        return None;
    }
    let (h, nh) = digits(&s[0..2]);
    let (m, nm) = digits(&s[3..5]);
    let (sec, ns) = digits(&s[6..8]);
    if nh != 2 || nm != 2 || ns != 2 {
        return None;
    }
    let mut micros = ((h * 60 + m) * 60 + sec) * MICROS_PER_SECOND;
    let mut rest = &s[8..];
    if rest.first() == Some(&b'.') {
        let (f, nf) = digits(&rest[1..]);
        if nf == 0 || nf > 6 {
            return None;
        }
        micros += f * 10i64.pow(6 - nf as u32);
        rest = &rest[1 + nf..];
    }
    Some((micros, rest))
}

/// `+HH[:MM[:SS]]` / `-HH…` → seconds east of UTC.
fn parse_offset(s: &[u8]) -> Option<i32> {
    let sign = match s.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let mut parts = s[1..].split(|&b| b == b':');
    let part = |p: &[u8]| parse_int(p).filter(|v| (0..100).contains(v));
    let h = part(parts.next()?)?;
    let m = parts.next().map_or(Some(0), part)?;
    let sec = parts.next().map_or(Some(0), part)?;
    Some(sign * (h * 3600 + m * 60 + sec) as i32)
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM]][ BC]` → micros since epoch (UTC when `tz`). The last
/// days of PostgreSQL's range (year 294276) are past an `i64` of microseconds since 1970: they
/// become [`Datum::FarTimestamp`] instead of wrapping around.
fn parse_timestamp(s: &[u8], tz: bool) -> Option<Datum> {
    let wrap = |micros: i64| {
        if tz {
            Datum::TimestampTz(micros)
        } else {
            Datum::Timestamp(micros)
        }
    };
    match s {
        b"infinity" => return Some(wrap(POS_INFINITY)),
        b"-infinity" => return Some(wrap(NEG_INFINITY)),
        _ => {}
    }
    let (days, rest) = parse_date_prefix(s)?;
    let rest = rest.strip_prefix(b" ")?;
    let (micros, mut rest) = parse_time(rest)?;
    let mut offset = 0;
    if tz {
        let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        offset = parse_offset(&rest[..end])?;
        rest = &rest[end..];
    }
    if !rest.is_empty() && rest != b" BC" {
        return None;
    }
    let total = i128::from(days) * i128::from(MICROS_PER_DAY) + i128::from(micros)
        - i128::from(offset) * i128::from(MICROS_PER_SECOND);
    match i64::try_from(total) {
        // The extremes of i64 are the ±infinity sentinels, never a real instant.
        Ok(t) if t != POS_INFINITY && t != NEG_INFINITY => Some(wrap(t)),
        _ => {
            let per_day = i128::from(MICROS_PER_DAY);
            Some(Datum::FarTimestamp {
                zoned: tz,
                days: i64::try_from(total.div_euclid(per_day)).ok()?,
                micros_of_day: total.rem_euclid(per_day) as i64,
            })
        }
    }
}

/// ISO 8601 interval (`IntervalStyle = iso_8601`): `P1Y2M3DT4H5M6.789S`, negative parts allowed.
fn parse_iso_interval(s: &[u8]) -> Option<(i32, i32, i64)> {
    let mut rest = s.strip_prefix(b"P")?;
    let (mut months, mut days, mut micros) = (0i64, 0i64, 0i64);
    let mut in_time = false;
    while !rest.is_empty() {
        if rest[0] == b'T' {
            in_time = true;
            rest = &rest[1..];
            continue;
        }
        let end = rest.iter().position(|b| b.is_ascii_alphabetic())?;
        let num = std::str::from_utf8(&rest[..end]).ok()?;
        let unit = rest[end];
        rest = &rest[end + 1..];
        let scaled = |by: i64| num.parse::<i64>().ok()?.checked_mul(by);
        let (total, add) = match (in_time, unit) {
            (false, b'Y') => (&mut months, scaled(12)?),
            (false, b'M') => (&mut months, scaled(1)?),
            (false, b'W') => (&mut days, scaled(7)?),
            (false, b'D') => (&mut days, scaled(1)?),
            (true, b'H') => (&mut micros, scaled(3_600_000_000)?),
            (true, b'M') => (&mut micros, scaled(60_000_000)?),
            (true, b'S') => (&mut micros, seconds_to_micros(num)?),
            _ => return None,
        };
        *total = total.checked_add(add)?;
    }
    Some((
        i32::try_from(months).ok()?,
        i32::try_from(days).ok()?,
        micros,
    ))
}

fn seconds_to_micros(num: &str) -> Option<i64> {
    let (neg, body) = match num.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, num),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let mut v = int.parse::<i64>().ok()?.checked_mul(MICROS_PER_SECOND)?;
    if !frac.is_empty() {
        if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let f: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
        v = v.checked_add(f.parse::<i64>().ok()?)?;
    }
    Some(if neg { -v } else { v })
}

/// Array text: `{a,"b c",NULL}`, nested `{{1,2},{3,4}}`, optional `[l:u]=` bounds prefix.
fn parse_array(elem: &Parser, raw: &Bytes) -> Result<Datum> {
    let s: &[u8] = raw;
    let start = if s.first() == Some(&b'[') {
        s.iter()
            .position(|&b| b == b'=')
            .map(|p| p + 1)
            .ok_or_else(|| bad("array", s))?
    } else {
        0
    };
    let mut pos = start;
    let datum = parse_array_level(elem, raw, &mut pos)?;
    Ok(datum)
}

fn parse_array_level(elem: &Parser, raw: &Bytes, pos: &mut usize) -> Result<Datum> {
    let s: &[u8] = raw;
    if s.get(*pos) != Some(&b'{') {
        return Err(bad("array", s));
    }
    *pos += 1;
    let mut items = Vec::new();
    if s.get(*pos) == Some(&b'}') {
        *pos += 1;
        return Ok(Datum::Array(items.into_boxed_slice()));
    }
    loop {
        match s.get(*pos) {
            Some(b'{') => items.push(parse_array_level(elem, raw, pos)?),
            Some(b'"') => {
                *pos += 1;
                let mut buf = Vec::new();
                loop {
                    match s.get(*pos) {
                        Some(b'\\') => {
                            buf.push(*s.get(*pos + 1).ok_or_else(|| bad("array", s))?);
                            *pos += 2;
                        }
                        Some(b'"') => {
                            *pos += 1;
                            break;
                        }
                        Some(&b) => {
                            buf.push(b);
                            *pos += 1;
                        }
                        None => return Err(bad("array", s)),
                    }
                }
                items.push(parse(elem, Bytes::from(buf))?);
            }
            Some(_) => {
                let end = s[*pos..]
                    .iter()
                    .position(|&b| b == b',' || b == b'}')
                    .ok_or_else(|| bad("array", s))?;
                let token = raw.slice(*pos..*pos + end);
                *pos += end;
                if &token[..] == b"NULL" {
                    items.push(Datum::Null);
                } else {
                    items.push(parse(elem, token)?);
                }
            }
            None => return Err(bad("array", s)),
        }
        match s.get(*pos) {
            Some(b',') => *pos += 1,
            Some(b'}') => {
                *pos += 1;
                return Ok(Datum::Array(items.into_boxed_slice()));
            }
            _ => return Err(bad("array", s)),
        }
    }
}

/// `"a"=>"1", "b"=>NULL` → `{"a":"1","b":null}` (Debezium's `hstore.handling.mode=json`), the
/// keys in the order Debezium prints them: it parses the text into a `java.util.HashMap` and
/// serializes that, so the order is the map's bucket order ([`java_hash_map_order`]).
fn hstore_to_json(s: &[u8]) -> Option<Vec<u8>> {
    let mut entries: Vec<(String, Option<String>)> = Vec::new();
    let mut pos = 0;
    let quoted = |pos: &mut usize| -> Option<String> {
        if s.get(*pos) != Some(&b'"') {
            return None;
        }
        *pos += 1;
        let mut buf = Vec::new();
        loop {
            match s.get(*pos)? {
                b'\\' => {
                    buf.push(*s.get(*pos + 1)?);
                    *pos += 2;
                }
                b'"' => {
                    *pos += 1;
                    return String::from_utf8(buf).ok();
                }
                &b => {
                    buf.push(b);
                    *pos += 1;
                }
            }
        }
    };
    while pos < s.len() {
        while s.get(pos) == Some(&b' ') || s.get(pos) == Some(&b',') {
            pos += 1;
        }
        if pos >= s.len() {
            break;
        }
        let key = quoted(&mut pos)?;
        if s.get(pos..pos + 2)? != b"=>" {
            return None;
        }
        pos += 2;
        let value = if s[pos..].starts_with(b"NULL") {
            pos += 4;
            None
        } else {
            Some(quoted(&mut pos)?)
        };
        match entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => entries.push((key, value)),
        }
    }
    let order = java_hash_map_order(entries.iter().map(|(k, _)| k.as_str()));
    let mut out = Vec::with_capacity(s.len() + 2);
    out.push(b'{');
    for (n, &i) in order.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        let (key, value) = &entries[i];
        writer::str(&mut out, key);
        out.push(b':');
        match value {
            Some(v) => writer::str(&mut out, v),
            None => out.extend_from_slice(b"null"),
        }
    }
    out.push(b'}');
    Some(out)
}

/// The order a `java.util.HashMap<String, _>` built by inserting `keys` in turn iterates them:
/// by bucket (`hash ^ hash >>> 16` masked to the table size, which doubles from 16 whenever the
/// map is more than three quarters full), then by insertion within a bucket. (Buckets of eight
/// or more colliding keys become trees in Java, whose order this does not follow.)
pub(crate) fn java_hash_map_order<'a>(keys: impl Iterator<Item = &'a str>) -> Vec<usize> {
    let hashes: Vec<u32> = keys
        .map(|k| {
            let h = k
                .encode_utf16()
                .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
                as u32;
            h ^ (h >> 16)
        })
        .collect();
    let mut capacity = 16usize;
    while hashes.len() * 4 > capacity * 3 {
        capacity *= 2;
    }
    let mut order: Vec<usize> = (0..hashes.len()).collect();
    // A stable sort keeps insertion order within a bucket.
    order.sort_by_key(|&i| hashes[i] as usize & (capacity - 1));
    order
}

/// Parses a column default expression the way Debezium does (constants and `'…'::type` casts;
/// function calls such as `now()` or `nextval(…)` give the type's placeholder value).
pub fn parse_default(expr: &str, parser: &Parser, encoding: &Encoding) -> Option<Datum> {
    let expr = expr.trim();
    if expr.starts_with("NULL::") || expr.eq_ignore_ascii_case("null") {
        return None;
    }
    let lower = expr.to_ascii_lowercase();
    let is_function = {
        let body = lower.trim_start_matches('(');
        let name_end = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(body.len());
        name_end > 0 && body[name_end..].starts_with('(')
    } || matches!(
        lower.as_str(),
        "current_timestamp" | "current_time" | "current_date" | "localtime" | "localtimestamp"
    );
    let literal: String = if is_function {
        // Debezium's placeholders for generated values.
        match parser {
            Parser::Int | Parser::Float4 | Parser::Float8 | Parser::Numeric => "0".into(),
            Parser::Bool => "f".into(),
            Parser::Date => "1970-01-01".into(),
            Parser::Time => "00:00:00".into(),
            Parser::Timestamp => "1970-01-01 00:00:00".into(),
            Parser::TimestampTz => "1970-01-01 00:00:00+00".into(),
            Parser::Text if matches!(encoding, Encoding::Uuid) => {
                "00000000-0000-0000-0000-000000000000".into()
            }
            Parser::Text if matches!(encoding, Encoding::Json) => "{}".into(),
            Parser::Text => "".into(),
            _ => return None,
        }
    } else if let Some(start) = expr.find('\'') {
        // 'value'::type — the text between the first quote and its closing quote.
        let body = &expr[start + 1..];
        let mut out = String::new();
        let mut chars = body.chars().peekable();
        loop {
            match chars.next()? {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    out.push('\'');
                }
                '\'' => break,
                c => out.push(c),
            }
        }
        out
    } else {
        let raw = expr.trim_start_matches('(').trim_end_matches(')');
        let raw = raw.split("::").next().unwrap_or(raw);
        match (parser, raw) {
            (Parser::Bool, "true") => "t".into(),
            (Parser::Bool, "false") => "f".into(),
            _ => raw.to_string(),
        }
    };
    // Only the types Debezium parses get a schema default.
    let supported = matches!(
        parser,
        Parser::Bool
            | Parser::Int
            | Parser::Float4
            | Parser::Float8
            | Parser::Numeric
            | Parser::Text
            | Parser::Date
            | Parser::Time
            | Parser::Timestamp
            | Parser::TimestampTz
            | Parser::Interval
            | Parser::Bits
    );
    if !supported {
        return None;
    }
    let literal = match (parser, literal.as_str()) {
        (Parser::Bool, "true") => "t".to_string(),
        (Parser::Bool, "false") => "f".to_string(),
        (Parser::Interval, l) if !l.starts_with('P') => return None,
        _ => literal,
    };
    parse(parser, Bytes::from(literal)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(parser: Parser, s: &str) -> Datum {
        parse(&parser, Bytes::copy_from_slice(s.as_bytes())).unwrap()
    }

    #[test]
    fn temporal_text() {
        assert_eq!(p(Parser::Date, "2025-02-28"), Datum::Date(20147));
        assert_eq!(p(Parser::Date, "infinity"), Datum::Date(POS_INFINITY));
        assert_eq!(
            p(Parser::Time, "23:59:59.999999"),
            Datum::Time(86_399_999_999)
        );
        assert_eq!(
            p(Parser::Timestamp, "2025-02-28 23:59:59.123456"),
            Datum::Timestamp(1_740_787_199_123_456)
        );
        assert_eq!(
            p(Parser::TimestampTz, "2025-01-02 05:04:05.123456+02"),
            Datum::TimestampTz(1_735_787_045_123_456)
        );
        assert_eq!(
            p(Parser::TimeTz, "12:00:00+05:30"),
            Datum::TimeTz {
                micros: 43_200_000_000,
                offset_secs: 19_800
            }
        );
        assert_eq!(
            p(Parser::Interval, "P1Y2M3DT4H5M6.789S"),
            Datum::Interval {
                months: 14,
                days: 3,
                micros: 14_706_789_000
            }
        );
        assert_eq!(
            p(Parser::Interval, "P-1DT-0.5S"),
            Datum::Interval {
                months: 0,
                days: -1,
                micros: -500_000
            }
        );
        assert_eq!(
            p(Parser::Date, "0001-01-01 BC"),
            Datum::Date(days_from_civil(0, 1, 1))
        );
    }

    #[test]
    fn arrays_and_bytes() {
        let d = p(
            Parser::Array(Box::new(Parser::Text)),
            r#"{alpha,beta,"with space",NULL,"q\"x"}"#,
        );
        let Datum::Array(items) = d else { panic!() };
        assert_eq!(items.len(), 5);
        assert_eq!(items[2], Datum::text("with space"));
        assert_eq!(items[3], Datum::Null);
        assert_eq!(items[4], Datum::text("q\"x"));
        let d = p(Parser::Array(Box::new(Parser::Int)), "[0:1]={{1,2},{3,4}}");
        let Datum::Array(outer) = d else { panic!() };
        assert_eq!(outer.len(), 2);
        assert_eq!(
            p(Parser::Bytea, "\\xdeadbeef00ff"),
            Datum::Bytes(Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef, 0x00, 0xff]))
        );
    }

    #[test]
    fn defaults_like_debezium() {
        let enc = Encoding::Int64;
        assert_eq!(
            parse_default("nextval('s'::regclass)", &Parser::Int, &enc),
            Some(Datum::Int(0))
        );
        assert_eq!(parse_default("1", &Parser::Int, &enc), Some(Datum::Int(1)));
        assert_eq!(
            parse_default("'new'::character varying", &Parser::Text, &Encoding::String),
            Some(Datum::text("new"))
        );
        assert_eq!(
            parse_default("true", &Parser::Bool, &Encoding::Boolean),
            Some(Datum::Bool(true))
        );
        assert_eq!(
            parse_default(
                "now()",
                &Parser::TimestampTz,
                &Encoding::ZonedTimestamp { fraction: 6 }
            ),
            Some(Datum::TimestampTz(0))
        );
        assert_eq!(
            parse_default("0", &Parser::Float4, &Encoding::Float32),
            Some(Datum::F32(0.0))
        );
    }

    #[test]
    fn hstore_json() {
        assert_eq!(
            hstore_to_json(br#""a"=>"1", "b"=>NULL"#).unwrap(),
            br#"{"a":"1","b":null}"#.to_vec()
        );
        // Debezium 3.6.3 for 'z=>1, a=>2, m=>NULL': java.util.HashMap's order.
        assert_eq!(
            hstore_to_json(br#""a"=>"2", "m"=>NULL, "z"=>"1""#).unwrap(),
            br#"{"a":"2","z":"1","m":null}"#.to_vec()
        );
    }
}
