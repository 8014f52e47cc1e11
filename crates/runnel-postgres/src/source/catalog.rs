//! Catalog queries on a regular connection: types, captured tables, columns, keys, defaults,
//! publications and slots. Builds [`TableSchema`]s the way Debezium names and types them.

use std::sync::Arc;

use runnel_core::fits::FailureMode;
use runnel_core::{Column, Datum, Encoding, Error, ErrorKind, Result, TableId, TableSchema, fits};
use tokio_postgres::{Client, NoTls};

use super::config::{PostgresConfig, PublicationAutocreate, SslMode};
use super::types::{Parser, PgType, TYPE_QUERY, TypeRegistry, parse, parse_default};

/// Session settings that make PostgreSQL's text output what the parsers expect, on both the
/// snapshot connections and the replication connection.
pub const SESSION_OPTIONS: &str = "-c datestyle=ISO,YMD -c intervalstyle=iso_8601 -c timezone=UTC \
     -c extra_float_digits=3 -c bytea_output=hex -c client_encoding=UTF8";

/// Opens a regular connection and drives it on a background task.
pub async fn connect(cfg: &PostgresConfig, application: &str) -> Result<Client> {
    if matches!(
        cfg.sslmode,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
    ) {
        return Err(Error::config(
            "database.sslmode require/verify-ca/verify-full is not supported by runnel yet for \
             query connections; use \"prefer\" or \"disable\" (or a TLS-terminating proxy)",
        ));
    }
    let mut pg = tokio_postgres::Config::new();
    pg.host(&cfg.host)
        .port(cfg.port)
        .user(&cfg.user)
        .dbname(&cfg.dbname)
        .application_name(application)
        .options(SESSION_OPTIONS)
        .connect_timeout(std::time::Duration::from_secs(30));
    if !cfg.password.is_empty() {
        pg.password(&cfg.password);
    }
    let (client, connection) = pg
        .connect(NoTls)
        .await
        .map_err(|e| connect_error(cfg, &e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("postgres connection closed: {e}");
        }
    });
    Ok(client)
}

/// A clear message for a failed connection: what, where, and the likely fix.
pub fn connect_error(cfg: &PostgresConfig, e: &tokio_postgres::Error) -> Error {
    let detail = db_error_text(e);
    let at = format!(
        "cannot connect to PostgreSQL at {}:{} (database \"{}\", user \"{}\")",
        cfg.host, cfg.port, cfg.dbname, cfg.user
    );
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        if code == "28P01" || code == "28000" {
            return Error::config(format!(
                "{at}: {detail}; check database.user and database.password"
            ));
        }
        if code == "3D000" {
            return Error::config(format!("{at}: {detail}; check database.dbname"));
        }
    }
    Error::connection(format!(
        "{at}: {detail}; check database.hostname/database.port and that the server is running"
    ))
}

/// The server's message of an error, without the driver's wrapping.
pub fn db_error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                s = format!("{s}: {inner}");
                src = inner.source();
            }
            s
        }
    }
}

pub fn query_error(what: &str, e: &tokio_postgres::Error) -> Error {
    let text = db_error_text(e);
    if e.is_closed() || e.as_db_error().is_none() {
        Error::connection(format!("{what}: {text}"))
    } else {
        Error::prerequisite(format!("{what}: {text}"))
    }
}

pub async fn load_types(client: &Client) -> Result<TypeRegistry> {
    let rows = client
        .query(TYPE_QUERY, &[])
        .await
        .map_err(|e| query_error("reading pg_type", &e))?;
    let types = rows
        .iter()
        .map(|r| {
            let first = |s: String| s.bytes().next().unwrap_or(b' ');
            PgType {
                oid: r.get::<_, i64>(0) as u32,
                name: r.get(1),
                schema: r.get(2),
                typtype: first(r.get(3)),
                elem: r.get::<_, i64>(4) as u32,
                category: first(r.get(5)),
                base: r.get::<_, i64>(6) as u32,
                base_typmod: r.get(7),
                enum_labels: r.get::<_, Option<String>>(8).map(Into::into),
            }
        })
        .collect();
    Ok(TypeRegistry::from_rows(types))
}

/// A table the connector captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    pub oid: u32,
    pub schema: String,
    pub name: String,
}

/// One column as the catalog describes it.
#[derive(Debug, Clone)]
pub struct CatalogColumn {
    pub name: String,
    pub type_oid: u32,
    pub typmod: i32,
    pub not_null: bool,
    pub default: Option<String>,
    /// Declared array dimensions (`attndims`); PostgreSQL does not enforce them.
    pub dims: i32,
}

/// Columns (not dropped, not generated) and key of a table: its primary key, or under
/// `REPLICA IDENTITY USING INDEX` that index's columns — what PostgreSQL identifies rows by in
/// the WAL, so a delete's key is always complete (Debezium keeps the primary key and sends 0 for
/// its columns the index lacks).
pub async fn table_columns(client: &Client, oid: u32) -> Result<(Vec<CatalogColumn>, Vec<String>)> {
    let rows = client
        .query(
            "SELECT a.attname::text, a.atttypid::int8, a.atttypmod, a.attnotnull, \
                    pg_get_expr(d.adbin, d.adrelid), a.attndims::int4 \
             FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' \
             ORDER BY a.attnum",
            &[&i64::from(oid)],
        )
        .await
        .map_err(|e| query_error("reading table columns", &e))?;
    let columns = rows
        .iter()
        .map(|r| CatalogColumn {
            name: r.get(0),
            type_oid: r.get::<_, i64>(1) as u32,
            typmod: r.get(2),
            not_null: r.get(3),
            default: r.get(4),
            dims: r.get(5),
        })
        .collect();
    let pk = client
        .query(
            "SELECT a.attname::text FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indrelid \
             JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE i.indrelid = $1::int8::oid \
               AND CASE WHEN c.relreplident = 'i' THEN i.indisreplident ELSE i.indisprimary END \
             ORDER BY k.ord",
            &[&i64::from(oid)],
        )
        .await
        .map_err(|e| query_error("reading primary key", &e))?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    Ok((columns, pk))
}

/// A captured table's schema plus how to parse each incoming column.
#[derive(Debug, Clone)]
pub struct TableState {
    pub schema: Arc<TableSchema>,
    /// For each column the source sends (in its order): the target column index and its parser,
    /// or `None` when `column.exclude.list` drops it.
    pub inputs: Vec<Option<(usize, Parser)>>,
    /// The source column names (to detect schema changes).
    pub source_columns: Vec<(String, u32, i32)>,
}

impl TableState {
    /// Parses one column's text into `target`'s value and checks that its schema can hold it
    /// ([`runnel_core::fits`]); a failure is a conversion error naming the table and column,
    /// the one kind `event.processing.failure.handling.mode` may skip.
    pub fn decode(&self, target: usize, parser: &Parser, raw: bytes::Bytes) -> Result<Datum> {
        let column = &self.schema.columns[target];
        let fail = |message: &str| {
            Error::conversion(format!(
                "table {} column \"{}\" ({}): {message}",
                self.schema.id, column.name, column.type_name
            ))
        };
        let datum = parse(parser, raw).map_err(|e| fail(e.message()))?;
        if fits::can_misfit(&column.encoding)
            && let Some(why) = fits::misfit(&column.encoding, &datum)
        {
            return Err(fail(&why));
        }
        Ok(datum)
    }
}

/// What `event.processing.failure.handling.mode` does with an event that failed on a value
/// (`error`): with `fail` (or an error of another kind) the error, naming `at` and the setting
/// that would skip it; with `warn`/`skip` nothing, once the event is logged with its table and
/// key (`key`: each source column's text, `None` for NULL) and its LSN (`lsn`, or `snapshot`),
/// and counted in `skipped`.
pub fn skip_or_fail(
    mode: FailureMode,
    error: Error,
    state: Option<&TableState>,
    key: &[Option<&[u8]>],
    lsn: &str,
    skipped: Option<&std::sync::atomic::AtomicU64>,
) -> Result<()> {
    let at = if lsn == "snapshot" {
        "a snapshot row".to_string()
    } else {
        format!("the change at LSN {lsn}")
    };
    if error.kind() != ErrorKind::Conversion || mode == FailureMode::Fail {
        if error.kind() != ErrorKind::Conversion {
            return Err(error);
        }
        let message = format!(
            "{at}: {} (or set \"event.processing.failure.handling.mode\" to \"warn\" to skip such events)",
            error.message()
        );
        return Err(Error::new(error.kind(), error.retry(), message));
    }
    let (table, key) = match state {
        Some(state) => {
            let pairs: Vec<String> = state
                .inputs
                .iter()
                .zip(key)
                .filter_map(|(input, raw)| {
                    let (target, _) = input.as_ref()?;
                    state.schema.key.contains(target).then(|| {
                        let text = raw.map_or("NULL".into(), String::from_utf8_lossy);
                        format!("{}={text}", state.schema.columns[*target].name)
                    })
                })
                .collect();
            (state.schema.id.to_string(), pairs.join(", "))
        }
        None => ("an unknown table".to_string(), String::new()),
    };
    let why = error.message();
    if mode == FailureMode::Warn {
        tracing::warn!(%table, key = %key, lsn, error = %why,
            "skipped an event whose value its schema cannot hold (event.processing.failure.handling.mode=warn)");
    } else {
        tracing::info!(%table, key = %key, lsn, error = %why,
            "skipped an event whose value its schema cannot hold (event.processing.failure.handling.mode=skip)");
    }
    if let Some(n) = skipped {
        n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(())
}

/// Builds the schema of `table` from the columns the source sends (`columns`: name, type, typmod)
/// and the catalog's nullability, defaults and primary key.
pub fn build_table(
    cfg: &PostgresConfig,
    types: &TypeRegistry,
    table: &TableRef,
    columns: &[(String, u32, i32)],
    catalog: &[CatalogColumn],
    pk: &[String],
    version: u32,
) -> Result<TableState> {
    let mut out_columns = Vec::new();
    let mut inputs = Vec::with_capacity(columns.len());
    for (name, type_oid, typmod) in columns {
        if !cfg.column_included(&table.schema, &table.name, name) {
            inputs.push(None);
            continue;
        }
        let cat = catalog.iter().find(|c| &c.name == name);
        let (mut parser, mut encoding) = types.map(*type_oid, *typmod, &cfg.modes);
        // `int[][]` is declared with attndims 2: nest the schema so that a multi-dimensional
        // value keeps its shape (Debezium flattens it to nulls).
        let dims = cat.map_or(1, |c| c.dims);
        if let Encoding::Array(_) = encoding
            && dims > 1
        {
            for _ in 1..dims {
                encoding = Encoding::array_of(encoding);
            }
            parser = Parser::Dims(Box::new(parser), dims as u32);
        }
        let optional = !cat.is_some_and(|c| c.not_null);
        let default = cat
            .and_then(|c| c.default.as_deref())
            .and_then(|expr| parse_default(expr, &parser, &encoding));
        inputs.push(Some((out_columns.len(), parser)));
        out_columns.push(Column {
            name: name.as_str().into(),
            type_name: types.name(*type_oid).into(),
            encoding,
            optional,
            default,
            meta: None,
        });
    }
    let key_names: Vec<String> = match cfg.key_columns_for(&table.schema, &table.name) {
        Some(cols) => cols.to_vec(),
        None => pk.to_vec(),
    };
    let mut key = Vec::with_capacity(key_names.len());
    for k in &key_names {
        match out_columns.iter().position(|c| &*c.name == k) {
            Some(i) => key.push(i),
            None => {
                return Err(Error::config(format!(
                    "key column \"{k}\" of table {}.{} is not captured (check message.key.columns and column.exclude.list)",
                    table.schema, table.name
                )));
            }
        }
    }
    let topic = cfg.topic_for(&table.schema, &table.name);
    let schema = TableSchema::new(
        TableId::new(&table.schema, &table.name),
        topic.as_str().into(),
        topic.as_str().into(),
        out_columns,
        key,
        version,
    );
    Ok(TableState {
        schema: Arc::new(schema),
        inputs,
        source_columns: columns.to_vec(),
    })
}

/// Makes sure the publication exists as `publication.autocreate.mode` asks, and returns the
/// tables it publishes that the filters capture, sorted by `schema.table` (Debezium's order).
pub async fn ensure_publication(client: &Client, cfg: &PostgresConfig) -> Result<Vec<TableRef>> {
    let exists = client
        .query_opt(
            "SELECT puballtables FROM pg_publication WHERE pubname = $1",
            &[&cfg.publication_name],
        )
        .await
        .map_err(|e| query_error("reading pg_publication", &e))?;
    let quoted = quote_ident(&cfg.publication_name);
    if exists.is_none() {
        let sql = match cfg.publication_autocreate {
            PublicationAutocreate::Disabled => {
                return Err(Error::prerequisite(format!(
                    "publication \"{}\" does not exist and publication.autocreate.mode is disabled; \
                     create it (CREATE PUBLICATION {quoted} FOR ALL TABLES) or set \
                     publication.autocreate.mode to all_tables or filtered",
                    cfg.publication_name
                )));
            }
            PublicationAutocreate::AllTables => {
                format!("CREATE PUBLICATION {quoted} FOR ALL TABLES")
            }
            PublicationAutocreate::NoTables => format!("CREATE PUBLICATION {quoted}"),
            PublicationAutocreate::Filtered => {
                let tables = candidate_tables(client, cfg).await?;
                if tables.is_empty() {
                    return Err(Error::config(
                        "publication.autocreate.mode=filtered but table.include.list/schema.include.list \
                         match no table",
                    ));
                }
                format!(
                    "CREATE PUBLICATION {quoted} FOR TABLE {}",
                    table_list(&tables)
                )
            }
        };
        let created = client.batch_execute(&sql).await;
        // Another connector sharing the publication may have created it concurrently: then
        // PostgreSQL answers duplicate_object (42710), or, when both inserted into the catalog
        // at the same moment, unique_violation (23505) on pg_publication's name index.
        let duplicate = created
            .as_ref()
            .err()
            .and_then(|e| e.as_db_error())
            .is_some_and(|db| matches!(db.code().code(), "42710" | "23505"));
        if !duplicate {
            created.map_err(|e| {
            let text = db_error_text(&e);
            Error::prerequisite(format!(
                "cannot create publication \"{}\": {text}; the user needs CREATE on the database \
                 (and ownership of the tables), or create the publication yourself",
                cfg.publication_name
            ))
        })?;
        }
    } else if cfg.publication_autocreate == PublicationAutocreate::Filtered {
        let tables = candidate_tables(client, cfg).await?;
        if !tables.is_empty() {
            client
                .batch_execute(&format!(
                    "ALTER PUBLICATION {quoted} SET TABLE {}",
                    table_list(&tables)
                ))
                .await
                .map_err(|e| query_error("updating the publication's tables", &e))?;
        }
    }
    let rows = client
        .query(
            "SELECT c.oid::int8, p.schemaname::text, p.tablename::text FROM pg_publication_tables p \
             JOIN pg_namespace n ON n.nspname = p.schemaname \
             JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename \
             WHERE p.pubname = $1",
            &[&cfg.publication_name],
        )
        .await
        .map_err(|e| query_error("reading pg_publication_tables", &e))?;
    let mut tables = captured(&rows, cfg);
    tables.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
    Ok(tables)
}

/// Ordinary and partitioned tables outside the system schemas that the filters capture.
async fn candidate_tables(client: &Client, cfg: &PostgresConfig) -> Result<Vec<TableRef>> {
    let rows = client
        .query(
            "SELECT c.oid::int8, n.nspname::text, c.relname::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'",
            &[],
        )
        .await
        .map_err(|e| query_error("listing tables", &e))?;
    Ok(captured(&rows, cfg))
}

/// Rows of `(oid, schema, table)` that the include/exclude lists capture.
fn captured(rows: &[tokio_postgres::Row], cfg: &PostgresConfig) -> Vec<TableRef> {
    rows.iter()
        .map(|r| TableRef {
            oid: r.get::<_, i64>(0) as u32,
            schema: r.get(1),
            name: r.get(2),
        })
        .filter(|t| cfg.table_included(&t.schema, &t.name))
        .collect()
}

fn table_list(tables: &[TableRef]) -> String {
    tables
        .iter()
        .map(|t| format!("{}.{}", quote_ident(&t.schema), quote_ident(&t.name)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The slot's state, if it exists.
#[derive(Debug, Clone)]
pub struct SlotInfo {
    pub plugin: Option<String>,
    pub database: Option<String>,
    pub active: bool,
    pub confirmed_flush_lsn: Option<u64>,
    /// The `application_name` of the session streaming from the slot, when active (runnel's
    /// are `runnel-<connector>`).
    pub holder: Option<String>,
}

pub async fn slot_info(client: &Client, slot: &str) -> Result<Option<SlotInfo>> {
    let row = client
        .query_opt(
            "SELECT plugin::text, database::text, active, \
                    (confirmed_flush_lsn - '0/0'::pg_lsn)::int8, \
                    (SELECT application_name::text FROM pg_stat_activity WHERE pid = active_pid) \
             FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .map_err(|e| query_error("reading pg_replication_slots", &e))?;
    Ok(row.map(|r| SlotInfo {
        plugin: r.get(0),
        database: r.get(1),
        active: r.get(2),
        confirmed_flush_lsn: r.get::<_, Option<i64>>(3).map(|v| v as u64),
        holder: r.get(4),
    }))
}

/// `0/16B3748` → 23803720.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

/// Reorders `tables` (sorted by name) so that a table referenced by a foreign key comes before
/// the tables referencing it, ties kept in name order: a sink that checks foreign keys as it
/// writes (the PostgreSQL sink) can then take a snapshot's rows as they come. Tables in a
/// cycle of references keep their name order after the rest (the sink defers or reports).
pub async fn order_referenced_first(client: &Client, tables: &mut Vec<TableRef>) -> Result<()> {
    let rows = client
        .query(
            "SELECT conrelid::int8, confrelid::int8 FROM pg_constraint \
             WHERE contype = 'f' AND conrelid <> confrelid",
            &[],
        )
        .await
        .map_err(|e| query_error("reading foreign keys", &e))?;
    let edges: Vec<(u32, u32)> = rows
        .iter()
        .map(|r| (r.get::<_, i64>(0) as u32, r.get::<_, i64>(1) as u32))
        .collect();
    *tables = referenced_first(std::mem::take(tables), &edges);
    Ok(())
}

/// Kahn's algorithm over `(referencing, referenced)` edges, always taking the first ready table
/// in the given order.
fn referenced_first(tables: Vec<TableRef>, edges: &[(u32, u32)]) -> Vec<TableRef> {
    let mut waiting: Vec<Option<TableRef>> = tables.into_iter().map(Some).collect();
    let index = |oid: u32, w: &[Option<TableRef>]| {
        w.iter()
            .position(|t| t.as_ref().is_some_and(|t| t.oid == oid))
    };
    let mut out = Vec::with_capacity(waiting.len());
    loop {
        let ready = (0..waiting.len()).find(|&i| {
            let Some(t) = &waiting[i] else { return false };
            !edges
                .iter()
                .any(|&(from, to)| from == t.oid && index(to, &waiting).is_some())
        });
        match ready {
            Some(i) => out.push(waiting[i].take().expect("ready table is waiting")),
            None => break,
        }
    }
    out.extend(waiting.into_iter().flatten());
    out
}

#[cfg(test)]
mod referenced_first_tests {
    use super::*;

    fn t(oid: u32, name: &str) -> TableRef {
        TableRef {
            oid,
            schema: "public".into(),
            name: name.into(),
        }
    }

    #[test]
    fn parents_come_first_and_ties_keep_name_order() {
        // order_details → orders → customers, order_details → products; a → b → a is a cycle.
        let tables = vec![
            t(1, "a"),
            t(2, "b"),
            t(3, "customers"),
            t(4, "order_details"),
            t(5, "orders"),
            t(6, "products"),
        ];
        let edges = [(4, 5), (4, 6), (5, 3), (1, 2), (2, 1), (9, 3)];
        let names: Vec<String> = referenced_first(tables, &edges)
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(
            names,
            ["customers", "orders", "products", "order_details", "a", "b"]
        );
    }
}
