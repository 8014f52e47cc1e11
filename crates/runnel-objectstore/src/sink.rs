//! The object storage `Sink`: records buffered per object (target, topic, partition path and
//! source stream), written as whole objects with conditional puts.
//!
//! **Exactly once.** Every open object closes at the same moment, and only at the end of a
//! batch that completes a source position (when one has reached its record count or size, a
//! record's time has passed `rotate.interval.ms`, or the wall-clock interval has passed); only
//! then do the batches in them count as durable. So the position the engine commits is always
//! a boundary of every object: after a crash the records after it are written again into
//! buffers that start empty, and each object gets the name it had — the position of its first
//! record. Objects are put with
//! `If-None-Match: *`: one that exists already was written before the crash. If it holds the
//! same records, nothing is written; if it holds fewer (a different flush point), the rest goes
//! into the next object; if it holds more, that many of the records arriving for it are dropped.
//! Neither a record lost nor one written twice, whenever the process dies. (One exception,
//! said in the log when it happens: a source transaction larger than `runnel.buffer.max.bytes`
//! closes objects inside it, and a crash before its end writes its first part again.)

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    BackoffConfig, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig,
};
use runnel_core::encode::EncodedBatch;
use runnel_core::{Batch, Error, Event, Result, Sink, SinkInput, SourceOffset};

use runnel_core::{Datum, Schema};

use crate::config::{Format, NullValues, ObjectSinkConfig, Store, Target};
use crate::partition::{self, StreamPos};

/// An upload of a group of objects: per object, its key and the records to drop that an
/// existing object already held.
type Upload = tokio::task::JoinHandle<Vec<Result<(BufferKey, u64)>>>;

/// Objects written at the same time.
const PARALLEL_PUTS: usize = 8;
/// Distinct partition paths remembered; past this the set starts again (open buffers keep theirs).
const MAX_INTERNED_PATHS: usize = 100_000;
/// Parts of one multipart upload sent at the same time.
const PARALLEL_PARTS: usize = 4;

pub struct ObjectSink {
    cfg: Arc<ObjectSinkConfig>,
    rt: tokio::runtime::Handle,
    /// One store per bucket (S3 clients are per bucket).
    stores: HashMap<String, Arc<dyn ObjectStore>>,
    buffers: BTreeMap<BufferKey, Buffer>,
    buffered_bytes: u64,
    /// When the oldest open object received its first record.
    opened_at: Option<Instant>,
    /// Batches with records in open objects (or none at all) since the last flush.
    submitted_since_flush: usize,
    durable: usize,
    rejected: Vec<(usize, Error)>,
    /// The last position of a record straight from a database (its log position and counter).
    direct_last: Option<(u64, u64)>,
    /// Records still to drop per object key: an object written before a crash held more.
    skip: HashMap<BufferKey, u64>,
    /// A count, size or record-time limit was reached: close at the next complete position.
    close_requested: bool,
    /// Whether the last submitted batch completed a source position.
    at_position: bool,
    /// The group of objects being uploaded, and how many batches it completes.
    uploading: Option<(Upload, usize)>,
    /// The last value schema seen and its fingerprint.
    last_schema: Option<(Arc<Schema>, u64)>,
    /// One record's Avro datum or CSV/text line, before it joins its buffer.
    scratch: Vec<u8>,
    /// One CSV cell.
    cell: Vec<u8>,
    /// KCQL's SELECT of fields.
    projector: crate::select::Projector,
    /// One record's partition path, and the paths seen (each text once).
    path: String,
    paths: std::collections::HashSet<Arc<str>>,
    time_cache: partition::TimeCache,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct BufferKey {
    target: usize,
    topic: Arc<str>,
    path: Arc<str>,
    partition: i32,
    /// Parquet and Avro: a fingerprint of the value schema (a schema change opens another
    /// object).
    schema: u64,
}

struct Buffer {
    /// JSON and bytes: the lines; Avro: the datums.
    data: Vec<u8>,
    /// Each record's position and the end of its bytes in `data` (Parquet: its row index).
    records: Vec<(StreamPos, usize)>,
    first_ts: i64,
    direct: bool,
    /// Parquet: the rows.
    #[cfg(feature = "parquet")]
    rows: Vec<crate::parquet_format::Owned>,
    /// Parquet and Avro: the value schema of every record in the buffer.
    value_schema: Option<Arc<Schema>>,
}

/// A record's typed value (Parquet, Avro): its schema's fingerprint, the schema and the value.
type TypedValue<'e> = (u64, Arc<Schema>, &'e Datum);

/// A value schema's fingerprint: objects hold values of one schema.
pub(crate) fn schema_fingerprint(schema: &Schema) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    runnel_core::encode::json::schema_json(schema).hash(&mut h);
    h.finish()
}

/// The typed value of a record, `None` for a tombstone.
fn typed_value<'e>(
    event: &'e Event,
    format: Format,
    last: &mut Option<(Arc<Schema>, u64)>,
) -> Result<Option<TypedValue<'e>>> {
    let Event::Record(r) = event else {
        return Err(Error::config(format!(
            "{format:?} needs records, not Debezium's envelope: unwrap it with \
             io.debezium.transforms.ExtractNewRecordState"
        )));
    };
    match &r.value {
        None => Ok(None),
        Some(runnel_core::Payload::Value {
            schema: Some(schema),
            datum,
        }) => {
            // Records of one table share their schema: fingerprint it once, not per record.
            if let Some((s, id)) = last
                && Arc::ptr_eq(s, schema)
            {
                return Ok(Some((*id, schema.clone(), datum)));
            }
            let id = schema_fingerprint(schema);
            *last = Some((schema.clone(), id));
            Ok(Some((id, schema.clone(), datum)))
        }
        _ => Err(Error::config(format!(
            "{format:?} needs values with a schema: keep value.converter.schemas.enable=true"
        ))),
    }
}

impl ObjectSink {
    pub fn new(cfg: ObjectSinkConfig) -> Result<Self> {
        let rt = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::internal("the object storage sink needs the worker's tokio runtime")
        })?;
        let mut stores = HashMap::new();
        for t in &cfg.targets {
            if !stores.contains_key(&t.bucket) {
                stores.insert(t.bucket.clone(), build_store(&cfg.store, &t.bucket)?);
            }
        }
        Ok(Self {
            cfg: Arc::new(cfg),
            rt,
            stores,
            buffers: BTreeMap::new(),
            buffered_bytes: 0,
            opened_at: None,
            submitted_since_flush: 0,
            durable: 0,
            rejected: Vec::new(),
            direct_last: None,
            skip: HashMap::new(),
            close_requested: false,
            at_position: true,
            uploading: None,
            last_schema: None,
            scratch: Vec::new(),
            cell: Vec::new(),
            projector: crate::select::Projector::default(),
            path: String::new(),
            paths: std::collections::HashSet::new(),
            time_cache: None,
        })
    }

    /// Position of a record: its Kafka coordinates, or straight from a database its log
    /// position (a record without one, such as a tombstone, follows the event before it).
    fn position(&mut self, event: &Event) -> (StreamPos, bool) {
        if let Event::Record(r) = event
            && let Some(offset) = r.offset
        {
            let pos = StreamPos {
                partition: r.partition.unwrap_or(0),
                offset: offset.max(0) as u64,
                sub: 0,
            };
            return (pos, false);
        }
        let lsn = match event {
            Event::Change(c) => c.source.coords[0],
            Event::Record(r) => r.source.and_then(|s| s.coords[0]),
        };
        let (offset, sub) = match (lsn, self.direct_last) {
            (Some(l), Some((last, sub))) if l == last => (l, sub + 1),
            (Some(l), _) => (l, 0),
            (None, Some((last, sub))) => (last, sub + 1),
            (None, None) => (0, 0),
        };
        self.direct_last = Some((offset, sub));
        (
            StreamPos {
                partition: 0,
                offset,
                sub,
            },
            true,
        )
    }

    fn flush_due(&self) -> bool {
        let Some(opened) = self.opened_at else {
            return false;
        };
        let interval = self
            .buffers
            .keys()
            .filter_map(|k| self.cfg.targets[k.target].flush_interval_ms)
            .min();
        interval.is_some_and(|ms| opened.elapsed() >= Duration::from_millis(ms))
    }

    /// Closes every open object: their upload starts in the background (one group at a time,
    /// so that objects reach the bucket in order) while new records fill new buffers; the
    /// batches in them become durable when it finishes. A close that falls due while a group
    /// is uploading waits for it, the buffers filling on meanwhile (up to
    /// `runnel.buffer.max.bytes`; a buffer past its record count becomes several objects), so
    /// that reading from the source never waits for the bucket while memory allows.
    fn flush_all(&mut self, why: &str) -> Result<()> {
        self.finish_upload(true)?;
        if self.buffers.is_empty() {
            self.durable += std::mem::take(&mut self.submitted_since_flush);
            return Ok(());
        }
        let buffers = std::mem::take(&mut self.buffers);
        tracing::debug!(
            objects = buffers.len(),
            bytes = self.buffered_bytes,
            why,
            "closing objects"
        );
        let cfg = self.cfg.clone();
        let stores = self.stores.clone();
        let jobs: Vec<_> = buffers
            .into_iter()
            .map(|(key, buf)| {
                let store = stores[&cfg.targets[key.target].bucket].clone();
                let cfg = cfg.clone();
                async move {
                    let skip = write_buffer(&cfg, store.as_ref(), &key, buf).await?;
                    Ok::<_, Error>((key, skip))
                }
            })
            .collect();
        let (objects, bytes) = (jobs.len(), self.buffered_bytes);
        let upload = self.rt.spawn(async move {
            let started = Instant::now();
            let done = futures_util::stream::iter(jobs)
                .buffer_unordered(PARALLEL_PUTS)
                .collect::<Vec<Result<(BufferKey, u64)>>>()
                .await;
            tracing::debug!(
                objects,
                bytes,
                ms = started.elapsed().as_millis() as u64,
                "objects written"
            );
            done
        });
        self.uploading = Some((upload, std::mem::take(&mut self.submitted_since_flush)));
        self.buffered_bytes = 0;
        self.opened_at = None;
        Ok(())
    }

    /// The upload in flight, if it has finished (or, with `block`, once it has): its batches
    /// become durable. Records an existing object already held (found after a restart) are
    /// dropped from the buffers that have filled meanwhile, and from what arrives later.
    fn finish_upload(&mut self, block: bool) -> Result<()> {
        let Some((handle, _)) = &self.uploading else {
            return Ok(());
        };
        if !block && !handle.is_finished() {
            return Ok(());
        }
        let Some((handle, batches)) = self.uploading.take() else {
            return Ok(());
        };
        let results = self
            .rt
            .block_on(handle)
            .map_err(|e| Error::internal(format!("an object upload task failed: {e}")))?;
        for r in results {
            let (key, mut skip) = r?;
            if skip == 0 {
                continue;
            }
            if let Some(buf) = self.buffers.get_mut(&key) {
                let n = (skip as usize).min(buf.records.len());
                buf.drop_front(n);
                skip -= n as u64;
                if buf.records.is_empty() {
                    self.buffers.remove(&key);
                }
            }
            if skip > 0 {
                *self.skip.entry(key).or_default() += skip;
            }
        }
        self.durable += batches;
        if self.buffers.is_empty() {
            self.durable += std::mem::take(&mut self.submitted_since_flush);
        }
        Ok(())
    }
}

impl Buffer {
    /// Drops the first `n` records (an existing object holds them).
    fn drop_front(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        let cut = self.records[n - 1].1;
        #[cfg(feature = "parquet")]
        if !self.rows.is_empty() {
            self.rows.drain(..n);
            self.records.drain(..n);
            for (_, end) in &mut self.records {
                *end -= cut;
            }
            return;
        }
        self.data.drain(..cut);
        self.records.drain(..n);
        for (_, end) in &mut self.records {
            *end -= cut;
        }
    }
}

/// Writes one buffer as objects of at most the target's record count (and size) each (a
/// transaction, or a close deferred while a group uploaded, may have brought more): each named
/// by its first record, so the same records make the same names however the batches fell. Where an object of the name exists (written before a crash), what
/// it holds is kept and writing goes on after it; returns how many records that arrive later
/// an existing object already holds.
async fn write_buffer(
    cfg: &ObjectSinkConfig,
    store: &dyn ObjectStore,
    key: &BufferKey,
    mut buf: Buffer,
) -> Result<u64> {
    let target = &cfg.targets[key.target];
    // The lines once as shared bytes: each object's body is a slice of them, not a copy.
    let lines = Bytes::from(std::mem::take(&mut buf.data));
    let chunk = usize::try_from(target.flush_count)
        .unwrap_or(usize::MAX)
        .max(1);
    let n = buf.records.len();
    let mut start = 0usize;
    while start < n {
        let mut end = start.saturating_add(chunk).min(n);
        if target.flush_bytes != u64::MAX && !lines.is_empty() {
            // At most flush.size bytes per object too (record ends are offsets in `lines`).
            let base = if start == 0 {
                0
            } else {
                buf.records[start - 1].1
            };
            let limit = (base as u64).saturating_add(target.flush_bytes);
            let fit = buf.records[start..end].partition_point(|(_, e)| *e as u64 <= limit);
            end = start + fit.max(1);
        }
        let first = buf.records[start].0;
        let name = partition::object_name(
            cfg.naming, target, &key.topic, &key.path, first, buf.direct, cfg.gzip,
        );
        let body = object_body(cfg, target, &name, &buf, &lines, start, end)?;
        let path = Path::from(name.as_str());
        match put_new(store, &path, body, cfg.part_size).await {
            Ok(true) => start = end,
            Ok(false) => {
                // Written before a crash: count what it holds.
                let existing = store
                    .get(&path)
                    .await
                    .map_err(|e| store_error(&target.bucket, &name, e))?
                    .bytes()
                    .await
                    .map_err(|e| store_error(&target.bucket, &name, e))?;
                let held = count_records(cfg, target, existing)? as usize;
                tracing::info!(object = %name, held, buffered = end - start,
                    "an object of this name exists (written before a restart): keeping it");
                if held == 0 {
                    return Err(Error::sink_permanent(format!(
                        "object {name} exists in bucket \"{}\" and is empty; runnel did not \
                         write it: remove it, or give this connector its own prefix",
                        target.bucket
                    )));
                }
                if start + held >= n {
                    return Ok((start + held - n) as u64);
                }
                start += held;
            }
            Err(e) => return Err(store_error(&target.bucket, &name, e)),
        }
    }
    Ok(0)
}

/// Writes a new object; `false` if one of that name exists. A body larger than `part_size` goes
/// up in parts, several at a time, and appears only when the upload completes (a failed one is
/// aborted: never a partial object). S3 cannot make that completion conditional through
/// `object_store`, so the name is looked up first: each name is written by one connector task,
/// and a task that died mid-upload never completes it.
async fn put_new(
    store: &dyn ObjectStore,
    path: &Path,
    body: Bytes,
    part_size: usize,
) -> std::result::Result<bool, object_store::Error> {
    use object_store::Error as E;
    if body.len() <= part_size {
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        return match store.put_opts(path, PutPayload::from(body), opts).await {
            Ok(_) => Ok(true),
            Err(E::AlreadyExists { .. }) | Err(E::Precondition { .. }) => Ok(false),
            Err(e) => Err(e),
        };
    }
    match store.head(path).await {
        Ok(_) => return Ok(false),
        Err(E::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    let mut upload = store.put_multipart(path).await?;
    let parts: Vec<_> = (0..body.len())
        .step_by(part_size)
        .map(|at| {
            upload.put_part(PutPayload::from(
                body.slice(at..(at + part_size).min(body.len())),
            ))
        })
        .collect();
    let sent = futures_util::stream::iter(parts)
        .buffered(PARALLEL_PARTS)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<std::result::Result<Vec<_>, _>>();
    let done = match sent {
        Ok(_) => upload.complete().await.map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = done {
        // Nothing of it is visible; drop the parts the server holds.
        if let Err(abort) = upload.abort().await {
            tracing::warn!(object = %path, error = %abort, "aborting a failed multipart upload");
        }
        return Err(e);
    }
    Ok(true)
}

/// The object of records `start..end` of a buffer.
fn object_body(
    cfg: &ObjectSinkConfig,
    target: &Target,
    name: &str,
    buf: &Buffer,
    lines: &Bytes,
    start: usize,
    end: usize,
) -> Result<Bytes> {
    #[cfg(feature = "parquet")]
    if target.format == Format::Parquet {
        let schema = buf
            .value_schema
            .as_ref()
            .ok_or_else(|| Error::internal("a Parquet buffer without its schema"))?;
        let codec = if cfg.parquet_snappy {
            parquet::basic::Compression::SNAPPY
        } else {
            parquet::basic::Compression::UNCOMPRESSED
        };
        let bytes = crate::parquet_format::write(schema, &buf.rows[start..end], codec)?;
        return Ok(Bytes::from(bytes));
    }
    let from = if start == 0 {
        0
    } else {
        buf.records[start - 1].1
    };
    if target.format == Format::Avro {
        let schema = buf
            .value_schema
            .as_ref()
            .ok_or_else(|| Error::internal("an Avro buffer without its schema"))?;
        let file = crate::avro_format::container(
            &runnel_core::encode::avro::schema_of(schema),
            &lines[from..buf.records[end - 1].1],
            buf.records[start..end].iter().map(|(_, e)| e - from),
            cfg.avro_codec,
            crate::avro_format::sync_marker(name),
        )?;
        return Ok(Bytes::from(file));
    }
    let body = lines.slice(from..buf.records[end - 1].1);
    let body = match (target.format, &buf.value_schema) {
        (Format::Csv { headers: true }, Some(schema)) => {
            let mut with_header = crate::text_format::csv_header(schema);
            with_header.extend_from_slice(&body);
            Bytes::from(with_header)
        }
        _ => body,
    };
    if cfg.gzip {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&body)
            .and_then(|_| gz.finish())
            .map(Bytes::from)
            .map_err(|e| Error::internal(format!("gzip: {e}")))
    } else {
        Ok(body)
    }
}

/// Records in an existing object: its lines, or a Parquet file's rows.
fn count_records(cfg: &ObjectSinkConfig, target: &Target, data: Bytes) -> Result<u64> {
    #[cfg(feature = "parquet")]
    if target.format == Format::Parquet {
        return crate::parquet_format::row_count(data);
    }
    match target.format {
        Format::Avro => crate::avro_format::record_count(&data),
        Format::Csv { headers } => {
            let plain = gunzip(&data, cfg.gzip)?;
            Ok(crate::text_format::count_csv_records(&plain, headers))
        }
        _ => {
            let plain = gunzip(&data, cfg.gzip)?;
            Ok(plain.iter().filter(|&&b| b == b'\n').count() as u64)
        }
    }
}

/// An existing object's bytes, unzipped when objects are gzipped.
fn gunzip(data: &Bytes, gzip: bool) -> Result<std::borrow::Cow<'_, [u8]>> {
    if !gzip {
        return Ok(std::borrow::Cow::Borrowed(data));
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&data[..])
        .read_to_end(&mut out)
        .map_err(|e| Error::sink_permanent(format!("an existing object is not gzip: {e}")))?;
    Ok(std::borrow::Cow::Owned(out))
}

/// An object store error as the user can act on it.
pub fn store_error(bucket: &str, object: &str, e: object_store::Error) -> Error {
    // The server's XML body follows on further lines: one line, bounded, is enough to act on.
    let full = e.to_string();
    let text: String = full
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    match &e {
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => Error::sink_permanent(format!(
            "writing {object} to bucket \"{bucket}\": access denied ({text}); check the \
                 access key and secret (aws.access.key.id / connect.s3.aws.access.key) and that \
                 they may write to the bucket"
        )),
        object_store::Error::NotFound { .. } => Error::sink_permanent(format!(
            "writing {object}: bucket \"{bucket}\" does not exist ({text}); create it or fix the \
             bucket name"
        )),
        _ if full.contains("NoSuchBucket") => Error::sink_permanent(format!(
            "writing {object}: bucket \"{bucket}\" does not exist; create it or fix the bucket name"
        )),
        _ if full.contains("InvalidAccessKeyId")
            || full.contains("SignatureDoesNotMatch")
            || full.contains("AccessDenied") =>
        {
            Error::sink_permanent(format!(
                "writing {object} to bucket \"{bucket}\": the server refused the credentials \
                 ({text}); check the access key and secret"
            ))
        }
        _ => Error::sink_transient(format!(
            "writing {object} to bucket \"{bucket}\": {text} (retried with backoff; the \
             connector restarts and writes it again)"
        )),
    }
}

pub fn build_store(store: &Store, bucket: &str) -> Result<Arc<dyn ObjectStore>> {
    match store {
        Store::Local { root } => {
            let dir = std::path::Path::new(root).join(bucket);
            std::fs::create_dir_all(&dir).map_err(|e| {
                Error::sink_permanent(format!(
                    "cannot create the directory {}: {e}",
                    dir.display()
                ))
            })?;
            Ok(Arc::new(LocalFileSystem::new_with_prefix(&dir).map_err(
                |e| Error::sink_permanent(format!("directory {}: {e}", dir.display())),
            )?))
        }
        Store::S3 {
            region,
            endpoint,
            credentials,
            virtual_hosted,
        } => {
            let mut b = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_region(region)
                .with_conditional_put(S3ConditionalPut::ETagMatch)
                // No SHA-256 of every body before sending it: over HTTPS the transport protects
                // it (as the AWS SDKs do for PUTs over TLS).
                .with_unsigned_payload(true)
                .with_virtual_hosted_style_request(*virtual_hosted)
                // An endpoint that is down for a while: retried with backoff for two minutes,
                // then the connector restarts (and writes the same objects again).
                .with_retry(RetryConfig {
                    backoff: BackoffConfig::default(),
                    max_retries: 10,
                    retry_timeout: Duration::from_secs(120),
                });
            if let Some(url) = endpoint {
                b = b
                    .with_endpoint(url)
                    .with_allow_http(url.starts_with("http://"));
            }
            if let Some((key, secret)) = credentials {
                b = b.with_access_key_id(key).with_secret_access_key(secret);
            }
            Ok(Arc::new(b.build().map_err(|e| {
                Error::config(format!("S3 bucket \"{bucket}\": {e}"))
            })?))
        }
    }
}

impl Sink for ObjectSink {
    fn input(&self) -> SinkInput {
        SinkInput::Both
    }

    fn submit(
        &mut self,
        batch: &Batch,
        encoded: &EncodedBatch,
        offset: Option<&SourceOffset>,
    ) -> Result<()> {
        if encoded.records.len() != batch.events.len() {
            return Err(Error::internal(format!(
                "the object storage sink got {} encoded records for {} events",
                encoded.records.len(),
                batch.events.len()
            )));
        }
        for (i, (event, rec)) in batch.events.iter().zip(&encoded.records).enumerate() {
            let (pos, direct) = self.position(event);
            let Some(t) = self.cfg.target(&rec.topic) else {
                self.rejected.push((
                    i,
                    Error::config(format!(
                        "topic \"{}\" has no KCQL statement (INSERT INTO bucket:prefix SELECT * FROM {})",
                        rec.topic, rec.topic
                    )),
                ));
                continue;
            };
            let format = self.cfg.targets[t].format;
            let selecting = self.cfg.targets[t].select.is_some();
            let typed = if format.typed() && !selecting {
                match typed_value(event, format, &mut self.last_schema) {
                    Ok(v) => v,
                    Err(e) => {
                        self.rejected.push((i, e));
                        continue;
                    }
                }
            } else {
                None
            };
            let value = match encoded.value(rec) {
                Some(v) => v,
                None => match self.cfg.null_values {
                    NullValues::Ignore => continue,
                    NullValues::Write if format.typed() => {
                        self.rejected.push((
                            i,
                            Error::config(format!(
                                "a record of {} has a null value (a tombstone): \
                                 behavior.on.null.values=write writes it into JSON or bytes \
                                 objects, not {format:?}; set it to ignore",
                                rec.topic
                            )),
                        ));
                        continue;
                    }
                    NullValues::Write => b"null".as_slice(),
                    NullValues::Fail => {
                        self.rejected.push((
                            i,
                            Error::conversion(format!(
                                "a record of {} has a null value (a tombstone) and \
                                 behavior.on.null.values=fail; set it to ignore (or write)",
                                rec.topic
                            )),
                        ));
                        continue;
                    }
                },
            };
            // KCQL's SELECT of fields: the projected row (a tombstone has none).
            let projected = match &self.cfg.targets[t].select {
                Some(select) if encoded.value(rec).is_some() => {
                    match self.projector.project(t, select, batch, event) {
                        Ok(row) => Some(row),
                        Err(e) => {
                            self.rejected.push((i, e));
                            continue;
                        }
                    }
                }
                _ => None,
            };
            let schema_id = match (&projected, &typed) {
                (Some((id, _, _)), _) | (None, Some((id, _, _))) => *id,
                _ => 0,
            };
            let target: &Target = &self.cfg.targets[t];
            if let Err(e) = partition::path_of(
                &mut self.path,
                &mut self.time_cache,
                target,
                batch,
                event,
                pos,
                rec.timestamp_ms,
            ) {
                self.rejected.push((i, e));
                continue;
            }
            // Paths are shared, not made per record: the same text is the same Arc.
            let path = match self.paths.get(self.path.as_str()) {
                Some(p) => p.clone(),
                None => {
                    if self.paths.len() >= MAX_INTERNED_PATHS {
                        self.paths.clear();
                    }
                    let p: Arc<str> = Arc::from(self.path.as_str());
                    self.paths.insert(p.clone());
                    p
                }
            };
            let key = BufferKey {
                target: t,
                topic: rec.topic.clone(),
                path,
                partition: pos.partition,
                schema: schema_id,
            };
            if let Some(n) = self.skip.get_mut(&key)
                && *n > 0
            {
                *n -= 1;
                continue;
            }
            let (flush_count, flush_bytes, rotate) = (
                target.flush_count,
                target.flush_bytes,
                target.rotate_record_ms,
            );
            // Record time past rotate.interval.ms: close at the end of this batch.
            if let (Some(ms), Some(buf)) = (rotate, self.buffers.get(&key))
                && rec.timestamp_ms - buf.first_ts >= ms
            {
                self.close_requested = true;
            }
            // Avro, CSV and text: the record is written before a buffer opens for it, so that
            // a value the format cannot hold rejects the record and leaves no empty object.
            self.scratch.clear();
            let written = match (format, &projected, &typed) {
                (Format::Json, Some((_, schema, values)), _) => {
                    crate::select::write_json(&mut self.scratch, batch, schema, values)
                }
                (Format::Avro, Some((_, schema, values)), _) => {
                    runnel_core::encode::avro::write_row(
                        &mut self.scratch,
                        batch,
                        schema.fields().unwrap_or_default(),
                        values,
                    )
                }
                (Format::Csv { .. }, Some((_, schema, values)), _) => {
                    crate::text_format::write_csv_cells(
                        &mut self.scratch,
                        &mut self.cell,
                        batch,
                        schema.fields().unwrap_or_default(),
                        values,
                    )
                }
                (Format::Text, Some(_), _) => Err(Error::config(
                    "STOREAS text writes whole string values: use SELECT *",
                )),
                (_, Some(_), _) => Ok(()),
                (Format::Avro, None, Some((_, schema, datum))) => {
                    runnel_core::encode::avro::write_value(&mut self.scratch, batch, schema, datum)
                }
                (Format::Csv { .. }, None, Some((_, schema, datum))) => {
                    crate::text_format::write_csv_row(
                        &mut self.scratch,
                        &mut self.cell,
                        batch,
                        schema,
                        datum,
                    )
                }
                (Format::Text, None, _) => match event {
                    Event::Record(r) => match &r.value {
                        Some(runnel_core::Payload::Value { datum, .. }) => {
                            crate::text_format::write_text_line(&mut self.scratch, datum)
                        }
                        _ => crate::text_format::write_text_line(&mut self.scratch, &Datum::Null),
                    },
                    Event::Change(_) => Err(Error::config(
                        "STOREAS text needs string values, not Debezium's envelope",
                    )),
                },
                _ => Ok(()),
            };
            if let Err(e) = written {
                self.rejected.push((i, e));
                continue;
            }
            // What joins the buffer: its schema, and a Parquet row or the bytes written above
            // (Avro, CSV, text, selected fields) or else the converter's value as a line.
            let schema = match (&projected, &typed) {
                (Some((_, s, _)), _) | (None, Some((_, s, _))) => Some(s.clone()),
                _ => None,
            };
            #[cfg(feature = "parquet")]
            let row = match (format, &projected, &typed) {
                (Format::Parquet, Some((_, _, values)), _) => {
                    Some(crate::parquet_format::Owned::Struct(
                        values
                            .iter()
                            .map(|v| crate::parquet_format::Owned::of(batch, v))
                            .collect(),
                    ))
                }
                (Format::Parquet, None, Some((_, _, datum))) => {
                    Some(crate::parquet_format::Owned::of(batch, datum))
                }
                _ => None,
            };
            let pre_encoded = projected.is_some()
                || matches!(format, Format::Avro | Format::Csv { .. } | Format::Text);
            let buf = self.buffers.entry(key).or_insert_with(|| Buffer {
                data: Vec::new(),
                records: Vec::new(),
                first_ts: rec.timestamp_ms,
                direct,
                #[cfg(feature = "parquet")]
                rows: Vec::new(),
                value_schema: None,
            });
            let before = buf.data.len();
            if schema.is_some() {
                buf.value_schema = schema;
            }
            // Without Parquet nothing breaks out of the block.
            #[cfg_attr(not(feature = "parquet"), allow(unused_labels))]
            let added = 'add: {
                #[cfg(feature = "parquet")]
                if let Some(row) = row {
                    buf.rows.push(row);
                    buf.records.push((pos, buf.rows.len()));
                    // About what the row weighs in the buffer: its JSON's length.
                    break 'add value.len() as u64;
                }
                if pre_encoded {
                    buf.data.extend_from_slice(&self.scratch);
                } else {
                    buf.data.extend_from_slice(value);
                    buf.data.push(b'\n');
                }
                buf.records.push((pos, buf.data.len()));
                (buf.data.len() - before) as u64
            };
            self.buffered_bytes += added;
            self.opened_at.get_or_insert_with(Instant::now);
            if buf.records.len() as u64 >= flush_count || buf.data.len() as u64 >= flush_bytes {
                self.close_requested = true;
            }
        }
        self.submitted_since_flush += 1;
        self.at_position = offset.is_some();
        self.finish_upload(false)?;
        let uploading = self.uploading.is_some();
        if self.buffers.is_empty() && !uploading {
            // Nothing of it is waiting (every record written or skipped).
            self.durable += std::mem::take(&mut self.submitted_since_flush);
        } else if self.buffers.is_empty() {
            // Durable once the upload in flight is.
        } else if self.close_requested && self.at_position && !uploading {
            self.close_requested = false;
            self.flush_all("flush count, size or rotate.interval.ms")?;
        } else if self.buffered_bytes > self.cfg.max_buffer_bytes {
            if self.at_position {
                tracing::info!(
                    bytes = self.buffered_bytes,
                    objects = self.buffers.len(),
                    "closing every open object early: runnel.buffer.max.bytes reached"
                );
            } else {
                tracing::warn!(
                    bytes = self.buffered_bytes,
                    objects = self.buffers.len(),
                    "closing every open object inside a source transaction larger than \
                     runnel.buffer.max.bytes: if the process dies before the transaction ends, \
                     its first part is written again (raise runnel.buffer.max.bytes to avoid)"
                );
            }
            self.flush_all("memory bound")?;
        }
        Ok(())
    }

    fn wants_positions(&self) -> bool {
        true
    }

    fn settle(&mut self, wait: Duration) -> Result<usize> {
        self.finish_upload(false)?;
        if self.at_position
            && self.uploading.is_none()
            && (self.close_requested || self.flush_due())
        {
            self.close_requested = false;
            self.flush_all("flush interval")?;
        }
        if self.durable == 0 && !wait.is_zero() && self.uploading.is_some() {
            // Wait for the upload rather than sleep past it.
            let deadline = Instant::now() + wait;
            while Instant::now() < deadline {
                self.finish_upload(false)?;
                if self.durable > 0 {
                    break;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        let durable = std::mem::take(&mut self.durable);
        if durable == 0 && !wait.is_zero() {
            std::thread::sleep(wait);
        }
        Ok(durable)
    }

    fn rejected(&mut self) -> Vec<(usize, Error)> {
        std::mem::take(&mut self.rejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_larger_than_a_part_goes_up_in_parts_and_a_name_is_written_once() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        let body = Bytes::from(
            (0..100_000u32)
                .flat_map(|i| i.to_le_bytes())
                .collect::<Vec<_>>(),
        );
        rt.block_on(async {
            let big = Path::from("t/big+0+0.bin");
            assert!(put_new(&store, &big, body.clone(), 64 << 10).await.unwrap());
            assert!(!put_new(&store, &big, body.clone(), 64 << 10).await.unwrap());
            let back = store.get(&big).await.unwrap().bytes().await.unwrap();
            assert_eq!(back, body);
            let small = Path::from("t/small+0+0.bin");
            assert!(
                put_new(&store, &small, body.slice(..10), 64 << 10)
                    .await
                    .unwrap()
            );
            assert!(
                !put_new(&store, &small, body.slice(..10), 64 << 10)
                    .await
                    .unwrap()
            );
        });
    }
}
