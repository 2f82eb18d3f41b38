//! Starts the real `owl` binary for a test, in the topology the test run asks for.
//!
//! - standalone (the default): one `owl standalone` with its own data directory.
//! - distributed (`OWL_TEST_TOPOLOGY=distributed`): two `owl controller`s and two `owl invoker`s
//!   on the RabbitMQ broker and CouchDB-compatible server named by `OWL_TEST_AMQP_URL` and
//!   `OWL_TEST_COUCH_URL` (scripts/test starts both), with databases of their own (a prefix per
//!   server) and names of their own, so that tests run side by side. Requests go to the first
//!   controller; [`Owl::bases`] names every one.
//!
//! The binary is `$OWL_BIN`, else `target/debug/owl` of this workspace; the test command builds it
//! first. A missing binary or service fails the test with a message saying what to do: never a skip.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which processes make up the server under test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topology {
    Standalone,
    Distributed { amqp: String, couch: String },
}

impl Topology {
    /// The one this test run asks for.
    pub fn from_env() -> Topology {
        match std::env::var("OWL_TEST_TOPOLOGY").as_deref() {
            Ok("distributed") => {
                let need = |var: &str| {
                    std::env::var(var).unwrap_or_else(|_| {
                        panic!(
                            "OWL_TEST_TOPOLOGY=distributed needs {var}: scripts/test starts RabbitMQ \
                             (scripts/services/rabbitmq) and the CouchDB-compatible server \
                             (scripts/services/couch/run) and sets it"
                        )
                    })
                };
                Topology::Distributed {
                    amqp: need("OWL_TEST_AMQP_URL"),
                    couch: need("OWL_TEST_COUCH_URL"),
                }
            }
            Ok("standalone") | Err(_) => Topology::Standalone,
            Ok(other) => panic!("OWL_TEST_TOPOLOGY={other}: expected standalone or distributed"),
        }
    }
}

/// One process of the server: what it is, and how to start it again.
struct Process {
    role: Role,
    child: Option<Child>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Standalone,
    Controller(usize),
    Invoker(usize),
}

pub struct Owl {
    processes: Vec<Process>,
    /// The first controller (or the standalone server).
    pub base: String,
    /// Every controller, in order (one in standalone).
    pub bases: Vec<String>,
    pub data_dir: tempfile::TempDir,
    /// The first invoker's name: unique per server, so servers of parallel tests leave each other's
    /// containers alone (each removes the leftovers of its own name at start).
    pub invoker_id: String,
    pub topology: Topology,
    tag: String,
    extra: Vec<String>,
    /// The port each controller listens on, kept across restarts.
    ports: Vec<u16>,
    invokers: usize,
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

/// The flags of `owl standalone` that the tests use, as they split between controller and invoker.
fn split_flags(flags: &[String]) -> (Vec<String>, Vec<String>, bool) {
    let (mut controller, mut invoker, mut no_invoker) = (vec![], vec![], false);
    let mut i = 0;
    while i < flags.len() {
        let f = flags[i].as_str();
        let value = || flags.get(i + 1).cloned().expect("a flag's value");
        match f {
            "--no-invoker" => no_invoker = true,
            "--no-prewarm" => invoker.push(f.to_string()),
            "--user-memory"
            | "--pause-grace"
            | "--idle-timeout"
            | "--container-address"
            | "--drain-grace" => {
                invoker.extend([f.to_string(), value()]);
                i += 1;
            }
            "--alarm-misfire-grace"
            | "--header-timeout"
            | "--body-timeout"
            | "--keep-alive"
            | "--max-connections" => {
                controller.extend([f.to_string(), value()]);
                i += 1;
            }
            "--max-action-concurrency" | "--runtimes" => {
                controller.extend([f.to_string(), value()]);
                invoker.extend([f.to_string(), value()]);
                i += 1;
            }
            other => panic!("the distributed topology does not know how to pass {other}"),
        }
        i += 1;
    }
    (controller, invoker, no_invoker)
}

/// Docker's bridge gateway: where the invokers' containers reach the controllers. An engine may
/// leave the gateway out of the network's description (seen with a `docker0` that outlived its
/// engine); the gateway is then the subnet's first host, as the invoker reads it.
fn bridge_gateway() -> String {
    let inspect = |field: &str| {
        let out = Command::new("docker")
            .args([
                "network",
                "inspect",
                "bridge",
                "-f",
                &format!("{{{{(index .IPAM.Config 0).{field}}}}}"),
            ])
            .output()
            .expect("docker runs (scripts/test starts the engine)");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let gw = inspect("Gateway");
    if !gw.is_empty() {
        return gw;
    }
    let subnet = inspect("Subnet");
    let first_host = subnet
        .split_once('/')
        .and_then(|(net, _)| net.parse::<std::net::Ipv4Addr>().ok())
        .map(|net| std::net::Ipv4Addr::from(u32::from(net) + 1).to_string());
    first_host
        .unwrap_or_else(|| panic!("Docker's bridge network has no gateway (subnet {subnet:?})"))
}

/// Reads `child`'s stdout until a line starting with `prefix`; answers the rest of that line.
fn await_line(child: &mut Child, prefix: &'static str, within: Duration) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix(prefix) {
                let _ = tx.send(rest.trim().to_string());
            }
        }
    });
    rx.recv_timeout(within)
        .unwrap_or_else(|_| panic!("owl printed no '{prefix}' line within {within:?}"))
}

impl Owl {
    /// A fresh server with empty storage and invokers without prewarmed containers.
    pub fn start() -> Owl {
        Owl::start_with(&["--no-prewarm"])
    }

    /// A fresh server with these extra `owl standalone` flags (split between controllers and
    /// invokers in the distributed topology).
    pub fn start_with(flags: &[&str]) -> Owl {
        Owl::start_on(Topology::from_env(), flags)
    }

    /// Two controllers and two invokers on the broker and store of this test run, whatever
    /// topology the run asks for.
    pub fn start_distributed(flags: &[&str]) -> Owl {
        let topology = match Topology::from_env() {
            Topology::Standalone => {
                let need = |var: &str| {
                    std::env::var(var).unwrap_or_else(|_| {
                        panic!("{var} is not set: scripts/test starts the services and sets it")
                    })
                };
                Topology::Distributed {
                    amqp: need("OWL_TEST_AMQP_URL"),
                    couch: need("OWL_TEST_COUCH_URL"),
                }
            }
            d => d,
        };
        Owl::start_on(topology, flags)
    }

    /// A fresh server with one invoker in either topology, for tests of one invoker's pool (how
    /// many containers it starts, its memory, its stem cells).
    pub fn start_with_one_invoker(flags: &[&str]) -> Owl {
        Owl::start_on_invokers(Topology::from_env(), flags, 1)
    }

    /// A fresh server of `topology` with these extra `owl standalone` flags.
    pub fn start_on(topology: Topology, flags: &[&str]) -> Owl {
        Owl::start_on_invokers(topology, flags, 2)
    }

    fn start_on_invokers(topology: Topology, flags: &[&str], invokers: usize) -> Owl {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tag = format!("test{}x{n}", std::process::id());
        let extra: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        let (invoker_id, invokers) = match topology {
            Topology::Standalone => (tag.clone(), 1),
            Topology::Distributed { .. } => {
                let none = split_flags(&extra).2;
                (format!("{tag}i0"), if none { 0 } else { invokers })
            }
        };
        let mut owl = Owl {
            processes: vec![],
            base: String::new(),
            bases: vec![],
            data_dir: tempfile::tempdir().expect("a temporary data directory"),
            invoker_id,
            topology,
            tag,
            extra,
            ports: vec![],
            invokers,
        };
        owl.spawn();
        owl
    }

    pub fn is_distributed(&self) -> bool {
        matches!(self.topology, Topology::Distributed { .. })
    }

    /// The names of this server's invokers.
    pub fn invoker_ids(&self) -> Vec<String> {
        match self.topology {
            Topology::Standalone => vec![self.invoker_id.clone()],
            Topology::Distributed { .. } => (0..self.invokers)
                .map(|i| format!("{}i{i}", self.tag))
                .collect(),
        }
    }

    /// The database prefix of this server's databases (distributed topology).
    pub fn db_prefix(&self) -> String {
        format!("{}_", self.tag)
    }

    fn spawn(&mut self) {
        let bin = binary();
        assert!(
            bin.exists(),
            "the owl binary is missing at {}: build it with `cargo build --bin owl` (scripts/test does)",
            bin.display()
        );
        match self.topology.clone() {
            Topology::Standalone => {
                let mut child = Command::new(&bin)
                    .args([
                        "standalone",
                        "--port",
                        "0",
                        "--workers",
                        "2",
                        "--invoker-id",
                    ])
                    .arg(&self.invoker_id)
                    .arg("--data-dir")
                    .arg(self.data_dir.path())
                    .args(&self.extra)
                    .env("OWL_LOG", "warn")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .expect("owl starts");
                self.base = await_line(
                    &mut child,
                    "owl standalone listening on ",
                    Duration::from_secs(20),
                );
                self.bases = vec![self.base.clone()];
                self.processes = vec![Process {
                    role: Role::Standalone,
                    child: Some(child),
                }];
            }
            Topology::Distributed { amqp, couch } => {
                let (controller_flags, mut invoker_flags, _) = split_flags(&self.extra);
                if !invoker_flags.iter().any(|f| f == "--drain-grace") {
                    // Tests stop their servers often: a short drain.
                    invoker_flags.extend(["--drain-grace".into(), "5".into()]);
                }
                let gateway = bridge_gateway();
                self.processes.clear();
                self.bases.clear();
                for c in 0..2 {
                    let port = self.ports.get(c).copied().unwrap_or(0);
                    let mut child = self
                        .process_command(&bin, &amqp, &couch)
                        .arg("controller")
                        .arg("--controller-id")
                        .arg(format!("{}c{c}", self.tag))
                        .arg("--bind")
                        .arg(format!("127.0.0.1,{gateway}"))
                        .args(["--port", &port.to_string(), "--workers", "2"])
                        .args(&controller_flags)
                        .spawn()
                        .expect("owl controller starts");
                    let line = await_line(&mut child, "owl controller ", Duration::from_secs(30));
                    let url = line
                        .split(" listening on ")
                        .nth(1)
                        .expect("the controller's address")
                        .to_string();
                    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
                    if self.ports.len() <= c {
                        self.ports.push(port);
                    }
                    self.bases.push(url);
                    self.processes.push(Process {
                        role: Role::Controller(c),
                        child: Some(child),
                    });
                }
                self.base = self.bases[0].clone();
                for (i, id) in self.invoker_ids().into_iter().enumerate() {
                    let api_host = format!("http://{gateway}:{}", self.ports[i % self.ports.len()]);
                    let mut child = self
                        .process_command(&bin, &amqp, &couch)
                        .args(["invoker", "--invoker-id", &id, "--api-host", &api_host])
                        .args(&invoker_flags)
                        .spawn()
                        .expect("owl invoker starts");
                    await_line(&mut child, "owl invoker ", Duration::from_secs(120));
                    self.processes.push(Process {
                        role: Role::Invoker(i),
                        child: Some(child),
                    });
                }
                self.await_invokers(self.invokers);
            }
        }
    }

    /// A controller's or invoker's command: this server's broker, store, databases and queue names,
    /// its address read from stdout.
    fn process_command(&self, bin: &std::path::Path, amqp: &str, couch: &str) -> Command {
        let mut cmd = Command::new(bin);
        cmd.env("OWL_AMQP_URL", amqp)
            .env("OWL_COUCH_URL", couch)
            .env("OWL_DB_PREFIX", self.db_prefix())
            .env("OWL_QUEUE_SCOPE", &self.tag)
            .env("OWL_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        cmd
    }

    /// Waits until every controller hears `count` healthy invokers.
    pub fn await_invokers(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for base in &self.bases {
            loop {
                let healthy = ureq::get(&format!("{base}/invokers/healthy/count"))
                    .call()
                    .ok()
                    .and_then(|mut r| r.body_mut().read_to_string().ok())
                    .and_then(|s| s.trim().parse::<usize>().ok());
                if healthy == Some(count) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{base} hears {healthy:?} healthy invokers, not {count}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Stops the server (SIGTERM, then a wait) and starts it again on the same storage.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Sends SIGTERM to every process and waits for them to exit; answers whether all exited
    /// successfully.
    pub fn stop(&mut self) -> bool {
        let mut ok = true;
        // Controllers first (they stop sending), then invokers (they drain).
        for p in &mut self.processes {
            ok &= terminate(p.child.take());
        }
        ok
    }

    /// Kills every process without letting it clean up (as a crash would), and starts them again
    /// on the same storage and names.
    pub fn crash_and_restart(&mut self) {
        for p in &mut self.processes {
            if let Some(mut c) = p.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        self.spawn();
    }

    /// Kills one invoker (`kill -9`) and leaves it dead: its PID was its own.
    pub fn kill_invoker(&mut self, index: usize) {
        self.kill(Role::Invoker(index));
    }

    /// Kills one controller (`kill -9`) and leaves it dead.
    pub fn kill_controller(&mut self, index: usize) {
        self.kill(Role::Controller(index));
    }

    fn kill(&mut self, role: Role) {
        let p = self
            .processes
            .iter_mut()
            .find(|p| p.role == role)
            .unwrap_or_else(|| panic!("no {role:?} runs"));
        if let Some(mut c) = p.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM to one invoker and waits for it to exit (it drains first).
    pub fn stop_invoker(&mut self, index: usize) -> bool {
        let p = self
            .processes
            .iter_mut()
            .find(|p| p.role == Role::Invoker(index))
            .expect("the invoker runs");
        terminate(p.child.take())
    }

    /// The names of the containers this server's invokers own, from Docker.
    pub fn containers(&self) -> Vec<String> {
        self.invoker_ids()
            .iter()
            .flat_map(|id| {
                let out = Command::new("docker")
                    .args(["ps", "-a", "--format", "{{.Names}} {{.State}}", "--filter"])
                    .arg(format!("label=owl.invoker={id}"))
                    .output()
                    .expect("docker runs (scripts/test starts the engine)");
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The `owl admin` command on this server's storage (its data directory, or its CouchDB
    /// databases).
    pub fn admin_command(&self) -> Command {
        let mut cmd = Command::new(binary());
        cmd.arg("admin");
        match &self.topology {
            Topology::Standalone => {
                cmd.arg("--data-dir").arg(self.data_dir.path());
            }
            Topology::Distributed { couch, .. } => {
                cmd.args(["--couch-url", couch, "--db-prefix", &self.db_prefix()]);
            }
        }
        cmd
    }

    /// Runs `owl admin ARGS` on this server's storage (as an operator would, while it runs) and
    /// answers what it printed; a failure fails the test with what it said.
    pub fn admin(&self, args: &[&str]) -> String {
        let out = self
            .admin_command()
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

    /// Sets limits of the guest namespace with `owl admin namespace set-limits` and waits until every
    /// controller answers them at `/limits`: each `(flag, field, value)` is the admin flag, the
    /// field of the `/limits` answer and its value.
    pub fn set_guest_limits(&self, limits: &[(&str, &str, u64)], within: Duration) {
        let values: Vec<String> = limits.iter().map(|(_, _, v)| v.to_string()).collect();
        let mut args = vec!["namespace", "set-limits", "guest"];
        for ((flag, _, _), v) in limits.iter().zip(&values) {
            args.extend([*flag, v.as_str()]);
        }
        self.admin(&args);
        for i in 0..self.bases.len() {
            let c = self.client_of(i, crate::GUEST_KEY);
            let deadline = Instant::now() + within;
            loop {
                let seen = c.get("/api/v1/namespaces/_/limits").body;
                if limits.iter().all(|(_, field, v)| seen[*field] == *v) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "controller {i} does not answer the limits {limits:?} within {within:?}: {seen}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    pub fn client(&self, key: &str) -> crate::Client {
        crate::Client::new(&self.base, Some(key))
    }

    /// A client of the `index`th controller.
    pub fn client_of(&self, index: usize, key: &str) -> crate::Client {
        crate::Client::new(&self.bases[index], Some(key))
    }

    pub fn guest(&self) -> crate::Client {
        self.client(crate::GUEST_KEY)
    }

    pub fn anonymous(&self) -> crate::Client {
        crate::Client::new(&self.base, None)
    }
}

/// SIGTERM, then up to 15 s for the exit (SIGKILL after); answers whether it exited successfully.
fn terminate(child: Option<Child>) -> bool {
    let Some(mut child) = child else {
        return true;
    };
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

impl Drop for Owl {
    /// Stops the server as a user would (SIGTERM: its invokers remove their containers), then
    /// removes whatever a crash test left behind, and its databases.
    fn drop(&mut self) {
        self.stop();
        for id in self.invoker_ids() {
            let ids = Command::new("docker")
                .args(["ps", "-aq", "--filter"])
                .arg(format!("label=owl.invoker={id}"))
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
        if let Topology::Distributed { couch, .. } = &self.topology {
            for db in ["whisks", "subjects", "activations", "services"] {
                let _ = ureq::delete(&format!("{couch}/{}{db}", self.db_prefix())).call();
            }
        }
    }
}

impl Owl {
    /// Whether every process of this server still runs: none has exited or died since it started
    /// (one stopped or killed by the test counts as not running).
    pub fn is_running(&mut self) -> bool {
        self.processes.iter_mut().all(|p| {
            p.child
                .as_mut()
                .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
        })
    }
}
