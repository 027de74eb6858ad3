//! The pure half of the service proxy: what each service port puts in the table (typed
//! elements, and for sticky services chains and sets of its own), the difference between two
//! states as one transaction, the whole table for a full sync, and the UDP flows a change
//! makes stale. No kernel access: golden-tested (`tests.rs`, files in `golden/`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;

use crate::nft::model::{Chain, Command, Element, Op, Part, Set, SetKind, Value, Verdict};
use crate::nft::TableObjects;

use super::layout::{
    affinity_set, chain_group, group_name, groups_in, static_chains, write_lb_objects, write_np_objects, ElementSet,
    Group, FLATNET, MASQUERADE_MARK, STATIC_SETS,
};
use super::{ApplyReport, Endpoint, Frontend, Proto, ServicePort, StaleFlow, TableConfig};

impl ServicePort {
    /// Sort and deduplicate the endpoints, so equal inputs render equal rules.
    pub fn normalize(mut self) -> Self {
        self.endpoints.sort();
        self.endpoints.dedup_by(|a, b| a.ip == b.ip && a.port == b.port);
        self
    }

    fn frontend(&self) -> Vec<Part> {
        vec![Part::Ipv4(self.cluster_ip), Part::Proto(self.proto), Part::Port(self.port)]
    }

    /// The endpoints that serve its NodePort on this node.
    fn node_port_endpoints(&self) -> Vec<Endpoint> {
        self.endpoints.iter().copied().filter(|e| !self.external_local || e.local).collect()
    }

    fn affinity_chain(&self) -> String {
        format!("aff_{:012x}", crate::names::stable_hash(&self.name) & 0xffff_ffff_ffff)
    }

    /// Endpoint names include the timeout: a changed timeout makes new sets.
    fn affinity_endpoint(&self, e: &Endpoint, timeout: u32) -> String {
        let h = crate::names::stable_hash(&format!("{}:{}/{timeout}", e.ip, e.port)) & 0xffff_ffff;
        format!("{}_{h:08x}", self.affinity_chain())
    }
}

/// The value of a slot map's element: an endpoint.
fn endpoint_value(e: &Endpoint) -> Option<Value> {
    Some(Value::Data(vec![Part::Ipv4(e.ip), Part::Port(e.port)]))
}

fn goto(chain: String) -> Option<Value> {
    Some(Value::Verdict(Verdict::Goto(chain)))
}

/// Everything one service port puts in the table.
#[derive(Debug, Default, PartialEq, Eq)]
struct Contents {
    /// Set → key → value (`None` for a plain set).
    elements: BTreeMap<ElementSet, BTreeMap<Vec<Part>, Option<Value>>>,
    /// Chains of its own: name → rules (sticky services only).
    chains: BTreeMap<String, Vec<String>>,
    /// Sets of its own, by name (`None`: one the kernel holds, declaration unknown).
    sets: BTreeMap<String, Option<Set>>,
    lb_sizes: BTreeSet<Group>,
    np_sizes: BTreeSet<Group>,
    /// Local endpoint IPs (the `hairpin` set is shared: reference-counted).
    hairpin: BTreeSet<Ipv4Addr>,
}

fn contents(sp: &ServicePort) -> Contents {
    let mut c = Contents::default();
    let mut elem = |set: ElementSet, key: Vec<Part>, value: Option<Value>| {
        c.elements.entry(set).or_default().insert(key, value);
    };
    let n = sp.endpoints.len();
    let frontend = sp.frontend();
    if n == 0 {
        elem(ElementSet::NoEndpoints, frontend.clone(), None);
    } else if sp.affinity_seconds.is_some() {
        elem(ElementSet::ServiceIps, frontend.clone(), goto(sp.affinity_chain()));
    } else {
        let g = (sp.proto, n);
        elem(ElementSet::ServiceIps, frontend.clone(), goto(format!("lb_{}", group_name(g))));
        for (slot, e) in (0u32..).zip(&sp.endpoints) {
            let key = [&frontend[..], &[Part::Integer(slot)]].concat();
            elem(ElementSet::LbSlots(g), key, endpoint_value(e));
        }
    }
    if let Some(np) = sp.node_port {
        let key = vec![Part::Proto(sp.proto), Part::Port(np)];
        let eps = sp.node_port_endpoints();
        let m = eps.len();
        if n == 0 {
            elem(ElementSet::NoEndpointNodePorts, key, None);
        } else if m == 0 {
            // Local, and none of the endpoints is on this node.
            elem(ElementSet::NodePorts, key, Some(Value::Verdict(Verdict::Drop)));
        } else if sp.affinity_seconds.is_some() && !sp.external_local {
            elem(ElementSet::NodePorts, key, goto(format!("affnp_{}", &sp.affinity_chain()[4..])));
        } else {
            let chain = if sp.external_local { "np_local_lb" } else { "np_lb" };
            let g = (sp.proto, m);
            elem(ElementSet::NodePorts, key.clone(), goto(format!("{chain}_{}", group_name(g))));
            for (slot, e) in (0u32..).zip(&eps) {
                let key = [&key[..], &[Part::Integer(slot)]].concat();
                elem(ElementSet::NpSlots(g), key, endpoint_value(e));
            }
            c.np_sizes.insert(g);
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
        c.sets.insert(ep.clone(), Some(affinity_set(ep.clone(), timeout)));
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

/// Elements of one set, with the set's declaration (which says how to encode them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SetElements {
    pub set: Set,
    pub elements: Vec<Element>,
}

/// Elements by set name (the order of the script).
type ElementsBySet = BTreeMap<String, SetElements>;

fn push(map: &mut ElementsBySet, set: ElementSet, elements: impl IntoIterator<Item = Element>) {
    let mut elements = elements.into_iter().peekable();
    if elements.peek().is_some() {
        map.entry(set.name())
            .or_insert_with(|| SetElements { set: set.declaration(), elements: Vec::new() })
            .elements
            .extend(elements);
    }
}

/// One transaction under construction, in the order the kernel needs: element deletions,
/// flushes of chains that change or go, deletions of chains then sets, creations (sets,
/// then empty chains, then rules), element additions.
#[derive(Default)]
pub(super) struct Tx {
    head: String,
    del_elements: ElementsBySet,
    flush_chains: BTreeSet<String>,
    del_chains: BTreeSet<String>,
    del_sets: BTreeSet<String>,
    shared: String,
    add_sets: BTreeMap<String, Set>,
    add_chains: BTreeSet<String>,
    rules: Vec<(String, String)>,
    pub add_elements: ElementsBySet,
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
    fn into_element_ops(self) -> Vec<(Op, SetElements)> {
        let dels = self.del_elements.into_values().map(|s| (Op::Delete, s));
        dels.chain(self.add_elements.into_values().map(|s| (Op::Add, s))).collect()
    }

    pub fn render(&self) -> String {
        let mut s = self.head.clone();
        for (set, dels) in &self.del_elements {
            FLATNET.write(&mut s, Command::DeleteElements(set, &dels.elements));
        }
        for c in &self.flush_chains {
            FLATNET.write(&mut s, Command::FlushChain(c));
        }
        for c in &self.del_chains {
            FLATNET.write(&mut s, Command::DeleteChain(c));
        }
        for set in &self.del_sets {
            // Only sticky services' own sets are deleted, and those are sets.
            FLATNET.write(&mut s, Command::DeleteSet(SetKind::Set, set));
        }
        s.push_str(&self.shared);
        for set in self.add_sets.values() {
            FLATNET.write(&mut s, Command::AddSet(set));
        }
        for c in &self.add_chains {
            FLATNET.write(&mut s, Command::AddChain(&Chain::regular(c.as_str())));
        }
        for (c, rule) in &self.rules {
            FLATNET.write(&mut s, Command::AddRule(c, rule));
        }
        for (set, adds) in &self.add_elements {
            // Long element lists in chunks: one command per set keeps parsing fast, and
            // bounded lines keep error messages readable.
            for chunk in adds.elements.chunks(4096) {
                FLATNET.write(&mut s, Command::AddElements(set, chunk));
            }
        }
        s
    }
}

/// The difference between what a service port had and what it should have.
fn diff(old: &Contents, new: &Contents, tx: &mut Tx) {
    type Elements = BTreeMap<Vec<Part>, Option<Value>>;
    // The elements of `ours` that `theirs` lacks or holds with another value.
    let missing = |ours: &Elements, theirs: Option<&Elements>| -> Vec<Element> {
        ours.iter()
            .filter(|(key, value)| theirs.and_then(|t| t.get(*key)) != Some(*value))
            .map(|(key, value)| Element { key: key.clone(), value: value.clone() })
            .collect()
    };
    for (set, elements) in &old.elements {
        push(&mut tx.del_elements, *set, missing(elements, new.elements.get(set)));
    }
    for (set, elements) in &new.elements {
        push(&mut tx.add_elements, *set, missing(elements, old.elements.get(set)));
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
    for (name, set) in new.sets.iter().filter(|(s, _)| !old.sets.contains_key(*s)) {
        if let Some(set) = set {
            tx.add_sets.insert(name.clone(), set.clone());
        }
    }
}

/// The UDP flows to drop when a service port changes from `old` to `new`: those NATed to
/// an endpoint that is gone, and every flow of a frontend that had no endpoint and now has.
pub(super) fn stale_flows(old: Option<&ServicePort>, new: Option<&ServicePort>) -> Vec<StaleFlow> {
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

/// What the table holds besides the service ports' own elements: the shared groups that
/// exist, and how many service ports use each `hairpin` address.
#[derive(Clone, Debug, Default)]
pub(super) struct Shared {
    pub lb_sizes: BTreeSet<Group>,
    pub np_sizes: BTreeSet<Group>,
    hairpin: HashMap<Ipv4Addr, usize>,
}

fn hairpin_element(ip: Ipv4Addr) -> Element {
    Element { key: vec![Part::Ipv4(ip), Part::Ipv4(ip)], value: None }
}

/// A rendered change, not yet applied ([`super::Proxier::prepare_update`]).
pub struct Prepared {
    /// The nft script (empty: nothing to do).
    pub script: String,
    /// The same change when it only touches elements: applied over nfnetlink.
    pub(super) element_ops: Option<Vec<(Op, SetElements)>>,
    pub(super) shared: Shared,
    pub(super) next: Vec<(String, Option<ServicePort>)>,
    pub report: ApplyReport,
}

/// The change from `applied` (with `shared`) for a batch of `changes`: `Some(port)` adds or
/// replaces the service port of that name, `None` removes it; the last change of a name
/// wins.
pub(super) fn prepare(
    applied: &HashMap<String, ServicePort>,
    shared: &Shared,
    changes: Vec<(String, Option<ServicePort>)>,
) -> Prepared {
    let mut tx = Tx::default();
    let mut shared = shared.clone();
    let mut report = ApplyReport::default();
    let mut next: Vec<(String, Option<ServicePort>)> = Vec::new();
    let changes: BTreeMap<String, Option<ServicePort>> =
        changes.into_iter().map(|(n, sp)| (n, sp.map(ServicePort::normalize))).collect();
    for (name, new) in changes {
        let old = applied.get(&name);
        if old == new.as_ref() {
            continue;
        }
        let old_c = old.map(contents).unwrap_or_default();
        let new_c = new.as_ref().map(contents).unwrap_or_default();
        diff(&old_c, &new_c, &mut tx);
        for n in &new_c.lb_sizes {
            if shared.lb_sizes.insert(*n) {
                write_lb_objects(&mut tx.shared, *n);
            }
        }
        for n in &new_c.np_sizes {
            if shared.np_sizes.insert(*n) {
                write_np_objects(&mut tx.shared, *n);
            }
        }
        for ip in old_c.hairpin.difference(&new_c.hairpin) {
            let count = shared.hairpin.entry(*ip).or_default();
            *count = count.saturating_sub(1);
            if *count == 0 {
                shared.hairpin.remove(ip);
                push(&mut tx.del_elements, ElementSet::Hairpin, [hairpin_element(*ip)]);
            }
        }
        for ip in new_c.hairpin.difference(&old_c.hairpin) {
            let count = shared.hairpin.entry(*ip).or_default();
            *count += 1;
            if *count == 1 {
                push(&mut tx.add_elements, ElementSet::Hairpin, [hairpin_element(*ip)]);
            }
        }
        report.stale.extend(stale_flows(old, new.as_ref()));
        report.changed += 1;
        next.push((name, new));
    }
    // A hairpin address removed by one service port and added by another cancels out.
    let hairpin = ElementSet::Hairpin.name();
    if let (Some(dels), Some(adds)) = (tx.del_elements.get_mut(&hairpin), tx.add_elements.get_mut(&hairpin)) {
        let both: BTreeSet<Element> = dels.elements.iter().filter(|d| adds.elements.contains(d)).cloned().collect();
        dels.elements.retain(|d| !both.contains(d));
        adds.elements.retain(|a| !both.contains(a));
    }
    tx.del_elements.retain(|_, v| !v.elements.is_empty());
    tx.add_elements.retain(|_, v| !v.elements.is_empty());
    let script = if tx.is_empty() { String::new() } else { tx.render() };
    report.script_bytes = script.len();
    let element_ops = (!tx.is_empty() && tx.elements_only()).then(|| tx.into_element_ops());
    Prepared { script, element_ops, shared, next, report }
}

/// The whole table for `desired`, adopting `existing` (what the kernel holds): static
/// declarations and rules again, every map's elements replaced, stale per-service chains
/// and sets removed. One transaction.
pub fn render_full(
    config: &TableConfig,
    existing: Option<&TableObjects>,
    desired: &HashMap<String, ServicePort>,
) -> String {
    full_tx(config, existing, desired).0.render()
}

/// The transaction of [`render_full`], and the shared state the desired service ports need
/// (without the groups that only `existing` has).
pub(super) fn full_tx(
    config: &TableConfig,
    existing: Option<&TableObjects>,
    desired: &HashMap<String, ServicePort>,
) -> (Tx, Shared) {
    let mut tx = Tx::default();
    let head = &mut tx.head;
    FLATNET.write(head, Command::AddTable);
    let static_sets: Vec<Set> = STATIC_SETS.iter().map(|s| s.declaration()).collect();
    for set in &static_sets {
        FLATNET.write(head, Command::AddSet(set));
    }
    let chains = static_chains(config);
    for c in &chains {
        FLATNET.write(head, Command::AddChain(&c.chain));
    }
    let existing_groups = |prefix: &str| -> BTreeSet<Group> {
        existing.map(|o| groups_in(&o.sets, prefix)).unwrap_or_default().into_iter().collect()
    };
    let lb_existing = existing_groups("lb_slots_");
    let np_existing = existing_groups("np_slots_");
    if existing.is_some() {
        for set in &static_sets {
            FLATNET.write(head, Command::FlushSet(set.kind(), &set.name));
        }
        for g in &lb_existing {
            FLATNET.write(head, Command::FlushSet(SetKind::Map, &ElementSet::LbSlots(*g).name()));
        }
        for g in &np_existing {
            FLATNET.write(head, Command::FlushSet(SetKind::Map, &ElementSet::NpSlots(*g).name()));
        }
    }
    for c in &chains {
        FLATNET.write(head, Command::FlushChain(&c.chain.name));
        for r in &c.rules {
            FLATNET.write(head, Command::AddRule(&c.chain.name, r));
        }
    }
    // The per-service objects in the kernel are treated as "old" content with unknown rules:
    // every one is flushed; those still wanted get their rules again.
    let mut old = Contents::default();
    if let Some(objects) = existing {
        for c in objects.chains.iter().filter(|c| c.starts_with("aff")) {
            old.chains.insert(c.clone(), vec!["(unknown)".into()]);
        }
        for s in objects.sets.iter().filter(|s| s.starts_with("aff")) {
            old.sets.insert(s.clone(), None);
        }
    }
    let (new, shared) = all_contents(desired);
    // Elements were flushed above: none of the old ones need deleting.
    diff(&Contents { elements: BTreeMap::new(), ..old }, &new, &mut tx);
    // Shared chains and maps: those the desired state needs, plus those that exist.
    for n in shared.lb_sizes.union(&lb_existing) {
        write_lb_objects(&mut tx.shared, *n);
    }
    for n in shared.np_sizes.union(&np_existing) {
        write_np_objects(&mut tx.shared, *n);
    }
    (tx, shared)
}

/// What all of `desired` puts in the table together, and the shared state that needs.
fn all_contents(desired: &HashMap<String, ServicePort>) -> (Contents, Shared) {
    let mut shared = Shared::default();
    let mut all = Contents::default();
    let mut names: Vec<&String> = desired.keys().collect();
    names.sort();
    for name in names {
        let c = contents(&desired[name]);
        shared.lb_sizes.extend(&c.lb_sizes);
        shared.np_sizes.extend(&c.np_sizes);
        for ip in &c.hairpin {
            *shared.hairpin.entry(*ip).or_default() += 1;
        }
        for (set, elements) in c.elements {
            all.elements.entry(set).or_default().extend(elements);
        }
        all.chains.extend(c.chains);
        all.sets.extend(c.sets);
    }
    let hairpin = all.elements.entry(ElementSet::Hairpin).or_default();
    hairpin.extend(shared.hairpin.keys().map(|ip| (hairpin_element(*ip).key, None)));
    (all, shared)
}

/// A repair of drift ([`super::Proxier::repair`]).
pub(super) enum Repair {
    /// Nothing that was deleted is wanted (the echo of the proxier's own deletions, or
    /// someone else's objects).
    Nothing,
    /// Only wanted elements were deleted: add them again (over nfnetlink).
    Elements(Vec<(Op, SetElements)>),
    /// Chains, rules or sets were deleted: this script puts back the wanted ones, what
    /// refers to them, and their elements.
    Script(String),
}

/// What puts back the wanted objects that `drift` says were deleted from a table that holds
/// `applied` (the table itself still exists: a deleted table is a full sync). Pure.
///
/// - A deleted element that `applied` wants (its key encoded as the set declares) is added
///   again; nothing else of its set is touched.
/// - A deleted or emptied chain is declared again (static chains with their hook) and gets
///   its rules again; so does every static chain whose rules name it (`jump`, `goto`,
///   `@set`): the kernel only lets a chain or set go once nothing refers to it, so those
///   rules went first.
/// - A deleted set is declared again with every wanted element; sticky clients' sets come
///   back empty (clients are placed again). Shared groups (`lb_P_N`, `np_…_P_N`) are
///   written whole.
pub(super) fn repair(
    config: &TableConfig,
    applied: &HashMap<String, ServicePort>,
    shared: &Shared,
    drift: &crate::monitor::TableDrift,
) -> Repair {
    let (all, _) = all_contents(applied);
    let statics = static_chains(config);
    let mut tx = Tx::default();
    // Declared sets by name: the static ones, the groups', sticky services'.
    let declared = |name: &str| -> Option<(Option<ElementSet>, Option<Set>)> {
        if let Some(s) = STATIC_SETS.iter().find(|s| s.name() == name) {
            return Some((Some(*s), Some(s.declaration())));
        }
        let lb = shared.lb_sizes.iter().map(|g| ElementSet::LbSlots(*g));
        let np = shared.np_sizes.iter().map(|g| ElementSet::NpSlots(*g));
        if let Some(s) = lb.chain(np).find(|s| s.name() == name) {
            return Some((Some(s), Some(s.declaration())));
        }
        all.sets.get(name).map(|set| (None, set.clone()))
    };
    // Chains and sets to put back, closed over the static chains that refer to them.
    let mut chains: BTreeSet<String> = drift.chains.union(&drift.rules).cloned().collect();
    let sets: BTreeSet<String> = drift.sets.iter().filter(|s| declared(s).is_some()).cloned().collect();
    for c in &statics {
        let refers = |name: &String| {
            c.rules.iter().any(|r| r.split_whitespace().any(|w| w == name || w.strip_prefix('@') == Some(name)))
        };
        if chains.iter().chain(&sets).any(refers) {
            chains.insert(c.chain.name.clone());
        }
    }
    let mut groups_lb = BTreeSet::new();
    let mut groups_np = BTreeSet::new();
    let mut elements: BTreeMap<ElementSet, Vec<Element>> = BTreeMap::new();
    for name in &sets {
        match declared(name) {
            Some((Some(ElementSet::LbSlots(g)), _)) => {
                groups_lb.insert(g);
            }
            Some((Some(ElementSet::NpSlots(g)), _)) => {
                groups_np.insert(g);
            }
            Some((_, Some(set))) => FLATNET.write(&mut tx.head, Command::AddSet(&set)),
            _ => continue,
        }
        if let Some((Some(set), _)) = declared(name) {
            let wanted = all.elements.get(&set).into_iter().flatten();
            elements.entry(set).or_default().extend(wanted.map(|(k, v)| Element { key: k.clone(), value: v.clone() }));
        }
    }
    for name in &chains {
        if let Some(c) = statics.iter().find(|c| &c.chain.name == name) {
            FLATNET.write(&mut tx.head, Command::AddChain(&c.chain));
            tx.flush_chains.insert(name.clone());
            tx.rules.extend(c.rules.iter().map(|r| (name.clone(), r.clone())));
        } else if let Some(rules) = all.chains.get(name) {
            FLATNET.write(&mut tx.head, Command::AddChain(&Chain::regular(name.as_str())));
            tx.flush_chains.insert(name.clone());
            tx.rules.extend(rules.iter().map(|r| (name.clone(), r.clone())));
        } else {
            match chain_group(name) {
                Some(ElementSet::LbSlots(g)) if shared.lb_sizes.contains(&g) => {
                    groups_lb.insert(g);
                }
                Some(ElementSet::NpSlots(g)) if shared.np_sizes.contains(&g) => {
                    groups_np.insert(g);
                }
                _ => {}
            }
        }
    }
    // A sticky service's chains refer to its sets: declare those first (idempotent).
    for name in chains.iter().filter(|c| all.chains.contains_key(*c)) {
        for (set, decl) in all.sets.iter().filter(|(s, _)| s.starts_with(name.as_str())) {
            if let (false, Some(decl)) = (sets.contains(set), decl) {
                FLATNET.write(&mut tx.head, Command::AddSet(decl));
            }
        }
    }
    for g in groups_lb {
        write_lb_objects(&mut tx.shared, g);
    }
    for g in groups_np {
        write_np_objects(&mut tx.shared, g);
    }
    // Deleted elements that are wanted, matched by their encoded keys.
    for (name, keys) in &drift.elements {
        let Some((Some(set), Some(decl))) = declared(name) else { continue };
        if sets.contains(name) {
            continue;
        }
        let wanted = all.elements.get(&set).into_iter().flatten();
        let lost = wanted
            .map(|(k, v)| Element { key: k.clone(), value: v.clone() })
            .filter(|e| crate::nftnl::encode(&decl, e).is_ok_and(|enc| keys.contains(&enc.key)));
        elements.entry(set).or_default().extend(lost);
    }
    for (set, els) in elements {
        push(&mut tx.add_elements, set, els);
    }
    if tx.is_empty() {
        Repair::Nothing
    } else if tx.elements_only() {
        Repair::Elements(tx.into_element_ops())
    } else {
        Repair::Script(tx.render())
    }
}

#[cfg(test)]
mod tests;
