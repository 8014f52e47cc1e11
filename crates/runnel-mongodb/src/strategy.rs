//! What the MongoDB Kafka sink connector makes of a record, as it does it: the post processor
//! chain (the `_id` adder with its id strategy, field projections, renames, Kafka metadata), then
//! the write model strategy (replace, update with timestamps, business keys, insert, delete) —
//! or, with a change data capture handler, Debezium's envelope applied to the document keyed by
//! the record key.

use mongodb::bson::{Bson, DateTime, Document, oid::ObjectId};
use runnel_core::{Error, Result};

use crate::config::{IdStrategy, PostProcessor, Projection, TopicConfig, WriteModel};

/// A record's key and value documents (a tombstone has no value).
#[derive(Debug, Clone, Default)]
pub struct SinkDoc {
    pub key: Option<Document>,
    pub value: Option<Document>,
    /// The value lacks fields the source did not send (unchanged TOAST): it must not replace
    /// the stored document whole.
    pub partial: bool,
}

/// Where a record was read (for KafkaMetaDataStrategy and KafkaMetaAdder).
#[derive(Debug, Clone, Copy)]
pub struct Coordinates<'a> {
    pub topic: &'a str,
    pub partition: Option<i32>,
    pub offset: Option<i64>,
    pub timestamp_ms: Option<i64>,
}

/// One write.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// ReplaceOne with upsert.
    Replace {
        filter: Document,
        doc: Document,
    },
    /// UpdateOne with upsert: `$set` (and `$setOnInsert`).
    Update {
        filter: Document,
        set: Document,
        set_on_insert: Option<Document>,
    },
    Insert {
        doc: Document,
    },
    Delete {
        filter: Document,
    },
}

impl Op {
    /// The document it is about, when writes of the same document can be reduced to the last.
    pub fn target(&self) -> Option<&Document> {
        match self {
            Op::Replace { filter, .. } | Op::Update { filter, .. } | Op::Delete { filter } => {
                Some(filter)
            }
            Op::Insert { .. } => None,
        }
    }
}

const ID: &str = "_id";

/// The write a record makes (`None`: nothing, e.g. a tombstone without delete.on.null.values).
pub fn write(cfg: &TopicConfig, mut doc: SinkDoc, at: Coordinates<'_>) -> Result<Option<Op>> {
    if cfg.cdc.is_some() {
        return cdc(cfg, doc);
    }
    for p in &cfg.post_processors {
        post_process(cfg, p, &mut doc, at)?;
    }
    match doc.value.take() {
        Some(value) => value_write(cfg, value, doc.partial).map(Some),
        None if cfg.delete_on_null_values => delete_write(cfg, doc.key.as_ref()).map(Some),
        None => Ok(None),
    }
}

fn post_process(
    cfg: &TopicConfig,
    p: &PostProcessor,
    doc: &mut SinkDoc,
    at: Coordinates<'_>,
) -> Result<()> {
    match p {
        PostProcessor::DocumentIdAdder => {
            let Some(value) = &doc.value else {
                return Ok(());
            };
            if value.contains_key(ID) && !cfg.overwrite_existing_id {
                return Ok(());
            }
            let id = generate_id(cfg, doc, at)?;
            if let Some(value) = &mut doc.value {
                // `_id` first, as the driver writes it.
                let mut with_id = Document::new();
                with_id.insert(ID, id);
                for (k, v) in std::mem::take(value) {
                    if k != ID {
                        with_id.insert(k, v);
                    }
                }
                *value = with_id;
            }
        }
        PostProcessor::AllowListKeyProjector => project(
            doc.key.as_mut(),
            Projection::AllowList,
            &cfg.key_projection.1,
        ),
        PostProcessor::AllowListValueProjector => project(
            doc.value.as_mut(),
            Projection::AllowList,
            &cfg.value_projection.1,
        ),
        PostProcessor::BlockListKeyProjector => project(
            doc.key.as_mut(),
            Projection::BlockList,
            &cfg.key_projection.1,
        ),
        PostProcessor::BlockListValueProjector => project(
            doc.value.as_mut(),
            Projection::BlockList,
            &cfg.value_projection.1,
        ),
        PostProcessor::KafkaMetaAdder => {
            if let Some(value) = &mut doc.value {
                value.insert(
                    "topic-partition-offset",
                    format!(
                        "{}-{}-{}",
                        at.topic,
                        at.partition.unwrap_or(0),
                        at.offset.unwrap_or(0)
                    ),
                );
                if let Some(ts) = at.timestamp_ms {
                    value.insert("CreateTime", ts);
                }
            }
        }
        PostProcessor::RenameByMapping => {
            if !cfg.rename_mapping.is_empty() {
                let rename = |path: &str, name: &str| {
                    cfg.rename_mapping
                        .get(&format!("{path}.{name}"))
                        .cloned()
                        .unwrap_or_else(|| name.to_string())
                };
                rename_all(doc, &rename);
            }
        }
        PostProcessor::RenameByRegExp => {
            if !cfg.rename_regexp.is_empty() {
                let rename = |path: &str, name: &str| {
                    let full = format!("{path}.{name}");
                    let mut new = name.to_string();
                    for r in &cfg.rename_regexp {
                        if r.path.is_match(&full) {
                            new = r.pattern.replace_all(&new, r.replace.as_str()).into_owned();
                        }
                    }
                    new
                };
                rename_all(doc, &rename);
            }
        }
        PostProcessor::NullFieldValueRemover => {
            if let Some(value) = &mut doc.value {
                remove_nulls(value);
            }
        }
    }
    Ok(())
}

fn generate_id(cfg: &TopicConfig, doc: &SinkDoc, at: Coordinates<'_>) -> Result<Bson> {
    let from = |d: Option<&Document>, side: &str| -> Result<Bson> {
        d.and_then(|d| d.get(ID)).cloned().ok_or_else(|| {
            Error::conversion(format!(
                "the {side} has no _id field, which document.id.strategy Provided{}Strategy needs",
                if side == "key" { "InKey" } else { "InValue" }
            ))
        })
    };
    let uuid_of = |b: Bson, side: &str| -> Result<Bson> {
        match b {
            Bson::String(s) => mongodb::bson::Uuid::parse_str(&s)
                .map(|u| Bson::Binary(mongodb::bson::Binary::from_uuid(u)))
                .map_err(|e| {
                    Error::conversion(format!("the {side}'s _id \"{s}\" is not a UUID: {e}"))
                }),
            other @ Bson::Binary(_) => Ok(other),
            other => Err(Error::conversion(format!(
                "the {side}'s _id {other} is not a UUID string"
            ))),
        }
    };
    Ok(match cfg.id_strategy {
        IdStrategy::BsonOid => Bson::ObjectId(ObjectId::new()),
        IdStrategy::KafkaMetaData => Bson::String(format!(
            "{}#{}#{}",
            at.topic,
            at.partition.unwrap_or(0),
            at.offset.unwrap_or(0)
        )),
        IdStrategy::FullKey => Bson::Document(doc.key.clone().unwrap_or_default()),
        IdStrategy::ProvidedInKey => from(doc.key.as_ref(), "key")?,
        IdStrategy::ProvidedInValue => from(doc.value.as_ref(), "value")?,
        IdStrategy::UuidProvidedInKey => uuid_of(from(doc.key.as_ref(), "key")?, "key")?,
        IdStrategy::UuidProvidedInValue => uuid_of(from(doc.value.as_ref(), "value")?, "value")?,
        IdStrategy::PartialKey => {
            let mut key = doc.key.clone().unwrap_or_default();
            project(Some(&mut key), cfg.partial_key.0, &cfg.partial_key.1);
            Bson::Document(key)
        }
        IdStrategy::PartialValue => {
            let mut value = doc.value.clone().unwrap_or_default();
            project(Some(&mut value), cfg.partial_value.0, &cfg.partial_value.1);
            if value.is_empty() {
                return Err(Error::conversion(format!(
                    "PartialValueStrategy found none of the fields {:?} in the value: check \
                     document.id.strategy.partial.value.projection.list against the records",
                    cfg.partial_value.1
                )));
            }
            Bson::Document(value)
        }
        IdStrategy::Uuid => {
            let u = mongodb::bson::Uuid::new();
            if cfg.uuid_binary {
                Bson::Binary(mongodb::bson::Binary::from_uuid(u))
            } else {
                Bson::String(u.to_string())
            }
        }
    })
}

fn value_write(cfg: &TopicConfig, mut value: Document, partial: bool) -> Result<Op> {
    let now = Bson::DateTime(DateTime::now());
    let id = || -> Result<Bson> {
        value.get(ID).cloned().ok_or_else(|| {
            Error::conversion("the document has no _id (the DocumentIdAdder did not add one)")
        })
    };
    let business_key = |value: &mut Document| -> Result<Document> {
        match value.remove(ID) {
            Some(Bson::Document(k)) => Ok(flatten(&k)),
            _ => Err(Error::conversion(
                "the value has no _id document holding the business key fields: use \
                 PartialValueStrategy (or PartialKeyStrategy) with the business key's fields, \
                 and document.id.strategy.overwrite.existing=true if the value has an _id",
            )),
        }
    };
    Ok(match cfg.write_model {
        WriteModel::ReplaceOneDefault if !partial => Op::Replace {
            filter: doc1(ID, id()?),
            doc: value,
        },
        // A document missing fields the source did not send is updated, not replaced.
        WriteModel::ReplaceOneDefault | WriteModel::UpdateOneDefault => {
            let filter = doc1(ID, id()?);
            value.remove(ID);
            Op::Update {
                filter,
                set: value,
                set_on_insert: None,
            }
        }
        WriteModel::InsertOneDefault => Op::Insert { doc: value },
        WriteModel::UpdateOneTimestamps => {
            let filter = doc1(ID, id()?);
            value.remove(ID);
            value.insert("_modifiedTS", now.clone());
            Op::Update {
                filter,
                set: value,
                set_on_insert: Some(doc1("_insertedTS", now)),
            }
        }
        WriteModel::ReplaceOneBusinessKey => {
            let filter = business_key(&mut value)?;
            if partial {
                Op::Update {
                    filter,
                    set: value,
                    set_on_insert: None,
                }
            } else {
                Op::Replace { filter, doc: value }
            }
        }
        WriteModel::UpdateOneBusinessKeyTimestamp => {
            let filter = business_key(&mut value)?;
            value.insert("_modifiedTS", now.clone());
            Op::Update {
                filter,
                set: value,
                set_on_insert: Some(doc1("_insertedTS", now)),
            }
        }
        WriteModel::DeleteOneBusinessKey => Op::Delete {
            filter: business_key(&mut value)?,
        },
        WriteModel::DeleteOneDefault | WriteModel::DeleteOneTombstoneBusinessKey => {
            return Err(Error::config(
                "a delete strategy is the writemodel.strategy: set it as delete.writemodel.strategy",
            ));
        }
    })
}

fn delete_write(cfg: &TopicConfig, key: Option<&Document>) -> Result<Op> {
    let key = key.ok_or_else(|| {
        Error::conversion("a tombstone without a key: there is no document to delete")
    })?;
    Ok(match cfg.delete_write_model {
        WriteModel::DeleteOneTombstoneBusinessKey => Op::Delete {
            filter: flatten(key),
        },
        // DeleteOneDefaultStrategy: the key is the _id (or holds it).
        _ => Op::Delete {
            filter: if key.contains_key(ID) {
                key.clone()
            } else {
                doc1(ID, Bson::Document(key.clone()))
            },
        },
    })
}

/// Debezium's relational CDC handler: `c`/`r`/`u` replace (upsert) the document whose `_id`
/// is the key's fields with the row's other fields; `d` deletes it; a tombstone does nothing.
pub fn cdc(cfg: &TopicConfig, doc: SinkDoc) -> Result<Option<Op>> {
    let Some(mut value) = doc.value else {
        return Ok(None);
    };
    let op = match value.get_str("op") {
        Ok(op) => op.to_string(),
        Err(_) => {
            return Err(Error::conversion(
                "change.data.capture.handler expects Debezium's envelope (op, before, after): \
                 remove the ExtractNewRecordState transform or the handler",
            ));
        }
    };
    let key = doc.key.unwrap_or_default();
    let filter = |value: &mut Document| -> Result<Document> {
        if key.is_empty() {
            return match value.remove("before") {
                Some(Bson::Document(b)) if !b.is_empty() => Ok(b),
                _ => Err(Error::conversion(
                    "a change without a key and without a before image: no document to update or \
                     delete (give the table a primary key or REPLICA IDENTITY FULL)",
                )),
            };
        }
        Ok(doc1(ID, Bson::Document(key.clone())))
    };
    match op.as_str() {
        "c" | "r" | "u" => {
            let filter = if key.is_empty() && op != "u" {
                doc1(ID, Bson::ObjectId(ObjectId::new()))
            } else {
                filter(&mut value)?
            };
            let Some(Bson::Document(after)) = value.remove("after") else {
                return Err(Error::conversion(
                    "the change has no 'after' document for an insert or update",
                ));
            };
            let mut replacement = Document::new();
            if let Some(id) = filter.get(ID) {
                replacement.insert(ID, id.clone());
            }
            for (k, v) in after {
                if !key.contains_key(&k) {
                    if cfg.cdc_remove_nulls && v == Bson::Null {
                        continue;
                    }
                    replacement.insert(k, v);
                }
            }
            if doc.partial {
                replacement.remove(ID);
                Ok(Some(Op::Update {
                    filter,
                    set: replacement,
                    set_on_insert: None,
                }))
            } else {
                Ok(Some(Op::Replace {
                    filter,
                    doc: replacement,
                }))
            }
        }
        "d" => Ok(Some(Op::Delete {
            filter: filter(&mut value)?,
        })),
        _ => Ok(None),
    }
}

/// Keeps the fields `keep` accepts (bson 2's Document has no `retain`).
fn retain(d: &mut Document, keep: impl Fn(&str, &Bson) -> bool) {
    let old = std::mem::take(d);
    for (k, v) in old {
        if keep(&k, &v) {
            d.insert(k, v);
        }
    }
}

fn doc1(k: &str, v: Bson) -> Document {
    let mut d = Document::new();
    d.insert(k, v);
    d
}

/// `{a: {b: 1}}` → `{"a.b": 1}` (a business key as a filter).
fn flatten(d: &Document) -> Document {
    fn go(prefix: &str, d: &Document, out: &mut Document) {
        for (k, v) in d {
            let name = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Bson::Document(inner) => go(&name, inner, out),
                other => {
                    out.insert(name, other.clone());
                }
            }
        }
    }
    let mut out = Document::new();
    go("", d, &mut out);
    out
}

fn remove_nulls(d: &mut Document) {
    retain(d, |_, v| !matches!(v, Bson::Null));
    for (_, v) in d.iter_mut() {
        if let Bson::Document(inner) = v {
            remove_nulls(inner);
        }
    }
}

fn rename_all(doc: &mut SinkDoc, rename: &dyn Fn(&str, &str) -> String) {
    fn go(path: &str, d: &mut Document, rename: &dyn Fn(&str, &str) -> String) {
        let old = std::mem::take(d);
        for (k, mut v) in old {
            let new = rename(path, &k);
            if let Bson::Document(inner) = &mut v {
                go(&format!("{path}.{new}"), inner, rename);
            }
            if !d.contains_key(&new) {
                d.insert(new, v);
            }
        }
    }
    if let Some(k) = &mut doc.key {
        go("key", k, rename);
    }
    if let Some(v) = &mut doc.value {
        go("value", v, rename);
    }
}

/// The connector's field projection: an allow list keeps the listed paths (and their
/// parents), a block list removes them; `*` matches one level, `**` everything below.
pub fn project(doc: Option<&mut Document>, kind: Projection, fields: &[String]) {
    let Some(doc) = doc else {
        return;
    };
    match kind {
        Projection::None => {}
        Projection::AllowList => {
            let mut allowed: Vec<String> = Vec::new();
            for f in fields {
                allowed.push(f.clone());
                let mut entry = f.as_str();
                while let Some(i) = entry.rfind('.') {
                    entry = &entry[..i];
                    if !entry.is_empty() {
                        allowed.push(entry.to_string());
                    }
                }
            }
            allow(doc, "", &allowed);
        }
        Projection::BlockList => {
            for f in fields {
                block(doc, f);
            }
        }
    }
}

fn wildcard_match(allowed: &[String], key: &str) -> bool {
    if allowed.iter().any(|f| {
        !f.contains('.') && f != "*" && f.ends_with('*') && key.starts_with(&f[..f.len() - 1])
    }) {
        return true;
    }
    let parts: Vec<&str> = key.split('.').collect();
    // Every combination of parts replaced by `*`.
    (0u32..(1 << parts.len().min(16))).any(|mask| {
        let pattern: Vec<&str> = parts
            .iter()
            .enumerate()
            .map(|(i, p)| if mask & (1 << i) != 0 { "*" } else { p })
            .collect();
        allowed.iter().any(|f| *f == pattern.join("."))
    })
}

fn allow(doc: &mut Document, path: &str, allowed: &[String]) {
    if allowed.iter().any(|f| f == "**") {
        return;
    }
    let old = std::mem::take(doc);
    for (k, mut v) in old {
        let key = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        if !allowed.contains(&key) && !wildcard_match(allowed, &key) {
            continue;
        }
        match &mut v {
            Bson::Document(inner) if !allowed.contains(&format!("{key}.**")) => {
                allow(inner, &key, allowed)
            }
            Bson::Array(items) => {
                for item in items.iter_mut() {
                    if let Bson::Document(inner) = item {
                        allow(inner, &key, allowed);
                    }
                }
            }
            _ => {}
        }
        doc.insert(k, v);
    }
}

fn block(doc: &mut Document, field: &str) {
    match field.split_once('.') {
        None => match field {
            "*" => retain(doc, |_, v| matches!(v, Bson::Document(_))),
            "**" => doc.clear(),
            f if f.ends_with('*') => {
                let prefix = &f[..f.len() - 1];
                retain(doc, |k, _| !k.starts_with(prefix));
            }
            f => {
                doc.remove(f);
            }
        },
        Some((first, rest)) => {
            if first == "*" || first == "**" {
                if first == "**" {
                    doc.clear();
                    return;
                }
                retain(doc, |_, v| matches!(v, Bson::Document(_)));
                for (_, v) in doc.iter_mut() {
                    if let Bson::Document(inner) = v {
                        block(inner, rest);
                    }
                }
                return;
            }
            match doc.get_mut(first) {
                Some(Bson::Document(inner)) => block(inner, rest),
                Some(Bson::Array(items)) => {
                    for item in items.iter_mut() {
                        if let Bson::Document(inner) = item {
                            block(inner, rest);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CdcHandler, PostProcessor};
    use mongodb::bson::doc;

    fn cfg() -> TopicConfig {
        TopicConfig {
            database: "db".into(),
            collection: String::new(),
            field_namespace: None,
            id_strategy: IdStrategy::BsonOid,
            overwrite_existing_id: false,
            uuid_binary: false,
            partial_key: (Projection::None, vec![]),
            partial_value: (Projection::None, vec![]),
            write_model: WriteModel::ReplaceOneDefault,
            delete_on_null_values: false,
            delete_write_model: WriteModel::DeleteOneDefault,
            post_processors: vec![PostProcessor::DocumentIdAdder],
            key_projection: (Projection::None, vec![]),
            value_projection: (Projection::None, vec![]),
            rename_mapping: Default::default(),
            rename_regexp: vec![],
            cdc: None,
            cdc_remove_nulls: false,
            max_batch_size: 0,
            ordered: true,
            rate_limit_every_n: 0,
            rate_limit_timeout_ms: 0,
            json_as_document: false,
            uuid_as_binary: false,
            micros_suffix: String::new(),
        }
    }

    const AT: Coordinates<'static> = Coordinates {
        topic: "t",
        partition: Some(2),
        offset: Some(7),
        timestamp_ms: None,
    };

    fn sd(key: Option<Document>, value: Option<Document>) -> SinkDoc {
        SinkDoc {
            key,
            value,
            partial: false,
        }
    }

    #[test]
    fn the_seed_strategies_upsert_by_a_value_field_with_timestamps() {
        let mut c = cfg();
        c.id_strategy = IdStrategy::PartialValue;
        c.partial_value = (Projection::AllowList, vec!["pk_".into()]);
        c.write_model = WriteModel::UpdateOneTimestamps;
        let op = write(&c, sd(None, Some(doc! {"pk_": "1-2", "qty": 3})), AT)
            .unwrap()
            .unwrap();
        let Op::Update {
            filter,
            set,
            set_on_insert,
        } = op
        else {
            panic!("update")
        };
        assert_eq!(filter, doc! {"_id": {"pk_": "1-2"}});
        assert_eq!(set.get("qty"), Some(&Bson::Int32(3)));
        assert!(set.contains_key("_modifiedTS") && !set.contains_key("_id"));
        assert!(set_on_insert.unwrap().contains_key("_insertedTS"));
    }

    #[test]
    fn id_strategies() {
        let mut c = cfg();
        let key = doc! {"id": 5, "region": "eu"};
        let id_of = |c: &TopicConfig, value: Document| match write(
            c,
            sd(Some(key.clone()), Some(value)),
            AT,
        )
        .unwrap()
        .unwrap()
        {
            Op::Replace { filter, .. } => filter.get("_id").cloned().unwrap(),
            other => panic!("{other:?}"),
        };
        c.id_strategy = IdStrategy::FullKey;
        assert_eq!(id_of(&c, doc! {"v": 1}), Bson::Document(key.clone()));
        c.id_strategy = IdStrategy::KafkaMetaData;
        assert_eq!(id_of(&c, doc! {"v": 1}), Bson::String("t#2#7".into()));
        c.id_strategy = IdStrategy::ProvidedInValue;
        assert_eq!(
            id_of(&c, doc! {"_id": "x", "v": 1}),
            Bson::String("x".into())
        );
        c.id_strategy = IdStrategy::PartialKey;
        c.partial_key = (Projection::AllowList, vec!["id".into()]);
        assert_eq!(id_of(&c, doc! {"v": 1}), Bson::Document(doc! {"id": 5}));
        c.id_strategy = IdStrategy::BsonOid;
        assert!(matches!(id_of(&c, doc! {"v": 1}), Bson::ObjectId(_)));
        // An existing _id stays unless overwrite.existing.
        c.id_strategy = IdStrategy::FullKey;
        assert_eq!(id_of(&c, doc! {"_id": 9}), Bson::Int32(9));
        c.overwrite_existing_id = true;
        assert_eq!(id_of(&c, doc! {"_id": 9}), Bson::Document(key.clone()));
    }

    #[test]
    fn tombstones_delete_only_when_asked() {
        let mut c = cfg();
        assert_eq!(write(&c, sd(Some(doc! {"id": 1}), None), AT).unwrap(), None);
        c.delete_on_null_values = true;
        assert_eq!(
            write(&c, sd(Some(doc! {"id": 1}), None), AT).unwrap(),
            Some(Op::Delete {
                filter: doc! {"_id": {"id": 1}}
            })
        );
    }

    #[test]
    fn the_rdbms_handler_applies_the_envelope() {
        let mut c = cfg();
        c.cdc = Some(CdcHandler::Rdbms);
        let key = doc! {"id": 1};
        let upsert = write(
            &c,
            sd(
                Some(key.clone()),
                Some(doc! {"op": "u", "before": null, "after": {"id": 1, "name": "a"}}),
            ),
            AT,
        )
        .unwrap();
        assert_eq!(
            upsert,
            Some(Op::Replace {
                filter: doc! {"_id": {"id": 1}},
                doc: doc! {"_id": {"id": 1}, "name": "a"}
            })
        );
        let delete = write(
            &c,
            sd(
                Some(key.clone()),
                Some(doc! {"op": "d", "before": {"id": 1}, "after": null}),
            ),
            AT,
        )
        .unwrap();
        assert_eq!(
            delete,
            Some(Op::Delete {
                filter: doc! {"_id": {"id": 1}}
            })
        );
        assert_eq!(write(&c, sd(Some(key), None), AT).unwrap(), None);
    }

    #[test]
    fn projections_and_renames() {
        let mut d = doc! {"a": 1, "b": {"c": 2, "d": 3}, "e": [{"c": 4, "x": 5}]};
        project(
            Some(&mut d),
            Projection::AllowList,
            &["b.c".into(), "a".into()],
        );
        assert_eq!(d, doc! {"a": 1, "b": {"c": 2}});
        let mut d = doc! {"a": 1, "b": {"c": 2, "d": 3}};
        project(Some(&mut d), Projection::BlockList, &["b.d".into()]);
        assert_eq!(d, doc! {"a": 1, "b": {"c": 2}});
        let mut c = cfg();
        c.post_processors = vec![PostProcessor::RenameByMapping];
        c.rename_mapping.insert("value.a".into(), "z".into());
        c.write_model = WriteModel::InsertOneDefault;
        let op = write(&c, sd(None, Some(doc! {"a": 1, "b": 2})), AT).unwrap();
        assert_eq!(
            op,
            Some(Op::Insert {
                doc: doc! {"z": 1, "b": 2}
            })
        );
    }
}
