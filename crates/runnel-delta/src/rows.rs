//! What a change does to its table's current state, read from either kind of event: a source's
//! change events (this process's PostgreSQL or MySQL source) or records read from Kafka
//! (Debezium's envelope, a flattened row from `ExtractNewRecordState`, a tombstone). Rows are
//! buffered per table with the columns they came with (their *shape*), so a flush can line up
//! rows of several schema versions with the table's columns.

use std::collections::HashMap;

use runnel_core::{Batch, Column, Datum, Encoding, Error, Event, Op, Payload, Result, Schema};
use runnel_objectstore::parquet_format::Owned;

/// Records that carry no row: schema changes, heartbeats, transaction markers.
const NOT_ROWS: &[&str] = &[
    "io.debezium.connector.common.Heartbeat",
    "io.debezium.connector.common.TransactionMetadataValue",
];

/// One change to one row.
#[derive(Debug)]
pub struct Row {
    pub delete: bool,
    /// Index into [`TableBuffer::shapes`].
    pub shape: u32,
    /// The row's values, one per column of its shape (a delete by key: the key's).
    pub values: Vec<Owned>,
}

/// The changes waiting for one table.
#[derive(Debug, Default)]
pub struct TableBuffer {
    pub shapes: Vec<Vec<Column>>,
    shape_ids: HashMap<usize, u32>,
    /// The key's column names (empty: the records have no key; rows are appended).
    pub key: Vec<String>,
    pub rows: Vec<Row>,
    /// A truncate came first: every row not written by this flush goes.
    pub truncated: bool,
}

impl TableBuffer {
    fn shape(&mut self, id: usize, columns: &[Column]) -> u32 {
        if let Some(&s) = self.shape_ids.get(&id) {
            return s;
        }
        let s = self.shapes.len() as u32;
        self.shapes.push(columns.to_vec());
        self.shape_ids.insert(id, s);
        s
    }

    fn push(
        &mut self,
        id: usize,
        columns: &[Column],
        key: Vec<String>,
        delete: bool,
        values: Vec<Owned>,
    ) {
        let shape = self.shape(id, columns);
        if !key.is_empty() || self.key.is_empty() {
            self.key = key;
        }
        self.rows.push(Row {
            delete,
            shape,
            values,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && !self.truncated
    }
}

fn owned_row(batch: &Batch, values: &[Datum]) -> Vec<Owned> {
    values.iter().map(|d| Owned::of(batch, d)).collect()
}

/// Adds `event`'s change to `buffer`, its table's; returns whether it carried one.
pub fn add(
    event: &Event,
    batch: &Batch,
    delete_enabled: bool,
    buffer: &mut TableBuffer,
) -> Result<bool> {
    match event {
        Event::Change(c) => {
            let id = std::sync::Arc::as_ptr(&c.table) as usize;
            let key: Vec<String> = c
                .table
                .key
                .iter()
                .map(|&i| c.table.columns[i].name.to_string())
                .collect();
            match c.op {
                Op::Read | Op::Create | Op::Update => {
                    let row = batch.row(c.after.as_ref().expect("a row"));
                    buffer.push(id, &c.table.columns, key, false, owned_row(batch, row));
                }
                Op::Delete if delete_enabled => {
                    let row = batch.row(c.before.as_ref().expect("a row"));
                    buffer.push(id, &c.table.columns, key, true, owned_row(batch, row));
                }
                Op::Truncate if delete_enabled => {
                    buffer.rows.clear();
                    buffer.truncated = true;
                }
                Op::Delete | Op::Truncate => return Ok(false),
            }
            Ok(true)
        }
        Event::Record(r) => {
            let key = key_of(r.key.as_ref(), batch);
            let topic: &str = &r.topic;
            let Some(value) = &r.value else {
                // A tombstone: delete by key (Debezium's follow a delete, which already
                // deleted the row).
                let Some((key_schema, key_fields, key_values)) = key else {
                    return Ok(false);
                };
                if !delete_enabled {
                    return Ok(false);
                }
                let names = key_fields.iter().map(|c| c.name.to_string()).collect();
                let id = std::sync::Arc::as_ptr(key_schema) as usize;
                buffer.push(id, key_fields, names, true, owned_row(batch, key_values));
                return Ok(true);
            };
            let (schema, datum) = match value {
                Payload::Value {
                    schema: Some(s),
                    datum,
                } => (s, datum),
                Payload::Value { schema: None, .. } => {
                    return Err(Error::config(format!(
                        "records of topic {topic} have no schema: the Delta sink needs one to know \
                         the columns; set value.converter.schemas.enable=true on the connectors \
                         writing and reading the topic"
                    )));
                }
                Payload::Encoded(_) => {
                    return Err(Error::internal("the Delta sink got undecoded records"));
                }
            };
            if schema
                .name()
                .is_some_and(|n| NOT_ROWS.contains(&n) || n.ends_with(".SchemaChangeValue"))
            {
                return Ok(false);
            }
            let (Some(fields), Datum::Struct(range)) = (schema.fields(), datum) else {
                return Err(Error::sink_permanent(format!(
                    "records of topic {topic} are not structs: the Delta sink writes a struct's \
                     fields as columns"
                )));
            };
            let values = batch.fields(range);
            let names: Vec<String> = key
                .map(|(_, f, _)| f.iter().map(|c| c.name.to_string()).collect())
                .unwrap_or_default();
            let field = |name: &str| fields.iter().position(|f| &*f.name == name);
            let id = std::sync::Arc::as_ptr(schema) as usize;
            if let (Some(op), Some(after), Some(before)) =
                (field("op"), field("after"), field("before"))
            {
                // Debezium's envelope.
                let Datum::Text(op) = &values[op] else {
                    return Ok(false);
                };
                let (delete, side) = match &op[..] {
                    b"c" | b"u" | b"r" => (false, after),
                    b"d" if delete_enabled => (true, before),
                    _ => return Ok(false),
                };
                let (Encoding::Struct(row_fields), Datum::Struct(row)) =
                    (&fields[side].encoding, &values[side])
                else {
                    return Ok(false);
                };
                let row = owned_row(batch, batch.fields(row));
                buffer.push(id, row_fields, names, delete, row);
                return Ok(true);
            }
            // A flat row; ExtractNewRecordState's rewritten deletes carry `__deleted`.
            let deleted = field("__deleted").is_some_and(|i| match &values[i] {
                Datum::Text(t) => &t[..] == b"true",
                Datum::Bool(b) => *b,
                _ => false,
            });
            if deleted && !delete_enabled {
                return Ok(false);
            }
            let row = owned_row(batch, values);
            buffer.push(id, fields, names, deleted, row);
            Ok(true)
        }
    }
}

/// A record key's struct fields and values (a primitive key: one field named after nothing
/// cannot name a column, so it is not a key here).
fn key_of<'b>(
    key: Option<&'b Payload>,
    batch: &'b Batch,
) -> Option<(&'b std::sync::Arc<Schema>, &'b [Column], &'b [Datum])> {
    match key? {
        Payload::Value {
            schema: Some(s),
            datum: Datum::Struct(range),
        } => Some((s, s.fields()?, batch.fields(range))),
        _ => None,
    }
}
