//! The RabbitMQ queue against a real broker: the one at `OWL_TEST_AMQP_URL` (started by
//! `scripts/services/rabbitmq start DIR PORT`, as `scripts/test` does), and for the broker-restart
//! test a broker of its own, started and restarted through that script. Names are unique per test
//! and run, so the tests share one broker in parallel.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions, QueueDeleteOptions};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use owl_entity::activation::ActivationId;
use owl_entity::identity::{AuthKey, GUEST_KEY};
use owl_entity::message::{ActivationMessage, Caller, ControllerMessage, Heartbeat};
use owl_entity::name::{EntityName, FullyQualifiedName};
use owl_queue::rabbitmq::{RabbitConfig, RabbitQueue};
use owl_queue::{Delivery, Queue, QueueError, Subscription};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Helpers

/// Logs through the test harness when `RUST_LOG` asks for them (`RUST_LOG=owl_queue=debug`).
fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

fn broker_url() -> String {
    init_logs();
    std::env::var("OWL_TEST_AMQP_URL").unwrap_or_else(|_| {
        panic!(
            "OWL_TEST_AMQP_URL is not set: start a broker with `scripts/services/rabbitmq start DIR PORT` \
             and set OWL_TEST_AMQP_URL to the URL it prints (scripts/test does both)"
        )
    })
}

/// A name no other test or run uses.
fn unique(what: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "test-{what}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

async fn connect(url: &str) -> RabbitQueue {
    RabbitQueue::connect(RabbitConfig::new(url)).await.unwrap()
}

fn activation(transid: &str) -> ActivationMessage {
    let guest = EntityName::new("guest").unwrap();
    ActivationMessage {
        transid: transid.into(),
        activation_id: ActivationId::generate(),
        action: FullyQualifiedName::parse_path("guest/hello", &guest).unwrap(),
        revision: "1-abc".into(),
        caller: Caller {
            subject: "guest".into(),
            namespace: guest,
            authkey: AuthKey::parse(GUEST_KEY).unwrap(),
        },
        content: json!({"name": "world"}),
        init_args: vec![],
        blocking: false,
        reply_to: "controller0".into(),
        cause: None,
        binding: None,
        received: 1,
    }
}

fn completion(transid: &str) -> ControllerMessage {
    ControllerMessage::Completion {
        transid: transid.into(),
        activation_id: ActivationId::generate(),
        namespace: EntityName::new("guest").unwrap(),
        invoker: "invoker0".into(),
        released_mb: 256,
    }
}

fn beat(id: &str) -> Heartbeat {
    Heartbeat::Controller {
        id: id.into(),
        at: 1,
    }
}

fn transid(m: &ControllerMessage) -> &str {
    match m {
        ControllerMessage::Result { transid, .. }
        | ControllerMessage::Completion { transid, .. } => transid,
    }
}

async fn next_within<T>(
    sub: &mut Box<dyn Subscription<T>>,
    limit: Duration,
) -> Option<Delivery<T>> {
    tokio::time::timeout(limit, sub.next()).await.ok().flatten()
}

async fn next<T>(sub: &mut Box<dyn Subscription<T>>) -> Delivery<T> {
    next_within(sub, Duration::from_secs(10))
        .await
        .expect("a message within 10 s")
}

/// Deletes the test's durable queues, so the shared broker does not keep them.
async fn delete_queues(url: &str, names: &[String]) {
    let connection = Connection::connect(url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    for name in names {
        let _ = channel
            .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
    let _ = connection.close(200, "OK".into()).await;
}

// ---------------------------------------------------------------------------------------------
// Against the shared broker

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activations_reach_their_invoker_in_order_and_come_back_redelivered_when_dropped_unacknowledged()
 {
    let url = broker_url();
    let q = connect(&url).await;
    let invoker = unique("order");

    let mut sub = q.activations(&invoker, 10).await.unwrap();
    for i in 0..5 {
        q.send_activation(&invoker, activation(&format!("m{i}")))
            .await
            .unwrap();
    }
    let mut held = Vec::new();
    for i in 0..5 {
        let d = next(&mut sub).await;
        assert_eq!(d.message.transid, format!("m{i}"));
        assert!(!d.redelivered);
        if i < 2 {
            d.ack();
        } else {
            held.push(d);
        }
    }
    // The first two are acknowledged; the consumer goes away holding the other three.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(held);
    drop(sub);

    let mut again = q.activations(&invoker, 10).await.unwrap();
    for i in 2..5 {
        let d = next(&mut again).await;
        assert_eq!(d.message.transid, format!("m{i}"));
        assert!(d.redelivered, "m{i} comes back marked as redelivered");
        d.ack();
    }
    assert!(
        next_within(&mut again, Duration::from_millis(500))
            .await
            .is_none(),
        "acknowledged messages never come back"
    );

    q.close().await;
    delete_queues(&url, &[format!("owl.invoker.{invoker}")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consumers_of_one_invoker_queue_share_its_messages() {
    let url = broker_url();
    let q = Arc::new(connect(&url).await);
    let invoker = unique("share");
    let a = q.activations(&invoker, 1).await.unwrap();
    let b = q.activations(&invoker, 1).await.unwrap();
    for i in 0..20 {
        q.send_activation(&invoker, activation(&format!("m{i}")))
            .await
            .unwrap();
    }
    let take = |mut sub: Box<dyn Subscription<ActivationMessage>>| async move {
        let mut got = Vec::new();
        while let Some(d) = next_within(&mut sub, Duration::from_secs(2)).await {
            // Slow enough that the other consumer gets its turns.
            tokio::time::sleep(Duration::from_millis(10)).await;
            got.push(d.ack().transid);
        }
        got
    };
    let (got_a, got_b) = tokio::join!(tokio::spawn(take(a)), tokio::spawn(take(b)));
    let (got_a, got_b) = (got_a.unwrap(), got_b.unwrap());
    assert!(
        !got_a.is_empty() && !got_b.is_empty(),
        "{got_a:?} {got_b:?}"
    );
    let mut all: Vec<String> = got_a.into_iter().chain(got_b).collect();
    all.sort_by_key(|t| t[1..].parse::<u32>().unwrap());
    let expected: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    assert_eq!(all, expected, "each message reaches exactly one consumer");

    q.close().await;
    delete_queues(&url, &[format!("owl.invoker.{invoker}")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetch_bounds_the_unacknowledged_deliveries() {
    let url = broker_url();
    let q = connect(&url).await;
    let invoker = unique("prefetch");
    let mut sub = q.activations(&invoker, 2).await.unwrap();
    for i in 0..5 {
        q.send_activation(&invoker, activation(&format!("m{i}")))
            .await
            .unwrap();
    }
    let first = next(&mut sub).await;
    let second = next(&mut sub).await;
    assert!(
        next_within(&mut sub, Duration::from_millis(700))
            .await
            .is_none(),
        "a third delivery while two are unacknowledged"
    );
    assert_eq!(first.ack().transid, "m0");
    let third = next(&mut sub).await;
    assert_eq!(third.message.transid, "m2");
    assert_eq!(second.ack().transid, "m1");
    third.ack();
    for i in 3..5 {
        assert_eq!(next(&mut sub).await.ack().transid, format!("m{i}"));
    }

    q.close().await;
    delete_queues(&url, &[format!("owl.invoker.{invoker}")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_to_a_controller_queue_nobody_declared_is_no_consumer() {
    let url = broker_url();
    let q = connect(&url).await;
    let nobody = unique("nobody");
    assert_eq!(
        q.send_to_controller(&nobody, completion("t0")).await,
        Err(QueueError::NoConsumer(nobody.clone()))
    );

    // Once the controller consumes its queue, messages reach it; the connection is still good.
    let controller = unique("controller");
    let mut sub = q.controller_messages(&controller).await.unwrap();
    q.send_to_controller(&controller, completion("t1"))
        .await
        .unwrap();
    assert_eq!(transid(&next(&mut sub).await.ack()), "t1");
    assert_eq!(
        q.send_to_controller(&nobody, completion("t2")).await,
        Err(QueueError::NoConsumer(nobody.clone()))
    );

    q.close().await;
    delete_queues(&url, &[format!("owl.controller.{controller}")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_parse_goes_to_the_dead_letters_and_the_next_message_still_arrives() {
    let url = broker_url();
    let q = connect(&url).await;
    let invoker = unique("poison");
    let queue = format!("owl.invoker.{invoker}");
    let mut sub = q.activations(&invoker, 5).await.unwrap();

    let poison = format!("not an activation {invoker}");
    let connection = Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .basic_publish(
            "".into(),
            queue.as_str().into(),
            BasicPublishOptions::default(),
            poison.as_bytes(),
            BasicProperties::default(),
        )
        .await
        .unwrap();
    q.send_activation(&invoker, activation("good"))
        .await
        .unwrap();
    let d = next(&mut sub).await;
    assert_eq!(d.ack().transid, "good");

    // The poison waits in owl.dead-letters (shared by every test: look for ours, leave the rest).
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut found = false;
    'search: while Instant::now() < deadline {
        let looking = connection.create_channel().await.unwrap();
        for _ in 0..1000 {
            let Some(m) = looking
                .basic_get("owl.dead-letters".into(), BasicGetOptions::default())
                .await
                .unwrap()
            else {
                break;
            };
            if m.delivery.data == poison.as_bytes() {
                m.delivery
                    .acker
                    .ack(BasicAckOptions::default())
                    .await
                    .unwrap();
                found = true;
                let _ = looking.close(200, "OK".into()).await;
                break 'search;
            }
        }
        // Closing the channel puts back what it took unacknowledged.
        let _ = looking.close(200, "OK".into()).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(found, "the poison message is in owl.dead-letters");
    let _ = connection.close(200, "OK".into()).await;

    q.close().await;
    delete_queues(&url, &[queue]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_larger_than_the_limit_is_too_large_and_nothing_is_sent() {
    let url = broker_url();
    let q = RabbitQueue::connect(RabbitConfig {
        max_message_bytes: 2_000,
        ..RabbitConfig::new(url.clone())
    })
    .await
    .unwrap();
    let invoker = unique("large");
    let mut sub = q.activations(&invoker, 5).await.unwrap();

    let mut big = activation("big");
    big.content["blob"] = json!("x".repeat(5_000));
    match q.send_activation(&invoker, big).await {
        Err(QueueError::TooLarge { size, limit }) => {
            assert!(size > 5_000, "{size}");
            assert_eq!(limit, 2_000);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    q.send_activation(&invoker, activation("small"))
        .await
        .unwrap();
    assert_eq!(next(&mut sub).await.ack().transid, "small");
    assert!(
        next_within(&mut sub, Duration::from_millis(500))
            .await
            .is_none()
    );

    q.close().await;
    delete_queues(&url, &[format!("owl.invoker.{invoker}")]).await;
}

/// The next heartbeat of this test (other tests may beat on the same broker).
async fn next_beat_of(
    sub: &mut Box<dyn Subscription<Heartbeat>>,
    ids: &[String],
    limit: Duration,
) -> Option<String> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let d = tokio::time::timeout_at(deadline, sub.next())
            .await
            .ok()
            .flatten()?;
        let (Heartbeat::Controller { id, .. } | Heartbeat::Invoker { id, .. }) = d.ack();
        if ids.contains(&id) {
            return Some(id);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_reach_every_listener_and_stale_ones_are_never_read() {
    let url = broker_url();
    let q = connect(&url).await;
    let ids: Vec<String> = (0..4).map(|i| unique(&format!("beat{i}"))).collect();
    let mut a = q.heartbeats("a").await.unwrap();
    let mut b = q.heartbeats("b").await.unwrap();

    q.send_heartbeat(beat(&ids[0])).await.unwrap();
    let second = Duration::from_secs(5);
    assert_eq!(
        next_beat_of(&mut a, &ids, second).await,
        Some(ids[0].clone())
    );
    assert_eq!(
        next_beat_of(&mut b, &ids, second).await,
        Some(ids[0].clone())
    );

    // A listener that comes later hears the beats from then on, not the earlier ones.
    let mut late = q.heartbeats("late").await.unwrap();
    q.send_heartbeat(beat(&ids[1])).await.unwrap();
    assert_eq!(
        next_beat_of(&mut late, &ids, second).await,
        Some(ids[1].clone())
    );

    // A listener that reads too late skips the beats that went stale meanwhile.
    q.send_heartbeat(beat(&ids[2])).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    q.send_heartbeat(beat(&ids[3])).await.unwrap();
    // `a` holds the beats since ids[0] unread: ids[1] and ids[2] are stale by now.
    assert_eq!(
        next_beat_of(&mut a, &ids, second).await,
        Some(ids[3].clone())
    );
    assert_eq!(
        next_beat_of(&mut late, &ids, second).await,
        Some(ids[3].clone())
    );

    q.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_url_fails_fast_with_a_clear_error() {
    // Nothing listens on port 1 of loopback.
    let started = Instant::now();
    let result =
        RabbitQueue::connect(RabbitConfig::new("amqp://guest:s3cret@127.0.0.1:1/%2f")).await;
    let Err(QueueError::Backend(message)) = result else {
        panic!("expected a Backend error");
    };
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
    assert!(!message.contains('\n'), "{message}");

    let result = RabbitQueue::connect(RabbitConfig::new("rabbit://guest:s3cret@")).await;
    let Err(QueueError::Backend(message)) = result else {
        panic!("expected a Backend error");
    };
    assert!(!message.contains("s3cret"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_fail_fast_with_a_clear_error() {
    let url = broker_url();
    let wrong = url.replacen("guest:guest@", "guest:wr0ng@", 1);
    assert_ne!(wrong, url, "the test broker's URL holds guest:guest");
    let started = Instant::now();
    let Err(QueueError::Backend(message)) = RabbitQueue::connect(RabbitConfig::new(wrong)).await
    else {
        panic!("expected a Backend error");
    };
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(message.contains("127.0.0.1:"), "{message}");
    assert!(!message.contains("wr0ng"), "{message}");
    println!("{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_ends_the_subscriptions_and_refuses_publishes() {
    let url = broker_url();
    let q = connect(&url).await;
    let invoker = unique("close");
    let mut sub = q.activations(&invoker, 1).await.unwrap();
    let mut beats = q.heartbeats("closing").await.unwrap();
    let started = Instant::now();
    q.close().await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        next_within(&mut sub, Duration::from_secs(5))
            .await
            .is_none()
    );
    assert!(
        next_within(&mut beats, Duration::from_secs(5))
            .await
            .is_none()
    );
    assert!(matches!(
        q.send_activation(&invoker, activation("late")).await,
        Err(QueueError::Closed(_))
    ));

    // Dropping the queue ends its subscriptions too.
    let q = connect(&url).await;
    let mut sub = q.activations(&invoker, 1).await.unwrap();
    drop(q);
    assert!(
        next_within(&mut sub, Duration::from_secs(5))
            .await
            .is_none()
    );

    delete_queues(&url, &[format!("owl.invoker.{invoker}")]).await;
}

/// Prints the time of 1,000 round trips, one at a time and pipelined (not asserted: a measure).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measures_a_thousand_publish_consume_ack_round_trips() {
    let url = broker_url();
    let q = Arc::new(connect(&url).await);
    let invoker = unique("speed");
    let mut sub = q.activations(&invoker, 100).await.unwrap();

    let started = Instant::now();
    for i in 0..1_000 {
        q.send_activation(&invoker, activation(&format!("m{i}")))
            .await
            .unwrap();
        assert_eq!(next(&mut sub).await.ack().transid, format!("m{i}"));
    }
    let one_at_a_time = started.elapsed();

    let started = Instant::now();
    let publishes = (0..1_000).map(|i| {
        let q = q.clone();
        let invoker = invoker.clone();
        tokio::spawn(async move {
            q.send_activation(&invoker, activation(&format!("p{i}")))
                .await
        })
    });
    let consumed = async {
        for _ in 0..1_000 {
            next(&mut sub).await.ack();
        }
    };
    let (results, ()) = tokio::join!(join_all(publishes), consumed);
    for r in results {
        r.unwrap().unwrap();
    }
    let pipelined = started.elapsed();
    println!(
        "1,000 publish+consume+ack round trips: {one_at_a_time:?} one at a time, {pipelined:?} with concurrent publishes"
    );

    q.close().await;
    delete_queues(&url, &[format!("owl.invoker.{invoker}")]).await;
}

// ---------------------------------------------------------------------------------------------
// Against a broker of its own

/// A broker started through `scripts/services/rabbitmq` in a temporary directory, stopped on drop
/// (so also when the test fails).
struct Broker {
    script: PathBuf,
    dir: tempfile::TempDir,
    port: String,
    url: String,
}

impl Broker {
    fn script() -> PathBuf {
        std::env::var_os("OWL_TEST_RABBITMQ_SCRIPT")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/services/rabbitmq")
            })
    }

    /// A port whose Erlang companions (+10000, +20000, +30000) are free too.
    fn free_port() -> u16 {
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        let start = 20_000 + (std::process::id() % 5_000) as u16;
        (0..200)
            .map(|i| start + i * 7)
            .find(|&p| {
                p <= 35_000
                    && [p, p + 10_000, p + 20_000, p + 30_000]
                        .into_iter()
                        .all(free)
            })
            .expect("a free port for a broker")
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(&self.script)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.script.display()));
        assert!(
            out.status.success(),
            "{} {args:?} failed: {}{}",
            self.script.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn start() -> Broker {
        let mut broker = Broker {
            script: Broker::script(),
            dir: tempfile::tempdir().unwrap(),
            port: Broker::free_port().to_string(),
            url: String::new(),
        };
        let out = broker.run(&["start", &broker.dir(), &broker.port]);
        broker.url = out
            .lines()
            .find_map(|l| l.strip_prefix("OWL_AMQP_URL="))
            .expect("the script prints OWL_AMQP_URL")
            .to_string();
        broker
    }

    fn dir(&self) -> String {
        self.dir.path().to_str().unwrap().to_string()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = Command::new(&self.script)
            .args(["stop", &self.dir()])
            .output();
    }
}

/// Runs a script command without blocking the runtime's threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_resume_after_a_broker_restart_and_nothing_acknowledged_is_lost() {
    init_logs();
    let broker = Arc::new(blocking(Broker::start).await);
    let q = RabbitQueue::connect(RabbitConfig {
        publish_timeout: Duration::from_secs(60),
        ..RabbitConfig::new(broker.url.clone())
    })
    .await
    .unwrap();
    let invoker = unique("restart");
    let controller = unique("restart");
    let mut sub = q.activations(&invoker, 10).await.unwrap();
    let mut results = q.controller_messages(&controller).await.unwrap();
    let mut beats = q.heartbeats("restart").await.unwrap();
    // Another client of the same broker, which gives up on publishing after a second.
    let impatient = RabbitQueue::connect(RabbitConfig {
        publish_timeout: Duration::from_secs(1),
        ..RabbitConfig::new(broker.url.clone())
    })
    .await
    .unwrap();

    for i in 1..=3 {
        q.send_activation(&invoker, activation(&format!("m{i}")))
            .await
            .unwrap();
    }
    assert_eq!(next(&mut sub).await.ack().transid, "m1");
    let m2 = next(&mut sub).await;
    assert_eq!(m2.message.transid, "m2");
    tokio::time::sleep(Duration::from_millis(500)).await; // m1's acknowledgement reaches the broker

    let b = broker.clone();
    blocking(move || b.run(&["restart", &b.dir()])).await;

    // Published after the restart (waiting for the reconnection if need be).
    q.send_activation(&invoker, activation("m4")).await.unwrap();
    let mut seen = Vec::new();
    while !seen.iter().any(|(t, _)| t == "m4") {
        let d = next_within(&mut sub, Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("the subscription resumes; so far {seen:?}"));
        seen.push((d.message.transid.clone(), d.redelivered));
        d.ack();
    }
    assert_eq!(
        seen,
        vec![
            ("m2".to_string(), true),
            ("m3".to_string(), true),
            ("m4".to_string(), false)
        ],
        "m1 was acknowledged; m2 and m3 come back redelivered"
    );
    m2.ack(); // on the channel of the old connection: harmless

    q.send_to_controller(&controller, completion("c1"))
        .await
        .unwrap();
    let c = next_within(&mut results, Duration::from_secs(30))
        .await
        .expect("the controller's subscription resumes");
    assert_eq!(transid(&c.ack()), "c1");

    // The heartbeat listener has a new queue once its subscription resumed.
    let id = unique("restart-beat");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut heard = false;
    while !heard && Instant::now() < deadline {
        let _ = q.send_heartbeat(beat(&id)).await;
        heard = next_beat_of(
            &mut beats,
            std::slice::from_ref(&id),
            Duration::from_millis(500),
        )
        .await
        .is_some();
    }
    assert!(heard, "heartbeats are heard again after the restart");

    // A publish while the broker is down waits for it to come back.
    let b = broker.clone();
    blocking(move || b.run(&["stop", &b.dir()])).await;
    let q = Arc::new(q);
    let (q2, invoker2) = (q.clone(), invoker.clone());
    let waiting =
        tokio::spawn(async move { q2.send_activation(&invoker2, activation("m5")).await });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!waiting.is_finished(), "the publish waits for the broker");
    // Meanwhile a heartbeat fails at once, and a publish fails after its publish_timeout.
    let started = Instant::now();
    assert!(matches!(
        q.send_heartbeat(beat(&id)).await,
        Err(QueueError::Backend(_))
    ));
    assert!(started.elapsed() < Duration::from_millis(500));
    let started = Instant::now();
    match impatient
        .send_activation(&invoker, activation("never"))
        .await
    {
        Err(QueueError::Backend(message)) => {
            assert!(message.contains("unreachable"), "{message}");
            println!("{message}");
        }
        other => panic!("expected a Backend error, got {other:?}"),
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    impatient.close().await;
    let b = broker.clone();
    blocking(move || b.run(&["start", &b.dir(), &b.port])).await;
    waiting.await.unwrap().unwrap();
    let d = next_within(&mut sub, Duration::from_secs(30))
        .await
        .expect("m5 arrives");
    assert_eq!(d.ack().transid, "m5");

    q.close().await;
}
