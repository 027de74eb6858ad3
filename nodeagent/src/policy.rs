//! The node's network policy enforcer: follow namespaces, pods, NetworkPolicies,
//! AdminNetworkPolicies and the BaselineAdminNetworkPolicy (each with a [`Reflector`]),
//! compile them for this node (`netcore::policy`) and keep the policy part of flatnet's
//! nftables table equal to the result through a [`PolicyTable`].
//!
//! Every change is applied as soon as it arrives, with whatever else is already waiting:
//! the incremental compiler is told each pod and NetworkPolicy that changed (not a whole
//! new input to compare: that is kept for lists, namespaces and admin policies), recompiles
//! only what the change touches (in memory), and only the difference with the plan last
//! applied is written. Nothing is applied before complete lists of all five kinds
//! have been seen. A full sync (which repairs whatever happened to the table, even its
//! deletion) follows each relist, every `resync`, and a failed apply (with back-off).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use netcore::netns::Netns;
use netcore::policy::counters::CounterNames;
use netcore::policy::{IncrementalCompiler, PolicyApplier, PolicyInput, PolicyPlan, PolicyPod};
use openapi::client::{Client, ListParams};
use openapi::{
    AdminNetworkPolicy, BaselineAdminNetworkPolicy, Namespace, NetworkPolicy, Pod, PodPhase, PolicyCounters, Resource,
};
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::reflector::{ApiSource, Event, ListWatch, Reflector};

/// The policy part of the node's table, as the enforcer drives it. Blocking: called on a
/// blocking thread. Each call answers the bytes it wrote (0: nothing changed).
pub trait PolicyTable: Send + 'static {
    /// Make the table hold exactly `plan`, whatever it holds.
    fn sync_all(&mut self, plan: PolicyPlan) -> Result<usize>;
    /// Move the table from the plan last applied to `plan`.
    fn update(&mut self, plan: PolicyPlan) -> Result<usize>;
}

impl PolicyTable for PolicyApplier {
    fn sync_all(&mut self, plan: PolicyPlan) -> Result<usize> {
        Ok(PolicyApplier::sync_all(self, plan)?.script_bytes)
    }
    fn update(&mut self, plan: PolicyPlan) -> Result<usize> {
        Ok(PolicyApplier::update(self, plan)?.script_bytes)
    }
}

/// What the enforcer shares with the rest of the agent.
#[derive(Clone, Default)]
pub struct Shared {
    /// "Re-apply everything now": each notification makes the enforcer's next turn a full
    /// sync (the policy part of the table rewritten from the cluster's state, whatever the
    /// kernel holds), as its periodic resync does. For a drift notifier.
    pub resync_now: Arc<Notify>,
    /// The named counters of the plan last applied, which [`report_counters`] reads.
    pub counters: Arc<Mutex<CounterNames>>,
}

/// How often the agent reports its policy counters to the API server (when they changed).
pub const COUNTER_REPORT_PERIOD: Duration = Duration::from_secs(2);

/// One reflector event of one of the kinds the enforcer follows.
#[derive(Debug)]
pub enum Change {
    Namespace(Event<Namespace>),
    Pod(Event<Pod>),
    NetworkPolicy(Event<NetworkPolicy>),
    Admin(Event<AdminNetworkPolicy>),
    Baseline(Event<BaselineAdminNetworkPolicy>),
}

/// The kinds followed, each by `namespace/name`, and which have been listed.
#[derive(Default)]
struct Cache {
    namespaces: BTreeMap<String, Namespace>,
    pods: BTreeMap<String, Pod>,
    network_policies: BTreeMap<String, NetworkPolicy>,
    admin: BTreeMap<String, AdminNetworkPolicy>,
    baseline: BTreeMap<String, BaselineAdminNetworkPolicy>,
    /// Bit `i` set: kind `i` of [`Change`] has been listed.
    listed: u8,
    /// What changed since the compiler last took the cache in ([`Cache::take_changes`]).
    dirty: Dirty,
}

/// What changed since the compiler last took the cache in: the pods and NetworkPolicies
/// (by `namespace/name`) it is told about one by one, or `whole`: something only a whole
/// new input describes (a list, a namespace, an admin policy, the baseline: rare).
#[derive(Default)]
struct Dirty {
    whole: bool,
    pods: BTreeSet<String>,
    network_policies: BTreeSet<String>,
}

/// What the compiler is to take in ([`Cache::take_changes`]).
enum Changes {
    /// The whole input, compared with the compiler's (`IncrementalCompiler::update`).
    Whole(Box<PolicyInput>),
    /// Each change itself, in the compiler's terms.
    Each(Vec<Delta>),
}

/// One object's new state, as the compiler takes it.
enum Delta {
    SetPod(PolicyPod),
    RemovePod(String, String),
    SetNetworkPolicy(Box<NetworkPolicy>),
    RemoveNetworkPolicy(String, String),
}

impl Changes {
    /// Feed these changes to `compiler`.
    fn feed(self, compiler: &mut IncrementalCompiler) {
        match self {
            Changes::Whole(input) => compiler.update(*input),
            Changes::Each(deltas) => {
                for delta in deltas {
                    match delta {
                        Delta::SetPod(pod) => compiler.set_pod(pod),
                        Delta::RemovePod(ns, name) => compiler.remove_pod(&ns, &name),
                        Delta::SetNetworkPolicy(np) => compiler.set_network_policy(*np),
                        Delta::RemoveNetworkPolicy(ns, name) => compiler.remove_network_policy(&ns, &name),
                    }
                }
            }
        }
    }
}

/// `namespace/name` split (names and namespaces hold no `/`).
fn split_key(key: &str) -> (String, String) {
    let (ns, name) = key.split_once('/').unwrap_or(("", key));
    (ns.to_string(), name.to_string())
}

const ALL_LISTED: u8 = 0b1_1111;

fn key<K: Resource>(o: &K) -> String {
    let m = o.metadata();
    format!("{}/{}", m.namespace.as_deref().unwrap_or_default(), m.name)
}

/// Apply `ev` to `objects`; a list replaces them all and sets `bit` in `listed`. Answers
/// whether it was a list (a full sync follows).
fn apply_event<K: Resource>(objects: &mut BTreeMap<String, K>, ev: Event<K>, listed: &mut u8, bit: u8) -> bool {
    match ev {
        Event::Listed(items) => {
            *objects = items.into_iter().map(|o| (key(&o), o)).collect();
            *listed |= bit;
            return true;
        }
        Event::Applied(o) => {
            objects.insert(key(&o), o);
        }
        Event::Deleted(o) => {
            objects.remove(&key(&o));
        }
    }
    false
}

impl Cache {
    /// Take in one change; answers whether it was a list.
    fn apply(&mut self, change: Change) -> bool {
        let dirty = &mut self.dirty;
        match &change {
            Change::Pod(Event::Applied(o) | Event::Deleted(o)) => {
                dirty.pods.insert(key(o));
            }
            Change::NetworkPolicy(Event::Applied(o) | Event::Deleted(o)) => {
                dirty.network_policies.insert(key(o));
            }
            _ => dirty.whole = true,
        }
        match change {
            Change::Namespace(ev) => apply_event(&mut self.namespaces, ev, &mut self.listed, 1),
            Change::Pod(ev) => apply_event(&mut self.pods, ev, &mut self.listed, 2),
            Change::NetworkPolicy(ev) => apply_event(&mut self.network_policies, ev, &mut self.listed, 4),
            Change::Admin(ev) => apply_event(&mut self.admin, ev, &mut self.listed, 8),
            Change::Baseline(ev) => apply_event(&mut self.baseline, ev, &mut self.listed, 16),
        }
    }

    fn listed_all(&self) -> bool {
        self.listed == ALL_LISTED
    }

    /// What changed since the last call, for node `me`: each pod and NetworkPolicy that
    /// changed as it is now (a change costs the compiler what it touches, and nothing
    /// here grows with the cluster), or the whole input when something else changed.
    fn take_changes(&mut self, me: &str) -> Changes {
        let dirty = std::mem::take(&mut self.dirty);
        if dirty.whole {
            return Changes::Whole(Box::new(self.input(me)));
        }
        let mut deltas = Vec::with_capacity(dirty.pods.len() + dirty.network_policies.len());
        for key in dirty.pods {
            match self.pods.get(&key).and_then(|p| policy_pod(p, me)) {
                Some(pod) => deltas.push(Delta::SetPod(pod)),
                None => {
                    let (ns, name) = split_key(&key);
                    deltas.push(Delta::RemovePod(ns, name));
                }
            }
        }
        for key in dirty.network_policies {
            match self.network_policies.get(&key) {
                Some(np) => deltas.push(Delta::SetNetworkPolicy(Box::new(np.clone()))),
                None => {
                    let (ns, name) = split_key(&key);
                    deltas.push(Delta::RemoveNetworkPolicy(ns, name));
                }
            }
        }
        Changes::Each(deltas)
    }

    /// The compiler's view of the cluster from node `me`.
    fn input(&self, me: &str) -> PolicyInput {
        PolicyInput {
            namespaces: self
                .namespaces
                .values()
                .map(|n| (n.metadata.name.clone(), n.metadata.labels.clone()))
                .collect(),
            pods: self.pods.values().filter_map(|p| policy_pod(p, me)).collect(),
            network_policies: self.network_policies.values().cloned().collect(),
            admin_policies: self.admin.values().cloned().collect(),
            baseline: self.baseline.get("/default").cloned(),
        }
    }
}

/// A pod as the compiler sees it: one with an address that has not ended.
pub fn policy_pod(pod: &Pod, me: &str) -> Option<PolicyPod> {
    if matches!(pod.status.phase, PodPhase::Succeeded | PodPhase::Failed) {
        return None;
    }
    let ip: Ipv4Addr = pod.status.pod_ip.as_deref()?.parse().ok()?;
    let ports = pod
        .spec
        .containers
        .iter()
        .flat_map(|c| &c.ports)
        .filter_map(|p| Some((p.name.clone()?, (p.protocol, u16::try_from(p.container_port).ok()?))))
        .collect();
    Some(PolicyPod {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone(),
        ip,
        labels: pod.metadata.labels.clone(),
        ports,
        local: pod.spec.node_name.as_deref() == Some(me),
    })
}

/// Forward a reflector's events into `tx` as [`Change`]s, until the enforcer is gone.
async fn follow<K: Resource, S: ListWatch<K>>(
    mut reflector: Reflector<K, S>,
    tx: mpsc::Sender<Change>,
    wrap: fn(Event<K>) -> Change,
) {
    loop {
        let ev = reflector.next().await;
        if tx.send(wrap(ev)).await.is_err() {
            return;
        }
    }
}

/// Run the enforcer for node `me` (in the named namespace, or the agent's own) until the
/// process ends, and report its counters to the API server. `shared.resync_now` is the
/// "re-apply everything now" hook.
#[tracing::instrument(name = "policy", skip_all)]
pub async fn run(client: Client, me: String, netns: Option<String>, resync: Duration, shared: Shared) {
    let open = || netns.as_deref().map_or_else(Netns::current, Netns::open);
    let (ns, counter_ns) = match (open(), open()) {
        (Ok(ns), Ok(counter_ns)) => (ns, counter_ns),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "the policy enforcer cannot start; network policies are not enforced on this node");
            return;
        }
    };
    tokio::spawn(report_counters(client.clone(), me.clone(), counter_ns, shared.counters.clone()));
    let (tx, rx) = mpsc::channel(1024);
    macro_rules! follow {
        ($kind:ty, $wrap:expr) => {
            tokio::spawn(follow(
                Reflector::new(ApiSource { api: client.api::<$kind>(None), params: ListParams::default() }),
                tx.clone(),
                $wrap,
            ))
        };
    }
    follow!(Namespace, Change::Namespace);
    follow!(Pod, Change::Pod);
    follow!(NetworkPolicy, Change::NetworkPolicy);
    follow!(AdminNetworkPolicy, Change::Admin);
    follow!(BaselineAdminNetworkPolicy, Change::Baseline);
    drop(tx);
    enforce(me, PolicyApplier::new(ns), resync, rx, shared).await
}

/// Every [`COUNTER_REPORT_PERIOD`], read the counters of the plan last applied and, when they
/// changed, report them (`PUT /api/v1/nodes/{me}/policycounters`), which the API server sums
/// over the nodes (`GET /api/v1/policycounters`).
async fn report_counters(client: Client, me: String, ns: Netns, names: Arc<Mutex<CounterNames>>) {
    let ns = Arc::new(ns);
    let mut last: Option<PolicyCounters> = None;
    let mut ticker = tokio::time::interval(COUNTER_REPORT_PERIOD);
    loop {
        ticker.tick().await;
        let known = names.lock().expect("counters poisoned").clone();
        let read_ns = ns.clone();
        let read = tokio::task::spawn_blocking(move || netcore::policy::counters::read(&read_ns, &known)).await;
        let items = match read {
            Ok(Ok(items)) => items,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "reading the policy counters failed");
                continue;
            }
            Err(_) => return,
        };
        crate::metrics::policy_counters(&items);
        let report = PolicyCounters { items };
        if last.as_ref() == Some(&report) {
            continue;
        }
        match client.report_policy_counters(&me, &report).await {
            Ok(_) => last = Some(report),
            Err(e) => tracing::debug!(error = %e, "reporting the policy counters failed"),
        }
    }
}

/// The first delay before a failed apply is retried (as a full sync); it doubles up to
/// [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The enforcer's loop: take in changes (with whatever else is already waiting), compile,
/// and apply the difference; a full sync after each list, every `resync` and after a
/// failed apply (with back-off). Ends when every sender of `changes` is gone.
pub async fn enforce<T: PolicyTable>(
    me: String,
    table: T,
    resync: Duration,
    mut changes: mpsc::Receiver<Change>,
    shared: Shared,
) {
    let mut table = Some(table);
    let mut ticker = tokio::time::interval(resync);
    ticker.tick().await;
    let mut cache = Cache::default();
    let mut full = true;
    let mut retry: Option<Instant> = None;
    let mut failures = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
    let mut applied: Option<PolicyPlan> = None;
    // Compiles only what each change touches (`netcore::policy::IncrementalCompiler`).
    let mut compiler = Some(IncrementalCompiler::new(PolicyInput::default()));
    loop {
        tokio::select! {
            change = changes.recv() => match change {
                Some(c) => full |= cache.apply(c),
                None => return,
            },
            _ = ticker.tick() => full = true,
            _ = shared.resync_now.notified() => full = true,
            _ = sleep_until(retry) => retry = None,
        }
        while let Ok(c) = changes.try_recv() {
            full |= cache.apply(c);
        }
        if retry.is_some() || !cache.listed_all() {
            continue;
        }
        let (Some(mut t), Some(mut c)) = (table.take(), compiler.take()) else { return };
        let started = Instant::now();
        let changes = cache.take_changes(&me);
        let is_full = full;
        let unchanged = applied.clone();
        let joined = tokio::task::spawn_blocking(move || {
            changes.feed(&mut c);
            let plan = c.plan().clone();
            let result = if is_full {
                t.sync_all(plan.clone())
            } else if unchanged.as_ref() == Some(&plan) {
                Ok(0)
            } else {
                t.update(plan.clone())
            };
            (t, c, plan, result)
        })
        .await;
        let Ok((t, c, plan, result)) = joined else {
            tracing::error!("the policy compiler panicked; network policies are no longer enforced on this node");
            return;
        };
        table = Some(t);
        compiler = Some(c);
        match result {
            Ok(bytes) => {
                full = false;
                failures.reset();
                if bytes > 0 {
                    tracing::info!(
                        elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
                        bytes,
                        ingress = plan.ingress.len(),
                        egress = plan.egress.len(),
                        full = is_full,
                        "applied network policies"
                    );
                }
                *shared.counters.lock().expect("counters poisoned") = plan.counters.clone();
                applied = Some(plan);
            }
            Err(e) => {
                full = true;
                applied = None;
                retry = Some(Instant::now() + failures.next_delay());
                tracing::warn!(
                    error = format!("{e:#}"),
                    failures = failures.failures(),
                    "applying network policies failed; a full sync follows"
                );
            }
        }
    }
}

/// Sleep until `when`, or forever.
async fn sleep_until(when: Option<Instant>) {
    match when {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Whether a drift notice (`crate::drift`) touches the policy part of the table: the table
/// itself, lost notices, or a chain, set or element of the policies (the static
/// `policy_*` chains and maps, the `pol_`/`pnp_` chains, the `peer_`/`pport_` sets, the
/// `pcm_` counter maps of merged rules).
///
/// The notice is not compared with the plan applied: the enforcer's own `nft -f` deletions
/// (a chain or element no longer wanted) echo back as one such notice, and cost one extra
/// full re-apply, which deletes nothing more and so echoes nothing. Kept simple on purpose:
/// a missed repair would be an open door, an extra re-apply only costs a few milliseconds.
pub fn concerns_policies(drift: &crate::drift::Drift) -> bool {
    use netcore::policy::{OWN_CHAIN_PREFIXES, OWN_SET_PREFIXES};
    let ours =
        |name: &String, prefixes: &[&str]| name.starts_with("policy_") || prefixes.iter().any(|p| name.starts_with(p));
    match drift {
        crate::drift::Drift::Table(t) => {
            t.table
                || t.lost
                || t.chains.iter().chain(&t.rules).any(|c| ours(c, &OWN_CHAIN_PREFIXES))
                || t.sets.iter().chain(t.elements.keys()).any(|s| ours(s, &OWN_SET_PREFIXES))
        }
        crate::drift::Drift::Routing(_) => false,
        crate::drift::Drift::Lost => true,
    }
}

/// Follow drift notices and ask the enforcer for a full re-apply when one touches the
/// policies ([`concerns_policies`]): a deleted table or chain is repaired within
/// milliseconds, not at the next periodic resync.
pub async fn repair_on_drift(mut drift: Option<crate::drift::DriftReceiver>, resync_now: Arc<Notify>) {
    loop {
        let notice = crate::drift::next(&mut drift).await;
        if concerns_policies(&notice) {
            tracing::info!("policy objects deleted under the agent; re-applying the policies");
            resync_now.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use openapi::{Container, ContainerPort, ObjectMeta, Protocol};
    use serde_json::json;

    use super::*;

    /// One apply: whether it was a full sync, and the pods isolated in ingress.
    type Call = (bool, Vec<Ipv4Addr>);

    /// The applies made, in order; failing while `fail` is set.
    #[derive(Clone, Default)]
    struct FakeTable {
        calls: Arc<Mutex<Vec<Call>>>,
        fail: Arc<Mutex<bool>>,
    }

    impl FakeTable {
        fn record(&self, full: bool, plan: PolicyPlan) -> Result<usize> {
            anyhow::ensure!(!*self.fail.lock().unwrap(), "nft said no");
            self.calls.lock().unwrap().push((full, plan.ingress.keys().copied().collect()));
            Ok(1)
        }
        fn calls(&self) -> Vec<Call> {
            self.calls.lock().unwrap().clone()
        }
    }

    impl PolicyTable for FakeTable {
        fn sync_all(&mut self, plan: PolicyPlan) -> Result<usize> {
            self.record(true, plan)
        }
        fn update(&mut self, plan: PolicyPlan) -> Result<usize> {
            self.record(false, plan)
        }
    }

    fn pod(name: &str, ip: &str, node: &str, app: &str) -> Pod {
        let mut p = Pod {
            metadata: ObjectMeta {
                name: name.into(),
                namespace: Some("web".into()),
                labels: [("app".to_string(), app.to_string())].into(),
                ..Default::default()
            },
            ..Default::default()
        };
        p.spec.node_name = Some(node.into());
        p.spec.containers.push(Container {
            name: "main".into(),
            ports: vec![ContainerPort { name: Some("http".into()), container_port: 8080, protocol: Protocol::Tcp }],
            ..Default::default()
        });
        p.status.pod_ip = Some(ip.into());
        p.status.phase = PodPhase::Running;
        p
    }

    fn deny_app(app: &str) -> NetworkPolicy {
        NetworkPolicy {
            metadata: ObjectMeta { name: "deny".into(), namespace: Some("web".into()), ..Default::default() },
            spec: serde_json::from_value(json!({"podSelector": {"matchLabels": {"app": app}}})).unwrap(),
            ..Default::default()
        }
    }

    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// The five lists, in the order the enforcer may see them.
    fn lists(pods: Vec<Pod>, policies: Vec<NetworkPolicy>) -> Vec<Change> {
        vec![
            Change::Namespace(Event::Listed(vec![])),
            Change::Pod(Event::Listed(pods)),
            Change::NetworkPolicy(Event::Listed(policies)),
            Change::Admin(Event::Listed(vec![])),
            Change::Baseline(Event::Listed(vec![])),
        ]
    }

    #[test]
    fn a_pod_without_an_address_or_that_ended_is_not_compiled() {
        let p = pod("a", "10.244.1.2", "n1", "web");
        let compiled = policy_pod(&p, "n1").unwrap();
        assert!(compiled.local);
        assert_eq!(compiled.ports["http"], (Protocol::Tcp, 8080));
        assert!(!policy_pod(&p, "n2").unwrap().local);
        let mut pending = p.clone();
        pending.status.pod_ip = None;
        assert!(policy_pod(&pending, "n1").is_none());
        let mut done = p;
        done.status.phase = PodPhase::Succeeded;
        assert!(policy_pod(&done, "n1").is_none());
    }

    /// The compiler fed each change ([`Cache::take_changes`]) holds the plan a full compile
    /// of the cache gives, after pods come, change, move, end and go and policies come,
    /// change and go; a namespace's change goes as a whole input.
    #[test]
    fn changes_fed_one_by_one_compile_as_the_whole_cache() {
        let mut cache = Cache::default();
        let mut compiler = IncrementalCompiler::new(PolicyInput::default());
        let a = pod("a", "10.244.1.2", "n1", "web");
        let b = pod("b", "10.244.1.3", "n1", "db");
        let c = pod("c", "10.244.2.2", "n2", "web");
        for change in lists(vec![a.clone(), b.clone(), c.clone()], vec![deny_app("web")]) {
            cache.apply(change);
        }
        let mut step = |cache: &mut Cache, change: Option<Change>, whole: bool| {
            if let Some(change) = change {
                cache.apply(change);
            }
            let changes = cache.take_changes("n1");
            assert_eq!(matches!(changes, Changes::Whole(_)), whole);
            changes.feed(&mut compiler);
            assert_eq!(compiler.plan(), &netcore::policy::compile(&cache.input("n1")));
        };
        step(&mut cache, None, true);
        let allow = NetworkPolicy {
            metadata: ObjectMeta { name: "allow".into(), namespace: Some("web".into()), ..Default::default() },
            spec: serde_json::from_value(json!({"podSelector": {"matchLabels": {"app": "web"}},
                "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "db"}}}]}]}))
            .unwrap(),
            ..Default::default()
        };
        let mut b2 = b.clone();
        b2.metadata.labels.insert("app".into(), "web".into());
        let mut c2 = c.clone();
        c2.spec.node_name = Some("n1".into());
        let mut ended = a.clone();
        ended.status.phase = PodPhase::Failed;
        let d = pod("d", "10.244.1.4", "n1", "db");
        for change in [
            Change::NetworkPolicy(Event::Applied(allow.clone())),
            Change::Pod(Event::Applied(d.clone())),
            Change::Pod(Event::Applied(b2)),
            Change::Pod(Event::Applied(c2)),
            Change::Pod(Event::Applied(ended)),
            Change::Pod(Event::Deleted(d)),
            Change::NetworkPolicy(Event::Deleted(deny_app("web"))),
            Change::Pod(Event::Deleted(a)),
            Change::NetworkPolicy(Event::Deleted(allow)),
        ] {
            step(&mut cache, Some(change), false);
        }
        let mut ns = Namespace::default();
        ns.metadata.name = "web".into();
        ns.metadata.labels.insert("team".into(), "a".into());
        step(&mut cache, Some(Change::Namespace(Event::Applied(ns))), true);
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_before_every_list_then_a_full_sync_then_changes_only() {
        let table = FakeTable::default();
        let (tx, rx) = mpsc::channel(64);
        let enforcer =
            tokio::spawn(enforce("n1".into(), table.clone(), Duration::from_secs(300), rx, Shared::default()));
        let a = pod("a", "10.244.1.2", "n1", "web");
        let b = pod("b", "10.244.1.3", "n1", "db");
        let mut all = lists(vec![a.clone(), b.clone()], vec![deny_app("web")]);
        let last = all.pop().unwrap();
        for change in all {
            tx.send(change).await.unwrap();
        }
        settle().await;
        assert!(table.calls().is_empty(), "applied before every kind was listed");
        tx.send(last).await.unwrap();
        settle().await;
        let a_ip: Ipv4Addr = "10.244.1.2".parse().unwrap();
        let b_ip: Ipv4Addr = "10.244.1.3".parse().unwrap();
        assert_eq!(table.calls(), [(true, vec![a_ip])]);

        // b relabelled into the policy: one update.
        let mut b2 = b.clone();
        b2.metadata.labels.insert("app".into(), "web".into());
        tx.send(Change::Pod(Event::Applied(b2))).await.unwrap();
        settle().await;
        assert_eq!(table.calls().last(), Some(&(false, vec![a_ip, b_ip])));
        // A change that changes no rule writes nothing.
        let calls = table.calls().len();
        let mut b3 = b.clone();
        b3.metadata.labels.insert("app".into(), "web".into());
        b3.metadata.annotations.insert("note".into(), "x".into());
        tx.send(Change::Pod(Event::Applied(b3))).await.unwrap();
        settle().await;
        assert_eq!(table.calls().len(), calls);
        // The policy deleted: nothing isolated.
        tx.send(Change::NetworkPolicy(Event::Deleted(deny_app("web")))).await.unwrap();
        settle().await;
        assert_eq!(table.calls().last(), Some(&(false, vec![])));
        drop(tx);
        enforcer.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_apply_is_retried_as_a_full_sync_and_the_resync_repairs() {
        let table = FakeTable::default();
        let (tx, rx) = mpsc::channel(64);
        let enforcer =
            tokio::spawn(enforce("n1".into(), table.clone(), Duration::from_secs(300), rx, Shared::default()));
        *table.fail.lock().unwrap() = true;
        for change in lists(vec![pod("a", "10.244.1.2", "n1", "web")], vec![deny_app("web")]) {
            tx.send(change).await.unwrap();
        }
        settle().await;
        assert!(table.calls().is_empty());
        *table.fail.lock().unwrap() = false;
        // The retry is due after the first back-off delay (1 s); the loop wakes for it.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        settle().await;
        assert_eq!(table.calls().len(), 1);
        assert!(table.calls()[0].0, "the retry is a full sync");
        // The periodic resync is a full sync too.
        tokio::time::sleep(Duration::from_secs(301)).await;
        settle().await;
        assert_eq!(table.calls().len(), 2);
        assert!(table.calls()[1].0);
        drop(tx);
        enforcer.await.unwrap();
    }
}
