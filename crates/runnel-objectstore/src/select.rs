//! KCQL's `SELECT a, b AS c, _key.id, _header.h`: the projected row of a record — each
//! selected field's value and schema under its name — which every format writes as it writes a
//! whole row (JSON: an object of the fields, without schema, as Lenses' JSON format writes it).

use std::collections::HashMap;
use std::sync::Arc;

use runnel_core::{Batch, Column, Datum, Error, Event, Payload, Result, Schema};

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

/// The column and value at `path` inside a value of `schema`.
fn walk(batch: &Batch, schema: &Schema, datum: &Datum, path: &[String]) -> Option<(Column, Datum)> {
    let Some((first, rest)) = path.split_first() else {
        return Some((Column::of("", schema), datum.clone()));
    };
    let columns = schema.fields()?;
    let i = columns.iter().position(|c| *c.name == **first)?;
    let value = match datum {
        Datum::Struct(range) => batch.fields(range).get(i).cloned().unwrap_or(Datum::Null),
        _ => Datum::Null,
    };
    if rest.is_empty() {
        return Some((columns[i].clone(), value));
    }
    walk(batch, &columns[i].schema(), &value, rest)
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
        let mut columns = Vec::with_capacity(select.len());
        let mut values = Vec::with_capacity(select.len());
        for (name, part) in select {
            let found = match part {
                PartitionPart::ValueField(path) => value.and_then(|(s, d)| walk(batch, s, d, path)),
                PartitionPart::Key(path) => key.and_then(|(s, d)| walk(batch, s, d, path)),
                PartitionPart::Header(h) => r
                    .headers
                    .iter()
                    .find(|x| &*x.key == h)
                    .and_then(|x| payload(x.value.as_ref()))
                    .map(|(s, d)| (Column::of("", s), d.clone())),
                _ => None,
            };
            let Some((mut column, datum)) = found else {
                return Err(Error::config(format!(
                    "SELECT {name}: the record has no such field with a schema (select fields of \
                     the value, _key or _header.<name>, and keep the converters' \
                     schemas.enable=true)"
                )));
            };
            column.name = name.as_str().into();
            columns.push(column);
            values.push(datum);
        }
        let ptr = |p: Option<(&Arc<Schema>, &Datum)>| p.map_or(0, |(s, _)| Arc::as_ptr(s) as usize);
        let cache_key = (target, ptr(value), ptr(key));
        let headers = select
            .iter()
            .any(|(_, p)| matches!(p, PartitionPart::Header(_)));
        if !headers && let Some((id, schema)) = self.schemas.get(&cache_key) {
            return Ok((*id, schema.clone(), values));
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
