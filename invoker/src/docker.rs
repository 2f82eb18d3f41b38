//! Containers through the Docker Engine API (bollard, over the local socket).
//!
//! Every container is created as OpenWhisk creates them: the action's memory as limit with no swap,
//! a pids limit, dropped `NET_RAW` and `NET_ADMIN`, no new privileges, a nofile ulimit, and labels
//! naming the invoker that owns it, so leftovers of a crash can be found and removed. Its port 8080
//! is published on 127.0.0.1 only; the invoker talks to it there.

use std::collections::HashMap;
use std::net::SocketAddr;

use bollard::models::{ContainerCreateBody, HostConfig, PortBinding, ResourcesUlimits};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::logs::LogLine;

pub const OWNER_LABEL: &str = "owl.invoker";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DockerError(pub String);

fn err(e: impl std::fmt::Display) -> DockerError {
    DockerError(e.to_string())
}

/// What a container is made of.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub image: String,
    pub memory_mb: i64,
    /// A readable part of the name: the kind for a prewarm, the action otherwise.
    pub purpose: String,
    pub env: Vec<String>,
}

/// A started container: its id, where its proxy listens, and its log lines as they come.
#[derive(Debug)]
pub struct Started {
    pub id: String,
    pub addr: SocketAddr,
    pub logs: mpsc::UnboundedReceiver<LogLine>,
}

#[derive(Clone)]
pub struct Docker {
    client: bollard::Docker,
    owner: String,
    counter: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Docker {
    /// Connects to the local engine and agrees on an API version with it.
    pub async fn connect(owner: &str) -> Result<Docker, DockerError> {
        let client = bollard::Docker::connect_with_local_defaults()
            .map_err(|e| DockerError(format!("cannot reach the Docker engine: {e}")))?
            .negotiate_version()
            .await
            .map_err(|e| DockerError(format!("cannot reach the Docker engine: {e}")))?;
        Ok(Docker {
            client,
            owner: owner.to_string(),
            counter: Default::default(),
        })
    }

    /// Removes the containers this invoker owns: leftovers of a crash at start, everything at shutdown.
    pub async fn remove_leftovers(&self) -> Result<usize, DockerError> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{OWNER_LABEL}={}", self.owner)],
        )]);
        let list = self
            .client
            .list_containers(Some(
                ListContainersOptionsBuilder::new()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(err)?;
        let ids: Vec<String> = list.into_iter().filter_map(|c| c.id).collect();
        futures_util::future::join_all(ids.iter().map(|id| self.remove(id))).await;
        Ok(ids.len())
    }

    /// Creates and starts a container, and starts following its logs.
    pub async fn start(&self, spec: &ContainerSpec) -> Result<Started, DockerError> {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let clean: String = spec
            .purpose
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let name = format!("owl_{}_{n}_{clean}", self.owner);
        let memory = spec.memory_mb * 1024 * 1024;
        let host = HostConfig {
            memory: Some(memory),
            memory_swap: Some(memory),
            pids_limit: Some(1024),
            cap_drop: Some(vec!["NET_RAW".into(), "NET_ADMIN".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            ulimits: Some(vec![ResourcesUlimits {
                name: Some("nofile".into()),
                soft: Some(1024),
                hard: Some(1024),
            }]),
            port_bindings: Some(HashMap::from([(
                "8080/tcp".to_string(),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: Some(String::new()),
                }]),
            )])),
            extra_hosts: Some(vec!["host.docker.internal:host-gateway".into()]),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            env: Some(spec.env.clone()),
            labels: Some(HashMap::from([(
                OWNER_LABEL.to_string(),
                self.owner.clone(),
            )])),
            exposed_ports: Some(vec!["8080/tcp".into()]),
            host_config: Some(host),
            ..Default::default()
        };
        let created = self
            .client
            .create_container(
                Some(CreateContainerOptionsBuilder::new().name(&name).build()),
                body,
            )
            .await
            .map_err(err)?;
        let id = created.id;
        if let Err(e) = self.client.start_container(&id, None).await {
            self.remove(&id).await;
            return Err(err(e));
        }
        let addr = match self.published_port(&id).await {
            Ok(a) => a,
            Err(e) => {
                self.remove(&id).await;
                return Err(e);
            }
        };
        let logs = self.follow_logs(&id);
        Ok(Started { id, addr, logs })
    }

    async fn published_port(&self, id: &str) -> Result<SocketAddr, DockerError> {
        let info = self.client.inspect_container(id, None).await.map_err(err)?;
        let port = info
            .network_settings
            .and_then(|n| n.ports)
            .and_then(|p| p.get("8080/tcp").cloned().flatten())
            .and_then(|b| b.into_iter().find_map(|b| b.host_port))
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(|| DockerError("the container's port 8080 was not published".into()))?;
        Ok(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    fn follow_logs(&self, id: &str) -> mpsc::UnboundedReceiver<LogLine> {
        let (tx, rx) = mpsc::unbounded_channel();
        let options = LogsOptionsBuilder::new()
            .follow(true)
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .build();
        let mut stream = self.client.logs(id, Some(options));
        tokio::spawn(async move {
            let mut partial: HashMap<bool, String> = HashMap::new();
            while let Some(Ok(out)) = stream.next().await {
                let (stderr, bytes) = match out {
                    bollard::container::LogOutput::StdErr { message } => (true, message),
                    bollard::container::LogOutput::StdOut { message } => (false, message),
                    _ => continue,
                };
                let text =
                    partial.remove(&stderr).unwrap_or_default() + &String::from_utf8_lossy(&bytes);
                let mut rest = text.as_str();
                while let Some(i) = rest.find('\n') {
                    if tx.send(LogLine::parse(&rest[..i], stderr)).is_err() {
                        return;
                    }
                    rest = &rest[i + 1..];
                }
                if !rest.is_empty() {
                    partial.insert(stderr, rest.to_string());
                }
            }
        });
        rx
    }

    pub async fn pause(&self, id: &str) -> Result<(), DockerError> {
        self.client.pause_container(id).await.map_err(err)
    }

    pub async fn unpause(&self, id: &str) -> Result<(), DockerError> {
        self.client.unpause_container(id).await.map_err(err)
    }

    /// Was the container killed for exceeding its memory?
    pub async fn oom_killed(&self, id: &str) -> bool {
        match self.client.inspect_container(id, None).await {
            Ok(info) => info.state.and_then(|s| s.oom_killed).unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Removes a container, running or not; failures are logged, not returned (it may be gone).
    pub async fn remove(&self, id: &str) {
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        if let Err(e) = self.client.remove_container(id, Some(options)).await {
            tracing::debug!(container = id, error = %e, "removing a container");
        }
    }
}
