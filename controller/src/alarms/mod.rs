//! The built-in alarms service: `/whisk.system/alarms/{alarm,once,interval}` without a provider
//! process.
//!
//! - [`feed`]: the feed actions' `CREATE`, `READ`, `UPDATE` and `DELETE`, run in the controller when
//!   a client (`wsk trigger create --feed`, the npm client's `feeds`) invokes them: they check the
//!   parameters and the caller's key as upstream's provider does and keep the schedule in the store.
//! - [`scheduler`]: wakes at each schedule's time and fires its trigger through the trigger fire
//!   handler, as the key that created it. One controller at a time holds the scheduler's lease;
//!   each fire is booked in the store (a revision-checked write) before it is made, so a fire happens
//!   at most once whatever the number of controllers or restarts, and the booking survives them.
//!
//! A schedule lives in the store's service documents under `alarm/<namespace>/<trigger>`.

pub mod feed;
pub mod scheduler;

use owl_entity::EpochMillis;
use owl_entity::alarm::Alarm;
use owl_store::{Rev, Store, StoreError, Stored};
use tokio::sync::Notify;

use crate::AppState;

/// The alarms service's settings.
#[derive(Debug, Clone)]
pub struct AlarmsConfig {
    /// A fire found this late (Owl was down, or busy past reason) is still made, once; later than
    /// this it is skipped and recorded as missed.
    pub misfire_grace_ms: EpochMillis,
    /// Refuse six-field patterns with seconds (upstream's `limitCronFields`).
    pub limit_cron_fields: bool,
    /// `strict` as READ shows it when the schedule does not say (upstream's
    /// `ALARM_DELAY_DEFAULT_STRICT`). Owl adds no delay to five-field patterns either way.
    pub default_strict: bool,
    /// How long the scheduler's lease lasts without renewal: the time another controller waits to
    /// take over from one that died.
    pub lease_ms: EpochMillis,
    /// How often the scheduler reads every schedule again, for changes made by other controllers.
    pub refresh_ms: EpochMillis,
}

impl Default for AlarmsConfig {
    fn default() -> Self {
        AlarmsConfig {
            misfire_grace_ms: 10 * 60_000,
            limit_cron_fields: false,
            default_strict: false,
            lease_ms: 10_000,
            refresh_ms: 30_000,
        }
    }
}

/// The service as the controller's state holds it.
pub struct Alarms {
    pub config: AlarmsConfig,
    /// Rung after every change of a schedule through this controller.
    changed: Notify,
}

impl Alarms {
    pub fn new(config: AlarmsConfig) -> Alarms {
        Alarms {
            config,
            changed: Notify::new(),
        }
    }

    /// Tells the scheduler that schedules changed.
    pub fn changed(&self) {
        self.changed.notify_one();
    }

    pub(crate) async fn wait_for_change(&self) {
        self.changed.notified().await
    }
}

/// The identity a schedule's key (`uuid:key`) opens now: `None` when it is malformed, deleted or
/// blocked. Feeds check the caller's key with it, and every fire acts as it.
pub(crate) async fn identity_of(
    store: &dyn Store,
    apikey: &str,
) -> Result<Option<owl_entity::identity::Identity>, StoreError> {
    match owl_entity::identity::AuthKey::parse(apikey) {
        Some(k) => store.identity_for_key(&k).await,
        None => Ok(None),
    }
}

/// Where a trigger's schedule lives.
pub fn doc_id(namespace: &str, trigger: &str) -> String {
    format!("{PREFIX}{namespace}/{trigger}")
}

pub const PREFIX: &str = "alarm/";

pub(crate) async fn load(store: &dyn Store, id: &str) -> Result<Option<Stored<Alarm>>, StoreError> {
    let Some(doc) = store.get_doc(id).await? else {
        return Ok(None);
    };
    let value =
        owl_entity::from_value_exact(&doc.value).map_err(|_| StoreError::Corrupt(id.into()))?;
    Ok(Some(Stored {
        rev: doc.rev,
        value,
    }))
}

pub(crate) async fn save(
    store: &dyn Store,
    alarm: &Alarm,
    rev: Option<&Rev>,
) -> Result<Rev, StoreError> {
    let doc = serde_json::to_value(alarm).map_err(|e| StoreError::Backend(e.to_string()))?;
    store
        .put_doc(&doc_id(&alarm.namespace, &alarm.name), &doc, rev)
        .await
}

/// Changes a stored schedule with `change`, retrying when another writer got there first. `Ok(None)`:
/// there is no schedule (any more).
pub(crate) async fn modify(
    store: &dyn Store,
    id: &str,
    change: impl Fn(&mut Alarm),
) -> Result<Option<Alarm>, StoreError> {
    for _ in 0..8 {
        let Some(mut stored) = load(store, id).await? else {
            return Ok(None);
        };
        change(&mut stored.value);
        match save(store, &stored.value, Some(&stored.rev)).await {
            Ok(_) => return Ok(Some(stored.value)),
            Err(StoreError::Conflict) => continue,
            Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict)
}

/// A trigger was deleted without its feed's `DELETE`: its schedule stops, saying why.
pub async fn trigger_deleted(state: &AppState, namespace: &str, trigger: &str) {
    let id = doc_id(namespace, trigger);
    let now = crate::now_millis();
    let stopped = modify(&*state.store, &id, |a| {
        if a.status.active {
            a.stop(
                &format!(
                    "Trigger automatically disabled: the trigger /{namespace}/{trigger} was deleted"
                ),
                Some(404),
                now,
            );
        }
    })
    .await;
    match stopped {
        Ok(Some(_)) => {
            tracing::warn!(trigger = %format!("/{namespace}/{trigger}"),
                "a trigger with an alarm was deleted without its feed: the alarm is stopped");
            state.alarms.changed();
        }
        Ok(None) => {}
        Err(e) => {
            tracing::error!(error = %e, "the alarm of a deleted trigger could not be stopped")
        }
    }
}

/// The `/whisk.system/alarms` package and its three feed actions, as upstream's catalog installs
/// them (names, descriptions, parameter annotations, the `feed` annotation, `fireOnce` and
/// `isInterval` bound on `once` and `interval`), run by [`feed`] instead of a container. Upstream's
/// package also binds `apihost`, the address its feed calls its provider at: Owl's feed calls
/// nothing, so it has none.
pub fn catalog(now: EpochMillis) -> Vec<owl_entity::entity::Entity> {
    use owl_entity::action::Action;
    use owl_entity::entity::Entity;
    use owl_entity::exec::Exec;
    use owl_entity::limits::{ActionLimits, LimitBounds};
    use owl_entity::name::{EntityName, EntityPath};
    use owl_entity::package::Package;
    use owl_entity::params::Params;
    use owl_entity::semver::SemVer;
    use serde_json::{Value, json};

    let ns = EntityPath::from_name(EntityName::new("whisk.system").expect("a valid name"));
    let package = Package {
        namespace: ns.clone(),
        name: EntityName::new("alarms").expect("a valid name"),
        version: SemVer::default(),
        publish: true,
        binding: None,
        parameters: Params::from_pairs([("trigger_payload", json!(""))]),
        annotations: Params::from_pairs([
            ("description", json!("Alarms and periodic utility")),
            (
                "parameters",
                json!([{"name": "trigger_payload", "required": false}]),
            ),
        ]),
        updated: now,
    };
    let path = ns.child(&package.name);
    let feed = |name: &str, description: &str, parameters: Value, bound: Option<&str>| {
        Entity::Action(Action {
            namespace: path.clone(),
            name: EntityName::new(name).expect("a valid name"),
            version: SemVer::default(),
            publish: false,
            exec: Exec::Builtin {
                main: feed::MAIN.into(),
            },
            parameters: bound
                .map(|b| Params::from_pairs([(b, json!(true))]))
                .unwrap_or_default(),
            limits: ActionLimits::defaults(&LimitBounds::default()),
            annotations: Params::from_pairs([
                ("description", json!(description)),
                ("parameters", parameters),
                ("feed", json!(true)),
                ("provide-api-key", json!(false)),
                ("exec", json!(owl_entity::exec::BUILTIN)),
            ]),
            updated: now,
        })
    };
    vec![
        Entity::Package(package),
        feed(
            "alarm",
            "Fire trigger when alarm occurs",
            json!([{"name": "cron", "required": true}, {"name": "timezone", "required": false},
                   {"name": "startDate", "required": false}, {"name": "stopDate", "required": false},
                   {"name": "strict", "required": false}]),
            None,
        ),
        feed(
            "once",
            "Fire trigger once when alarm occurs",
            json!([{"name": "date", "required": true}, {"name": "deleteAfterFire", "required": false}]),
            Some("fireOnce"),
        ),
        feed(
            "interval",
            "Fire trigger at specified interval",
            json!([{"name": "minutes", "required": true}, {"name": "startDate", "required": false},
                   {"name": "stopDate", "required": false}]),
            Some("isInterval"),
        ),
    ]
}
