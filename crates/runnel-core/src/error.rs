//! One error type for the whole pipeline, classified where it arises by [`ErrorKind`] and a
//! [`Retry`] hint, so the runtime decides "retry or fail" from data, never from message strings.
//! An error may name the config key it is about (validation reports it on that key) and keeps
//! the error that caused it (`std::error::Error::source`).

use std::fmt;
use std::sync::Arc;

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
    /// A value could not be converted to or from its Connect representation.
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

type Cause = Arc<dyn std::error::Error + Send + Sync>;

/// The error type of every runnel crate below the binary.
#[derive(Clone)]
pub struct Error {
    kind: ErrorKind,
    retry: Retry,
    message: String,
    /// The config key this error is about, when it is about one.
    key: Option<Arc<str>>,
    cause: Option<Cause>,
}

impl Error {
    pub fn new(kind: ErrorKind, retry: Retry, message: impl Into<String>) -> Self {
        Self {
            kind,
            retry,
            message: message.into(),
            key: None,
            cause: None,
        }
    }
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, Retry::Permanent, message)
    }
    /// A config error about one key (reported on that key by `config/validate`).
    pub fn invalid(key: &str, message: impl Into<String>) -> Self {
        Self::config(message).with_key(key)
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
    /// The destination is unavailable for now (network, broker down, lock timeout): retrying
    /// later can succeed.
    pub fn sink_transient(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Sink, Retry::Transient, message)
    }
    /// The destination refused the records (permissions, a record too large, a full disk, a
    /// constraint): retrying the same records fails again until the user acts.
    pub fn sink_permanent(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Sink, Retry::Permanent, message)
    }
    pub fn state(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::State, Retry::Permanent, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, Retry::Permanent, message)
    }

    /// Names the config key the error is about.
    pub fn with_key(mut self, key: &str) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Keeps `cause` as this error's source.
    pub fn caused_by(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.cause = Some(Arc::new(cause));
        self
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
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// Prefix the message with where it happened, keeping kind, retry hint, key and cause.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind)
            .field("retry", &self.retry)
            .field("message", &self.message);
        if let Some(k) = &self.key {
            d.field("key", k);
        }
        if let Some(c) = &self.cause {
            d.field("cause", &c.to_string());
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_and_cause_through_context() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let e = Error::invalid("file", "cannot open out.jsonl")
            .caused_by(io)
            .context("connector \"a\"");
        assert_eq!(e.key(), Some("file"));
        assert_eq!(e.message(), "connector \"a\": cannot open out.jsonl");
        let source = std::error::Error::source(&e).expect("cause kept");
        assert_eq!(source.to_string(), "denied");
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(!e.is_transient());
    }
}
