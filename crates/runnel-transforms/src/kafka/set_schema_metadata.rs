//! `org.apache.kafka.connect.transforms.SetSchemaMetadata$Key` / `$Value`: sets the schema's
//! name and/or version (the value is unchanged).

use std::sync::Arc;

use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::plugin::TransformPlugin;
use runnel_core::{Datum, Error, Result, Schema, SchemaMeta};

use super::{Meta, OnSide, PayloadTransform};
use crate::util::{Cache, Opts, Side, basics};

const KEYS: &[ConfigKey] = &[
    ConfigKey::new("schema.name", ValueType::String, "The schema's new name."),
    ConfigKey::new(
        "schema.version",
        ValueType::Int,
        "The schema's new version.",
    ),
    ConfigKey::new(
        "replace.null.with.default",
        ValueType::Boolean,
        "Accepted for compatibility: the value is not rewritten.",
    )
    .default("true"),
];

pub fn plugin() -> TransformPlugin {
    TransformPlugin {
        class: "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value",
        aliases: &[
            "SetSchemaMetadata$Value",
            "org.apache.kafka.connect.transforms.SetSchemaMetadata$Key",
            "SetSchemaMetadata$Key",
        ],
        keys: KEYS,
        build: |c| {
            let o = Opts(c);
            let name = o
                .get("schema.name")
                .filter(|n| !n.trim().is_empty())
                .map(Arc::<str>::from);
            let version = match o.get("schema.version") {
                Some(_) => Some(o.int("schema.version", 0)? as i32),
                None => None,
            };
            if name.is_none() && version.is_none() {
                return Err(Error::invalid(
                    "schema.name",
                    "neither \"schema.name\" nor \"schema.version\" is set: set at least one",
                ));
            }
            Ok(OnSide::boxed(
                Side::of_class(c.get("type").unwrap_or("")),
                SetSchemaMetadata {
                    name,
                    version,
                    schemas: Cache::default(),
                },
            ))
        },
    }
}

struct SetSchemaMetadata {
    name: Option<Arc<str>>,
    version: Option<i32>,
    schemas: Cache<Schema, Arc<Schema>>,
}

impl PayloadTransform for SetSchemaMetadata {
    fn transform(
        &mut self,
        _meta: &Meta<'_>,
        schema: Option<&Arc<Schema>>,
        datum: &Datum,
        _datums: &mut Vec<Datum>,
    ) -> Result<Option<(Option<Arc<Schema>>, Datum)>> {
        let Some(schema) = schema else {
            return Err(Error::conversion(
                "SetSchemaMetadata needs a schema: this record has none (schemas.enable=false?)",
            ));
        };
        let (name, version) = (&self.name, self.version);
        let out = self
            .schemas
            .get_or(schema, || {
                let mut meta: SchemaMeta = basics(schema).map(|m| (*m).clone()).unwrap_or_default();
                if let Some(n) = name {
                    meta.name = Some(n.clone());
                }
                if let Some(v) = version {
                    meta.version = Some(v);
                }
                let mut s = (**schema).clone();
                s.json_cache = Default::default();
                s.meta = Some(Arc::new(meta));
                Ok(Arc::new(s))
            })?
            .clone();
        Ok(Some((Some(out), datum.clone())))
    }
}
