//! The long-lived language process of a Node.js or Python action.
//!
//! The proxy starts the language's launcher once, at `/init`, with the action's directory, entry point
//! and environment. The launcher loads the action and acknowledges on file descriptor 3 with
//! `{"ok":true}` (or `{"error": ...}` if it could not load it). Then, for each activation, the proxy
//! writes the `/run` body as one line on the launcher's stdin, and the launcher writes the result as
//! one line on descriptor 3. The action's own stdout and stderr are the container's: they are its logs.
//! This is OpenWhisk's actionloop protocol, so a warm run costs two pipe writes and no process start.

use std::path::Path;
use std::process::Stdio;

use command_fds::{CommandFdExt, FdMapping};
use serde_json::{Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio::process::{Child, ChildStdin, Command};

use crate::config::Config;

/// A result line with only this key is a failure of the action to run (a thrown exception in Node.js,
/// which OpenWhisk reports as a developer error), not a result.
pub const DEVELOPER_ERROR_KEY: &str = "__owl_developer_error";

pub struct Launcher {
    child: Child,
    stdin: ChildStdin,
    results: BufReader<pipe::Receiver>,
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
    ) -> Result<Launcher, String> {
        let mut vars = vec![
            ("OW_ACTION_DIR".to_string(), dir.display().to_string()),
            ("OW_ACTION_MAIN".into(), main.into()),
        ];
        if let Some(f) = file {
            vars.push(("OW_ACTION_FILE".into(), f.display().to_string()));
        }
        vars.extend(
            env.iter()
                .map(|(k, v)| (k.clone(), crate::native::env_value(v))),
        );
        let mut launcher = Self::spawn(config, dir, vars)?;
        launcher.acknowledged().await?;
        Ok(launcher)
    }

    /// Starts the launcher before any action is known, so the language's own start-up is paid
    /// when the container starts, not at `/init`: it waits for one line naming its action.
    pub fn standby(config: &Config) -> Result<Launcher, String> {
        std::fs::create_dir_all(&config.action_dir).map_err(|e| e.to_string())?;
        Self::spawn(
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
    ) -> Result<Launcher, String> {
        let line =
            serde_json::json!({"dir": dir, "main": main, "file": file, "env": env}).to_string();
        if self.send(&line).await.is_err() {
            return Err("the waiting launcher is gone".into());
        }
        self.acknowledged().await?;
        Ok(self)
    }

    /// Has the process exited (a standby launcher that died is of no use)?
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    fn spawn(config: &Config, cwd: &Path, vars: Vec<(String, String)>) -> Result<Launcher, String> {
        let (reader, writer) = std::io::pipe().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&config.interpreter);
        cmd.arg(&config.launcher)
            .current_dir(cwd)
            .env("__OW_WAIT_FOR_ACK", "1")
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
            .map_err(|e| format!("cannot start {}: {e}", config.interpreter))?;
        // The command holds the parent's copy of the result pipe's write end: close it, so that the
        // read end sees end-of-file when the child exits.
        drop(cmd);
        let stdin = child.stdin.take().ok_or("the launcher has no stdin")?;
        let receiver = pipe::Receiver::from_owned_fd(reader.into()).map_err(|e| e.to_string())?;
        Ok(Launcher {
            child,
            stdin,
            results: BufReader::new(receiver),
        })
    }

    /// Waits for `{"ok":true}`; an `{"error": ...}` line or an exit is the load's failure.
    async fn acknowledged(&mut self) -> Result<(), String> {
        match self.read_line().await {
            Some(line) => match serde_json::from_str::<Value>(&line) {
                Ok(v) if v.get("ok") == Some(&Value::Bool(true)) => Ok(()),
                Ok(v) => Err(v
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or(&line)
                    .to_string()),
                Err(_) => Err(format!(
                    "the launcher answered '{line}' instead of an acknowledgement"
                )),
            },
            None => {
                let status = self
                    .child
                    .wait()
                    .await
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                Err(format!(
                    "the action's process exited during initialization ({status})"
                ))
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

    /// Sends one activation (a JSON text without newlines) and waits for its result line.
    pub async fn run(&mut self, line: &str) -> Result<String, RunFailure> {
        let ooms = oom_kills();
        let r = self.exchange(line).await;
        if r.is_err() && oom_kills() > ooms {
            return Err(RunFailure::OutOfMemory);
        }
        r
    }

    async fn exchange(&mut self, line: &str) -> Result<String, RunFailure> {
        if self.send(line).await.is_err() {
            return Err(RunFailure::Exited);
        }
        self.read_line().await.ok_or(RunFailure::Exited)
    }
}
