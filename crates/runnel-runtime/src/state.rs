//! The embedded state store: one SQLite file holding connector configs, source offsets and
//! status. Offsets are written only after the sink made everything before them durable.

use std::path::Path;
use std::sync::{Arc, Mutex};

use runnel_core::{Error, Result, SourceOffset};

use crate::status::{State, TargetState};
use rusqlite::{Connection, OptionalExtension, params};

/// File name of the store inside `--state-dir`.
pub const STATE_FILE: &str = "runnel.db";

/// Told of every offset once it is durable here (a distributed worker publishes it to the
/// offset topic, where another worker finds it when the connector moves).
pub type OffsetListener = Box<dyn Fn(&str, &SourceOffset) + Send + Sync>;

#[derive(Clone)]
pub struct StateStore {
    conn: Arc<Mutex<Connection>>,
    offset_listener: Arc<std::sync::OnceLock<OffsetListener>>,
}

fn db_err(what: &str) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::state(format!("state store: {what}: {e}"))
}

impl StateStore {
    /// Opens (creating if needed) `<dir>/runnel.db`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::state(format!(
                "cannot create state directory {}: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join(STATE_FILE);
        let conn = Connection::open(&path).map_err(|e| {
            Error::state(format!("cannot open state store {}: {e}", path.display()))
        })?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS connectors (
                 name TEXT PRIMARY KEY, config TEXT NOT NULL, updated_at INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS offsets (
                 name TEXT PRIMARY KEY, offset TEXT NOT NULL, updated_at INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS status (
                 name TEXT PRIMARY KEY, state TEXT NOT NULL, trace TEXT, updated_at INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS targets (
                 name TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS offset_generations (
                 name TEXT PRIMARY KEY, generation TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS schema_history (
                 name TEXT NOT NULL, seq INTEGER NOT NULL, entry TEXT NOT NULL,
                 PRIMARY KEY (name, seq));",
        )
        .map_err(db_err("initialising"))?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            offset_listener: Arc::default(),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| Error::internal("state store lock poisoned"))?;
        f(&conn)
    }

    /// Stores a connector's config as written (placeholders, not secrets), in the
    /// `{"name", "config"}` shape of Kafka Connect's REST API.
    pub fn save_connector(&self, config: &runnel_core::config::ConnectorConfig) -> Result<()> {
        let mut props: serde_json::Map<String, serde_json::Value> = config
            .props
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        props.insert("name".into(), config.name.clone().into());
        let text = serde_json::json!({"name": config.name, "config": props}).to_string();
        self.save_config(&config.name, &text)
    }

    fn save_config(&self, name: &str, config_json: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO connectors (name, config, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at",
                params![name, config_json, now()],
            )
            .map(drop)
            .map_err(db_err("saving a config"))
        })
    }

    /// Every stored connector config (as `{"name", "config"}` JSON), by name.
    pub fn configs(&self) -> Result<Vec<(String, String)>> {
        self.with(|c| {
            let mut stmt = c
                .prepare("SELECT name, config FROM connectors ORDER BY name")
                .map_err(db_err("listing configs"))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db_err("listing configs"))?;
            rows.collect::<std::result::Result<_, _>>()
                .map_err(db_err("listing configs"))
        })
    }

    /// Forgets a connector: config, offset, status and target state.
    pub fn delete_connector(&self, name: &str) -> Result<()> {
        self.with(|c| {
            for table in [
                "connectors",
                "offsets",
                "status",
                "targets",
                "offset_generations",
                "schema_history",
            ] {
                c.execute(&format!("DELETE FROM {table} WHERE name = ?1"), [name])
                    .map_err(db_err("deleting a connector"))?;
            }
            Ok(())
        })
    }

    /// The connector's schema history as its source sees it.
    pub fn history(&self, name: &str) -> std::sync::Arc<dyn runnel_core::SchemaHistory> {
        std::sync::Arc::new(StoredHistory {
            store: self.clone(),
            name: name.to_string(),
        })
    }

    /// The state a connector should be in (`STARTED`, `PAUSED`, `STOPPED`), as Kafka Connect's
    /// target states.
    pub fn set_target(&self, name: &str, state: TargetState) -> Result<()> {
        let state = state.as_str();
        self.with(|c| {
            c.execute(
                "INSERT INTO targets (name, state, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                params![name, state, now()],
            )
            .map(drop)
            .map_err(db_err("saving a target state"))
        })
    }

    pub fn target(&self, name: &str) -> Result<Option<TargetState>> {
        let state: Option<String> = self.with(|c| {
            c.query_row("SELECT state FROM targets WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db_err("reading a target state"))
        })?;
        Ok(state.as_deref().and_then(TargetState::parse))
    }

    pub fn offset(&self, name: &str) -> Result<Option<SourceOffset>> {
        self.with(|c| {
            let text: Option<String> = c
                .query_row("SELECT offset FROM offsets WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(db_err("reading an offset"))?;
            Ok(text.and_then(|t| SourceOffset::from_json(&t)))
        })
    }

    /// Sets the one listener told of every saved offset; false if one is set already.
    pub fn set_offset_listener(&self, listener: OffsetListener) -> bool {
        self.offset_listener.set(listener).is_ok()
    }

    /// Durably records `offset` (fsync before returning), then tells the listener.
    pub fn save_offset(&self, name: &str, offset: &SourceOffset) -> Result<()> {
        self.save_offset_here(name, offset)?;
        if let Some(listener) = self.offset_listener.get() {
            listener(name, offset);
        }
        Ok(())
    }

    /// Records `offset` without telling the listener (an offset read from elsewhere).
    pub fn save_offset_here(&self, name: &str, offset: &SourceOffset) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO offsets (name, offset, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET offset = excluded.offset, updated_at = excluded.updated_at",
                params![name, offset.to_json(), now()],
            )
            .map(drop)
            .map_err(db_err("saving an offset"))
        })
    }

    pub fn delete_offset(&self, name: &str) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM offsets WHERE name = ?1", [name])
                .map(drop)
                .map_err(db_err("deleting an offset"))
        })
    }

    /// The user's new offset for a connector (`None`: reset it), through the offsets API. It
    /// starts a new offset generation, so a sink that keeps offsets with its data ignores the
    /// one it stored before (see `runnel_core::sink`).
    pub fn replace_offset(&self, name: &str, offset: Option<&SourceOffset>) -> Result<()> {
        match offset {
            Some(offset) => self.save_offset(name, offset)?,
            None => self.delete_offset(name)?,
        }
        self.with(|c| {
            c.execute("DELETE FROM offset_generations WHERE name = ?1", [name])
                .map(drop)
                .map_err(db_err("starting an offset generation"))
        })
    }

    /// The connector's offset generation: made when first asked for, and anew after the user
    /// replaced its offset or deleted the connector.
    pub fn offset_generation(&self, name: &str) -> Result<String> {
        self.with(|c| {
            let fresh = format!(
                "{:x}-{:x}",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0),
                std::process::id()
            );
            c.execute(
                "INSERT INTO offset_generations (name, generation) VALUES (?1, ?2)
                 ON CONFLICT(name) DO NOTHING",
                params![name, fresh],
            )
            .map_err(db_err("saving an offset generation"))?;
            c.query_row(
                "SELECT generation FROM offset_generations WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .map_err(db_err("reading an offset generation"))
        })
    }

    pub fn set_status(&self, name: &str, state: State, trace: Option<&str>) -> Result<()> {
        let state = state.as_str();
        self.with(|c| {
            c.execute(
                "INSERT INTO status (name, state, trace, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(name) DO UPDATE SET state = excluded.state, trace = excluded.trace, updated_at = excluded.updated_at",
                params![name, state, trace, now()],
            )
            .map(drop)
            .map_err(db_err("saving status"))
        })
    }

    /// The stored state and its trace (a failure's, or what a running task retries).
    pub fn status(&self, name: &str) -> Result<Option<(State, Option<String>)>> {
        let row: Option<(String, Option<String>)> = self.with(|c| {
            c.query_row(
                "SELECT state, trace FROM status WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db_err("reading status"))
        })?;
        Ok(row.and_then(|(s, trace)| State::parse(&s).map(|s| (s, trace))))
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One connector's schema history in the state store (`schema_history`, one row per entry).
struct StoredHistory {
    store: StateStore,
    name: String,
}

impl runnel_core::SchemaHistory for StoredHistory {
    fn load(&self) -> Result<Vec<String>> {
        self.store.with(|c| {
            let mut stmt = c
                .prepare("SELECT entry FROM schema_history WHERE name = ?1 ORDER BY seq")
                .map_err(db_err("reading the schema history"))?;
            let rows = stmt
                .query_map([&self.name], |r| r.get::<_, String>(0))
                .map_err(db_err("reading the schema history"))?;
            rows.collect::<std::result::Result<Vec<_>, _>>()
                .map_err(db_err("reading the schema history"))
        })
    }

    fn append(&self, entry: &str) -> Result<()> {
        self.store.with(|c| {
            c.execute(
                "INSERT INTO schema_history (name, seq, entry) VALUES (?1, \
                 (SELECT COALESCE(MAX(seq), 0) + 1 FROM schema_history WHERE name = ?1), ?2)",
                params![self.name, entry],
            )
            .map_err(db_err("writing the schema history"))?;
            Ok(())
        })
    }

    fn clear(&self) -> Result<()> {
        self.store.with(|c| {
            c.execute("DELETE FROM schema_history WHERE name = ?1", [&self.name])
                .map_err(db_err("clearing the schema history"))?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = StateStore::open(dir.path()).unwrap();
            assert!(s.offset("a").unwrap().is_none());
            s.save_offset("a", &SourceOffset::new().set("lsn", 42u64))
                .unwrap();
            s.set_status("a", State::Running, None).unwrap();
        }
        let s = StateStore::open(dir.path()).unwrap();
        assert_eq!(s.offset("a").unwrap().unwrap().u64("lsn"), Some(42));
        assert_eq!(s.status("a").unwrap().unwrap().0, State::Running);
    }

    #[test]
    fn an_offset_generation_changes_only_when_the_user_replaces_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateStore::open(dir.path()).unwrap();
        let first = s.offset_generation("a").unwrap();
        s.save_offset("a", &SourceOffset::new().set("lsn", 1u64))
            .unwrap();
        assert_eq!(s.offset_generation("a").unwrap(), first);
        s.replace_offset("a", None).unwrap();
        let second = s.offset_generation("a").unwrap();
        assert_ne!(second, first);
        s.delete_connector("a").unwrap();
        assert_ne!(s.offset_generation("a").unwrap(), second);
    }
}
