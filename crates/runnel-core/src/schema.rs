//! Kafka Connect's type system as runnel holds it. A [`Column`] is a Connect struct field: a name
//! and an [`Encoding`] (Connect type plus logical type, nested schemas for arrays, maps and
//! structs), optional, a default and, where a record read from Kafka or a transform says so,
//! its own name/version/doc/parameters ([`SchemaMeta`]). A [`Schema`] is the same without a
//! name (a record's key or value, an array's items). A [`TableSchema`] is a table's row struct,
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

/// The Kafka Connect type and Debezium logical type a value is encoded as. The source picks
/// one per column from its native type and the connector's handling modes; a record read from
/// Kafka gets the one its Connect schema names.
#[derive(Debug, Clone, PartialEq)]
pub enum Encoding {
    Boolean,
    Int8,
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
    /// `io.debezium.data.geometry.Geometry`: `{wkb, srid}`, any spatial type but a point.
    Geometry,
    Array(Arc<Schema>),
    /// A Connect map; datums are [`Datum::Map`].
    Map {
        keys: Arc<Schema>,
        values: Arc<Schema>,
    },
    /// A Connect struct; datums are [`Datum::Struct`], fields in this order.
    Struct(Arc<[Column]>),
    /// No schema (`schemas.enable=false` on the way in): the datum says what it is.
    Dynamic,
}

/// A schema's Connect name, version, doc and parameters where they are not the ones its
/// [`Encoding`] implies: records read from Kafka keep theirs exactly, transforms set their own.
/// When present it replaces the implied ones entirely.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SchemaMeta {
    pub name: Option<Arc<str>>,
    pub version: Option<i32>,
    pub doc: Option<Arc<str>>,
    pub parameters: Vec<(Arc<str>, Arc<str>)>,
}

impl SchemaMeta {
    pub fn named(name: &str) -> Arc<Self> {
        Arc::new(Self {
            name: Some(name.into()),
            ..Self::default()
        })
    }
}

/// A Connect schema outside a struct: a record's key or value, an array's items, a map's keys.
#[derive(Debug, Clone)]
pub struct Schema {
    pub encoding: Encoding,
    pub optional: bool,
    pub default: Option<Datum>,
    pub meta: Option<Arc<SchemaMeta>>,
    /// The schema's JSON, written once by the JSON encoder.
    pub json_cache: OnceLock<Box<[u8]>>,
}

impl PartialEq for Schema {
    fn eq(&self, other: &Self) -> bool {
        self.encoding == other.encoding
            && self.optional == other.optional
            && self.default == other.default
            && self.meta == other.meta
    }
}

impl Schema {
    pub fn new(encoding: Encoding, optional: bool) -> Self {
        Self {
            encoding,
            optional,
            default: None,
            meta: None,
            json_cache: OnceLock::new(),
        }
    }

    pub fn with_meta(mut self, meta: Arc<SchemaMeta>) -> Self {
        self.meta = Some(meta);
        self
    }

    pub fn with_default(mut self, default: Option<Datum>) -> Self {
        self.default = default;
        self
    }

    /// A struct named `name` of `fields`.
    pub fn structure(name: &str, fields: Vec<Column>, optional: bool) -> Self {
        Self::new(Encoding::Struct(fields.into()), optional).with_meta(SchemaMeta::named(name))
    }

    /// [`Self::structure`] with a Connect schema version (`"version": 1`).
    pub fn versioned_structure(
        name: &str,
        version: i32,
        fields: Vec<Column>,
        optional: bool,
    ) -> Self {
        Self::new(Encoding::Struct(fields.into()), optional).with_meta(Arc::new(SchemaMeta {
            name: Some(name.into()),
            version: Some(version),
            ..SchemaMeta::default()
        }))
    }

    /// The struct's fields, if it is one.
    pub fn fields(&self) -> Option<&[Column]> {
        match &self.encoding {
            Encoding::Struct(f) => Some(f),
            _ => None,
        }
    }

    /// The schema's Connect name (its own, or the one its encoding implies).
    pub fn name(&self) -> Option<&str> {
        match &self.meta {
            Some(m) => m.name.as_deref(),
            None => self.encoding.logical_name(),
        }
    }
}

impl Encoding {
    /// An array of optional items (the shape every database array column has).
    pub fn array_of(items: Encoding) -> Self {
        Encoding::Array(Arc::new(Schema::new(items, true)))
    }

    /// The logical type name this encoding implies (`io.debezium.time.MicroTimestamp`, …).
    pub fn logical_name(&self) -> Option<&'static str> {
        Some(match self {
            Encoding::Decimal { .. } => "org.apache.kafka.connect.data.Decimal",
            Encoding::VariableScaleDecimal => "io.debezium.data.VariableScaleDecimal",
            Encoding::Date => "io.debezium.time.Date",
            Encoding::ConnectDate => "org.apache.kafka.connect.data.Date",
            Encoding::MilliTime => "io.debezium.time.Time",
            Encoding::MicroTime => "io.debezium.time.MicroTime",
            Encoding::ConnectTime => "org.apache.kafka.connect.data.Time",
            Encoding::MilliTimestamp => "io.debezium.time.Timestamp",
            Encoding::MicroTimestamp => "io.debezium.time.MicroTimestamp",
            Encoding::ConnectTimestamp => "org.apache.kafka.connect.data.Timestamp",
            Encoding::ZonedTimestamp { .. } => "io.debezium.time.ZonedTimestamp",
            Encoding::ZonedTime => "io.debezium.time.ZonedTime",
            Encoding::MicroDuration => "io.debezium.time.MicroDuration",
            Encoding::IntervalString => "io.debezium.time.Interval",
            Encoding::Uuid => "io.debezium.data.Uuid",
            Encoding::Json => "io.debezium.data.Json",
            Encoding::Xml => "io.debezium.data.Xml",
            Encoding::Ltree => "io.debezium.data.Ltree",
            Encoding::Enum { .. } => "io.debezium.data.Enum",
            Encoding::Bits { .. } => "io.debezium.data.Bits",
            Encoding::Point => "io.debezium.data.geometry.Point",
            Encoding::Geometry => "io.debezium.data.geometry.Geometry",
            _ => return None,
        })
    }
}

/// One column of a table: a Connect struct field.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: Arc<str>,
    /// The database's type name (for `column.propagate.source.type`, DDL and messages); the
    /// Connect type for fields of records read from Kafka.
    pub type_name: Arc<str>,
    pub encoding: Encoding,
    /// Nullable in the database (Connect `optional`).
    pub optional: bool,
    /// The parsed column default, written as the Connect schema default and used where a
    /// non-optional value is missing (as Debezium does for the columns a DELETE does not carry).
    pub default: Option<Datum>,
    /// The field schema's own name/version/doc/parameters, when not the encoding's.
    pub meta: Option<Arc<SchemaMeta>>,
}

impl Column {
    pub fn new(name: &str, encoding: Encoding, optional: bool) -> Self {
        Self {
            name: name.into(),
            type_name: "".into(),
            encoding,
            optional,
            default: None,
            meta: None,
        }
    }

    /// This field's schema, without its name.
    pub fn schema(&self) -> Schema {
        Schema {
            encoding: self.encoding.clone(),
            optional: self.optional,
            default: self.default.clone(),
            meta: self.meta.clone(),
            json_cache: OnceLock::new(),
        }
    }

    /// A field named `name` with `schema`.
    pub fn of(name: &str, schema: &Schema) -> Self {
        Self {
            name: name.into(),
            type_name: "".into(),
            encoding: schema.encoding.clone(),
            optional: schema.optional,
            default: schema.default.clone(),
            meta: schema.meta.clone(),
        }
    }
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
    key_schema: OnceLock<Arc<Schema>>,
    value_schema: OnceLock<Arc<Schema>>,
    envelope_schema: OnceLock<Arc<Schema>>,
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
            key_schema: OnceLock::new(),
            value_schema: OnceLock::new(),
            envelope_schema: OnceLock::new(),
        }
    }

    /// The row struct's schema (`<schema_name>.Value`, optional as Debezium's `before` and
    /// `after` are), built once.
    pub fn value_schema(&self) -> &Arc<Schema> {
        self.value_schema.get_or_init(|| {
            Arc::new(Schema::structure(
                &format!("{}.Value", self.schema_name),
                self.columns.clone(),
                true,
            ))
        })
    }

    /// Debezium's envelope schema (`<schema_name>.Envelope`, version 2) with the source block
    /// `source`, built once (a table belongs to one connector, whose block it is).
    pub fn envelope_schema(&self, source: &Schema) -> &Arc<Schema> {
        self.envelope_schema.get_or_init(|| {
            let value = self.value_schema();
            let fields = vec![
                Column::of("before", value),
                Column::of("after", value),
                Column::of("source", source),
                Column::of("transaction", &transaction_block_schema()),
                Column::new("op", Encoding::String, false),
                Column::new("ts_ms", Encoding::Int64, true),
                Column::new("ts_us", Encoding::Int64, true),
                Column::new("ts_ns", Encoding::Int64, true),
            ];
            Arc::new(
                Schema::new(Encoding::Struct(fields.into()), false).with_meta(Arc::new(
                    SchemaMeta {
                        name: Some(format!("{}.Envelope", self.schema_name).into()),
                        version: Some(2),
                        ..SchemaMeta::default()
                    },
                )),
            )
        })
    }

    /// The key struct's schema (`<schema_name>.Key`: the key columns), built once.
    pub fn key_schema(&self) -> &Arc<Schema> {
        self.key_schema.get_or_init(|| {
            let fields = self.key.iter().map(|&i| self.columns[i].clone()).collect();
            Arc::new(Schema::structure(
                &format!("{}.Key", self.schema_name),
                fields,
                false,
            ))
        })
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
                    && a.meta == b.meta
            })
    }
}
/// Debezium's optional `transaction` block (`event.block`): id, total and per-collection order.
pub fn transaction_block_schema() -> Schema {
    Schema::new(
        Encoding::Struct(
            vec![
                Column::new("id", Encoding::String, false),
                Column::new("total_order", Encoding::Int64, false),
                Column::new("data_collection_order", Encoding::Int64, false),
            ]
            .into(),
        ),
        true,
    )
    .with_meta(Arc::new(SchemaMeta {
        name: Some("event.block".into()),
        version: Some(1),
        ..SchemaMeta::default()
    }))
}
