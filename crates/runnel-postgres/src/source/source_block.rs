//! Debezium's PostgreSQL `source` block (`io.debezium.connector.postgresql.Source`), the
//! connector's typed position (`lsn`, `lsn_commit`, `txId`, `ts_usec`) and its logical decoding
//! messages (`<topic.prefix>.message`).
//!
//! An event's [`EventSource::coords`] are `[lsn, last commit lsn, txId]`.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use runnel_core::encode::writer as w;
use runnel_core::{
    Batch, Column, Datum, Encoding, Error, Event, EventSource, Payload, Position, Record, Result,
    Schema, SchemaMeta, SnapshotMarker, SourceBlock, SourceOffset, TableId,
};

/// Index of each coordinate in [`EventSource::coords`].
pub const LSN: usize = 0;
pub const LAST_COMMIT_LSN: usize = 1;
pub const TX_ID: usize = 2;

/// The `source` block of one connector: its constants and the schema.
#[derive(Debug)]
pub struct PgSourceBlock {
    version: Arc<str>,
    /// `topic.prefix`.
    name: Arc<str>,
    db: Arc<str>,
    schema: Arc<Schema>,
    /// `{"version":…,"connector":…,"name":…,"ts_ms":`: the constant start of every block.
    prefix: Vec<u8>,
}

const SNAPSHOT_VALUES: &str =
    "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental";

/// The block's schema; the same for every PostgreSQL connector.
fn source_schema() -> Arc<Schema> {
    static SCHEMA: OnceLock<Arc<Schema>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let req = |name: &str, e: Encoding| Column::new(name, e, false);
            let opt = |name: &str, e: Encoding| Column::new(name, e, true);
            let mut snapshot = opt(
                "snapshot",
                Encoding::Enum {
                    allowed: SNAPSHOT_VALUES.into(),
                },
            );
            snapshot.default = Some(Datum::text("false"));
            let fields = vec![
                req("version", Encoding::String),
                req("connector", Encoding::String),
                req("name", Encoding::String),
                req("ts_ms", Encoding::Int64),
                snapshot,
                req("db", Encoding::String),
                opt("sequence", Encoding::String),
                opt("ts_us", Encoding::Int64),
                opt("ts_ns", Encoding::Int64),
                req("schema", Encoding::String),
                req("table", Encoding::String),
                opt("txId", Encoding::Int64),
                opt("lsn", Encoding::Int64),
                opt("xmin", Encoding::Int64),
                opt("origin", Encoding::String),
                opt("origin_lsn", Encoding::Int64),
            ];
            Arc::new(
                Schema::new(Encoding::Struct(fields.into()), false).with_meta(Arc::new(
                    SchemaMeta {
                        name: Some("io.debezium.connector.postgresql.Source".into()),
                        version: Some(1),
                        ..SchemaMeta::default()
                    },
                )),
            )
        })
        .clone()
}

impl PgSourceBlock {
    pub fn new(topic_prefix: &str, db: &str) -> Self {
        let version: Arc<str> = runnel_core::VERSION.into();
        let mut prefix = Vec::new();
        prefix.extend_from_slice(b"{\"version\":");
        w::str(&mut prefix, &version);
        prefix.extend_from_slice(b",\"connector\":\"postgresql\",\"name\":");
        w::str(&mut prefix, topic_prefix);
        prefix.extend_from_slice(b",\"ts_ms\":");
        Self {
            version,
            name: topic_prefix.into(),
            db: db.into(),
            schema: source_schema(),
            prefix,
        }
    }

    /// Debezium's `sequence`: `["<last commit lsn>","<lsn>"]` as a string.
    fn sequence(ev: &EventSource) -> Option<String> {
        let lsn = ev.coords[LSN]?;
        Some(match ev.coords[LAST_COMMIT_LSN] {
            Some(c) => format!("[\"{c}\",\"{lsn}\"]"),
            None => format!("[null,\"{lsn}\"]"),
        })
    }
}

impl SourceBlock for PgSourceBlock {
    fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    fn table_json(&self, table: &TableId) -> Vec<u8> {
        let mut out = b",\"schema\":".to_vec();
        w::str(&mut out, &table.schema);
        out.extend_from_slice(b",\"table\":");
        w::str(&mut out, &table.table);
        out
    }

    fn write_json(&self, buf: &mut Vec<u8>, ev: &EventSource, table_json: &[u8]) {
        buf.extend_from_slice(&self.prefix);
        w::int(buf, ev.ts_us.div_euclid(1000));
        buf.extend_from_slice(b",\"snapshot\":\"");
        buf.extend_from_slice(ev.snapshot.as_str().as_bytes());
        buf.extend_from_slice(b"\",\"db\":");
        w::str(buf, &self.db);
        buf.extend_from_slice(b",\"sequence\":");
        match ev.coords[LSN] {
            Some(lsn) => {
                buf.extend_from_slice(b"\"[");
                match ev.coords[LAST_COMMIT_LSN] {
                    Some(c) => {
                        buf.extend_from_slice(b"\\\"");
                        w::uint(buf, c);
                        buf.extend_from_slice(b"\\\"");
                    }
                    None => buf.extend_from_slice(b"null"),
                }
                buf.extend_from_slice(b",\\\"");
                w::uint(buf, lsn);
                buf.extend_from_slice(b"\\\"]\"");
            }
            None => buf.extend_from_slice(b"null"),
        }
        buf.extend_from_slice(b",\"ts_us\":");
        w::int(buf, ev.ts_us);
        buf.extend_from_slice(b",\"ts_ns\":");
        w::int(buf, ev.ts_us.saturating_mul(1000));
        buf.extend_from_slice(table_json);
        buf.extend_from_slice(b",\"txId\":");
        match ev.coords[TX_ID] {
            Some(x) => w::uint(buf, x),
            None => buf.extend_from_slice(b"null"),
        }
        buf.extend_from_slice(b",\"lsn\":");
        match ev.coords[LSN] {
            Some(x) => w::uint(buf, x),
            None => buf.extend_from_slice(b"null"),
        }
        buf.extend_from_slice(b",\"xmin\":null,\"origin\":null,\"origin_lsn\":null}");
    }

    fn push_values(&self, out: &mut Vec<Datum>, ev: &EventSource, table: &TableId) {
        let int = |v: Option<u64>| v.map_or(Datum::Null, |v| Datum::Int(v as i64));
        out.extend([
            Datum::text(&self.version),
            Datum::text("postgresql"),
            Datum::text(&self.name),
            Datum::Int(ev.ts_us.div_euclid(1000)),
            Datum::text(ev.snapshot.as_str()),
            Datum::text(&self.db),
            Self::sequence(ev).map_or(Datum::Null, |s| Datum::text(&s)),
            Datum::Int(ev.ts_us),
            Datum::Int(ev.ts_us.saturating_mul(1000)),
            Datum::text(&table.schema),
            Datum::text(&table.table),
            int(ev.coords[TX_ID]),
            int(ev.coords[LSN]),
            Datum::Null,
            Datum::Null,
            Datum::Null,
        ]);
    }
}

/// Where the connector resumes: Debezium's PostgreSQL offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgPosition {
    /// The WAL position up to which everything is delivered (a commit's end, or the server's
    /// WAL position while idle): `lsn` (and `lsn_proc`).
    pub lsn: u64,
    /// The commit LSN of the last transaction delivered (`lsn_commit`).
    pub lsn_commit: Option<u64>,
    pub tx_id: Option<u64>,
    /// Commit time, µs since the epoch (`ts_usec`).
    pub ts_usec: i64,
    /// Set once the initial snapshot has been delivered (`snapshot_completed`).
    pub snapshot_completed: bool,
    /// Debezium writes `snapshot: true` while a snapshot runs: such an offset gives no place to
    /// stream from.
    pub in_snapshot: bool,
}

impl PgPosition {
    pub fn new(lsn: u64, lsn_commit: Option<u64>, tx_id: Option<u64>, ts_usec: i64) -> Self {
        Self {
            lsn,
            lsn_commit,
            tx_id,
            ts_usec,
            snapshot_completed: false,
            in_snapshot: false,
        }
    }

    /// Reads a stored offset (ours, or one set through the offsets API in Debezium's shape).
    pub fn from_offset(o: &SourceOffset) -> Result<Self> {
        let lsn = o.u64("lsn").ok_or_else(|| {
            Error::invalid(
                "lsn",
                "the stored offset has no \"lsn\" (the WAL position to resume after); set one \
                 with PATCH /connectors/<name>/offsets or reset the offsets",
            )
        })?;
        Ok(Self {
            lsn,
            lsn_commit: o.u64("lsn_commit"),
            tx_id: o.u64("txId"),
            ts_usec: o.i64("ts_usec").unwrap_or(0),
            snapshot_completed: o.bool("snapshot_completed").unwrap_or(false),
            in_snapshot: o.bool("snapshot").unwrap_or(false),
        })
    }
}

impl Position for PgPosition {
    fn event_at(source: &runnel_core::EventSource) -> Option<String> {
        source.coords[0].map(|lsn| format!("{{\"lsn\":{lsn}}}"))
    }

    fn to_offset(&self) -> SourceOffset {
        let mut o = SourceOffset::new()
            .set("lsn", self.lsn)
            .set("lsn_proc", self.lsn);
        if let Some(c) = self.lsn_commit {
            o = o.set("lsn_commit", c);
        }
        if let Some(x) = self.tx_id {
            o = o.set("txId", x);
        }
        o = o.set("ts_usec", self.ts_usec);
        if self.snapshot_completed {
            o = o.set("snapshot_completed", true);
        }
        o
    }
}

fn message_schemas() -> &'static (Arc<Schema>, Arc<Schema>) {
    static SCHEMAS: OnceLock<(Arc<Schema>, Arc<Schema>)> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let key = Schema::versioned_structure(
            "io.debezium.connector.postgresql.MessageKey",
            1,
            vec![Column::new("prefix", Encoding::String, true)],
            false,
        );
        let message = Schema::versioned_structure(
            "io.debezium.connector.postgresql.Message",
            1,
            vec![
                Column::new("prefix", Encoding::String, true),
                Column::new(
                    "content",
                    Encoding::Binary(runnel_core::BinaryMode::Bytes),
                    true,
                ),
            ],
            false,
        );
        let value = Schema::versioned_structure(
            "io.debezium.connector.postgresql.MessageValue",
            1,
            vec![
                Column::new("op", Encoding::String, false),
                Column::new("ts_ms", Encoding::Int64, true),
                Column::of("source", &source_schema()),
                Column::of(
                    "transaction",
                    &runnel_core::schema::transaction_block_schema(),
                ),
                Column::of("message", &message),
            ],
            false,
        );
        (Arc::new(key), Arc::new(value))
    })
}

/// Appends a logical decoding message (`pg_logical_emit_message`) as Debezium's `op: "m"`
/// record on `<topic.prefix>.message`, keyed by its prefix.
pub fn push_message(
    batch: &mut Batch,
    block: &PgSourceBlock,
    topic: &Arc<str>,
    prefix: &str,
    content: Bytes,
    source: &EventSource,
    now_ms: i64,
) {
    let (key_schema, value_schema) = message_schemas();
    let key = batch.push_row([Datum::text(prefix)]);
    let source_start = batch.datums.len() as u32;
    block.push_values(&mut batch.datums, source, &TableId::new("", ""));
    let source_fields = source_start..batch.datums.len() as u32;
    let message = batch.push_row([Datum::text(prefix), Datum::Bytes(content)]);
    let value = batch.push_row([
        Datum::text("m"),
        Datum::Int(now_ms),
        Datum::Struct(source_fields),
        // Debezium's messages carry no transaction block, even inside a transaction.
        Datum::Null,
        Datum::Struct(message),
    ]);
    batch.events.push(Event::Record(Record::new(
        topic.clone(),
        Some(Payload::value(key_schema, Datum::Struct(key))),
        Some(Payload::value(value_schema, Datum::Struct(value))),
    )));
}

/// The per-event source of an event outside any table's snapshot.
pub fn streaming_source(
    ts_us: i64,
    lsn: u64,
    last_commit: Option<u64>,
    tx: Option<u64>,
) -> EventSource {
    EventSource {
        ts_us,
        snapshot: SnapshotMarker::False,
        coords: [Some(lsn), last_commit, tx, None],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runnel_core::encode::json::schema_json;

    /// The schema as the previous hand-written encoder wrote it (and Debezium does).
    const SOURCE_SCHEMA: &str = concat!(
        r#"{"type":"struct","fields":["#,
        r#"{"type":"string","optional":false,"field":"version"},"#,
        r#"{"type":"string","optional":false,"field":"connector"},"#,
        r#"{"type":"string","optional":false,"field":"name"},"#,
        r#"{"type":"int64","optional":false,"field":"ts_ms"},"#,
        r#"{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},"default":"false","field":"snapshot"},"#,
        r#"{"type":"string","optional":false,"field":"db"},"#,
        r#"{"type":"string","optional":true,"field":"sequence"},"#,
        r#"{"type":"int64","optional":true,"field":"ts_us"},"#,
        r#"{"type":"int64","optional":true,"field":"ts_ns"},"#,
        r#"{"type":"string","optional":false,"field":"schema"},"#,
        r#"{"type":"string","optional":false,"field":"table"},"#,
        r#"{"type":"int64","optional":true,"field":"txId"},"#,
        r#"{"type":"int64","optional":true,"field":"lsn"},"#,
        r#"{"type":"int64","optional":true,"field":"xmin"},"#,
        r#"{"type":"string","optional":true,"field":"origin"},"#,
        r#"{"type":"int64","optional":true,"field":"origin_lsn"}"#,
        r#"],"optional":false,"name":"io.debezium.connector.postgresql.Source","version":1}"#
    );

    #[test]
    fn source_schema_is_debeziums() {
        let block = PgSourceBlock::new("rig", "rig");
        assert_eq!(
            std::str::from_utf8(schema_json(block.schema())).unwrap(),
            SOURCE_SCHEMA
        );
    }

    #[test]
    fn position_round_trips_through_the_offset() {
        let mut p = PgPosition::new(42, Some(40), Some(7), 1_000);
        p.snapshot_completed = true;
        let back = PgPosition::from_offset(&p.to_offset()).unwrap();
        assert_eq!(back, p);
        assert!(PgPosition::from_offset(&SourceOffset::new().set("txId", 1)).is_err());
    }
}
