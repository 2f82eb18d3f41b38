//! `owl runtimes`: the Docker images Owl's runtimes run in.
//!
//! Each image Owl owns has a recipe: a Dockerfile under `docker/runtimes/` (built into this binary),
//! the Debian release it starts from, and the files it copies (the `owl-actionproxy` binary beside
//! this one, and a launcher). `build` makes each image the runtime manifest names, skipping those
//! whose recipe did not change (a hash of every input is kept as a label on the image). On a machine
//! without a container registry, the Debian base images are first made with debootstrap from the
//! machine's own apt mirror and `docker import`.
//!
//! The Node.js images carry the npm modules OpenWhisk's Node.js runtime gives every action (the
//! `openwhisk` client and the others `docker/runtimes/nodejs/package.json` lists). They are installed
//! on this machine with the ordinary `npm` client (`npm ci`, the versions pinned by the committed
//! lock file) into the build context, which the image copies: the image build itself fetches
//! nothing but Debian's packages. The lock file is part of the recipe's hash.
//!
//! The Python images carry the packages OpenWhisk's Python runtime gives every action (requests,
//! beautifulsoup4, lxml, ...): Debian has them all for both releases, so the Dockerfile installs them
//! with apt like python3 itself, and nothing is fetched on this machine. The Dockerfile, and so the
//! package list, is part of the recipe's hash.
//!
//! The Java, Go, PHP and Ruby images install their language and the libraries upstream's images give
//! every action (Gson; PHP's extensions and Composer packages; Ruby's gems) as Debian's packages, and
//! compile what they must (the Java launcher, Go's standard library into a warm build cache) inside
//! the image build: see each Dockerfile.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use owl_entity::exec::Manifest;

#[derive(clap::Args, Debug)]
pub struct Options {
    #[command(subcommand)]
    command: RuntimesCommand,
    /// A runtime manifest in OpenWhisk's runtimes.json format, replacing the built-in one.
    #[arg(long, env = "OWL_RUNTIMES", global = true)]
    runtimes: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
enum RuntimesCommand {
    /// Build Owl's runtime images (all that the manifest uses, or the named ones).
    Build {
        /// Images to build, such as `owl/action-nodejs-v20:latest` (default: all).
        images: Vec<String>,
        /// Build even when nothing changed.
        #[arg(long)]
        force: bool,
    },
    /// List each kind, its image, and whether that image is present.
    List,
}

/// How to make one of Owl's images.
pub struct Recipe {
    pub image: &'static str,
    dockerfile: &'static str,
    debian: &'static str,
    /// Files copied into the build context beside the proxy: (name, contents, mode).
    files: &'static [(&'static str, &'static str, u32)],
    /// Run `npm ci` in the build context first (its `package.json` and `package-lock.json` are
    /// among `files`), making the `node_modules` the Dockerfile copies.
    npm_modules: bool,
    /// Other names the image is tagged with: upstream's names for the blackbox bases, so that what
    /// `wsk` sends for `--native` (`openwhisk/dockerskeleton`) runs here without a registry.
    aliases: &'static [&'static str],
}

const NODE_LAUNCHER: &str = include_str!("../../actions-runtime/launchers/nodejs/launcher.js");
const PYTHON_LAUNCHER: &str = include_str!("../../actions-runtime/launchers/python/launcher.py");
const NODE_DOCKERFILE: &str = include_str!("../../docker/runtimes/nodejs/Dockerfile");
const PYTHON_DOCKERFILE: &str = include_str!("../../docker/runtimes/python/Dockerfile");
const NATIVE_DOCKERFILE: &str = include_str!("../../docker/runtimes/native/Dockerfile");
const JAVA_LAUNCHER: &str = include_str!("../../actions-runtime/launchers/java/Launcher.java");
const JAVA_DOCKERFILE: &str = include_str!("../../docker/runtimes/java/Dockerfile");
const GO_LAUNCHER: &str = include_str!("../../actions-runtime/launchers/go/launcher.go");
const GO_COMPILE: &str = include_str!("../../actions-runtime/launchers/go/compile");
const GO_DOCKERFILE: &str = include_str!("../../docker/runtimes/go/Dockerfile");
const PHP_LAUNCHER: &str = include_str!("../../actions-runtime/launchers/php/launcher.php");
const PHP_DOCKERFILE: &str = include_str!("../../docker/runtimes/php/Dockerfile");
const RUBY_LAUNCHER: &str = include_str!("../../actions-runtime/launchers/ruby/launcher.rb");
const RUBY_DOCKERFILE: &str = include_str!("../../docker/runtimes/ruby/Dockerfile");
const ACTIONLOOP_DOCKERFILE: &str = include_str!("../../docker/runtimes/actionloop/Dockerfile");
const NATIVE_EXEC: &str = include_str!("../../docker/runtimes/native/exec");
const NODE_PACKAGE: &str = include_str!("../../docker/runtimes/nodejs/package.json");
const NODE_PACKAGE_LOCK: &str = include_str!("../../docker/runtimes/nodejs/package-lock.json");

/// The Node.js images' files: the launcher, and the modules every action may require.
const NODE_FILES: &[(&str, &str, u32)] = &[
    ("launcher.js", NODE_LAUNCHER, 0o644),
    ("package.json", NODE_PACKAGE, 0o644),
    ("package-lock.json", NODE_PACKAGE_LOCK, 0o644),
];

pub const RECIPES: &[Recipe] = &[
    Recipe {
        image: "owl/action-nodejs-v20:latest",
        dockerfile: NODE_DOCKERFILE,
        debian: "trixie",
        files: NODE_FILES,
        npm_modules: true,
        aliases: &[],
    },
    Recipe {
        image: "owl/action-nodejs-v18:latest",
        dockerfile: NODE_DOCKERFILE,
        debian: "bookworm",
        files: NODE_FILES,
        npm_modules: true,
        aliases: &[],
    },
    Recipe {
        image: "owl/action-python-v3.13:latest",
        dockerfile: PYTHON_DOCKERFILE,
        debian: "trixie",
        files: &[("launcher.py", PYTHON_LAUNCHER, 0o644)],
        npm_modules: false,
        aliases: &[],
    },
    Recipe {
        image: "owl/action-python-v3.11:latest",
        dockerfile: PYTHON_DOCKERFILE,
        debian: "bookworm",
        files: &[("launcher.py", PYTHON_LAUNCHER, 0o644)],
        npm_modules: false,
        aliases: &[],
    },
    Recipe {
        image: "owl/action-java-v21:latest",
        dockerfile: JAVA_DOCKERFILE,
        debian: "trixie",
        files: &[("Launcher.java", JAVA_LAUNCHER, 0o644)],
        npm_modules: false,
        aliases: &[],
    },
    Recipe {
        image: "owl/action-golang-v1.24:latest",
        dockerfile: GO_DOCKERFILE,
        debian: "trixie",
        files: &[
            ("launcher.go", GO_LAUNCHER, 0o644),
            ("compile", GO_COMPILE, 0o755),
        ],
        npm_modules: false,
        aliases: &[],
    },
    Recipe {
        image: "owl/action-php-v8.2:latest",
        dockerfile: PHP_DOCKERFILE,
        debian: "bookworm",
        files: &[("launcher.php", PHP_LAUNCHER, 0o644)],
        npm_modules: false,
        aliases: &[],
    },
    Recipe {
        image: "owl/action-ruby-v3.1:latest",
        dockerfile: RUBY_DOCKERFILE,
        debian: "bookworm",
        files: &[("launcher.rb", RUBY_LAUNCHER, 0o644)],
        npm_modules: false,
        aliases: &[],
    },
    Recipe {
        image: "owl/dockerskeleton:latest",
        dockerfile: NATIVE_DOCKERFILE,
        debian: "bookworm",
        files: &[("exec", NATIVE_EXEC, 0o755)],
        npm_modules: false,
        aliases: &[
            "openwhisk/dockerskeleton:latest",
            "openwhisk/dockerskeleton:nightly",
        ],
    },
    Recipe {
        image: "owl/actionloop:latest",
        dockerfile: ACTIONLOOP_DOCKERFILE,
        debian: "bookworm",
        files: &[],
        npm_modules: false,
        aliases: &[
            "openwhisk/actionloop-v2:latest",
            "openwhisk/actionloop-v2:nightly",
            "openwhisk/actionloop-base:latest",
            "openwhisk/actionloop-base:nightly",
        ],
    },
];

const HASH_LABEL: &str = "owl.recipe-hash";

pub fn run(o: Options) -> anyhow::Result<()> {
    let manifest = match &o.runtimes {
        Some(p) => Manifest::from_json(&std::fs::read_to_string(p)?).map_err(anyhow::Error::msg)?,
        None => Manifest::builtin(),
    };
    match o.command {
        RuntimesCommand::List => {
            for (_, kinds) in manifest.families() {
                for k in kinds {
                    let image = k.image.reference();
                    let state = if image_exists(&image) {
                        "present"
                    } else {
                        "missing"
                    };
                    let default = if k.default { " (default)" } else { "" };
                    println!("{:<14} {:<36} {state}{default}", k.kind, image);
                }
            }
            for b in manifest.blackboxes() {
                let image = b.reference();
                println!(
                    "{:<14} {:<36} {}",
                    "blackbox",
                    image,
                    if image_exists(&image) {
                        "present"
                    } else {
                        "missing"
                    }
                );
            }
            Ok(())
        }
        RuntimesCommand::Build { images, force } => {
            let wanted = wanted_recipes(&manifest, &images)?;
            let proxy = proxy_binary()?;
            for r in wanted {
                build(r, &proxy, force)?;
            }
            Ok(())
        }
    }
}

/// Builds the images the manifest uses that are not there yet (what `owl standalone` does before its
/// invoker starts), saying what it does on stderr.
pub fn build_missing(manifest: &Manifest) -> anyhow::Result<()> {
    let missing: Vec<&Recipe> = wanted_recipes(manifest, &[])?
        .into_iter()
        .filter(|r| !image_exists(r.image) || r.aliases.iter().any(|a| !image_exists(a)))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    say(&format!(
        "{} runtime image(s) missing; building them once (this takes a few minutes)",
        missing.len()
    ));
    let proxy = proxy_binary()?;
    for r in missing {
        build(r, &proxy, false)?;
    }
    Ok(())
}

/// The recipes to build: those named, else every one whose image the manifest uses.
fn wanted_recipes<'a>(manifest: &Manifest, names: &[String]) -> anyhow::Result<Vec<&'a Recipe>> {
    if !names.is_empty() {
        return names
            .iter()
            .map(|n| {
                RECIPES
                    .iter()
                    .find(|r| r.image == n || r.image.trim_end_matches(":latest") == n)
                    .with_context(|| {
                        let known: Vec<&str> = RECIPES.iter().map(|r| r.image).collect();
                        format!(
                            "Owl has no recipe for '{n}'; it builds {}",
                            known.join(", ")
                        )
                    })
            })
            .collect();
    }
    let mut used: Vec<String> = manifest
        .families()
        .flat_map(|(_, ks)| ks.iter().map(|k| k.image.reference()))
        .collect();
    used.extend(manifest.blackboxes().iter().map(|b| b.reference()));
    Ok(RECIPES
        .iter()
        .filter(|r| used.iter().any(|u| u == r.image))
        .collect())
}

/// `owl-actionproxy`, from `$OWL_ACTIONPROXY` or beside this binary.
pub fn proxy_binary() -> anyhow::Result<PathBuf> {
    let path = match std::env::var_os("OWL_ACTIONPROXY") {
        Some(p) => PathBuf::from(p),
        None => std::env::current_exe()?.with_file_name("owl-actionproxy"),
    };
    if !path.is_file() {
        bail!(
            "the actions-runtime proxy is missing at {}: build it with `cargo build -p owl-actions-runtime` \
             (with --release for a release owl), or point OWL_ACTIONPROXY at it",
            path.display()
        );
    }
    Ok(path)
}

fn docker() -> Command {
    let mut c = Command::new("docker");
    // The classic builder: it needs no buildx plugin, and Owl's Dockerfiles use nothing newer.
    c.env("DOCKER_BUILDKIT", "0");
    c
}

fn image_exists(image: &str) -> bool {
    docker()
        .args(["image", "inspect", image])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn inspect(image: &str, format: &str) -> Option<String> {
    let out = docker()
        .args(["image", "inspect", "--format", format, image])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn say(msg: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "owl runtimes: {msg}");
}

fn build(r: &Recipe, proxy: &Path, force: bool) -> anyhow::Result<()> {
    let base = format!("debian:{}-slim", r.debian);
    ensure_base(&base, r.debian)?;
    let base_id = inspect(&base, "{{.Id}}").context("reading the base image's id")?;
    let proxy_bytes =
        std::fs::read(proxy).with_context(|| format!("reading {}", proxy.display()))?;
    let mut h = DefaultHasher::new();
    (
        r.dockerfile,
        r.debian,
        &base_id,
        &proxy_bytes,
        r.files,
        r.npm_modules,
    )
        .hash(&mut h);
    let hash = format!("{:016x}", h.finish());
    if !force
        && inspect(
            r.image,
            &format!("{{{{index .Config.Labels \"{HASH_LABEL}\"}}}}"),
        )
        .as_deref()
            == Some(hash.as_str())
    {
        say(&format!("{} is up to date", r.image));
        return tag_aliases(r);
    }
    say(&format!("building {} from {base}", r.image));
    let ctx = tempfile::tempdir()?;
    std::fs::write(ctx.path().join("Dockerfile"), r.dockerfile)?;
    std::fs::write(ctx.path().join("owl-actionproxy"), &proxy_bytes)?;
    set_mode(&ctx.path().join("owl-actionproxy"), 0o755)?;
    for (name, contents, mode) in r.files {
        std::fs::write(ctx.path().join(name), contents)?;
        set_mode(&ctx.path().join(name), *mode)?;
    }
    if r.npm_modules {
        npm_ci(ctx.path()).with_context(|| format!("installing the npm modules of {}", r.image))?;
    }
    let status = docker()
        .args([
            "build",
            "--build-arg",
            &format!("DEBIAN={}", r.debian),
            "--label",
            &format!("{HASH_LABEL}={hash}"),
            "-t",
            r.image,
        ])
        .arg(ctx.path())
        .status()
        .context("running docker build")?;
    if !status.success() {
        bail!("docker build of {} failed ({status})", r.image);
    }
    say(&format!("built {}", r.image));
    tag_aliases(r)
}

/// Tags the image with its aliases (again: a pulled upstream image of that name would have taken it).
fn tag_aliases(r: &Recipe) -> anyhow::Result<()> {
    for alias in r.aliases {
        let status = docker()
            .args(["tag", r.image, alias])
            .status()
            .context("running docker tag")?;
        if !status.success() {
            bail!("docker tag {} {alias} failed ({status})", r.image);
        }
    }
    Ok(())
}

/// Installs the modules `dir/package-lock.json` pins into `dir/node_modules`, with the machine's own
/// `npm` and its configuration (registry, proxy, cache). Install scripts are not run: the modules
/// are plain JavaScript, and nothing of them runs on this machine.
fn npm_ci(dir: &Path) -> anyhow::Result<()> {
    say("installing the Node.js images' npm modules with `npm ci`");
    let out = Command::new("npm")
        .args([
            "ci",
            "--omit=dev",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--no-update-notifier",
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output();
    let out = match out {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "npm is not installed; the Node.js images need it to install their modules \
             (on Debian: `apt-get install npm` as root)"
        ),
        other => other.context("running npm ci")?,
    };
    if !out.status.success() {
        bail!(
            "npm ci failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if !dir.join("node_modules/openwhisk/package.json").is_file() {
        bail!("npm ci succeeded but installed no openwhisk module");
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Makes `debian:<suite>-slim` available: already there, pulled, or bootstrapped from the apt mirror.
fn ensure_base(image: &str, suite: &str) -> anyhow::Result<()> {
    if image_exists(image) {
        return Ok(());
    }
    say(&format!("{image} is missing: trying to pull it"));
    let pulled = docker()
        .args(["pull", "-q", image])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if pulled.is_ok_and(|s| s.success()) {
        return Ok(());
    }
    say(&format!(
        "no registry answered: making {image} with debootstrap (about a minute)"
    ));
    bootstrap(image, suite)
}

/// The machine's Debian mirror, read from its apt configuration.
fn apt_mirror() -> anyhow::Result<String> {
    let mut candidates = vec![];
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        for e in dir.flatten() {
            if e.path().extension().is_some_and(|x| x == "sources") {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                candidates.extend(
                    text.lines()
                        .filter_map(|l| l.strip_prefix("URIs:"))
                        .flat_map(|l| l.split_whitespace())
                        .map(str::to_string),
                );
            }
        }
    }
    if let Ok(text) = std::fs::read_to_string("/etc/apt/sources.list") {
        candidates.extend(
            text.lines()
                .filter(|l| l.starts_with("deb "))
                .filter_map(|l| l.split_whitespace().find(|w| w.contains("://")))
                .map(str::to_string),
        );
    }
    candidates
        .into_iter()
        .find(|u| u.trim_end_matches('/').ends_with("/debian"))
        .context("no Debian mirror found in /etc/apt: cannot bootstrap base images")
}

fn bootstrap(image: &str, suite: &str) -> anyhow::Result<()> {
    if Command::new("debootstrap")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        bail!(
            "{image} cannot be pulled and debootstrap is not installed: run `apt-get install debootstrap` as root, then again"
        );
    }
    let mirror = apt_mirror()?;
    let root = tempfile::Builder::new()
        .prefix("owl-rootfs-")
        .tempdir_in("/var/tmp")?;
    let log = root.path().with_extension("log");
    let out = Command::new("debootstrap")
        .args(["--variant=minbase", suite])
        .arg(root.path())
        .arg(&mirror)
        .output()
        .context("running debootstrap")?;
    if !out.status.success() {
        std::fs::write(&log, [&out.stdout[..], &out.stderr[..]].concat())?;
        bail!(
            "debootstrap {suite} failed ({}); its output is in {}",
            out.status,
            log.display()
        );
    }
    // Package caches are not part of an image.
    for d in ["var/cache/apt/archives", "var/lib/apt/lists"] {
        let dir = root.path().join(d);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                if e.path().is_file() {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(root.path())
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()?;
    let import = docker()
        .args(["import", "-", image])
        .stdin(tar.stdout.take().context("tar's output")?)
        .stdout(Stdio::null())
        .status()?;
    let tarred = tar.wait()?;
    if !(import.success() && tarred.success()) {
        bail!("importing {image} failed (tar {tarred}, docker import {import})");
    }
    say(&format!("made {image}"));
    Ok(())
}
