//! `/connector-plugins`: the connector classes of this build, their config definitions, and
//! validation in Kafka Connect's `ConfigInfos` shape: every key's definition (with its group)
//! and value, the errors on each key from the registry's checks (data, not message text), and
//! the connection check of the connector, as Debezium's connectors validate.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use runnel_core::config::{ConfigKey, ConnectorConfig, ValueType};
use runnel_runtime::registry::ConnectorClass;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult, parse_body};

/// The version runnel reports for the connector classes it implements: the Debezium release
/// whose events it reproduces.
const PLUGIN_VERSION: &str = "3.6.3 (runnel)";

/// The full class names a transform or predicate answers to (`$Key` and `$Value` both).
fn class_names(class: &'static str, aliases: &[&'static str]) -> Vec<&'static str> {
    std::iter::once(class)
        .chain(aliases.iter().copied().filter(|a| a.contains('.')))
        .collect()
}

/// `GET /connector-plugins`; `?connectorsOnly=false` also lists transforms, predicates and
/// converters.
pub(crate) async fn list(
    State(app): State<AppState>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Json<Value> {
    let registry = app.worker.registry();
    let mut list: Vec<Value> = registry
        .classes()
        .iter()
        .map(|c| json!({"class": c.class, "type": c.kind.as_str(), "version": PLUGIN_VERSION}))
        .collect();
    if q.get("connectorsOnly")
        .is_some_and(|v| v.eq_ignore_ascii_case("false"))
    {
        let version = |class: &str| {
            if class.starts_with("io.debezium") {
                PLUGIN_VERSION
            } else {
                KAFKA_VERSION
            }
        };
        let mut others: Vec<(&str, &str)> = Vec::new();
        for t in registry.transform_plugins() {
            others.extend(
                class_names(t.class, t.aliases)
                    .into_iter()
                    .map(|c| (c, "transformation")),
            );
        }
        for p in registry.predicate_plugins() {
            others.extend(
                class_names(p.class, p.aliases)
                    .into_iter()
                    .map(|c| (c, "predicate")),
            );
        }
        others.sort();
        list.extend(
            others
                .into_iter()
                .map(|(c, ty)| json!({"class": c, "type": ty, "version": version(c)})),
        );
        for ty in ["converter", "header_converter"] {
            list.push(json!({"class": JSON_CONVERTER, "type": ty, "version": KAFKA_VERSION}));
        }
    }
    Json(Value::Array(list))
}

/// Kafka Connect's transforms, predicates and converters: the release runnel matches.
const KAFKA_VERSION: &str = "4.3.0 (runnel)";
const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";

/// `GET /connector-plugins/{plugin}/config` of a transform or predicate.
fn plugin_keys(app: &AppState, plugin: &str) -> Option<&'static [ConfigKey]> {
    let registry = app.worker.registry();
    let short = plugin.rsplit('.').next().unwrap_or(plugin);
    registry
        .transform_plugins()
        .iter()
        .find(|t| t.class == plugin || t.aliases.contains(&plugin) || t.aliases.contains(&short))
        .map(|t| t.keys)
        .or_else(|| {
            registry
                .predicate_plugins()
                .iter()
                .find(|p| p.class == plugin || p.aliases.contains(&plugin))
                .map(|p| p.keys)
        })
}

fn find(app: &AppState, plugin: &str) -> ApiResult<ConnectorClass> {
    app.worker.registry().class(plugin).ok_or_else(|| {
        ApiError::not_found(format!(
            "Failed to find any class that implements Connector and which name matches {plugin}"
        ))
    })
}

fn type_name(ty: ValueType) -> &'static str {
    match ty {
        ValueType::String | ValueType::Enum(_) => "STRING",
        ValueType::Password => "PASSWORD",
        ValueType::Int => "INT",
        ValueType::Long => "LONG",
        ValueType::Boolean => "BOOLEAN",
        ValueType::List => "LIST",
    }
}

fn definition(group: &str, key: &ConfigKey, order: usize) -> Value {
    json!({
        "name": key.name,
        "type": type_name(key.ty),
        "required": key.required,
        "default_value": key.default,
        "importance": if key.required { "HIGH" } else { "MEDIUM" },
        "documentation": key.doc,
        "group": group,
        "width": "NONE",
        "display_name": key.name,
        "dependents": [],
        "order": order,
    })
}

/// `GET /connector-plugins/{plugin}/config`.
pub(crate) async fn config_defs(
    State(app): State<AppState>,
    Path(plugin): Path<String>,
) -> ApiResult<Json<Value>> {
    if let Some(keys) = plugin_keys(&app, &plugin) {
        let defs: Vec<Value> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| definition("", k, i + 1))
            .collect();
        return Ok(Json(Value::Array(defs)));
    }
    let class = find(&app, &plugin)?;
    let defs: Vec<Value> = class
        .spec
        .keys()
        .enumerate()
        .map(|(i, (group, k))| definition(group, k, i + 1))
        .collect();
    Ok(Json(Value::Array(defs)))
}

/// `PUT /connector-plugins/{plugin}/config/validate`.
pub(crate) async fn validate(
    State(app): State<AppState>,
    Path(plugin_name): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let class = find(&app, &plugin_name)?;
    let mut body = parse_body(&body)?;
    let Some(map) = body.as_object_mut() else {
        return Err(ApiError::bad_request(
            "expected a JSON object of config keys",
        ));
    };
    if let Some(given) = map.get("connector.class").and_then(Value::as_str)
        && app.worker.registry().class(given).map(|c| c.class) != Some(class.class)
    {
        return Err(ApiError::bad_request(format!(
            "Connector class in the request body ({given}) does not match the connector plugin \
             in the URL ({plugin_name})"
        )));
    }
    map.entry("connector.class")
        .or_insert_with(|| Value::String(class.class.into()));
    map.entry("name")
        .or_insert_with(|| Value::String("validation".into()));
    let config = ConnectorConfig::from_json(&body.to_string())
        .map_err(|e| ApiError::bad_request(e.message()))?;

    let report = app.worker.validate(&config).await;
    let errors = report.issues;
    let errors_of = |key: &str| -> Vec<String> {
        errors
            .iter()
            .filter(|i| i.key == key)
            .map(|i| i.message.clone())
            .collect()
    };
    let shown = |key: &ConfigKey, value: Option<&str>| -> Value {
        match (key.ty, value) {
            (_, None) => key.default.map(Value::from).unwrap_or(Value::Null),
            (ValueType::Password, Some(_)) => Value::from("[hidden]"),
            (_, Some(v)) => Value::from(v),
        }
    };
    let mut configs: Vec<Value> = class
        .spec
        .keys()
        .enumerate()
        .map(|(i, (group, k))| {
            let recommended: Vec<&str> = match k.ty {
                ValueType::Enum(values) => values.to_vec(),
                ValueType::Boolean => vec!["true", "false"],
                _ => vec![],
            };
            json!({
                "definition": definition(group, k, i + 1),
                "value": {
                    "name": k.name,
                    "value": shown(k, config.get(k.name)),
                    "recommended_values": recommended,
                    "errors": errors_of(k.name),
                    "visible": true,
                }
            })
        })
        .collect();
    // Keys the spec does not define but that have errors (misspellings, a sink's keys):
    // Kafka Connect would ignore them silently; runnel reports them, on an entry of their own.
    let mut extra: Vec<&str> = errors
        .iter()
        .map(|i| i.key.as_str())
        .filter(|k| class.spec.find(k).is_none())
        .collect();
    extra.sort_unstable();
    extra.dedup();
    for key in extra {
        configs.push(json!({
            "definition": {"name": key, "type": "STRING", "required": false, "default_value": null,
                "importance": "LOW", "documentation": "not a config key of this connector",
                "group": null, "width": "NONE", "display_name": key, "dependents": [], "order": -1},
            "value": {"name": key, "value": "[hidden]", "recommended_values": [],
                "errors": errors_of(key), "visible": true}
        }));
    }
    Ok(Json(json!({
        "name": class.class,
        "error_count": errors.len(),
        "groups": class.spec.group_names(),
        "configs": configs,
    })))
}
