//! runnel's core: the typed event model (Kafka Connect's data model, Debezium's change
//! events), the contracts every connector plugs into (`Source`, `Sink`, `Transform`), positions,
//! the JsonConverter encoder and decoder, connector configs and typed errors. No I/O happens
//! here.

pub mod config;
pub mod datum;
pub mod debezium;
pub mod decimal;
pub mod decode;
pub mod encode;
pub mod error;
pub mod event;
pub mod fits;
pub mod offset;
pub mod plugin;
pub mod schema;
pub mod sink;
pub mod source;
pub mod temporal;
pub mod transform;

pub use datum::{Datum, Numeric};
pub use error::{Error, ErrorKind, Result, Retry};
pub use event::{
    Batch, ChangeEvent, Event, EventSource, Header, Op, Payload, Record, SnapshotMarker,
};
pub use offset::SourceOffset;
pub use schema::{BinaryMode, Column, Encoding, Schema, SchemaMeta, TableId, TableSchema};
pub use sink::{Sink, SinkInput};
pub use source::{
    DeadLetter, Emitted, Envelope, MemoryHistory, Position, RunEnd, SchemaHistory, Source,
    SourceBlock, SourceContext, SourceStats,
};
pub use transform::{Chain, Predicate, Stage, Transform};

/// The version runnel reports in `source.version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
