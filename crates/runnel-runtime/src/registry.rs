//! One registry: every connector class, sink, transform and predicate of this build, by the
//! names users write (`connector.class`, `sink.type`, `transforms.<alias>.type`). It validates a
//! connector config into a [`Job`] (every problem on its key, from data; building nothing and
//! touching nothing), checks a connector's prerequisites on the live system (reading only), and
//! runs a job through the one engine loop. `runnel run`, the worker, `/connector-plugins`,
//! `config/validate` and `runnel check` all go through it.
//!
//! A new sink is one module and one [`Registry::sink`] call: it is then both a `sink.type` of
//! every source connector and, with a class, a Kafka Connect sink connector reading topics.

use std::collections::BTreeMap;
use std::sync::Arc;

use runnel_core::config::{
    CONNECT_SINK_GROUPS, CONNECT_SINK_PREFIXES, ConfigGroup, ConfigIssue, ConfigKey, ConfigSpec,
    ConnectorConfig, SINK_TYPE_KEY, check_value, edit_distance, issues_error, parse_bool,
    split_list,
};
use runnel_core::encode::json::JsonOptions;
use runnel_core::plugin::{
    BoxFuture, CheckReport, CheckScope, PredicatePlugin, SinkConfig, SinkPlugin, SourcePlugin,
    TransformPlugin, Watch, WorkerContext,
};
use runnel_core::{Error, Result, Source};

use crate::job::{ConnectorKind, Job, SourceEntry, StagePlan};

const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";

/// A connector class of this build, as `/connector-plugins` lists it.
#[derive(Clone, Copy)]
pub struct ConnectorClass {
    pub class: &'static str,
    pub kind: ConnectorKind,
    pub spec: ConfigSpec,
}

/// The outcome of validating a config: every problem, and the job when there are none.
pub struct Validation {
    pub class: Option<ConnectorClass>,
    pub issues: Vec<ConfigIssue>,
    pub job: Option<Job>,
}

#[derive(Default)]
pub struct Registry {
    sources: Vec<Arc<dyn SourceEntry>>,
    /// The source of every sink connector (Kafka).
    topic_source: Option<Arc<dyn SourceEntry>>,
    sinks: Vec<&'static SinkPlugin>,
    transforms: Vec<&'static TransformPlugin>,
    predicates: Vec<&'static PredicatePlugin>,
}

/// Whether `class` names a plugin called `full` with `aliases`: the full class name, or one of
/// the short names Kafka Connect accepts.
fn names(class: &str, full: &str, aliases: &[&str]) -> bool {
    class == full || aliases.contains(&class)
}

/// The spec of a sink connector: Kafka Connect's sink keys and the sink's own.
fn sink_connector_spec(sink: &SinkPlugin) -> ConfigSpec {
    // Specs are static data; a sink connector's is put together once per registry.
    let groups: &'static [&'static [ConfigGroup]] =
        Box::leak(vec![CONNECT_SINK_GROUPS, sink.groups].into_boxed_slice());
    ConfigSpec {
        groups,
        prefixes: &[CONNECT_SINK_PREFIXES],
    }
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn source<S: Source>(&mut self, plugin: SourcePlugin<S>) -> &mut Self {
        self.sources.push(Arc::new(plugin));
        self
    }

    /// The Kafka source sink connectors read with.
    pub fn topic_source<S: Source>(&mut self, plugin: SourcePlugin<S>) -> &mut Self {
        self.topic_source = Some(Arc::new(plugin));
        self
    }

    pub fn sink(&mut self, plugin: SinkPlugin) -> &mut Self {
        self.sinks.push(Box::leak(Box::new(plugin)));
        self
    }

    pub fn transform(&mut self, plugin: TransformPlugin) -> &mut Self {
        self.transforms.push(Box::leak(Box::new(plugin)));
        self
    }

    pub fn predicate(&mut self, plugin: PredicatePlugin) -> &mut Self {
        self.predicates.push(Box::leak(Box::new(plugin)));
        self
    }

    /// Every connector class: sources, then sink connectors.
    /// The transform classes of this build.
    pub fn transform_plugins(&self) -> &[&'static TransformPlugin] {
        &self.transforms
    }

    /// The predicate classes of this build.
    pub fn predicate_plugins(&self) -> &[&'static PredicatePlugin] {
        &self.predicates
    }

    pub fn classes(&self) -> Vec<ConnectorClass> {
        let mut out: Vec<ConnectorClass> = self
            .sources
            .iter()
            .map(|s| ConnectorClass {
                class: s.class(),
                kind: ConnectorKind::Source,
                spec: s.spec(),
            })
            .collect();
        if self.topic_source.is_some() {
            for sink in &self.sinks {
                if let Some(class) = sink.class {
                    out.push(ConnectorClass {
                        class,
                        kind: ConnectorKind::Sink,
                        spec: sink_connector_spec(sink),
                    });
                }
            }
        }
        out
    }

    /// The class `name` refers to (full name or alias).
    pub fn class(&self, name: &str) -> Option<ConnectorClass> {
        let source = self
            .sources
            .iter()
            .find(|s| names(name, s.class(), s.aliases()))
            .map(|s| ConnectorClass {
                class: s.class(),
                kind: ConnectorKind::Source,
                spec: s.spec(),
            });
        source.or_else(|| {
            self.topic_source.as_ref()?;
            self.sinks
                .iter()
                .find(|s| s.class.is_some_and(|c| names(name, c, s.aliases)))
                .map(|s| ConnectorClass {
                    class: s.class.unwrap_or_default(),
                    kind: ConnectorKind::Sink,
                    spec: sink_connector_spec(s),
                })
        })
    }

    fn known_classes(&self) -> String {
        self.classes()
            .iter()
            .map(|c| c.class)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The source entry that runs `config` (the Kafka source for a sink connector).
    pub fn source_of(&self, config: &ConnectorConfig) -> Option<Arc<dyn SourceEntry>> {
        let class = config.get("connector.class")?;
        match self.class(class)?.kind {
            ConnectorKind::Source => self
                .sources
                .iter()
                .find(|s| names(class, s.class(), s.aliases()))
                .cloned(),
            ConnectorKind::Sink => self.topic_source.clone(),
        }
    }

    /// Every source entry with a watch, with the classes it watches.
    pub fn watches(&self) -> Vec<(Arc<dyn SourceEntry>, Arc<dyn Watch>)> {
        self.sources
            .iter()
            .filter_map(|s| s.watch().map(|w| (s.clone(), w)))
            .collect()
    }

    /// Validates `config` completely without building anything or touching any system.
    pub fn validate(&self, config: &ConnectorConfig, worker: &WorkerContext) -> Validation {
        let mut issues = Vec::new();
        let Some(class_name) = config.get("connector.class").filter(|c| !c.is_empty()) else {
            issues.push(ConfigIssue::new(
                "connector.class",
                format!(
                    "missing required config key \"connector.class\": set it to one of {}",
                    self.known_classes()
                ),
            ));
            return Validation {
                class: None,
                issues,
                job: None,
            };
        };
        let Some(class) = self.class(class_name) else {
            let hint = if self.topic_source.is_none()
                && self
                    .sinks
                    .iter()
                    .any(|s| s.class.is_some_and(|c| names(class_name, c, s.aliases)))
            {
                " (sink connectors read Kafka, and this build has no Kafka support)".to_string()
            } else {
                String::new()
            };
            issues.push(ConfigIssue::new(
                "connector.class",
                format!(
                    "no connector class \"{class_name}\" in this build{hint}; the classes are: {}",
                    self.known_classes()
                ),
            ));
            return Validation {
                class: None,
                issues,
                job: None,
            };
        };
        issues.extend(class.spec.validate(config));
        let source = self.source_of(config);
        if class.kind == ConnectorKind::Source {
            self.check_exactly_once(config, worker, &mut issues);
        }
        let sink = match class.kind {
            ConnectorKind::Source => self.direct_sink(config, worker, &mut issues),
            ConnectorKind::Sink => self
                .sinks
                .iter()
                .copied()
                .find(|s| s.class == Some(class.class))
                .map(|s| {
                    (
                        s,
                        SinkConfig {
                            keys: config.props.clone(),
                            connector: config.clone(),
                            worker: worker.clone(),
                            spelled: BTreeMap::new(),
                        },
                    )
                }),
        };
        let json = converter_options(config, &mut issues);
        let stages = self.stages(config, &mut issues);
        if issues.is_empty()
            && let Some(source) = &source
            && let Err(e) = source.validate(config, worker)
        {
            issues.extend(error_issues(&e, "connector.class"));
        }
        if let Some((sink, sink_config)) = &sink {
            let direct = class.kind == ConnectorKind::Source;
            for issue in (sink.validate)(sink_config) {
                let key = if direct {
                    direct_key(sink, &issue.key)
                } else {
                    issue.key
                };
                issues.push(ConfigIssue::new(key, issue.message));
            }
        }
        let job = match (issues.is_empty(), source, sink) {
            (true, Some(source), Some((sink, sink_config))) => Some(Job {
                config: config.clone(),
                kind: class.kind,
                source,
                sink,
                sink_config,
                json,
                worker: worker.clone(),
                stages,
            }),
            _ => None,
        };
        Validation {
            class: Some(class),
            issues,
            job,
        }
    }

    /// The transform chain `config` configures (`transforms`, `predicates`), or one config
    /// error listing every problem.
    pub fn chain(&self, config: &ConnectorConfig) -> Result<runnel_core::Chain> {
        let mut issues = Vec::new();
        let stages = self.stages(config, &mut issues);
        if !issues.is_empty() {
            return Err(issues_error(&issues));
        }
        crate::job::build_chain(&stages)
    }

    /// Validates `config` into a job, or one config error listing every problem.
    pub fn prepare(&self, config: &ConnectorConfig, worker: &WorkerContext) -> Result<Job> {
        let v = self.validate(config, worker);
        match v.job {
            Some(job) => Ok(job),
            None if v.issues.is_empty() => Err(Error::internal(format!(
                "connector \"{}\" validated without a job",
                config.name
            ))),
            None => Err(issues_error(&v.issues)),
        }
    }

    /// Checks a connector's prerequisites on the live system (reading only): its source's and
    /// its sink's, each problem on the key the user wrote.
    pub fn check(
        &self,
        config: ConnectorConfig,
        scope: CheckScope,
        worker: &WorkerContext,
    ) -> BoxFuture<CheckReport> {
        let sink = self.validate(&config, worker).job.and_then(|job| {
            let direct = job.kind == ConnectorKind::Source;
            job.sink
                .check
                .map(|check| (job.sink, check, job.sink_config, direct))
        });
        let source = self.source_of(&config);
        Box::pin(async move {
            let mut report = match source {
                Some(source) => source.check(config, scope).await,
                None => CheckReport::default(),
            };
            if let Some((plugin, check, sink_config, direct)) = sink {
                let sink_report = check(sink_config, scope).await;
                report.passed.extend(sink_report.passed);
                report.warnings.extend(sink_report.warnings);
                for mut p in sink_report.problems {
                    if direct {
                        p.key = p.key.map(|k| direct_key(plugin, &k));
                    }
                    report.problems.push(p);
                }
            }
            report
        })
    }

    /// A source connector's `sink.type`, lower case: Kafka when the worker has a cluster, else
    /// stdout, unless the config says.
    fn direct_sink_type(&self, config: &ConnectorConfig, worker: &WorkerContext) -> String {
        let default = if worker.bootstrap_servers.is_some()
            && self.sinks.iter().any(|s| s.sink_type == "kafka")
        {
            "kafka"
        } else {
            "stdout"
        };
        config
            .get(SINK_TYPE_KEY)
            .unwrap_or(default)
            .trim()
            .to_ascii_lowercase()
    }

    /// Whether `config` is a source connector whose records go to Kafka in transactions
    /// (the worker has `exactly.once.source.support=enabled` and its sink is Kafka).
    pub fn is_transactional(&self, config: &ConnectorConfig, worker: &WorkerContext) -> bool {
        worker.exactly_once.is_some()
            && config
                .get("connector.class")
                .and_then(|c| self.class(c))
                .is_some_and(|c| c.kind == ConnectorKind::Source)
            && self.direct_sink_type(config, worker) == "kafka"
    }

    /// Kafka Connect's checks of `exactly.once.support` and `transaction.boundary` for a
    /// source connector.
    fn check_exactly_once(
        &self,
        config: &ConnectorConfig,
        worker: &WorkerContext,
        issues: &mut Vec<ConfigIssue>,
    ) {
        let required = config
            .get("exactly.once.support")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("required"));
        if worker.exactly_once.is_none() {
            if required {
                issues.push(ConfigIssue::new(
                    "exactly.once.support",
                    "This worker does not have exactly-once source support enabled: set \
                     exactly.once.source.support=enabled in every worker's \
                     connect-distributed.properties, or exactly.once.support=requested",
                ));
            }
            return;
        }
        let sink = self.direct_sink_type(config, worker);
        if required && sink != "kafka" {
            issues.push(ConfigIssue::new(
                "exactly.once.support",
                format!(
                    "The connector does not support exactly-once semantics with the provided \
                     configuration: its records go to sink.type={sink}, and only records written \
                     to Kafka are delivered in transactions; remove sink.type or set \
                     exactly.once.support=requested"
                ),
            ));
        }
        if config
            .get("transaction.boundary")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("connector"))
        {
            issues.push(ConfigIssue::new(
                "transaction.boundary",
                "The connector does not support connector-defined transaction boundaries with \
                 the given configuration: use transaction.boundary=poll (the default) or interval",
            ));
        }
    }

    /// The direct sink of a source connector: `sink.type` and its `sink.<type>.*` keys.
    fn direct_sink(
        &self,
        config: &ConnectorConfig,
        worker: &WorkerContext,
        issues: &mut Vec<ConfigIssue>,
    ) -> Option<(&'static SinkPlugin, SinkConfig)> {
        let kind = self.direct_sink_type(config, worker);
        let Some(sink) = self.sinks.iter().copied().find(|s| s.sink_type == kind) else {
            let types: Vec<&str> = self.sinks.iter().map(|s| s.sink_type).collect();
            issues.push(ConfigIssue::new(
                SINK_TYPE_KEY,
                format!(
                    "unknown sink.type \"{kind}\": this build has {}",
                    types.join(", ")
                ),
            ));
            return None;
        };
        let prefix = format!("sink.{kind}.");
        let mut keys = BTreeMap::new();
        for (key, value) in config.with_prefix("sink.") {
            let full = format!("sink.{key}");
            if full == SINK_TYPE_KEY {
                continue;
            }
            let Some(own) = full.strip_prefix(&prefix) else {
                issues.push(ConfigIssue::new(
                    &full,
                    format!(
                        "unknown config key \"{full}\": sink.type is \"{kind}\", whose keys start \
                         with \"{prefix}\""
                    ),
                ));
                continue;
            };
            let own = sink
                .direct_aliases
                .iter()
                .find(|(alias, _)| *alias == own)
                .map_or(own, |(_, name)| name);
            if !sink.open_keys && !sink.keys().any(|k| k.name == own) {
                let known: Vec<String> = sink.keys().map(|k| direct_key(sink, k.name)).collect();
                let hint = known
                    .iter()
                    .map(|k| (edit_distance(&full, k), k))
                    .min()
                    .filter(|(d, _)| *d <= 3)
                    .map(|(_, k)| format!(": did you mean \"{k}\"?"))
                    .unwrap_or_else(|| format!(" for sink.type={kind}"));
                issues.push(ConfigIssue::new(
                    &full,
                    format!("unknown config key \"{full}\"{hint}"),
                ));
                continue;
            }
            keys.insert(own.to_string(), value.to_string());
        }
        let spelled = sink
            .keys()
            .map(|k| (k.name.to_string(), direct_key(sink, k.name)))
            .collect();
        Some((
            sink,
            SinkConfig {
                keys,
                connector: config.clone(),
                worker: worker.clone(),
                spelled,
            },
        ))
    }

    /// `transforms` and `predicates`, resolved and each built once to validate it.
    fn stages(&self, config: &ConnectorConfig, issues: &mut Vec<ConfigIssue>) -> Vec<StagePlan> {
        let mut stages = Vec::new();
        let predicates = split_list(config.get("predicates").unwrap_or_default());
        for alias in split_list(config.get("transforms").unwrap_or_default()) {
            let prefix = format!("transforms.{alias}.");
            let type_key = format!("{prefix}type");
            let Some(class) = config.get(&type_key) else {
                issues.push(ConfigIssue::new(
                    &type_key,
                    format!("transform \"{alias}\" has no \"{type_key}\": set its class"),
                ));
                continue;
            };
            let Some(transform) = self
                .transforms
                .iter()
                .copied()
                .find(|t| names(class, t.class, t.aliases))
            else {
                let candidates = self.transforms.iter().map(|t| t.class);
                issues.push(ConfigIssue::new(
                    &type_key,
                    match closest(class, candidates) {
                        Some(near) => {
                            let near = match near.strip_suffix("$Value") {
                                Some(base) if class.ends_with("$Key") => format!("{base}$Key"),
                                _ => near.to_string(),
                            };
                            format!("unknown transform class \"{class}\": did you mean \"{near}\"?")
                        }
                        None => format!(
                            "transform class \"{class}\" is not in this build (GET /connector-plugins?connectorsOnly=false \
                             lists the ones it has); until it is, remove \"{alias}\" from \"transforms\""
                        ),
                    },
                ));
                continue;
            };
            let mut props = BTreeMap::new();
            for (k, v) in config.with_prefix(&prefix) {
                if k != "predicate" && k != "negate" {
                    props.insert(k.to_string(), v.to_string());
                }
            }
            let stage_config = ConnectorConfig {
                name: alias.clone(),
                props,
            };
            let before = issues.len();
            check_options(
                &prefix,
                transform.class,
                transform.keys,
                &stage_config,
                issues,
            );
            if issues.len() > before {
                continue;
            }
            if let Err(e) = (transform.build)(&stage_config) {
                let key = e
                    .key()
                    .map_or_else(|| type_key.clone(), |k| format!("{prefix}{k}"));
                issues.push(ConfigIssue::new(key, e.message()));
            }
            let negate_key = format!("{prefix}negate");
            let negate = match config.get(&negate_key) {
                None => false,
                Some(v) => parse_bool(v).unwrap_or_else(|| {
                    issues.push(ConfigIssue::new(
                        &negate_key,
                        format!(
                            "invalid value \"{v}\" for \"{negate_key}\": expected true or false"
                        ),
                    ));
                    false
                }),
            };
            let predicate = config
                .get(&format!("{prefix}predicate"))
                .and_then(|p| self.predicate_plan(p, &predicates, config, &prefix, issues));
            stages.push(StagePlan {
                alias,
                class: class.to_string(),
                transform,
                config: stage_config,
                predicate,
                negate,
            });
        }
        stages
    }

    fn predicate_plan(
        &self,
        name: &str,
        declared: &[String],
        config: &ConnectorConfig,
        transform_prefix: &str,
        issues: &mut Vec<ConfigIssue>,
    ) -> Option<(&'static PredicatePlugin, ConnectorConfig)> {
        let key = format!("{transform_prefix}predicate");
        if !declared.iter().any(|p| p == name) {
            issues.push(ConfigIssue::new(
                &key,
                format!("predicate \"{name}\" is not declared in \"predicates\""),
            ));
            return None;
        }
        let prefix = format!("predicates.{name}.");
        let type_key = format!("{prefix}type");
        let Some(class) = config.get(&type_key) else {
            issues.push(ConfigIssue::new(
                &type_key,
                format!("predicate \"{name}\" has no \"{type_key}\": set its class"),
            ));
            return None;
        };
        let Some(plugin) = self
            .predicates
            .iter()
            .copied()
            .find(|p| names(class, p.class, p.aliases))
        else {
            let candidates = self.predicates.iter().map(|p| p.class);
            let hint = closest(class, candidates).map_or_else(
                || {
                    "; the predicates are TopicNameMatches, HasHeaderKey and RecordIsTombstone"
                        .to_string()
                },
                |near| format!(": did you mean \"{near}\"?"),
            );
            issues.push(ConfigIssue::new(
                &type_key,
                format!("unknown predicate class \"{class}\"{hint}"),
            ));
            return None;
        };
        let props = config
            .with_prefix(&prefix)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let predicate_config = ConnectorConfig {
            name: name.to_string(),
            props,
        };
        let before = issues.len();
        check_options(
            &prefix,
            plugin.class,
            plugin.keys,
            &predicate_config,
            issues,
        );
        if issues.len() > before {
            return None;
        }
        if let Err(e) = (plugin.build)(&predicate_config) {
            let key = e
                .key()
                .map_or_else(|| type_key.clone(), |k| format!("{prefix}{k}"));
            issues.push(ConfigIssue::new(key, e.message()));
            return None;
        }
        Some((plugin, predicate_config))
    }
}

/// The name in `candidates` nearest to `name` (compared without package), if near enough to be
/// a typo.
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    // `$Value` and `$Key` are one class for the comparison (the list holds one of the two).
    let short = |n: &str| {
        let n = n.rsplit('.').next().unwrap_or(n);
        n.split('$').next().unwrap_or(n).to_ascii_lowercase()
    };
    let want = short(name);
    candidates
        .map(|c| (edit_distance(&want, &short(c)), c))
        .min()
        .filter(|(d, _)| *d <= (want.len() / 4).max(2))
        .map(|(_, c)| c)
}

/// A transform's or predicate's options against the ones its class has: a value of the wrong
/// type, or an unknown option close to a known one (a typo), is an issue. An unknown option
/// that is near none is logged and ignored, as Kafka Connect ignores it: configs written for
/// older versions keep working.
fn check_options(
    prefix: &str,
    class: &str,
    keys: &[ConfigKey],
    config: &ConnectorConfig,
    issues: &mut Vec<ConfigIssue>,
) {
    for (key, value) in &config.props {
        if key == "type" {
            continue;
        }
        match keys.iter().find(|k| k.name == key) {
            Some(spec) => {
                if let Err(message) = check_value(spec, value) {
                    issues.push(ConfigIssue::new(format!("{prefix}{key}"), message));
                }
            }
            None => match keys
                .iter()
                .map(|k| (edit_distance(key, k.name), k.name))
                .min()
                .filter(|(d, _)| *d <= (key.len() / 4).max(2))
                .map(|(_, k)| k)
            {
                Some(near) => issues.push(ConfigIssue::new(
                    format!("{prefix}{key}"),
                    format!("unknown option \"{prefix}{key}\" for {class}: did you mean \"{prefix}{near}\"?"),
                )),
                None => tracing::warn!(
                    key = %format!("{prefix}{key}"),
                    %class,
                    "option not used by this transform: ignored (Kafka Connect ignores it too)"
                ),
            },
        }
    }
    for spec in keys.iter().filter(|k| k.required) {
        if config.get(spec.name).is_none_or(|v| v.trim().is_empty()) {
            issues.push(ConfigIssue::new(
                format!("{prefix}{}", spec.name),
                format!("{class} needs \"{prefix}{}\": {}", spec.name, spec.doc),
            ));
        }
    }
}

/// A sink key as a source connector writes it (`file` → `sink.file.path`).
fn direct_key(sink: &SinkPlugin, key: &str) -> String {
    let own = sink
        .direct_aliases
        .iter()
        .find(|(_, name)| *name == key)
        .map_or(key, |(alias, _)| alias);
    format!("sink.{}.{own}", sink.sink_type)
}

/// One issue per line of `e`, on its key (or `fallback`).
fn error_issues(e: &Error, fallback: &str) -> Vec<ConfigIssue> {
    e.message()
        .lines()
        .map(|line| ConfigIssue::new(e.key().unwrap_or(fallback), line))
        .collect()
}

/// `key.converter` / `value.converter` and their `schemas.enable`.
fn converter_options(config: &ConnectorConfig, issues: &mut Vec<ConfigIssue>) -> JsonOptions {
    let mut schemas = |side: &str| -> bool {
        let class_key = format!("{side}.converter");
        if let Some(class) = config.get(&class_key)
            && class != JSON_CONVERTER
        {
            issues.push(ConfigIssue::new(
                &class_key,
                format!(
                    "{class_key} \"{class}\" is not supported yet: runnel reads and writes Kafka \
                     Connect JSON ({JSON_CONVERTER})"
                ),
            ));
        }
        let key = format!("{side}.converter.schemas.enable");
        match config.get(&key) {
            None => true,
            Some(v) => parse_bool(v).unwrap_or_else(|| {
                issues.push(ConfigIssue::new(
                    &key,
                    format!("invalid value \"{v}\" for \"{key}\": expected true or false"),
                ));
                true
            }),
        }
    };
    let key_schemas = schemas("key");
    let value_schemas = schemas("value");
    let mut flag = |key: &str| -> bool {
        match config.get(key) {
            None => false,
            Some(v) => parse_bool(v).unwrap_or_else(|| {
                issues.push(ConfigIssue::new(
                    key,
                    format!("invalid value \"{v}\" for \"{key}\": expected true or false"),
                ));
                false
            }),
        }
    };
    let key_replace_null = flag("key.converter.replace.null.with.default");
    let value_replace_null = flag("value.converter.replace.null.with.default");
    JsonOptions {
        key_schemas,
        value_schemas,
        key_replace_null,
        value_replace_null,
    }
}
