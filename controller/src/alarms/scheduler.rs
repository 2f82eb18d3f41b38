//! The scheduler: fires each alarm's trigger at its time.
//!
//! Its life is a loop with three states, decided by the lease (`lease/alarms` in the store's service
//! documents): *following* (another controller holds the lease: renew attempts only), *leading*
//! (read every schedule, sleep until the earliest is due, fire what is due, read again after a
//! change or a while), and back. The lease is taken when it is free, expired or already ours, with a
//! revision-checked write, and renewed at a third of its length; a leader that cannot renew stops
//! firing at once.
//!
//! The invariant is *at most one fire per scheduled time*, even with two leaders (a lease that
//! expired under a stalled controller) or a restart mid-fire: a fire is made only after the write
//! that books it (`nextFire` moved on, `fireCount` and `lastFired` set) won against the revision it
//! read. A fire found due more than the misfire grace late is not made but recorded as missed.
//!
//! A fire goes through the trigger fire handler as the identity of the key that created the
//! schedule: throttles, rules and records as for any fire. Its outcome is kept in the schedule: a
//! trigger or key that is gone stops the schedule with the reason; a refusal that may pass (429, 5xx)
//! is retried a few times before the next fire and, failing that, recorded as `lastError`. Nothing
//! fails silently.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use owl_entity::EpochMillis;
use owl_entity::alarm::{Alarm, FireError};
use owl_entity::name::EntityName;
use owl_store::{Store, StoreError};
use serde_json::json;
use tokio::sync::mpsc;

use super::{PREFIX, doc_id, load, modify, save};
use crate::request::{Ctx, Reply};
use crate::transaction::TransactionId;
use crate::{AppState, now_millis, rules, triggers};

const LEASE: &str = "lease/alarms";

/// Starts the scheduler on the current runtime; it runs until the runtime stops. `holder` names this
/// controller in the lease: it must be unique among the controllers sharing a store, and the same
/// across its restarts so that a restarted controller takes its lease back at once.
pub fn start(state: Arc<AppState>, holder: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move { Scheduler::new(state, holder).run().await })
}

struct Scheduler {
    state: Arc<AppState>,
    holder: String,
    /// Schedules by due time, and each schedule's entry in it.
    due: BTreeSet<(EpochMillis, String)>,
    at: HashMap<String, EpochMillis>,
    /// Fires report each schedule's next time here once booked.
    booked_tx: mpsc::UnboundedSender<(String, Option<EpochMillis>)>,
    booked_rx: mpsc::UnboundedReceiver<(String, Option<EpochMillis>)>,
}

impl Scheduler {
    fn new(state: Arc<AppState>, holder: String) -> Scheduler {
        let (booked_tx, booked_rx) = mpsc::unbounded_channel();
        Scheduler {
            state,
            holder,
            due: BTreeSet::new(),
            at: HashMap::new(),
            booked_tx,
            booked_rx,
        }
    }

    async fn run(mut self) {
        let config = self.state.alarms.config.clone();
        let renew_every = config.lease_ms / 3;
        let mut leading = false;
        let mut renew_at = 0;
        let mut reload_at = 0;
        loop {
            let now = now_millis();
            if now >= renew_at {
                let lead = take_lease(&*self.state.store, &self.holder, config.lease_ms, now).await;
                if lead != leading {
                    tracing::info!(holder = %self.holder, leading = lead, "alarm scheduler lease");
                    leading = lead;
                    reload_at = 0;
                }
                renew_at = now + renew_every;
            }
            if !leading {
                self.due.clear();
                self.at.clear();
                tokio::select! {
                    _ = sleep_until(renew_at) => {}
                    _ = self.state.alarms.wait_for_change() => {}
                }
                continue;
            }
            if now >= reload_at {
                self.reload().await;
                reload_at = now + config.refresh_ms;
            }
            while let Some((t, id)) = self.due.first().cloned() {
                if t > now_millis() {
                    break;
                }
                self.due.remove(&(t, id.clone()));
                self.at.remove(&id);
                let (state, tx) = (self.state.clone(), self.booked_tx.clone());
                tokio::spawn(async move {
                    let next = fire_due(&state, &id, t).await;
                    let _ = tx.send((id, next));
                });
            }
            let wake = self
                .due
                .first()
                .map_or(reload_at, |(t, _)| *t)
                .min(reload_at)
                .min(renew_at);
            tokio::select! {
                _ = sleep_until(wake) => {}
                _ = self.state.alarms.wait_for_change() => reload_at = 0,
                Some((id, next)) = self.booked_rx.recv() => self.set(id, next),
            }
        }
    }

    fn set(&mut self, id: String, next: Option<EpochMillis>) {
        if let Some(old) = self.at.remove(&id) {
            self.due.remove(&(old, id.clone()));
        }
        if let Some(t) = next {
            self.due.insert((t, id.clone()));
            self.at.insert(id, t);
        }
    }

    /// Reads every schedule again.
    async fn reload(&mut self) {
        match self.state.store.list_docs(PREFIX).await {
            Ok(docs) => {
                self.due.clear();
                self.at.clear();
                for (id, doc) in docs {
                    match owl_entity::from_value_exact::<Alarm>(&doc.value) {
                        Ok(a) if a.status.active => self.set(id, a.next_fire),
                        Ok(_) => {}
                        Err(e) => {
                            tracing::error!(schedule = %id, error = %e, "an alarm schedule does not read back")
                        }
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "alarm schedules could not be read"),
        }
    }
}

async fn sleep_until(t: EpochMillis) {
    let wait = (t - now_millis()).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(wait)).await
}

/// Takes or renews the lease; `true` while this controller holds it.
async fn take_lease(
    store: &dyn Store,
    holder: &str,
    length: EpochMillis,
    now: EpochMillis,
) -> bool {
    let doc = json!({"holder": holder, "expires": now + length});
    match store.get_doc(LEASE).await {
        Ok(None) => store.put_doc(LEASE, &doc, None).await.is_ok(),
        Ok(Some(lease)) => {
            let ours = lease.value["holder"] == holder;
            let expired = lease.value["expires"].as_i64().is_none_or(|e| e < now);
            (ours || expired) && store.put_doc(LEASE, &doc, Some(&lease.rev)).await.is_ok()
        }
        Err(e) => {
            tracing::error!(error = %e, "the alarm scheduler's lease could not be read");
            false
        }
    }
}

/// Handles schedule `id` found due at `t`: books and makes the fire, or records it as missed.
/// Answers the schedule's next time, as it is now.
async fn fire_due(state: &Arc<AppState>, id: &str, t: EpochMillis) -> Option<EpochMillis> {
    let store = &*state.store;
    let grace = state.alarms.config.misfire_grace_ms;
    let (before, booked) = loop {
        let stored = match load(store, id).await {
            Ok(Some(s)) => s,
            Ok(None) => return None,
            Err(e) => {
                tracing::error!(schedule = %id, error = %e, "an alarm could not be read: its fire waits for the next reading");
                return None;
            }
        };
        let mut alarm = stored.value.clone();
        if !alarm.status.active || alarm.next_fire != Some(t) {
            // Changed since it was read: its current time stands.
            return alarm.next_fire.filter(|_| alarm.status.active);
        }
        let now = now_millis();
        let missed = alarm.skip_missed(now, grace);
        if missed > 0 {
            tracing::warn!(schedule = %id, missed, "alarm fires were missed while Owl was not running");
        }
        let active = alarm.status.active;
        let make = alarm.next_fire.filter(|n| active && *n <= now);
        if let Some(scheduled) = make {
            alarm.fired(scheduled, now);
        }
        match save(store, &alarm, Some(&stored.rev)).await {
            Ok(_) if make.is_none() => return alarm.next_fire,
            Ok(_) => break (stored.value, alarm),
            // Booked by someone else (another controller, or a feed change): read it again.
            Err(StoreError::Conflict) => continue,
            Err(StoreError::NotFound) => return None,
            Err(e) => {
                tracing::error!(schedule = %id, error = %e, "an alarm fire could not be booked, so it is not made");
                return alarm.next_fire;
            }
        }
    };
    let next = booked.next_fire;
    let outcome = fire(state, &before, next).await;
    settle(state, &booked, outcome).await;
    next
}

/// What came of one fire.
enum Outcome {
    Fired,
    /// It may go through next time: recorded.
    Failed(String),
    /// It never will (the trigger or the key is gone): the schedule stops.
    Stop(u16, String),
}

/// Fires the alarm's trigger as its key's identity; retries refusals that may pass, but never past
/// the next scheduled time.
async fn fire(state: &Arc<AppState>, alarm: &Alarm, next: Option<EpochMillis>) -> Outcome {
    let trigger = format!("/{}/{}", alarm.namespace, alarm.name);
    let identity = match super::identity_of(&*state.store, &alarm.apikey).await {
        Ok(i) => i,
        Err(e) => return Outcome::Failed(format!("the store could not be read: {e}")),
    };
    let Some(identity) = identity.filter(|i| i.namespace.as_str() == alarm.namespace) else {
        return Outcome::Stop(
            401,
            format!(
                "the key that created the alarm no longer opens namespace '{}' (deleted or blocked)",
                alarm.namespace
            ),
        );
    };
    let (Ok(ns), Ok(name)) = (
        EntityName::new(alarm.namespace.clone()),
        EntityName::new(alarm.name.clone()),
    ) else {
        return Outcome::Stop(400, format!("'{trigger}' is not a trigger name"));
    };
    let body = Bytes::from(alarm.payload.to_string());
    let mut delay = Duration::from_secs(1);
    loop {
        let fired = Ctx::internal(
            state,
            &identity,
            &TransactionId::mint(),
            (
                Method::POST,
                format!("/api/v1/namespaces/{ns}/triggers/{name}"),
            ),
            body.clone(),
            async |ctx| triggers::fire(ctx, &ns, &name).await,
        )
        .await;
        let error = match fired {
            Ok(_) => return Outcome::Fired,
            Err(e) => e,
        };
        let retry = error.status == StatusCode::TOO_MANY_REQUESTS
            || error.status == StatusCode::REQUEST_TIMEOUT
            || error.status == StatusCode::CONFLICT
            || error.status.is_server_error();
        let message = format!("{} ({})", error.message, error.status.as_u16());
        if !retry {
            return Outcome::Stop(
                error.status.as_u16(),
                format!("firing {trigger} was refused: {message}"),
            );
        }
        let retry_at = now_millis() + delay.as_millis() as i64;
        if delay > Duration::from_secs(8) || next.is_some_and(|n| retry_at >= n) {
            return Outcome::Failed(format!("firing {trigger} failed: {message}"));
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
}

/// Keeps the outcome of a fire in its schedule, and deletes what a `once` alarm asked to delete.
async fn settle(state: &Arc<AppState>, alarm: &Alarm, outcome: Outcome) {
    let id = doc_id(&alarm.namespace, &alarm.name);
    let now = now_millis();
    let kept = match &outcome {
        Outcome::Fired => {
            if matches!(alarm.delete_after_fire.as_deref(), Some("true" | "rules")) {
                delete_after_fire(state, alarm).await;
            }
            return;
        }
        Outcome::Failed(message) => {
            tracing::warn!(schedule = %id, error = %message, "an alarm fire failed");
            modify(&*state.store, &id, |a| {
                a.last_error = Some(FireError {
                    date: now,
                    message: message.clone(),
                })
            })
            .await
        }
        Outcome::Stop(code, message) => {
            tracing::warn!(schedule = %id, error = %message, "an alarm is stopped");
            modify(&*state.store, &id, |a| {
                a.last_error = Some(FireError {
                    date: now,
                    message: message.clone(),
                });
                a.stop(
                    &format!("Trigger automatically disabled: {message}"),
                    Some(*code),
                    now,
                );
            })
            .await
        }
    };
    if let Err(e) = kept {
        tracing::error!(schedule = %id, error = %e, "the outcome of an alarm fire could not be kept");
    }
    state.alarms.changed();
}

/// `deleteAfterFire`: the schedule and the trigger go (`true`), and the trigger's rules too (`rules`),
/// deleted as the schedule's key, as a client would.
async fn delete_after_fire(state: &Arc<AppState>, alarm: &Alarm) {
    let id = doc_id(&alarm.namespace, &alarm.name);
    if let Ok(Some(s)) = load(&*state.store, &id).await {
        let _ = state.store.delete_doc(&id, &s.rev).await;
    }
    let Ok(Some(identity)) = super::identity_of(&*state.store, &alarm.apikey).await else {
        return;
    };
    let (Ok(ns), Ok(name)) = (
        EntityName::new(alarm.namespace.clone()),
        EntityName::new(alarm.name.clone()),
    ) else {
        return;
    };
    let tid = TransactionId::mint();
    if alarm.delete_after_fire.as_deref() == Some("rules") {
        let trigger = Ctx::internal(
            state,
            &identity,
            &tid,
            (
                Method::GET,
                format!("/api/v1/namespaces/{ns}/triggers/{name}"),
            ),
            Bytes::new(),
            async |ctx| triggers::get(ctx, &ns, &name).await,
        )
        .await;
        let rules_of: Vec<String> = match trigger {
            Ok(Reply::Json(_, t)) => t["rules"]
                .as_object()
                .map(|r| r.keys().cloned().collect())
                .unwrap_or_default(),
            _ => vec![],
        };
        for rule in rules_of {
            let Some(rule) = rule
                .rsplit('/')
                .next()
                .and_then(|r| EntityName::new(r).ok())
            else {
                continue;
            };
            let deleted = Ctx::internal(
                state,
                &identity,
                &tid,
                (
                    Method::DELETE,
                    format!("/api/v1/namespaces/{ns}/rules/{rule}"),
                ),
                Bytes::new(),
                async |ctx| rules::delete(ctx, &ns, &rule).await,
            )
            .await;
            if let Err(e) = deleted {
                tracing::warn!(rule = %rule, error = %e.message, "a rule of a fired once alarm could not be deleted");
            }
        }
    }
    let deleted = Ctx::internal(
        state,
        &identity,
        &tid,
        (
            Method::DELETE,
            format!("/api/v1/namespaces/{ns}/triggers/{name}"),
        ),
        Bytes::new(),
        async |ctx| triggers::delete(ctx, &ns, &name).await,
    )
    .await;
    if let Err(e) = deleted {
        tracing::warn!(trigger = %name, error = %e.message, "the trigger of a fired once alarm could not be deleted");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use owl_entity::entity::Entity;
    use owl_entity::name::FullyQualifiedName;
    use owl_entity::trigger::TriggerPut;
    use owl_store::MemoryStore;

    #[tokio::test]
    async fn a_lease_has_one_holder_until_it_expires() {
        let store = MemoryStore::new();
        assert!(take_lease(&store, "a", 1_000, 0).await);
        assert!(!take_lease(&store, "b", 1_000, 500).await);
        assert!(
            take_lease(&store, "a", 1_000, 600).await,
            "the holder renews"
        );
        assert!(!take_lease(&store, "b", 1_000, 1_500).await);
        assert!(
            take_lease(&store, "b", 1_000, 1_601).await,
            "an expired lease is taken"
        );
        assert!(!take_lease(&store, "a", 1_000, 1_700).await);
    }

    /// Two schedulers that both believe they lead (a lease that expired under a stalled controller
    /// looks like this) still fire each scheduled second once: every fire made was booked first.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_leaders_of_one_schedule_fire_each_time_once() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        owl_store::seed::ensure_default_subjects(&*store)
            .await
            .unwrap();
        let guest = EntityName::new("guest").unwrap();
        let t = TriggerPut::default()
            .create(
                &FullyQualifiedName::in_namespace(&guest, &EntityName::new("t").unwrap()),
                0,
            )
            .unwrap();
        store.put_entity(&Entity::Trigger(t), None).await.unwrap();
        let params = json!({"cron": "* * * * * *"});
        let alarm = Alarm::create(
            params.as_object().unwrap(),
            "guest",
            "t",
            owl_entity::identity::GUEST_KEY,
            now_millis(),
            false,
        )
        .unwrap();
        save(&*store, &alarm, None).await.unwrap();
        let state = AppState::new(
            store.clone(),
            crate::ControllerConfig::default(),
            None,
            super::super::AlarmsConfig::default(),
        );
        let a = start(state.clone(), "same".into());
        let b = start(state.clone(), "same".into());
        tokio::time::sleep(Duration::from_millis(3_300)).await;
        a.abort();
        b.abort();
        let stored = load(&*store, &doc_id("guest", "t"))
            .await
            .unwrap()
            .unwrap()
            .value;
        let made = state.fires.counted("guest", now_millis());
        assert!(
            (2..=4).contains(&stored.fire_count),
            "{}",
            stored.fire_count
        );
        // A minute boundary inside the run resets the throttle's count: then it is smaller.
        assert!(
            made <= stored.fire_count as i64,
            "{made} fires made, {} booked",
            stored.fire_count
        );
        assert!(stored.last_error.is_none(), "{:?}", stored.last_error);
    }
}
