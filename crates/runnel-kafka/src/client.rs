//! Kafka client settings: Java client property names (as users write them for Kafka Connect)
//! turned into librdkafka's, with the few that differ translated and the Java-only tuning knobs
//! that have no librdkafka meaning dropped with a warning (never silently).

use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use runnel_core::{Error, Result};

/// Java producer/consumer properties librdkafka has no equivalent for; they tune the JVM client.
const JAVA_ONLY: &[&str] = &[
    "buffer.memory",
    "key.serializer",
    "value.serializer",
    "key.deserializer",
    "value.deserializer",
    "client.dns.lookup",
    "max.block.ms",
    "delivery.timeout.ms",
    "metrics.sample.window.ms",
    "metrics.num.samples",
    "metrics.recording.level",
    "metric.reporters",
    "interceptor.classes",
    "partitioner.class",
    "default.api.timeout.ms",
    "exclude.internal.topics",
    "auto.include.jmx.reporter",
];

/// The settings a Kafka Connect worker config gives the worker's own clients (its internal
/// topics, its group): `bootstrap.servers` and the top-level `security.*`, `sasl.*`, `ssl.*`.
pub fn worker_client_settings(
    props: &std::collections::BTreeMap<String, String>,
    bootstrap: &str,
) -> Vec<(String, String)> {
    let mut client = vec![("bootstrap.servers".to_string(), bootstrap.to_string())];
    client.extend(
        props
            .iter()
            .filter(|(k, _)| {
                k.starts_with("security.") || k.starts_with("sasl.") || k.starts_with("ssl.")
            })
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    client
}

/// Builds a librdkafka config from Java-style `(key, value)` pairs; later pairs win.
pub fn client_config<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<ClientConfig> {
    let mut cfg = ClientConfig::new();
    let mut jaas: Option<String> = None;
    for (key, value) in pairs {
        match key {
            k if JAVA_ONLY.contains(&k) => {
                tracing::warn!(
                    key = k,
                    "Kafka client property has no librdkafka equivalent; ignored"
                );
            }
            "sasl.jaas.config" => jaas = Some(value.to_string()),
            "ssl.truststore.location" | "ssl.keystore.location" => {
                return Err(Error::config(format!(
                    "\"{key}\": Java key stores are not supported; give PEM files with \
                     \"ssl.ca.location\" (trust) and \"ssl.certificate.location\"/\"ssl.key.location\" (client)"
                )));
            }
            _ => {
                cfg.set(key, value);
            }
        }
    }
    if let Some(jaas) = jaas {
        // PlainLoginModule / ScramLoginModule required username="…" password="…";
        let field = |name: &str| {
            let re = regex::Regex::new(&format!(r#"{name}\s*=\s*"([^"]*)""#)).ok()?;
            re.captures(&jaas).map(|c| c[1].to_string())
        };
        match (field("username"), field("password")) {
            (Some(u), Some(p)) => {
                cfg.set("sasl.username", u);
                cfg.set("sasl.password", p);
            }
            _ => {
                return Err(Error::config(
                    "\"sasl.jaas.config\": expected username=\"…\" password=\"…\" (PLAIN or SCRAM); \
                     for other mechanisms set librdkafka's sasl.* keys directly",
                ));
            }
        }
    }
    Ok(cfg)
}

/// The error of creating a client, as a config error naming the bad property.
pub fn creation_error(what: &str, e: rdkafka::error::KafkaError) -> Error {
    Error::config(format!("{what}: {e}"))
}

/// Whether Kafka refusing something with `code` stays refused until the user acts
/// (authorization, a record or request too large, an invalid topic or config) rather than
/// passing (a broker down, a leader moving, a timeout).
pub fn is_permanent(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        code,
        C::TopicAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::GroupAuthorizationFailed
            | C::TransactionalIdAuthorizationFailed
            | C::SaslAuthenticationFailed
            | C::Authentication
            | C::MessageSizeTooLarge
            | C::MessageBatchTooLarge
            | C::InvalidMessageSize
            | C::InvalidRecord
            | C::InvalidTopic
            | C::InvalidPartitions
            | C::InvalidReplicationFactor
            | C::InvalidConfig
            | C::PolicyViolation
            | C::UnsupportedVersion
            | C::UnsupportedForMessageFormat
            | C::UnsupportedCompressionType
    )
}

/// A sink error for Kafka refusing `what` with `code`, permanent or transient as the code says.
pub fn sink_error(what: &str, code: RDKafkaErrorCode) -> Error {
    if is_permanent(code) {
        Error::sink_permanent(format!("{what}: {code}"))
    } else {
        Error::sink_transient(format!("{what}: {code}"))
    }
}

/// A sink error for a client call that failed with `e`.
pub fn kafka_error(what: &str, e: KafkaError) -> Error {
    match e.rdkafka_error_code() {
        Some(code) => sink_error(what, code).caused_by(e),
        None => Error::sink_transient(format!("{what}: {e}")).caused_by(e),
    }
}
