//! A private Kafka-protocol broker on a free loopback port, with in-memory storage, or SQLite
//! storage in its temp dir when a test stops and restarts it: nisshi 0.8.1 (crates.io; tansu's
//! successor), or tansu 0.6.0 with its fetch fixed where Rust 1.96 for nisshi cannot be
//! installed. The test command builds one of them once into `~/.cache/runnel`
//! (`scripts/install-deps.sh`); `RUNNEL_KAFKA_BROKER` points at another binary (both take the same
//! `broker` flags). Tests of transactions start nisshi 0.7.0 instead
//! ([`KafkaBroker::start_transactional`]).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, wait_for};

/// A running broker; killed and reaped on drop.
pub struct KafkaBroker {
    pub port: u16,
    child: Option<Child>,
    binary: PathBuf,
    durable: bool,
    log: PathBuf,
    dir: tempfile::TempDir,
}

/// Where the broker binary is: `RUNNEL_KAFKA_BROKER`, the test command's cache (nisshi, else tansu),
/// or `PATH`.
pub fn broker_binary() -> PathBuf {
    if let Ok(p) = std::env::var("RUNNEL_KAFKA_BROKER") {
        return p.into();
    }
    let home = std::env::var("HOME").map(PathBuf::from).ok();
    [
        ".cache/runnel/nisshi-0.8.1/bin/nisshi",
        ".cache/runnel/tansu-0.6.0-fetchfix/bin/tansu",
    ]
    .iter()
    .filter_map(|rel| home.as_ref().map(|h| h.join(rel)))
    .find(|p| p.exists())
    .unwrap_or_else(|| "nisshi".into())
}

/// The broker for transactions: nisshi 0.7.0, the last release that serves transactional
/// producers (0.8 answers every transactional id TRANSACTIONAL_ID_AUTHORIZATION_FAILED). It
/// fences an older producer of an id and commits and aborts transactions; it does not filter
/// aborted records out of a read_committed fetch. `RUNNEL_KAFKA_TXN_BROKER` points at another.
pub fn transactional_broker_binary() -> PathBuf {
    if let Ok(p) = std::env::var("RUNNEL_KAFKA_TXN_BROKER") {
        return p.into();
    }
    std::env::var("HOME")
        .map(|h| PathBuf::from(h).join(".cache/runnel/nisshi-0.7.0/bin/nisshi"))
        .unwrap_or_else(|_| "nisshi".into())
}

impl KafkaBroker {
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// Starts on a given port (a test may point runnel at it before the broker exists).
    pub fn start_on(port: u16) -> Self {
        Self::launch(broker_binary(), port, false)
    }

    /// Starts with its log in SQLite, so that it can be stopped and restarted without losing
    /// what it acknowledged.
    pub fn start_durable() -> Self {
        Self::launch(broker_binary(), free_port(), true)
    }

    /// Starts a broker that serves transactional producers ([`transactional_broker_binary`]).
    pub fn start_transactional() -> Self {
        Self::launch(transactional_broker_binary(), free_port(), false)
    }

    fn launch(binary: PathBuf, port: u16, durable: bool) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("runnel-kafka-")
            .tempdir()
            .expect("create temp dir");
        let log = dir.path().join("broker.log");
        let mut broker = Self {
            port,
            child: None,
            binary,
            durable,
            log,
            dir,
        };
        broker.restart();
        broker
    }

    /// Kills the broker (SIGKILL, as a crash); `restart` brings it back on the same port.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "-CONT");
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker process (again), with the same port and storage.
    pub fn restart(&mut self) {
        self.stop();
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open broker log");
        // The broker resolves a sqlite:// path against its working directory.
        let storage = if self.durable {
            "sqlite://tansu.db"
        } else {
            "memory://tansu/"
        };
        let child = Command::new(&self.binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", storage])
            .args(["--cluster-id", "runnel-test"])
            .current_dir(self.dir.path())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log handle"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the Kafka broker {}: {e}; the test command installs it \
                     (RUNNEL_WITH_KAFKA=1 bash -c 'source scripts/install-deps.sh')",
                    self.binary.display()
                )
            });
        self.child = Some(child);
        let port = self.port;
        wait_for(
            "the Kafka broker to listen",
            Duration::from_secs(30),
            || TcpStream::connect(("127.0.0.1", port)).ok(),
        );
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Freezes the broker (SIGSTOP): connections stay open but nothing answers, as a broker
    /// that hangs or a network that drops packets. In-memory storage survives.
    pub fn pause(&self) {
        if let Some(c) = &self.child {
            signal(c.id(), "-STOP");
        }
    }

    pub fn resume(&self) {
        if let Some(c) = &self.child {
            signal(c.id(), "-CONT");
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
}

impl Drop for KafkaBroker {
    fn drop(&mut self) {
        self.stop();
    }
}
