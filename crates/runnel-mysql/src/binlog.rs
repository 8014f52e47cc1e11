//! The binlog events the source acts on, decoded from an event's body (after the common
//! header, checksum removed): ROTATE, QUERY, XID, TABLE_MAP, ROWS v1/v2, MySQL GTID, and
//! MariaDB's own GTID and GTID list events. Every read is bounds-checked: any input decodes
//! or fails with [`Malformed`], never panics (the fuzz test feeds it arbitrary bytes).
//! Row values are decoded by [`crate::types`] from [`RowsEvent::body`].

use std::fmt;

/// Event type codes (MySQL's `Log_event_type`, MariaDB's additions from 160).
pub mod kind {
    pub const QUERY: u8 = 2;
    pub const ROTATE: u8 = 4;
    pub const FORMAT_DESCRIPTION: u8 = 15;
    pub const XID: u8 = 16;
    pub const TABLE_MAP: u8 = 19;
    pub const WRITE_ROWS_V1: u8 = 23;
    pub const UPDATE_ROWS_V1: u8 = 24;
    pub const DELETE_ROWS_V1: u8 = 25;
    pub const HEARTBEAT: u8 = 27;
    pub const WRITE_ROWS: u8 = 30;
    pub const UPDATE_ROWS: u8 = 31;
    pub const DELETE_ROWS: u8 = 32;
    pub const GTID: u8 = 33;
    pub const ANONYMOUS_GTID: u8 = 34;
    pub const PREVIOUS_GTIDS: u8 = 35;
    pub const PARTIAL_UPDATE_ROWS: u8 = 39;
    pub const TRANSACTION_PAYLOAD: u8 = 40;
    pub const MARIADB_ANNOTATE_ROWS: u8 = 160;
    pub const MARIADB_BINLOG_CHECKPOINT: u8 = 161;
    pub const MARIADB_GTID: u8 = 162;
    pub const MARIADB_GTID_LIST: u8 = 163;
    pub const MARIADB_START_ENCRYPTION: u8 = 164;
    pub const MARIADB_WRITE_ROWS_COMPRESSED_V1: u8 = 169;
    pub const MARIADB_DELETE_ROWS_COMPRESSED_V1: u8 = 171;
}

/// Column type codes of a TABLE_MAP event (`enum_field_types`).
pub mod col {
    pub const DECIMAL: u8 = 0;
    pub const TINY: u8 = 1;
    pub const SHORT: u8 = 2;
    pub const LONG: u8 = 3;
    pub const FLOAT: u8 = 4;
    pub const DOUBLE: u8 = 5;
    pub const NULL: u8 = 6;
    pub const TIMESTAMP: u8 = 7;
    pub const LONGLONG: u8 = 8;
    pub const INT24: u8 = 9;
    pub const DATE: u8 = 10;
    pub const TIME: u8 = 11;
    pub const DATETIME: u8 = 12;
    pub const YEAR: u8 = 13;
    pub const NEWDATE: u8 = 14;
    pub const VARCHAR: u8 = 15;
    pub const BIT: u8 = 16;
    pub const TIMESTAMP2: u8 = 17;
    pub const DATETIME2: u8 = 18;
    pub const TIME2: u8 = 19;
    pub const JSON: u8 = 245;
    pub const NEWDECIMAL: u8 = 246;
    pub const ENUM: u8 = 247;
    pub const SET: u8 = 248;
    pub const TINY_BLOB: u8 = 249;
    pub const MEDIUM_BLOB: u8 = 250;
    pub const LONG_BLOB: u8 = 251;
    pub const BLOB: u8 = 252;
    pub const VAR_STRING: u8 = 253;
    pub const STRING: u8 = 254;
    pub const GEOMETRY: u8 = 255;
}

/// Input that is not a well-formed event of its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed binlog event: {}", self.0)
    }
}

impl std::error::Error for Malformed {}

pub type Decoded<T> = std::result::Result<T, Malformed>;

/// A bounds-checked cursor.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn rest(&mut self) -> &'a [u8] {
        let r = &self.buf[self.pos..];
        self.pos = self.buf.len();
        r
    }

    pub fn take(&mut self, n: usize, what: &'static str) -> Decoded<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let end = end.ok_or(Malformed(what))?;
        let r = &self.buf[self.pos..end];
        self.pos = end;
        Ok(r)
    }

    pub fn u8(&mut self, what: &'static str) -> Decoded<u8> {
        Ok(self.take(1, what)?[0])
    }

    /// A little-endian unsigned integer of `n` bytes (n ≤ 8).
    pub fn uint_le(&mut self, n: usize, what: &'static str) -> Decoded<u64> {
        if n > 8 {
            return Err(Malformed(what));
        }
        let b = self.take(n, what)?;
        Ok(b.iter()
            .rev()
            .fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
    }

    /// A big-endian unsigned integer of `n` bytes (n ≤ 8).
    pub fn uint_be(&mut self, n: usize, what: &'static str) -> Decoded<u64> {
        if n > 8 {
            return Err(Malformed(what));
        }
        let b = self.take(n, what)?;
        Ok(b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
    }

    /// A length-encoded integer of the client protocol.
    pub fn lenenc(&mut self, what: &'static str) -> Decoded<u64> {
        match self.u8(what)? {
            n @ 0..=0xfa => Ok(u64::from(n)),
            0xfc => self.uint_le(2, what),
            0xfd => self.uint_le(3, what),
            0xfe => self.uint_le(8, what),
            _ => Err(Malformed(what)),
        }
    }
}

/// The 19-byte common header's fields the source needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub timestamp: u32,
    pub kind: u8,
    pub server_id: u32,
    pub event_size: u32,
    /// Position of the next event in the binlog file (0 for artificial events).
    pub log_pos: u32,
    pub flags: u16,
}

impl Header {
    /// Where this event starts in its binlog file.
    pub fn start(&self) -> u64 {
        u64::from(self.log_pos).saturating_sub(u64::from(self.event_size))
    }
}

/// A TRANSACTION_PAYLOAD's compression: zstd, or none.
pub const PAYLOAD_ZSTD: u64 = 0;
pub const PAYLOAD_NONE: u64 = 255;

/// A TRANSACTION_PAYLOAD event (MySQL 8's compressed transaction): its header fields, then
/// the (compressed) events of one transaction.
#[derive(Debug, PartialEq, Eq)]
pub struct TransactionPayload<'a> {
    pub compression: u64,
    pub data: &'a [u8],
}

/// A MySQL length-encoded integer.
fn lenenc(r: &mut Reader<'_>, what: &'static str) -> Decoded<u64> {
    match r.u8(what)? {
        x @ 0..=0xfa => Ok(u64::from(x)),
        0xfc => r.uint_le(2, what),
        0xfd => r.uint_le(3, what),
        0xfe => r.uint_le(8, what),
        _ => Err(Malformed(what)),
    }
}

/// TRANSACTION_PAYLOAD: fields (type, length, value; each a length-encoded integer) up to
/// the end mark, then the payload of the size field says.
pub fn transaction_payload(body: &[u8]) -> Decoded<TransactionPayload<'_>> {
    let mut r = Reader::new(body);
    let (mut size, mut compression) = (None, None);
    loop {
        match lenenc(&mut r, "payload field type")? {
            0 => break,
            field @ 1..=3 => {
                let _length = lenenc(&mut r, "payload field length")?;
                let v = lenenc(&mut r, "payload field")?;
                match field {
                    1 => size = Some(v),
                    2 => compression = Some(v),
                    _ => {}
                }
            }
            _ => {
                let length = lenenc(&mut r, "payload field length")?;
                r.take(
                    usize::try_from(length).unwrap_or(usize::MAX),
                    "payload field",
                )?;
            }
        }
    }
    let size = size.ok_or(Malformed("payload size"))?;
    let compression = compression.ok_or(Malformed("payload compression type"))?;
    let data = r.take(usize::try_from(size).unwrap_or(usize::MAX), "payload")?;
    Ok(TransactionPayload { compression, data })
}

/// The events inside a TRANSACTION_PAYLOAD, one at a time (a large transaction is never held
/// decompressed as a whole).
pub struct PayloadEvents<'a> {
    input: mysql_async::binlog::events::TransactionPayloadReader<'a>,
    reader: mysql_common::binlog::EventStreamReader,
}

impl<'a> PayloadEvents<'a> {
    pub fn new(body: &'a [u8]) -> std::result::Result<Self, String> {
        use mysql_async::binlog::events::TransactionPayloadReader;
        let p = transaction_payload(body).map_err(|e| e.to_string())?;
        let input = match p.compression {
            PAYLOAD_ZSTD => {
                TransactionPayloadReader::new_zstd(p.data).map_err(|e| e.to_string())?
            }
            PAYLOAD_NONE => TransactionPayloadReader::new_uncompressed(p.data),
            other => return Err(format!("compression type {other} is not known")),
        };
        let reader = mysql_common::binlog::EventStreamReader::new(
            mysql_common::binlog::consts::BinlogVersion::Version4,
        );
        Ok(Self { input, reader })
    }

    /// The next inner event (without a checksum), or None at the end.
    pub fn next_event(
        &mut self,
    ) -> std::result::Result<Option<mysql_async::binlog::events::Event>, String> {
        self.reader
            .read_decompressed(&mut self.input)
            .map_err(|e| e.to_string())
    }
}

/// ROTATE: the next binlog file and the position in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotate<'a> {
    pub position: u64,
    pub file: &'a [u8],
}

pub fn rotate(body: &[u8]) -> Decoded<Rotate<'_>> {
    let mut r = Reader::new(body);
    let position = r.uint_le(8, "rotate position")?;
    let mut file = r.rest();
    // The artificial ROTATE that opens a dump comes before the format description event, so
    // nothing has told the reader to cut its checksum: a file name ends at its numeric suffix.
    if let Some(dot) = file.iter().rposition(|b| *b == b'.') {
        let digits = file[dot + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits > 0 {
            file = &file[..dot + 1 + digits];
        }
    }
    Ok(Rotate { position, file })
}

/// QUERY: a statement (DDL, `BEGIN`, `COMMIT`) and its default database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query<'a> {
    pub thread_id: u32,
    pub error_code: u16,
    pub schema: &'a [u8],
    pub sql: &'a [u8],
}

pub fn query(body: &[u8]) -> Decoded<Query<'_>> {
    let mut r = Reader::new(body);
    let thread_id = r.uint_le(4, "query thread id")? as u32;
    let _exec_time = r.uint_le(4, "query exec time")?;
    let schema_len = r.u8("query schema length")? as usize;
    let error_code = r.uint_le(2, "query error code")? as u16;
    let status_len = r.uint_le(2, "query status length")? as usize;
    r.take(status_len, "query status variables")?;
    let schema = r.take(schema_len, "query schema")?;
    r.take(1, "query schema terminator")?;
    Ok(Query {
        thread_id,
        error_code,
        schema,
        sql: r.rest(),
    })
}

/// TABLE_MAP: the table a following ROWS event refers to and its columns' wire types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableMap {
    pub table_id: u64,
    pub schema: String,
    pub table: String,
    pub types: Vec<u8>,
    /// Per column, the type's metadata (0, 1 or 2 bytes, as written).
    pub meta: Vec<u16>,
}

/// Metadata bytes a column type carries in a TABLE_MAP event.
fn meta_len(t: u8) -> usize {
    match t {
        col::FLOAT
        | col::DOUBLE
        | col::BLOB
        | col::TINY_BLOB
        | col::MEDIUM_BLOB
        | col::LONG_BLOB
        | col::GEOMETRY
        | col::JSON
        | col::TIME2
        | col::DATETIME2
        | col::TIMESTAMP2 => 1,
        col::VARCHAR
        | col::VAR_STRING
        | col::BIT
        | col::NEWDECIMAL
        | col::STRING
        | col::ENUM
        | col::SET => 2,
        _ => 0,
    }
}

pub fn table_map(body: &[u8], table_id_len: usize) -> Decoded<TableMap> {
    let mut r = Reader::new(body);
    let table_id = r.uint_le(table_id_len, "table map id")?;
    let _flags = r.uint_le(2, "table map flags")?;
    let schema_len = r.u8("table map schema length")? as usize;
    let schema = r.take(schema_len, "table map schema")?;
    r.take(1, "table map schema terminator")?;
    let table_len = r.u8("table map table length")? as usize;
    let table = r.take(table_len, "table map table")?;
    r.take(1, "table map table terminator")?;
    let n = r.lenenc("table map column count")? as usize;
    let types = r.take(n, "table map column types")?.to_vec();
    let meta_size = r.lenenc("table map metadata length")? as usize;
    let mut m = Reader::new(r.take(meta_size, "table map metadata")?);
    let mut meta = Vec::with_capacity(n);
    for &t in &types {
        meta.push(match meta_len(t) {
            1 => u16::from(m.u8("column metadata")?),
            // STRING, ENUM and SET keep (real type, length) in write order; the others a
            // little-endian number. Both kept as first byte high.
            2 if matches!(
                t,
                col::STRING | col::ENUM | col::SET | col::NEWDECIMAL | col::BIT
            ) =>
            {
                m.uint_be(2, "column metadata")? as u16
            }
            2 => m.uint_le(2, "column metadata")? as u16,
            _ => 0,
        });
    }
    Ok(TableMap {
        table_id,
        schema: String::from_utf8_lossy(schema).into_owned(),
        table: String::from_utf8_lossy(table).into_owned(),
        types,
        meta,
    })
}

/// Which change a ROWS event carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowsKind {
    Write,
    Update,
    Delete,
}

/// A ROWS event's framing; its rows are decoded against the table's columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowsEvent<'a> {
    pub kind: RowsKind,
    pub table_id: u64,
    pub flags: u16,
    pub columns: usize,
    /// Columns present in the (before) image.
    pub present: &'a [u8],
    /// Columns present in the after image of an update.
    pub present_after: &'a [u8],
    /// The rows: for each, a null bitmap over the present columns and the values.
    pub body: &'a [u8],
}

/// Whether bit `i` of a little-endian bitmap is set.
pub fn bit(bitmap: &[u8], i: usize) -> bool {
    bitmap.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
}

pub fn rows(kind_code: u8, body: &[u8], table_id_len: usize) -> Decoded<RowsEvent<'_>> {
    let (kind, v2) = match kind_code {
        kind::WRITE_ROWS_V1 => (RowsKind::Write, false),
        kind::UPDATE_ROWS_V1 => (RowsKind::Update, false),
        kind::DELETE_ROWS_V1 => (RowsKind::Delete, false),
        kind::WRITE_ROWS => (RowsKind::Write, true),
        kind::UPDATE_ROWS => (RowsKind::Update, true),
        kind::DELETE_ROWS => (RowsKind::Delete, true),
        _ => return Err(Malformed("not a rows event")),
    };
    let mut r = Reader::new(body);
    let table_id = r.uint_le(table_id_len, "rows table id")?;
    let flags = r.uint_le(2, "rows flags")? as u16;
    if v2 {
        let extra = r.uint_le(2, "rows extra data length")? as usize;
        r.take(extra.saturating_sub(2), "rows extra data")?;
    }
    let columns = r.lenenc("rows column count")? as usize;
    let bitmap_len = columns.div_ceil(8);
    let present = r.take(bitmap_len, "rows column bitmap")?;
    let present_after = if kind == RowsKind::Update {
        r.take(bitmap_len, "rows after-image bitmap")?
    } else {
        present
    };
    Ok(RowsEvent {
        kind,
        table_id,
        flags,
        columns,
        present,
        present_after,
        body: r.rest(),
    })
}

/// A MySQL GTID: the source's UUID and the transaction number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MySqlGtid {
    pub sid: [u8; 16],
    pub gno: u64,
}

impl MySqlGtid {
    /// The UUID as MySQL prints it.
    pub fn uuid(&self) -> String {
        let h: String = self.sid.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

pub fn mysql_gtid(body: &[u8]) -> Decoded<MySqlGtid> {
    let mut r = Reader::new(body);
    let _flags = r.u8("gtid flags")?;
    let mut sid = [0u8; 16];
    sid.copy_from_slice(r.take(16, "gtid source id")?);
    let gno = r.uint_le(8, "gtid number")?;
    Ok(MySqlGtid { sid, gno })
}

/// A MariaDB GTID (`domain-server-sequence`); the server id is the event header's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MariaGtid {
    pub domain: u32,
    pub server: u32,
    pub seq: u64,
}

impl fmt::Display for MariaGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain, self.server, self.seq)
    }
}

impl MariaGtid {
    pub fn parse(s: &str) -> Option<Self> {
        let mut it = s.trim().splitn(3, '-');
        Some(Self {
            domain: it.next()?.parse().ok()?,
            server: it.next()?.parse().ok()?,
            seq: it.next()?.parse().ok()?,
        })
    }
}

/// MariaDB's GTID event starts a transaction (or a standalone DDL: `standalone`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MariaGtidEvent {
    pub gtid: MariaGtid,
    /// FL_STANDALONE: no COMMIT/XID follows (DDL).
    pub standalone: bool,
}

pub fn mariadb_gtid(body: &[u8], server_id: u32) -> Decoded<MariaGtidEvent> {
    let mut r = Reader::new(body);
    let seq = r.uint_le(8, "mariadb gtid sequence")?;
    let domain = r.uint_le(4, "mariadb gtid domain")? as u32;
    let flags = r.u8("mariadb gtid flags")?;
    Ok(MariaGtidEvent {
        gtid: MariaGtid {
            domain,
            server: server_id,
            seq,
        },
        standalone: flags & 1 != 0,
    })
}

/// MariaDB's GTID list event: the binlog state at the start of a file.
pub fn mariadb_gtid_list(body: &[u8]) -> Decoded<Vec<MariaGtid>> {
    let mut r = Reader::new(body);
    let count = (r.uint_le(4, "gtid list count")? & 0x0fff_ffff) as usize;
    if count > r.remaining() / 16 {
        return Err(Malformed("gtid list count"));
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        out.push(MariaGtid {
            domain: r.uint_le(4, "gtid list domain")? as u32,
            server: r.uint_le(4, "gtid list server")? as u32,
            seq: r.uint_le(8, "gtid list sequence")?,
        });
    }
    Ok(out)
}

/// XID: the commit of an InnoDB transaction.
pub fn xid(body: &[u8]) -> Decoded<u64> {
    Reader::new(body).uint_le(8, "xid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table_map_reads_types_and_metadata() {
        let mut b = vec![7, 0, 0, 0, 0, 0, 1, 0];
        b.extend([3, b'r', b'i', b'g', 0, 1, b't', 0]);
        b.extend([4, col::LONG, col::VARCHAR, col::NEWDECIMAL, col::DATETIME2]);
        b.extend([5, 0x90, 0x01, 10, 2, 6]);
        b.push(0b1110);
        let t = table_map(&b, 6).unwrap();
        assert_eq!(t.table_id, 7);
        assert_eq!((t.schema.as_str(), t.table.as_str()), ("rig", "t"));
        assert_eq!(t.meta, vec![0, 400, (10 << 8) | 2, 6]);
    }

    /// A MySQL 8 GTID event body as MySQL writes it (flags, source UUID, transaction number,
    /// then logical timestamps the source does not read).
    #[test]
    fn mysql_gtid_event() {
        let mut b = vec![1u8];
        b.extend([
            0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42,
            0x95, 0x62,
        ]);
        b.extend(23u64.to_le_bytes());
        b.push(2); // LOGICAL_TIMESTAMP_TYPECODE
        b.extend(7u64.to_le_bytes());
        b.extend(8u64.to_le_bytes());
        let g = mysql_gtid(&b).unwrap();
        assert_eq!(g.uuid(), "3e11fa47-71ca-11e1-9e33-c80aa9429562");
        assert_eq!(g.gno, 23);
        assert!(mysql_gtid(&b[..20]).is_err());
    }

    #[test]
    fn rotate_names_lose_a_trailing_checksum() {
        let mut b = 4u64.to_le_bytes().to_vec();
        b.extend_from_slice(b"rig-bin.000002");
        b.extend_from_slice(&[0x66, 0xf3, 0x31, 0xd0]);
        assert_eq!(rotate(&b).unwrap().file, b"rig-bin.000002");
    }

    #[test]
    fn mariadb_gtid_and_list() {
        let mut b = 42u64.to_le_bytes().to_vec();
        b.extend(0u32.to_le_bytes());
        b.push(1);
        let e = mariadb_gtid(&b, 1).unwrap();
        assert_eq!(e.gtid.to_string(), "0-1-42");
        assert!(e.standalone);
        assert_eq!(MariaGtid::parse("0-1-42"), Some(e.gtid));
        let mut l = 1u32.to_le_bytes().to_vec();
        l.extend(0u32.to_le_bytes());
        l.extend(1u32.to_le_bytes());
        l.extend(9u64.to_le_bytes());
        assert_eq!(mariadb_gtid_list(&l).unwrap()[0].to_string(), "0-1-9");
    }

    /// An event as the server writes it: the 19-byte header, then the body.
    fn event(kind: u8, log_pos: u32, body: &[u8]) -> Vec<u8> {
        let mut e = 1_765_000_000u32.to_le_bytes().to_vec();
        e.push(kind);
        e.extend(1u32.to_le_bytes());
        e.extend((19 + body.len() as u32).to_le_bytes());
        e.extend(log_pos.to_le_bytes());
        e.extend(0u16.to_le_bytes());
        e.extend_from_slice(body);
        e
    }

    /// A TRANSACTION_PAYLOAD body as MySQL 8 writes it: compression type, uncompressed size,
    /// payload size, end mark, then the zstd frame of the transaction's events.
    fn payload_body(events: &[u8], compression: u64) -> Vec<u8> {
        let data = if compression == PAYLOAD_ZSTD {
            zstd::encode_all(events, 3).unwrap()
        } else {
            events.to_vec()
        };
        let lenenc = |v: u64| -> Vec<u8> {
            if v < 251 {
                vec![v as u8]
            } else {
                let mut b = vec![0xfc];
                b.extend((v as u16).to_le_bytes());
                b
            }
        };
        let mut b = Vec::new();
        for (field, v) in [
            (2u64, compression),
            (3, events.len() as u64),
            (1, data.len() as u64),
        ] {
            b.extend(lenenc(field));
            b.extend(lenenc(lenenc(v).len() as u64));
            b.extend(lenenc(v));
        }
        b.push(0);
        b.extend(data);
        b
    }

    #[test]
    fn a_compressed_transaction_gives_its_events() {
        // BEGIN (QUERY: thread, time, db length, error, status length, db, NUL, text), then XID.
        let mut begin = vec![0u8; 13];
        begin[8] = 3;
        begin.extend_from_slice(b"rig\0BEGIN");
        let mut inner = event(kind::QUERY, 0, &begin);
        inner.extend(event(kind::XID, 0, &77u64.to_le_bytes()));
        for compression in [PAYLOAD_ZSTD, PAYLOAD_NONE] {
            let body = payload_body(&inner, compression);
            let p = transaction_payload(&body).unwrap();
            assert_eq!(p.compression, compression);
            let mut events = PayloadEvents::new(&body).unwrap();
            let first = events.next_event().unwrap().unwrap();
            assert_eq!(first.header().event_type_raw(), kind::QUERY);
            assert_eq!(query(first.data()).unwrap().sql, b"BEGIN");
            let second = events.next_event().unwrap().unwrap();
            assert_eq!(second.header().event_type_raw(), kind::XID);
            assert_eq!(xid(second.data()).unwrap(), 77);
            assert!(events.next_event().unwrap().is_none());
        }
        let body = payload_body(&inner, 7);
        assert!(PayloadEvents::new(&body).is_err_and(|e| e.contains("compression type 7")));
        assert!(transaction_payload(&body[..3]).is_err());
    }

    proptest! {
        /// Any bytes decode or fail, never panic.
        #[test]
        fn decoders_never_panic(kind_code in any::<u8>(), body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = rotate(&body);
            let _ = query(&body);
            let _ = table_map(&body, 6);
            let _ = table_map(&body, 4);
            let _ = rows(kind_code, &body, 6);
            let _ = mysql_gtid(&body);
            let _ = mariadb_gtid(&body, 1);
            let _ = mariadb_gtid_list(&body);
            let _ = xid(&body);
            if let Ok(mut events) = PayloadEvents::new(&body) {
                while let Ok(Some(_)) = events.next_event() {}
            }
        }
    }
}
