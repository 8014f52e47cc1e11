//! KCQL's `SELECT a, b AS c, _key.id, _header.h`: the projected row of a record — each
//! selected field's value and schema under its name — which every format writes as it writes a
//! whole row (JSON: an object of the fields, without schema, as Lenses' JSON format writes it).

use std::collections::HashMap;
use std::sync::Arc;

use runnel_core::{Batch, Column, Datum, Encoding, Error, Event, Payload, Result, Schema};

use crate::config::PartitionPart;

/// The projected rows' schemas, made once per (target, value schema, key schema).
#[derive(Default)]
pub struct Projector {
    schemas: HashMap<(usize, usize, usize), (u64, Arc<Schema>)>,
}

/// A projected row: its schema's fingerprint, the schema, and the values in its field order.
pub type Row = (u64, Arc<Schema>, Vec<Datum>);

fn payload(p: Option<&Payload>) -> Option<(&Arc<Schema>, &Datum)> {
    match p {
        Some(Payload::Value {
            schema: Some(s),
            datum,
        }) => Some((s, datum)),
        _ => None,
    }
}

/// The field at `path` in `schema` (the whole schema for an empty path).
fn column_at(schema: &Schema, path: &[String]) -> Option<Column> {
    let Some((first, rest)) = path.split_first() else {
        return Some(Column::of("", schema));
    };
    let mut column = schema.fields()?.iter().find(|c| *c.name == **first)?;
    for name in rest {
        let Encoding::Struct(columns) = &column.encoding else {
            return None;
        };
        column = columns.iter().find(|c| *c.name == **name)?;
    }
    Some(column.clone())
}

/// The value at `path` in `datum`, a value of `schema` (`None`: no such field).
fn value_at(batch: &Batch, schema: &Schema, datum: &Datum, path: &[String]) -> Option<Datum> {
    let mut columns = match schema.fields() {
        Some(c) => c,
        None if path.is_empty() => return Some(datum.clone()),
        None => return None,
    };
    let mut value = datum;
    for (depth, name) in path.iter().enumerate() {
        let i = columns.iter().position(|c| *c.name == **name)?;
        value = match value {
            Datum::Struct(range) => batch.fields(range).get(i).unwrap_or(&Datum::Null),
            // A null struct: its fields are null.
            _ => &Datum::Null,
        };
        if depth + 1 < path.len() {
            let Encoding::Struct(inner) = &columns[i].encoding else {
                return None;
            };
            columns = inner;
        }
    }
    Some(value.clone())
}

fn no_field(name: &str) -> Error {
    Error::config(format!(
        "SELECT {name}: the record has no such field with a schema (select fields of the value, \
         _key or _header.<name>, and keep the converters' schemas.enable=true)"
    ))
}

impl Projector {
    pub fn project(
        &mut self,
        target: usize,
        select: &[(String, PartitionPart)],
        batch: &Batch,
        event: &Event,
    ) -> Result<Row> {
        let Event::Record(r) = event else {
            return Err(Error::config(
                "SELECT of fields needs records, not Debezium's envelope: unwrap it with \
                 io.debezium.transforms.ExtractNewRecordState",
            ));
        };
        let value = payload(r.value.as_ref());
        let key = payload(r.key.as_ref());
        let header = |h: &str| {
            r.headers
                .iter()
                .find(|x| &*x.key == h)
                .and_then(|x| payload(x.value.as_ref()))
        };
        let mut values = Vec::with_capacity(select.len());
        for (name, part) in select {
            let found = match part {
                PartitionPart::ValueField(path) => {
                    value.and_then(|(s, d)| value_at(batch, s, d, path))
                }
                PartitionPart::Key(path) => key.and_then(|(s, d)| value_at(batch, s, d, path)),
                PartitionPart::Header(h) => header(h).map(|(_, d)| d.clone()),
                _ => None,
            };
            values.push(found.ok_or_else(|| no_field(name))?);
        }
        // The projected schema, once per value and key schema (header schemas are per record).
        let ptr = |p: Option<(&Arc<Schema>, &Datum)>| p.map_or(0, |(s, _)| Arc::as_ptr(s) as usize);
        let cache_key = (target, ptr(value), ptr(key));
        let headers = select
            .iter()
            .any(|(_, p)| matches!(p, PartitionPart::Header(_)));
        if !headers && let Some((id, schema)) = self.schemas.get(&cache_key) {
            return Ok((*id, schema.clone(), values));
        }
        let mut columns = Vec::with_capacity(select.len());
        for (name, part) in select {
            let found = match part {
                PartitionPart::ValueField(path) => value.and_then(|(s, _)| column_at(s, path)),
                PartitionPart::Key(path) => key.and_then(|(s, _)| column_at(s, path)),
                PartitionPart::Header(h) => header(h).map(|(s, _)| Column::of("", s)),
                _ => None,
            };
            let mut column = found.ok_or_else(|| no_field(name))?;
            column.name = name.as_str().into();
            columns.push(column);
        }
        let name = value.and_then(|(s, _)| s.name()).unwrap_or("Projection");
        let schema = Arc::new(Schema::structure(name, columns, false));
        let id = crate::sink::schema_fingerprint(&schema);
        if !headers {
            if self.schemas.len() > 1024 {
                self.schemas.clear();
            }
            self.schemas.insert(cache_key, (id, schema.clone()));
        }
        Ok((id, schema, values))
    }
}

/// A projected row as a JSON object line: `{"name": value, …}`.
pub fn write_json(
    buf: &mut Vec<u8>,
    batch: &Batch,
    schema: &Schema,
    values: &[Datum],
) -> Result<()> {
    buf.push(b'{');
    for (i, (c, v)) in schema
        .fields()
        .unwrap_or_default()
        .iter()
        .zip(values)
        .enumerate()
    {
        if i > 0 {
            buf.push(b',');
        }
        runnel_core::encode::writer::key(buf, &c.name);
        runnel_core::encode::json::write_value_json(buf, batch, c, v)?;
    }
    buf.extend_from_slice(b"}\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_fields_are_found_in_the_schema_and_the_value() {
        let inner = Encoding::Struct(vec![Column::new("city", Encoding::String, true)].into());
        let schema = Schema::structure(
            "t.Value",
            vec![
                Column::new("id", Encoding::Int32, false),
                Column::new("address", inner, true),
            ],
            false,
        );
        let mut batch = Batch::default();
        let address = batch.push_row([Datum::text("Oslo")]);
        let row = batch.push_row([Datum::Int(1), Datum::Struct(address)]);
        let value = Datum::Struct(row);
        let path = |p: &str| p.split('.').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(
            value_at(&batch, &schema, &value, &path("address.city")),
            Some(Datum::text("Oslo"))
        );
        assert_eq!(
            column_at(&schema, &path("address.city")).map(|c| c.encoding),
            Some(Encoding::String)
        );
        assert_eq!(
            value_at(&batch, &schema, &value, &path("id")),
            Some(Datum::Int(1))
        );
        assert_eq!(value_at(&batch, &schema, &value, &path("nope")), None);
        assert!(column_at(&schema, &path("id.more")).is_none());
        // A null struct: its fields are null.
        let null_address = batch.push_row([Datum::Int(2), Datum::Null]);
        assert_eq!(
            value_at(
                &batch,
                &schema,
                &Datum::Struct(null_address),
                &path("address.city")
            ),
            Some(Datum::Null)
        );
    }
}
