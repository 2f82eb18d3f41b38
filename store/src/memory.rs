//! The in-memory twin: the [`Store`] contract over maps behind one mutex. For unit tests, and for a
//! throwaway platform (`owl standalone --in-memory`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use owl_entity::activation::{Activation, ActivationId};
use owl_entity::entity::Entity;
use owl_entity::identity::{AuthKey, Identity, NamespaceLimits, Subject};
use owl_entity::name::EntityName;

use crate::{
    ActivationQuery, EntityKeys, EntityQuery, Result, Rev, Store, StoreError, Stored,
    activation_matches, new_rev,
};

#[derive(Default)]
struct State {
    entities: BTreeMap<String, (Rev, Entity)>,
    subjects: BTreeMap<String, (Rev, Subject)>,
    limits: BTreeMap<String, NamespaceLimits>,
    activations: BTreeMap<(String, String), Activation>,
    docs: BTreeMap<String, (Rev, serde_json::Value)>,
    /// Writes of entities, subjects and limits so far: the change token.
    changes: u64,
}

#[derive(Default)]
pub struct MemoryStore {
    // A std mutex: no lock is held across an await.
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn check_rev(current: Option<&Rev>, expected: Option<&Rev>) -> Result<()> {
    match (current, expected) {
        (None, None) => Ok(()),
        (Some(c), Some(e)) if c == e => Ok(()),
        (None, Some(_)) => Err(StoreError::NotFound),
        _ => Err(StoreError::Conflict),
    }
}

fn page<T: Clone>(items: Vec<&T>, skip: usize, limit: Option<usize>) -> Vec<T> {
    items
        .into_iter()
        .skip(skip)
        .take(limit.unwrap_or(usize::MAX))
        .cloned()
        .collect()
}

#[async_trait]
impl Store for MemoryStore {
    async fn get_entity(&self, id: &str) -> Result<Option<Stored<Entity>>> {
        Ok(self.lock().entities.get(id).map(|(rev, e)| Stored {
            rev: rev.clone(),
            value: e.clone(),
        }))
    }

    async fn put_entity(&self, entity: &Entity, rev: Option<&Rev>) -> Result<Rev> {
        let id = entity.fqn().doc_id();
        let mut s = self.lock();
        s.changes += 1;
        check_rev(s.entities.get(&id).map(|(r, _)| r), rev)?;
        let new = new_rev(rev);
        s.entities.insert(id, (new.clone(), entity.clone()));
        Ok(new)
    }

    async fn delete_entity(&self, id: &str, rev: &Rev) -> Result<()> {
        let mut s = self.lock();
        s.changes += 1;
        check_rev(s.entities.get(id).map(|(r, _)| r), Some(rev))?;
        s.entities.remove(id);
        Ok(())
    }

    async fn list_entities(&self, q: &EntityQuery) -> Result<Vec<Entity>> {
        let s = self.lock();
        let mut hits: Vec<&Entity> = s
            .entities
            .values()
            .map(|(_, e)| e)
            .filter(|e| EntityKeys::of(e).matches(q))
            .collect();
        hits.sort_by(|a, b| {
            b.updated()
                .cmp(&a.updated())
                .then_with(|| a.fqn().doc_id().cmp(&b.fqn().doc_id()))
        });
        Ok(page(hits, q.skip, q.limit))
    }

    async fn count_entities(&self, q: &EntityQuery) -> Result<u64> {
        let s = self.lock();
        Ok(s.entities
            .values()
            .filter(|(_, e)| EntityKeys::of(e).matches(q))
            .count() as u64)
    }

    async fn get_subject(&self, subject: &str) -> Result<Option<Stored<Subject>>> {
        Ok(self.lock().subjects.get(subject).map(|(rev, v)| Stored {
            rev: rev.clone(),
            value: v.clone(),
        }))
    }

    async fn put_subject(&self, subject: &Subject, rev: Option<&Rev>) -> Result<Rev> {
        let mut s = self.lock();
        s.changes += 1;
        check_rev(s.subjects.get(&subject.subject).map(|(r, _)| r), rev)?;
        let taken = s.subjects.values().any(|(_, other)| {
            other.subject != subject.subject
                && other
                    .namespaces
                    .iter()
                    .any(|n| subject.namespaces.iter().any(|m| m.uuid == n.uuid))
        });
        if taken {
            return Err(StoreError::Conflict);
        }
        let new = new_rev(rev);
        s.subjects
            .insert(subject.subject.clone(), (new.clone(), subject.clone()));
        Ok(new)
    }

    async fn delete_subject(&self, subject: &str, rev: &Rev) -> Result<()> {
        let mut s = self.lock();
        s.changes += 1;
        check_rev(s.subjects.get(subject).map(|(r, _)| r), Some(rev))?;
        s.subjects.remove(subject);
        Ok(())
    }

    async fn list_subjects(&self) -> Result<Vec<Subject>> {
        Ok(self
            .lock()
            .subjects
            .values()
            .map(|(_, v)| v.clone())
            .collect())
    }

    async fn identity_for_key(&self, key: &AuthKey) -> Result<Option<Identity>> {
        let s = self.lock();
        for (_, subject) in s.subjects.values() {
            if let Some(ns) = subject
                .namespaces
                .iter()
                .find(|n| n.uuid == key.uuid && n.key == key.key)
            {
                if subject.blocked {
                    return Ok(None);
                }
                return Ok(Some(Identity {
                    subject: subject.subject.clone(),
                    namespace: ns.name.clone(),
                    authkey: key.clone(),
                    limits: s.limits.get(ns.name.as_str()).cloned().unwrap_or_default(),
                }));
            }
        }
        Ok(None)
    }

    async fn subjects_of_namespace(&self, namespace: &EntityName) -> Result<Vec<Subject>> {
        let s = self.lock();
        Ok(s.subjects
            .values()
            .filter(|(_, v)| v.namespaces.iter().any(|n| &n.name == namespace))
            .map(|(_, v)| v.clone())
            .collect())
    }

    async fn get_limits(&self, namespace: &EntityName) -> Result<Option<NamespaceLimits>> {
        Ok(self.lock().limits.get(namespace.as_str()).cloned())
    }

    async fn put_limits(
        &self,
        namespace: &EntityName,
        limits: Option<&NamespaceLimits>,
    ) -> Result<()> {
        let mut s = self.lock();
        s.changes += 1;
        match limits {
            Some(l) => s.limits.insert(namespace.to_string(), l.clone()),
            None => s.limits.remove(namespace.as_str()),
        };
        Ok(())
    }

    fn change_token(&self) -> Option<u64> {
        Some(self.lock().changes)
    }

    async fn get_doc(&self, id: &str) -> Result<Option<Stored<serde_json::Value>>> {
        Ok(self.lock().docs.get(id).map(|(rev, d)| Stored {
            rev: rev.clone(),
            value: d.clone(),
        }))
    }

    async fn put_doc(&self, id: &str, doc: &serde_json::Value, rev: Option<&Rev>) -> Result<Rev> {
        let mut s = self.lock();
        check_rev(s.docs.get(id).map(|(r, _)| r), rev)?;
        let new = new_rev(rev);
        s.docs.insert(id.to_string(), (new.clone(), doc.clone()));
        Ok(new)
    }

    async fn delete_doc(&self, id: &str, rev: &Rev) -> Result<()> {
        let mut s = self.lock();
        check_rev(s.docs.get(id).map(|(r, _)| r), Some(rev))?;
        s.docs.remove(id);
        Ok(())
    }

    async fn list_docs(&self, prefix: &str) -> Result<Vec<(String, Stored<serde_json::Value>)>> {
        Ok(self
            .lock()
            .docs
            .range(prefix.to_string()..)
            .take_while(|(id, _)| id.starts_with(prefix))
            .map(|(id, (rev, d))| {
                (
                    id.clone(),
                    Stored {
                        rev: rev.clone(),
                        value: d.clone(),
                    },
                )
            })
            .collect())
    }

    async fn put_activation(&self, a: &Activation) -> Result<()> {
        let key = (a.namespace.root().to_string(), a.activation_id.to_string());
        let mut s = self.lock();
        if s.activations.contains_key(&key) {
            return Err(StoreError::Conflict);
        }
        s.activations.insert(key, a.clone());
        Ok(())
    }

    async fn get_activation(
        &self,
        namespace: &EntityName,
        id: &ActivationId,
    ) -> Result<Option<Activation>> {
        Ok(self
            .lock()
            .activations
            .get(&(namespace.to_string(), id.to_string()))
            .cloned())
    }

    async fn list_activations(&self, q: &ActivationQuery) -> Result<Vec<Activation>> {
        let s = self.lock();
        let mut hits: Vec<&Activation> = s
            .activations
            .values()
            .filter(|a| activation_matches(a, q))
            .collect();
        hits.sort_by(|a, b| {
            b.start
                .cmp(&a.start)
                .then_with(|| b.activation_id.cmp(&a.activation_id))
        });
        Ok(page(hits, q.skip, q.limit))
    }

    async fn count_activations(&self, q: &ActivationQuery) -> Result<u64> {
        Ok(self
            .lock()
            .activations
            .values()
            .filter(|a| activation_matches(a, q))
            .count() as u64)
    }
}
