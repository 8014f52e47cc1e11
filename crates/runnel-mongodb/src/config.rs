//! The MongoDB sink's configuration under the names of the MongoDB Kafka sink connector
//! (`com.mongodb.kafka.connect.MongoSinkConnector`), per topic: a topic's
//! `topic.override.<topic>.<key>` replaces `<key>` for its records. Strategy and post processor
//! classes are named as the connector names them (the full class name, or its simple name).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use regex::Regex;
use runnel_core::config::{ConfigGroup, ConfigIssue, ConfigKey, ValueType, parse_bool};
use runnel_core::plugin::SinkConfig;

pub const CONNECTOR_CLASS: &str = "com.mongodb.kafka.connect.MongoSinkConnector";

const PACKAGE_ID: &str = "com.mongodb.kafka.connect.sink.processor.id.strategy.";
const PACKAGE_WRITE: &str = "com.mongodb.kafka.connect.sink.writemodel.strategy.";
const PACKAGE_PROCESSOR: &str = "com.mongodb.kafka.connect.sink.processor.";
const PACKAGE_CDC: &str = "com.mongodb.kafka.connect.sink.cdc.";
const PACKAGE_NAMESPACE: &str = "com.mongodb.kafka.connect.sink.namespace.mapping.";

/// `document.id.strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdStrategy {
    BsonOid,
    KafkaMetaData,
    FullKey,
    ProvidedInKey,
    ProvidedInValue,
    PartialKey,
    PartialValue,
    Uuid,
    UuidProvidedInKey,
    UuidProvidedInValue,
}

/// `writemodel.strategy` and `delete.writemodel.strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteModel {
    /// ReplaceOne by `_id`, upsert (the default).
    ReplaceOneDefault,
    InsertOneDefault,
    ReplaceOneBusinessKey,
    UpdateOneDefault,
    /// UpdateOne by `_id` with `$set` and `_modifiedTS`, `$setOnInsert` `_insertedTS`.
    UpdateOneTimestamps,
    UpdateOneBusinessKeyTimestamp,
    DeleteOneDefault,
    DeleteOneBusinessKey,
    DeleteOneTombstoneBusinessKey,
}

/// `post.processor.chain` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostProcessor {
    DocumentIdAdder,
    AllowListKeyProjector,
    AllowListValueProjector,
    BlockListKeyProjector,
    BlockListValueProjector,
    KafkaMetaAdder,
    RenameByMapping,
    RenameByRegExp,
    NullFieldValueRemover,
}

/// `change.data.capture.handler`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CdcHandler {
    /// Debezium's relational handlers (RDBMS, PostgreSQL, MySQL, SQL Server): the envelope's
    /// `op` applied to the document keyed by the record key.
    Rdbms,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projection {
    None,
    AllowList,
    BlockList,
}

/// One rename rule of `field.renamer.regexp`.
#[derive(Debug, Clone)]
pub struct RegexpRename {
    pub path: Regex,
    pub pattern: Regex,
    pub replace: String,
}

/// Where `namespace.mapper` (the field-path mapper) reads a record's namespace.
#[derive(Debug, Clone, Default)]
pub struct FieldNamespace {
    pub key_database: String,
    pub key_collection: String,
    pub value_database: String,
    pub value_collection: String,
    pub error_if_invalid: bool,
}

/// Everything that can differ per topic.
#[derive(Debug, Clone)]
pub struct TopicConfig {
    pub database: String,
    /// Empty: the topic's name.
    pub collection: String,
    pub field_namespace: Option<FieldNamespace>,
    pub id_strategy: IdStrategy,
    pub overwrite_existing_id: bool,
    pub uuid_binary: bool,
    pub partial_key: (Projection, Vec<String>),
    pub partial_value: (Projection, Vec<String>),
    pub write_model: WriteModel,
    pub delete_on_null_values: bool,
    pub delete_write_model: WriteModel,
    pub post_processors: Vec<PostProcessor>,
    pub key_projection: (Projection, Vec<String>),
    pub value_projection: (Projection, Vec<String>),
    pub rename_mapping: HashMap<String, String>,
    pub rename_regexp: Vec<RegexpRename>,
    pub cdc: Option<CdcHandler>,
    pub cdc_remove_nulls: bool,
    pub max_batch_size: usize,
    pub ordered: bool,
    pub rate_limit_every_n: usize,
    pub rate_limit_timeout_ms: u64,
    /// runnel: `io.debezium.data.Json` strings written as embedded documents.
    pub json_as_document: bool,
    /// runnel: `io.debezium.data.Uuid` strings written as BSON UUIDs (binary subtype 4).
    pub uuid_as_binary: bool,
    /// runnel: a timestamp with microseconds also gets a sibling `<field><suffix>` holding all
    /// of them (BSON dates hold milliseconds).
    pub micros_suffix: String,
}

#[derive(Debug, Clone)]
pub struct MongoSinkConfig {
    pub uri: String,
    /// The sink connector form (`connector.class` MongoSinkConnector); else the direct sink of
    /// a source connector, whose change events are applied as a Debezium CDC handler would.
    pub connector_form: bool,
    pub base: Arc<TopicConfig>,
    pub overrides: HashMap<String, Arc<TopicConfig>>,
    pub unavailable_placeholder: String,
}

impl MongoSinkConfig {
    pub fn topic(&self, topic: &str) -> &Arc<TopicConfig> {
        self.overrides.get(topic).unwrap_or(&self.base)
    }
}

const CONNECTION_KEYS: &[ConfigKey] = &[ConfigKey::new(
    "connection.uri",
    ValueType::Password,
    "The MongoDB connection string (its write concern, e.g. w=majority, is the writes').",
)
.default("mongodb://localhost:27017")];

const NAMESPACE_KEYS: &[ConfigKey] = &[
    ConfigKey::new("database", ValueType::String, "The database written to.").required(),
    ConfigKey::new(
        "collection",
        ValueType::String,
        "The collection written to (empty: the topic's name).",
    ),
    ConfigKey::new(
        "namespace.mapper",
        ValueType::String,
        "DefaultNamespaceMapper, or FieldPathNamespaceMapper with namespace.mapper.*.field.",
    ),
    ConfigKey::new(
        "namespace.mapper.key.database.field",
        ValueType::String,
        "FieldPathNamespaceMapper: the key field naming the database.",
    ),
    ConfigKey::new(
        "namespace.mapper.key.collection.field",
        ValueType::String,
        "FieldPathNamespaceMapper: the key field naming the collection.",
    ),
    ConfigKey::new(
        "namespace.mapper.value.database.field",
        ValueType::String,
        "FieldPathNamespaceMapper: the value field naming the database.",
    ),
    ConfigKey::new(
        "namespace.mapper.value.collection.field",
        ValueType::String,
        "FieldPathNamespaceMapper: the value field naming the collection.",
    ),
    ConfigKey::new(
        "namespace.mapper.error.if.invalid",
        ValueType::Boolean,
        "FieldPathNamespaceMapper: fail on a missing or non-string field (else the defaults).",
    )
    .default("false"),
];

const ID_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "document.id.strategy",
        ValueType::String,
        "How _id is made: BsonOidStrategy, KafkaMetaDataStrategy, FullKeyStrategy, \
         ProvidedInKeyStrategy, ProvidedInValueStrategy, PartialKeyStrategy, \
         PartialValueStrategy, UuidStrategy, UuidProvidedInKeyStrategy, \
         UuidProvidedInValueStrategy.",
    )
    .default("com.mongodb.kafka.connect.sink.processor.id.strategy.BsonOidStrategy"),
    ConfigKey::new(
        "document.id.strategy.overwrite.existing",
        ValueType::Boolean,
        "Replace an _id the value already has.",
    )
    .default("false"),
    ConfigKey::new(
        "document.id.strategy.uuid.format",
        ValueType::Enum(&["string", "binary"]),
        "UuidStrategy: _id as a string or a BSON UUID.",
    )
    .default("string"),
    ConfigKey::new(
        "document.id.strategy.partial.key.projection.type",
        ValueType::Enum(&["", "AllowList", "BlockList", "WhiteList", "BlackList"]),
        "PartialKeyStrategy: which key fields make the _id (key.projection.type when empty).",
    ),
    ConfigKey::new(
        "document.id.strategy.partial.key.projection.list",
        ValueType::String,
        "PartialKeyStrategy: the fields (key.projection.list when empty).",
    ),
    ConfigKey::new(
        "document.id.strategy.partial.value.projection.type",
        ValueType::Enum(&["", "AllowList", "BlockList", "WhiteList", "BlackList"]),
        "PartialValueStrategy: which value fields make the _id (value.projection.type when empty).",
    ),
    ConfigKey::new(
        "document.id.strategy.partial.value.projection.list",
        ValueType::String,
        "PartialValueStrategy: the fields (value.projection.list when empty).",
    ),
];

const WRITE_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "writemodel.strategy",
        ValueType::String,
        "DefaultWriteModelStrategy (ReplaceOne), InsertOneDefaultStrategy, \
         ReplaceOneDefaultStrategy, ReplaceOneBusinessKeyStrategy, UpdateOneDefaultStrategy, \
         UpdateOneTimestampsStrategy, UpdateOneBusinessKeyTimestampStrategy, \
         DeleteOneBusinessKeyStrategy.",
    )
    .default("com.mongodb.kafka.connect.sink.writemodel.strategy.DefaultWriteModelStrategy"),
    ConfigKey::new(
        "delete.on.null.values",
        ValueType::Boolean,
        "A record without a value (a tombstone) deletes its document.",
    )
    .default("false"),
    ConfigKey::new(
        "delete.writemodel.strategy",
        ValueType::String,
        "How a tombstone deletes: DeleteOneDefaultStrategy (by the key as _id), \
         DeleteOneTombstoneBusinessKeyStrategy (by the key's fields).",
    )
    .default("com.mongodb.kafka.connect.sink.writemodel.strategy.DeleteOneDefaultStrategy"),
    ConfigKey::new(
        "post.processor.chain",
        ValueType::List,
        "Post processors, in order: DocumentIdAdder (always first when absent), \
         AllowList/BlockList Key/Value projectors, KafkaMetaAdder, RenameByMapping, \
         RenameByRegExp, NullFieldValueRemover.",
    )
    .default("com.mongodb.kafka.connect.sink.processor.DocumentIdAdder"),
    ConfigKey::new(
        "key.projection.type",
        ValueType::Enum(&["none", "AllowList", "BlockList", "WhiteList", "BlackList"]),
        "Key projector type.",
    )
    .default("none"),
    ConfigKey::new("key.projection.list", ValueType::String, "Key fields projected."),
    ConfigKey::new(
        "value.projection.type",
        ValueType::Enum(&["none", "AllowList", "BlockList", "WhiteList", "BlackList"]),
        "Value projector type.",
    )
    .default("none"),
    ConfigKey::new("value.projection.list", ValueType::String, "Value fields projected."),
    ConfigKey::new(
        "field.renamer.mapping",
        ValueType::String,
        "RenameByMapping: [{\"oldName\": \"value.a\", \"newName\": \"b\"}, …].",
    )
    .default("[]"),
    ConfigKey::new(
        "field.renamer.regexp",
        ValueType::String,
        "RenameByRegExp: [{\"regexp\": \"^value\\\\..*\", \"pattern\": \"_\", \"replace\": \"\"}, …].",
    )
    .default("[]"),
    ConfigKey::new(
        "field.value.transformer",
        ValueType::String,
        "A Java FieldValueTransformer class (not supported: use a transform).",
    ),
    ConfigKey::new(
        "field.value.transformer.fields",
        ValueType::String,
        "The fields of field.value.transformer.",
    ),
    ConfigKey::new(
        "change.data.capture.handler",
        ValueType::String,
        "Debezium's CDC handlers (…cdc.debezium.rdbms.RdbmsHandler, …postgres.PostgresHandler, \
         …mysql.MysqlHandler): the envelope's op applied to the document keyed by the record key.",
    ),
    ConfigKey::new(
        "change.data.capture.handler.remove.null.values",
        ValueType::Boolean,
        "CDC handlers: leave null fields out of the document.",
    )
    .default("false"),
    ConfigKey::new(
        "max.batch.size",
        ValueType::Int,
        "Writes per bulk write at most (0: all of a batch).",
    )
    .default("0"),
    ConfigKey::new(
        "bulk.write.ordered",
        ValueType::Boolean,
        "Ordered bulk writes (per-key order is kept either way).",
    )
    .default("true"),
    ConfigKey::new(
        "rate.limiting.every.n",
        ValueType::Int,
        "Pause rate.limiting.timeout ms after every N bulk writes.",
    )
    .default("0"),
    ConfigKey::new(
        "rate.limiting.timeout",
        ValueType::Int,
        "The pause of rate.limiting.every.n, in ms.",
    )
    .default("0"),
    ConfigKey::new(
        "max.num.retries",
        ValueType::Int,
        "Older connectors: retries of a failed write (runnel retries the task with backoff).",
    ),
    ConfigKey::new(
        "retries.defer.timeout",
        ValueType::Int,
        "Older connectors: delay between retries.",
    ),
    ConfigKey::new(
        "mongo.errors.tolerance",
        ValueType::Enum(&["none", "all", "data"]),
        "Overrides errors.tolerance for this sink.",
    ),
    ConfigKey::new(
        "mongo.errors.log.enable",
        ValueType::Boolean,
        "Overrides errors.log.enable for this sink.",
    ),
    ConfigKey::new(
        "timeseries.timefield",
        ValueType::String,
        "Time series collections (not supported yet: the collection is written as any other).",
    ),
    ConfigKey::new("timeseries.metafield", ValueType::String, "Time series."),
    ConfigKey::new("timeseries.expire.after.seconds", ValueType::Int, "Time series."),
    ConfigKey::new("timeseries.granularity", ValueType::String, "Time series."),
    ConfigKey::new("timeseries.timefield.auto.convert", ValueType::Boolean, "Time series."),
    ConfigKey::new(
        "timeseries.timefield.auto.convert.date.format",
        ValueType::String,
        "Time series.",
    ),
    ConfigKey::new(
        "timeseries.timefield.auto.convert.locale.language.tag",
        ValueType::String,
        "Time series.",
    ),
    ConfigKey::new(
        "json.as.document",
        ValueType::Boolean,
        "runnel: io.debezium.data.Json values as embedded documents (default: strings).",
    )
    .default("false"),
    ConfigKey::new(
        "uuid.as.binary",
        ValueType::Boolean,
        "runnel: io.debezium.data.Uuid values as BSON UUIDs (default: strings).",
    )
    .default("false"),
    ConfigKey::new(
        "timestamp.micros.field.suffix",
        ValueType::String,
        "runnel: a timestamp also written whole, in microseconds, to <field><suffix> (dates hold ms).",
    ),
    ConfigKey::new(
        "unavailable.value.placeholder",
        ValueType::String,
        "What an unchanged TOAST value reads as in records from Kafka: such a field is left out.",
    )
    .default("__debezium_unavailable_value"),
];

pub const GROUPS: &[ConfigGroup] = &[
    ConfigGroup {
        name: "Connection",
        keys: CONNECTION_KEYS,
    },
    ConfigGroup {
        name: "Namespace",
        keys: NAMESPACE_KEYS,
    },
    ConfigGroup {
        name: "Document id",
        keys: ID_KEYS,
    },
    ConfigGroup {
        name: "Writes",
        keys: WRITE_KEYS,
    },
];

/// A class named in full or by its simple name (the part after the last dot).
fn class_is(value: &str, package: &str, simple: &str) -> bool {
    let v = value.trim();
    v == simple || v == format!("{package}{simple}") || v.rsplit('.').next() == Some(simple)
}

fn id_strategy(v: &str) -> Option<IdStrategy> {
    use IdStrategy::*;
    [
        ("BsonOidStrategy", BsonOid),
        ("KafkaMetaDataStrategy", KafkaMetaData),
        ("FullKeyStrategy", FullKey),
        ("ProvidedInKeyStrategy", ProvidedInKey),
        ("ProvidedInValueStrategy", ProvidedInValue),
        ("PartialKeyStrategy", PartialKey),
        ("PartialValueStrategy", PartialValue),
        ("UuidStrategy", Uuid),
        ("UuidProvidedInKeyStrategy", UuidProvidedInKey),
        ("UuidProvidedInValueStrategy", UuidProvidedInValue),
    ]
    .into_iter()
    .find(|(n, _)| class_is(v, PACKAGE_ID, n))
    .map(|(_, s)| s)
}

fn write_model(v: &str) -> Option<WriteModel> {
    use WriteModel::*;
    [
        ("DefaultWriteModelStrategy", ReplaceOneDefault),
        ("ReplaceOneDefaultStrategy", ReplaceOneDefault),
        ("InsertOneDefaultStrategy", InsertOneDefault),
        ("ReplaceOneBusinessKeyStrategy", ReplaceOneBusinessKey),
        ("UpdateOneDefaultStrategy", UpdateOneDefault),
        ("UpdateOneTimestampsStrategy", UpdateOneTimestamps),
        (
            "UpdateOneBusinessKeyTimestampStrategy",
            UpdateOneBusinessKeyTimestamp,
        ),
        ("DeleteOneDefaultStrategy", DeleteOneDefault),
        ("DeleteOneBusinessKeyStrategy", DeleteOneBusinessKey),
        (
            "DeleteOneTombstoneBusinessKeyStrategy",
            DeleteOneTombstoneBusinessKey,
        ),
    ]
    .into_iter()
    .find(|(n, _)| class_is(v, PACKAGE_WRITE, n))
    .map(|(_, s)| s)
}

fn post_processor(v: &str) -> Option<PostProcessor> {
    use PostProcessor::*;
    [
        ("DocumentIdAdder", DocumentIdAdder),
        ("AllowListKeyProjector", AllowListKeyProjector),
        ("WhitelistKeyProjector", AllowListKeyProjector),
        ("AllowListValueProjector", AllowListValueProjector),
        ("WhitelistValueProjector", AllowListValueProjector),
        ("BlockListKeyProjector", BlockListKeyProjector),
        ("BlacklistKeyProjector", BlockListKeyProjector),
        ("BlockListValueProjector", BlockListValueProjector),
        ("BlacklistValueProjector", BlockListValueProjector),
        ("KafkaMetaAdder", KafkaMetaAdder),
        ("RenameByMapping", RenameByMapping),
        ("RenameByRegExp", RenameByRegExp),
        ("NullFieldValueRemover", NullFieldValueRemover),
    ]
    .into_iter()
    .find(|(n, _)| {
        class_is(v, PACKAGE_PROCESSOR, n)
            || class_is(v, &format!("{PACKAGE_PROCESSOR}field.renaming."), n)
    })
    .map(|(_, s)| s)
}

fn cdc_handler(v: &str) -> Option<CdcHandler> {
    [
        "debezium.rdbms.RdbmsHandler",
        "debezium.rdbms.postgres.PostgresHandler",
        "debezium.rdbms.mysql.MysqlHandler",
        "debezium.rdbms.sqlserver.SqlServerHandler",
    ]
    .into_iter()
    .any(|c| {
        let simple = c.rsplit('.').next().unwrap_or(c);
        v.trim() == format!("{PACKAGE_CDC}{c}") || v.trim() == simple
    })
    .then_some(CdcHandler::Rdbms)
}

fn projection(v: &str) -> Option<Projection> {
    match v.trim().to_ascii_lowercase().as_str() {
        "" | "none" => Some(Projection::None),
        "allowlist" | "whitelist" => Some(Projection::AllowList),
        "blocklist" | "blacklist" => Some(Projection::BlockList),
        _ => None,
    }
}

fn field_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A topic's keys: the sink's, with `topic.override.<topic>.*` over them.
struct Keys<'a> {
    base: &'a BTreeMap<String, String>,
    over: BTreeMap<String, String>,
    /// How a key is written in messages (`sink.mongodb.x`, `topic.override.t.x`).
    spell: &'a dyn Fn(&str) -> String,
}

impl Keys<'_> {
    fn get(&self, k: &str) -> Option<&str> {
        self.over
            .get(k)
            .or_else(|| self.base.get(k))
            .map(|v| v.trim())
    }
}

fn topic_config(keys: &Keys<'_>, issues: &mut Vec<(String, String)>) -> TopicConfig {
    let mut bad = |k: &str, msg: String| issues.push((k.to_string(), msg));
    let spell = keys.spell;
    let flag = |k: &str, default: bool, bad: &mut dyn FnMut(&str, String)| match keys.get(k) {
        None | Some("") => default,
        Some(v) => parse_bool(v).unwrap_or_else(|| {
            bad(
                k,
                format!(
                    "invalid value \"{v}\" for \"{}\": expected true or false",
                    spell(k)
                ),
            );
            default
        }),
    };
    let number = |k: &str, bad: &mut dyn FnMut(&str, String)| match keys.get(k) {
        None | Some("") => 0,
        Some(v) => v.parse::<usize>().unwrap_or_else(|_| {
            bad(
                k,
                format!(
                    "invalid value \"{v}\" for \"{}\": expected a number",
                    spell(k)
                ),
            );
            0
        }),
    };
    let database = keys.get("database").unwrap_or_default().to_string();
    if database.is_empty() {
        bad(
            "database",
            format!(
                "the MongoDB sink needs \"{}\": the database written to",
                spell("database")
            ),
        );
    }
    let field_namespace = match keys.get("namespace.mapper") {
        None | Some("") => None,
        Some(v) if class_is(v, PACKAGE_NAMESPACE, "DefaultNamespaceMapper") => None,
        Some(v) if class_is(v, PACKAGE_NAMESPACE, "FieldPathNamespaceMapper") => {
            let f = |k: &str| keys.get(k).unwrap_or_default().to_string();
            let ns = FieldNamespace {
                key_database: f("namespace.mapper.key.database.field"),
                key_collection: f("namespace.mapper.key.collection.field"),
                value_database: f("namespace.mapper.value.database.field"),
                value_collection: f("namespace.mapper.value.collection.field"),
                error_if_invalid: flag("namespace.mapper.error.if.invalid", false, &mut bad),
            };
            if !ns.key_database.is_empty() && !ns.value_database.is_empty()
                || !ns.key_collection.is_empty() && !ns.value_collection.is_empty()
            {
                bad(
                    "namespace.mapper",
                    "FieldPathNamespaceMapper takes the database (and the collection) from the key \
                     or from the value, not both"
                        .to_string(),
                );
            }
            Some(ns)
        }
        Some(v) => {
            bad(
                "namespace.mapper",
                format!(
                    "namespace.mapper \"{v}\" is not supported: DefaultNamespaceMapper or \
                     FieldPathNamespaceMapper"
                ),
            );
            None
        }
    };
    let id_strategy = match keys.get("document.id.strategy") {
        None | Some("") => IdStrategy::BsonOid,
        Some(v) => id_strategy(v).unwrap_or_else(|| {
            bad(
                "document.id.strategy",
                format!("unknown document.id.strategy \"{v}\": one of BsonOidStrategy, KafkaMetaDataStrategy, FullKeyStrategy, ProvidedInKeyStrategy, ProvidedInValueStrategy, PartialKeyStrategy, PartialValueStrategy, UuidStrategy"),
            );
            IdStrategy::BsonOid
        }),
    };
    let projection_of = |type_key: &str, list_key: &str, bad: &mut dyn FnMut(&str, String)| {
        let p = match projection(keys.get(type_key).unwrap_or("none")) {
            Some(p) => p,
            None => {
                bad(
                    type_key,
                    format!(
                        "invalid value for \"{}\": AllowList or BlockList",
                        spell(type_key)
                    ),
                );
                Projection::None
            }
        };
        (p, field_list(keys.get(list_key).unwrap_or_default()))
    };
    let key_projection = projection_of("key.projection.type", "key.projection.list", &mut bad);
    let value_projection =
        projection_of("value.projection.type", "value.projection.list", &mut bad);
    let partial =
        |prefix: &str, fallback: &(Projection, Vec<String>), bad: &mut dyn FnMut(&str, String)| {
            let type_key = format!("document.id.strategy.partial.{prefix}.projection.type");
            let list_key = format!("document.id.strategy.partial.{prefix}.projection.list");
            let (p, l) = projection_of(&type_key, &list_key, bad);
            (
                if p == Projection::None { fallback.0 } else { p },
                if l.is_empty() { fallback.1.clone() } else { l },
            )
        };
    let partial_key = partial("key", &key_projection, &mut bad);
    let partial_value = partial("value", &value_projection, &mut bad);
    for (strategy, (p, _), prefix) in [
        (IdStrategy::PartialKey, &partial_key, "key"),
        (IdStrategy::PartialValue, &partial_value, "value"),
    ] {
        if id_strategy == strategy && *p == Projection::None {
            bad(
                "document.id.strategy",
                format!(
                    "{strategy:?}Strategy needs \"document.id.strategy.partial.{prefix}.projection.type\" \
                     (or {prefix}.projection.type): AllowList or BlockList, and its list"
                ),
            );
        }
    }
    let model = |k: &str, default: WriteModel, bad: &mut dyn FnMut(&str, String)| match keys.get(k)
    {
        None | Some("") => default,
        Some(v) => write_model(v).unwrap_or_else(|| {
            bad(k, format!("unknown {} \"{v}\"", spell(k)));
            default
        }),
    };
    let write_model = model(
        "writemodel.strategy",
        WriteModel::ReplaceOneDefault,
        &mut bad,
    );
    let delete_write_model = model(
        "delete.writemodel.strategy",
        WriteModel::DeleteOneDefault,
        &mut bad,
    );
    let mut post_processors = Vec::new();
    for entry in field_list(
        keys.get("post.processor.chain")
            .unwrap_or("DocumentIdAdder"),
    ) {
        match post_processor(&entry) {
            Some(p) => post_processors.push(p),
            None => bad(
                "post.processor.chain",
                format!(
                    "post processor \"{entry}\" is not in this build: DocumentIdAdder, the AllowList/BlockList projectors, KafkaMetaAdder, RenameByMapping, RenameByRegExp, NullFieldValueRemover"
                ),
            ),
        }
    }
    if !post_processors.contains(&PostProcessor::DocumentIdAdder) {
        post_processors.insert(0, PostProcessor::DocumentIdAdder);
    }
    let json_array = |k: &str, bad: &mut dyn FnMut(&str, String)| -> Vec<serde_json::Value> {
        match keys.get(k).filter(|v| !v.is_empty()) {
            None => Vec::new(),
            Some(v) => match serde_json::from_str::<Vec<serde_json::Value>>(v) {
                Ok(a) => a,
                Err(e) => {
                    bad(k, format!("\"{}\" must be a JSON array: {e}", spell(k)));
                    Vec::new()
                }
            },
        }
    };
    let mut rename_mapping = HashMap::new();
    for r in json_array("field.renamer.mapping", &mut bad) {
        match (r["oldName"].as_str(), r["newName"].as_str()) {
            (Some(o), Some(n)) => {
                rename_mapping.insert(o.to_string(), n.to_string());
            }
            _ => bad(
                "field.renamer.mapping",
                "each field.renamer.mapping entry needs \"oldName\" and \"newName\"".to_string(),
            ),
        }
    }
    let mut rename_regexp = Vec::new();
    for r in json_array("field.renamer.regexp", &mut bad) {
        let (Some(re), Some(pat)) = (r["regexp"].as_str(), r["pattern"].as_str()) else {
            bad(
                "field.renamer.regexp",
                "each field.renamer.regexp entry needs \"regexp\", \"pattern\" and \"replace\""
                    .to_string(),
            );
            continue;
        };
        match (Regex::new(&format!("^(?:{re})$")), Regex::new(pat)) {
            (Ok(path), Ok(pattern)) => rename_regexp.push(RegexpRename {
                path,
                pattern,
                replace: r["replace"].as_str().unwrap_or_default().replace('$', "$$"),
            }),
            (Err(e), _) | (_, Err(e)) => bad(
                "field.renamer.regexp",
                format!("invalid regular expression: {e}"),
            ),
        }
    }
    if keys
        .get("field.value.transformer")
        .is_some_and(|v| !v.is_empty())
    {
        bad(
            "field.value.transformer",
            "field.value.transformer (a Java class) is not supported: change values with a \
             transform (Cast, ReplaceField, InsertField)"
                .to_string(),
        );
    }
    let cdc = match keys.get("change.data.capture.handler") {
        None | Some("") => None,
        Some(v) => match cdc_handler(v) {
            Some(h) => Some(h),
            None => {
                bad(
                    "change.data.capture.handler",
                    format!(
                        "change.data.capture.handler \"{v}\" is not supported: Debezium's RdbmsHandler, PostgresHandler, MysqlHandler or SqlServerHandler"
                    ),
                );
                None
            }
        },
    };
    if keys
        .get("timeseries.timefield")
        .is_some_and(|v| !v.is_empty())
    {
        tracing::warn!(
            "timeseries.* is accepted but runnel writes the collection as any other (time series collections are not created)"
        );
    }
    TopicConfig {
        database,
        collection: keys.get("collection").unwrap_or_default().to_string(),
        field_namespace,
        id_strategy,
        overwrite_existing_id: flag("document.id.strategy.overwrite.existing", false, &mut bad),
        uuid_binary: keys
            .get("document.id.strategy.uuid.format")
            .is_some_and(|v| v.eq_ignore_ascii_case("binary")),
        partial_key,
        partial_value,
        write_model,
        delete_on_null_values: flag("delete.on.null.values", false, &mut bad),
        delete_write_model,
        post_processors,
        key_projection,
        value_projection,
        rename_mapping,
        rename_regexp,
        cdc,
        cdc_remove_nulls: flag(
            "change.data.capture.handler.remove.null.values",
            false,
            &mut bad,
        ),
        max_batch_size: number("max.batch.size", &mut bad),
        ordered: flag("bulk.write.ordered", true, &mut bad),
        rate_limit_every_n: number("rate.limiting.every.n", &mut bad),
        rate_limit_timeout_ms: number("rate.limiting.timeout", &mut bad) as u64,
        json_as_document: flag("json.as.document", false, &mut bad),
        uuid_as_binary: flag("uuid.as.binary", false, &mut bad),
        micros_suffix: keys
            .get("timestamp.micros.field.suffix")
            .unwrap_or_default()
            .to_string(),
    }
}

impl MongoSinkConfig {
    /// Parses and validates (no I/O): every problem as an issue on its key.
    pub fn parse(sink: &SinkConfig) -> std::result::Result<Self, Vec<ConfigIssue>> {
        let connector_form = sink
            .connector
            .get("connector.class")
            .is_some_and(|c| c == CONNECTOR_CLASS || c == "MongoSinkConnector");
        let mut base_keys = BTreeMap::new();
        let mut override_keys: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (k, v) in &sink.keys {
            base_keys.insert(k.clone(), v.clone());
        }
        // `topic.override.<topic>.<key>`: the topic is what is left once a known key is cut off
        // the end (topics may contain dots).
        let known: Vec<&str> = GROUPS
            .iter()
            .flat_map(|g| g.keys.iter().map(|k| k.name))
            .collect();
        let mut issues = Vec::new();
        for (k, v) in sink.connector.with_prefix("topic.override.") {
            match known
                .iter()
                .filter(|key| k.ends_with(&format!(".{key}")))
                .max_by_key(|key| key.len())
            {
                Some(key) => {
                    let topic = &k[..k.len() - key.len() - 1];
                    override_keys
                        .entry(topic.to_string())
                        .or_default()
                        .insert(key.to_string(), v.to_string());
                }
                None => issues.push(ConfigIssue::new(
                    format!("topic.override.{k}"),
                    format!("\"topic.override.{k}\" names no MongoDB sink key after the topic"),
                )),
            }
        }
        let spell_base = |k: &str| sink.user_key(k).to_string();
        let mut found = Vec::new();
        let base = topic_config(
            &Keys {
                base: &base_keys,
                over: BTreeMap::new(),
                spell: &spell_base,
            },
            &mut found,
        );
        for (k, m) in found.drain(..) {
            issues.push(ConfigIssue::new(k, m));
        }
        let mut overrides = HashMap::new();
        for (topic, over) in override_keys {
            let spell = |k: &str| format!("topic.override.{topic}.{k}");
            let cfg = topic_config(
                &Keys {
                    base: &base_keys,
                    over,
                    spell: &spell,
                },
                &mut found,
            );
            for (k, m) in found.drain(..) {
                issues.push(ConfigIssue::new(format!("topic.override.{topic}.{k}"), m));
            }
            overrides.insert(topic, Arc::new(cfg));
        }
        let uri = sink
            .get("connection.uri")
            .unwrap_or("mongodb://localhost:27017")
            .trim()
            .to_string();
        if !uri.starts_with("mongodb://") && !uri.starts_with("mongodb+srv://") {
            issues.push(ConfigIssue::new(
                "connection.uri",
                format!(
                    "\"{}\" must be a MongoDB connection string: mongodb://host:port/?options",
                    sink.user_key("connection.uri")
                ),
            ));
        } else if uri.starts_with("mongodb+srv://") {
            issues.push(ConfigIssue::new(
                "connection.uri",
                "mongodb+srv:// (DNS seed lists) is not supported by this build: list the hosts in a mongodb:// URI",
            ));
        }
        if !issues.is_empty() {
            return Err(issues);
        }
        Ok(Self {
            uri,
            connector_form,
            base: Arc::new(base),
            overrides,
            unavailable_placeholder: sink
                .get("unavailable.value.placeholder")
                .unwrap_or("__debezium_unavailable_value")
                .to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runnel_core::config::ConnectorConfig;
    use runnel_core::plugin::WorkerContext;

    fn sink(props: &[(&str, &str)]) -> SinkConfig {
        let mut p: BTreeMap<String, String> = props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        p.insert("connector.class".into(), CONNECTOR_CLASS.into());
        SinkConfig {
            keys: p.clone(),
            connector: ConnectorConfig {
                name: "m".into(),
                props: p,
            },
            worker: WorkerContext::default(),
            spelled: BTreeMap::new(),
        }
    }

    #[test]
    fn the_seed_config_parses() {
        let cfg = MongoSinkConfig::parse(&sink(&[
            ("connection.uri", "mongodb://mongo:27017"),
            ("database", "demo"),
            (
                "document.id.strategy",
                "com.mongodb.kafka.connect.sink.processor.id.strategy.PartialValueStrategy",
            ),
            ("document.id.strategy.partial.value.projection.list", "pk_"),
            (
                "document.id.strategy.partial.value.projection.type",
                "AllowList",
            ),
            (
                "writemodel.strategy",
                "com.mongodb.kafka.connect.sink.writemodel.strategy.UpdateOneTimestampsStrategy",
            ),
            ("topic.override.demo.dbo.ORDERS.collection", "orders"),
        ]))
        .unwrap();
        assert_eq!(cfg.base.id_strategy, IdStrategy::PartialValue);
        assert_eq!(
            cfg.base.partial_value,
            (Projection::AllowList, vec!["pk_".to_string()])
        );
        assert_eq!(cfg.base.write_model, WriteModel::UpdateOneTimestamps);
        assert_eq!(cfg.topic("demo.dbo.ORDERS").collection, "orders");
        assert_eq!(cfg.topic("other").collection, "");
        assert_eq!(cfg.base.post_processors, [PostProcessor::DocumentIdAdder]);
    }

    #[test]
    fn bad_keys_are_one_line_each() {
        let issues = MongoSinkConfig::parse(&sink(&[
            ("document.id.strategy", "NoSuchStrategy"),
            ("post.processor.chain", "Nope"),
            ("field.renamer.mapping", "{"),
        ]))
        .unwrap_err();
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "database",
                "document.id.strategy",
                "post.processor.chain",
                "field.renamer.mapping"
            ]
        );
    }
}
