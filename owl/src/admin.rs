//! `owl admin`: users, namespaces, keys and limits, written straight into the store, as OpenWhisk's
//! `wskadmin` does: the embedded store of `owl standalone` (its data directory), or with
//! `--couch-url` the CouchDB of the distributed mode. Safe beside running servers: every write is
//! revision-checked, and the controllers see it within a second.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use owl_entity::identity::{AuthKey, NamespaceKey, NamespaceLimits, Subject};
use owl_entity::name::EntityName;
use owl_store::{SqliteStore, Store};

#[derive(Args, Debug)]
pub struct Options {
    /// Directory of the embedded store [default: $XDG_DATA_HOME/owl or ~/.local/share/owl].
    #[arg(
        long,
        env = "OWL_DATA_DIR",
        global = true,
        conflicts_with = "couch_url"
    )]
    data_dir: Option<PathBuf>,
    /// The CouchDB of the distributed mode, instead of a data directory.
    #[arg(long, env = "OWL_COUCH_URL", global = true)]
    couch_url: Option<String>,
    /// CouchDB user.
    #[arg(long, env = "OWL_COUCH_USER", global = true)]
    couch_user: Option<String>,
    /// CouchDB password.
    #[arg(
        long,
        env = "OWL_COUCH_PASSWORD",
        global = true,
        hide_env_values = true
    )]
    couch_password: Option<String>,
    /// Prefix of the CouchDB database names.
    #[arg(
        long,
        env = "OWL_DB_PREFIX",
        global = true,
        default_value = "whisk_local_"
    )]
    db_prefix: String,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Subjects (users) and their keys.
    #[command(subcommand)]
    User(UserCommand),
    /// Namespaces: who owns them, their keys and their limits.
    #[command(subcommand)]
    Namespace(NamespaceCommand),
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create a subject with a namespace (default: named as the subject) and print its key; for an
    /// existing subject, add the namespace.
    Create {
        subject: String,
        #[arg(long, short = 'n')]
        namespace: Option<String>,
        /// Use this key (`uuid:key`, key of 64 characters) instead of a generated one.
        #[arg(long, short = 'u')]
        auth: Option<String>,
    },
    /// Print a subject's key for a namespace (default: its first), or all with --all.
    Get {
        subject: String,
        #[arg(long, short = 'n')]
        namespace: Option<String>,
        #[arg(long, short = 'a')]
        all: bool,
    },
    /// Delete a subject, or only one of its namespaces.
    Delete {
        subject: String,
        #[arg(long, short = 'n')]
        namespace: Option<String>,
    },
    /// List subjects (with their namespaces), or only those of one namespace.
    List { namespace: Option<String> },
    /// Print the subject and namespace a key opens.
    Whois { auth: String },
    /// Block subjects: their keys stop working.
    Block { subjects: Vec<String> },
    /// Unblock subjects.
    Unblock { subjects: Vec<String> },
}

#[derive(Subcommand, Debug)]
enum NamespaceCommand {
    /// List every namespace with the subjects that own it.
    List,
    /// Show a namespace's owners and keys.
    Get { namespace: String },
    /// Show a namespace's limit overrides.
    GetLimits { namespace: String },
    /// Set limit overrides of a namespace (others keep the system's values).
    SetLimits {
        namespace: String,
        #[arg(long)]
        invocations_per_minute: Option<i64>,
        #[arg(long)]
        concurrent_invocations: Option<i64>,
        #[arg(long)]
        fires_per_minute: Option<i64>,
        /// Comma-separated kinds this namespace may use.
        #[arg(long, value_delimiter = ',')]
        allowed_kinds: Option<Vec<String>>,
        #[arg(long)]
        store_activations: Option<bool>,
    },
    /// Remove a namespace's limit overrides.
    DeleteLimits { namespace: String },
}

pub fn run(o: Options) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let store: Arc<dyn Store> = match &o.couch_url {
        Some(url) => {
            crate::backends::install_crypto();
            let couch = crate::backends::StoreOptions {
                couch_url: url.clone(),
                couch_user: o.couch_user.clone(),
                couch_password: o.couch_password.clone(),
                db_prefix: o.db_prefix.clone(),
                store_timeout: 10,
            };
            rt.block_on(couch.open())?
        }
        None => {
            let dir = o.data_dir.clone().unwrap_or_else(crate::default_data_dir);
            Arc::new(
                SqliteStore::open(&dir)
                    .with_context(|| format!("opening the store in {}", dir.display()))?,
            )
        }
    };
    rt.block_on(async move {
        owl_store::seed::ensure_default_subjects(&*store).await?;
        match o.command {
            AdminCommand::User(c) => user(&*store, c).await,
            AdminCommand::Namespace(c) => namespace(&*store, c).await,
        }
    })
}

fn ns_name(s: &str) -> anyhow::Result<EntityName> {
    EntityName::new(s).map_err(|e| anyhow::anyhow!(e.namespace_message()))
}

async fn subject(store: &dyn Store, name: &str) -> anyhow::Result<owl_store::Stored<Subject>> {
    store
        .get_subject(name)
        .await?
        .with_context(|| format!("subject '{name}' does not exist"))
}

async fn user(store: &dyn Store, c: UserCommand) -> anyhow::Result<()> {
    match c {
        UserCommand::Create {
            subject: name,
            namespace,
            auth,
        } => {
            if name.chars().count() < 5 {
                bail!("subject name must be at least 5 characters");
            }
            let ns = ns_name(namespace.as_deref().unwrap_or(&name))?;
            let key = match auth {
                Some(a) => AuthKey::parse(&a)
                    .context("the key must be uuid:key with a key of 64 characters")?,
                None => AuthKey::generate(),
            };
            let entry = NamespaceKey {
                name: ns.clone(),
                uuid: key.uuid.clone(),
                key: key.key.clone(),
            };
            let written = match store.get_subject(&name).await? {
                None => {
                    let s = Subject {
                        subject: name.clone(),
                        namespaces: vec![entry],
                        blocked: false,
                    };
                    store.put_subject(&s, None).await
                }
                Some(existing) => {
                    if existing.value.namespaces.iter().any(|n| n.name == ns) {
                        bail!("subject '{name}' already has namespace '{ns}'");
                    }
                    let mut s = existing.value;
                    s.namespaces.push(entry);
                    store.put_subject(&s, Some(&existing.rev)).await
                }
            };
            match written {
                Ok(_) => println!("{}", key.compact()),
                Err(owl_store::StoreError::Conflict) => {
                    bail!("that key is already in use, or the subject changed meanwhile")
                }
                Err(e) => return Err(e.into()),
            }
        }
        UserCommand::Get {
            subject: name,
            namespace,
            all,
        } => {
            let s = subject(store, &name).await?.value;
            if all {
                for n in &s.namespaces {
                    println!("{}\t{}", n.name, n.auth_key().compact());
                }
            } else {
                let n = match &namespace {
                    Some(ns) => s.namespaces.iter().find(|n| n.name.as_str() == ns),
                    None => s.namespaces.first(),
                }
                .with_context(|| format!("subject '{name}' has no such namespace"))?;
                println!("{}", n.auth_key().compact());
            }
        }
        UserCommand::Delete {
            subject: name,
            namespace,
        } => {
            let stored = subject(store, &name).await?;
            match namespace {
                None => {
                    store.delete_subject(&name, &stored.rev).await?;
                    println!("subject '{name}' deleted");
                }
                Some(ns) => {
                    let mut s = stored.value;
                    let before = s.namespaces.len();
                    s.namespaces.retain(|n| n.name.as_str() != ns);
                    if s.namespaces.len() == before {
                        bail!("subject '{name}' has no namespace '{ns}'");
                    }
                    store.put_subject(&s, Some(&stored.rev)).await?;
                    println!("namespace '{ns}' of subject '{name}' deleted");
                }
            }
        }
        UserCommand::List { namespace } => {
            let subjects = match namespace {
                Some(ns) => store.subjects_of_namespace(&ns_name(&ns)?).await?,
                None => store.list_subjects().await?,
            };
            for s in subjects {
                let names: Vec<&str> = s.namespaces.iter().map(|n| n.name.as_str()).collect();
                let blocked = if s.blocked { "\tblocked" } else { "" };
                println!("{}\t{}{blocked}", s.subject, names.join(","));
            }
        }
        UserCommand::Whois { auth } => {
            let key = AuthKey::parse(&auth)
                .context("the key must be uuid:key with a key of 64 characters")?;
            let found = store.list_subjects().await?.into_iter().find_map(|s| {
                s.namespaces
                    .iter()
                    .find(|n| n.auth_key() == key)
                    .map(|n| (s.subject.clone(), n.name.clone()))
            });
            let (s, ns) = found.context("no subject has that key")?;
            println!("subject: {s}\nnamespace: {ns}");
        }
        UserCommand::Block { subjects } => set_blocked(store, subjects, true).await?,
        UserCommand::Unblock { subjects } => set_blocked(store, subjects, false).await?,
    }
    Ok(())
}

async fn set_blocked(
    store: &dyn Store,
    subjects: Vec<String>,
    blocked: bool,
) -> anyhow::Result<()> {
    if subjects.is_empty() {
        bail!("name at least one subject");
    }
    for name in subjects {
        let stored = subject(store, &name).await?;
        let mut s = stored.value;
        s.blocked = blocked;
        store.put_subject(&s, Some(&stored.rev)).await?;
        println!(
            "subject '{name}' {}",
            if blocked { "blocked" } else { "unblocked" }
        );
    }
    Ok(())
}

async fn namespace(store: &dyn Store, c: NamespaceCommand) -> anyhow::Result<()> {
    match c {
        NamespaceCommand::List => {
            let mut owners: std::collections::BTreeMap<String, Vec<String>> = Default::default();
            for s in store.list_subjects().await? {
                for n in &s.namespaces {
                    owners
                        .entry(n.name.to_string())
                        .or_default()
                        .push(s.subject.clone());
                }
            }
            for (ns, subjects) in owners {
                println!("{ns}\t{}", subjects.join(","));
            }
        }
        NamespaceCommand::Get { namespace } => {
            let ns = ns_name(&namespace)?;
            let subjects = store.subjects_of_namespace(&ns).await?;
            if subjects.is_empty() {
                bail!("namespace '{ns}' has no owner");
            }
            for s in subjects {
                for n in s.namespaces.iter().filter(|n| n.name == ns) {
                    println!("{}\t{}", s.subject, n.auth_key().compact());
                }
            }
        }
        NamespaceCommand::GetLimits { namespace } => {
            let limits = store
                .get_limits(&ns_name(&namespace)?)
                .await?
                .unwrap_or_default();
            println!("{}", serde_json::to_string_pretty(&limits)?);
        }
        NamespaceCommand::SetLimits {
            namespace,
            invocations_per_minute,
            concurrent_invocations,
            fires_per_minute,
            allowed_kinds,
            store_activations,
        } => {
            let ns = ns_name(&namespace)?;
            let mut l = store.get_limits(&ns).await?.unwrap_or_default();
            for v in [
                invocations_per_minute,
                concurrent_invocations,
                fires_per_minute,
            ]
            .into_iter()
            .flatten()
            {
                if v < 0 {
                    bail!("limits must be zero or more");
                }
            }
            l.invocations_per_minute = invocations_per_minute.or(l.invocations_per_minute);
            l.concurrent_invocations = concurrent_invocations.or(l.concurrent_invocations);
            l.fires_per_minute = fires_per_minute.or(l.fires_per_minute);
            l.allowed_kinds = allowed_kinds.or(l.allowed_kinds);
            l.store_activations = store_activations.or(l.store_activations);
            store.put_limits(&ns, Some(&l)).await?;
            println!("{}", serde_json::to_string_pretty(&l)?);
        }
        NamespaceCommand::DeleteLimits { namespace } => {
            store
                .put_limits(&ns_name(&namespace)?, None::<&NamespaceLimits>)
                .await?;
            println!("limits of '{namespace}' removed");
        }
    }
    Ok(())
}
