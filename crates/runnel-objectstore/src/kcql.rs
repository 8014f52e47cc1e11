//! Lenses' KCQL for the S3 sink (`connect.s3.kcql`): one or more statements separated by `;`:
//!
//! ```text
//! INSERT INTO bucket[:prefix] SELECT * FROM topic
//!   [PARTITIONBY f1, _key, _header.h, … | NOPARTITION] [STOREAS `json`]
//!   [WITH_PARTITIONER = KeysAndValues | Values]
//!   [WITH_FLUSH_COUNT = n] [WITH_FLUSH_SIZE = bytes] [WITH_FLUSH_INTERVAL = seconds]
//!   [PROPERTIES('flush.count'=n, …)]
//! ```
//!
//! Keywords in any case; names may be quoted with backquotes. An error names the statement's
//! position (1-based character) and the token found there.

use std::collections::BTreeMap;

/// One `INSERT INTO … SELECT … FROM …` statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub bucket: String,
    /// Path prefix inside the bucket (no leading or trailing `/`), may be empty.
    pub prefix: String,
    /// `*` for every topic.
    pub topic: String,
    /// `None` for `SELECT *`, else the selected fields (`_value.`/`_key.`/`_header.` references
    /// as written) and their `AS` names.
    pub fields: Option<Vec<(String, Option<String>)>>,
    /// `None`: no PARTITIONBY; `Some(empty)`: NOPARTITION.
    pub partition_by: Option<Vec<String>>,
    pub store_as: Option<String>,
    pub partitioner: Option<String>,
    pub flush_count: Option<u64>,
    pub flush_size: Option<u64>,
    pub flush_interval_secs: Option<u64>,
    pub properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Str(String),
    Sym(char),
}

struct Lexer<'a> {
    toks: Vec<(usize, Tok)>,
    at: usize,
    text: &'a str,
}

/// Parses every statement of `text`.
pub fn parse(text: &str) -> Result<Vec<Statement>, String> {
    let mut out = Vec::new();
    for part in split_statements(text) {
        let trimmed = part.trim();
        if !trimmed.is_empty() {
            out.push(parse_one(trimmed)?);
        }
    }
    if out.is_empty() {
        return Err("no statement: expected INSERT INTO bucket:prefix SELECT * FROM topic".into());
    }
    Ok(out)
}

/// Splits on `;` outside quotes.
fn split_statements(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut quote, mut start) = (None, 0);
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (None, '`' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ';') => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn lex(text: &str) -> Result<Vec<(usize, Tok)>, String> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '`' || c == '\'' {
            let close = chars[i + 1..]
                .iter()
                .position(|&(_, d)| d == c)
                .ok_or_else(|| format!("connect.s3.kcql: unclosed {c} at position {}", pos + 1))?;
            let inner: String = chars[i + 1..i + 1 + close]
                .iter()
                .map(|&(_, d)| d)
                .collect();
            toks.push((
                pos,
                if c == '`' {
                    Tok::Quoted(inner)
                } else {
                    Tok::Str(inner)
                },
            ));
            i += close + 2;
            continue;
        }
        if matches!(c, ',' | '=' | '(' | ')' | '*') {
            toks.push((pos, Tok::Sym(c)));
            i += 1;
            continue;
        }
        // A word runs to whitespace or a symbol: bucket names, topics and paths keep their
        // `-`, `.`, `:` and `/`.
        let mut j = i;
        while j < chars.len()
            && !chars[j].1.is_whitespace()
            && !matches!(chars[j].1, ',' | '=' | '(' | ')' | '`' | '\'')
        {
            j += 1;
        }
        toks.push((
            pos,
            Tok::Word(chars[i..j].iter().map(|&(_, d)| d).collect()),
        ));
        i = j;
    }
    Ok(toks)
}

impl Lexer<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }

    fn error(&self, expected: &str) -> String {
        match self.toks.get(self.at) {
            Some((pos, tok)) => {
                let found = match tok {
                    Tok::Word(w) | Tok::Quoted(w) => w.clone(),
                    Tok::Str(s) => format!("'{s}'"),
                    Tok::Sym(c) => c.to_string(),
                };
                format!(
                    "connect.s3.kcql: expected {expected} at position {} but found \"{found}\" in \"{}\"",
                    pos + 1,
                    self.text
                )
            }
            None => format!(
                "connect.s3.kcql: expected {expected} at the end of \"{}\"",
                self.text
            ),
        }
    }

    fn keyword(&mut self, kw: &str) -> bool {
        if let Some(Tok::Word(w)) = self.peek()
            && w.eq_ignore_ascii_case(kw)
        {
            self.at += 1;
            return true;
        }
        false
    }

    fn expect(&mut self, kw: &str) -> Result<(), String> {
        if self.keyword(kw) {
            Ok(())
        } else {
            Err(self.error(kw))
        }
    }

    fn sym(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Sym(c)) {
            self.at += 1;
            return true;
        }
        false
    }

    fn name(&mut self, what: &str) -> Result<String, String> {
        match self.peek() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => {
                let w = w.clone();
                self.at += 1;
                Ok(w)
            }
            Some(Tok::Sym('*')) => {
                self.at += 1;
                Ok("*".into())
            }
            _ => Err(self.error(what)),
        }
    }

    fn number(&mut self, what: &str) -> Result<u64, String> {
        self.sym('=');
        match self.peek() {
            Some(Tok::Word(w)) | Some(Tok::Str(w)) if w.parse::<u64>().is_ok() => {
                let n = w.parse().unwrap_or(0);
                self.at += 1;
                Ok(n)
            }
            _ => Err(self.error(what)),
        }
    }

    fn list(&mut self, what: &str) -> Result<Vec<String>, String> {
        let parens = self.sym('(');
        let mut out = vec![self.name(what)?];
        while self.sym(',') {
            out.push(self.name(what)?);
        }
        if parens && !self.sym(')') {
            return Err(self.error(")"));
        }
        Ok(out)
    }
}

fn parse_one(text: &str) -> Result<Statement, String> {
    let mut l = Lexer {
        toks: lex(text)?,
        at: 0,
        text,
    };
    l.expect("INSERT")?;
    l.expect("INTO")?;
    let target = l.name("a bucket (bucket or bucket:prefix)")?;
    let (bucket, prefix) = match target.split_once(':') {
        Some((b, p)) => (b.to_string(), p.trim_matches('/').to_string()),
        None => (target.clone(), String::new()),
    };
    if bucket.is_empty() {
        return Err(format!(
            "connect.s3.kcql: \"{target}\" names no bucket (INSERT INTO bucket:prefix)"
        ));
    }
    l.expect("SELECT")?;
    let mut selected = Vec::new();
    loop {
        let field = l.name("* or the fields to select")?;
        let alias = if l.keyword("AS") {
            Some(l.name("a name after AS")?)
        } else {
            None
        };
        selected.push((field, alias));
        if !l.sym(',') {
            break;
        }
    }
    let fields = (selected != [("*".to_string(), None)]).then_some(selected);
    l.expect("FROM")?;
    let topic = l.name("a topic (or `*`)")?;
    let mut st = Statement {
        bucket,
        prefix,
        topic,
        fields,
        partition_by: None,
        store_as: None,
        partitioner: None,
        flush_count: None,
        flush_size: None,
        flush_interval_secs: None,
        properties: BTreeMap::new(),
    };
    while l.peek().is_some() {
        if l.keyword("PARTITIONBY") {
            st.partition_by = Some(l.list("a field to partition by")?);
        } else if l.keyword("NOPARTITION") {
            st.partition_by = Some(Vec::new());
        } else if l.keyword("STOREAS") {
            st.store_as = Some(l.name("a format (json, avro, parquet, csv, text, bytes)")?);
        } else if l.keyword("WITH_PARTITIONER") || l.keyword("WITHPARTITIONER") {
            l.sym('=');
            st.partitioner = Some(l.name("KeysAndValues or Values")?);
        } else if l.keyword("WITH_FLUSH_COUNT") {
            st.flush_count = Some(l.number("a record count")?);
        } else if l.keyword("WITH_FLUSH_SIZE") {
            st.flush_size = Some(l.number("a size in bytes")?);
        } else if l.keyword("WITH_FLUSH_INTERVAL") {
            st.flush_interval_secs = Some(l.number("an interval in seconds")?);
        } else if l.keyword("PROPERTIES") {
            if !l.sym('(') {
                return Err(l.error("("));
            }
            loop {
                let key = match l.peek() {
                    Some(Tok::Str(k)) | Some(Tok::Word(k)) | Some(Tok::Quoted(k)) => k.clone(),
                    _ => return Err(l.error("a property name in quotes")),
                };
                l.at += 1;
                if !l.sym('=') {
                    return Err(l.error("="));
                }
                let value = match l.peek() {
                    Some(Tok::Str(v)) | Some(Tok::Word(v)) | Some(Tok::Quoted(v)) => v.clone(),
                    _ => return Err(l.error("a property value")),
                };
                l.at += 1;
                st.properties.insert(key, value);
                if l.sym(')') {
                    break;
                }
                if !l.sym(',') {
                    return Err(l.error(", or )"));
                }
            }
        } else {
            return Err(l.error(
                "PARTITIONBY, NOPARTITION, STOREAS, WITH_PARTITIONER, WITH_FLUSH_COUNT, \
                 WITH_FLUSH_SIZE, WITH_FLUSH_INTERVAL or PROPERTIES",
            ));
        }
    }
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_statement() {
        let s = parse(
            "INSERT INTO data-lake-demo-cevo:cdc-events SELECT * FROM msk.datalake.cdc_events \
             PARTITIONBY customer_id,order_id STOREAS `json` WITH_FLUSH_INTERVAL = 60 \
             WITH_FLUSH_COUNT = 50",
        )
        .unwrap();
        assert_eq!(s.len(), 1);
        let s = &s[0];
        assert_eq!(s.bucket, "data-lake-demo-cevo");
        assert_eq!(s.prefix, "cdc-events");
        assert_eq!(s.topic, "msk.datalake.cdc_events");
        assert_eq!(
            s.partition_by,
            Some(vec!["customer_id".into(), "order_id".into()])
        );
        assert_eq!(s.store_as.as_deref(), Some("json"));
        assert_eq!(s.flush_interval_secs, Some(60));
        assert_eq!(s.flush_count, Some(50));
    }

    #[test]
    fn several_statements_properties_and_fields() {
        let s = parse(
            "insert into b:p/q select a, _key.id from `t-1` partitionby _header.h storeas bytes \
             properties('flush.count'=10, 'flush.interval'='30'); \
             INSERT INTO b2 SELECT * FROM t2 NOPARTITION",
        )
        .unwrap();
        assert_eq!(
            s[0].fields,
            Some(vec![("a".into(), None), ("_key.id".into(), None)])
        );
        assert_eq!(s[0].topic, "t-1");
        assert_eq!(s[0].prefix, "p/q");
        assert_eq!(s[0].properties["flush.count"], "10");
        assert_eq!(s[1].partition_by, Some(vec![]));
        assert_eq!(s[1].prefix, "");
    }

    #[test]
    fn errors_point_at_the_token() {
        let e = parse("INSERT INTO b:p SELEC * FROM t").unwrap_err();
        assert!(
            e.contains("expected SELECT at position 17") && e.contains("\"SELEC\""),
            "{e}"
        );
        let e = parse("INSERT INTO b SELECT * FROM t WITH_FLUSH_COUNT = many").unwrap_err();
        assert!(e.contains("a record count") && e.contains("many"), "{e}");
        let e = parse("INSERT INTO b SELECT * FROM t PARTITION BY x").unwrap_err();
        assert!(e.contains("PARTITION"), "{e}");
    }
}
