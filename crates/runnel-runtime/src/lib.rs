//! runnel's runtime: connector pipelines with supervision, the sinks of the standalone mode and
//! the embedded state store.

pub mod config_providers;
pub mod metrics;
pub mod pipeline;
pub mod sink;
#[cfg(feature = "kafka")]
pub mod sink_connector;
pub mod slot_monitor;
pub mod state;
pub mod worker;

pub use pipeline::{Prepared, Role, WorkerSettings, prepare, run_connector, supervise};
pub use state::StateStore;
pub use worker::{TargetState, Worker, WorkerError};
