//! What the CouchDB store promises beyond the contract: it says when the server is unreachable, slow
//! or failing; other processes' changes reach its change token (and so the cache) within a second;
//! its documents keep upstream's layout.
//!
//! `OWL_TEST_COUCH_URL` names the server (`scripts/services/couch/run start DIR PORT` starts one;
//! `scripts/test` does). The fake servers here listen on 127.0.0.1 only.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use owl_entity::activation::{Activation, ActivationId, ActivationResponse, StatusCode};
use owl_entity::entity::Entity;
use owl_entity::exec::Exec;
use owl_entity::identity::{AuthKey, NamespaceKey, NamespaceLimits, Subject};
use owl_entity::limits::{ActionLimits, LimitBounds};
use owl_entity::name::{EntityName, EntityPath};
use owl_entity::params::Params;
use owl_entity::semver::SemVer;
use owl_store::{ActivationQuery, CachedStore, CouchConfig, CouchStore, Store, StoreError};
use serde_json::{Value, json};

/// How long another process's change may take to reach a store's change token.
const WITHIN: Duration = Duration::from_secs(1);

fn server_url() -> String {
    std::env::var("OWL_TEST_COUCH_URL").unwrap_or_else(|_| {
        panic!(
            "the CouchDB tests need a CouchDB-compatible server: start one with \
             scripts/services/couch/run start DIR PORT and set OWL_TEST_COUCH_URL \
             (scripts/test does)"
        )
    })
}

/// A configuration of databases no other test uses, deleted when dropped.
struct Databases(CouchConfig);

impl Databases {
    fn new() -> Databases {
        Databases::at(&server_url())
    }

    fn at(url: &str) -> Databases {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        Databases(CouchConfig {
            db_prefix: format!("c{}_{n}_", std::process::id()),
            ..CouchConfig::new(url)
        })
    }

    async fn store(&self) -> CouchStore {
        CouchStore::connect(self.0.clone()).await.unwrap()
    }
}

impl Drop for Databases {
    fn drop(&mut self) {
        let config = CouchConfig::new(server_url());
        let config = CouchConfig {
            db_prefix: self.0.db_prefix.clone(),
            ..config
        };
        // On a runtime of its own: a drop cannot wait.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(CouchStore::delete_databases(&config))
        })
        .join();
    }
}

fn name(s: &str) -> EntityName {
    EntityName::new(s).unwrap()
}

fn action(ns: &str, n: &str, updated: i64) -> Entity {
    Entity::Action(owl_entity::action::Action {
        namespace: EntityPath::parse(ns).unwrap(),
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

fn subject(s: &str, ns: &str) -> (Subject, AuthKey) {
    let k = AuthKey::generate();
    let subject = Subject {
        subject: s.into(),
        namespaces: vec![NamespaceKey {
            name: name(ns),
            uuid: k.uuid.clone(),
            key: k.key.clone(),
        }],
        blocked: false,
    };
    (subject, k)
}

fn record(ns: &str, n: &str, start: i64, annotations: Value) -> Activation {
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
            result: Some(json!({"ok": true})),
            size: None,
        },
        logs: vec![],
        annotations: serde_json::from_value(annotations).unwrap(),
        publish: false,
        cause: None,
    }
}

/// Waits, at most [`WITHIN`], for `done` to hold; tells whether it did.
async fn eventually<F: std::future::Future<Output = bool>>(mut done: impl FnMut() -> F) -> bool {
    let deadline = Instant::now() + WITHIN;
    loop {
        if done().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads the first request on `conn` (up to its blank line), at most a second.
fn read_request(conn: &mut TcpStream) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(1)));
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// A server on 127.0.0.1 that answers every request with `answer`, or never answers at all.
fn fake_server(answer: Option<String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // The thread waits for connections until the test process ends.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            match &answer {
                Some(a) => {
                    read_request(&mut conn);
                    let _ = conn.write_all(a.as_bytes());
                }
                None => held.push(conn),
            }
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// A TCP relay on 127.0.0.1 to the test server, which can be cut: an outage on demand.
struct Relay {
    url: String,
    port: u16,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start() -> Relay {
        let upstream = server_url();
        let upstream = upstream
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::<TcpStream>::new()));
        let (c, o) = (cut.clone(), open.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if c.load(Ordering::SeqCst) {
                    // Dropping the listener: connections are refused from now on.
                    return;
                }
                let Ok(client) = conn else { continue };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let mut kept = o.lock().unwrap();
                kept.push(client.try_clone().unwrap());
                kept.push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Relay {
            url: format!("http://127.0.0.1:{port}"),
            port,
            cut,
            open,
        }
    }

    /// Closes every relayed connection and refuses new ones.
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for c in self.open.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        // Wakes the listener, which sees the cut and closes.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// GET of a path of the test server, as JSON (HTTP/1.0: the answer ends with the connection).
fn raw_get(path: &str) -> Value {
    let url = server_url();
    let authority = url.trim_start_matches("http://").split('/').next().unwrap();
    let mut conn = TcpStream::connect(authority).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        conn,
        "GET {path} HTTP/1.0\r\nHost: {authority}\r\nAccept: application/json\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    let (_, body) = answer.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap()
}

#[tokio::test]
async fn connecting_to_a_server_that_is_not_there_is_unavailable_at_once() {
    // A port that was just free: nothing listens on it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let began = Instant::now();
    let Err(StoreError::Unavailable(message)) = CouchStore::connect(CouchConfig::new(&url)).await
    else {
        panic!("a refused connection must be Unavailable");
    };
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
    assert!(message.contains(&url), "{message}");
    assert!(!message.contains('\n'), "{message}");
}

#[tokio::test]
async fn a_server_that_does_not_answer_within_the_request_timeout_is_unavailable() {
    let url = fake_server(None);
    let config = CouchConfig {
        request_timeout: Duration::from_millis(300),
        ..CouchConfig::new(&url)
    };
    let began = Instant::now();
    let Err(StoreError::Unavailable(message)) = CouchStore::connect(config).await else {
        panic!("a server that never answers must be Unavailable");
    };
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
    assert!(
        message.contains(&url) && message.contains("300ms"),
        "{message}"
    );
}

#[tokio::test]
async fn a_server_that_answers_with_errors_is_unavailable() {
    let body = json!({"error": "unavailable", "reason": "maintenance"}).to_string();
    let url = fake_server(Some(format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )));
    let Err(StoreError::Unavailable(message)) = CouchStore::connect(CouchConfig::new(&url)).await
    else {
        panic!("a 503 must be Unavailable");
    };
    assert!(message.contains("503"), "{message}");
}

#[tokio::test]
async fn a_server_that_refuses_the_credentials_is_unavailable_at_connect() {
    let body = json!({"error": "unauthorized", "reason": "Name or password is incorrect."});
    let body = body.to_string();
    let url = fake_server(Some(format!(
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )));
    let config = CouchConfig {
        user: Some("admin".into()),
        password: Some("wrong".into()),
        ..CouchConfig::new(&url)
    };
    let Err(StoreError::Unavailable(message)) = CouchStore::connect(config).await else {
        panic!("refused credentials must be Unavailable at connect");
    };
    assert!(
        message.contains(&url) && message.contains("credentials"),
        "{message}"
    );
    assert!(!message.contains("wrong"), "{message}");
}

#[tokio::test]
async fn a_url_that_is_not_http_is_refused_without_a_panic() {
    for url in [
        "ftp://127.0.0.1:1",
        "http://",
        "127.0.0.1:5984",
        "mailto:x@y",
    ] {
        assert!(
            matches!(
                CouchStore::connect(CouchConfig::new(url)).await,
                Err(StoreError::Backend(_))
            ),
            "{url}"
        );
    }
}

#[tokio::test]
async fn a_change_made_through_another_store_changes_the_token_within_a_second() {
    let dbs = Databases::new();
    let here = dbs.store().await;
    let there = dbs.store().await;
    let mut seen = here.change_token();
    // An entity, a subject, a key blocked, namespace limits: each moves the token.
    there.put_entity(&action("ns", "a", 1), None).await.unwrap();
    assert!(
        eventually(|| async { here.change_token() != seen }).await,
        "an entity"
    );
    seen = here.change_token();
    let (mut alice, _) = subject("alice", "ns");
    let rev = there.put_subject(&alice, None).await.unwrap();
    assert!(
        eventually(|| async { here.change_token() != seen }).await,
        "a subject"
    );
    seen = here.change_token();
    alice.blocked = true;
    there.put_subject(&alice, Some(&rev)).await.unwrap();
    assert!(
        eventually(|| async { here.change_token() != seen }).await,
        "a block"
    );
    seen = here.change_token();
    let limits = NamespaceLimits {
        concurrent_invocations: Some(3),
        ..Default::default()
    };
    there.put_limits(&name("ns"), Some(&limits)).await.unwrap();
    assert!(
        eventually(|| async { here.change_token() != seen }).await,
        "limits"
    );
}

#[tokio::test]
async fn a_subject_blocked_through_one_store_loses_its_key_through_a_cache_over_another_within_a_second()
 {
    let dbs = Databases::new();
    let cached = CachedStore::wrap(Arc::new(dbs.store().await));
    let admin = dbs.store().await;
    let (mut alice, key) = subject("alice", "alice-ns");
    let rev = admin.put_subject(&alice, None).await.unwrap();
    // Read twice: the second answer comes from the cache.
    for _ in 0..2 {
        assert!(cached.identity_for_key(&key).await.unwrap().is_some());
    }
    alice.blocked = true;
    admin.put_subject(&alice, Some(&rev)).await.unwrap();
    assert!(
        eventually(|| async { cached.identity_for_key(&key).await.unwrap().is_none() }).await,
        "the blocked key still opened its namespace after a second"
    );
}

#[tokio::test]
async fn an_outage_after_connect_makes_reads_and_writes_unavailable_and_empties_the_cache() {
    let relay = Relay::start();
    let dbs = Databases::at(&relay.url);
    let config = CouchConfig {
        request_timeout: Duration::from_secs(2),
        ..dbs.0.clone()
    };
    let cached = CachedStore::wrap(Arc::new(CouchStore::connect(config).await.unwrap()));
    let (alice, key) = subject("alice", "alice-ns");
    cached.put_subject(&alice, None).await.unwrap();
    assert!(cached.identity_for_key(&key).await.unwrap().is_some());
    relay.cut();
    // Within a second the cache stops answering for a server it cannot reach.
    assert!(
        eventually(|| async {
            matches!(
                cached.identity_for_key(&key).await,
                Err(StoreError::Unavailable(_))
            )
        })
        .await,
        "the cache went on answering while the server was gone"
    );
    assert!(matches!(
        cached.put_entity(&action("alice-ns", "a", 1), None).await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn documents_keep_upstreams_layout() {
    let dbs = Databases::new();
    let s = dbs.store().await;
    let p = &dbs.0.db_prefix;
    s.put_entity(&action("guest/pkg", "hello", 7), None)
        .await
        .unwrap();
    let doc = raw_get(&format!("/{p}whisks/guest%2Fpkg%2Fhello"));
    assert_eq!(doc["_id"], "guest/pkg/hello");
    assert_eq!(doc["entityType"], "action");
    assert_eq!(
        (&doc["namespace"], &doc["name"], &doc["updated"]),
        (&json!("guest/pkg"), &json!("hello"), &json!(7))
    );
    assert_eq!(doc["exec"]["kind"], "nodejs:20");

    let (alice, _) = subject("alice", "alice-ns");
    s.put_subject(&alice, None).await.unwrap();
    let doc = raw_get(&format!("/{p}subjects/alice"));
    assert_eq!(doc["subject"], "alice");
    assert_eq!(doc["blocked"], false);
    assert_eq!(
        doc["namespaces"],
        json!([{"name": "alice-ns", "uuid": alice.namespaces[0].uuid, "key": alice.namespaces[0].key}])
    );
    let limits = NamespaceLimits {
        invocations_per_minute: Some(7),
        ..Default::default()
    };
    s.put_limits(&name("alice-ns"), Some(&limits))
        .await
        .unwrap();
    let doc = raw_get(&format!("/{p}subjects/alice-ns%2Flimits"));
    assert_eq!(doc["invocationsPerMinute"], 7);

    let a = record(
        "guest",
        "hello",
        5,
        json!([{"key": "path", "value": "guest/hello"}]),
    );
    s.put_activation(&a).await.unwrap();
    let doc = raw_get(&format!("/{p}activations/guest%2F{}", a.activation_id));
    assert_eq!(doc["activationId"], a.activation_id.as_str());
    assert_eq!(
        (&doc["namespace"], &doc["start"]),
        (&json!("guest"), &json!(5))
    );
    assert_eq!(doc["response"]["statusCode"], 0);
}

#[tokio::test]
async fn the_name_filter_finds_records_as_filter_name_names_them() {
    let dbs = Databases::new();
    let s = dbs.store().await;
    let records = [
        record(
            "guest",
            "a",
            1,
            json!([{"key": "path", "value": "guest/a"}]),
        ),
        record(
            "guest",
            "b",
            2,
            json!([{"key": "path", "value": "guest/pkg/b"}]),
        ),
        record(
            "guest",
            "c",
            3,
            json!([{"key": "path", "value": "whisk.system/alarms/c"}, {"key": "binding", "value": "guest/mine"}]),
        ),
        record(
            "guest",
            "d",
            4,
            json!([{"key": "binding", "value": 7}, {"key": "path", "value": "guest/pkg/d"}]),
        ),
        record("guest", "e", 5, json!([])),
        record(
            "guest",
            "f",
            6,
            json!([{"key": "binding", "value": "guest"}]),
        ),
    ];
    for a in &records {
        s.put_activation(a).await.unwrap();
    }
    for a in &records {
        let q = ActivationQuery {
            namespace: Some(name("guest")),
            name: Some(a.filter_name()),
            ..Default::default()
        };
        let found = s.list_activations(&q).await.unwrap();
        assert_eq!(found, vec![a.clone()], "{}", a.filter_name());
        assert_eq!(s.count_activations(&q).await.unwrap(), 1);
    }
}

#[tokio::test]
async fn a_database_deleted_under_the_store_is_a_failure_not_an_absent_document() {
    let dbs = Databases::new();
    let s = dbs.store().await;
    CouchStore::delete_databases(&dbs.0).await.unwrap();
    assert!(matches!(
        s.get_entity("guest/a").await,
        Err(StoreError::Backend(_))
    ));
    assert!(matches!(
        s.get_subject("guest").await,
        Err(StoreError::Backend(_))
    ));
}
