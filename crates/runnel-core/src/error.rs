//! One error type for the whole pipeline, classified by [`ErrorKind`] so the runtime decides
//! "retry or fail" from data, never from message strings.

use std::fmt;

/// What went wrong, at the level the runtime needs to decide what to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The connector configuration is invalid. The user must change it.
    Config,
    /// The source database is unreachable or the connection broke.
    SourceConnection,
    /// The source database lacks a prerequisite (`wal_level`, privilege, publication, key, …).
    SourcePrerequisite,
    /// The source sent something we cannot decode (a protocol or conversion bug, or corruption).
    SourceProtocol,
    /// A value could not be converted to its Debezium representation.
    Conversion,
    /// The sink failed to make records durable.
    Sink,
    /// The embedded state store failed.
    State,
    /// A bug in runnel.
    Internal,
}

/// Whether retrying the same operation can succeed without the user changing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Transient: retry with backoff.
    Transient,
    /// Permanent until the user acts.
    Permanent,
}

/// The error type of every runnel crate below the binary.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    retry: Retry,
    message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, retry: Retry, message: impl Into<String>) -> Self {
        Self {
            kind,
            retry,
            message: message.into(),
        }
    }
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, Retry::Permanent, message)
    }
    pub fn prerequisite(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::SourcePrerequisite, Retry::Permanent, message)
    }
    pub fn connection(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::SourceConnection, Retry::Transient, message)
    }
    pub fn protocol(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::SourceProtocol, Retry::Permanent, message)
    }
    pub fn conversion(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conversion, Retry::Permanent, message)
    }
    pub fn sink(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Sink, Retry::Transient, message)
    }
    pub fn state(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::State, Retry::Permanent, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, Retry::Permanent, message)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn retry(&self) -> Retry {
        self.retry
    }
    pub fn is_transient(&self) -> bool {
        self.retry == Retry::Transient
    }
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Prefix the message with where it happened, keeping kind and retry hint.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
