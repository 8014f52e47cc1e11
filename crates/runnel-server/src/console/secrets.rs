//! Secrets masked for display. The stored config already keeps `${provider:path:key}`
//! placeholders as the user wrote them (shown as written: they are not secrets); a literal
//! secret is shown as `********`: any key the connector declares a password, any key whose name
//! says it holds one (a sink's or transform's keys are not all in the connector's spec), and
//! the password inside a URI's user info (`mongodb://user:pass@host`).

use runnel_core::config::ValueType;
use runnel_runtime::registry::ConnectorClass;

pub(crate) const MASK: &str = "********";

/// Words that mark a key as a secret whatever the connector (Kafka's `sasl.jaas.config`, S3's
/// `aws.secret.access.key`, JDBC's `connection.password`, tokens and credentials).
const SECRET_WORDS: &[&str] = &["password", "secret", "jaas", "token", "credential"];

fn is_placeholder(value: &str) -> bool {
    value.contains("${")
}

fn is_secret_key(class: Option<&ConnectorClass>, key: &str) -> bool {
    let declared = class
        .and_then(|c| c.spec.find(key))
        .is_some_and(|k| matches!(k.ty, ValueType::Password));
    let lower = key.to_ascii_lowercase();
    declared || SECRET_WORDS.iter().any(|w| lower.contains(w))
}

/// `value` of `key` as the console shows it.
pub(crate) fn shown(class: Option<&ConnectorClass>, key: &str, value: &str) -> String {
    if is_placeholder(value) || value.is_empty() {
        return value.to_string();
    }
    if is_secret_key(class, key) {
        return MASK.to_string();
    }
    mask_uri_password(value)
}

/// `scheme://user:password@host…` with the password masked; anything else unchanged.
fn mask_uri_password(value: &str) -> String {
    let Some(scheme_end) = value.find("://") else {
        return value.to_string();
    };
    let rest = &value[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return value.to_string();
    };
    let Some(colon) = rest[..at].find(':') else {
        return value.to_string();
    };
    let start = scheme_end + 3;
    format!(
        "{}{MASK}{}",
        &value[..start + colon + 1],
        &value[start + at..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_placeholders_kept() {
        assert_eq!(shown(None, "database.password", "hunter2"), MASK);
        assert_eq!(
            shown(None, "database.password", "${file:/s.properties:pw}"),
            "${file:/s.properties:pw}"
        );
        assert_eq!(shown(None, "sink.kafka.sasl.jaas.config", "x y z"), MASK);
        assert_eq!(shown(None, "aws.secret.access.key", "abc"), MASK);
        assert_eq!(shown(None, "database.user", "postgres"), "postgres");
        assert_eq!(
            shown(
                None,
                "connection.uri",
                "mongodb://app:s3cr3t@db:27017/x?a=b"
            ),
            "mongodb://app:********@db:27017/x?a=b"
        );
        assert_eq!(
            shown(None, "connection.uri", "mongodb://db:27017/x?u=a@b"),
            "mongodb://db:27017/x?u=a@b"
        );
        assert_eq!(shown(None, "topics", "a,b"), "a,b");
    }
}
