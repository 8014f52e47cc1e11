//! Schema-change records on the `<topic.prefix>` topic (`include.schema.changes`), in the
//! shape of Debezium's `SchemaChangeKey`/`SchemaChangeValue`: the DDL text, its database, and
//! for every table it created, altered or dropped the table's structure afterwards.

use std::sync::{Arc, OnceLock};

use runnel_core::{
    Batch, Column, Datum, Encoding, Event, EventSource, Payload, Record, Schema, SourceBlock,
    TableId,
};

use crate::ddl::{ChangeKind, TableChange};
use crate::source_block::BinlogSourceBlock;
use crate::tables::{ColumnDef, DefaultValue, Kind, TableDef, Tables};

pub struct SchemaChanges {
    pub topic: Arc<str>,
    block: Arc<BinlogSourceBlock>,
    key: Arc<Schema>,
    value: Arc<Schema>,
}

fn struct_schema(name: &str, fields: Vec<Column>, optional: bool) -> Schema {
    Schema::versioned_structure(name, 1, fields, optional)
}

fn string_array(optional: bool) -> Encoding {
    let _ = optional;
    Encoding::Array(Arc::new(Schema::new(Encoding::String, false)))
}

fn schemas(connector: &str, source: &Arc<Schema>) -> (Arc<Schema>, Arc<Schema>) {
    let ns = if connector == "mariadb" {
        "io.debezium.connector.mariadb"
    } else {
        "io.debezium.connector.mysql"
    };
    let req = |n: &str, e: Encoding| Column::new(n, e, false);
    let opt = |n: &str, e: Encoding| Column::new(n, e, true);
    let key = struct_schema(
        &format!("{ns}.SchemaChangeKey"),
        vec![req("databaseName", Encoding::String)],
        false,
    );
    let column = struct_schema(
        "io.debezium.connector.schema.Column",
        vec![
            req("name", Encoding::String),
            req("jdbcType", Encoding::Int32),
            opt("nativeType", Encoding::Int32),
            req("typeName", Encoding::String),
            opt("typeExpression", Encoding::String),
            opt("charsetName", Encoding::String),
            opt("length", Encoding::Int32),
            opt("scale", Encoding::Int32),
            req("position", Encoding::Int32),
            opt("optional", Encoding::Boolean),
            opt("autoIncremented", Encoding::Boolean),
            opt("generated", Encoding::Boolean),
            opt("comment", Encoding::String),
            opt("defaultValueExpression", Encoding::String),
            opt("enumValues", string_array(true)),
        ],
        false,
    );
    let table = struct_schema(
        "io.debezium.connector.schema.Table",
        vec![
            opt("defaultCharsetName", Encoding::String),
            opt("primaryKeyColumnNames", string_array(true)),
            req("columns", Encoding::Array(Arc::new(column))),
            opt("comment", Encoding::String),
        ],
        true,
    );
    let change = struct_schema(
        "io.debezium.connector.schema.Change",
        vec![
            req("type", Encoding::String),
            req("id", Encoding::String),
            Column::of("table", &table),
        ],
        false,
    );
    let value = struct_schema(
        &format!("{ns}.SchemaChangeValue"),
        vec![
            Column::of("source", source),
            req("ts_ms", Encoding::Int64),
            opt("databaseName", Encoding::String),
            opt("schemaName", Encoding::String),
            opt("ddl", Encoding::String),
            req("tableChanges", Encoding::Array(Arc::new(change))),
        ],
        false,
    );
    (Arc::new(key), Arc::new(value))
}

/// JDBC's `java.sql.Types` code Debezium reports for a column.
fn jdbc_type(c: &ColumnDef) -> i32 {
    match &c.kind {
        Kind::Int { bytes: 1 | 2, .. } => 5,
        Kind::Int { bytes: 3 | 4, .. } => 4,
        Kind::Int { .. } => -5,
        Kind::Decimal { .. } => 3,
        Kind::Float => 6,
        Kind::Double => 8,
        Kind::Bit(_) => -7,
        Kind::Text | Kind::Json | Kind::Uuid | Kind::Inet4 | Kind::Inet6 => {
            if c.type_name == "CHAR" { 1 } else { 12 }
        }
        Kind::Enum(_) | Kind::Set(_) => 1,
        Kind::Binary { fixed: Some(_) } => -2,
        Kind::Binary { .. } if c.type_name == "VARBINARY" => -3,
        Kind::Binary { .. } => 2004,
        Kind::Date => 91,
        Kind::Time { .. } => 92,
        Kind::DateTime { .. } => 93,
        Kind::Timestamp { .. } => 2014,
        Kind::Year => 4,
        Kind::Point | Kind::Geometry => 1111,
    }
}

fn opt_text(s: Option<&str>) -> Datum {
    s.map_or(Datum::Null, Datum::text)
}

fn opt_int(v: Option<u32>) -> Datum {
    v.map_or(Datum::Null, |v| Datum::Int(i64::from(v)))
}

impl SchemaChanges {
    pub fn new(block: Arc<BinlogSourceBlock>, topic_prefix: &str) -> Self {
        static SCHEMAS: OnceLock<[(Arc<Schema>, Arc<Schema>); 2]> = OnceLock::new();
        let all = SCHEMAS.get_or_init(|| {
            let mysql = BinlogSourceBlock::new("mysql", "");
            let maria = BinlogSourceBlock::new("mariadb", "");
            [
                schemas("mysql", mysql.schema()),
                schemas("mariadb", maria.schema()),
            ]
        });
        let (key, value) = all[usize::from(block.connector() == "mariadb")].clone();
        Self {
            topic: runnel_core::config::tables::topic_name(topic_prefix).into(),
            block,
            key,
            value,
        }
    }

    fn push_column(batch: &mut Batch, c: &ColumnDef, position: usize) -> Datum {
        let enum_values = match &c.kind {
            Kind::Enum(v) | Kind::Set(v) => Datum::Array(
                v.iter()
                    .map(|s| Datum::text(&format!("'{}'", s.replace('\'', "''"))))
                    .collect(),
            ),
            _ => Datum::Null,
        };
        let default = match &c.default {
            Some(DefaultValue::Literal(l)) => Datum::text(l),
            Some(DefaultValue::Expression(_))
                if matches!(c.kind, Kind::Timestamp { .. }) && !c.nullable =>
            {
                Datum::text("1970-01-01 00:00:00")
            }
            _ => Datum::Null,
        };
        let textual = matches!(
            c.kind,
            Kind::Text | Kind::Json | Kind::Enum(_) | Kind::Set(_)
        );
        let charset = if textual {
            opt_text(c.charset.as_deref())
        } else {
            Datum::Null
        };
        let range = batch.push_row([
            Datum::text(&c.name),
            Datum::Int(i64::from(jdbc_type(c))),
            Datum::Null,
            Datum::text(&c.type_name),
            Datum::text(&c.type_name),
            charset,
            opt_int(c.length),
            opt_int(c.scale),
            Datum::Int(position as i64),
            Datum::Bool(c.nullable),
            Datum::Bool(c.auto_increment),
            // Debezium reports an AUTO_INCREMENT column as generated too.
            Datum::Bool(c.generated || c.auto_increment),
            opt_text(c.comment.as_deref()),
            default,
            enum_values,
        ]);
        Datum::Struct(range)
    }

    fn push_table(batch: &mut Batch, t: &TableDef) -> Datum {
        let columns: Box<[Datum]> = t
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| Self::push_column(batch, c, i + 1))
            .collect();
        let pk = Datum::Array(t.primary_key.iter().map(|k| Datum::text(k)).collect());
        Datum::Struct(batch.push_row([
            opt_text(t.charset.as_deref()),
            pk,
            Datum::Array(columns),
            opt_text(t.comment.as_deref()),
        ]))
    }

    /// Appends one schema-change record.
    pub fn push(
        &self,
        batch: &mut Batch,
        source: &EventSource,
        db: &str,
        table: Option<&str>,
        ddl: &str,
        changes: &[(ChangeKind, &str, &str, Option<&TableDef>)],
    ) {
        let source_start = batch.datums.len() as u32;
        self.block.push_values(
            &mut batch.datums,
            source,
            &TableId::new(db, table.unwrap_or("")),
        );
        let source_range = source_start..batch.datums.len() as u32;
        let items: Box<[Datum]> = changes
            .iter()
            .map(|(kind, cdb, ctable, def)| {
                let t = def.map_or(Datum::Null, |d| Self::push_table(batch, d));
                let kind = match kind {
                    ChangeKind::Create => "CREATE",
                    ChangeKind::Alter => "ALTER",
                    ChangeKind::Drop => "DROP",
                };
                Datum::Struct(batch.push_row([
                    Datum::text(kind),
                    Datum::text(&format!("\"{cdb}\".\"{ctable}\"")),
                    t,
                ]))
            })
            .collect();
        let value = batch.push_row([
            Datum::Struct(source_range),
            Datum::Int(runnel_core::temporal::now_micros() / 1000),
            Datum::text(db),
            Datum::Null,
            Datum::text(ddl),
            Datum::Array(items),
        ]);
        let key = batch.push_row([Datum::text(db)]);
        batch.events.push(Event::Record(Record::new(
            self.topic.clone(),
            Some(Payload::value(&self.key, Datum::Struct(key))),
            Some(Payload::value(&self.value, Datum::Struct(value))),
        )));
    }

    /// The record of a streamed DDL statement.
    pub fn push_ddl(
        &self,
        batch: &mut Batch,
        tables: &Tables,
        source: &EventSource,
        db: &str,
        ddl: &str,
        changes: &[TableChange],
    ) {
        let items: Vec<(ChangeKind, &str, &str, Option<&TableDef>)> = changes
            .iter()
            .map(|c| {
                let def = (c.kind != ChangeKind::Drop)
                    .then(|| tables.get(&c.db, &c.table))
                    .flatten();
                (c.kind.clone(), c.db.as_str(), c.table.as_str(), def)
            })
            .collect();
        let table = changes.first().map(|c| c.table.as_str());
        self.push(batch, source, db, table, ddl, &items);
    }
}
