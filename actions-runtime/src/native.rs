//! Native actions: an executable at `<action dir>/exec`, started once per activation with the
//! parameters as its JSON argument (and on stdin). Its last line on stdout is the result; the lines
//! before it, and its stderr, are logs.

use std::path::Path;
use std::process::Stdio;

use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// Arguments longer than this are given on stdin only (the kernel's limit on one argument).
pub const MAX_ARGUMENT: usize = 131_071;

/// Runs the executable for one activation. `context` holds the `/run` body's other fields, which
/// become `__OW_<KEY>` variables. Returns the result line, or why there is none.
pub async fn run(
    exec: &Path,
    value: &Value,
    context: &Map<String, Value>,
    env: &Map<String, Value>,
) -> Result<String, String> {
    let args = value.to_string();
    let mut cmd = Command::new(exec);
    if args.len() <= MAX_ARGUMENT {
        cmd.arg(&args);
    }
    if let Some(dir) = exec.parent() {
        cmd.current_dir(dir);
    }
    for (k, v) in env {
        cmd.env(k, env_value(v));
    }
    for (k, v) in context {
        cmd.env(format!("__OW_{}", k.to_uppercase()), env_value(v));
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start the action: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // The action may not read its stdin; a closed pipe is not an error.
        let _ = stdin.write_all(args.as_bytes()).await;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| format!("the action failed: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines: Vec<&str> = text.lines().collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    let last = lines.pop().unwrap_or("");
    {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        for l in lines {
            let _ = writeln!(stdout, "{l}");
        }
        let _ = stdout.flush();
    }
    Ok(last.to_string())
}

/// An environment variable's text: strings as they are, anything else as JSON.
pub fn env_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
