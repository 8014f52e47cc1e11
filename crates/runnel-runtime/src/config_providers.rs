//! Kafka Connect's config providers: `${env:VAR}`, `${file:/path/to.properties:key}` and
//! `${dir:/path/to/dir:file}` in connector config values, and Strimzi's
//! `${secrets:<namespace>/<secret>:<key>}` / `${configmaps:<namespace>/<map>:<key>}` read from the
//! Kubernetes API (`kubernetes.rs`), resolved only when the connector starts. What is stored,
//! logged and shown by `GET /connectors/{name}/config` keeps the placeholder; the secret exists
//! only in the running connector's memory.
//!
//! Kafka Connect needs `config.providers=env,file,dir` (and each alias's
//! `config.providers.<alias>.class`) in the worker config to turn them on; runnel has env, file
//! and dir on by default (a config written for such a worker works unchanged), and a worker's
//! `config.providers` list restricts them or adds others under the aliases it names. Where Kafka
//! Connect leaves a placeholder it cannot resolve in the value (and the connector later fails on
//! a strange value), runnel stops with a message naming the placeholder and what is missing.

mod kubernetes;

use std::collections::BTreeMap;
use std::path::Path;

use runnel_core::config::ConnectorConfig;
use runnel_core::{Error, Result};

use kubernetes::Kind;

/// What a provider alias resolves with: the classes Kafka Connect and Strimzi ship.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    Env,
    File,
    Dir,
    Kubernetes(Kind),
}

/// The provider classes runnel knows, as a worker config names them.
const CLASSES: &[(&str, Provider)] = &[
    (
        "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
        Provider::Env,
    ),
    (
        "org.apache.kafka.common.config.provider.FileConfigProvider",
        Provider::File,
    ),
    (
        "org.apache.kafka.common.config.provider.DirectoryConfigProvider",
        Provider::Dir,
    ),
    (
        "io.strimzi.kafka.KubernetesSecretConfigProvider",
        Provider::Kubernetes(Kind::Secret),
    ),
    (
        "io.strimzi.kafka.KubernetesConfigMapConfigProvider",
        Provider::Kubernetes(Kind::ConfigMap),
    ),
];

/// Aliases that need no `.class` key: Kafka's three by their usual names.
const DEFAULT_ALIASES: &[(&str, Provider)] = &[
    ("env", Provider::Env),
    ("file", Provider::File),
    ("dir", Provider::Dir),
];

/// The providers a worker allows, by alias.
#[derive(Debug, Clone)]
pub struct ConfigProviders {
    enabled: Vec<(String, Provider)>,
}

impl Default for ConfigProviders {
    fn default() -> Self {
        Self {
            enabled: DEFAULT_ALIASES
                .iter()
                .map(|(a, p)| (a.to_string(), *p))
                .collect(),
        }
    }
}

/// Resolution's memory: files and Kubernetes objects already read.
#[derive(Default)]
struct Read {
    files: BTreeMap<String, BTreeMap<String, String>>,
    kubernetes: kubernetes::Fetched,
}

impl ConfigProviders {
    /// From the worker's `config.providers` list (`env,file,dir,secrets`) and each alias's
    /// `config.providers.<alias>.class` (`class_of`). The aliases env, file and dir may leave
    /// out their class.
    pub fn from_worker_config<'a>(
        list: &str,
        class_of: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<Self> {
        let mut enabled = Vec::new();
        for alias in runnel_core::config::split_list(list) {
            let key = format!("config.providers.{alias}.class");
            let provider = match class_of(&key) {
                Some(class) => CLASSES
                    .iter()
                    .find(|(c, _)| *c == class.trim())
                    .map(|(_, p)| *p)
                    .ok_or_else(|| {
                        Error::config(format!(
                            "{key}: runnel has no config provider class \"{class}\"; it has {}",
                            CLASSES
                                .iter()
                                .map(|(c, _)| *c)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })?,
                None => DEFAULT_ALIASES
                    .iter()
                    .find(|(a, _)| *a == alias)
                    .map(|(_, p)| *p)
                    .ok_or_else(|| {
                        Error::config(format!(
                            "config.providers: \"{alias}\" needs {key} (for example \
                             io.strimzi.kafka.KubernetesSecretConfigProvider); env, file and \
                             dir need none"
                        ))
                    })?,
            };
            enabled.push((alias, provider));
        }
        Ok(Self { enabled })
    }

    /// True if any value holds a `${provider:…}` placeholder.
    pub fn has_placeholders(config: &ConnectorConfig) -> bool {
        config.props.values().any(|v| v.contains("${"))
    }

    /// A copy of `config` with every placeholder replaced by its value.
    pub fn resolve(&self, config: &ConnectorConfig) -> Result<ConnectorConfig> {
        let mut read = Read::default();
        let mut props = BTreeMap::new();
        for (key, value) in &config.props {
            let resolved = self
                .resolve_value(value, &mut read)
                .map_err(|e| e.context(format!("config key \"{key}\"")))?;
            props.insert(key.clone(), resolved);
        }
        Ok(ConnectorConfig {
            name: config.name.clone(),
            props,
        })
    }

    fn resolve_value(&self, value: &str, read: &mut Read) -> Result<String> {
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                // Not a placeholder (no closing brace): kept as written, as Kafka Connect does.
                out.push_str(&rest[start..]);
                return Ok(out);
            };
            let inner = &after[..end];
            let placeholder = inner.split_once(':').map(|(alias, spec)| {
                let provider = self.enabled.iter().find(|(a, _)| a == alias);
                (alias, spec, provider.map(|(_, p)| *p))
            });
            match placeholder {
                Some((alias, spec, Some(provider))) => {
                    out.push_str(&lookup(provider, alias, spec, read)?);
                }
                Some((provider, _, None))
                    if ["env", "file", "dir", "secrets", "configmaps"].contains(&provider) =>
                {
                    return Err(Error::config(format!(
                        "${{{inner}}}: the \"{provider}\" config provider is not enabled in \
                         this worker's config.providers"
                    )));
                }
                // Anything else (`${not a placeholder}`) is left alone, as Kafka Connect does.
                _ => out.push_str(&rest[start..start + 2 + end + 1]),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn lookup(provider: Provider, alias: &str, spec: &str, read: &mut Read) -> Result<String> {
    let files = &mut read.files;
    match provider {
        Provider::Env => std::env::var(spec).map_err(|_| {
            Error::config(format!(
                "${{env:{spec}}}: the environment variable {spec} is not set in runnel's \
                     environment"
            ))
        }),
        Provider::File => {
            // The path may itself contain ':' (Windows drives do not apply here): the key
            // is what follows the last one.
            let (path, key) = spec.rsplit_once(':').ok_or_else(|| {
                Error::config(format!(
                    "${{file:{spec}}}: expected ${{file:/path/to/file.properties:key}}"
                ))
            })?;
            if !files.contains_key(path) {
                files.insert(path.to_string(), read_properties(Path::new(path))?);
            }
            files[path].get(key).cloned().ok_or_else(|| {
                Error::config(format!(
                    "${{file:{path}:{key}}}: {path} has no key \"{key}\""
                ))
            })
        }
        Provider::Dir => {
            let (dir, file) = spec.rsplit_once(':').ok_or_else(|| {
                Error::config(format!(
                    "${{dir:{spec}}}: expected ${{dir:/path/to/dir:file-name}}"
                ))
            })?;
            if file.contains('/') || file == ".." {
                return Err(Error::config(format!(
                    "${{dir:{spec}}}: \"{file}\" must be a file name inside {dir}"
                )));
            }
            let path = Path::new(dir).join(file);
            std::fs::read_to_string(&path).map_err(|e| {
                Error::config(format!(
                    "${{dir:{spec}}}: cannot read {}: {e}",
                    path.display()
                ))
            })
        }
        Provider::Kubernetes(kind) => kubernetes::lookup(kind, alias, spec, &mut read.kubernetes),
    }
}

fn read_properties(path: &Path) -> Result<BTreeMap<String, String>> {
    let file = std::fs::File::open(path).map_err(|e| {
        Error::config(format!(
            "config provider file: cannot read {}: {e}",
            path.display()
        ))
    })?;
    java_properties::read(std::io::BufReader::new(file))
        .map(|m| m.into_iter().collect())
        .map_err(|e| {
            Error::config(format!(
                "config provider file: {} is not a Java properties file: {e}",
                path.display()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> ConnectorConfig {
        ConnectorConfig {
            name: "c".into(),
            props: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn resolves_env_file_and_dir() {
        let dir = tempfile::tempdir().unwrap();
        let props = dir.path().join("db.properties");
        std::fs::write(&props, "# secrets\nuser = alice\npassword=s3cr\\=t\n").unwrap();
        std::fs::write(dir.path().join("token"), "tok").unwrap();
        let var = "RUNNEL_TEST_PROVIDER_UNSET";
        let p = ConfigProviders::default();
        let c = config(&[
            ("database.hostname", &format!("${{env:{var}}}")),
            (
                "database.user",
                &format!("${{file:{}:user}}", props.display()),
            ),
            (
                "database.password",
                &format!("${{file:{}:password}}", props.display()),
            ),
            (
                "x.token",
                &format!("pre-${{dir:{}:token}}-post", dir.path().display()),
            ),
            ("plain", "${not a placeholder} stays"),
        ]);
        let err = p.resolve(&c).unwrap_err();
        assert!(err.message().contains(var), "{}", err.message());
        assert!(err.message().contains("database.hostname"));
        let c = ConnectorConfig {
            props: c
                .props
                .into_iter()
                .map(|(k, v)| (k, v.replace(&format!("${{env:{var}}}"), "${env:PATH}")))
                .collect(),
            ..c
        };
        let r = p.resolve(&c).unwrap();
        assert_eq!(
            r.get("database.hostname"),
            Some(std::env::var("PATH").unwrap().as_str())
        );
        assert_eq!(r.get("database.user"), Some("alice"));
        assert_eq!(r.get("database.password"), Some("s3cr=t"));
        assert_eq!(r.get("x.token"), Some("pre-tok-post"));
        assert_eq!(r.get("plain"), Some("${not a placeholder} stays"));
    }

    #[test]
    fn a_missing_key_or_disabled_provider_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let props = dir.path().join("db.properties");
        std::fs::write(&props, "user=alice\n").unwrap();
        let c = config(&[("k", &format!("${{file:{}:pasword}}", props.display()))]);
        let e = ConfigProviders::default().resolve(&c).unwrap_err();
        assert!(
            e.message().contains("has no key \"pasword\""),
            "{}",
            e.message()
        );
        let only_env = ConfigProviders::from_worker_config("env", |_| None).unwrap();
        let e = only_env.resolve(&c).unwrap_err();
        assert!(e.message().contains("not enabled"), "{}", e.message());
        let e = ConfigProviders::from_worker_config("env,vault", |_| None).unwrap_err();
        assert!(
            e.message().contains("config.providers.vault.class"),
            "{}",
            e.message()
        );
        let e = ConfigProviders::from_worker_config("vault", |_| Some("com.example.Vault"))
            .unwrap_err();
        assert!(
            e.message().contains("no config provider class"),
            "{}",
            e.message()
        );
        // Strimzi's classes under the aliases a Strimzi worker config gives them.
        let classes = [
            (
                "config.providers.secrets.class",
                "io.strimzi.kafka.KubernetesSecretConfigProvider",
            ),
            (
                "config.providers.maps.class",
                "io.strimzi.kafka.KubernetesConfigMapConfigProvider",
            ),
        ];
        let p = ConfigProviders::from_worker_config("env,secrets,maps", |k| {
            classes.iter().find(|(key, _)| *key == k).map(|(_, c)| *c)
        })
        .unwrap();
        let e = p.resolve(&config(&[("k", "${secrets:db}")])).unwrap_err();
        assert!(
            e.message().contains("<namespace>/<secret-name>:<key>"),
            "{}",
            e.message()
        );
    }
}
