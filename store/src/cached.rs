//! A read cache in front of another store, for the lookups every request makes: the identity of a
//! key, and an entity by id (the action to invoke, its package).
//!
//! Writes through the cache empty it. Writes by another process sharing the backend (`owl admin`
//! blocking a user, say) are noticed through the backend's [`Store::change_token`], compared on every
//! cached read: a backend that cannot tell is not cached. A read that raced a write is not kept: each
//! emptying starts a new generation, and a value read in an older one is returned but not stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use owl_entity::activation::{Activation, ActivationId};
use owl_entity::entity::Entity;
use owl_entity::identity::{AuthKey, Identity, NamespaceLimits, Subject};
use owl_entity::name::EntityName;

use crate::{ActivationQuery, EntityQuery, Result, Rev, Store, Stored};

/// Entries kept at most per map; past it the map starts over.
const MAX_ENTRIES: usize = 50_000;

pub struct CachedStore {
    inner: Arc<dyn Store>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    token: Option<u64>,
    generation: u64,
    entities: HashMap<String, Option<Stored<Entity>>>,
    identities: HashMap<String, Option<Identity>>,
}

impl State {
    fn clear(&mut self) {
        self.generation += 1;
        self.entities.clear();
        self.identities.clear();
    }
}

impl CachedStore {
    /// Caches `inner` if it can tell when another process changed it; otherwise gives it back as is.
    pub fn wrap(inner: Arc<dyn Store>) -> Arc<dyn Store> {
        match inner.change_token() {
            None => inner,
            Some(token) => Arc::new(CachedStore {
                inner,
                state: Mutex::new(State {
                    token: Some(token),
                    ..State::default()
                }),
            }),
        }
    }

    /// The state, emptied first if the backend changed behind the cache.
    fn current(&self) -> std::sync::MutexGuard<'_, State> {
        let token = self.inner.change_token();
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.token != token {
            s.clear();
            s.token = token;
        }
        s
    }

    /// The value kept under `key` in the map `map` picks, else what `fetch` reads, kept unless the
    /// cache was emptied meanwhile (the read may have raced a write).
    async fn through<V: Clone>(
        &self,
        map: fn(&mut State) -> &mut HashMap<String, V>,
        key: &str,
        fetch: impl std::future::Future<Output = Result<V>>,
    ) -> Result<V> {
        let generation = {
            let mut s = self.current();
            if let Some(hit) = map(&mut s).get(key) {
                return Ok(hit.clone());
            }
            s.generation
        };
        let value = fetch.await?;
        let mut s = self.current();
        if s.generation == generation {
            let kept = map(&mut s);
            if kept.len() >= MAX_ENTRIES {
                kept.clear();
            }
            kept.insert(key.to_string(), value.clone());
        }
        Ok(value)
    }

    fn emptied<T>(&self, r: Result<T>) -> Result<T> {
        self.current().clear();
        r
    }
}

#[async_trait]
impl Store for CachedStore {
    async fn get_entity(&self, id: &str) -> Result<Option<Stored<Entity>>> {
        self.through(|s| &mut s.entities, id, self.inner.get_entity(id))
            .await
    }

    async fn put_entity(&self, entity: &Entity, rev: Option<&Rev>) -> Result<Rev> {
        let r = self.inner.put_entity(entity, rev).await;
        self.emptied(r)
    }

    async fn delete_entity(&self, id: &str, rev: &Rev) -> Result<()> {
        let r = self.inner.delete_entity(id, rev).await;
        self.emptied(r)
    }

    async fn list_entities(&self, query: &EntityQuery) -> Result<Vec<Entity>> {
        self.inner.list_entities(query).await
    }

    async fn count_entities(&self, query: &EntityQuery) -> Result<u64> {
        self.inner.count_entities(query).await
    }

    async fn get_subject(&self, subject: &str) -> Result<Option<Stored<Subject>>> {
        self.inner.get_subject(subject).await
    }

    async fn put_subject(&self, subject: &Subject, rev: Option<&Rev>) -> Result<Rev> {
        let r = self.inner.put_subject(subject, rev).await;
        self.emptied(r)
    }

    async fn delete_subject(&self, subject: &str, rev: &Rev) -> Result<()> {
        let r = self.inner.delete_subject(subject, rev).await;
        self.emptied(r)
    }

    async fn list_subjects(&self) -> Result<Vec<Subject>> {
        self.inner.list_subjects().await
    }

    async fn identity_for_key(&self, key: &AuthKey) -> Result<Option<Identity>> {
        let compact = key.compact();
        self.through(
            |s| &mut s.identities,
            &compact,
            self.inner.identity_for_key(key),
        )
        .await
    }

    async fn subjects_of_namespace(&self, namespace: &EntityName) -> Result<Vec<Subject>> {
        self.inner.subjects_of_namespace(namespace).await
    }

    async fn get_limits(&self, namespace: &EntityName) -> Result<Option<NamespaceLimits>> {
        self.inner.get_limits(namespace).await
    }

    async fn put_limits(
        &self,
        namespace: &EntityName,
        limits: Option<&NamespaceLimits>,
    ) -> Result<()> {
        let r = self.inner.put_limits(namespace, limits).await;
        self.emptied(r)
    }

    // Service documents are read by their services (which keep what they need), never cached here.

    async fn get_doc(&self, id: &str) -> Result<Option<Stored<serde_json::Value>>> {
        self.inner.get_doc(id).await
    }

    async fn put_doc(&self, id: &str, doc: &serde_json::Value, rev: Option<&Rev>) -> Result<Rev> {
        self.inner.put_doc(id, doc, rev).await
    }

    async fn delete_doc(&self, id: &str, rev: &Rev) -> Result<()> {
        self.inner.delete_doc(id, rev).await
    }

    async fn list_docs(&self, prefix: &str) -> Result<Vec<(String, Stored<serde_json::Value>)>> {
        self.inner.list_docs(prefix).await
    }

    async fn put_activation(&self, activation: &Activation) -> Result<()> {
        self.inner.put_activation(activation).await
    }

    async fn get_activation(
        &self,
        namespace: &EntityName,
        id: &ActivationId,
    ) -> Result<Option<Activation>> {
        self.inner.get_activation(namespace, id).await
    }

    async fn list_activations(&self, query: &ActivationQuery) -> Result<Vec<Activation>> {
        self.inner.list_activations(query).await
    }

    async fn count_activations(&self, query: &ActivationQuery) -> Result<u64> {
        self.inner.count_activations(query).await
    }

    fn change_token(&self) -> Option<u64> {
        self.inner.change_token()
    }
}
