//! The node: register, renew the lease by heartbeat, prepare the pod bridge, then follow
//! the pods bound here (a full list, then watch) and hand each to its worker.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt;
use ipnetwork::Ipv4Network;
use netcore::link::Netlink;
use netcore::netns::Netns;
use netcore::podnet::{self, NodeNetwork};
use openapi::client::{Client, ListParams, WatchEvent};
use openapi::{Heartbeat, Node, NodeAddress, NodeLease, NodeStatus, ObjectMeta, Pod, PodPhase};
use tokio::sync::mpsc;

use crate::pods::{self, NodeContext, PodMsg, PodWorker};

/// What one agent needs to run.
#[derive(Clone, Debug)]
pub struct Config {
    pub server: String,
    pub token: String,
    pub node_name: String,
    /// The node's namespace (`None`: the agent's own, as for a node in a container).
    pub netns: Option<String>,
    /// The node's underlay address, published as its `InternalIP`.
    pub node_ip: Ipv4Addr,
    pub data_dir: PathBuf,
    /// How often every pod is fully reconciled again (drift repair).
    pub resync: Duration,
    pub backoff_base: Duration,
}

async fn register(client: &Client, cfg: &Config) -> Result<()> {
    let status = NodeStatus {
        addresses: vec![
            NodeAddress { address_type: "InternalIP".into(), address: cfg.node_ip.to_string() },
            NodeAddress { address_type: "Hostname".into(), address: cfg.node_name.clone() },
        ],
        ..Default::default()
    };
    let node = Node {
        metadata: ObjectMeta { name: cfg.node_name.clone(), ..Default::default() },
        status: status.clone(),
        ..Default::default()
    };
    match client.nodes().create(&node).await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some(409) => {
            let mut existing = client.nodes().get(&cfg.node_name).await?;
            existing.metadata.resource_version = None;
            existing.status.addresses = status.addresses;
            client.nodes().replace_status(&existing).await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

async fn heartbeat_until_ok(client: &Client, node: &str) -> NodeLease {
    loop {
        match client.heartbeat(node, &Heartbeat::default()).await {
            Ok(lease) => return lease,
            Err(e) => {
                tracing::warn!(error = %e, "heartbeat failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Run the agent until the process ends.
pub async fn run(cfg: Config) -> Result<()> {
    let client = Client::new(&cfg.server, Some(cfg.token.clone()))?;
    let node_ns = match &cfg.netns {
        Some(name) => Netns::open(name)?,
        None => Netns::current()?,
    };
    let node_nl = Netlink::open(&node_ns)?;
    let node_ns = Arc::new(node_ns);
    let cluster = loop {
        match client.cluster_config().await {
            Ok(c) => break c,
            Err(e) => {
                tracing::warn!(error = %e, server = %cfg.server, "API server not reachable yet");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    register(&client, &cfg).await.context("register the node")?;
    let lease = heartbeat_until_ok(&client, &cfg.node_name).await;
    let subnet: Ipv4Network = lease.spec.pod_cidr.parse().context("lease podCIDR")?;
    let gateway: Ipv4Addr = lease.spec.gateway.parse().context("lease gateway")?;
    tracing::info!(cidr = %subnet, "node registered, lease held");

    let interval = Duration::from_secs(cluster.lease_ttl_seconds.max(3) / 3);
    let hb_client = client.clone();
    let hb_node = cfg.node_name.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            match hb_client.heartbeat(&hb_node, &Heartbeat::default()).await {
                Ok(lease) if lease.spec.pod_cidr != subnet.to_string() => {
                    tracing::error!(old = %subnet, new = %lease.spec.pod_cidr, "the node's lease changed CIDR; restart the agent")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
            }
        }
    });

    let net = NodeNetwork { bridge: netcore::names::NODE_BRIDGE.into(), gateway, prefix: subnet.prefix() };
    let bridge = podnet::prepare_node(&node_nl, &node_ns, &net).await.context("prepare the node's pod bridge")?;
    let shim_exe = std::env::current_exe().context("find the agent's own binary for the shim")?;
    std::fs::create_dir_all(&cfg.data_dir)?;
    let ctx = Arc::new(NodeContext {
        client: client.clone(),
        node_name: cfg.node_name.clone(),
        node: node_nl,
        node_ns: node_ns.clone(),
        bridge,
        gateway,
        prefix: subnet.prefix(),
        data_dir: cfg.data_dir.clone(),
        shim_exe,
        backoff_base: cfg.backoff_base,
    });
    follow_pods(ctx, &cfg).await
}

fn is_finished(pod: &Pod) -> bool {
    matches!(pod.status.phase, PodPhase::Failed) && pod.status.pod_ip.is_none()
}

/// List, then watch, the pods bound to this node; dispatch to workers; resync periodically.
async fn follow_pods(ctx: Arc<NodeContext>, cfg: &Config) -> Result<()> {
    let params = ListParams::default().fields(&format!("spec.nodeName={}", cfg.node_name));
    let api = ctx.client.api::<Pod>(None);
    let mut workers: HashMap<String, mpsc::Sender<PodMsg>> = HashMap::new();
    let mut resync = tokio::time::interval(cfg.resync);
    resync.tick().await;
    loop {
        // Level-triggered: nothing is applied before a complete list has been seen.
        let list = loop {
            match api.list(&params).await {
                Ok(l) => break l,
                Err(e) => {
                    tracing::warn!(error = %e, "listing pods failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        let live: HashMap<String, Pod> = list
            .items
            .into_iter()
            .filter(|p| !is_finished(p))
            .filter_map(|p| p.metadata.uid.clone().map(|u| (u, p)))
            .collect();
        for (uid, tx) in std::mem::take(&mut workers) {
            if live.contains_key(&uid) {
                workers.insert(uid, tx);
            } else {
                let _ = tx.send(PodMsg::Delete).await;
            }
        }
        let keep: HashSet<String> = live.keys().cloned().collect();
        pods::collect_orphans(&ctx, &keep).await;
        for (uid, pod) in live {
            dispatch(&ctx, &mut workers, uid, pod).await;
        }
        let mut events = api.watch(&params, &list.metadata.resource_version);
        loop {
            tokio::select! {
                event = events.next() => match event {
                    Some(Ok(WatchEvent::Added(pod) | WatchEvent::Modified(pod))) => {
                        let Some(uid) = pod.metadata.uid.clone() else { continue };
                        if is_finished(&pod) {
                            if let Some(tx) = workers.remove(&uid) {
                                let _ = tx.send(PodMsg::Delete).await;
                            }
                        } else {
                            dispatch(&ctx, &mut workers, uid, pod).await;
                        }
                    }
                    Some(Ok(WatchEvent::Deleted(pod))) => {
                        if let Some(tx) = pod.metadata.uid.and_then(|u| workers.remove(&u)) {
                            let _ = tx.send(PodMsg::Delete).await;
                        }
                    }
                    Some(Err(e)) => {
                        tracing::info!(error = %e, "pod watch ended; listing again");
                        break;
                    }
                    None => break,
                },
                _ = resync.tick() => {
                    for tx in workers.values() {
                        let _ = tx.send(PodMsg::Resync).await;
                    }
                }
            }
        }
    }
}

async fn dispatch(ctx: &Arc<NodeContext>, workers: &mut HashMap<String, mpsc::Sender<PodMsg>>, uid: String, pod: Pod) {
    match workers.get(&uid) {
        Some(tx) => {
            let _ = tx.send(PodMsg::Update(Box::new(pod))).await;
        }
        None => {
            workers.insert(uid, PodWorker::spawn(ctx.clone(), pod));
        }
    }
}
