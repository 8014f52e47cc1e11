//! Standard output sink (`sink.type=stdout`, the default without Kafka): the file sink's JSON
//! lines; durable = flushed.

use std::io::{BufWriter, Stdout, Write};
use std::time::Duration;

use runnel_core::encode::EncodedBatch;
use runnel_core::plugin::SinkPlugin;
use runnel_core::{Batch, Result, Sink, SinkInput};

use super::io_error;

pub fn plugin() -> SinkPlugin {
    SinkPlugin {
        sink_type: "stdout",
        class: None,
        aliases: &[],
        groups: &[],
        direct_aliases: &[],
        open_keys: false,
        build: |_| Ok(Box::new(StdoutSink::new())),
        validate: |_| Vec::new(),
        check: None,
    }
}

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
}

impl Default for StdoutSink {
    fn default() -> Self {
        Self::new()
    }
}

impl Sink for StdoutSink {
    fn input(&self) -> SinkInput {
        SinkInput::Encoded
    }

    fn submit(
        &mut self,
        _batch: &Batch,
        encoded: &EncodedBatch,
        _offset: Option<&runnel_core::SourceOffset>,
    ) -> Result<()> {
        self.unflushed += 1;
        super::write_lines(encoded, &mut self.out).map_err(|e| io_error("writing to stdout", e))
    }

    fn settle(&mut self, _wait: Duration) -> Result<usize> {
        self.out
            .flush()
            .map_err(|e| io_error("writing to stdout", e))?;
        Ok(std::mem::take(&mut self.unflushed))
    }
}
