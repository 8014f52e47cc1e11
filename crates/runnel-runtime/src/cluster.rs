//! What a worker in a group of workers needs from the group (distributed mode): the three
//! internal topics in Kafka Connect's formats (`connect_records.rs`) as its shared state, and
//! the group's word on which connectors this worker runs. The Kafka implementation lives with
//! the binary (`runnel/src/cluster.rs`); the worker only sees this seam.

use runnel_core::Result;
use runnel_core::plugin::BoxFuture;

use crate::connect_records::ConnectRecord;

/// The group's three internal topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InternalTopic {
    /// Connector configs, target states, restart requests: one partition, one order.
    Config,
    /// Source offsets, `["<connector>", {partition}]` → offset.
    Offset,
    /// Connector and task statuses, with the worker running them.
    Status,
}

/// Keys and their latest values, as a compacted topic holds them.
pub type KeyValues = Vec<(Vec<u8>, Vec<u8>)>;

pub trait Cluster: Send + Sync {
    /// Appends `records` to `topic` in order. For the config topic the answer comes once this
    /// worker has read them back and applied them, so that a REST write is visible to its
    /// writer when answered (and to every worker in the same order).
    fn append(&self, topic: InternalTopic, records: Vec<ConnectRecord>) -> BoxFuture<Result<()>>;

    /// Every key of `topic` starting with `prefix` and its latest value, once this worker has
    /// read what the topic held when asked.
    fn read(&self, topic: InternalTopic, prefix: Vec<u8>) -> BoxFuture<Result<KeyValues>>;

    /// The latest value of `key` as read so far (no waiting: status answers).
    fn cached(&self, topic: InternalTopic, key: &[u8]) -> Option<Vec<u8>>;

    /// Whether the group has given `connector` to this worker now.
    fn owns(&self, connector: &str) -> bool;

    /// This worker's generation in the group, carried in its status records.
    fn generation(&self) -> i32;

    /// Fences every earlier producer of `transactional_id` (exactly-once mode): from now on
    /// the broker refuses their writes and has aborted their open transaction.
    fn fence(&self, transactional_id: String) -> BoxFuture<Result<()>>;
}
