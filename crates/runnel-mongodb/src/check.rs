//! `runnel check` (and `config/validate`) for the MongoDB sink: the server answers at
//! `connection.uri`, and the user may write the databases the sink writes. Reads only.

use mongodb::Client;
use mongodb::bson::{Bson, doc};
use mongodb::options::ClientOptions;
use runnel_core::plugin::{CheckReport, CheckScope, SinkConfig};

use crate::config::MongoSinkConfig;

pub async fn check(sink: SinkConfig, scope: CheckScope) -> CheckReport {
    let mut report = CheckReport::default();
    let cfg = match MongoSinkConfig::parse(&sink) {
        Ok(c) => c,
        Err(issues) => {
            for i in issues {
                report.problem(Some(&i.key), i.message);
            }
            return report;
        }
    };
    let options = match ClientOptions::parse(&cfg.uri).await {
        Ok(mut o) => {
            o.server_selection_timeout = Some(std::time::Duration::from_secs(10));
            o
        }
        Err(e) => {
            report.problem(
                Some("connection.uri"),
                format!("connection.uri is not valid: {e}"),
            );
            return report;
        }
    };
    let hosts: Vec<String> = options.hosts.iter().map(|h| h.to_string()).collect();
    let client = match Client::with_options(options) {
        Ok(c) => c,
        Err(e) => {
            report.problem(Some("connection.uri"), e.to_string());
            return report;
        }
    };
    let admin = client.database("admin");
    if let Err(e) = admin.run_command(doc! {"ping": 1}).await {
        report.problem(
            Some("connection.uri"),
            format!(
                "cannot reach MongoDB at {}: {e}; check connection.uri and that the server is running",
                hosts.join(",")
            ),
        );
        return report;
    }
    report
        .passed
        .push(format!("MongoDB at {} answers", hosts.join(",")));
    if scope == CheckScope::Full {
        let mut databases: Vec<&str> = vec![cfg.base.database.as_str()];
        databases.extend(cfg.overrides.values().map(|t| t.database.as_str()));
        databases.sort();
        databases.dedup();
        match admin
            .run_command(doc! {"connectionStatus": 1, "showPrivileges": true})
            .await
        {
            Ok(status) => {
                let info = status.get_document("authInfo").ok();
                let users = info
                    .and_then(|i| i.get_array("authenticatedUsers").ok())
                    .map_or(0, |u| u.len());
                let privileges = info.and_then(|i| i.get_array("authenticatedUserPrivileges").ok());
                if users == 0 {
                    report
                        .passed
                        .push("no authentication: every database is writable".to_string());
                } else {
                    for db in databases {
                        let may = |action: &str| {
                            privileges.is_some_and(|p| {
                                p.iter().filter_map(Bson::as_document).any(|p| {
                                    let resource = p.get_document("resource").ok();
                                    let on_db = resource.is_some_and(|r| {
                                        r.get_str("db").is_ok_and(|d| d == db || d.is_empty())
                                            || r.get_bool("anyResource").unwrap_or(false)
                                    });
                                    on_db
                                        && p.get_array("actions").is_ok_and(|a| {
                                            a.iter().any(|x| x.as_str() == Some(action))
                                        })
                                })
                            })
                        };
                        let missing: Vec<&str> = ["insert", "update", "remove"]
                            .into_iter()
                            .filter(|a| !may(a))
                            .collect();
                        if missing.is_empty() {
                            report
                                .passed
                                .push(format!("the user may write database {db}"));
                        } else {
                            report.problem(
                                Some("connection.uri"),
                                format!(
                                    "the user may not {} in database {db}: grant it the readWrite role on {db}",
                                    missing.join(", ")
                                ),
                            );
                        }
                    }
                }
            }
            Err(e) => report.warnings.push(format!(
                "could not read the user's privileges (connectionStatus: {e}); writes will tell"
            )),
        }
    }
    report
}
