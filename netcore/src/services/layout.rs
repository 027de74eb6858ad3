//! The layout of the table `ip flatnet`: its constants, its static chains, and the
//! declarations of its sets and maps, each stating once the types of its keys and values
//! (what both transports encode elements by: [`crate::nft::model`]).
//!
//! Per-service data lives only in **maps and sets**; the chains are few and static, so a
//! service costs a handful of map elements, and dispatch is one hash lookup whatever the
//! number of services. (kube-proxy's nftables mode uses a chain per service and per
//! endpoint, each with an anonymous verdict map; measured on these machines that loads
//! 10,000 services in about 15 s. This layout loads them in about a quarter second: see
//! BENCHMARKS.md.)
//!
//! | hook (priority) | chain | what it does |
//! |---|---|---|
//! | prerouting (-110, filter) | `filter_prerouting` | new connections to a frontend with no endpoint → `reject_service` |
//! | output (-110, filter) | `filter_output` | the same for the node's own connections |
//! | prerouting (-100, nat) | `nat_prerouting` → `services` | DNAT of cluster IPs and NodePorts |
//! | output (-100, nat) | `nat_output` → `services` | the same for the node's own connections |
//! | postrouting (100, nat) | `nat_postrouting` | masquerade: marked packets, hairpin, egress |
//!
//! Cluster DNS: with a cluster DNS address (`TableConfig::cluster_dns`, 10.96.0.10 by
//! default), the first rule of `filter_prerouting` and `filter_output` accepts, and the
//! first of `services` returns, packets to that address on port 53 (UDP and TCP): the
//! address is local on every node, where the agent's DNS server answers, so neither the
//! no-endpoint rejects nor the dispatch may touch it (the `kube-dns` service holds the
//! address and has no endpoints).
//!
//! Chains without a hook:
//! - `services`: `ip daddr . meta l4proto . th dport vmap @service_ips`, then, for packets to
//!   one of the node's own addresses (`fib daddr type local`, loopback excluded),
//!   `meta l4proto . th dport vmap @node_ports`.
//! - `lb_P_N` (one per protocol P and endpoint count N in use, created when first needed,
//!   e.g. `lb_tcp_2`): `dnat ip to ip daddr . meta l4proto . th dport . numgen random mod N
//!   map @lb_slots_P_N`: the frontend and a random slot pick the endpoint in one lookup.
//! - `np_lb_P_N` (NodePort, `externalTrafficPolicy: Cluster`): sets the masquerade mark,
//!   then `dnat ip to meta l4proto . th dport . numgen random mod N map @np_slots_P_N`.
//!   `np_local_lb_P_N` (`Local`): the same over the node's own endpoints, without the mark,
//!   so the pod sees the client's address.
//! - `aff_<service>` and `aff_<service>_<endpoint>` (only for services with
//!   `sessionAffinity: ClientIP`): as in kube-proxy, a client found in an endpoint's timed
//!   set (`flags dynamic,timeout`) goes back to that endpoint; otherwise `numgen` picks one
//!   and the endpoint's chain records the client (`update @set { ip saddr }`). Sticky
//!   services are rare, so their per-service chains cost little. `affnp_<service>` marks
//!   NodePort traffic of such a service for masquerade and goes to `aff_<service>`.
//! - `reject_service`: `reject with tcp reset` for TCP, ICMP port unreachable otherwise.
//!
//! Maps and sets (the ones flatnet fills are the variants of [`ElementSet`]):
//!
//! | name | key → value | elements |
//! |---|---|---|
//! | `service_ips` | cluster IP . proto . port → `goto lb_P_N` / `goto aff_…` | a service port with ready endpoints |
//! | `node_ports` | proto . nodePort → `goto np_lb_P_N` / `goto np_local_lb_P_N` / `goto affnp_…` / `drop` | a NodePort with endpoints (`drop`: `Local` and none on this node, as Kubernetes does) |
//! | `no_endpoints` | cluster IP . proto . port | a service port without ready endpoints |
//! | `no_endpoint_node_ports` | proto . nodePort | a NodePort without ready endpoints |
//! | `lb_slots_P_N` | cluster IP . proto . port . slot → endpoint IP . port | N per service port |
//! | `np_slots_P_N` | proto . nodePort . slot → endpoint IP . port | N per NodePort |
//! | `hairpin` | pod IP . same pod IP | this node's endpoints: a pod reaching itself through a service is masqueraded (else its reply would never be un-NATed) |
//!
//! The slot maps declare their value as `ip daddr . tcp dport` (or `udp dport`), not
//! `th dport`: nft 1.0.6 cannot read back a map declared `: ip daddr . th dport`
//! ("conflicting protocols specified: ip vs. th"), which would fail every later transaction
//! that touches its rule. nft derives a `meta l4proto tcp` match from that declaration,
//! hence one group of chains and maps per protocol.
//!
//! Marks: bit `0x4000` of the packet mark ([`MASQUERADE_MARK`], the bit kube-proxy uses for
//! the same purpose) asks `nat_postrouting` to masquerade; it is cleared there.
//!
//! Egress: `nat_postrouting` masquerades packets from the cluster's pod CIDR to anything
//! outside the pod and service CIDRs, so the outside sees the node's address; pod-to-pod
//! traffic is never masqueraded.
//!
//! # Where network policies go
//!
//! Policies join this table, in this module: their chains with the static ones in
//! [`static_chains`] (with the hooks and priorities in the table above), their sets (pod
//! addresses per selector, allowed ports) as new variants of [`ElementSet`] with their
//! declarations in [`ElementSet::declaration`], and any mark bit of their own beside
//! [`MASQUERADE_MARK`]. What a policy puts in those sets is then rendered next to what a
//! service port puts in its maps ([`super::render`]), and both transports carry the
//! elements without further change. Drift in those chains and sets reaches the policy
//! enforcer as it reaches the proxy (`nodeagent::drift`: subscribe, repair what it owns).

use crate::nft::model::{
    BaseChain, Chain, ChainType, Command, Datatype, Expr, Hook, MapData, Policy, Proto, Set, SetFlag, Table, Type,
};
use crate::nft::{FAMILY, TABLE};

use super::TableConfig;

/// flatnet's table.
pub const FLATNET: Table = Table { family: FAMILY, name: TABLE };

/// The packet mark bit that asks for masquerade.
pub const MASQUERADE_MARK: u32 = 0x4000;

/// The sets and maps whose elements flatnet writes (the per-endpoint sets of sticky
/// services are filled by the kernel: [`affinity_set`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ElementSet {
    ServiceIps,
    NodePorts,
    NoEndpoints,
    NoEndpointNodePorts,
    Hairpin,
    /// `lb_slots_P_N`.
    LbSlots(Group),
    /// `np_slots_P_N`.
    NpSlots(Group),
}

/// The sets that always exist, in the order they are declared.
pub const STATIC_SETS: [ElementSet; 5] = [
    ElementSet::ServiceIps,
    ElementSet::NodePorts,
    ElementSet::NoEndpoints,
    ElementSet::NoEndpointNodePorts,
    ElementSet::Hairpin,
];

/// A frontend: cluster IP . protocol . port.
const FRONTEND: [Expr; 3] = [Expr::IpDaddr, Expr::L4Proto, Expr::ThDport];
/// A NodePort: protocol . port.
const NODE_PORT: [Expr; 2] = [Expr::L4Proto, Expr::ThDport];

impl ElementSet {
    pub fn name(self) -> String {
        match self {
            ElementSet::ServiceIps => "service_ips".into(),
            ElementSet::NodePorts => "node_ports".into(),
            ElementSet::NoEndpoints => "no_endpoints".into(),
            ElementSet::NoEndpointNodePorts => "no_endpoint_node_ports".into(),
            ElementSet::Hairpin => "hairpin".into(),
            ElementSet::LbSlots(g) => format!("lb_slots_{}", group_name(g)),
            ElementSet::NpSlots(g) => format!("np_slots_{}", group_name(g)),
        }
    }

    /// The declaration: its key type and, for a map, its value type.
    pub fn declaration(self) -> Set {
        let name = self.name();
        // An endpoint: its address and port, with the protocol the map's rule implies.
        let endpoint = |proto| MapData::Data(Type::Typeof(vec![Expr::IpDaddr, Expr::Dport(proto)]));
        match self {
            ElementSet::ServiceIps => Set::map(name, Type::Typeof(FRONTEND.to_vec()), MapData::Verdict),
            ElementSet::NodePorts => Set::map(name, Type::Typeof(NODE_PORT.to_vec()), MapData::Verdict),
            ElementSet::NoEndpoints => Set::plain(name, Type::Typeof(FRONTEND.to_vec())),
            ElementSet::NoEndpointNodePorts => Set::plain(name, Type::Typeof(NODE_PORT.to_vec())),
            ElementSet::Hairpin => Set::plain(name, Type::Typeof(vec![Expr::IpSaddr, Expr::IpDaddr])),
            ElementSet::LbSlots((proto, n)) => {
                let key = [&FRONTEND[..], &[slot(n)]].concat();
                Set::map(name, Type::Typeof(key), endpoint(proto))
            }
            ElementSet::NpSlots((proto, n)) => {
                let key = [&NODE_PORT[..], &[slot(n)]].concat();
                Set::map(name, Type::Typeof(key), endpoint(proto))
            }
        }
    }
}

/// The random slot of a group of `n` endpoints.
fn slot(n: usize) -> Expr {
    Expr::NumgenRandomMod(u32::try_from(n).unwrap_or(u32::MAX))
}

/// An endpoint's set of sticky clients (`timeout` seconds each), filled by its chain.
pub fn affinity_set(name: String, timeout: u32) -> Set {
    Set {
        flags: vec![SetFlag::Dynamic, SetFlag::Timeout],
        timeout: Some(timeout),
        ..Set::plain(name, Type::Type(vec![Datatype::Ipv4Addr]))
    }
}

/// A static chain and its rules.
pub struct StaticChain {
    pub chain: Chain,
    pub rules: Vec<String>,
}

/// The port the cluster DNS answers on, UDP and TCP.
pub const DNS_PORT: u16 = 53;

/// The rule that hands queries to the cluster DNS address to the node's own server, with
/// `verdict`: `accept` ends a filter chain before its rejects, `return` leaves `services`
/// before dispatch. So the `kube-dns` service, whose address this is and which has no
/// endpoints, is never rejected nor DNATed.
fn dns_rule(config: &TableConfig, verdict: &str) -> Option<String> {
    config.cluster_dns.map(|ip| format!("ip daddr {ip} meta l4proto {{ tcp, udp }} th dport {DNS_PORT} {verdict}"))
}

/// The static chains, in the order they are declared.
pub fn static_chains(config: &TableConfig) -> Vec<StaticChain> {
    let reject_checks = || {
        dns_rule(config, "accept")
            .into_iter()
            .chain([
                "ct state new ip daddr . meta l4proto . th dport @no_endpoints goto reject_service".to_string(),
                "ct state new fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport @no_endpoint_node_ports goto reject_service"
                    .to_string(),
            ])
            .collect()
    };
    let base = |kind, hook, priority| Some(BaseChain { kind, hook, priority, policy: Policy::Accept });
    let chain = |name: &str, base, rules| StaticChain { chain: Chain { name: name.into(), base }, rules };
    let mark = MASQUERADE_MARK;
    vec![
        chain("reject_service", None, vec!["meta l4proto tcp reject with tcp reset".into(), "reject".into()]),
        chain(
            "services",
            None,
            dns_rule(config, "return")
                .into_iter()
                .chain([
                    "ip daddr . meta l4proto . th dport vmap @service_ips".into(),
                    "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @node_ports".into(),
                ])
                .collect(),
        ),
        chain("filter_prerouting", base(ChainType::Filter, Hook::Prerouting, -110), reject_checks()),
        chain("filter_output", base(ChainType::Filter, Hook::Output, -110), reject_checks()),
        chain("nat_prerouting", base(ChainType::Nat, Hook::Prerouting, -100), vec!["jump services".into()]),
        chain("nat_output", base(ChainType::Nat, Hook::Output, -100), vec!["jump services".into()]),
        chain(
            "nat_postrouting",
            base(ChainType::Nat, Hook::Postrouting, 100),
            vec![
                format!(
                    "meta mark & {mark:#x} == {mark:#x} meta mark set meta mark & {:#x} masquerade fully-random",
                    !mark
                ),
                "ct status dnat ip saddr . ip daddr @hairpin masquerade".into(),
                format!(
                    "ip saddr {pods} ip daddr != {{ {pods}, {svcs} }} masquerade",
                    pods = config.pod_cidr,
                    svcs = config.service_cidr
                ),
            ],
        ),
    ]
}

/// A group of shared objects: one chain (two for NodePorts) and one slot map per protocol
/// and endpoint count, e.g. `lb_tcp_2` with `lb_slots_tcp_2`. Per protocol because nft
/// derives a protocol match from the map's declared value (`ip daddr . tcp dport` adds
/// `meta l4proto tcp` to the rule).
pub type Group = (Proto, usize);

pub fn group_name((proto, n): Group) -> String {
    format!("{}_{n}", proto.nft())
}

fn parse_group(s: &str) -> Option<Group> {
    let (proto, n) = s.split_once('_')?;
    let proto = match proto {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        _ => return None,
    };
    Some((proto, n.parse().ok()?))
}

/// The groups whose slot maps (`prefix` `lb_slots_` or `np_slots_`) are among `sets`: what
/// an existing table holds.
pub fn groups_in<'a>(sets: impl IntoIterator<Item = &'a String>, prefix: &str) -> Vec<Group> {
    sets.into_iter().filter_map(|s| parse_group(s.strip_prefix(prefix)?)).collect()
}

/// The slot map of the group whose chain is `chain` (`lb_tcp_2` → `lb_slots_tcp_2`,
/// `np_lb_udp_1` and `np_local_lb_udp_1` → `np_slots_udp_1`).
pub fn chain_group(chain: &str) -> Option<ElementSet> {
    if let Some(g) = chain.strip_prefix("np_local_lb_").or_else(|| chain.strip_prefix("np_lb_")) {
        return parse_group(g).map(ElementSet::NpSlots);
    }
    parse_group(chain.strip_prefix("lb_")?).map(ElementSet::LbSlots)
}

/// The shared objects of a cluster IP group: its slot map and its chain.
pub fn write_lb_objects(script: &mut String, g: Group) {
    let (_, n) = g;
    let name = group_name(g);
    let chain = format!("lb_{name}");
    FLATNET.write(script, Command::AddSet(&ElementSet::LbSlots(g).declaration()));
    FLATNET.write(script, Command::AddChain(&Chain::regular(chain.as_str())));
    FLATNET.write(script, Command::FlushChain(&chain));
    let rule = format!("dnat ip to ip daddr . meta l4proto . th dport . numgen random mod {n} map @lb_slots_{name}");
    FLATNET.write(script, Command::AddRule(&chain, &rule));
}

/// The shared objects of a NodePort group: its slot map and its two chains.
pub fn write_np_objects(script: &mut String, g: Group) {
    let (_, n) = g;
    let name = group_name(g);
    let dnat = format!("dnat ip to meta l4proto . th dport . numgen random mod {n} map @np_slots_{name}");
    FLATNET.write(script, Command::AddSet(&ElementSet::NpSlots(g).declaration()));
    for (chain, rule) in [
        (format!("np_lb_{name}"), format!("meta mark set meta mark | {MASQUERADE_MARK:#x} {dnat}")),
        (format!("np_local_lb_{name}"), dnat.clone()),
    ] {
        FLATNET.write(script, Command::AddChain(&Chain::regular(chain.as_str())));
        FLATNET.write(script, Command::FlushChain(&chain));
        FLATNET.write(script, Command::AddRule(&chain, &rule));
    }
}
