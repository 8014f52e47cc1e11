//! The schema history: every DDL statement the source applied, with the binlog position after
//! it, kept in the state store ([`runnel_core::SchemaHistory`]). A restart replays the entries
//! up to its stored position, so rows are decoded with the schema in force at that point;
//! later entries are dropped (their statements come again from the binlog).

use std::sync::Arc;

use runnel_core::{Error, Result, SchemaHistory};
use serde_json::{Value, json};

use crate::ddl;
use crate::source_block::split_file;
use crate::tables::Tables;

/// One applied statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub file: String,
    pub pos: u64,
    pub db: String,
    pub ddl: String,
}

impl Entry {
    fn to_json(&self) -> String {
        json!({"file": self.file, "pos": self.pos, "db": self.db, "ddl": self.ddl}).to_string()
    }

    fn from_json(text: &str) -> Option<Self> {
        let v: Value = serde_json::from_str(text).ok()?;
        Some(Self {
            file: v["file"].as_str()?.to_string(),
            pos: v["pos"].as_u64()?,
            db: v["db"].as_str()?.to_string(),
            ddl: v["ddl"].as_str()?.to_string(),
        })
    }

    fn key(&self) -> (u64, u64) {
        (split_file(&self.file).1, self.pos)
    }
}

pub struct History {
    store: Arc<dyn SchemaHistory>,
}

impl History {
    pub fn new(store: Arc<dyn SchemaHistory>) -> Self {
        Self { store }
    }

    /// Starts a new history (a schema snapshot follows).
    pub fn reset(&self) -> Result<()> {
        self.store.clear()
    }

    pub fn record(&self, entry: &Entry) -> Result<()> {
        self.store.append(&entry.to_json())
    }

    /// Rebuilds the tables as they were at `upto` (file number, position), dropping later
    /// entries. `None` when there is no history.
    pub fn replay(&self, upto: (u64, u64), skip_unparseable: bool) -> Result<Option<Tables>> {
        let raw = self.store.load()?;
        if raw.is_empty() {
            return Ok(None);
        }
        let mut entries = Vec::with_capacity(raw.len());
        for text in &raw {
            let e = Entry::from_json(text).ok_or_else(|| {
                Error::state(format!(
                    "the schema history in the state store has an entry runnel cannot read ({text:.200}); \
                     reset the connector's offsets to take a new snapshot"
                ))
            })?;
            entries.push(e);
        }
        let keep = entries.iter().take_while(|e| e.key() <= upto).count();
        let mut tables = Tables::default();
        for e in &entries[..keep] {
            if let Err(err) = ddl::apply(&mut tables, &e.db, &e.ddl) {
                if !skip_unparseable {
                    return Err(Error::state(format!(
                        "replaying the schema history: {err}; set \
                         \"schema.history.internal.skip.unparseable.ddl\": true to skip it"
                    )));
                }
                tracing::warn!("schema history: skipping {err}");
            }
        }
        if keep < entries.len() {
            self.store.clear()?;
            for text in &raw[..keep] {
                self.store.append(text)?;
            }
        }
        Ok(Some(tables))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runnel_core::MemoryHistory;

    #[test]
    fn replays_up_to_the_position_and_forgets_the_rest() {
        let store = Arc::new(MemoryHistory::default());
        let h = History::new(store.clone());
        let e = |pos: u64, ddl: &str| Entry {
            file: "rig-bin.000001".into(),
            pos,
            db: "rig".into(),
            ddl: ddl.into(),
        };
        h.record(&e(10, "CREATE TABLE t (id INT PRIMARY KEY, a INT)"))
            .unwrap();
        h.record(&e(20, "ALTER TABLE t ADD COLUMN b INT")).unwrap();
        h.record(&e(30, "ALTER TABLE t DROP COLUMN a")).unwrap();
        let t = h.replay((1, 25), false).unwrap().unwrap();
        assert_eq!(t.get("rig", "t").unwrap().columns.len(), 3);
        assert_eq!(store.load().unwrap().len(), 2);
    }
}
