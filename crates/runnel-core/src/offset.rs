//! Source offsets: where a connector resumes. Stored as a flat JSON object with Debezium's field
//! names (PostgreSQL: `lsn`, `txId`, `ts_usec`, …), so they read the same as Kafka Connect's
//! offsets topic and can be set through the KIP-875 offsets API.

use serde_json::{Map, Value};

/// A connector's offset: Debezium-shaped key/value pairs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceOffset(pub Map<String, Value>);

impl SourceOffset {
    pub fn new() -> Self {
        Self(Map::new())
    }
    pub fn set(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.insert(key.to_string(), value.into());
        self
    }
    pub fn u64(&self, key: &str) -> Option<u64> {
        self.0.get(key).and_then(Value::as_u64)
    }
    pub fn i64(&self, key: &str) -> Option<i64> {
        self.0.get(key).and_then(Value::as_i64)
    }
    pub fn bool(&self, key: &str) -> Option<bool> {
        self.0.get(key).and_then(Value::as_bool)
    }
    pub fn str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }
    pub fn to_json(&self) -> String {
        Value::Object(self.0.clone()).to_string()
    }
    pub fn from_json(text: &str) -> Option<Self> {
        match serde_json::from_str(text).ok()? {
            Value::Object(map) => Some(Self(map)),
            _ => None,
        }
    }
}
