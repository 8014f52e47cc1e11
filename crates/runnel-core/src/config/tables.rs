//! The keys every Debezium relational source reads the same way: include/exclude regex lists,
//! `message.key.columns`, `skipped.operations`, and topic names made of database object names.
//! Behind the `tables` feature (it brings `regex`), so the core alone stays small.

use regex::Regex;

use super::Props;
use crate::error::{Error, Result};

/// A list of regular expressions, each matching a whole name, case-insensitively (as Debezium's
/// include/exclude lists).
pub fn regexes(props: &Props<'_>, key: &str) -> Result<Vec<Regex>> {
    props.list(key).iter().map(|p| whole_name(key, p)).collect()
}

fn whole_name(key: &str, pattern: &str) -> Result<Regex> {
    Regex::new(&format!("(?i)^(?:{pattern})$")).map_err(|e| {
        Error::invalid(
            key,
            format!("invalid regular expression \"{pattern}\" in \"{key}\": {e}"),
        )
    })
}

/// `message.key.columns`: `<table regex>:<col>,<col>;…` (`what` names the table's form in the
/// message, e.g. `schema.table`).
#[derive(Debug, Clone, Default)]
pub struct KeyColumns(Vec<(Regex, Vec<String>)>);

impl KeyColumns {
    pub fn parse(props: &Props<'_>, what: &str) -> Result<Self> {
        const KEY: &str = "message.key.columns";
        let mut out = Vec::new();
        let Some(spec) = props.string(KEY) else {
            return Ok(Self(out));
        };
        for entry in spec.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let (table, cols) = entry.split_once(':').ok_or_else(|| {
                Error::invalid(
                    KEY,
                    format!("invalid \"{KEY}\" entry \"{entry}\": expected {what}:col1,col2"),
                )
            })?;
            let re = whole_name(KEY, table.trim())?;
            let cols = super::split_list(cols);
            if cols.is_empty() {
                return Err(Error::invalid(
                    KEY,
                    format!("\"{KEY}\" entry \"{entry}\" names no columns"),
                ));
            }
            out.push((re, cols));
        }
        Ok(Self(out))
    }

    /// The key columns of a table (its qualified name), if configured.
    pub fn for_table(&self, qualified: &str) -> Option<&[String]> {
        self.0
            .iter()
            .find(|(r, _)| r.is_match(qualified))
            .map(|(_, c)| c.as_slice())
    }
}

/// `skipped.operations`: the change kinds left out (`c`, `u`, `d`, `t`; `none` for none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    pub creates: bool,
    pub updates: bool,
    pub deletes: bool,
    pub truncates: bool,
}

impl Skipped {
    pub fn parse(props: &Props<'_>) -> Result<Self> {
        let mut s = Self::default();
        for op in props.list("skipped.operations") {
            match op.to_ascii_lowercase().as_str() {
                "c" => s.creates = true,
                "u" => s.updates = true,
                "d" => s.deletes = true,
                "t" => s.truncates = true,
                "none" => {}
                _ => {
                    return Err(Error::invalid(
                        "skipped.operations",
                        format!(
                            "invalid value \"{op}\" in \"skipped.operations\": expected c, u, d, t or none"
                        ),
                    ));
                }
            }
        }
        Ok(s)
    }
}

/// A topic name from database object names: every character Kafka does not allow in a topic
/// name becomes `_`, as Debezium's topic naming strategy does.
pub fn topic_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}
