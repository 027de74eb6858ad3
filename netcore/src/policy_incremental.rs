//! The incremental compiler: the same plan as [`compile`](super::compile), kept up to date
//! change by change, so that a change costs what it touches and not the size of the table.
//!
//! What it keeps besides the input and the plan:
//! - per local pod, its **fragment**: the chains its bodies are (and the `pnp_` chains they
//!   go to), the sets and counters their rules name, its map elements. A chain is shared by
//!   every pod whose body has the same text (chains are named by content), a set by every
//!   rule with the same peer, a counter by every pod a policy rule applies to: all three
//!   are counted, and leave the plan when their last user goes.
//! - per counter map of merged rules ([`CounterMap`]), how many fragments name it, and per
//!   set the maps it is a member of: when a set gains or loses an address, that address's
//!   value is recomputed in each of those maps (the first member holding it), nothing else.
//! - per set, what it holds ([`SetSpec`]) and, per element, how many pods put it there.
//!   Sets that can only hold pods of one namespace (a `podSelector` peer of a
//!   NetworkPolicy) are indexed by it.
//!
//! What a change costs:
//! - **a pod** (new, gone, relabelled, moved): its own membership in the sets of its
//!   namespace and in the cluster-wide sets (one selector match each), and, if it is local,
//!   its own bodies. No other pod's chain is touched: a body names its peers' sets, never
//!   their addresses.
//! - **a NetworkPolicy** (new, changed, gone): the bodies of the local pods of its
//!   namespace, and the elements of the sets no other rule named yet (one pass over the
//!   pods for each new peer).
//! - **a namespace's labels, an AdminNetworkPolicy, the baseline**: a full compile (namespace
//!   selectors and admin subjects reach across the cluster; these are rare, administrator
//!   changes).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::*;

/// A pod or a NetworkPolicy by namespace and name.
type Key = (String, String);

fn pod_key(p: &PolicyPod) -> Key {
    (p.namespace.clone(), p.name.clone())
}

fn policy_key(np: &NetworkPolicy) -> Key {
    (np.metadata.namespace.clone().unwrap_or_default(), np.metadata.name.clone())
}

/// What a local pod's chains use.
struct Fragment {
    ip: Ipv4Addr,
    ingress: Option<String>,
    egress: Option<String>,
    chains: Vec<String>,
    sets: Vec<String>,
    counters: Vec<String>,
    maps: Vec<String>,
}

/// A set of the plan: what it holds, how many fragments name it, and per element how many
/// pods put it there (two pods may share an address while one of them ends).
struct SetState {
    spec: SetSpec,
    users: usize,
    counts: HashMap<String, u32>,
}

/// The plan of [`compile`], kept up to date by changes to its input.
pub struct IncrementalCompiler {
    input: PolicyInput,
    pods: HashMap<Key, usize>,
    policies: HashMap<Key, usize>,
    /// NetworkPolicies by namespace, as indices into `input.network_policies`, by name.
    by_namespace: NpIndex,
    admin_order: Vec<usize>,
    plan: PolicyPlan,
    fragments: HashMap<Key, Fragment>,
    sets: HashMap<String, SetState>,
    chains: HashMap<String, usize>,
    /// Per counter, how many fragments name it.
    counters: HashMap<String, usize>,
    /// Per counter map, how many fragments name it.
    maps: HashMap<String, usize>,
    /// Per set, the counter maps that have it as a member: a change of the set's elements
    /// changes those addresses' values there.
    set_maps: HashMap<String, HashSet<String>>,
    /// The sets that can only hold pods of one namespace, by namespace; the others.
    namespace_sets: HashMap<String, HashSet<String>>,
    cluster_sets: HashSet<String>,
}

impl IncrementalCompiler {
    /// Compile `input` in full.
    pub fn new(input: PolicyInput) -> IncrementalCompiler {
        let pods = input.pods.iter().enumerate().map(|(i, p)| (pod_key(p), i)).collect();
        let policies = input.network_policies.iter().enumerate().map(|(i, np)| (policy_key(np), i)).collect();
        let by_namespace = np_index(&input);
        let admin_order = admin_order(&input);
        let mut c = IncrementalCompiler {
            input,
            pods,
            policies,
            by_namespace,
            admin_order,
            plan: PolicyPlan::default(),
            fragments: HashMap::new(),
            sets: HashMap::new(),
            chains: HashMap::new(),
            counters: HashMap::new(),
            maps: HashMap::new(),
            set_maps: HashMap::new(),
            namespace_sets: HashMap::new(),
            cluster_sets: HashSet::new(),
        };
        for i in 0..c.input.pods.len() {
            if c.input.pods[i].local {
                c.add_fragment(i);
            }
        }
        c
    }

    /// The plan: equal to `compile(self.input())`.
    pub fn plan(&self) -> &PolicyPlan {
        &self.plan
    }

    /// The input as the changes left it (its pods and policies in no particular order).
    pub fn input(&self) -> &PolicyInput {
        &self.input
    }

    /// Take in a whole new input: what differs from the current one, change by change (a
    /// comparison of every pod and policy, but no compile of what did not change).
    pub fn update(&mut self, input: PolicyInput) {
        if input.namespaces != self.input.namespaces
            || input.admin_policies != self.input.admin_policies
            || input.baseline != self.input.baseline
        {
            *self = IncrementalCompiler::new(input);
            return;
        }
        let mut seen = HashSet::with_capacity(input.pods.len());
        for pod in input.pods {
            let key = pod_key(&pod);
            let same = self.pods.get(&key).is_some_and(|&i| self.input.pods[i] == pod);
            seen.insert(key);
            if !same {
                self.set_pod(pod);
            }
        }
        let gone: Vec<Key> = self.pods.keys().filter(|k| !seen.contains(*k)).cloned().collect();
        for (namespace, name) in gone {
            self.remove_pod(&namespace, &name);
        }
        let mut seen = HashSet::with_capacity(input.network_policies.len());
        for np in input.network_policies {
            let key = policy_key(&np);
            let same = self.policies.get(&key).is_some_and(|&i| self.input.network_policies[i] == np);
            seen.insert(key);
            if !same {
                self.set_network_policy(np);
            }
        }
        let gone: Vec<Key> = self.policies.keys().filter(|k| !seen.contains(*k)).cloned().collect();
        for (namespace, name) in gone {
            self.remove_network_policy(&namespace, &name);
        }
    }

    /// A pod is new or changed.
    pub fn set_pod(&mut self, pod: PolicyPod) {
        let key = pod_key(&pod);
        let i = match self.pods.get(&key) {
            Some(&i) => {
                if self.input.pods[i] == pod {
                    return;
                }
                self.forget_pod(i);
                self.input.pods[i] = pod;
                i
            }
            None => {
                self.input.pods.push(pod);
                self.pods.insert(key, self.input.pods.len() - 1);
                self.input.pods.len() - 1
            }
        };
        self.count_pod(i, true);
        if self.input.pods[i].local {
            self.add_fragment(i);
        }
    }

    /// A pod is gone.
    pub fn remove_pod(&mut self, namespace: &str, name: &str) {
        let Some(i) = self.pods.remove(&(namespace.to_string(), name.to_string())) else { return };
        self.forget_pod(i);
        self.input.pods.swap_remove(i);
        if let Some(moved) = self.input.pods.get(i) {
            self.pods.insert(pod_key(moved), i);
        }
    }

    /// A NetworkPolicy is new or changed.
    pub fn set_network_policy(&mut self, np: NetworkPolicy) {
        let key = policy_key(&np);
        match self.policies.get(&key) {
            Some(&i) => {
                if self.input.network_policies[i] == np {
                    return;
                }
                self.input.network_policies[i] = np;
            }
            None => {
                let i = self.input.network_policies.len();
                self.input.network_policies.push(np);
                self.policies.insert(key.clone(), i);
                let list = self.by_namespace.entry(key.0.clone()).or_default();
                let at = list.partition_point(|&j| self.input.network_policies[j].metadata.name < key.1);
                list.insert(at, i);
            }
        }
        self.recompile_namespace(&key.0);
    }

    /// A NetworkPolicy is gone.
    pub fn remove_network_policy(&mut self, namespace: &str, name: &str) {
        let Some(i) = self.policies.remove(&(namespace.to_string(), name.to_string())) else { return };
        if let Some(list) = self.by_namespace.get_mut(namespace) {
            list.retain(|&j| j != i);
        }
        self.input.network_policies.swap_remove(i);
        let last = self.input.network_policies.len();
        if let Some(moved) = self.input.network_policies.get(i) {
            let key = policy_key(moved);
            if let Some(list) = self.by_namespace.get_mut(&key.0) {
                list.iter_mut().filter(|j| **j == last).for_each(|j| *j = i);
            }
            self.policies.insert(key, i);
        }
        self.recompile_namespace(namespace);
    }

    /// The bodies of the local pods of `namespace` again (a NetworkPolicy there changed).
    fn recompile_namespace(&mut self, namespace: &str) {
        let local: Vec<usize> = (0..self.input.pods.len())
            .filter(|&i| self.input.pods[i].local && self.input.pods[i].namespace == namespace)
            .collect();
        for &i in &local {
            self.remove_fragment(&pod_key(&self.input.pods[i]));
        }
        for i in local {
            self.add_fragment(i);
        }
    }

    /// Take pod `i` (as the input holds it now) out of the plan: its set elements and, if
    /// it is local, its fragment.
    fn forget_pod(&mut self, i: usize) {
        self.count_pod(i, false);
        if self.input.pods[i].local {
            self.remove_fragment(&pod_key(&self.input.pods[i]));
        }
    }

    /// Add (or take away) the elements pod `i` puts in the sets, and follow the changes in
    /// the counter maps.
    fn count_pod(&mut self, i: usize, add: bool) {
        let pod = &self.input.pods[i];
        let candidates = self.namespace_sets.get(&pod.namespace).into_iter().flatten().chain(&self.cluster_sets);
        let mut changed = Vec::new();
        for name in candidates {
            let state = self.sets.get_mut(name).expect("an indexed set is held");
            let Some(element) = state.spec.element(&self.input.namespaces, pod) else { continue };
            let elements = &mut self.plan.sets.get_mut(name).expect("a held set is planned").elements;
            if add {
                let count = state.counts.entry(element.clone()).or_insert(0);
                *count += 1;
                if *count == 1 {
                    Arc::make_mut(elements).insert(element.clone());
                    changed.push((name, element));
                }
            } else if let Some(count) = state.counts.get_mut(&element) {
                *count -= 1;
                if *count == 0 {
                    state.counts.remove(&element);
                    Arc::make_mut(elements).remove(&element);
                    changed.push((name, element));
                }
            }
        }
        for (set, element) in changed {
            let Some(maps) = self.set_maps.get(set) else { continue };
            let Ok(ip) = element.parse::<Ipv4Addr>() else { continue };
            for map in maps {
                let entry = self.plan.counter_maps.get_mut(map).expect("an indexed map is planned");
                let value = CounterMap::value_over(&self.plan.sets, &entry.members, &element);
                if entry.elements.get(&ip) != value {
                    let elements = Arc::make_mut(&mut entry.elements);
                    match value {
                        Some(counter) => elements.insert(ip, counter.clone()),
                        None => elements.remove(&ip),
                    };
                }
            }
        }
    }

    /// Compile local pod `i`'s chains and take in what they use.
    fn add_fragment(&mut self, i: usize) {
        let (plan, specs, maps) = {
            let mut c = Compiler::new(&self.input, &self.by_namespace, self.admin_order.clone());
            c.pod_chains(i);
            (c.plan, c.specs, c.maps)
        };
        let ip = self.input.pods[i].ip;
        let fragment = Fragment {
            ip,
            ingress: plan.ingress.get(&ip).cloned(),
            egress: plan.egress.get(&ip).cloned(),
            chains: plan.chains.keys().cloned().collect(),
            sets: specs.keys().cloned().collect(),
            counters: plan.counters.keys().cloned().collect(),
            maps: maps.keys().cloned().collect(),
        };
        for (name, key) in plan.counters {
            let users = self.counters.entry(name.clone()).or_insert(0);
            *users += 1;
            if *users == 1 {
                self.plan.counters.insert(name, key);
            }
        }
        for (name, rules) in plan.chains {
            let users = self.chains.entry(name.clone()).or_insert(0);
            *users += 1;
            if *users == 1 {
                self.plan.chains.insert(name, rules);
            }
        }
        for (name, spec) in specs {
            if let Some(state) = self.sets.get_mut(&name) {
                state.users += 1;
                continue;
            }
            let mut counts: HashMap<String, u32> = HashMap::new();
            for pod in &self.input.pods {
                if let Some(e) = spec.element(&self.input.namespaces, pod) {
                    *counts.entry(e).or_insert(0) += 1;
                }
            }
            let elements = Arc::new(counts.keys().cloned().collect());
            self.plan.sets.insert(name.clone(), NamedSet { key: spec.key(), elements });
            match spec.namespace() {
                Some(ns) => self.namespace_sets.entry(ns.to_string()).or_default().insert(name.clone()),
                None => self.cluster_sets.insert(name.clone()),
            };
            self.sets.insert(name, SetState { spec, users: 1, counts });
        }
        // Counter maps after the sets they are made of.
        for (name, members) in maps {
            let users = self.maps.entry(name.clone()).or_insert(0);
            *users += 1;
            if *users > 1 {
                continue;
            }
            for (set, _) in &members {
                self.set_maps.entry(set.clone()).or_default().insert(name.clone());
            }
            let elements = Arc::new(CounterMap::elements_over(&self.plan.sets, &members));
            self.plan.counter_maps.insert(name, CounterMap { members: Arc::new(members), elements });
        }
        if let Some(chain) = &fragment.ingress {
            self.plan.ingress.insert(ip, chain.clone());
        }
        if let Some(chain) = &fragment.egress {
            self.plan.egress.insert(ip, chain.clone());
        }
        self.fragments.insert(pod_key(&self.input.pods[i]), fragment);
    }

    /// Take a local pod's fragment out of the plan.
    fn remove_fragment(&mut self, key: &Key) {
        let Some(fragment) = self.fragments.remove(key) else { return };
        for (map, chain) in [(&mut self.plan.ingress, &fragment.ingress), (&mut self.plan.egress, &fragment.egress)] {
            if chain.is_some() && map.get(&fragment.ip) == chain.as_ref() {
                map.remove(&fragment.ip);
            }
        }
        for name in fragment.chains {
            let users = self.chains.get_mut(&name).expect("a fragment's chain is counted");
            *users -= 1;
            if *users == 0 {
                self.chains.remove(&name);
                self.plan.chains.remove(&name);
            }
        }
        for name in fragment.counters {
            let users = self.counters.get_mut(&name).expect("a fragment's counter is counted");
            *users -= 1;
            if *users == 0 {
                self.counters.remove(&name);
                self.plan.counters.remove(&name);
            }
        }
        for name in fragment.maps {
            let users = self.maps.get_mut(&name).expect("a fragment's map is counted");
            *users -= 1;
            if *users == 0 {
                self.maps.remove(&name);
                let map = self.plan.counter_maps.remove(&name).expect("a counted map is planned");
                for (set, _) in map.members.iter() {
                    if let Some(maps) = self.set_maps.get_mut(set) {
                        maps.remove(&name);
                        if maps.is_empty() {
                            self.set_maps.remove(set);
                        }
                    }
                }
            }
        }
        for name in fragment.sets {
            let state = self.sets.get_mut(&name).expect("a fragment's set is counted");
            state.users -= 1;
            if state.users == 0 {
                let state = self.sets.remove(&name).expect("just seen");
                self.plan.sets.remove(&name);
                match state.spec.namespace() {
                    Some(ns) => {
                        if let Some(names) = self.namespace_sets.get_mut(ns) {
                            names.remove(&name);
                        }
                    }
                    None => {
                        self.cluster_sets.remove(&name);
                    }
                }
            }
        }
    }
}
