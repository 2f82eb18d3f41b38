//! Containers through the Docker Engine API (bollard, over the local socket).
//!
//! Every container is created as OpenWhisk creates them: the action's memory as limit with no swap,
//! a pids limit, dropped `NET_RAW` and `NET_ADMIN`, no new privileges, a nofile ulimit, and labels
//! naming the invoker that owns it, so leftovers of a crash can be found and removed.
//!
//! The invoker reaches a container's port 8080 at its address on Docker's bridge network, as
//! OpenWhisk does ([`Reach::Bridge`]); where that address cannot be reached from the invoker (rootless
//! Docker, a Docker in a VM), the port is published on 127.0.0.1 instead ([`Reach::Published`]), at
//! the cost of Docker's port proxy on every request.
//!
//! A container's output is read from an attach made before it starts, not from Docker's log files:
//! its log driver is `none`, so the engine copies each line once instead of writing it to a JSON file
//! and reading it back (`docker logs` then has nothing to show for action containers). Each line is
//! stamped with the time it arrives.

use std::collections::HashMap;
use std::net::SocketAddr;

use bollard::models::{
    ContainerCreateBody, HostConfig, HostConfigLogConfig, PortBinding, ResourcesUlimits,
};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, ListContainersOptionsBuilder,
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

/// The first host address of an IPv4 subnet such as `172.17.0.0/16`.
fn first_host(subnet: &str) -> Option<std::net::IpAddr> {
    let (net, bits) = subnet.split_once('/')?;
    let net: std::net::Ipv4Addr = net.parse().ok()?;
    let bits: u32 = bits.parse().ok()?;
    if bits > 30 {
        return None;
    }
    let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
    Some(std::net::Ipv4Addr::from((u32::from(net) & mask) + 1).into())
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

/// How the invoker reaches a container's port 8080.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reach {
    /// At the container's address on Docker's bridge network.
    #[default]
    Bridge,
    /// At a port published on 127.0.0.1.
    Published,
}

#[derive(Clone)]
pub struct Docker {
    client: bollard::Docker,
    owner: String,
    reach: Reach,
    counter: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Docker {
    /// Connects to the local engine and agrees on an API version with it.
    pub async fn connect(owner: &str, reach: Reach) -> Result<Docker, DockerError> {
        let client = bollard::Docker::connect_with_local_defaults()
            .map_err(|e| DockerError(format!("cannot reach the Docker engine: {e}")))?
            .negotiate_version()
            .await
            .map_err(|e| DockerError(format!("cannot reach the Docker engine: {e}")))?;
        Ok(Docker {
            client,
            owner: owner.to_string(),
            reach,
            counter: Default::default(),
        })
    }

    /// A client of an engine that is not there: every call fails at once. For tests of what
    /// decides without calling the engine (the pool's choices).
    #[cfg(test)]
    pub fn unreachable() -> Docker {
        // A file that is not a socket: the client is made, and every connection refused.
        let path = std::env::temp_dir().join("owl-test-not-a-docker-socket");
        std::fs::write(&path, b"").expect("a file in the temporary directory");
        let client = bollard::Docker::connect_with_unix(
            path.to_str().expect("a UTF-8 path"),
            1,
            bollard::API_DEFAULT_VERSION,
        )
        .expect("a client is made without connecting");
        Docker {
            client,
            owner: "test".into(),
            reach: Reach::default(),
            counter: Default::default(),
        }
    }

    /// The address of the host on Docker's default `bridge` network (its gateway, such as
    /// 172.17.0.1): where containers reach services of this machine. The network's IPAM names it,
    /// or, when it does not (a default bridge made without `--bip`), Docker's default IPAM gave the
    /// gateway the first address of the subnet.
    pub async fn bridge_gateway(&self) -> Result<std::net::IpAddr, DockerError> {
        let net = self
            .client
            .inspect_network("bridge", None)
            .await
            .map_err(|e| DockerError(format!("cannot inspect Docker's bridge network: {e}")))?;
        let configs = net.ipam.and_then(|i| i.config).unwrap_or_default();
        configs
            .iter()
            .find_map(|c| c.gateway.as_deref()?.parse().ok())
            .or_else(|| {
                configs
                    .iter()
                    .find_map(|c| first_host(c.subnet.as_deref()?))
            })
            .ok_or_else(|| DockerError("Docker's bridge network names no IPv4 gateway".into()))
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

    /// Creates a container, attaches to its output and starts it.
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
            port_bindings: (self.reach == Reach::Published).then(|| {
                HashMap::from([(
                    "8080/tcp".to_string(),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".into()),
                        host_port: Some(String::new()),
                    }]),
                )])
            }),
            log_config: Some(HostConfigLogConfig {
                typ: Some("none".into()),
                config: None,
            }),
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
        let started = async {
            let logs = self.attach(&id).await?;
            self.client.start_container(&id, None).await.map_err(err)?;
            let addr = self.address(&id).await?;
            Ok(Started {
                id: id.clone(),
                addr,
                logs,
            })
        };
        let result = started.await;
        if result.is_err() {
            self.remove(&id).await;
        }
        result
    }

    async fn address(&self, id: &str) -> Result<SocketAddr, DockerError> {
        let info = self.client.inspect_container(id, None).await.map_err(err)?;
        let net = info.network_settings.unwrap_or_default();
        match self.reach {
            Reach::Bridge => net
                .networks
                .unwrap_or_default()
                .into_values()
                .find_map(|n| n.ip_address.filter(|ip| !ip.is_empty()))
                .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
                .map(|ip| SocketAddr::new(ip, 8080))
                .ok_or_else(|| DockerError("the container has no network address".into())),
            Reach::Published => net
                .ports
                .and_then(|p| p.get("8080/tcp").cloned().flatten())
                .and_then(|b| b.into_iter().find_map(|b| b.host_port))
                .and_then(|p| p.parse::<u16>().ok())
                .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
                .ok_or_else(|| DockerError("the container's port 8080 was not published".into())),
        }
    }

    /// The container's stdout and stderr, line by line, from before it starts.
    async fn attach(&self, id: &str) -> Result<mpsc::UnboundedReceiver<LogLine>, DockerError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let options = AttachContainerOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .stream(true)
            .build();
        let attached = self
            .client
            .attach_container(id, Some(options))
            .await
            .map_err(err)?;
        let mut stream = attached.output;
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
                    if tx.send(LogLine::now(&rest[..i], stderr)).is_err() {
                        return;
                    }
                    rest = &rest[i + 1..];
                }
                if !rest.is_empty() {
                    partial.insert(stderr, rest.to_string());
                }
            }
        });
        Ok(rx)
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

#[cfg(test)]
mod tests {
    use super::first_host;

    #[test]
    fn the_gateway_docker_picks_is_the_first_address_of_the_subnet() {
        assert_eq!(first_host("172.17.0.0/16"), Some([172, 17, 0, 1].into()));
        assert_eq!(first_host("10.1.2.128/25"), Some([10, 1, 2, 129].into()));
        assert_eq!(first_host("172.17.5.9/16"), Some([172, 17, 0, 1].into()));
        assert_eq!(first_host("fd00::/64"), None);
        assert_eq!(first_host("10.0.0.0/32"), None);
        assert_eq!(first_host("nonsense"), None);
    }
}
