//! Table schemas: columns with the Kafka Connect encoding Debezium gives them. A schema is
//! built once per table version and shared (`Arc`) by every event of that version.

use std::sync::{Arc, OnceLock};

use crate::datum::Datum;

/// `schema.table` (or `database.table` for MySQL).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId {
    pub schema: Arc<str>,
    pub table: Arc<str>,
}

impl TableId {
    pub fn new(schema: &str, table: &str) -> Self {
        Self {
            schema: schema.into(),
            table: table.into(),
        }
    }
}

impl std::fmt::Display for TableId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.table)
    }
}

/// How binary values are written (`binary.handling.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryMode {
    /// Connect `bytes`: base64 in JSON (Debezium's `bytes`).
    Bytes,
    Base64,
    Base64UrlSafe,
    Hex,
}

/// The Kafka Connect type and Debezium logical type a column is encoded as. The source picks
/// one per column from its native type and the connector's handling modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoding {
    Boolean,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    String,
    Binary(BinaryMode),
    /// `org.apache.kafka.connect.data.Decimal`: unscaled two's-complement bytes.
    Decimal {
        scale: u32,
        precision: Option<u32>,
    },
    /// `io.debezium.data.VariableScaleDecimal` (`{scale, value}`).
    VariableScaleDecimal,
    /// `decimal.handling.mode=string`.
    DecimalString,
    /// `decimal.handling.mode=double`.
    DecimalDouble,
    /// `io.debezium.time.Date`: days since epoch.
    Date,
    /// `org.apache.kafka.connect.data.Date` (`time.precision.mode=connect`).
    ConnectDate,
    /// `io.debezium.time.Time`: milliseconds since midnight (int32).
    MilliTime,
    /// `io.debezium.time.MicroTime`.
    MicroTime,
    /// `org.apache.kafka.connect.data.Time`: milliseconds (int32).
    ConnectTime,
    /// `io.debezium.time.Timestamp`: epoch milliseconds.
    MilliTimestamp,
    /// `io.debezium.time.MicroTimestamp`.
    MicroTimestamp,
    /// `org.apache.kafka.connect.data.Timestamp`: epoch milliseconds.
    ConnectTimestamp,
    /// `io.debezium.time.ZonedTimestamp`: ISO-8601 in UTC with exactly `fraction` digits
    /// (0: only as many as needed, as Java's `ISO_OFFSET_DATE_TIME`).
    ZonedTimestamp {
        fraction: u32,
    },
    /// `io.debezium.time.ZonedTime`.
    ZonedTime,
    /// `io.debezium.time.MicroDuration` (a month is 30.4375 days, as Debezium).
    MicroDuration,
    /// `io.debezium.time.Interval` (ISO-8601 string, `interval.handling.mode=string`).
    IntervalString,
    Uuid,
    Json,
    Xml,
    Enum {
        allowed: Arc<str>,
    },
    Ltree,
    /// `io.debezium.data.Bits`: bytes, least significant byte first.
    Bits {
        length: u32,
    },
    /// `io.debezium.data.geometry.Point`.
    Point,
    Array(Box<Encoding>),
}

/// One column of a table.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: Arc<str>,
    /// The database's type name (for `column.propagate.source.type`, DDL and messages).
    pub type_name: Arc<str>,
    pub encoding: Encoding,
    /// Nullable in the database (Connect `optional`).
    pub optional: bool,
    /// The parsed column default, written as the Connect schema default and used where a
    /// non-optional value is missing (as Debezium does for the columns a DELETE does not carry).
    pub default: Option<Datum>,
}

/// A table's structure at one point in time.
#[derive(Debug)]
pub struct TableSchema {
    pub id: TableId,
    /// Topic the table's events go to.
    pub topic: Arc<str>,
    /// Prefix of Connect schema names (`<topic.prefix>.<schema>.<table>`).
    pub schema_name: Arc<str>,
    pub columns: Vec<Column>,
    /// Indices of the key columns (primary key or `message.key.columns`), in key order.
    pub key: Vec<usize>,
    /// Increments on every change of the table's structure.
    pub version: u32,
    /// The encoders' cache of this schema's JSON (per encoder configuration).
    pub json_cache: OnceLock<Arc<dyn std::any::Any + Send + Sync>>,
}

impl TableSchema {
    pub fn new(
        id: TableId,
        topic: Arc<str>,
        schema_name: Arc<str>,
        columns: Vec<Column>,
        key: Vec<usize>,
        version: u32,
    ) -> Self {
        Self {
            id,
            topic,
            schema_name,
            columns,
            key,
            version,
            json_cache: OnceLock::new(),
        }
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| &*c.name == name)
    }

    /// Same columns, types and key: a schema change needs a new version only when this is false.
    pub fn same_shape(&self, other: &TableSchema) -> bool {
        self.key == other.key
            && self.columns.len() == other.columns.len()
            && self.columns.iter().zip(&other.columns).all(|(a, b)| {
                a.name == b.name
                    && a.encoding == b.encoding
                    && a.optional == b.optional
                    && a.default == b.default
            })
    }
}
