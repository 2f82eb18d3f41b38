//! What this container runs, read once from its environment (set by its image's Dockerfile).
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `OW_RUNTIME` | `nodejs`, `python` or `native` | `native` |
//! | `OW_PORT` | port to listen on | `8080` |
//! | `OW_BIND` | address to listen on (all interfaces: the network is the container's) | `0.0.0.0` |
//! | `OW_ACTION_DIR` | where the action's code is written or unpacked | `/action` |
//! | `OW_LAUNCHER` | the launcher script of the language | `/opt/owl/launcher.js` or `.py` |
//! | `OW_INTERPRETER` | the language's interpreter | `node` or `python3` |
//! | `__OW_ALLOW_CONCURRENT` | `true`: a Node.js action may serve overlapping runs (OpenWhisk's name; set by the invoker when the operator allows intra-container concurrency) | unset: one run at a time |

use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    NodeJs,
    Python,
    /// Any executable at `<action dir>/exec`, run once per activation.
    Native,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub runtime: Runtime,
    pub port: u16,
    pub bind: String,
    pub action_dir: PathBuf,
    pub launcher: PathBuf,
    pub interpreter: String,
    pub allow_concurrent: bool,
}

impl Config {
    /// Reads the configuration through `get`, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let runtime = match get("OW_RUNTIME").as_deref().unwrap_or("native") {
            "nodejs" => Runtime::NodeJs,
            "python" => Runtime::Python,
            "native" => Runtime::Native,
            other => {
                return Err(format!(
                    "OW_RUNTIME must be nodejs, python or native, not '{other}'"
                ));
            }
        };
        let port = match get("OW_PORT") {
            Some(p) => p
                .parse()
                .map_err(|_| format!("OW_PORT is not a port: '{p}'"))?,
            None => 8080,
        };
        let (launcher, interpreter) = match runtime {
            Runtime::NodeJs => ("/opt/owl/launcher.js", "node"),
            Runtime::Python => ("/opt/owl/launcher.py", "python3"),
            Runtime::Native => ("", ""),
        };
        Ok(Config {
            runtime,
            port,
            bind: get("OW_BIND").unwrap_or_else(|| "0.0.0.0".into()),
            action_dir: PathBuf::from(get("OW_ACTION_DIR").unwrap_or_else(|| "/action".into())),
            launcher: PathBuf::from(get("OW_LAUNCHER").unwrap_or_else(|| launcher.into())),
            interpreter: get("OW_INTERPRETER").unwrap_or_else(|| interpreter.into()),
            allow_concurrent: get("__OW_ALLOW_CONCURRENT").is_some_and(|v| v == "true"),
        })
    }
}
