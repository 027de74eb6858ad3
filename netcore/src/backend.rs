//! How pods reach pods on other nodes, like Flannel's backends. Both backends follow one
//! path: the agent prepares the node once (answering the data it publishes with its lease)
//! and then syncs to the other nodes' leases whenever they change, and periodically.
//!
//! - [`HostGw`]: a route per remote node's pod subnet via that node's underlay address.
//!   Needs the nodes on one L2 segment (the local cluster's fabric bridge).
//! - [`Vxlan`]: a VXLAN device (VNI 1, UDP 8472, MTU = uplink − 50); per remote node a
//!   route to its subnet via its VTEP address (the subnet's network address) onlink, a
//!   permanent neighbour entry (that address → the remote VTEP's MAC) and an FDB entry
//!   (that MAC → the remote node's underlay address).
//!
//! A sync reads the routes it owns (those to other subnets of the cluster CIDR), adds
//! what is missing and removes what is stale: a lease reclaimed takes its routes away.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;

use crate::link::Netlink;
use crate::model::{format_mac, RouteEntry};
use crate::{Error, Result};

/// Name of the VXLAN device in a node's namespace.
pub const VXLAN_DEVICE: &str = "fnvx0";
pub const VXLAN_VNI: u32 = 1;
pub const VXLAN_PORT: u16 = 8472;
/// Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) headers.
pub const VXLAN_OVERHEAD: u32 = 50;
/// The lease's backend data key carrying a node's VTEP MAC.
pub const VTEP_MAC_KEY: &str = "vtepMAC";

/// A way of reaching pods on other nodes. Object-safe, so the agent picks one at run time
/// (the cluster's configuration) and drives it through one reconcile path.
pub trait Backend: Send + Sync {
    /// Prepare this node; answers the data to publish with its lease.
    fn prepare<'a>(&'a self, nl: &'a Netlink) -> BoxFuture<'a, Result<BTreeMap<String, String>>>;
    /// Bring the node's forwarding to `remotes` (the other nodes' leases).
    fn sync<'a>(&'a self, nl: &'a Netlink, remotes: &'a [Remote]) -> BoxFuture<'a, Result<SyncReport>>;
    /// The MTU pods must use on this node, when the backend lowers it.
    fn pod_mtu(&self) -> Option<u32>;
}

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Another node, from its lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    pub node: String,
    pub subnet: Ipv4Network,
    pub node_ip: Ipv4Addr,
    /// VXLAN only: the remote VTEP's MAC (absent until the node published it).
    pub vtep_mac: Option<[u8; 6]>,
}

/// What a sync changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub added: Vec<Ipv4Network>,
    pub removed: Vec<Ipv4Network>,
}

impl SyncReport {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// The route a remote should have: (destination, gateway, onlink through the VXLAN device).
fn desired_routes(remotes: &[Remote], vxlan: bool) -> BTreeMap<Ipv4Network, (Ipv4Addr, bool)> {
    remotes
        .iter()
        .filter(|r| !vxlan || r.vtep_mac.is_some())
        .map(|r| {
            let via = if vxlan { r.subnet.network() } else { r.node_ip };
            (r.subnet, (via, vxlan))
        })
        .collect()
}

/// The routes to add and to delete, given the routes owned now. Pure.
pub fn plan_routes(
    owned: &[RouteEntry],
    desired: &BTreeMap<Ipv4Network, (Ipv4Addr, bool)>,
) -> (Vec<(Ipv4Network, Ipv4Addr, bool)>, Vec<Ipv4Network>) {
    let have: BTreeMap<Ipv4Network, Option<Ipv4Addr>> = owned.iter().map(|r| (r.dst, r.gateway)).collect();
    let add = desired
        .iter()
        .filter(|(dst, (via, _))| have.get(dst) != Some(&Some(*via)))
        .map(|(dst, (via, onlink))| (*dst, *via, *onlink))
        .collect();
    let remove = have.keys().filter(|dst| !desired.contains_key(dst)).copied().collect();
    (add, remove)
}

/// The routes this node owns: to subnets of the cluster CIDR other than its own.
async fn owned_routes(nl: &Netlink, cluster: Ipv4Network, own: Ipv4Network) -> Result<Vec<RouteEntry>> {
    Ok(nl
        .routes()
        .await?
        .into_iter()
        .filter(|r| {
            r.dst.prefix() > 0
                && cluster.contains(r.dst.network())
                && r.dst != own
                && r.dst.prefix() >= cluster.prefix()
        })
        .collect())
}

async fn sync_routes(
    nl: &Netlink,
    cluster: Ipv4Network,
    own: Ipv4Network,
    desired: BTreeMap<Ipv4Network, (Ipv4Addr, bool)>,
    dev: Option<u32>,
) -> Result<SyncReport> {
    let (add, remove) = plan_routes(&owned_routes(nl, cluster, own).await?, &desired);
    let mut report = SyncReport::default();
    for (dst, via, onlink) in add {
        nl.replace_route(dst, via, if onlink { dev } else { None }, onlink).await?;
        report.added.push(dst);
    }
    for dst in remove {
        nl.delete_route(dst.network(), dst.prefix()).await?;
        report.removed.push(dst);
    }
    Ok(report)
}

/// Flannel's host-gw: plain routes via the other nodes' addresses.
pub struct HostGw {
    pub cluster: Ipv4Network,
    pub own: Ipv4Network,
}

impl Backend for HostGw {
    fn prepare<'a>(&'a self, _nl: &'a Netlink) -> BoxFuture<'a, Result<BTreeMap<String, String>>> {
        Box::pin(async { Ok(BTreeMap::new()) })
    }

    fn sync<'a>(&'a self, nl: &'a Netlink, remotes: &'a [Remote]) -> BoxFuture<'a, Result<SyncReport>> {
        Box::pin(sync_routes(nl, self.cluster, self.own, desired_routes(remotes, false), None))
    }

    /// No device of its own: pods keep the uplink's MTU.
    fn pod_mtu(&self) -> Option<u32> {
        None
    }
}

/// Flannel's vxlan: an overlay over the nodes' underlay addresses.
pub struct Vxlan {
    pub cluster: Ipv4Network,
    pub own: Ipv4Network,
    pub node_ip: Ipv4Addr,
    /// Set by `prepare`: the MTU inside the overlay.
    mtu: std::sync::OnceLock<u32>,
}

impl Vxlan {
    pub fn new(cluster: Ipv4Network, own: Ipv4Network, node_ip: Ipv4Addr) -> Vxlan {
        Vxlan { cluster, own, node_ip, mtu: Default::default() }
    }

    /// Create the VXLAN device over the uplink that holds the node's address; answers the
    /// VTEP MAC to publish.
    async fn prepare_device(&self, nl: &Netlink) -> Result<BTreeMap<String, String>> {
        let uplink = nl.link_with_address(self.node_ip).await?.ok_or(Error::NoUplink { address: self.node_ip })?;
        let mtu = uplink.mtu.saturating_sub(VXLAN_OVERHEAD);
        let _ = self.mtu.set(mtu);
        let index = nl.ensure_vxlan(VXLAN_DEVICE, VXLAN_VNI, uplink.index, self.node_ip, VXLAN_PORT, mtu).await?;
        // The VTEP address is the subnet's network address (as Flannel does), so that the
        // remote routes' next hops are unique per node and on-link.
        nl.ensure_address(index, self.own.network(), 32).await?;
        let link = nl.observe(VXLAN_DEVICE).await?.ok_or_else(|| Error::MissingLink { name: VXLAN_DEVICE.into() })?;
        let mac = link.mac.ok_or_else(|| Error::NoMac { name: VXLAN_DEVICE.into() })?;
        Ok([(VTEP_MAC_KEY.to_string(), format_mac(&mac))].into())
    }

    async fn sync_overlay(&self, nl: &Netlink, remotes: &[Remote]) -> Result<SyncReport> {
        let dev = nl.must_index(VXLAN_DEVICE).await?;
        let ready: Vec<&Remote> = remotes.iter().filter(|r| r.vtep_mac.is_some()).collect();
        // Neighbour and FDB entries first, so a new route never points at an unknown VTEP.
        let wanted_vteps: BTreeSet<Ipv4Addr> = ready.iter().map(|r| r.subnet.network()).collect();
        for r in &ready {
            let mac = r.vtep_mac.expect("filtered above");
            nl.replace_neighbour(dev, r.subnet.network(), &mac).await?;
            nl.replace_fdb(dev, &mac, r.node_ip).await?;
        }
        let report = sync_routes(nl, self.cluster, self.own, desired_routes(remotes, true), Some(dev)).await?;
        let wanted_macs: BTreeSet<[u8; 6]> = ready.iter().filter_map(|r| r.vtep_mac).collect();
        nl.prune_neighbours(dev, |ip, _| wanted_vteps.contains(&ip)).await?;
        nl.prune_fdb(dev, |mac| wanted_macs.contains(mac)).await?;
        Ok(report)
    }
}

impl Backend for Vxlan {
    fn prepare<'a>(&'a self, nl: &'a Netlink) -> BoxFuture<'a, Result<BTreeMap<String, String>>> {
        Box::pin(self.prepare_device(nl))
    }

    fn sync<'a>(&'a self, nl: &'a Netlink, remotes: &'a [Remote]) -> BoxFuture<'a, Result<SyncReport>> {
        Box::pin(self.sync_overlay(nl, remotes))
    }

    /// Pods on a VXLAN node use the overlay's MTU, so large packets are never too big for it.
    fn pod_mtu(&self) -> Option<u32> {
        self.mtu.get().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Network {
        s.parse().unwrap()
    }

    fn remote(node: &str, subnet: &str, ip: [u8; 4], mac: Option<[u8; 6]>) -> Remote {
        Remote { node: node.into(), subnet: net(subnet), node_ip: Ipv4Addr::from(ip), vtep_mac: mac }
    }

    fn remotes() -> [Remote; 2] {
        [
            remote("b", "10.244.2.0/24", [192, 168, 254, 12], Some([2, 0, 0, 0, 0, 2])),
            remote("c", "10.244.3.0/24", [192, 168, 254, 13], None),
        ]
    }

    #[test]
    fn host_gw_routes_every_remote_via_its_node_address() {
        let hg = desired_routes(&remotes(), false);
        assert_eq!(hg[&net("10.244.2.0/24")], (Ipv4Addr::new(192, 168, 254, 12), false));
        assert_eq!(hg.len(), 2);
    }

    #[test]
    fn vxlan_routes_remotes_with_a_published_mac_via_their_vtep_onlink() {
        let vx = desired_routes(&remotes(), true);
        // A VXLAN remote without a published MAC is not routed yet.
        assert_eq!(vx.len(), 1);
        assert_eq!(vx[&net("10.244.2.0/24")], (Ipv4Addr::new(10, 244, 2, 0), true));
    }

    fn gw(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(192, 168, 254, last)
    }

    fn owned(dst: &str, gateway: u8) -> RouteEntry {
        RouteEntry { dst: net(dst), gateway: Some(gw(gateway)), oif: Some(2) }
    }

    #[test]
    fn a_route_with_a_wrong_gateway_is_replaced() {
        let desired = [(net("10.244.3.0/24"), (gw(13), false))].into();
        let (add, remove) = plan_routes(&[owned("10.244.3.0/24", 99)], &desired);
        assert_eq!(add, vec![(net("10.244.3.0/24"), gw(13), false)]);
        assert!(remove.is_empty());
    }

    #[test]
    fn a_missing_route_is_added() {
        let desired = [(net("10.244.2.0/24"), (gw(12), false))].into();
        let (add, remove) = plan_routes(&[], &desired);
        assert_eq!(add, vec![(net("10.244.2.0/24"), gw(12), false)]);
        assert!(remove.is_empty());
    }

    #[test]
    fn a_route_to_a_reclaimed_lease_is_removed() {
        let desired = [(net("10.244.2.0/24"), (gw(12), false))].into();
        let (add, remove) = plan_routes(&[owned("10.244.2.0/24", 12), owned("10.244.9.0/24", 19)], &desired);
        assert!(add.is_empty());
        assert_eq!(remove, vec![net("10.244.9.0/24")]);
    }

    #[test]
    fn routes_in_step_need_nothing() {
        let desired = [(net("10.244.2.0/24"), (gw(12), false))].into();
        let (add, remove) = plan_routes(&[owned("10.244.2.0/24", 12)], &desired);
        assert!(add.is_empty() && remove.is_empty());
    }
}
