//! The node: register, renew the lease by heartbeat, prepare the pod bridge, then follow
//! the pods bound here (a full list, then watch) and hand each to its worker.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use ipnetwork::Ipv4Network;
use netcore::backend::{self, Backend, HostGw, Remote, Vxlan};
use netcore::link::Netlink;
use netcore::model::NodeNetwork;
use netcore::netns::Netns;
use netcore::podnet;
use openapi::client::{Client, ListParams};
use openapi::{
    DaemonEndpoint, Heartbeat, Node, NodeAddress, NodeDaemonEndpoints, NodeLease, NodeStatus, ObjectMeta, Pod, PodPhase,
};
use tokio::sync::mpsc;

use crate::backoff::Backoff;
use crate::drift::{Drift, DriftReceiver};
use crate::kernel::NetcorePodNet;
use crate::pods::{self, NodeContext, PodMsg, PodWorker, Wiring};
use crate::reflector::{ApiSource, Event, Reflector};
use crate::runtime::ShimRuntime;

/// What one agent needs to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// The API server's URL, or several servers' separated by commas (the client fails over
    /// between them).
    pub server: String,
    /// The cluster's CA (PEM), pinned for the server's certificate (`None`: plain http://).
    pub ca_pem: Option<Vec<u8>>,
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
    /// Where to serve pod logs to the API server ([`crate::logs`]).
    pub daemon_listen: std::net::SocketAddr,
    /// The upstream resolvers of the node's DNS server ([`crate::dns`]); empty: none.
    pub dns_upstreams: Vec<std::net::SocketAddr>,
    /// The node's resolv.conf, which pods with `dnsPolicy: Default` get.
    pub node_resolv_conf: String,
}

async fn register(client: &Client, cfg: &Config, agent_endpoint: DaemonEndpoint) -> Result<()> {
    let status = NodeStatus {
        addresses: vec![
            NodeAddress { address_type: "InternalIP".into(), address: cfg.node_ip.to_string() },
            NodeAddress { address_type: "Hostname".into(), address: cfg.node_name.clone() },
        ],
        daemon_endpoints: Some(NodeDaemonEndpoints { agent_endpoint }),
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
            existing.status.daemon_endpoints = status.daemon_endpoints;
            client.nodes().replace_status(&existing).await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

async fn heartbeat_until_ok(client: &Client, node: &str, heartbeat: &Heartbeat) -> NodeLease {
    loop {
        match client.heartbeat(node, heartbeat).await {
            Ok(lease) => return lease,
            Err(e) => {
                tracing::warn!(error = %e, "heartbeat failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Run the agent until the process ends.
#[tracing::instrument(name = "agent", skip_all, fields(node = %cfg.node_name))]
pub async fn run(cfg: Config) -> Result<()> {
    let token = Some(cfg.token.clone());
    let client = match &cfg.ca_pem {
        Some(ca) => Client::with_ca(&cfg.server, token, ca)?,
        None => Client::new(&cfg.server, token)?,
    };
    let node_ns = match &cfg.netns {
        Some(name) => Netns::open(name)?,
        None => Netns::current()?,
    };
    let node_nl = Netlink::open(&node_ns)?;
    let sockets = netcore::netns::SocketMaker::new(&node_ns)?;
    let cluster = loop {
        match client.cluster_config().await {
            Ok(c) => break c,
            Err(e) => {
                tracing::warn!(error = %e, server = %cfg.server, "API server not reachable yet");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let agent_endpoint = crate::logs::start(cfg.daemon_listen, cfg.node_ip, &cfg.token, cfg.data_dir.clone()).await?;
    register(&client, &cfg, agent_endpoint).await.context("register the node")?;
    let lease = heartbeat_until_ok(&client, &cfg.node_name, &Heartbeat::default()).await;
    let subnet: Ipv4Network = lease.spec.pod_cidr.parse().context("lease podCIDR")?;
    let gateway: Ipv4Addr = lease.spec.gateway.parse().context("lease gateway")?;
    tracing::info!(cidr = %subnet, "node registered, lease held");

    // The backend: prepared once, its data published with every heartbeat.
    let cluster_cidr: Ipv4Network = cluster.pod_cidr.parse().context("cluster podCIDR")?;
    let backend: Arc<dyn Backend> = match cluster.backend {
        openapi::Backend::HostGw => Arc::new(HostGw { cluster: cluster_cidr, own: subnet }),
        openapi::Backend::Vxlan => Arc::new(Vxlan::new(cluster_cidr, subnet, cfg.node_ip)),
    };
    let backend_data = backend.prepare(&node_nl).await.context("prepare the node's backend")?;
    let heartbeat = Heartbeat { backend_data };
    heartbeat_until_ok(&client, &cfg.node_name, &heartbeat).await;
    tracing::info!(backend = cluster.backend.as_str(), "backend ready");

    let interval = Duration::from_secs(cluster.lease_ttl_seconds.max(3) / 3);
    let hb_client = client.clone();
    let hb_node = cfg.node_name.clone();
    let renew = async move {
        loop {
            tokio::time::sleep(interval).await;
            match hb_client.heartbeat(&hb_node, &heartbeat).await {
                Ok(lease) if lease.spec.pod_cidr != subnet.to_string() => {
                    tracing::error!(old = %subnet, new = %lease.spec.pod_cidr, "the node's lease changed CIDR; restart the agent")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
            }
        }
    };
    tokio::spawn(tracing::Instrument::in_current_span(renew));

    // The service proxy: cluster IPs, NodePorts and egress NAT in the node's nftables
    // table. Its full resync (drift repair) is rarer than the pods' (it rewrites every map).
    // Drift notices (crate::drift): what is deleted under the agent in its namespace is
    // repaired by its owner within milliseconds; the periodic resyncs stay as the safety net.
    let notifier = match crate::drift::Notifier::start(&node_ns) {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "kernel notifications unavailable; drift waits for the resyncs");
            None
        }
    };
    let subscribe = || notifier.as_ref().map(crate::drift::Notifier::subscribe);
    tokio::spawn(crate::services::run(
        client.clone(),
        cfg.node_name.clone(),
        cfg.netns.clone(),
        cluster.clone(),
        cfg.resync * 10,
        subscribe(),
    ));

    // Network policies: the policy part of the same table. Its full resync rewrites only
    // the policies' chains and sets (a few per distinct rule body), so it can be frequent: a
    // wiped table is an open door.
    // `policy.resync_now` is the enforcer's "re-apply everything now", which drift notices
    // touching the policies' chains and sets ring.
    let policy = crate::policy::Shared::default();
    tokio::spawn(crate::policy::run(
        client.clone(),
        cfg.node_name.clone(),
        cfg.netns.clone(),
        cfg.resync,
        policy.clone(),
    ));
    tokio::spawn(crate::policy::repair_on_drift(subscribe(), policy.resync_now.clone()));

    // The cluster DNS: this node answers its own pods.
    let dns_ns = match &cfg.netns {
        Some(name) => Netns::open(name)?,
        None => Netns::current()?,
    };
    let dns = crate::dns::run(client.clone(), dns_ns, node_nl.clone(), cluster.clone(), cfg.dns_upstreams.clone());
    tokio::spawn(tracing::Instrument::in_current_span(async move {
        if let Err(e) = dns.await {
            tracing::error!(error = format!("{e:#}"), "the cluster DNS server stopped");
        }
    }));

    tokio::spawn(follow_leases(
        client.clone(),
        node_nl.clone(),
        backend.clone(),
        cfg.node_name.clone(),
        cfg.resync,
        subscribe(),
    ));

    let net = NodeNetwork { bridge: netcore::names::NODE_BRIDGE.into(), gateway, prefix: subnet.prefix() };
    let bridge = podnet::prepare_node(&node_nl, &node_ns, &net).await.context("prepare the node's pod bridge")?;
    let repair_ns = match &cfg.netns {
        Some(name) => Netns::open(name)?,
        None => Netns::current()?,
    };
    tokio::spawn(repair_node(node_nl.clone(), repair_ns, net.clone(), bridge, subscribe()));
    let shim_exe = std::env::current_exe().context("find the agent's own binary for the shim")?;
    std::fs::create_dir_all(&cfg.data_dir)?;
    let ctx = Arc::new(NodeContext {
        client: client.clone(),
        node_name: cfg.node_name.clone(),
        net: Arc::new(NetcorePodNet { node: node_nl, bridge }),
        runtime: Arc::new(ShimRuntime),
        sockets,
        wiring: Wiring { gateway, prefix: subnet.prefix(), mtu: backend.pod_mtu() },
        data_dir: cfg.data_dir.clone(),
        shim_exe,
        backoff_base: cfg.backoff_base,
        dns: Some(crate::dns_pod::NodeDns {
            address: cluster.cluster_dns.parse().context("the cluster configuration's clusterDNS")?,
            domain: cluster.cluster_domain.clone(),
            node_resolv_conf: cfg.node_resolv_conf.clone(),
        }),
    });
    follow_pods(ctx, &cfg, subscribe()).await
}

/// Put the node's own wiring (the pod bridge, up, with its gateway address and its
/// subnet's route; forwarding) back when a drift notice says an address, the bridge or
/// that route went.
#[tracing::instrument(name = "node", skip_all)]
async fn repair_node(nl: Netlink, ns: Netns, net: NodeNetwork, bridge: u32, mut drift: Option<DriftReceiver>) {
    loop {
        let d = crate::drift::next(&mut drift).await;
        let wanted = match &*d {
            Drift::Routing(r) => {
                r.addresses || r.lost || r.links.contains(&net.bridge) || r.routes.contains(&net.subnet().to_string())
            }
            Drift::Lost => true,
            Drift::Table(_) => false,
        };
        if !wanted {
            continue;
        }
        // Tried again with back-off (a netlink dump can be refused while another runs), up
        // to ~10 s; after that the next notice or restart tries again.
        let mut retry = Backoff::new(Duration::from_millis(10), Duration::from_secs(5));
        loop {
            match podnet::prepare_node(&nl, &ns, &net).await {
                // A bridge made again has lost its ports and has a new index the pods' wiring
                // does not know: only a restarted agent rewires every pod onto it.
                Ok(index) if index != bridge => {
                    tracing::error!(bridge = %net.bridge, "the pod bridge was deleted and made again; restart the agent");
                    break;
                }
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "repairing the node's pod bridge failed");
                    if retry.failures() >= 9 {
                        break;
                    }
                    tokio::time::sleep(retry.next_delay()).await;
                }
            }
        }
    }
}

/// The other nodes as the backend needs them, from their leases.
fn remotes(leases: &HashMap<String, NodeLease>, me: &str) -> Vec<Remote> {
    let mut out: Vec<Remote> = leases
        .values()
        .filter(|l| l.spec.node_name != me)
        .filter_map(|l| {
            Some(Remote {
                node: l.spec.node_name.clone(),
                subnet: l.spec.pod_cidr.parse().ok()?,
                node_ip: l.spec.node_ip.as_deref()?.parse().ok()?,
                vtep_mac: l.spec.backend_data.get(backend::VTEP_MAC_KEY).and_then(|m| netcore::model::parse_mac(m)),
            })
        })
        .collect();
    out.sort_by(|a, b| a.node.cmp(&b.node));
    out
}

/// Follow every node's lease and keep the backend's routes equal to them: after each
/// change, after each relist, when routes or links were deleted under the agent (a drift
/// notice), and every `resync` as the safety net.
#[tracing::instrument(name = "leases", skip_all)]
async fn follow_leases(
    client: Client,
    nl: Netlink,
    backend: Arc<dyn Backend>,
    me: String,
    resync: Duration,
    mut drift: Option<DriftReceiver>,
) {
    let mut leases = Reflector::new(ApiSource { api: client.node_leases(), params: ListParams::default() });
    let mut known: Option<HashMap<String, NodeLease>> = None;
    let mut last: Option<Vec<Remote>> = None;
    let mut ticker = tokio::time::interval(resync);
    // A failed sync is tried again after `wait` (none: the last one succeeded).
    let mut retry = Backoff::new(Duration::from_millis(50), Duration::from_secs(5));
    let mut wait: Option<Duration> = None;
    loop {
        // Nothing is synced before a complete list has been seen.
        if let Some(known) = &known {
            let wanted = remotes(known, &me);
            // Sync when the remotes changed; a relist or the ticker forces a sync.
            if last.as_ref() != Some(&wanted) {
                match backend.sync(&nl, &wanted).await {
                    Ok(report) => {
                        if !report.is_empty() {
                            tracing::info!(added = ?report.added, removed = ?report.removed, "routes to other nodes synced")
                        }
                        last = Some(wanted);
                        retry.reset();
                        wait = None;
                    }
                    // Tried again soon (doubling up to 5 s), not only at the next resync.
                    Err(e) => {
                        tracing::warn!(error = %e, "syncing routes to other nodes failed");
                        wait = Some(retry.next_delay());
                    }
                }
            }
        }
        tokio::select! {
            event = leases.next() => match event {
                Event::Listed(items) => {
                    known = Some(items.into_iter().map(|l| (l.metadata.name.clone(), l)).collect());
                    last = None;
                }
                Event::Applied(l) => {
                    known.get_or_insert_with(HashMap::new).insert(l.metadata.name.clone(), l);
                }
                Event::Deleted(l) => {
                    known.get_or_insert_with(HashMap::new).remove(&l.metadata.name);
                }
            },
            _ = ticker.tick() => last = None,
            _ = tokio::time::sleep(wait.unwrap_or_default()), if wait.is_some() => {}
            d = crate::drift::next(&mut drift) => {
                if matches!(*d, Drift::Routing(_) | Drift::Lost) {
                    last = None;
                }
            }
        }
    }
}

fn is_finished(pod: &Pod) -> bool {
    matches!(pod.status.phase, PodPhase::Failed) && pod.status.pod_ip.is_none()
}

/// Follow the pods bound to this node; dispatch to workers; resync periodically and on
/// drift notices.
#[tracing::instrument(name = "pods", skip_all)]
async fn follow_pods(ctx: Arc<NodeContext>, cfg: &Config, mut drift: Option<DriftReceiver>) -> Result<()> {
    let params = ListParams::default().fields(&format!("spec.nodeName={}", cfg.node_name));
    let mut pods = Reflector::new(ApiSource { api: ctx.client.api::<Pod>(None), params });
    let mut workers: HashMap<String, mpsc::Sender<PodMsg>> = HashMap::new();
    let mut resync = tokio::time::interval(cfg.resync);
    resync.tick().await;
    loop {
        tokio::select! {
            event = pods.next() => match event {
                // Level-triggered: nothing is applied before a complete list has been seen.
                Event::Listed(items) => on_list(&ctx, &mut workers, items).await,
                Event::Applied(pod) => {
                    let Some(uid) = pod.metadata.uid.clone() else { continue };
                    if is_finished(&pod) {
                        if let Some(tx) = workers.remove(&uid) {
                            let _ = tx.send(PodMsg::Delete).await;
                        }
                    } else {
                        dispatch(&ctx, &mut workers, uid, pod).await;
                    }
                }
                Event::Deleted(pod) => {
                    if let Some(tx) = pod.metadata.uid.and_then(|u| workers.remove(&u)) {
                        let _ = tx.send(PodMsg::Delete).await;
                    }
                }
            },
            _ = resync.tick() => {
                for tx in workers.values() {
                    let _ = tx.send(PodMsg::Resync).await;
                }
            }
            // Deleted under the agent: a pod's veth makes that pod check its wiring now; an
            // address or a route (or lost notices), every pod. The veths of pods the agent
            // removed itself are nobody's.
            d = crate::drift::next(&mut drift) => {
                let all = match &*d {
                    Drift::Routing(r) => r.lost || r.addresses || !r.routes.is_empty(),
                    Drift::Lost => true,
                    Drift::Table(_) => false,
                };
                for (uid, tx) in &workers {
                    let veth_gone = matches!(&*d, Drift::Routing(r) if r.links.contains(&netcore::names::pod_veth(uid)));
                    if all || veth_gone {
                        let _ = tx.send(PodMsg::Resync).await;
                    }
                }
            }
        }
    }
}

/// A complete list of the pods bound here: stop the workers of pods that are gone, undo
/// what is left of pods an earlier agent ran, and hand every live pod to its worker.
async fn on_list(ctx: &Arc<NodeContext>, workers: &mut HashMap<String, mpsc::Sender<PodMsg>>, items: Vec<Pod>) {
    let live: HashMap<String, Pod> =
        items.into_iter().filter(|p| !is_finished(p)).filter_map(|p| p.metadata.uid.clone().map(|u| (u, p))).collect();
    for (uid, tx) in std::mem::take(workers) {
        if live.contains_key(&uid) {
            workers.insert(uid, tx);
        } else {
            let _ = tx.send(PodMsg::Delete).await;
        }
    }
    let keep: HashSet<String> = live.keys().cloned().collect();
    pods::collect_orphans(&ctx.data_dir, &*ctx.net, &*ctx.runtime, ctx.wiring, &keep).await;
    // Veths that outlived their pod (a process held its namespace when it was deleted).
    let veths: HashSet<String> = keep.iter().map(|uid| netcore::names::pod_veth(uid)).collect();
    match ctx.net.sweep_veths(&veths).await {
        Ok(swept) if !swept.is_empty() => tracing::info!(?swept, "removed veths of pods that are gone"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = format!("{e:#}"), "sweeping stale veths failed"),
    }
    for (uid, pod) in live {
        dispatch(ctx, workers, uid, pod).await;
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
