//! DDL applied to the known tables: the statements of the binlog's QUERY events and the
//! `SHOW CREATE TABLE` text of the schema snapshot, parsed with `sqlparser`'s MySQL dialect
//! (not regular expressions). Statements that cannot change a table's columns (GRANT,
//! CREATE PROCEDURE, CREATE INDEX, …) are not parsed at all.

use std::sync::Arc;

use sqlparser::ast::{
    AlterTableOperation, ColumnDef as SqlColumn, ColumnOption, MySQLColumnPosition, ObjectName,
    ObjectType, Statement, TableConstraint,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use crate::tables::{ColumnDef, DefaultValue, Kind, TableDef, Tables};

/// What a statement did to a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    Create,
    Alter,
    Drop,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableChange {
    pub kind: ChangeKind,
    pub db: String,
    pub table: String,
    /// For a rename: the old name.
    pub previous: Option<(String, String)>,
}

/// A statement the parser does not understand, or one that names a table not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DdlError(pub String);

impl std::fmt::Display for DdlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a statement may change a table's structure (and must therefore be understood).
pub fn is_schema_statement(sql: &str) -> bool {
    let words: Vec<String> = strip_comments(sql)
        .split_whitespace()
        .take(4)
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    match w(0) {
        "CREATE" => {
            let mut i = 1;
            if w(i) == "OR" {
                i += 2;
            }
            while matches!(w(i), "TEMPORARY") {
                i += 1;
            }
            matches!(w(i), "TABLE" | "DATABASE" | "SCHEMA")
        }
        "ALTER" => matches!(w(1), "TABLE" | "ONLINE" | "IGNORE"),
        "DROP" => matches!(w(1), "TABLE" | "DATABASE" | "SCHEMA" | "TEMPORARY"),
        "RENAME" => w(1) == "TABLE",
        "TRUNCATE" => true,
        _ => false,
    }
}

/// The statement without leading comments (MariaDB prefixes some with `/* … */`).
fn strip_comments(sql: &str) -> &str {
    let mut s = sql.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("/*") {
            match rest.find("*/") {
                Some(end) => s = rest[end + 2..].trim_start(),
                None => return "",
            }
        } else if s.starts_with("--") || s.starts_with('#') {
            match s.find('\n') {
                Some(end) => s = s[end + 1..].trim_start(),
                None => return "",
            }
        } else {
            return s;
        }
    }
}

fn name_parts(name: &ObjectName, default_db: &str) -> (String, String) {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| p.to_string().trim_matches('`').to_string())
        .collect();
    match parts.as_slice() {
        [db, table] => (db.clone(), table.clone()),
        [table] => (default_db.to_string(), table.clone()),
        _ => (default_db.to_string(), parts.join(".")),
    }
}

fn unquote(s: &str) -> String {
    s.trim_matches('`').to_string()
}

/// Applies one statement (run with default database `default_db`) to `tables`.
pub fn apply(
    tables: &mut Tables,
    default_db: &str,
    sql: &str,
) -> Result<Vec<TableChange>, DdlError> {
    if !is_schema_statement(sql) {
        return Ok(Vec::new());
    }
    let statements = Parser::parse_sql(&MySqlDialect {}, sql).map_err(|e| {
        DdlError(format!(
            "cannot parse DDL statement {:?}: {e}",
            truncate(sql)
        ))
    })?;
    let mut changes = Vec::new();
    for st in statements {
        apply_statement(tables, default_db, sql, st, &mut changes)?;
    }
    Ok(changes)
}

fn truncate(sql: &str) -> String {
    let s: String = sql.chars().take(300).collect();
    if s.len() < sql.len() {
        format!("{s}…")
    } else {
        s
    }
}

fn apply_statement(
    tables: &mut Tables,
    default_db: &str,
    sql: &str,
    st: Statement,
    changes: &mut Vec<TableChange>,
) -> Result<(), DdlError> {
    match st {
        Statement::CreateTable(ct) => {
            let (db, name) = name_parts(&ct.name, default_db);
            if ct.if_not_exists && tables.get(&db, &name).is_some() {
                return Ok(());
            }
            let def = if let Some(like) = ct.like.as_ref() {
                let like_name = match like {
                    sqlparser::ast::CreateTableLikeKind::Parenthesized(l)
                    | sqlparser::ast::CreateTableLikeKind::Plain(l) => &l.name,
                };
                let (ldb, lname) = name_parts(like_name, default_db);
                let mut def = tables.get(&ldb, &lname).cloned().ok_or_else(|| {
                    DdlError(format!(
                        "CREATE TABLE {db}.{name} LIKE {ldb}.{lname}: {ldb}.{lname} is not known"
                    ))
                })?;
                def.db = db.clone();
                def.name = name.clone();
                def
            } else {
                if ct.query.is_some() {
                    return Err(DdlError(format!(
                        "CREATE TABLE … AS SELECT ({db}.{name}) does not say the columns' types; \
                         create the table first, then INSERT … SELECT"
                    )));
                }
                let mut def = TableDef {
                    db: db.clone(),
                    name: name.clone(),
                    columns: Vec::new(),
                    primary_key: Vec::new(),
                    charset: table_charset(sql),
                    comment: None,
                };
                for c in &ct.columns {
                    let (col, pk) = column(c, def.charset.as_deref())?;
                    if pk {
                        def.primary_key = vec![col.name.clone()];
                    }
                    def.columns.push(col);
                }
                for k in &ct.constraints {
                    if let Some(cols) = primary_key(k) {
                        def.primary_key = cols;
                    }
                }
                mark_key_not_null(&mut def);
                def
            };
            tables.put(def);
            changes.push(TableChange {
                kind: ChangeKind::Create,
                db,
                table: name,
                previous: None,
            });
        }
        Statement::AlterTable(at) => {
            let (db, name) = name_parts(&at.name, default_db);
            let Some(mut def) = tables.get(&db, &name).cloned() else {
                // A table created before the history began and never captured.
                return Ok(());
            };
            let mut previous = None;
            for op in at.operations {
                alter(&mut def, op, default_db, &mut previous)?;
            }
            mark_key_not_null(&mut def);
            if let Some((pdb, pname)) = &previous {
                tables.remove(pdb, pname);
            }
            let (ndb, nname) = (def.db.clone(), def.name.clone());
            tables.put(def);
            changes.push(TableChange {
                kind: ChangeKind::Alter,
                db: ndb,
                table: nname,
                previous,
            });
        }
        Statement::Drop {
            object_type, names, ..
        } => match object_type {
            ObjectType::Table => {
                for n in names {
                    let (db, name) = name_parts(&n, default_db);
                    if tables.remove(&db, &name).is_some() {
                        changes.push(TableChange {
                            kind: ChangeKind::Drop,
                            db,
                            table: name,
                            previous: None,
                        });
                    }
                }
            }
            ObjectType::Schema | ObjectType::Database => {
                for n in names {
                    let db = unquote(&n.to_string());
                    let dropped: Vec<String> = tables
                        .tables
                        .keys()
                        .filter(|(d, _)| *d == db)
                        .map(|(_, t)| t.clone())
                        .collect();
                    tables.drop_database(&db);
                    for t in dropped {
                        changes.push(TableChange {
                            kind: ChangeKind::Drop,
                            db: db.clone(),
                            table: t,
                            previous: None,
                        });
                    }
                }
            }
            _ => {}
        },
        Statement::RenameTable(renames) => {
            for r in renames {
                let (odb, oname) = name_parts(&r.old_name, default_db);
                let (ndb, nname) = name_parts(&r.new_name, default_db);
                if let Some(mut def) = tables.remove(&odb, &oname) {
                    def.db = ndb.clone();
                    def.name = nname.clone();
                    tables.put(def);
                    changes.push(TableChange {
                        kind: ChangeKind::Alter,
                        db: ndb,
                        table: nname,
                        previous: Some((odb, oname)),
                    });
                }
            }
        }
        // CREATE/DROP DATABASE without tables, TRUNCATE: nothing to change in the columns.
        _ => {}
    }
    Ok(())
}

fn table_charset(sql: &str) -> Option<String> {
    // The table options follow the last closing parenthesis of the column list.
    let tail = &sql[sql.rfind(')')?..];
    let lower = tail.to_ascii_lowercase();
    let at = lower
        .find("charset")
        .or_else(|| lower.find("character set"))?;
    let rest = &tail[at..];
    let rest = rest
        .trim_start_matches(|c: char| c.is_ascii_alphabetic() || c == ' ')
        .trim_start_matches(['=', ' ']);
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

fn primary_key(k: &TableConstraint) -> Option<Vec<String>> {
    match k {
        TableConstraint::PrimaryKey(pk) => Some(
            pk.columns
                .iter()
                .map(|c| {
                    let s = c.column.expr.to_string();
                    // `col(10)` prefix lengths name the column too.
                    unquote(s.split('(').next().unwrap_or(&s).trim())
                })
                .collect(),
        ),
        _ => None,
    }
}

fn mark_key_not_null(def: &mut TableDef) {
    for k in def.primary_key.clone() {
        if let Some(i) = def.column_index(&k) {
            def.columns[i].nullable = false;
        }
    }
}

fn position(def: &TableDef, pos: &Option<MySQLColumnPosition>) -> Result<usize, DdlError> {
    Ok(match pos {
        None => def.columns.len(),
        Some(MySQLColumnPosition::First) => 0,
        Some(MySQLColumnPosition::After(name)) => {
            let n = unquote(&name.to_string());
            def.column_index(&n).map(|i| i + 1).ok_or_else(|| {
                DdlError(format!(
                    "column {n} of {}.{} is not known",
                    def.db, def.name
                ))
            })?
        }
    })
}

fn alter(
    def: &mut TableDef,
    op: AlterTableOperation,
    default_db: &str,
    previous: &mut Option<(String, String)>,
) -> Result<(), DdlError> {
    let missing = |def: &TableDef, n: &str| {
        DdlError(format!(
            "column {n} of {}.{} is not known",
            def.db, def.name
        ))
    };
    match op {
        AlterTableOperation::AddColumn {
            column_def,
            column_position,
            if_not_exists,
            ..
        } => {
            let (col, pk) = column(&column_def, def.charset.as_deref())?;
            if if_not_exists && def.column_index(&col.name).is_some() {
                return Ok(());
            }
            let at = position(def, &column_position)?;
            if pk {
                def.primary_key = vec![col.name.clone()];
            }
            def.columns.insert(at, col);
        }
        AlterTableOperation::DropColumn {
            column_names,
            if_exists,
            ..
        } => {
            for n in column_names {
                let n = unquote(&n.to_string());
                match def.column_index(&n) {
                    Some(i) => {
                        def.columns.remove(i);
                        def.primary_key.retain(|k| !k.eq_ignore_ascii_case(&n));
                    }
                    None if if_exists => {}
                    None => return Err(missing(def, &n)),
                }
            }
        }
        AlterTableOperation::ModifyColumn {
            col_name,
            data_type,
            options,
            column_position,
        } => {
            let n = unquote(&col_name.to_string());
            replace_column(def, &n, &n, data_type, options, column_position)?;
        }
        AlterTableOperation::ChangeColumn {
            old_name,
            new_name,
            data_type,
            options,
            column_position,
        } => {
            let (o, n) = (
                unquote(&old_name.to_string()),
                unquote(&new_name.to_string()),
            );
            replace_column(def, &o, &n, data_type, options, column_position)?;
        }
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => {
            let (o, n) = (
                unquote(&old_column_name.to_string()),
                unquote(&new_column_name.to_string()),
            );
            let i = def.column_index(&o).ok_or_else(|| missing(def, &o))?;
            def.columns[i].name = n.clone();
            for k in &mut def.primary_key {
                if k.eq_ignore_ascii_case(&o) {
                    *k = n.clone();
                }
            }
        }
        AlterTableOperation::RenameTable { table_name } => {
            let name = match table_name {
                sqlparser::ast::RenameTableNameKind::To(n)
                | sqlparser::ast::RenameTableNameKind::As(n) => n,
            };
            let (ndb, nname) = name_parts(&name, default_db);
            *previous = Some((def.db.clone(), def.name.clone()));
            def.db = ndb;
            def.name = nname;
        }
        AlterTableOperation::AddConstraint { constraint, .. } => {
            if let Some(cols) = primary_key(&constraint) {
                def.primary_key = cols;
            }
        }
        AlterTableOperation::DropPrimaryKey { .. } => def.primary_key.clear(),
        AlterTableOperation::AlterColumn { column_name, op } => {
            let n = unquote(&column_name.to_string());
            let i = def.column_index(&n).ok_or_else(|| missing(def, &n))?;
            match op {
                sqlparser::ast::AlterColumnOperation::SetDefault { value } => {
                    def.columns[i].default = Some(default_of(&value.to_string()));
                }
                sqlparser::ast::AlterColumnOperation::DropDefault => def.columns[i].default = None,
                sqlparser::ast::AlterColumnOperation::SetNotNull => def.columns[i].nullable = false,
                sqlparser::ast::AlterColumnOperation::DropNotNull => def.columns[i].nullable = true,
                _ => {}
            }
        }
        // Indexes, foreign keys, table options, partitions, algorithm/lock clauses: no
        // change to the columns.
        _ => {}
    }
    Ok(())
}

fn replace_column(
    def: &mut TableDef,
    old: &str,
    new: &str,
    data_type: sqlparser::ast::DataType,
    options: Vec<ColumnOption>,
    pos: Option<MySQLColumnPosition>,
) -> Result<(), DdlError> {
    let i = def.column_index(old).ok_or_else(|| {
        DdlError(format!(
            "column {old} of {}.{} is not known",
            def.db, def.name
        ))
    })?;
    let sql = SqlColumn {
        name: sqlparser::ast::Ident::new(new),
        data_type,
        options: options
            .into_iter()
            .map(|option| sqlparser::ast::ColumnOptionDef { name: None, option })
            .collect(),
    };
    let (col, pk) = column(&sql, def.charset.as_deref())?;
    def.columns.remove(i);
    let at = match pos {
        None => i,
        Some(_) => position(def, &pos)?,
    };
    def.columns.insert(at, col);
    for k in &mut def.primary_key {
        if k.eq_ignore_ascii_case(old) {
            *k = new.to_string();
        }
    }
    if pk {
        def.primary_key = vec![new.to_string()];
    }
    Ok(())
}

fn default_of(expr: &str) -> DefaultValue {
    let e = expr.trim();
    if e.eq_ignore_ascii_case("NULL") {
        DefaultValue::Null
    } else if let Some(inner) = e
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .or_else(|| e.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
    {
        DefaultValue::Literal(inner.replace("''", "'").replace("\\'", "'"))
    } else if e.eq_ignore_ascii_case("TRUE") {
        DefaultValue::Literal("1".into())
    } else if e.eq_ignore_ascii_case("FALSE") {
        DefaultValue::Literal("0".into())
    } else if e.parse::<f64>().is_ok() {
        DefaultValue::Literal(e.to_string())
    } else {
        DefaultValue::Expression(e.to_string())
    }
}

/// A column definition and whether it declares itself the primary key.
fn column(c: &SqlColumn, table_charset: Option<&str>) -> Result<(ColumnDef, bool), DdlError> {
    let name = unquote(&c.name.to_string());
    let ty = parse_type(&c.data_type.to_string())
        .ok_or_else(|| DdlError(format!("column {name}: type {} is not known", c.data_type)))?;
    let mut col = ColumnDef {
        name,
        kind: ty.kind,
        type_name: ty.name,
        length: ty.length,
        scale: ty.scale,
        nullable: true,
        default: None,
        auto_increment: false,
        charset: table_charset.map(str::to_string),
        comment: None,
        generated: false,
    };
    let mut pk = false;
    for o in &c.options {
        match &o.option {
            ColumnOption::NotNull => col.nullable = false,
            ColumnOption::Null => col.nullable = true,
            ColumnOption::Default(e) => col.default = Some(default_of(&e.to_string())),
            ColumnOption::PrimaryKey(_) => {
                pk = true;
                col.nullable = false;
            }
            ColumnOption::CharacterSet(cs) => col.charset = Some(unquote(&cs.to_string())),
            ColumnOption::Comment(s) => col.comment = Some(s.clone()),
            ColumnOption::Generated { .. } => col.generated = true,
            ColumnOption::DialectSpecific(tokens)
                if tokens
                    .iter()
                    .any(|t| t.to_string().eq_ignore_ascii_case("AUTO_INCREMENT")) =>
            {
                col.auto_increment = true;
            }
            _ => {}
        }
    }
    // A TIMESTAMP column without NULL/DEFAULT is NOT NULL when explicit_defaults_for_timestamp
    // is off; MariaDB's SHOW CREATE TABLE always spells it out, so the declaration decides.
    Ok((col, pk))
}

/// A column type as parsed from its SQL text (DDL or `information_schema.COLUMN_TYPE`).
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedType {
    pub kind: Kind,
    pub name: String,
    pub length: Option<u32>,
    pub scale: Option<u32>,
}

/// Parses `bigint(20) unsigned`, `DECIMAL(10,2)`, `enum('a','b')`, `timestamp(6)`, ….
pub fn parse_type(text: &str) -> Option<ParsedType> {
    let t = text.trim();
    let (base, rest) = match t.find('(') {
        Some(i) => (&t[..i], &t[i..]),
        None => (
            t.split_whitespace().next().unwrap_or(""),
            &t[t.split_whitespace().next().unwrap_or("").len()..],
        ),
    };
    let base = base.trim().to_ascii_uppercase();
    let lower_rest = rest.to_ascii_lowercase();
    let unsigned = lower_rest.contains("unsigned");
    let (args, values) = if rest.starts_with('(') {
        let close = matching_paren(rest)?;
        let inner = &rest[1..close];
        (
            inner
                .split(',')
                .map(|s| s.trim().parse::<u32>().ok())
                .collect::<Vec<_>>(),
            quoted_values(inner),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let arg = |i: usize| args.get(i).copied().flatten();
    let int = |bytes: u8| Kind::Int { bytes, unsigned };
    let kind = match base.as_str() {
        "TINYINT" | "INT1" => int(1),
        "BOOL" | "BOOLEAN" => Kind::Int {
            bytes: 1,
            unsigned: false,
        },
        "SMALLINT" | "INT2" => int(2),
        "MEDIUMINT" | "INT3" | "MIDDLEINT" => int(3),
        "INT" | "INTEGER" | "INT4" => int(4),
        "BIGINT" | "INT8" => int(8),
        "SERIAL" => Kind::Int {
            bytes: 8,
            unsigned: true,
        },
        "DECIMAL" | "DEC" | "NUMERIC" | "FIXED" => Kind::Decimal {
            precision: arg(0).unwrap_or(10),
            scale: arg(1).unwrap_or(0),
        },
        "FLOAT" if arg(0).is_some_and(|p| p > 24) && arg(1).is_none() => Kind::Double,
        "FLOAT" | "FLOAT4" => Kind::Float,
        "DOUBLE" | "REAL" | "FLOAT8" => Kind::Double,
        "BIT" => Kind::Bit(arg(0).unwrap_or(1)),
        "CHAR" | "CHARACTER" | "NCHAR" | "VARCHAR" | "NVARCHAR" | "VARCHARACTER" | "TINYTEXT"
        | "TEXT" | "MEDIUMTEXT" | "LONGTEXT" | "LONG" => Kind::Text,
        "BINARY" => Kind::Binary {
            fixed: Some(arg(0).unwrap_or(1)),
        },
        "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
            Kind::Binary { fixed: None }
        }
        "DATE" => Kind::Date,
        "TIME" => Kind::Time {
            fsp: arg(0).unwrap_or(0),
        },
        "DATETIME" => Kind::DateTime {
            fsp: arg(0).unwrap_or(0),
        },
        "TIMESTAMP" => Kind::Timestamp {
            fsp: arg(0).unwrap_or(0),
        },
        "YEAR" => Kind::Year,
        "JSON" => Kind::Json,
        "ENUM" => Kind::Enum(Arc::from(values)),
        "SET" => Kind::Set(Arc::from(values)),
        "POINT" => Kind::Point,
        "GEOMETRY" | "LINESTRING" | "POLYGON" | "MULTIPOINT" | "MULTILINESTRING"
        | "MULTIPOLYGON" | "GEOMETRYCOLLECTION" | "GEOMCOLLECTION" => Kind::Geometry,
        "UUID" => Kind::Uuid,
        "INET4" => Kind::Inet4,
        "INET6" => Kind::Inet6,
        _ => return None,
    };
    let name = match (&kind, base.as_str()) {
        (Kind::Int { .. }, "BOOL" | "BOOLEAN") => "TINYINT".to_string(),
        (Kind::Int { unsigned: true, .. }, b) => format!("{b} UNSIGNED"),
        (_, b) => b.to_string(),
    };
    let (length, scale) = match &kind {
        Kind::Decimal { precision, scale } => (Some(*precision), Some(*scale)),
        // Debezium's lengths: 1 for an ENUM, one character per member and separator for a SET.
        Kind::Enum(_) => (Some(1), None),
        Kind::Set(v) => (Some((v.len() * 2).saturating_sub(1) as u32), None),
        _ => (arg(0), None),
    };
    Some(ParsedType {
        kind,
        name,
        length,
        scale,
    })
}

fn matching_paren(s: &str) -> Option<usize> {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, ch) in s.char_indices() {
        match quote {
            Some(q) if ch == q && prev != '\\' => quote = None,
            Some(_) => {}
            None => match ch {
                '\'' | '"' => quote = Some(ch),
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            },
        }
        prev = ch;
    }
    None
}

/// The quoted values of an ENUM/SET list: `'a', 'b''c'` → `a`, `b'c`.
fn quoted_values(inner: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch != '\'' && ch != '"' {
            continue;
        }
        let q = ch;
        let mut v = String::new();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    v.push(n);
                }
            } else if c == q {
                if chars.peek() == Some(&q) {
                    chars.next();
                    v.push(q);
                } else {
                    break;
                }
            } else {
                v.push(c);
            }
        }
        out.push(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CUSTOMERS: &str = "CREATE TABLE `customers` (
  `customer_id` bigint(20) NOT NULL,
  `company_name` varchar(100) NOT NULL,
  `phone` varchar(24) DEFAULT NULL,
  `active` tinyint(1) NOT NULL DEFAULT 1,
  `created_at` timestamp(6) NOT NULL DEFAULT current_timestamp(6),
  `attrs` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL CHECK (json_valid(`attrs`)),
  `kind` enum('draft','published','x''y') NOT NULL DEFAULT 'draft',
  PRIMARY KEY (`customer_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci";

    #[test]
    fn show_create_table_and_alters() {
        let mut t = Tables::default();
        let ch = apply(&mut t, "rig", CUSTOMERS).unwrap();
        assert_eq!(ch[0].kind, ChangeKind::Create);
        let def = t.get("rig", "customers").unwrap();
        assert_eq!(def.primary_key, vec!["customer_id"]);
        assert_eq!(def.columns.len(), 7);
        assert_eq!(
            def.columns[3].default,
            Some(DefaultValue::Literal("1".into()))
        );
        assert!(matches!(
            def.columns[4].default,
            Some(DefaultValue::Expression(_))
        ));
        assert_eq!(
            def.columns[6].kind,
            Kind::Enum(Arc::from(vec![
                "draft".to_string(),
                "published".into(),
                "x'y".into()
            ]))
        );
        assert_eq!(def.charset.as_deref(), Some("utf8mb4"));

        apply(&mut t, "rig", "ALTER TABLE customers ADD COLUMN loyalty_tier VARCHAR(16) NOT NULL DEFAULT 'basic' AFTER phone").unwrap();
        let def = t.get("rig", "customers").unwrap();
        assert_eq!(def.columns[3].name, "loyalty_tier");
        apply(
            &mut t,
            "rig",
            "ALTER TABLE customers DROP COLUMN phone, MODIFY active INT NOT NULL",
        )
        .unwrap();
        let def = t.get("rig", "customers").unwrap();
        assert_eq!(def.column_index("phone"), None);
        assert_eq!(
            def.columns[3].kind,
            Kind::Int {
                bytes: 4,
                unsigned: false
            }
        );
        apply(&mut t, "rig", "RENAME TABLE customers TO clients").unwrap();
        assert!(t.get("rig", "clients").is_some() && t.get("rig", "customers").is_none());
        let ch = apply(
            &mut t,
            "rig",
            "DROP TABLE IF EXISTS `rig`.`clients` /* generated by server */",
        )
        .unwrap();
        assert_eq!(ch[0].kind, ChangeKind::Drop);
        assert!(
            apply(&mut t, "rig", "GRANT SELECT ON *.* TO x")
                .unwrap()
                .is_empty()
        );
        assert!(apply(&mut t, "rig", "CREATE TABLE (").is_err());
    }

    /// MariaDB's own SHOW CREATE TABLE of the conformance fixture's wide table.
    const DOCUMENTS: &str = r#"CREATE TABLE `documents` (
  `doc_id` int(11) NOT NULL,
  `title` varchar(200) NOT NULL,
  `body` text DEFAULT NULL,
  `code` char(8) DEFAULT NULL,
  `attrs` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL CHECK (json_valid(`attrs`)),
  `kind` enum('draft','published','archived') NOT NULL DEFAULT 'draft',
  `labels` set('red','green','blue','x y') DEFAULT NULL,
  `t_tiny` tinyint(4) DEFAULT NULL,
  `t_tiny_u` tinyint(3) unsigned DEFAULT NULL,
  `t_bool` tinyint(1) DEFAULT NULL,
  `t_small` smallint(6) DEFAULT NULL,
  `t_small_u` smallint(5) unsigned DEFAULT NULL,
  `t_medium` mediumint(9) DEFAULT NULL,
  `t_medium_u` mediumint(8) unsigned DEFAULT NULL,
  `t_int` int(11) DEFAULT NULL,
  `t_int_u` int(10) unsigned DEFAULT NULL,
  `t_big` bigint(20) DEFAULT NULL,
  `t_big_u` bigint(20) unsigned DEFAULT NULL,
  `price` decimal(10,2) DEFAULT NULL,
  `amount` decimal(38,18) DEFAULT NULL,
  `ratio_f` float DEFAULT NULL,
  `ratio` double DEFAULT NULL,
  `bit1` bit(1) DEFAULT NULL,
  `flags` bit(3) DEFAULT NULL,
  `mask` bit(64) DEFAULT NULL,
  `bin_fixed` binary(8) DEFAULT NULL,
  `bin_var` varbinary(16) DEFAULT NULL,
  `payload` blob DEFAULT NULL,
  `due_date` date DEFAULT NULL,
  `due_time` time(6) DEFAULT NULL,
  `due_time0` time DEFAULT NULL,
  `local_ts` datetime(6) DEFAULT NULL,
  `local_ts0` datetime DEFAULT NULL,
  `created_at` timestamp(6) NOT NULL DEFAULT current_timestamp(6),
  `event_ts0` timestamp NULL DEFAULT NULL,
  `yr` year(4) DEFAULT NULL,
  `location` point DEFAULT NULL,
  `version` bigint(20) NOT NULL DEFAULT 1,
  PRIMARY KEY (`doc_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"#;

    #[test]
    fn every_type_of_the_wide_table() {
        let mut t = Tables::default();
        apply(&mut t, "rig", DOCUMENTS).unwrap();
        let def = t.get("rig", "documents").unwrap();
        assert_eq!(def.columns.len(), 38);
        let kind = |n: &str| def.columns[def.column_index(n).unwrap()].kind.clone();
        assert_eq!(
            kind("t_big_u"),
            Kind::Int {
                bytes: 8,
                unsigned: true
            }
        );
        assert_eq!(kind("mask"), Kind::Bit(64));
        assert_eq!(kind("bin_fixed"), Kind::Binary { fixed: Some(8) });
        assert_eq!(kind("yr"), Kind::Year);
        assert_eq!(kind("location"), Kind::Point);
        assert_eq!(kind("attrs"), Kind::Text);
        assert_eq!(kind("created_at"), Kind::Timestamp { fsp: 6 });
        let event_ts0 = &def.columns[def.column_index("event_ts0").unwrap()];
        assert!(event_ts0.nullable);
        assert_eq!(
            def.columns[def.column_index("version").unwrap()].default,
            Some(DefaultValue::Literal("1".into()))
        );
    }

    #[test]
    fn types_from_their_text() {
        let p = parse_type("bigint(20) unsigned").unwrap();
        assert_eq!(
            p.kind,
            Kind::Int {
                bytes: 8,
                unsigned: true
            }
        );
        assert_eq!(p.name, "BIGINT UNSIGNED");
        assert_eq!(
            parse_type("decimal(38,18)").unwrap().kind,
            Kind::Decimal {
                precision: 38,
                scale: 18
            }
        );
        assert_eq!(
            parse_type("set('red','x y')").unwrap().kind,
            Kind::Set(Arc::from(vec!["red".to_string(), "x y".into()]))
        );
        assert_eq!(parse_type("inet6").unwrap().kind, Kind::Inet6);
        assert_eq!(
            parse_type("timestamp(6)").unwrap().kind,
            Kind::Timestamp { fsp: 6 }
        );
    }
}
