//! Persistence of subjects, entities and activation records.
//!
//! Modules, in the order data flows through them:
//!
//! - this file: the [`Store`] trait every backend implements, its queries and its errors. The trait is
//!   shaped for a revisioned document store (CouchDB): every document has an opaque revision, a write
//!   names the revision it replaces, and a stale revision is a [`StoreError::Conflict`].
//! - [`sqlite`]: the embedded backend of `owl standalone`, one SQLite file in the data directory.
//! - [`couch`]: the backend of the distributed mode, CouchDB shared by every controller and invoker,
//!   with upstream's document layout.
//! - [`memory`]: the in-memory twin for unit tests, honouring the same contract.
//! - [`cached`]: a read cache in front of either, for the identity and entity lookups of every
//!   request; it honours the same contract.
//! - [`seed`]: the identities a fresh platform starts with (`guest`, `whisk.system`).
//!
//! The contract suite in `tests/contract.rs` runs against every backend.

pub mod cached;
pub mod couch;
pub mod memory;
pub mod seed;
pub mod sqlite;

use async_trait::async_trait;
use owl_entity::EpochMillis;
use owl_entity::activation::{Activation, ActivationId};
use owl_entity::entity::{Collection, Entity};
use owl_entity::identity::{AuthKey, Identity, NamespaceLimits, Subject};
use owl_entity::name::{EntityName, EntityPath};

pub use cached::CachedStore;
pub use couch::{CouchConfig, CouchStore};
pub use memory::MemoryStore;
pub use sqlite::SqliteStore;

/// A document revision: opaque, changes on every write.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rev(pub String);

/// A value read from the store with the revision it was read at.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored<T> {
    pub rev: Rev,
    pub value: T,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// The document changed since it was read, or a create found the id taken.
    #[error("document update conflict")]
    Conflict,
    /// The document to delete or update is gone.
    #[error("document not found")]
    NotFound,
    /// A stored document no longer reads as what it should be.
    #[error("document '{0}' is corrupted")]
    Corrupt(String),
    /// The backend itself failed (I/O, a closed database).
    #[error("store failure: {0}")]
    Backend(String),
    /// The backend cannot be reached or did not answer in time (a database server that is down or
    /// slow): nothing was written, and the request may be retried.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// Which entities of a namespace a list wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every entity whose path starts with this namespace, packaged actions included.
    Namespace(EntityName),
    /// Only entities directly in this path (`ns` or `ns/pkg`).
    Path(EntityPath),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityQuery {
    pub collection: Collection,
    pub scope: Scope,
    /// Only published packages that are not bindings (what others may see of a namespace).
    pub public_only: bool,
    pub skip: usize,
    /// `None`: all of them.
    pub limit: Option<usize>,
}

impl EntityQuery {
    pub fn new(collection: Collection, scope: Scope) -> Self {
        EntityQuery {
            collection,
            scope,
            public_only: false,
            skip: 0,
            limit: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivationQuery {
    pub namespace: Option<EntityName>,
    /// Matches [`Activation::filter_name`] exactly (`ns/name` or `ns/pkg/name`).
    pub name: Option<String>,
    /// Inclusive bounds on `start`.
    pub since: Option<EpochMillis>,
    pub upto: Option<EpochMillis>,
    pub skip: usize,
    pub limit: Option<usize>,
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Everything the platform persists. Lists are ordered newest first: entities by `updated`, activations
/// by `start` (ties broken by id, so pages are stable).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // Entities share one id space per namespace: `ns/name` or `ns/pkg/name`.

    async fn get_entity(&self, id: &str) -> Result<Option<Stored<Entity>>>;
    /// Creates (`rev: None`; [`StoreError::Conflict`] if the id is taken) or replaces the revision
    /// `rev` ([`StoreError::Conflict`] if the document changed since).
    async fn put_entity(&self, entity: &Entity, rev: Option<&Rev>) -> Result<Rev>;
    /// Deletes the revision `rev`; [`StoreError::Conflict`] if the document changed since.
    async fn delete_entity(&self, id: &str, rev: &Rev) -> Result<()>;
    async fn list_entities(&self, query: &EntityQuery) -> Result<Vec<Entity>>;
    /// How many entities the query's scope holds (skip and limit ignored).
    async fn count_entities(&self, query: &EntityQuery) -> Result<u64>;

    // Subjects and their keys.

    async fn get_subject(&self, subject: &str) -> Result<Option<Stored<Subject>>>;
    /// Same revision rules as [`Store::put_entity`]. A namespace key may belong to one subject only:
    /// a UUID already used by another subject is a conflict.
    async fn put_subject(&self, subject: &Subject, rev: Option<&Rev>) -> Result<Rev>;
    async fn delete_subject(&self, subject: &str, rev: &Rev) -> Result<()>;
    async fn list_subjects(&self) -> Result<Vec<Subject>>;
    /// The identity an API key opens, unless its subject is blocked.
    async fn identity_for_key(&self, key: &AuthKey) -> Result<Option<Identity>>;
    /// The subjects that own a namespace.
    async fn subjects_of_namespace(&self, namespace: &EntityName) -> Result<Vec<Subject>>;

    /// Per-namespace limit overrides (absent: the system's limits).
    async fn get_limits(&self, namespace: &EntityName) -> Result<Option<NamespaceLimits>>;
    async fn put_limits(
        &self,
        namespace: &EntityName,
        limits: Option<&NamespaceLimits>,
    ) -> Result<()>;

    /// A number that changes whenever anyone, in this process or another, changed an entity, a
    /// subject or limits; `None` if the backend cannot tell (it is then never cached). Cheap: it is
    /// asked on every cached read.
    fn change_token(&self) -> Option<u64>;

    // Documents of Owl's own services: alarm schedules, leases, the installed catalog's version.
    // JSON under an id, revisioned like entities (a stale revision is a conflict), so that two
    // controllers sharing a store never both win a change.

    async fn get_doc(&self, id: &str) -> Result<Option<Stored<serde_json::Value>>>;
    /// Same revision rules as [`Store::put_entity`].
    async fn put_doc(&self, id: &str, doc: &serde_json::Value, rev: Option<&Rev>) -> Result<Rev>;
    /// Same revision rules as [`Store::delete_entity`].
    async fn delete_doc(&self, id: &str, rev: &Rev) -> Result<()>;
    /// Every document whose id starts with `prefix`, ordered by id.
    async fn list_docs(&self, prefix: &str) -> Result<Vec<(String, Stored<serde_json::Value>)>>;

    // Activation records: written once, keyed by namespace and id.

    async fn put_activation(&self, activation: &Activation) -> Result<()>;
    async fn get_activation(
        &self,
        namespace: &EntityName,
        id: &ActivationId,
    ) -> Result<Option<Activation>>;
    async fn list_activations(&self, query: &ActivationQuery) -> Result<Vec<Activation>>;
    async fn count_activations(&self, query: &ActivationQuery) -> Result<u64>;
}

/// Facts about an entity every backend indexes.
pub(crate) struct EntityKeys {
    pub id: String,
    pub collection: Collection,
    pub root: String,
    pub path: String,
    pub updated: EpochMillis,
    pub public: bool,
}

impl EntityKeys {
    pub fn of(e: &Entity) -> EntityKeys {
        let fqn = e.fqn();
        let public = match e {
            Entity::Package(p) => p.publish && p.binding.is_none(),
            _ => false,
        };
        EntityKeys {
            id: fqn.doc_id(),
            collection: e.collection(),
            root: fqn.namespace().to_string(),
            path: fqn.path.to_string(),
            updated: e.updated(),
            public,
        }
    }

    pub fn matches(&self, q: &EntityQuery) -> bool {
        self.collection == q.collection
            && (!q.public_only || self.public)
            && match &q.scope {
                Scope::Namespace(ns) => self.root == ns.as_str(),
                Scope::Path(p) => self.path == p.to_string(),
            }
    }
}

pub(crate) fn new_rev(previous: Option<&Rev>) -> Rev {
    let generation = previous
        .and_then(|r| r.0.split('-').next()?.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    Rev(format!("{generation}-{}", uuid::Uuid::new_v4().simple()))
}

pub(crate) fn activation_matches(a: &Activation, q: &ActivationQuery) -> bool {
    q.namespace
        .as_ref()
        .is_none_or(|ns| a.namespace.root() == ns)
        && q.name.as_ref().is_none_or(|n| &a.filter_name() == n)
        && q.since.is_none_or(|s| a.start >= s)
        && q.upto.is_none_or(|u| a.start <= u)
}
