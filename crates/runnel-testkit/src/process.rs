//! A server process of a test: started with its output appended to a log file, waited for until
//! it listens on its port, killed (SIGKILL, as a crash) and reaped on `stop` and on drop.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::wait_for;

pub(crate) struct ServerProcess {
    child: Option<Child>,
    pub(crate) log: PathBuf,
}

impl ServerProcess {
    pub(crate) fn new(log: &Path) -> Self {
        Self {
            child: None,
            log: log.to_path_buf(),
        }
    }

    /// Starts `cmd` (stopping the one before) and waits until `port` accepts connections.
    /// `install` says how the test command installs the program when it is missing.
    pub(crate) fn start(&mut self, cmd: &mut Command, port: u16, what: &str, install: &str) {
        self.stop();
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open server log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log handle"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {what}: {e}; the test command installs it ({install})")
            });
        self.child = Some(child);
        wait_for(
            &format!("{what} to listen"),
            Duration::from_secs(90),
            || TcpStream::connect(("127.0.0.1", port)).ok(),
        );
    }

    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
