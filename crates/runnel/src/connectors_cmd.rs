//! `runnel connectors …`: a client of a worker's REST API (any Kafka Connect-compatible one),
//! with a human table by default and the API's JSON with `-o json`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use runnel_core::Error;
use serde_json::Value;

#[derive(Subcommand)]
pub(crate) enum ConnectorsCommand {
    /// Every connector with its state.
    List,
    /// Create a connector from a Kafka Connect JSON file ({"name", "config"}).
    Create { file: PathBuf },
    /// A connector's status (connector and task states, error trace).
    Status { name: String },
    /// Pause a connector (it keeps its place).
    Pause { name: String },
    /// Resume a paused or stopped connector.
    Resume { name: String },
    /// Stop a connector (its offsets may then be changed).
    Stop { name: String },
    /// Restart a connector and its task.
    Restart {
        name: String,
        /// Only if it failed.
        #[arg(long)]
        only_failed: bool,
    },
    /// Delete a connector, its offsets and status.
    Delete { name: String },
    /// A connector's offsets; with --reset, delete them (the connector must be stopped).
    Offsets {
        name: String,
        #[arg(long)]
        reset: bool,
    },
}

pub(crate) struct Client {
    url: String,
    token: Option<String>,
    json: bool,
    agent: ureq::Agent,
}

impl Client {
    pub(crate) fn new(url: String, token: Option<String>, json: bool) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Self {
            url: url.trim_end_matches('/').to_string(),
            token,
            json,
            agent,
        }
    }

    /// One request; an API error (`{"error_code", "message"}`) becomes an `Error`.
    fn call(&self, method: &str, path: &str, body: Option<String>) -> Result<Value, Error> {
        let url = format!("{}{path}", self.url);
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        macro_rules! prepared {
            ($req:expr) => {{
                let r = $req.header("Content-Type", "application/json");
                match &auth {
                    Some(a) => r.header("Authorization", a.as_str()),
                    None => r,
                }
            }};
        }
        let body = body.unwrap_or_default();
        let result = match method {
            "GET" => prepared!(self.agent.get(&url)).call(),
            "DELETE" => prepared!(self.agent.delete(&url)).call(),
            "POST" => prepared!(self.agent.post(&url)).send(body.as_bytes()),
            "PUT" => prepared!(self.agent.put(&url)).send(body.as_bytes()),
            _ => unreachable!("methods are chosen here"),
        };
        let mut response = result.map_err(|e| {
            Error::connection(format!(
                "cannot reach the worker at {}: {e}; is `runnel worker` running there (--url)?",
                self.url
            ))
        })?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let json: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status >= 400 {
            let message = json["message"].as_str().unwrap_or("no message").to_string();
            return Err(if status == 400 || status == 404 || status == 409 {
                Error::config(format!("{method} {path}: {message} (HTTP {status})"))
            } else {
                Error::internal(format!("{method} {path}: {message} (HTTP {status})"))
            });
        }
        Ok(json)
    }

    fn print(&self, json: &Value, human: impl FnOnce(&Value) -> String) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(json).unwrap_or_default());
        } else {
            print!("{}", human(json));
        }
    }

    pub(crate) fn run(&self, command: ConnectorsCommand) -> Result<ExitCode, Error> {
        use ConnectorsCommand as C;
        match command {
            C::List => {
                let all = self.call("GET", "/connectors?expand=status", None)?;
                self.print(&all, |all| {
                    let mut rows = vec![[
                        "NAME".to_string(),
                        "TYPE".into(),
                        "CONNECTOR".into(),
                        "TASK".into(),
                    ]];
                    if let Some(map) = all.as_object() {
                        for (name, v) in map {
                            let s = &v["status"];
                            rows.push([
                                name.clone(),
                                text(&s["type"]),
                                text(&s["connector"]["state"]),
                                text(&s["tasks"][0]["state"]),
                            ]);
                        }
                    }
                    table(&rows)
                });
            }
            C::Create { file } => {
                let body = std::fs::read_to_string(&file)
                    .map_err(|e| Error::config(format!("cannot read {}: {e}", file.display())))?;
                let info = self.call("POST", "/connectors", Some(body))?;
                self.print(&info, |i| format!("created {}\n", text(&i["name"])));
            }
            C::Status { name } => {
                let s = self.call("GET", &format!("/connectors/{name}/status"), None)?;
                self.print(&s, |s| {
                    let mut out = format!(
                        "{} ({}): connector {}\n",
                        text(&s["name"]),
                        text(&s["type"]),
                        text(&s["connector"]["state"])
                    );
                    for key in ["warning", "trace"] {
                        if let Some(t) = s["connector"][key].as_str() {
                            out.push_str(&format!("  {key}: {t}\n"));
                        }
                    }
                    for t in s["tasks"].as_array().into_iter().flatten() {
                        out.push_str(&format!("  task {}: {}\n", t["id"], text(&t["state"])));
                        if let Some(trace) = t["trace"].as_str() {
                            out.push_str(&format!("    trace: {trace}\n"));
                        }
                    }
                    out
                });
            }
            C::Pause { name } => self.action(
                "PUT",
                &format!("/connectors/{name}/pause"),
                &name,
                "pausing",
            )?,
            C::Resume { name } => self.action(
                "PUT",
                &format!("/connectors/{name}/resume"),
                &name,
                "resuming",
            )?,
            C::Stop { name } => {
                self.action("PUT", &format!("/connectors/{name}/stop"), &name, "stopped")?
            }
            C::Restart { name, only_failed } => self.action(
                "POST",
                &format!("/connectors/{name}/restart?includeTasks=true&onlyFailed={only_failed}"),
                &name,
                "restarting",
            )?,
            C::Delete { name } => {
                self.action("DELETE", &format!("/connectors/{name}"), &name, "deleted")?
            }
            C::Offsets { name, reset } => {
                if reset {
                    let r = self.call("DELETE", &format!("/connectors/{name}/offsets"), None)?;
                    self.print(&r, |r| format!("{}\n", text(&r["message"])));
                } else {
                    let o = self.call("GET", &format!("/connectors/{name}/offsets"), None)?;
                    self.print(&o, |o| {
                        let mut rows = vec![["PARTITION".to_string(), "OFFSET".into()]];
                        for item in o["offsets"].as_array().into_iter().flatten() {
                            rows.push([item["partition"].to_string(), item["offset"].to_string()]);
                        }
                        table(&rows)
                    });
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }

    fn action(&self, method: &str, path: &str, name: &str, done: &str) -> Result<(), Error> {
        let r = self.call(method, path, Some(String::new()))?;
        self.print(&r, |_| format!("{name}: {done}\n"));
        Ok(())
    }
}

fn text(v: &Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| "-".into())
}

/// Left-aligned columns, two spaces apart.
fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
