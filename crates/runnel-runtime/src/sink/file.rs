//! JSON-lines file sink: one file for all topics, records in source order; durable = fsynced.
//! Batches are appended as they come and fsynced together when the pipeline settles (group
//! commit): one fsync for everything queued, not one per transaction.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;

use runnel_core::encode::EncodedBatch;
use runnel_core::{Error, Result};

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
            file: BufWriter::with_capacity(super::WRITE_BUFFER, file),
            path: path.display().to_string(),
            unsynced: 0,
        })
    }

    /// Appends `batch` (not yet durable).
    pub fn submit(&mut self, batch: &EncodedBatch) -> Result<()> {
        self.unsynced += 1;
        super::write_lines(batch, &mut self.file)
            .map_err(|e| Error::sink(format!("writing {}: {e}", self.path)))
    }

    /// Makes every appended batch durable; returns how many there were.
    pub fn settle(&mut self) -> Result<usize> {
        if self.unsynced > 0 {
            self.file
                .flush()
                .map_err(|e| Error::sink(format!("writing {}: {e}", self.path)))?;
            self.file
                .get_ref()
                .sync_data()
                .map_err(|e| Error::sink(format!("syncing {}: {e}", self.path)))?;
        }
        Ok(std::mem::take(&mut self.unsynced))
    }

    /// Appends `batch` and makes it durable.
    pub fn write(&mut self, batch: &EncodedBatch) -> Result<()> {
        self.submit(batch)?;
        self.settle().map(drop)
    }
}
