//! Services, NodePorts and egress NAT in flatnet's nftables table: the layout, its rendering
//! (pure, golden-tested) and the [`Proxier`] that keeps the kernel's table equal to the
//! desired service ports by applying only the difference of each change.
//!
//! # The table `ip flatnet`
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
//! Maps and sets:
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
//! # Changes
//!
//! The [`Proxier`] remembers what it applied. A change to one service port renders as the
//! element deletions and additions (and, for sticky services, the chains) of that service
//! port only, in one transaction: no rewrite of the whole table and no read-back from the
//! kernel. A change that only adds and removes elements (most: endpoints come and go) is
//! sent as one nfnetlink batch ([`crate::nftnl`]), whose cost does not grow with the table;
//! one that creates or removes chains or sets is an `nft -f` script. A new table's chains
//! go in with `nft -f` and its elements with one nfnetlink batch. When an agent starts it adopts the table it finds: one transaction
//! re-declares the static part, replaces the maps' elements with the desired ones and
//! removes chains and sets of services that are gone — the table is never absent or empty
//! in between, so established connections and new ones keep working through a restart.
//! Sticky clients are kept too (the endpoints' sets survive).
//!
//! When a UDP endpoint goes away, the conntrack entries that NAT to it are deleted (for
//! that frontend only), so a client that keeps sending reaches a live endpoint, or is
//! rejected, instead of a dead one. Conntrack is never flushed wholesale.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;

use crate::names::stable_hash;
use crate::netns::Netns;
use crate::nft::{self, FAMILY, TABLE};
use crate::nftnl::{self, Op};
use crate::Result;

/// The packet mark bit that asks for masquerade.
pub const MASQUERADE_MARK: u32 = 0x4000;

/// Transport protocol of a service port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn nft(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

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

impl ServicePort {
    /// Sort and deduplicate the endpoints, so equal inputs render equal rules.
    pub fn normalize(mut self) -> Self {
        self.endpoints.sort();
        self.endpoints.dedup_by(|a, b| a.ip == b.ip && a.port == b.port);
        self
    }

    fn frontend(&self) -> String {
        format!("{} . {} . {}", self.cluster_ip, self.proto.nft(), self.port)
    }

    /// The endpoints that serve its NodePort on this node.
    fn node_port_endpoints(&self) -> Vec<Endpoint> {
        self.endpoints.iter().copied().filter(|e| !self.external_local || e.local).collect()
    }

    fn affinity_chain(&self) -> String {
        format!("aff_{:012x}", stable_hash(&self.name) & 0xffff_ffff_ffff)
    }

    /// Endpoint names include the timeout: a changed timeout makes new sets.
    fn affinity_endpoint(&self, e: &Endpoint, timeout: u32) -> String {
        let h = stable_hash(&format!("{}:{}/{timeout}", e.ip, e.port)) & 0xffff_ffff;
        format!("{}_{h:08x}", self.affinity_chain())
    }
}

/// The cluster-wide facts the static part of the table needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableConfig {
    /// The cluster's pod CIDR (every node's lease is inside it).
    pub pod_cidr: Ipv4Network,
    pub service_cidr: Ipv4Network,
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

// ---------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------

/// The static declarations: every `add` is a no-op when the object exists as declared.
const STATIC_SETS: &[(&str, &str)] = &[
    ("service_ips", "map service_ips { typeof ip daddr . meta l4proto . th dport : verdict; }"),
    ("node_ports", "map node_ports { typeof meta l4proto . th dport : verdict; }"),
    ("no_endpoints", "set no_endpoints { typeof ip daddr . meta l4proto . th dport; }"),
    ("no_endpoint_node_ports", "set no_endpoint_node_ports { typeof meta l4proto . th dport; }"),
    ("hairpin", "set hairpin { typeof ip saddr . ip daddr; }"),
];

/// The static chains: name, declaration, rules.
fn static_chains(config: &TableConfig) -> Vec<(&'static str, &'static str, Vec<String>)> {
    let reject_checks = || {
        vec![
            "ct state new ip daddr . meta l4proto . th dport @no_endpoints goto reject_service".to_string(),
            "ct state new fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport @no_endpoint_node_ports goto reject_service"
                .to_string(),
        ]
    };
    let mark = MASQUERADE_MARK;
    vec![
        ("reject_service", "", vec!["meta l4proto tcp reject with tcp reset".into(), "reject".into()]),
        (
            "services",
            "",
            vec![
                "ip daddr . meta l4proto . th dport vmap @service_ips".into(),
                "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @node_ports".into(),
            ],
        ),
        ("filter_prerouting", "type filter hook prerouting priority -110; policy accept;", reject_checks()),
        ("filter_output", "type filter hook output priority -110; policy accept;", reject_checks()),
        ("nat_prerouting", "type nat hook prerouting priority -100; policy accept;", vec!["jump services".into()]),
        ("nat_output", "type nat hook output priority -100; policy accept;", vec!["jump services".into()]),
        (
            "nat_postrouting",
            "type nat hook postrouting priority 100; policy accept;",
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

fn group_name((proto, n): Group) -> String {
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

fn lb_objects(g: Group) -> String {
    let (proto, n) = g;
    let (g, p) = (group_name(g), proto.nft());
    format!(
        "add map {FAMILY} {TABLE} lb_slots_{g} {{ typeof ip daddr . meta l4proto . th dport . numgen random mod {n} : ip daddr . {p} dport; }}\n\
         add chain {FAMILY} {TABLE} lb_{g}\n\
         flush chain {FAMILY} {TABLE} lb_{g}\n\
         add rule {FAMILY} {TABLE} lb_{g} dnat ip to ip daddr . meta l4proto . th dport . numgen random mod {n} map @lb_slots_{g}\n"
    )
}

fn np_objects(g: Group) -> String {
    let mark = MASQUERADE_MARK;
    let (proto, n) = g;
    let (g, p) = (group_name(g), proto.nft());
    let dnat = format!("dnat ip to meta l4proto . th dport . numgen random mod {n} map @np_slots_{g}");
    format!(
        "add map {FAMILY} {TABLE} np_slots_{g} {{ typeof meta l4proto . th dport . numgen random mod {n} : ip daddr . {p} dport; }}\n\
         add chain {FAMILY} {TABLE} np_lb_{g}\n\
         flush chain {FAMILY} {TABLE} np_lb_{g}\n\
         add rule {FAMILY} {TABLE} np_lb_{g} meta mark set meta mark | {mark:#x} {dnat}\n\
         add chain {FAMILY} {TABLE} np_local_lb_{g}\n\
         flush chain {FAMILY} {TABLE} np_local_lb_{g}\n\
         add rule {FAMILY} {TABLE} np_local_lb_{g} {dnat}\n"
    )
}

/// Everything one service port puts in the table.
#[derive(Debug, Default, PartialEq, Eq)]
struct Contents {
    /// (set, key) → value (`None` for a plain set).
    elements: BTreeMap<(String, String), Option<String>>,
    /// Chains of its own: name → rules (sticky services only).
    chains: BTreeMap<String, Vec<String>>,
    /// Sets of its own: name → declaration body.
    sets: BTreeMap<String, String>,
    lb_sizes: BTreeSet<Group>,
    np_sizes: BTreeSet<Group>,
    /// Local endpoint IPs (the `hairpin` set is shared: reference-counted).
    hairpin: BTreeSet<Ipv4Addr>,
}

fn contents(sp: &ServicePort) -> Contents {
    let mut c = Contents::default();
    let mut elem = |set: &str, key: String, value: Option<String>| {
        c.elements.insert((set.to_string(), key), value);
    };
    let n = sp.endpoints.len();
    let frontend = sp.frontend();
    if n == 0 {
        elem("no_endpoints", frontend.clone(), None);
    } else if sp.affinity_seconds.is_some() {
        elem("service_ips", frontend.clone(), Some(format!("goto {}", sp.affinity_chain())));
    } else {
        let g = group_name((sp.proto, n));
        elem("service_ips", frontend.clone(), Some(format!("goto lb_{g}")));
        for (slot, e) in sp.endpoints.iter().enumerate() {
            elem(&format!("lb_slots_{g}"), format!("{frontend} . {slot}"), Some(format!("{} . {}", e.ip, e.port)));
        }
    }
    if let Some(np) = sp.node_port {
        let key = format!("{} . {np}", sp.proto.nft());
        let eps = sp.node_port_endpoints();
        let m = eps.len();
        if n == 0 {
            elem("no_endpoint_node_ports", key, None);
        } else if m == 0 {
            // Local, and none of the endpoints is on this node.
            elem("node_ports", key, Some("drop".into()));
        } else if sp.affinity_seconds.is_some() && !sp.external_local {
            elem("node_ports", key, Some(format!("goto affnp_{}", &sp.affinity_chain()[4..])));
        } else {
            let chain = if sp.external_local { "np_local_lb" } else { "np_lb" };
            let g = group_name((sp.proto, m));
            elem("node_ports", key.clone(), Some(format!("goto {chain}_{g}")));
            for (slot, e) in eps.iter().enumerate() {
                elem(&format!("np_slots_{g}"), format!("{key} . {slot}"), Some(format!("{} . {}", e.ip, e.port)));
            }
            c.np_sizes.insert((sp.proto, m));
        }
    }
    if n > 0 {
        match sp.affinity_seconds {
            Some(timeout) => affinity_objects(sp, timeout, &mut c),
            None => {
                c.lb_sizes.insert((sp.proto, n));
            }
        }
    }
    c.hairpin = sp.endpoints.iter().filter(|e| e.local).map(|e| e.ip).collect();
    c
}

fn affinity_objects(sp: &ServicePort, timeout: u32, c: &mut Contents) {
    let chain = sp.affinity_chain();
    let mut dispatch = Vec::new();
    let mut slots = Vec::new();
    for (slot, e) in sp.endpoints.iter().enumerate() {
        let ep = sp.affinity_endpoint(e, timeout);
        c.sets.insert(ep.clone(), format!("type ipv4_addr; flags dynamic,timeout; timeout {timeout}s;"));
        c.chains.insert(
            ep.clone(),
            vec![
                format!("update @{ep} {{ ip saddr }}"),
                format!("meta l4proto {} dnat ip to {}:{}", sp.proto.nft(), e.ip, e.port),
            ],
        );
        dispatch.push(format!("ip saddr @{ep} goto {ep}"));
        slots.push(format!("{slot} : goto {ep}"));
    }
    dispatch.push(format!("numgen random mod {} vmap {{ {} }}", sp.endpoints.len(), slots.join(", ")));
    c.chains.insert(chain.clone(), dispatch);
    if sp.node_port.is_some() && !sp.external_local {
        c.chains.insert(
            format!("affnp_{}", &chain[4..]),
            vec![format!("meta mark set meta mark | {MASQUERADE_MARK:#x} goto {chain}")],
        );
    }
}

/// One transaction under construction, in the order the kernel needs: element deletions,
/// flushes of chains that change or go, deletions of chains then sets, creations (sets,
/// then empty chains, then rules), element additions.
#[derive(Default)]
struct Tx {
    head: String,
    del_elements: BTreeMap<String, Vec<String>>,
    flush_chains: BTreeSet<String>,
    del_chains: BTreeSet<String>,
    del_sets: BTreeSet<String>,
    shared: String,
    add_sets: BTreeMap<String, String>,
    add_chains: BTreeSet<String>,
    rules: Vec<(String, String)>,
    add_elements: BTreeMap<String, Vec<String>>,
}

impl Tx {
    fn is_empty(&self) -> bool {
        self.elements_only() && self.del_elements.is_empty() && self.add_elements.is_empty()
    }

    /// Whether the transaction only adds and deletes elements (then nfnetlink carries it).
    fn elements_only(&self) -> bool {
        self.head.is_empty()
            && self.flush_chains.is_empty()
            && self.del_chains.is_empty()
            && self.del_sets.is_empty()
            && self.shared.is_empty()
            && self.add_sets.is_empty()
            && self.add_chains.is_empty()
            && self.rules.is_empty()
    }

    /// The element changes in order: deletions, then additions.
    fn element_ops(&self) -> Vec<(Op, String, Vec<String>)> {
        let dels = self.del_elements.iter().map(|(s, k)| (Op::Delete, s.clone(), k.clone()));
        dels.chain(self.add_elements.iter().map(|(s, e)| (Op::Add, s.clone(), e.clone()))).collect()
    }

    fn render(&self) -> String {
        let mut s = self.head.clone();
        for (set, keys) in &self.del_elements {
            let _ = writeln!(s, "delete element {FAMILY} {TABLE} {set} {{ {} }}", keys.join(", "));
        }
        for c in &self.flush_chains {
            let _ = writeln!(s, "flush chain {FAMILY} {TABLE} {c}");
        }
        for c in &self.del_chains {
            let _ = writeln!(s, "delete chain {FAMILY} {TABLE} {c}");
        }
        for set in &self.del_sets {
            let _ = writeln!(s, "delete set {FAMILY} {TABLE} {set}");
        }
        s.push_str(&self.shared);
        for (set, body) in &self.add_sets {
            let _ = writeln!(s, "add set {FAMILY} {TABLE} {set} {{ {body} }}");
        }
        for c in &self.add_chains {
            let _ = writeln!(s, "add chain {FAMILY} {TABLE} {c}");
        }
        for (c, rule) in &self.rules {
            let _ = writeln!(s, "add rule {FAMILY} {TABLE} {c} {rule}");
        }
        for (set, elems) in &self.add_elements {
            // Long element lists in chunks: one command per set keeps parsing fast, and
            // bounded lines keep error messages readable.
            for chunk in elems.chunks(4096) {
                let _ = writeln!(s, "add element {FAMILY} {TABLE} {set} {{ {} }}", chunk.join(", "));
            }
        }
        s
    }
}

/// The difference between what a service port had and what it should have.
fn diff(old: &Contents, new: &Contents, tx: &mut Tx) {
    for ((set, key), value) in &old.elements {
        if new.elements.get(&(set.clone(), key.clone())) != Some(value) {
            tx.del_elements.entry(set.clone()).or_default().push(key.clone());
        }
    }
    for ((set, key), value) in &new.elements {
        if old.elements.get(&(set.clone(), key.clone())) != Some(value) {
            let e = match value {
                Some(v) => format!("{key} : {v}"),
                None => key.clone(),
            };
            tx.add_elements.entry(set.clone()).or_default().push(e);
        }
    }
    for (chain, rules) in &old.chains {
        match new.chains.get(chain) {
            Some(r) if r == rules => {}
            Some(_) => {
                tx.flush_chains.insert(chain.clone());
            }
            None => {
                tx.flush_chains.insert(chain.clone());
                tx.del_chains.insert(chain.clone());
            }
        }
    }
    for (chain, rules) in &new.chains {
        if old.chains.get(chain) != Some(rules) {
            if !old.chains.contains_key(chain) {
                tx.add_chains.insert(chain.clone());
            }
            tx.rules.extend(rules.iter().map(|r| (chain.clone(), r.clone())));
        }
    }
    for set in old.sets.keys().filter(|s| !new.sets.contains_key(*s)) {
        tx.del_sets.insert(set.clone());
    }
    for (set, body) in new.sets.iter().filter(|(s, _)| !old.sets.contains_key(*s)) {
        tx.add_sets.insert(set.clone(), body.clone());
    }
}

/// The UDP flows to drop when a service port changes from `old` to `new`: those NATed to
/// an endpoint that is gone, and every flow of a frontend that had no endpoint and now has.
fn stale_flows(old: Option<&ServicePort>, new: Option<&ServicePort>) -> Vec<StaleFlow> {
    let mut out = Vec::new();
    if let Some(new) = new.filter(|n| n.proto == Proto::Udp) {
        let same = |o: &ServicePort| o.proto == new.proto;
        let had = old.filter(|o| same(o) && o.cluster_ip == new.cluster_ip && o.port == new.port);
        if !new.endpoints.is_empty() && had.is_none_or(|o| o.endpoints.is_empty()) {
            out.push(StaleFlow { frontend: Frontend::ClusterIp(new.cluster_ip, new.port), endpoint: None });
        }
        if let Some(np) = new.node_port {
            let had = old.filter(|o| same(o) && o.node_port == Some(np));
            if !new.node_port_endpoints().is_empty() && had.is_none_or(|o| o.node_port_endpoints().is_empty()) {
                out.push(StaleFlow { frontend: Frontend::NodePort(np), endpoint: None });
            }
        }
    }
    let Some(old) = old.filter(|o| o.proto == Proto::Udp) else { return out };
    let live: BTreeSet<(Ipv4Addr, u16)> = match new {
        Some(n) if n.cluster_ip == old.cluster_ip && n.port == old.port && n.proto == old.proto => {
            n.endpoints.iter().map(|e| (e.ip, e.port)).collect()
        }
        _ => BTreeSet::new(),
    };
    let np_live: BTreeSet<(Ipv4Addr, u16)> = match new {
        Some(n) if n.node_port == old.node_port && n.proto == old.proto => {
            n.node_port_endpoints().iter().map(|e| (e.ip, e.port)).collect()
        }
        _ => BTreeSet::new(),
    };
    for e in &old.endpoints {
        if !live.contains(&(e.ip, e.port)) {
            out.push(StaleFlow { frontend: Frontend::ClusterIp(old.cluster_ip, old.port), endpoint: Some(e.ip) });
        }
    }
    if let Some(np) = old.node_port {
        for e in old.node_port_endpoints() {
            if !np_live.contains(&(e.ip, e.port)) {
                out.push(StaleFlow { frontend: Frontend::NodePort(np), endpoint: Some(e.ip) });
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// The proxier
// ---------------------------------------------------------------------------------------

/// What one apply did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Service ports whose rules changed.
    pub changed: usize,
    /// Bytes of the nft script (0: nothing to do, nothing was run).
    pub script_bytes: usize,
    /// UDP frontends whose flows to a removed endpoint must be dropped
    /// ([`Proxier::clear_stale_flows`]).
    pub stale: Vec<StaleFlow>,
}

/// What the table holds besides the service ports' own elements: the shared groups that
/// exist, and how many service ports use each `hairpin` address.
#[derive(Clone, Debug, Default)]
struct Shared {
    lb_sizes: BTreeSet<Group>,
    np_sizes: BTreeSet<Group>,
    hairpin: HashMap<Ipv4Addr, usize>,
}

/// A rendered change, not yet applied ([`Proxier::prepare_update`]).
pub struct Prepared {
    /// The nft script (empty: nothing to do).
    pub script: String,
    /// The same change when it only touches elements: applied over nfnetlink.
    element_ops: Option<Vec<(Op, String, Vec<String>)>>,
    shared: Shared,
    next: Vec<(String, Option<ServicePort>)>,
    pub report: SyncReport,
}

/// Keeps flatnet's table in one namespace equal to the desired service ports.
pub struct Proxier {
    ns: Netns,
    config: TableConfig,
    applied: HashMap<String, ServicePort>,
    shared: Shared,
    /// The nfnetlink socket for element changes, opened on first use.
    nl: Option<nftnl::Socket>,
}

impl Proxier {
    pub fn new(ns: Netns, config: TableConfig) -> Proxier {
        Proxier { ns, config, applied: HashMap::new(), shared: Shared::default(), nl: None }
    }

    fn apply_elements(&mut self, ops: Vec<(Op, String, Vec<String>)>) -> Result<()> {
        let ops = encode_ops(ops)?;
        if self.nl.is_none() {
            self.nl = Some(nftnl::Socket::open(&self.ns)?);
        }
        let result = self.nl.as_mut().expect("opened above").apply(TABLE, &ops);
        if result.is_err() {
            // A fresh socket next time (its sequence numbers and buffers start clean).
            self.nl = None;
        }
        result
    }

    pub fn netns(&self) -> &Netns {
        &self.ns
    }

    /// Make the table hold exactly `desired`, adopting what is there: one transaction, no
    /// moment without rules. Used at start, after a failed apply, and for a periodic
    /// drift repair.
    pub fn sync_all(&mut self, desired: Vec<ServicePort>) -> Result<SyncReport> {
        let existing = nft::list_objects(&self.ns)?;
        let desired: HashMap<String, ServicePort> =
            desired.into_iter().map(|sp| (sp.name.clone(), sp.normalize())).collect();
        let (mut tx, mut shared) = full_tx(&self.config, existing.as_ref(), &desired);
        let script;
        let result = if existing.is_none() {
            // A new table: nothing depends on it yet, so its chains and maps go in with nft
            // and its elements, the bulk, straight over nfnetlink (see `nftnl`).
            let elements: Vec<(Op, String, Vec<String>)> =
                std::mem::take(&mut tx.add_elements).into_iter().map(|(set, els)| (Op::Add, set, els)).collect();
            script = tx.render();
            nft::apply(&self.ns, &script).and_then(|()| self.apply_elements(elements))
        } else {
            script = tx.render();
            nft::apply(&self.ns, &script)
        };
        // The shared groups the kernel holds afterwards, besides the desired ones.
        let mut kept = existing.clone();
        let result = match (result, existing.is_some()) {
            (Ok(()), _) => Ok(()),
            // A table of another layout (an older flatnet) cannot be adopted in place:
            // replace it, still in one transaction.
            (Err(e), true) => {
                tracing::warn!(error = %e, "adopting the existing nftables table failed; replacing it");
                kept = None;
                let script = format!("add table {FAMILY} {TABLE}\ndelete table {FAMILY} {TABLE}\n")
                    + &render_full(&self.config, None, &desired);
                nft::apply(&self.ns, &script)
            }
            (Err(e), false) => Err(e),
        };
        if let Err(e) = result {
            return Err(e);
        }
        let mut stale = Vec::new();
        for (name, old) in &self.applied {
            stale.extend(stale_flows(Some(old), desired.get(name)));
        }
        for (name, new) in &desired {
            if !self.applied.contains_key(name) {
                stale.extend(stale_flows(None, Some(new)));
            }
        }
        if let Some(objects) = &kept {
            // Shared chains and maps that existed stay declared (and now empty).
            shared.lb_sizes.extend(sizes_in(objects, "lb_slots_"));
            shared.np_sizes.extend(sizes_in(objects, "np_slots_"));
        }
        self.shared = shared;
        let changed = desired.len();
        self.applied = desired;
        Ok(SyncReport { changed, script_bytes: script.len(), stale })
    }

    /// Apply a batch of changes: `Some(port)` adds or replaces the service port of that
    /// name, `None` removes it. Only the difference is rendered and applied.
    pub fn update(&mut self, changes: Vec<(String, Option<ServicePort>)>) -> Result<SyncReport> {
        let mut prepared = self.prepare_update(changes);
        let result = match prepared.element_ops.take() {
            Some(ops) => self.apply_elements(ops),
            None if !prepared.script.is_empty() => nft::apply(&self.ns, &prepared.script),
            None => Ok(()),
        };
        if let Err(e) = result {
            return Err(e);
        }
        let report = prepared.report.clone();
        self.commit(prepared);
        Ok(report)
    }

    /// The script for a batch of changes, and the state after it (applied by [`commit`]).
    /// Pure: no kernel access.
    ///
    /// [`commit`]: Proxier::commit
    pub fn prepare_update(&self, changes: Vec<(String, Option<ServicePort>)>) -> Prepared {
        let mut tx = Tx::default();
        let mut shared = self.shared.clone();
        let mut report = SyncReport::default();
        let mut next: Vec<(String, Option<ServicePort>)> = Vec::new();
        // The last change of a name wins.
        let changes: BTreeMap<String, Option<ServicePort>> =
            changes.into_iter().map(|(n, sp)| (n, sp.map(ServicePort::normalize))).collect();
        for (name, new) in changes {
            let old = self.applied.get(&name);
            if old == new.as_ref() {
                continue;
            }
            let old_c = old.map(contents).unwrap_or_default();
            let new_c = new.as_ref().map(contents).unwrap_or_default();
            diff(&old_c, &new_c, &mut tx);
            for n in &new_c.lb_sizes {
                if shared.lb_sizes.insert(*n) {
                    tx.shared.push_str(&lb_objects(*n));
                }
            }
            for n in &new_c.np_sizes {
                if shared.np_sizes.insert(*n) {
                    tx.shared.push_str(&np_objects(*n));
                }
            }
            for ip in old_c.hairpin.difference(&new_c.hairpin) {
                let count = shared.hairpin.entry(*ip).or_default();
                *count = count.saturating_sub(1);
                if *count == 0 {
                    shared.hairpin.remove(ip);
                    tx.del_elements.entry("hairpin".into()).or_default().push(format!("{ip} . {ip}"));
                }
            }
            for ip in new_c.hairpin.difference(&old_c.hairpin) {
                let count = shared.hairpin.entry(*ip).or_default();
                *count += 1;
                if *count == 1 {
                    tx.add_elements.entry("hairpin".into()).or_default().push(format!("{ip} . {ip}"));
                }
            }
            report.stale.extend(stale_flows(old, new.as_ref()));
            report.changed += 1;
            next.push((name, new));
        }
        // A hairpin address removed by one service port and added by another cancels out.
        if let (Some(dels), Some(adds)) = (tx.del_elements.get_mut("hairpin"), tx.add_elements.get_mut("hairpin")) {
            let both: BTreeSet<String> = dels.iter().filter(|d| adds.contains(d)).cloned().collect();
            dels.retain(|d| !both.contains(d));
            adds.retain(|a| !both.contains(a));
        }
        tx.del_elements.retain(|_, v| !v.is_empty());
        tx.add_elements.retain(|_, v| !v.is_empty());
        let script = if tx.is_empty() { String::new() } else { tx.render() };
        report.script_bytes = script.len();
        let element_ops = (!tx.is_empty() && tx.elements_only()).then(|| tx.element_ops());
        Prepared { script, element_ops, shared, next, report }
    }

    /// Record a prepared change as applied.
    pub fn commit(&mut self, prepared: Prepared) {
        self.shared = prepared.shared;
        for (name, new) in prepared.next {
            self.set_applied(name, new);
        }
    }

    fn set_applied(&mut self, name: String, sp: Option<ServicePort>) {
        match sp {
            Some(sp) => self.applied.insert(name, sp),
            None => self.applied.remove(&name),
        };
    }

    /// Delete the UDP conntrack entries of `flows` (with the `conntrack` tool, inside the
    /// namespace). Returns how many commands failed; each failure is logged.
    pub fn clear_stale_flows(&self, flows: &[StaleFlow]) -> usize {
        let mut failed = 0;
        for flow in flows {
            let mut cmd = std::process::Command::new("conntrack");
            cmd.args(["-D", "-p", "udp"]);
            match flow.frontend {
                Frontend::ClusterIp(ip, port) => {
                    cmd.args(["--orig-dst", &ip.to_string(), "--orig-port-dst", &port.to_string()]);
                }
                Frontend::NodePort(port) => {
                    cmd.args(["--orig-port-dst", &port.to_string()]);
                }
            }
            if let Some(endpoint) = flow.endpoint {
                cmd.args(["--dst-nat", &endpoint.to_string()]);
            }
            match self.ns.output(&mut cmd, b"") {
                // Exit status 1 with "0 flow entries": nothing to delete.
                Ok(out) if out.status.success() || String::from_utf8_lossy(&out.stderr).contains("0 flow entries") => {}
                Ok(out) => {
                    failed += 1;
                    tracing::warn!(?flow, stderr = %String::from_utf8_lossy(&out.stderr).trim(), "conntrack -D failed");
                }
                Err(e) => {
                    failed += 1;
                    tracing::warn!(?flow, error = %e, "conntrack could not run (install the conntrack package)");
                }
            }
        }
        failed
    }
}

fn sizes_in(objects: &nft::TableObjects, prefix: &str) -> Vec<Group> {
    objects.sets.iter().filter_map(|s| parse_group(s.strip_prefix(prefix)?)).collect()
}

/// Encode rendered elements (`key` or `key : value`, per set) for nfnetlink.
fn encode_ops(ops: Vec<(Op, String, Vec<String>)>) -> Result<Vec<(Op, String, Vec<nftnl::Element>)>> {
    let mut out = Vec::with_capacity(ops.len());
    for (op, set, els) in ops {
        let mut encoded = Vec::with_capacity(els.len());
        for e in &els {
            let (key, value) = match e.split_once(" : ") {
                Some((k, v)) => (k, Some(v)),
                None => (e.as_str(), None),
            };
            let el = nftnl::encode(&set, key, value)
                .map_err(|detail| crate::Error::Nft { what: format!("encode an element of {set}"), detail })?;
            encoded.push(el);
        }
        out.push((op, set, encoded));
    }
    Ok(out)
}

/// The whole table for `desired`, adopting `existing` (what the kernel holds): static
/// declarations and rules again, every map's elements replaced, stale per-service chains
/// and sets removed. One transaction.
pub fn render_full(
    config: &TableConfig,
    existing: Option<&nft::TableObjects>,
    desired: &HashMap<String, ServicePort>,
) -> String {
    full_tx(config, existing, desired).0.render()
}

/// The transaction of [`render_full`], and the shared state the desired service ports need
/// (without the groups that only `existing` has).
fn full_tx(
    config: &TableConfig,
    existing: Option<&nft::TableObjects>,
    desired: &HashMap<String, ServicePort>,
) -> (Tx, Shared) {
    let mut tx = Tx::default();
    let head = &mut tx.head;
    let _ = writeln!(head, "add table {FAMILY} {TABLE}");
    for (_, decl) in STATIC_SETS {
        let _ = writeln!(head, "add {}", decl.replacen(' ', &format!(" {FAMILY} {TABLE} "), 1));
    }
    let chains = static_chains(config);
    for (name, decl, _) in &chains {
        if decl.is_empty() {
            let _ = writeln!(head, "add chain {FAMILY} {TABLE} {name}");
        } else {
            let _ = writeln!(head, "add chain {FAMILY} {TABLE} {name} {{ {decl} }}");
        }
    }
    let existing_sizes = |prefix: &str| existing.map(|o| sizes_in(o, prefix)).unwrap_or_default();
    let lb_existing: BTreeSet<Group> = existing_sizes("lb_slots_").into_iter().collect();
    let np_existing: BTreeSet<Group> = existing_sizes("np_slots_").into_iter().collect();
    if existing.is_some() {
        for (set, _) in STATIC_SETS {
            let kind = if matches!(*set, "service_ips" | "node_ports") { "map" } else { "set" };
            let _ = writeln!(head, "flush {kind} {FAMILY} {TABLE} {set}");
        }
        for g in &lb_existing {
            let _ = writeln!(head, "flush map {FAMILY} {TABLE} lb_slots_{}", group_name(*g));
        }
        for g in &np_existing {
            let _ = writeln!(head, "flush map {FAMILY} {TABLE} np_slots_{}", group_name(*g));
        }
    }
    for (name, _, rules) in &chains {
        let _ = writeln!(head, "flush chain {FAMILY} {TABLE} {name}");
        for r in rules {
            let _ = writeln!(head, "add rule {FAMILY} {TABLE} {name} {r}");
        }
    }
    let mut shared = Shared::default();
    // The per-service objects in the kernel are treated as "old" content with unknown rules:
    // every one is flushed; those still wanted get their rules again.
    let mut old = Contents::default();
    if let Some(objects) = existing {
        for c in objects.chains.iter().filter(|c| c.starts_with("aff")) {
            old.chains.insert(c.clone(), vec!["(unknown)".into()]);
        }
        for s in objects.sets.iter().filter(|s| s.starts_with("aff")) {
            old.sets.insert(s.clone(), String::new());
        }
    }
    let mut new = Contents::default();
    let mut names: Vec<&String> = desired.keys().collect();
    names.sort();
    for name in names {
        let c = contents(&desired[name]);
        shared.lb_sizes.extend(&c.lb_sizes);
        shared.np_sizes.extend(&c.np_sizes);
        for ip in &c.hairpin {
            *shared.hairpin.entry(*ip).or_default() += 1;
        }
        new.elements.extend(c.elements);
        new.chains.extend(c.chains);
        new.sets.extend(c.sets);
    }
    for ip in shared.hairpin.keys() {
        new.elements.insert(("hairpin".into(), format!("{ip} . {ip}")), None);
    }
    // Elements were flushed above: none of the old ones need deleting.
    diff(&Contents { elements: BTreeMap::new(), ..old }, &new, &mut tx);
    // Shared chains and maps: those the desired state needs, plus those that exist.
    for n in shared.lb_sizes.union(&lb_existing) {
        tx.shared.push_str(&lb_objects(*n));
    }
    for n in shared.np_sizes.union(&np_existing) {
        tx.shared.push_str(&np_objects(*n));
    }
    (tx, shared)
}

#[cfg(test)]
mod tests;
