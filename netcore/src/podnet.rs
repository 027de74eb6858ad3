//! A node's pod network, applied: the node bridge holding the gateway of the node's lease,
//! and each pod wired to it (a namespace, a veth pair created straight into it, the pod IP,
//! `lo` up, a default route via the gateway, hairpin on the bridge port). Every step is
//! idempotent, so applying a pod that is already wired changes nothing.

use std::net::Ipv4Addr;

use crate::link::Netlink;
use crate::netns::{self, Netns};
use crate::{sysctl, Result};

/// The name of the pod's end of its veth, inside the pod's namespace.
pub const POD_IFNAME: &str = "eth0";

/// The node side: its bridge and the gateway address of its pod subnet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeNetwork {
    pub bridge: String,
    pub gateway: Ipv4Addr,
    /// Prefix length of the node's pod subnet (24 for a /24 lease).
    pub prefix: u8,
}

/// One pod's wiring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodNetwork {
    pub netns: String,
    pub host_veth: String,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
}

/// Prepare the node: the bridge with the gateway address, up, and forwarding on (a new
/// namespace starts with `ip_forward=0`). Answers the bridge's index.
pub async fn prepare_node(node: &Netlink, node_ns: &Netns, net: &NodeNetwork) -> Result<u32> {
    let bridge = node.ensure_bridge(&net.bridge).await?;
    node.ensure_address(bridge, net.gateway, net.prefix).await?;
    sysctl::set(node_ns, "net.ipv4.ip_forward", "1")?;
    Ok(bridge)
}

/// Wire a pod to the node's bridge (creating its namespace if needed).
pub async fn attach_pod(node: &Netlink, bridge: u32, pod: &PodNetwork) -> Result<()> {
    netns::create(&pod.netns)?;
    let pod_ns = Netns::open(&pod.netns)?;
    let host = node.ensure_veth(&pod.host_veth, POD_IFNAME, &pod_ns).await?;
    node.attach_up(host, bridge, &pod.host_veth).await?;
    // Hairpin: a pod reaching a service address that is DNATed back to itself leaves and
    // re-enters through the same bridge port.
    node.set_hairpin(host, true, &pod.host_veth).await?;
    let inside = Netlink::open(&pod_ns)?;
    let lo = inside.index("lo").await?.unwrap_or(1);
    inside.set_up(lo, "lo").await?;
    let eth0 = inside.must_index(POD_IFNAME).await?;
    inside.ensure_address(eth0, pod.ip, pod.prefix).await?;
    inside.set_up(eth0, POD_IFNAME).await?;
    inside.ensure_route(Ipv4Addr::UNSPECIFIED, 0, Some(pod.gateway), None).await?;
    Ok(())
}

/// Unwire a pod: its veth (the pod end goes with it) and its namespace. Best effort: every
/// step is tried, the first error is returned, and what is already gone is fine.
pub async fn detach_pod(node: &Netlink, pod: &PodNetwork) -> Result<()> {
    let veth = node.delete(&pod.host_veth).await;
    let ns = netns::delete(&pod.netns);
    veth.and(ns)
}
