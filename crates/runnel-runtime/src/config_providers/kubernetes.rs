//! Strimzi's Kubernetes config providers (`io.strimzi.kafka.KubernetesSecretConfigProvider` and
//! `KubernetesConfigMapConfigProvider`): `${secrets:<namespace>/<secret>:<key>}` is the key's
//! value in the Secret's `data`, base64-decoded; `${configmaps:<namespace>/<map>:<key>}` the
//! key's value in the ConfigMap's `data`. Read from the Kubernetes API with the pod's service
//! account when a connector starts, as Strimzi's providers do through the fabric8 client, and
//! never written anywhere resolved.
//!
//! The API server and credentials are found as fabric8 finds them in a pod:
//! `KUBERNETES_MASTER` (or `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`), the token
//! `KUBERNETES_AUTH_TOKEN` (or the service account's token file, read at every lookup because
//! bound tokens rotate) and the CA `KUBERNETES_CERTS_CA_FILE` (or the service account's
//! `ca.crt`). A kubeconfig file is not read: runnel resolves these inside the cluster.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use runnel_core::{Error, Result};
use serde_json::Value;

const SERVICE_ACCOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Which kind of object a provider reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Kind {
    Secret,
    ConfigMap,
}

impl Kind {
    fn resource(self) -> &'static str {
        match self {
            Kind::Secret => "secrets",
            Kind::ConfigMap => "configmaps",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Secret => "Secret",
            Kind::ConfigMap => "ConfigMap",
        }
    }
}

/// What one resolution has read: the objects (a config naming one Secret in ten keys reads it
/// once) and the API client (its token and CA read once per resolution, not per object).
#[derive(Default)]
pub(super) struct Fetched {
    objects: BTreeMap<(Kind, String), BTreeMap<String, String>>,
    client: Option<(ApiAccess, ureq::Agent)>,
}

/// The value of `${<alias>:<namespace>/<name>:<key>}`.
pub(super) fn lookup(kind: Kind, alias: &str, spec: &str, fetched: &mut Fetched) -> Result<String> {
    let placeholder = format!("${{{alias}:{spec}}}");
    let parsed = spec
        .rsplit_once(':')
        .and_then(|(path, key)| path.split_once('/').map(|(ns, name)| (ns, name, key)))
        .filter(|(ns, name, key)| !ns.is_empty() && !name.is_empty() && !key.is_empty());
    let Some((namespace, name, key)) = parsed else {
        return Err(Error::config(format!(
            "{placeholder}: expected ${{{alias}:<namespace>/<{}-name>:<key>}}",
            kind.resource().trim_end_matches('s')
        )));
    };
    let object = format!("{namespace}/{name}");
    let Fetched { objects, client } = fetched;
    let data = match objects.entry((kind, object.clone())) {
        std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::btree_map::Entry::Vacant(e) => e.insert(
            read_object(client, kind, namespace, name)
                .map_err(|e| Error::config(format!("{placeholder}: {}", e.message())))?,
        ),
    };
    data.get(key).cloned().ok_or_else(|| {
        Error::config(format!(
            "{placeholder}: the {} {object} has no key \"{key}\"",
            kind.noun()
        ))
    })
}

/// Where the API server is and how to authenticate, as fabric8 reads it in a pod.
struct ApiAccess {
    base: String,
    token: Option<String>,
    ca_file: String,
}

impl ApiAccess {
    fn from_env() -> Result<Self> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let base = match (
            env("KUBERNETES_MASTER"),
            env("KUBERNETES_SERVICE_HOST"),
            env("KUBERNETES_SERVICE_PORT"),
        ) {
            (Some(master), _, _) if master.contains("://") => master,
            (Some(master), _, _) => format!("https://{master}"),
            (None, Some(host), port) => {
                let host = if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host
                };
                format!("https://{host}:{}", port.as_deref().unwrap_or("443"))
            }
            (None, None, _) => {
                return Err(Error::config(
                    "the Kubernetes API is not known here: runnel reads it in a pod \
                     (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT) or from \
                     KUBERNETES_MASTER",
                ));
            }
        };
        let token = match env("KUBERNETES_AUTH_TOKEN") {
            Some(t) => Some(t),
            None => std::fs::read_to_string(format!("{SERVICE_ACCOUNT}/token"))
                .ok()
                .map(|t| t.trim().to_string()),
        };
        let ca_file =
            env("KUBERNETES_CERTS_CA_FILE").unwrap_or_else(|| format!("{SERVICE_ACCOUNT}/ca.crt"));
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            token,
            ca_file,
        })
    }

    fn agent(&self) -> Result<ureq::Agent> {
        let mut tls = ureq::tls::TlsConfig::builder();
        if self.base.starts_with("https://") {
            let pem = std::fs::read(&self.ca_file).map_err(|e| {
                Error::config(format!(
                    "cannot read the Kubernetes API's CA certificate {}: {e} (the service \
                     account's ca.crt, or KUBERNETES_CERTS_CA_FILE)",
                    self.ca_file
                ))
            })?;
            let certs: Vec<_> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(Error::config(format!(
                    "{} holds no PEM certificate for the Kubernetes API",
                    self.ca_file
                )));
            }
            tls = tls.root_certs(ureq::tls::RootCerts::Specific(Arc::new(certs)));
        }
        Ok(ureq::Agent::config_builder()
            .tls_config(tls.build())
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .into())
    }
}

/// The object's `data`, decoded; `client` is made on the first read of a resolution.
fn read_object(
    client: &mut Option<(ApiAccess, ureq::Agent)>,
    kind: Kind,
    namespace: &str,
    name: &str,
) -> Result<BTreeMap<String, String>> {
    if client.is_none() {
        let access = ApiAccess::from_env()?;
        let agent = access.agent()?;
        *client = Some((access, agent));
    }
    let (access, agent) = client.as_ref().expect("made above");
    let url = format!(
        "{}/api/v1/namespaces/{namespace}/{}/{name}",
        access.base,
        kind.resource()
    );
    let mut request = agent.get(&url).header("Accept", "application/json");
    if let Some(token) = &access.token {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    // The lookup runs where the worker starts a connector; on the multi-threaded runtime the
    // thread steps out of it while it waits for the API server.
    let call = || request.call();
    let response = match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(call)
        }
        _ => call(),
    };
    let mut response = response.map_err(|e| {
        Error::config(format!(
            "cannot reach the Kubernetes API at {}: {e}",
            access.base
        ))
    })?;
    let status = response.status().as_u16();
    let object = format!("{} {namespace}/{name}", kind.noun());
    match status {
        200 => {}
        401 => {
            return Err(Error::config(format!(
                "the Kubernetes API refused runnel's credentials reading the {object} (401): \
                 the service account token is missing or expired"
            )));
        }
        403 => {
            return Err(Error::config(format!(
                "the service account may not read the {object} (403): grant it a Role with \
                 \"get\" on {} named {name} in namespace {namespace}",
                kind.resource()
            )));
        }
        404 => {
            return Err(Error::config(format!("the {object} does not exist (404)")));
        }
        other => {
            return Err(Error::config(format!(
                "the Kubernetes API answered {other} reading the {object}"
            )));
        }
    }
    let body: Value = response.body_mut().read_json().map_err(|e| {
        Error::config(format!(
            "the Kubernetes API's answer for the {object} is not JSON: {e}"
        ))
    })?;
    decode_data(kind, &object, &body)
}

fn decode_data(kind: Kind, object: &str, body: &Value) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let Some(data) = body.get("data").and_then(Value::as_object) else {
        return Ok(out);
    };
    for (key, value) in data {
        let text = value.as_str().unwrap_or_default();
        let value = match kind {
            Kind::ConfigMap => text.to_string(),
            Kind::Secret => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| {
                        Error::config(format!(
                            "the {object}'s key \"{key}\" is not base64 as Secret data is: {e}"
                        ))
                    })?;
                String::from_utf8(bytes).map_err(|_| {
                    Error::config(format!(
                        "the {object}'s key \"{key}\" is not UTF-8 text and cannot be a \
                         config value"
                    ))
                })?
            }
        };
        out.insert(key.clone(), value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_data_is_base64_decoded_and_config_maps_are_plain() {
        let body = serde_json::json!({"data": {"password": "czNjcmV0", "user": "YWxpY2U="}});
        let d = decode_data(Kind::Secret, "Secret ns/db", &body).unwrap();
        assert_eq!(d["password"], "s3cret");
        assert_eq!(d["user"], "alice");
        let body = serde_json::json!({"data": {"host": "db.internal"}});
        let d = decode_data(Kind::ConfigMap, "ConfigMap ns/db", &body).unwrap();
        assert_eq!(d["host"], "db.internal");
        let bad = serde_json::json!({"data": {"k": "not base64!"}});
        let e = decode_data(Kind::Secret, "Secret ns/db", &bad).unwrap_err();
        assert!(e.message().contains("not base64"), "{}", e.message());
    }

    #[test]
    fn a_malformed_placeholder_says_the_form() {
        let e = lookup(
            Kind::Secret,
            "secrets",
            "db:password",
            &mut Fetched::default(),
        )
        .unwrap_err();
        assert!(
            e.message()
                .contains("expected ${secrets:<namespace>/<secret-name>:<key>}"),
            "{}",
            e.message()
        );
    }
}
