//! The outbox router's `table.expand.json.payload`: a JSON text becomes a Connect value with a
//! schema inferred the way Debezium's `JsonSchemaData` infers it — ints that fit 32 bits are
//! int32, larger ones int64, other numbers float64, objects optional structs named by their
//! path (`payload.address`), arrays of their first non-null element's type (arrays of objects:
//! the union of the objects' fields). JSON nulls and empty arrays have no schema and are left
//! out (`table.json.payload.null.behavior=ignore`, `…empty.array.behavior=ignore`) or typed
//! optional bytes / an array of optional strings. Object keys keep their order in the text.

use std::fmt;
use std::sync::Arc;

use runnel_core::{Column, Datum, Encoding, Schema, SchemaMeta};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// A parsed JSON value, objects in text order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    /// Beyond 64 bits: Jackson's BigInteger, typed float64.
    Big(f64),
    Float(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(i64::try_from(v).map_or(Json::Big(v as f64), Json::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(Seed)? {
            items.push(v);
        }
        Ok(Json::Arr(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut fields: Vec<(String, Json)> = Vec::new();
        while let Some(k) = map.next_key::<String>()? {
            let v = map.next_value_seed(Seed)?;
            match fields.iter_mut().find(|(name, _)| *name == k) {
                Some(f) => f.1 = v,
                None => fields.push((k, v)),
            }
        }
        Ok(Json::Obj(fields))
    }
}

struct Seed;

impl<'de> de::DeserializeSeed<'de> for Seed {
    type Value = Json;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

/// Parses an object or array text (what Debezium expands; anything else is left alone).
pub fn parse(text: &str) -> Result<Json, String> {
    if !(text.starts_with('{') || text.starts_with('[')) {
        return Err(format!(
            "unable to parse payload starting with '{}'",
            text.chars().next().unwrap_or(' ')
        ));
    }
    let mut d = serde_json::Deserializer::from_str(text);
    let v = de::DeserializeSeed::deserialize(Seed, &mut d).map_err(|e| e.to_string())?;
    d.end().map_err(|e| e.to_string())?;
    Ok(v)
}

/// How JSON nulls and empty arrays are typed.
#[derive(Debug, Clone, Copy)]
pub struct Inference {
    pub nulls_as_bytes: bool,
    pub empty_arrays_as_strings: bool,
}

fn optional(enc: Encoding) -> Schema {
    Schema::new(enc, true)
}

impl Inference {
    /// The schema of `v` named by `key` (`None`: no schema, the field is left out).
    pub fn schema(&self, key: &str, v: &Json) -> Result<Option<Schema>, String> {
        Ok(Some(match v {
            Json::Str(_) => optional(Encoding::String),
            Json::Bool(_) => optional(Encoding::Boolean),
            Json::Int(i) if i32::try_from(*i).is_ok() => optional(Encoding::Int32),
            Json::Int(_) => optional(Encoding::Int64),
            Json::Big(_) | Json::Float(_) => optional(Encoding::Float64),
            Json::Null if self.nulls_as_bytes => {
                optional(Encoding::Binary(runnel_core::BinaryMode::Bytes))
            }
            Json::Null => return Ok(None),
            Json::Arr(items) if items.is_empty() => {
                if !self.empty_arrays_as_strings {
                    return Ok(None);
                }
                optional(Encoding::Array(Arc::new(optional(Encoding::String))))
            }
            Json::Arr(items) => optional(Encoding::Array(Arc::new(self.items(key, items)?))),
            Json::Obj(fields) => {
                let mut columns: Vec<Column> = Vec::new();
                for (name, value) in fields {
                    let field_key = if key.trim().is_empty() {
                        name.clone()
                    } else {
                        format!("{key}.{name}")
                    };
                    if let Some(s) = self.schema(&field_key, value)?
                        && !columns.iter().any(|c| *c.name == **name)
                    {
                        columns.push(Column::of(name, &s));
                    }
                }
                let mut s = optional(Encoding::Struct(columns.into()));
                if !key.is_empty() {
                    s.meta = Some(SchemaMeta::named(key));
                }
                s
            }
        }))
    }

    /// An array's item schema: its first non-null element's; for objects, their fields merged.
    fn items(&self, key: &str, items: &[Json]) -> Result<Schema, String> {
        let mut first: Option<&Json> = None;
        for e in items.iter().filter(|e| !matches!(e, Json::Null)) {
            let Some(f) = first else {
                first = Some(e);
                continue;
            };
            if std::mem::discriminant(kind(f)) != std::mem::discriminant(kind(e)) {
                return Err("field is not a homogenous array".into());
            }
            if let (Json::Int(_) | Json::Big(_) | Json::Float(_), Some(a), Some(b)) =
                (f, self.schema("", f)?, self.schema("", e)?)
                && a != b
            {
                return Err("field is not a homogenous array: different number types".into());
            }
        }
        let Some(sample) = first else {
            return Err("array has unrecognized member schema".into());
        };
        if !matches!(sample, Json::Obj(_)) {
            return self
                .schema("", sample)?
                .ok_or_else(|| "array has unrecognized member schema".to_string());
        }
        let mut distinct: Vec<Schema> = Vec::new();
        for e in items.iter().filter(|e| matches!(e, Json::Obj(_))) {
            if let Some(s) = self.schema(key, e)?
                && !distinct.contains(&s)
            {
                distinct.push(s);
            }
        }
        let mut merged: Option<Schema> = None;
        for s in distinct {
            merged = Some(match merged {
                None => s,
                Some(left) => merge(&left, &s),
            });
        }
        merged.ok_or_else(|| "array has unrecognized member schema".to_string())
    }
}

/// The JSON kind of a value (numbers are one kind).
fn kind(v: &Json) -> &Json {
    const NUMBER: Json = Json::Float(0.0);
    match v {
        Json::Int(_) | Json::Big(_) | Json::Float(_) => &NUMBER,
        other => other,
    }
}

/// Two struct schemas' fields, the left's first (a bytes field gives way to a typed one);
/// the basics of the left, not optional (Kafka Connect's `copySchemaBasics`).
fn merge(left: &Schema, right: &Schema) -> Schema {
    let mut fields: Vec<Column> = left.fields().unwrap_or_default().to_vec();
    for f in right.fields().unwrap_or_default() {
        match fields.iter_mut().find(|c| c.name == f.name) {
            None => fields.push(f.clone()),
            Some(old) => {
                if matches!(old.encoding, Encoding::Binary(_))
                    && !matches!(f.encoding, Encoding::Binary(_))
                {
                    *old = f.clone();
                }
            }
        }
    }
    let mut s = Schema::new(Encoding::Struct(fields.into()), false);
    s.meta = left.meta.clone();
    s
}

/// `v` as a value of `schema`, in `datums`; `Err` where a value does not fit its schema.
pub fn value(v: &Json, schema: &Schema, datums: &mut Vec<Datum>) -> Result<Datum, String> {
    let Json::Obj(_) = v else {
        return Err(format!("not a struct schema for a top-level {}", name(v)));
    };
    to_datum(v, schema, datums)
}

fn name(v: &Json) -> &'static str {
    match v {
        Json::Arr(_) => "array",
        Json::Obj(_) => "object",
        _ => "value",
    }
}

fn to_datum(v: &Json, schema: &Schema, datums: &mut Vec<Datum>) -> Result<Datum, String> {
    let mismatch = || format!("invalid value for a {:?} field", schema.encoding);
    Ok(match (v, &schema.encoding) {
        (Json::Null, _) => Datum::Null,
        (Json::Str(s), Encoding::String) => Datum::text(s),
        (Json::Bool(b), Encoding::Boolean) => Datum::Bool(*b),
        (Json::Int(i), Encoding::Int32) if i32::try_from(*i).is_ok() => Datum::Int(*i),
        (Json::Int(i), Encoding::Int64) => Datum::Int(*i),
        (Json::Float(f) | Json::Big(f), Encoding::Float64) => Datum::F64(*f),
        (Json::Arr(items), Encoding::Array(item)) => {
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                out.push(to_datum(i, item, datums)?);
            }
            Datum::Array(out.into())
        }
        (Json::Obj(fields), Encoding::Struct(columns)) => {
            let mut values = Vec::with_capacity(columns.len());
            for c in columns.iter() {
                values.push(match fields.iter().find(|(k, _)| **k == *c.name) {
                    Some((_, v)) => to_datum(v, &c.schema(), datums)?,
                    None => Datum::Null,
                });
            }
            let start = datums.len() as u32;
            datums.extend(values);
            Datum::Struct(start..datums.len() as u32)
        }
        _ => return Err(mismatch()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: Inference = Inference {
        nulls_as_bytes: false,
        empty_arrays_as_strings: false,
    };

    #[test]
    fn schemas_are_inferred_as_debezium_infers_them() {
        let v =
            parse(r#"{"b": 1, "a": 5000000000, "c": 1.5, "n": null, "e": [], "o": {"x": "y"}}"#)
                .unwrap();
        let s = NONE.schema("payload", &v).unwrap().unwrap();
        let names: Vec<&str> = s.fields().unwrap().iter().map(|c| &*c.name).collect();
        assert_eq!(names, ["b", "a", "c", "o"]);
        assert_eq!(s.fields().unwrap()[0].encoding, Encoding::Int32);
        assert_eq!(s.fields().unwrap()[1].encoding, Encoding::Int64);
        assert_eq!(
            s.fields().unwrap()[3]
                .meta
                .as_ref()
                .unwrap()
                .name
                .as_deref(),
            Some("payload.o")
        );
        assert!(
            NONE.schema("payload", &parse(r#"{"v": [1, "two"]}"#).unwrap())
                .is_err()
        );
        assert!(parse("\"text\"").is_err());
    }
}
