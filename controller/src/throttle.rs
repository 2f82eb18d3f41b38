//! Namespace throttles: invocations per minute (a counter per calendar minute, reset when the minute
//! changes, as upstream counts) and concurrent invocations (activations queued or running, released
//! by their completion). Both answer 429 with OpenWhisk's words.
//!
//! Each controller counts on its own, so with several controllers each applies its share of a limit,
//! as upstream's entitlement does: the limit raised by a fifth (round-robin balancing is never quite
//! fair), divided by the controllers, at least 1 (0 stays 0). See [`individual_limit`].

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::http::StatusCode;

use crate::error::ApiError;

/// The share of a namespace limit one of `controllers` controllers applies (upstream's
/// `calculateIndividualLimit`).
pub fn individual_limit(limit: i64, controllers: i64) -> i64 {
    if limit <= 0 || controllers <= 1 {
        return limit;
    }
    let dilated = (limit as f64 * 1.2).ceil() as i64;
    (dilated / controllers).max(1)
}

#[derive(Default)]
pub struct Throttle {
    rate: Mutex<HashMap<String, (i64, i64)>>,
    inflight: Mutex<HashMap<String, i64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Throttle {
    /// Counts one request of `namespace` in the current minute; refuses it past `limit`.
    pub fn check_rate(&self, namespace: &str, limit: i64, now_ms: i64) -> Result<(), ApiError> {
        let minute = now_ms / 60_000;
        let mut rate = lock(&self.rate);
        let entry = rate.entry(namespace.to_string()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 += 1;
        if entry.1 > limit {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many requests in the last minute (count: {}, allowed: {limit}).",
                    entry.1
                ),
            ));
        }
        Ok(())
    }

    /// Takes a slot of `namespace`'s concurrent invocations; refuses when all `limit` are taken.
    pub fn acquire(&self, namespace: &str, limit: i64) -> Result<(), ApiError> {
        let mut inflight = lock(&self.inflight);
        let n = inflight.entry(namespace.to_string()).or_insert(0);
        if *n >= limit {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many concurrent requests in flight (count: {n}, allowed: {limit})."),
            ));
        }
        *n += 1;
        Ok(())
    }

    pub fn release(&self, namespace: &str) {
        let mut inflight = lock(&self.inflight);
        if let Some(n) = inflight.get_mut(namespace) {
            *n = (*n - 1).max(0);
        }
    }

    /// Requests of `namespace` counted in the minute of `now_ms`.
    pub fn counted(&self, namespace: &str, now_ms: i64) -> i64 {
        match lock(&self.rate).get(namespace) {
            Some((minute, n)) if *minute == now_ms / 60_000 => *n,
            _ => 0,
        }
    }

    pub fn in_flight(&self, namespace: &str) -> i64 {
        lock(&self.inflight).get(namespace).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_counter_resets_with_the_calendar_minute() {
        let t = Throttle::default();
        assert!(t.check_rate("ns", 2, 0).is_ok());
        assert!(t.check_rate("ns", 2, 1).is_ok());
        let e = t.check_rate("ns", 2, 2).unwrap_err();
        assert_eq!(
            e.message,
            "Too many requests in the last minute (count: 3, allowed: 2)."
        );
        assert!(t.check_rate("ns", 2, 60_000).is_ok());
        assert!(t.check_rate("other", 2, 2).is_ok());
    }

    #[test]
    fn several_controllers_each_apply_a_dilated_share_of_a_limit() {
        assert_eq!(individual_limit(60, 1), 60);
        assert_eq!(individual_limit(60, 2), 36);
        assert_eq!(individual_limit(30, 3), 12);
        assert_eq!(individual_limit(1, 4), 1);
        assert_eq!(individual_limit(0, 2), 0);
    }

    #[test]
    fn concurrent_slots_are_taken_and_given_back() {
        let t = Throttle::default();
        t.acquire("ns", 1).unwrap();
        assert_eq!(
            t.acquire("ns", 1).unwrap_err().message,
            "Too many concurrent requests in flight (count: 1, allowed: 1)."
        );
        t.release("ns");
        assert!(t.acquire("ns", 1).is_ok());
        assert_eq!(t.in_flight("ns"), 1);
    }
}
