//! `org.apache.kafka.connect.transforms.ReplaceField$Key` / `$Value`: keeps the fields
//! `include` names (all when empty) minus those `exclude` names, renamed per `renames`
//! (`old:new`); the survivors keep their order and schemas. Names a schema lacks are ignored.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::plugin::TransformPlugin;
use runnel_core::{Datum, Error, Result, Schema};

use super::{Meta, OnSide, PayloadTransform, key_datum, map_entries, push_map, wrong_type};
use crate::util::{Cache, Opts, Projection, Side};

const KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "exclude",
        ValueType::List,
        "Fields to drop (wins over include).",
    ),
    ConfigKey::new(
        "include",
        ValueType::List,
        "Fields to keep (all when empty).",
    ),
    ConfigKey::new("renames", ValueType::List, "Renames, old:new."),
    ConfigKey::new(
        "replace.null.with.default",
        ValueType::Boolean,
        "Copy a null field that has a default as its default.",
    )
    .default("true"),
];

pub fn plugin() -> TransformPlugin {
    TransformPlugin {
        class: "org.apache.kafka.connect.transforms.ReplaceField$Value",
        aliases: &[
            "ReplaceField$Value",
            "org.apache.kafka.connect.transforms.ReplaceField$Key",
            "ReplaceField$Key",
        ],
        keys: KEYS,
        build: |c| {
            Ok(OnSide::boxed(
                Side::of_class(c.get("type").unwrap_or("")),
                ReplaceField::new(&Opts(c))?,
            ))
        },
    }
}

pub struct ReplaceField {
    exclude: HashSet<String>,
    include: HashSet<String>,
    renames: HashMap<String, Arc<str>>,
    replace_null: bool,
    projections: Cache<Schema, Projection>,
}

impl ReplaceField {
    pub fn new(o: &Opts<'_>) -> Result<Self> {
        let mut renames = HashMap::new();
        for r in o.list("renames") {
            let parts: Vec<&str> = r.split(':').collect();
            let [from, to] = parts[..] else {
                return Err(Error::invalid(
                    "renames",
                    format!(
                        "invalid rename mapping \"{r}\" in \"renames\": expected old:new, e.g. foo:bar,abc:xyz"
                    ),
                ));
            };
            renames.insert(from.to_string(), Arc::from(to));
        }
        Ok(Self {
            exclude: o.list("exclude").into_iter().collect(),
            include: o.list("include").into_iter().collect(),
            renames,
            replace_null: o.bool("replace.null.with.default", true)?,
            projections: Cache::default(),
        })
    }

    fn keeps(&self, name: &str) -> bool {
        !self.exclude.contains(name) && (self.include.is_empty() || self.include.contains(name))
    }
}

impl PayloadTransform for ReplaceField {
    fn transform(
        &mut self,
        _meta: &Meta<'_>,
        schema: Option<&Arc<Schema>>,
        datum: &Datum,
        datums: &mut Vec<Datum>,
    ) -> Result<Option<(Option<Arc<Schema>>, Datum)>> {
        if datum.is_null() {
            return Ok(None);
        }
        let Some(schema) = schema else {
            let entries = map_entries(datums, datum)
                .ok_or_else(|| wrong_type("a map", "field replacement", datum))?;
            let kept = entries
                .into_iter()
                .filter_map(|(k, v)| {
                    let Datum::Text(name) = &k else {
                        return Some((k, v));
                    };
                    let name = std::str::from_utf8(name).unwrap_or_default();
                    if !self.keeps(name) {
                        return None;
                    }
                    Some(match self.renames.get(name) {
                        Some(to) => (key_datum(to), v),
                        None => (k, v),
                    })
                })
                .collect();
            return Ok(Some((None, push_map(datums, kept))));
        };
        if !matches!(datum, Datum::Struct(_)) {
            return Err(wrong_type("a struct", "field replacement", datum));
        }
        let (exclude, include, renames) = (&self.exclude, &self.include, &self.renames);
        let p = self.projections.get_or(schema, || {
            Ok(Projection::new(schema, |c| {
                let keep = !exclude.contains(&*c.name)
                    && (include.is_empty() || include.contains(&*c.name));
                keep.then(|| {
                    renames
                        .get(&*c.name)
                        .cloned()
                        .unwrap_or_else(|| c.name.clone())
                })
            }))
        })?;
        let d = p.apply(datums, datum, self.replace_null);
        Ok(Some((Some(p.schema.clone()), d)))
    }
}
