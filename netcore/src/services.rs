//! Services, NodePorts and egress NAT in flatnet's nftables table `ip flatnet`: the
//! desired service ports in, the kernel's table kept equal to them.
//!
//! Three parts, along the seams of the work:
//! - [`layout`]: the table's constants, static chains and the declarations of its sets and
//!   maps (their key and value types) — the description of the table (hooks, chains, maps,
//!   marks) lives there, and so will network policies' chains and sets.
//! - [`render`]: pure: what each service port puts in the table as typed elements
//!   ([`crate::nft::model`]), the difference of a change as one transaction, the whole table
//!   for a full sync. Golden-tested.
//! - [`proxier`]: the [`Proxier`]: what is applied, the two transports, conntrack.
//!
//! # Changes
//!
//! The [`Proxier`] remembers what it applied. A change to one service port renders as the
//! element deletions and additions (and, for sticky services, the chains) of that service
//! port only, in one transaction: no rewrite of the whole table and no read-back from the
//! kernel. A change that only adds and removes elements (most: endpoints come and go) is
//! sent as one nfnetlink batch ([`crate::nftnl`]), whose cost does not grow with the table;
//! one that creates or removes chains or sets is an `nft -f` script. Both carry the same
//! typed elements: the script renders them as text, the batch encodes them by their sets'
//! declared types. A new table's chains go in with `nft -f` and its elements with one
//! nfnetlink batch. When an agent starts it adopts the table it finds: one transaction
//! re-declares the static part, replaces the maps' elements with the desired ones and
//! removes chains and sets of services that are gone — the table is never absent or empty
//! in between, so established connections and new ones keep working through a restart.
//! Sticky clients are kept too (the endpoints' sets survive).
//!
//! # Drift
//!
//! What someone deletes under the proxier (read from the kernel's notifications:
//! [`crate::monitor`]) is put back by [`Proxier::repair`] against what it applied: a wanted
//! element alone (over nfnetlink), a chain or set with its rules and elements and the static
//! chains that refer to it (one script), the table whole (a full sync). Deletions of what it
//! no longer wants (the echo of its own changes) are left alone.
//!
//! When a UDP endpoint goes away, the conntrack entries that NAT to it are deleted (for
//! that frontend only), so a client that keeps sending reaches a live endpoint, or is
//! rejected, instead of a dead one. Conntrack is never flushed wholesale.

use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;

pub mod layout;
pub mod proxier;
pub mod render;

pub use crate::nft::model::Proto;
pub use layout::{Group, MASQUERADE_MARK};
pub use proxier::{Proxier, Repaired};
pub use render::{render_full, Prepared};

/// A ready endpoint of a service port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: Ipv4Addr,
    pub port: u16,
    /// On this node (used by `externalTrafficPolicy: Local` and for hairpin).
    pub local: bool,
}

/// One port of one service, as this node's data plane needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePort {
    /// `namespace/name:port` (port name, or number when unnamed): the unique key, and the
    /// comment on sticky services' chains.
    pub name: String,
    pub cluster_ip: Ipv4Addr,
    pub proto: Proto,
    pub port: u16,
    pub node_port: Option<u16>,
    /// `externalTrafficPolicy: Local`.
    pub external_local: bool,
    /// `sessionAffinity: ClientIP` with this timeout in seconds.
    pub affinity_seconds: Option<u32>,
    /// The ready endpoints (sorted and deduplicated by [`ServicePort::normalize`]).
    pub endpoints: Vec<Endpoint>,
}

/// The cluster-wide facts the static part of the table needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableConfig {
    /// The cluster's pod CIDR (every node's lease is inside it).
    pub pod_cidr: Ipv4Network,
    pub service_cidr: Ipv4Network,
    /// The cluster DNS address, answered on port 53 by a server on every node (the address
    /// is local there): the table lets it through before dispatch and rejects.
    pub cluster_dns: Option<std::net::Ipv4Addr>,
}

/// A frontend whose UDP conntrack entries to `endpoint` must go (`None`: every entry of
/// the frontend — it had no endpoint, so its entries are un-NATed leftovers of packets
/// sent before it was programmed, which would keep a client's flow from ever reaching one).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StaleFlow {
    pub frontend: Frontend,
    pub endpoint: Option<Ipv4Addr>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Frontend {
    ClusterIp(Ipv4Addr, u16),
    NodePort(u16),
}

/// What one apply of the [`Proxier`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Service ports whose rules changed.
    pub changed: usize,
    /// Bytes of the nft script (0: nothing to do, nothing was run).
    pub script_bytes: usize,
    /// UDP frontends whose flows to a removed endpoint must be dropped
    /// ([`Proxier::clear_stale_flows`]).
    pub stale: Vec<StaleFlow>,
}
