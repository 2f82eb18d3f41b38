//! The catalog: the public packages of the `whisk.system` namespace that every OpenWhisk deployment
//! ships, `/whisk.system/utils` and `/whisk.system/samples`, installed when Owl starts, with Owl's
//! built-in `/whisk.system/alarms` (its entities come from [`crate::alarms::catalog`]).
//!
//! `catalog/catalog.json` lists the packages and their actions with upstream's names, kinds,
//! parameters and annotations; `catalog/<package>/<action>.js` holds each action's code (Owl's own,
//! behaving as upstream's does). Both are compiled in, so every build installs its own catalog.
//!
//! Each entity is built exactly as a client's PUT of the same body builds it (the entity crate's
//! `PackagePut` and `ActionPut`), so the catalog's actions carry the same system annotations as a
//! user's: `exec`, and `provide-api-key: false` unless the catalog says `true`.
//!
//! The invariant [`install`] keeps: after it returns, every catalog entity is stored as the catalog
//! describes it, and an entity that already was is not written again. A changed one is overwritten
//! as an overwrite PUT would: its version's patch bumped, `updated` now. Entities of `whisk.system`
//! the catalog does not name are left alone.

use owl_entity::EpochMillis;
use owl_entity::action::ActionPut;
use owl_entity::entity::Entity;
use owl_entity::exec::Manifest;
use owl_entity::limits::LimitBounds;
use owl_entity::name::{EntityName, FullyQualifiedName};
use owl_entity::package::PackagePut;
use owl_entity::semver::SemVer;
use owl_store::{Store, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

/// The namespace the catalog lives in.
pub const NAMESPACE: &str = "whisk.system";

/// The catalog's manifest.
const CATALOG: &str = include_str!("../catalog/catalog.json");

/// The code of every file `catalog.json` names, by the name it uses.
const FILES: &[(&str, &str)] = &[
    ("utils/echo.js", include_str!("../catalog/utils/echo.js")),
    ("utils/cat.js", include_str!("../catalog/utils/cat.js")),
    ("utils/sort.js", include_str!("../catalog/utils/sort.js")),
    ("utils/head.js", include_str!("../catalog/utils/head.js")),
    ("utils/split.js", include_str!("../catalog/utils/split.js")),
    ("utils/smash.js", include_str!("../catalog/utils/smash.js")),
    ("utils/date.js", include_str!("../catalog/utils/date.js")),
    (
        "utils/namespace.js",
        include_str!("../catalog/utils/namespace.js"),
    ),
    (
        "utils/hosturl.js",
        include_str!("../catalog/utils/hosturl.js"),
    ),
    (
        "samples/greeting.js",
        include_str!("../catalog/samples/greeting.js"),
    ),
    (
        "samples/wordCount.js",
        include_str!("../catalog/samples/wordCount.js"),
    ),
    (
        "samples/wordCountAsync.js",
        include_str!("../catalog/samples/wordCountAsync.js"),
    ),
    (
        "samples/helloWorld.js",
        include_str!("../catalog/samples/helloWorld.js"),
    ),
    (
        "samples/helloPromises.js",
        include_str!("../catalog/samples/helloPromises.js"),
    ),
    (
        "samples/printParams.js",
        include_str!("../catalog/samples/printParams.js"),
    ),
    (
        "samples/countdown.js",
        include_str!("../catalog/samples/countdown.js"),
    ),
    (
        "samples/curl.js",
        include_str!("../catalog/samples/curl.js"),
    ),
];

#[derive(Debug, Deserialize)]
struct Catalog {
    packages: Vec<CatalogPackage>,
}

#[derive(Debug, Deserialize)]
struct CatalogPackage {
    name: String,
    publish: bool,
    annotations: Value,
    parameters: Value,
    actions: Vec<CatalogAction>,
}

#[derive(Debug, Deserialize)]
struct CatalogAction {
    name: String,
    kind: String,
    file: String,
    annotations: Value,
    parameters: Value,
}

fn code_of(file: &str) -> Option<&'static str> {
    FILES
        .iter()
        .find(|(f, _)| *f == file)
        .map(|(_, code)| *code)
}

/// Every catalog entity at `now`: those of `catalog.json`, then the alarms package's.
fn entities(now: EpochMillis) -> Vec<Entity> {
    let mut out = from_manifest(now);
    // The alarms package's feeds are Owl's own code, run in the controller.
    out.extend(crate::alarms::catalog(now));
    out
}

/// The entities of `catalog.json` as a PUT would create them at `now`: each package, then its
/// actions.
///
/// The catalog is compiled in and the tests below build all of it, so a failure here is a defect
/// of the build, never of the running system: it panics, naming the entry.
fn from_manifest(now: EpochMillis) -> Vec<Entity> {
    let catalog: Catalog = serde_json::from_str(CATALOG).expect("catalog.json is valid JSON");
    let ns = EntityName::new(NAMESPACE).expect("whisk.system is a valid name");
    let manifest = Manifest::builtin();
    let bounds = LimitBounds::default();
    let mut out = vec![];
    for p in catalog.packages {
        let name = EntityName::new(p.name.as_str())
            .unwrap_or_else(|e| panic!("catalog package {}: {e:?}", p.name));
        let fqn = FullyQualifiedName::in_namespace(&ns, &name);
        let body = json!({
            "publish": p.publish,
            "annotations": p.annotations,
            "parameters": p.parameters,
        });
        let package = PackagePut::from_json(&body, &ns)
            .unwrap_or_else(|e| panic!("catalog package {}: {e:?}", p.name))
            .create(&fqn, now);
        let actions_path = package.actions_path();
        out.push(Entity::Package(package));
        for a in p.actions {
            let what = format!("catalog action {}/{}", p.name, a.name);
            let code = code_of(&a.file)
                .unwrap_or_else(|| panic!("{what}: no file {} is compiled in", a.file));
            let name = EntityName::new(a.name.as_str()).unwrap_or_else(|e| panic!("{what}: {e:?}"));
            let fqn = FullyQualifiedName::new(actions_path.clone(), name);
            let body = json!({
                "exec": {"kind": a.kind, "code": code},
                "annotations": a.annotations,
                "parameters": a.parameters,
            });
            let action = ActionPut::from_json(&body, &manifest, &ns)
                .and_then(|put| put.create(&fqn, &manifest, &bounds, now))
                .unwrap_or_else(|e| panic!("{what}: {e:?}"));
            out.push(Entity::Action(action));
        }
    }
    out
}

/// Where the store keeps the version of the catalog last installed.
const VERSION_DOC: &str = "catalog/version";

/// This build's catalog version: a digest of every entity it installs (FNV-1a over their JSON,
/// without the stamps a write changes), so any change of a file, annotation or parameter is a new
/// version, and the same build always has the same one.
pub fn catalog_version() -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for e in entities(0) {
        for b in unstamped(&e).to_document().to_string().bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// Installs the catalog when the store has none or another version of it: at the first start, and
/// after an upgrade of Owl that changed it. An unchanged catalog writes nothing, so what an
/// operator changed in `whisk.system` stays until the next catalog version. Answers how many
/// entities were written.
pub async fn install(store: &dyn Store, now: EpochMillis) -> Result<usize, StoreError> {
    let version = catalog_version();
    let marker = store.get_doc(VERSION_DOC).await?;
    if marker
        .as_ref()
        .is_some_and(|m| m.value["version"] == version.as_str())
    {
        return Ok(0);
    }
    let written = sync(store, now).await?;
    let doc = json!({"version": version, "installed": now});
    match store
        .put_doc(VERSION_DOC, &doc, marker.as_ref().map(|m| &m.rev))
        .await
    {
        // Another controller installing at the same moment wrote it.
        Ok(_) | Err(StoreError::Conflict) => Ok(written),
        Err(e) => Err(e),
    }
}

/// Writes every catalog package and action into `store` under the `whisk.system` namespace, creating
/// what is missing and replacing what differs from the catalog (exec code, kind, annotations,
/// parameters, publish); returns how many entities were written.
async fn sync(store: &dyn Store, now: EpochMillis) -> Result<usize, StoreError> {
    let mut written = 0;
    for wanted in entities(now) {
        if put_if_changed(store, wanted).await? {
            written += 1;
        }
    }
    Ok(written)
}

/// How many times a write that lost a race is tried again before the conflict is returned.
const ATTEMPTS: usize = 3;

/// Writes `wanted` unless the store already holds it; returns whether it wrote.
async fn put_if_changed(store: &dyn Store, wanted: Entity) -> Result<bool, StoreError> {
    let id = wanted.fqn().doc_id();
    // Controllers sharing a store may install at the same moment: a conflict means another one
    // wrote first, so read again and compare with what it wrote.
    for _ in 0..ATTEMPTS {
        let (entity, rev) = match store.get_entity(&id).await? {
            None => (wanted.clone(), None),
            Some(old) if unstamped(&old.value) == unstamped(&wanted) => return Ok(false),
            Some(old) => {
                let mut replacement = wanted.clone();
                // Over an entity of another collection (which a catalog name should never be), the
                // entity starts afresh, at the first version.
                if old.value.collection() == wanted.collection() {
                    *replacement.stamps_mut().0 = old.value.version().up_patch();
                }
                (replacement, Some(old.rev))
            }
        };
        match store.put_entity(&entity, rev.as_ref()).await {
            Ok(_) => return Ok(true),
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict)
}

/// The entity without what every write changes (`updated`, `version`), for comparing contents.
fn unstamped(e: &Entity) -> Entity {
    let mut e = e.clone();
    let (version, updated) = e.stamps_mut();
    *version = SemVer::default();
    *updated = 0;
    e
}

#[cfg(test)]
mod tests {
    use owl_entity::action::{Action, EXEC_ANNOTATION, PROVIDE_API_KEY_ANNOTATION};
    use owl_entity::entity::Collection;
    use owl_entity::exec::Exec;
    use owl_entity::name::EntityPath;
    use owl_entity::package::Package;
    use owl_store::{EntityQuery, MemoryStore, Scope};

    use super::*;

    const UTILS: [&str; 9] = [
        "echo",
        "cat",
        "sort",
        "head",
        "split",
        "smash",
        "date",
        "namespace",
        "hosturl",
    ];
    const SAMPLES: [&str; 8] = [
        "greeting",
        "wordCount",
        "wordCountAsync",
        "helloWorld",
        "helloPromises",
        "printParams",
        "countdown",
        "curl",
    ];

    async fn action(store: &MemoryStore, id: &str) -> (owl_store::Rev, Action) {
        let s = store.get_entity(id).await.unwrap().expect(id);
        match s.value {
            Entity::Action(a) => (s.rev, a),
            other => panic!("{id} is not an action: {other:?}"),
        }
    }

    async fn package(store: &MemoryStore, id: &str) -> (owl_store::Rev, Package) {
        let s = store.get_entity(id).await.unwrap().expect(id);
        match s.value {
            Entity::Package(p) => (s.rev, p),
            other => panic!("{id} is not a package: {other:?}"),
        }
    }

    fn names(entities: Vec<Entity>) -> Vec<String> {
        let mut n: Vec<String> = entities.iter().map(|e| e.fqn().doc_id()).collect();
        n.sort();
        n
    }

    fn annotation_keys(a: &Action) -> Vec<String> {
        a.annotations.iter().map(|p| p.key.clone()).collect()
    }

    #[tokio::test]
    async fn installing_into_an_empty_store_writes_both_packages_and_every_action() {
        let store = MemoryStore::new();
        assert_eq!(from_manifest(10).len(), 2 + 9 + 8);
        assert_eq!(install(&store, 10).await.unwrap(), entities(10).len());

        let q = |c, scope| EntityQuery::new(c, scope);
        let ns = EntityName::new(NAMESPACE).unwrap();
        let packages = store
            .list_entities(&q(Collection::Packages, Scope::Namespace(ns.clone())))
            .await
            .unwrap();
        let packages = names(packages);
        for p in ["whisk.system/samples", "whisk.system/utils"] {
            assert!(packages.iter().any(|n| n == p), "{p} in {packages:?}");
        }
        for (pkg, expected) in [("utils", &UTILS[..]), ("samples", &SAMPLES[..])] {
            let path = EntityPath::parse(&format!("{NAMESPACE}/{pkg}")).unwrap();
            let actions = store
                .list_entities(&q(Collection::Actions, Scope::Path(path)))
                .await
                .unwrap();
            let mut want: Vec<String> = expected
                .iter()
                .map(|a| format!("{NAMESPACE}/{pkg}/{a}"))
                .collect();
            want.sort();
            assert_eq!(names(actions), want);
        }
    }

    #[tokio::test]
    async fn installed_packages_are_published_with_upstreams_descriptions() {
        let store = MemoryStore::new();
        install(&store, 10).await.unwrap();
        let (_, utils) = package(&store, "whisk.system/utils").await;
        assert_eq!(
            utils.to_json(),
            json!({
                "namespace": "whisk.system", "name": "utils", "version": "0.0.1", "publish": true,
                "binding": {}, "parameters": [],
                "annotations": [{"key": "description", "value": "Building blocks that format and assemble data"}],
                "updated": 10
            })
        );
        let (_, samples) = package(&store, "whisk.system/samples").await;
        assert!(samples.publish);
        assert_eq!(
            samples.annotations.get("description"),
            Some(&json!(
                "A suite of simple actions to help you get started with OpenWhisk"
            ))
        );
    }

    #[tokio::test]
    async fn an_installed_action_is_what_a_put_of_its_catalog_entry_creates() {
        let store = MemoryStore::new();
        install(&store, 10).await.unwrap();
        let (_, echo) = action(&store, "whisk.system/utils/echo").await;
        let mut shown = echo.to_json(true);
        shown["exec"]["code"] = json!("<code>");
        assert_eq!(
            shown,
            json!({
                "namespace": "whisk.system/utils", "name": "echo", "version": "0.0.1", "publish": false,
                "exec": {"kind": "nodejs:20", "code": "<code>", "binary": false},
                "parameters": [],
                "limits": {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1},
                "annotations": [
                    {"key": "description", "value": "Returns the input"},
                    {"key": "parameters", "value": [{"name": "payload", "required": false, "description": "Any JSON entity"}]},
                    {"key": "sampleInput", "value": {"payload": "Five fuzzy felines"}},
                    {"key": "sampleOutput", "value": {"payload": "Five fuzzy felines"}},
                    {"key": "provide-api-key", "value": false},
                    {"key": "exec", "value": "nodejs:20"}
                ],
                "updated": 10
            })
        );
    }

    #[tokio::test]
    async fn only_countdown_and_hello_promises_get_the_callers_api_key() {
        let store = MemoryStore::new();
        install(&store, 10).await.unwrap();
        for (pkg, names) in [("utils", &UTILS[..]), ("samples", &SAMPLES[..])] {
            for name in names {
                let (_, a) = action(&store, &format!("{NAMESPACE}/{pkg}/{name}")).await;
                let wants_key = matches!(*name, "countdown" | "helloPromises");
                assert_eq!(
                    a.annotations.get(PROVIDE_API_KEY_ANNOTATION),
                    Some(&json!(wants_key)),
                    "{pkg}/{name}"
                );
                let keys = annotation_keys(&a);
                assert_eq!(
                    keys.iter()
                        .filter(|k| *k == PROVIDE_API_KEY_ANNOTATION)
                        .count(),
                    1,
                    "{pkg}/{name}: {keys:?}"
                );
                assert_eq!(keys.last().map(String::as_str), Some(EXEC_ANNOTATION));
                assert_eq!(keys.first().map(String::as_str), Some("description"));
            }
        }
        let (_, hello_promises) = action(&store, "whisk.system/samples/helloPromises").await;
        assert_eq!(
            annotation_keys(&hello_promises),
            [
                "description",
                "provide-api-key",
                "parameters",
                "sampleInput",
                "sampleOutput",
                "exec"
            ],
            "upstream lists provide-api-key second for helloPromises"
        );
    }

    #[tokio::test]
    async fn installing_twice_writes_nothing_the_second_time() {
        let store = MemoryStore::new();
        install(&store, 10).await.unwrap();
        let before = action(&store, "whisk.system/samples/greeting").await;
        assert_eq!(install(&store, 20).await.unwrap(), 0);
        let after = action(&store, "whisk.system/samples/greeting").await;
        assert_eq!(after, before, "not even the revision changes");
    }

    #[tokio::test]
    async fn a_changed_action_is_rewritten_with_its_version_bumped() {
        let store = MemoryStore::new();
        install(&store, 10).await.unwrap();
        let (rev, mut echo) = action(&store, "whisk.system/utils/echo").await;
        let original = echo.clone();
        echo.exec = Exec::Code {
            kind: "nodejs:18".into(),
            code: "function main() { return {} }".into(),
            main: None,
            binary: false,
        };
        echo.annotations.remove("description");
        echo.version = echo.version.up_patch();
        store
            .put_entity(&Entity::Action(echo), Some(&rev))
            .await
            .unwrap();

        assert_eq!(sync(&store, 30).await.unwrap(), 1);
        let (_, now) = action(&store, "whisk.system/utils/echo").await;
        assert_eq!(now.version.to_string(), "0.0.3");
        assert_eq!(now.updated, 30);
        assert_eq!(
            Action {
                version: original.version,
                updated: original.updated,
                ..now
            },
            original
        );
    }

    #[tokio::test]
    async fn a_changed_package_is_rewritten_and_its_actions_are_left_alone() {
        let store = MemoryStore::new();
        install(&store, 10).await.unwrap();
        let (rev, mut utils) = package(&store, "whisk.system/utils").await;
        utils.publish = false;
        utils.parameters.set("extra", json!("not in the catalog"));
        store
            .put_entity(&Entity::Package(utils), Some(&rev))
            .await
            .unwrap();

        assert_eq!(sync(&store, 30).await.unwrap(), 1);
        let (_, now) = package(&store, "whisk.system/utils").await;
        assert!(now.publish);
        assert!(now.parameters.is_empty());
        assert_eq!((now.version.to_string(), now.updated), ("0.0.2".into(), 30));
    }

    #[tokio::test]
    async fn an_unchanged_catalog_version_leaves_an_operators_change_alone() {
        let store = MemoryStore::new();
        assert!(install(&store, 10).await.unwrap() > 0);
        let (rev, _) = action(&store, "whisk.system/samples/curl").await;
        store
            .delete_entity("whisk.system/samples/curl", &rev)
            .await
            .unwrap();
        assert_eq!(install(&store, 20).await.unwrap(), 0);
        assert!(
            store
                .get_entity("whisk.system/samples/curl")
                .await
                .unwrap()
                .is_none()
        );
        // Another version of the catalog (an upgrade of Owl) installs again.
        let marker = store.get_doc(VERSION_DOC).await.unwrap().unwrap();
        store
            .put_doc(VERSION_DOC, &json!({"version": "older"}), Some(&marker.rev))
            .await
            .unwrap();
        assert_eq!(install(&store, 30).await.unwrap(), 1);
        assert_eq!(catalog_version(), catalog_version());
    }

    #[tokio::test]
    async fn a_deleted_action_is_installed_again() {
        let store = MemoryStore::new();
        install(&store, 10).await.unwrap();
        let (rev, _) = action(&store, "whisk.system/samples/curl").await;
        store
            .delete_entity("whisk.system/samples/curl", &rev)
            .await
            .unwrap();
        assert_eq!(sync(&store, 30).await.unwrap(), 1);
        let (_, curl) = action(&store, "whisk.system/samples/curl").await;
        assert_eq!(
            (curl.version.to_string(), curl.updated),
            ("0.0.1".into(), 30)
        );
    }

    #[test]
    fn every_action_has_code_its_kind_runs() {
        let manifest = Manifest::builtin();
        let mut count = 0;
        for e in from_manifest(0) {
            let Entity::Action(a) = e else { continue };
            let Exec::Code {
                kind, code, binary, ..
            } = &a.exec
            else {
                panic!("{}: not code: {:?}", a.fqn().doc_id(), a.exec);
            };
            assert!(manifest.resolve(kind).is_some(), "{kind}");
            assert!(kind.starts_with("nodejs:"), "{kind}");
            assert!(!binary, "{}", a.fqn().doc_id());
            assert!(
                code.contains("function main("),
                "{}: a Node.js action needs a main function",
                a.fqn().doc_id()
            );
            let opens = code.matches(['{', '(', '[']).count();
            let closes = code.matches(['}', ')', ']']).count();
            assert_eq!(opens, closes, "{}: unbalanced brackets", a.fqn().doc_id());
            count += 1;
        }
        assert_eq!(count, UTILS.len() + SAMPLES.len());
    }

    #[test]
    fn every_compiled_in_file_is_named_by_exactly_one_action() {
        let catalog: Catalog = serde_json::from_str(CATALOG).unwrap();
        let mut named: Vec<&str> = catalog
            .packages
            .iter()
            .flat_map(|p| p.actions.iter().map(|a| a.file.as_str()))
            .collect();
        named.sort();
        let mut files: Vec<&str> = FILES.iter().map(|(f, _)| *f).collect();
        files.sort();
        assert_eq!(named, files);
    }

    #[test]
    fn the_catalog_lives_in_whisk_system() {
        assert!(
            entities(0)
                .iter()
                .all(|e| e.fqn().namespace().as_str() == NAMESPACE)
        );
    }
}
