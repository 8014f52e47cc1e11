//! Kafka Connect's config providers: `${env:VAR}`, `${file:/path/to.properties:key}` and
//! `${dir:/path/to/dir:file}` in connector config values, resolved only when the connector
//! starts. What is stored, logged and shown by `GET /connectors/{name}/config` keeps the
//! placeholder; the secret exists only in the running connector's memory.
//!
//! Kafka Connect needs `config.providers=env,file,dir` in the worker config to turn them on;
//! runnel has all three on by default (a config written for such a worker works unchanged), and
//! a worker's `config.providers` list restricts them. Where Kafka Connect leaves a placeholder it
//! cannot resolve in the value (and the connector later fails on a strange value), runnel stops
//! with a message naming the placeholder and what is missing.

use std::collections::BTreeMap;
use std::path::Path;

use runnel_core::config::ConnectorConfig;
use runnel_core::{Error, Result};

/// The providers a worker allows.
#[derive(Debug, Clone)]
pub struct ConfigProviders {
    enabled: Vec<String>,
}

impl Default for ConfigProviders {
    fn default() -> Self {
        Self {
            enabled: ["env", "file", "dir"].map(String::from).to_vec(),
        }
    }
}

impl ConfigProviders {
    /// From the worker's `config.providers` list (`env,file,dir`). Kafka Connect names a class
    /// per alias; the three aliases here are the classes Kafka ships.
    pub fn from_list(list: &str) -> Result<Self> {
        let enabled: Vec<String> = runnel_core::config::split_list(list);
        for alias in &enabled {
            if !["env", "file", "dir"].contains(&alias.as_str()) {
                return Err(Error::config(format!(
                    "config.providers: unknown provider \"{alias}\": runnel has env \
                     (EnvVarConfigProvider), file (FileConfigProvider) and dir \
                     (DirectoryConfigProvider)"
                )));
            }
        }
        Ok(Self { enabled })
    }

    /// True if any value holds a `${provider:…}` placeholder.
    pub fn has_placeholders(config: &ConnectorConfig) -> bool {
        config.props.values().any(|v| v.contains("${"))
    }

    /// A copy of `config` with every placeholder replaced by its value.
    pub fn resolve(&self, config: &ConnectorConfig) -> Result<ConnectorConfig> {
        let mut files: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut props = BTreeMap::new();
        for (key, value) in &config.props {
            let resolved = self
                .resolve_value(value, &mut files)
                .map_err(|e| e.context(format!("config key \"{key}\"")))?;
            props.insert(key.clone(), resolved);
        }
        Ok(ConnectorConfig {
            name: config.name.clone(),
            props,
        })
    }

    fn resolve_value(
        &self,
        value: &str,
        files: &mut BTreeMap<String, BTreeMap<String, String>>,
    ) -> Result<String> {
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
            match inner.split_once(':') {
                Some((provider, spec)) if self.enabled.iter().any(|p| p == provider) => {
                    out.push_str(&self.lookup(provider, spec, files)?);
                }
                Some((provider, _)) if ["env", "file", "dir"].contains(&provider) => {
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

    fn lookup(
        &self,
        provider: &str,
        spec: &str,
        files: &mut BTreeMap<String, BTreeMap<String, String>>,
    ) -> Result<String> {
        match provider {
            "env" => std::env::var(spec).map_err(|_| {
                Error::config(format!(
                    "${{env:{spec}}}: the environment variable {spec} is not set in runnel's \
                     environment"
                ))
            }),
            "file" => {
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
            "dir" => {
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
            _ => unreachable!("providers are checked by the caller"),
        }
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
        let only_env = ConfigProviders::from_list("env").unwrap();
        let e = only_env.resolve(&c).unwrap_err();
        assert!(e.message().contains("not enabled"), "{}", e.message());
        assert!(ConfigProviders::from_list("env,vault").is_err());
    }
}
