//! `org.apache.kafka.connect.transforms.Cast$Key` / `$Value`: casts fields (`spec=f:type,…`) or
//! the whole key/value (`spec=type`) to int8/16/32/64, float32/64, boolean or string, with
//! Java's conversions (narrowing wraps, floats widen exactly, strings parse). A cast field
//! keeps its optionality; its default is cast too; its logical name goes (the field is now a
//! plain primitive).

use std::sync::Arc;

use bytes::Bytes;
use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::encode::json::{JsonEncoder, JsonOptions};
use runnel_core::plugin::TransformPlugin;
use runnel_core::{Column, Datum, Encoding, Error, Numeric, Payload, Result, Schema};

use super::{Meta, OnSide, PayloadTransform, map_entries, push_map, wrong_type};
use crate::util::{Cache, Opts, Side, basics, fields};

const KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "spec",
        ValueType::List,
        "field:type pairs, or one type for the whole key/value (int8, int16, int32, int64, float32, float64, boolean, string).",
    )
    .required(),
    ConfigKey::new(
        "replace.null.with.default",
        ValueType::Boolean,
        "A null field that has a default is cast as its default.",
    )
    .default("true"),
];

pub fn plugin() -> TransformPlugin {
    TransformPlugin {
        class: "org.apache.kafka.connect.transforms.Cast$Value",
        aliases: &[
            "Cast$Value",
            "org.apache.kafka.connect.transforms.Cast$Key",
            "Cast$Key",
        ],
        keys: KEYS,
        build: |c| {
            let o = Opts(c);
            let spec = o.list("spec");
            if spec.is_empty() {
                return Err(Error::invalid(
                    "spec",
                    "\"spec\" is empty: name field:type pairs or one type",
                ));
            }
            let mut casts = Vec::new();
            let mut whole = None;
            for item in &spec {
                let parts: Vec<&str> = item.split(':').collect();
                match parts[..] {
                    [ty] => whole = Some(Target::parse(ty)?),
                    [field, ty] => casts.push((field.trim().to_string(), Target::parse(ty)?)),
                    _ => {
                        return Err(Error::invalid(
                            "spec",
                            format!(
                                "invalid cast \"{item}\" in \"spec\": expected field:type or a type"
                            ),
                        ));
                    }
                }
            }
            if whole.is_some() && spec.len() > 1 {
                return Err(Error::invalid(
                    "spec",
                    "a cast of the whole key/value may be the only cast in \"spec\"",
                ));
            }
            Ok(OnSide::boxed(
                Side::of_class(c.get("type").unwrap_or("")),
                Cast {
                    casts,
                    whole,
                    replace_null: o.bool("replace.null.with.default", true)?,
                    plans: Cache::default(),
                },
            ))
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
}

impl Target {
    fn parse(ty: &str) -> Result<Target> {
        Ok(match ty.trim().to_ascii_lowercase().as_str() {
            "int8" => Target::Int8,
            "int16" => Target::Int16,
            "int32" => Target::Int32,
            "int64" => Target::Int64,
            "float32" => Target::Float32,
            "float64" => Target::Float64,
            "boolean" => Target::Boolean,
            "string" => Target::String,
            other => {
                return Err(Error::invalid(
                    "spec",
                    format!(
                        "Cast does not cast to \"{other}\": the types are int8, int16, int32, int64, float32, float64, boolean, string"
                    ),
                ));
            }
        })
    }

    fn encoding(self) -> Encoding {
        match self {
            Target::Int8 => Encoding::Int8,
            Target::Int16 => Encoding::Int16,
            Target::Int32 => Encoding::Int32,
            Target::Int64 => Encoding::Int64,
            Target::Float32 => Encoding::Float32,
            Target::Float64 => Encoding::Float64,
            Target::Boolean => Encoding::Boolean,
            Target::String => Encoding::String,
        }
    }
}

struct Cast {
    casts: Vec<(String, Target)>,
    whole: Option<Target>,
    replace_null: bool,
    /// Per schema: the new schema and each field's cast.
    plans: Cache<Schema, (Arc<Schema>, Vec<Option<Target>>)>,
}

/// A value as Java holds it for Cast: a number, a boolean, a string, bytes or a date.
enum Java {
    Long(i64),
    Float(f32),
    Double(f64),
    Decimal(String),
    Bool(bool),
    Str(String),
    Bytes(Bytes),
    /// `java.util.Date` of Connect's Date/Time/Timestamp: epoch milliseconds, and its text.
    Date(i64, String),
}

/// What `schema` becomes: its new schema and each field's cast.
fn plan(
    casts: &[(String, Target)],
    whole: Option<Target>,
    schema: &Schema,
) -> Result<(Arc<Schema>, Vec<Option<Target>>)> {
    {
        if let Some(t) = whole {
            let mut s = Schema::new(t.encoding(), schema.optional);
            s.meta = basics(schema);
            s.default = match &schema.default {
                Some(d) => Some(cast(&schema.encoding, d, t)?),
                None => None,
            };
            return Ok((Arc::new(s), Vec::new()));
        }
        let mut columns = Vec::new();
        let mut targets = Vec::new();
        for c in schema.fields().unwrap_or_default() {
            let t = casts.iter().find(|(f, _)| **f == *c.name).map(|(_, t)| *t);
            targets.push(t);
            columns.push(match t {
                None => c.clone(),
                Some(t) => Column {
                    name: c.name.clone(),
                    type_name: c.type_name.clone(),
                    encoding: t.encoding(),
                    optional: c.optional,
                    default: match &c.default {
                        Some(d) => Some(cast(&c.encoding, d, t)?),
                        None => None,
                    },
                    meta: None,
                },
            });
        }
        let mut s = Schema::new(Encoding::Struct(columns.into()), schema.optional);
        s.meta = basics(schema);
        Ok((Arc::new(s), targets))
    }
}

impl PayloadTransform for Cast {
    fn transform(
        &mut self,
        _meta: &Meta<'_>,
        schema: Option<&Arc<Schema>>,
        datum: &Datum,
        datums: &mut Vec<Datum>,
    ) -> Result<Option<(Option<Arc<Schema>>, Datum)>> {
        if datum.is_null() {
            return Ok(None);
        }
        let Some(schema) = schema else {
            if let Some(t) = self.whole {
                return Ok(Some((None, cast(&Encoding::Dynamic, datum, t)?)));
            }
            let mut entries = map_entries(datums, datum)
                .ok_or_else(|| wrong_type("a map", "cast types", datum))?;
            for (k, v) in &mut entries {
                if let Datum::Text(name) = k
                    && let Some((_, t)) = self.casts.iter().find(|(f, _)| f.as_bytes() == &name[..])
                {
                    *v = cast(&Encoding::Dynamic, v, *t)?;
                }
            }
            return Ok(Some((None, push_map(datums, entries))));
        };
        let (casts, whole) = (&self.casts, self.whole);
        let plan = self.plans.get_or(schema, || plan(casts, whole, schema))?;
        let (out, targets) = (plan.0.clone(), plan.1.clone());
        if let Some(t) = self.whole {
            return Ok(Some((Some(out), cast(&schema.encoding, datum, t)?)));
        }
        let Some(values) = fields(datums, datum) else {
            return Err(wrong_type("a struct", "cast types", datum));
        };
        let columns = schema.fields().unwrap_or_default();
        let mut new = Vec::with_capacity(values.len());
        for ((c, v), t) in columns.iter().zip(values).zip(&targets) {
            let v = match (v, &c.default) {
                (Datum::Null, Some(d)) if self.replace_null => d.clone(),
                _ => v.clone(),
            };
            new.push(match t {
                Some(t) => cast(&c.encoding, &v, *t)?,
                None => v,
            });
        }
        let start = datums.len() as u32;
        datums.extend(new);
        Ok(Some((Some(out), Datum::Struct(start..datums.len() as u32))))
    }
}

/// `d` (of `enc`) as Java sees it.
fn java(enc: &Encoding, d: &Datum) -> Result<Java> {
    use Encoding as E;
    Ok(match (enc, d) {
        (_, Datum::Bool(b)) => Java::Bool(*b),
        (_, Datum::F32(f)) => Java::Float(*f),
        (_, Datum::F64(f)) => Java::Double(*f),
        (_, Datum::Text(t)) => Java::Str(String::from_utf8_lossy(t).into_owned()),
        (_, Datum::Bytes(b)) => Java::Bytes(b.clone()),
        (E::Decimal { .. } | E::Dynamic, Datum::Numeric(Numeric::Finite(t))) => {
            Java::Decimal(String::from_utf8_lossy(t).into_owned())
        }
        (E::ConnectDate, Datum::Date(days)) => Java::Date(days * 86_400_000, {
            let mut b = Vec::new();
            runnel_core::temporal::write_iso_date(&mut b, *days);
            String::from_utf8_lossy(&b).into_owned()
        }),
        (E::ConnectTime, Datum::Time(us)) => Java::Date(us / 1000, {
            let mut b = Vec::new();
            runnel_core::temporal::write_time_of_day(&mut b, *us - us % 1000, 3);
            String::from_utf8_lossy(&b).into_owned()
        }),
        (E::ConnectTimestamp, Datum::Timestamp(us)) => Java::Date(us.div_euclid(1000), {
            let mut b = Vec::new();
            runnel_core::temporal::write_iso_utc(&mut b, us - us.rem_euclid(1000), 3);
            String::from_utf8_lossy(&b).into_owned()
        }),
        (_, Datum::Int(i)) => Java::Long(*i),
        _ => {
            // Debezium's logical types: their Connect value is what the JSON converter writes.
            let p = Payload::Value {
                schema: Some(Arc::new(Schema::new(enc.clone(), true))),
                datum: d.clone(),
            };
            let json = JsonEncoder::new(JsonOptions::schemas(false), None).encode_payload(
                &[],
                &[],
                &p,
                false,
                false,
            )?;
            match serde_json::from_slice::<serde_json::Value>(&json) {
                Ok(serde_json::Value::Number(n)) if n.is_i64() => {
                    Java::Long(n.as_i64().unwrap_or(0))
                }
                Ok(serde_json::Value::Number(n)) => Java::Double(n.as_f64().unwrap_or(0.0)),
                Ok(serde_json::Value::String(s)) => Java::Str(s),
                Ok(serde_json::Value::Bool(b)) => Java::Bool(b),
                _ => {
                    return Err(Error::conversion(format!(
                        "Cast does not cast from {}: it casts numbers, booleans, strings and bytes",
                        enc.logical_name().unwrap_or("a struct, array or map")
                    )));
                }
            }
        }
    })
}

fn out_of_range(v: &str, t: Target) -> Error {
    Error::conversion(format!(
        "value ({v}) was out of range for requested data type {t:?}"
    ))
}

/// Java's `(int)` of a double: truncates, saturates, NaN is 0 (as Rust's `as`).
fn cast(enc: &Encoding, d: &Datum, t: Target) -> Result<Datum> {
    if d.is_null() {
        return Ok(Datum::Null);
    }
    let v = java(enc, d)?;
    let long = |v: &Java| -> Result<i64> {
        Ok(match v {
            Java::Long(i) | Java::Date(i, _) => *i,
            Java::Float(f) => *f as i64,
            Java::Double(f) => *f as i64,
            Java::Decimal(s) => s.parse::<f64>().map(|f| f as i64).unwrap_or(0),
            Java::Bool(b) => i64::from(*b),
            Java::Str(s) => s
                .trim_start_matches('+')
                .parse::<i64>()
                .map_err(|_| out_of_range(s, t))?,
            Java::Bytes(_) => return Err(Error::conversion("Cast cannot cast bytes to a number")),
        })
    };
    let int = |v: &Java| -> Result<i64> {
        // Java narrows a float to int first, then wraps to byte/short.
        Ok(match v {
            Java::Float(f) => i64::from(*f as i32),
            Java::Double(f) => i64::from(*f as i32),
            Java::Str(s) => {
                let n = s
                    .trim_start_matches('+')
                    .parse::<i64>()
                    .map_err(|_| out_of_range(s, t))?;
                let fits = match t {
                    Target::Int8 => i8::try_from(n).is_ok(),
                    Target::Int16 => i16::try_from(n).is_ok(),
                    Target::Int32 => i32::try_from(n).is_ok(),
                    _ => true,
                };
                if !fits {
                    return Err(out_of_range(s, t));
                }
                n
            }
            other => long(other)?,
        })
    };
    let double = |v: &Java| -> Result<f64> {
        Ok(match v {
            Java::Float(f) => f64::from(*f),
            Java::Double(f) => *f,
            Java::Decimal(s) => s.parse().unwrap_or(0.0),
            Java::Str(s) => s.trim().parse().map_err(|_| out_of_range(s, t))?,
            other => long(other)? as f64,
        })
    };
    Ok(match t {
        Target::Int8 => Datum::Int(i64::from(int(&v)? as i8)),
        Target::Int16 => Datum::Int(i64::from(int(&v)? as i16)),
        Target::Int32 => Datum::Int(i64::from(int(&v)? as i32)),
        Target::Int64 => Datum::Int(long(&v)?),
        Target::Float32 => Datum::F32(match &v {
            Java::Str(s) => s.trim().parse().map_err(|_| out_of_range(s, t))?,
            other => double(other)? as f32,
        }),
        Target::Float64 => Datum::F64(double(&v)?),
        Target::Boolean => Datum::Bool(match &v {
            Java::Bool(b) => *b,
            Java::Str(s) => s.eq_ignore_ascii_case("true"),
            other => long(other)? != 0,
        }),
        Target::String => Datum::text(&match v {
            Java::Long(i) => i.to_string(),
            Java::Float(f) => java_float(f64::from(f), true),
            Java::Double(f) => java_float(f, false),
            Java::Decimal(s) | Java::Str(s) => s,
            Java::Bool(b) => b.to_string(),
            Java::Bytes(b) => {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(&b)
            }
            Java::Date(_, text) => text,
        }),
    })
}

/// Java's `Double.toString` / `Float.toString`: the shortest digits, plain between 10^-3 and
/// 10^7, else `d.dddE±n`.
pub fn java_float(v: f64, single: bool) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let mut buf = ryu::Buffer::new();
    let text = if single {
        buf.format_finite(v as f32)
    } else {
        buf.format_finite(v)
    };
    // ryu: "1.5", "1e16", "1.5e-7", "100.0"; split into digits and exponent.
    let (neg, text) = text.strip_prefix('-').map_or((false, text), |t| (true, t));
    let (mantissa, exp) = match text.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: String = format!("{int_part}{frac_part}");
    let point = int_part.len() as i32 + exp;
    let digits = digits.trim_start_matches('0');
    let lead_zeros = (int_part.len() + frac_part.len()) as i32 - digits.len() as i32;
    let point = point - lead_zeros;
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let abs = v.abs();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if (1e-3..1e7).contains(&abs) {
        if point <= 0 {
            out.push_str("0.");
            out.push_str(&"0".repeat((-point) as usize));
            out.push_str(digits);
        } else if point as usize >= digits.len() {
            out.push_str(digits);
            out.push_str(&"0".repeat(point as usize - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..point as usize]);
            out.push('.');
            out.push_str(&digits[point as usize..]);
        }
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        out.push_str(if digits.len() > 1 { &digits[1..] } else { "0" });
        out.push('E');
        out.push_str(&(point - 1).to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::java_float;

    #[test]
    fn floats_print_as_java_prints_them() {
        assert_eq!(java_float(100.0, false), "100.0");
        assert_eq!(java_float(0.15, false), "0.15");
        assert_eq!(java_float(1e10, false), "1.0E10");
        assert_eq!(java_float(1.25e-5, false), "1.25E-5");
        assert_eq!(java_float(-3.5, false), "-3.5");
        assert_eq!(java_float(0.001, false), "0.001");
        assert_eq!(
            java_float(f64::from(std::f32::consts::PI), true),
            "3.1415927"
        );
    }
}
