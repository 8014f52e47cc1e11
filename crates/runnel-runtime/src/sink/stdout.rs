//! Standard output sink: the same JSON lines as the file sink; durable = flushed.

use std::io::{BufWriter, Stdout, Write};

use runnel_core::encode::EncodedBatch;
use runnel_core::{Error, Result};

pub struct StdoutSink {
    out: BufWriter<Stdout>,
    /// Batches written since the last flush.
    unflushed: usize,
}

impl StdoutSink {
    pub fn new() -> Self {
        Self {
            out: BufWriter::with_capacity(super::WRITE_BUFFER, std::io::stdout()),
            unflushed: 0,
        }
    }

    pub fn submit(&mut self, batch: &EncodedBatch) -> Result<()> {
        self.unflushed += 1;
        super::write_lines(batch, &mut self.out)
            .map_err(|e| Error::sink(format!("writing to stdout: {e}")))
    }

    pub fn settle(&mut self) -> Result<usize> {
        self.out
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
