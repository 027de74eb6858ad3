//! Address arithmetic for the allocators: which subnets a pod CIDR splits into, which
//! addresses of a subnet are pod IPs, which service addresses are handed out automatically.
//! Pure functions; the allocators in the store pick among these candidates under a
//! transaction, with the database's primary keys as the final guard against doubles.

use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;

/// Automatic cluster IPs start at this offset of the service CIDR: the addresses below it
/// are handed out only when asked for, so a well-known address (DNS at `.10`, like
/// Kubernetes) is still free when its service is created after others.
pub const SERVICE_STATIC_BAND: u32 = 16;

/// How many node subnets of `/prefix` the pod CIDR holds.
pub fn subnet_count(pod_cidr: Ipv4Network, prefix: u8) -> u32 {
    1u32 << (prefix - pod_cidr.prefix())
}

/// The `index`th node subnet of the pod CIDR.
pub fn subnet_at(pod_cidr: Ipv4Network, prefix: u8, index: u32) -> Ipv4Network {
    let size = 1u32 << (32 - prefix);
    let base = u32::from(pod_cidr.network()) + index * size;
    Ipv4Network::new(Ipv4Addr::from(base), prefix).expect("prefix validated at startup")
}

/// The address at `offset` from the network address.
pub fn host_at(net: Ipv4Network, offset: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()) + offset)
}

/// Offset of `ip` in `net`, if it is inside.
pub fn offset_of(net: Ipv4Network, ip: Ipv4Addr) -> Option<u32> {
    net.contains(ip).then(|| u32::from(ip) - u32::from(net.network()))
}

/// The pod gateway of a node subnet: its first address.
pub fn gateway(subnet: Ipv4Network) -> Ipv4Addr {
    host_at(subnet, 1)
}

/// Offsets of a node subnet usable as pod IPs: not the network address, not the gateway
/// (offset 1), not the broadcast address.
pub fn pod_offsets(subnet: Ipv4Network) -> std::ops::RangeInclusive<u32> {
    2..=subnet.size() - 2
}

/// Offsets of the service CIDR handed out automatically.
pub fn service_auto_offsets(cidr: Ipv4Network) -> std::ops::RangeInclusive<u32> {
    let first = if cidr.size() > 4 * SERVICE_STATIC_BAND { SERVICE_STATIC_BAND } else { 1 };
    first..=cidr.size() - 2
}

/// Whether a requested cluster IP is usable: inside the CIDR and neither its network nor
/// its broadcast address.
pub fn service_ip_usable(cidr: Ipv4Network, ip: Ipv4Addr) -> bool {
    matches!(offset_of(cidr, ip), Some(o) if o >= 1 && o <= cidr.size() - 2)
}

/// The candidates after `cursor` in `range`, wrapping around once: allocation continues
/// where it left off, so a just-freed address is reused last (a peer may still hold state
/// for it, like conntrack entries).
pub fn after_cursor(range: std::ops::RangeInclusive<u32>, cursor: u32) -> impl Iterator<Item = u32> {
    let (lo, hi) = (*range.start(), *range.end());
    let start = if cursor >= lo && cursor < hi { cursor + 1 } else { lo };
    (start..=hi).chain(lo..start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Network {
        s.parse().unwrap()
    }

    #[test]
    fn subnets_split_the_pod_cidr() {
        let pod = net("10.244.0.0/16");
        assert_eq!(subnet_count(pod, 24), 256);
        assert_eq!(subnet_at(pod, 24, 0), net("10.244.0.0/24"));
        assert_eq!(subnet_at(pod, 24, 255), net("10.244.255.0/24"));
        assert_eq!(gateway(net("10.244.3.0/24")), Ipv4Addr::new(10, 244, 3, 1));
    }

    #[test]
    fn pod_ips_skip_network_gateway_broadcast() {
        let r = pod_offsets(net("10.244.3.0/24"));
        assert_eq!((*r.start(), *r.end()), (2, 254));
        let r = pod_offsets(net("10.244.3.0/29"));
        assert_eq!(r.count(), 5);
    }

    #[test]
    fn cursor_wraps_once() {
        let v: Vec<u32> = after_cursor(2..=6, 4).collect();
        assert_eq!(v, vec![5, 6, 2, 3, 4]);
        let v: Vec<u32> = after_cursor(2..=6, 6).collect();
        assert_eq!(v, vec![2, 3, 4, 5, 6]);
        let v: Vec<u32> = after_cursor(2..=6, 0).collect();
        assert_eq!(v, vec![2, 3, 4, 5, 6]);
    }

    #[test]
    fn service_addresses() {
        let svc = net("10.96.0.0/16");
        assert_eq!(*service_auto_offsets(svc).start(), SERVICE_STATIC_BAND);
        assert!(service_ip_usable(svc, "10.96.0.10".parse().unwrap()));
        assert!(!service_ip_usable(svc, "10.96.0.0".parse().unwrap()));
        assert!(!service_ip_usable(svc, "10.96.255.255".parse().unwrap()));
        assert!(!service_ip_usable(svc, "10.97.0.1".parse().unwrap()));
    }
}
