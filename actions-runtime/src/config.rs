//! What this container runs, read once from its environment (set by its image's Dockerfile).
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `OW_RUNTIME` | `nodejs`, `python`, `java`, `php`, `ruby`, `go`, `actionloop` or `native` | `native` |
//! | `OW_PORT` | port to listen on | `8080` |
//! | `OW_BIND` | address to listen on (all interfaces: the network is the container's) | `0.0.0.0` |
//! | `OW_ACTION_DIR` | where the action's code is written or unpacked | `/action` |
//! | `OW_LAUNCHER` | the launcher of the language (a script, or Java's class) | `/opt/owl/launcher.<ext>` |
//! | `OW_INTERPRETER` | the language's interpreter | `node`, `python3`, `java`, `php`, `ruby` |
//! | `OW_INTERPRETER_ARGS` | arguments before the launcher, split at whitespace (Java's class path and flags) | none |
//! | `OW_COMPILER` | what builds an `actionloop` executable from source at `/init`: `<compiler> <main> <source dir> <binary dir>` | `/opt/owl/compile` for Go, none otherwise |
//! | `OW_LOG_INIT_ERROR` | actionloop flavour: a failed build is answered with upstream's general words and its details go to the log, as in upstream's images that set it (Python, Go); unset (PHP), the details are the answer | set but for PHP |
//! | `OW_WAIT_FOR_ACK` | actionloop flavour: the action's process acknowledges its start with `{"ok":true}` (upstream's name). Owl's launchers always do; unset (PHP, as upstream's image), a process that exits before it is answered with upstream's words for a start without acknowledgement | set but for PHP |
//! | `__OW_ALLOW_CONCURRENT` | `true`: a Node.js action may serve overlapping runs (OpenWhisk's name; set by the invoker when the operator allows intra-container concurrency) | unset: one run at a time |

use std::path::PathBuf;

/// The language a container runs. How its action is loaded:
///
/// - Node.js, Python, Java, PHP and Ruby: a launcher of ours (`crate::launcher`), started once,
///   loads the code and speaks the tagged line protocol;
/// - Go and `actionloop`: an executable speaking OpenWhisk's actionloop protocol itself, started
///   once: built from source at `/init` by the compiler (Go), or given as the action's code
///   (upstream's precompiled Go, Rust and Swift actions; any program that speaks the protocol);
/// - native: any executable, started once per run (the dockerskeleton's way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    NodeJs,
    Python,
    Java,
    Php,
    Ruby,
    Go,
    ActionLoop,
    Native,
}

/// Whose proxy upstream runs for a runtime, and so whose words and statuses Owl's answers take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// OpenWhisk's Node.js runtime (`core/nodejsActionBase`, an Express server).
    NodeJs,
    /// The actionloop proxy (openwhisk-runtime-go), in front of Python, PHP and Go.
    ActionLoop,
    /// The Java runtime's own proxy (openwhisk-runtime-java `core/java8`: `Proxy.java`).
    Java,
    /// The Ruby runtime's Rack application under Puma (openwhisk-runtime-ruby `core/ruby2.5Action`:
    /// `rackapp/`), which the `ruby:2.5` image runs.
    Rack,
    /// The dockerskeleton's Flask proxy (`actionproxy.py`), for native executables.
    Skeleton,
}

impl Runtime {
    pub fn flavor(self) -> Flavor {
        match self {
            Runtime::NodeJs => Flavor::NodeJs,
            Runtime::Python | Runtime::Php | Runtime::Go | Runtime::ActionLoop => {
                Flavor::ActionLoop
            }
            Runtime::Java => Flavor::Java,
            Runtime::Ruby => Flavor::Rack,
            Runtime::Native => Flavor::Skeleton,
        }
    }

    /// Is the action's code loaded by a launcher of ours?
    pub fn launched(self) -> bool {
        matches!(
            self,
            Runtime::NodeJs | Runtime::Python | Runtime::Java | Runtime::Php | Runtime::Ruby
        )
    }

    /// Is the action an executable speaking the actionloop protocol itself?
    pub fn actionloop(self) -> bool {
        matches!(self, Runtime::Go | Runtime::ActionLoop)
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub runtime: Runtime,
    pub port: u16,
    pub bind: String,
    pub action_dir: PathBuf,
    pub launcher: PathBuf,
    pub interpreter: String,
    pub interpreter_args: Vec<String>,
    pub compiler: Option<PathBuf>,
    pub wait_for_ack: bool,
    pub log_init_error: bool,
    pub allow_concurrent: bool,
}

impl Config {
    /// Reads the configuration through `get`, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let runtime = match get("OW_RUNTIME").as_deref().unwrap_or("native") {
            "nodejs" => Runtime::NodeJs,
            "python" => Runtime::Python,
            "java" => Runtime::Java,
            "php" => Runtime::Php,
            "ruby" => Runtime::Ruby,
            "go" => Runtime::Go,
            "actionloop" => Runtime::ActionLoop,
            "native" => Runtime::Native,
            other => {
                return Err(format!(
                    "OW_RUNTIME must be nodejs, python, java, php, ruby, go, actionloop or native, not '{other}'"
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
            Runtime::Java => ("owl.Launcher", "java"),
            Runtime::Php => ("/opt/owl/launcher.php", "php"),
            Runtime::Ruby => ("/opt/owl/launcher.rb", "ruby"),
            Runtime::Go | Runtime::ActionLoop | Runtime::Native => ("", ""),
        };
        let compiler = match get("OW_COMPILER") {
            Some(c) if c.is_empty() => None,
            Some(c) => Some(PathBuf::from(c)),
            None => (runtime == Runtime::Go).then(|| PathBuf::from("/opt/owl/compile")),
        };
        Ok(Config {
            runtime,
            port,
            bind: get("OW_BIND").unwrap_or_else(|| "0.0.0.0".into()),
            action_dir: PathBuf::from(get("OW_ACTION_DIR").unwrap_or_else(|| "/action".into())),
            launcher: PathBuf::from(get("OW_LAUNCHER").unwrap_or_else(|| launcher.into())),
            interpreter: get("OW_INTERPRETER").unwrap_or_else(|| interpreter.into()),
            interpreter_args: get("OW_INTERPRETER_ARGS")
                .map(|a| a.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
            compiler,
            wait_for_ack: match get("OW_WAIT_FOR_ACK") {
                Some(v) => !v.is_empty(),
                None => runtime != Runtime::Php,
            },
            log_init_error: match get("OW_LOG_INIT_ERROR") {
                Some(v) => !v.is_empty(),
                None => runtime != Runtime::Php,
            },
            allow_concurrent: get("__OW_ALLOW_CONCURRENT").is_some_and(|v| v == "true"),
        })
    }
}
