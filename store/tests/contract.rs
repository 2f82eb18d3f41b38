//! The store contract, run against every backend: the in-memory twin, SQLite and CouchDB, each alone
//! and behind the read cache.
//!
//! The CouchDB cases need a server: `OWL_TEST_COUCH_URL` names it (`scripts/test` starts one with
//! `scripts/services/couch/run`). Each case gets databases of its own, deleted when it ends.

use std::sync::Arc;

use owl_entity::activation::{Activation, ActivationId, ActivationResponse, StatusCode};
use owl_entity::entity::{Collection, Entity};
use owl_entity::exec::Exec;
use owl_entity::identity::{AuthKey, NamespaceKey, NamespaceLimits, Subject};
use owl_entity::limits::{ActionLimits, LimitBounds};
use owl_entity::name::{EntityName, EntityPath};
use owl_entity::package::{Binding, Package};
use owl_entity::params::Params;
use owl_entity::semver::SemVer;
use owl_store::{ActivationQuery, EntityQuery, Scope, Store, StoreError};
use serde_json::json;

fn name(s: &str) -> EntityName {
    EntityName::new(s).unwrap()
}

fn action(path: &str, n: &str, updated: i64) -> Entity {
    Entity::Action(owl_entity::action::Action {
        namespace: EntityPath::parse(path).unwrap(),
        name: name(n),
        version: SemVer::default(),
        publish: false,
        exec: Exec::Code {
            kind: "nodejs:20".into(),
            code: "x".into(),
            main: None,
            binary: false,
        },
        parameters: Params::new(),
        limits: ActionLimits::defaults(&LimitBounds::default()),
        annotations: Params::new(),
        updated,
    })
}

fn package(ns: &str, n: &str, publish: bool, binding: Option<Binding>, updated: i64) -> Entity {
    Entity::Package(Package {
        namespace: EntityPath::parse(ns).unwrap(),
        name: name(n),
        version: SemVer::default(),
        publish,
        binding,
        parameters: Params::new(),
        annotations: Params::new(),
        updated,
    })
}

fn subject(s: &str, ns: &str) -> (Subject, AuthKey) {
    let k = AuthKey::generate();
    let subj = Subject {
        subject: s.into(),
        namespaces: vec![NamespaceKey {
            name: name(ns),
            uuid: k.uuid.clone(),
            key: k.key.clone(),
        }],
        blocked: false,
    };
    (subj, k)
}

fn activation(ns: &str, n: &str, start: i64, path: &str) -> Activation {
    Activation {
        namespace: EntityPath::parse(ns).unwrap(),
        name: name(n),
        version: SemVer::default(),
        subject: ns.into(),
        activation_id: ActivationId::generate(),
        start,
        end: start + 5,
        duration: None,
        response: ActivationResponse {
            status_code: StatusCode::Success,
            result: Some(json!({})),
            size: None,
        },
        logs: vec![],
        annotations: Params::from_pairs([("path", json!(path))]),
        publish: false,
        cause: None,
    }
}

fn names(list: &[Entity]) -> Vec<String> {
    list.iter().map(|e| e.fqn().doc_id()).collect()
}

/// A backend under test, and what removes its data when the test ends.
struct TestStore {
    store: Arc<dyn Store>,
    _cleanup: Option<DeleteDatabases>,
}

impl TestStore {
    /// A backend whose data goes with it (memory, a temporary directory).
    fn plain(store: Arc<dyn Store>) -> Self {
        TestStore {
            store,
            _cleanup: None,
        }
    }
}

impl std::ops::Deref for TestStore {
    type Target = Arc<dyn Store>;
    fn deref(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

/// Deletes a CouchDB test's databases when dropped (on its own runtime: a drop cannot wait).
struct DeleteDatabases(owl_store::CouchConfig);

impl Drop for DeleteDatabases {
    fn drop(&mut self) {
        let config = self.0.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(owl_store::CouchStore::delete_databases(&config))
        })
        .join();
    }
}

/// The server the CouchDB cases use, with a database prefix no other test uses.
fn couch_config() -> owl_store::CouchConfig {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let url = std::env::var("OWL_TEST_COUCH_URL").unwrap_or_else(|_| {
        panic!(
            "the CouchDB contract tests need a CouchDB-compatible server: start one with \
             scripts/services/couch/run start DIR PORT and set OWL_TEST_COUCH_URL \
             (scripts/test does)"
        )
    });
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    owl_store::CouchConfig {
        db_prefix: format!("t{}_{n}_", std::process::id()),
        ..owl_store::CouchConfig::new(url)
    }
}

async fn couch_store(cached: bool) -> TestStore {
    let config = couch_config();
    let store: Arc<dyn Store> = Arc::new(
        owl_store::CouchStore::connect(config.clone())
            .await
            .unwrap(),
    );
    TestStore {
        store: if cached {
            owl_store::CachedStore::wrap(store)
        } else {
            store
        },
        _cleanup: Some(DeleteDatabases(config)),
    }
}

macro_rules! contract {
    ($backend:ident, with_cleanup: $make:expr) => {
        mod $backend {
            use super::*;

            async fn store() -> TestStore {
                $make
            }

            #[tokio::test]
            async fn service_documents_are_revisioned_and_a_stale_write_changes_nothing() {
                let s = store().await;
                assert_eq!(s.get_doc("alarm/guest/t").await.unwrap(), None);
                let r1 = s.put_doc("alarm/guest/t", &json!({"n": 1}), None).await.unwrap();
                assert_eq!(
                    s.put_doc("alarm/guest/t", &json!({"n": 9}), None).await,
                    Err(StoreError::Conflict)
                );
                let r2 = s
                    .put_doc("alarm/guest/t", &json!({"n": 2}), Some(&r1))
                    .await
                    .unwrap();
                assert_eq!(
                    s.put_doc("alarm/guest/t", &json!({"n": 3}), Some(&r1)).await,
                    Err(StoreError::Conflict)
                );
                assert_eq!(
                    s.delete_doc("alarm/guest/t", &r1).await,
                    Err(StoreError::Conflict)
                );
                let got = s.get_doc("alarm/guest/t").await.unwrap().unwrap();
                assert_eq!((got.rev.clone(), got.value), (r2.clone(), json!({"n": 2})));
                s.delete_doc("alarm/guest/t", &r2).await.unwrap();
                assert_eq!(s.get_doc("alarm/guest/t").await.unwrap(), None);
                assert_eq!(
                    s.put_doc("alarm/guest/t", &json!({}), Some(&r2)).await,
                    Err(StoreError::NotFound)
                );
            }

            #[tokio::test]
            async fn service_documents_list_by_prefix_in_id_order() {
                let s = store().await;
                for id in ["alarm/b/t", "lease/scheduler", "alarm/a/t", "alarms", "alarm/a/s"] {
                    s.put_doc(id, &json!({"id": id}), None).await.unwrap();
                }
                let ids: Vec<String> = s
                    .list_docs("alarm/")
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|(id, d)| {
                        assert_eq!(d.value["id"], id.as_str());
                        id
                    })
                    .collect();
                assert_eq!(ids, ["alarm/a/s", "alarm/a/t", "alarm/b/t"]);
                assert!(s.list_docs("nothing/").await.unwrap().is_empty());
            }

            #[tokio::test]
            async fn racing_writers_of_one_service_document_have_exactly_one_winner() {
                let s = store().await;
                let r = s.put_doc("lease/x", &json!({"holder": null}), None).await.unwrap();
                let mut tasks = Vec::new();
                for i in 0..16 {
                    let (s, r) = (s.clone(), r.clone());
                    tasks.push(tokio::spawn(async move {
                        s.put_doc("lease/x", &json!({"holder": i}), Some(&r)).await.is_ok()
                    }));
                }
                let mut winners = 0;
                for t in tasks {
                    winners += t.await.unwrap() as usize;
                }
                assert_eq!(winners, 1);
            }

            #[tokio::test]
            async fn creating_an_entity_that_exists_is_a_conflict() {
                let s = store().await;
                s.put_entity(&action("guest", "a", 1), None).await.unwrap();
                assert_eq!(
                    s.put_entity(&action("guest", "a", 2), None).await,
                    Err(StoreError::Conflict)
                );
            }

            #[tokio::test]
            async fn an_update_with_a_stale_revision_is_a_conflict_and_changes_nothing() {
                let s = store().await;
                let r1 = s.put_entity(&action("guest", "a", 1), None).await.unwrap();
                let r2 = s
                    .put_entity(&action("guest", "a", 2), Some(&r1))
                    .await
                    .unwrap();
                assert_ne!(r1, r2);
                assert_eq!(
                    s.put_entity(&action("guest", "a", 3), Some(&r1)).await,
                    Err(StoreError::Conflict)
                );
                let got = s.get_entity("guest/a").await.unwrap().unwrap();
                assert_eq!((got.rev, got.value.updated()), (r2, 2));
            }

            #[tokio::test]
            async fn updating_or_deleting_a_missing_entity_says_not_found() {
                let s = store().await;
                let r = s.put_entity(&action("guest", "a", 1), None).await.unwrap();
                s.delete_entity("guest/a", &r).await.unwrap();
                assert_eq!(s.get_entity("guest/a").await.unwrap(), None);
                assert_eq!(
                    s.delete_entity("guest/a", &r).await,
                    Err(StoreError::NotFound)
                );
                assert_eq!(
                    s.put_entity(&action("guest", "a", 2), Some(&r)).await,
                    Err(StoreError::NotFound)
                );
            }

            #[tokio::test]
            async fn a_delete_with_a_stale_revision_is_a_conflict() {
                let s = store().await;
                let r1 = s.put_entity(&action("guest", "a", 1), None).await.unwrap();
                s.put_entity(&action("guest", "a", 2), Some(&r1))
                    .await
                    .unwrap();
                assert_eq!(
                    s.delete_entity("guest/a", &r1).await,
                    Err(StoreError::Conflict)
                );
                assert!(s.get_entity("guest/a").await.unwrap().is_some());
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn of_many_concurrent_updates_from_one_revision_exactly_one_wins() {
                let s = store().await;
                let r = s.put_entity(&action("guest", "a", 0), None).await.unwrap();
                let tasks: Vec<_> = (1..=16)
                    .map(|i| {
                        let (s, r) = (s.clone(), r.clone());
                        tokio::spawn(async move {
                            s.put_entity(&action("guest", "a", i), Some(&r)).await
                        })
                    })
                    .collect();
                let mut wins = vec![];
                for (i, t) in tasks.into_iter().enumerate() {
                    match t.await.unwrap() {
                        Ok(_) => wins.push(i as i64 + 1),
                        Err(e) => assert_eq!(e, StoreError::Conflict),
                    }
                }
                assert_eq!(wins.len(), 1);
                assert_eq!(
                    s.get_entity("guest/a")
                        .await
                        .unwrap()
                        .unwrap()
                        .value
                        .updated(),
                    wins[0]
                );
            }

            #[tokio::test]
            async fn lists_are_newest_first_and_paged() {
                let s = store().await;
                for (n, t) in [("a", 1), ("b", 3), ("c", 2)] {
                    s.put_entity(&action("guest", n, t), None).await.unwrap();
                }
                s.put_entity(&action("other", "z", 9), None).await.unwrap();
                let mut q = EntityQuery::new(Collection::Actions, Scope::Namespace(name("guest")));
                assert_eq!(
                    names(&s.list_entities(&q).await.unwrap()),
                    ["guest/b", "guest/c", "guest/a"]
                );
                q.skip = 1;
                q.limit = Some(1);
                assert_eq!(names(&s.list_entities(&q).await.unwrap()), ["guest/c"]);
                assert_eq!(s.count_entities(&q).await.unwrap(), 3);
            }

            #[tokio::test]
            async fn a_namespace_scope_includes_packaged_actions_and_a_path_scope_only_its_own() {
                let s = store().await;
                s.put_entity(&action("guest", "a", 1), None).await.unwrap();
                s.put_entity(&action("guest/pkg", "b", 2), None)
                    .await
                    .unwrap();
                s.put_entity(&package("guest", "pkg", false, None, 3), None)
                    .await
                    .unwrap();
                let all = EntityQuery::new(Collection::Actions, Scope::Namespace(name("guest")));
                assert_eq!(
                    names(&s.list_entities(&all).await.unwrap()),
                    ["guest/pkg/b", "guest/a"]
                );
                let pkg = EntityQuery::new(
                    Collection::Actions,
                    Scope::Path(EntityPath::parse("guest/pkg").unwrap()),
                );
                assert_eq!(
                    names(&s.list_entities(&pkg).await.unwrap()),
                    ["guest/pkg/b"]
                );
                let packages =
                    EntityQuery::new(Collection::Packages, Scope::Namespace(name("guest")));
                assert_eq!(
                    names(&s.list_entities(&packages).await.unwrap()),
                    ["guest/pkg"]
                );
            }

            #[tokio::test]
            async fn public_lists_hold_published_packages_but_no_bindings() {
                let s = store().await;
                let b = Binding {
                    namespace: name("guest"),
                    name: name("shared"),
                };
                s.put_entity(&package("guest", "shared", true, None, 1), None)
                    .await
                    .unwrap();
                s.put_entity(&package("guest", "private", false, None, 2), None)
                    .await
                    .unwrap();
                s.put_entity(&package("guest", "bound", true, Some(b), 3), None)
                    .await
                    .unwrap();
                let mut q = EntityQuery::new(Collection::Packages, Scope::Namespace(name("guest")));
                q.public_only = true;
                assert_eq!(names(&s.list_entities(&q).await.unwrap()), ["guest/shared"]);
                assert_eq!(s.count_entities(&q).await.unwrap(), 1);
            }

            #[tokio::test]
            async fn a_key_opens_its_namespace_until_the_subject_is_blocked() {
                let s = store().await;
                let (mut subj, key) = subject("alice", "alice-ns");
                let r = s.put_subject(&subj, None).await.unwrap();
                let id = s.identity_for_key(&key).await.unwrap().unwrap();
                assert_eq!(
                    (id.subject.as_str(), id.namespace.as_str()),
                    ("alice", "alice-ns")
                );
                let wrong = AuthKey {
                    key: "x".repeat(64),
                    ..key.clone()
                };
                assert_eq!(s.identity_for_key(&wrong).await.unwrap(), None);
                subj.blocked = true;
                let r2 = s.put_subject(&subj, Some(&r)).await.unwrap();
                assert_eq!(s.identity_for_key(&key).await.unwrap(), None);
                s.delete_subject("alice", &r2).await.unwrap();
                assert_eq!(s.get_subject("alice").await.unwrap(), None);
            }

            #[tokio::test]
            async fn a_key_cannot_belong_to_two_subjects() {
                let s = store().await;
                let (a, _) = subject("a", "ns-a");
                s.put_subject(&a, None).await.unwrap();
                let mut b = subject("b", "ns-b").0;
                b.namespaces[0].uuid = a.namespaces[0].uuid.clone();
                assert_eq!(s.put_subject(&b, None).await, Err(StoreError::Conflict));
                assert_eq!(s.get_subject("b").await.unwrap(), None);
            }

            #[tokio::test]
            async fn namespace_limits_come_with_the_identity() {
                let s = store().await;
                let (subj, key) = subject("alice", "alice-ns");
                s.put_subject(&subj, None).await.unwrap();
                let limits = NamespaceLimits {
                    invocations_per_minute: Some(7),
                    ..Default::default()
                };
                s.put_limits(&name("alice-ns"), Some(&limits))
                    .await
                    .unwrap();
                assert_eq!(
                    s.identity_for_key(&key).await.unwrap().unwrap().limits,
                    limits
                );
                assert_eq!(
                    s.subjects_of_namespace(&name("alice-ns")).await.unwrap(),
                    vec![subj]
                );
                s.put_limits(&name("alice-ns"), None).await.unwrap();
                assert_eq!(s.get_limits(&name("alice-ns")).await.unwrap(), None);
            }

            #[tokio::test]
            async fn records_written_at_once_are_all_kept_and_a_duplicate_alone_is_refused() {
                let s = store().await;
                let records: Vec<Activation> = (0..300)
                    .map(|i| activation("guest", "a", i, "guest/a"))
                    .collect();
                let duplicate = records[0].clone();
                let writes = records.iter().map(|a| s.put_activation(a));
                let results = futures_util::future::join_all(writes).await;
                assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
                let (again, other) = futures_util::future::join(
                    s.put_activation(&duplicate),
                    s.put_activation(&activation("guest", "b", 1, "guest/b")),
                )
                .await;
                assert_eq!(again, Err(StoreError::Conflict));
                assert_eq!(other, Ok(()));
                let q = ActivationQuery {
                    limit: Some(1000),
                    ..Default::default()
                };
                assert_eq!(s.count_activations(&q).await.unwrap(), 301);
            }

            #[tokio::test]
            async fn activations_list_newest_first_and_filter_by_name_and_time() {
                let s = store().await;
                let a1 = activation("guest", "hello", 100, "guest/hello");
                let a2 = activation("guest", "hello", 300, "guest/pkg/hello");
                let a3 = activation("guest", "bye", 200, "guest/bye");
                let other = activation("other", "hello", 250, "other/hello");
                for a in [&a1, &a2, &a3, &other] {
                    s.put_activation(a).await.unwrap();
                }
                let ids = |v: Vec<Activation>| v.into_iter().map(|a| a.start).collect::<Vec<_>>();
                let mut q = ActivationQuery {
                    namespace: Some(name("guest")),
                    ..Default::default()
                };
                assert_eq!(ids(s.list_activations(&q).await.unwrap()), [300, 200, 100]);
                q.name = Some("guest/hello".into());
                assert_eq!(ids(s.list_activations(&q).await.unwrap()), [100]);
                q.name = Some("guest/pkg/hello".into());
                assert_eq!(ids(s.list_activations(&q).await.unwrap()), [300]);
                let q = ActivationQuery {
                    namespace: Some(name("guest")),
                    since: Some(150),
                    upto: Some(300),
                    ..Default::default()
                };
                assert_eq!(ids(s.list_activations(&q).await.unwrap()), [300, 200]);
                assert_eq!(s.count_activations(&q).await.unwrap(), 2);
                let q = ActivationQuery {
                    namespace: Some(name("guest")),
                    skip: 1,
                    limit: Some(1),
                    ..Default::default()
                };
                assert_eq!(ids(s.list_activations(&q).await.unwrap()), [200]);
                assert_eq!(
                    s.get_activation(&name("guest"), &a2.activation_id)
                        .await
                        .unwrap(),
                    Some(a2.clone())
                );
                assert_eq!(
                    s.get_activation(&name("other"), &a2.activation_id)
                        .await
                        .unwrap(),
                    None
                );
                assert_eq!(s.put_activation(&a2).await, Err(StoreError::Conflict));
            }

            #[tokio::test]
            async fn seeding_creates_the_well_known_identities_once() {
                let s = store().await;
                owl_store::seed::ensure_default_subjects(&**s).await.unwrap();
                owl_store::seed::ensure_default_subjects(&**s).await.unwrap();
                let guest = AuthKey::parse(owl_entity::identity::GUEST_KEY).unwrap();
                assert_eq!(
                    s.identity_for_key(&guest)
                        .await
                        .unwrap()
                        .unwrap()
                        .namespace
                        .as_str(),
                    "guest"
                );
                let system = AuthKey::parse(owl_entity::identity::WHISK_SYSTEM_KEY).unwrap();
                assert_eq!(
                    s.identity_for_key(&system)
                        .await
                        .unwrap()
                        .unwrap()
                        .namespace
                        .as_str(),
                    "whisk.system"
                );
                assert_eq!(s.list_subjects().await.unwrap().len(), 2);
            }
        }
    };
    ($backend:ident, $make:expr) => {
        contract!($backend, with_cleanup: TestStore::plain($make));
    };
}

contract!(memory, Arc::new(owl_store::MemoryStore::new()));
contract!(sqlite, {
    // Each test gets its own directory under cargo's scratch space for integration tests.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
        .keep();
    Arc::new(owl_store::SqliteStore::open(&dir).unwrap())
});

contract!(
    cached_memory,
    owl_store::CachedStore::wrap(Arc::new(owl_store::MemoryStore::new()))
);
contract!(cached_sqlite, {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
        .keep();
    owl_store::CachedStore::wrap(Arc::new(owl_store::SqliteStore::open(&dir).unwrap()))
});
contract!(couch, with_cleanup: couch_store(false).await);
contract!(cached_couch, with_cleanup: couch_store(true).await);

#[tokio::test]
async fn a_cached_store_sees_at_once_what_another_process_changed() {
    let dir = tempfile::tempdir().unwrap();
    let here =
        owl_store::CachedStore::wrap(Arc::new(owl_store::SqliteStore::open(dir.path()).unwrap()));
    // Another process: its own connection to the same file, as `owl admin` has.
    let there = owl_store::SqliteStore::open(dir.path()).unwrap();
    let (alice, key) = subject("alice", "alice-ns");
    let rev = there.put_subject(&alice, None).await.unwrap();
    there
        .put_entity(&action("alice-ns", "a", 1), None)
        .await
        .unwrap();
    // Read twice: the second answer comes from the cache.
    for _ in 0..2 {
        assert!(here.identity_for_key(&key).await.unwrap().is_some());
        assert!(here.get_entity("alice-ns/a").await.unwrap().is_some());
    }
    let mut blocked = alice.clone();
    blocked.blocked = true;
    there.put_subject(&blocked, Some(&rev)).await.unwrap();
    let stored = there.get_entity("alice-ns/a").await.unwrap().unwrap();
    there
        .delete_entity("alice-ns/a", &stored.rev)
        .await
        .unwrap();
    assert_eq!(here.identity_for_key(&key).await.unwrap(), None);
    assert_eq!(here.get_entity("alice-ns/a").await.unwrap(), None);
}

#[tokio::test]
async fn sqlite_keeps_everything_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = owl_store::SqliteStore::open(dir.path()).unwrap();
        s.put_entity(&action("guest", "a", 1), None).await.unwrap();
        s.put_subject(&subject("alice", "alice-ns").0, None)
            .await
            .unwrap();
        s.put_activation(&activation("guest", "a", 5, "guest/a"))
            .await
            .unwrap();
    }
    let s = owl_store::SqliteStore::open(dir.path()).unwrap();
    assert!(s.get_entity("guest/a").await.unwrap().is_some());
    assert!(s.get_subject("alice").await.unwrap().is_some());
    assert_eq!(
        s.count_activations(&ActivationQuery::default())
            .await
            .unwrap(),
        1
    );
}
