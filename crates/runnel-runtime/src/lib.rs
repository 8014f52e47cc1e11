//! runnel's runtime: connector pipelines with supervision, the sinks of the standalone mode and
//! the embedded state store.

pub mod pipeline;
pub mod sink;
pub mod state;

pub use pipeline::{Prepared, prepare, run_connector, supervise};
pub use state::StateStore;
