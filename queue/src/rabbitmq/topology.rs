//! The names of Owl's exchanges and queues on the broker and how each is declared. Every declaration
//! is idempotent (the same arguments each time), so any process may make it at any time: on
//! connecting, on the first message to an invoker, on subscribing, and again after each reconnect.
//!
//! | name                  | kind                          | arguments                                   |
//! |-----------------------|-------------------------------|---------------------------------------------|
//! | `owl.invoker.<id>`    | durable queue                 | `x-dead-letter-exchange = owl.dead`         |
//! | `owl.controller.<id>` | durable queue                 | `x-expires = 60 s`                          |
//! | `owl.dead`            | durable fanout exchange       |                                             |
//! | `owl.dead-letters`    | durable queue bound to it     | `x-max-length = 10000`                      |
//! | `owl.heartbeats`      | durable fanout exchange       |                                             |
//! | (server-named)        | exclusive auto-delete queue per listener, bound to it | `x-message-ttl = 3 s` |

use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ExchangeKind};

/// Where activations wait for an invoker: it outlives the invoker and the broker's restarts, so an
/// invoker that restarts finds them, and a controller can take over the queue of one that is gone.
pub(super) fn invoker_queue(invoker: &str) -> String {
    format!("owl.invoker.{invoker}")
}

/// Where results and completions wait for a controller. Durable, so a broker restart keeps them,
/// but deleted by the broker once no controller has used it for [`CONTROLLER_QUEUE_EXPIRES`]: a
/// dead controller's queue disappears, and messages to it are refused as having no consumer.
pub(super) fn controller_queue(controller: &str) -> String {
    format!("owl.controller.{controller}")
}

pub(super) const CONTROLLER_QUEUE_EXPIRES: Duration = Duration::from_secs(60);

/// Messages an invoker queue rejects (a body that does not parse) go here through the fanout
/// exchange `owl.dead`, to be looked at by a person.
pub(super) const DEAD_LETTER_EXCHANGE: &str = "owl.dead";
pub(super) const DEAD_LETTER_QUEUE: &str = "owl.dead-letters";
/// The dead letters kept, oldest dropped first: nobody consumes that queue, so it must not grow
/// without bound.
const DEAD_LETTER_MAX: i64 = 10_000;

/// Every heartbeat goes to every listener's own queue.
pub(super) const HEARTBEAT_EXCHANGE: &str = "owl.heartbeats";

/// The heartbeat exchange of a scope (`owl.heartbeats`, or `owl.heartbeats.<scope>`).
pub(super) fn heartbeat_exchange(scope: &str) -> String {
    if scope.is_empty() {
        HEARTBEAT_EXCHANGE.to_string()
    } else {
        format!("{HEARTBEAT_EXCHANGE}.{scope}")
    }
}
/// How long a heartbeat waits in a listener's queue before the broker drops it: beats come about
/// once a second, so an older one says nothing the next does not.
pub(super) const HEARTBEAT_TTL: Duration = Duration::from_secs(3);

fn millis(d: Duration) -> AMQPValue {
    AMQPValue::LongLongInt(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    }
}

/// The exchanges and the dead-letter queue, declared once per connection on a channel of their own
/// (a declaration that fails closes its channel).
pub(super) async fn declare_common(connection: &Connection, heartbeats: &str) -> lapin::Result<()> {
    let channel = connection.create_channel().await?;
    let exchange = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    for name in [DEAD_LETTER_EXCHANGE, heartbeats] {
        channel
            .exchange_declare(
                name.into(),
                ExchangeKind::Fanout,
                exchange,
                FieldTable::default(),
            )
            .await?;
    }
    let mut args = FieldTable::default();
    args.insert(
        "x-max-length".into(),
        AMQPValue::LongLongInt(DEAD_LETTER_MAX),
    );
    channel
        .queue_declare(DEAD_LETTER_QUEUE.into(), durable(), args)
        .await?;
    channel
        .queue_bind(
            DEAD_LETTER_QUEUE.into(),
            DEAD_LETTER_EXCHANGE.into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    channel.close(200, "OK".into()).await
}

pub(super) async fn declare_invoker_queue(channel: &Channel, name: &str) -> lapin::Result<()> {
    let mut args = FieldTable::default();
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(DEAD_LETTER_EXCHANGE.into()),
    );
    channel.queue_declare(name.into(), durable(), args).await?;
    Ok(())
}

pub(super) async fn declare_controller_queue(channel: &Channel, name: &str) -> lapin::Result<()> {
    let mut args = FieldTable::default();
    args.insert("x-expires".into(), millis(CONTROLLER_QUEUE_EXPIRES));
    channel.queue_declare(name.into(), durable(), args).await?;
    Ok(())
}

/// A listener's own queue for heartbeats, bound to the exchange; gone with its connection.
pub(super) async fn declare_heartbeat_queue(
    channel: &Channel,
    heartbeats: &str,
) -> lapin::Result<String> {
    let mut args = FieldTable::default();
    args.insert("x-message-ttl".into(), millis(HEARTBEAT_TTL));
    let options = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    let queue = channel.queue_declare("".into(), options, args).await?;
    let name = queue.name().to_string();
    channel
        .queue_bind(
            name.as_str().into(),
            heartbeats.into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(name)
}
