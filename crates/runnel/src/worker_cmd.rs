//! `runnel worker`: the long-running process with Kafka Connect's REST API.
//!
//! Its config file is a Kafka Connect worker properties file (`connect-standalone.properties`
//! style), so an existing one mostly works: `listeners`, `bootstrap.servers` and
//! `config.providers` (with each alias's `.class`, Strimzi's Kubernetes providers included) are
//! used; Kafka Connect keys that have no meaning for runnel (converters
//! are per connector here, storage is embedded) are accepted and logged; anything else is an
//! error with a suggestion. runnel's own keys start with `runnel.`. Flags and environment
//! variables override the file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use runnel_core::Error;
#[cfg(feature = "kafka")]
use runnel_core::plugin::BoxFuture;
use runnel_runtime::config_providers::ConfigProviders;
use runnel_runtime::{StateStore, Worker, WorkerSettings};
use runnel_server::{Auth, LogControl, ServerOptions};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::reload::Handle;

/// Keys of a Kafka Connect worker config that runnel reads.
const USED: &[&str] = &[
    "listeners",
    "rest.host.name",
    "rest.port",
    "rest.advertised.host.name",
    "rest.advertised.port",
    "bootstrap.servers",
    "config.providers",
    "runnel.state.dir",
    "runnel.auth.token",
    "runnel.auth.basic.user",
    "runnel.auth.basic.password",
    "runnel.read.only",
    "runnel.slot.check.interval.ms",
    "runnel.tls.cert",
    "runnel.tls.key",
    // Distributed mode (connect-distributed.properties).
    "group.id",
    "config.storage.topic",
    "offset.storage.topic",
    "status.storage.topic",
    "config.storage.replication.factor",
    "offset.storage.replication.factor",
    "status.storage.replication.factor",
    "offset.storage.partitions",
    "status.storage.partitions",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "exactly.once.source.support",
    "security.protocol",
    "runnel.work.topic",
    "runnel.work.partitions",
    "runnel.group.instance.id",
];

/// Kafka Connect worker keys (and prefixes) that do not apply to runnel: accepted, logged.
const IGNORED: &[&str] = &[
    "key.converter",
    "value.converter",
    "internal.",
    "offset.",
    "config.storage.",
    "status.storage.",
    "plugin.path",
    "plugin.discovery",
    "rest.advertised.listener",
    "task.shutdown.graceful.timeout.ms",
    "connector.client.config.override.policy",
    "producer.",
    "consumer.",
    "admin.",
    "topic.creation.enable",
    "client.id",
    "rebalance.timeout.ms",
    "worker.sync.timeout.ms",
    "worker.unsync.backoff.ms",
    "scheduled.rebalance.max.delay.ms",
    "connect.protocol",
];

/// `runnel worker`'s flags (each also settable in the config file or the environment).
#[derive(Debug, Default, clap::Args)]
pub(crate) struct WorkerArgs {
    /// A Kafka Connect worker properties file (listeners, bootstrap.servers,
    /// config.providers, runnel.*).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address of the REST API [default: 127.0.0.1:8083].
    #[arg(long, env = "RUNNEL_LISTEN")]
    pub listen: Option<String>,
    /// Where configs, offsets and status are kept [default: runnel-state].
    #[arg(long, env = "RUNNEL_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// The Kafka cluster connectors write to and read from by default.
    #[arg(long, env = "RUNNEL_BOOTSTRAP_SERVERS")]
    pub bootstrap_servers: Option<String>,
    /// Require `Authorization: Bearer <token>` on every request but /health.
    #[arg(long, env = "RUNNEL_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// Serve only GET requests.
    #[arg(long)]
    pub read_only: bool,
    /// How often replication slots are checked for retained WAL [default: 30000].
    #[arg(long, env = "RUNNEL_SLOT_CHECK_INTERVAL_MS")]
    pub slot_check_interval_ms: Option<u64>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, env = "RUNNEL_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "RUNNEL_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
}

struct Settings {
    listen: String,
    /// `rest.advertised.host.name` / `rest.advertised.port`: the worker id statuses show.
    advertised_host: Option<String>,
    advertised_port: Option<u16>,
    state_dir: PathBuf,
    bootstrap_servers: Option<String>,
    providers: ConfigProviders,
    auth: Option<Auth>,
    read_only: bool,
    slot_check_interval: std::time::Duration,
    /// Certificate chain and private key (PEM) to serve HTTPS.
    tls: Option<(PathBuf, PathBuf)>,
    /// Distributed mode: the worker group (a config with `group.id`).
    #[cfg(feature = "kafka")]
    group: Option<crate::cluster::GroupConfig>,
}

/// A Kafka Connect worker properties file, read as Java reads it.
pub(crate) fn read_properties(path: &PathBuf) -> Result<BTreeMap<String, String>, Error> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::config(format!("cannot read {}: {e}", path.display())))?;
    Ok(java_properties::read(std::io::BufReader::new(file))
        .map_err(|e| {
            Error::config(format!(
                "{}: not a worker properties file: {e}",
                path.display()
            ))
        })?
        .into_iter()
        .collect())
}

fn read_config(path: &PathBuf) -> Result<BTreeMap<String, String>, Error> {
    let props = read_properties(path)?;
    for key in props.keys() {
        // The security settings of the worker's own Kafka clients (distributed mode).
        if key.starts_with("sasl.") || key.starts_with("ssl.") {
            continue;
        }
        // `config.providers.<alias>.class` is read with the list; a provider's own settings
        // (`config.providers.<alias>.param.*`) have nothing to set here.
        if USED.contains(&key.as_str())
            || (key.starts_with("config.providers.") && key.ends_with(".class"))
        {
            continue;
        }
        if key.starts_with("config.providers.") {
            tracing::info!("worker config: {key} does not apply to runnel; ignored");
            continue;
        }
        if IGNORED
            .iter()
            .any(|i| key == i || (i.ends_with('.') && key.starts_with(i)))
        {
            tracing::info!("worker config: {key} does not apply to runnel; ignored");
            continue;
        }
        let hint = USED
            .iter()
            .map(|u| (runnel_core::config::edit_distance(key, u), u))
            .min()
            .filter(|(d, _)| *d <= 3)
            .map(|(_, u)| format!(": did you mean \"{u}\"?"))
            .unwrap_or_else(|| format!(": runnel's worker keys are {}", USED.join(", ")));
        return Err(Error::config(format!(
            "{}: unknown worker config key \"{key}\"{hint}",
            path.display()
        )));
    }
    Ok(props)
}

/// The worker id of statuses, as Kafka Connect's advertised URL gives it: the advertised host
/// and port where configured, else the listener's address — and for a listener on every
/// interface (`0.0.0.0`, `::`), the machine's host name (a pod's name on Kubernetes).
fn worker_id(
    bound: std::net::SocketAddr,
    advertised_host: Option<&str>,
    advertised_port: Option<u16>,
    hostname: Option<&str>,
) -> String {
    let port = advertised_port.unwrap_or(bound.port());
    let host = match (advertised_host, hostname) {
        (Some(h), _) => h.to_string(),
        (None, Some(h)) if bound.ip().is_unspecified() => h.to_string(),
        (None, _) => match bound.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        },
    };
    format!("{host}:{port}")
}

/// The machine's host name (`HOSTNAME`, else the kernel's).
fn local_hostname() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// `listeners=http://host:port` (or `https://`) → (`host:port`, is https).
fn listen_address(listeners: &str) -> (String, bool) {
    let first = listeners.split(',').next().unwrap_or_default().trim();
    let (addr, https) = match first.strip_prefix("https://") {
        Some(rest) => (rest, true),
        None => (first.strip_prefix("http://").unwrap_or(first), false),
    };
    (addr.trim_end_matches('/').to_string(), https)
}

fn settings(args: WorkerArgs) -> Result<Settings, Error> {
    let file = match &args.config {
        Some(p) => read_config(p)?,
        None => BTreeMap::new(),
    };
    let mut https_listener = false;
    let from_file_listen = match (file.get("listeners"), file.get("rest.port")) {
        (Some(l), _) => {
            let (addr, https) = listen_address(l);
            https_listener = https;
            Some(addr)
        }
        (None, Some(port)) => Some(format!(
            "{}:{port}",
            file.get("rest.host.name")
                .map(String::as_str)
                .unwrap_or("127.0.0.1")
        )),
        _ => None,
    };
    let listen = args
        .listen
        .or(from_file_listen)
        .unwrap_or_else(|| "127.0.0.1:8083".into());
    let providers = match file.get("config.providers") {
        Some(list) => {
            ConfigProviders::from_worker_config(list, |k| file.get(k).map(String::as_str))?
        }
        None => ConfigProviders::default(),
    };
    let basic = match (
        file.get("runnel.auth.basic.user"),
        file.get("runnel.auth.basic.password"),
    ) {
        (Some(user), Some(password)) => Some(Auth::Basic {
            user: user.clone(),
            password: password.clone(),
        }),
        (None, None) => None,
        _ => {
            return Err(Error::config(
                "worker config: set both runnel.auth.basic.user and runnel.auth.basic.password",
            ));
        }
    };
    let auth = args
        .auth_token
        .or_else(|| file.get("runnel.auth.token").cloned())
        .map(Auth::Bearer)
        .or(basic);
    let read_only = args.read_only
        || file
            .get("runnel.read.only")
            .and_then(|v| runnel_core::config::parse_bool(v))
            .unwrap_or(false);
    let slot_check_ms = match (
        args.slot_check_interval_ms,
        file.get("runnel.slot.check.interval.ms"),
    ) {
        (Some(ms), _) => ms,
        (None, Some(v)) => v.trim().parse().map_err(|_| {
            Error::config(format!(
                "invalid value \"{v}\" for \"runnel.slot.check.interval.ms\": expected milliseconds"
            ))
        })?,
        (None, None) => 30_000,
    };
    let tls = match (
        args.tls_cert
            .or_else(|| file.get("runnel.tls.cert").map(PathBuf::from)),
        args.tls_key
            .or_else(|| file.get("runnel.tls.key").map(PathBuf::from)),
    ) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) if https_listener => {
            return Err(Error::config(
                "listeners is https:// but no certificate is configured: set runnel.tls.cert and \
                 runnel.tls.key (PEM files), or --tls-cert and --tls-key",
            ));
        }
        (None, None) => None,
        _ => {
            return Err(Error::config(
                "TLS needs both a certificate and a key: set runnel.tls.cert and runnel.tls.key \
                 (or --tls-cert and --tls-key)",
            ));
        }
    };
    let advertised_port = match file.get("rest.advertised.port") {
        Some(p) => Some(p.trim().parse::<u16>().map_err(|_| {
            Error::config(format!(
                "worker config: rest.advertised.port={p} is not a port number"
            ))
        })?),
        None => None,
    };
    #[cfg(not(feature = "kafka"))]
    if file.contains_key("group.id") {
        return Err(Error::config(
            "worker config: group.id makes this a distributed worker, whose state is kept in \
             Kafka, and this build has no Kafka (the kafka feature)",
        ));
    }
    Ok(Settings {
        #[cfg(feature = "kafka")]
        group: crate::cluster::GroupConfig::from_properties(&file)?,
        tls,
        advertised_host: file
            .get("rest.advertised.host.name")
            .filter(|h| !h.trim().is_empty())
            .map(|h| h.trim().to_string()),
        advertised_port,
        slot_check_interval: std::time::Duration::from_millis(slot_check_ms.max(100)),
        listen,
        state_dir: args
            .state_dir
            .or_else(|| file.get("runnel.state.dir").map(PathBuf::from))
            .unwrap_or_else(|| "runnel-state".into()),
        bootstrap_servers: args
            .bootstrap_servers
            .or_else(|| file.get("bootstrap.servers").cloned()),
        providers,
        auth,
        read_only,
    })
}

/// `/admin/loggers` over the process's `EnvFilter`: `root` is the default level, any other
/// logger name is a tracing target (`runnel_postgres`, or with dots: `runnel_postgres.source`).
pub(crate) struct Loggers {
    handle: Handle<EnvFilter, tracing_subscriber::Registry>,
    levels: Mutex<BTreeMap<String, String>>,
}

impl Loggers {
    pub(crate) fn new(handle: Handle<EnvFilter, tracing_subscriber::Registry>, root: &str) -> Self {
        let mut levels = BTreeMap::new();
        levels.insert("root".to_string(), root.to_ascii_uppercase());
        Self {
            handle,
            levels: Mutex::new(levels),
        }
    }
}

impl LogControl for Loggers {
    fn levels(&self) -> Vec<(String, String)> {
        let levels = self.levels.lock().map(|l| l.clone()).unwrap_or_default();
        let mut out: Vec<(String, String)> = levels
            .iter()
            .filter(|(k, _)| *k == "root")
            .chain(levels.iter().filter(|(k, _)| *k != "root"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.dedup();
        out
    }

    fn set(&self, logger: &str, level: &str) -> Result<Vec<String>, String> {
        if tracing_level(level).is_none() {
            return Err(format!(
                "Invalid log level '{level}': expected TRACE, DEBUG, INFO, WARN, ERROR, FATAL or OFF"
            ));
        }
        let mut levels = self.levels.lock().map_err(|_| "logger state poisoned")?;
        let mut next = levels.clone();
        next.insert(logger.to_string(), level.to_ascii_uppercase());
        let mut directives = Vec::new();
        for (name, lvl) in &next {
            let lvl = tracing_level(lvl).unwrap_or("info");
            if name == "root" {
                directives.insert(0, lvl.to_string());
            } else {
                directives.push(format!("{}={lvl}", name.replace('.', "::")));
            }
        }
        let filter = EnvFilter::try_new(directives.join(","))
            .map_err(|e| format!("Invalid logger name '{logger}': {e}"))?;
        self.handle
            .reload(filter)
            .map_err(|e| format!("cannot change the log level: {e}"))?;
        *levels = next;
        Ok(vec![logger.to_string()])
    }
}

/// Kafka Connect's (log4j) level names → tracing's.
fn tracing_level(level: &str) -> Option<&'static str> {
    Some(match level.to_ascii_uppercase().as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" => "warn",
        "ERROR" | "FATAL" => "error",
        "OFF" => "off",
        _ => return None,
    })
}

pub(crate) async fn run(args: WorkerArgs, logs: Arc<Loggers>) -> Result<(), Error> {
    let s = settings(args)?;
    let tls = match &s.tls {
        Some((cert, key)) => Some(runnel_server::tls::load(cert, key).map_err(Error::config)?),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let store = StateStore::open(&s.state_dir)?;
    let listener = tokio::net::TcpListener::bind(&s.listen)
        .await
        .map_err(|e| Error::config(format!("cannot listen on {}: {e}", s.listen)))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::config(format!("cannot listen on {}: {e}", s.listen)))?;
    let local = bound.to_string();
    let id = worker_id(
        bound,
        s.advertised_host.as_deref(),
        s.advertised_port,
        local_hostname().as_deref(),
    );
    #[cfg(feature = "kafka")]
    let exactly_once =
        s.group
            .as_ref()
            .filter(|g| g.exactly_once)
            .map(|g| runnel_runtime::ExactlyOnceSettings {
                group_id: g.group_id.clone(),
                offset_topic: g.offset_topic.clone(),
            });
    #[cfg(not(feature = "kafka"))]
    let exactly_once = None;
    let settings = WorkerSettings {
        bootstrap_servers: s.bootstrap_servers,
        exactly_once,
    };
    let registry = Arc::new(crate::registry::registry());
    #[cfg(feature = "kafka")]
    let (worker, joined) = match s.group {
        Some(group) => {
            tracing::info!(group = %group.group_id, worker = %id, "joining the worker group");
            let joined =
                crate::cluster::join(group, store, settings, s.providers, registry, id).await?;
            (joined.worker.clone(), Some(joined))
        }
        None => (
            Worker::open(store, settings, s.providers, registry, id)
                .await
                .map_err(|e| Error::state(e.to_string()))?,
            None,
        ),
    };
    #[cfg(not(feature = "kafka"))]
    let worker = Worker::open(store, settings, s.providers, registry, id)
        .await
        .map_err(|e| Error::state(e.to_string()))?;
    #[cfg(feature = "kafka")]
    let publisher = joined.as_ref().map(|j| {
        j.worker
            .spawn_status_publisher(std::time::Duration::from_millis(500))
    });
    let monitor = worker.spawn_watches(s.slot_check_interval);
    let sampler = worker.spawn_history();
    let router = runnel_server::router(
        worker.clone(),
        ServerOptions {
            auth: s.auth,
            read_only: s.read_only,
            logs,
            topics: topic_browser(worker.settings().bootstrap_servers.clone()),
        },
    );
    // Printed (not only logged) so scripts and tests can find a port chosen by the OS.
    println!("runnel worker listening on {scheme}://{local}");
    tracing::info!(listen = %local, "worker started");
    runnel_server::serve(listener, router, tls, crate::wait_for_signal())
        .await
        .map_err(|e| Error::internal(format!("HTTP server: {e}")))?;
    tracing::info!("stopping connectors: committing what is durable");
    monitor.abort();
    sampler.abort();
    #[cfg(feature = "kafka")]
    if let Some(joined) = joined {
        if let Some(p) = publisher {
            p.abort();
        }
        drop(worker);
        joined.leave().await;
        return Ok(());
    }
    worker.shutdown().await;
    Ok(())
}

/// The console's topic browser over the worker's Kafka cluster.
#[cfg(feature = "kafka")]
fn topic_browser(bootstrap: Option<String>) -> Option<Arc<dyn runnel_server::TopicBrowser>> {
    struct Browser(String);
    impl runnel_server::TopicBrowser for Browser {
        fn topics(&self) -> BoxFuture<Result<serde_json::Value, String>> {
            let bootstrap = self.0.clone();
            Box::pin(blocking(move || runnel_kafka::browse::topics(&bootstrap)))
        }
        fn messages(
            &self,
            q: runnel_server::TopicQuery,
        ) -> BoxFuture<Result<serde_json::Value, String>> {
            let bootstrap = self.0.clone();
            let q = runnel_kafka::browse::MessageQuery {
                topic: q.topic,
                partition: q.partition,
                offset: q.offset,
                limit: q.limit,
                key: q.key,
            };
            Box::pin(blocking(move || {
                runnel_kafka::browse::messages(&bootstrap, &q)
            }))
        }
    }
    /// rdkafka's calls block: off the async threads.
    async fn blocking(
        f: impl FnOnce() -> runnel_core::Result<serde_json::Value> + Send + 'static,
    ) -> Result<serde_json::Value, String> {
        match tokio::task::spawn_blocking(f).await {
            Ok(r) => r.map_err(|e| e.message().to_string()),
            Err(e) => Err(format!("the topic browser stopped: {e}")),
        }
    }
    Some(Arc::new(Browser(bootstrap?)))
}

#[cfg(not(feature = "kafka"))]
fn topic_browser(_bootstrap: Option<String>) -> Option<Arc<dyn runnel_server::TopicBrowser>> {
    None
}

#[cfg(test)]
mod tests {
    use super::worker_id;

    #[test]
    fn the_worker_id_is_the_advertised_address_or_the_host_for_a_wildcard_listener() {
        let any: std::net::SocketAddr = "0.0.0.0:8083".parse().unwrap();
        let local: std::net::SocketAddr = "127.0.0.1:9000".parse().unwrap();
        assert_eq!(
            worker_id(local, None, None, Some("runnel-0")),
            "127.0.0.1:9000"
        );
        assert_eq!(
            worker_id(any, None, None, Some("runnel-0")),
            "runnel-0:8083"
        );
        assert_eq!(
            worker_id(any, Some("runnel-0.runnel-headless"), Some(80), Some("x")),
            "runnel-0.runnel-headless:80"
        );
        let v6: std::net::SocketAddr = "[::1]:8083".parse().unwrap();
        assert_eq!(worker_id(v6, None, None, None), "[::1]:8083");
    }
}
