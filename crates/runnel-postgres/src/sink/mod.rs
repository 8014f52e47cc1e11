//! The PostgreSQL sink: keeps tables of a target database equal to what the records say.
//!
//! - As the direct sink of a source connector (`sink.type=postgres`) it applies each batch
//!   inside one open target transaction and commits at the source's transaction boundaries
//!   (a batch with a position ends at one), so a source transaction is never split and several
//!   are grouped into one commit. The source's offset is written to the offsets table in the same
//!   transaction, and a restart resumes from it: nothing lost, nothing applied twice.
//! - As a Kafka Connect sink connector (Debezium's or Confluent's JDBC sink class) it applies the
//!   records of each batch and commits; offsets are the consumer group's (at least once, and an
//!   upsert applied twice gives the same row).
//!
//! A batch's changes are reduced per primary key ([`buffer`]) and written with one statement per
//! table and kind of change ([`statements`]), all sent at once (pipelined): upserts to tables
//! that others reference first, deletes from referencing tables first, so foreign keys that are
//! checked immediately hold after each statement. When the middle of a large source transaction
//! still violates one (a cascade cut by a batch boundary), the batch is rolled back to a
//! savepoint and carried into the next, until the transaction's end makes it whole.

pub mod buffer;
pub mod catalog;
pub mod check;
pub mod config;
pub mod mapping;
pub mod plugin;
pub mod statements;
pub mod values;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use runnel_core::encode::EncodedBatch;
use runnel_core::encode::json::JsonEncoder;
use runnel_core::{
    Batch, Column, Datum, Encoding, Error, Event, Op, Payload, Result, Schema, Sink, SinkInput,
    SourceOffset, TableSchema,
};
use tokio_postgres::{Client, NoTls, Statement};

use self::buffer::{Cell, Origin, RowOp, TableBuffer, Write};
use self::catalog::TableRef;
use self::config::{Dialect, PgSinkConfig};
use self::mapping::{Mapping, RecordShape, Src, Tables};
use self::statements::TextColumn;
use self::values::Renderer;

/// Rows a carried-over batch may hold before the sink gives up reordering in memory.
const MAX_CARRIED_ROWS: usize = 1_000_000;

/// Requests (groups of statements, commits) that may be on their way to the server at once;
/// each holds the rows it writes, so memory stays bounded.
const MAX_PENDING: usize = 8;

/// How long `settle` waits for an answer before it returns to take new batches.
const ANSWER_WAIT: Duration = Duration::from_micros(200);

/// What a pipelined request gives back: its outcome (with a WAL position, for commits and
/// flush probes) and the buffers it wrote (for reuse).
type Outcome = (Result<Option<u64>>, Vec<(u32, TableBuffer)>);

/// What a request is, for reading its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    /// Statements inside the open transaction.
    Write,
    /// The commit of `batches` batches; `flushed`: a synchronous commit (its answer means
    /// every commit before it is on disk too), else the answer carries the commit's WAL
    /// position, on disk once the server's flush position passes it.
    Commit { batches: usize, flushed: bool },
    /// Asks the server's WAL flush position.
    Probe,
}

/// A request sent to the server whose answer has not been read yet.
struct Pending {
    answer: std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send>>,
    /// Read ahead by a poll that found it complete.
    done: Option<Outcome>,
    request: Request,
}

/// One statement of a flush: which rows of which table's buffer, which columns.
struct Planned {
    statement: Statement,
    oid: u32,
    rows: Vec<u32>,
    columns: Vec<usize>,
    /// An INSERT or UPDATE chosen because the rows' origins were trusted.
    optimistic: bool,
    /// The statement must touch every row.
    expect_all: bool,
}

/// Connectors whose optimistic writes met a row that contradicted its origin (a snapshot that
/// overlapped the stream, a target changed by someone else): they upsert from then on, for the
/// life of the process.
static UPSERT_ONLY: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// The outcome of one statement of a flush, as the sink judges it.
fn judge(
    result: &std::result::Result<u64, tokio_postgres::Error>,
    p: &Planned,
    table: &str,
    connector: &str,
) -> Option<Error> {
    let contradicted = match result {
        Ok(n) => p.expect_all && (*n as usize) < p.rows.len(),
        Err(e) => {
            p.optimistic
                && e.as_db_error()
                    .is_some_and(|db| db.code().code() == "23505")
        }
    };
    if contradicted {
        let mut list = UPSERT_ONLY.lock().unwrap_or_else(|e| e.into_inner());
        if !list.iter().any(|c| c == connector) {
            list.push(connector.to_string());
        }
        return Some(Error::sink_transient(format!(
            "writing {table}: a row's state in the target is not what the source's change \
             implies (a snapshot that overlapped the stream?); the open transaction is rolled \
             back and written again with upserts"
        )));
    }
    result
        .as_ref()
        .err()
        .map(|e| sink_error(&format!("writing {table}"), e))
}

/// Schema names of records that carry no row (heartbeats, messages, schema changes).
const NOT_ROWS: &[&str] = &[
    "io.debezium.connector.common.Heartbeat",
    "io.debezium.connector.postgresql.MessageValue",
    "io.debezium.connector.postgresql.MessageKey",
];

/// The error of a statement, classified: what the user must fix is permanent, the rest
/// (connection, a deadlock, a server restarting) transient.
pub fn sink_error(what: &str, e: &tokio_postgres::Error) -> Error {
    let text = runnel_core_text(e);
    match e.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            let mut message = format!("{what}: {text}");
            if let Some(detail) = db.detail() {
                message.push_str(&format!(" ({detail})"));
            }
            if let (Some(table), Some(column)) = (db.table(), db.column()) {
                message.push_str(&format!(" [table \"{table}\", column \"{column}\"]"));
            } else if let Some(c) = db.constraint() {
                message.push_str(&format!(" [constraint \"{c}\"]"));
            }
            let hint = match &code[..2] {
                "42" if code == "42501" => {
                    "; grant the sink's user the privilege (runnel check lists what it needs)"
                }
                "23" if code == "23503" => {
                    "; a row references one the target does not have: replicate the referenced \
                     table too, or make the constraint DEFERRABLE INITIALLY DEFERRED"
                }
                _ => "",
            };
            message.push_str(hint);
            let transient = matches!(&code[..2], "08" | "53" | "57" | "58")
                || matches!(code, "40001" | "40P01" | "55P03" | "25P04");
            if transient {
                Error::sink_transient(message)
            } else {
                Error::sink_permanent(message)
            }
        }
        None => Error::sink_transient(format!("{what}: {text}")),
    }
}

fn runnel_core_text(e: &tokio_postgres::Error) -> String {
    crate::source::catalog::db_error_text(e)
}

/// A record mapping, by the record's topic and source names (when the name format uses them).
struct RecordMapping {
    topic: String,
    source: [Vec<u8>; 3],
    mapping: Arc<Mapping>,
    /// Keep the record's schemas alive while their addresses key the cache.
    _pins: (Option<Arc<Schema>>, Option<Arc<Schema>>),
}

/// A record's key as the sink reads it.
#[derive(Clone, Copy)]
enum KeyVals<'b> {
    None,
    Struct(&'b [Column], &'b [Datum]),
    Primitive(&'b Encoding, &'b Datum),
}

struct Connection {
    client: Arc<Client>,
    tables: Tables,
    /// Foreign-key order of the target's tables.
    ranks: HashMap<u32, u32>,
    statements: HashMap<(u32, statements::Kind, Vec<usize>), Statement>,
    offsets_upsert: Option<Statement>,
}

/// One change of a batch, as the sink applies it.
enum Change<'b> {
    Upsert {
        row: (&'b [Column], &'b [Datum]),
        key: KeyVals<'b>,
        origin: Origin,
    },
    Delete {
        row: Option<(&'b [Column], &'b [Datum])>,
        key: KeyVals<'b>,
    },
    Truncate,
}

pub struct PostgresSink {
    cfg: Arc<PgSinkConfig>,
    rt: tokio::runtime::Handle,
    conn: Option<Connection>,
    json: JsonEncoder,
    /// The offset generation the offsets table is written with (direct sinks).
    generation: Option<String>,
    in_tx: bool,
    /// Batches submitted since the last commit.
    unsettled: usize,
    /// The offset to write with the next commit.
    pending_offset: Option<SourceOffset>,
    /// Whether the last submitted batch ended at a source transaction boundary.
    at_boundary: bool,
    /// Batches made durable by answers read outside `settle`, for its next report.
    durable: usize,
    /// The batch being submitted is the middle of a source transaction.
    mid_transaction: bool,
    /// Asynchronous commits not yet known to be on disk: (WAL position, batches), oldest
    /// first.
    unflushed: std::collections::VecDeque<(u64, usize)>,
    /// A snapshot's rows came in this run (they may overlap the stream).
    snapshot_seen: bool,
    /// Requests sent, answers not read yet, oldest first. tokio-postgres sends a request when
    /// its future is first polled, so each is polled once right away: they reach the server in
    /// the order they were made.
    pending: std::collections::VecDeque<Pending>,
    /// Cleared buffers to reuse, by table.
    spare: Vec<(u32, TableBuffer)>,
    /// While rows are carried over (a foreign key holds only later in the source transaction):
    /// the buffered rows at which to try again (doubling, so a long carry costs linear work).
    carry_retry_at: Option<usize>,
    /// Buffered rows per target table (by OID), kept across a batch only when carried over.
    buffers: HashMap<u32, (TableRef, TableBuffer)>,
    /// Mappings of a source's change events, by their table schema (kept alive here).
    change_mappings: HashMap<usize, (Arc<Mapping>, Arc<TableSchema>)>,
    /// Mappings of records, by (value schema, key schema) addresses.
    record_mappings: HashMap<(usize, usize), Vec<RecordMapping>>,
    /// Counts catalog changes (a table created or evolved), which invalidate mappings.
    ddl_epoch: u64,
    /// The source database's name for `${source.db}` (direct sinks).
    source_db: String,
    uses_source_names: bool,
}

impl PostgresSink {
    pub fn new(cfg: PgSinkConfig, source_db: String) -> Result<Self> {
        fn cfg_uses_source(cfg: &PgSinkConfig) -> bool {
            cfg.table_format.contains("${source.")
        }
        let rt = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::internal("the PostgreSQL sink needs a tokio runtime"))?;
        Ok(Self {
            uses_source_names: cfg_uses_source(&cfg),
            cfg: Arc::new(cfg),
            rt,
            conn: None,
            json: values::json_encoder(),
            generation: None,
            in_tx: false,
            unsettled: 0,
            pending_offset: None,
            at_boundary: true,
            carry_retry_at: None,
            durable: 0,
            mid_transaction: false,
            unflushed: std::collections::VecDeque::new(),
            snapshot_seen: false,
            pending: std::collections::VecDeque::new(),
            spare: Vec::new(),
            buffers: HashMap::new(),
            change_mappings: HashMap::new(),
            record_mappings: HashMap::new(),
            ddl_epoch: 0,
            source_db,
        })
    }

    fn direct(&self) -> bool {
        self.cfg.dialect == Dialect::Direct
    }

    /// Connects (once): session settings, the default schema, foreign-key order.
    fn connect(&mut self) -> Result<()> {
        if self.conn.is_some() {
            return Ok(());
        }
        let cfg = self.cfg.clone();
        let conn = self.rt.block_on(async move {
            let client = connect(&cfg, &format!("runnel-sink-{}", cfg.connector)).await?;
            let default_schema: String = client
                .query_one("SELECT current_schema()::text", &[])
                .await
                .map_err(|e| sink_error("reading current_schema()", &e))?
                .get::<_, Option<String>>(0)
                .unwrap_or_else(|| "public".into());
            let ranks = catalog::reference_ranks(&client).await?;
            Ok::<_, Error>(Connection {
                client: Arc::new(client),
                tables: Tables {
                    default_schema,
                    loaded: HashMap::new(),
                },
                ranks,
                statements: HashMap::new(),
                offsets_upsert: None,
            })
        })?;
        self.conn = Some(conn);
        Ok(())
    }

    fn offsets_table(&self) -> String {
        let conn = self.conn.as_ref().expect("connected");
        let (schema, table) = match self.cfg.offsets_table.split_once('.') {
            Some((s, t)) => (s.to_string(), t.to_string()),
            None => (
                conn.tables.default_schema.clone(),
                self.cfg.offsets_table.clone(),
            ),
        };
        catalog::qualified(&schema, &table)
    }

    /// The target `(schema, table)` of a change.
    fn target_name(&self, topic: &str, source: [&[u8]; 3]) -> (String, String) {
        let topic_text = if self.cfg.topic_dots_to_underscores {
            topic.replace('.', "_")
        } else {
            topic.to_string()
        };
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let name = self
            .cfg
            .table_format
            .replace("${topic}", &topic_text)
            .replace("${source.db}", &text(source[0]))
            .replace("${source.schema}", &text(source[1]))
            .replace("${source.table}", &text(source[2]));
        let conn = self.conn.as_ref().expect("connected");
        conn.tables.split_name(&self.cfg, &name)
    }

    /// Builds the mapping of `shape` into `target` (creating or evolving the table as
    /// configured); a catalog change forgets the mappings of the changed table.
    fn build_mapping(
        &mut self,
        target: &(String, String),
        shape: &RecordShape<'_>,
    ) -> Result<Arc<Mapping>> {
        // Building may change the table (schema evolution): rows buffered for it as it was go
        // out first (under a savepoint in the middle of a source transaction, as any flush).
        let buffered = self
            .buffers
            .values()
            .any(|(t, b)| !b.is_empty() && t.schema == target.0 && t.name == target.1);
        if buffered {
            if self.carry_retry_at.is_some()
                || (self.mid_transaction && self.buffers_have_references())
            {
                if !self.flush(true)? {
                    return Err(Error::sink_permanent(
                        "a table's schema changed in the middle of a source transaction that \
                         violates a foreign key until its end: make the constraint DEFERRABLE \
                         INITIALLY DEFERRED on the target",
                    ));
                }
                self.carry_retry_at = None;
            } else {
                self.flush_pipelined()?;
            }
        }
        let cfg = self.cfg.clone();
        let conn = self.conn.as_mut().expect("connected");
        let built = self.rt.block_on(mapping::build(
            &cfg,
            &conn.client,
            &mut conn.tables,
            &target.0,
            &target.1,
            shape,
        ));
        let (mapping, changed) = match built {
            Ok(b) => b,
            Err(e) => return Err(self.surface(e)),
        };
        if changed {
            conn.ranks = self.rt.block_on(catalog::reference_ranks(&conn.client))?;
            let oid = mapping.table.oid;
            self.change_mappings.retain(|_, (m, _)| m.table.oid != oid);
            for entries in self.record_mappings.values_mut() {
                entries.retain(|e| e.mapping.table.oid != oid);
            }
            self.ddl_epoch += 1;
        }
        if self.change_mappings.len() + self.record_mappings.len() > 4096 {
            self.change_mappings.clear();
            self.record_mappings.clear();
        }
        Ok(Arc::new(mapping))
    }

    /// The change an event makes, and its target's mapping.
    fn resolve<'b>(
        &mut self,
        event: &'b Event,
        batch: &'b Batch,
    ) -> Result<Option<(Change<'b>, Arc<Mapping>)>> {
        match event {
            Event::Change(c) => {
                let origin = match c.op {
                    Op::Create => Origin::New,
                    Op::Update => Origin::Existing,
                    _ => {
                        self.snapshot_seen = true;
                        Origin::Unknown
                    }
                };
                let change = match c.op {
                    Op::Read | Op::Create | Op::Update => Change::Upsert {
                        row: (&c.table.columns, batch.row(c.after.as_ref().expect("row"))),
                        key: KeyVals::None,
                        origin,
                    },
                    Op::Delete if self.cfg.delete_enabled => Change::Delete {
                        row: Some((&c.table.columns, batch.row(c.before.as_ref().expect("row")))),
                        key: KeyVals::None,
                    },
                    Op::Truncate if self.cfg.truncate_enabled => Change::Truncate,
                    Op::Delete | Op::Truncate => return Ok(None),
                };
                let ptr = Arc::as_ptr(&c.table) as usize;
                if let Some((m, _)) = self.change_mappings.get(&ptr) {
                    return Ok(Some((change, m.clone())));
                }
                let target = self.target_name(
                    &c.table.topic,
                    [
                        self.source_db.as_bytes(),
                        c.table.id.schema.as_bytes(),
                        c.table.id.table.as_bytes(),
                    ],
                );
                let shape = RecordShape {
                    topic: &c.table.topic,
                    value_fields: &c.table.columns,
                    key_fields: &[],
                    row_key: &c.table.key,
                    pg_source: true,
                    delete_only: false,
                };
                let mapping = self.build_mapping(&target, &shape)?;
                self.change_mappings
                    .insert(ptr, (mapping.clone(), c.table.clone()));
                Ok(Some((change, mapping)))
            }
            Event::Record(r) => self.resolve_record(r, batch),
        }
    }

    fn resolve_record<'b>(
        &mut self,
        r: &'b runnel_core::Record,
        batch: &'b Batch,
    ) -> Result<Option<(Change<'b>, Arc<Mapping>)>> {
        let (key_schema, key) = match &r.key {
            Some(Payload::Value {
                schema: Some(s),
                datum,
            }) => match (s.fields(), datum) {
                (Some(f), Datum::Struct(range)) => {
                    (Some(s), KeyVals::Struct(f, batch.fields(range)))
                }
                (None, d) if !d.is_null() => (Some(s), KeyVals::Primitive(&s.encoding, d)),
                _ => (Some(s), KeyVals::None),
            },
            _ => (None, KeyVals::None),
        };
        let topic: &str = &r.topic;
        let key_ptr = key_schema.map_or(0, |s| Arc::as_ptr(s) as usize);
        let Some(value) = &r.value else {
            // A tombstone: a delete by key (Debezium's follow a delete event, which already
            // deleted the row: a second delete finds nothing).
            if !self.cfg.delete_enabled || matches!(key, KeyVals::None) || self.uses_source_names {
                return Ok(None);
            }
            let mapping = match self.cached_record(0, key_ptr, topic, [&[], &[], &[]]) {
                Some(m) => m,
                None => {
                    let target = self.target_name(topic, [&[], &[], &[]]);
                    let conn = self.conn.as_mut().expect("connected");
                    let exists = self
                        .rt
                        .block_on(conn.tables.get(&conn.client, &target.0, &target.1))?
                        .is_some();
                    if !exists {
                        return Ok(None);
                    }
                    let key_cols = key_columns(&key);
                    let shape = RecordShape {
                        topic,
                        value_fields: &[],
                        key_fields: &key_cols,
                        row_key: &[],
                        pg_source: false,
                        delete_only: true,
                    };
                    let mapping = self.build_mapping(&target, &shape)?;
                    self.cache_record(
                        0,
                        key_ptr,
                        topic,
                        [&[], &[], &[]],
                        &mapping,
                        (None, key_schema.cloned()),
                    );
                    mapping
                }
            };
            return Ok(Some((Change::Delete { row: None, key }, mapping)));
        };
        let (schema, datum) = match value {
            Payload::Value {
                schema: Some(s),
                datum,
            } => (s, datum),
            Payload::Value { schema: None, .. } => {
                return Err(Error::config(format!(
                    "records of topic {topic} have no schema: the PostgreSQL sink needs one to know \
                     the columns; set value.converter.schemas.enable=true (and key.converter's) on \
                     the connectors writing and reading the topic"
                )));
            }
            Payload::Encoded(_) => {
                return Err(Error::internal("the PostgreSQL sink got undecoded records"));
            }
        };
        if schema
            .name()
            .is_some_and(|n| NOT_ROWS.contains(&n) || n.ends_with(".SchemaChangeValue"))
        {
            return Ok(None);
        }
        let (Some(fields), Datum::Struct(range)) = (schema.fields(), datum) else {
            return Err(Error::sink_permanent(format!(
                "records of topic {topic} are not structs: the PostgreSQL sink writes a struct's \
                 fields as columns"
            )));
        };
        let values = batch.fields(range);
        let field = |name: &str| fields.iter().position(|f| &*f.name == name);
        let no_source: [&[u8]; 3] = [&[], &[], &[]];
        let (change, row_fields, source) = match (field("op"), field("after"), field("before")) {
            (Some(op), Some(after), Some(before)) => {
                let Datum::Text(op) = &values[op] else {
                    return Ok(None);
                };
                let source = match field("source") {
                    Some(s) if self.uses_source_names => {
                        source_names(&fields[s], &values[s], batch)
                    }
                    _ => no_source,
                };
                let struct_of = |i: usize| match (&fields[i].encoding, &values[i]) {
                    (Encoding::Struct(f), Datum::Struct(r)) => Some((&f[..], batch.fields(r))),
                    _ => None,
                };
                let row_fields: &[Column] = match &fields[after].encoding {
                    Encoding::Struct(f) => f,
                    _ => &[],
                };
                let change = match &op[..] {
                    b"c" | b"u" | b"r" => match struct_of(after) {
                        Some(row) => Change::Upsert {
                            row,
                            key,
                            origin: Origin::Unknown,
                        },
                        None => return Ok(None),
                    },
                    b"d" if self.cfg.delete_enabled => Change::Delete {
                        row: struct_of(before),
                        key,
                    },
                    b"t" if self.cfg.truncate_enabled => Change::Truncate,
                    _ => return Ok(None),
                };
                (change, row_fields, source)
            }
            _ => (
                Change::Upsert {
                    row: (fields, values),
                    key,
                    origin: Origin::Unknown,
                },
                fields,
                no_source,
            ),
        };
        let value_ptr = row_fields.as_ptr() as usize;
        if let Some(m) = self.cached_record(value_ptr, key_ptr, topic, source) {
            return Ok(Some((change, m)));
        }
        let target = self.target_name(topic, source);
        let key_cols = key_columns(&key);
        let shape = RecordShape {
            topic,
            value_fields: row_fields,
            key_fields: &key_cols,
            row_key: &[],
            pg_source: false,
            delete_only: false,
        };
        let mapping = self.build_mapping(&target, &shape)?;
        self.cache_record(
            value_ptr,
            key_ptr,
            topic,
            source,
            &mapping,
            (Some(schema.clone()), key_schema.cloned()),
        );
        Ok(Some((change, mapping)))
    }

    fn cached_record(
        &self,
        value: usize,
        key: usize,
        topic: &str,
        source: [&[u8]; 3],
    ) -> Option<Arc<Mapping>> {
        self.record_mappings
            .get(&(value, key))?
            .iter()
            .find_map(|e| {
                (e.topic == topic && e.source.iter().zip(source).all(|(a, b)| a.as_slice() == b))
                    .then(|| e.mapping.clone())
            })
    }

    fn cache_record(
        &mut self,
        value: usize,
        key: usize,
        topic: &str,
        source: [&[u8]; 3],
        mapping: &Arc<Mapping>,
        pins: (Option<Arc<Schema>>, Option<Arc<Schema>>),
    ) {
        self.record_mappings
            .entry((value, key))
            .or_default()
            .push(RecordMapping {
                topic: topic.to_string(),
                source: source.map(<[u8]>::to_vec),
                mapping: mapping.clone(),
                _pins: pins,
            });
    }

    /// Buffers one change's row.
    fn buffer(
        &mut self,
        change: &Change<'_>,
        mapping: &Arc<Mapping>,
        record: Option<&runnel_core::Record>,
        renderer: &Renderer<'_>,
    ) -> Result<()> {
        let table = &mapping.table;
        let direct = self.direct();
        let cfg = self.cfg.clone();
        let entry = self.buffers.entry(table.oid).or_insert_with(|| {
            (
                table.clone(),
                TableBuffer::new(table.columns.len(), mapping.key.clone()),
            )
        });
        if !Arc::ptr_eq(&entry.0, table) {
            if !entry.1.is_empty() {
                return Err(Error::internal(format!(
                    "table {} changed while rows for it were buffered",
                    table.display()
                )));
            }
            *entry = (
                table.clone(),
                TableBuffer::new(table.columns.len(), mapping.key.clone()),
            );
        }
        let buf = &mut entry.1;
        let (srcs, row, key, op, origin) = match change {
            Change::Upsert { row, key, origin } => {
                (&mapping.upsert, Some(*row), *key, RowOp::Upsert, *origin)
            }
            Change::Delete { row, key } => {
                if mapping.key.is_empty() {
                    return Err(Error::sink_permanent(format!(
                        "a delete for table {}, which has no primary key: give it one so rows can \
                         be found (or set delete.enabled=false)",
                        table.display()
                    )));
                }
                (&mapping.delete, *row, *key, RowOp::Delete, Origin::Existing)
            }
            Change::Truncate => return Ok(()),
        };
        let mark = buf.start_row();
        let placeholder = (!direct).then(|| cfg.unavailable_placeholder.as_bytes());
        for (c, src) in srcs.iter().enumerate() {
            let col = &table.columns[c];
            let (datum, enc) = match *src {
                Src::Value(i) => match row {
                    Some((fields, values)) => (&values[i], &fields[i].encoding),
                    None => {
                        buf.push_cell(Cell::Omit);
                        continue;
                    }
                },
                Src::Key(i) => match key {
                    KeyVals::Struct(fields, values) => (&values[i], &fields[i].encoding),
                    KeyVals::Primitive(enc, d) => (d, enc),
                    KeyVals::None => {
                        buf.push_cell(Cell::Null);
                        continue;
                    }
                },
                Src::KafkaTopic | Src::KafkaPartition | Src::KafkaOffset => {
                    let r =
                        record.ok_or_else(|| Error::internal("Kafka coordinates of a change"))?;
                    let text = match *src {
                        Src::KafkaTopic => r.topic.to_string(),
                        Src::KafkaPartition => r.partition.unwrap_or(0).to_string(),
                        _ => r.offset.unwrap_or(0).to_string(),
                    };
                    buf.push_text::<()>(|out| {
                        out.extend_from_slice(text.as_bytes());
                        Ok(())
                    })
                    .ok();
                    continue;
                }
                Src::Null => {
                    buf.push_cell(Cell::Null);
                    continue;
                }
                Src::Omit => {
                    buf.push_cell(Cell::Omit);
                    continue;
                }
            };
            match datum {
                Datum::Null => buf.push_cell(Cell::Null),
                Datum::Unavailable => buf.push_cell(Cell::Omit),
                Datum::Text(t) | Datum::Bytes(t) if placeholder == Some(&t[..]) => {
                    buf.push_cell(Cell::Omit)
                }
                d => {
                    if let Err(e) =
                        buf.push_text(|out| renderer.render(out, d, enc, col.kind, col.elem))
                    {
                        buf.abandon_row(mark);
                        return Err(e.context(format!(
                            "table {} column \"{}\"",
                            table.display(),
                            col.name
                        )));
                    }
                }
            }
        }
        buf.finish_row(mark, op, origin);
        Ok(())
    }

    /// Prepares what is missing and lists the statements writing every buffered row: upserts
    /// to tables others reference first, then deletes from referencing tables first.
    fn plan(&mut self) -> Result<Vec<Planned>> {
        let cfg = self.cfg.clone();
        let optimistic = self.optimistic();
        let conn = self.conn.as_mut().expect("connected");
        let mut order: Vec<u32> = self
            .buffers
            .iter()
            .filter(|(_, (_, b))| !b.is_empty())
            .map(|(oid, _)| *oid)
            .collect();
        order.sort_by_key(|oid| (conn.ranks.get(oid).copied().unwrap_or(0), *oid));
        let mut plan = Vec::new();
        for phase in [RowOp::Upsert, RowOp::Delete] {
            let tables: Vec<u32> = match phase {
                RowOp::Upsert => order.clone(),
                RowOp::Delete => order.iter().rev().copied().collect(),
            };
            let writes: &[Write] = match phase {
                RowOp::Upsert => &[Write::Insert, Write::Update, Write::Upsert],
                RowOp::Delete => &[Write::Delete],
            };
            for oid in tables {
                for &write in writes {
                    let (table, buf) = &self.buffers[&oid];
                    let keyed = !buf.key_columns.is_empty();
                    let kind =
                        statements::Kind::for_write(write, cfg.insert_mode, keyed, optimistic);
                    for (omitted, rows) in buf.groups(write) {
                        let columns: Vec<usize> = match write {
                            Write::Delete => buf.key_columns.clone(),
                            _ => (0..buf.width).filter(|&c| !omitted[c]).collect(),
                        };
                        if columns.is_empty() {
                            continue;
                        }
                        let key = (oid, kind, columns.clone());
                        if !conn.statements.contains_key(&key) {
                            let sql = statements::sql(table, kind, &columns);
                            let types =
                                vec![tokio_postgres::types::Type::TEXT_ARRAY; columns.len()];
                            let st = self
                                .rt
                                .block_on(conn.client.prepare_typed(&sql, &types))
                                .map_err(|e| {
                                    sink_error(
                                        &format!("preparing the statement for {}", table.display()),
                                        &e,
                                    )
                                })?;
                            conn.statements.insert(key.clone(), st);
                        }
                        let statement = conn.statements[&key].clone();
                        // An optimistic update must find every row (else the origins lied).
                        let expect_all = optimistic
                            && kind == statements::Kind::Update
                            && columns.iter().any(|c| !buf.key_columns.contains(c));
                        for chunk in rows.chunks(cfg.batch_size) {
                            plan.push(Planned {
                                statement: statement.clone(),
                                oid,
                                rows: chunk.to_vec(),
                                columns: columns.clone(),
                                optimistic: optimistic
                                    && matches!(
                                        kind,
                                        statements::Kind::Insert | statements::Kind::Update
                                    )
                                    && write != Write::Delete,
                                expect_all,
                            });
                        }
                    }
                }
            }
        }
        Ok(plan)
    }

    /// Whether rows may be written by their origin (INSERT for new, UPDATE for existing): the
    /// direct sink of a source resumed exactly, no snapshot in this run (whose rows may
    /// overlap the stream), and nothing has contradicted it.
    fn optimistic(&self) -> bool {
        self.direct()
            && !self.snapshot_seen
            && !UPSERT_ONLY
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|c| *c == self.cfg.connector)
    }

    /// Whether a buffered table takes part in a foreign key checked immediately (then the
    /// middle of a source transaction may not hold yet, and is written under a savepoint).
    fn buffers_have_references(&self) -> bool {
        let conn = self.conn.as_ref().expect("connected");
        self.buffers
            .iter()
            .any(|(oid, (_, b))| !b.is_empty() && conn.ranks.contains_key(oid))
    }

    /// Writes every buffered row inside the open transaction, without waiting for the server:
    /// the statements go out at once and the buffers with them, while the next batch is
    /// rendered. Their outcome is collected before the commit (or the next write that must
    /// wait), so nothing is committed past a failed statement.
    fn flush_pipelined(&mut self) -> Result<()> {
        let plan = self.plan()?;
        if plan.is_empty() {
            return Ok(());
        }
        let mut owned: HashMap<u32, (String, TableBuffer)> = HashMap::new();
        for p in &plan {
            if owned.contains_key(&p.oid) {
                continue;
            }
            let (table, buf) = self.buffers.get_mut(&p.oid).expect("planned table");
            let fresh = match self.spare.iter().position(|(oid, b)| {
                *oid == p.oid && b.width == buf.width && b.key_columns == buf.key_columns
            }) {
                Some(i) => self.spare.swap_remove(i).1,
                None => TableBuffer::new(buf.width, buf.key_columns.clone()),
            };
            owned.insert(p.oid, (table.display(), std::mem::replace(buf, fresh)));
        }
        let client = self.conn.as_ref().expect("connected").client.clone();
        let connector = self.cfg.connector.clone();
        self.send(
            async move {
                let params: Vec<Vec<TextColumn<'_>>> = plan
                    .iter()
                    .map(|p| {
                        p.columns
                            .iter()
                            .map(|&column| TextColumn {
                                buffer: &owned[&p.oid].1,
                                rows: &p.rows,
                                column,
                            })
                            .collect()
                    })
                    .collect();
                let writes = futures_util::future::join_all(
                    plan.iter()
                        .zip(&params)
                        .map(|(p, params)| client.execute_raw(&p.statement, params.iter())),
                )
                .await;
                let result = writes
                    .iter()
                    .zip(&plan)
                    .find_map(|(r, p)| judge(r, p, &owned[&p.oid].0, &connector))
                    .map_or(Ok(None), Err);
                drop(params);
                let buffers = owned.into_iter().map(|(oid, (_, b))| (oid, b)).collect();
                (result, buffers)
            },
            Request::Write,
        )
    }

    /// Sends a request: polls its future once, which puts its messages on the connection (in
    /// the order requests are made), and keeps it to read its answer later.
    fn send(
        &mut self,
        future: impl std::future::Future<Output = Outcome> + Send + 'static,
        request: Request,
    ) -> Result<()> {
        let mut answer: std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send>> =
            Box::pin(future);
        let done = self.rt.block_on(poll_once(answer.as_mut()));
        self.pending.push_back(Pending {
            answer,
            done,
            request,
        });
        while self.pending.len() > MAX_PENDING {
            self.durable += self.receive(true, None)?;
        }
        Ok(())
    }

    /// Reads the answers that have come, oldest first (with `block`, at least the oldest,
    /// waiting at most `wait` when given); returns how many batches their commits made durable.
    fn receive(&mut self, block: bool, wait: Option<Duration>) -> Result<usize> {
        let mut durable = 0;
        let mut blocking = block;
        while let Some(front) = self.pending.front_mut() {
            let outcome = match front.done.take() {
                Some(o) => o,
                None if blocking => match wait {
                    None => self.rt.block_on(front.answer.as_mut()),
                    Some(w) => {
                        match self
                            .rt
                            .block_on(tokio::time::timeout(w, front.answer.as_mut()))
                        {
                            Ok(o) => o,
                            Err(_) => break,
                        }
                    }
                },
                None => match self.rt.block_on(poll_once(front.answer.as_mut())) {
                    Some(o) => o,
                    None => break,
                },
            };
            blocking = false;
            let request = front.request;
            self.pending.pop_front();
            let (result, buffers) = outcome;
            for (oid, mut b) in buffers {
                b.clear();
                if self.spare.len() < 16 {
                    self.spare.push((oid, b));
                }
            }
            let lsn = result?;
            match request {
                Request::Write => {}
                Request::Commit {
                    batches,
                    flushed: true,
                } => {
                    // Everything before a synchronous commit is on disk with it.
                    durable += batches + self.unflushed.drain(..).map(|(_, b)| b).sum::<usize>();
                }
                Request::Commit { batches, .. } => {
                    self.unflushed.push_back((lsn.unwrap_or(u64::MAX), batches));
                }
                Request::Probe => {
                    let flushed = lsn.unwrap_or(0);
                    while let Some(&(at, batches)) = self.unflushed.front()
                        && at <= flushed
                    {
                        durable += batches;
                        self.unflushed.pop_front();
                    }
                }
            }
        }
        Ok(durable)
    }

    /// The error a query met, or the earlier failure it is a consequence of: a query in a
    /// transaction that a pipelined statement failed in only says the transaction is aborted.
    fn surface(&mut self, e: Error) -> Error {
        match self.receive_all() {
            Err(earlier) => earlier,
            Ok(durable) => {
                self.durable += durable;
                e
            }
        }
    }

    /// Reads every answer (before a write that must know its outcome at once).
    fn receive_all(&mut self) -> Result<usize> {
        let mut durable = 0;
        while !self.pending.is_empty() {
            durable += self.receive(true, None)?;
        }
        Ok(durable)
    }

    /// Writes every buffered row inside the open transaction and waits for the outcome. With
    /// `savepoint`, a foreign-key violation rolls the rows back and keeps them buffered
    /// (`Ok(false)`): the rest of the source transaction will make them hold.
    fn flush(&mut self, savepoint: bool) -> Result<bool> {
        self.durable += self.receive_all()?;
        let plan = self.plan()?;
        if plan.is_empty() {
            return Ok(true);
        }
        let conn = self.conn.as_ref().expect("connected");
        let buffers = &self.buffers;
        let client = &conn.client;
        let (sp, writes) = self.rt.block_on(async {
            let params: Vec<Vec<TextColumn<'_>>> = plan
                .iter()
                .map(|p| {
                    p.columns
                        .iter()
                        .map(|&column| TextColumn {
                            buffer: &buffers[&p.oid].1,
                            rows: &p.rows,
                            column,
                        })
                        .collect()
                })
                .collect();
            let sp = async {
                if savepoint {
                    client.batch_execute("SAVEPOINT runnel_batch").await
                } else {
                    Ok(())
                }
            };
            let writes = futures_util::future::join_all(
                plan.iter()
                    .zip(&params)
                    .map(|(p, params)| client.execute_raw(&p.statement, params.iter())),
            );
            futures_util::future::join(sp, writes).await
        });
        sp.map_err(|e| sink_error("starting a savepoint", &e))?;
        for (r, p) in writes.iter().zip(&plan) {
            let table = self.buffers[&p.oid].0.display();
            if let Some(e) = judge(r, p, &table, &self.cfg.connector)
                && e.is_transient()
            {
                return Err(e);
            }
        }
        let first_error = writes
            .iter()
            .zip(&plan)
            .find_map(|(r, p)| r.as_ref().err().map(|e| (e, p.oid)));
        if let Some((e, oid)) = first_error {
            let table = self.buffers[&oid].0.display();
            let fk = e
                .as_db_error()
                .is_some_and(|db| db.code().code() == "23503");
            if savepoint && fk {
                self.rt
                    .block_on(client.batch_execute("ROLLBACK TO SAVEPOINT runnel_batch"))
                    .map_err(|e| sink_error("rolling back to the savepoint", &e))?;
                let rows: usize = self.buffers.values().map(|(_, b)| b.rows()).sum();
                if rows > MAX_CARRIED_ROWS {
                    return Err(sink_error(
                        &format!(
                            "writing {table}: a source transaction of more than {MAX_CARRIED_ROWS} \
                             rows violates a foreign key until its end"
                        ),
                        e,
                    ));
                }
                tracing::debug!(%table, rows, "a foreign key holds only later in the source transaction: carrying the batch over");
                return Ok(false);
            }
            return Err(sink_error(&format!("writing {table}"), e));
        }
        if savepoint {
            self.rt
                .block_on(client.batch_execute("RELEASE SAVEPOINT runnel_batch"))
                .map_err(|e| sink_error("releasing the savepoint", &e))?;
        }
        for (_, b) in self.buffers.values_mut() {
            b.clear();
        }
        Ok(true)
    }

    fn begin(&mut self) -> Result<()> {
        if self.in_tx {
            return Ok(());
        }
        let client = self.conn.as_ref().expect("connected").client.clone();
        self.send(
            async move {
                let r = client
                    .batch_execute("BEGIN; SET CONSTRAINTS ALL DEFERRED")
                    .await
                    .map(|()| None)
                    .map_err(|e| sink_error("starting a transaction", &e));
                (r, Vec::new())
            },
            Request::Write,
        )?;
        self.in_tx = true;
        Ok(())
    }

    fn truncate(&mut self, mapping: &Mapping) -> Result<()> {
        if !self.flush(false)? {
            return Err(Error::internal("a flush without savepoint carried over"));
        }
        let conn = self.conn.as_ref().expect("connected");
        let sql = format!("TRUNCATE {}", mapping.table.qualified);
        self.rt
            .block_on(conn.client.batch_execute(&sql))
            .map_err(|e| sink_error(&format!("truncating {}", mapping.table.display()), &e))
    }

    /// Sends the commit of the open transaction of `batches` batches, with the pending offset
    /// (direct sinks). The session commits asynchronously (as PostgreSQL's own apply worker
    /// does): the commit returns before its WAL is on disk, and the batches count as durable
    /// only once the server's flush position has passed the commit — or at once with
    /// `flushed`, a synchronous commit (when the stream has gone quiet, so the last changes do
    /// not wait for the WAL writer). The offset's write, or a probe, goes first: in a
    /// transaction a statement failed in, COMMIT answers ROLLBACK, not an error, and the
    /// statement before it reports the failure.
    fn commit(&mut self, batches: usize, flushed: bool) -> Result<()> {
        if !self.in_tx {
            return Ok(());
        }
        let offset = self.pending_offset.take();
        let write_offset = match (&offset, &self.generation) {
            (Some(offset), Some(generation)) => {
                let table = self.offsets_table();
                let conn = self.conn.as_mut().expect("connected");
                if conn.offsets_upsert.is_none() {
                    let sql = format!(
                        "INSERT INTO {table} (connector, generation, \"offset\", updated_at) \
                         VALUES ($1, $2, $3::text::jsonb, now()) ON CONFLICT (connector) DO UPDATE SET \
                         generation = EXCLUDED.generation, \"offset\" = EXCLUDED.\"offset\", \
                         updated_at = EXCLUDED.updated_at"
                    );
                    let st = self
                        .rt
                        .block_on(conn.client.prepare(&sql))
                        .map_err(|e| sink_error(&format!("preparing the write of {table}"), &e))?;
                    conn.offsets_upsert = Some(st);
                }
                Some((
                    conn.offsets_upsert.clone().expect("prepared"),
                    table,
                    offset.to_json(),
                    generation.clone(),
                ))
            }
            _ => None,
        };
        let client = self.conn.as_ref().expect("connected").client.clone();
        let name = self.cfg.connector.clone();
        self.send(
            async move {
                // Joined, so that the first poll sends all three at once, in order: a later
                // request must not get between them.
                let probe = async {
                    match &write_offset {
                        Some((st, table, json, generation)) => client
                            .execute(st, &[&name, generation, json])
                            .await
                            .map(drop)
                            .map_err(|e| sink_error(&format!("writing the offset to {table}"), &e)),
                        None => client
                            .batch_execute("SELECT 1")
                            .await
                            .map_err(|e| sink_error("writing", &e)),
                    }
                };
                let commit = async {
                    client
                        .batch_execute(if flushed {
                            "SET LOCAL synchronous_commit TO on; COMMIT"
                        } else {
                            "COMMIT"
                        })
                        .await
                        .map_err(|e| sink_error("committing", &e))
                };
                let position = wal_position(&client, "pg_current_wal_insert_lsn()");
                let (probe, commit, position) =
                    futures_util::future::join3(probe, commit, position).await;
                let outcome = probe.and(commit).and(position).map(Some);
                (outcome, Vec::new())
            },
            Request::Commit { batches, flushed },
        )?;
        self.in_tx = false;
        Ok(())
    }

    /// A synchronous commit of an empty transaction that writes a commit record: the server
    /// flushes its WAL up to it, and so every asynchronous commit before.
    fn flush_wal(&mut self) -> Result<()> {
        let client = self.conn.as_ref().expect("connected").client.clone();
        self.send(
            async move {
                let r = client
                    .batch_execute(
                        "BEGIN; SET LOCAL synchronous_commit TO on; SELECT txid_current(); COMMIT",
                    )
                    .await
                    .map(|()| None)
                    .map_err(|e| sink_error("flushing the WAL", &e));
                (r, Vec::new())
            },
            Request::Commit {
                batches: 0,
                flushed: true,
            },
        )
    }

    /// Asks the server how far its WAL is on disk (one question at a time).
    fn probe_flush(&mut self) -> Result<()> {
        if self.unflushed.is_empty() || self.pending.iter().any(|p| p.request == Request::Probe) {
            return Ok(());
        }
        let client = self.conn.as_ref().expect("connected").client.clone();
        self.send(
            async move {
                let position = wal_position(&client, "pg_current_wal_flush_lsn()").await;
                (position.map(Some), Vec::new())
            },
            Request::Probe,
        )
    }
}

/// A WAL position the server reports (`pg_current_wal_*_lsn()`), as a number.
async fn wal_position(client: &Client, function: &str) -> Result<u64> {
    let row = client
        .query_one(&format!("SELECT ({function} - '0/0')::int8"), &[])
        .await
        .map_err(|e| sink_error(&format!("reading {function}"), &e))?;
    Ok(row.get::<_, i64>(0) as u64)
}

/// Polls a future once: `Some` with its output when it is complete.
async fn poll_once<F: std::future::Future + ?Sized>(
    mut f: std::pin::Pin<&mut F>,
) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match f.as_mut().poll(cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

/// `source.db`, `source.schema`, `source.table` of an envelope's source block.
fn source_names<'b>(field: &'b Column, value: &'b Datum, batch: &'b Batch) -> [&'b [u8]; 3] {
    let (Encoding::Struct(fields), Datum::Struct(r)) = (&field.encoding, value) else {
        return [&[], &[], &[]];
    };
    let values = batch.fields(r);
    let get = |name: &str| -> &'b [u8] {
        fields
            .iter()
            .position(|f| &*f.name == name)
            .and_then(|i| match &values[i] {
                Datum::Text(t) => Some(&t[..]),
                _ => None,
            })
            .unwrap_or(&[])
    };
    [get("db"), get("schema"), get("table")]
}

/// The key's fields as columns, for building a mapping (a primitive key is one unnamed field).
fn key_columns(key: &KeyVals<'_>) -> Vec<Column> {
    match key {
        KeyVals::None => Vec::new(),
        KeyVals::Struct(fields, _) => fields.to_vec(),
        KeyVals::Primitive(enc, _) => vec![Column::new("", (*enc).clone(), false)],
    }
}

/// A connection to the target, its session in UTC (or `use.time.zone`).
pub async fn connect(cfg: &PgSinkConfig, application: &str) -> Result<Client> {
    let mut pg = tokio_postgres::Config::new();
    pg.host(&cfg.url.host)
        .port(cfg.url.port)
        .user(&cfg.user)
        .dbname(&cfg.url.dbname)
        .application_name(application)
        .options(format!(
            "-c TimeZone={} -c statement_timeout=0 -c plan_cache_mode=force_generic_plan -c synchronous_commit=off",
            cfg.time_zone.replace(' ', "\\ ")
        ))
        .connect_timeout(Duration::from_secs(30));
    if !cfg.password.is_empty() {
        pg.password(&cfg.password);
    }
    let (client, connection) = pg
        .connect(NoTls)
        .await
        .map_err(|e| connect_error(cfg, &e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("postgres sink connection closed: {e}");
        }
    });
    Ok(client)
}

/// A failed connection, with the key to fix.
pub fn connect_error(cfg: &PgSinkConfig, e: &tokio_postgres::Error) -> Error {
    let detail = runnel_core_text(e);
    let at = format!(
        "cannot connect to the target PostgreSQL at {} (user \"{}\")",
        cfg.target(),
        cfg.user
    );
    match e.as_db_error().map(|d| d.code().code()) {
        Some("28P01" | "28000") => Error::invalid(
            "connection.username",
            format!("{at}: {detail}; check connection.username and connection.password"),
        ),
        Some("3D000") => Error::invalid(
            "connection.url",
            format!("{at}: {detail}; check the database in connection.url"),
        ),
        _ => Error::sink_transient(format!(
            "{at}: {detail}; check connection.url and that the server is running"
        ))
        .with_key("connection.url"),
    }
}

impl Sink for PostgresSink {
    fn input(&self) -> SinkInput {
        SinkInput::Typed
    }

    fn keeps_offsets(&self) -> bool {
        self.direct()
    }

    fn referenced_first(&self) -> bool {
        self.direct()
    }

    fn resume(&mut self, generation: &str) -> Result<Option<SourceOffset>> {
        self.connect()?;
        self.generation = Some(generation.to_string());
        let table = self.offsets_table();
        let conn = self.conn.as_ref().expect("connected");
        let name = self.cfg.connector.clone();
        let row = self.rt.block_on(async {
            conn.client
                .batch_execute(&format!(
                    "CREATE TABLE IF NOT EXISTS {table} (connector text PRIMARY KEY, \
                     generation text NOT NULL, \"offset\" jsonb NOT NULL, \
                     updated_at timestamptz NOT NULL)"
                ))
                .await
                .map_err(|e| sink_error(&format!("creating the offsets table {table}"), &e))?;
            conn.client
                .query_opt(
                    &format!(
                        "SELECT generation, \"offset\"::text FROM {table} WHERE connector = $1"
                    ),
                    &[&name],
                )
                .await
                .map_err(|e| sink_error(&format!("reading {table}"), &e))
        })?;
        Ok(row.and_then(|r| {
            let stored: String = r.get(0);
            let offset: String = r.get(1);
            if stored == generation {
                SourceOffset::from_json(&offset)
            } else {
                tracing::info!(connector = %name, "the offset in {table} is from before the offsets were reset: ignored");
                None
            }
        }))
    }

    fn submit(
        &mut self,
        batch: &Batch,
        _encoded: &EncodedBatch,
        offset: Option<&SourceOffset>,
    ) -> Result<()> {
        self.connect()?;
        self.begin()?;
        self.mid_transaction = self.direct() && offset.is_none();
        // Resolve every change first, so tables are created or evolved before any row is
        // buffered; a catalog change for a later change of the batch invalidates the mappings
        // resolved before it: resolve again.
        let mut changes = Vec::with_capacity(batch.events.len());
        for _ in 0..4 {
            let epoch = self.ddl_epoch;
            changes.clear();
            for event in &batch.events {
                changes.push(self.resolve(event, batch)?);
            }
            if self.ddl_epoch == epoch {
                break;
            }
        }
        let json = std::mem::replace(&mut self.json, values::json_encoder());
        let renderer = Renderer::new(&batch.datums, &batch.bytes, &json);
        let mut result = Ok(());
        for (event, change) in batch.events.iter().zip(&changes) {
            let Some((change, mapping)) = change else {
                continue;
            };
            let record = match event {
                Event::Record(r) => Some(r),
                Event::Change(_) => None,
            };
            result = match change {
                Change::Truncate => self.truncate(mapping),
                _ => self.buffer(change, mapping, record, &renderer),
            };
            if result.is_err() {
                break;
            }
        }
        self.json = json;
        result?;
        // In the middle of a source transaction a foreign key may hold only later: try under a
        // savepoint and carry the batch over when it does not yet.
        let mid_transaction = self.mid_transaction;
        let rows: usize = self.buffers.values().map(|(_, b)| b.rows()).sum();
        // Rows wait for more until `batch.size` of them (a source's batches can be small: as
        // many changes as the stream had ready), so statements stay large; all are written by
        // the commit anyway.
        let retry = match self.carry_retry_at {
            Some(at) => !mid_transaction || rows >= at,
            None => rows >= self.cfg.batch_size,
        };
        if retry {
            let savepoint = mid_transaction && self.buffers_have_references();
            if savepoint || self.carry_retry_at.is_some() {
                if self.flush(savepoint)? {
                    self.carry_retry_at = None;
                } else {
                    self.carry_retry_at = Some(rows * 2);
                }
            } else {
                self.flush_pipelined()?;
            }
        }
        self.unsettled += 1;
        if offset.is_some() {
            self.pending_offset = offset.cloned();
        }
        self.at_boundary = !self.direct() || offset.is_some();
        Ok(())
    }

    fn settle(&mut self, wait: Duration) -> Result<usize> {
        // One commit at a time: while it is on its way, later batches gather in the next
        // transaction (group commit without waiting). A quiet stream (the engine waits: no
        // new batch) commits synchronously, so its last changes are durable at once.
        let quiet = wait > Duration::ZERO;
        let committing = self
            .pending
            .iter()
            .any(|p| matches!(p.request, Request::Commit { .. }));
        if self.unsettled > 0 && self.at_boundary && !committing {
            if self.carry_retry_at.is_some() {
                if !self.flush(false)? {
                    return Err(Error::internal("a flush without savepoint carried over"));
                }
                self.carry_retry_at = None;
            } else {
                self.flush_pipelined()?;
            }
            let batches = std::mem::take(&mut self.unsettled);
            self.commit(batches, quiet)?;
        }
        let mut durable = std::mem::take(&mut self.durable) + self.receive(false, None)?;
        if !self.unflushed.is_empty() && !committing {
            if quiet && !self.in_tx {
                // Nothing more comes for now: have the server flush its WAL, so the waiting
                // commits are durable now rather than when its WAL writer gets to them.
                self.flush_wal()?;
            } else {
                self.probe_flush()?;
            }
        }
        if durable == 0 && quiet {
            if self.pending.is_empty() {
                // Inside a source transaction: it commits with its last batch.
                std::thread::sleep(wait);
            } else {
                // Briefly: batches may be arriving meanwhile, and the server should not wait
                // for them while this thread waits for its answer.
                durable += self.receive(true, Some(wait.min(ANSWER_WAIT)))?;
            }
        }
        Ok(durable)
    }
}
