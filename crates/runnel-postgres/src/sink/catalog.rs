//! The target database's catalog as the sink needs it: each table's columns (with the kind of
//! text each takes), its primary key, the foreign keys between tables (the order rows must be
//! written in), and the DDL schema evolution runs (create a table from the records' schema, add
//! or drop a column).

use std::collections::HashMap;
use std::sync::Arc;

use runnel_core::{Column, Encoding, Error, Result};
use tokio_postgres::Client;

use super::values::Kind;

/// One column of a target table.
#[derive(Debug, Clone)]
pub struct TargetColumn {
    pub name: String,
    /// `format_type(…)`: its type as declared (`numeric(10,2)`, `"Mood"`, `integer[]`).
    pub sql_type: String,
    /// What its text is cast to: the type without its modifier, so that assigning the value
    /// checks the modifier (an explicit cast to `varchar(5)` would cut a longer value).
    pub cast_type: String,
    pub kind: Kind,
    /// The element kind of an array column.
    pub elem: Kind,
    pub not_null: bool,
    pub has_default: bool,
    pub generated: bool,
}

/// A table of the target database.
#[derive(Debug)]
pub struct TargetTable {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    /// `"schema"."name"`.
    pub qualified: String,
    pub columns: Vec<TargetColumn>,
    /// Indices of the primary key's columns, in key order.
    pub pk: Vec<usize>,
}

impl TargetTable {
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    pub fn display(&self) -> String {
        format!("\"{}\".\"{}\"", self.schema, self.name)
    }
}

pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote(schema), quote(name))
}

/// The error of a catalog query or DDL statement, classified.
pub fn query_error(what: &str, e: &tokio_postgres::Error) -> Error {
    super::sink_error(what, e)
}

/// Loads `schema.name`, if it exists.
pub async fn load_table(client: &Client, schema: &str, name: &str) -> Result<Option<TargetTable>> {
    let what = format!("reading the catalog of {}", qualified(schema, name));
    let Some(row) = client
        .query_opt(
            "SELECT c.oid::int8 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
            &[&schema, &name],
        )
        .await
        .map_err(|e| query_error(&what, &e))?
    else {
        return Ok(None);
    };
    let oid = row.get::<_, i64>(0);
    let rows = client
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                    a.attgenerated::text <> '', a.atthasdef, bt.typname::text, \
                    bt.typcategory::text, COALESCE(et.typname::text, ''), \
                    COALESCE(et.typcategory::text, ''), format_type(a.atttypid, NULL) \
             FROM pg_attribute a \
             JOIN pg_type t ON t.oid = a.atttypid \
             JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END \
             LEFT JOIN pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A' \
             WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
            &[&oid],
        )
        .await
        .map_err(|e| query_error(&what, &e))?;
    let first = |s: String| s.bytes().next().unwrap_or(b'U');
    let columns: Vec<TargetColumn> = rows
        .into_iter()
        .map(|r| {
            let base: String = r.get(5);
            let category = first(r.get(6));
            let elem_name: String = r.get(7);
            let elem_category = first(r.get(8));
            let kind = Kind::of(&base, category);
            let elem = Kind::of(&elem_name, elem_category);
            // A bit string cast to `bit` is cut to one bit: cast to varbit, assign to bit(n).
            // `character` in a cast is char(1): cast to bpchar (any length).
            let cast_type = match (kind, elem) {
                (Kind::Bit, _) => "varbit".to_string(),
                (Kind::Array, Kind::Bit) => "varbit[]".to_string(),
                _ if base == "bpchar" => "bpchar".to_string(),
                _ if elem_name == "bpchar" => "bpchar[]".to_string(),
                _ => r.get(9),
            };
            TargetColumn {
                name: r.get(0),
                sql_type: r.get(1),
                cast_type,
                kind,
                elem,
                not_null: r.get(2),
                generated: r.get(3),
                has_default: r.get(4),
            }
        })
        .collect();
    let pk_names: Vec<String> = client
        .query(
            "SELECT a.attname::text FROM pg_index i, unnest(i.indkey) WITH ORDINALITY k(attnum, ord) \
             JOIN pg_attribute a ON a.attnum = k.attnum \
             WHERE i.indrelid = $1::int8::oid AND i.indisprimary AND a.attrelid = i.indrelid \
             ORDER BY k.ord",
            &[&oid],
        )
        .await
        .map_err(|e| query_error(&what, &e))?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let pk = pk_names
        .iter()
        .filter_map(|n| columns.iter().position(|c| &c.name == n))
        .collect();
    Ok(Some(TargetTable {
        oid: oid as u32,
        schema: schema.to_string(),
        name: name.to_string(),
        qualified: qualified(schema, name),
        columns,
        pk,
    }))
}

/// Each table's place in foreign-key order: a table referenced by another (through a key
/// that is checked immediately) ranks below it. Tables in a cycle share a rank.
pub async fn reference_ranks(client: &Client) -> Result<HashMap<u32, u32>> {
    let rows = client
        .query(
            "SELECT conrelid::int8, confrelid::int8 FROM pg_constraint \
             WHERE contype = 'f' AND NOT condeferrable AND conrelid <> confrelid",
            &[],
        )
        .await
        .map_err(|e| query_error("reading foreign keys", &e))?;
    let edges: Vec<(u32, u32)> = rows
        .iter()
        .map(|r| (r.get::<_, i64>(0) as u32, r.get::<_, i64>(1) as u32))
        .collect();
    Ok(ranks(&edges))
}

/// Longest path to a table no one references, along (referencing → referenced) edges; a
/// cycle stops the walk (its tables keep the rank reached so far).
pub fn ranks(edges: &[(u32, u32)]) -> HashMap<u32, u32> {
    let mut rank: HashMap<u32, u32> = HashMap::new();
    for &(from, to) in edges {
        rank.entry(from).or_insert(0);
        rank.entry(to).or_insert(0);
    }
    // Bellman-Ford style relaxation, bounded by the number of tables (cycles stop there).
    for _ in 0..rank.len() {
        let mut changed = false;
        for &(from, to) in edges {
            let want = rank[&to] + 1;
            if rank[&from] < want && want <= rank.len() as u32 {
                rank.insert(from, want);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    rank
}

/// The PostgreSQL type of a new column for a record field. `pg_source`: the field comes from a
/// PostgreSQL source in this process, whose type names are kept where the target has them
/// built in.
pub fn column_type(col: &Column, pg_source: bool) -> Result<String> {
    if pg_source && let Some(t) = builtin_type(col) {
        return Ok(t);
    }
    encoding_type(
        &col.encoding,
        col.meta.as_ref().and_then(|m| m.name.as_deref()),
    )
    .ok_or_else(|| {
        Error::conversion(format!(
            "field \"{}\" has no type a PostgreSQL column can take (a value without a schema): \
                 create the table yourself, or send records with schemas",
            col.name
        ))
    })
}

/// A PostgreSQL source's own type name, when every PostgreSQL has it.
fn builtin_type(col: &Column) -> Option<String> {
    let name = col.type_name.as_ref();
    if let Some(elem) = name.strip_prefix('_') {
        let inner = match &col.encoding {
            Encoding::Array(s) => Column {
                type_name: elem.into(),
                ..Column::of(&col.name, s)
            },
            _ => return None,
        };
        return builtin_type(&inner).map(|t| format!("{t}[]"));
    }
    Some(match name {
        "bit" => match col.encoding {
            Encoding::Bits { length } if length > 0 => format!("bit({length})"),
            _ => "bit(1)".into(),
        },
        "varbit" => match col.encoding {
            Encoding::Bits { length } if length > 0 => format!("varbit({length})"),
            _ => "varbit".into(),
        },
        "numeric" => match col.encoding {
            Encoding::Decimal {
                scale,
                precision: Some(p),
            } => format!("numeric({p},{scale})"),
            _ => "numeric".into(),
        },
        // `bpchar` without a length takes any length (`char` would be char(1)).
        "bpchar" => "bpchar".into(),
        "int2" | "int4" | "int8" | "float4" | "float8" | "bool" | "text" | "varchar" | "name"
        | "bytea" | "date" | "time" | "timetz" | "timestamp" | "timestamptz" | "interval"
        | "uuid" | "json" | "jsonb" | "xml" | "inet" | "cidr" | "macaddr" | "macaddr8"
        | "money" | "point" | "box" | "circle" | "polygon" | "line" | "lseg" | "path"
        | "int4range" | "int8range" | "numrange" | "tsrange" | "tstzrange" | "daterange"
        | "tsvector" | "tsquery" | "oid" | "pg_lsn" => name.to_string(),
        _ => return None,
    })
}

/// The column type for a Connect type (with its logical name).
fn encoding_type(enc: &Encoding, name: Option<&str>) -> Option<String> {
    match name {
        Some("io.debezium.time.ZonedTimestamp") => return Some("timestamptz".into()),
        Some("io.debezium.time.ZonedTime") => return Some("timetz".into()),
        Some("io.debezium.time.Interval") => return Some("interval".into()),
        Some("io.debezium.data.Uuid") => return Some("uuid".into()),
        Some("io.debezium.data.Json") => return Some("jsonb".into()),
        Some("io.debezium.data.Xml") => return Some("xml".into()),
        _ => {}
    }
    Some(
        match enc {
            Encoding::Boolean => "boolean",
            Encoding::Int8 | Encoding::Int16 => "smallint",
            Encoding::Int32 => "integer",
            Encoding::Int64 => "bigint",
            Encoding::Float32 => "real",
            Encoding::Float64 | Encoding::DecimalDouble => "double precision",
            Encoding::String | Encoding::Enum { .. } | Encoding::Ltree => "text",
            Encoding::Binary(runnel_core::BinaryMode::Bytes) => "bytea",
            Encoding::Binary(_) => "text",
            Encoding::Decimal {
                scale,
                precision: Some(p),
            } if *p >= *scale && *p > 0 => return Some(format!("numeric({p},{scale})")),
            Encoding::Decimal { .. } | Encoding::VariableScaleDecimal | Encoding::DecimalString => {
                "numeric"
            }
            Encoding::Date | Encoding::ConnectDate => "date",
            Encoding::MilliTime | Encoding::MicroTime | Encoding::ConnectTime => "time",
            Encoding::MilliTimestamp | Encoding::MicroTimestamp | Encoding::ConnectTimestamp => {
                "timestamp"
            }
            Encoding::ZonedTimestamp { .. } => "timestamptz",
            Encoding::ZonedTime => "timetz",
            Encoding::MicroDuration | Encoding::IntervalString => "interval",
            Encoding::Uuid => "uuid",
            Encoding::Json | Encoding::Map { .. } | Encoding::Struct(_) => "jsonb",
            Encoding::Xml => "xml",
            Encoding::Bits { length } if *length > 0 => {
                return Some(format!("varbit({length})"));
            }
            Encoding::Bits { .. } => "varbit",
            Encoding::Point => "point",
            Encoding::Geometry => "bytea",
            Encoding::Array(items) => {
                let inner = encoding_type(
                    &items.encoding,
                    items.meta.as_ref().and_then(|m| m.name.as_deref()),
                )?;
                return Some(if inner.ends_with("[]") || inner == "jsonb" {
                    "jsonb".into()
                } else {
                    format!("{inner}[]")
                });
            }
            Encoding::Dynamic => return None,
        }
        .to_string(),
    )
}

/// Whether a column of `kind` can take values typed `enc`: a value that cannot is a clear
/// error naming the column before anything is written.
pub fn compatible(kind: Kind, col: &Column) -> bool {
    use Encoding as E;
    let enc = &col.encoding;
    // Debezium's temporal types read from Kafka are strings with a logical name.
    let named = col.meta.as_ref().and_then(|m| m.name.as_deref());
    let temporal_text = matches!(
        named,
        Some(
            "io.debezium.time.ZonedTimestamp"
                | "io.debezium.time.ZonedTime"
                | "io.debezium.time.IsoDate"
                | "io.debezium.time.IsoTime"
                | "io.debezium.time.IsoTimestamp"
                | "io.debezium.time.Interval"
        )
    );
    match kind {
        // Text takes every value's text; arrays of anything in an array column.
        Kind::Text => true,
        Kind::Array => matches!(enc, E::Array(_) | E::String | E::Json),
        Kind::Json => !matches!(enc, E::Binary(_)),
        Kind::Bool => matches!(
            enc,
            E::Boolean | E::Bits { .. } | E::String | E::Int8 | E::Int16 | E::Int32 | E::Int64
        ),
        Kind::Bit => matches!(enc, E::Boolean | E::Bits { .. } | E::String),
        Kind::Number => matches!(
            enc,
            E::Boolean
                | E::Int8
                | E::Int16
                | E::Int32
                | E::Int64
                | E::Float32
                | E::Float64
                | E::Decimal { .. }
                | E::VariableScaleDecimal
                | E::DecimalString
                | E::DecimalDouble
        ),
        Kind::Bytea => matches!(enc, E::Binary(_)),
        Kind::Date => matches!(enc, E::Date | E::ConnectDate) || temporal_text,
        Kind::Time | Kind::TimeTz => {
            matches!(
                enc,
                E::MilliTime | E::MicroTime | E::ConnectTime | E::ZonedTime
            ) || temporal_text
        }
        Kind::Timestamp | Kind::TimestampTz => {
            matches!(
                enc,
                E::MilliTimestamp
                    | E::MicroTimestamp
                    | E::ConnectTimestamp
                    | E::ZonedTimestamp { .. }
                    | E::Date
                    | E::ConnectDate
            ) || temporal_text
        }
        Kind::Interval => matches!(enc, E::MicroDuration | E::IntervalString) || temporal_text,
        Kind::Hstore => matches!(enc, E::Json | E::Map { .. } | E::String),
    }
}

/// A short name of a Connect type for messages.
pub fn describe(col: &Column) -> String {
    match col
        .meta
        .as_ref()
        .and_then(|m| m.name.as_deref())
        .or(col.encoding.logical_name())
    {
        Some(n) => n.to_string(),
        None => format!("{:?}", col.encoding)
            .split(['(', ' ', '{'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase(),
    }
}

/// Shared: a loaded table, replaced when DDL changes it.
pub type TableRef = Arc<TargetTable>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_put_referenced_tables_lower() {
        // order_details → orders → customers; order_details → products; 7 ↔ 8 cycle.
        let r = ranks(&[(4, 5), (4, 6), (5, 3), (7, 8), (8, 7)]);
        assert!(r[&3] < r[&5] && r[&5] < r[&4] && r[&6] < r[&4]);
        assert!(r[&7] <= 6 && r[&8] <= 6);
    }

    #[test]
    fn types_for_new_columns() {
        let c = |enc: Encoding, ty: &str| Column {
            type_name: ty.into(),
            ..Column::new("c", enc, true)
        };
        let dec = Encoding::Decimal {
            scale: 2,
            precision: Some(10),
        };
        assert_eq!(
            column_type(&c(dec.clone(), "numeric"), true).unwrap(),
            "numeric(10,2)"
        );
        assert_eq!(column_type(&c(dec, ""), false).unwrap(), "numeric(10,2)");
        assert_eq!(
            column_type(&c(Encoding::array_of(Encoding::Int32), "_int4"), true).unwrap(),
            "int4[]"
        );
        assert_eq!(
            column_type(
                &c(
                    Encoding::Enum {
                        allowed: "a,b".into()
                    },
                    "mood"
                ),
                true
            )
            .unwrap(),
            "text"
        );
        assert_eq!(
            column_type(
                &c(Encoding::ZonedTimestamp { fraction: 6 }, "timestamptz"),
                false
            )
            .unwrap(),
            "timestamptz"
        );
        assert_eq!(
            column_type(&c(Encoding::Int8, "int8"), false).unwrap(),
            "smallint"
        );
        assert!(column_type(&c(Encoding::Dynamic, ""), false).is_err());
    }
}
