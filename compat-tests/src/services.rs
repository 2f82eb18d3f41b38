//! Services a test starts for itself, when it must stop or restart them: a RabbitMQ broker of its
//! own (through `scripts/services/rabbitmq`), stopped when dropped.

use std::path::PathBuf;
use std::process::Command;

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts/services")
        .join(name)
}

/// A port for a broker: its script takes 1024-35000, and PORT + 10000, 20000 and 30000 (its Erlang
/// ports) must be free too.
fn broker_port() -> u16 {
    let seed = std::process::id() as u64 * 7919
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as u64);
    (0..500u64)
        .map(|i| 20000 + ((seed + i * 104_729) % 15000) as u16)
        .find(|p| {
            [0u16, 10000, 20000, 30000]
                .iter()
                .all(|d| std::net::TcpListener::bind(("127.0.0.1", p + d)).is_ok())
        })
        .expect("a free port for the broker")
}

/// A RabbitMQ broker of the test's own, on a free port, with its state in a temporary directory.
pub struct Broker {
    dir: tempfile::TempDir,
    pub url: String,
}

impl Broker {
    pub fn start() -> Broker {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = run(&[
            "start",
            &dir.path().display().to_string(),
            &broker_port().to_string(),
        ])
        .lines()
        .find_map(|l| l.strip_prefix("OWL_AMQP_URL=").map(str::to_string))
        .expect("the broker script prints OWL_AMQP_URL");
        Broker { dir, url }
    }

    /// Stops the broker and starts it again on the same state (its durable queues and messages).
    pub fn restart(&self) {
        run(&["restart", &self.dir.path().display().to_string()]);
    }
}

fn run(args: &[&str]) -> String {
    let out = Command::new(script("rabbitmq"))
        .args(args)
        .output()
        .expect("scripts/services/rabbitmq runs");
    assert!(
        out.status.success(),
        "scripts/services/rabbitmq {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = Command::new(script("rabbitmq"))
            .args(["stop", &self.dir.path().display().to_string()])
            .output();
    }
}

/// A CouchDB-compatible server of the test's own (in memory), for tests that stop it.
pub struct CouchServer {
    dir: tempfile::TempDir,
    pub url: String,
}

impl CouchServer {
    pub fn start() -> CouchServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let out = Command::new(script("couch/run"))
            .args([
                "start",
                &dir.path().display().to_string(),
                &port.to_string(),
            ])
            .output()
            .expect("scripts/services/couch/run runs");
        assert!(
            out.status.success(),
            "scripts/services/couch/run start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("OWL_COUCH_URL=").map(str::to_string))
            .expect("the script prints OWL_COUCH_URL");
        CouchServer { dir, url }
    }

    pub fn stop(&self) {
        let _ = Command::new(script("couch/run"))
            .args(["stop", &self.dir.path().display().to_string()])
            .output();
    }
}

impl Drop for CouchServer {
    fn drop(&mut self) {
        self.stop();
    }
}
