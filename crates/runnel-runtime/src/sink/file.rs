//! JSON-lines file sink: one file for all topics, records in source order; durable = fsynced.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use runnel_core::encode::EncodedBatch;
use runnel_core::{Error, Result};

pub struct FileSink {
    file: File,
    path: String,
    buf: Vec<u8>,
}

impl FileSink {
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                Error::config(format!(
                    "sink.file.path: cannot create {}: {e}",
                    parent.display()
                ))
            })?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                Error::config(format!(
                    "sink.file.path: cannot open {}: {e}",
                    path.display()
                ))
            })?;
        Ok(Self {
            file,
            path: path.display().to_string(),
            buf: Vec::with_capacity(1 << 20),
        })
    }

    pub fn write(&mut self, batch: &EncodedBatch) -> Result<()> {
        if batch.records.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        super::write_lines(batch, &mut self.buf);
        self.file
            .write_all(&self.buf)
            .and_then(|_| self.file.sync_data())
            .map_err(|e| Error::sink(format!("writing {}: {e}", self.path)))
    }
}
