//! The connection to the broker, and what keeps it: a [`Link`] is one AMQP connection with the
//! state that belongs to it (idle publishing channels, the invoker queues declared on it); the
//! supervisor task watches it and, when it drops, opens the next one with exponential backoff,
//! forever, until the queue is closed. Publishers and subscriptions read the current link from a
//! watch channel and wait there while it is down.
//!
//! We reconnect ourselves rather than through lapin's auto-recovery: every link is a fresh
//! connection with fresh channels, so a delivery tag from before a reconnect can never acknowledge
//! a different message after it (its channel is simply gone), and retries never stop.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::uri::AMQPUri;
use lapin::{Channel, Connection, ConnectionProperties, Event};
use tokio::sync::{Semaphore, watch};

use super::RabbitConfig;
use super::topology;
use crate::QueueError;

/// The first pause between two attempts to connect; it doubles up to [`MAX_BACKOFF`].
pub(super) const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the supervisor looks at the connection's state besides listening to its events (a
/// connection the broker closes cleanly can end without an error event).
const WATCH_INTERVAL: Duration = Duration::from_millis(250);
/// Publishing channels open at once on one connection; more concurrent publishes wait for one.
pub(super) const MAX_PUBLISH_CHANNELS: usize = 64;

/// One AMQP connection and what belongs to it.
pub(super) struct Link {
    /// 1 for the first connection, one more for each reconnect.
    pub generation: u64,
    pub connection: Connection,
    /// Publishing channels (in confirm mode) not in use.
    pub idle: Mutex<Vec<Channel>>,
    pub permits: Semaphore,
    /// The invoker queues declared on this connection.
    pub declared: Mutex<HashSet<String>>,
    /// The heartbeat exchange of the queue's scope.
    pub heartbeats: String,
}

impl Link {
    pub fn connected(&self) -> bool {
        self.connection.status().connected()
    }

    /// Resolves once the connection is gone, with the reason.
    async fn lost(&self) -> String {
        let mut events = Box::pin(self.connection.events_listener());
        let mut tick = tokio::time::interval(WATCH_INTERVAL);
        let mut last_error = None;
        loop {
            tokio::select! {
                event = events.next() => match event {
                    // A channel's error is reported here too: only the connection's state tells.
                    Some(Event::Error(e)) => last_error = Some(e.to_string()),
                    // A resource alarm (memory, disk): publishes wait, up to their timeout.
                    Some(Event::ConnectionBlocked(reason)) => tracing::warn!(%reason, "RabbitMQ blocks publishing"),
                    Some(Event::ConnectionUnblocked) => tracing::info!("RabbitMQ takes publishes again"),
                    Some(_) => {}
                    None => return "the connection ended".into(),
                },
                _ = tick.tick() => {}
            }
            if !self.connected() {
                return last_error.unwrap_or_else(|| "the connection closed".into());
            }
        }
    }
}

#[derive(Clone)]
pub(super) enum State {
    Up(Arc<Link>),
    Down,
    Closed,
}

/// What the queue, its supervisor and its subscriptions share.
pub(super) struct Shared {
    pub config: RabbitConfig,
    uri: AMQPUri,
    /// `host:port`, for messages (never the URL: it holds the password).
    pub endpoint: String,
    state: watch::Sender<State>,
    shutdown: watch::Sender<bool>,
}

impl Shared {
    /// Connects once (no retry: a wrong URL fails at once) and starts the supervisor.
    pub async fn connect(
        config: RabbitConfig,
    ) -> Result<(Arc<Shared>, tokio::task::JoinHandle<()>), QueueError> {
        let uri = parse_url(&config.url)?;
        let endpoint = format!("{}:{}", uri.authority.host, uri.authority.port);
        let shared = Arc::new(Shared {
            config,
            uri,
            endpoint,
            state: watch::channel(State::Down).0,
            shutdown: watch::channel(false).0,
        });
        let link = shared.open_link(1).await.map_err(|e| {
            QueueError::Backend(format!(
                "cannot connect to RabbitMQ at {}: {e}",
                shared.endpoint
            ))
        })?;
        shared.state.send_replace(State::Up(link.clone()));
        let supervisor = tokio::spawn(supervise(shared.clone(), link));
        Ok((shared, supervisor))
    }

    async fn open_link(&self, generation: u64) -> Result<Arc<Link>, String> {
        let properties = ConnectionProperties::default().with_connection_name("owl".into());
        let connection = tokio::time::timeout(
            self.config.publish_timeout,
            Connection::connect_uri(self.uri.clone(), properties),
        )
        .await
        .map_err(|_| format!("no answer within {:?}", self.config.publish_timeout))?
        .map_err(|e| e.to_string())?;
        let heartbeats = topology::heartbeat_exchange(&self.config.scope);
        topology::declare_common(&connection, &heartbeats)
            .await
            .map_err(|e| format!("declaring the exchanges: {e}"))?;
        Ok(Arc::new(Link {
            generation,
            connection,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(MAX_PUBLISH_CHANNELS),
            declared: Mutex::new(HashSet::new()),
            heartbeats,
        }))
    }

    pub fn state(&self) -> State {
        self.state.borrow().clone()
    }

    /// The link in use, if the connection is up.
    pub fn current(&self) -> Option<Arc<Link>> {
        match &*self.state.borrow() {
            State::Up(link) => Some(link.clone()),
            _ => None,
        }
    }

    /// A link newer than `newer_than` (0: any), waiting while the connection is down; `None` once
    /// the queue is closed.
    pub async fn link(&self, newer_than: u64) -> Option<Arc<Link>> {
        if self.is_closed() {
            return None;
        }
        let mut rx = self.state.subscribe();
        let state = rx
            .wait_for(|s| match s {
                State::Up(link) => link.generation > newer_than,
                State::Down => false,
                State::Closed => true,
            })
            .await
            .ok()?
            .clone();
        match state {
            State::Up(link) => Some(link),
            _ => None,
        }
    }

    pub fn is_closed(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Asks the supervisor and every subscription to stop.
    pub fn close(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

/// Resolves once the queue is closing.
pub(super) async fn stopped(signal: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: closing too.
    let _ = signal.wait_for(|closing| *closing).await;
}

async fn supervise(shared: Arc<Shared>, mut link: Arc<Link>) {
    let mut shutdown = shared.shutdown_signal();
    'watching: loop {
        tokio::select! {
            _ = stopped(&mut shutdown) => break 'watching,
            why = link.lost() => tracing::warn!(
                broker = %shared.endpoint, error = %why, "lost the connection to RabbitMQ; reconnecting"
            ),
        }
        shared.state.send_replace(State::Down);
        let generation = link.generation + 1;
        let mut delay = INITIAL_BACKOFF;
        let mut attempts = 0u64;
        link = loop {
            attempts += 1;
            let attempt = tokio::select! {
                _ = stopped(&mut shutdown) => break 'watching,
                attempt = shared.open_link(generation) => attempt,
            };
            match attempt {
                Ok(next) => break next,
                Err(e) => {
                    // Once a minute or so at warn while the outage lasts, else at debug.
                    if attempts % 12 == 1 && attempts > 1 {
                        tracing::warn!(broker = %shared.endpoint, error = %e, attempts, "RabbitMQ is still unreachable");
                    } else {
                        tracing::debug!(broker = %shared.endpoint, error = %e, attempts, "reconnecting to RabbitMQ failed");
                    }
                }
            }
            tokio::select! {
                _ = stopped(&mut shutdown) => break 'watching,
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(MAX_BACKOFF);
        };
        tracing::info!(broker = %shared.endpoint, attempts, "reconnected to RabbitMQ");
        shared.state.send_replace(State::Up(link.clone()));
    }
    shared.state.send_replace(State::Closed);
}

/// Parses the URL into lapin's form; errors never repeat the URL (it may hold a password).
fn parse_url(url: &str) -> Result<AMQPUri, QueueError> {
    url.parse::<AMQPUri>().map_err(|e| {
        let leaks =
            e.contains(url) || password(url).is_some_and(|p| !p.is_empty() && e.contains(p));
        let why = if leaks {
            "not an AMQP URL".to_string()
        } else {
            e
        };
        QueueError::Backend(format!(
            "invalid RabbitMQ URL {} ({why}); expected amqp://user:password@host:port/vhost",
            redact(url)
        ))
    })
}

/// Where the password is in the URL: the byte range of `password` in `scheme://user:password@...`.
fn password_range(url: &str) -> Option<std::ops::Range<usize>> {
    let start = url.find("://")? + 3;
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let at = start + url[start..end].rfind('@')?;
    let colon = start + url[start..at].find(':')?;
    Some(colon + 1..at)
}

fn password(url: &str) -> Option<&str> {
    password_range(url).map(|r| &url[r])
}

/// The URL with its password replaced by `***`.
pub(super) fn redact(url: &str) -> String {
    if !url.contains("://") {
        return "(not a URL)".into();
    }
    match password_range(url) {
        Some(r) => format!("{}***{}", &url[..r.start], &url[r.end..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_redacted_of_its_password() {
        assert_eq!(
            redact("amqp://guest:s3cret@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(redact("amqp://host"), "amqp://host");
        assert_eq!(redact("amqps://u@host/v"), "amqps://u@host/v");
    }

    #[test]
    fn an_ip_address_is_kept_as_the_host() {
        let uri = parse_url("amqp://guest:guest@127.0.0.1:5699/%2f").unwrap();
        assert_eq!(uri.authority.host, "127.0.0.1");
        assert_eq!(uri.authority.port, 5699);
        assert_eq!(uri.vhost, "/");
    }

    #[test]
    fn an_invalid_url_is_refused_without_its_password() {
        let e = parse_url("http//guest:s3cret@host").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let e = parse_url("amqp://guest:s3cret@host:notaport/").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }
}
