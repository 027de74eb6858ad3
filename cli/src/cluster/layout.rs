//! The local cluster's topology: every namespace, link and address `flatnet up` makes,
//! derived in one place from the node count and the (normally empty) name prefix.
//!
//! ```text
//!   flatnet-node-1        flatnet-node-2   …        flatnet-internet
//!   eth0 192.168.254.11   eth0 .12                  eth0 203.0.113.1
//!      │                     │                         │
//!   fnfab-1               fnfab-2                    fninet 203.0.113.254
//!      └──── fnfabric 192.168.254.1 (bridge) ────┘     │
//!                      flatnet-fabric (forwarding) ────┘
//! ```
//!
//! The prefix (hidden flag `--name-prefix`, env `FLATNET_CLUSTER_PREFIX`) lets tests run
//! clusters beside a user's: it is inserted into every namespace name
//! (`flatnet-<prefix>node-1`), and interface names, which must fit in 15 bytes, carry a short
//! hash of it instead (`fn<hash6>br`, `fn<hash6>f1`, `fn<hash6>in`).

use std::net::Ipv4Addr;

use netcore::names::{stable_hash, NETNS_PREFIX};

pub const MAX_NODES: u32 = 20;
/// The fabric bridge's address: the nodes' default gateway.
pub const FABRIC_GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 168, 254, 1);
pub const UNDERLAY: Ipv4Addr = Ipv4Addr::new(192, 168, 254, 0);
pub const UNDERLAY_PREFIX: u8 = 24;
/// The fabric's side of the link to the "internet" (TEST-NET-3).
pub const INTERNET_GATEWAY: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 254);
/// The "internet" host: what pods' egress reaches.
pub const INTERNET_HOST: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
pub const INTERNET_PREFIX: u8 = 24;
/// The name of the underlay interface inside a node's (and the internet's) namespace.
pub const NODE_IFNAME: &str = "eth0";

/// Checks a name prefix: lowercase letters, digits and `-`, at most 16 bytes.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    let ok = prefix.len() <= 16 && prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!("name prefix {prefix:?}: use at most 16 lowercase letters, digits and '-'"))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub prefix: String,
    pub nodes: u32,
}

impl Layout {
    pub fn new(prefix: &str, nodes: u32) -> Layout {
        Layout { prefix: prefix.to_string(), nodes }
    }

    fn netns(&self, what: &str) -> String {
        format!("{NETNS_PREFIX}{}{what}", self.prefix)
    }

    /// Interface names: the canonical ones without a prefix, else `fn` + 6 hex digits of the
    /// prefix's hash + `tail`.
    fn ifname(&self, canonical: String, tail: &str) -> String {
        if self.prefix.is_empty() {
            canonical
        } else {
            format!("fn{:06x}{tail}", stable_hash(&self.prefix) >> 40)
        }
    }

    pub fn fabric_netns(&self) -> String {
        self.netns("fabric")
    }

    pub fn internet_netns(&self) -> String {
        self.netns("internet")
    }

    /// The node names: `node-1` … `node-N`.
    pub fn node_name(&self, i: u32) -> String {
        format!("node-{i}")
    }

    pub fn node_netns(&self, i: u32) -> String {
        self.netns(&format!("node-{i}"))
    }

    /// The underlay address of node `i`: 192.168.254.(10+i).
    pub fn node_ip(&self, i: u32) -> Ipv4Addr {
        Ipv4Addr::new(192, 168, 254, 10 + i as u8)
    }

    pub fn fabric_bridge(&self) -> String {
        self.ifname("fnfabric".into(), "br")
    }

    /// The fabric's end of node `i`'s veth (the node's end is `eth0`).
    pub fn fabric_veth(&self, i: u32) -> String {
        self.ifname(format!("fnfab-{i}"), &format!("f{i}"))
    }

    /// The fabric's end of the internet's veth.
    pub fn internet_veth(&self) -> String {
        self.ifname("fninet".into(), "in")
    }

    pub fn node_indices(&self) -> impl Iterator<Item = u32> {
        1..=self.nodes
    }

    /// Every namespace, in creation order (fabric first, since the others attach to it).
    pub fn namespaces(&self) -> Vec<String> {
        let mut all = vec![self.fabric_netns(), self.internet_netns()];
        all.extend(self.node_indices().map(|i| self.node_netns(i)));
        all
    }

    /// Every link made in the fabric namespace (the peers `eth0` live in the other namespaces).
    pub fn fabric_links(&self) -> Vec<String> {
        let mut all: Vec<String> = self.node_indices().map(|i| self.fabric_veth(i)).collect();
        all.push(self.internet_veth());
        all.push(self.fabric_bridge());
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netcore::names::valid_ifname;

    #[test]
    fn canonical_names_without_prefix() {
        let l = Layout::new("", 3);
        assert_eq!(l.fabric_netns(), "flatnet-fabric");
        assert_eq!(l.internet_netns(), "flatnet-internet");
        assert_eq!(l.node_netns(2), "flatnet-node-2");
        assert_eq!(l.fabric_bridge(), "fnfabric");
        assert_eq!(l.fabric_veth(3), "fnfab-3");
        assert_eq!(l.internet_veth(), "fninet");
        assert_eq!(l.node_ip(1), Ipv4Addr::new(192, 168, 254, 11));
        assert_eq!(l.namespaces().len(), 5);
    }

    #[test]
    fn prefixed_names_are_distinct_and_fit() {
        let l = Layout::new("t12345678-99-", MAX_NODES);
        let plain = Layout::new("", MAX_NODES);
        assert_eq!(l.node_netns(20), "flatnet-t12345678-99-node-20");
        for name in l.fabric_links() {
            assert!(valid_ifname(&name) && name.starts_with("fn"), "{name}");
            assert!(!plain.fabric_links().contains(&name), "{name}");
        }
        for name in plain.fabric_links() {
            assert!(valid_ifname(&name), "{name}");
        }
        assert_ne!(Layout::new("a-", 1).fabric_bridge(), Layout::new("b-", 1).fabric_bridge());
        assert_eq!(l.node_ip(20), Ipv4Addr::new(192, 168, 254, 30));
    }

    #[test]
    fn prefix_rules() {
        assert!(check_prefix("").is_ok());
        assert!(check_prefix("t1a2-").is_ok());
        assert!(check_prefix("Bad").is_err());
        assert!(check_prefix("a/b").is_err());
        assert!(check_prefix(&"x".repeat(17)).is_err());
    }
}
