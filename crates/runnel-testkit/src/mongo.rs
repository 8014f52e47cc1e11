//! A private MongoDB-protocol server: SecantusDB (PyPI `SecantusDB`, a wire-compatible server on
//! WiredTiger) in a temp dir on a free loopback port; the test command installs it. It can be
//! stopped and started again on the same storage, as a server that goes away.

use std::process::Command;

use crate::free_port;
use crate::process::ServerProcess;

pub struct MongoServer {
    pub port: u16,
    process: ServerProcess,
    dir: tempfile::TempDir,
}

impl MongoServer {
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("runnel-mongo-")
            .tempdir()
            .expect("create temp dir");
        let mut s = Self {
            port: free_port(),
            process: ServerProcess::new(&dir.path().join("server.log")),
            dir,
        };
        s.restart();
        s
    }

    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}/?directConnection=true", self.port)
    }

    /// Kills the server (SIGKILL, as a crash); `restart` brings it back on its storage.
    pub fn stop(&mut self) {
        self.process.stop();
    }

    pub fn restart(&mut self) {
        let storage = self.dir.path().join("data");
        std::fs::create_dir_all(&storage).expect("create storage dir");
        let mut cmd = Command::new("secantusd-py");
        cmd.args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--storage-path")
            .arg(&storage);
        self.process.start(
            &mut cmd,
            self.port,
            "SecantusDB (secantusd-py)",
            "python3 -m pip install SecantusDB",
        );
    }

    pub fn log_text(&self) -> String {
        self.process.log_text()
    }
}
