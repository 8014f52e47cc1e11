//! The MongoDB `Sink`: records to writes, writes to bulk commands per namespace, acknowledged
//! with the connection string's write concern before the batch counts as durable.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use mongodb::Client;
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::ClientOptions;
use runnel_core::encode::EncodedBatch;
use runnel_core::encode::json::JsonEncoder;
use runnel_core::{
    Batch, ChangeEvent, Column, Datum, Error, Event, Op as RowOp, Payload, Record, Result, Sink,
    SinkInput, SourceOffset,
};

use crate::config::{MongoSinkConfig, TopicConfig};
use crate::document::{self, Converter};
use crate::strategy::{self, Coordinates, Op, SinkDoc};

/// Writes per command when `max.batch.size` does not say (MongoDB takes 100,000).
const WRITES_PER_COMMAND: usize = 1000;
/// Bytes of documents per command, well under MongoDB's 48 MB message.
const BYTES_PER_COMMAND: usize = 8 * 1024 * 1024;

/// How long one write command may wait for the server's answer.
const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

pub struct MongoSink {
    cfg: Arc<MongoSinkConfig>,
    rt: tokio::runtime::Handle,
    client: Option<Client>,
    /// The connection string's write concern, as commands carry it.
    write_concern: Option<Document>,
    json: JsonEncoder,
    unsettled: usize,
    rejected: Vec<(usize, Error)>,
    /// Bulk writes so far (for `rate.limiting.every.n`).
    writes: u64,
}

/// One namespace's writes of a batch, reduced per document.
#[derive(Default)]
struct Writes {
    ops: Vec<(Op, usize)>,
    /// Index in `ops` of the write of each target document (its filter's bytes).
    by_target: HashMap<Vec<u8>, usize>,
    /// Inserts are not reduced: the namespace's writes then go out in their order.
    has_inserts: bool,
}

impl Writes {
    fn push(&mut self, op: Op, record: usize) {
        let Some(target) = op.target().and_then(|t| mongodb::bson::to_vec(t).ok()) else {
            self.has_inserts = true;
            self.ops.push((op, record));
            return;
        };
        match self.by_target.get(&target) {
            Some(&i) => {
                let prev = std::mem::replace(
                    &mut self.ops[i].0,
                    Op::Insert {
                        doc: Document::new(),
                    },
                );
                self.ops[i] = (merge(prev, op), record);
            }
            None => {
                self.by_target.insert(target, self.ops.len());
                self.ops.push((op, record));
            }
        }
    }
}

/// Two writes of one document as one, with the outcome of both in order.
fn merge(prev: Op, next: Op) -> Op {
    match (prev, next) {
        (Op::Replace { mut doc, .. }, Op::Update { filter, set, .. }) => {
            // The document exists after the replace: the update's $setOnInsert does not apply.
            for (k, v) in set {
                doc.insert(k, v);
            }
            Op::Replace { filter, doc }
        }
        (
            Op::Update {
                set: mut first,
                set_on_insert,
                ..
            },
            Op::Update {
                filter,
                set,
                set_on_insert: later,
            },
        ) => {
            for (k, v) in set {
                first.insert(k, v);
            }
            Op::Update {
                filter,
                set: first,
                set_on_insert: set_on_insert.or(later),
            }
        }
        (_, next) => next,
    }
}

impl MongoSink {
    pub fn new(cfg: MongoSinkConfig) -> Result<Self> {
        let rt = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::internal("the MongoDB sink needs a tokio runtime"))?;
        Ok(Self {
            cfg: Arc::new(cfg),
            rt,
            client: None,
            write_concern: None,
            json: document::json_encoder(),
            unsettled: 0,
            rejected: Vec::new(),
            writes: 0,
        })
    }

    fn connect(&mut self) -> Result<()> {
        if self.client.is_some() {
            return Ok(());
        }
        let uri = self.cfg.uri.clone();
        let (client, wc) = self.rt.block_on(async move {
            let mut options = ClientOptions::parse(&uri).await.map_err(|e| {
                Error::invalid(
                    "connection.uri",
                    format!("connection.uri is not valid: {e}"),
                )
            })?;
            options.app_name.get_or_insert_with(|| "runnel".to_string());
            let wc = options
                .write_concern
                .as_ref()
                .and_then(|wc| mongodb::bson::to_document(wc).ok())
                .filter(|d| !d.is_empty());
            let client =
                Client::with_options(options).map_err(|e| mongo_error("connecting", &e))?;
            Ok::<_, Error>((client, wc))
        })?;
        self.client = Some(client);
        self.write_concern = wc;
        Ok(())
    }

    /// The namespace of a record's write.
    fn namespace(&self, cfg: &TopicConfig, topic: &str, doc: &SinkDoc) -> Result<(String, String)> {
        let mut db = cfg.database.clone();
        let mut coll = if cfg.collection.is_empty() {
            topic.to_string()
        } else {
            cfg.collection.clone()
        };
        if let Some(ns) = &cfg.field_namespace {
            let lookup =
                |path: &str, from: Option<&Document>, default: &mut String| -> Result<()> {
                    if path.is_empty() {
                        return Ok(());
                    }
                    match from.and_then(|d| lookup_path(d, path)) {
                        Some(Bson::String(s)) if !s.is_empty() => {
                            *default = s.clone();
                            Ok(())
                        }
                        _ if ns.error_if_invalid => Err(Error::conversion(format!(
                            "FieldPathNamespaceMapper: the record has no string field \"{path}\""
                        ))),
                        _ => Ok(()),
                    }
                };
            lookup(&ns.key_database, doc.key.as_ref(), &mut db)?;
            lookup(&ns.value_database, doc.value.as_ref(), &mut db)?;
            lookup(&ns.key_collection, doc.key.as_ref(), &mut coll)?;
            lookup(&ns.value_collection, doc.value.as_ref(), &mut coll)?;
        }
        Ok((db, coll))
    }

    /// The key and value documents of a record.
    fn record_doc(&self, r: &Record, conv: &Converter<'_>, batch: &Batch) -> Result<SinkDoc> {
        let mut partial = false;
        let mut as_doc = |p: &Option<Payload>, what: &str| -> Result<Option<Document>> {
            match p {
                None => Ok(None),
                Some(Payload::Value { schema, datum }) => {
                    match (schema.as_ref().and_then(|s| s.fields()), datum) {
                        (Some(fields), Datum::Struct(range)) => conv
                            .document(fields, batch.fields(range), &mut partial)
                            .map(Some),
                        (None, Datum::Map(_)) | (None, Datum::Struct(_)) => {
                            match conv.value(&runnel_core::Encoding::Dynamic, None, datum)? {
                                Some(Bson::Document(d)) => Ok(Some(d)),
                                _ => Ok(None),
                            }
                        }
                        (_, Datum::Null) => Ok(None),
                        _ if what == "key" => Ok(None),
                        _ => Err(Error::conversion(format!(
                            "the record's {what} is not a struct: the MongoDB sink writes structs (or \
                         JSON objects) as documents"
                        ))),
                    }
                }
                Some(Payload::Encoded(_)) => {
                    Err(Error::internal("the MongoDB sink got undecoded records"))
                }
            }
        };
        let key = as_doc(&r.key, "key")?;
        let value = as_doc(&r.value, "value")?;
        Ok(SinkDoc {
            key,
            value,
            partial,
        })
    }

    /// A source's change as the envelope documents Debezium's CDC handler reads.
    fn change_doc(&self, c: &ChangeEvent, conv: &Converter<'_>, batch: &Batch) -> Result<SinkDoc> {
        let mut partial = false;
        let cols: &[Column] = &c.table.columns;
        let row = |r: &Option<std::ops::Range<u32>>, partial: &mut bool| -> Result<Bson> {
            match r {
                Some(r) => Ok(Bson::Document(conv.document(
                    cols,
                    batch.row(r),
                    partial,
                )?)),
                None => Ok(Bson::Null),
            }
        };
        let after = row(&c.after, &mut partial)?;
        let mut ignored = false;
        let before = row(&c.before, &mut ignored)?;
        let key_row = c.after.as_ref().or(c.before.as_ref());
        let key = match key_row {
            Some(r) if !c.table.key.is_empty() => {
                let values = batch.row(r);
                let mut key = Document::new();
                for &k in &c.table.key {
                    let col = &cols[k];
                    let meta = col.meta.as_ref().and_then(|m| m.name.as_deref());
                    if let Some(v) = conv.value(&col.encoding, meta, &values[k])? {
                        key.insert(col.name.to_string(), v);
                    }
                }
                Some(key)
            }
            _ => None,
        };
        let op = match c.op {
            RowOp::Read => "r",
            RowOp::Create => "c",
            RowOp::Update => "u",
            RowOp::Delete => "d",
            RowOp::Truncate => "t",
        };
        Ok(SinkDoc {
            key,
            value: Some(doc! {"op": op, "before": before, "after": after}),
            partial,
        })
    }

    /// Sends one namespace's writes, reporting records the server refused.
    fn execute(&mut self, db: &str, coll: &str, cfg: &TopicConfig, writes: Writes) -> Result<()> {
        // Without inserts the writes are of distinct documents: any order will do, so all
        // replaces and updates go in one command and all deletes in another.
        let runs: Vec<Vec<(Op, usize)>> = if writes.has_inserts {
            let mut runs: Vec<Vec<(Op, usize)>> = Vec::new();
            for w in writes.ops {
                match runs.last_mut() {
                    Some(run) if kind(&run[0].0) == kind(&w.0) => run.push(w),
                    _ => runs.push(vec![w]),
                }
            }
            runs
        } else {
            let (deletes, upserts): (Vec<_>, Vec<_>) = writes
                .ops
                .into_iter()
                .partition(|(op, _)| matches!(op, Op::Delete { .. }));
            [upserts, deletes]
                .into_iter()
                .filter(|r| !r.is_empty())
                .collect()
        };
        let client = self.client.clone().expect("connected");
        let database = client.database(db);
        let per_command = if cfg.max_batch_size > 0 {
            cfg.max_batch_size
        } else {
            WRITES_PER_COMMAND
        };
        for run in runs {
            let mut start = 0;
            while start < run.len() {
                // A chunk: at most `per_command` writes and about BYTES_PER_COMMAND bytes.
                let mut end = start;
                let mut bytes = 0;
                let mut statements = Vec::new();
                while end < run.len() && end - start < per_command && bytes < BYTES_PER_COMMAND {
                    let s = statement(&run[end].0);
                    bytes += mongodb::bson::to_vec(&s).map_or(0, |v| v.len());
                    statements.push(Bson::Document(s));
                    end += 1;
                }
                let (name, list) = match &run[start].0 {
                    Op::Delete { .. } => ("delete", "deletes"),
                    Op::Insert { .. } => ("insert", "documents"),
                    _ => ("update", "updates"),
                };
                let mut command = doc! {name: coll, list: statements, "ordered": cfg.ordered};
                if let Some(wc) = &self.write_concern {
                    command.insert("writeConcern", wc.clone());
                }
                // A server that takes the command and never answers must not stall the
                // connector: the write fails as transient, and the retry uses a new client.
                let reply = match self.rt.block_on(async {
                    tokio::time::timeout(WRITE_TIMEOUT, database.run_command(command)).await
                }) {
                    Ok(r) => r.map_err(|e| mongo_error(&format!("writing to {db}.{coll}"), &e))?,
                    Err(_) => {
                        self.client = None;
                        return Err(Error::sink_transient(format!(
                            "writing to {db}.{coll}: no answer from the server within {} s",
                            WRITE_TIMEOUT.as_secs()
                        )));
                    }
                };
                if let Ok(wce) = reply.get_document("writeConcernError") {
                    return Err(Error::sink_transient(format!(
                        "writing to {db}.{coll}: the write concern was not satisfied: {}",
                        wce.get_str("errmsg").unwrap_or("no reason given")
                    )));
                }
                let mut resume = end;
                if let Ok(errors) = reply.get_array("writeErrors") {
                    for e in errors.iter().filter_map(Bson::as_document) {
                        let index = e.get_i32("index").unwrap_or(0).max(0) as usize;
                        let record = run[start + index.min(end - start - 1)].1;
                        let code = e.get_i32("code").unwrap_or(0);
                        self.rejected.push((
                            record,
                            Error::sink_permanent(format!(
                                "MongoDB refused the write to {db}.{coll}: {} (code {code})",
                                e.get_str("errmsg").unwrap_or("no reason given")
                            )),
                        ));
                        // An ordered bulk write stops at its first error: the writes after it
                        // go again.
                        if cfg.ordered {
                            resume = start + index + 1;
                        }
                    }
                }
                start = resume;
                self.writes += 1;
                if cfg.rate_limit_every_n > 0
                    && self.writes.is_multiple_of(cfg.rate_limit_every_n as u64)
                    && cfg.rate_limit_timeout_ms > 0
                {
                    std::thread::sleep(Duration::from_millis(cfg.rate_limit_timeout_ms));
                }
            }
        }
        Ok(())
    }
}

fn kind(op: &Op) -> u8 {
    match op {
        Op::Insert { .. } => 0,
        Op::Delete { .. } => 1,
        _ => 2,
    }
}

/// One statement of a bulk write command.
fn statement(op: &Op) -> Document {
    match op {
        Op::Replace { filter, doc } => doc! {"q": filter.clone(), "u": doc.clone(), "upsert": true},
        Op::Update {
            filter,
            set,
            set_on_insert,
        } => {
            let mut u = doc! {"$set": set.clone()};
            if let Some(soi) = set_on_insert {
                u.insert("$setOnInsert", soi.clone());
            }
            doc! {"q": filter.clone(), "u": u, "upsert": true}
        }
        Op::Delete { filter } => doc! {"q": filter.clone(), "limit": 1},
        Op::Insert { doc } => doc.clone(),
    }
}

fn lookup_path<'d>(d: &'d Document, path: &str) -> Option<&'d Bson> {
    let mut parts = path.split('.');
    let mut cur = d.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_document()?.get(p)?;
    }
    Some(cur)
}

/// A driver error, classified: authentication and authorization are the user's to fix, the
/// rest (network, elections, a server restarting) are retried.
pub fn mongo_error(what: &str, e: &mongodb::error::Error) -> Error {
    use mongodb::error::ErrorKind;
    let text = e.to_string();
    let permanent = match e.kind.as_ref() {
        ErrorKind::Authentication { .. } | ErrorKind::InvalidArgument { .. } => true,
        ErrorKind::Command(c) => matches!(c.code, 13 | 18 | 2 | 9 | 14 | 26 | 72 | 10334),
        _ => false,
    };
    let hint = if permanent && matches!(e.kind.as_ref(), ErrorKind::Command(c) if c.code == 13) {
        "; grant the user readWrite on the database (runnel check lists what it needs)"
    } else if !permanent {
        "; retrying (check connection.uri and that the server is running)"
    } else {
        ""
    };
    let message = format!("{what}: {text}{hint}");
    if permanent {
        Error::sink_permanent(message).with_key("connection.uri")
    } else {
        Error::sink_transient(message).with_key("connection.uri")
    }
}

impl Sink for MongoSink {
    fn input(&self) -> SinkInput {
        SinkInput::Typed
    }

    fn submit(
        &mut self,
        batch: &Batch,
        _encoded: &EncodedBatch,
        _offset: Option<&SourceOffset>,
    ) -> Result<()> {
        self.connect()?;
        let placeholder = self
            .cfg
            .connector_form
            .then(|| self.cfg.unavailable_placeholder.as_bytes().to_vec());
        let mut namespaces: Vec<((String, String), Arc<TopicConfig>, Writes)> = Vec::new();
        for (i, event) in batch.events.iter().enumerate() {
            let topic = event.topic();
            let cfg = self.cfg.topic(topic).clone();
            let conv = Converter {
                datums: &batch.datums,
                bytes: &batch.bytes,
                cfg: &cfg,
                placeholder: placeholder.as_deref(),
                json: &self.json,
            };
            let written = (|| -> Result<Option<((String, String), Op)>> {
                let (doc, at, is_change) = match event {
                    Event::Change(c) => {
                        if c.op == RowOp::Truncate {
                            return Ok(None);
                        }
                        let at = Coordinates {
                            topic,
                            partition: None,
                            offset: None,
                            timestamp_ms: Some(c.source.ts_us / 1000),
                        };
                        (self.change_doc(c, &conv, batch)?, at, true)
                    }
                    Event::Record(r) => {
                        let at = Coordinates {
                            topic,
                            partition: r.partition,
                            offset: r.offset,
                            timestamp_ms: r.timestamp_ms,
                        };
                        (self.record_doc(r, &conv, batch)?, at, false)
                    }
                };
                let ns = self.namespace(&cfg, topic, &doc)?;
                // A source's own changes (no transform turned them into rows) are applied as
                // Debezium's CDC handler applies its envelope.
                let op = if is_change && cfg.cdc.is_none() {
                    strategy::cdc(&cfg, doc)?
                } else {
                    strategy::write(&cfg, doc, at)?
                };
                Ok(op.map(|op| (ns, op)))
            })();
            match written {
                Ok(None) => {}
                Ok(Some((ns, op))) => match namespaces.iter_mut().find(|(n, _, _)| *n == ns) {
                    Some((_, _, w)) => w.push(op, i),
                    None => {
                        let mut w = Writes::default();
                        w.push(op, i);
                        namespaces.push((ns, cfg.clone(), w));
                    }
                },
                Err(e) if e.kind() == runnel_core::ErrorKind::Conversion => {
                    self.rejected.push((i, e));
                }
                Err(e) => return Err(e),
            }
        }
        for ((db, coll), cfg, writes) in namespaces {
            self.execute(&db, &coll, &cfg, writes)?;
        }
        self.unsettled += 1;
        Ok(())
    }

    fn settle(&mut self, _wait: Duration) -> Result<usize> {
        // Each batch's commands were acknowledged (with the write concern) in `submit`.
        Ok(std::mem::take(&mut self.unsettled))
    }

    fn rejected(&mut self) -> Vec<(usize, Error)> {
        std::mem::take(&mut self.rejected)
    }
}
