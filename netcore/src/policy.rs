//! The network policy compiler: the cluster's namespaces, pods and policies in, the part of
//! the `ip flatnet` table that enforces them on one node out. Pure: no kernel, no I/O.
//!
//! # What is judged where
//!
//! A node judges the traffic of its own pods: **egress** when a local pod sends, **ingress**
//! when a local pod receives. Traffic between two pods is so judged twice (by the sender's
//! node for egress, the receiver's for ingress), as Kubernetes means it. The hook is
//! `forward` at filter priority, after the NAT prerouting chains: a connection through a
//! service is judged after DNAT (the pod's address and port), and a NodePort connection from
//! outside keeps the client's address until postrouting, so `ipBlock` sees the client.
//! Replies pass (`ct direction reply accept` first), and so do ICMP errors about a
//! connection (`ct state related`). A connection is judged at its first packet and again at
//! its first packet after each change of plan (a generation number in its conntrack mark
//! says whether it was judged under the plan in force: [`static_script`]): a change that
//! denies an established connection cuts it at its next packet, and allowing never disturbs
//! one. (Deleting the connection's conntrack entry instead is not enough: the next packet
//! of the other side, picked up mid-stream, would recreate the entry the other way round,
//! and the denied side's packets would pass as its replies.)
//! Connections from the node itself to its pods (probes) are never judged, as in Kubernetes.
//!
//! # How it scales
//!
//! There is never a rule per pod pair. Each selector peer (a pod selector in the policy's
//! namespace, a namespace selector, both) becomes one **set of pod addresses**, named after
//! its content, shared by every rule that uses the same peer. Each local pod that some
//! policy selects gets a **chain body**: the rules of the policies selecting it, in order
//! (admin policies by priority, then NetworkPolicies, then the baseline). Bodies are named by
//! a hash of their text, so the pods that the same policies select share one chain; the maps
//! `policy_ingress` and `policy_egress` send a pod's address to its chain with one lookup.
//! Within a body, a run of consecutive rule lines that match peer sets with the same ports
//! and verdict is **merged into one lookup** in a counter map ([`CounterMap`]), so a pod
//! that a thousand policies isolate walks one rule per run, not one per policy, on the first
//! packet of a connection, and each packet is still counted by the rule that would have
//! matched it first.
//! [`compile`] renders the whole plan; the [`IncrementalCompiler`] (what the agent runs)
//! keeps it up to date recompiling only what a change touches, and is tested against it.
//! [`PolicyApplier::update`] writes only what differs: new chains and sets by `nft -f`,
//! then the change (set and map elements, the generation) in one nfnetlink batch, then the
//! deletion of what is no longer used; a change of elements only never starts `nft`.
//!
//! # The chains
//!
//! | chain | hook | rules |
//! |---|---|---|
//! | `policy_forward` | forward, filter | replies, related, and connections judged under this plan → accept; `ip saddr vmap @policy_egress`; `ip daddr vmap @policy_ingress`; mark the connection judged |
//! | `policy_input` | input, filter | the same with `ip saddr vmap @policy_egress` only (a pod reaching the node) |
//! | `pol_<hash>` | — | one pod body: `… return` allows the direction, `… drop` denies it, `goto pnp_<hash>` passes to the NetworkPolicies; merged runs as `… counter name ip saddr map @pcm_<hash> return` |
//! | `pnp_<hash>` | — | the NetworkPolicy part of a body after a `Pass` |
//!
//! Counters: `pc_<hash>`, one named counter per policy, direction, rule and action, named
//! by every rule line of that rule before its verdict ([`counters`]), or reached through a
//! counter map.
//!
//! Counter maps: `pcm_<hash>` (`type ipv4_addr : counter`, an nftables object map), one per
//! run of merged lines, named after its members (each line's `peer_` set and counter, in
//! order: bodies with the same run share it). A line `ip saddr @peer_A … counter name "pc_1"
//! return` followed by `ip saddr @peer_B … counter name "pc_2" return` (same ports `…`, same
//! verdict) becomes `… counter name ip saddr map @pcm_X return` (`ip daddr` in egress), where
//! an address of `peer_A` maps to `pc_1`, one only in `peer_B` to `pc_2`, and any other
//! address misses: the kernel's object map lookup then breaks out of the rule, which does
//! not match, exactly as neither line would have. What breaks a run: a line of another port
//! match or verdict kind or target, and the lines that are not a peer-set lookup (any peer,
//! `ipBlock`s, named ports of destinations, the isolation drop): order across them is kept.
//! A run of one set stays a plain set lookup. The map's elements follow its members' sets
//! (the [`IncrementalCompiler`] recomputes an address's value in the maps of a set that
//! gained or lost it).
//!
//! Sets: `peer_<hash>` (`ipv4_addr`), the addresses of the pods a peer selects;
//! `pport_<hash>` (`ipv4_addr . inet_proto . inet_service`), a named port resolved to each
//! destination pod's number (egress rules with named ports). `ipBlock`s and port ranges are
//! anonymous interval sets in their rules (`ip saddr { 10.0.0.0/8 } ip saddr != { 10.1.0.0/16 }`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::sync::Arc;

use openapi::policy::PolicyCounterKey;
use openapi::policy::{
    AdminNetworkPolicyPeer, AdminNetworkPolicyPort, AdminNetworkPolicyRuleAction, AdminNetworkPolicySubject,
    LabelSelector as ApiSelector, NamespacedPod, NetworkPolicyPeer, NetworkPolicyPort, PolicyType,
};
use openapi::selector::LabelSelector;
use openapi::{AdminNetworkPolicy, BaselineAdminNetworkPolicy, IntOrString, NetworkPolicy, Protocol};

use crate::netns::Netns;
use crate::nft::model::{Datatype, Element, MapData, Op, Part, Proto, Set, Type, Value, Verdict};
use crate::nft::{self, TableObjects, FAMILY, TABLE};
use crate::nftnl::{self, SetOp};
use crate::Result;

#[path = "policy_counters.rs"]
pub mod counters;

/// Labels of a pod or a namespace.
pub type Labels = BTreeMap<String, String>;

/// A pod as the compiler sees it: where it is, what it is called, its named ports, and
/// whether it runs on this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyPod {
    pub namespace: String,
    pub name: String,
    pub ip: Ipv4Addr,
    pub labels: Labels,
    /// Named container ports: name → (protocol, number).
    pub ports: BTreeMap<String, (Protocol, u16)>,
    pub local: bool,
}

/// Everything the compiler reads: the cluster's namespaces (name → labels), its pods with an
/// address, and its policies.
#[derive(Clone, Debug, Default)]
pub struct PolicyInput {
    pub namespaces: BTreeMap<String, Labels>,
    pub pods: Vec<PolicyPod>,
    pub network_policies: Vec<NetworkPolicy>,
    pub admin_policies: Vec<AdminNetworkPolicy>,
    pub baseline: Option<BaselineAdminNetworkPolicy>,
}

/// The enforcement of the policies on one node, as desired state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyPlan {
    /// `peer_*` and `pport_*` sets: name → (key type, elements).
    pub sets: BTreeMap<String, NamedSet>,
    /// `pol_*` and `pnp_*` chains: name → rules.
    pub chains: BTreeMap<String, Vec<String>>,
    /// Local pod address → the chain judging its ingress.
    pub ingress: BTreeMap<Ipv4Addr, String>,
    /// Local pod address → the chain judging its egress.
    pub egress: BTreeMap<Ipv4Addr, String>,
    /// `pc_*` named counters: name → the policy rule it counts ([`counters`]).
    pub counters: BTreeMap<String, PolicyCounterKey>,
    /// `pcm_*` object maps of merged rules: name → members and elements ([`CounterMap`]).
    pub counter_maps: BTreeMap<String, CounterMap>,
}

/// The object map (`type ipv4_addr : counter`) that stands for a run of merged rule lines:
/// consecutive lines of a body that match peer sets with the same ports and the same
/// verdict become one line, `… counter name ip saddr map @pcm_… return`, which looks the
/// peer's address up once. An address maps to the counter of the first member (in the
/// body's order) whose set holds it, the counter first-match evaluation of the original
/// lines would have counted in; an address no member holds misses, and a miss makes the
/// rule not match (the kernel's objref map lookup breaks), as none of the lines would have.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CounterMap {
    /// The merged lines in order, each as its peer's `peer_` set and its counter; a set
    /// appears once (a later line of the same set could never be the first to match).
    pub members: Arc<Vec<(String, String)>>,
    /// Address → counter, following the members' sets.
    pub elements: Arc<BTreeMap<Ipv4Addr, String>>,
}

impl CounterMap {
    /// The elements of a map of `members`, over the sets of `sets`.
    fn elements_over(sets: &BTreeMap<String, NamedSet>, members: &[(String, String)]) -> BTreeMap<Ipv4Addr, String> {
        let mut out = BTreeMap::new();
        for (set, counter) in members {
            for element in sets.get(set).into_iter().flat_map(|s| s.elements.iter()) {
                if let Ok(ip) = element.parse::<Ipv4Addr>() {
                    out.entry(ip).or_insert_with(|| counter.clone());
                }
            }
        }
        out
    }

    /// The counter `ip` maps to in a map of `members`, over the sets of `sets`.
    fn value_over<'m>(
        sets: &BTreeMap<String, NamedSet>,
        members: &'m [(String, String)],
        ip: &str,
    ) -> Option<&'m String> {
        members.iter().find(|(set, _)| sets.get(set).is_some_and(|s| s.elements.contains(ip))).map(|(_, c)| c)
    }
}

/// A set of the plan: its key type (as nft writes it) and elements.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamedSet {
    pub key: &'static str,
    /// Shared with the plans it is copied into, so a copy costs nothing and an unchanged
    /// set is told apart from a changed one without comparing elements.
    pub elements: Arc<BTreeSet<String>>,
}

/// The key of a set of pod addresses.
const ADDRESS_KEY: &str = "ipv4_addr";
/// The key of a set of resolved named ports.
const PORT_KEY: &str = "ipv4_addr . inet_proto . inet_service";
/// The declaration of a counter map's type.
const COUNTER_MAP_TYPE: &str = "ipv4_addr : counter";
/// The prefix of the counter maps of merged rules ([`CounterMap`]).
pub const COUNTER_MAP_PREFIX: &str = "pcm_";
/// The maps from a local pod's address to its chain.
pub const INGRESS_MAP: &str = "policy_ingress";
pub const EGRESS_MAP: &str = "policy_egress";

/// A short, stable name from content (FNV-1a, 64 bits, as 12 hex digits): the same content
/// gets the same name on every node and in every run, so unchanged chains and sets keep
/// their names and a change touches only what differs.
fn content_name(prefix: &str, content: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in content.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{prefix}_{:012x}", h >> 16)
}

fn selector(api: &ApiSelector) -> LabelSelector {
    // Validated at the API edge; an invalid one (from an older server) selects nothing
    // rather than everything.
    LabelSelector::from_api(api).unwrap_or_else(|_| LabelSelector::parse("flatnet.io/invalid-selector").unwrap())
}

/// Which namespaces a peer's pods are in.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PodScope {
    InNamespace(String),
    Namespaces(LabelSelector),
    /// No pod at all (an admin peer that names neither namespaces nor pods, an `ipBlock`).
    Nothing,
}

/// The pods a selector peer means: in the namespaces of `scope`, those `pods` selects.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PeerSpec {
    scope: PodScope,
    pods: LabelSelector,
}

/// Whether the namespace `ns`, with its labels in `namespaces`, matches `sel`. A namespace
/// not (yet) seen still has its name label.
fn namespace_matches(namespaces: &BTreeMap<String, Labels>, sel: &LabelSelector, ns: &str) -> bool {
    match namespaces.get(ns) {
        Some(labels) => sel.matches(labels),
        None => sel.matches(&Labels::from([(openapi::policy::NAMESPACE_NAME_LABEL.to_string(), ns.to_string())])),
    }
}

impl PeerSpec {
    fn matches(&self, namespaces: &BTreeMap<String, Labels>, pod: &PolicyPod) -> bool {
        let in_scope = match &self.scope {
            PodScope::InNamespace(ns) => *ns == pod.namespace,
            PodScope::Namespaces(sel) => namespace_matches(namespaces, sel, &pod.namespace),
            PodScope::Nothing => false,
        };
        in_scope && self.pods.matches(&pod.labels)
    }

    /// The one namespace this peer's pods can be in, if it is one.
    fn namespace(&self) -> Option<&str> {
        match &self.scope {
            PodScope::InNamespace(ns) => Some(ns),
            _ => None,
        }
    }
}

/// What a named set holds, as a rule over pods: the compiler computes a set's elements from
/// it over every pod, and the [`IncrementalCompiler`] asks it about one pod that changed.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SetSpec {
    /// `peer_*`: the addresses of the pods of a peer.
    Addresses(PeerSpec),
    /// `pport_*`: `address . protocol . number` of the named port `name` (of `protocol`, if
    /// given) of each pod of the peer (`None`: of any pod).
    Ports { peer: Option<PeerSpec>, name: String, protocol: Option<Protocol> },
}

impl SetSpec {
    fn key(&self) -> &'static str {
        match self {
            SetSpec::Addresses(_) => ADDRESS_KEY,
            SetSpec::Ports { .. } => PORT_KEY,
        }
    }

    /// The element `pod` puts in the set, if any.
    fn element(&self, namespaces: &BTreeMap<String, Labels>, pod: &PolicyPod) -> Option<String> {
        match self {
            SetSpec::Addresses(peer) => peer.matches(namespaces, pod).then(|| pod.ip.to_string()),
            SetSpec::Ports { peer, name, protocol } => {
                if peer.as_ref().is_some_and(|peer| !peer.matches(namespaces, pod)) {
                    return None;
                }
                let (p, n) = pod.ports.get(name)?;
                protocol.is_none_or(|want| want == *p).then(|| format!("{} . {} . {n}", pod.ip, proto_name(*p)))
            }
        }
    }

    /// The one namespace whose pods can be in the set, if it is one.
    fn namespace(&self) -> Option<&str> {
        match self {
            SetSpec::Addresses(peer) | SetSpec::Ports { peer: Some(peer), .. } => peer.namespace(),
            SetSpec::Ports { peer: None, .. } => None,
        }
    }

    /// The set's elements over all of `input`'s pods.
    fn elements(&self, input: &PolicyInput) -> BTreeSet<String> {
        input.pods.iter().filter_map(|pod| self.element(&input.namespaces, pod)).collect()
    }
}

/// Builds the chains of local pods; records the sets their rules name (by name, with what
/// they hold) without filling them: [`compile`] fills them at the end, each once, and the
/// [`IncrementalCompiler`] only those it does not hold yet.
struct Compiler<'a> {
    input: &'a PolicyInput,
    plan: PolicyPlan,
    /// The sets named so far.
    specs: BTreeMap<String, SetSpec>,
    /// The counter maps named so far: name → members, filled from the sets at the end.
    maps: BTreeMap<String, Vec<(String, String)>>,
    /// The NetworkPolicies of each namespace.
    policies: &'a NpIndex,
    /// Admin policies (indices into the input) in the order they are judged.
    admin_order: Vec<usize>,
}

/// NetworkPolicies by namespace, as indices into the input's, in the order of their names:
/// a body lists its policies' rules in that order, whatever the input's order.
type NpIndex = HashMap<String, Vec<usize>>;

fn np_index(input: &PolicyInput) -> NpIndex {
    let mut index = NpIndex::new();
    for (i, np) in input.network_policies.iter().enumerate() {
        index.entry(np.metadata.namespace.clone().unwrap_or_default()).or_default().push(i);
    }
    for list in index.values_mut() {
        list.sort_by(|&a, &b| input.network_policies[a].metadata.name.cmp(&input.network_policies[b].metadata.name));
    }
    index
}

/// Admin policies (indices into the input) in the order they are judged: priority, then
/// name.
fn admin_order(input: &PolicyInput) -> Vec<usize> {
    let mut order: Vec<usize> = (0..input.admin_policies.len()).collect();
    order.sort_by_key(|&i| (input.admin_policies[i].spec.priority, input.admin_policies[i].metadata.name.clone()));
    order
}

/// Ports of a rule, grouped by protocol: `None` = every port of the protocol.
type PortMatch = BTreeMap<Protocol, Option<BTreeSet<(u16, u16)>>>;

/// Which way the rule looks: the peer is the source (ingress) or the destination (egress).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    fn peer(self) -> &'static str {
        match self {
            Direction::Ingress => "ip saddr",
            Direction::Egress => "ip daddr",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Direction::Ingress => "Ingress",
            Direction::Egress => "Egress",
        }
    }
}

fn proto_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}

fn render_ports(ports: &PortMatch) -> Vec<String> {
    ports
        .iter()
        .map(|(proto, ranges)| {
            let proto = proto_name(*proto);
            match ranges {
                None => format!("meta l4proto {proto}"),
                Some(ranges) => {
                    let items: Vec<String> =
                        ranges.iter().map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect();
                    format!("meta l4proto {proto} th dport {{ {} }}", items.join(", "))
                }
            }
        })
        .collect()
}

/// A peer's match, before ports: addresses by set, by CIDR, or anything.
enum PeerMatch {
    Any,
    /// The pods of a selector peer (its definition, which names its sets, and the pods).
    Pods(String, PeerSpec),
    Block {
        cidr: String,
        except: Vec<String>,
    },
}

/// A port of a rule before resolution against a pod.
enum RulePort {
    Number(Protocol, u16, u16),
    Protocol(Protocol),
    Named(Option<Protocol>, String),
}

/// A rule line of a body before consecutive peer-set lines are merged
/// ([`Compiler::merge`]).
enum Line {
    /// `{peer} @{set} {ports}counter name "{counter}" {verdict}` (`ports`: empty or ending
    /// in a space): a line a run of its neighbours with the same `ports` and `verdict` can
    /// merge into one lookup in a [`CounterMap`].
    PeerSet { peer: &'static str, set: String, ports: String, counter: String, verdict: String },
    /// Any other line (any peer, `ipBlock`s, named ports of destinations, the isolation
    /// drop), as written: it ends a run.
    Other(String),
}

impl Line {
    fn render(peer: &str, set: &str, ports: &str, counter: &str, verdict: &str) -> String {
        format!("{peer} @{set} {ports}{}{verdict}", counters::counting(&[counter.to_string()]))
    }
}

impl<'a> Compiler<'a> {
    /// The counter of `key`, added to the plan; answers its name.
    fn counter(&mut self, key: PolicyCounterKey) -> String {
        let name = counters::counter_name(&key);
        self.plan.counters.entry(name.clone()).or_insert(key);
        name
    }

    /// The set of the addresses of the pods of the peer `definition`.
    fn address_set(&mut self, definition: &str, peer: &PeerSpec) -> String {
        self.named_set(definition, SetSpec::Addresses(peer.clone()), "peer")
    }

    /// A set named after its `definition` (not its elements): when pods come, go or change
    /// labels, the set keeps its name and only its elements change, and so do the rules
    /// that use it.
    fn named_set(&mut self, definition: &str, spec: SetSpec, prefix: &str) -> String {
        let name = content_name(prefix, definition);
        self.specs.entry(name.clone()).or_insert(spec);
        name
    }

    fn np_peer(&self, np_namespace: &str, peer: &NetworkPolicyPeer) -> PeerMatch {
        if let Some(block) = &peer.ip_block {
            return PeerMatch::Block { cidr: block.cidr.clone(), except: block.except.clone() };
        }
        let pods = peer.pod_selector.as_ref().map(selector).unwrap_or_default();
        match &peer.namespace_selector {
            Some(ns) => PeerMatch::Pods(
                format!("namespaces {} pods {}", show(ns), show_opt(&peer.pod_selector)),
                PeerSpec { scope: PodScope::Namespaces(selector(ns)), pods },
            ),
            None => PeerMatch::Pods(
                format!("namespace {np_namespace} pods {}", show_opt(&peer.pod_selector)),
                PeerSpec { scope: PodScope::InNamespace(np_namespace.to_string()), pods },
            ),
        }
    }

    fn admin_pods(namespaces: Option<&ApiSelector>, pods: Option<&NamespacedPod>) -> (String, PeerSpec) {
        match (namespaces, pods) {
            (Some(ns), _) => (
                format!("namespaces {} pods {{}}", show(ns)),
                PeerSpec { scope: PodScope::Namespaces(selector(ns)), pods: LabelSelector::default() },
            ),
            (None, Some(p)) => (
                format!("namespaces {} pods {}", show(&p.namespace_selector), show(&p.pod_selector)),
                PeerSpec {
                    scope: PodScope::Namespaces(selector(&p.namespace_selector)),
                    pods: selector(&p.pod_selector),
                },
            ),
            (None, None) => {
                (String::from("nothing"), PeerSpec { scope: PodScope::Nothing, pods: LabelSelector::default() })
            }
        }
    }

    fn admin_peer(&self, peer: &AdminNetworkPolicyPeer) -> Vec<PeerMatch> {
        match &peer.networks {
            Some(networks) => {
                networks.iter().map(|cidr| PeerMatch::Block { cidr: cidr.clone(), except: Vec::new() }).collect()
            }
            None => {
                let (definition, peer) = Self::admin_pods(peer.namespaces.as_ref(), peer.pods.as_ref());
                vec![PeerMatch::Pods(definition, peer)]
            }
        }
    }

    /// Whether an admin policy's `subject` selects `pod`.
    fn is_subject(&self, subject: &AdminNetworkPolicySubject, pod: usize) -> bool {
        let (_, peer) = Self::admin_pods(subject.namespaces.as_ref(), subject.pods.as_ref());
        peer.matches(&self.input.namespaces, &self.input.pods[pod])
    }

    /// The rule lines that match `peers` × `ports` for the pod `pod` (the destination in
    /// ingress, the source in egress), each counting in `counter` and ending in `verdict`.
    /// No peers: any peer; no ports: any port. A peer or port that matches nothing adds no
    /// line.
    fn rule_lines(
        &mut self,
        direction: Direction,
        pod: usize,
        peers: &[PeerMatch],
        ports: &[RulePort],
        counter: &str,
        verdict: &str,
    ) -> Vec<Line> {
        let any = [PeerMatch::Any];
        let peers = if peers.is_empty() { &any[..] } else { peers };
        let counted = counters::counting(&[counter.to_string()]) + verdict;
        let mut lines = Vec::new();
        for peer in peers {
            let mut peer_set = None;
            let peer_clause = match peer {
                PeerMatch::Any => String::new(),
                PeerMatch::Pods(definition, peer) => {
                    let set = self.address_set(definition, peer);
                    let clause = format!("{} @{set} ", direction.peer());
                    peer_set = Some(set);
                    clause
                }
                PeerMatch::Block { cidr, except } => {
                    let mut c = format!("{} {{ {} }} ", direction.peer(), canonical_cidr(cidr));
                    if !except.is_empty() {
                        let ex: Vec<String> = except.iter().map(|e| canonical_cidr(e)).collect();
                        let _ = write!(c, "{} != {{ {} }} ", direction.peer(), ex.join(", "));
                    }
                    c
                }
            };
            let line = |ports: String| match &peer_set {
                Some(set) => Line::PeerSet {
                    peer: direction.peer(),
                    set: set.clone(),
                    ports,
                    counter: counter.to_string(),
                    verdict: verdict.to_string(),
                },
                None => Line::Other(format!("{peer_clause}{ports}{counted}")),
            };
            if ports.is_empty() {
                lines.push(line(String::new()));
                continue;
            }
            let mut numeric = PortMatch::new();
            for port in ports {
                match port {
                    RulePort::Protocol(p) => {
                        numeric.insert(*p, None);
                    }
                    RulePort::Number(p, a, b) => {
                        if let Some(ranges) = numeric.entry(*p).or_insert_with(|| Some(BTreeSet::new())) {
                            ranges.insert((*a, *b));
                        }
                    }
                    RulePort::Named(proto, name) => match direction {
                        // Ingress: the name is the receiving pod's port.
                        Direction::Ingress => {
                            if let Some((p, n)) = self.input.pods[pod].ports.get(name) {
                                if proto.is_none_or(|want| want == *p) {
                                    if let Some(ranges) = numeric.entry(*p).or_insert_with(|| Some(BTreeSet::new())) {
                                        ranges.insert((*n, *n));
                                    }
                                }
                            }
                        }
                        // Egress: each destination pod's own number for the name, in a set
                        // of address . protocol . port. An ipBlock destination has no
                        // named ports.
                        Direction::Egress => {
                            let (definition, peer) = match peer {
                                PeerMatch::Any => ("any pod", None),
                                PeerMatch::Pods(definition, peer) => (definition.as_str(), Some(peer.clone())),
                                PeerMatch::Block { .. } => (
                                    "no pod",
                                    Some(PeerSpec { scope: PodScope::Nothing, pods: LabelSelector::default() }),
                                ),
                            };
                            let spec = SetSpec::Ports { peer, name: name.clone(), protocol: *proto };
                            let definition = format!("{definition} port {name} {proto:?}");
                            let set = self.named_set(&definition, spec, "pport");
                            lines.push(Line::Other(format!("ip daddr . meta l4proto . th dport @{set} {counted}")));
                        }
                    },
                }
            }
            for ports in render_ports(&numeric) {
                lines.push(line(format!("{ports} ")));
            }
        }
        lines
    }

    /// `lines` as the rules of a body: each run of consecutive peer-set lines with the same
    /// ports and verdict merged into one lookup in a counter map ([`CounterMap`]); a run of
    /// one set stays a plain set lookup.
    fn merge(&mut self, lines: Vec<Line>) -> Vec<String> {
        let mut out = Vec::new();
        let mut lines = lines.into_iter().peekable();
        while let Some(line) = lines.next() {
            let (peer, set, ports, counter, verdict) = match line {
                Line::Other(text) => {
                    out.push(text);
                    continue;
                }
                Line::PeerSet { peer, set, ports, counter, verdict } => (peer, set, ports, counter, verdict),
            };
            let mut members = vec![(set, counter)];
            while let Some(Line::PeerSet { ports: p, verdict: v, .. }) = lines.peek() {
                if *p != ports || *v != verdict {
                    break;
                }
                let Some(Line::PeerSet { set, counter, .. }) = lines.next() else { unreachable!("just peeked") };
                if !members.iter().any(|(s, _)| *s == set) {
                    members.push((set, counter));
                }
            }
            if let [(set, counter)] = &members[..] {
                out.push(Line::render(peer, set, &ports, counter, &verdict));
                continue;
            }
            let definition: Vec<String> = members.iter().map(|(set, counter)| format!("{set} {counter}")).collect();
            let map = content_name("pcm", &definition.join(","));
            out.push(format!("{ports}counter name {peer} map @{map} {verdict}"));
            self.maps.entry(map).or_insert(members);
        }
        out
    }

    /// The NetworkPolicy part of `pod`'s body in `direction`: its allow rules, and the
    /// isolation counters of the policies that isolate it (empty: none does).
    fn network_policy_lines(&mut self, direction: Direction, pod: usize) -> (Vec<Line>, Vec<String>) {
        let input = self.input;
        let p = &input.pods[pod];
        let mut lines = Vec::new();
        let mut isolated = Vec::new();
        for &i in self.policies.get(&p.namespace).into_iter().flatten() {
            let np = &input.network_policies[i];
            let ns = p.namespace.as_str();
            if !selector(&np.spec.pod_selector).matches(&p.labels) {
                continue;
            }
            let policy_type = match direction {
                Direction::Ingress => PolicyType::Ingress,
                Direction::Egress => PolicyType::Egress,
            };
            if !np.spec.isolates(policy_type) {
                continue;
            }
            let np_name = np.metadata.name.as_str();
            isolated.push(self.counter(counters::network_policy_key(ns, np_name, direction.name(), None, "Deny")));
            let rules: Vec<(&[NetworkPolicyPeer], &[NetworkPolicyPort])> = match direction {
                Direction::Ingress => np.spec.ingress.iter().map(|r| (&r.from[..], &r.ports[..])).collect(),
                Direction::Egress => np.spec.egress.iter().map(|r| (&r.to[..], &r.ports[..])).collect(),
            };
            for (index, (peers, ports)) in rules.into_iter().enumerate() {
                let peers: Vec<PeerMatch> = peers.iter().map(|peer| self.np_peer(ns, peer)).collect();
                let ports: Vec<RulePort> = ports.iter().map(np_port).collect();
                let key = counters::network_policy_key(ns, np_name, direction.name(), Some(index as u32), "Allow");
                let counter = self.counter(key);
                lines.extend(self.rule_lines(direction, pod, &peers, &ports, &counter, "return"));
            }
        }
        (lines, isolated)
    }

    /// The admin (or baseline) rules of one policy (`kind` and `name`, for the counters)
    /// that apply to `pod`.
    fn admin_lines<'r>(
        &mut self,
        (kind, name): (&str, &str),
        direction: Direction,
        pod: usize,
        rules: impl Iterator<
            Item = (
                AdminNetworkPolicyRuleAction,
                &'r [AdminNetworkPolicyPeer],
                Option<&'r Vec<AdminNetworkPolicyPort>>,
            ),
        >,
        pass_to: &str,
    ) -> Vec<Line> {
        let mut lines = Vec::new();
        for (index, (action, peers, ports)) in rules.enumerate() {
            let verdict = match action {
                AdminNetworkPolicyRuleAction::Allow => "return".to_string(),
                AdminNetworkPolicyRuleAction::Deny => "drop".to_string(),
                AdminNetworkPolicyRuleAction::Pass => format!("goto {pass_to}"),
            };
            let key = counters::admin_key(kind, name, direction.name(), index as u32, &format!("{action:?}"));
            let counter = self.counter(key);
            let peers: Vec<PeerMatch> = peers.iter().flat_map(|peer| self.admin_peer(peer)).collect();
            let ports: Vec<RulePort> = ports.into_iter().flatten().map(admin_port).collect();
            lines.extend(self.rule_lines(direction, pod, &peers, &ports, &counter, &verdict));
        }
        lines
    }

    /// The body of `pod`'s chain in `direction` (empty: nothing judges it).
    fn body(&mut self, direction: Direction, pod: usize) -> Vec<String> {
        let input = self.input;
        let (np_lines, isolated) = self.network_policy_lines(direction, pod);
        // After the NetworkPolicies: deny what they isolate, else the baseline decides.
        let mut np_part = np_lines;
        if !isolated.is_empty() {
            // A rule holds at most 128 expressions (the kernel's NFT_RULE_MAXEXPRS): a pod
            // that many policies isolate gets its isolation counters over several lines,
            // the last with the drop (only denied packets reach them).
            let chunks: Vec<&[String]> = isolated.chunks(counters::PER_RULE).collect();
            for (k, chunk) in chunks.iter().enumerate() {
                let line = counters::counting(chunk);
                np_part.push(Line::Other(if k + 1 == chunks.len() {
                    line + "drop"
                } else {
                    line.trim_end().to_string()
                }));
            }
        } else if let Some(banp) = &input.baseline {
            if self.is_subject(&banp.spec.subject, pod) {
                let rules: Vec<_> = match direction {
                    Direction::Ingress => {
                        banp.spec.ingress.iter().map(|r| (r.action, &r.from[..], r.ports.as_ref())).collect()
                    }
                    Direction::Egress => {
                        banp.spec.egress.iter().map(|r| (r.action, &r.to[..], r.ports.as_ref())).collect()
                    }
                };
                let policy = ("BaselineAdminNetworkPolicy", banp.metadata.name.as_str());
                np_part.extend(self.admin_lines(policy, direction, pod, rules.into_iter(), ""));
            }
        }
        let np_part = self.merge(np_part);
        let np_chain = content_name("pnp", &np_part.join("\n"));
        let mut admin_part = Vec::new();
        for k in 0..self.admin_order.len() {
            let anp = &input.admin_policies[self.admin_order[k]];
            if !self.is_subject(&anp.spec.subject, pod) {
                continue;
            }
            let rules: Vec<_> = match direction {
                Direction::Ingress => {
                    anp.spec.ingress.iter().map(|r| (r.action, &r.from[..], r.ports.as_ref())).collect()
                }
                Direction::Egress => anp.spec.egress.iter().map(|r| (r.action, &r.to[..], r.ports.as_ref())).collect(),
            };
            let policy = ("AdminNetworkPolicy", anp.metadata.name.as_str());
            admin_part.extend(self.admin_lines(policy, direction, pod, rules.into_iter(), &np_chain));
        }
        if admin_part.is_empty() {
            return np_part;
        }
        let mut admin_part = self.merge(admin_part);
        if admin_part.iter().any(|l| l.ends_with(&np_chain)) || !np_part.is_empty() {
            self.plan.chains.insert(np_chain.clone(), np_part.clone());
        }
        if !np_part.is_empty() {
            admin_part.push(format!("goto {np_chain}"));
        }
        admin_part
    }

    /// The chains of the local pod `pod` and its map elements.
    fn pod_chains(&mut self, pod: usize) {
        for direction in [Direction::Ingress, Direction::Egress] {
            let body = self.body(direction, pod);
            if body.is_empty() {
                continue;
            }
            let chain = content_name("pol", &body.join("\n"));
            self.plan.chains.entry(chain.clone()).or_insert(body);
            let map = match direction {
                Direction::Ingress => &mut self.plan.ingress,
                Direction::Egress => &mut self.plan.egress,
            };
            map.insert(self.input.pods[pod].ip, chain);
        }
    }
}

fn np_port(port: &NetworkPolicyPort) -> RulePort {
    match (&port.port, port.end_port) {
        (None, _) => RulePort::Protocol(port.protocol.unwrap_or_default()),
        (Some(IntOrString::Int(p)), end) => {
            RulePort::Number(port.protocol.unwrap_or_default(), *p as u16, end.unwrap_or(*p) as u16)
        }
        (Some(IntOrString::String(name)), _) => RulePort::Named(port.protocol, name.clone()),
    }
}

fn admin_port(port: &AdminNetworkPolicyPort) -> RulePort {
    match (&port.port_number, &port.named_port, &port.port_range) {
        (Some(n), _, _) => RulePort::Number(n.protocol, n.port as u16, n.port as u16),
        (_, Some(name), _) => RulePort::Named(None, name.clone()),
        (_, _, Some(r)) => RulePort::Number(r.protocol, r.start as u16, r.end as u16),
        // Rejected at the API edge; matches nothing here.
        _ => RulePort::Named(None, String::new()),
    }
}

/// A selector as text, for the definitions that name sets (JSON: stable, and equal for
/// equal selectors since its maps are ordered).
fn show(sel: &ApiSelector) -> String {
    serde_json::to_string(sel).unwrap_or_default()
}

fn show_opt(sel: &Option<ApiSelector>) -> String {
    sel.as_ref().map_or_else(|| "{}".to_string(), show)
}

/// `10.1.2.3/8` as nft writes it back: `10.0.0.0/8`.
fn canonical_cidr(cidr: &str) -> String {
    match openapi::validation::parse_cidr(cidr) {
        Ok((addr, len)) => {
            let (first, _) = openapi::validation::cidr_range(addr, len);
            if len == 32 {
                Ipv4Addr::from(first).to_string()
            } else {
                format!("{}/{len}", Ipv4Addr::from(first))
            }
        }
        // Rejected at the API edge; an address that matches nothing here.
        Err(_) => "0.0.0.0/32".into(),
    }
}

impl<'a> Compiler<'a> {
    fn new(input: &'a PolicyInput, policies: &'a NpIndex, admin_order: Vec<usize>) -> Compiler<'a> {
        Compiler {
            input,
            plan: PolicyPlan::default(),
            specs: BTreeMap::new(),
            maps: BTreeMap::new(),
            policies,
            admin_order,
        }
    }
}

/// Compile the policies for the local pods of `input`: the reference the
/// [`IncrementalCompiler`] is tested against.
pub fn compile(input: &PolicyInput) -> PolicyPlan {
    let policies = np_index(input);
    let mut c = Compiler::new(input, &policies, admin_order(input));
    for pod in 0..input.pods.len() {
        if input.pods[pod].local {
            c.pod_chains(pod);
        }
    }
    // Each set filled once, however many rules and pods name it.
    for (name, spec) in &c.specs {
        c.plan.sets.insert(name.clone(), NamedSet { key: spec.key(), elements: Arc::new(spec.elements(input)) });
    }
    // Each counter map from its members' sets.
    for (name, members) in &c.maps {
        let elements = Arc::new(CounterMap::elements_over(&c.plan.sets, members));
        c.plan.counter_maps.insert(name.clone(), CounterMap { members: Arc::new(members.clone()), elements });
    }
    c.plan
}

/// The set holding the generation of the plan in force (one element), and the map that
/// gives the mark a judged connection takes (the same generation, by protocol): kept in
/// elements rather than in the rules' text, so a change of plan moves the generation in
/// the same set-element transaction as the change itself, without rewriting a rule (see
/// [`PolicyApplier::update`]). TCP and UDP connections are marked (the protocols policies
/// name); any other protocol's packets are judged one by one.
pub const GENERATION_SET: &str = "policy_generation";
pub const MARK_MAP: &str = "policy_marks";
const MARKED_PROTOCOLS: [&str; 2] = ["tcp", "udp"];

/// The hooked chains, the maps and the generation's set and map of the policies, declared
/// (idempotently: `add` of what exists is a no-op), their rules written afresh, and
/// `generation` made the one in force: a connection judged (and allowed) since the plan of
/// this generation was applied carries it as its conntrack mark and passes at once; any
/// other packet of the original direction is judged, and marked when it passes. So the
/// rules cost the first packet of a connection, and once more the first packet after each
/// change of plan (which is how a connection a change denies is cut, and one it still
/// allows goes on), not every packet.
pub fn static_script(generation: u32) -> String {
    let t = format!("{FAMILY} {TABLE}");
    let mut s = String::new();
    for map in [INGRESS_MAP, EGRESS_MAP] {
        let _ = writeln!(s, "add map {t} {map} {{ type ipv4_addr : verdict; }}");
    }
    let _ = writeln!(s, "add set {t} {GENERATION_SET} {{ type mark; }}");
    let _ = writeln!(s, "add map {t} {MARK_MAP} {{ type inet_proto : mark; }}");
    let _ = writeln!(s, "flush set {t} {GENERATION_SET}");
    let _ = writeln!(s, "flush map {t} {MARK_MAP}");
    let _ = writeln!(s, "add element {t} {GENERATION_SET} {{ {generation:#x} }}");
    let marks: Vec<String> = MARKED_PROTOCOLS.iter().map(|p| format!("{p} : {generation:#x}")).collect();
    let _ = writeln!(s, "add element {t} {MARK_MAP} {{ {} }}", marks.join(", "));
    let hooked = [
        ("policy_forward", "forward", &["ip saddr vmap @policy_egress", "ip daddr vmap @policy_ingress"][..]),
        ("policy_input", "input", &["ip saddr vmap @policy_egress"][..]),
    ];
    for (chain, hook, rules) in hooked {
        let _ = writeln!(s, "add chain {t} {chain} {{ type filter hook {hook} priority filter; policy accept; }}");
        let _ = writeln!(s, "flush chain {t} {chain}");
        let _ = writeln!(s, "add rule {t} {chain} ct state related accept");
        let _ = writeln!(s, "add rule {t} {chain} ct direction reply accept");
        let _ = writeln!(s, "add rule {t} {chain} ct mark @{GENERATION_SET} accept");
        for rule in rules {
            let _ = writeln!(s, "add rule {t} {chain} {rule}");
        }
        let _ = writeln!(s, "add rule {t} {chain} ct mark set meta l4proto map @{MARK_MAP}");
    }
    s
}

fn elements<'e>(items: impl IntoIterator<Item = &'e String>) -> Vec<&'e str> {
    items.into_iter().map(String::as_str).collect()
}

/// A counter map's elements as `nft` writes them: `10.1.2.3 : "pc_…"`.
fn counter_elements<'e>(items: impl IntoIterator<Item = (&'e Ipv4Addr, &'e String)>) -> Vec<String> {
    items.into_iter().map(|(ip, counter)| format!("{ip} : \"{counter}\"")).collect()
}

/// A counter map's element: address and counter.
type MapEntry<'m> = (&'m Ipv4Addr, &'m String);

/// From a counter map's elements `before` to `now`: the keys to delete (gone, or mapping to
/// another counter now; with their old value), then the elements to add (new, or changed).
fn map_changes<'m>(
    before: &'m BTreeMap<Ipv4Addr, String>,
    now: &'m BTreeMap<Ipv4Addr, String>,
) -> (Vec<MapEntry<'m>>, Vec<MapEntry<'m>>) {
    let gone = before.iter().filter(|(ip, c)| now.get(ip) != Some(c)).collect();
    let add = now.iter().filter(|(ip, c)| before.get(ip) != Some(c)).collect();
    (gone, add)
}

impl PolicyPlan {
    /// The script that turns the table from `old` into `self`, as one transaction: what is
    /// new ([`PolicyPlan::additions`]), the elements that changed in sets and maps both
    /// have, then what is no longer used ([`PolicyPlan::removals`]). Empty when nothing
    /// changed. Its size follows the change, not the table: chains are named by content and
    /// never rewritten, and a set whose elements are shared with `old` is not compared.
    pub fn diff(&self, old: &PolicyPlan) -> String {
        let t = format!("{FAMILY} {TABLE}");
        let mut s = self.additions(old, true);
        for (name, set) in &self.sets {
            let Some(before) = old.sets.get(name) else { continue };
            if Arc::ptr_eq(&before.elements, &set.elements) {
                continue;
            }
            let added = elements(set.elements.difference(&before.elements));
            let removed = elements(before.elements.difference(&set.elements));
            if !added.is_empty() {
                let _ = writeln!(s, "add element {t} {name} {{ {} }}", added.join(", "));
            }
            if !removed.is_empty() {
                let _ = writeln!(s, "delete element {t} {name} {{ {} }}", removed.join(", "));
            }
        }
        for (name, map) in &self.counter_maps {
            let Some(before) = old.counter_maps.get(name) else { continue };
            if Arc::ptr_eq(&before.elements, &map.elements) {
                continue;
            }
            // A changed value is deleted, then added (an element's value is not replaced).
            let (gone, add) = map_changes(&before.elements, &map.elements);
            if !gone.is_empty() {
                let gone: Vec<String> = gone.iter().map(|(ip, _)| ip.to_string()).collect();
                let _ = writeln!(s, "delete element {t} {name} {{ {} }}", gone.join(", "));
            }
            if !add.is_empty() {
                let _ = writeln!(s, "add element {t} {name} {{ {} }}", counter_elements(add).join(", "));
            }
        }
        for (map, new, before) in [(INGRESS_MAP, &self.ingress, &old.ingress), (EGRESS_MAP, &self.egress, &old.egress)]
        {
            let mut gone = Vec::new();
            let mut add = Vec::new();
            for (ip, chain) in before {
                if new.get(ip) != Some(chain) {
                    gone.push(ip.to_string());
                }
            }
            for (ip, chain) in new {
                if before.get(ip) != Some(chain) {
                    add.push(format!("{ip} : jump {chain}"));
                }
            }
            if !gone.is_empty() {
                let _ = writeln!(s, "delete element {t} {map} {{ {} }}", gone.join(", "));
            }
            if !add.is_empty() {
                let _ = writeln!(s, "add element {t} {map} {{ {} }}", add.join(", "));
            }
        }
        s.push_str(&self.removals(old));
        s
    }

    /// The sets and counter maps (with their elements, if `with_elements`), counters and
    /// chains of `self` that `old` lacks, the counters before the map elements and chains
    /// that name them. Nothing uses them until a map element points at a new chain, so they can be
    /// written before the change that uses them, in a transaction of their own.
    pub fn additions(&self, old: &PolicyPlan, with_elements: bool) -> String {
        let t = format!("{FAMILY} {TABLE}");
        let mut s = String::new();
        for (name, set) in self.sets.iter().filter(|(name, _)| !old.sets.contains_key(*name)) {
            let _ = writeln!(s, "add set {t} {name} {{ type {}; }}", set.key);
            if with_elements && !set.elements.is_empty() {
                let _ = writeln!(s, "add element {t} {name} {{ {} }}", elements(set.elements.iter()).join(", "));
            }
        }
        // Counters before the rules and map elements that name them.
        for name in self.counters.keys().filter(|n| !old.counters.contains_key(*n)) {
            let _ = writeln!(s, "add counter {t} {name}");
        }
        for (name, map) in self.counter_maps.iter().filter(|(name, _)| !old.counter_maps.contains_key(*name)) {
            let _ = writeln!(s, "add map {t} {name} {{ type {COUNTER_MAP_TYPE}; }}");
            if with_elements && !map.elements.is_empty() {
                let _ =
                    writeln!(s, "add element {t} {name} {{ {} }}", counter_elements(map.elements.iter()).join(", "));
            }
        }
        // Chains in an order where a `goto` target comes before the chain that names it.
        let mut new_chains: Vec<(&String, &Vec<String>)> =
            self.chains.iter().filter(|(name, _)| !old.chains.contains_key(*name)).collect();
        new_chains.sort_by_key(|(name, _)| !name.starts_with("pnp_"));
        for (name, rules) in new_chains {
            let _ = writeln!(s, "add chain {t} {name}");
            for rule in rules {
                let _ = writeln!(s, "add rule {t} {name} {rule}");
            }
        }
        s
    }

    /// The chains, sets, maps and counters of `old` that `self` no longer uses: unused
    /// chains before the sets, maps and counters their rules name, maps before the counters
    /// their elements name, a chain that names a `pnp_` chain before it. Once nothing
    /// points at them they can go in a transaction of their own, after the change.
    pub fn removals(&self, old: &PolicyPlan) -> String {
        let t = format!("{FAMILY} {TABLE}");
        let mut s = String::new();
        let mut gone_chains: Vec<&String> = old.chains.keys().filter(|n| !self.chains.contains_key(*n)).collect();
        gone_chains.sort_by_key(|name| name.starts_with("pnp_"));
        for name in gone_chains {
            let _ = writeln!(s, "delete chain {t} {name}");
        }
        for name in old.sets.keys().filter(|n| !self.sets.contains_key(*n)) {
            let _ = writeln!(s, "delete set {t} {name}");
        }
        // Maps before the counters their elements name.
        for name in old.counter_maps.keys().filter(|n| !self.counter_maps.contains_key(*n)) {
            let _ = writeln!(s, "delete map {t} {name}");
        }
        for name in old.counters.keys().filter(|n| !self.counters.contains_key(*n)) {
            let _ = writeln!(s, "delete counter {t} {name}");
        }
        s
    }

    /// The whole plan as a script onto an empty table part (the diff from nothing).
    pub fn render(&self) -> String {
        self.diff(&PolicyPlan::default())
    }
}

/// The prefixes of the chains and sets the policies own in flatnet's table.
pub const OWN_CHAIN_PREFIXES: [&str; 2] = ["pol_", "pnp_"];
pub const OWN_SET_PREFIXES: [&str; 3] = ["peer_", "pport_", COUNTER_MAP_PREFIX];

/// The script that makes the policy part of the table exactly `plan`, whatever it holds
/// (`existing`: its chains and sets, as listed; `None`: no table). One transaction: the
/// maps and the policy chains and sets there are emptied, those no longer wanted deleted,
/// and the plan written. The service part of the table is left alone.
pub fn full_script(existing: Option<&TableObjects>, plan: &PolicyPlan, generation: u32) -> String {
    let t = format!("{FAMILY} {TABLE}");
    let mut s = format!("add table {t}\n");
    s.push_str(&static_script(generation));
    for map in [INGRESS_MAP, EGRESS_MAP] {
        let _ = writeln!(s, "flush map {t} {map}");
    }
    let empty = TableObjects::default();
    let existing = existing.unwrap_or(&empty);
    let own_chains: Vec<&String> =
        existing.chains.iter().filter(|c| OWN_CHAIN_PREFIXES.iter().any(|p| c.starts_with(p))).collect();
    let own_sets: Vec<&String> =
        existing.sets.iter().filter(|n| OWN_SET_PREFIXES.iter().any(|p| n.starts_with(p))).collect();
    for c in &own_chains {
        let _ = writeln!(s, "flush chain {t} {c}");
    }
    // (`flush set` does not take a map.)
    let kind = |name: &str| if name.starts_with(COUNTER_MAP_PREFIX) { "map" } else { "set" };
    for set in &own_sets {
        let _ = writeln!(s, "flush {} {t} {set}", kind(set));
    }
    for c in own_chains.iter().filter(|c| !plan.chains.contains_key(**c)) {
        let _ = writeln!(s, "delete chain {t} {c}");
    }
    for set in own_sets.iter().filter(|n| !plan.sets.contains_key(**n) && !plan.counter_maps.contains_key(**n)) {
        let _ = writeln!(s, "delete {} {t} {set}", kind(set));
    }
    // Counters no rule names any more (those kept keep their counts).
    for c in existing.counters.iter().filter(|c| c.starts_with(counters::COUNTER_PREFIX)) {
        if !plan.counters.contains_key(c) {
            let _ = writeln!(s, "delete counter {t} {c}");
        }
    }
    // Written as onto nothing: `add` of a chain or set that exists (now empty) is a no-op.
    s.push_str(&plan.render());
    s
}

/// What an apply did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyReport {
    /// Bytes of the scripts plus elements sent (0: nothing changed, nothing was run).
    pub script_bytes: usize,
    /// An update's time from its start until the change was in force (before the unused
    /// chains and sets were deleted).
    pub enforced: Option<std::time::Duration>,
}

/// The policy part of flatnet's table in one namespace: remembers the plan it applied, so
/// each later plan costs only its difference.
pub struct PolicyApplier {
    ns: Netns,
    /// The nfnetlink socket of changes that only add and remove elements, opened at the
    /// first.
    nl: Option<nftnl::Socket>,
    applied: Option<PolicyPlan>,
    /// The generation of the plan applied last ([`static_script`]).
    generation: u32,
}

impl PolicyApplier {
    pub fn new(ns: Netns) -> PolicyApplier {
        // Seeded from the clock, so a restarted agent does not take the marks of the
        // connections an earlier one judged for its own.
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_secs() as u32);
        PolicyApplier { ns, nl: None, applied: None, generation: seed }
    }

    /// The next generation (never 0, the mark of a connection never judged).
    fn next_generation(&mut self) -> u32 {
        self.generation = self.generation.wrapping_add(1).max(1);
        self.generation
    }

    /// Make the table hold exactly `plan`, whatever it held (drift repair, first apply).
    pub fn sync_all(&mut self, plan: PolicyPlan) -> Result<PolicyReport> {
        let existing = nft::list_objects(&self.ns)?;
        let script = full_script(existing.as_ref(), &plan, self.next_generation());
        nft::apply(&self.ns, &script)?;
        self.applied = Some(plan);
        Ok(PolicyReport { script_bytes: script.len(), enforced: None })
    }

    /// The counters of the policies' rules as the kernel holds them (none before the first
    /// apply).
    pub fn counters(&self) -> Result<Vec<openapi::PolicyCounter>> {
        match &self.applied {
            Some(plan) => counters::read(&self.ns, &plan.counters),
            None => Ok(Vec::new()),
        }
    }

    /// Move the table from the last plan applied to `plan` (a full sync when none was).
    pub fn update(&mut self, plan: PolicyPlan) -> Result<PolicyReport> {
        let Some(old) = self.applied.take() else { return self.sync_all(plan) };
        let diff = plan.diff(&old);
        if diff.is_empty() {
            self.applied = Some(old);
            return Ok(PolicyReport::default());
        }
        let old_generation = self.generation;
        let generation = self.next_generation();
        let started = std::time::Instant::now();
        let mut enforced = None;
        let mut bytes = 0;
        // In three steps, each one transaction: (1) new sets and chains, which nothing uses
        // yet, by `nft -f`; (2) the change itself: the elements of existing sets and the
        // maps, which point pods at their new chains, and the generation, in one batch of
        // elements over nfnetlink (whose cost follows the change, where `nft` reads a cache
        // of the table first: see `crate::nftnl`); (3) the chains and sets no longer used,
        // by `nft -f` (deleting through `nft` costs 10 to 30 ms here, after enforcement).
        // Traffic sees the old plan until (2) and the new one from (2) on.
        let result = (|| -> Result<()> {
            // New sets empty: their elements go with the change (2), as elements.
            let additions = plan.additions(&old, false);
            if !additions.is_empty() {
                nft::apply(&self.ns, &additions)?;
                bytes += additions.len();
            }
            let ops = element_ops(&old, &plan, old_generation, generation);
            let nl = match &mut self.nl {
                Some(nl) => nl,
                None => self.nl.insert(nftnl::Socket::open(&self.ns)?),
            };
            nl.apply(TABLE, &ops.refs())?;
            bytes += ops.0.iter().map(|(_, _, elements)| elements.len()).sum::<usize>();
            enforced = Some(started.elapsed());
            let removals = plan.removals(&old);
            if !removals.is_empty() {
                nft::apply(&self.ns, &removals)?;
                bytes += removals.len();
            }
            Ok(())
        })();
        if let Err(e) = result {
            // What the kernel holds is unknown now: the next apply is a full one.
            self.applied = None;
            return Err(e);
        }
        self.applied = Some(plan);
        Ok(PolicyReport { script_bytes: bytes, enforced })
    }
}

/// Element changes to send over nfnetlink, as owned sets and elements.
struct ElementOps(Vec<(Op, Set, Vec<Element>)>);

impl ElementOps {
    fn push(&mut self, op: Op, set: &Set, elements: Vec<Element>) {
        if !elements.is_empty() {
            self.0.push((op, set.clone(), elements));
        }
    }

    fn refs(&self) -> Vec<SetOp<'_>> {
        self.0.iter().map(|(op, set, elements)| SetOp { op: *op, set, elements }).collect()
    }
}

/// A plan's set element (`10.1.2.3`, or `10.1.2.3 . tcp . 80`) as typed parts.
fn parse_element(text: &str) -> Element {
    let key = text
        .split(" . ")
        .map(|part| match part {
            "tcp" => Part::Proto(Proto::Tcp),
            "udp" => Part::Proto(Proto::Udp),
            other => match other.parse::<Ipv4Addr>() {
                Ok(ip) => Part::Ipv4(ip),
                // The compiler writes nothing else.
                Err(_) => Part::Port(other.parse().unwrap_or_default()),
            },
        })
        .collect();
    Element { key, value: None }
}

/// The element changes from `old` to `new` (whose new sets exist, empty), and the generation
/// moved from `old_generation` to `generation`; in the order they apply.
fn element_ops(old: &PolicyPlan, new: &PolicyPlan, old_generation: u32, generation: u32) -> ElementOps {
    let mut ops = ElementOps(Vec::new());
    let empty = Arc::new(BTreeSet::new());
    for (name, set) in &new.sets {
        // A new set was created empty.
        let before = old.sets.get(name).map_or(&empty, |b| &b.elements);
        if Arc::ptr_eq(before, &set.elements) {
            continue;
        }
        let key = match set.key {
            ADDRESS_KEY => Type::Type(vec![Datatype::Ipv4Addr]),
            _ => Type::Type(vec![Datatype::Ipv4Addr, Datatype::InetProto, Datatype::InetService]),
        };
        let kernel_set = Set::plain(name.clone(), key);
        let added = set.elements.difference(before).map(|e| parse_element(e)).collect();
        let removed = before.difference(&set.elements).map(|e| parse_element(e)).collect();
        ops.push(Op::Add, &kernel_set, added);
        ops.push(Op::Delete, &kernel_set, removed);
    }
    let empty_map = Arc::new(BTreeMap::new());
    for (name, map) in &new.counter_maps {
        // A new map was created empty.
        let before = old.counter_maps.get(name).map_or(&empty_map, |b| &b.elements);
        if Arc::ptr_eq(before, &map.elements) {
            continue;
        }
        let kernel_map = Set::map(name.clone(), Type::Type(vec![Datatype::Ipv4Addr]), MapData::Counter);
        let (gone, add) = map_changes(before, &map.elements);
        let element = |(ip, c): (&Ipv4Addr, &String)| Element {
            key: vec![Part::Ipv4(*ip)],
            value: Some(Value::Counter(c.clone())),
        };
        ops.push(Op::Delete, &kernel_map, gone.into_iter().map(element).collect());
        ops.push(Op::Add, &kernel_map, add.into_iter().map(element).collect());
    }
    let entry = |ip: &Ipv4Addr, chain: &String| Element {
        key: vec![Part::Ipv4(*ip)],
        value: Some(Value::Verdict(Verdict::Jump(chain.clone()))),
    };
    for (map, now, before) in [(INGRESS_MAP, &new.ingress, &old.ingress), (EGRESS_MAP, &new.egress, &old.egress)] {
        let kernel_map = Set::map(map, Type::Type(vec![Datatype::Ipv4Addr]), MapData::Verdict);
        let gone = before.iter().filter(|(ip, chain)| now.get(ip) != Some(chain)).map(|(ip, c)| entry(ip, c)).collect();
        let added =
            now.iter().filter(|(ip, chain)| before.get(ip) != Some(chain)).map(|(ip, c)| entry(ip, c)).collect();
        ops.push(Op::Delete, &kernel_map, gone);
        ops.push(Op::Add, &kernel_map, added);
    }
    let generation_set = Set::plain(GENERATION_SET, Type::Type(vec![Datatype::Mark]));
    let mark = |g: u32| Element { key: vec![Part::Mark(g)], value: None };
    ops.push(Op::Delete, &generation_set, vec![mark(old_generation)]);
    ops.push(Op::Add, &generation_set, vec![mark(generation)]);
    let marks =
        Set::map(MARK_MAP, Type::Type(vec![Datatype::InetProto]), MapData::Data(Type::Type(vec![Datatype::Mark])));
    let by_protocol = |g: u32| -> Vec<Element> {
        [Proto::Tcp, Proto::Udp]
            .into_iter()
            .map(|p| Element { key: vec![Part::Proto(p)], value: Some(Value::Data(vec![Part::Mark(g)])) })
            .collect()
    };
    ops.push(Op::Delete, &marks, by_protocol(old_generation));
    ops.push(Op::Add, &marks, by_protocol(generation));
    ops
}

#[path = "policy_incremental.rs"]
mod incremental;
pub use incremental::IncrementalCompiler;

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
