//! The one engine loop every connector runs: source task → bounded queue → sink thread
//! (transforms, encode once, submit, settle) → committer (state store, then the source's
//! acknowledgement, which only then lets the upstream forget: PostgreSQL recycles its WAL, Kafka
//! commits the group's offsets). A source connector and a Kafka Connect sink connector differ
//! only in their source.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use runnel_core::config::{ConfigSpec, ConnectorConfig};
use runnel_core::encode::EncodedBatch;
use runnel_core::encode::json::JsonEncoder;
use runnel_core::plugin::{
    BoxFuture, CheckReport, CheckScope, OffsetPair, SourcePlugin, Watch, WorkerContext,
};
use runnel_core::{
    Emitted, Error, Position, Result, RunEnd, Sink, SinkInput, Source, SourceContext, SourceOffset,
};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, watch};

use crate::job::{Job, RunContext, SourceEntry, Tolerance};
use crate::metrics::ConnectorMetrics;
use crate::state::StateStore;
use crate::status::State;

/// Batches submitted before the sink settles (bounds the work between two commits).
const GROUP_LIMIT: usize = 64;
/// How long the sink thread waits for acknowledgements when no new batch is queued.
const SETTLE_WAIT: Duration = Duration::from_millis(2);
/// How long a stopping connector waits for in-flight batches (Kafka Connect's default
/// task.shutdown.graceful.timeout.ms).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Commits the positions of batches the sink made durable, oldest first.
struct Committer<'a, P: Position> {
    store: &'a StateStore,
    name: &'a str,
    acked: &'a watch::Sender<Option<P>>,
    metrics: &'a ConnectorMetrics,
    /// The position (None: a batch that completes none) and record count of each submitted,
    /// not yet durable batch.
    pending: VecDeque<(Option<P>, u64)>,
    /// Whether this run has committed yet: its first commit shows the pipeline works end to
    /// end, so a note about retrying an earlier failure is cleared.
    committed: bool,
}

impl<P: Position> Committer<'_, P> {
    /// The oldest `durable` batches are durable: store the newest of their positions and tell
    /// the source, which may then let its upstream forget up to it.
    fn commit(&mut self, durable: usize, took: Duration) -> Result<()> {
        let mut records = 0;
        let mut newest = None;
        for (position, n) in self.pending.drain(..durable) {
            records += n;
            if position.is_some() {
                newest = position;
            }
        }
        self.metrics
            .durable(durable, records, took.as_micros() as u64);
        if let Some(position) = newest {
            self.store.save_offset(self.name, &position.to_offset())?;
            let _ = self.acked.send(Some(position));
            if !self.committed {
                self.committed = true;
                if let Some((State::Running, Some(_))) = self.store.status(self.name)? {
                    self.store.set_status(self.name, State::Running, None)?;
                }
            }
        }
        Ok(())
    }
}

/// Runs `source` into the job's sink until shutdown, the source's end, or an error.
pub async fn run<S: Source>(source: S, job: &Job, ctx: RunContext) -> Result<RunEnd> {
    let name = job.name().to_string();
    let sink = (job.sink.build)(&job.sink_config)?;
    let mut chain = job.chain()?;
    // A sink connector's dead letter queue (written by its Kafka source) gets the records the
    // transforms fail on, as they were read.
    let dead_letters = matches!(job.kind, crate::job::ConnectorKind::Sink)
        && job.tolerance().all
        && job
            .config
            .get("errors.deadletterqueue.topic.name")
            .is_some_and(|t| !t.trim().is_empty());
    chain.keep_originals(dead_letters);
    let (dead_tx, dead_rx) = mpsc::unbounded_channel::<runnel_core::DeadLetter>();
    let envelope = source.envelope();
    let encoder =
        (sink.input() != SinkInput::Typed).then(|| JsonEncoder::new(job.json, envelope.clone()));
    let decode = !chain.is_empty() || sink.input() != SinkInput::Encoded;
    let referenced_first = sink.referenced_first();
    // A sink that keeps offsets with its data says where to resume (read on its thread: it
    // may block on the destination).
    let generation = sink
        .keeps_offsets()
        .then(|| ctx.store.offset_generation(&name))
        .transpose()?;
    let (resumed_tx, resumed_rx) = tokio::sync::oneshot::channel();
    let queue = job.queue_batches();
    let (tx, rx) = mpsc::channel::<Emitted<S::Position>>(queue);
    let (acked_tx, acked_rx) = watch::channel::<Option<S::Position>>(None);
    ctx.metrics
        .queue_capacity
        .store(queue as u64, Ordering::Relaxed);

    // The sink runs on its own thread: transforms, encoding, writing, fsync and the state
    // store are blocking work that must not stall the source's socket.
    let thread = SinkThread {
        rx,
        sink,
        sink_class: job.sink.class.unwrap_or(job.sink.sink_type),
        chain,
        envelope,
        tolerance: job.tolerance(),
        dead_letters: dead_letters.then(|| (dead_tx, JsonEncoder::new(job.json, None))),
        encoder,
        store: ctx.store.clone(),
        name: name.clone(),
        acked: acked_tx,
        shutdown: ctx.shutdown.clone(),
        metrics: ctx.metrics.clone(),
    };
    let mut sink_thread =
        tokio::task::spawn_blocking(move || thread.run(generation.as_deref(), resumed_tx));
    let stored = match resumed_rx.await {
        Ok(Some(offset)) => Some(offset),
        Ok(None) => ctx.store.offset(&name)?,
        // The sink thread failed before it could say: its error is the run's.
        Err(_) => {
            return sink_thread
                .await
                .map_err(|e| Error::internal(format!("sink thread failed: {e}")))?
                .map(|()| RunEnd::Stopped);
        }
    };

    let source_run = source.run(SourceContext {
        out: tx,
        acked: acked_rx,
        stored,
        shutdown: ctx.shutdown.clone(),
        stats: ctx.metrics.source.clone(),
        decode,
        referenced_first,
        dead_letters: dead_rx,
        history: ctx.store.history(&name),
    });
    tokio::pin!(source_run);
    let sink_done = |r: std::result::Result<Result<()>, tokio::task::JoinError>| {
        r.map_err(|e| Error::internal(format!("sink thread failed: {e}")))?
    };
    tokio::select! {
        source_result = &mut source_run => {
            // The source dropped its sender: the sink drains what is queued, then ends.
            sink_done(sink_thread.await)?;
            source_result
        }
        sink_result = &mut sink_thread => {
            // The sink failed (or ended) first: stop the source now rather than when its
            // next message arrives; dropping its future closes its connections.
            sink_done(sink_result)?;
            source_run.await
        }
    }
}

impl<S: Source> SourceEntry for SourcePlugin<S> {
    fn class(&self) -> &'static str {
        self.class
    }
    fn aliases(&self) -> &'static [&'static str] {
        self.aliases
    }
    fn spec(&self) -> ConfigSpec {
        self.spec
    }
    fn validate(&self, config: &ConnectorConfig, worker: &WorkerContext) -> Result<()> {
        (self.build)(config, worker).map(drop)
    }
    fn check(&self, config: ConnectorConfig, scope: CheckScope) -> BoxFuture<CheckReport> {
        (self.check)(config, scope)
    }
    fn offsets(&self, config: &ConnectorConfig, stored: &SourceOffset) -> Vec<OffsetPair> {
        (self.offsets)(config, stored)
    }
    fn alter_offsets(
        &self,
        config: &ConnectorConfig,
        items: &[OffsetPair],
    ) -> Result<Option<SourceOffset>> {
        (self.alter_offsets)(config, items)
    }
    fn resettable(&self) -> bool {
        self.resettable
    }
    fn watch(&self) -> Option<Arc<dyn Watch>> {
        self.watch.clone()
    }
    fn run(&self, job: Arc<Job>, ctx: RunContext) -> BoxFuture<Result<RunEnd>> {
        let build = self.build;
        Box::pin(async move {
            let source = build(&job.config, &job.worker)?;
            run(source, &job, ctx).await
        })
    }
}

struct SinkThread<P: Position> {
    rx: mpsc::Receiver<Emitted<P>>,
    sink: Box<dyn Sink>,
    /// The sink's connector class (or `sink.type`), for messages about records it refuses.
    sink_class: &'static str,
    chain: runnel_core::Chain,
    envelope: Option<runnel_core::Envelope>,
    tolerance: Tolerance,
    /// Where records the transforms fail on go (and the converter that re-encodes them).
    dead_letters: Option<(mpsc::UnboundedSender<runnel_core::DeadLetter>, JsonEncoder)>,
    encoder: Option<JsonEncoder>,
    store: StateStore,
    name: String,
    acked: watch::Sender<Option<P>>,
    shutdown: watch::Receiver<bool>,
    metrics: Arc<ConnectorMetrics>,
}

impl<P: Position> SinkThread<P> {
    /// `generation`: the connector's offset generation when the sink keeps offsets with its
    /// data; the offset it holds is sent on `resumed` (`None` otherwise) before anything else.
    fn run(
        mut self,
        generation: Option<&str>,
        resumed: tokio::sync::oneshot::Sender<Option<SourceOffset>>,
    ) -> Result<()> {
        let pass_offsets = generation.is_some() || self.sink.wants_positions();
        let offset = match generation {
            Some(generation) => self.sink.resume(generation)?,
            None => None,
        };
        if let Some(o) = &offset {
            tracing::info!(connector = %self.name, offset = %o.to_json(), "resuming from the offset the sink holds");
        }
        let _ = resumed.send(offset);
        let mut committer = Committer {
            store: &self.store,
            name: &self.name,
            acked: &self.acked,
            metrics: &self.metrics,
            pending: VecDeque::new(),
            committed: false,
        };
        let mut encoded = EncodedBatch::default();
        let mut open = true;
        let mut drain_deadline: Option<Instant> = None;
        while open || !committer.pending.is_empty() {
            // Submit what is queued, blocking for the next batch only when nothing is in
            // flight; then settle once for all of it (one fsync, or the Kafka acks so far).
            let mut taken = 0;
            while open && taken < GROUP_LIMIT {
                let next = if committer.pending.is_empty() && taken == 0 {
                    self.rx.blocking_recv()
                } else {
                    match self.rx.try_recv() {
                        Ok(batch) => Some(batch),
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => None,
                    }
                };
                let Some(Emitted {
                    mut batch,
                    position,
                }) = next
                else {
                    open = false;
                    break;
                };
                let (name, tolerance, metrics) = (&self.name, self.tolerance, &self.metrics);
                let mut failed = Vec::new();
                let dead_letters = self.dead_letters.is_some();
                self.chain.apply(&mut batch, self.envelope.as_ref(), |f| {
                    transform_failed(name, tolerance, metrics, &f, position.as_ref())?;
                    if dead_letters {
                        failed.push(f);
                    }
                    Ok(())
                })?;
                // Sent before this batch can be acknowledged (see SourceContext::dead_letters).
                if let Some((tx, encoder)) = &self.dead_letters {
                    for f in failed {
                        let letter = dead_letter(encoder, &batch, f);
                        tx.send(letter).map_err(|_| {
                            Error::internal("the source stopped taking dead letters")
                        })?;
                    }
                }
                encoded.clear();
                if let Some(encoder) = &self.encoder {
                    encoder.encode(&batch, &mut encoded)?;
                }
                let offset = match &position {
                    Some(p) if pass_offsets => Some(p.to_offset()),
                    _ => None,
                };
                self.sink.submit(&batch, &encoded, offset.as_ref())?;
                // Records the sink refused: errors.tolerance decides, as for a transform.
                for (i, error) in self.sink.rejected() {
                    let Some(event) = batch.events.get(i).cloned() else {
                        continue;
                    };
                    let key =
                        runnel_core::transform::key_json(&event, &mut batch.datums, &batch.bytes);
                    let f = runnel_core::transform::TransformFailure {
                        alias: String::new(),
                        class: self.sink_class.to_string(),
                        error,
                        event,
                        key,
                        original: None,
                    };
                    transform_failed(name, tolerance, metrics, &f, position.as_ref())?;
                    if let Some((tx, encoder)) = &self.dead_letters {
                        let mut letter = dead_letter(encoder, &batch, f);
                        letter.stage = "TASK_PUT";
                        tx.send(letter).map_err(|_| {
                            Error::internal("the source stopped taking dead letters")
                        })?;
                    }
                }
                self.metrics.submitted(&batch);
                committer
                    .pending
                    .push_back((position, batch.events.len() as u64));
                taken += 1;
            }
            self.metrics
                .queue_len
                .store(self.rx.len() as u64, Ordering::Relaxed);
            if committer.pending.is_empty() {
                continue;
            }
            let wait = if taken == 0 {
                SETTLE_WAIT
            } else {
                Duration::ZERO
            };
            let started = Instant::now();
            let durable = self.sink.settle(wait)?;
            committer.commit(durable, started.elapsed().saturating_sub(wait))?;
            // Stopping (not failing): give what is in flight a moment, as Kafka Connect's
            // task.shutdown.graceful.timeout.ms; what is left is sent again after a restart.
            if !open && *self.shutdown.borrow() && !committer.pending.is_empty() {
                let deadline =
                    *drain_deadline.get_or_insert_with(|| Instant::now() + SHUTDOWN_GRACE);
                if Instant::now() >= deadline {
                    tracing::warn!(
                        connector = %self.name,
                        batches = committer.pending.len(),
                        "stopping with batches the sink has not acknowledged; they are sent again after a restart"
                    );
                    break;
                }
            }
        }
        Ok(())
    }
}

/// A record a transform failed on: stop the connector, naming the transform, the record and
/// the position (`errors.tolerance=none`), or log it and go on (`all`).
/// A failed record as the dead letter queue gets it: the record as it was read, in the
/// connector's converter encoding, with what failed.
fn dead_letter(
    encoder: &JsonEncoder,
    batch: &runnel_core::Batch,
    f: runnel_core::transform::TransformFailure,
) -> runnel_core::DeadLetter {
    let runnel_core::Event::Record(r) = f.original.unwrap_or(f.event) else {
        unreachable!("sink connectors read records")
    };
    let opts = encoder.options();
    let encode = |p: &Option<runnel_core::Payload>, schemas: bool, replace: bool| {
        p.as_ref().and_then(|p| {
            encoder
                .encode_payload(&batch.datums, &batch.bytes, p, schemas, replace)
                .ok()
        })
    };
    runnel_core::DeadLetter {
        topic: r.topic.clone(),
        partition: r.partition,
        offset: r.offset,
        key: encode(&r.key, opts.key_schemas, opts.key_replace_null),
        value: encode(&r.value, opts.value_schemas, opts.value_replace_null),
        headers: r
            .headers
            .iter()
            .map(|h| (h.key.clone(), encode(&h.value, false, false)))
            .collect(),
        class: f.class,
        reason: f.error.message().to_string(),
        stage: "TRANSFORMATION",
    }
}

fn transform_failed<P: Position>(
    connector: &str,
    tolerance: Tolerance,
    metrics: &ConnectorMetrics,
    f: &runnel_core::transform::TransformFailure,
    position: Option<&P>,
) -> Result<()> {
    metrics.errors.fetch_add(1, Ordering::Relaxed);
    let record = match &f.event {
        runnel_core::Event::Change(c) => format!("a {} change of {}", c.op.code(), c.table.id),
        runnel_core::Event::Record(r) => match (r.partition, r.offset) {
            (Some(p), Some(o)) => format!("record {}-{p}@{o}", r.topic),
            _ => format!("a record of {}", r.topic),
        },
    };
    let at = match position {
        Some(p) => {
            let offset = serde_json::to_string(&p.to_offset().0).unwrap_or_default();
            format!(" (position {offset})")
        }
        // A batch inside a source transaction has no position of its own: the event's log
        // position says where it is.
        None => {
            let source = match &f.event {
                runnel_core::Event::Change(c) => Some(&c.source),
                runnel_core::Event::Record(r) => r.source.as_ref(),
            };
            source
                .and_then(P::event_at)
                .map_or_else(String::new, |at| format!(" (position {at})"))
        }
    };
    let key = f
        .key
        .as_deref()
        .map_or_else(String::new, |k| format!(" with key {k}"));
    let what = if f.alias.is_empty() {
        format!(
            "the sink ({}) refused {record}{key}{at}: {}",
            f.class,
            f.error.message()
        )
    } else {
        format!(
            "transform \"{}\" ({}) failed on {record}{key}{at}: {}",
            f.alias,
            f.class,
            f.error.message()
        )
    };
    if !tolerance.all {
        let hint = if tolerance.source {
            "set \"event.processing.failure.handling.mode\": \"warn\" (or \"errors.tolerance\": \"all\") to skip such records"
        } else {
            "set \"errors.tolerance\": \"all\" to skip such records"
        };
        return Err(Error::new(
            f.error.kind(),
            runnel_core::Retry::Permanent,
            format!("{what}; {hint}"),
        ));
    }
    if tolerance.log {
        if tolerance.log_messages {
            tracing::error!(connector = %connector, event = ?f.event, "{what}; skipped (errors.tolerance=all)");
        } else {
            tracing::error!(connector = %connector, "{what}; skipped (errors.tolerance=all)");
        }
    }
    Ok(())
}
