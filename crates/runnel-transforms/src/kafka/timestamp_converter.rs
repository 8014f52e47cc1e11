//! `org.apache.kafka.connect.transforms.TimestampConverter$Key` / `$Value`: converts a
//! timestamp field (`field`, or the whole key/value when empty) between a formatted string
//! (`format`, Java `SimpleDateFormat` syntax, UTC), unix time (`unix.precision`), and Connect's
//! Date, Time and Timestamp. The source kind comes from the field's schema: Connect's logical
//! names, else a string is formatted and an int64 is unix time (so a Debezium
//! `MicroTimestamp` is unix time in `microseconds`).

use std::sync::Arc;

use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::plugin::TransformPlugin;
use runnel_core::temporal::{civil_from_days, days_from_civil};
use runnel_core::{Column, Datum, Encoding, Error, Result, Schema};

use super::{Meta, OnSide, PayloadTransform, map_entries, push_map, wrong_type};
use crate::util::{Cache, Opts, Side, fields, rebuilt_struct};

const PRECISIONS: &[&str] = &["seconds", "milliseconds", "microseconds", "nanoseconds"];

const KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "field",
        ValueType::String,
        "The timestamp field (empty: the whole key/value).",
    )
    .default(""),
    ConfigKey::new(
        "target.type",
        ValueType::Enum(&["string", "unix", "Date", "Time", "Timestamp"]),
        "string, unix, Date, Time or Timestamp.",
    )
    .required(),
    ConfigKey::new(
        "format",
        ValueType::String,
        "SimpleDateFormat pattern for string timestamps (UTC).",
    ),
    ConfigKey::new(
        "unix.precision",
        ValueType::Enum(PRECISIONS),
        "seconds, milliseconds, microseconds or nanoseconds.",
    )
    .default("milliseconds"),
    ConfigKey::new(
        "replace.null.with.default",
        ValueType::Boolean,
        "A null field that has a default converts as its default.",
    )
    .default("true"),
];

pub fn plugin() -> TransformPlugin {
    TransformPlugin {
        class: "org.apache.kafka.connect.transforms.TimestampConverter$Value",
        aliases: &[
            "TimestampConverter$Value",
            "org.apache.kafka.connect.transforms.TimestampConverter$Key",
            "TimestampConverter$Key",
        ],
        keys: KEYS,
        build: |c| {
            let o = Opts(c);
            let target = match o.get("target.type").map(str::trim) {
                Some("string") => Kind::String,
                Some("unix") => Kind::Unix,
                Some("Date") => Kind::Date,
                Some("Time") => Kind::Time,
                Some("Timestamp") => Kind::Timestamp,
                Some(other) => {
                    return Err(Error::invalid(
                        "target.type",
                        format!(
                            "invalid value \"{other}\" for \"target.type\": expected one of string, unix, Date, Time, Timestamp"
                        ),
                    ));
                }
                None => {
                    return Err(Error::invalid(
                        "target.type",
                        "missing required option \"target.type\"",
                    ));
                }
            };
            let format = match o.get("format").filter(|f| !f.trim().is_empty()) {
                Some(f) => Some(DateFormat::new(f)?),
                None if target == Kind::String => {
                    return Err(Error::invalid(
                        "format",
                        "TimestampConverter needs \"format\" (a SimpleDateFormat pattern) to make string timestamps",
                    ));
                }
                None => None,
            };
            let precision = match o
                .choice("unix.precision", PRECISIONS, "milliseconds")?
                .as_str()
            {
                "seconds" => 1_000_000,
                "microseconds" => 1,
                "nanoseconds" => -1000,
                _ => 1000,
            };
            Ok(OnSide::boxed(
                Side::of_class(c.get("type").unwrap_or("")),
                TimestampConverter {
                    field: o.string("field", ""),
                    target,
                    format,
                    precision,
                    replace_null: o.bool("replace.null.with.default", true)?,
                    schemas: Cache::default(),
                },
            ))
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Unix,
    Date,
    Time,
    Timestamp,
}

struct TimestampConverter {
    field: String,
    target: Kind,
    format: Option<DateFormat>,
    /// Microseconds per unix unit (negative: nanoseconds, 1000 per microsecond).
    precision: i64,
    replace_null: bool,
    /// Per schema: the new schema and the index of the field.
    schemas: Cache<Schema, (Arc<Schema>, Option<usize>)>,
}

fn kind_of(enc: &Encoding) -> Result<Kind> {
    Ok(match enc {
        Encoding::ConnectTimestamp => Kind::Timestamp,
        Encoding::ConnectDate => Kind::Date,
        Encoding::ConnectTime => Kind::Time,
        Encoding::Int64
        | Encoding::MicroTimestamp
        | Encoding::MilliTimestamp
        | Encoding::MicroTime => Kind::Unix,
        Encoding::String => Kind::String,
        other => {
            return Err(Error::conversion(format!(
                "a {} field is not a timestamp TimestampConverter knows (string, int64, Date, Time, Timestamp)",
                other.logical_name().unwrap_or("non-timestamp")
            )));
        }
    })
}

impl TimestampConverter {
    fn target_encoding(&self) -> Encoding {
        match self.target {
            Kind::String => Encoding::String,
            Kind::Unix => Encoding::Int64,
            Kind::Date => Encoding::ConnectDate,
            Kind::Time => Encoding::ConnectTime,
            Kind::Timestamp => Encoding::ConnectTimestamp,
        }
    }

    /// Milliseconds since the epoch of `d`, read as `kind`.
    fn to_millis(&self, kind: Kind, enc: &Encoding, d: &Datum) -> Result<i64> {
        Ok(match (kind, d) {
            (Kind::String, Datum::Text(t)) => {
                let text = std::str::from_utf8(t).unwrap_or_default();
                let format = self.format.as_ref().ok_or_else(|| {
                    Error::conversion(
                        "TimestampConverter needs \"format\" to read string timestamps",
                    )
                })?;
                format.parse(text)?
            }
            (Kind::Unix, Datum::Int(v)) => self.unix_to_millis(*v),
            // Debezium's typed timestamps hold microseconds; their wire value is the unix time.
            (Kind::Unix, Datum::Timestamp(us) | Datum::Time(us)) => {
                let wire = match enc {
                    Encoding::MilliTimestamp => us.div_euclid(1000),
                    _ => *us,
                };
                self.unix_to_millis(wire)
            }
            (Kind::Date, Datum::Date(days)) => days * 86_400_000,
            (Kind::Time, Datum::Time(us)) => us / 1000,
            (Kind::Timestamp, Datum::Timestamp(us)) => us.div_euclid(1000),
            (_, other) => {
                return Err(Error::conversion(format!(
                    "TimestampConverter expected a {kind:?} timestamp, found {other:?}"
                )));
            }
        })
    }

    fn unix_to_millis(&self, v: i64) -> i64 {
        match self.precision {
            -1000 => v.div_euclid(1_000_000),
            1 => v.div_euclid(1000),
            1000 => v,
            _ => v * 1000,
        }
    }

    fn target_of_millis(&self, ms: i64) -> Datum {
        const DAY: i64 = 86_400_000;
        match self.target {
            Kind::String => Datum::text(
                &self
                    .format
                    .as_ref()
                    .map(|f| f.format(ms))
                    .unwrap_or_default(),
            ),
            Kind::Unix => Datum::Int(match self.precision {
                -1000 => ms * 1_000_000,
                1 => ms * 1000,
                1000 => ms,
                _ => ms.div_euclid(1000),
            }),
            Kind::Date => Datum::Date(ms.div_euclid(DAY)),
            Kind::Time => Datum::Time(ms.rem_euclid(DAY) * 1000),
            Kind::Timestamp => Datum::Timestamp(ms * 1000),
        }
    }

    fn convert(&self, kind: Option<Kind>, enc: &Encoding, d: &Datum) -> Result<Datum> {
        if d.is_null() {
            return Ok(Datum::Null);
        }
        let kind = match kind {
            Some(k) => k,
            // Schemaless: a string is formatted, a number unix time.
            None => match d {
                Datum::Text(_) => Kind::String,
                Datum::Int(_) => Kind::Unix,
                Datum::Timestamp(_) => Kind::Timestamp,
                other => {
                    return Err(Error::conversion(format!(
                        "TimestampConverter does not read {other:?} as a timestamp"
                    )));
                }
            },
        };
        let ms = self.to_millis(kind, enc, d)?;
        Ok(self.target_of_millis(ms))
    }
}

impl PayloadTransform for TimestampConverter {
    fn transform(
        &mut self,
        _meta: &Meta<'_>,
        schema: Option<&Arc<Schema>>,
        datum: &Datum,
        datums: &mut Vec<Datum>,
    ) -> Result<Option<(Option<Arc<Schema>>, Datum)>> {
        let Some(schema) = schema else {
            if datum.is_null() || self.field.is_empty() {
                return Ok(Some((None, self.convert(None, &Encoding::Dynamic, datum)?)));
            }
            let mut entries = map_entries(datums, datum)
                .ok_or_else(|| wrong_type("a map", "converting timestamp formats", datum))?;
            match entries
                .iter_mut()
                .find(|(k, _)| matches!(k, Datum::Text(t) if &t[..] == self.field.as_bytes()))
            {
                Some((_, v)) => *v = self.convert(None, &Encoding::Dynamic, v)?,
                None => entries.push((Datum::text(&self.field), Datum::Null)),
            }
            return Ok(Some((None, push_map(datums, entries))));
        };
        if self.field.is_empty() {
            let out = Arc::new(Schema::new(self.target_encoding(), schema.optional));
            return Ok(Some((
                Some(out),
                self.convert(Some(kind_of(&schema.encoding)?), &schema.encoding, datum)?,
            )));
        }
        let target = self.target_encoding();
        let field = &self.field;
        let (out, at) = self
            .schemas
            .get_or(schema, || {
                let mut at = None;
                let columns = schema
                    .fields()
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        if *c.name == **field {
                            at = Some(i);
                            Column::new(&c.name, target.clone(), c.optional)
                        } else {
                            c.clone()
                        }
                    })
                    .collect();
                let mut s = rebuilt_struct(schema, columns);
                s.optional = schema.optional;
                Ok((Arc::new(s), at))
            })?
            .clone();
        if datum.is_null() {
            return Ok(Some((Some(out), Datum::Null)));
        }
        let Some(values) = fields(datums, datum) else {
            return Err(wrong_type(
                "a struct",
                "converting timestamp formats",
                datum,
            ));
        };
        let columns = schema.fields().unwrap_or_default();
        let mut new = Vec::with_capacity(values.len());
        for (i, (c, v)) in columns.iter().zip(values).enumerate() {
            let v = match (v, &c.default) {
                (Datum::Null, Some(d)) if self.replace_null => d.clone(),
                _ => v.clone(),
            };
            new.push(if Some(i) == at {
                self.convert(Some(kind_of(&c.encoding)?), &c.encoding, &v)?
            } else {
                v
            });
        }
        let start = datums.len() as u32;
        datums.extend(new);
        Ok(Some((Some(out), Datum::Struct(start..datums.len() as u32))))
    }
}

/// A Java `SimpleDateFormat` pattern in UTC: `y M d H h m s S a E` fields, `'quoted'`
/// literals, `z Z X` as UTC.
pub struct DateFormat {
    tokens: Vec<Token>,
    pattern: String,
}

enum Token {
    Field(char, usize),
    Literal(String),
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
];

impl DateFormat {
    pub fn new(pattern: &str) -> Result<Self> {
        let mut tokens = Vec::new();
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                let mut lit = String::new();
                i += 1;
                while i < chars.len() {
                    if chars[i] == '\'' {
                        if chars.get(i + 1) == Some(&'\'') {
                            lit.push('\'');
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    lit.push(chars[i]);
                    i += 1;
                }
                i += 1;
                tokens.push(Token::Literal(if lit.is_empty() {
                    "'".into()
                } else {
                    lit
                }));
            } else if c.is_ascii_alphabetic() {
                if !"yMdHhmsSaEzZXkKuD".contains(c) {
                    return Err(Error::invalid(
                        "format",
                        format!(
                            "pattern letter '{c}' in \"{pattern}\" is not one runnel formats (y M d D H h k K m s S a E u z Z X)"
                        ),
                    ));
                }
                let mut n = 1;
                while chars.get(i + n) == Some(&c) {
                    n += 1;
                }
                tokens.push(Token::Field(c, n));
                i += n;
            } else {
                tokens.push(Token::Literal(c.to_string()));
                i += 1;
            }
        }
        Ok(Self {
            tokens,
            pattern: pattern.to_string(),
        })
    }

    pub fn format(&self, ms: i64) -> String {
        let days = ms.div_euclid(86_400_000);
        let in_day = ms.rem_euclid(86_400_000);
        let (y, mo, d) = civil_from_days(days);
        let (h, mi, s, milli) = (
            in_day / 3_600_000,
            in_day / 60_000 % 60,
            in_day / 1000 % 60,
            in_day % 1000,
        );
        let mut out = String::new();
        let num = |out: &mut String, v: i64, n: usize| out.push_str(&format!("{v:0n$}"));
        for t in &self.tokens {
            match t {
                Token::Literal(l) => out.push_str(l),
                Token::Field(c, n) => match c {
                    'y' if *n == 2 => num(&mut out, y.rem_euclid(100), 2),
                    'y' => num(&mut out, y, *n),
                    'M' if *n >= 4 => out.push_str(MONTHS[mo as usize - 1]),
                    'M' if *n == 3 => out.push_str(&MONTHS[mo as usize - 1][..3]),
                    'M' => num(&mut out, i64::from(mo), *n),
                    'd' => num(&mut out, i64::from(d), *n),
                    'D' => num(&mut out, days - days_from_civil(y, 1, 1) + 1, *n),
                    'H' => num(&mut out, h, *n),
                    'k' => num(&mut out, if h == 0 { 24 } else { h }, *n),
                    'K' => num(&mut out, h % 12, *n),
                    'h' => num(&mut out, if h % 12 == 0 { 12 } else { h % 12 }, *n),
                    'm' => num(&mut out, mi, *n),
                    's' => num(&mut out, s, *n),
                    'S' => num(&mut out, milli, *n),
                    'a' => out.push_str(if h < 12 { "AM" } else { "PM" }),
                    'E' => {
                        let name = DAYS[days.rem_euclid(7) as usize];
                        out.push_str(if *n >= 4 { name } else { &name[..3] });
                    }
                    'u' => num(&mut out, (days + 3).rem_euclid(7) + 1, *n),
                    'z' => out.push_str("UTC"),
                    'Z' => out.push_str("+0000"),
                    _ => out.push('Z'),
                },
            }
        }
        out
    }

    pub fn parse(&self, text: &str) -> Result<i64> {
        let fail = || {
            Error::conversion(format!(
                "could not parse timestamp: value ({text}) does not match pattern ({})",
                self.pattern
            ))
        };
        let (mut y, mut mo, mut d, mut h, mut mi, mut s, mut ms, mut pm) =
            (1970i64, 1u32, 1u32, 0i64, 0i64, 0i64, 0i64, None);
        let mut rest = text;
        for (k, t) in self.tokens.iter().enumerate() {
            match t {
                Token::Literal(l) => rest = rest.strip_prefix(l.as_str()).ok_or_else(fail)?,
                Token::Field(c, n) => {
                    let next_is_field = matches!(self.tokens.get(k + 1), Some(Token::Field(..)));
                    let digits = |rest: &str| -> usize {
                        let sign = usize::from(rest.starts_with('-'));
                        let all = sign
                            + rest
                                .bytes()
                                .skip(sign)
                                .take_while(u8::is_ascii_digit)
                                .count();
                        if next_is_field { all.min(*n) } else { all }
                    };
                    match c {
                        'a' => {
                            let up = rest.get(..2).unwrap_or_default().to_ascii_uppercase();
                            pm = Some(up == "PM");
                            rest = rest.get(2..).ok_or_else(fail)?;
                        }
                        'E' => {
                            let len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
                            rest = &rest[len..];
                        }
                        'M' if *n >= 3 => {
                            let len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
                            let word = &rest[..len];
                            let i = MONTHS
                                .iter()
                                .position(|m| {
                                    m.eq_ignore_ascii_case(word)
                                        || m[..3].eq_ignore_ascii_case(word)
                                })
                                .ok_or_else(fail)?;
                            mo = i as u32 + 1;
                            rest = &rest[len..];
                        }
                        'z' | 'Z' | 'X' => {
                            let len = rest
                                .bytes()
                                .take_while(|b| !b.is_ascii_whitespace())
                                .count();
                            rest = &rest[len..];
                        }
                        _ => {
                            let len = digits(rest);
                            let v: i64 = rest[..len].parse().map_err(|_| fail())?;
                            rest = &rest[len..];
                            match c {
                                'y' => y = if *n == 2 && len == 2 { 2000 + v } else { v },
                                'M' => mo = v as u32,
                                'd' => d = v as u32,
                                'H' | 'k' | 'K' | 'h' => h = v,
                                'm' => mi = v,
                                's' => s = v,
                                'S' => ms = v,
                                _ => {}
                            }
                        }
                    }
                }
            }
        }
        if let Some(pm) = pm {
            h = h % 12 + if pm { 12 } else { 0 };
        }
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
            return Err(fail());
        }
        Ok(days_from_civil(y, mo, d) * 86_400_000 + h * 3_600_000 + mi * 60_000 + s * 1000 + ms)
    }
}

#[cfg(test)]
mod tests {
    use super::DateFormat;

    #[test]
    fn simple_date_formats_round_trip() {
        let f = DateFormat::new("yyyy-MM-dd HH:mm:ss.SSS").unwrap();
        let ms = 1_700_000_000_123;
        assert_eq!(f.format(ms), "2023-11-14 22:13:20.123");
        assert_eq!(f.parse("2023-11-14 22:13:20.123").unwrap(), ms);
        let g = DateFormat::new("yyyyMMdd'T'HHmm").unwrap();
        assert_eq!(g.format(ms), "20231114T2213");
        assert_eq!(g.parse("20231114T2213").unwrap(), 1_699_999_980_000);
        assert!(DateFormat::new("yyyy-QQ").is_err());
    }
}
