//! Which invoker runs an activation: upstream's sharding balancer, fed by heartbeats.
//!
//! Every invoker and controller sends a [`Heartbeat`] about once a second. An invoker heard from
//! within the health timeout, and not draining, is healthy. Each controller owns a share of every
//! invoker's memory (the invoker's memory divided by the controllers heard from), and counts the
//! memory its own activations hold there, so several controllers never book more than an invoker
//! has between them.
//!
//! An action's home invoker is a hash of its namespace and name over the invokers known, so its
//! warm containers are found again; from there the search steps by a number co-prime to the count,
//! skipping unhealthy invokers and those whose share is spent. Blackbox actions go to the last
//! `blackbox_fraction` of the invokers, the others to the rest (as upstream, the two ranges overlap
//! when there are few invokers). When every share is spent, the activation goes to a healthy invoker
//! of its range at random, as upstream's balancer does: the invoker queues it until memory frees.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use owl_entity::message::{Heartbeat, InvokerState};

/// How the balancer judges health.
#[derive(Debug, Clone)]
pub struct BalancerConfig {
    /// An invoker or controller not heard from for this long is gone.
    pub health_timeout: Duration,
    /// An invoker not heard from for this long is forgotten (it no longer counts for homes).
    pub forget_after: Duration,
    /// The share of invokers that run blackbox actions (upstream's `blackbox-fraction`).
    pub blackbox_fraction: f64,
}

impl Default for BalancerConfig {
    fn default() -> Self {
        BalancerConfig {
            health_timeout: Duration::from_secs(5),
            forget_after: Duration::from_secs(300),
            blackbox_fraction: 0.1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Healthy,
    /// Draining, or silent past the health timeout.
    Gone,
}

#[derive(Debug)]
struct InvokerSlot {
    user_memory_mb: i64,
    state: InvokerState,
    last_seen: Instant,
    /// Memory this controller's activations hold there.
    booked_mb: i64,
}

impl InvokerSlot {
    fn health(&self, now: Instant, timeout: Duration) -> Health {
        if self.state == InvokerState::Up && now.duration_since(self.last_seen) <= timeout {
            Health::Healthy
        } else {
            Health::Gone
        }
    }
}

#[derive(Default)]
struct State {
    /// By name: the order every controller agrees on.
    invokers: BTreeMap<String, InvokerSlot>,
    controllers: BTreeMap<String, Instant>,
}

pub struct Balancer {
    me: String,
    config: BalancerConfig,
    state: Mutex<State>,
}

/// An invoker chosen for an activation, with the memory booked there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub invoker: String,
    pub memory_mb: i64,
}

impl Balancer {
    pub fn new(me: &str, config: BalancerConfig) -> Balancer {
        Balancer {
            me: me.to_string(),
            config,
            state: Mutex::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a heartbeat in; answers the invoker whose health changed, if one did.
    pub fn heard(&self, beat: &Heartbeat) -> Option<(String, Health)> {
        self.heard_at(beat, Instant::now())
    }

    fn heard_at(&self, beat: &Heartbeat, now: Instant) -> Option<(String, Health)> {
        let mut s = self.state();
        match beat {
            Heartbeat::Controller { id, .. } => {
                s.controllers.insert(id.clone(), now);
                None
            }
            Heartbeat::Invoker {
                id,
                user_memory_mb,
                state,
                ..
            } => {
                let timeout = self.config.health_timeout;
                let slot = s.invokers.entry(id.clone()).or_insert(InvokerSlot {
                    user_memory_mb: *user_memory_mb,
                    state: InvokerState::Draining,
                    last_seen: now,
                    booked_mb: 0,
                });
                let before = slot.health(now, timeout);
                slot.user_memory_mb = *user_memory_mb;
                slot.state = *state;
                slot.last_seen = now;
                let after = slot.health(now, timeout);
                (before != after).then(|| (id.clone(), after))
            }
        }
    }

    /// Invokers that fell silent since the last sweep (they are now gone), and forgets those
    /// silent for long.
    pub fn sweep(&self) -> Vec<String> {
        self.sweep_at(Instant::now())
    }

    fn sweep_at(&self, now: Instant) -> Vec<String> {
        let BalancerConfig {
            health_timeout,
            forget_after,
            ..
        } = self.config;
        let mut s = self.state();
        s.controllers
            .retain(|_, seen| now.duration_since(*seen) <= forget_after);
        s.invokers
            .retain(|_, i| now.duration_since(i.last_seen) <= forget_after);
        let mut gone = vec![];
        for (name, slot) in s.invokers.iter_mut() {
            // Silent past the timeout while still marked up: it changed to gone now.
            if slot.state == InvokerState::Up && now.duration_since(slot.last_seen) > health_timeout
            {
                slot.state = InvokerState::Draining;
                gone.push(name.clone());
            }
        }
        gone
    }

    /// Whether `invoker` is healthy now.
    pub fn is_healthy(&self, invoker: &str) -> bool {
        let now = Instant::now();
        self.state()
            .invokers
            .get(invoker)
            .is_some_and(|i| i.health(now, self.config.health_timeout) == Health::Healthy)
    }

    /// How many controllers share the system: those heard from lately, this one always.
    pub fn cluster_size(&self) -> i64 {
        let s = self.state();
        self.controllers(&s, Instant::now())
    }

    /// How many controllers share the invokers: those heard from lately, this one always.
    fn controllers(&self, s: &State, now: Instant) -> i64 {
        let others = s
            .controllers
            .iter()
            .filter(|(id, seen)| {
                **id != self.me && now.duration_since(**seen) <= self.config.health_timeout
            })
            .count();
        others as i64 + 1
    }

    /// Chooses the invoker for an action and books its memory there; `None` when no invoker of its
    /// range is healthy.
    pub fn place(&self, fqn: &str, memory_mb: i64, blackbox: bool) -> Option<Placement> {
        self.place_at(fqn, memory_mb, blackbox, Instant::now())
    }

    fn place_at(
        &self,
        fqn: &str,
        memory_mb: i64,
        blackbox: bool,
        now: Instant,
    ) -> Option<Placement> {
        let timeout = self.config.health_timeout;
        let mut s = self.state();
        let controllers = self.controllers(&s, now);
        let names: Vec<String> = s.invokers.keys().cloned().collect();
        let range = range(names.len(), self.config.blackbox_fraction, blackbox);
        let candidates = &names[range];
        let n = candidates.len();
        if n == 0 {
            return None;
        }
        let hash = fnv1a(fqn.as_bytes());
        let home = (hash % n as u64) as usize;
        let step = step_for(n, hash);
        let mut fallback = vec![];
        for i in 0..n {
            let name = &candidates[(home + i * step) % n];
            let slot = &s.invokers[name];
            if slot.health(now, timeout) != Health::Healthy {
                continue;
            }
            let share = (slot.user_memory_mb / controllers).max(memory_mb);
            if share - slot.booked_mb >= memory_mb {
                return Some(self.book(&mut s, name, memory_mb));
            }
            fallback.push(name.clone());
        }
        if fallback.is_empty() {
            return None;
        }
        let pick = rand::random_range(0..fallback.len());
        tracing::info!(invoker = %fallback[pick], "every invoker's share is booked: sending to one at random");
        Some(self.book(&mut s, &fallback[pick], memory_mb))
    }

    fn book(&self, s: &mut State, invoker: &str, memory_mb: i64) -> Placement {
        if let Some(slot) = s.invokers.get_mut(invoker) {
            slot.booked_mb += memory_mb;
        }
        Placement {
            invoker: invoker.to_string(),
            memory_mb,
        }
    }

    /// Gives back memory booked by [`Balancer::place`].
    pub fn release(&self, placement: &Placement) {
        if let Some(slot) = self.state().invokers.get_mut(&placement.invoker) {
            slot.booked_mb = (slot.booked_mb - placement.memory_mb).max(0);
        }
    }

    /// The invokers known, with their health and the memory this controller booked there.
    pub fn census(&self) -> Vec<(String, Health, i64)> {
        let now = Instant::now();
        self.state()
            .invokers
            .iter()
            .map(|(n, i)| {
                (
                    n.clone(),
                    i.health(now, self.config.health_timeout),
                    i.booked_mb,
                )
            })
            .collect()
    }
}

/// The invokers of a range, as upstream: managed actions on the first `ceil(n * (1 - f))`, blackbox
/// ones on the last `floor(n * f)`, at least one each.
fn range(n: usize, fraction: f64, blackbox: bool) -> std::ops::Range<usize> {
    if n == 0 {
        return 0..0;
    }
    if blackbox {
        let count = ((n as f64 * fraction).floor() as usize).clamp(1, n);
        n - count..n
    } else {
        let count = ((n as f64 * (1.0 - fraction)).ceil() as usize).clamp(1, n);
        0..count
    }
}

/// A step through `n` invokers that visits each once: co-prime to `n`, picked by the hash, so that
/// actions sharing a home do not all spill to the same next invoker.
fn step_for(n: usize, hash: u64) -> usize {
    let coprimes: Vec<usize> = (1..=n).filter(|s| gcd(*s, n) == 1).collect();
    coprimes[(hash as usize / n.max(1)) % coprimes.len()]
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// FNV-1a: the same on every controller and every build, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invoker(id: &str, memory: i64) -> Heartbeat {
        Heartbeat::Invoker {
            id: id.into(),
            user_memory_mb: memory,
            state: InvokerState::Up,
            at: 0,
        }
    }

    fn balancer(invokers: &[&str], memory: i64) -> Balancer {
        let b = Balancer::new("c0", BalancerConfig::default());
        for i in invokers {
            b.heard(&invoker(i, memory));
        }
        b
    }

    #[test]
    fn an_action_goes_to_the_same_home_invoker_every_time() {
        let b = balancer(&["i0", "i1", "i2"], 100_000);
        let first = b.place("guest/hello", 256, false).unwrap();
        for _ in 0..20 {
            assert_eq!(
                b.place("guest/hello", 256, false).unwrap().invoker,
                first.invoker
            );
        }
        let other = Balancer::new("c1", BalancerConfig::default());
        for i in ["i2", "i0", "i1"] {
            other.heard(&invoker(i, 100_000));
        }
        assert_eq!(
            other.place("guest/hello", 256, false).unwrap().invoker,
            first.invoker,
            "every controller agrees on the home"
        );
    }

    #[test]
    fn actions_spread_over_the_invokers() {
        let b = balancer(&["i0", "i1", "i2", "i3"], 1_000_000);
        let mut used = std::collections::BTreeSet::new();
        for n in 0..64 {
            used.insert(b.place(&format!("guest/a{n}"), 128, false).unwrap().invoker);
        }
        assert_eq!(used.len(), 4);
    }

    #[test]
    fn a_full_home_steps_to_the_next_invoker_with_memory() {
        let b = balancer(&["i0", "i1"], 512);
        let first = b.place("guest/a", 256, false).unwrap();
        let second = b.place("guest/a", 256, false).unwrap();
        assert_eq!(first.invoker, second.invoker);
        let third = b.place("guest/a", 256, false).unwrap();
        assert_ne!(third.invoker, first.invoker, "the home's 512 MB are booked");
        b.release(&first);
        assert_eq!(
            b.place("guest/a", 256, false).unwrap().invoker,
            first.invoker
        );
    }

    #[test]
    fn two_controllers_share_each_invoker_s_memory() {
        let b = balancer(&["i0"], 1024);
        b.heard(&Heartbeat::Controller {
            id: "c1".into(),
            at: 0,
        });
        // 512 MB is this controller's share: two 256 MB activations fill it.
        b.place("guest/a", 256, false).unwrap();
        b.place("guest/a", 256, false).unwrap();
        let census = b.census();
        assert_eq!(census[0].2, 512);
        // A third still goes somewhere (the only invoker), as upstream's overloaded case.
        assert_eq!(b.place("guest/a", 256, false).unwrap().invoker, "i0");
    }

    #[test]
    fn unhealthy_and_draining_invokers_get_nothing_until_they_are_back() {
        let b = balancer(&["i0", "i1"], 100_000);
        let home = b.place("guest/a", 256, false).unwrap().invoker;
        let other = if home == "i0" { "i1" } else { "i0" };
        let change = b.heard(&Heartbeat::Invoker {
            id: home.clone(),
            user_memory_mb: 100_000,
            state: InvokerState::Draining,
            at: 0,
        });
        assert_eq!(change, Some((home.clone(), Health::Gone)));
        assert_eq!(b.place("guest/a", 256, false).unwrap().invoker, other);
        assert_eq!(
            b.heard(&invoker(&home, 100_000)),
            Some((home.clone(), Health::Healthy))
        );
        assert_eq!(b.place("guest/a", 256, false).unwrap().invoker, home);
    }

    #[test]
    fn a_silent_invoker_is_swept_as_gone_once() {
        let b = balancer(&["i0", "i1"], 100_000);
        let later = Instant::now() + Duration::from_secs(6);
        b.heard_at(&invoker("i1", 100_000), later);
        assert_eq!(b.sweep_at(later), vec!["i0".to_string()]);
        assert!(b.sweep_at(later).is_empty());
        assert_eq!(
            b.place_at("guest/a", 256, false, later).unwrap().invoker,
            "i1"
        );
    }

    #[test]
    fn no_healthy_invoker_places_nothing() {
        let b = Balancer::new("c0", BalancerConfig::default());
        assert_eq!(b.place("guest/a", 256, false), None);
    }

    #[test]
    fn blackbox_actions_run_on_the_last_tenth_of_the_invokers() {
        assert_eq!(range(10, 0.1, true), 9..10);
        assert_eq!(range(10, 0.1, false), 0..9);
        assert_eq!(range(2, 0.1, true), 1..2);
        assert_eq!(range(2, 0.1, false), 0..2);
        assert_eq!(range(1, 0.1, true), 0..1);
        let b = balancer(&["i0", "i1"], 100_000);
        for n in 0..10 {
            assert_eq!(
                b.place(&format!("guest/b{n}"), 256, true).unwrap().invoker,
                "i1"
            );
        }
    }

    #[test]
    fn steps_visit_every_invoker_once() {
        for n in 1..12 {
            for hash in [0u64, 7, 12345, u64::MAX] {
                let step = step_for(n, hash);
                let seen: std::collections::BTreeSet<usize> =
                    (0..n).map(|i| (i * step) % n).collect();
                assert_eq!(seen.len(), n);
            }
        }
    }
}
