//! Standard output sink: the same JSON lines as the file sink; durable = flushed.

use std::io::Write;

use runnel_core::encode::EncodedBatch;
use runnel_core::{Error, Result};

pub struct StdoutSink {
    buf: Vec<u8>,
    /// Batches written since the last flush.
    unflushed: usize,
}

impl StdoutSink {
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(1 << 16),
            unflushed: 0,
        }
    }

    pub fn submit(&mut self, batch: &EncodedBatch) -> Result<()> {
        self.unflushed += 1;
        if batch.records.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        super::write_lines(batch, &mut self.buf);
        std::io::stdout()
            .lock()
            .write_all(&self.buf)
            .map_err(|e| Error::sink(format!("writing to stdout: {e}")))
    }

    pub fn settle(&mut self) -> Result<usize> {
        std::io::stdout()
            .lock()
            .flush()
            .map_err(|e| Error::sink(format!("writing to stdout: {e}")))?;
        Ok(std::mem::take(&mut self.unflushed))
    }
}

impl Default for StdoutSink {
    fn default() -> Self {
        Self::new()
    }
}
