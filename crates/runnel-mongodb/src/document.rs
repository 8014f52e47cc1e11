//! Typed values as BSON, as MongoDB users need them: Connect `Decimal` and Debezium's
//! `VariableScaleDecimal` as exact `Decimal128` (a value of more than 34 digits is an error,
//! never rounded); Debezium's and Connect's dates, times and timestamps as BSON dates (their
//! microseconds optionally kept beside them); bytes as binary; structs and maps as embedded
//! documents; `io.debezium.data.Json` and `Uuid` as strings, or as documents and BSON UUIDs when
//! asked. Anything else is written as Debezium's JSON converter writes it.

use std::str::FromStr;

use mongodb::bson::spec::BinarySubtype;
use mongodb::bson::{self, Binary, Bson, DateTime, Decimal128, Document};
use runnel_core::encode::json::{JsonEncoder, JsonOptions};
use runnel_core::temporal::{MICROS_PER_DAY, days_from_civil};
use runnel_core::{Column, Datum, Encoding, Error, Numeric, Payload, Result, Schema};

use crate::config::TopicConfig;

/// Converts the values of one batch.
pub struct Converter<'a> {
    pub datums: &'a [Datum],
    pub bytes: &'a [u8],
    pub cfg: &'a TopicConfig,
    /// Values equal to this (an unchanged TOAST value read from Kafka) are left out.
    pub placeholder: Option<&'a [u8]>,
    pub json: &'a JsonEncoder,
}

/// The JSON writer used for the values BSON has no type of its own for.
pub fn json_encoder() -> JsonEncoder {
    JsonEncoder::new(JsonOptions::schemas(false), None)
}

impl Converter<'_> {
    /// A struct's fields as a document; fields whose value the source did not send are left
    /// out (`partial` is then set).
    pub fn document(
        &self,
        fields: &[Column],
        values: &[Datum],
        partial: &mut bool,
    ) -> Result<Document> {
        let mut doc = Document::new();
        for (f, v) in fields.iter().zip(values) {
            let name = f.name.as_ref();
            let meta = f.meta.as_ref().and_then(|m| m.name.as_deref());
            match self
                .value(&f.encoding, meta, v)
                .map_err(|e| e.context(format!("field \"{name}\"")))?
            {
                Some(b) => {
                    doc.insert(name, b);
                    if !self.cfg.micros_suffix.is_empty()
                        && let Datum::Timestamp(us) | Datum::TimestampTz(us) = v
                    {
                        doc.insert(format!("{name}{}", self.cfg.micros_suffix), *us);
                    }
                }
                None => *partial = true,
            }
        }
        Ok(doc)
    }

    /// One value; `None`: leave it out.
    pub fn value(&self, enc: &Encoding, meta: Option<&str>, d: &Datum) -> Result<Option<Bson>> {
        Ok(Some(match d {
            Datum::Null => Bson::Null,
            Datum::Unavailable => return Ok(None),
            Datum::Bool(b) => Bson::Boolean(*b),
            Datum::Int(i) => match enc {
                Encoding::Int8 | Encoding::Int16 | Encoding::Int32 => Bson::Int32(*i as i32),
                Encoding::Dynamic => match i32::try_from(*i) {
                    Ok(v) => Bson::Int32(v),
                    Err(_) => Bson::Int64(*i),
                },
                _ => Bson::Int64(*i),
            },
            Datum::F32(f) => Bson::Double(f64::from(*f)),
            Datum::F64(f) => Bson::Double(*f),
            Datum::Numeric(n) => match enc {
                Encoding::DecimalString => Bson::String(numeric_text(n)),
                Encoding::DecimalDouble => {
                    Bson::Double(numeric_text(n).parse().unwrap_or(f64::NAN))
                }
                _ => Bson::Decimal128(decimal128(n)?),
            },
            Datum::Text(t) => {
                if self.placeholder == Some(&t[..]) {
                    return Ok(None);
                }
                let s = std::str::from_utf8(t)
                    .map_err(|_| Error::conversion("a text value is not valid UTF-8"))?;
                match (enc, meta) {
                    (Encoding::Json, _) | (_, Some("io.debezium.data.Json"))
                        if self.cfg.json_as_document =>
                    {
                        let v: serde_json::Value = serde_json::from_str(s).map_err(|e| {
                            Error::conversion(format!(
                                "an io.debezium.data.Json value is not JSON: {e}"
                            ))
                        })?;
                        json_to_bson(&v)
                    }
                    (Encoding::Uuid, _) | (_, Some("io.debezium.data.Uuid"))
                        if self.cfg.uuid_as_binary =>
                    {
                        let uuid = bson::Uuid::parse_str(s).map_err(|e| {
                            Error::conversion(format!("\"{s}\" is not a UUID: {e}"))
                        })?;
                        Bson::Binary(bson::Binary::from_uuid(uuid))
                    }
                    (_, Some("io.debezium.time.ZonedTimestamp")) => match parse_iso_utc(s) {
                        Some(us) => Bson::DateTime(DateTime::from_millis(us.div_euclid(1000))),
                        None => Bson::String(s.to_string()),
                    },
                    _ => Bson::String(s.to_string()),
                }
            }
            Datum::Bytes(b) => {
                if self.placeholder == Some(&b[..]) {
                    return Ok(None);
                }
                Bson::Binary(Binary {
                    subtype: BinarySubtype::Generic,
                    bytes: b.to_vec(),
                })
            }
            // Debezium's Geometry struct, its WKB as binary (as the Connect struct converts).
            Datum::Geometry { srid, wkb } => {
                let mut doc = Document::new();
                doc.insert(
                    "wkb",
                    Bson::Binary(Binary {
                        subtype: BinarySubtype::Generic,
                        bytes: wkb.to_vec(),
                    }),
                );
                doc.insert("srid", srid.map_or(Bson::Null, Bson::Int32));
                Bson::Document(doc)
            }
            Datum::Date(days) => Bson::DateTime(DateTime::from_millis(
                days.saturating_mul(MICROS_PER_DAY / 1000),
            )),
            Datum::Time(us) => Bson::DateTime(DateTime::from_millis(us / 1000)),
            Datum::Timestamp(us) | Datum::TimestampTz(us) => {
                Bson::DateTime(DateTime::from_millis(us.div_euclid(1000)))
            }
            // BSON dates count milliseconds: PostgreSQL's last days fit.
            Datum::FarTimestamp {
                days,
                micros_of_day,
                ..
            } => Bson::DateTime(DateTime::from_millis(
                days.saturating_mul(MICROS_PER_DAY / 1000) + micros_of_day / 1000,
            )),
            Datum::Interval {
                months,
                days,
                micros,
            } if matches!(enc, Encoding::MicroDuration) => {
                // Debezium's MicroDuration: a month is 30.4375 days.
                Bson::Int64(
                    runnel_core::temporal::interval_micros(*months, *days, *micros).ok_or_else(
                        || {
                            Error::conversion(
                                "an interval too long for microseconds in 64 bits (past \
                                 ±292,000 years) cannot be written as MicroDuration; set the \
                                 source's \"interval.handling.mode\" to \"string\"",
                            )
                        },
                    )?,
                )
            }
            Datum::Array(items) => {
                let item = match enc {
                    Encoding::Array(s) => s.as_ref().clone(),
                    _ => Schema::new(Encoding::Dynamic, true),
                };
                let item_meta = item.meta.as_ref().and_then(|m| m.name.as_deref());
                let mut out = Vec::with_capacity(items.len());
                for v in items.iter() {
                    out.push(
                        self.value(&item.encoding, item_meta, v)?
                            .unwrap_or(Bson::Null),
                    );
                }
                Bson::Array(out)
            }
            Datum::Struct(r) => match enc {
                Encoding::Struct(fields) => {
                    let mut partial = false;
                    Bson::Document(self.document(fields, self.fields(r), &mut partial)?)
                }
                _ => self.as_json(d, enc)?,
            },
            Datum::Map(r) => {
                let (k_enc, v_schema) = match enc {
                    Encoding::Map { keys, values } => {
                        (keys.encoding.clone(), values.as_ref().clone())
                    }
                    _ => (Encoding::Dynamic, Schema::new(Encoding::Dynamic, true)),
                };
                let v_meta = v_schema.meta.as_ref().and_then(|m| m.name.as_deref());
                let mut doc = Document::new();
                for pair in self.fields(r).chunks(2) {
                    let key = match &pair[0] {
                        Datum::Text(t) => String::from_utf8_lossy(t).into_owned(),
                        other => match self.value(&k_enc, None, other)? {
                            Some(Bson::String(s)) => s,
                            Some(b) => b.to_string(),
                            None => continue,
                        },
                    };
                    if let Some(v) = self.value(&v_schema.encoding, v_meta, &pair[1])? {
                        doc.insert(key, v);
                    }
                }
                Bson::Document(doc)
            }
            // Time with zone, interval text, bits, points, …: as Debezium's JSON has them.
            _ => self.as_json(d, enc)?,
        }))
    }

    fn fields(&self, r: &std::ops::Range<u32>) -> &[Datum] {
        &self.datums[r.start as usize..r.end as usize]
    }

    fn as_json(&self, d: &Datum, enc: &Encoding) -> Result<Bson> {
        let payload = Payload::Value {
            schema: Some(std::sync::Arc::new(Schema::new(enc.clone(), true))),
            datum: d.clone(),
        };
        let json = self
            .json
            .encode_payload(self.datums, self.bytes, &payload, false, false)?;
        let v: serde_json::Value = serde_json::from_slice(&json)
            .map_err(|e| Error::internal(format!("the JSON encoder wrote invalid JSON: {e}")))?;
        Ok(json_to_bson(&v))
    }
}

fn numeric_text(n: &Numeric) -> String {
    match n {
        Numeric::Finite(t) => String::from_utf8_lossy(t).into_owned(),
        Numeric::NaN => "NaN".into(),
        Numeric::PosInfinity => "Infinity".into(),
        Numeric::NegInfinity => "-Infinity".into(),
    }
}

/// An exact decimal as `Decimal128`: at most 34 significant digits (trailing fraction zeros
/// are dropped to fit; past that it is an error, never a rounding).
pub fn decimal128(n: &Numeric) -> Result<Decimal128> {
    let mut text = numeric_text(n);
    if let Numeric::Finite(_) = n {
        let digits = |t: &str| {
            t.trim_start_matches(['-', '+'])
                .chars()
                .filter(char::is_ascii_digit)
                .skip_while(|c| *c == '0')
                .count()
        };
        while digits(&text) > 34 && text.contains('.') && text.ends_with('0') {
            text.pop();
        }
        if text.ends_with('.') {
            text.pop();
        }
        if digits(&text) > 34 {
            return Err(Error::conversion(format!(
                "{text} has more than the 34 significant digits a Decimal128 holds: MongoDB \
                 cannot store it exactly; write such columns as strings \
                 (decimal.handling.mode=string on the source) or narrow the column"
            )));
        }
    }
    Decimal128::from_str(&text)
        .map_err(|e| Error::conversion(format!("{text} is not a Decimal128: {e}")))
}

/// `2024-01-02T03:04:05.123456Z` (Debezium's ZonedTimestamp, always UTC) as microseconds.
pub fn parse_iso_utc(s: &str) -> Option<i64> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let neg = date.starts_with('-');
    let date = date.trim_start_matches(['+', '-']);
    let mut d = date.splitn(3, '-');
    let year: i64 = d.next()?.parse().ok()?;
    let month: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    let year = if neg { -year } else { year };
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':');
    let h: i64 = t.next()?.parse().ok()?;
    let m: i64 = t.next()?.parse().ok()?;
    let sec: i64 = t.next()?.parse().ok()?;
    let mut micros: i64 = 0;
    for (i, c) in frac.chars().take(6).enumerate() {
        micros += i64::from(c.to_digit(10)?) * 10i64.pow(5 - i as u32);
    }
    Some(
        days_from_civil(year, month, day) * MICROS_PER_DAY
            + ((h * 60 + m) * 60 + sec) * 1_000_000
            + micros,
    )
}

/// JSON as BSON: objects as documents, integers as Int32/Int64.
pub fn json_to_bson(v: &serde_json::Value) -> Bson {
    match v {
        serde_json::Value::Null => Bson::Null,
        serde_json::Value::Bool(b) => Bson::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => match i32::try_from(i) {
                Ok(v) => Bson::Int32(v),
                Err(_) => Bson::Int64(i),
            },
            None => Bson::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Bson::String(s.clone()),
        serde_json::Value::Array(a) => Bson::Array(a.iter().map(json_to_bson).collect()),
        serde_json::Value::Object(o) => {
            let mut doc = Document::new();
            for (k, v) in o {
                doc.insert(k.clone(), json_to_bson(v));
            }
            Bson::Document(doc)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn decimals_are_exact_or_an_error() {
        let n = |s: &str| Numeric::Finite(Bytes::copy_from_slice(s.as_bytes()));
        assert_eq!(
            decimal128(&n("12345678.99")).unwrap().to_string(),
            "12345678.99"
        );
        assert_eq!(
            decimal128(&n("-0.000000000000000000000000000001"))
                .unwrap()
                .to_string(),
            "-1E-30"
        );
        // 36 digits with trailing zeros fit once they are dropped; 35 significant ones do not.
        assert!(decimal128(&n("1234567890123456789012345678901234.00")).is_ok());
        let e = decimal128(&n("12345678901234567890123456789012345")).unwrap_err();
        assert!(
            e.message().contains("34 significant digits"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn zoned_timestamps() {
        assert_eq!(parse_iso_utc("1970-01-01T00:00:01.5Z"), Some(1_500_000));
        assert_eq!(
            parse_iso_utc("2024-02-29T13:14:15.123456Z"),
            Some(1_709_212_455_123_456)
        );
        assert_eq!(parse_iso_utc("nope"), None);
    }
}
