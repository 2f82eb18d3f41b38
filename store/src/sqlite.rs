//! The embedded backend: one SQLite file (`owl.db`) in the data directory.
//!
//! Each document is a JSON text with the columns its queries need beside it. Writes run in
//! `BEGIN IMMEDIATE` transactions that compare the stored revision first, so two writers of one entity
//! can never both win, even from two processes. WAL journaling lets readers run beside the writer.
//! Calls run on tokio's blocking pool: SQLite is synchronous and a commit may wait on the disk.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use owl_entity::activation::{Activation, ActivationId};
use owl_entity::entity::Entity;
use owl_entity::identity::{AuthKey, Identity, NamespaceLimits, Subject};
use owl_entity::name::EntityName;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::{
    ActivationQuery, EntityKeys, EntityQuery, Result, Rev, Scope, Store, StoreError, Stored,
    new_rev,
};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS entities (
    id TEXT PRIMARY KEY, rev TEXT NOT NULL, collection TEXT NOT NULL, root TEXT NOT NULL,
    path TEXT NOT NULL, updated INTEGER NOT NULL, public INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS entities_by_root ON entities (collection, root, updated DESC);
CREATE INDEX IF NOT EXISTS entities_by_path ON entities (collection, path, updated DESC);
CREATE TABLE IF NOT EXISTS subjects (subject TEXT PRIMARY KEY, rev TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS namespace_keys (
    uuid TEXT PRIMARY KEY, key TEXT NOT NULL, namespace TEXT NOT NULL, subject TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS namespace_keys_by_namespace ON namespace_keys (namespace);
CREATE TABLE IF NOT EXISTS namespace_limits (namespace TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS activations (
    namespace TEXT NOT NULL, id TEXT NOT NULL, name_key TEXT NOT NULL, start INTEGER NOT NULL,
    doc TEXT NOT NULL, PRIMARY KEY (namespace, id));
CREATE INDEX IF NOT EXISTS activations_by_start ON activations (namespace, start DESC, id DESC);
CREATE TABLE IF NOT EXISTS docs (id TEXT PRIMARY KEY, rev TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS activations_by_name ON activations (namespace, name_key, start DESC, id DESC);
"#;

pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// Beside the database: a byte is appended after every committed write of an entity, a subject
    /// or limits, by any process, so that its size and time are the change token.
    changes: std::path::PathBuf,
    /// Activation records go to one writer thread, which commits all that wait in one transaction.
    records: std::sync::mpsc::Sender<Record>,
}

/// An activation record to insert, and who waits for its commit.
struct Record {
    row: (String, String, String, i64, String),
    done: tokio::sync::oneshot::Sender<Result<()>>,
}

/// Records that come within this long of the first go into its commit, up to this many. No request
/// waits for its record (a blocking caller has its answer already; only the completion, which frees
/// the throttle slot, comes after it), and one commit for many records costs little more than one.
const COMMIT_WINDOW: std::time::Duration = std::time::Duration::from_millis(4);
const RECORDS_PER_COMMIT: usize = 512;

const INSERT_RECORD: &str =
    "INSERT INTO activations (namespace, id, name_key, start, doc) VALUES (?, ?, ?, ?, ?)";

/// Commits records in groups: those that come within [`COMMIT_WINDOW`] of the first (a commit costs
/// far more than an insert). A batch that fails is retried record by record, so each record gets its
/// own answer.
fn write_records(conn: Arc<Mutex<Connection>>, rx: std::sync::mpsc::Receiver<Record>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        let deadline = std::time::Instant::now() + COMMIT_WINDOW;
        while batch.len() < RECORDS_PER_COMMIT {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
        let insert = |c: &Connection, r: &Record| -> Result<()> {
            let (ns, id, name, start, doc) = &r.row;
            c.prepare_cached(INSERT_RECORD)?
                .execute(params![ns, id, name, start, doc])?;
            Ok(())
        };
        let together = (|| -> Result<()> {
            let tx = c.transaction()?;
            for r in &batch {
                insert(&tx, r)?;
            }
            tx.commit()?;
            Ok(())
        })();
        if together.is_ok() {
            for r in batch {
                let _ = r.done.send(Ok(()));
            }
        } else {
            for r in batch {
                let alone = insert(&c, &r);
                let _ = r.done.send(alone);
            }
        }
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict,
            _ => backend(e),
        }
    }
}

fn decode<T: serde::de::DeserializeOwned>(id: &str, doc: &str) -> Result<T> {
    serde_json::from_str(doc).map_err(|_| StoreError::Corrupt(id.to_string()))
}

fn decode_entity(id: &str, doc: &str) -> Result<Entity> {
    Entity::from_document_text(doc).map_err(|_| StoreError::Corrupt(id.to_string()))
}

impl SqliteStore {
    /// Opens (creating if needed) `owl.db` in `dir`.
    pub fn open(dir: &Path) -> Result<SqliteStore> {
        std::fs::create_dir_all(dir).map_err(backend)?;
        Self::open_file(&dir.join("owl.db"))
    }

    pub fn open_file(path: &Path) -> Result<SqliteStore> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // WAL with NORMAL survives a crash of the process without loss; a power cut may drop the last
        // commits but never corrupts the file.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        // Every statement is prepared once and kept: parsing SQL cost more than running it.
        conn.set_prepared_statement_cache_capacity(64);
        let mut changes = path.as_os_str().to_owned();
        changes.push("-changes");
        let conn = Arc::new(Mutex::new(conn));
        let (records, rx) = std::sync::mpsc::channel();
        let writer = conn.clone();
        // It ends when the store is dropped and the channel closes.
        std::thread::Builder::new()
            .name("owl-records".into())
            .spawn(move || write_records(writer, rx))
            .map_err(backend)?;
        Ok(SqliteStore {
            conn,
            changes: changes.into(),
            records,
        })
    }

    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut c)
        })
        .await
        .map_err(backend)?
    }
}

impl SqliteStore {
    /// Tells every process sharing the database that it changed (after the commit, so that no
    /// reader takes the old value for the new token).
    fn changed(&self) {
        use std::io::Write;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.changes);
        if let Ok(mut f) = file {
            // Kept small: shrinking it is a change too.
            if f.metadata().is_ok_and(|m| m.len() > 1 << 20) {
                let _ = f.set_len(0);
            }
            let _ = f.write_all(b".");
        }
    }
}

/// Compares the revision a row holds now (`select_rev` reads it by `id`) with the one the writer
/// read: the check every revisioned write makes inside its transaction.
fn check_current(
    tx: &Connection,
    select_rev: &str,
    id: &str,
    expected: Option<&Rev>,
) -> Result<()> {
    let current: Option<String> = tx
        .prepare_cached(select_rev)?
        .query_row([id], |r| r.get(0))
        .optional()?;
    check_rev(current, expected)
}

fn check_rev(current: Option<String>, expected: Option<&Rev>) -> Result<()> {
    match (current, expected) {
        (None, None) => Ok(()),
        (Some(c), Some(e)) if c == e.0 => Ok(()),
        (None, Some(_)) => Err(StoreError::NotFound),
        _ => Err(StoreError::Conflict),
    }
}

fn limit_sql(limit: Option<usize>) -> i64 {
    limit.map_or(-1, |l| l as i64)
}

fn activation_where(q: &ActivationQuery) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value as V;
    let mut clauses = vec!["1 = 1".to_string()];
    let mut args = Vec::new();
    if let Some(ns) = &q.namespace {
        clauses.push("namespace = ?".into());
        args.push(V::Text(ns.to_string()));
    }
    if let Some(n) = &q.name {
        clauses.push("name_key = ?".into());
        args.push(V::Text(n.clone()));
    }
    if let Some(s) = q.since {
        clauses.push("start >= ?".into());
        args.push(V::Integer(s));
    }
    if let Some(u) = q.upto {
        clauses.push("start <= ?".into());
        args.push(V::Integer(u));
    }
    (clauses.join(" AND "), args)
}

fn entity_where(q: &EntityQuery) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value as V;
    let (col, value) = match &q.scope {
        Scope::Namespace(ns) => ("root", ns.to_string()),
        Scope::Path(p) => ("path", p.to_string()),
    };
    let public = if q.public_only { " AND public = 1" } else { "" };
    (
        format!("collection = ? AND {col} = ?{public}"),
        vec![V::Text(q.collection.as_str().into()), V::Text(value)],
    )
}

#[async_trait]
impl Store for SqliteStore {
    async fn get_entity(&self, id: &str) -> Result<Option<Stored<Entity>>> {
        let id = id.to_string();
        self.run(move |c| {
            let row: Option<(String, String)> = c
                .prepare_cached("SELECT rev, doc FROM entities WHERE id = ?")?
                .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            row.map(|(rev, doc)| {
                Ok(Stored {
                    rev: Rev(rev),
                    value: decode_entity(&id, &doc)?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn put_entity(&self, entity: &Entity, rev: Option<&Rev>) -> Result<Rev> {
        let keys = EntityKeys::of(entity);
        let doc = entity.to_document_text();
        let rev = rev.cloned();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            check_current(&tx, "SELECT rev FROM entities WHERE id = ?", &keys.id, rev.as_ref())?;
            let new = new_rev(rev.as_ref());
            tx.prepare_cached("INSERT OR REPLACE INTO entities (id, rev, collection, root, path, updated, public, doc)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)")?
                .execute(params![keys.id, new.0, keys.collection.as_str(), keys.root, keys.path, keys.updated, keys.public, doc],
            )?;
            tx.commit()?;
            Ok(new)
        })
        .await
        .inspect(|_| self.changed())
    }

    async fn delete_entity(&self, id: &str, rev: &Rev) -> Result<()> {
        let (id, rev) = (id.to_string(), rev.clone());
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            check_current(
                &tx,
                "SELECT rev FROM entities WHERE id = ?",
                &id,
                Some(&rev),
            )?;
            tx.prepare_cached("DELETE FROM entities WHERE id = ?")?
                .execute([&id])?;
            tx.commit()?;
            Ok(())
        })
        .await
        .inspect(|_| self.changed())
    }

    async fn list_entities(&self, q: &EntityQuery) -> Result<Vec<Entity>> {
        let q = q.clone();
        self.run(move |c| {
            let (clause, mut args) = entity_where(&q);
            args.push(rusqlite::types::Value::Integer(limit_sql(q.limit)));
            args.push(rusqlite::types::Value::Integer(q.skip as i64));
            let sql = format!("SELECT id, doc FROM entities WHERE {clause} ORDER BY updated DESC, id LIMIT ? OFFSET ?");
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            rows.map(|r| {
                let (id, doc) = r?;
                decode_entity(&id, &doc)
            })
            .collect()
        })
        .await
    }

    async fn count_entities(&self, q: &EntityQuery) -> Result<u64> {
        let q = q.clone();
        self.run(move |c| {
            let (clause, args) = entity_where(&q);
            let n: i64 = c
                .prepare_cached(&format!("SELECT COUNT(*) FROM entities WHERE {clause}"))?
                .query_row(rusqlite::params_from_iter(args), |r| r.get(0))?;
            Ok(n as u64)
        })
        .await
    }

    async fn get_subject(&self, subject: &str) -> Result<Option<Stored<Subject>>> {
        let subject = subject.to_string();
        self.run(move |c| {
            let row: Option<(String, String)> = c
                .prepare_cached("SELECT rev, doc FROM subjects WHERE subject = ?")?
                .query_row([&subject], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            row.map(|(rev, doc)| {
                Ok(Stored {
                    rev: Rev(rev),
                    value: decode(&subject, &doc)?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn put_subject(&self, subject: &Subject, rev: Option<&Rev>) -> Result<Rev> {
        let subject = subject.clone();
        let rev = rev.cloned();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            check_current(&tx, "SELECT rev FROM subjects WHERE subject = ?", &subject.subject, rev.as_ref())?;
            let new = new_rev(rev.as_ref());
            let doc = serde_json::to_string(&subject).map_err(backend)?;
            tx.prepare_cached("INSERT OR REPLACE INTO subjects (subject, rev, doc) VALUES (?, ?, ?)")?
                .execute(params![subject.subject, new.0, doc],
            )?;
            tx.prepare_cached("DELETE FROM namespace_keys WHERE subject = ?")?
                .execute([&subject.subject])?;
            for ns in &subject.namespaces {
                // The primary key on uuid refuses a key another subject holds: a conflict.
                tx.prepare_cached("INSERT INTO namespace_keys (uuid, key, namespace, subject) VALUES (?, ?, ?, ?)")?
                .execute(params![ns.uuid, ns.key, ns.name.as_str(), subject.subject],
                )?;
            }
            tx.commit()?;
            Ok(new)
        })
        .await
        .inspect(|_| self.changed())
    }

    async fn delete_subject(&self, subject: &str, rev: &Rev) -> Result<()> {
        let (subject, rev) = (subject.to_string(), rev.clone());
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            check_current(
                &tx,
                "SELECT rev FROM subjects WHERE subject = ?",
                &subject,
                Some(&rev),
            )?;
            tx.prepare_cached("DELETE FROM namespace_keys WHERE subject = ?")?
                .execute([&subject])?;
            tx.prepare_cached("DELETE FROM subjects WHERE subject = ?")?
                .execute([&subject])?;
            tx.commit()?;
            Ok(())
        })
        .await
        .inspect(|_| self.changed())
    }

    async fn list_subjects(&self) -> Result<Vec<Subject>> {
        self.run(|c| {
            let mut stmt =
                c.prepare_cached("SELECT subject, doc FROM subjects ORDER BY subject")?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            rows.map(|r| {
                let (id, doc) = r?;
                decode(&id, &doc)
            })
            .collect()
        })
        .await
    }

    async fn identity_for_key(&self, key: &AuthKey) -> Result<Option<Identity>> {
        let key = key.clone();
        self.run(move |c| {
            let row: Option<(String, String)> = c
                .prepare_cached("SELECT s.doc, k.namespace FROM namespace_keys k JOIN subjects s ON s.subject = k.subject
                     WHERE k.uuid = ? AND k.key = ?")?
                .query_row([&key.uuid, &key.key],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((doc, namespace)) = row else { return Ok(None) };
            let subject: Subject = decode(&key.uuid, &doc)?;
            if subject.blocked {
                return Ok(None);
            }
            let limits: Option<String> = c
                .prepare_cached("SELECT doc FROM namespace_limits WHERE namespace = ?")?
                .query_row([&namespace], |r| r.get(0))
                .optional()?;
            let limits = limits.map(|d| decode(&namespace, &d)).transpose()?.unwrap_or_default();
            let namespace = EntityName::new(namespace.clone()).map_err(|_| StoreError::Corrupt(namespace))?;
            Ok(Some(Identity { subject: subject.subject, namespace, authkey: key, limits }))
        })
        .await
    }

    async fn subjects_of_namespace(&self, namespace: &EntityName) -> Result<Vec<Subject>> {
        let ns = namespace.to_string();
        self.run(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT DISTINCT s.subject, s.doc FROM namespace_keys k JOIN subjects s ON s.subject = k.subject
                 WHERE k.namespace = ? ORDER BY s.subject",
            )?;
            let rows = stmt.query_map([&ns], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            rows.map(|r| {
                let (id, doc) = r?;
                decode(&id, &doc)
            })
            .collect()
        })
        .await
    }

    async fn get_limits(&self, namespace: &EntityName) -> Result<Option<NamespaceLimits>> {
        let ns = namespace.to_string();
        self.run(move |c| {
            let doc: Option<String> = c
                .prepare_cached("SELECT doc FROM namespace_limits WHERE namespace = ?")?
                .query_row([&ns], |r| r.get(0))
                .optional()?;
            doc.map(|d| decode(&ns, &d)).transpose()
        })
        .await
    }

    async fn put_limits(
        &self,
        namespace: &EntityName,
        limits: Option<&NamespaceLimits>,
    ) -> Result<()> {
        let ns = namespace.to_string();
        let doc = limits
            .map(serde_json::to_string)
            .transpose()
            .map_err(backend)?;
        self.run(move |c| {
            match doc {
                Some(d) => c
                    .prepare_cached(
                        "INSERT OR REPLACE INTO namespace_limits (namespace, doc) VALUES (?, ?)",
                    )?
                    .execute([&ns, &d])?,
                None => c
                    .prepare_cached("DELETE FROM namespace_limits WHERE namespace = ?")?
                    .execute([&ns])?,
            };
            Ok(())
        })
        .await
        .inspect(|_| self.changed())
    }

    fn change_token(&self) -> Option<u64> {
        use std::hash::{Hash, Hasher};
        use std::os::unix::fs::MetadataExt;
        // No file yet: nothing was written since the database was made.
        let Ok(m) = std::fs::metadata(&self.changes) else {
            return Some(0);
        };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (m.len(), m.mtime(), m.mtime_nsec(), m.ino()).hash(&mut h);
        Some(h.finish())
    }

    async fn get_doc(&self, id: &str) -> Result<Option<Stored<serde_json::Value>>> {
        let id = id.to_string();
        self.run(move |c| {
            let row: Option<(String, String)> = c
                .prepare_cached("SELECT rev, doc FROM docs WHERE id = ?")?
                .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            row.map(|(rev, doc)| {
                Ok(Stored {
                    rev: Rev(rev),
                    value: decode(&id, &doc)?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn put_doc(&self, id: &str, doc: &serde_json::Value, rev: Option<&Rev>) -> Result<Rev> {
        let (id, doc, rev) = (id.to_string(), doc.to_string(), rev.cloned());
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            check_current(&tx, "SELECT rev FROM docs WHERE id = ?", &id, rev.as_ref())?;
            let new = new_rev(rev.as_ref());
            tx.prepare_cached("INSERT OR REPLACE INTO docs (id, rev, doc) VALUES (?, ?, ?)")?
                .execute(params![id, new.0, doc])?;
            tx.commit()?;
            Ok(new)
        })
        .await
    }

    async fn delete_doc(&self, id: &str, rev: &Rev) -> Result<()> {
        let (id, rev) = (id.to_string(), rev.clone());
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            check_current(&tx, "SELECT rev FROM docs WHERE id = ?", &id, Some(&rev))?;
            tx.prepare_cached("DELETE FROM docs WHERE id = ?")?
                .execute([&id])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn list_docs(&self, prefix: &str) -> Result<Vec<(String, Stored<serde_json::Value>)>> {
        let prefix = prefix.to_string();
        self.run(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, rev, doc FROM docs WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([&prefix], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            rows.map(|r| {
                let (id, rev, doc) = r?;
                let value = decode(&id, &doc)?;
                Ok((
                    id,
                    Stored {
                        rev: Rev(rev),
                        value,
                    },
                ))
            })
            .collect()
        })
        .await
    }

    async fn put_activation(&self, a: &Activation) -> Result<()> {
        let doc = serde_json::to_string(a).map_err(backend)?;
        let (ns, id, name_key, start) = (
            a.namespace.root().to_string(),
            a.activation_id.to_string(),
            a.filter_name(),
            a.start,
        );
        let (done, committed) = tokio::sync::oneshot::channel();
        let record = Record {
            row: (ns, id, name_key, start, doc),
            done,
        };
        self.records
            .send(record)
            .map_err(|_| backend("the record writer stopped"))?;
        committed
            .await
            .map_err(|_| backend("the record writer stopped"))?
    }

    async fn get_activation(
        &self,
        namespace: &EntityName,
        id: &ActivationId,
    ) -> Result<Option<Activation>> {
        let (ns, id) = (namespace.to_string(), id.to_string());
        self.run(move |c| {
            let doc: Option<String> = c
                .prepare_cached("SELECT doc FROM activations WHERE namespace = ? AND id = ?")?
                .query_row([&ns, &id], |r| r.get(0))
                .optional()?;
            doc.map(|d| decode(&id, &d)).transpose()
        })
        .await
    }

    async fn list_activations(&self, q: &ActivationQuery) -> Result<Vec<Activation>> {
        let q = q.clone();
        self.run(move |c| {
            let (clause, mut args) = activation_where(&q);
            args.push(rusqlite::types::Value::Integer(limit_sql(q.limit)));
            args.push(rusqlite::types::Value::Integer(q.skip as i64));
            let sql = format!("SELECT id, doc FROM activations WHERE {clause} ORDER BY start DESC, id DESC LIMIT ? OFFSET ?");
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            rows.map(|r| {
                let (id, doc) = r?;
                decode(&id, &doc)
            })
            .collect()
        })
        .await
    }

    async fn count_activations(&self, q: &ActivationQuery) -> Result<u64> {
        let q = q.clone();
        self.run(move |c| {
            let (clause, args) = activation_where(&q);
            let n: i64 = c
                .prepare_cached(&format!("SELECT COUNT(*) FROM activations WHERE {clause}"))?
                .query_row(rusqlite::params_from_iter(args), |r| r.get(0))?;
            Ok(n as u64)
        })
        .await
    }
}
