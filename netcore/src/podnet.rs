//! A node's pod network, observed and applied: the node bridge holding the gateway of the
//! node's lease, and each pod wired to it (a namespace, a veth pair created straight into
//! it, the pod IP, `lo` up, a default route via the gateway, hairpin on the bridge port).
//!
//! `observe_*` read the kernel, [`crate::plan`] decides the steps, `apply_*` run them.
//! Every step is idempotent too, so a new pod is wired by applying its full plan without
//! reading anything first (the hot path), and a resync repairs exactly what drifted.

use crate::link::Netlink;
use crate::netns::{self, Netns};
use crate::plan::{self, NodeStep, ObservedNode, ObservedPod, PodStep};
use crate::{sysctl, Result};

use crate::model::{NodeNetwork, PodNetwork};

/// The name of the pod's end of its veth, inside the pod's namespace.
pub const POD_IFNAME: &str = "eth0";

pub async fn observe_node(node: &Netlink, node_ns: &Netns, net: &NodeNetwork) -> Result<ObservedNode> {
    let bridge = node.observe(&net.bridge).await?;
    let subnet_route = match &bridge {
        Some(b) => {
            let subnet = net.subnet();
            node.routes().await?.iter().any(|r| r.dst == subnet && r.gateway.is_none() && r.oif == Some(b.index))
        }
        None => false,
    };
    Ok(ObservedNode { bridge, forwarding: sysctl::get(node_ns, "net.ipv4.ip_forward")? == "1", subnet_route })
}

pub async fn apply_node(node: &Netlink, node_ns: &Netns, net: &NodeNetwork, steps: &[NodeStep]) -> Result<()> {
    for step in steps {
        match step {
            NodeStep::CreateBridge | NodeStep::BridgeUp => {
                // A fixed MAC: otherwise the bridge takes its lowest port's, and changes it
                // (under the pods' caches of their gateway) when that pod goes.
                node.ensure_bridge_with(&net.bridge, Some(&crate::model::mac_of(net.gateway))).await?;
            }
            NodeStep::AddBridgeAddress => {
                let index = node.must_index(&net.bridge).await?;
                node.ensure_address(index, net.gateway, net.prefix).await?;
            }
            NodeStep::AddSubnetRoute => {
                let index = node.must_index(&net.bridge).await?;
                let subnet = net.subnet();
                node.ensure_route(subnet.network(), subnet.prefix(), None, Some(index)).await?;
            }
            // A new namespace starts with forwarding off; the node routes for its pods.
            NodeStep::EnableForwarding => sysctl::set(node_ns, "net.ipv4.ip_forward", "1")?,
        }
    }
    Ok(())
}

/// Bring the node's side to its plan; answers the bridge's index.
pub async fn prepare_node(node: &Netlink, node_ns: &Netns, net: &NodeNetwork) -> Result<u32> {
    let steps = plan::plan_node(net, &observe_node(node, node_ns, net).await?);
    apply_node(node, node_ns, net, &steps).await?;
    node.must_index(&net.bridge).await
}

pub async fn observe_pod(node: &Netlink, pod: &PodNetwork) -> Result<ObservedPod> {
    if !netns::exists(&pod.netns) {
        return Ok(ObservedPod::absent());
    }
    let inside = Netlink::open(&Netns::open(&pod.netns)?)?;
    Ok(ObservedPod {
        netns: true,
        veth: node.observe(&pod.host_veth).await?,
        eth0: inside.observe(POD_IFNAME).await?,
        lo_up: inside.observe("lo").await?.is_some_and(|l| l.up),
        default_gateway: inside.default_gateway().await?,
    })
}

/// How long a new bridge port may take to start forwarding.
const PORT_FORWARDING_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// What [`apply_pod_observed`] has just finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress<'a> {
    /// A step of the plan.
    Step(&'a PodStep),
    /// The wait for the pod's new bridge port to forward.
    PortForwarding,
}

pub async fn apply_pod(node: &Netlink, bridge: u32, pod: &PodNetwork, steps: &[PodStep]) -> Result<()> {
    apply_pod_observed(node, bridge, pod, steps, |_| {}).await
}

/// [`apply_pod`], calling `done` as each stage finishes: how the benchmark times the very
/// path the agent runs, step by step.
pub async fn apply_pod_observed(
    node: &Netlink,
    bridge: u32,
    pod: &PodNetwork,
    steps: &[PodStep],
    mut done: impl FnMut(Progress<'_>),
) -> Result<()> {
    apply_steps(node, bridge, pod, steps, &mut done).await?;
    // The pod can send once its bridge port forwards, which the kernel decides on its own
    // time after both ends are up: wait for it, so "wired" means "can send a packet".
    if steps.iter().any(|s| matches!(s, PodStep::AttachVeth | PodStep::Eth0Up)) {
        let forwarding = node.wait_forwarding(&pod.host_veth, PORT_FORWARDING_LIMIT).await?;
        done(Progress::PortForwarding);
        if !forwarding {
            return Err(crate::Error::PortNotForwarding { port: pod.host_veth.clone(), waited: PORT_FORWARDING_LIMIT });
        }
    }
    Ok(())
}

/// The loopback device is the first device of every network namespace.
const LOOPBACK_INDEX: u32 = 1;

async fn apply_steps(
    node: &Netlink,
    bridge: u32,
    pod: &PodNetwork,
    steps: &[PodStep],
    done: &mut impl FnMut(Progress<'_>),
) -> Result<()> {
    let mut pod_ns: Option<Netns> = None;
    let mut inside: Option<Netlink> = None;
    // Interface indexes, looked up once per apply (each lookup is a netlink round trip).
    let mut host: Option<u32> = None;
    let mut eth0: Option<u32> = None;
    for step in steps {
        if *step == PodStep::CreateNetns {
            netns::create(&pod.netns)?;
            done(Progress::Step(step));
            continue;
        }
        if pod_ns.is_none() {
            pod_ns = Some(Netns::open(&pod.netns)?);
        }
        let ns = pod_ns.as_ref().expect("opened above");
        match step {
            PodStep::CreateNetns => {}
            PodStep::CreateVeth => host = Some(node.ensure_veth(&pod.host_veth, POD_IFNAME, ns, pod.mtu).await?),
            PodStep::SetMtu => {
                let mtu = pod.mtu.expect("planned only with an MTU");
                let index = match host {
                    Some(i) => i,
                    None => *host.insert(node.must_index(&pod.host_veth).await?),
                };
                node.set_mtu(index, mtu, &pod.host_veth).await?;
                if inside.is_none() {
                    inside = Some(Netlink::open(ns)?);
                }
                let nl = inside.as_ref().expect("opened above");
                let index = match eth0 {
                    Some(i) => i,
                    None => *eth0.insert(nl.must_index(POD_IFNAME).await?),
                };
                nl.set_mtu(index, mtu, POD_IFNAME).await?;
            }
            PodStep::AttachVeth | PodStep::Hairpin => {
                let index = match host {
                    Some(i) => i,
                    None => *host.insert(node.must_index(&pod.host_veth).await?),
                };
                if *step == PodStep::AttachVeth {
                    node.attach_up(index, bridge, &pod.host_veth).await?;
                } else {
                    // Hairpin: a pod reaching a service address that is DNATed back to
                    // itself leaves and re-enters through the same bridge port.
                    node.set_hairpin(index, true, &pod.host_veth).await?;
                }
            }
            inner => {
                if inside.is_none() {
                    inside = Some(Netlink::open(ns)?);
                }
                let nl = inside.as_ref().expect("opened above");
                if *inner == PodStep::LoopbackUp {
                    nl.set_up(LOOPBACK_INDEX, "lo").await?;
                } else {
                    let index = match eth0 {
                        Some(i) => i,
                        None => *eth0.insert(nl.must_index(POD_IFNAME).await?),
                    };
                    match inner {
                        PodStep::AddAddress => nl.ensure_address(index, pod.ip, pod.prefix).await?,
                        // Eth0Up is planned while eth0 is down: just made, or re-made.
                        PodStep::Eth0Up => {
                            nl.set_mac(index, &crate::model::mac_of(pod.ip), POD_IFNAME).await?;
                            nl.set_up(index, POD_IFNAME).await?
                        }
                        PodStep::DefaultRoute => nl.replace_default_route(pod.gateway).await?,
                        _ => unreachable!("the host end's steps are handled above"),
                    }
                }
            }
        }
        done(Progress::Step(step));
    }
    Ok(())
}

/// Wire a new pod: its full plan, without observing first (every step is idempotent).
pub async fn attach_pod(node: &Netlink, bridge: u32, pod: &PodNetwork) -> Result<()> {
    apply_pod(node, bridge, pod, &plan::plan_pod(pod, bridge, &ObservedPod::absent())).await
}

/// Observe a pod's wiring and repair what drifted; answers the steps it took.
pub async fn repair_pod(node: &Netlink, bridge: u32, pod: &PodNetwork) -> Result<Vec<PodStep>> {
    let steps = plan::plan_pod(pod, bridge, &observe_pod(node, pod).await?);
    apply_pod(node, bridge, pod, &steps).await?;
    Ok(steps)
}

/// Unwire a pod: delete its namespace; the kernel then destroys the veth pair with it, in
/// the background. (Deleting a veth blocks its caller for tens of milliseconds of RCU
/// work, so a scale-down of many pods would otherwise run that many times in series.) A
/// veth kept alive by a process still inside the namespace is left to [`sweep_veths`].
pub async fn detach_pod(_node: &Netlink, pod: &PodNetwork) -> Result<()> {
    netns::delete(&pod.netns)
}

/// Delete the pod veths of the node that belong to no pod in `keep` (host veth names);
/// answers what it deleted.
pub async fn sweep_veths(node: &Netlink, keep: &std::collections::HashSet<String>) -> Result<Vec<String>> {
    let mut deleted = Vec::new();
    for name in node.names_with_prefix(crate::names::PREFIX).await? {
        if crate::names::is_pod_veth(&name) && !keep.contains(&name) {
            node.delete(&name).await?;
            deleted.push(name);
        }
    }
    Ok(deleted)
}
