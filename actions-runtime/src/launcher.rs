//! The long-lived process of an action: a launcher of ours for a language (Node.js, Python, Java,
//! PHP, Ruby), or an executable that speaks OpenWhisk's actionloop protocol itself (Go's, and
//! upstream's precompiled actions).
//!
//! The proxy starts the language's launcher once, at `/init`, with the action's directory, entry point
//! and environment. The launcher loads the action and acknowledges on file descriptor 3 with
//! `{"ok":true}`, or `{"error": ...}` if it could not load it (with `"stage": "build"` when the code
//! cannot be built at all, such as Python that does not parse), or exits (the action's code exited
//! or raised while it was loaded: Python's launcher lets it, as upstream's does). Then, for each activation, the proxy
//! writes `<tag>\t<the /run body>` as one line on the launcher's stdin, and the launcher writes
//! `<tag>\t<the result>` as one line on descriptor 3. The action's own stdout and stderr are the
//! container's: they are its logs. This is OpenWhisk's actionloop protocol with a tag on each line,
//! so a warm run costs two pipe writes and no process start, and several runs may be in flight at
//! once (the Node.js launcher runs them concurrently; the others answer them in order).
//!
//! An actionloop executable speaks the same protocol without tags, as upstream's actionloop proxy
//! speaks to it: it acknowledges (when started with `__OW_WAIT_FOR_ACK`), then answers each line
//! with one line, one run at a time.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use command_fds::{CommandFdExt, FdMapping};
use serde_json::{Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{Mutex, oneshot};

use crate::config::Config;

/// How long a process whose result pipe closed may take to exit before it is killed.
const EXIT_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// A result line with only this key is a failure of the action to run (a thrown exception in Node.js,
/// which OpenWhisk reports as a developer error), not a result.
pub const DEVELOPER_ERROR_KEY: &str = "__owl_developer_error";

/// A launcher before its acknowledgement: lines are read in turn, untagged.
pub struct Launcher {
    child: Child,
    stdin: ChildStdin,
    results: BufReader<pipe::Receiver>,
    /// Lines carry tags (our launchers), or not (actionloop executables).
    tagged: bool,
}

/// Runs waiting for their result line, by tag (untagged lines answer the oldest). `None` once the
/// process's result pipe closed.
type Pending = Arc<std::sync::Mutex<Option<BTreeMap<u64, oneshot::Sender<String>>>>>;

/// A loaded launcher: runs are written under a lock, and one task reads the result lines and hands
/// each to the run whose tag it carries.
pub struct Running {
    stdin: Mutex<ChildStdin>,
    pending: Pending,
    next: AtomicU64,
    tagged: bool,
    /// Kept so that the process is killed when the launcher is dropped.
    child: Mutex<Child>,
}

/// Why a launcher did not acknowledge its action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadFailure {
    /// The launcher could not load the action, and says why (Node.js: the error and its stack).
    Refused(String),
    /// The action's code cannot be built: it does not parse, or a zip lacks its entry file (Python).
    Build(String),
    /// The process exited before it acknowledged.
    Exited,
    /// The kernel killed it for using more memory than the container may.
    OutOfMemory,
    /// The launcher could not be started or spoken to.
    Internal(String),
}

impl std::fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadFailure::Refused(s) | LoadFailure::Build(s) | LoadFailure::Internal(s) => {
                f.write_str(s)
            }
            LoadFailure::Exited => f.write_str("the action's process exited during initialization"),
            LoadFailure::OutOfMemory => f.write_str("the action's process ran out of memory"),
        }
    }
}

/// How a run ended when it did not produce a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunFailure {
    /// The process exited (the action called `process.exit`, crashed, or was killed).
    Exited,
    /// The kernel killed it for using more memory than the container may.
    OutOfMemory,
}

/// How many processes of this container's memory cgroup the kernel killed for memory (cgroup v2's
/// `memory.events`, or v1's `memory.oom_control`); 0 when neither can be read.
pub fn oom_kills() -> u64 {
    for path in [
        "/sys/fs/cgroup/memory.events",
        "/sys/fs/cgroup/memory/memory.oom_control",
    ] {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Some(n) = text.lines().find_map(|l| l.strip_prefix("oom_kill "))
        {
            return n.trim().parse().unwrap_or(0);
        }
    }
    0
}

impl Launcher {
    /// Starts the launcher for the action in `dir` and waits for its acknowledgement.
    /// `file` is the source file for plain code; absent for an unpacked zip.
    pub async fn start(
        config: &Config,
        dir: &Path,
        main: &str,
        file: Option<&Path>,
        env: &Map<String, Value>,
    ) -> Result<Running, LoadFailure> {
        let mut vars = vec![
            ("OW_ACTION_DIR".to_string(), dir.display().to_string()),
            ("OW_ACTION_MAIN".into(), main.into()),
        ];
        if let Some(f) = file {
            vars.push(("OW_ACTION_FILE".into(), f.display().to_string()));
        }
        vars.extend(env_vars(env));
        let ooms = oom_kills();
        let mut launcher =
            Self::spawn_launcher(config, dir, vars).map_err(LoadFailure::Internal)?;
        launcher.acknowledged(ooms).await?;
        Ok(launcher.running())
    }

    /// Starts an actionloop executable in `dir` with the action's environment, and waits for its
    /// acknowledgement when the configuration asks for one.
    pub async fn start_exec(
        config: &Config,
        exec: &Path,
        dir: &Path,
        env: &Map<String, Value>,
    ) -> Result<Running, LoadFailure> {
        let mut vars: Vec<(String, String)> = env_vars(env).collect();
        if config.wait_for_ack {
            vars.push(("__OW_WAIT_FOR_ACK".into(), "1".into()));
        }
        let ooms = oom_kills();
        let mut launcher = Self::spawn(exec.as_os_str().into(), vec![], dir, vars, false)
            .map_err(LoadFailure::Internal)?;
        if config.wait_for_ack {
            launcher.acknowledged(ooms).await?;
        }
        Ok(launcher.running())
    }

    /// Starts the launcher before any action is known, so the language's own start-up is paid
    /// when the container starts, not at `/init`: it waits for one line naming its action.
    pub fn standby(config: &Config) -> Result<Launcher, String> {
        std::fs::create_dir_all(&config.action_dir).map_err(|e| e.to_string())?;
        Self::spawn_launcher(
            config,
            &config.action_dir,
            vec![("OW_STANDBY".into(), "1".into())],
        )
    }

    /// Hands a standby launcher its action, and waits for the acknowledgement.
    pub async fn load(
        mut self,
        dir: &Path,
        main: &str,
        file: Option<&Path>,
        env: &Map<String, Value>,
    ) -> Result<Running, LoadFailure> {
        let ooms = oom_kills();
        let line =
            serde_json::json!({"dir": dir, "main": main, "file": file, "env": env}).to_string();
        if self.send(&line).await.is_err() {
            return Err(LoadFailure::Internal("the waiting launcher is gone".into()));
        }
        self.acknowledged(ooms).await?;
        Ok(self.running())
    }

    /// Has the process exited (a standby launcher that died is of no use)?
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// The language's launcher: `<interpreter> <interpreter args> <launcher>`.
    fn spawn_launcher(
        config: &Config,
        cwd: &Path,
        mut vars: Vec<(String, String)>,
    ) -> Result<Launcher, String> {
        let mut args: Vec<OsString> = config.interpreter_args.iter().map(Into::into).collect();
        args.push(config.launcher.clone().into());
        vars.push(("__OW_WAIT_FOR_ACK".into(), "1".into()));
        Self::spawn(config.interpreter.clone().into(), args, cwd, vars, true)
    }

    fn spawn(
        program: OsString,
        args: Vec<OsString>,
        cwd: &Path,
        vars: Vec<(String, String)>,
        tagged: bool,
    ) -> Result<Launcher, String> {
        let (reader, writer) = std::io::pipe().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&program);
        cmd.args(args)
            .current_dir(cwd)
            .envs(vars)
            .stdin(Stdio::piped())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        cmd.fd_mappings(vec![FdMapping {
            parent_fd: writer.into(),
            child_fd: 3,
        }])
        .map_err(|e| e.to_string())?;
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.to_string_lossy()))?;
        // The command holds the parent's copy of the result pipe's write end: close it, so that the
        // read end sees end-of-file when the child exits.
        drop(cmd);
        let stdin = child.stdin.take().ok_or("the launcher has no stdin")?;
        let receiver = pipe::Receiver::from_owned_fd(reader.into()).map_err(|e| e.to_string())?;
        Ok(Launcher {
            child,
            stdin,
            results: BufReader::new(receiver),
            tagged,
        })
    }

    /// Waits for `{"ok":true}`; an `{"error": ...}` line or an exit is the load's failure.
    /// `ooms` is [`oom_kills`] before the load began.
    async fn acknowledged(&mut self, ooms: u64) -> Result<(), LoadFailure> {
        match self.read_line().await {
            Some(line) => match serde_json::from_str::<Value>(&line) {
                Ok(v) if v.get("ok") == Some(&Value::Bool(true)) => Ok(()),
                Ok(v) => {
                    let why = v
                        .get("error")
                        .and_then(Value::as_str)
                        .unwrap_or(&line)
                        .to_string();
                    Err(if v.get("stage").and_then(Value::as_str) == Some("build") {
                        LoadFailure::Build(why)
                    } else {
                        LoadFailure::Refused(why)
                    })
                }
                Err(_) => Err(LoadFailure::Internal(format!(
                    "the launcher answered '{line}' instead of an acknowledgement"
                ))),
            },
            None => {
                let _ = self.child.wait().await;
                Err(if oom_kills() > ooms {
                    LoadFailure::OutOfMemory
                } else {
                    LoadFailure::Exited
                })
            }
        }
    }

    async fn send(&mut self, line: &str) -> std::io::Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.stdin.write_all(&bytes).await?;
        self.stdin.flush().await
    }

    async fn read_line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.results.read_line(&mut line).await {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\n', '\r']).to_string()),
        }
    }

    /// From here on a task reads the result lines and wakes their runs: by tag, or (untagged) the
    /// oldest waiting.
    fn running(self) -> Running {
        let pending: Pending = Arc::new(std::sync::Mutex::new(Some(BTreeMap::new())));
        let mut results = self.results;
        let readers = pending.clone();
        let tagged = self.tagged;
        tokio::spawn(async move {
            let mut line = String::new();
            loop {
                line.clear();
                match results.read_line(&mut line).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let text = line.trim_end_matches(['\n', '\r']);
                let (waiter, result, last) = if tagged {
                    let Some((tag, result)) = text.split_once('\t') else {
                        continue;
                    };
                    // `<tag>!`: the launcher's last answer before it exits (a PHP fatal error).
                    let (tag, last) = match tag.strip_suffix('!') {
                        Some(t) => (t, true),
                        None => (tag, false),
                    };
                    let Ok(tag) = tag.parse::<u64>() else {
                        continue;
                    };
                    (
                        lock(&readers).as_mut().and_then(|p| p.remove(&tag)),
                        result,
                        last,
                    )
                } else {
                    let oldest = lock(&readers).as_mut().and_then(|p| p.pop_first());
                    (oldest.map(|(_, tx)| tx), text, false)
                };
                if last {
                    // The process is going: no later run may be written to it.
                    lock(&readers).take();
                }
                if let Some(tx) = waiter {
                    let _ = tx.send(result.to_string());
                }
                if last {
                    break;
                }
            }
            // The process is gone: every run still waiting has failed, and later ones fail at once.
            lock(&readers).take();
        });
        Running {
            stdin: Mutex::new(self.stdin),
            pending,
            next: AtomicU64::new(0),
            tagged,
            child: Mutex::new(self.child),
        }
    }
}

/// The `/init` environment as process variables (strings as they are, anything else as JSON).
fn env_vars(env: &Map<String, Value>) -> impl Iterator<Item = (String, String)> + '_ {
    env.iter()
        .map(|(k, v)| (k.clone(), crate::native::env_value(v)))
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Running {
    /// Sends one activation (a JSON text without newlines) and waits for its result line.
    pub async fn run(&self, line: &str) -> Result<String, RunFailure> {
        let ooms = oom_kills();
        let r = self.exchange(line).await;
        if r.is_err() {
            // The result pipe closed: let the process finish dying (a Go panic closes it before
            // its trace is written) rather than kill it mid-sentence when it is dropped.
            let mut child = self.child.lock().await;
            let _ = tokio::time::timeout(EXIT_GRACE, child.wait()).await;
            if oom_kills() > ooms {
                return Err(RunFailure::OutOfMemory);
            }
        }
        r
    }

    /// Has the process exited (its result pipe closed)?
    pub fn exited(&self) -> bool {
        lock(&self.pending).is_none()
    }

    async fn exchange(&self, line: &str) -> Result<String, RunFailure> {
        let tag = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        match lock(&self.pending).as_mut() {
            Some(p) => p.insert(tag, tx),
            None => return Err(RunFailure::Exited),
        };
        let mut bytes = Vec::with_capacity(line.len() + 22);
        if self.tagged {
            bytes.extend_from_slice(tag.to_string().as_bytes());
            bytes.push(b'\t');
        }
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        let written = {
            let mut stdin = self.stdin.lock().await;
            match stdin.write_all(&bytes).await {
                Ok(()) => stdin.flush().await,
                Err(e) => Err(e),
            }
        };
        if written.is_err() {
            if let Some(p) = lock(&self.pending).as_mut() {
                p.remove(&tag);
            }
            return Err(RunFailure::Exited);
        }
        rx.await.map_err(|_| RunFailure::Exited)
    }
}
