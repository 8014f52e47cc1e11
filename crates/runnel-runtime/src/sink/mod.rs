//! The sinks built into the runtime: JSON lines to a file or to standard output. Both write
//! the converter's bytes of each record as `{"topic": …, "key": …, "value": …}`, so
//! `PostgreSQL → file` and `PostgreSQL → Kafka → file` give the same lines. A record with
//! headers also gets `"headers": [[name, value], …]`, in order, each value the text Kafka
//! Connect's `SimpleHeaderConverter` writes (or `null`).

pub mod file;
pub mod stdout;

pub use file::FileSink;
pub use stdout::StdoutSink;

use std::sync::Arc;

use runnel_core::encode::EncodedBatch;

/// Bytes a file or stdout sink buffers before writing: a batch streams through this much memory
/// instead of being copied whole (2,048 records with schemas are several megabytes).
pub(crate) const WRITE_BUFFER: usize = 256 * 1024;

/// One JSON line per record: `{"topic": …, "key": …, "value": …}` (key and value as JSON),
/// `"headers"` when it has any.
pub(crate) fn write_lines(
    batch: &EncodedBatch,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    // The topic's JSON is escaped once per run of records of the same table, not per record.
    let mut last: Option<(&Arc<str>, String)> = None;
    for r in &batch.records {
        if !last.as_ref().is_some_and(|(t, _)| Arc::ptr_eq(t, &r.topic)) {
            let json = serde_json::to_string(&*r.topic).unwrap_or_else(|_| "\"\"".into());
            last = Some((&r.topic, json));
        }
        let topic = last.as_ref().map_or("\"\"", |(_, json)| json.as_str());
        out.write_all(b"{\"topic\":")?;
        out.write_all(topic.as_bytes())?;
        out.write_all(b",\"key\":")?;
        out.write_all(batch.key(r).unwrap_or(b"null"))?;
        out.write_all(b",\"value\":")?;
        out.write_all(batch.value(r).unwrap_or(b"null"))?;
        if r.headers.start != r.headers.end {
            out.write_all(b",\"headers\":[")?;
            for (i, (key, value)) in batch.headers(r).enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                let mut pair = Vec::with_capacity(32);
                pair.push(b'[');
                runnel_core::encode::writer::str(&mut pair, key);
                pair.push(b',');
                match value {
                    Some(v) => {
                        runnel_core::encode::writer::str(&mut pair, &String::from_utf8_lossy(v))
                    }
                    None => pair.extend_from_slice(b"null"),
                }
                pair.push(b']');
                out.write_all(&pair)?;
            }
            out.write_all(b"]")?;
        }
        out.write_all(b"}\n")?;
    }
    Ok(())
}

/// A write failure of a file or stdout sink: a full disk, a read-only file system or missing
/// permissions stay until the user acts; anything else may pass.
pub(crate) fn io_error(what: &str, e: std::io::Error) -> runnel_core::Error {
    use std::io::ErrorKind as K;
    let message = format!("{what}: {e}");
    let err = match e.kind() {
        K::PermissionDenied | K::ReadOnlyFilesystem | K::StorageFull | K::QuotaExceeded => {
            runnel_core::Error::sink_permanent(message)
        }
        _ => runnel_core::Error::sink_transient(message),
    };
    err.caused_by(e)
}
