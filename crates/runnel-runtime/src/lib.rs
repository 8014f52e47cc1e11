//! runnel's runtime: connector pipelines with supervision, the sinks of the standalone mode and
//! the embedded state store.

pub mod pipeline;
pub mod sink;
#[cfg(feature = "kafka")]
pub mod sink_connector;
pub mod state;

pub use pipeline::{Prepared, Role, WorkerSettings, prepare, run_connector, supervise};
pub use state::StateStore;
