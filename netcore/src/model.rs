//! The plain data both sides share: what a node's and a pod's network should be (the
//! input of [`crate::plan`] and of [`crate::podnet`]'s apply), a route as the kernel lists
//! it, and MAC addresses as leases carry them. No I/O and no imports from the apply side,
//! so the plan depends on nothing that talks to the kernel.

use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;

/// The node side: its bridge and the gateway address of its pod subnet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeNetwork {
    pub bridge: String,
    pub gateway: Ipv4Addr,
    /// Prefix length of the node's pod subnet (24 for a /24 lease).
    pub prefix: u8,
}

impl NodeNetwork {
    /// The node's pod subnet.
    pub fn subnet(&self) -> ipnetwork::Ipv4Network {
        let net = ipnetwork::Ipv4Network::new(self.gateway, self.prefix).expect("a prefix of at most 32");
        ipnetwork::Ipv4Network::new(net.network(), self.prefix).expect("a prefix of at most 32")
    }
}

/// One pod's wiring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodNetwork {
    pub netns: String,
    pub host_veth: String,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    /// The MTU of both veth ends, when the node's backend needs one lower than the default
    /// (VXLAN: the overlay's), so that a pod never sends what the overlay cannot carry.
    pub mtu: Option<u32>,
}

/// A route as listed: destination, gateway, output interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteEntry {
    pub dst: Ipv4Network,
    pub gateway: Option<Ipv4Addr>,
    pub oif: Option<u32>,
}

/// A MAC address as text: six lowercase hex pairs joined by colons.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// The MAC address flatnet gives an interface whose IPv4 address is `ip`: `0a:58` and the
/// address's four bytes (locally administered, unicast), as the CNI bridge plugin once did.
/// A pod's `eth0` and a node's pod bridge get it, so a pod wired again (its veth deleted
/// under the agent and re-created) or a new pod reusing an address keeps the MAC that the
/// node's and the other pods' neighbour caches hold; with a random one they would send to
/// the old MAC until their entries went stale (tens of seconds).
pub fn mac_of(ip: std::net::Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x0a, 0x58, a, b, c, d]
}

/// The MAC address written as [`format_mac`] writes it (either case), if `s` is one.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let bytes: Vec<u8> = s.split(':').filter_map(|p| u8::from_str_radix(p, 16).ok()).collect();
    bytes.try_into().ok().filter(|_| s.split(':').count() == 6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mac_round_trips_through_its_text() {
        let mac = [0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f];
        assert_eq!(format_mac(&mac), "0a:1b:2c:3d:4e:5f");
        assert_eq!(parse_mac("0a:1b:2c:3d:4e:5f"), Some(mac));
    }

    #[test]
    fn the_mac_of_an_address_is_local_unicast_and_holds_the_address() {
        let mac = mac_of(std::net::Ipv4Addr::new(10, 244, 2, 7));
        assert_eq!(format_mac(&mac), "0a:58:0a:f4:02:07");
        assert_eq!(mac[0] & 0b11, 0b10, "locally administered, unicast");
    }

    #[test]
    fn a_short_mac_is_refused() {
        assert_eq!(parse_mac("0a:1b:2c"), None);
    }

    #[test]
    fn a_mac_with_a_bad_digit_is_refused() {
        assert_eq!(parse_mac("zz:1b:2c:3d:4e:5f"), None);
    }
}
