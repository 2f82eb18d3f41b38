//! The container pool.
//!
//! A container is in one of these states; the pool's lock guards every move between them:
//!
//! | state | meaning | leaves by |
//! |---|---|---|
//! | `Prewarm` | started for a kind and memory, never initialized | being taken for an action (becomes `Busy`) |
//! | `Busy` | running an activation (or being paused) | `release`: `Idle` when its outcome keeps it, else removed |
//! | `Idle` | initialized for one action of one namespace, waiting | being taken again (`Busy`), paused after the grace, removed after the idle timeout or when its memory is needed |
//!
//! Taking a container for an action, first match wins: an idle container of the same namespace,
//! action and revision (resumed if paused); a prewarm of the same kind and memory (replaced at once);
//! a cold start if the memory budget allows; else the least recently used idle container is removed
//! to make room; else the request waits until memory frees up.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use owl_entity::exec::Manifest;
use tokio::sync::{Notify, mpsc};

use crate::config::InvokerConfig;
use crate::docker::{ContainerSpec, Docker, DockerError};
use crate::logs::LogLine;

/// A running container of the pool.
#[derive(Debug)]
pub struct Container {
    pub id: String,
    pub addr: SocketAddr,
    pub memory_mb: i64,
    pub kind: String,
    pub logs: tokio::sync::Mutex<mpsc::UnboundedReceiver<LogLine>>,
}

/// Which action a warm container is initialized for: warm containers are never shared across
/// namespaces, nor across revisions of an action.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WarmKey {
    pub namespace: String,
    pub action: String,
    pub revision: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Prewarm,
    Busy,
    Idle { since: Instant, paused: bool },
}

struct Entry {
    container: Arc<Container>,
    key: Option<WarmKey>,
    state: State,
}

/// How the container of a lease was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Already initialized for this action.
    Warm,
    /// A stem cell: started, needs `/init`.
    Prewarmed,
    /// Created for this activation: needs `/init`.
    Cold,
}

impl Start {
    pub fn needs_init(self) -> bool {
        self != Start::Warm
    }
}

/// What an activation asks the pool for.
#[derive(Debug, Clone)]
pub struct Want {
    pub key: WarmKey,
    pub kind: String,
    pub image: String,
    pub memory_mb: i64,
    /// Blackbox actions never use prewarms.
    pub may_use_prewarm: bool,
}

pub struct Pool {
    config: InvokerConfig,
    docker: Docker,
    inner: Mutex<Inner>,
    changed: Notify,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    used_mb: i64,
    shutting_down: bool,
}

enum Decision {
    Warm(Arc<Container>, bool),
    Prewarm(Arc<Container>),
    Cold,
    Evict(Arc<Container>),
    Wait,
}

impl Pool {
    pub fn new(config: InvokerConfig, docker: Docker) -> Arc<Pool> {
        Arc::new(Pool {
            config,
            docker,
            inner: Mutex::new(Inner::default()),
            changed: Notify::new(),
        })
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn env(&self) -> Vec<String> {
        vec![format!("__OW_API_HOST={}", self.config.api_host)]
    }

    /// Counts of containers by state, for tests and metrics: (prewarm, busy, idle, paused).
    pub fn census(&self) -> (usize, usize, usize, usize) {
        let inner = self.lock();
        let mut c = (0, 0, 0, 0);
        for e in inner.entries.values() {
            match e.state {
                State::Prewarm => c.0 += 1,
                State::Busy => c.1 += 1,
                State::Idle { paused: false, .. } => c.2 += 1,
                State::Idle { paused: true, .. } => c.3 += 1,
            }
        }
        c
    }

    /// Takes a container for an activation, waiting for memory if the pool is full.
    pub async fn acquire(
        self: &Arc<Self>,
        want: &Want,
    ) -> Result<(Arc<Container>, Start), DockerError> {
        if want.memory_mb > self.config.user_memory_mb {
            return Err(DockerError(format!(
                "the action needs {} MB and the invoker has {} MB for all containers",
                want.memory_mb, self.config.user_memory_mb
            )));
        }
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let decision = self.decide(want);
            match decision {
                Decision::Warm(c, paused) => {
                    if paused && self.docker.unpause(&c.id).await.is_err() {
                        self.discard(&c);
                        continue;
                    }
                    return Ok((c, Start::Warm));
                }
                Decision::Prewarm(c) => {
                    let pool = self.clone();
                    let (kind, image, memory) = (c.kind.clone(), want.image.clone(), c.memory_mb);
                    tokio::spawn(async move { pool.add_prewarm(&kind, &image, memory).await });
                    return Ok((c, Start::Prewarmed));
                }
                Decision::Cold => {
                    let spec = ContainerSpec {
                        image: want.image.clone(),
                        memory_mb: want.memory_mb,
                        purpose: want.key.action.clone(),
                        env: self.env(),
                    };
                    return match self.docker.start(&spec).await {
                        Ok(s) => {
                            let c = Arc::new(Container {
                                id: s.id,
                                addr: s.addr,
                                memory_mb: want.memory_mb,
                                kind: want.kind.clone(),
                                logs: tokio::sync::Mutex::new(s.logs),
                            });
                            let entry = Entry {
                                container: c.clone(),
                                key: Some(want.key.clone()),
                                state: State::Busy,
                            };
                            self.lock().entries.insert(c.id.clone(), entry);
                            Ok((c, Start::Cold))
                        }
                        Err(e) => {
                            self.lock().used_mb -= want.memory_mb;
                            self.changed.notify_waiters();
                            Err(e)
                        }
                    };
                }
                Decision::Evict(victim) => {
                    let docker = self.docker.clone();
                    tokio::spawn(async move { docker.remove(&victim.id).await });
                }
                Decision::Wait => notified.await,
            }
        }
    }

    fn decide(&self, want: &Want) -> Decision {
        let mut inner = self.lock();
        let warm = inner
            .entries
            .values_mut()
            .filter(|e| e.key.as_ref() == Some(&want.key) && matches!(e.state, State::Idle { .. }))
            .max_by_key(|e| match e.state {
                State::Idle { since, .. } => since,
                _ => Instant::now(),
            });
        if let Some(e) = warm {
            let paused = matches!(e.state, State::Idle { paused: true, .. });
            e.state = State::Busy;
            return Decision::Warm(e.container.clone(), paused);
        }
        if want.may_use_prewarm {
            let stem = inner.entries.values_mut().find(|e| {
                e.state == State::Prewarm
                    && e.container.kind == want.kind
                    && e.container.memory_mb == want.memory_mb
            });
            if let Some(e) = stem {
                e.state = State::Busy;
                e.key = Some(want.key.clone());
                return Decision::Prewarm(e.container.clone());
            }
        }
        if inner.used_mb + want.memory_mb <= self.config.user_memory_mb {
            inner.used_mb += want.memory_mb;
            return Decision::Cold;
        }
        let victim = inner
            .entries
            .iter()
            .filter_map(|(id, e)| match e.state {
                State::Idle { since, .. } => Some((since, id.clone())),
                _ => None,
            })
            .min();
        if let Some((_, id)) = victim {
            let e = inner.entries.remove(&id).expect("found above");
            inner.used_mb -= e.container.memory_mb;
            return Decision::Evict(e.container);
        }
        Decision::Wait
    }

    /// Gives a container back: warm for its action when `keep`, else removed.
    pub fn release(&self, c: &Arc<Container>, keep: bool) {
        if keep {
            let mut inner = self.lock();
            if let Some(e) = inner.entries.get_mut(&c.id) {
                e.state = State::Idle {
                    since: Instant::now(),
                    paused: false,
                };
            }
            drop(inner);
            self.changed.notify_waiters();
        } else {
            self.discard(c);
        }
    }

    /// Removes a container from the pool and from Docker.
    fn discard(&self, c: &Arc<Container>) {
        let mut inner = self.lock();
        if inner.entries.remove(&c.id).is_some() {
            inner.used_mb -= c.memory_mb;
        }
        drop(inner);
        let (docker, id) = (self.docker.clone(), c.id.clone());
        tokio::spawn(async move { docker.remove(&id).await });
        self.changed.notify_waiters();
    }

    /// Starts the stem cells the manifest asks for (`stemCells` of each kind).
    pub async fn start_prewarms(self: &Arc<Self>, manifest: &Manifest) {
        if !self.config.prewarm {
            return;
        }
        for (_, kinds) in manifest.families() {
            for k in kinds {
                for cell in &k.stem_cells {
                    let memory = parse_mb(&cell.memory).unwrap_or(256);
                    for _ in 0..cell.initial_count {
                        self.add_prewarm(&k.kind, &k.image.reference(), memory)
                            .await;
                    }
                }
            }
        }
    }

    async fn add_prewarm(&self, kind: &str, image: &str, memory_mb: i64) {
        {
            let mut inner = self.lock();
            if inner.shutting_down || inner.used_mb + memory_mb > self.config.user_memory_mb {
                return;
            }
            inner.used_mb += memory_mb;
        }
        let spec = ContainerSpec {
            image: image.into(),
            memory_mb,
            purpose: format!("prewarm_{kind}"),
            env: self.env(),
        };
        match self.docker.start(&spec).await {
            Ok(s) => {
                let c = Arc::new(Container {
                    id: s.id,
                    addr: s.addr,
                    memory_mb,
                    kind: kind.into(),
                    logs: tokio::sync::Mutex::new(s.logs),
                });
                self.lock().entries.insert(
                    c.id.clone(),
                    Entry {
                        container: c,
                        key: None,
                        state: State::Prewarm,
                    },
                );
            }
            Err(e) => {
                tracing::warn!(kind, image, error = %e, "a prewarm container could not be started");
                self.lock().used_mb -= memory_mb;
            }
        }
        self.changed.notify_waiters();
    }

    /// Every second: pauses containers idle past the grace, removes those idle past the timeout.
    pub fn start_maintenance(self: Arc<Self>) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
            loop {
                tick.tick().await;
                self.maintain().await;
            }
        });
    }

    async fn maintain(&self) {
        let now = Instant::now();
        let (mut to_pause, mut to_remove) = (vec![], vec![]);
        {
            let mut inner = self.lock();
            if inner.shutting_down {
                return;
            }
            let ids: Vec<String> = inner.entries.keys().cloned().collect();
            for id in ids {
                let e = inner.entries.get_mut(&id).expect("listed");
                if let State::Idle { since, paused } = e.state {
                    if now.duration_since(since) >= self.config.idle_timeout {
                        let e = inner.entries.remove(&id).expect("listed");
                        inner.used_mb -= e.container.memory_mb;
                        to_remove.push(e.container);
                    } else if !paused && now.duration_since(since) >= self.config.pause_grace {
                        // Busy while the pause runs, so no activation takes it half-paused.
                        e.state = State::Busy;
                        to_pause.push((e.container.clone(), since));
                    }
                }
            }
        }
        for c in to_remove {
            self.docker.remove(&c.id).await;
        }
        for (c, since) in to_pause {
            let paused = self.docker.pause(&c.id).await.is_ok();
            let mut inner = self.lock();
            if let Some(e) = inner.entries.get_mut(&c.id) {
                e.state = State::Idle { since, paused };
            }
        }
        self.changed.notify_waiters();
    }

    /// Removes every container of the pool.
    pub async fn shutdown(&self) {
        let all: Vec<Arc<Container>> = {
            let mut inner = self.lock();
            inner.shutting_down = true;
            inner.used_mb = 0;
            inner.entries.drain().map(|(_, e)| e.container).collect()
        };
        // In parallel: a pool of a hundred containers would otherwise take minutes to stop.
        futures_util::future::join_all(all.iter().map(|c| self.docker.remove(&c.id))).await;
        let _ = self.docker.remove_leftovers().await;
    }
}

/// `"256 MB"` or `"256m"` to 256.
fn parse_mb(s: &str) -> Option<i64> {
    s.trim()
        .trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == ' ')
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn stem_cell_memory_reads_as_megabytes() {
        assert_eq!(super::parse_mb("256 MB"), Some(256));
        assert_eq!(super::parse_mb("128m"), Some(128));
        assert_eq!(super::parse_mb("lots"), None);
    }
}
