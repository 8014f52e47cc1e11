//! `runnel`: change data capture in one binary.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use runnel_core::config::ConnectorConfig;
use runnel_core::plugin::CheckScope;
use runnel_core::{Error, ErrorKind};
use runnel_runtime::job::RunContext;
use runnel_runtime::{Registry, StateStore, WorkerSettings, supervise};
use tokio::sync::watch;

#[cfg(feature = "kafka")]
mod cluster;
mod connectors_cmd;
#[cfg(feature = "kafka")]
mod import_cmd;
mod registry;
mod worker_cmd;

#[derive(Parser)]
#[command(
    name = "runnel",
    version,
    about = "Change data capture in one binary: Debezium-compatible events, Kafka Connect-compatible configs"
)]
struct Cli {
    /// Threads for async work (database sockets, decoding, the REST API).
    ///
    /// Each connector also has its own sink thread that encodes and writes. One async thread
    /// is fastest for a few connectors: with two, the 1M-change drain ran at 60k instead of
    /// 90k rows/s on 2 cores (the replication socket's task and the decoder woke each other
    /// across threads). Raise it for a worker with many busy connectors.
    #[arg(long, global = true, env = "RUNNEL_ASYNC_THREADS", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    async_threads: u16,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run connectors from Kafka Connect JSON files until SIGINT/SIGTERM.
    Run {
        /// Connector configs: {"name": "...", "config": {...}}.
        #[arg(required = true)]
        connectors: Vec<PathBuf>,
        /// Where configs, offsets and status are kept (one SQLite file).
        #[arg(long, default_value = "runnel-state", env = "RUNNEL_STATE_DIR")]
        state_dir: PathBuf,
        /// The Kafka cluster (Kafka Connect's worker `bootstrap.servers`): source connectors
        /// without `sink.type` write to it, sink connectors read from it.
        #[arg(long, env = "RUNNEL_BOOTSTRAP_SERVERS")]
        bootstrap_servers: Option<String>,
    },
    /// Run the worker: Kafka Connect's REST API, connectors added and managed through it,
    /// state kept across restarts.
    Worker(worker_cmd::WorkerArgs),
    /// Verify a connector config and every prerequisite on its database.
    Check { connector: PathBuf },
    /// Take over a stopped Kafka Connect cluster's connectors: their configs, target states
    /// and source offsets from its config and offset topics, into a state directory.
    #[cfg(feature = "kafka")]
    ImportConnect(import_cmd::ImportArgs),
    /// Manage the connectors of a running worker through its REST API.
    Connectors {
        /// The worker's REST API.
        #[arg(long, env = "RUNNEL_URL", default_value = "http://127.0.0.1:8083")]
        url: String,
        /// Bearer token, when the worker requires one.
        #[arg(long, env = "RUNNEL_AUTH_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Output format: table (default) or json (the API's own JSON).
        #[arg(short = 'o', long, default_value = "table", value_parser = ["table", "json"])]
        output: String,
        #[command(subcommand)]
        command: connectors_cmd::ConnectorsCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    use tracing_subscriber::prelude::*;
    let root_level = std::env::var("RUNNEL_LOG").unwrap_or_else(|_| "info".into());
    let mut filter = tracing_subscriber::EnvFilter::try_new(&root_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // The Delta sink's libraries narrate every table load at info, deltalake warns on every
    // MERGE about a metric it lacks, and the Delta kernel logs as an error what it returns as
    // one (a table not created yet, refused credentials), which the sink then reports itself:
    // quiet by default, unless RUNNEL_LOG names them.
    for (quiet, level) in [
        ("buoyant_kernel", "off"),
        ("deltalake_core", "error"),
        ("deltalake_aws", "warn"),
        ("datafusion", "warn"),
    ] {
        if !root_level.contains(quiet)
            && let Ok(d) = format!("{quiet}={level}").parse()
        {
            filter = filter.add_directive(d);
        }
    }
    // Reloadable, so the worker's /admin/loggers can change levels at run time.
    let (filter, reload) = tracing_subscriber::reload::Layer::new(filter);
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(usize::from(cli.async_threads))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run {
                connectors,
                state_dir,
                bootstrap_servers,
            } => {
                let worker = WorkerSettings {
                    bootstrap_servers,
                    exactly_once: None,
                };
                run(connectors, state_dir, worker).await
            }
            Command::Worker(args) => {
                let logs = Arc::new(worker_cmd::Loggers::new(reload, &root_level));
                worker_cmd::run(args, logs)
                    .await
                    .map(|()| ExitCode::SUCCESS)
            }
            Command::Check { connector } => check(&registry::registry(), connector).await,
            #[cfg(feature = "kafka")]
            Command::ImportConnect(args) => import_cmd::import(args, &registry::registry())
                .await
                .map(|()| ExitCode::SUCCESS),
            Command::Connectors {
                url,
                token,
                output,
                command,
            } => {
                // A blocking HTTP client: off the async runtime's threads.
                tokio::task::spawn_blocking(move || {
                    connectors_cmd::Client::new(url, token, output == "json").run(command)
                })
                .await
                .map_err(|e| Error::internal(format!("client thread failed: {e}")))?
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            for line in e.message().lines() {
                eprintln!("error: {line}");
            }
            ExitCode::from(if e.kind() == ErrorKind::Config { 2 } else { 1 })
        }
    }
}

fn load(path: &PathBuf) -> Result<ConnectorConfig, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::config(format!("cannot read {}: {e}", path.display())))?;
    ConnectorConfig::from_json(&text).map_err(|e| e.context(path.display()))
}

async fn run(
    paths: Vec<PathBuf>,
    state_dir: PathBuf,
    worker: WorkerSettings,
) -> Result<ExitCode, Error> {
    let registry = registry::registry();
    let mut prepared = Vec::new();
    let mut names = std::collections::HashSet::new();
    for path in &paths {
        let config = load(path)?;
        if !names.insert(config.name.clone()) {
            return Err(Error::config(format!(
                "{}: a connector named \"{}\" is already loaded; names must be unique",
                path.display(),
                config.name
            )));
        }
        // Secrets (${env:…}, ${file:…}, ${dir:…}) are resolved for the run only; the state
        // store keeps the placeholders.
        let resolved = runnel_runtime::config_providers::ConfigProviders::default()
            .resolve(&config)
            .map_err(|e| e.context(path.display()))?;
        let job = registry
            .prepare(&resolved, &worker.context())
            .map_err(|e| e.context(path.display()))?;
        prepared.push((Arc::new(job), config));
    }
    let store = StateStore::open(&state_dir)?;
    for (_, config) in &prepared {
        store.save_connector(config)?;
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stopping: committing what is durable");
        let _ = stop_tx.send(true);
    });
    let mut tasks = tokio::task::JoinSet::new();
    for (job, _) in prepared {
        tasks.spawn(supervise(
            job,
            RunContext {
                store: store.clone(),
                shutdown: stop_rx.clone(),
                metrics: Default::default(),
            },
        ));
    }
    let mut failed = None;
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("error: {e}");
                failed = Some(e);
            }
            Err(e) => failed = Some(Error::internal(format!("connector task failed: {e}"))),
        }
    }
    Ok(if failed.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub(crate) async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// `runnel check`: the config as the registry validates it, then every prerequisite of the
/// connector on the live system.
async fn check(registry: &Registry, path: PathBuf) -> Result<ExitCode, Error> {
    let config = load(&path)?;
    let resolved = runnel_runtime::config_providers::ConfigProviders::default()
        .resolve(&config)
        .map_err(|e| e.context(path.display()))?;
    let job = registry
        .prepare(&resolved, &WorkerSettings::default().context())
        .map_err(|e| e.context(path.display()))?;
    println!("config: ok ({} keys)", config.props.len());
    let report = registry
        .check(
            resolved,
            CheckScope::Full,
            &WorkerSettings::default().context(),
        )
        .await;
    for line in &report.passed {
        println!("ok: {line}");
    }
    for line in &report.warnings {
        println!("warning: {line}");
    }
    for p in &report.problems {
        println!("problem: {}", p.message);
    }
    if report.is_ok() {
        println!("ready: connector \"{}\" can run", job.name());
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::FAILURE)
    }
}
