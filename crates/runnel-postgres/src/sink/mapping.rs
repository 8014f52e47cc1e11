//! How the rows of one record shape land in one target table: which field feeds each column,
//! which columns are the key, and the schema evolution it takes to get there (a missing table
//! created from the records' schema, missing columns added, columns the source dropped left as
//! NULL or dropped). Built once per (target table, record schema) and reused for every row.

use std::collections::HashMap;
use std::sync::Arc;

use runnel_core::{Column, Encoding, Error, Result};
use tokio_postgres::Client;

use super::catalog::{self, TableRef, quote};
use super::config::{InsertMode, PgSinkConfig, PkMode};

/// Where a target column's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Src {
    /// Field `i` of the row (the value, or a change's row).
    Value(usize),
    /// Field `i` of the record's key struct (0: a primitive key).
    Key(usize),
    KafkaTopic,
    KafkaPartition,
    KafkaOffset,
    /// The record has no such field: NULL (a column the source dropped).
    Null,
    /// Not written (generated, or a NOT NULL column the record lacks: its default applies).
    Omit,
}

/// The columns of the records of one shape, as the mapping sees them.
pub struct RecordShape<'a> {
    pub topic: &'a str,
    pub value_fields: &'a [Column],
    /// The record key's struct fields (one unnamed field for a primitive key).
    pub key_fields: &'a [Column],
    /// The key's column names when the key is part of the row (a source's change events).
    pub row_key: &'a [usize],
    /// The fields come from a PostgreSQL source in this process (its type names are kept).
    pub pg_source: bool,
    /// Only deletes (tombstones): the table is neither created nor evolved.
    pub delete_only: bool,
}

pub struct Mapping {
    pub table: TableRef,
    /// Per target column, for upserts.
    pub upsert: Vec<Src>,
    /// Per target column, for deletes: the key's columns, the rest omitted.
    pub delete: Vec<Src>,
    /// Per target column: how the record types its value (for rendering).
    pub encodings: Vec<Encoding>,
    /// The buffer's key: the target's primary key columns (empty: a keyless table).
    pub key: Vec<usize>,
}

const KAFKA_COLUMNS: [(&str, &str, Src); 3] = [
    ("__connect_topic", "text", Src::KafkaTopic),
    ("__connect_partition", "integer", Src::KafkaPartition),
    ("__connect_offset", "bigint", Src::KafkaOffset),
];

/// The target tables the sink has seen, and its connection's default schema.
pub struct Tables {
    pub default_schema: String,
    pub loaded: HashMap<(String, String), TableRef>,
}

impl Tables {
    /// `schema.table` (or `table`, or `catalog.schema.table`) from a resolved name format.
    pub fn split_name(&self, cfg: &PgSinkConfig, name: &str) -> (String, String) {
        let fold = |s: &str| {
            if cfg.quote_identifiers {
                s.to_string()
            } else {
                s.to_lowercase()
            }
        };
        let parts: Vec<&str> = name.split('.').collect();
        match parts.as_slice() {
            [table] => (self.default_schema.clone(), fold(table)),
            [.., schema, table] => (fold(schema), fold(table)),
            [] => (self.default_schema.clone(), fold(name)),
        }
    }

    pub async fn get(
        &mut self,
        client: &Client,
        schema: &str,
        name: &str,
    ) -> Result<Option<TableRef>> {
        let key = (schema.to_string(), name.to_string());
        if let Some(t) = self.loaded.get(&key) {
            return Ok(Some(t.clone()));
        }
        let table = catalog::load_table(client, schema, name)
            .await?
            .map(Arc::new);
        if let Some(t) = &table {
            self.loaded.insert(key, t.clone());
        }
        Ok(table)
    }

    async fn reload(&mut self, client: &Client, schema: &str, name: &str) -> Result<TableRef> {
        self.loaded.remove(&(schema.to_string(), name.to_string()));
        self.get(client, schema, name).await?.ok_or_else(|| {
            Error::sink_permanent(format!(
                "table {} vanished while the sink changed it",
                catalog::qualified(schema, name)
            ))
        })
    }
}

/// One column a record brings: its name in the target, its field, where its value is.
struct RecordColumn<'a> {
    name: String,
    field: &'a Column,
    src: Src,
}

/// Builds (creating and evolving the table as configured) the mapping of `shape` into
/// `schema.name`. Returns whether the catalog changed (new tables change foreign-key order).
pub async fn build(
    cfg: &PgSinkConfig,
    client: &Client,
    tables: &mut Tables,
    schema: &str,
    name: &str,
    shape: &RecordShape<'_>,
) -> Result<(Mapping, bool)> {
    let fold = |s: &str| {
        if cfg.quote_identifiers {
            s.to_string()
        } else {
            s.to_lowercase()
        }
    };
    // The record's columns: value fields, key fields the value lacks, Kafka's coordinates.
    let mut columns: Vec<RecordColumn<'_>> = Vec::new();
    for (i, f) in shape.value_fields.iter().enumerate() {
        if cfg.field_included(shape.topic, &f.name) {
            columns.push(RecordColumn {
                name: fold(&f.name),
                field: f,
                src: Src::Value(i),
            });
        }
    }
    let primitive_key = shape.key_fields.len() == 1 && shape.key_fields[0].name.is_empty();
    let key_names: Vec<String> = match cfg.pk_mode {
        PkMode::None => Vec::new(),
        PkMode::Kafka => KAFKA_COLUMNS
            .iter()
            .map(|(n, _, _)| n.to_string())
            .collect(),
        PkMode::RecordValue => cfg.pk_fields.iter().map(|f| fold(f)).collect(),
        PkMode::RecordKey if !shape.row_key.is_empty() => shape
            .row_key
            .iter()
            .map(|&i| fold(&shape.value_fields[i].name))
            .collect(),
        PkMode::RecordKey if primitive_key => match cfg.pk_fields.first() {
            Some(f) => vec![fold(f)],
            None => {
                return Err(Error::config(format!(
                    "records of topic {} have a primitive key: set primary.key.fields to the name \
                     of its column",
                    shape.topic
                )));
            }
        },
        PkMode::RecordKey => shape
            .key_fields
            .iter()
            .map(|f| fold(&f.name))
            .filter(|n| cfg.pk_fields.is_empty() || cfg.pk_fields.iter().any(|p| &fold(p) == n))
            .collect(),
    };
    if cfg.pk_mode == PkMode::RecordKey && shape.row_key.is_empty() {
        for (i, f) in shape.key_fields.iter().enumerate() {
            let n = if primitive_key {
                key_names[0].clone()
            } else {
                fold(&f.name)
            };
            if key_names.contains(&n) && !columns.iter().any(|c| c.name == n) {
                columns.push(RecordColumn {
                    name: n,
                    field: f,
                    src: Src::Key(i),
                });
            }
        }
    }
    let kafka_fields: Vec<Column> = KAFKA_COLUMNS
        .iter()
        .map(|(n, _, _)| Column::new(n, Encoding::String, false))
        .collect();
    if cfg.pk_mode == PkMode::Kafka {
        for ((n, _, src), f) in KAFKA_COLUMNS.iter().zip(&kafka_fields) {
            columns.push(RecordColumn {
                name: n.to_string(),
                field: f,
                src: *src,
            });
        }
    }
    for k in &key_names {
        if !columns.iter().any(|c| &c.name == k) {
            return Err(Error::config(format!(
                "the primary key field \"{k}\" is not in the records of topic {}: check primary.key.fields",
                shape.topic
            )));
        }
    }

    let mut changed = false;
    if shape.delete_only {
        let table = tables.get(client, schema, name).await?.ok_or_else(|| {
            Error::internal(format!(
                "deletes for a missing table {}",
                catalog::qualified(schema, name)
            ))
        })?;
        return Ok((delete_mapping(table, &columns, shape)?, false));
    }
    let mut table = match tables.get(client, schema, name).await? {
        Some(t) => t,
        None if cfg.create_tables => {
            create_table(
                cfg,
                client,
                schema,
                name,
                &columns,
                &key_names,
                shape.pg_source,
            )
            .await?;
            changed = true;
            tables.reload(client, schema, name).await?
        }
        None => {
            return Err(Error::sink_permanent(format!(
                "table {} does not exist in {} (records of topic {}): create it, or set \
                 schema.evolution=basic (auto.create=true) to let the sink create it",
                catalog::qualified(schema, name),
                cfg.target(),
                shape.topic
            )));
        }
    };
    // Columns the target lacks.
    let missing: Vec<&RecordColumn<'_>> = columns
        .iter()
        .filter(|c| table.column(&c.name).is_none())
        .collect();
    if !missing.is_empty() {
        if !cfg.add_columns {
            let names: Vec<String> = missing.iter().map(|c| format!("\"{}\"", c.name)).collect();
            return Err(Error::sink_permanent(format!(
                "table {} has no column {} (records of topic {}): add them, or set \
                 schema.evolution=basic (auto.evolve=true) to let the sink add them",
                table.display(),
                names.join(", "),
                shape.topic
            )));
        }
        for c in missing {
            let ty = column_sql_type(c, shape.pg_source)?;
            let sql = format!(
                "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {ty}",
                table.qualified,
                quote(&c.name)
            );
            client.batch_execute(&sql).await.map_err(|e| {
                catalog::query_error(
                    &format!("adding column \"{}\" to {}", c.name, table.display()),
                    &e,
                )
            })?;
            tracing::info!(table = %table.display(), column = %c.name, r#type = %ty, "added a column the records have");
        }
        changed = true;
        table = tables.reload(client, schema, name).await?;
    }
    if cfg.drop_columns {
        let extra: Vec<String> = table
            .columns
            .iter()
            .enumerate()
            .filter(|(i, c)| {
                !c.generated && !table.pk.contains(i) && !columns.iter().any(|r| r.name == c.name)
            })
            .map(|(_, c)| c.name.clone())
            .collect();
        if !extra.is_empty() {
            for c in &extra {
                let sql = format!(
                    "ALTER TABLE {} DROP COLUMN IF EXISTS {}",
                    table.qualified,
                    quote(c)
                );
                client.batch_execute(&sql).await.map_err(|e| {
                    catalog::query_error(
                        &format!("dropping column \"{c}\" of {}", table.display()),
                        &e,
                    )
                })?;
                tracing::info!(table = %table.display(), column = %c, "dropped a column the records no longer have");
            }
            changed = true;
            table = tables.reload(client, schema, name).await?;
        }
    }

    let mut upsert = Vec::with_capacity(table.columns.len());
    let mut encodings = Vec::with_capacity(table.columns.len());
    for col in &table.columns {
        let record = columns.iter().find(|c| c.name == col.name);
        let src = match record {
            _ if col.generated => Src::Omit,
            Some(r) => {
                if !catalog::compatible(col.kind, r.field) {
                    return Err(Error::sink_permanent(format!(
                        "table {} column \"{}\" is {}, which cannot take field \"{}\" ({}) of topic {}: \
                         change the column's type, or map the field with a transform (Cast, ReplaceField)",
                        table.display(),
                        col.name,
                        col.sql_type,
                        r.field.name,
                        catalog::describe(r.field),
                        shape.topic
                    )));
                }
                r.src
            }
            None if !col.not_null && !col.has_default => Src::Null,
            None => Src::Omit,
        };
        upsert.push(src);
        encodings.push(record.map_or(Encoding::String, |r| r.field.encoding.clone()));
    }
    let needs_key = cfg.insert_mode != InsertMode::Insert || cfg.delete_enabled;
    let key = if table.pk.is_empty() {
        if needs_key && !key_names.is_empty() {
            return Err(Error::sink_permanent(format!(
                "table {} has no primary key, which {} needs: add PRIMARY KEY ({}) to it",
                table.display(),
                if cfg.insert_mode == InsertMode::Insert {
                    "delete.enabled"
                } else {
                    "upsert and update"
                },
                key_names
                    .iter()
                    .map(|k| quote(k))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Vec::new()
    } else {
        for &k in &table.pk {
            if !matches!(
                upsert[k],
                Src::Value(_)
                    | Src::Key(_)
                    | Src::KafkaTopic
                    | Src::KafkaPartition
                    | Src::KafkaOffset
            ) {
                return Err(Error::sink_permanent(format!(
                    "table {}'s primary key column \"{}\" is not in the records of topic {}: \
                     the key must come from the records (primary.key.mode, primary.key.fields)",
                    table.display(),
                    table.columns[k].name,
                    shape.topic
                )));
            }
        }
        table.pk.clone()
    };
    // A delete names its row by the key: from the key struct where the record has one.
    let delete = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, col)| {
            if !key.contains(&i) {
                return Src::Omit;
            }
            match shape.key_fields.iter().position(|f| {
                let n = if primitive_key {
                    key_names.first().cloned().unwrap_or_default()
                } else {
                    fold(&f.name)
                };
                n == col.name
            }) {
                Some(k) if shape.row_key.is_empty() => Src::Key(k),
                _ => upsert[i],
            }
        })
        .collect();
    Ok((
        Mapping {
            table,
            upsert,
            delete,
            encodings,
            key,
        },
        changed,
    ))
}

fn column_sql_type(c: &RecordColumn<'_>, pg_source: bool) -> Result<String> {
    if let Some((_, ty, _)) = KAFKA_COLUMNS.iter().find(|(n, _, _)| *n == c.name) {
        return Ok(ty.to_string());
    }
    catalog::column_type(c.field, pg_source)
}

async fn create_table(
    cfg: &PgSinkConfig,
    client: &Client,
    schema: &str,
    name: &str,
    columns: &[RecordColumn<'_>],
    key: &[String],
    pg_source: bool,
) -> Result<()> {
    let mut defs = Vec::with_capacity(columns.len() + 1);
    for c in columns {
        let ty = column_sql_type(c, pg_source)?;
        let not_null = if !c.field.optional || key.contains(&c.name) {
            " NOT NULL"
        } else {
            ""
        };
        defs.push(format!("{} {ty}{not_null}", quote(&c.name)));
    }
    if !key.is_empty() {
        let cols: Vec<String> = key.iter().map(|k| quote(k)).collect();
        defs.push(format!("PRIMARY KEY ({})", cols.join(", ")));
    }
    let qualified = catalog::qualified(schema, name);
    let schema_exists = client
        .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&schema])
        .await
        .map_err(|e| catalog::query_error("reading pg_namespace", &e))?
        .is_some();
    // Only when missing: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on the
    // database even when the schema is there.
    let create_schema = if schema_exists {
        String::new()
    } else {
        format!("CREATE SCHEMA IF NOT EXISTS {}; ", quote(schema))
    };
    let sql = format!(
        "{create_schema}CREATE TABLE IF NOT EXISTS {qualified} ({})",
        defs.join(", ")
    );
    client.batch_execute(&sql).await.map_err(|e| {
        catalog::query_error(
            &format!("creating table {qualified} in {}", cfg.target()),
            &e,
        )
    })?;
    tracing::info!(table = %qualified, "created a table for the records");
    Ok(())
}

/// The mapping of tombstones: only the key, to delete by.
fn delete_mapping(
    table: TableRef,
    columns: &[RecordColumn<'_>],
    shape: &RecordShape<'_>,
) -> Result<Mapping> {
    let mut delete = Vec::with_capacity(table.columns.len());
    for (i, col) in table.columns.iter().enumerate() {
        if !table.pk.contains(&i) {
            delete.push(Src::Omit);
            continue;
        }
        match columns.iter().find(|c| c.name == col.name) {
            Some(c) => delete.push(c.src),
            None => {
                return Err(Error::sink_permanent(format!(
                    "table {}'s primary key column \"{}\" is not in the keys of topic {}: deletes \
                     cannot find their rows",
                    table.display(),
                    col.name,
                    shape.topic
                )));
            }
        }
    }
    let encodings = table
        .columns
        .iter()
        .map(|col| {
            columns
                .iter()
                .find(|c| c.name == col.name)
                .map_or(Encoding::String, |c| c.field.encoding.clone())
        })
        .collect();
    Ok(Mapping {
        upsert: vec![Src::Omit; table.columns.len()],
        delete,
        encodings,
        key: table.pk.clone(),
        table,
    })
}
