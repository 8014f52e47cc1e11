//! Debezium's change-event envelope (`before`, `after`, `source`, `transaction`, `op`, `ts_ms`,
//! …) as the transforms read it, from either form an event has: a record whose value is the
//! envelope struct (read from Kafka, or built by an earlier transform), or a source's compact
//! [`ChangeEvent`], whose envelope fields are derived on demand so a transform that needs only
//! the row never builds the `source` block.

use std::ops::Range;
use std::sync::Arc;

use runnel_core::debezium::filled_row;
use runnel_core::event::Op;
use runnel_core::source::Envelope;
use runnel_core::{ChangeEvent, Column, Datum, Encoding, Payload, Record, Schema};

use crate::util::fields;

/// Debezium's envelope schemas are named `<prefix>.<schema>.<table>.Envelope`.
pub fn is_envelope(schema: &Schema) -> bool {
    schema.name().is_some_and(|n| n.ends_with(".Envelope"))
}

/// Where an envelope field is: a top-level field, or a field of a top-level struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loc {
    Top(usize),
    In(usize, usize),
}

/// The index of field `name` in a struct schema.
pub fn index(schema: &Schema, name: &str) -> Option<usize> {
    schema.fields()?.iter().position(|c| &*c.name == name)
}

/// The field `name` of a struct schema, with its index.
pub fn field<'s>(schema: &'s Schema, name: &str) -> Option<(usize, &'s Column)> {
    let fields = schema.fields()?;
    let i = fields.iter().position(|c| &*c.name == name)?;
    Some((i, &fields[i]))
}

/// `parent.field` in the envelope schema as Debezium's `FieldReference` finds it: in the
/// named struct, else (a field an earlier transform added) at the top level.
pub fn resolve<'s>(
    envelope: &'s Schema,
    parent: Option<&str>,
    name: &str,
) -> Option<(Loc, &'s Column)> {
    if let Some(parent) = parent
        && let Some((p, pc)) = field(envelope, parent)
        && let Encoding::Struct(inner) = &pc.encoding
        && let Some(i) = inner.iter().position(|c| &*c.name == name)
    {
        return Some((Loc::In(p, i), &inner[i]));
    }
    field(envelope, name).map(|(i, c)| (Loc::Top(i), c))
}

/// The fields of one envelope-shaped event.
pub enum Fields {
    /// A record's envelope struct: its fields are `datums[range]`.
    Struct(Range<u32>),
    /// A change event, in [`runnel_core::TableSchema::envelope_schema`]'s field order: the
    /// rows (non-optional nulls filled, as Debezium sends them), the `source` block when it
    /// was asked for, the op and the time the envelope is made.
    Change {
        before: Option<Range<u32>>,
        after: Option<Range<u32>>,
        source: Option<Range<u32>>,
        op: Op,
        now_ns: i64,
    },
}

/// The envelope schema's field order for change events.
pub mod at {
    pub const BEFORE: usize = 0;
    pub const AFTER: usize = 1;
    pub const SOURCE: usize = 2;
    pub const TRANSACTION: usize = 3;
    pub const OP: usize = 4;
    pub const TS_MS: usize = 5;
    pub const TS_US: usize = 6;
    pub const TS_NS: usize = 7;
}

impl Fields {
    /// A change event's fields; the `source` block is pushed only when `with_source`.
    pub fn of_change(
        ev: &ChangeEvent,
        envelope: &Envelope,
        datums: &mut Vec<Datum>,
        with_source: bool,
        now_ns: i64,
    ) -> Self {
        let before = ev.before.as_ref().map(|r| filled_row(&ev.table, r, datums));
        let after = ev.after.as_ref().map(|r| filled_row(&ev.table, r, datums));
        let source = with_source.then(|| {
            let start = datums.len() as u32;
            envelope
                .source
                .push_values(datums, &ev.source, &ev.table.id);
            start..datums.len() as u32
        });
        Fields::Change {
            before,
            after,
            source,
            op: ev.op,
            now_ns,
        }
    }

    /// Top-level field `i`.
    pub fn top(&self, datums: &[Datum], i: usize) -> Datum {
        match self {
            Fields::Struct(r) => datums
                .get(r.start as usize + i)
                .filter(|_| r.start as usize + i < r.end as usize)
                .cloned()
                .unwrap_or(Datum::Null),
            Fields::Change {
                before,
                after,
                source,
                op,
                now_ns,
            } => match i {
                at::BEFORE => before.clone().map_or(Datum::Null, Datum::Struct),
                at::AFTER => after.clone().map_or(Datum::Null, Datum::Struct),
                at::SOURCE => source.clone().map_or(Datum::Null, Datum::Struct),
                at::OP => Datum::text(op.code()),
                at::TS_MS => Datum::Int(now_ns / 1_000_000),
                at::TS_US => Datum::Int(now_ns / 1_000),
                at::TS_NS => Datum::Int(*now_ns),
                _ => Datum::Null,
            },
        }
    }

    /// The value at `loc` (null when its struct is null).
    pub fn get(&self, datums: &[Datum], loc: Loc) -> Datum {
        match loc {
            Loc::Top(i) => self.top(datums, i),
            Loc::In(p, i) => match self.top(datums, p) {
                d @ Datum::Struct(_) => fields(datums, &d)
                    .and_then(|f| f.get(i))
                    .cloned()
                    .unwrap_or(Datum::Null),
                _ => Datum::Null,
            },
        }
    }

    /// Debezium's `op` code, if the envelope has one.
    pub fn op<'d>(&self, datums: &'d [Datum], op_index: Option<usize>) -> Option<OpCode<'d>> {
        match self {
            Fields::Change { op, .. } => Some(OpCode::Op(*op)),
            Fields::Struct(r) => match datums.get(r.start as usize + op_index?) {
                Some(Datum::Text(t)) => Some(OpCode::Text(t)),
                _ => None,
            },
        }
    }
}

/// An envelope's `op`.
pub enum OpCode<'d> {
    Op(Op),
    Text(&'d [u8]),
}

impl OpCode<'_> {
    pub fn as_str(&self) -> &str {
        match self {
            OpCode::Op(op) => op.code(),
            OpCode::Text(t) => std::str::from_utf8(t).unwrap_or(""),
        }
    }
}

/// A record's value when it is an envelope: its schema and fields.
pub fn envelope_of(r: &Record) -> Option<(&Arc<Schema>, Range<u32>)> {
    match &r.value {
        Some(Payload::Value {
            schema: Some(s),
            datum: Datum::Struct(range),
        }) if is_envelope(s) => Some((s, range.clone())),
        _ => None,
    }
}
