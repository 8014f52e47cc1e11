//! `io.debezium.transforms.ExtractNewRecordState`: a change event becomes its row — the
//! `after` struct of a create, update or read, and per `delete.tombstone.handling.mode` a
//! delete becomes a null value (`tombstone`, the default), a Kafka tombstone
//! (`delete-to-tombstone`), its before-image with `__deleted` (`rewrite`,
//! `rewrite-with-tombstone`) or nothing (`drop`). Debezium's own tombstones are kept only by
//! `rewrite-with-tombstone`. `add.fields` appends envelope fields to the row, `add.headers`
//! copies them to headers, `route.by.field` takes the topic from a column,
//! `drop.fields.header.name` removes the fields a header lists (what
//! `ExtractChangedRecordState` writes). Records that are not change events pass unchanged.
//!
//! The older `delete.handling.mode` (`none`/`drop`/`rewrite`) and `drop.tombstones` still work
//! when `delete.tombstone.handling.mode` is not set, as they did before Debezium 2.5 (3.x
//! ignores them): a config written for them means what its author meant.
//!
//! Per envelope schema the output schemas and the places of the added fields are worked out
//! once; per event the row is the source's own values (no copy unless fields are added).

use std::sync::Arc;

use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::debezium::{change_key, filled_row};
use runnel_core::event::Op;
use runnel_core::plugin::TransformPlugin;
use runnel_core::transform::{Transform, TransformContext};
use runnel_core::{
    Column, Datum, Encoding, Error, Event, Header, Payload, Record, Result, Schema, TableSchema,
};

use super::envelope::{Fields, Loc, envelope_of, field, is_envelope, resolve};
use crate::util::{
    Cache, Opts, Projection, fields, move_to_end, optional_copy, plain, rebuilt_struct,
};

const MODES: &[&str] = &[
    "drop",
    "tombstone",
    "rewrite",
    "rewrite-with-tombstone",
    "delete-to-tombstone",
];

const KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "delete.tombstone.handling.mode",
        ValueType::Enum(MODES),
        "What deletes and tombstones become: drop, tombstone, rewrite, rewrite-with-tombstone, delete-to-tombstone.",
    )
    .default("tombstone"),
    ConfigKey::new(
        "delete.handling.mode",
        ValueType::Enum(&["none", "drop", "rewrite"]),
        "Before Debezium 2.5: none, drop or rewrite (used when delete.tombstone.handling.mode is not set).",
    ),
    ConfigKey::new(
        "drop.tombstones",
        ValueType::Boolean,
        "Before Debezium 2.5: drop Debezium's tombstones (used when delete.tombstone.handling.mode is not set).",
    ),
    ConfigKey::new(
        "route.by.field",
        ValueType::String,
        "A column whose value becomes the topic.",
    ),
    ConfigKey::new(
        "add.fields",
        ValueType::List,
        "Envelope fields appended to the row (op, ts_ms, source fields such as table or lsn, source.ts_ms, field:newName).",
    ),
    ConfigKey::new(
        "add.fields.prefix",
        ValueType::String,
        "Prefix of the added fields' names.",
    )
    .default("__"),
    ConfigKey::new(
        "add.headers",
        ValueType::List,
        "Envelope fields copied to headers (same syntax as add.fields).",
    ),
    ConfigKey::new(
        "add.headers.prefix",
        ValueType::String,
        "Prefix of the added headers' names.",
    )
    .default("__"),
    ConfigKey::new(
        "drop.fields.header.name",
        ValueType::String,
        "A header listing fields to remove from the value.",
    ),
    ConfigKey::new(
        "drop.fields.from.key",
        ValueType::Boolean,
        "Remove the listed fields from the key too.",
    )
    .default("false"),
    ConfigKey::new(
        "drop.fields.keep.schema.compatible",
        ValueType::Boolean,
        "Remove only the listed fields that are optional.",
    )
    .default("true"),
    ConfigKey::new(
        "replace.null.with.default",
        ValueType::Boolean,
        "A rewritten row shows a null field that has a default as its default.",
    )
    .default("true"),
];

pub fn plugin() -> TransformPlugin {
    TransformPlugin {
        class: "io.debezium.transforms.ExtractNewRecordState",
        aliases: &[
            "ExtractNewRecordState",
            "io.debezium.transforms.UnwrapFromEnvelope",
        ],
        keys: KEYS,
        build: |c| Ok(Box::new(ExtractNewRecordState::new(&Opts(c))?)),
    }
}

/// The fields a header listed, and the projection without them.
type Dropping = (Vec<String>, Arc<Projection>);

/// What a delete becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deletes {
    Drop,
    /// A null value with the row's schema (the JDBC sink's "flattened delete").
    Null,
    /// A Kafka tombstone.
    Tombstone,
    /// The before-image with `__deleted: "true"`.
    Rewrite,
}

/// An `add.fields` / `add.headers` entry: `field`, `struct.field`, either with `:newName`.
#[derive(Debug, Clone)]
pub struct FieldRef {
    parent: Option<String>,
    field: String,
    name: Arc<str>,
}

impl FieldRef {
    /// Parses a list as Debezium's `FieldReference.fromConfiguration` does.
    pub fn list(key: &str, prefix: &str, items: &[String]) -> Result<Vec<FieldRef>> {
        items
            .iter()
            .map(|item| Self::parse(key, prefix, item))
            .collect()
    }

    fn parse(key: &str, prefix: &str, item: &str) -> Result<FieldRef> {
        let parts: Vec<&str> = item.split(':').collect();
        if parts.len() > 2 {
            return Err(Error::invalid(
                key,
                format!(
                    "invalid entry \"{item}\" in \"{key}\": expected field, struct.field, or either followed by :newName"
                ),
            ));
        }
        let path: Vec<&str> = parts[0].split('.').collect();
        let field = if path.len() == 1 { path[0] } else { path[1] }.to_string();
        let parent = if path.len() == 1 {
            match field.as_str() {
                "id" | "total_order" | "data_collection_order" => Some("transaction".to_string()),
                "op" | "ts_ms" | "ts_us" | "ts_ns" => None,
                "updateDescription" => Some("updateDescription".to_string()),
                _ => Some("source".to_string()),
            }
        } else {
            Some(path[0].to_string())
        };
        let name = match parts.get(1) {
            Some(n) => format!("{prefix}{n}"),
            None if path.len() == 1 => format!("{prefix}{field}"),
            None => format!("{prefix}{}_{field}", parent.as_deref().unwrap_or_default()),
        };
        Ok(FieldRef {
            parent,
            field,
            name: name.into(),
        })
    }

    pub fn is_op(&self) -> bool {
        self.parent.is_none() && self.field == "op"
    }

    /// Where the field is in `envelope` and its schema as an added field (an optional copy).
    pub fn locate(&self, envelope: &Schema) -> Option<(Loc, Schema)> {
        resolve(envelope, self.parent.as_deref(), &self.field)
            .map(|(loc, c)| (loc, optional_copy(&c.schema())))
    }
}

pub struct ExtractNewRecordState {
    cfg: Config,
    /// Per table: its row schema, required ([`Config::plain`]).
    rows: Cache<TableSchema, Arc<Schema>>,
    plans: Cache<Schema, Arc<Plan>>,
    drops: Cache<Schema, Vec<Dropping>>,
    topics: Vec<(Box<str>, Arc<str>)>,
}

/// The transform's options, parsed.
struct Config {
    deletes: Deletes,
    keep_tombstones: bool,
    fields: Vec<FieldRef>,
    headers: Vec<FieldRef>,
    route_by: Option<String>,
    drop_header: Option<String>,
    drop_from_key: bool,
    drop_only_optional: bool,
    replace_null: bool,
}

/// What one envelope schema becomes.
struct Plan {
    before: Option<usize>,
    after: Option<usize>,
    /// The `after` field's schema: the value schema of a delete made a null value.
    after_schema: Arc<Schema>,
    before_schema: Arc<Schema>,
    /// A row of `after` / of `before` with `__deleted` and the added fields.
    out_after: Arc<Schema>,
    out_before: Arc<Schema>,
    added: Vec<Loc>,
    headers: Vec<(Arc<str>, Loc, Arc<Schema>)>,
    /// An added field or header comes from the `source` block.
    with_source: bool,
    route_after: Option<usize>,
    route_before: Option<usize>,
}

const DELETED: &str = "__deleted";

impl ExtractNewRecordState {
    pub fn new(o: &Opts<'_>) -> Result<Self> {
        let (deletes, keep_tombstones) = match o.get("delete.tombstone.handling.mode") {
            Some(_) => match o
                .choice("delete.tombstone.handling.mode", MODES, "tombstone")?
                .as_str()
            {
                "drop" => (Deletes::Drop, false),
                "rewrite" => (Deletes::Rewrite, false),
                "rewrite-with-tombstone" => (Deletes::Rewrite, true),
                "delete-to-tombstone" => (Deletes::Tombstone, false),
                _ => (Deletes::Null, false),
            },
            None if o.get("delete.handling.mode").is_some()
                || o.get("drop.tombstones").is_some() =>
            {
                let deletes = match o
                    .choice("delete.handling.mode", &["none", "drop", "rewrite"], "drop")?
                    .as_str()
                {
                    "none" => Deletes::Null,
                    "rewrite" => Deletes::Rewrite,
                    _ => Deletes::Drop,
                };
                (deletes, !o.bool("drop.tombstones", true)?)
            }
            None => (Deletes::Null, false),
        };
        let fields_prefix = o.string("add.fields.prefix", "__");
        let headers_prefix = o.string("add.headers.prefix", "__");
        let nonempty = |k: &str| {
            o.get(k)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Ok(Self {
            cfg: Config {
                deletes,
                keep_tombstones,
                fields: FieldRef::list("add.fields", &fields_prefix, &o.list("add.fields"))?,
                headers: FieldRef::list("add.headers", &headers_prefix, &o.list("add.headers"))?,
                route_by: nonempty("route.by.field"),
                drop_header: nonempty("drop.fields.header.name"),
                drop_from_key: o.bool("drop.fields.from.key", false)?,
                drop_only_optional: o.bool("drop.fields.keep.schema.compatible", true)?,
                replace_null: o.bool("replace.null.with.default", true)?,
            },
            rows: Cache::default(),
            plans: Cache::default(),
            drops: Cache::default(),
            topics: Vec::new(),
        })
    }
}

impl Config {
    fn plan(&self, envelope: &Schema) -> Plan {
        let at = |name: &str| field(envelope, name).map(|(i, _)| i);
        let row_schema = |i: Option<usize>| {
            i.and_then(|i| envelope.fields().map(|f| Arc::new(f[i].schema())))
                .unwrap_or_else(|| plain(Encoding::Struct(Arc::from([])), true))
        };
        let (before, after) = (at("before"), at("after"));
        let (before_schema, after_schema) = (row_schema(before), row_schema(after));
        let mut added = Vec::new();
        let mut extra = Vec::new();
        if self.deletes == Deletes::Rewrite {
            extra.push(Column::new(DELETED, Encoding::String, true));
        }
        let mut with_source = false;
        let source = at("source");
        let mut from_source = |loc: Loc| {
            with_source |= matches!(loc, Loc::Top(i) | Loc::In(i, _) if Some(i) == source);
        };
        for f in &self.fields {
            if let Some((loc, schema)) = f.locate(envelope) {
                from_source(loc);
                added.push(loc);
                extra.push(Column::of(&f.name, &schema));
            }
        }
        let mut headers = Vec::new();
        for h in &self.headers {
            if let Some((loc, schema)) = h.locate(envelope) {
                from_source(loc);
                headers.push((h.name.clone(), loc, Arc::new(schema)));
            }
        }
        let out = |row: &Schema| {
            let mut columns = row.fields().unwrap_or_default().to_vec();
            columns.extend(extra.iter().cloned());
            Arc::new(rebuilt_struct(row, columns))
        };
        let route = |row: &Schema| {
            self.route_by
                .as_deref()
                .and_then(|f| field(row, f).map(|(i, _)| i))
        };
        let out_after = out(&after_schema);
        let out_before = if before_schema == after_schema {
            out_after.clone()
        } else {
            out(&before_schema)
        };
        Plan {
            before,
            after,
            route_after: route(&after_schema),
            route_before: route(&before_schema),
            after_schema,
            before_schema,
            out_after,
            out_before,
            added,
            headers,
            with_source,
        }
    }
}

impl ExtractNewRecordState {
    /// The topic a row names with `route.by.field` (`None`: keep the topic).
    fn routed(
        &mut self,
        datums: &[Datum],
        row: &Datum,
        index: Option<usize>,
    ) -> Result<Option<Arc<str>>> {
        let Some(name) = &self.cfg.route_by else {
            return Ok(None);
        };
        let Some(i) = index else {
            return Err(Error::conversion(format!(
                "route.by.field \"{name}\" is not a field of the row"
            )));
        };
        let topic = match fields(datums, row).and_then(|f| f.get(i)) {
            Some(Datum::Text(t)) => std::str::from_utf8(t).unwrap_or_default(),
            Some(Datum::Null) | None => return Ok(None),
            Some(other) => {
                return Err(Error::conversion(format!(
                    "route.by.field \"{name}\" is not a string (it is {other:?}): it cannot name a topic"
                )));
            }
        };
        if topic.trim().is_empty() {
            return Ok(None);
        }
        if let Some((_, t)) = self.topics.iter().find(|(k, _)| &**k == topic) {
            return Ok(Some(t.clone()));
        }
        let t: Arc<str> = topic.into();
        if self.topics.len() >= 1024 {
            self.topics.clear();
        }
        self.topics.push((topic.into(), t.clone()));
        Ok(Some(t))
    }
}

/// What the event becomes.
enum Outcome {
    Drop,
    /// A new value (and topic) for the record.
    Value(Option<Payload>, Option<Arc<str>>),
}

impl Transform for ExtractNewRecordState {
    fn apply(&mut self, event: &mut Event, cx: &mut TransformContext<'_>) -> Result<bool> {
        match event {
            Event::Change(c) => {
                if c.op == Op::Truncate {
                    return Ok(false);
                }
                let envelope = cx.envelope.ok_or_else(|| {
                    Error::internal(
                        "a change event reached a transform without its source's envelope",
                    )
                })?;
                if self.cfg.plain() {
                    return self.unwrap_plain(event, cx);
                }
                let schema = c.table.envelope_schema(envelope.source.schema()).clone();
                let with_source = self.plan(&schema)?.with_source;
                let now = cx.now_ns;
                let f = Fields::of_change(c, envelope, cx.datums, with_source, now);
                let Fields::Change { before, after, .. } = &f else {
                    unreachable!("of_change gives Fields::Change")
                };
                let key_row = if c.op == Op::Delete { before } else { after };
                let key = key_row
                    .as_ref()
                    .and_then(|r| change_key(&c.table, r, cx.datums));
                let mut r = Record::new(c.table.topic.clone(), key, None);
                r.timestamp_ms = Some(now / 1_000_000);
                r.source = Some(c.source);
                let outcome = self.unwrap(&schema, &f, &mut r, cx.datums)?;
                match outcome {
                    Outcome::Drop => return Ok(false),
                    Outcome::Value(v, topic) => {
                        r.value = v;
                        if let Some(t) = topic {
                            r.topic = t;
                        }
                    }
                }
                *event = Event::Record(r);
                Ok(true)
            }
            Event::Record(r) => {
                if r.value.is_none() {
                    if !self.cfg.headers.is_empty() {
                        for h in self.cfg.headers.iter().filter(|h| h.is_op()) {
                            r.headers.push(Header {
                                key: h.name.clone(),
                                value: Some(Payload::value(
                                    &plain(Encoding::String, false),
                                    Datum::text("d"),
                                )),
                            });
                        }
                    }
                    return Ok(self.cfg.keep_tombstones);
                }
                let Some((schema, range)) = envelope_of(r) else {
                    return Ok(true);
                };
                let schema = schema.clone();
                match self.unwrap(&schema, &Fields::Struct(range), r, cx.datums)? {
                    Outcome::Drop => Ok(false),
                    Outcome::Value(v, topic) => {
                        r.value = v;
                        if let Some(t) = topic {
                            r.topic = t;
                        }
                        Ok(true)
                    }
                }
            }
        }
    }
}

impl Config {
    /// Nothing but the row: no added fields or headers, no routing, no dropped fields, no
    /// `__deleted` (the defaults, and what most pipelines run).
    fn plain(&self) -> bool {
        self.fields.is_empty()
            && self.headers.is_empty()
            && self.route_by.is_none()
            && self.drop_header.is_none()
            && self.deletes != Deletes::Rewrite
    }
}

impl ExtractNewRecordState {
    /// A change event to its row with [`Config::plain`]: the row's own values under the row
    /// schema (made required, as Debezium's rebuilt schema is), the key struct, nothing else
    /// looked at. The same records as [`Self::unwrap`], in a third of its work.
    fn unwrap_plain(&mut self, event: &mut Event, cx: &mut TransformContext<'_>) -> Result<bool> {
        let Event::Change(c) = event else {
            return Ok(true);
        };
        let table = &c.table;
        let delete = c.op == Op::Delete;
        let Some(row) = (if delete { &c.before } else { &c.after }) else {
            return Ok(false);
        };
        if delete && self.cfg.deletes == Deletes::Drop {
            return Ok(false);
        }
        let row = filled_row(table, row, cx.datums);
        let key = change_key(table, &row, cx.datums);
        let value = if delete {
            match self.cfg.deletes {
                Deletes::Tombstone => None,
                _ => Some(Payload::value(table.value_schema(), Datum::Null)),
            }
        } else {
            let out = self.rows.get_or(table, || {
                let value = table.value_schema();
                Ok(Arc::new(rebuilt_struct(
                    value,
                    value.fields().unwrap_or_default().to_vec(),
                )))
            })?;
            // The row is this event's alone: moved (not copied) to the end of the values,
            // where a transform after this one (InsertField) appends to it in place.
            let out = out.clone();
            Some(Payload::value(
                &out,
                Datum::Struct(move_to_end(cx.datums, &row)),
            ))
        };
        let mut r = Record::new(table.topic.clone(), key, value);
        r.timestamp_ms = Some(cx.now_ns / 1_000_000);
        r.source = Some(c.source);
        *event = Event::Record(r);
        Ok(true)
    }

    fn plan(&mut self, envelope: &Arc<Schema>) -> Result<Arc<Plan>> {
        let cfg = &self.cfg;
        Ok(self
            .plans
            .get_or(envelope, || Ok(Arc::new(cfg.plan(envelope))))?
            .clone())
    }

    /// Unwraps one envelope (`f`, of schema `envelope`); `r` is the record (key, headers) it
    /// becomes.
    fn unwrap(
        &mut self,
        envelope: &Arc<Schema>,
        f: &Fields,
        r: &mut Record,
        datums: &mut Vec<Datum>,
    ) -> Result<Outcome> {
        debug_assert!(is_envelope(envelope));
        let plan = self.plan(envelope)?;
        let plan = &*plan;
        for (name, loc, schema) in &plan.headers {
            let d = f.get(datums, *loc);
            r.headers.push(Header {
                key: name.clone(),
                value: Some(Payload::value(schema, d)),
            });
        }
        let top = |i: Option<usize>| i.map_or(Datum::Null, |i| f.top(datums, i));
        let (before, after) = (top(plan.before), top(plan.after));
        if after.is_null() && before.is_null() {
            return Ok(Outcome::Drop); // a truncate
        }
        if !after.is_null() {
            let topic = self.routed(datums, &after, plan.route_after)?;
            let marker = (self.cfg.deletes == Deletes::Rewrite).then(|| Datum::text("false"));
            let value = self
                .cfg
                .row(plan, &plan.out_after, f, &after, marker, datums);
            let value = self.drop_listed(r, &plan.out_after, value, datums, &[])?;
            return Ok(Outcome::Value(Some(value), topic));
        }
        match self.cfg.deletes {
            Deletes::Drop => Ok(Outcome::Drop),
            Deletes::Tombstone => {
                let topic = self.routed(datums, &before, plan.route_before)?;
                Ok(Outcome::Value(None, topic))
            }
            Deletes::Null => {
                let topic = self.routed(datums, &before, plan.route_before)?;
                Ok(Outcome::Value(
                    Some(Payload::value(&plan.after_schema, Datum::Null)),
                    topic,
                ))
            }
            Deletes::Rewrite => {
                let topic = self.routed(datums, &before, plan.route_before)?;
                if !matches!(before, Datum::Struct(_)) {
                    return Ok(Outcome::Value(
                        Some(Payload::value(&plan.before_schema, Datum::Null)),
                        topic,
                    ));
                }
                let value = self.cfg.row(
                    plan,
                    &plan.out_before,
                    f,
                    &before,
                    Some(Datum::text("true")),
                    datums,
                );
                let added: Vec<Arc<str>> = self.cfg.fields.iter().map(|f| f.name.clone()).collect();
                let value = self.drop_listed(r, &plan.out_before, value, datums, &added)?;
                Ok(Outcome::Value(Some(value), topic))
            }
        }
    }
}

impl Config {
    /// The row `row` with `__deleted` (`marker`) and the added fields, as a value of `out`.
    fn row(
        &self,
        plan: &Plan,
        out: &Arc<Schema>,
        f: &Fields,
        row: &Datum,
        marker: Option<Datum>,
        datums: &mut Vec<Datum>,
    ) -> Payload {
        if marker.is_none() && plan.added.is_empty() {
            return Payload::value(out, row.clone());
        }
        let Datum::Struct(range) = row else {
            return Payload::value(out, row.clone());
        };
        let start = datums.len();
        let columns = out.fields().unwrap_or_default();
        if self.replace_null && marker.is_some() {
            for (i, c) in columns.iter().enumerate().take(range.len()) {
                let d = &datums[range.start as usize + i];
                let d = match (d, &c.default) {
                    (Datum::Null, Some(def)) => def.clone(),
                    _ => d.clone(),
                };
                datums.push(d);
            }
        } else {
            datums.extend_from_within(range.start as usize..range.end as usize);
        }
        datums.extend(marker);
        for loc in &plan.added {
            let d = f.get(datums, *loc);
            datums.push(d);
        }
        Payload::value(out, Datum::Struct(start as u32..datums.len() as u32))
    }
}

impl ExtractNewRecordState {
    /// `value` without the fields the `drop.fields.header.name` header lists (only optional
    /// ones with `drop.fields.keep.schema.compatible`), and the key likewise with
    /// `drop.fields.from.key`. `spared` are never dropped.
    fn drop_listed(
        &mut self,
        r: &mut Record,
        out: &Arc<Schema>,
        value: Payload,
        datums: &mut Vec<Datum>,
        spared: &[Arc<str>],
    ) -> Result<Payload> {
        let Some(header) = &self.cfg.drop_header else {
            return Ok(value);
        };
        let names: Vec<String> = match r.headers.iter().find(|h| *h.key == **header) {
            Some(Header {
                value:
                    Some(Payload::Value {
                        datum: Datum::Array(items),
                        ..
                    }),
                ..
            }) => items
                .iter()
                .filter_map(|d| match d {
                    Datum::Text(t) => std::str::from_utf8(t).ok().map(str::to_string),
                    _ => None,
                })
                .filter(|n| !spared.iter().any(|s| **s == **n))
                .collect(),
            _ => return Ok(value),
        };
        if names.is_empty() {
            return Ok(value);
        }
        if self.cfg.drop_from_key
            && let Some(Payload::Value {
                schema: Some(ks),
                datum,
            }) = &r.key
        {
            let ks = ks.clone();
            let datum = datum.clone();
            if let Some(p) = self.dropping(&ks, &names)? {
                let d = p.apply(datums, &datum, true);
                r.key = Some(Payload::value(&p.schema, d));
            }
        }
        let Payload::Value { datum, .. } = &value else {
            return Ok(value);
        };
        let datum = datum.clone();
        match self.dropping(out, &names)? {
            Some(p) => {
                let d = p.apply(datums, &datum, true);
                Ok(Payload::value(&p.schema, d))
            }
            None => Ok(value),
        }
    }

    /// The projection of `schema` without `names` (`None` when nothing would go).
    fn dropping(
        &mut self,
        schema: &Arc<Schema>,
        names: &[String],
    ) -> Result<Option<Arc<Projection>>> {
        let only_optional = self.cfg.drop_only_optional;
        let goes =
            |c: &Column| names.iter().any(|n| **n == *c.name) && (c.optional || !only_optional);
        if !schema.fields().unwrap_or_default().iter().any(goes) {
            return Ok(None);
        }
        let list = self.drops.get_mut_or(schema, Vec::new);
        if let Some((_, p)) = list.iter().find(|(n, _)| n == names) {
            return Ok(Some(p.clone()));
        }
        if list.len() >= 64 {
            list.clear();
        }
        let p = Arc::new(Projection::new(schema, |c| {
            (!goes(c)).then(|| c.name.clone())
        }));
        list.push((names.to_vec(), p.clone()));
        Ok(Some(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_references_are_named_as_debezium_names_them() {
        let refs = FieldRef::list(
            "add.fields",
            "__",
            &[
                "op".into(),
                "table".into(),
                "source.ts_ms".into(),
                "id".into(),
                "lsn:LSN".into(),
            ],
        )
        .unwrap();
        let names: Vec<&str> = refs.iter().map(|r| &*r.name).collect();
        assert_eq!(
            names,
            ["__op", "__table", "__source_ts_ms", "__id", "__LSN"]
        );
        assert_eq!(refs[3].parent.as_deref(), Some("transaction"));
        assert!(FieldRef::list("add.fields", "__", &["a:b:c".into()]).is_err());
    }
}
