//! Private server instances for tests: each in its own temp dir, on a free loopback port,
//! stopped (and its files removed) on drop. Nothing here touches the machine's own services.

mod kafka;
mod mariadb;
mod mongo;
mod postgres;
mod process;
mod s3;

pub use kafka::{KafkaBroker, broker_binary, transactional_broker_binary};
pub use mariadb::MariaDb;
pub use mongo::MongoServer;
pub use postgres::{PgInstance, PgOptions};
pub use s3::{MotoServer, S3_ACCESS_KEY, S3_SECRET_KEY, S3Server};

use std::net::TcpListener;
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (the OS picks; the listener is closed before returning).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, check: impl FnMut() -> Option<T>) -> T {
    try_wait(timeout, check)
        .unwrap_or_else(|| panic!("timed out after {timeout:?} waiting for {what}"))
}

/// Polls `check` until it returns `Some`; `None` after `timeout` (the caller says what it
/// waited for, with what it saw).
pub fn try_wait<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// True when running as root (CI): servers that refuse root run as their own user.
pub fn is_root() -> bool {
    std::env::var("USER").map(|u| u == "root").unwrap_or(false) || uid_is_zero()
}

fn uid_is_zero() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}
