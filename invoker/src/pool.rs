//! The container pool.
//!
//! A container is in one of these states; the pool's lock guards every move between them:
//!
//! | state | meaning | leaves by |
//! |---|---|---|
//! | `Prewarm` | started for a kind and memory, never initialized | being taken for an action (becomes `Busy`) |
//! | `Busy { active }` | running `active` activations (at most the action's `limits.concurrency`), the first of which may still be initializing it | `release` of the last: `Idle` when its outcome keeps it; any outcome that does not keep it removes it |
//! | `Idle` | initialized for one action of one namespace, waiting | being taken again (`Busy`), paused after the grace (`Pausing`), removed after the idle timeout or when its memory is needed |
//! | `Pausing` | being paused | the pause: `Idle`, paused |
//!
//! Taking a container for an action, first match wins: a busy container of the same namespace,
//! action and revision with room for one more activation (only when the action's concurrency is
//! above 1; if it is still initializing, the activation waits for that `/init` and shares its
//! outcome); an idle one of the same namespace, action and revision (resumed if paused); a prewarm of
//! the same kind and memory (replaced at once); a cold start if the memory budget allows; else the
//! least recently used idle container is removed to make room; else, every container being busy,
//! the activation queues for the next of its own action's containers to be released, or, when its
//! action has none, waits for memory.
//!
//! A cold start is also weighed against the starts under way: with as many as the machine has
//! cores, an activation of an action with a container of its own among them queues for it instead
//! (starts share the CPU: twelve at once on two cores took 1.5 to 3.8 s each, where two take half
//! a second and then serve the others in turn).
//!
//! Waiting is first come, first served: a queue is kept in order of arrival (an activation that
//! queues again after giving up keeps its place), and a container released while an activation of
//! another action has waited for memory since before the first in its own queue is removed to make
//! room for that one. Otherwise, under a load that keeps a queue from ever emptying, whoever waits
//! outside it would wait for as long as the load lasts.
//!
//! Before starting a container for an action whose containers are all busy, while the pool has at
//! least as many busy containers as the machine has cores (fewer would leave cores idle), the pool
//! weighs the wait: if the action's containers free up often enough that the queue ahead would drain
//! sooner than a cold start takes (as measured; a stem cell starts faster, but its replacement costs
//! a cold start), the activation queues for the next of them to be released, which hands itself
//! over directly. A queue that stands still for a cold start's time gives up, and its activation
//! starts a container after all. Short actions under load thus run on the containers they have
//! instead of paying cold starts (and their CPU) to gain nothing; OpenWhisk starts a container for
//! each activation that finds all busy.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use owl_entity::exec::Manifest;
use tokio::sync::{Notify, oneshot, watch};

use crate::config::InvokerConfig;
use crate::docker::{ContainerSpec, Docker, DockerError};
use crate::logs::LogStream;
use crate::protocol::Outcome;

/// Where a container's `/init` is: activations that share a container wait for the one that
/// initializes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    Pending,
    Done,
    /// The init failed with this outcome, which every activation waiting on it shares.
    Failed(Outcome),
}

/// A running container of the pool.
#[derive(Debug)]
pub struct Container {
    pub id: String,
    pub addr: SocketAddr,
    pub memory_mb: i64,
    pub kind: String,
    /// Its lines, read by one activation at a time in the order they ran ([`Container::log_turn`]).
    logs: tokio::sync::Mutex<LogStream>,
    /// Turns at the lines: the next to hand out, and the one being served.
    next_turn: std::sync::atomic::AtomicU64,
    serving: watch::Sender<u64>,
    init: watch::Sender<Init>,
}

/// An activation's place in the order in which a container's activations read their log lines:
/// taken when its run ends, before the container can run the next, and given up when dropped.
pub struct LogTurn {
    container: Arc<Container>,
    turn: u64,
}

impl LogTurn {
    /// Waits for the activations before this one to read their lines, then reads with `f`.
    pub async fn read<T>(&self, f: impl AsyncFnOnce(&mut LogStream) -> T) -> T {
        let mut serving = self.container.serving.subscribe();
        let _ = serving.wait_for(|s| *s >= self.turn).await;
        let mut lines = self.container.logs.lock().await;
        f(&mut lines).await
    }
}

impl Drop for LogTurn {
    fn drop(&mut self) {
        self.container.serving.send_replace(self.turn + 1);
    }
}

impl Container {
    fn new(s: crate::docker::Started, memory_mb: i64, kind: &str) -> Container {
        Container {
            id: s.id,
            addr: s.addr,
            memory_mb,
            kind: kind.into(),
            logs: tokio::sync::Mutex::new(LogStream::new(s.logs)),
            next_turn: Default::default(),
            serving: watch::Sender::new(0),
            init: watch::Sender::new(Init::Pending),
        }
    }

    /// Takes the next turn at the container's lines. Turns are served in the order taken, so each
    /// activation takes its turn when its run ends, before it gives the container back.
    pub fn log_turn(self: &Arc<Self>) -> LogTurn {
        LogTurn {
            container: self.clone(),
            turn: self
                .next_turn
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst),
        }
    }

    /// Records how the `/init` of the activation that initialized the container ended.
    pub fn initialized(&self, outcome: Init) {
        self.init.send_replace(outcome);
    }

    /// Waits for another activation's `/init` of this container to end.
    pub async fn init_outcome(&self) -> Init {
        let mut rx = self.init.subscribe();
        match rx.wait_for(|i| *i != Init::Pending).await {
            Ok(i) => i.clone(),
            Err(_) => Init::Pending,
        }
    }

    fn init_state(&self) -> Init {
        self.init.borrow().clone()
    }
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
    Busy { active: i64 },
    Idle { since: Instant, paused: bool },
    Pausing { since: Instant },
}

struct Entry {
    container: Arc<Container>,
    key: Option<WarmKey>,
    state: State,
    /// Activations it may run at once: the action's `limits.concurrency`.
    max_active: i64,
    /// When it was last taken, warm, for an activation: what the action's occupancy is measured
    /// from (a first run, with its `/init`, says nothing of the next ones).
    taken_warm: Option<Instant>,
}

impl Entry {
    fn new(
        container: Arc<Container>,
        key: Option<WarmKey>,
        state: State,
        max_active: i64,
    ) -> Entry {
        Entry {
            container,
            key,
            state,
            max_active: max_active.max(1),
            taken_warm: None,
        }
    }
}

/// How much a new measurement moves a moving average.
const EWMA_WEIGHT: f64 = 0.2;

fn ewma(old: f64, new: f64) -> f64 {
    old + EWMA_WEIGHT * (new - old)
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
    /// Being initialized for this action by another activation, and with room for this one: wait
    /// for that `/init` ([`Container::init_outcome`]).
    Joined,
}

impl Start {
    /// This activation must `/init` the container.
    pub fn needs_init(self) -> bool {
        matches!(self, Start::Prewarmed | Start::Cold)
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
    /// Activations one container may run at once (`limits.concurrency`, at least 1).
    pub concurrency: i64,
}

pub struct Pool {
    /// The pool may have this many containers busy before activations weigh waiting.
    cores: usize,
    config: InvokerConfig,
    docker: Docker,
    inner: Mutex<Inner>,
    changed: Notify,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Cold starts under way, by the action they are for: an activation of an action whose
    /// concurrency is above 1 waits for such a container rather than starting one more.
    starting: HashMap<WarmKey, usize>,
    /// Activations queued for the next busy container of their action to be released, in the order
    /// they arrived.
    queued: HashMap<WarmKey, VecDeque<Queued>>,
    /// Activations waiting for memory that no container of their own action will hand them, by
    /// when they arrived (and a number that tells two apart): the first of them is owed the memory
    /// of the next container released, before any activation that arrived after it.
    short_of_memory: BTreeSet<(Instant, u64)>,
    tickets: u64,
    /// How long an activation keeps a container of each action (moving average, ms), and when one
    /// last gave a container back.
    occupancy: HashMap<WarmKey, (f64, Instant)>,
    /// How long a cold start takes (moving average, ms).
    cold_ms: f64,
    used_mb: i64,
    shutting_down: bool,
}

impl Inner {
    fn started(&mut self, key: &WarmKey) {
        if let Some(n) = self.starting.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                self.starting.remove(key);
            }
        }
    }
}

/// An activation queued for a container of its action.
struct Queued {
    arrived: Instant,
    tx: oneshot::Sender<Arc<Container>>,
}

/// An activation's place among those short of memory, given up when its `acquire` ends (or is
/// dropped).
struct Ticket<'a> {
    pool: &'a Pool,
    place: Option<(Instant, u64)>,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if let Some(place) = self.place.take() {
            self.pool.lock().short_of_memory.remove(&place);
        }
    }
}

enum Decision {
    Warm(Arc<Container>, bool),
    Joined(Arc<Container>),
    /// Queued for a busy container of the action; given up when none came back for this long.
    Queue(oneshot::Receiver<Arc<Container>>, Duration),
    Prewarm(Arc<Container>),
    Cold,
    Evict(Arc<Container>),
    /// For a container of the action being started (concurrency above 1).
    Wait,
    /// For memory: every container is busy, none with this action.
    WaitMemory,
}

impl Pool {
    pub fn new(config: InvokerConfig, docker: Docker) -> Arc<Pool> {
        Arc::new(Pool {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            config,
            docker,
            inner: Mutex::new(Inner {
                cold_ms: 500.0,
                ..Inner::default()
            }),
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
        let mut env = vec![format!("__OW_API_HOST={}", self.config.api_host)];
        if self.config.allow_concurrent {
            env.push("__OW_ALLOW_CONCURRENT=true".into());
        }
        env
    }

    /// Counts of containers by state, for tests and metrics: (prewarm, busy, idle, paused).
    pub fn census(&self) -> (usize, usize, usize, usize) {
        let inner = self.lock();
        let mut c = (0, 0, 0, 0);
        for e in inner.entries.values() {
            match e.state {
                State::Prewarm => c.0 += 1,
                State::Busy { .. } | State::Pausing { .. } => c.1 += 1,
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
        let arrived = Instant::now();
        let mut ticket = Ticket {
            pool: self,
            place: None,
        };
        let mut may_queue = true;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let decision = self.decide(want, may_queue, arrived, &mut ticket.place);
            match decision {
                Decision::Warm(c, paused) => {
                    if paused && self.docker.unpause(&c.id).await.is_err() {
                        self.discard(&c);
                        continue;
                    }
                    return Ok((c, Start::Warm));
                }
                Decision::Joined(c) => return Ok((c, Start::Joined)),
                Decision::Queue(mut rx, budget) => {
                    // Waits while the action's containers keep coming back (the queue moves, if
                    // slower than foreseen); a queue that stood still for a start's time gives up.
                    let handed = loop {
                        let since = Instant::now();
                        match tokio::time::timeout(budget, &mut rx).await {
                            Ok(Ok(c)) => break Some(c),
                            Ok(Err(_)) => break None,
                            Err(_) if self.released_since(&want.key, since) => {}
                            Err(_) => {
                                // Closed first, so that no container is handed over to nobody.
                                rx.close();
                                break rx.try_recv().ok();
                            }
                        }
                    };
                    if let Some(c) = handed {
                        return Ok((c, Start::Warm));
                    }
                    may_queue = false;
                }
                Decision::Prewarm(c) => {
                    // Its replacement starts once this one is initialized: a container being
                    // created beside the /init would slow the very start the stem cell saves.
                    let (pool, taken) = (self.clone(), c.clone());
                    let (kind, image, memory) = (c.kind.clone(), want.image.clone(), c.memory_mb);
                    tokio::spawn(async move {
                        taken.init_outcome().await;
                        pool.add_prewarm(&kind, &image, memory).await
                    });
                    return Ok((c, Start::Prewarmed));
                }
                Decision::Cold => {
                    let spec = ContainerSpec {
                        image: want.image.clone(),
                        memory_mb: want.memory_mb,
                        purpose: want.key.action.clone(),
                        env: self.env(),
                    };
                    let t0 = Instant::now();
                    let started = self.docker.start(&spec).await;
                    let mut inner = self.lock();
                    inner.started(&want.key);
                    let result = match started {
                        Ok(s) => {
                            inner.cold_ms = ewma(inner.cold_ms, t0.elapsed().as_secs_f64() * 1e3);
                            let c = Arc::new(Container::new(s, want.memory_mb, &want.kind));
                            let entry = Entry::new(
                                c.clone(),
                                Some(want.key.clone()),
                                State::Busy { active: 1 },
                                want.concurrency,
                            );
                            inner.entries.insert(c.id.clone(), entry);
                            Ok((c, Start::Cold))
                        }
                        Err(e) => {
                            inner.used_mb -= want.memory_mb;
                            Err(e)
                        }
                    };
                    drop(inner);
                    self.changed.notify_waiters();
                    return result;
                }
                Decision::Evict(victim) => {
                    let docker = self.docker.clone();
                    tokio::spawn(async move { docker.remove(&victim.id).await });
                }
                Decision::Wait | Decision::WaitMemory => notified.await,
            }
        }
    }

    /// What `want`, which arrived at `arrived`, does next. `place` is its place among those short
    /// of memory: taken when it must wait for memory, given up on any other decision (both under
    /// the pool's lock, so that `release` never sees a stale place).
    fn decide(
        &self,
        want: &Want,
        may_queue: bool,
        arrived: Instant,
        place: &mut Option<(Instant, u64)>,
    ) -> Decision {
        let mut inner = self.lock();
        if let Some(p) = place.take() {
            inner.short_of_memory.remove(&p);
        }
        let with_room = inner.entries.values_mut().find(|e| {
            e.key.as_ref() == Some(&want.key)
                && matches!(e.state, State::Busy { active } if active < e.max_active)
                && !matches!(e.container.init_state(), Init::Failed(_))
        });
        if let Some(e) = with_room
            && let State::Busy { active } = e.state
        {
            e.state = State::Busy { active: active + 1 };
            return match e.container.init_state() {
                Init::Done => Decision::Warm(e.container.clone(), false),
                _ => Decision::Joined(e.container.clone()),
            };
        }
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
            e.state = State::Busy { active: 1 };
            e.taken_warm = Some(Instant::now());
            return Decision::Warm(e.container.clone(), paused);
        }
        if may_queue
            && want.concurrency <= 1
            && let Some(rx) = Self::queue_if_sooner(&mut inner, want, arrived, self.cores)
        {
            return rx;
        }
        if want.concurrency > 1 && inner.starting.contains_key(&want.key) {
            // A container for this action is starting and will have room: wait for it.
            return Decision::Wait;
        }
        if want.may_use_prewarm {
            let stem = inner.entries.values_mut().find(|e| {
                e.state == State::Prewarm
                    && e.container.kind == want.kind
                    && e.container.memory_mb == want.memory_mb
            });
            if let Some(e) = stem {
                e.state = State::Busy { active: 1 };
                e.key = Some(want.key.clone());
                e.max_active = want.concurrency.max(1);
                return Decision::Prewarm(e.container.clone());
            }
        }
        // As many cold starts under way (started, or initializing) as cores: one more would only
        // slow them all (they share the CPU, and a start is mostly CPU), where the action's own
        // container being started will be free sooner (not one merely busy: that may run for
        // minutes). The burst that meets a fresh action then waits for its first containers
        // instead of starting one each (12 at once on 2 cores took 1.5 to 3.8 s each). A start
        // that fails frees its queue when the queue's wait runs out; an `/init` that fails, at
        // once (the container is discarded).
        let initializing = |e: &Entry| {
            matches!(e.state, State::Busy { .. }) && e.container.init_state() == Init::Pending
        };
        let starting = inner.starting.values().sum::<usize>()
            + inner.entries.values().filter(|e| initializing(e)).count();
        let own_starting = inner.starting.contains_key(&want.key)
            || inner
                .entries
                .values()
                .any(|e| e.key.as_ref() == Some(&want.key) && initializing(e));
        if want.concurrency <= 1 && starting >= self.cores && own_starting {
            return Self::enqueue(&mut inner, &want.key, arrived);
        }
        if inner.used_mb + want.memory_mb <= self.config.user_memory_mb {
            tracing::debug!(action = %want.key.action, queued_first = !may_queue, "cold start");
            inner.used_mb += want.memory_mb;
            *inner.starting.entry(want.key.clone()).or_default() += 1;
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
        // Every container is busy. One of this action's, when it has any, is the next thing to
        // free up for it: wait for it in the queue, in order of arrival, not behind activations
        // that arrived later (waiting for any change instead, it would lose each container to the
        // queue, for as long as the queue never empties).
        if want.concurrency <= 1 && Self::has_own(&inner, &want.key) {
            return Self::enqueue(&mut inner, &want.key, arrived);
        }
        inner.tickets += 1;
        let p = (arrived, inner.tickets);
        inner.short_of_memory.insert(p);
        *place = Some(p);
        Decision::WaitMemory
    }

    /// Does the action have a container being started or busy: one that will be released?
    fn has_own(inner: &Inner, key: &WarmKey) -> bool {
        inner.starting.contains_key(key)
            || inner
                .entries
                .values()
                .any(|e| e.key.as_ref() == Some(key) && matches!(e.state, State::Busy { .. }))
    }

    /// Queues an activation that arrived at `arrived` for the next container of `key` released,
    /// behind those that arrived before it, for as long as a cold start takes (then it decides
    /// again, unless the queue moved meanwhile).
    fn enqueue(inner: &mut Inner, key: &WarmKey, arrived: Instant) -> Decision {
        let (tx, rx) = oneshot::channel();
        let q = inner.queued.entry(key.clone()).or_default();
        let at = q.partition_point(|w| w.arrived <= arrived);
        q.insert(at, Queued { arrived, tx });
        Decision::Queue(rx, Duration::from_secs_f64(inner.cold_ms / 1e3))
    }

    /// Has a container of the action come back since `t`?
    fn released_since(&self, key: &WarmKey, t: Instant) -> bool {
        self.lock()
            .occupancy
            .get(key)
            .is_some_and(|(_, last)| *last > t)
    }

    /// Queues the activation for a busy container of its action when the queue ahead of it should
    /// drain sooner than a container would start.
    fn queue_if_sooner(
        inner: &mut Inner,
        want: &Want,
        arrived: Instant,
        cores: usize,
    ) -> Option<Decision> {
        let (occupancy, _) = *inner.occupancy.get(&want.key)?;
        let starting: usize = inner.starting.values().sum();
        let (mut busy, mut busy_here) = (starting, 0);
        for e in inner.entries.values() {
            if matches!(e.state, State::Busy { .. }) {
                busy += 1;
                busy_here += usize::from(e.key.as_ref() == Some(&want.key));
            }
        }
        busy_here += inner.starting.get(&want.key).copied().unwrap_or(0);
        // Fewer busy containers than cores leave cores idle: then one more always starts.
        if busy < cores || busy_here == 0 {
            return None;
        }
        // A stem cell starts faster, but taking one costs its replacement's cold start: a cold
        // start is what either costs the machine.
        let start_ms = inner.cold_ms;
        let ahead = inner.queued.get_mut(&want.key).map_or(0, |q| {
            q.retain(|w| !w.tx.is_closed());
            q.len()
        });
        let wait_ms = occupancy * (ahead + 1) as f64 / busy_here as f64;
        if wait_ms >= start_ms {
            return None;
        }
        Some(Self::enqueue(inner, &want.key, arrived))
    }

    /// Gives a container back: warm for its action when `keep` (idle once its last activation is
    /// done), else removed, with whatever else runs in it.
    pub fn release(&self, c: &Arc<Container>, keep: bool) {
        if !keep {
            self.discard(c);
            return;
        }
        let mut inner = self.lock();
        let Inner {
            entries,
            queued,
            occupancy,
            short_of_memory,
            ..
        } = &mut *inner;
        // The container is removed to free its memory for an activation of another action.
        let mut make_room = false;
        if let Some(e) = entries.get_mut(&c.id)
            && let State::Busy { active } = e.state
        {
            if e.max_active == 1
                && let Some(key) = &e.key
            {
                if occupancy.len() > 10_000 {
                    occupancy.clear();
                }
                let now = Instant::now();
                if let Some(taken) = e.taken_warm {
                    let ms = now.duration_since(taken).as_secs_f64() * 1e3;
                    let (avg, last) = occupancy.entry(key.clone()).or_insert((ms, now));
                    *avg = ewma(*avg, ms);
                    *last = now;
                } else if let Some((_, last)) = occupancy.get_mut(key) {
                    *last = now;
                }
                // Straight to the first activation queued for it, if one still waits, unless an
                // activation of another action has waited for memory since before that one came:
                // then the container makes room for it.
                if let Some(queue) = queued.get_mut(key) {
                    while let Some(w) = queue.pop_front() {
                        if w.tx.is_closed() {
                            continue;
                        }
                        if short_of_memory.first().is_some_and(|(t, _)| *t < w.arrived) {
                            queue.push_front(w);
                            make_room = true;
                            break;
                        }
                        if w.tx.send(c.clone()).is_ok() {
                            e.taken_warm = Some(Instant::now());
                            return;
                        }
                    }
                    if queue.is_empty() {
                        queued.remove(key);
                    }
                }
            }
            if !make_room {
                e.state = if active > 1 {
                    State::Busy { active: active - 1 }
                } else {
                    State::Idle {
                        since: Instant::now(),
                        paused: false,
                    }
                };
            }
        }
        if make_room {
            if let Some(e) = inner.entries.remove(&c.id) {
                inner.used_mb -= e.container.memory_mb;
            }
            drop(inner);
            let (docker, id) = (self.docker.clone(), c.id.clone());
            tokio::spawn(async move { docker.remove(&id).await });
        } else {
            drop(inner);
        }
        self.changed.notify_waiters();
    }

    /// Removes a container from the pool and from Docker.
    fn discard(&self, c: &Arc<Container>) {
        let mut inner = self.lock();
        if let Some(e) = inner.entries.remove(&c.id) {
            inner.used_mb -= c.memory_mb;
            // Those queued for the action's containers decide again: one fewer will free up.
            if let Some(key) = &e.key {
                inner.queued.remove(key);
            }
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
                let c = Arc::new(Container::new(s, memory_mb, kind));
                self.lock()
                    .entries
                    .insert(c.id.clone(), Entry::new(c, None, State::Prewarm, 1));
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
                        // No activation takes it half-paused.
                        e.state = State::Pausing { since };
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
            if let Some(e) = inner.entries.get_mut(&c.id)
                && matches!(e.state, State::Pausing { .. })
            {
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
    use super::*;

    #[test]
    fn stem_cell_memory_reads_as_megabytes() {
        assert_eq!(super::parse_mb("256 MB"), Some(256));
        assert_eq!(super::parse_mb("128m"), Some(128));
        assert_eq!(super::parse_mb("lots"), None);
    }

    /// A pool of `memory_mb` on an engine that is not there (a cold start fails at once), which
    /// weighs queueing from the first busy container on.
    fn pool(memory_mb: i64) -> Arc<Pool> {
        let config = InvokerConfig {
            user_memory_mb: memory_mb,
            prewarm: false,
            ..InvokerConfig::default()
        };
        Arc::new(Pool {
            cores: 1,
            config,
            docker: Docker::unreachable(),
            inner: Mutex::new(Inner {
                cold_ms: 500.0,
                ..Inner::default()
            }),
            changed: Notify::new(),
        })
    }

    fn want(action: &str) -> Want {
        Want {
            key: WarmKey {
                namespace: "guest".into(),
                action: action.into(),
                revision: "1".into(),
            },
            kind: "nodejs:20".into(),
            image: "owl/action-nodejs-v20:latest".into(),
            memory_mb: 256,
            may_use_prewarm: false,
            concurrency: 1,
        }
    }

    /// A container of `action`, initialized and running an activation taken warm.
    fn busy(pool: &Pool, id: &str, action: &str) -> Arc<Container> {
        let started = crate::docker::Started {
            id: id.into(),
            addr: "127.0.0.1:9".parse().unwrap(),
            logs: tokio::sync::mpsc::unbounded_channel().1,
        };
        let c = Arc::new(Container::new(started, 256, "nodejs:20"));
        c.initialized(Init::Done);
        let mut entry = Entry::new(
            c.clone(),
            Some(want(action).key),
            State::Busy { active: 1 },
            1,
        );
        entry.taken_warm = Some(Instant::now());
        let mut inner = pool.lock();
        inner.entries.insert(id.into(), entry);
        inner.used_mb += 256;
        c
    }

    /// How long a container of `action` is held, as the pool has measured it.
    fn occupancy(pool: &Pool, action: &str, ms: f64) {
        pool.lock()
            .occupancy
            .insert(want(action).key, (ms, Instant::now()));
    }

    type Acquired = tokio::task::JoinHandle<Result<(Arc<Container>, Start), DockerError>>;

    /// Starts an activation of `action` asking for a container, and lets it reach its decision.
    async fn arrive(pool: &Arc<Pool>, action: &str) -> Acquired {
        let (pool, want) = (pool.clone(), want(action));
        let task = tokio::spawn(async move { pool.acquire(&want).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        task
    }

    async fn served(task: &mut Acquired) -> Option<Result<(Arc<Container>, Start), DockerError>> {
        tokio::time::timeout(Duration::from_millis(500), task)
            .await
            .ok()
            .map(|joined| joined.expect("acquire does not panic"))
    }

    #[tokio::test]
    async fn an_activation_that_found_every_container_busy_gets_one_before_those_that_came_later() {
        let pool = pool(512);
        let (c1, c2) = (busy(&pool, "c1", "a"), busy(&pool, "c2", "a"));
        // Held so long that queueing looks worse than a cold start, for which there is no memory.
        occupancy(&pool, "a", 10_000.0);
        let mut first = arrive(&pool, "a").await;
        // Then held briefly: those who come now queue for the busy containers.
        occupancy(&pool, "a", 1.0);
        let mut second = arrive(&pool, "a").await;
        let mut third = arrive(&pool, "a").await;

        pool.release(&c1, true);
        let (c, start) = served(&mut first).await.expect("served").unwrap();
        assert_eq!((c.id.as_str(), start), ("c1", Start::Warm));
        assert!(served(&mut second).await.is_none(), "the second waits");

        pool.release(&c2, true);
        let (c, _) = served(&mut second).await.expect("served").unwrap();
        assert_eq!(c.id, "c2");
        pool.release(&c, true);
        let (c, _) = served(&mut third).await.expect("served").unwrap();
        assert_eq!(c.id, "c2");
    }

    #[tokio::test]
    async fn memory_freed_by_a_busy_action_goes_first_to_another_action_that_waited_longer() {
        let pool = pool(512);
        let (c1, c2) = (busy(&pool, "c1", "a"), busy(&pool, "c2", "a"));
        occupancy(&pool, "a", 1.0);
        let mut other = arrive(&pool, "b").await;
        let mut queued = arrive(&pool, "a").await;

        // The container released is removed to make room, and `b` starts one: on this engine,
        // that fails at once, which shows it tried.
        pool.release(&c1, true);
        let started = served(&mut other).await.expect("b decided");
        assert!(started.is_err(), "b started a container");
        assert!(served(&mut queued).await.is_none(), "a's queue waits");
        assert!(!pool.lock().entries.contains_key("c1"));

        pool.release(&c2, true);
        let (c, _) = served(&mut queued).await.expect("served").unwrap();
        assert_eq!(c.id, "c2");
    }

    #[tokio::test]
    async fn with_as_many_cold_starts_under_way_as_cores_an_activation_queues_for_its_action() {
        let pool = pool(2048);
        // One start under way (the pool has one core) for an action never run before.
        *pool.lock().starting.entry(want("a").key).or_default() += 1;
        let mut queued = arrive(&pool, "a").await;
        assert!(served(&mut queued).await.is_none(), "queued, not started");

        // The start ends, its activation runs and gives the container back.
        pool.lock().started(&want("a").key);
        let c = busy(&pool, "c1", "a");
        pool.release(&c, true);
        let (c, start) = served(&mut queued).await.expect("served").unwrap();
        assert_eq!((c.id.as_str(), start), ("c1", Start::Warm));

        // With none under way, an action's first activation starts a container (here: fails to).
        let mut other = arrive(&pool, "b").await;
        assert!(served(&mut other).await.expect("decided").is_err());
    }

    #[tokio::test]
    async fn a_start_under_way_for_another_action_does_not_hold_one_back_behind_a_busy_container() {
        let pool = pool(2048);
        *pool.lock().starting.entry(want("b").key).or_default() += 1;
        // `a`'s one container is busy, perhaps for minutes: `a` starts another (here: fails to).
        busy(&pool, "c1", "a");
        occupancy(&pool, "a", 60_000.0);
        let mut next = arrive(&pool, "a").await;
        assert!(served(&mut next).await.expect("decided").is_err());
    }

    #[tokio::test]
    async fn with_no_one_waiting_for_memory_a_released_container_goes_to_its_own_queue() {
        let pool = pool(512);
        let c1 = busy(&pool, "c1", "a");
        busy(&pool, "c2", "a");
        occupancy(&pool, "a", 1.0);
        let mut queued = arrive(&pool, "a").await;
        pool.release(&c1, true);
        let (c, start) = served(&mut queued).await.expect("served").unwrap();
        assert_eq!((c.id.as_str(), start), ("c1", Start::Warm));
        assert_eq!(pool.lock().used_mb, 512);
    }
}
