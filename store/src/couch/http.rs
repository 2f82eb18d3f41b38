//! The HTTP layer under the CouchDB store: one couch_rs client, every request through its raw
//! request builder, and the one place where answers become [`StoreError`]s.
//!
//! couch_rs's typed calls fold a refused connection and a timeout into one made-up status (501),
//! which the store must tell apart from the server's own answers (a store outage is
//! [`StoreError::Unavailable`], a refusal is [`StoreError::Backend`]); its raw builder keeps the
//! client (connection pool, credentials) and leaves the answer to us.
//!
//! Mapping: no answer (refused, reset, timeout) and 5xx are `Unavailable`; 409, and a revision the
//! server calls malformed, are `Conflict` or `NotFound` (whichever the document's presence says);
//! a body that is not the JSON expected is `Corrupt`; anything else is `Backend`.

use std::collections::HashMap;
use std::time::Duration;

use couch_rs::http::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::CouchConfig;
use crate::{Result, Rev, StoreError};

/// Requests in flight at once from one store; more wait their turn (a burst of activation records
/// must not open a connection each).
const MAX_IN_FLIGHT: usize = 64;

pub(super) struct Http {
    client: couch_rs::Client,
    /// The path of the configured URL (`/couch` behind a proxy), without its trailing slash.
    base: String,
    /// The URL without credentials, for messages.
    pub label: String,
    timeout: Duration,
    in_flight: tokio::sync::Semaphore,
}

/// A status and the body that came with it.
pub(super) struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

#[derive(Deserialize)]
pub(super) struct Row {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub value: Value,
    /// With `include_docs`: the document (or the one the value links); `None` when it is gone.
    #[serde(default)]
    pub doc: Option<Value>,
}

#[derive(Deserialize)]
struct Rows {
    rows: Vec<Row>,
}

#[derive(Deserialize, Default)]
struct Complaint {
    #[serde(default)]
    error: String,
    #[serde(default)]
    reason: String,
}

/// Percent-encodes one path segment (a database name or a document id): everything but the
/// unreserved characters, so `/` in `ns/name` stays inside the segment.
pub(super) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Splits `user:password@` off a URL: the URL without it (what requests and messages name) and the
/// credentials it carried, percent-decoded.
fn split_credentials(url: &str) -> (String, Option<(String, Option<String>)>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let (user, password) = match rest[..at].split_once(':') {
                Some((u, p)) => (decode(u), Some(decode(p))),
                None => (decode(&rest[..at]), None),
            };
            (
                format!("{scheme}://{}", &rest[at + 1..]),
                Some((user, password)),
            )
        }
        None => (url.to_string(), None),
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The innermost cause of an error: the words that say what happened ("Connection refused").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

impl Http {
    pub fn new(config: &CouchConfig) -> Result<Http> {
        // Credentials in the URL go in the Authorization header only (never in messages, nor in the
        // Referer couch_rs sends); the configured user and password come first.
        let (url, in_url) = split_credentials(config.url.trim_end_matches('/'));
        let (user, password) = match (&config.user, in_url) {
            (Some(u), _) => (Some(u.clone()), config.password.clone()),
            (None, Some((u, p))) => (Some(u), p),
            (None, None) => (None, None),
        };
        let url = url.as_str();
        let label = url.to_string();
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .filter(|r| !r.is_empty() && !r.starts_with('/'))
            .ok_or_else(|| {
                StoreError::Backend(format!(
                    "the CouchDB URL '{label}' is not an http:// or https:// URL"
                ))
            })?;
        let base = rest
            .find('/')
            .map(|i| rest[i..].trim_end_matches('/').to_string())
            .unwrap_or_default();
        // reqwest builds its TLS configuration even for plain HTTP, and panics if no crypto
        // provider is installed: make sure one is.
        install_crypto_provider();
        // couch_rs's own timeout counts whole seconds; the exact one is ours, around each request.
        let seconds = config.request_timeout.as_secs_f64().ceil().max(1.0) as u64;
        let client = couch_rs::Client::new_with_timeout(
            url,
            user.as_deref(),
            password.as_deref(),
            Some(seconds + 1),
        )
        .map_err(|e| StoreError::Backend(format!("the CouchDB URL '{label}': {e}")))?;
        Ok(Http {
            client,
            base,
            label,
            timeout: config.request_timeout,
            in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
        })
    }

    /// One request. `path` starts with `/` and is already encoded; `query` values are sent as given
    /// (JSON for keys). `Err` only when no answer came, or a 5xx did.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Reply> {
        let opts: HashMap<String, String> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let what = format!("{method} {path}");
        let full = format!("{}{path}", self.base);
        let mut request = self
            .client
            .req(method, &full, (!opts.is_empty()).then_some(&opts));
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let _turn = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| StoreError::Backend("the CouchDB client is closed".into()))?;
        let exchange = async {
            match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    response.bytes().await.map(|b| (status, b))
                }
                Err(e) => Err(e),
            }
        };
        let (status, bytes) = match tokio::time::timeout(self.timeout, exchange).await {
            Err(_) => return Err(self.too_slow()),
            Ok(Err(e)) if e.is_timeout() => return Err(self.too_slow()),
            Ok(Err(e)) => {
                return Err(StoreError::Unavailable(format!(
                    "CouchDB at {} cannot be reached: {}",
                    self.label,
                    root_cause(&e)
                )));
            }
            Ok(Ok(answer)) => answer,
        };
        let reply = Reply {
            status,
            body: bytes.to_vec(),
        };
        if status >= 500 {
            return Err(StoreError::Unavailable(format!(
                "CouchDB at {} failed {what}: {}",
                self.label,
                reply.complaint()
            )));
        }
        Ok(reply)
    }

    fn too_slow(&self) -> StoreError {
        StoreError::Unavailable(format!(
            "CouchDB at {} did not answer within {:?}",
            self.label, self.timeout
        ))
    }

    /// The error for an answer the caller did not expect.
    pub fn unexpected(&self, reply: &Reply, what: &str) -> StoreError {
        let refused = matches!(reply.status, 401 | 403);
        StoreError::Backend(format!(
            "CouchDB at {} {} {what}: {}",
            self.label,
            if refused {
                "refused the credentials for"
            } else {
                "refused"
            },
            reply.complaint()
        ))
    }

    pub fn json<T: DeserializeOwned>(&self, reply: &Reply, what: &str) -> Result<T> {
        serde_json::from_slice(&reply.body).map_err(|_| corrupt(what))
    }

    fn doc_path(db: &str, id: &str) -> String {
        match id.strip_prefix("_design/") {
            Some(name) => format!("/{db}/_design/{}", segment(name)),
            None => format!("/{db}/{}", segment(id)),
        }
    }

    /// The document `id` of `db` (an encoded database name) and its revision, without `_id` and
    /// `_rev`; `None` when there is none (or it was deleted).
    pub async fn get(&self, db: &str, id: &str) -> Result<Option<(Rev, Map<String, Value>)>> {
        let reply = self
            .call(Method::GET, &Self::doc_path(db, id), &[], None)
            .await?;
        match reply.status {
            200 => {
                let doc: Map<String, Value> = self.json(&reply, id)?;
                let (rev, doc) = strip(doc).ok_or_else(|| corrupt(id))?;
                Ok(Some((rev, doc)))
            }
            404 if !reply.is_missing_database() => Ok(None),
            _ => Err(self.unexpected(&reply, &format!("reading {id}"))),
        }
    }

    /// Creates (`rev: None`) or replaces the revision `rev` of the document `id`. One document,
    /// one request: the server applies it whole or not at all.
    pub async fn put(
        &self,
        db: &str,
        id: &str,
        mut doc: Map<String, Value>,
        rev: Option<&Rev>,
    ) -> Result<Rev> {
        doc.insert("_id".into(), Value::String(id.to_string()));
        match rev {
            Some(r) => doc.insert("_rev".into(), Value::String(r.0.clone())),
            None => doc.remove("_rev"),
        };
        let reply = self
            .call(
                Method::PUT,
                &Self::doc_path(db, id),
                &[],
                Some(&Value::Object(doc)),
            )
            .await?;
        match reply.status {
            200..=299 => {
                #[derive(Deserialize)]
                struct Written {
                    rev: String,
                }
                let written: Written = self.json(&reply, id)?;
                Ok(Rev(written.rev))
            }
            409 if rev.is_none() => Err(StoreError::Conflict),
            _ if rev.is_some() && reply.is_stale_revision() => self.lost(db, id).await,
            _ => Err(self.unexpected(&reply, &format!("writing {id}"))),
        }
    }

    /// Deletes the revision `rev` of the document `id`.
    pub async fn delete(&self, db: &str, id: &str, rev: &Rev) -> Result<()> {
        let reply = self
            .call(
                Method::DELETE,
                &Self::doc_path(db, id),
                &[("rev", rev.0.clone())],
                None,
            )
            .await?;
        match reply.status {
            200..=299 => Ok(()),
            404 if !reply.is_missing_database() => Err(StoreError::NotFound),
            _ if reply.is_stale_revision() => self.lost(db, id).await,
            _ => Err(self.unexpected(&reply, &format!("deleting {id}"))),
        }
    }

    /// Why a write naming a revision was refused: the document is gone, or it changed.
    async fn lost<T>(&self, db: &str, id: &str) -> Result<T> {
        match self.get(db, id).await? {
            None => Err(StoreError::NotFound),
            Some(_) => Err(StoreError::Conflict),
        }
    }

    /// The rows of a view of the design document (`reduce=false` unless `query` says otherwise).
    pub async fn rows(
        &self,
        db: &str,
        view: &str,
        query: &[(&str, String)],
        keys: Option<&Value>,
    ) -> Result<Vec<Row>> {
        let path = format!(
            "/{db}/_design/{}/_view/{}",
            segment(super::design::DESIGN),
            segment(view)
        );
        let reply = match keys {
            None => self.call(Method::GET, &path, query, None).await?,
            // Keys go in the body: a long list would not fit a URL.
            Some(keys) => {
                let body = serde_json::json!({ "keys": keys });
                self.call(Method::POST, &path, query, Some(&body)).await?
            }
        };
        if reply.status != 200 {
            return Err(self.unexpected(&reply, &format!("reading the view {view} of {db}")));
        }
        let rows: Rows = self.json(&reply, &format!("{db} view {view}"))?;
        Ok(rows.rows)
    }

    /// The `_count` of a view over `query`'s range.
    pub async fn count(&self, db: &str, view: &str, query: &[(&str, String)]) -> Result<u64> {
        let mut query = query.to_vec();
        query.push(("reduce", "true".into()));
        let rows = self.rows(db, view, &query, None).await?;
        match rows.first() {
            None => Ok(0),
            Some(row) => row
                .value
                .as_u64()
                .ok_or_else(|| corrupt(&format!("{db} view {view}"))),
        }
    }

    /// Every document of `db` whose id starts with `prefix`, in id order.
    pub async fn prefixed(
        &self,
        db: &str,
        prefix: &str,
    ) -> Result<Vec<(String, Rev, Map<String, Value>)>> {
        let query = [
            ("startkey", Value::String(prefix.to_string()).to_string()),
            // The highest character a view collation orders: every id that starts with the prefix
            // sorts below it.
            (
                "endkey",
                Value::String(format!("{prefix}\u{fff0}")).to_string(),
            ),
            ("include_docs", "true".into()),
        ];
        let reply = self
            .call(Method::GET, &format!("/{db}/_all_docs"), &query, None)
            .await?;
        if reply.status != 200 {
            return Err(self.unexpected(&reply, &format!("listing {db}")));
        }
        let rows: Rows = self.json(&reply, &format!("{db} _all_docs"))?;
        let mut docs = Vec::with_capacity(rows.rows.len());
        for row in rows.rows {
            let (Some(id), Some(Value::Object(doc))) = (row.id, row.doc) else {
                continue;
            };
            if !id.starts_with(prefix) || id.starts_with("_design/") {
                continue;
            }
            let (rev, doc) = strip(doc).ok_or_else(|| corrupt(&id))?;
            docs.push((id, rev, doc));
        }
        docs.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(docs)
    }

    /// Creates the database unless it exists.
    pub async fn ensure_db(&self, db: &str) -> Result<()> {
        let path = format!("/{db}");
        let reply = self.call(Method::GET, &path, &[], None).await?;
        match reply.status {
            200 => return Ok(()),
            404 => {}
            _ => return Err(self.unexpected(&reply, &format!("reading the database {db}"))),
        }
        let reply = self.call(Method::PUT, &path, &[], None).await?;
        match reply.status {
            // 412: another controller created it meanwhile.
            200..=299 | 412 => Ok(()),
            _ => Err(self.unexpected(&reply, &format!("creating the database {db}"))),
        }
    }

    /// Deletes the database if it exists.
    pub async fn delete_db(&self, db: &str) -> Result<()> {
        let reply = self
            .call(Method::DELETE, &format!("/{db}"), &[], None)
            .await?;
        match reply.status {
            200..=299 | 404 => Ok(()),
            _ => Err(self.unexpected(&reply, &format!("deleting the database {db}"))),
        }
    }

    /// The database's `update_seq`: it changes with every write to it.
    pub async fn update_seq(&self, db: &str) -> Result<Value> {
        let reply = self.call(Method::GET, &format!("/{db}"), &[], None).await?;
        if reply.status != 200 {
            return Err(self.unexpected(&reply, &format!("reading the database {db}")));
        }
        let mut info: Map<String, Value> = self.json(&reply, db)?;
        info.remove("update_seq").ok_or_else(|| corrupt(db))
    }
}

impl Reply {
    /// `error: reason` of a CouchDB error body, else the status alone.
    fn complaint(&self) -> String {
        let c = self.said();
        if c.error.is_empty() {
            self.status.to_string()
        } else {
            format!("{} {}: {}", self.status, c.error, c.reason)
        }
    }

    fn said(&self) -> Complaint {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }

    /// 409, or a revision the server could not read (CouchDB's 400 "Invalid rev format"): either
    /// way the revision named is not the document's current one.
    fn is_stale_revision(&self) -> bool {
        self.status == 409
            || (self.status == 400
                && self
                    .said()
                    .reason
                    .to_ascii_lowercase()
                    .contains("invalid rev"))
    }

    /// A 404 for the database rather than the document (deleted under the store's feet): a
    /// failure, not an absent document.
    fn is_missing_database(&self) -> bool {
        let c = self.said();
        self.status == 404 && (c.reason == "Database does not exist." || c.reason == "no_db_file")
    }
}

/// Takes `_id` and `_rev` out of a stored document: its revision and its own fields.
pub(super) fn strip(mut doc: Map<String, Value>) -> Option<(Rev, Map<String, Value>)> {
    doc.remove("_id");
    match doc.remove("_rev") {
        Some(Value::String(rev)) => Some((Rev(rev), doc)),
        _ => None,
    }
}

/// Installs ring's TLS primitives as the process's default unless the binary installed some first
/// (it should: see [`CouchConfig`]).
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err: another thread installed one meanwhile, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_keeps_slashes_and_everything_else_inside_it() {
        assert_eq!(segment("guest/pkg/a b"), "guest%2Fpkg%2Fa%20b");
        assert_eq!(segment("whisk_local_whisks"), "whisk_local_whisks");
        assert_eq!(segment("é?#%"), "%C3%A9%3F%23%25");
    }

    #[test]
    fn credentials_in_a_url_are_taken_out_of_it() {
        assert_eq!(
            split_credentials("https://admin:s%40cret@db.internal:6984/couch"),
            (
                "https://db.internal:6984/couch".to_string(),
                Some(("admin".to_string(), Some("s@cret".to_string())))
            )
        );
        assert_eq!(
            split_credentials("http://127.0.0.1:5984"),
            ("http://127.0.0.1:5984".to_string(), None)
        );
        assert_eq!(
            split_credentials("http://h/p@q"),
            ("http://h/p@q".to_string(), None)
        );
    }

    #[test]
    fn a_stored_document_gives_up_its_id_and_revision() {
        let doc = serde_json::json!({"_id": "a", "_rev": "1-x", "n": 1});
        let Value::Object(doc) = doc else { panic!() };
        let (rev, rest) = strip(doc).unwrap();
        assert_eq!(rev, Rev("1-x".into()));
        assert_eq!(Value::Object(rest), serde_json::json!({"n": 1}));
    }
}
