//! `/connector-plugins`: the connector classes of this build, their config definitions, and
//! validation in Kafka Connect's `ConfigInfos` shape (the same checks as `runnel check`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use runnel_core::config::{ConfigKey, ConnectorConfig, ValueType};
use runnel_runtime::worker::{Plugin, plugin_for, plugins};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult, parse_body};

/// The version runnel reports for the connector classes it implements: the Debezium release
/// whose events it reproduces.
const PLUGIN_VERSION: &str = "3.6.3 (runnel)";

pub(crate) async fn list() -> Json<Value> {
    let list: Vec<Value> = plugins()
        .iter()
        .map(|p| json!({"class": p.class, "type": p.kind, "version": PLUGIN_VERSION}))
        .collect();
    Json(Value::Array(list))
}

fn find(plugin: &str) -> ApiResult<Plugin> {
    plugin_for(plugin).ok_or_else(|| {
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

fn definition(key: &ConfigKey, order: usize) -> Value {
    json!({
        "name": key.name,
        "type": type_name(key.ty),
        "required": key.required,
        "default_value": key.default,
        "importance": if key.required { "HIGH" } else { "MEDIUM" },
        "documentation": key.doc,
        "group": null,
        "width": "NONE",
        "display_name": key.name,
        "dependents": [],
        "order": order,
    })
}

fn keys(plugin: &Plugin) -> impl Iterator<Item = &'static ConfigKey> {
    plugin.spec.keys.iter().flat_map(|g| g.iter())
}

/// `GET /connector-plugins/{plugin}/config`.
pub(crate) async fn config_defs(Path(plugin): Path<String>) -> ApiResult<Json<Value>> {
    let plugin = find(&plugin)?;
    let defs: Vec<Value> = keys(&plugin)
        .enumerate()
        .map(|(i, k)| definition(k, i + 1))
        .collect();
    Ok(Json(Value::Array(defs)))
}

/// `PUT /connector-plugins/{plugin}/config/validate`.
pub(crate) async fn validate(
    State(app): State<AppState>,
    Path(plugin_name): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let plugin = find(&plugin_name)?;
    let mut body = parse_body(&body)?;
    let Some(map) = body.as_object_mut() else {
        return Err(ApiError::bad_request(
            "expected a JSON object of config keys",
        ));
    };
    if let Some(class) = map.get("connector.class").and_then(Value::as_str)
        && plugin_for(class).map(|p| p.class) != Some(plugin.class)
    {
        return Err(ApiError::bad_request(format!(
            "Connector class in the request body ({class}) does not match the connector plugin \
             in the URL ({plugin_name})"
        )));
    }
    map.entry("connector.class")
        .or_insert_with(|| Value::String(plugin.class.into()));
    map.entry("name")
        .or_insert_with(|| Value::String("validation".into()));
    let config = ConnectorConfig::from_json(&body.to_string())
        .map_err(|e| ApiError::bad_request(e.message()))?;

    // Errors per key: the spec's checks, then (if those pass) everything `runnel check` checks
    // without touching the database, against the config with its secrets resolved.
    let mut errors: Vec<(String, String)> = plugin
        .spec
        .validate(&config)
        .into_iter()
        .map(|i| (i.key, i.message))
        .collect();
    if errors.is_empty() {
        let resolved = app.worker.providers().resolve(&config);
        if let Err(e) = resolved.and_then(|c| runnel_runtime::prepare(c, app.worker.settings())) {
            for line in e.message().lines() {
                let key = config
                    .props
                    .keys()
                    .find(|k| line.contains(&format!("\"{k}\"")))
                    .cloned()
                    .unwrap_or_else(|| "connector.class".into());
                errors.push((key, line.to_string()));
            }
        }
    }
    let errors_of = |key: &str| -> Vec<String> {
        errors
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, m)| m.clone())
            .collect()
    };
    let shown = |key: &ConfigKey, value: Option<&str>| -> Value {
        match (key.ty, value) {
            (_, None) => key.default.map(Value::from).unwrap_or(Value::Null),
            (ValueType::Password, Some(_)) => Value::from("[hidden]"),
            (_, Some(v)) => Value::from(v),
        }
    };
    let mut configs: Vec<Value> = keys(&plugin)
        .enumerate()
        .map(|(i, k)| {
            let recommended: Vec<&str> = match k.ty {
                ValueType::Enum(values) => values.to_vec(),
                ValueType::Boolean => vec!["true", "false"],
                _ => vec![],
            };
            json!({
                "definition": definition(k, i + 1),
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
    // Keys the spec does not define but that have errors (misspellings): Kafka Connect would
    // ignore them silently; runnel reports them, on an entry of their own.
    let mut extra: Vec<&String> = errors
        .iter()
        .map(|(k, _)| k)
        .filter(|k| plugin.spec.find(k).is_none())
        .collect();
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
        "name": plugin.class,
        "error_count": errors.len(),
        "groups": [],
        "configs": configs,
    })))
}
