//! Links, addresses and routes through rtnetlink, one netlink connection per namespace.
//!
//! The netlink socket is opened *inside* the target namespace (on the namespace's own
//! thread) and kept: a socket acts on the namespace it was created in, whichever thread
//! later uses it. Every call is idempotent by errno at the call site: EEXIST on create and
//! ENODEV/ENOENT/ESRCH on delete are success. rtnetlink moves fast; it is pinned in
//! Cargo.toml and used nowhere else.

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;

use futures::TryStreamExt;
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkMessage};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::{Handle, LinkBridge, LinkBridgePort, LinkMessageBuilder, LinkUnspec, RouteMessageBuilder};

use crate::model::{format_mac, RouteEntry};
use crate::netns::Netns;
use crate::plan::ObservedLink;
use crate::{Error, Result};

const EEXIST: i32 = 17;
const ENOENT: i32 = 2;
const EBUSY: i32 = 16;
const ESRCH: i32 = 3;
const ENODEV: i32 = 19;

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(m.raw_code().abs()),
        _ => None,
    }
}

fn fail(op: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> Error {
    let op = op.into();
    move |source| Error::Netlink { op, source: Box::new(source) }
}

/// Treat `codes` as success (the object already is as wanted).
fn tolerate(
    result: std::result::Result<(), rtnetlink::Error>,
    codes: &[i32],
) -> std::result::Result<(), rtnetlink::Error> {
    match result {
        Err(e) if errno(&e).is_some_and(|c| codes.contains(&c)) => Ok(()),
        other => other,
    }
}

/// Run a dump (`dump`) again while the kernel refuses it with EBUSY: a netlink socket runs
/// one dump at a time, and the agent's tasks (pod workers, the backend's route sync, the
/// node repair) share one socket; a few tries with a doubling pause, then the error.
async fn retry_busy<T, F, Fut>(mut dump: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut delay = std::time::Duration::from_millis(1);
    loop {
        match dump().await {
            Err(Error::Netlink { source, .. }) if delay.as_millis() < 200 && errno(&source) == Some(EBUSY) => {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            other => return other,
        }
    }
}

/// How a link is looked up.
enum LinkKey<'a> {
    Name(&'a str),
    Index(u32),
}

/// What a link message says of the link (its addresses are a separate query).
fn parse_link(msg: &LinkMessage) -> ObservedLink {
    use rtnetlink::packet_route::link::{BridgePortState, InfoBridgePort, InfoPortData, LinkFlags, LinkInfo};
    let mut link =
        ObservedLink { index: msg.header.index, up: msg.header.flags.contains(LinkFlags::Up), ..Default::default() };
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::Controller(c) => link.controller = Some(*c),
            LinkAttribute::Mtu(m) => link.mtu = *m,
            LinkAttribute::Address(a) => link.mac = a.as_slice().try_into().ok(),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    if let LinkInfo::PortData(InfoPortData::BridgePort(port)) = info {
                        link.hairpin = port.iter().any(|p| matches!(p, InfoBridgePort::HairpinMode(true)));
                        link.forwarding =
                            port.iter().any(|p| matches!(p, InfoBridgePort::State(BridgePortState::Forwarding)));
                    }
                }
            }
            _ => {}
        }
    }
    link
}

/// A netlink connection to one namespace. Must be used within a tokio runtime.
#[derive(Clone, Debug)]
pub struct Netlink {
    handle: Handle,
}

impl Netlink {
    /// Connect to `ns`: the socket is created inside it; its driver runs on the current
    /// tokio runtime until the last clone of the returned value is dropped.
    pub fn open(ns: &Netns) -> Result<Netlink> {
        // The socket registers with the runtime's reactor as it is created, on the
        // namespace's thread: enter the caller's runtime there.
        let runtime = tokio::runtime::Handle::current();
        let (connection, handle, _) = ns
            .run(move || {
                let _guard = runtime.enter();
                rtnetlink::new_connection()
            })?
            .map_err(|source| Error::NetlinkSocket { netns: ns.name().to_string(), source })?;
        tokio::spawn(connection);
        Ok(Netlink { handle })
    }

    /// The interface index of `name`, if it exists.
    pub async fn index(&self, name: &str) -> Result<Option<u32>> {
        Ok(self.get_link(LinkKey::Name(name)).await?.map(|msg| msg.header.index))
    }

    /// The link's message, if the link exists.
    async fn get_link(&self, key: LinkKey<'_>) -> Result<Option<LinkMessage>> {
        let req = self.handle.link().get();
        let (mut links, what) = match key {
            LinkKey::Name(name) => (req.match_name(name.to_string()).execute(), name.to_string()),
            LinkKey::Index(index) => (req.match_index(index).execute(), format!("#{index}")),
        };
        match links.try_next().await {
            Ok(msg) => Ok(msg),
            Err(e) if errno(&e) == Some(ENODEV) => Ok(None),
            Err(e) => Err(fail(format!("get link {what}"))(e)),
        }
    }

    /// The interface index of `name`, which must exist.
    pub async fn must_index(&self, name: &str) -> Result<u32> {
        self.index(name).await?.ok_or_else(|| Error::MissingLink { name: name.into() })
    }

    async fn add(&self, what: &str, msg: LinkMessage) -> Result<()> {
        let result = self.handle.link().add(msg).execute().await;
        tolerate(result, &[EEXIST]).map_err(fail(format!("create {what}")))
    }

    /// Create the bridge `name` (if absent) and bring it up; answers its index.
    pub async fn ensure_bridge(&self, name: &str) -> Result<u32> {
        self.ensure_bridge_with(name, None).await
    }

    /// [`Netlink::ensure_bridge`], with MAC address `mac` when it creates the bridge (a
    /// bridge's MAC cannot change while it is up; one that exists keeps its own).
    pub async fn ensure_bridge_with(&self, name: &str, mac: Option<&[u8; 6]>) -> Result<u32> {
        let mut msg = LinkBridge::new(name);
        if let Some(mac) = mac {
            msg = msg.address(mac.to_vec());
        }
        self.add(&format!("bridge {name}"), msg.build()).await?;
        let index = self.must_index(name).await?;
        self.set_up(index, name).await?;
        Ok(index)
    }

    /// Create a veth pair whose `peer` end is created directly inside `peer_ns` (it never
    /// appears in this namespace), unless `host` already exists; answers `host`'s index.
    pub async fn ensure_veth(&self, host: &str, peer: &str, peer_ns: &Netns, mtu: Option<u32>) -> Result<u32> {
        if let Some(index) = self.index(host).await? {
            return Ok(index);
        }
        let fd = peer_ns.as_fd().as_raw_fd();
        let mut peer_msg = LinkMessageBuilder::<LinkUnspec>::new().name(peer.to_string()).setns_by_fd(fd);
        let mut host_msg = LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::Veth).name(host.to_string());
        if let Some(m) = mtu {
            peer_msg = peer_msg.mtu(m);
            host_msg = host_msg.mtu(m);
        }
        let msg = host_msg.set_info_data(InfoData::Veth(InfoVeth::Peer(peer_msg.build()))).build();
        self.add(&format!("veth {host} (peer {peer} in {})", peer_ns.name()), msg).await?;
        self.must_index(host).await
    }

    /// Bring the link up.
    pub async fn set_up(&self, index: u32, name: &str) -> Result<()> {
        let msg = LinkUnspec::new_with_index(index).up().build();
        self.handle.link().set(msg).execute().await.map_err(fail(format!("set {name} up")))
    }

    /// Set the link's MAC address (while it is down, for a veth end).
    pub async fn set_mac(&self, index: u32, mac: &[u8; 6], name: &str) -> Result<()> {
        let msg = LinkUnspec::new_with_index(index).address(mac.to_vec()).build();
        self.handle.link().set(msg).execute().await.map_err(fail(format!("set {name} address")))
    }

    /// Attach the link to a bridge (or other controller).
    pub async fn set_controller(&self, index: u32, controller: u32, name: &str) -> Result<()> {
        let msg = LinkUnspec::new_with_index(index).controller(controller).build();
        self.handle.link().set(msg).execute().await.map_err(fail(format!("attach {name} to its bridge")))
    }

    /// Attach the link to a bridge and bring it up, in one request.
    pub async fn attach_up(&self, index: u32, bridge: u32, name: &str) -> Result<()> {
        let msg = LinkUnspec::new_with_index(index).controller(bridge).up().build();
        self.handle.link().set(msg).execute().await.map_err(fail(format!("attach {name} to its bridge")))
    }

    /// Hairpin mode of a bridge port: frames may leave through the port they came in by.
    pub async fn set_hairpin(&self, index: u32, on: bool, name: &str) -> Result<()> {
        let msg = LinkBridgePort::new(index).hairpin(on).build();
        self.handle.link().set_port(msg).execute().await.map_err(fail(format!("set hairpin on {name}")))
    }

    /// Delete the link (a veth takes its peer with it); one already gone is fine.
    pub async fn delete(&self, name: &str) -> Result<()> {
        let Some(index) = self.index(name).await? else { return Ok(()) };
        let result = self.handle.link().del(index).execute().await;
        tolerate(result, &[ENODEV, ENOENT]).map_err(fail(format!("delete link {name}")))
    }

    /// Add `ip/prefix` to the link; present already is fine.
    pub async fn ensure_address(&self, index: u32, ip: Ipv4Addr, prefix: u8) -> Result<()> {
        let result = self.handle.address().add(index, ip.into(), prefix).execute().await;
        tolerate(result, &[EEXIST]).map_err(fail(format!("add address {ip}/{prefix}")))
    }

    /// Route `dst/prefix` via `gateway` (or directly out of `oif` when `None`).
    pub async fn ensure_route(
        &self,
        dst: Ipv4Addr,
        prefix: u8,
        gateway: Option<Ipv4Addr>,
        oif: Option<u32>,
    ) -> Result<()> {
        let mut route = RouteMessageBuilder::<Ipv4Addr>::new().destination_prefix(dst, prefix);
        if let Some(gw) = gateway {
            route = route.gateway(gw);
        }
        if let Some(index) = oif {
            route = route.output_interface(index);
        }
        let result = self.handle.route().add(route.build()).execute().await;
        tolerate(result, &[EEXIST]).map_err(fail(format!("add route {dst}/{prefix}")))
    }

    /// Delete the route to `dst/prefix`; absent is fine.
    pub async fn delete_route(&self, dst: Ipv4Addr, prefix: u8) -> Result<()> {
        let route = RouteMessageBuilder::<Ipv4Addr>::new().destination_prefix(dst, prefix).build();
        let result = self.handle.route().del(route).execute().await;
        tolerate(result, &[ESRCH, ENOENT]).map_err(fail(format!("delete route {dst}/{prefix}")))
    }

    /// The link as observed (with its IPv4 addresses), if it exists.
    pub async fn observe(&self, name: &str) -> Result<Option<ObservedLink>> {
        self.observe_key(LinkKey::Name(name)).await
    }

    async fn observe_key(&self, key: LinkKey<'_>) -> Result<Option<ObservedLink>> {
        let Some(msg) = self.get_link(key).await? else { return Ok(None) };
        let mut link = parse_link(&msg);
        link.addresses = self.addresses(link.index).await?;
        Ok(Some(link))
    }

    /// The gateway of the default IPv4 route of the main table, if there is one.
    pub async fn default_gateway(&self) -> Result<Option<Ipv4Addr>> {
        use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
        let mut routes = self.handle.route().get(RouteMessageBuilder::<Ipv4Addr>::new().build()).execute();
        while let Some(route) = routes.try_next().await.map_err(fail("list routes"))? {
            if route.header.destination_prefix_length != 0 {
                continue;
            }
            for attr in &route.attributes {
                if let RouteAttribute::Gateway(RouteAddress::Inet(gw)) = attr {
                    return Ok(Some(*gw));
                }
            }
        }
        Ok(None)
    }

    /// Make `gateway` the default route, replacing any other default route.
    pub async fn replace_default_route(&self, gateway: Ipv4Addr) -> Result<()> {
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(Ipv4Addr::UNSPECIFIED, 0)
            .gateway(gateway)
            .build();
        self.handle
            .route()
            .add(route)
            .replace()
            .execute()
            .await
            .map_err(fail(format!("set default route via {gateway}")))
    }

    /// Wait until the bridge port `name` forwards, at most `limit`. The kernel enables a new
    /// port asynchronously (its link watch work) after the port and its peer are up; a frame
    /// sent before that is dropped, and a pod's first ARP request would then wait a second
    /// for its retransmission.
    pub async fn wait_forwarding(&self, name: &str, limit: std::time::Duration) -> Result<bool> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let port = self.get_link(LinkKey::Name(name)).await?.is_some_and(|msg| parse_link(&msg).forwarding);
            if port || tokio::time::Instant::now() >= deadline {
                return Ok(port);
            }
            tokio::time::sleep(std::time::Duration::from_micros(200)).await;
        }
    }

    /// Names of the links whose name starts with `prefix`.
    pub async fn names_with_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut links = self.handle.link().get().execute();
        while let Some(msg) = links.try_next().await.map_err(fail("list links"))? {
            for attr in &msg.attributes {
                if let LinkAttribute::IfName(n) = attr {
                    if n.starts_with(prefix) {
                        out.push(n.clone());
                    }
                }
            }
        }
        Ok(out)
    }

    /// The link holding `ip`, if any.
    pub async fn link_with_address(&self, ip: Ipv4Addr) -> Result<Option<ObservedLink>> {
        use rtnetlink::packet_route::address::AddressAttribute;
        let mut stream = self.handle.address().get().execute();
        let mut index = None;
        while let Some(msg) = stream.try_next().await.map_err(fail("list addresses"))? {
            if msg
                .attributes
                .iter()
                .any(|a| matches!(a, AddressAttribute::Address(std::net::IpAddr::V4(v)) if *v == ip))
            {
                index = Some(msg.header.index);
            }
        }
        let Some(index) = index else { return Ok(None) };
        self.observe_key(LinkKey::Index(index)).await
    }

    /// Create the VXLAN device (if absent) with learning off, set its MTU and bring it up.
    pub async fn ensure_vxlan(
        &self,
        name: &str,
        vni: u32,
        uplink: u32,
        local: Ipv4Addr,
        port: u16,
        mtu: u32,
    ) -> Result<u32> {
        let msg = rtnetlink::LinkVxlan::new(name, vni).dev(uplink).local(local).port(port).learning(false).build();
        self.add(&format!("vxlan {name}"), msg).await?;
        let index = self.must_index(name).await?;
        let set = LinkUnspec::new_with_index(index).mtu(mtu).up().build();
        self.handle.link().set(set).execute().await.map_err(fail(format!("set {name} mtu {mtu} up")))?;
        Ok(index)
    }

    /// Set the MTU of a link.
    pub async fn set_mtu(&self, index: u32, mtu: u32, name: &str) -> Result<()> {
        let msg = LinkUnspec::new_with_index(index).mtu(mtu).build();
        self.handle.link().set(msg).execute().await.map_err(fail(format!("set {name} mtu {mtu}")))
    }

    /// IPv4 unicast routes of the main table (tried again while the kernel answers EBUSY:
    /// [`retry_busy`]).
    pub async fn routes(&self) -> Result<Vec<RouteEntry>> {
        retry_busy(|| self.routes_once()).await
    }

    async fn routes_once(&self) -> Result<Vec<RouteEntry>> {
        use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteType};
        let mut out = Vec::new();
        let mut routes = self.handle.route().get(RouteMessageBuilder::<Ipv4Addr>::new().build()).execute();
        while let Some(route) = routes.try_next().await.map_err(fail("list routes"))? {
            if route.header.kind != RouteType::Unicast || route.header.table != 254 {
                continue;
            }
            let (mut dst, mut gateway, mut oif) = (Ipv4Addr::UNSPECIFIED, None, None);
            for attr in &route.attributes {
                match attr {
                    RouteAttribute::Destination(RouteAddress::Inet(d)) => dst = *d,
                    RouteAttribute::Gateway(RouteAddress::Inet(g)) => gateway = Some(*g),
                    RouteAttribute::Oif(i) => oif = Some(*i),
                    _ => {}
                }
            }
            if let Ok(dst) = ipnetwork::Ipv4Network::new(dst, route.header.destination_prefix_length) {
                out.push(RouteEntry { dst, gateway, oif });
            }
        }
        Ok(out)
    }

    /// Route `dst` via `via`, replacing any route to `dst`; `onlink` through `dev` for a
    /// next hop that is not on a connected subnet (a VXLAN VTEP).
    pub async fn replace_route(
        &self,
        dst: ipnetwork::Ipv4Network,
        via: Ipv4Addr,
        dev: Option<u32>,
        onlink: bool,
    ) -> Result<()> {
        let mut route =
            RouteMessageBuilder::<Ipv4Addr>::new().destination_prefix(dst.network(), dst.prefix()).gateway(via);
        if let Some(d) = dev {
            route = route.output_interface(d);
        }
        if onlink {
            route = route.onlink();
        }
        self.handle.route().add(route.build()).replace().execute().await.map_err(fail(format!("route {dst} via {via}")))
    }

    /// A permanent neighbour entry `ip` → `mac` on `dev`.
    pub async fn replace_neighbour(&self, dev: u32, ip: Ipv4Addr, mac: &[u8; 6]) -> Result<()> {
        self.handle
            .neighbours()
            .add(dev, ip.into())
            .link_layer_address(mac)
            .replace()
            .execute()
            .await
            .map_err(fail(format!("neighbour {ip}")))
    }

    /// A permanent FDB entry of a VXLAN device: frames for `mac` go to the VTEP at `dst`.
    pub async fn replace_fdb(&self, dev: u32, mac: &[u8; 6], dst: Ipv4Addr) -> Result<()> {
        use rtnetlink::packet_route::neighbour::NeighbourFlags;
        self.handle
            .neighbours()
            .add_bridge(dev, mac)
            .destination(dst.into())
            .flags(NeighbourFlags::Own)
            .replace()
            .execute()
            .await
            .map_err(fail(format!("fdb {} via {dst}", format_mac(mac))))
    }

    async fn neighbour_entries(
        &self,
        dev: u32,
        family: AddressFamily,
    ) -> Result<Vec<rtnetlink::packet_route::neighbour::NeighbourMessage>> {
        let mut req = self.handle.neighbours().get();
        req.message_mut().header.family = family;
        let mut stream = req.execute();
        let mut out = Vec::new();
        while let Some(msg) = stream.try_next().await.map_err(fail("list neighbours"))? {
            if msg.header.ifindex == dev {
                out.push(msg);
            }
        }
        Ok(out)
    }

    /// Delete the permanent IPv4 neighbours of `dev` that `keep` rejects.
    pub async fn prune_neighbours(&self, dev: u32, keep: impl Fn(Ipv4Addr, Option<[u8; 6]>) -> bool) -> Result<()> {
        use rtnetlink::packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourState};
        for msg in self.neighbour_entries(dev, AddressFamily::Inet).await? {
            if msg.header.state != NeighbourState::Permanent {
                continue;
            }
            let ip = msg.attributes.iter().find_map(|a| match a {
                NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)) => Some(*ip),
                _ => None,
            });
            let mac = msg.attributes.iter().find_map(|a| match a {
                NeighbourAttribute::LinkLayerAddress(m) => m.as_slice().try_into().ok(),
                _ => None,
            });
            if let Some(ip) = ip {
                if !keep(ip, mac) {
                    let result = self.handle.neighbours().del(msg).execute().await;
                    tolerate(result, &[ENOENT]).map_err(fail(format!("delete neighbour {ip}")))?;
                }
            }
        }
        Ok(())
    }

    /// Delete the FDB entries of `dev` (with a remote destination) whose MAC `keep` rejects.
    pub async fn prune_fdb(&self, dev: u32, keep: impl Fn(&[u8; 6]) -> bool) -> Result<()> {
        use rtnetlink::packet_route::neighbour::NeighbourAttribute;
        for msg in self.neighbour_entries(dev, AddressFamily::Bridge).await? {
            let has_dst = msg.attributes.iter().any(|a| matches!(a, NeighbourAttribute::Destination(_)));
            let mac: Option<[u8; 6]> = msg.attributes.iter().find_map(|a| match a {
                NeighbourAttribute::LinkLayerAddress(m) => m.as_slice().try_into().ok(),
                _ => None,
            });
            if let (true, Some(mac)) = (has_dst, mac) {
                if !keep(&mac) {
                    let result = self.handle.neighbours().del(msg).execute().await;
                    tolerate(result, &[ENOENT]).map_err(fail("delete fdb entry"))?;
                }
            }
        }
        Ok(())
    }

    /// IPv4 addresses on the link, as (address, prefix).
    /// (Tried again while the kernel answers EBUSY: [`retry_busy`].)
    pub async fn addresses(&self, index: u32) -> Result<Vec<(Ipv4Addr, u8)>> {
        retry_busy(|| self.addresses_once(index)).await
    }

    async fn addresses_once(&self, index: u32) -> Result<Vec<(Ipv4Addr, u8)>> {
        use rtnetlink::packet_route::address::AddressAttribute;
        let mut out = Vec::new();
        let mut stream = self.handle.address().get().set_link_index_filter(index).execute();
        while let Some(msg) = stream.try_next().await.map_err(fail("list addresses"))? {
            if msg.header.family != AddressFamily::Inet {
                continue;
            }
            for attr in &msg.attributes {
                if let AddressAttribute::Address(std::net::IpAddr::V4(ip)) = attr {
                    out.push((*ip, msg.header.prefix_len));
                }
            }
        }
        Ok(out)
    }
}
