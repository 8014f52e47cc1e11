//! The Delta sink: changes buffered per table, merged into the tables every `flush.size`
//! changes or `flush.interval.ms` — only where the source's position is complete — one commit
//! per table, the position in each commit ([`crate::position`]). A batch is durable when the
//! flush that holds it has committed every table.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use deltalake::DeltaTable;
use runnel_core::encode::EncodedBatch;
use runnel_core::sink::{Sink, SinkInput};
use runnel_core::{Batch, Error, Result, SourceOffset};

use crate::config::DeltaConfig;
use crate::position::{self, FlushMark, TableMark};
use crate::rows::{self, TableBuffer};
use crate::table;
use crate::upkeep::Upkeep;

pub struct DeltaSink {
    cfg: DeltaConfig,
    rt: tokio::runtime::Runtime,
    tables: HashMap<String, DeltaTable>,
    /// Changes waiting, per table name (ordered: commits go in the same order every time).
    buffers: BTreeMap<String, TableBuffer>,
    /// Each topic's table name.
    names: HashMap<std::sync::Arc<str>, String>,
    rows: usize,
    first_row_at: Option<Instant>,
    /// Batches submitted since the last flush, and batches made durable since `settle` last
    /// asked.
    unflushed: usize,
    durable: usize,
    /// The offset the last submitted batch completes (direct sink), and whether the stream is
    /// at such a position now.
    offset: Option<SourceOffset>,
    at_position: bool,
    /// The offset the last flush completed.
    flushed_offset: Option<SourceOffset>,
    app_id: Option<String>,
    version: i64,
    upkeep: Upkeep,
}

impl DeltaSink {
    pub fn new(cfg: DeltaConfig) -> Result<Self> {
        deltalake::aws::register_handlers(None);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::internal(format!("starting the Delta sink's runtime: {e}")))?;
        let upkeep = Upkeep::new(&cfg);
        Ok(Self {
            cfg,
            rt,
            tables: HashMap::new(),
            buffers: BTreeMap::new(),
            names: HashMap::new(),
            rows: 0,
            first_row_at: None,
            unflushed: 0,
            durable: 0,
            offset: None,
            at_position: true,
            flushed_offset: None,
            app_id: None,
            version: 0,
            upkeep,
        })
    }

    fn flush_due(&self) -> bool {
        self.rows >= self.cfg.flush_size
            || self
                .first_row_at
                .is_some_and(|t| t.elapsed() >= self.cfg.flush_interval)
    }

    /// Commits every buffered table. `whole`: the stream is at a complete position, and every
    /// batch submitted so far is durable with it. Otherwise (a snapshot, or a transaction larger
    /// than `flush.size`, whose rows would not fit in memory) the commits keep the last complete
    /// position: a restart replays from there and merges the same rows again, by key.
    fn flush(&mut self, whole: bool) -> Result<()> {
        let names: Vec<String> = self
            .buffers
            .iter()
            .filter(|(_, b)| !b.is_empty())
            .map(|(n, _)| n.clone())
            .collect();
        if !names.is_empty() {
            let offset = if whole {
                self.offset.clone()
            } else {
                self.flushed_offset.clone()
            };
            let version = position::next_version(self.version, offset.as_ref().filter(|_| whole));
            let mark = FlushMark {
                app_id: self
                    .app_id
                    .clone()
                    .unwrap_or_else(|| format!("runnel-{}", self.cfg.connector)),
                version,
                offset,
                previous: self.flushed_offset.clone(),
                tables: names.clone(),
                connector: self.cfg.connector.clone(),
            };
            let started = Instant::now();
            for name in &names {
                let buffer = self.buffers.get(name).expect("buffered");
                let handle = match self.tables.remove(name) {
                    Some(t) => t,
                    None => self.rt.block_on(table::open(&self.cfg, name))?,
                };
                let props = mark.commit_properties();
                let (handle, written) = self
                    .rt
                    .block_on(table::write(&self.cfg, name, handle, buffer, props))?;
                tracing::debug!(table = %name, rows = written.rows, version, "merged into the Delta table");
                self.tables.insert(name.clone(), handle);
            }
            tracing::debug!(
                tables = names.len(),
                rows = self.rows,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "flushed"
            );
            self.version = version;
            self.upkeep.touched(&names);
        }
        self.buffers.clear();
        self.rows = 0;
        self.first_row_at = None;
        if whole {
            self.flushed_offset = self.offset.clone();
            self.durable += std::mem::take(&mut self.unflushed);
        }
        let tables = &mut self.tables;
        self.upkeep.run(&self.cfg, &self.rt, tables)?;
        Ok(())
    }

    /// The table names under `delta.uri` (one directory level), for resuming.
    fn existing_tables(&self) -> Result<Vec<String>> {
        use deltalake::ObjectStore;
        use futures_util::StreamExt;
        let root = self.rt.block_on(table::open(&self.cfg, ""))?;
        let store = root.log_store().object_store(None);
        let listed = self.rt.block_on(async {
            let mut names = Vec::new();
            let top = store.list_with_delimiter(None).await.map_err(|e| {
                table::table_error(
                    "(root)",
                    "listing the tables",
                    deltalake::DeltaTableError::from(e),
                )
            })?;
            for dir in top.common_prefixes {
                let name = dir.filename().unwrap_or_default().to_string();
                let log = deltalake::Path::from(format!("{dir}/_delta_log"));
                let mut entries = store.list(Some(&log));
                if let Some(Ok(_)) = entries.next().await {
                    names.push(name);
                }
            }
            Ok::<_, Error>(names)
        })?;
        Ok(listed)
    }
}

impl Sink for DeltaSink {
    fn input(&self) -> SinkInput {
        SinkInput::Typed
    }

    fn keeps_offsets(&self) -> bool {
        self.cfg.direct
    }

    fn resume(&mut self, generation: &str) -> Result<Option<SourceOffset>> {
        let app_id = position::app_id(&self.cfg.connector, generation);
        self.app_id = Some(app_id.clone());
        let mut marks: Vec<(String, TableMark)> = Vec::new();
        for name in self.existing_tables()? {
            let handle = self.rt.block_on(table::open(&self.cfg, &name))?;
            if let Some(mark) = self
                .rt
                .block_on(position::read_mark(&name, &handle, &app_id))?
            {
                marks.push((name.clone(), mark));
            }
            self.tables.insert(name, handle);
        }
        let Some((offset, version)) = position::resume_point(&marks) else {
            return Ok(None);
        };
        self.version = version;
        self.flushed_offset = offset.clone();
        tracing::info!(connector = %self.cfg.connector, version, tables = marks.len(), "resuming from the position the Delta tables hold");
        Ok(offset)
    }

    fn submit(
        &mut self,
        batch: &Batch,
        _encoded: &EncodedBatch,
        offset: Option<&SourceOffset>,
    ) -> Result<()> {
        let mut added = 0;
        for event in &batch.events {
            let topic = event.topic();
            let name = match self.names.get(topic) {
                Some(n) => n,
                None => {
                    let n = self.cfg.table_name(topic);
                    self.names.entry(topic.clone()).or_insert(n)
                }
            };
            if !self.buffers.contains_key(name) {
                self.buffers.insert(name.clone(), TableBuffer::default());
            }
            let buffer = self.buffers.get_mut(name).expect("inserted");
            if rows::add(event, batch, self.cfg.delete_enabled, buffer)? {
                added += 1;
            }
        }
        if added > 0 && self.first_row_at.is_none() {
            self.first_row_at = Some(Instant::now());
        }
        self.rows += added;
        self.unflushed += 1;
        if self.cfg.direct {
            if let Some(o) = offset {
                self.offset = Some(o.clone());
            }
            self.at_position = offset.is_some();
        }
        if self.rows >= self.cfg.flush_size {
            if self.at_position {
                self.flush(true)?;
            } else if self.buffers.values().all(|b| !b.key.is_empty()) {
                // Rows without a key would be appended twice by the replay: those wait for
                // the position.
                self.flush(false)?;
            }
        }
        Ok(())
    }

    fn settle(&mut self, wait: Duration) -> Result<usize> {
        if self.at_position && self.unflushed > 0 && (self.rows == 0 || self.flush_due()) {
            self.flush(true)?;
        }
        let durable = std::mem::take(&mut self.durable);
        if durable == 0 && !wait.is_zero() {
            // Sleep no longer than until the buffered rows are due.
            let until_due = self
                .first_row_at
                .map(|t| self.cfg.flush_interval.saturating_sub(t.elapsed()))
                .unwrap_or(wait);
            std::thread::sleep(wait.min(until_due).max(Duration::from_millis(1)));
        }
        Ok(durable)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use deltalake::arrow::array::{Array, Int32Array, StringArray};
    use deltalake::datafusion::prelude::SessionContext;
    use runnel_core::config::ConnectorConfig;
    use runnel_core::event::{ChangeEvent, EventSource, SnapshotMarker};
    use runnel_core::plugin::SinkConfig;
    use runnel_core::{Column, Datum, Encoding, Event, Op, TableId, TableSchema};

    use super::*;

    fn sink_config(dir: &str, extra: &[(&str, &str)]) -> DeltaConfig {
        let mut keys: BTreeMap<String, String> =
            [("delta.uri".to_string(), dir.to_string())].into();
        for (k, v) in extra {
            keys.insert(k.to_string(), v.to_string());
        }
        let connector = ConnectorConfig::from_json(
            &serde_json::json!({
                "name": "lake",
                "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            })
            .to_string(),
        )
        .unwrap();
        DeltaConfig::parse(&SinkConfig {
            keys,
            connector,
            worker: Default::default(),
            spelled: BTreeMap::new(),
        })
        .unwrap()
    }

    fn table(columns: Vec<Column>, version: u32) -> Arc<TableSchema> {
        Arc::new(TableSchema::new(
            TableId::new("public", "t"),
            "db.public.t".into(),
            "db.public.t".into(),
            columns,
            vec![0],
            version,
        ))
    }

    fn change(batch: &mut Batch, t: &Arc<TableSchema>, op: Op, row: Vec<Datum>) {
        let range = batch.push_row(row);
        let (before, after) = match op {
            Op::Delete => (Some(range), None),
            _ => (None, Some(range)),
        };
        batch.events.push(Event::Change(ChangeEvent {
            table: t.clone(),
            op,
            before,
            after,
            source: EventSource {
                ts_us: 0,
                snapshot: SnapshotMarker::False,
                coords: [None; 4],
            },
        }));
    }

    fn read(rt: &tokio::runtime::Runtime, dir: &str) -> Vec<(i32, Option<String>, Option<String>)> {
        rt.block_on(async {
            let url = url::Url::from_directory_path(format!("{dir}/db.public.t")).unwrap();
            let table = deltalake::DeltaTable::try_from_url(url).await.unwrap();
            let ctx = SessionContext::new();
            let provider = table.table_provider().await.unwrap();
            let df = ctx.read_table(provider).unwrap();
            let mut out = Vec::new();
            for b in df.collect().await.unwrap() {
                let ids = b
                    .column_by_name("id")
                    .unwrap()
                    .as_any()
                    .downcast_ref::<Int32Array>()
                    .unwrap();
                let text = |name: &str, i: usize| {
                    b.column_by_name(name).and_then(|c| {
                        let c = deltalake::arrow::compute::cast(
                            c,
                            &deltalake::arrow::datatypes::DataType::Utf8,
                        )
                        .unwrap();
                        let c = c.as_any().downcast_ref::<StringArray>().unwrap();
                        (!c.is_null(i)).then(|| c.value(i).to_string())
                    })
                };
                for i in 0..b.num_rows() {
                    out.push((ids.value(i), text("v", i), text("w", i)));
                }
            }
            out.sort();
            out
        })
    }

    /// A snapshot (no position until it ends) larger than `flush.size` is merged as it comes,
    /// so it never waits in memory whole; its batches become durable only with the position.
    #[test]
    fn rows_without_a_position_are_merged_past_flush_size_but_not_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        let mut sink = DeltaSink::new(sink_config(&root, &[("flush.size", "3")])).unwrap();
        sink.resume("g").unwrap();
        let t = table(
            vec![
                Column::new("id", Encoding::Int32, false),
                Column::new("v", Encoding::String, true),
            ],
            1,
        );
        let encoded = EncodedBatch::default();
        for chunk in [1..=2, 3..=4, 5..=6] {
            let mut batch = Batch::default();
            for id in chunk {
                change(
                    &mut batch,
                    &t,
                    Op::Read,
                    vec![Datum::Int(id), Datum::text("s")],
                );
            }
            sink.submit(&batch, &encoded, None).unwrap();
            assert_eq!(sink.settle(Duration::ZERO).unwrap(), 0);
        }
        assert_eq!(read(&sink.rt, &root).len(), 4, "merged past flush.size");
        let end = SourceOffset::new().set("lsn", 42u64);
        sink.submit(&Batch::default(), &encoded, Some(&end))
            .unwrap();
        sink.first_row_at = Some(Instant::now() - Duration::from_secs(60));
        assert_eq!(sink.settle(Duration::ZERO).unwrap(), 4);
        assert_eq!(read(&sink.rt, &root).len(), 6);
        let mut again = DeltaSink::new(sink_config(&root, &[])).unwrap();
        assert_eq!(again.resume("g").unwrap(), Some(end));
    }

    /// Upserts, a delete, an added column and a resume: the table holds the last change per
    /// key, the new column null in rows written before it, and the position of the last flush.
    #[test]
    fn merges_by_key_adds_columns_and_resumes_from_the_tables() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        let cfg = sink_config(&root, &[("flush.size", "1000000")]);
        let mut sink = DeltaSink::new(cfg.clone()).unwrap();
        assert_eq!(sink.resume("g1").unwrap(), None);
        let v1 = table(
            vec![
                Column::new("id", Encoding::Int32, false),
                Column::new("v", Encoding::String, true),
            ],
            1,
        );
        let mut batch = Batch::default();
        for id in 1..=4 {
            change(
                &mut batch,
                &v1,
                Op::Create,
                vec![Datum::Int(id), Datum::text("a")],
            );
        }
        change(
            &mut batch,
            &v1,
            Op::Update,
            vec![Datum::Int(2), Datum::text("b")],
        );
        change(
            &mut batch,
            &v1,
            Op::Delete,
            vec![Datum::Int(3), Datum::text("a")],
        );
        let at = |lsn: u64| SourceOffset::new().set("lsn", lsn);
        let encoded = EncodedBatch::default();
        sink.submit(&batch, &encoded, Some(&at(100))).unwrap();
        sink.first_row_at = Some(Instant::now() - Duration::from_secs(60));
        assert_eq!(sink.settle(Duration::ZERO).unwrap(), 1);
        let v2 = table(
            vec![
                Column::new("id", Encoding::Int32, false),
                Column::new("v", Encoding::String, true),
                Column::new("w", Encoding::String, true),
            ],
            2,
        );
        let mut batch = Batch::default();
        change(
            &mut batch,
            &v2,
            Op::Create,
            vec![Datum::Int(5), Datum::text("c"), Datum::text("new")],
        );
        change(
            &mut batch,
            &v2,
            Op::Update,
            vec![Datum::Int(1), Datum::text("d"), Datum::Null],
        );
        sink.submit(&batch, &encoded, Some(&at(200))).unwrap();
        sink.first_row_at = Some(Instant::now() - Duration::from_secs(60));
        assert_eq!(sink.settle(Duration::ZERO).unwrap(), 1);
        assert_eq!(
            read(&sink.rt, &root),
            vec![
                (1, Some("d".into()), None),
                (2, Some("b".into()), None),
                (4, Some("a".into()), None),
                (5, Some("c".into()), Some("new".into())),
            ]
        );
        // A new sink (a restart) resumes from the last flush; another generation from nothing.
        let mut again = DeltaSink::new(cfg.clone()).unwrap();
        assert_eq!(again.resume("g1").unwrap(), Some(at(200)));
        assert_eq!(again.version, 200);
        let mut other = DeltaSink::new(cfg).unwrap();
        assert_eq!(other.resume("g2").unwrap(), None);
        // A column whose type changes is refused, naming the table and the column.
        let v3 = table(
            vec![
                Column::new("id", Encoding::Int32, false),
                Column::new("v", Encoding::Int64, true),
            ],
            3,
        );
        let mut batch = Batch::default();
        change(
            &mut batch,
            &v3,
            Op::Create,
            vec![Datum::Int(9), Datum::Int(1)],
        );
        again.submit(&batch, &encoded, Some(&at(300))).unwrap();
        again.first_row_at = Some(Instant::now() - Duration::from_secs(60));
        let e = again.settle(Duration::ZERO).unwrap_err();
        assert!(
            e.message().contains("db.public.t")
                && e.message().contains("\"v\"")
                && e.message().contains("incompatible"),
            "{}",
            e.message()
        );
    }
}
