//! Names of the kernel objects flatnet makes. Every name is derived here and starts with
//! [`PREFIX`] (interfaces) or [`NETNS_PREFIX`] (namespaces), so cleanup can find everything
//! flatnet made and nothing else.

/// Linux interface names hold at most 15 bytes (IFNAMSIZ 16 with the NUL).
pub const IFNAME_MAX: usize = 15;
/// The prefix of every interface flatnet creates.
pub const PREFIX: &str = "fn";
/// The prefix of every network namespace flatnet creates.
pub const NETNS_PREFIX: &str = "flatnet-";

/// FNV-1a, 64 bit: a stable hash (the same on every node and every run, unlike std's
/// `DefaultHasher`, whose output may change between Rust releases).
pub fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The host-side veth of a pod: `fn` + 11 hex digits of the hash of the pod's uid
/// (13 bytes ≤ [`IFNAME_MAX`]). 44 bits make a collision among a node's pods negligible.
pub fn pod_veth(pod_uid: &str) -> String {
    format!("{PREFIX}{:011x}", stable_hash(pod_uid) >> 20)
}

/// The bridge of a node's pods, inside the node's namespace.
pub const NODE_BRIDGE: &str = "fnbr0";

/// The prefix of the namespaces of the pods of `node`: nodes of the local cluster share
/// `/run/netns`, and each agent must find its own pods' namespaces and no other node's.
pub fn pod_netns_prefix(node: &str) -> String {
    format!("{NETNS_PREFIX}p{:08x}-", stable_hash(node) >> 32)
}

/// The network namespace of a pod on `node`: the node's prefix, the pod's namespace and
/// name for people reading `ip netns`, and a hash of its uid for uniqueness.
pub fn pod_netns(node: &str, namespace: &str, name: &str, pod_uid: &str) -> String {
    let readable: String = format!("{namespace}-{name}").chars().take(40).collect();
    format!("{}{readable}-{:08x}", pod_netns_prefix(node), stable_hash(pod_uid) >> 32)
}

/// Whether `name` has the shape of a pod's host veth ([`pod_veth`]).
pub fn is_pod_veth(name: &str) -> bool {
    name.len() == 13
        && name.starts_with(PREFIX)
        && name[2..].bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Whether `name` is a usable interface name.
pub fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= IFNAME_MAX
        && name != "."
        && name != ".."
        && !name.bytes().any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn veth_names_are_short_stable_and_prefixed() {
        let a = pod_veth("2f0b6c4e-1d2a-4b8e-9c1f-0a1b2c3d4e5f");
        assert_eq!(a, pod_veth("2f0b6c4e-1d2a-4b8e-9c1f-0a1b2c3d4e5f"));
        assert_ne!(a, pod_veth("2f0b6c4e-1d2a-4b8e-9c1f-0a1b2c3d4e60"));
        assert!(a.starts_with(PREFIX) && valid_ifname(&a), "{a}");
        assert_eq!(a.len(), 13);
        assert!(is_pod_veth(&a));
        assert!(!is_pod_veth(NODE_BRIDGE) && !is_pod_veth("fnvx0") && !is_pod_veth("fnzzzzzzzzzzz"));
    }

    #[test]
    fn netns_names_are_bounded_readable_and_scoped_by_node() {
        let n = pod_netns("node-1", "default", &"x".repeat(200), "uid");
        assert!(n.starts_with(&pod_netns_prefix("node-1")), "{n}");
        assert!(n.contains("-default-xxx"), "{n}");
        assert!(n.len() < 80);
        assert_ne!(pod_netns("n", "a", "b", "uid1"), pod_netns("n", "a", "b", "uid2"));
        assert!(!pod_netns("node-1", "a", "b", "u").starts_with(&pod_netns_prefix("node-12")));
    }

    #[test]
    fn fnv_is_the_reference_value() {
        // FNV-1a 64 of "a", from the reference tables: the hash must never change.
        assert_eq!(stable_hash("a"), 0xaf63dc4c8601ec8c);
    }

    #[test]
    fn interface_name_rules() {
        assert!(valid_ifname("fn0123456789a"));
        assert!(!valid_ifname("this-name-is-too-long"));
        assert!(!valid_ifname("a/b"));
        assert!(!valid_ifname(""));
    }
}
