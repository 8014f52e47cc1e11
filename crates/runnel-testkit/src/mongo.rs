//! A private MongoDB-protocol server: SecantusDB (PyPI `SecantusDB`, a wire-compatible server on
//! WiredTiger) in a temp dir on a free loopback port; the test command installs it. It can be
//! stopped and started again on the same storage, as a server that goes away.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, wait_for};

pub struct MongoServer {
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
    log: PathBuf,
}

impl MongoServer {
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("runnel-mongo-")
            .tempdir()
            .expect("create temp dir");
        let log = dir.path().join("server.log");
        let mut s = Self {
            port: free_port(),
            child: None,
            dir,
            log,
        };
        s.restart();
        s
    }

    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}/?directConnection=true", self.port)
    }

    /// Kills the server (SIGKILL, as a crash); `restart` brings it back on its storage.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        let storage = self.dir.path().join("data");
        std::fs::create_dir_all(&storage).expect("create storage dir");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open server log");
        let child = Command::new("secantusd-py")
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--storage-path")
            .arg(&storage)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log handle"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start SecantusDB (secantusd-py): {e}; the test command installs it \
                     (python3 -m pip install SecantusDB)"
                )
            });
        self.child = Some(child);
        let port = self.port;
        wait_for("SecantusDB to listen", Duration::from_secs(60), || {
            TcpStream::connect(("127.0.0.1", port)).ok()
        });
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for MongoServer {
    fn drop(&mut self) {
        self.stop();
    }
}
