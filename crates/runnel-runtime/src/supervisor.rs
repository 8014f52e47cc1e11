//! Runs a connector's job, restarting the engine after transient errors, as Debezium retries
//! inside a running task: the task stays RUNNING (its status says what it retries), backing off
//! from 0.5 s to 30 s, until `errors.max.retries` (unlimited by default) consecutive failures
//! make it FAILED. A permanent error makes it FAILED at once, with the error as its trace.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use runnel_core::{Result, RunEnd};

use crate::job::Job;
use crate::job::RunContext;
use crate::status::State;

const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A run that lasted this long counts as recovered: its failure starts the retries afresh.
const STABLE_RUN: Duration = Duration::from_secs(60);

/// Runs `job` until shutdown, its end, or a permanent error; the status is kept in the state
/// store.
pub async fn supervise(job: Arc<Job>, ctx: RunContext) -> Result<()> {
    let name = job.name().to_string();
    let store = &ctx.store;
    let max_retries = job.max_retries();
    let mut backoff = FIRST_BACKOFF;
    let mut retries: i64 = 0;
    let mut note: Option<String> = None;
    loop {
        store.set_status(&name, State::Running, note.as_deref())?;
        let started = Instant::now();
        let result = job.source.clone().run(job.clone(), ctx.clone()).await;
        if *ctx.shutdown.borrow() {
            store.set_status(&name, State::Stopped, None)?;
            return result.map(drop);
        }
        match result {
            Ok(RunEnd::Finished) => {
                tracing::info!(connector = %name, "the source has finished its work (snapshot.mode=initial_only: snapshot done, not streaming)");
                store.set_status(&name, State::Stopped, None)?;
                return Ok(());
            }
            Ok(RunEnd::Stopped) => {
                store.set_status(&name, State::Stopped, None)?;
                return Ok(());
            }
            Err(e) if e.is_transient() => {
                if started.elapsed() >= STABLE_RUN {
                    retries = 0;
                    backoff = FIRST_BACKOFF;
                }
                retries += 1;
                ctx.metrics.errors.fetch_add(1, Ordering::Relaxed);
                if max_retries >= 0 && retries > max_retries {
                    let trace = format!(
                        "{}; gave up after {max_retries} retries (errors.max.retries)",
                        e.message()
                    );
                    store.set_status(&name, State::Failed, Some(&trace))?;
                    return Err(e.context(format!("connector \"{name}\"")));
                }
                ctx.metrics.restarts.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(connector = %name, "{e}; retrying in {backoff:?}");
                let text = format!("retrying (attempt {retries}) after: {}", e.message());
                store.set_status(&name, State::Running, Some(&text))?;
                note = Some(text);
                let mut sd = ctx.shutdown.clone();
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = sd.changed() => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(e) => {
                ctx.metrics.errors.fetch_add(1, Ordering::Relaxed);
                store.set_status(&name, State::Failed, Some(e.message()))?;
                return Err(e.context(format!("connector \"{name}\"")));
            }
        }
    }
}
