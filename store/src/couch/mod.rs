//! The distributed backend: CouchDB (3.x, or a server speaking its HTTP API), shared by every
//! controller and invoker, with the documents laid out as upstream OpenWhisk lays them out.
//!
//! Databases (`{prefix}` is [`CouchConfig::db_prefix`], upstream's default `whisk_local_`):
//!
//! - `{prefix}whisks`: entities, `_id` = `ns/name` or `ns/pkg/name`, the entity's own JSON with its
//!   `entityType` (`Entity::to_document`, as SQLite stores it).
//! - `{prefix}subjects`: subjects, `_id` = the subject, `{subject, namespaces: [{name, uuid, key}],
//!   blocked}`; a namespace's limit overrides in `{ns}/limits` (`invocationsPerMinute`, ...).
//! - `{prefix}activations`: records, `_id` = `{namespace}/{activationId}`, the record's own fields.
//! - `{prefix}services`: Owl's own service documents (alarm schedules, leases), `_id` = the
//!   document's id, `{value: <the document>}`.
//!
//! Queries read the views of `design.rs`. Every write is one document in one request, which CouchDB
//! applies whole or not at all: nothing here writes two documents that must agree. (A namespace
//! key's UUID is kept unique by a read before the write; see `put_subject` below.)
//!
//! The change token follows the `update_seq` of `whisks` and `subjects`, polled by a task that lives
//! as long as the store.

mod design;
mod http;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use owl_entity::activation::{Activation, ActivationId};
use owl_entity::entity::Entity;
use owl_entity::identity::{AuthKey, Identity, NamespaceLimits, Subject};
use owl_entity::name::EntityName;
use serde_json::{Map, Value, json};

use self::http::{Http, Row, segment, strip};
use crate::{ActivationQuery, EntityQuery, Result, Rev, Scope, Store, StoreError, Stored};

/// Where the CouchDB store lives and how long a request may take.
///
/// For an `https://` URL, rustls needs a process-wide crypto provider: the binary installs ring's
/// at start (`rustls::crypto::ring::default_provider().install_default()`), before connecting.
/// [`CouchStore::connect`] installs that same provider itself if none is installed yet, since the
/// HTTP client cannot even be built without one.
#[derive(Clone, PartialEq, Eq)]
pub struct CouchConfig {
    /// The server, e.g. `http://127.0.0.1:5984`. A path (`https://host/couch`) is kept; credentials
    /// in it (`http://user:password@host:5984`) are used when `user` is not set.
    pub url: String,
    /// Basic credentials; none for a server that asks for none.
    pub user: Option<String>,
    pub password: Option<String>,
    /// Put before every database name: `{prefix}whisks`, `{prefix}subjects`, `{prefix}activations`,
    /// `{prefix}services`. Upstream's default is `whisk_local_`.
    pub db_prefix: String,
    /// How long one request may take before the store is called unavailable.
    pub request_timeout: Duration,
}

impl CouchConfig {
    pub const DEFAULT_URL: &str = "http://127.0.0.1:5984";
    pub const DEFAULT_DB_PREFIX: &str = "whisk_local_";
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

    /// The server at `url`, without credentials, with the default prefix and timeout.
    pub fn new(url: impl Into<String>) -> CouchConfig {
        CouchConfig {
            url: url.into(),
            user: None,
            password: None,
            db_prefix: Self::DEFAULT_DB_PREFIX.into(),
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// Without the password.
impl std::fmt::Debug for CouchConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CouchConfig")
            .field("url", &self.url)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("db_prefix", &self.db_prefix)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl Default for CouchConfig {
    fn default() -> Self {
        CouchConfig::new(Self::DEFAULT_URL)
    }
}

/// How often the change token's task reads the databases' `update_seq`: a change by another process
/// reaches this one's caches within this (plus a request).
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Writes of limits retried when another writer got in between (last writer wins, as in SQLite).
const LIMITS_ATTEMPTS: usize = 8;

/// The encoded names of the four databases.
struct Dbs {
    whisks: String,
    subjects: String,
    activations: String,
    services: String,
}

impl Dbs {
    fn of(prefix: &str) -> Dbs {
        let name = |n: &str| segment(&format!("{prefix}{n}"));
        Dbs {
            whisks: name("whisks"),
            subjects: name("subjects"),
            activations: name("activations"),
            services: name("services"),
        }
    }

    fn all(&self) -> [&str; 4] {
        [
            &self.whisks,
            &self.subjects,
            &self.activations,
            &self.services,
        ]
    }
}

/// The [`Store`] over CouchDB: one HTTP client (a connection pool) for every call, and a task that
/// follows other processes' changes for [`Store::change_token`].
pub struct CouchStore {
    http: Arc<Http>,
    dbs: Dbs,
    /// The change token: bumped by the polling task and by this store's own writes.
    changes: Arc<AtomicU64>,
    poller: tokio::task::AbortHandle,
}

impl Drop for CouchStore {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

/// The `update_seq`s of `whisks` and `subjects`.
type Seqs = (Value, Value);

async fn read_seqs(http: &Http, whisks: &str, subjects: &str) -> Result<Seqs> {
    let (w, s) = tokio::join!(http.update_seq(whisks), http.update_seq(subjects));
    Ok((w?, s?))
}

/// The change token's task: bumps `changes` whenever the sequences moved, and on every poll that
/// could not read them (what was cached may be stale by then, so nothing is trusted). Ends when the
/// store is dropped (aborted; the weak reference is a second line).
///
/// Polling rather than `_changes`: two small reads every 200 ms whatever the load, no long-lived
/// request to keep alive through couch_rs's timeout or a proxy, and none of pouchdb-server's
/// `_changes` gaps. A clustered CouchDB may word one state's `update_seq` differently from one
/// node to the next; that only empties the cache more often than needed, never too rarely.
async fn follow(
    http: Arc<Http>,
    whisks: String,
    subjects: String,
    changes: std::sync::Weak<AtomicU64>,
    mut last: Option<Seqs>,
) {
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let now = read_seqs(&http, &whisks, &subjects).await;
        let Some(changes) = changes.upgrade() else {
            return;
        };
        match now {
            Ok(seqs) => {
                if last.is_none() {
                    tracing::info!(url = %http.label, "CouchDB answers again");
                }
                if last.as_ref() != Some(&seqs) {
                    changes.fetch_add(1, Ordering::SeqCst);
                }
                last = Some(seqs);
            }
            Err(e) => {
                if last.is_some() {
                    tracing::warn!(error = %e, "CouchDB's change sequence cannot be read");
                }
                changes.fetch_add(1, Ordering::SeqCst);
                last = None;
            }
        }
    }
}

fn to_object(v: Value, what: &str) -> Result<Map<String, Value>> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(StoreError::Backend(format!("{what} is not a JSON object"))),
    }
}

fn serialize<T: serde::Serialize>(v: &T, what: &str) -> Result<Map<String, Value>> {
    let v = serde_json::to_value(v).map_err(|e| StoreError::Backend(e.to_string()))?;
    to_object(v, what)
}

fn decode<T: serde::de::DeserializeOwned>(doc: Map<String, Value>, id: &str) -> Result<T> {
    owl_entity::from_value_exact(&Value::Object(doc))
        .map_err(|_| StoreError::Corrupt(id.to_string()))
}

fn decode_entity(doc: Map<String, Value>, id: &str) -> Result<Entity> {
    Entity::from_document(&Value::Object(doc)).map_err(|_| StoreError::Corrupt(id.to_string()))
}

/// A document of the subjects database that is a subject (not a limits or design document).
fn is_subject(doc: &Map<String, Value>) -> bool {
    doc.get("subject").is_some_and(Value::is_string)
        && doc.get("namespaces").is_some_and(Value::is_array)
}

/// The stored document of a view row read with `include_docs`; `None` for a document deleted
/// between the index read and the document read (CouchDB then sends `doc: null`).
fn row_doc(row: Row) -> Result<Option<(String, Map<String, Value>)>> {
    let id = row.id.unwrap_or_default();
    match row.doc {
        Some(Value::Object(doc)) => {
            let (_, doc) = strip(doc).ok_or_else(|| StoreError::Corrupt(id.clone()))?;
            Ok(Some((id, doc)))
        }
        None | Some(Value::Null) => Ok(None),
        Some(_) => Err(StoreError::Corrupt(id)),
    }
}

fn limits_id(namespace: &str) -> String {
    format!("{namespace}/limits")
}

fn activation_id(namespace: &str, id: &str) -> String {
    format!("{namespace}/{id}")
}

/// `skip` and `limit` of a list, as view parameters.
fn page(skip: usize, limit: Option<usize>) -> Vec<(&'static str, String)> {
    let mut q = Vec::new();
    if skip > 0 {
        q.push(("skip", skip.to_string()));
    }
    if let Some(l) = limit {
        q.push(("limit", l.to_string()));
    }
    q
}

/// The key range of the `entities` view a query reads (ascending).
fn entity_range(q: &EntityQuery) -> Vec<(&'static str, String)> {
    let (scope, value) = match (&q.scope, q.public_only) {
        (Scope::Namespace(ns), false) => ("root", ns.to_string()),
        (Scope::Path(p), false) => ("path", p.to_string()),
        (Scope::Namespace(ns), true) => ("public-root", ns.to_string()),
        (Scope::Path(p), true) => ("public-path", p.to_string()),
    };
    let t = q.collection.entity_type();
    vec![
        ("startkey", json!([t, scope, value]).to_string()),
        ("endkey", json!([t, scope, value, {}]).to_string()),
    ]
}

/// The view and key range (descending) an activation query reads; `None` when nothing can match.
fn activation_range(q: &ActivationQuery) -> Option<(&'static str, Vec<(&'static str, String)>)> {
    if let (Some(since), Some(upto)) = (q.since, q.upto)
        && since > upto
    {
        return None;
    }
    let (view, prefix) = match (&q.name, &q.namespace) {
        (Some(name), namespace) => {
            // A filter name starts with the namespace of the records it names.
            if namespace
                .as_ref()
                .is_some_and(|ns| name.split('/').next() != Some(ns.as_str()))
            {
                return None;
            }
            ("by-name", vec![json!(name)])
        }
        (None, Some(ns)) => ("by-namespace", vec![json!(ns.as_str())]),
        (None, None) => ("by-start", vec![]),
    };
    let mut start = prefix.clone();
    match q.upto {
        // `{}` sorts after every activation id: the whole millisecond `upto` is in.
        Some(upto) => start.extend([json!(upto), json!({})]),
        None => start.push(json!({})),
    }
    let mut range = vec![
        ("descending", "true".to_string()),
        ("startkey", Value::Array(start).to_string()),
    ];
    let mut end = prefix;
    if let Some(since) = q.since {
        end.push(json!(since));
    }
    if !end.is_empty() {
        range.push(("endkey", Value::Array(end).to_string()));
    }
    Some((view, range))
}

impl CouchStore {
    /// Connects to the server, creates the databases and design documents that are missing, and
    /// starts following changes (a task on the current tokio runtime, ended when the store is
    /// dropped). An unreachable server, or one that refuses the credentials, is
    /// [`StoreError::Unavailable`].
    pub async fn connect(config: CouchConfig) -> Result<CouchStore> {
        let http = Arc::new(Http::new(&config)?);
        let dbs = Dbs::of(&config.db_prefix);
        let reply = http
            .call(couch_rs::http::Method::GET, "/", &[], None)
            .await?;
        if !(200..300).contains(&reply.status) {
            return Err(StoreError::Unavailable(
                match http.unexpected(&reply, "GET /") {
                    StoreError::Backend(m) => m,
                    e => e.to_string(),
                },
            ));
        }
        let at_connect = |e: StoreError| match e {
            // At connect, a refusal (credentials, rights) means the store cannot be used.
            StoreError::Backend(m) => StoreError::Unavailable(m),
            e => e,
        };
        for db in dbs.all() {
            http.ensure_db(db).await.map_err(at_connect)?;
        }
        design::ensure(&http, &dbs.whisks, &design::whisks())
            .await
            .map_err(at_connect)?;
        design::ensure(&http, &dbs.subjects, &design::subjects())
            .await
            .map_err(at_connect)?;
        design::ensure(&http, &dbs.activations, &design::activations())
            .await
            .map_err(at_connect)?;
        let seqs = read_seqs(&http, &dbs.whisks, &dbs.subjects)
            .await
            .map_err(at_connect)?;
        let changes = Arc::new(AtomicU64::new(0));
        let poller = tokio::spawn(follow(
            http.clone(),
            dbs.whisks.clone(),
            dbs.subjects.clone(),
            Arc::downgrade(&changes),
            Some(seqs),
        ))
        .abort_handle();
        Ok(CouchStore {
            http,
            dbs,
            changes,
            poller,
        })
    }

    /// Deletes the four databases `config` names, with everything in them: for tests, and for
    /// taking a deployment down. Databases that do not exist are skipped.
    pub async fn delete_databases(config: &CouchConfig) -> Result<()> {
        let http = Http::new(config)?;
        for db in Dbs::of(&config.db_prefix).all() {
            http.delete_db(db).await?;
        }
        Ok(())
    }

    fn changed(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
    }

    async fn subjects_in(&self, view: &str, query: &[(&str, String)]) -> Result<Vec<Subject>> {
        let mut query = query.to_vec();
        query.push(("include_docs", "true".into()));
        let rows = self
            .http
            .rows(&self.dbs.subjects, view, &query, None)
            .await?;
        let mut subjects: Vec<Subject> = Vec::with_capacity(rows.len());
        for row in rows {
            let Some((id, doc)) = row_doc(row)? else {
                continue;
            };
            if !is_subject(&doc) {
                continue;
            }
            let s: Subject = decode(doc, &id)?;
            // One row per namespace: a subject with two keys to one namespace comes twice.
            if !subjects.iter().any(|o| o.subject == s.subject) {
                subjects.push(s);
            }
        }
        subjects.sort_by(|a, b| a.subject.cmp(&b.subject));
        Ok(subjects)
    }

    /// The limits document of `namespace`, with its revision.
    async fn limits(&self, namespace: &str) -> Result<Option<(Rev, NamespaceLimits)>> {
        let id = limits_id(namespace);
        match self.http.get(&self.dbs.subjects, &id).await? {
            None => Ok(None),
            Some((rev, doc)) => Ok(Some((rev, decode(doc, &id)?))),
        }
    }
}

#[async_trait]
impl Store for CouchStore {
    async fn get_entity(&self, id: &str) -> Result<Option<Stored<Entity>>> {
        match self.http.get(&self.dbs.whisks, id).await? {
            None => Ok(None),
            Some((rev, doc)) => Ok(Some(Stored {
                rev,
                value: decode_entity(doc, id)?,
            })),
        }
    }

    async fn put_entity(&self, entity: &Entity, rev: Option<&Rev>) -> Result<Rev> {
        let id = entity.fqn().doc_id();
        let doc = to_object(entity.to_document(), &id)?;
        let rev = self.http.put(&self.dbs.whisks, &id, doc, rev).await?;
        self.changed();
        Ok(rev)
    }

    async fn delete_entity(&self, id: &str, rev: &Rev) -> Result<()> {
        self.http.delete(&self.dbs.whisks, id, rev).await?;
        self.changed();
        Ok(())
    }

    async fn list_entities(&self, q: &EntityQuery) -> Result<Vec<Entity>> {
        if q.limit == Some(0) {
            return Ok(vec![]);
        }
        let mut query = entity_range(q);
        query.extend(page(q.skip, q.limit));
        query.push(("reduce", "false".into()));
        query.push(("include_docs", "true".into()));
        let rows = self
            .http
            .rows(&self.dbs.whisks, "entities", &query, None)
            .await?;
        let mut entities = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some((id, doc)) = row_doc(row)? {
                entities.push(decode_entity(doc, &id)?);
            }
        }
        Ok(entities)
    }

    async fn count_entities(&self, q: &EntityQuery) -> Result<u64> {
        self.http
            .count(&self.dbs.whisks, "entities", &entity_range(q))
            .await
    }

    async fn get_subject(&self, subject: &str) -> Result<Option<Stored<Subject>>> {
        match self.http.get(&self.dbs.subjects, subject).await? {
            Some((rev, doc)) if is_subject(&doc) => Ok(Some(Stored {
                rev,
                value: decode(doc, subject)?,
            })),
            _ => Ok(None),
        }
    }

    /// The UUID check reads the `uuids` view before the write: two administrators giving one UUID
    /// to two subjects in the same instant could both pass it. Keys are minted as random v4 UUIDs,
    /// so the check guards against a key reused by mistake, which is what it is for; the subject
    /// itself is still one document, written whole or not at all.
    async fn put_subject(&self, subject: &Subject, rev: Option<&Rev>) -> Result<Rev> {
        let uuids: Vec<&str> = subject.namespaces.iter().map(|n| n.uuid.as_str()).collect();
        if !uuids.is_empty() {
            let rows = self
                .http
                .rows(&self.dbs.subjects, "uuids", &[], Some(&json!(uuids)))
                .await?;
            if rows
                .iter()
                .any(|r| r.id.as_deref() != Some(subject.subject.as_str()))
            {
                return Err(StoreError::Conflict);
            }
        }
        let doc = serialize(subject, &subject.subject)?;
        let rev = self
            .http
            .put(&self.dbs.subjects, &subject.subject, doc, rev)
            .await?;
        self.changed();
        Ok(rev)
    }

    async fn delete_subject(&self, subject: &str, rev: &Rev) -> Result<()> {
        self.http.delete(&self.dbs.subjects, subject, rev).await?;
        self.changed();
        Ok(())
    }

    async fn list_subjects(&self) -> Result<Vec<Subject>> {
        self.subjects_in("subjects", &[]).await
    }

    async fn identity_for_key(&self, key: &AuthKey) -> Result<Option<Identity>> {
        // One read: the view's value links the namespace's limits document, which `include_docs`
        // brings along (as upstream's `subjects/identities` does).
        let query = [
            ("key", json!([key.uuid, key.key]).to_string()),
            ("include_docs", "true".into()),
        ];
        let rows = self
            .http
            .rows(&self.dbs.subjects, "identities", &query, None)
            .await?;
        // The view matches keys by collation; the key must be the very same string.
        let Some(row) = rows.into_iter().find(|r| {
            r.value["uuid"].as_str() == Some(key.uuid.as_str())
                && r.value["key"].as_str() == Some(key.key.as_str())
        }) else {
            return Ok(None);
        };
        let subject = row.id.clone().unwrap_or_default();
        let namespace = row.value["namespace"].as_str().unwrap_or_default();
        let namespace = EntityName::new(namespace)
            .map_err(|_| StoreError::Corrupt(format!("{subject}: namespace '{namespace}'")))?;
        let limits = match row.doc {
            Some(Value::Object(doc)) => {
                let id = limits_id(namespace.as_str());
                let (_, doc) = strip(doc).ok_or_else(|| StoreError::Corrupt(id.clone()))?;
                decode(doc, &id)?
            }
            _ => NamespaceLimits::default(),
        };
        Ok(Some(Identity {
            subject,
            namespace,
            authkey: key.clone(),
            limits,
        }))
    }

    async fn subjects_of_namespace(&self, namespace: &EntityName) -> Result<Vec<Subject>> {
        let query = [("key", json!(namespace.as_str()).to_string())];
        let mut subjects = self.subjects_in("namespaces", &query).await?;
        subjects.retain(|s| s.namespaces.iter().any(|n| &n.name == namespace));
        Ok(subjects)
    }

    async fn get_limits(&self, namespace: &EntityName) -> Result<Option<NamespaceLimits>> {
        Ok(self.limits(namespace.as_str()).await?.map(|(_, l)| l))
    }

    async fn put_limits(
        &self,
        namespace: &EntityName,
        limits: Option<&NamespaceLimits>,
    ) -> Result<()> {
        let id = limits_id(namespace.as_str());
        for _ in 0..LIMITS_ATTEMPTS {
            let current = self.limits(namespace.as_str()).await?.map(|(rev, _)| rev);
            let written = match (limits, current) {
                (Some(l), rev) => {
                    let doc = serialize(l, &id)?;
                    let put = self.http.put(&self.dbs.subjects, &id, doc, rev.as_ref());
                    put.await.map(drop)
                }
                (None, Some(rev)) => self.http.delete(&self.dbs.subjects, &id, &rev).await,
                (None, None) => return Ok(()),
            };
            match written {
                Ok(()) => {
                    self.changed();
                    return Ok(());
                }
                // Another writer got in between: read again.
                Err(StoreError::Conflict | StoreError::NotFound) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    fn change_token(&self) -> Option<u64> {
        Some(self.changes.load(Ordering::SeqCst))
    }

    async fn get_doc(&self, id: &str) -> Result<Option<Stored<Value>>> {
        match self.http.get(&self.dbs.services, id).await? {
            None => Ok(None),
            Some((rev, mut doc)) => {
                let value = doc
                    .remove("value")
                    .ok_or_else(|| StoreError::Corrupt(id.to_string()))?;
                Ok(Some(Stored { rev, value }))
            }
        }
    }

    async fn put_doc(&self, id: &str, doc: &Value, rev: Option<&Rev>) -> Result<Rev> {
        // Wrapped, so that any JSON (fields starting with `_` included) comes back as it went in.
        let mut body = Map::new();
        body.insert("value".into(), doc.clone());
        self.http.put(&self.dbs.services, id, body, rev).await
    }

    async fn delete_doc(&self, id: &str, rev: &Rev) -> Result<()> {
        self.http.delete(&self.dbs.services, id, rev).await
    }

    async fn list_docs(&self, prefix: &str) -> Result<Vec<(String, Stored<Value>)>> {
        let docs = self.http.prefixed(&self.dbs.services, prefix).await?;
        docs.into_iter()
            .map(|(id, rev, mut doc)| {
                let value = doc
                    .remove("value")
                    .ok_or_else(|| StoreError::Corrupt(id.clone()))?;
                Ok((id, Stored { rev, value }))
            })
            .collect()
    }

    async fn put_activation(&self, a: &Activation) -> Result<()> {
        let id = activation_id(a.namespace.root().as_str(), a.activation_id.as_str());
        let doc = serialize(a, &id)?;
        // Written once: a second write of the id is a conflict.
        self.http
            .put(&self.dbs.activations, &id, doc, None)
            .await
            .map(drop)
    }

    async fn get_activation(
        &self,
        namespace: &EntityName,
        id: &ActivationId,
    ) -> Result<Option<Activation>> {
        let id = activation_id(namespace.as_str(), id.as_str());
        match self.http.get(&self.dbs.activations, &id).await? {
            None => Ok(None),
            Some((_, doc)) => Ok(Some(decode(doc, &id)?)),
        }
    }

    async fn list_activations(&self, q: &ActivationQuery) -> Result<Vec<Activation>> {
        let Some((view, mut query)) = activation_range(q) else {
            return Ok(vec![]);
        };
        if q.limit == Some(0) {
            return Ok(vec![]);
        }
        query.extend(page(q.skip, q.limit));
        query.push(("reduce", "false".into()));
        query.push(("include_docs", "true".into()));
        let rows = self
            .http
            .rows(&self.dbs.activations, view, &query, None)
            .await?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some((id, doc)) = row_doc(row)? {
                records.push(decode(doc, &id)?);
            }
        }
        Ok(records)
    }

    async fn count_activations(&self, q: &ActivationQuery) -> Result<u64> {
        let Some((view, query)) = activation_range(q) else {
            return Ok(0);
        };
        self.http.count(&self.dbs.activations, view, &query).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> EntityName {
        EntityName::new(s).unwrap()
    }

    #[test]
    fn an_activation_range_reads_newest_first_with_inclusive_bounds() {
        let q = ActivationQuery {
            namespace: Some(ns("guest")),
            since: Some(100),
            upto: Some(200),
            ..Default::default()
        };
        let (view, range) = activation_range(&q).unwrap();
        assert_eq!(view, "by-namespace");
        assert_eq!(
            range,
            [
                ("descending", "true".to_string()),
                ("startkey", r#"["guest",200,{}]"#.to_string()),
                ("endkey", r#"["guest",100]"#.to_string()),
            ]
        );
        let all = activation_range(&ActivationQuery::default()).unwrap();
        assert_eq!(all.0, "by-start");
        assert_eq!(all.1.len(), 2, "no end key: {:?}", all.1);
    }

    #[test]
    fn an_activation_query_that_cannot_match_reads_nothing() {
        let backwards = ActivationQuery {
            since: Some(300),
            upto: Some(200),
            ..Default::default()
        };
        assert!(activation_range(&backwards).is_none());
        let elsewhere = ActivationQuery {
            namespace: Some(ns("guest")),
            name: Some("other/hello".into()),
            ..Default::default()
        };
        assert!(activation_range(&elsewhere).is_none());
    }

    #[test]
    fn an_entity_range_covers_one_collection_and_scope() {
        let q = EntityQuery::new(
            owl_entity::entity::Collection::Actions,
            Scope::Namespace(ns("guest")),
        );
        assert_eq!(
            entity_range(&q),
            [
                ("startkey", r#"["action","root","guest"]"#.to_string()),
                ("endkey", r#"["action","root","guest",{}]"#.to_string()),
            ]
        );
    }
}
