//! Standard output sink: the same JSON lines as the file sink; durable = flushed.

use std::io::Write;

use runnel_core::encode::EncodedBatch;
use runnel_core::{Error, Result};

pub struct StdoutSink {
    buf: Vec<u8>,
}

impl StdoutSink {
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(1 << 16),
        }
    }

    pub fn write(&mut self, batch: &EncodedBatch) -> Result<()> {
        if batch.records.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        super::write_lines(batch, &mut self.buf);
        let mut out = std::io::stdout().lock();
        out.write_all(&self.buf)
            .and_then(|_| out.flush())
            .map_err(|e| Error::sink(format!("writing to stdout: {e}")))
    }
}

impl Default for StdoutSink {
    fn default() -> Self {
        Self::new()
    }
}
