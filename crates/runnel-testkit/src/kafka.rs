//! A private Kafka-protocol broker: `tansu` (crates.io) with in-memory storage, on a free
//! loopback port. The test command builds it once into `~/.cache/runnel/tansu` (17 minutes
//! cold here); `RUNNEL_TANSU` points at another binary.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, wait_for};

/// A running broker; killed and reaped on drop.
pub struct KafkaBroker {
    pub port: u16,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// Where the broker binary is: `RUNNEL_TANSU`, the test command's cache, or `PATH`.
pub fn tansu_binary() -> PathBuf {
    if let Ok(p) = std::env::var("RUNNEL_TANSU") {
        return p.into();
    }
    let cached = std::env::var("HOME")
        .map(|h| PathBuf::from(h).join(".cache/runnel/tansu/bin/tansu"))
        .ok()
        .filter(|p| p.exists());
    cached.unwrap_or_else(|| "tansu".into())
}

impl KafkaBroker {
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// Starts on a given port (a test may point runnel at it before the broker exists).
    pub fn start_on(port: u16) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("runnel-kafka-")
            .tempdir()
            .expect("create temp dir");
        let url = format!("tcp://127.0.0.1:{port}");
        let log = dir.path().join("broker.log");
        let out = std::fs::File::create(&log).expect("create broker log");
        let child = Command::new(tansu_binary())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .args(["--cluster-id", "runnel-test"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log handle"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the Kafka broker {}: {e}; the test command installs it \
                     (cargo install --locked tansu --features dynostore)",
                    tansu_binary().display()
                )
            });
        let broker = Self {
            port,
            child,
            log,
            _dir: dir,
        };
        wait_for(
            "the Kafka broker to listen",
            Duration::from_secs(30),
            || TcpStream::connect(("127.0.0.1", port)).ok(),
        );
        broker
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Freezes the broker (SIGSTOP): connections stay open but nothing answers, as a broker
    /// that hangs or a network that drops packets. In-memory storage survives.
    pub fn pause(&self) {
        signal(self.child.id(), "-STOP");
    }

    pub fn resume(&self) {
        signal(self.child.id(), "-CONT");
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
        signal(self.child.id(), "-CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
