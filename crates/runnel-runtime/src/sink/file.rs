//! JSON-lines file sink: one file for all topics, records in source order; durable = fsynced.
//! The direct sink of a source connector (`sink.type=file`, `sink.file.path`) and a Kafka
//! Connect sink connector (`io.runnel.connect.file.FileSinkConnector`, `file`, as Kafka
//! Connect's FileStreamSink names it).
//!
//! Batches are appended as they come and fsynced together when the engine settles (group
//! commit): one fsync for everything queued, not one per transaction. A crash can leave the
//! last line partly written (the write buffer flushes mid-line); nothing after the last fsync
//! was acknowledged, so on open the file is cut back to its last complete line and the records
//! after the committed position are written again.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

use runnel_core::config::{ConfigGroup, ConfigIssue, ConfigKey, ValueType};
use runnel_core::encode::EncodedBatch;
use runnel_core::plugin::{SinkConfig, SinkPlugin};
use runnel_core::{Batch, Error, Result, Sink, SinkInput};

use super::io_error;

pub const FILE_SINK_CLASS: &str = "io.runnel.connect.file.FileSinkConnector";

const FILE_KEYS: &[ConfigKey] = &[ConfigKey::new(
    "file",
    ValueType::String,
    "The JSON-lines file the records are appended to (created with its directories).",
)];

pub fn plugin() -> SinkPlugin {
    SinkPlugin {
        sink_type: "file",
        class: Some(FILE_SINK_CLASS),
        aliases: &["FileSinkConnector"],
        groups: &[ConfigGroup {
            name: "File",
            keys: FILE_KEYS,
        }],
        direct_aliases: &[("path", "file")],
        open_keys: false,
        build: |sink| Ok(Box::new(FileSink::open(path(sink)?.as_ref())?)),
        validate: |sink| match path(sink) {
            Ok(_) => Vec::new(),
            Err(e) => vec![ConfigIssue::new("file", e.message())],
        },
        check: None,
    }
}

fn path(sink: &SinkConfig) -> Result<&str> {
    sink.get("file").filter(|p| !p.is_empty()).ok_or_else(|| {
        Error::invalid(
            "file",
            format!(
                "the file sink needs \"{}\": the JSON-lines file to append to",
                sink.user_key("file")
            ),
        )
    })
}

pub struct FileSink {
    file: BufWriter<File>,
    path: String,
    /// Batches appended since the last fsync.
    unsynced: usize,
}

impl FileSink {
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                Error::invalid("file", format!("cannot create {}: {e}", parent.display()))
                    .caused_by(e)
            })?;
        }
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                Error::invalid("file", format!("cannot open {}: {e}", path.display())).caused_by(e)
            })?;
        let name = path.display().to_string();
        repair_tail(&file, &name)?;
        Ok(Self {
            file: BufWriter::with_capacity(super::WRITE_BUFFER, file),
            path: name,
            unsynced: 0,
        })
    }
}

/// Cuts a partly written last line (a crash mid-write) so the file ends with a complete record.
fn repair_tail(file: &File, path: &str) -> Result<()> {
    let read = |e| io_error(&format!("reading {path}"), e);
    let len = file.metadata().map_err(read)?.len();
    let mut last = [0u8; 1];
    if len == 0 {
        return Ok(());
    }
    file.read_exact_at(&mut last, len - 1).map_err(read)?;
    if last[0] == b'\n' {
        return Ok(());
    }
    // Find the last newline, reading backwards in chunks.
    let mut chunk = vec![0u8; 64 * 1024];
    let mut end = len;
    let keep = loop {
        let start = end.saturating_sub(chunk.len() as u64);
        let buf = &mut chunk[..(end - start) as usize];
        file.read_exact_at(buf, start).map_err(read)?;
        if let Some(i) = buf.iter().rposition(|&b| b == b'\n') {
            break start + i as u64 + 1;
        }
        if start == 0 {
            break 0;
        }
        end = start;
    };
    file.set_len(keep)
        .and_then(|()| file.sync_data())
        .map_err(|e| io_error(&format!("repairing {path}"), e))?;
    tracing::warn!(
        file = path,
        bytes = len - keep,
        "cut a partly written last record (the process stopped mid-write); the records after the committed position are written again"
    );
    Ok(())
}

impl Sink for FileSink {
    fn input(&self) -> SinkInput {
        SinkInput::Encoded
    }

    /// Appends `batch` (not yet durable).
    fn submit(
        &mut self,
        _batch: &Batch,
        encoded: &EncodedBatch,
        _offset: Option<&runnel_core::SourceOffset>,
    ) -> Result<()> {
        self.unsynced += 1;
        super::write_lines(encoded, &mut self.file)
            .map_err(|e| io_error(&format!("writing {}", self.path), e))
    }

    /// Makes every appended batch durable; returns how many there were.
    fn settle(&mut self, _wait: Duration) -> Result<usize> {
        if self.unsynced > 0 {
            self.file
                .flush()
                .map_err(|e| io_error(&format!("writing {}", self.path), e))?;
            self.file
                .get_ref()
                .sync_data()
                .map_err(|e| io_error(&format!("syncing {}", self.path), e))?;
        }
        Ok(std::mem::take(&mut self.unsynced))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_cut_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        std::fs::write(&path, "{\"a\":1}\n{\"a\":2}\n{\"a\":").unwrap();
        drop(FileSink::open(&path).unwrap());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n"
        );
        // A torn first line leaves an empty file; a complete file is left alone.
        std::fs::write(&path, "{\"a\":").unwrap();
        drop(FileSink::open(&path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        std::fs::write(&path, "{\"a\":1}\n").unwrap();
        drop(FileSink::open(&path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\n");
    }
}
