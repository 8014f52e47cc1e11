//! `org.apache.kafka.connect.transforms.ExtractField$Key` / `$Value`: the key or value becomes
//! one of its fields, with that field's schema. `field.syntax.version=V2` reads `field` as a
//! dotted path into nested structs (backticks quote a name with dots).

use std::sync::Arc;

use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::plugin::TransformPlugin;
use runnel_core::{Datum, Error, Result, Schema};

use super::{Meta, OnSide, PayloadTransform, pairs, wrong_type};
use crate::util::{Cache, Opts, Side, fields};

const KEYS: &[ConfigKey] = &[
    ConfigKey::new("field", ValueType::String, "The field to extract.").required(),
    ConfigKey::new(
        "field.syntax.version",
        ValueType::Enum(&["v1", "v2"]),
        "V1: the field name as is; V2: a dotted path, backticks quote names with dots.",
    )
    .default("V1"),
    ConfigKey::new(
        "replace.null.with.default",
        ValueType::Boolean,
        "A null field that has a default extracts as its default.",
    )
    .default("true"),
];

pub fn plugin() -> TransformPlugin {
    TransformPlugin {
        class: "org.apache.kafka.connect.transforms.ExtractField$Value",
        aliases: &[
            "ExtractField$Value",
            "org.apache.kafka.connect.transforms.ExtractField$Key",
            "ExtractField$Key",
        ],
        keys: KEYS,
        build: |c| {
            let o = Opts(c);
            let field = o.required("field")?;
            let path = match o
                .choice("field.syntax.version", &["v1", "v2"], "v1")?
                .as_str()
            {
                "v2" => field_path(&field)?,
                _ => vec![field.clone()],
            };
            Ok(OnSide::boxed(
                Side::of_class(c.get("type").unwrap_or("")),
                ExtractField {
                    field,
                    path,
                    replace_null: o.bool("replace.null.with.default", true)?,
                    plans: Cache::default(),
                },
            ))
        },
    }
}

/// Kafka Connect's V2 field path: steps split at dots, a step in backticks may hold dots
/// (and `` \` `` for a backtick before a dot).
pub fn field_path(path: &str) -> Result<Vec<String>> {
    let mut steps = Vec::new();
    let mut rest = path;
    loop {
        if let Some(quoted) = rest.strip_prefix('`') {
            let mut step = String::new();
            let mut i = 0;
            let bytes = quoted.as_bytes();
            loop {
                let Some(j) = quoted[i..].find('`').map(|j| j + i) else {
                    return Err(Error::invalid(
                        "field",
                        format!(
                            "incomplete backtick pair in path \"{path}\": escape a backtick with a backslash"
                        ),
                    ));
                };
                let escaped = j > 0 && bytes[j - 1] == b'\\';
                let at_end = j + 1 == quoted.len();
                if at_end || bytes[j + 1] == b'.' {
                    if escaped {
                        step.push_str(&quoted[i..j - 1]);
                        step.push('`');
                        i = j + 1;
                        if at_end {
                            return Err(Error::invalid(
                                "field",
                                format!(
                                    "incomplete backtick pair in path \"{path}\": escape a backtick with a backslash"
                                ),
                            ));
                        }
                        continue;
                    }
                    step.push_str(&quoted[i..j]);
                    steps.push(step);
                    rest = if at_end { "" } else { &quoted[j + 2..] };
                    break;
                }
                i = j + 1;
            }
            if rest.is_empty() {
                break;
            }
        } else {
            match rest.find('.') {
                Some(i) => {
                    steps.push(rest[..i].to_string());
                    rest = &rest[i + 1..];
                    if rest.is_empty() {
                        steps.push(String::new());
                        break;
                    }
                }
                None => {
                    steps.push(rest.to_string());
                    break;
                }
            }
        }
    }
    Ok(steps)
}

struct ExtractField {
    field: String,
    path: Vec<String>,
    replace_null: bool,
    /// Per schema: the field's indices along the path and its schema.
    plans: Cache<Schema, (Vec<usize>, Arc<Schema>)>,
}

impl PayloadTransform for ExtractField {
    fn transform(
        &mut self,
        _meta: &Meta<'_>,
        schema: Option<&Arc<Schema>>,
        datum: &Datum,
        datums: &mut Vec<Datum>,
    ) -> Result<Option<(Option<Arc<Schema>>, Datum)>> {
        let Some(schema) = schema else {
            if datum.is_null() {
                return Ok(Some((None, Datum::Null)));
            }
            let mut current = datum.clone();
            for step in &self.path {
                let next = match pairs(datums, &current) {
                    Some(mut p) => p
                        .find(|(k, _)| *k == step.as_bytes())
                        .map_or(Datum::Null, |(_, v)| v.clone()),
                    None if current.is_null() => return Ok(Some((None, Datum::Null))),
                    None => return Err(wrong_type("a map", "field extraction", &current)),
                };
                current = next;
            }
            return Ok(Some((None, current)));
        };
        let (path, field_schema) = {
            let steps = &self.path;
            let name = &self.field;
            self.plans
                .get_or(schema, || {
                    let mut at = Vec::new();
                    let mut s: Arc<Schema> = schema.clone();
                    for step in steps {
                        let Some(i) = s
                            .fields()
                            .and_then(|f| f.iter().position(|c| *c.name == **step))
                        else {
                            return Err(Error::conversion(format!("unknown field: {name}")));
                        };
                        at.push(i);
                        s = Arc::new(s.fields().unwrap_or_default()[i].schema());
                    }
                    Ok((at, s))
                })?
                .clone()
        };
        let mut current = datum.clone();
        let mut default = None;
        for (n, &i) in path.iter().enumerate() {
            let Some(f) = fields(datums, &current) else {
                current = Datum::Null;
                break;
            };
            current = f[i].clone();
            if n + 1 == path.len() {
                default = field_schema.default.clone();
            }
        }
        if let (Datum::Null, Some(d), true) = (&current, default, self.replace_null) {
            current = d;
        }
        Ok(Some((Some(field_schema), current)))
    }
}

#[cfg(test)]
mod tests {
    use super::field_path;

    #[test]
    fn v2_paths_split_at_dots_outside_backticks() {
        assert_eq!(field_path("a.b.c").unwrap(), ["a", "b", "c"]);
        assert_eq!(field_path("`a.b`.c").unwrap(), ["a.b", "c"]);
        assert_eq!(field_path("a.").unwrap(), ["a", ""]);
        assert!(field_path("`a.b").is_err());
    }
}
