//! flatnet's kernel side, shared by every node.
//!
//! - [`names`]: every kernel object name flatnet makes is derived here, from stable ids,
//!   within the kernel's limits, under the `fn`/`flatnet` prefix that cleanup looks for.
//! - [`netns`]: named network namespaces as `ip netns` makes them (`/run/netns/NAME`), and
//!   running code inside one on a dedicated OS thread.
//! - [`link`]: links (bridges, veths created straight into a pod's namespace), addresses
//!   and routes through rtnetlink, with a socket opened inside the namespace it acts on.
//! - [`sysctl`]: per-namespace sysctls.
//! - [`model`]: the plain data the plan and the apply side share (a node's and a pod's
//!   wanted network, a listed route, MAC text).
//! - [`plan`]: the pure plan: desired node and pods against what is observed, as the steps
//!   that close the difference. Unit-tested without a kernel.
//! - [`podnet`]: a node's pod network observed and applied: the node bridge with its
//!   gateway, and each pod wired to it.
//!
//! - [`backend`]: pod-to-pod across nodes: host-gw routes or a VXLAN overlay, synced to
//!   the other nodes' leases.
//!
//! - [`nft`]: the typed model of an nftables table ([`nft::model`]: sets and maps declared
//!   with their key and value types, elements made of typed parts, commands whose `Display`
//!   is the `nft -f` text), `nft` scripts applied in a namespace as one transaction, and a
//!   terse listing of flatnet's table.
//! - [`nftnl`]: the same typed elements encoded and written over nfnetlink: every change
//!   that only adds or deletes set and map elements (most of them), and the bulk load of a
//!   new table.
//! - [`monitor`]: nftables' and rtnetlink's change notifications, read inside a
//!   namespace and folded into what was deleted under the agent (drift repair).
//! - [`services`]: the `ip flatnet` table — cluster IPs, NodePorts, session affinity,
//!   hairpin and egress NAT — its layout ([`services::layout`], documented there), its pure
//!   rendering and diff, and the [`services::Proxier`] that applies only what changed.
//! - [`policy`]: network policies compiled for one node (sets of pod addresses per peer,
//!   a chain per distinct set of rules, maps from a local pod to its chains), and the
//!   script that moves the table from one plan to the next.

pub mod backend;
pub mod libnft;
pub mod link;
pub mod model;
pub mod monitor;
pub mod names;
pub mod netns;
pub mod nft;
pub mod nftnl;
pub mod plan;
pub mod podnet;
pub mod policy;
pub mod services;
pub mod sysctl;

/// Errors of the kernel side: each says what it was doing and on which object.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("create netns {name}: {source}")]
    CreateNetns { name: String, source: std::io::Error },
    #[error("open netns {name}: {source}")]
    OpenNetns { name: String, source: std::io::Error },
    #[error("delete netns {name}: {source}")]
    DeleteNetns { name: String, source: std::io::Error },
    #[error("enter netns {name}: {source}")]
    EnterNetns { name: String, source: std::io::Error },
    #[error("open netlink socket in netns {netns}: {source}")]
    NetlinkSocket { netns: String, source: std::io::Error },
    #[error("{op}: {source}")]
    Netlink { op: String, source: Box<rtnetlink::Error> },
    #[error("set sysctl {key} in netns {netns}: {source}")]
    Sysctl { key: String, netns: String, source: std::io::Error },
    #[error("link {name} does not exist")]
    MissingLink { name: String },
    #[error("no interface holds the node address {address}")]
    NoUplink { address: std::net::Ipv4Addr },
    #[error("link {name} has no MAC address")]
    NoMac { name: String },
    #[error("bridge port {port} does not forward after {waited:?}")]
    PortNotForwarding { port: String, waited: std::time::Duration },
    #[error("netns {netns}: {source}")]
    Nft { netns: String, source: nft::NftError },
    #[error("invalid name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
}

pub type Result<T> = std::result::Result<T, Error>;
