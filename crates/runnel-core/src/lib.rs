//! runnel's core: the event model, positions, Debezium-compatible encoders, connector configs
//! and typed errors. No I/O happens here.

pub mod config;
pub mod datum;
pub mod decimal;
pub mod encode;
pub mod error;
pub mod event;
pub mod offset;
pub mod schema;
pub mod stats;
pub mod temporal;

pub use datum::{Datum, Numeric};
pub use error::{Error, ErrorKind, Result, Retry};
pub use event::{Batch, ChangeEvent, Event, Op, SnapshotMarker, SourcePosition};
pub use offset::SourceOffset;
pub use schema::{BinaryMode, Column, Encoding, TableId, TableSchema};
pub use stats::SourceStats;

/// The version runnel reports in `source.version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
