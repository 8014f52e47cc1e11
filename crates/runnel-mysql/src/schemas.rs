//! The known tables and the Connect schemas of the captured ones, rebuilt when DDL changes a
//! table.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::MySqlConfig;
use crate::tables::{Captured, Tables, capture};

/// A captured table the schema history has no definition of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unknown;

pub struct Schemas {
    cfg: Arc<MySqlConfig>,
    pub tables: Tables,
    captured: HashMap<(String, String), Arc<Captured>>,
    version: u32,
}

impl Schemas {
    pub fn new(cfg: Arc<MySqlConfig>, tables: Tables) -> Self {
        Self {
            cfg,
            tables,
            captured: HashMap::new(),
            version: 0,
        }
    }

    /// The captured table `db.table`: `Ok(None)` when the filters leave it out, `Err(Unknown)`
    /// when it is captured but the history does not know it.
    pub fn captured(&mut self, db: &str, table: &str) -> Result<Option<Arc<Captured>>, Unknown> {
        if !self.cfg.table_included(db, table) {
            return Ok(None);
        }
        let key = (db.to_string(), table.to_string());
        if let Some(c) = self.captured.get(&key) {
            return Ok(Some(c.clone()));
        }
        let def = self.tables.get(db, table).ok_or(Unknown)?;
        self.version += 1;
        let c = Arc::new(capture(def, &self.cfg, self.version));
        self.captured.insert(key, c.clone());
        Ok(Some(c))
    }

    /// Forgets the schemas built from the tables before a DDL statement.
    pub fn invalidate(&mut self) {
        self.captured.clear();
    }

    /// The captured tables, in name order.
    pub fn all_captured(&mut self) -> Vec<Arc<Captured>> {
        let names: Vec<(String, String)> = self.tables.tables.keys().cloned().collect();
        names
            .iter()
            .filter_map(|(d, t)| self.captured(d, t).ok().flatten())
            .collect()
    }
}
