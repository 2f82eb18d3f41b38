//! The broker's share of an invoke: publish-to-deliver time of activation messages through
//! RabbitMQ, as a controller publishes them and an invoker receives them.
//!
//! Connects a [`RabbitQueue`] to the broker at the URL given as the first argument (else
//! `OWL_AMQP_URL`), subscribes to a fresh invoker queue (a unique name, deleted at the end), and
//! publishes N activation messages (default 2000, second argument) one at a time, each like the one
//! a controller sends for a blocking invoke. For each it measures:
//! - publish: `send_activation` alone, which returns once the broker confirmed the message
//!   (persistent, to a durable queue);
//! - publish-to-deliver: from just before `send_activation` to the message's arrival in the
//!   subscription (timed by the consuming task as it takes it, so independent of the confirm),
//!   acknowledging each as the invoker does.
//!
//! It prints p50/p99/max in ms and asserts nothing.
//!
//! Run: `cargo run --release -q -p owl-queue --example broker_latency -- amqp://guest:guest@127.0.0.1:5672/%2f [N]`

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lapin::options::QueueDeleteOptions;
use lapin::{Connection, ConnectionProperties};
use owl_entity::activation::ActivationId;
use owl_entity::identity::{AuthKey, GUEST_KEY};
use owl_entity::message::{ActivationMessage, Caller};
use owl_entity::name::{EntityName, FullyQualifiedName};
use owl_queue::Queue;
use owl_queue::rabbitmq::{RabbitConfig, RabbitQueue};
use serde_json::json;
use tokio::sync::mpsc;

/// Messages sent and received before measuring (connections, channels and the queue settle).
const WARMUP: usize = 100;
/// How long one message may take to arrive before the run gives up.
const DELIVERY_LIMIT: Duration = Duration::from_secs(10);
/// The prefetch of an invoker with the default 2048 MB of user memory (2048 / 128).
const PREFETCH: u16 = 16;

/// An activation message as a controller sends it for a blocking invoke of `guest/noop`.
fn activation(transid: String) -> ActivationMessage {
    let guest = EntityName::new("guest").expect("a valid name");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    ActivationMessage {
        transid,
        activation_id: ActivationId::generate(),
        action: FullyQualifiedName::parse_path("guest/noop", &guest).expect("a valid path"),
        revision: "1-967a00dff5e02add41819138abb3284d".into(),
        caller: Caller {
            subject: "guest".into(),
            namespace: guest,
            authkey: AuthKey::parse(GUEST_KEY).expect("the guest key"),
        },
        content: json!({"name": "world"}),
        init_args: vec![],
        blocking: true,
        reply_to: "controller0".into(),
        cause: None,
        binding: None,
        received: now,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(label: &str, mut xs: Vec<f64>) {
    xs.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{label:<20} p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms  (n={})",
        percentile(&xs, 50.0),
        percentile(&xs, 99.0),
        xs.last().copied().unwrap_or(f64::NAN),
        xs.len()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = match args.next() {
        Some(url) => url,
        None => std::env::var("OWL_AMQP_URL")
            .map_err(|_| "usage: broker_latency AMQP_URL [N] (or set OWL_AMQP_URL)")?,
    };
    let n: usize = match args.next() {
        Some(n) => n.parse()?,
        None => 2000,
    };

    let queue = RabbitQueue::connect(RabbitConfig::new(url.clone())).await?;
    let invoker = format!(
        "bench-broker-{}-{}",
        std::process::id(),
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos()
    );
    let mut subscription = queue.activations(&invoker, PREFETCH).await?;

    // The consumer: times each message as it takes it, acknowledges it, reports its transid.
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, Instant)>();
    let consumer = tokio::spawn(async move {
        while let Some(delivery) = subscription.next().await {
            let at = Instant::now();
            let message = delivery.ack();
            if tx.send((message.transid, at)).is_err() {
                break;
            }
        }
    });

    let size = serde_json::to_vec(&activation("bench-000000".into()))?.len();
    let mut publish = Vec::with_capacity(n);
    let mut deliver = Vec::with_capacity(n);
    let outcome: Result<(), Box<dyn std::error::Error>> = async {
        for i in 0..WARMUP + n {
            let transid = format!("bench-{i:06}");
            let message = activation(transid.clone());
            let t0 = Instant::now();
            queue.send_activation(&invoker, message).await?;
            let confirmed = t0.elapsed();
            let (got, at) = tokio::time::timeout(DELIVERY_LIMIT, rx.recv())
                .await
                .map_err(|_| format!("message {transid} not delivered within {DELIVERY_LIMIT:?}"))?
                .ok_or("the subscription ended")?;
            if got != transid {
                return Err(format!("expected {transid}, received {got}").into());
            }
            if i >= WARMUP {
                publish.push(confirmed.as_secs_f64() * 1000.0);
                deliver.push(at.duration_since(t0).as_secs_f64() * 1000.0);
            }
        }
        Ok(())
    }
    .await;

    queue.close().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), consumer).await;
    // The invoker queue is durable: delete it so the broker does not keep it.
    if let Ok(connection) = Connection::connect(&url, ConnectionProperties::default()).await {
        if let Ok(channel) = connection.create_channel().await {
            let name = format!("owl.invoker.{invoker}");
            let _ = channel
                .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        let _ = connection.close(200, "OK".into()).await;
    }
    outcome?;

    println!(
        "broker publish-to-deliver, {n} activation messages of {size} bytes one at a time ({WARMUP} warm-up not counted)"
    );
    report("publish (confirmed)", publish);
    report("publish-to-deliver", deliver);
    Ok(())
}
