//! The tables as the schema history knows them (column types with their MySQL parameters,
//! nullability, defaults, key) and how each becomes a Connect schema, as Debezium's MySQL
//! connector maps it.

use std::collections::BTreeMap;
use std::sync::Arc;

use runnel_core::{Column, Datum, Encoding, SchemaMeta, TableId, TableSchema};

use crate::config::{DecimalMode, MySqlConfig, TimeMode};

/// Character sets that decide how text bytes become UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// utf8mb4, utf8mb3, utf8, ascii: valid UTF-8 as stored.
    Utf8,
    /// latin1 (cp1252 in MySQL): one byte per character.
    Latin1,
    /// binary: not text.
    Binary,
}

impl Charset {
    pub fn from_name(name: &str) -> Self {
        let n = name.to_ascii_lowercase();
        if n == "binary" {
            Charset::Binary
        } else if n.starts_with("latin1") || n == "cp1252" {
            Charset::Latin1
        } else {
            Charset::Utf8
        }
    }
}

/// A column type and the parameters that decide its values.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// TINYINT (1), SMALLINT (2), MEDIUMINT (3), INT (4), BIGINT (8) bytes.
    Int {
        bytes: u8,
        unsigned: bool,
    },
    Decimal {
        precision: u32,
        scale: u32,
    },
    Float,
    Double,
    Bit(u32),
    Text,
    /// BINARY(n) (padded to `fixed`), VARBINARY, BLOB.
    Binary {
        fixed: Option<u32>,
    },
    Date,
    Time {
        fsp: u32,
    },
    DateTime {
        fsp: u32,
    },
    Timestamp {
        fsp: u32,
    },
    Year,
    Json,
    Enum(Arc<[String]>),
    Set(Arc<[String]>),
    Point,
    /// Any other spatial type: WKB bytes.
    Geometry,
    /// MariaDB's UUID, INET4, INET6: kept as their text form.
    Uuid,
    Inet4,
    Inet6,
}

/// One column as declared.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub kind: Kind,
    /// Upper-case type name as Debezium reports it (`VARCHAR`, `INT UNSIGNED`, …).
    pub type_name: String,
    pub length: Option<u32>,
    pub scale: Option<u32>,
    pub nullable: bool,
    /// The default as written (a literal's text, or an expression such as
    /// `current_timestamp(6)`); `None` without a DEFAULT clause.
    pub default: Option<DefaultValue>,
    pub auto_increment: bool,
    pub charset: Option<String>,
    pub comment: Option<String>,
    pub generated: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    Null,
    /// A literal, unquoted.
    Literal(String),
    /// An expression (`current_timestamp(6)`, `uuid()`, …).
    Expression(String),
}

impl ColumnDef {
    pub fn charset(&self) -> Charset {
        match &self.kind {
            Kind::Binary { .. } => Charset::Binary,
            _ => self
                .charset
                .as_deref()
                .map_or(Charset::Utf8, Charset::from_name),
        }
    }
}

/// One table as declared.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    pub db: String,
    pub name: String,
    pub columns: Vec<ColumnDef>,
    pub primary_key: Vec<String>,
    pub charset: Option<String>,
    pub comment: Option<String>,
}

impl TableDef {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }
}

/// Every known table, by (database, table) in lower case (MySQL on Linux is case-sensitive for
/// tables by default, but `lower_case_table_names` varies; lookups are by exact name first).
#[derive(Debug, Clone, Default)]
pub struct Tables {
    pub tables: BTreeMap<(String, String), TableDef>,
}

impl Tables {
    pub fn get(&self, db: &str, table: &str) -> Option<&TableDef> {
        self.tables.get(&(db.to_string(), table.to_string()))
    }

    pub fn get_mut(&mut self, db: &str, table: &str) -> Option<&mut TableDef> {
        self.tables.get_mut(&(db.to_string(), table.to_string()))
    }

    pub fn put(&mut self, t: TableDef) {
        self.tables.insert((t.db.clone(), t.name.clone()), t);
    }

    pub fn remove(&mut self, db: &str, table: &str) -> Option<TableDef> {
        self.tables.remove(&(db.to_string(), table.to_string()))
    }

    pub fn drop_database(&mut self, db: &str) {
        self.tables.retain(|(d, _), _| d != db);
    }
}

/// How a table's rows become events: the Connect schema and, per captured column, the
/// position of the column in the row images.
#[derive(Debug, Clone)]
pub struct Captured {
    pub schema: Arc<TableSchema>,
    /// The same schema with the snapshot's encodings (TIMESTAMP values trimmed of trailing
    /// zeros, as Debezium's snapshot reads them through JDBC).
    pub snapshot_schema: Arc<TableSchema>,
    /// Index of each table column in `schema.columns`, `None` when filtered out.
    pub slots: Vec<Option<usize>>,
    pub def: TableDef,
}

/// The Connect encoding Debezium's MySQL connector gives a column.
pub fn encoding(c: &ColumnDef, cfg: &MySqlConfig) -> (Encoding, Option<Arc<SchemaMeta>>) {
    let m = &cfg.modes;
    let named = |name: &str, params: Vec<(Arc<str>, Arc<str>)>| {
        Some(Arc::new(SchemaMeta {
            name: Some(name.into()),
            version: Some(1),
            doc: None,
            parameters: params,
        }))
    };
    match &c.kind {
        Kind::Int { bytes, unsigned } => match (bytes, unsigned) {
            (1, _) | (2, false) => (Encoding::Int16, None),
            (2, true) | (3, _) | (4, false) => (Encoding::Int32, None),
            (8, true) if m.bigint_precise => (
                Encoding::Decimal {
                    scale: 0,
                    precision: Some(20),
                },
                None,
            ),
            _ => (Encoding::Int64, None),
        },
        Kind::Decimal { precision, scale } => (
            match m.decimal {
                DecimalMode::Precise => Encoding::Decimal {
                    scale: *scale,
                    precision: Some(*precision),
                },
                DecimalMode::Double => Encoding::DecimalDouble,
                DecimalMode::String => Encoding::DecimalString,
            },
            None,
        ),
        Kind::Float => (Encoding::Float32, None),
        Kind::Double => (Encoding::Float64, None),
        Kind::Bit(1) => (Encoding::Boolean, None),
        Kind::Bit(n) => (Encoding::Bits { length: *n }, None),
        Kind::Text | Kind::Uuid | Kind::Inet4 | Kind::Inet6 => (Encoding::String, None),
        Kind::Json => (Encoding::Json, None),
        Kind::Binary { .. } => (Encoding::Binary(m.binary), None),
        Kind::Geometry => (Encoding::Geometry, None),
        Kind::Date => (
            match m.time {
                TimeMode::Connect => Encoding::ConnectDate,
                _ => Encoding::Date,
            },
            None,
        ),
        Kind::Time { .. } => (
            match m.time {
                TimeMode::Connect => Encoding::ConnectTime,
                _ => Encoding::MicroTime,
            },
            None,
        ),
        Kind::DateTime { fsp } => (
            match m.time {
                TimeMode::Connect => Encoding::ConnectTimestamp,
                _ if *fsp <= 3 => Encoding::MilliTimestamp,
                _ => Encoding::MicroTimestamp,
            },
            None,
        ),
        Kind::Timestamp { fsp } => (Encoding::ZonedTimestamp { fraction: *fsp }, None),
        Kind::Year => (Encoding::Int32, named("io.debezium.time.Year", Vec::new())),
        Kind::Enum(values) => (
            Encoding::Enum {
                allowed: values.join(",").into(),
            },
            None,
        ),
        Kind::Set(values) => (
            Encoding::String,
            named(
                "io.debezium.data.EnumSet",
                vec![("allowed".into(), values.join(",").into())],
            ),
        ),
        Kind::Point => (Encoding::Point, None),
    }
}

/// The schema default Debezium gives a column: its literal default converted to the column's
/// type; for a NOT NULL TIMESTAMP defaulting to an expression, the epoch.
fn default_datum(c: &ColumnDef, enc: &Encoding) -> Option<Datum> {
    let lit = match c.default.as_ref()? {
        DefaultValue::Null => return None,
        DefaultValue::Expression(_) => {
            return match (&c.kind, c.nullable) {
                // Debezium's default of a NOT NULL TIMESTAMP defaulting to an expression: the
                // epoch, without fraction digits whatever the column's precision.
                (Kind::Timestamp { .. }, false) => Some(Datum::Text(bytes::Bytes::from_static(
                    b"1970-01-01T00:00:00Z",
                ))),
                _ => None,
            };
        }
        DefaultValue::Literal(l) => l,
    };
    crate::types::parse_text(c, enc, lit.as_bytes(), false).ok()
}

/// Builds the Connect schema of a captured table.
pub fn capture(def: &TableDef, cfg: &MySqlConfig, version: u32) -> Captured {
    let mut columns = Vec::new();
    let mut snapshot_columns = Vec::new();
    let mut slots = Vec::with_capacity(def.columns.len());
    for c in &def.columns {
        if !cfg.column_included(&def.db, &def.name, &c.name) {
            slots.push(None);
            continue;
        }
        let (enc, meta) = encoding(c, cfg);
        let mut col = Column::new(&c.name, enc.clone(), c.nullable);
        col.type_name = c.type_name.as_str().into();
        col.meta = meta;
        col.default = default_datum(c, &enc);
        let mut snap = col.clone();
        if let Encoding::ZonedTimestamp { .. } = enc {
            snap.encoding = Encoding::ZonedTimestamp { fraction: 0 };
        }
        slots.push(Some(columns.len()));
        columns.push(col);
        snapshot_columns.push(snap);
    }
    let key_names: Vec<String> = match cfg.key_columns_for(&def.db, &def.name) {
        Some(cols) => cols.to_vec(),
        None => def.primary_key.clone(),
    };
    let key: Vec<usize> = key_names
        .iter()
        .filter_map(|k| {
            columns
                .iter()
                .position(|c: &Column| c.name.eq_ignore_ascii_case(k))
        })
        .collect();
    let id = TableId::new(&def.db, &def.name);
    let topic: Arc<str> = cfg.topic_for(&def.db, &def.name).into();
    let schema_name = topic.clone();
    let schema = Arc::new(TableSchema::new(
        id.clone(),
        topic.clone(),
        schema_name.clone(),
        columns,
        key.clone(),
        version,
    ));
    let snapshot_schema = Arc::new(TableSchema::new(
        id,
        topic,
        schema_name,
        snapshot_columns,
        key,
        version,
    ));
    Captured {
        schema,
        snapshot_schema,
        slots,
        def: def.clone(),
    }
}
