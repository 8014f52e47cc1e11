//! Debezium's MySQL `source` block (`io.debezium.connector.mysql.Source`, also the MariaDB
//! connector's shape) and the connector's typed position (Debezium's binlog offset:
//! `file`, `pos`, `gtids`, `ts_sec`, `server_id`).
//!
//! An event's [`EventSource::coords`] are `[pos, row << 32 | server_id, domain << 32 | file
//! number, GTID sequence]`: the event's start in its binlog file, its row within the ROWS event
//! and the server that wrote it, the binlog file's numeric suffix (the base name is the
//! server's, one per block) and, on MariaDB, the transaction's GTID domain and sequence number.

use std::sync::{Arc, OnceLock};

use runnel_core::encode::writer as w;
use runnel_core::{
    Column, Datum, Encoding, Error, EventSource, Position, Result, Schema, SchemaMeta,
    SnapshotMarker, SourceBlock, SourceOffset, TableId,
};

pub const POS: usize = 0;
pub const ROW_SERVER: usize = 1;
pub const FILE: usize = 2;
pub const GTID_SEQ: usize = 3;

const SNAPSHOT_VALUES: &str =
    "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental";

fn source_schema(connector: &str) -> Arc<Schema> {
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
        opt("table", Encoding::String),
        req("server_id", Encoding::Int64),
        opt("gtid", Encoding::String),
        req("file", Encoding::String),
        req("pos", Encoding::Int64),
        req("row", Encoding::Int32),
        opt("thread", Encoding::Int64),
        opt("query", Encoding::String),
    ];
    let name = if connector == "mariadb" {
        "io.debezium.connector.mariadb.Source"
    } else {
        "io.debezium.connector.mysql.Source"
    };
    Arc::new(
        Schema::new(Encoding::Struct(fields.into()), false).with_meta(Arc::new(SchemaMeta {
            name: Some(name.into()),
            version: Some(1),
            ..SchemaMeta::default()
        })),
    )
}

/// The `source` block of one connector.
#[derive(Debug)]
pub struct BinlogSourceBlock {
    version: Arc<str>,
    connector: &'static str,
    name: Arc<str>,
    schema: Arc<Schema>,
    /// The binlog files' base name (`mysql-bin`), learnt from the server.
    file_base: OnceLock<Arc<str>>,
    prefix: Vec<u8>,
}

impl BinlogSourceBlock {
    pub fn new(connector: &'static str, topic_prefix: &str) -> Self {
        let version: Arc<str> = runnel_core::VERSION.into();
        let mut prefix = Vec::new();
        prefix.extend_from_slice(b"{\"version\":");
        w::str(&mut prefix, &version);
        prefix.extend_from_slice(b",\"connector\":");
        w::str(&mut prefix, connector);
        prefix.extend_from_slice(b",\"name\":");
        w::str(&mut prefix, topic_prefix);
        prefix.extend_from_slice(b",\"ts_ms\":");
        Self {
            version,
            connector,
            name: topic_prefix.into(),
            schema: source_schema(connector),
            file_base: OnceLock::new(),
            prefix,
        }
    }

    pub fn connector(&self) -> &'static str {
        self.connector
    }

    /// Splits `mysql-bin.000042` into its base (remembered) and number.
    pub fn file_number(&self, file: &str) -> u64 {
        let (base, num) = split_file(file);
        let _ = self.file_base.set(base.into());
        num
    }

    pub fn file_name(&self, number: u64) -> String {
        let base = self.file_base.get().map_or("binlog", |b| b);
        format!("{base}.{number:06}")
    }

    fn write_file(&self, buf: &mut Vec<u8>, number: u64) {
        buf.push(b'"');
        buf.extend_from_slice(self.file_base.get().map_or("binlog", |b| b).as_bytes());
        buf.push(b'.');
        let mut digits = itoa::Buffer::new();
        let d = digits.format(number);
        for _ in d.len()..6 {
            buf.push(b'0');
        }
        buf.extend_from_slice(d.as_bytes());
        buf.push(b'"');
    }
}

/// `mysql-bin.000042` → (`mysql-bin`, 42).
pub fn split_file(file: &str) -> (&str, u64) {
    match file.rsplit_once('.') {
        Some((base, num)) => (base, num.parse().unwrap_or(0)),
        None => (file, 0),
    }
}

/// The per-event source of a streamed row (`gtid`: MariaDB's, of the row's transaction).
pub fn streaming_source(
    ts_sec: u32,
    pos: u64,
    row: u32,
    server_id: u32,
    file: u64,
    gtid: Option<crate::binlog::MariaGtid>,
) -> EventSource {
    EventSource {
        ts_us: i64::from(ts_sec) * 1_000_000,
        snapshot: SnapshotMarker::False,
        coords: [
            Some(pos),
            Some((u64::from(row) << 32) | u64::from(server_id)),
            Some((file & 0xffff_ffff) | gtid.map_or(0, |g| u64::from(g.domain) << 32)),
            gtid.map(|g| g.seq),
        ],
    }
}

impl BinlogSourceBlock {
    /// Debezium's MariaDB connector names the row's transaction (`domain-server-sequence`);
    /// the MySQL connector on MariaDB does not.
    fn gtid(&self, ev: &EventSource) -> Option<String> {
        if self.connector != "mariadb" {
            return None;
        }
        let seq = ev.coords[GTID_SEQ]?;
        let server = ev.coords[ROW_SERVER].unwrap_or(0) & 0xffff_ffff;
        let domain = ev.coords[FILE].unwrap_or(0) >> 32;
        Some(format!("{domain}-{server}-{seq}"))
    }
}

impl SourceBlock for BinlogSourceBlock {
    fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// `<db JSON>\0<table JSON>`: the two fields sit apart in the block.
    fn table_json(&self, table: &TableId) -> Vec<u8> {
        let mut out = Vec::new();
        w::str(&mut out, &table.schema);
        out.push(0);
        w::str(&mut out, &table.table);
        out
    }

    fn write_json(&self, buf: &mut Vec<u8>, ev: &EventSource, table_json: &[u8]) {
        let (db, table) = match table_json.iter().position(|b| *b == 0) {
            Some(i) => (&table_json[..i], &table_json[i + 1..]),
            None => (&b"\"\""[..], &b"null"[..]),
        };
        buf.extend_from_slice(&self.prefix);
        w::int(buf, ev.ts_us.div_euclid(1000));
        buf.extend_from_slice(b",\"snapshot\":\"");
        buf.extend_from_slice(ev.snapshot.as_str().as_bytes());
        buf.extend_from_slice(b"\",\"db\":");
        buf.extend_from_slice(db);
        buf.extend_from_slice(b",\"sequence\":null,\"ts_us\":");
        w::int(buf, ev.ts_us);
        buf.extend_from_slice(b",\"ts_ns\":");
        w::int(buf, ev.ts_us.saturating_mul(1000));
        buf.extend_from_slice(b",\"table\":");
        buf.extend_from_slice(table);
        let rs = ev.coords[ROW_SERVER].unwrap_or(0);
        buf.extend_from_slice(b",\"server_id\":");
        w::uint(buf, rs & 0xffff_ffff);
        buf.extend_from_slice(b",\"gtid\":");
        match self.gtid(ev) {
            Some(g) => w::str(buf, &g),
            None => buf.extend_from_slice(b"null"),
        }
        buf.extend_from_slice(b",\"file\":");
        self.write_file(buf, ev.coords[FILE].unwrap_or(0) & 0xffff_ffff);
        buf.extend_from_slice(b",\"pos\":");
        w::uint(buf, ev.coords[POS].unwrap_or(0));
        buf.extend_from_slice(b",\"row\":");
        w::uint(buf, rs >> 32);
        buf.extend_from_slice(b",\"thread\":null,\"query\":null}");
    }

    fn push_values(&self, out: &mut Vec<Datum>, ev: &EventSource, table: &TableId) {
        let rs = ev.coords[ROW_SERVER].unwrap_or(0);
        out.extend([
            Datum::text(&self.version),
            Datum::text(self.connector),
            Datum::text(&self.name),
            Datum::Int(ev.ts_us.div_euclid(1000)),
            Datum::text(ev.snapshot.as_str()),
            Datum::text(&table.schema),
            Datum::Null,
            Datum::Int(ev.ts_us),
            Datum::Int(ev.ts_us.saturating_mul(1000)),
            if table.table.is_empty() {
                Datum::Null
            } else {
                Datum::text(&table.table)
            },
            Datum::Int((rs & 0xffff_ffff) as i64),
            self.gtid(ev).map_or(Datum::Null, |g| Datum::text(&g)),
            Datum::text(&self.file_name(ev.coords[FILE].unwrap_or(0) & 0xffff_ffff)),
            Datum::Int(ev.coords[POS].unwrap_or(0) as i64),
            Datum::Int((rs >> 32) as i64),
            Datum::Null,
            Datum::Null,
        ]);
    }
}

/// Where the connector resumes: after a whole transaction, as Debezium's binlog offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinlogPosition {
    pub file: Arc<str>,
    pub pos: u64,
    /// The GTID set executed up to here (MariaDB `domain-server-seq,…`; MySQL `uuid:1-5,…`).
    pub gtids: Option<Arc<str>>,
    pub ts_sec: i64,
    pub server_id: u32,
    pub snapshot_completed: bool,
    /// Written while a snapshot runs: such an offset gives no place to stream from.
    pub in_snapshot: bool,
}

impl BinlogPosition {
    pub fn from_offset(o: &SourceOffset) -> Result<Self> {
        let file = o.str("file").ok_or_else(|| {
            Error::invalid(
                "file",
                "the stored offset has no \"file\" (the binlog file to resume in); set one with \
                 PATCH /connectors/<name>/offsets or reset the offsets",
            )
        })?;
        let pos = o.u64("pos").ok_or_else(|| {
            Error::invalid(
                "pos",
                "the stored offset has no \"pos\" (the binlog position)",
            )
        })?;
        Ok(Self {
            file: file.into(),
            pos,
            gtids: o.str("gtids").filter(|g| !g.is_empty()).map(Into::into),
            ts_sec: o.i64("ts_sec").unwrap_or(0),
            server_id: o.u64("server_id").unwrap_or(0) as u32,
            snapshot_completed: o.bool("snapshot_completed").unwrap_or(false),
            in_snapshot: o.bool("snapshot").unwrap_or(false),
        })
    }

    /// Orders positions of one server: file number, then position.
    pub fn key(&self) -> (u64, u64) {
        (split_file(&self.file).1, self.pos)
    }
}

impl Position for BinlogPosition {
    /// The event's position in its binlog file and its row in the event (the file's number is
    /// in the coordinates, its base name is not).
    fn event_at(source: &runnel_core::EventSource) -> Option<String> {
        let pos = source.coords[0]?;
        let row = source.coords[1].map_or(0, |c| c >> 32);
        let file = source.coords[2].map_or(0, |c| c & 0xffff_ffff);
        Some(format!(
            "{{\"file_number\":{file},\"pos\":{pos},\"row\":{row}}}"
        ))
    }

    fn to_offset(&self) -> SourceOffset {
        let mut o = SourceOffset::new()
            .set("file", self.file.to_string())
            .set("pos", self.pos);
        if let Some(g) = &self.gtids {
            o = o.set("gtids", g.to_string());
        }
        o = o
            .set("ts_sec", self.ts_sec)
            .set("server_id", u64::from(self.server_id));
        if self.snapshot_completed {
            o = o.set("snapshot_completed", true);
        }
        if self.in_snapshot {
            o = o.set("snapshot", true);
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_json_is_debeziums_shape() {
        let block = BinlogSourceBlock::new("mysql", "rig");
        let n = block.file_number("rig-bin.000025");
        let ev = streaming_source(1_795_321_144, 222_839, 0, 1, n, None);
        let tj = block.table_json(&TableId::new("rig", "customers"));
        let mut out = Vec::new();
        block.write_json(&mut out, &ev, &tj);
        let text = String::from_utf8(out).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["file"], "rig-bin.000025");
        assert_eq!(v["pos"], 222_839);
        assert_eq!(v["table"], "customers");
        assert_eq!(v["db"], "rig");
        assert_eq!(v["ts_ms"], 1_795_321_144_000i64);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "version",
                "connector",
                "name",
                "ts_ms",
                "snapshot",
                "db",
                "sequence",
                "ts_us",
                "ts_ns",
                "table",
                "server_id",
                "gtid",
                "file",
                "pos",
                "row",
                "thread",
                "query"
            ]
        );
    }

    #[test]
    fn the_mariadb_connector_names_the_gtid() {
        let block = BinlogSourceBlock::new("mariadb", "rig");
        let n = block.file_number("rig-bin.000007");
        let g = crate::binlog::MariaGtid {
            domain: 2,
            server: 1,
            seq: 99,
        };
        let ev = streaming_source(1, 100, 0, 1, n, Some(g));
        let tj = block.table_json(&TableId::new("rig", "t"));
        let mut out = Vec::new();
        block.write_json(&mut out, &ev, &tj);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["gtid"], "2-1-99");
        assert_eq!(v["file"], "rig-bin.000007");
        let mysql = BinlogSourceBlock::new("mysql", "rig");
        let mut out = Vec::new();
        mysql.write_json(&mut out, &ev, &tj);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert!(v["gtid"].is_null());
    }

    #[test]
    fn position_round_trips() {
        let p = BinlogPosition {
            file: "rig-bin.000003".into(),
            pos: 1234,
            gtids: Some("0-1-77".into()),
            ts_sec: 5,
            server_id: 1,
            snapshot_completed: true,
            in_snapshot: false,
        };
        assert_eq!(BinlogPosition::from_offset(&p.to_offset()).unwrap(), p);
    }
}
