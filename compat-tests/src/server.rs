//! Starts the real `owl` binary for a test.
//!
//! The binary is `$OWL_BIN`, else `target/debug/owl` of this workspace; the test command builds it
//! first. A missing binary fails the test with a message saying how to build it: never a skip.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Owl {
    child: Option<Child>,
    pub base: String,
    pub data_dir: tempfile::TempDir,
    /// The invoker's name: unique per server, so servers of parallel tests leave each other's
    /// containers alone (each removes the leftovers of its own name at start).
    pub invoker_id: String,
    extra: Vec<String>,
}

/// The `owl` binary under test.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("OWL_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug/owl")
}

impl Owl {
    /// A fresh `owl standalone` with an empty data directory and an invoker without prewarmed
    /// containers.
    pub fn start() -> Owl {
        Owl::start_with(&["--no-prewarm"])
    }

    /// A fresh `owl standalone` with these extra flags.
    pub fn start_with(flags: &[&str]) -> Owl {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let data_dir = tempfile::tempdir().expect("a temporary data directory");
        let invoker_id = format!("test{}x{n}", std::process::id());
        let extra = flags.iter().map(|f| f.to_string()).collect();
        let mut owl = Owl {
            child: None,
            base: String::new(),
            data_dir,
            invoker_id,
            extra,
        };
        owl.spawn();
        owl
    }

    fn spawn(&mut self) {
        let bin = binary();
        assert!(
            bin.exists(),
            "the owl binary is missing at {}: build it with `cargo build --bin owl` (scripts/test does)",
            bin.display()
        );
        let mut child = Command::new(&bin)
            .args([
                "standalone",
                "--port",
                "0",
                "--workers",
                "2",
                "--invoker-id",
                &self.invoker_id,
                "--data-dir",
            ])
            .arg(self.data_dir.path())
            .args(&self.extra)
            .env("OWL_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("owl starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("owl standalone listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("owl standalone printed its address");
        self.base = url;
        self.child = Some(child);
    }

    /// Stops the server (SIGTERM, then a wait) and starts it again on the same data directory.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Sends SIGTERM and waits for the process to exit; returns whether it exited successfully.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return status.success(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return false;
                }
            }
        }
    }

    /// Kills the server without letting it clean up (as a crash would), and starts it again on the
    /// same data directory and invoker name.
    pub fn crash_and_restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.spawn();
    }

    /// The names of the containers this server's invoker owns, from Docker.
    pub fn containers(&self) -> Vec<String> {
        let out = Command::new("docker")
            .args(["ps", "-a", "--format", "{{.Names}} {{.State}}", "--filter"])
            .arg(format!("label=owl.invoker={}", self.invoker_id))
            .output()
            .expect("docker runs (scripts/test starts the engine)");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Runs `owl admin ARGS` on this server's data directory (as an operator would, while it runs)
    /// and answers what it printed; a failure fails the test with what it said.
    pub fn admin(&self, args: &[&str]) -> String {
        let out = Command::new(binary())
            .arg("admin")
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .args(args)
            .output()
            .expect("owl admin runs");
        assert!(
            out.status.success(),
            "owl admin {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn client(&self, key: &str) -> crate::Client {
        crate::Client::new(&self.base, Some(key))
    }

    pub fn guest(&self) -> crate::Client {
        self.client(crate::GUEST_KEY)
    }

    pub fn anonymous(&self) -> crate::Client {
        crate::Client::new(&self.base, None)
    }
}

impl Drop for Owl {
    /// Stops the server as a user would (SIGTERM: its invoker removes its containers), then removes
    /// whatever a crash test left behind.
    fn drop(&mut self) {
        self.stop();
        let ids = Command::new("docker")
            .args(["ps", "-aq", "--filter"])
            .arg(format!("label=owl.invoker={}", self.invoker_id))
            .output();
        if let Ok(out) = ids {
            let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_string)
                .collect();
            if !ids.is_empty() {
                let _ = Command::new("docker")
                    .args(["rm", "-f"])
                    .args(&ids)
                    .output();
            }
        }
    }
}
