//! One Delta table: opened (or created from the first rows' columns), evolved (columns the
//! changes bring are added; columns they no longer carry stay and are written as null; a
//! column whose type changed is an error naming it), and changed by one `MERGE` per flush — the
//! last change per key, deletes applied, a truncate as "delete every row not in this flush" —
//! or appended to when the rows have no key.

use std::collections::HashMap;
use std::sync::Arc;

use deltalake::arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, new_null_array};
use deltalake::arrow::datatypes::{DataType, Field, Schema as ArrowSchema};
use deltalake::datafusion::common::Column as DfColumn;
use deltalake::datafusion::prelude::{Expr, SessionContext, lit};
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::kernel::{StructField, StructType};
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableError};
use runnel_core::{Column, Datum, Error, Result};
use runnel_objectstore::parquet_format::{Flavor, Owned, data_type, record_batch};

use crate::config::{DeltaConfig, Location};
use crate::rows::TableBuffer;

/// The source rows' column telling a delete from an upsert (never written to the table).
const DELETE_COLUMN: &str = "__runnel_delete";

/// The URL of the table `name` (or of the root with `name` empty).
pub fn table_url(cfg: &DeltaConfig, name: &str) -> Result<url::Url> {
    let text = match &cfg.location {
        Location::Local(dir) => {
            let path = if name.is_empty() {
                dir.clone()
            } else {
                format!("{dir}/{name}")
            };
            return url::Url::from_directory_path(&path).map_err(|()| {
                Error::invalid("delta.uri", format!("\"{path}\" is not a usable directory"))
            });
        }
        Location::S3 { url, .. } if name.is_empty() => format!("{url}/"),
        Location::S3 { url, .. } => format!("{url}/{name}/"),
    };
    url::Url::parse(&text).map_err(|e| Error::invalid("delta.uri", format!("\"{text}\": {e}")))
}

pub fn storage_options(cfg: &DeltaConfig) -> HashMap<String, String> {
    match &cfg.location {
        Location::S3 { options, .. } => options.clone(),
        Location::Local(_) => HashMap::new(),
    }
}

/// The store's answer without its XML body, with the S3 error code kept.
fn short(text: &str) -> String {
    let code = text
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code);
    let head = text
        .split("<?xml")
        .next()
        .unwrap_or(text)
        .trim_end_matches([' ', ':']);
    match code {
        Some(code) => format!("{head} ({code})"),
        None => head.to_string(),
    }
}

/// What went wrong with a table (`name` empty: the location itself), in words that say what to
/// do.
pub fn table_error(name: &str, doing: &str, e: DeltaTableError) -> Error {
    let what = if name.is_empty() {
        "the Delta tables' location (delta.uri)".to_string()
    } else {
        format!("Delta table {name}")
    };
    let text = short(&e.to_string());
    let refused = [
        "403 Forbidden",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "AccessDenied",
    ];
    if refused.iter().any(|r| text.contains(r)) {
        return Error::invalid(
            "aws.access.key.id",
            format!(
                "{what}: the store refused the credentials while {doing}: {text}; check \
                 aws.access.key.id and aws.secret.access.key"
            ),
        );
    }
    if text.contains("NoSuchBucket") {
        return Error::invalid(
            "delta.uri",
            format!(
                "{what}: the bucket in delta.uri does not exist ({text}); create it or fix \
                 delta.uri"
            ),
        );
    }
    match e {
        DeltaTableError::VersionAlreadyExists(_) | DeltaTableError::Transaction { .. } => {
            Error::sink_transient(format!(
                "{what}: another writer changed it while runnel was {doing} ({text}); runnel \
                 writes the changes again from its last committed position"
            ))
        }
        _ => Error::sink_transient(format!("{what}: {doing}: {text}")),
    }
}

/// Opens the table `name` (not yet created: an uninitialised handle).
pub async fn open(cfg: &DeltaConfig, name: &str) -> Result<DeltaTable> {
    let url = table_url(cfg, name)?;
    if let Location::Local(_) = &cfg.location {
        let path = url
            .to_file_path()
            .map_err(|()| Error::internal("a local table URL without a path"))?;
        std::fs::create_dir_all(&path).map_err(|e| {
            Error::invalid(
                "delta.uri",
                format!("cannot create the directory {}: {e}", path.display()),
            )
        })?;
    }
    DeltaTable::try_from_url_with_storage_options(url, storage_options(cfg))
        .await
        .map_err(|e| table_error(name, "opening it", e))
}

/// The columns of a flush, by name: the newest shape's definition of each, newest shape first
/// (a new table takes the columns in the order the source has them).
fn flush_columns(buffer: &TableBuffer) -> Vec<&Column> {
    let mut out: Vec<&Column> = Vec::new();
    for shape in buffer.shapes.iter().rev() {
        for c in shape {
            if !out.iter().any(|o| o.name == c.name) {
                out.push(c);
            }
        }
    }
    out
}

fn kernel_fields(fields: &[Field], table: &str) -> Result<Vec<StructField>> {
    let schema = ArrowSchema::new(fields.to_vec());
    let kernel: StructType = (&schema).try_into_kernel().map_err(|e| {
        Error::sink_permanent(format!(
            "Delta table {table}: its columns have no Delta type: {e}"
        ))
    })?;
    Ok(kernel.fields().cloned().collect())
}

/// Makes `table` hold every column of `columns` (creating it when new), checking that each
/// column has the type the changes carry. Returns the table's columns afterwards.
async fn prepare(
    cfg: &DeltaConfig,
    name: &str,
    table: DeltaTable,
    columns: &[&Column],
    arrow: &[Field],
) -> Result<(DeltaTable, Vec<Field>)> {
    if table.version().is_none() {
        for p in &cfg.partition_by {
            if !arrow.iter().any(|f| f.name() == p) {
                return Err(Error::invalid(
                    "delta.partition.by",
                    format!(
                        "delta.partition.by names column \"{p}\", which table {name} does not have \
                         (its columns: {})",
                        arrow
                            .iter()
                            .map(|f| f.name().as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        let table = table
            .create()
            .with_table_name(name)
            .with_columns(kernel_fields(arrow, name)?)
            .with_partition_columns(cfg.partition_by.clone())
            .with_configuration_property(
                deltalake::TableProperty::CheckpointInterval,
                Some(cfg.checkpoint_interval.to_string()),
            )
            .with_save_mode(SaveMode::Ignore)
            .await
            .map_err(|e| table_error(name, "creating it", e))?;
        return Ok((table, arrow.to_vec()));
    }
    let current = table
        .snapshot()
        .map_err(|e| table_error(name, "reading its schema", e))?
        .snapshot()
        .arrow_schema();
    let mut added = Vec::new();
    for (c, field) in columns.iter().zip(arrow) {
        match current.field_with_name(&c.name) {
            Ok(existing) if same_type(existing.data_type(), field.data_type()) => {}
            Ok(existing) => {
                return Err(Error::sink_permanent(format!(
                    "Delta table {name}: column \"{}\" is {} in the table but the changes now \
                     carry {}: an incompatible type change; write the table anew (another \
                     table.name.format, or move this one away) or cast the column back with a \
                     transform",
                    c.name,
                    existing.data_type(),
                    field.data_type()
                )));
            }
            Err(_) => added.push(field.clone()),
        }
    }
    if added.is_empty() {
        return Ok((
            table,
            current
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect(),
        ));
    }
    tracing::info!(table = name, columns = ?added.iter().map(Field::name).collect::<Vec<_>>(), "adding columns to the Delta table");
    let table = table
        .add_columns()
        .with_fields(kernel_fields(&added, name)?)
        .await
        .map_err(|e| table_error(name, "adding columns", e))?;
    let mut fields: Vec<Field> = current
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.extend(added);
    Ok((table, fields))
}

/// Types compare without nullability or the name of a list's element.
fn same_type(a: &DataType, b: &DataType) -> bool {
    match (a, b) {
        (DataType::List(x), DataType::List(y)) | (DataType::LargeList(x), DataType::List(y)) => {
            same_type(x.data_type(), y.data_type())
        }
        (DataType::Struct(x), DataType::Struct(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|(f, g)| f.name() == g.name() && same_type(f.data_type(), g.data_type()))
        }
        (DataType::Timestamp(u, Some(_)), DataType::Timestamp(v, Some(_))) => u == v,
        _ => a == b,
    }
}

/// The last change of each key, in the order they came (a MERGE takes one source row per
/// target row).
fn last_per_key(buffer: &TableBuffer) -> Result<Vec<usize>> {
    if buffer.key.is_empty() {
        return Ok((0..buffer.rows.len()).collect());
    }
    let positions: Vec<Vec<usize>> = buffer
        .shapes
        .iter()
        .map(|shape| {
            buffer
                .key
                .iter()
                .filter_map(|k| shape.iter().position(|c| *c.name == **k))
                .collect()
        })
        .collect();
    let mut last: HashMap<String, usize> = HashMap::with_capacity(buffer.rows.len());
    for (i, row) in buffer.rows.iter().enumerate() {
        let at = &positions[row.shape as usize];
        if at.len() != buffer.key.len() {
            return Err(Error::sink_permanent(format!(
                "a change lacks key column(s) {} of its table",
                buffer.key.join(", ")
            )));
        }
        let mut k = String::new();
        for &p in at {
            k.push_str(&format!("{:?}\u{1f}", row.values[p]));
        }
        last.insert(k, i);
    }
    let mut kept: Vec<usize> = last.into_values().collect();
    kept.sort_unstable();
    Ok(kept)
}

static NULL: Owned = Owned::Leaf(Datum::Null);

/// The source rows of a flush as one batch in the table's column order, plus the delete flag.
fn source_batch(
    name: &str,
    buffer: &TableBuffer,
    kept: &[usize],
    columns: &[&Column],
    table_fields: &[Field],
) -> Result<RecordBatch> {
    let owned: Vec<Column> = columns.iter().map(|c| (*c).clone()).collect();
    let index: Vec<Vec<Option<usize>>> = buffer
        .shapes
        .iter()
        .map(|shape| {
            owned
                .iter()
                .map(|c| shape.iter().position(|s| s.name == c.name))
                .collect()
        })
        .collect();
    let rows: Vec<Owned> = kept
        .iter()
        .map(|&i| {
            let row = &buffer.rows[i];
            let at = &index[row.shape as usize];
            Owned::Struct(
                at.iter()
                    .map(|p| p.map_or(&NULL, |p| &row.values[p]).clone())
                    .collect(),
            )
        })
        .collect();
    let built = record_batch(&owned, &rows, Flavor::Delta)
        .map_err(|e| Error::sink_permanent(format!("Delta table {name}: {}", e.message())))?;
    let mut fields: Vec<Field> = Vec::with_capacity(table_fields.len() + 1);
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(table_fields.len() + 1);
    for f in table_fields {
        let array = match owned.iter().position(|c| *c.name == *f.name()) {
            Some(i) => built.column(i).clone(),
            None => new_null_array(f.data_type(), rows.len()),
        };
        fields.push(Field::new(f.name(), array.data_type().clone(), true));
        arrays.push(array);
    }
    fields.push(Field::new(DELETE_COLUMN, DataType::Boolean, false));
    arrays.push(Arc::new(BooleanArray::from(
        kept.iter()
            .map(|&i| buffer.rows[i].delete)
            .collect::<Vec<_>>(),
    )));
    RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), arrays)
        .map_err(|e| Error::internal(format!("Delta table {name}: source rows: {e}")))
}

fn column(relation: &str, name: &str) -> Expr {
    Expr::Column(DfColumn::new(Some(relation), name))
}

/// What one flush did to a table.
#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    pub rows: usize,
}

/// Writes `buffer` to `table` in one commit carrying `props`.
pub async fn write(
    cfg: &DeltaConfig,
    name: &str,
    table: DeltaTable,
    buffer: &TableBuffer,
    props: CommitProperties,
) -> Result<(DeltaTable, Written)> {
    let columns = flush_columns(buffer);
    let arrow: Vec<Field> = columns
        .iter()
        .map(|c| {
            data_type(&c.encoding, Flavor::Delta)
                .map(|t| Field::new(c.name.as_ref(), t, true))
                .map_err(|e| {
                    Error::sink_permanent(format!(
                        "Delta table {name}: column \"{}\": {}",
                        c.name,
                        e.message()
                    ))
                })
        })
        .collect::<Result<_>>()?;
    let (table, table_fields) = prepare(cfg, name, table, &columns, &arrow).await?;
    let kept = last_per_key(buffer)?;
    let batch = source_batch(name, buffer, &kept, &columns, &table_fields)?;
    let written = Written { rows: kept.len() };
    if buffer.key.is_empty() {
        if batch
            .column(batch.num_columns() - 1)
            .as_any()
            .downcast_ref::<BooleanArray>()
            .is_some_and(|d| d.true_count() > 0)
        {
            return Err(Error::sink_permanent(format!(
                "Delta table {name}: a delete came for a row without a key; give the source table \
                 a primary key (or set message.key.columns on the source connector)"
            )));
        }
        let mut data = batch;
        data.remove_column(data.num_columns() - 1);
        let mode = if buffer.truncated {
            SaveMode::Overwrite
        } else {
            SaveMode::Append
        };
        let table = table
            .write(vec![data])
            .with_save_mode(mode)
            .with_commit_properties(props)
            .await
            .map_err(|e| table_error(name, "appending rows", e))?;
        return Ok((table, written));
    }
    let source = SessionContext::new()
        .read_batch(batch)
        .map_err(|e| Error::internal(format!("Delta table {name}: reading the changes: {e}")))?;
    let predicate = buffer
        .key
        .iter()
        .map(|k| column("target", k).eq(column("source", k)))
        .reduce(Expr::and)
        .expect("a key");
    let deleted = column("source", DELETE_COLUMN);
    let names: Vec<String> = table_fields.iter().map(|f| f.name().clone()).collect();
    let merge = table
        .merge(source, predicate)
        .with_source_alias("source")
        .with_target_alias("target")
        .with_commit_properties(props)
        .when_matched_delete(|d| d.predicate(deleted.clone().eq(lit(true))))
        .and_then(|m| {
            m.when_matched_update(|mut u| {
                u = u.predicate(deleted.clone().eq(lit(false)));
                for n in &names {
                    u = u.update(DfColumn::new_unqualified(n), column("source", n));
                }
                u
            })
        })
        .and_then(|m| {
            m.when_not_matched_insert(|mut i| {
                i = i.predicate(deleted.clone().eq(lit(false)));
                for n in &names {
                    i = i.set(DfColumn::new_unqualified(n), column("source", n));
                }
                i
            })
        })
        .map_err(|e| table_error(name, "preparing the merge", e))?;
    let merge = if buffer.truncated {
        merge
            .when_not_matched_by_source_delete(|d| d)
            .map_err(|e| table_error(name, "preparing the merge", e))?
    } else {
        merge
    };
    let (table, _metrics) = merge
        .await
        .map_err(|e| table_error(name, "merging changes", e))?;
    Ok((table, written))
}
