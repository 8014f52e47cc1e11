//! runnel's runtime: one registry of everything a build can run, one engine loop for every
//! connector (source → transforms → sink → committer), supervision, the worker that manages many
//! connectors, the built-in sinks, and the embedded state store.

pub mod cluster;
pub mod config_providers;
pub mod connect_records;
pub mod engine;
pub mod history;
pub mod job;
pub mod metrics;
pub mod registry;
pub mod sink;
pub mod state;
pub mod status;
pub mod supervisor;
pub mod worker;

pub use job::{ConnectorKind, Job};
pub use registry::Registry;
pub use state::StateStore;
pub use status::{State, TargetState};
pub use supervisor::supervise;
pub use worker::{ExactlyOnceSettings, Worker, WorkerError, WorkerSettings};
