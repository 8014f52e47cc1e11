//! Decoder for the pgoutput logical replication protocol (version 1) messages that
//! `pgwire-replication` hands over raw: Relation, Type, Origin, Insert, Update, Delete, Truncate.
//! Begin, Commit and Message are parsed by the client library itself.
//!
//! Column values are returned as slices of the message buffer (`Bytes`), never copied.

use bytes::Bytes;
use runnel_core::{Error, Result};

/// One column of a Relation message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationColumn {
    /// Part of the replica identity (flag 1).
    pub key: bool,
    pub name: String,
    pub type_oid: u32,
    pub typmod: i32,
}

/// A Relation message: the table's structure as the publisher sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub oid: u32,
    pub namespace: String,
    pub name: String,
    /// `d` default, `n` nothing, `f` full, `i` index.
    pub replica_identity: u8,
    pub columns: Vec<RelationColumn>,
}

/// One column value of a TupleData.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TupleValue {
    Null,
    /// Unchanged TOASTed value (not sent).
    Unchanged,
    Text(Bytes),
    Binary(Bytes),
}

/// A decoded pgoutput message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Relation(Relation),
    Type {
        oid: u32,
        namespace: String,
        name: String,
    },
    Origin {
        lsn: u64,
        name: String,
    },
    Insert {
        rel: u32,
        new: Vec<TupleValue>,
    },
    /// `old` is the old key (`K`) or the whole old row (`O`, REPLICA IDENTITY FULL).
    Update {
        rel: u32,
        old: Option<(u8, Vec<TupleValue>)>,
        new: Vec<TupleValue>,
    },
    Delete {
        rel: u32,
        old: (u8, Vec<TupleValue>),
    },
    Truncate {
        rels: Vec<u32>,
        cascade: bool,
        restart_identity: bool,
    },
    /// Begin/Commit/Message and anything newer than protocol v1: handled elsewhere or ignored.
    Other(u8),
}

struct Reader {
    buf: Bytes,
    pos: usize,
}

impl Reader {
    fn need(&self, n: usize) -> Result<()> {
        if self.pos + n > self.buf.len() {
            Err(Error::protocol(format!(
                "pgoutput message truncated at byte {} (need {n} more of {})",
                self.pos,
                self.buf.len()
            )))
        } else {
            Ok(())
        }
    }
    fn u8(&mut self) -> Result<u8> {
        self.need(1)?;
        self.pos += 1;
        Ok(self.buf[self.pos - 1])
    }
    fn i16(&mut self) -> Result<i16> {
        self.need(2)?;
        let v = i16::from_be_bytes([self.buf[self.pos], self.buf[self.pos + 1]]);
        self.pos += 2;
        Ok(v)
    }
    fn u32(&mut self) -> Result<u32> {
        self.need(4)?;
        let b = &self.buf[self.pos..self.pos + 4];
        self.pos += 4;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i32(&mut self) -> Result<i32> {
        Ok(self.u32()? as i32)
    }
    fn u64(&mut self) -> Result<u64> {
        Ok((u64::from(self.u32()?) << 32) | u64::from(self.u32()?))
    }
    fn cstr(&mut self) -> Result<String> {
        let end = self.buf[self.pos..]
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| Error::protocol("pgoutput string without terminator"))?;
        let s = String::from_utf8_lossy(&self.buf[self.pos..self.pos + end]).into_owned();
        self.pos += end + 1;
        Ok(s)
    }
    fn bytes(&mut self, n: usize) -> Result<Bytes> {
        self.need(n)?;
        let b = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(b)
    }

    fn tuple(&mut self) -> Result<Vec<TupleValue>> {
        let n = self.i16()?;
        let mut values = Vec::with_capacity(n.max(0) as usize);
        for _ in 0..n {
            values.push(match self.u8()? {
                b'n' => TupleValue::Null,
                b'u' => TupleValue::Unchanged,
                b't' => {
                    let len = self.i32()?;
                    TupleValue::Text(self.bytes(len.max(0) as usize)?)
                }
                b'b' => {
                    let len = self.i32()?;
                    TupleValue::Binary(self.bytes(len.max(0) as usize)?)
                }
                other => {
                    return Err(Error::protocol(format!(
                        "unknown pgoutput tuple value kind {:?}",
                        other as char
                    )));
                }
            });
        }
        Ok(values)
    }
}

/// Decodes one pgoutput message (the payload of an XLogData).
pub fn decode(data: Bytes) -> Result<Message> {
    let mut r = Reader { buf: data, pos: 0 };
    let tag = r.u8()?;
    Ok(match tag {
        b'R' => {
            let oid = r.u32()?;
            let namespace = r.cstr()?;
            let name = r.cstr()?;
            let replica_identity = r.u8()?;
            let n = r.i16()?;
            let mut columns = Vec::with_capacity(n.max(0) as usize);
            for _ in 0..n {
                let flags = r.u8()?;
                let name = r.cstr()?;
                let type_oid = r.u32()?;
                let typmod = r.i32()?;
                columns.push(RelationColumn {
                    key: flags & 1 != 0,
                    name,
                    type_oid,
                    typmod,
                });
            }
            Message::Relation(Relation {
                oid,
                // pgoutput sends "" for pg_catalog.
                namespace: if namespace.is_empty() {
                    "pg_catalog".to_string()
                } else {
                    namespace
                },
                name,
                replica_identity,
                columns,
            })
        }
        b'Y' => Message::Type {
            oid: r.u32()?,
            namespace: r.cstr()?,
            name: r.cstr()?,
        },
        b'O' => Message::Origin {
            lsn: r.u64()?,
            name: r.cstr()?,
        },
        b'I' => {
            let rel = r.u32()?;
            expect(r.u8()?, b'N', "Insert")?;
            Message::Insert {
                rel,
                new: r.tuple()?,
            }
        }
        b'U' => {
            let rel = r.u32()?;
            let mut kind = r.u8()?;
            let mut old = None;
            if kind == b'K' || kind == b'O' {
                old = Some((kind, r.tuple()?));
                kind = r.u8()?;
            }
            expect(kind, b'N', "Update")?;
            Message::Update {
                rel,
                old,
                new: r.tuple()?,
            }
        }
        b'D' => {
            let rel = r.u32()?;
            let kind = r.u8()?;
            if kind != b'K' && kind != b'O' {
                return Err(Error::protocol(format!(
                    "pgoutput Delete: expected K or O, got {:?}",
                    kind as char
                )));
            }
            Message::Delete {
                rel,
                old: (kind, r.tuple()?),
            }
        }
        b'T' => {
            let n = r.i32()?;
            let options = r.u8()?;
            let mut rels = Vec::with_capacity(n.max(0) as usize);
            for _ in 0..n {
                rels.push(r.u32()?);
            }
            Message::Truncate {
                rels,
                cascade: options & 1 != 0,
                restart_identity: options & 2 != 0,
            }
        }
        other => Message::Other(other),
    })
}

fn expect(got: u8, want: u8, what: &str) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(Error::protocol(format!(
            "pgoutput {what}: expected {:?}, got {:?}",
            want as char, got as char
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(values: &[Option<&str>]) -> Vec<u8> {
        let mut out = (values.len() as i16).to_be_bytes().to_vec();
        for v in values {
            match v {
                None => out.push(b'n'),
                Some("\u{0}u") => out.push(b'u'),
                Some(s) => {
                    out.push(b't');
                    out.extend_from_slice(&(s.len() as i32).to_be_bytes());
                    out.extend_from_slice(s.as_bytes());
                }
            }
        }
        out
    }

    #[test]
    fn relation_and_changes() {
        let mut m = vec![b'R'];
        m.extend_from_slice(&16384u32.to_be_bytes());
        m.extend_from_slice(b"public\0customers\0d");
        m.extend_from_slice(&2i16.to_be_bytes());
        m.push(1);
        m.extend_from_slice(b"id\0");
        m.extend_from_slice(&20u32.to_be_bytes());
        m.extend_from_slice(&(-1i32).to_be_bytes());
        m.push(0);
        m.extend_from_slice(b"name\0");
        m.extend_from_slice(&25u32.to_be_bytes());
        m.extend_from_slice(&(-1i32).to_be_bytes());
        let Message::Relation(rel) = decode(Bytes::from(m)).unwrap() else {
            panic!()
        };
        assert_eq!(rel.name, "customers");
        assert!(rel.columns[0].key && !rel.columns[1].key);

        let mut m = vec![b'U'];
        m.extend_from_slice(&16384u32.to_be_bytes());
        m.push(b'K');
        m.extend(tuple(&[Some("1"), None]));
        m.push(b'N');
        m.extend(tuple(&[Some("2"), Some("\u{0}u")]));
        let Message::Update { old, new, .. } = decode(Bytes::from(m)).unwrap() else {
            panic!()
        };
        assert_eq!(
            old.unwrap().1[0],
            TupleValue::Text(Bytes::from_static(b"1"))
        );
        assert_eq!(new[1], TupleValue::Unchanged);

        let mut m = vec![b'T'];
        m.extend_from_slice(&1i32.to_be_bytes());
        m.push(1);
        m.extend_from_slice(&16384u32.to_be_bytes());
        assert_eq!(
            decode(Bytes::from(m)).unwrap(),
            Message::Truncate {
                rels: vec![16384],
                cascade: true,
                restart_identity: false
            }
        );
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        for m in [&b"I"[..], b"I\0\0\0\x01N\0\x01t\0\0\0\x09ab", b"R\0\0"] {
            assert!(decode(Bytes::copy_from_slice(m)).is_err());
        }
    }
}
