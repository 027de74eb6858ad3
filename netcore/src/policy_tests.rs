//! The compiler tested without a kernel: golden scripts (regenerate with `UPDATE_GOLDEN=1`),
//! and a packet trace through the compiled chains over the Kubernetes e2e-style matrix
//! (namespaces x, y, z; pods a, b, c; ports 80 and 81, TCP and UDP), each pod's node
//! judging its own side.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use openapi::policy::*;
use openapi::{ObjectMeta, Protocol};
use serde_json::json;

use super::*;

fn golden(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/policy_golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (create it with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(actual, expected, "{name} differs from the golden file (UPDATE_GOLDEN=1 to accept a change)");
}

// ---------------------------------------------------------------------------------------------
// The cluster: namespaces x, y, z; pods a, b, c in each; a on node 1, b and c on node 2
// ---------------------------------------------------------------------------------------------

const NAMESPACES: [&str; 3] = ["x", "y", "z"];
const PODS: [&str; 3] = ["a", "b", "c"];

fn ip(ns: &str, pod: &str) -> Ipv4Addr {
    let n = NAMESPACES.iter().position(|x| *x == ns).unwrap() as u8;
    let p = PODS.iter().position(|x| *x == pod).unwrap() as u8;
    let node = if pod == "a" { 1 } else { 2 };
    Ipv4Addr::new(10, 244, node, 10 * n + p + 2)
}

fn node_of(pod: &str) -> u8 {
    if pod == "a" {
        1
    } else {
        2
    }
}

/// The cluster as seen from `node`, with the pods' labels changed by `relabel`.
fn cluster(node: u8, relabel: &[(&str, &str, &str, &str)]) -> PolicyInput {
    let mut input = PolicyInput::default();
    for ns in NAMESPACES {
        input.namespaces.insert(
            ns.to_string(),
            BTreeMap::from([(NAMESPACE_NAME_LABEL.to_string(), ns.to_string()), ("ns".to_string(), ns.to_string())]),
        );
        for pod in PODS {
            let mut labels = BTreeMap::from([("pod".to_string(), pod.to_string())]);
            for (rns, rpod, k, v) in relabel {
                if *rns == ns && *rpod == pod {
                    labels.insert(k.to_string(), v.to_string());
                }
            }
            let mut ports = BTreeMap::new();
            for (port, proto) in [(80, Protocol::Tcp), (81, Protocol::Tcp), (80, Protocol::Udp), (81, Protocol::Udp)] {
                ports.insert(format!("serve-{port}-{}", proto_name(proto)), (proto, port));
            }
            input.pods.push(PolicyPod {
                namespace: ns.to_string(),
                name: pod.to_string(),
                ip: ip(ns, pod),
                labels,
                ports,
                local: node_of(pod) == node,
            });
        }
    }
    input
}

fn np(ns: &str, name: &str, spec: serde_json::Value) -> NetworkPolicy {
    NetworkPolicy {
        metadata: ObjectMeta { name: name.into(), namespace: Some(ns.into()), ..Default::default() },
        spec: serde_json::from_value(spec).expect("a NetworkPolicySpec"),
        ..Default::default()
    }
}

fn anp(name: &str, spec: serde_json::Value) -> AdminNetworkPolicy {
    AdminNetworkPolicy {
        metadata: ObjectMeta { name: name.into(), ..Default::default() },
        spec: serde_json::from_value(spec).expect("an AdminNetworkPolicySpec"),
        ..Default::default()
    }
}

fn banp(spec: serde_json::Value) -> BaselineAdminNetworkPolicy {
    BaselineAdminNetworkPolicy {
        metadata: ObjectMeta { name: "default".into(), ..Default::default() },
        spec: serde_json::from_value(spec).expect("a BaselineAdminNetworkPolicySpec"),
        ..Default::default()
    }
}

#[derive(Default, Clone)]
struct Policies {
    np: Vec<NetworkPolicy>,
    anp: Vec<AdminNetworkPolicy>,
    banp: Option<BaselineAdminNetworkPolicy>,
    relabel: Vec<(&'static str, &'static str, &'static str, &'static str)>,
}

impl Policies {
    fn np(mut self, p: NetworkPolicy) -> Self {
        self.np.push(p);
        self
    }
    fn anp(mut self, p: AdminNetworkPolicy) -> Self {
        self.anp.push(p);
        self
    }

    fn plans(&self) -> [PolicyPlan; 2] {
        [1, 2].map(|node| {
            let mut input = cluster(node, &self.relabel);
            input.network_policies = self.np.clone();
            input.admin_policies = self.anp.clone();
            input.baseline = self.banp.clone();
            compile(&input)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The packet trace: what the compiled chains decide for one packet of a new connection
// ---------------------------------------------------------------------------------------------

struct Packet {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: Protocol,
    port: u16,
}

fn cidr_contains(cidr: &str, addr: Ipv4Addr) -> bool {
    let (a, len) = match cidr.split_once('/') {
        Some((a, l)) => (a.parse().unwrap(), l.parse().unwrap()),
        None => (cidr.parse().unwrap(), 32),
    };
    let (first, last) = openapi::validation::cidr_range(a, len);
    (first..=last).contains(&u32::from(addr))
}

fn braces(rest: &str) -> (Vec<&str>, &str) {
    let inner = rest.strip_prefix("{ ").unwrap();
    let end = inner.find(" }").unwrap();
    (inner[..end].split(", ").collect(), inner[end + 2..].trim_start())
}

/// Whether `rule`'s matches hold for `pkt`; its verdict.
fn rule_matches<'r>(plan: &PolicyPlan, rule: &'r str, pkt: &Packet) -> Option<&'r str> {
    let mut rest = rule;
    loop {
        let addr_of = |field: &str| if field == "saddr" { pkt.src } else { pkt.dst };
        if let Some(r) = rest.strip_prefix("counter name \"") {
            // A counter of the plan: counts, never decides.
            let (name, r) = r.split_once('"').unwrap();
            assert!(plan.counters.contains_key(name), "counter {name} not in the plan");
            rest = r.trim_start();
        } else if let Some(r) = rest.strip_prefix("counter name ip ") {
            // Merged rules: the address looked up in a counter map; a miss does not match.
            let (field, r) = r.split_once(' ').unwrap();
            let (map, r) = r.strip_prefix("map @").unwrap().split_once(' ').unwrap();
            let counter = plan.counter_maps[map].elements.get(&addr_of(field))?;
            assert!(plan.counters.contains_key(counter), "counter {counter} of map {map} not in the plan");
            rest = r;
        } else if let Some(r) = rest.strip_prefix("ip daddr . meta l4proto . th dport @") {
            let (set, r) = r.split_once(' ').unwrap_or((r, ""));
            let key = format!("{} . {} . {}", pkt.dst, proto_name(pkt.proto), pkt.port);
            if !plan.sets[set].elements.contains(&key) {
                return None;
            }
            rest = r;
        } else if let Some(r) = rest.strip_prefix("ip ") {
            let (field, r) = r.split_once(' ').unwrap();
            let addr = addr_of(field);
            if let Some(r) = r.strip_prefix("@") {
                let (set, r) = r.split_once(' ').unwrap();
                if !plan.sets[set].elements.contains(&addr.to_string()) {
                    return None;
                }
                rest = r;
            } else if let Some(r) = r.strip_prefix("!= ") {
                let (cidrs, r) = braces(r);
                if cidrs.iter().any(|c| cidr_contains(c, addr)) {
                    return None;
                }
                rest = r;
            } else {
                let (cidrs, r) = braces(r);
                if !cidrs.iter().any(|c| cidr_contains(c, addr)) {
                    return None;
                }
                rest = r;
            }
        } else if let Some(r) = rest.strip_prefix("meta l4proto ") {
            let (proto, r) = r.split_once(' ').unwrap();
            if proto != proto_name(pkt.proto) {
                return None;
            }
            rest = r;
        } else if let Some(r) = rest.strip_prefix("th dport ") {
            let (ports, r) = braces(r);
            let hit = ports.iter().any(|p| match p.split_once('-') {
                Some((a, b)) => (a.parse().unwrap()..=b.parse().unwrap()).contains(&pkt.port),
                None => p.parse::<u16>().unwrap() == pkt.port,
            });
            if !hit {
                return None;
            }
            rest = r;
        } else {
            return Some(rest);
        }
    }
}

/// The counters a rule whose matches hold counts `pkt` in.
fn counted_by(plan: &PolicyPlan, rule: &str, pkt: &Packet) -> Vec<String> {
    if let Some((_, r)) = rule.split_once("counter name ip ") {
        let (field, r) = r.split_once(' ').unwrap();
        let map = r.strip_prefix("map @").unwrap().split(' ').next().unwrap();
        let addr = if field == "saddr" { pkt.src } else { pkt.dst };
        return vec![plan.counter_maps[map].elements[&addr].clone()];
    }
    rule.split("counter name \"").skip(1).map(|rest| rest[..rest.find('"').unwrap()].to_string()).collect()
}

/// Run a chain as [`run`] does, also answering the counters the packet was counted in.
fn run_counting(plan: &PolicyPlan, chain: &str, pkt: &Packet) -> (bool, Vec<String>) {
    let mut counted = Vec::new();
    for rule in &plan.chains[chain] {
        let Some(verdict) = rule_matches(plan, rule, pkt) else { continue };
        counted.extend(counted_by(plan, rule, pkt));
        match verdict {
            // Counters only: on to the next rule.
            "" => continue,
            "return" => return (true, counted),
            "drop" => return (false, counted),
            v => {
                let (allowed, more) = run_counting(plan, v.strip_prefix("goto ").unwrap(), pkt);
                counted.extend(more);
                return (allowed, counted);
            }
        }
    }
    (true, counted)
}

/// `plan` with each merged line written back as the lines it stands for (one per member,
/// in order, each a lookup in its member's set counting in its member's counter): what
/// first-match evaluation without merging would run.
fn unmerged(plan: &PolicyPlan) -> PolicyPlan {
    let mut out = plan.clone();
    for rules in out.chains.values_mut() {
        *rules = rules
            .iter()
            .flat_map(|rule| match rule.split_once("counter name ip ") {
                None => vec![rule.clone()],
                Some((ports, r)) => {
                    let (field, r) = r.split_once(' ').unwrap();
                    let (map, verdict) = r.strip_prefix("map @").unwrap().split_once(' ').unwrap();
                    plan.counter_maps[map]
                        .members
                        .iter()
                        .map(|(set, counter)| format!("ip {field} @{set} {ports}counter name \"{counter}\" {verdict}"))
                        .collect()
                }
            })
            .collect();
    }
    out.counter_maps.clear();
    out
}

/// Run a chain: `true` when the direction is allowed (a `return`, or the end of the chain).
fn run(plan: &PolicyPlan, chain: &str, pkt: &Packet) -> bool {
    for rule in &plan.chains[chain] {
        match rule_matches(plan, rule, pkt) {
            None | Some("") => continue,
            Some("return") => return true,
            Some("drop") => return false,
            Some(v) => return run(plan, v.strip_prefix("goto ").unwrap_or_else(|| panic!("verdict {v}")), pkt),
        }
    }
    true
}

/// Egress judged by the sender's node, ingress by the receiver's.
fn allowed(plans: &[PolicyPlan; 2], pkt: &Packet, src_node: u8, dst_node: u8) -> bool {
    let egress = &plans[usize::from(src_node - 1)];
    let ingress = &plans[usize::from(dst_node - 1)];
    egress.egress.get(&pkt.src).is_none_or(|c| run(egress, c, pkt))
        && ingress.ingress.get(&pkt.dst).is_none_or(|c| run(ingress, c, pkt))
}

/// The reachability matrix of every pod pair on `proto`/`port`, as lines of `X` (allowed)
/// and `.` (denied), rows from, columns to, in the order x/a … z/c. A pod reaching itself
/// never leaves its namespace (loopback): always allowed.
fn matrix_of(proto: Protocol, port: u16, allowed: impl Fn((&str, &str), (&str, &str)) -> bool) -> String {
    let mut out = String::new();
    for sns in NAMESPACES {
        for spod in PODS {
            for dns in NAMESPACES {
                for dpod in PODS {
                    let ok = (sns, spod) == (dns, dpod) || allowed((sns, spod), (dns, dpod));
                    out.push(if ok { 'X' } else { '.' });
                }
                if dns != "z" {
                    out.push(' ');
                }
            }
            out.push('\n');
        }
    }
    let _ = (proto, port);
    out
}

/// Assert the matrix the compiled chains give equals the one `expected` describes.
#[track_caller]
fn expect(policies: &Policies, proto: Protocol, port: u16, expected: impl Fn((&str, &str), (&str, &str)) -> bool) {
    let plans = policies.plans();
    let actual = matrix_of(proto, port, |(sns, spod), (dns, dpod)| {
        let pkt = Packet { src: ip(sns, spod), dst: ip(dns, dpod), proto, port };
        allowed(&plans, &pkt, node_of(spod), node_of(dpod))
    });
    let expected = matrix_of(proto, port, expected);
    assert_eq!(actual, expected, "{proto:?}/{port}: got\n{actual}expected\n{expected}");
}

fn anything(_: (&str, &str), _: (&str, &str)) -> bool {
    true
}

// ---------------------------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------------------------

#[test]
fn no_policy_allows_everything_and_writes_nothing() {
    let p = Policies::default();
    expect(&p, Protocol::Tcp, 80, anything);
    assert!(p.plans().iter().all(|plan| plan.render().is_empty()));
}

#[test]
fn default_deny_ingress_in_x() {
    let p = Policies::default().np(np("x", "deny", json!({"podSelector": {}})));
    for (proto, port) in [(Protocol::Tcp, 80), (Protocol::Udp, 81)] {
        expect(&p, proto, port, |_, to| to.0 != "x");
    }
    golden("deny_ingress_node1.nft", &(static_script(7) + &p.plans()[0].render()));
}

#[test]
fn default_deny_egress_in_x() {
    let p = Policies::default().np(np("x", "deny", json!({"podSelector": {}, "policyTypes": ["Egress"]})));
    expect(&p, Protocol::Udp, 81, |from, _| from.0 != "x");
}

#[test]
fn allow_from_a_pod_selector_a_namespace_selector_and_both() {
    // x/a accepts x/b only.
    let p = Policies::default().np(np(
        "x",
        "from-b",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
    ));
    expect(&p, Protocol::Tcp, 80, |from, to| to != ("x", "a") || from == ("x", "b"));

    // From namespace y (every pod).
    let p = Policies::default().np(np(
        "x",
        "from-y",
        json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}),
    ));
    expect(&p, Protocol::Tcp, 80, |from, to| to.0 != "x" || from.0 == "y");

    // Both in one peer: b of y only. Two peers: every pod of y, and b of x.
    let one = Policies::default().np(np(
        "x",
        "y-b",
        json!({"podSelector": {}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"ns": "y"}}, "podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
    ));
    expect(&one, Protocol::Tcp, 80, |from, to| to.0 != "x" || from == ("y", "b"));
    let two = Policies::default().np(np(
        "x",
        "y-or-b",
        json!({"podSelector": {}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"ns": "y"}}}, {"podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
    ));
    expect(&two, Protocol::Tcp, 80, |from, to| to.0 != "x" || from.0 == "y" || from == ("x", "b"));
    golden("peers_node2.nft", &two.plans()[1].render());
}

#[test]
fn ip_block_with_except() {
    // By address: node 2's pods (10.244.2.0/24) but y/b; node 1's (the a's) are excepted.
    let p = Policies::default().np(np(
        "x",
        "block",
        json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.244.0.0/16",
            "except": [format!("{}/32", ip("y", "b")), "10.244.1.0/24"]}}]}]}),
    ));
    expect(&p, Protocol::Tcp, 80, |from, to| to.0 != "x" || (from.1 != "a" && from != ("y", "b")));
}

#[test]
fn named_ports_and_end_port_ranges() {
    let p = Policies::default().np(np(
        "x",
        "ports",
        json!({"podSelector": {}, "ingress": [{"ports": [
            {"port": "serve-81-udp", "protocol": "UDP"}, {"port": 79, "endPort": 80}]}]}),
    ));
    expect(&p, Protocol::Tcp, 80, anything);
    expect(&p, Protocol::Tcp, 81, |_, to| to.0 != "x");
    expect(&p, Protocol::Udp, 81, anything);
    expect(&p, Protocol::Udp, 80, |_, to| to.0 != "x");
    // Egress by named port: each destination pod's own number for the name. (Without
    // policyTypes, a policy isolates ingress too, as in Kubernetes.)
    let p = Policies::default().np(np(
        "y",
        "egress-ports",
        json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": "serve-80-tcp"}]}]}),
    ));
    expect(&p, Protocol::Tcp, 80, anything);
    expect(&p, Protocol::Tcp, 81, |from, _| from.0 != "y");
}

#[test]
fn several_policies_are_a_union() {
    let p = Policies::default()
        .np(np(
            "x",
            "from-y",
            json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}),
        ))
        .np(np(
            "x",
            "from-z-c",
            json!({"podSelector": {}, "ingress": [{"from": [
                {"namespaceSelector": {"matchLabels": {"ns": "z"}}, "podSelector": {"matchLabels": {"pod": "c"}}}]}]}),
        ));
    expect(&p, Protocol::Tcp, 80, |from, to| to.0 != "x" || from.0 == "y" || from == ("z", "c"));
}

#[test]
fn egress_allowing_dns_only() {
    let p = Policies::default().np(np(
        "x",
        "dns-only",
        json!({"podSelector": {}, "policyTypes": ["Egress"],
               "egress": [{"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}),
    ));
    expect(&p, Protocol::Tcp, 80, |from, _| from.0 != "x");
    expect(&p, Protocol::Udp, 53, anything);
    expect(&p, Protocol::Tcp, 53, anything);
}

#[test]
fn match_expressions_of_every_operator() {
    type FromPod = fn(&str) -> bool;
    let cases: [(serde_json::Value, FromPod); 4] = [
        (json!([{"key": "pod", "operator": "In", "values": ["b", "c"]}]), |p| p != "a"),
        (json!([{"key": "pod", "operator": "NotIn", "values": ["b"]}]), |p| p != "b"),
        (json!([{"key": "pod", "operator": "Exists"}]), |_| true),
        (json!([{"key": "pod", "operator": "DoesNotExist"}]), |_| false),
    ];
    for (exprs, from_pod) in cases {
        let p = Policies::default().np(np(
            "x",
            "exprs",
            json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchExpressions": exprs}}]}]}),
        ));
        expect(&p, Protocol::Tcp, 80, |from, to| to.0 != "x" || (from.0 == "x" && from_pod(from.1)));
    }
}

#[test]
fn admin_deny_beats_an_allow_and_pass_defers_to_network_policies() {
    let allow_y = np(
        "x",
        "from-y",
        json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}),
    );
    let deny_y = anp(
        "deny-y",
        json!({"priority": 10, "subject": {"namespaces": {"matchLabels": {"ns": "x"}}},
               "ingress": [{"action": "Deny", "from": [{"namespaces": {"matchLabels": {"ns": "y"}}}]}]}),
    );
    let p = Policies::default().np(allow_y).anp(deny_y);
    expect(&p, Protocol::Tcp, 80, |_, to| to.0 != "x");

    // Pass y at a lower number (judged first): the NetworkPolicy decides, and allows y.
    let pass_y = anp(
        "pass-y",
        json!({"priority": 5, "subject": {"namespaces": {"matchLabels": {"ns": "x"}}},
               "ingress": [{"action": "Pass", "from": [{"namespaces": {"matchLabels": {"ns": "y"}}}]}]}),
    );
    let p = p.anp(pass_y);
    expect(&p, Protocol::Tcp, 80, |from, to| to.0 != "x" || from.0 == "y");
    golden("admin_node1.nft", &p.plans()[0].render());

    // An admin Allow is final, even against a default-deny NetworkPolicy.
    let p = Policies::default().np(np("x", "deny", json!({"podSelector": {}}))).anp(anp(
        "allow-z",
        json!({"priority": 1, "subject": {"namespaces": {}},
               "ingress": [{"action": "Allow", "from": [{"namespaces": {"matchLabels": {"ns": "z"}}}]}]}),
    ));
    expect(&p, Protocol::Tcp, 80, |from, to| to.0 != "x" || from.0 == "z");
}

#[test]
fn the_baseline_applies_where_no_network_policy_isolates() {
    let mut p = Policies::default().np(np(
        "x",
        "from-z",
        json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "z"}}}]}]}),
    ));
    p.banp = Some(banp(json!({"subject": {"namespaces": {}},
        "ingress": [{"action": "Deny", "from": [{"namespaces": {"matchLabels": {"ns": "z"}}}]}]})));
    // x is isolated by its NetworkPolicy (z only); y and z deny z by the baseline.
    expect(&p, Protocol::Tcp, 80, |from, to| if to.0 == "x" { from.0 == "z" } else { from.0 != "z" });
}

#[test]
fn a_relabelled_pod_changes_set_elements_only() {
    let base = Policies::default().np(np(
        "x",
        "from-clients",
        json!({"podSelector": {}, "ingress": [{"from": [
            {"namespaceSelector": {}, "podSelector": {"matchLabels": {"role": "client"}}}]}]}),
    ));
    let mut relabelled = base.clone();
    relabelled.relabel.push(("z", "c", "role", "client"));
    expect(&relabelled, Protocol::Tcp, 80, |from, to| to.0 != "x" || from == ("z", "c"));
    let (before, after) = (base.plans(), relabelled.plans());
    assert_eq!(before[0].chains, after[0].chains);
    let script = after[0].diff(&before[0]);
    assert_eq!(script.lines().count(), 1, "{script}");
    assert!(script.starts_with("add element ip flatnet peer_"), "{script}");
    assert!(script.trim_end().ends_with(&format!("{{ {} }}", ip("z", "c"))), "{script}");
    // And back.
    let script = before[0].diff(&after[0]);
    assert!(script.starts_with("delete element ip flatnet peer_") && script.lines().count() == 1, "{script}");
    assert!(after[0].diff(&after[0]).is_empty());
    // One more policy: its chain, its set, and the map elements of the pods it selects.
    let more = base.clone().np(np("y", "deny", json!({"podSelector": {"matchLabels": {"pod": "a"}}})));
    let script = more.plans()[0].diff(&before[0]);
    golden("one_more_policy_node1.nft", &script);
    // Deleting it takes back exactly that.
    let back = before[0].diff(&more.plans()[0]);
    assert!(back.lines().all(|l| l.starts_with("delete ")), "{back}");
}

#[test]
fn consecutive_peer_rules_merge_into_one_lookup_counted_by_the_first_rule() {
    // x/a accepts b (p1), b or c (p2), c (p3) on port 80, from 10.244.0.0/16 (p4), then
    // from y (p5) or z/b (p6): one lookup for p1 to p3, the ipBlock on its own, one for p5 and p6.
    let from = |peers: serde_json::Value| json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": peers, "ports": [{"port": 80}]}]});
    let pod = |p: &str| json!({"podSelector": {"matchLabels": {"pod": p}}});
    let p = Policies::default()
        .np(np("x", "p1", from(json!([pod("b")]))))
        .np(np("x", "p2", from(json!([pod("b"), pod("c")]))))
        .np(np("x", "p3", from(json!([pod("c")]))))
        .np(np("x", "p4", from(json!([{"ipBlock": {"cidr": "10.244.0.0/16"}}]))))
        .np(np("x", "p5", from(json!([{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]))))
        .np(np(
            "x",
            "p6",
            from(json!([{"namespaceSelector": {"matchLabels": {"ns": "z"}}, "podSelector": pod("b")["podSelector"]}])),
        ));
    let plan = &p.plans()[0];
    let chain = &plan.chains[&plan.ingress[&ip("x", "a")]];
    assert_eq!(chain.len(), 4, "{chain:#?}");
    assert!(chain[0].starts_with("meta l4proto tcp th dport { 80 } counter name ip saddr map @pcm_"), "{chain:#?}");
    assert!(chain[1].starts_with("ip saddr { 10.244.0.0/16 } "), "{chain:#?}");
    assert!(chain[2].contains(" map @pcm_") && chain[3].ends_with("drop"), "{chain:#?}");
    assert_eq!(plan.counter_maps.len(), 2);
    let counter =
        |policy: &str| counters::counter_name(&counters::network_policy_key("x", policy, "Ingress", Some(0), "Allow"));
    let first = chain[0].split('@').nth(1).unwrap().split(' ').next().unwrap();
    let map = &plan.counter_maps[first];
    // p2's b is counted by p1, its c by p2; p3 (c again) can never count first: two members.
    assert_eq!(map.members.len(), 2, "{map:?}");
    let expected = BTreeMap::from([(ip("x", "b"), counter("p1")), (ip("x", "c"), counter("p2"))]);
    assert_eq!(*map.elements, expected);
    // Traffic: as without merging, counted by the same rules.
    for (from, port) in [(("x", "b"), 80), (("x", "c"), 80), (("y", "a"), 80), (("y", "c"), 81), (("z", "b"), 80)] {
        let pkt = Packet { src: ip(from.0, from.1), dst: ip("x", "a"), proto: Protocol::Tcp, port };
        let chain = &plan.ingress[&ip("x", "a")];
        assert_eq!(run_counting(plan, chain, &pkt), run_counting(&unmerged(plan), chain, &pkt), "from {from:?}:{port}");
    }
    let pkt = Packet { src: ip("x", "c"), dst: ip("x", "a"), proto: Protocol::Tcp, port: 80 };
    assert_eq!(run_counting(plan, &plan.ingress[&ip("x", "a")], &pkt), (true, vec![counter("p2")]));
    golden("merged_node1.nft", &plan.render());
}

#[test]
fn a_pod_isolated_by_many_policies_counts_its_isolation_over_lines_the_kernel_takes() {
    // 250 policies isolate x/a, each allowing a pod that does not exist, the last x/b.
    let mut p = Policies::default();
    for i in 0..250 {
        let from = if i == 249 { "b".to_string() } else { format!("nobody-{i}") };
        p = p.np(np(
            "x",
            &format!("p{i:03}"),
            json!({"podSelector": {"matchLabels": {"pod": "a"}},
                   "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": from}}}], "ports": [{"port": 80}]}]}),
        ));
    }
    let plan = &p.plans()[0];
    let chain = &plan.ingress[&ip("x", "a")];
    let rules = &plan.chains[chain];
    // One merged lookup for the 250 allows; the isolation counted 100 + 100 + 50.
    assert_eq!(rules.len(), 4, "{rules:#?}");
    for rule in rules {
        assert!(rule.matches("counter name").count() <= counters::PER_RULE, "{rule}");
    }
    assert!(!rules[1].ends_with("drop") && !rules[2].ends_with("drop") && rules[3].ends_with(" drop"));
    let deny = Packet { src: ip("x", "c"), dst: ip("x", "a"), proto: Protocol::Tcp, port: 80 };
    let (allowed, counted) = run_counting(plan, chain, &deny);
    assert!(!allowed);
    assert_eq!(counted.len(), 250, "every isolating policy counts the drop");
    let allow = Packet { src: ip("x", "b"), ..deny };
    let p249 = counters::counter_name(&counters::network_policy_key("x", "p249", "Ingress", Some(0), "Allow"));
    assert_eq!(run_counting(plan, chain, &allow), (true, vec![p249]));
}

#[test]
fn port_shapes_and_canonical_cidrs() {
    let port = |v: serde_json::Value| -> NetworkPolicyPort { serde_json::from_value(v).unwrap() };
    assert!(matches!(np_port(&port(json!({}))), RulePort::Protocol(Protocol::Tcp)));
    assert!(matches!(np_port(&port(json!({"port": 80, "endPort": 90}))), RulePort::Number(Protocol::Tcp, 80, 90)));
    assert!(matches!(np_port(&port(json!({"port": "http"}))), RulePort::Named(None, _)));
    assert_eq!(canonical_cidr("10.1.2.3/8"), "10.0.0.0/8");
    assert_eq!(canonical_cidr("10.1.2.3/32"), "10.1.2.3");
}

// ---------------------------------------------------------------------------------------------
// The incremental compiler against the reference
// ---------------------------------------------------------------------------------------------

/// A small deterministic generator (xorshift64*): the sequences are the same on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
    fn pick<'s>(&mut self, items: &[&'s str]) -> &'s str {
        items[self.below(items.len())]
    }
}

const APPS: [&str; 4] = ["web", "db", "cache", "api"];
const SPACES: [&str; 4] = ["x", "y", "z", "w"];

fn random_pod(rng: &mut Rng, name: usize) -> PolicyPod {
    let mut labels = BTreeMap::from([("app".to_string(), rng.pick(&APPS).to_string())]);
    if rng.below(3) == 0 {
        labels.insert("tier".into(), rng.pick(&["front", "back"]).into());
    }
    let mut ports = BTreeMap::new();
    if rng.below(2) == 0 {
        ports.insert("http".to_string(), (Protocol::Tcp, [80, 8080][rng.below(2)]));
    }
    if rng.below(3) == 0 {
        ports.insert("dns".to_string(), (Protocol::Udp, 53));
    }
    PolicyPod {
        namespace: rng.pick(&SPACES).to_string(),
        name: format!("p{name}"),
        // Unique, as the API's address allocation makes them among pods that have not ended.
        ip: Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 244, 0, 2)) + name as u32),
        labels,
        ports,
        local: rng.below(2) == 0,
    }
}

fn random_selector(rng: &mut Rng) -> serde_json::Value {
    match rng.below(4) {
        0 => json!({}),
        1 => json!({"matchLabels": {"app": rng.pick(&APPS)}}),
        2 => json!({"matchExpressions": [{"key": "tier", "operator": rng.pick(&["Exists", "DoesNotExist"])}]}),
        _ => json!({"matchExpressions": [{"key": "app", "operator": rng.pick(&["In", "NotIn"]),
                                          "values": [rng.pick(&APPS), rng.pick(&APPS)]}]}),
    }
}

fn random_peer(rng: &mut Rng) -> serde_json::Value {
    match rng.below(5) {
        0 => json!({"podSelector": random_selector(rng)}),
        1 => json!({"namespaceSelector": {"matchLabels": {"team": rng.pick(&["a", "b"])}}}),
        2 => json!({"namespaceSelector": random_selector(rng), "podSelector": random_selector(rng)}),
        3 => json!({"ipBlock": {"cidr": "10.244.0.0/26", "except": ["10.244.0.8/30"]}}),
        _ => json!({"podSelector": {"matchLabels": {"app": rng.pick(&APPS)}}}),
    }
}

fn random_ports(rng: &mut Rng) -> serde_json::Value {
    match rng.below(4) {
        0 => json!([]),
        1 => json!([{"port": 80}]),
        2 => json!([{"port": "http"}, {"protocol": "UDP", "port": "dns"}]),
        _ => json!([{"port": 8000, "endPort": 8100}]),
    }
}

fn random_policy(rng: &mut Rng, name: usize) -> NetworkPolicy {
    let rule = |rng: &mut Rng, peers: &str| {
        let list: Vec<serde_json::Value> = (0..rng.below(3)).map(|_| random_peer(rng)).collect();
        json!({peers: list, "ports": random_ports(rng)})
    };
    let ingress: Vec<serde_json::Value> = (0..rng.below(3)).map(|_| rule(rng, "from")).collect();
    let egress: Vec<serde_json::Value> = (0..rng.below(2)).map(|_| rule(rng, "to")).collect();
    let types = match rng.below(3) {
        0 => json!(["Ingress"]),
        1 => json!(["Ingress", "Egress"]),
        _ => json!(["Egress"]),
    };
    np(
        rng.pick(&SPACES),
        &format!("np{name}"),
        json!({"podSelector": random_selector(rng), "policyTypes": types, "ingress": ingress, "egress": egress}),
    )
}

fn namespaces(rng: &mut Rng) -> BTreeMap<String, Labels> {
    SPACES
        .iter()
        .map(|ns| {
            let labels = BTreeMap::from([
                (NAMESPACE_NAME_LABEL.to_string(), ns.to_string()),
                ("team".to_string(), rng.pick(&["a", "b"]).to_string()),
            ]);
            (ns.to_string(), labels)
        })
        .collect()
}

/// After every step of random sequences of changes (pods new, gone, relabelled, moved to
/// or from the node; NetworkPolicies new, changed, gone; namespaces relabelled; admin
/// policies), the incremental plan equals a full compile of the same input, both when the
/// changes are given one by one and when whole inputs are given to `update`; and a plan's
/// diff from the previous one is what the applier would write.
#[test]
fn the_incremental_compiler_equals_a_full_compile_after_random_changes() {
    for seed in 1..=8u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut input = PolicyInput {
            namespaces: namespaces(&mut rng),
            pods: (0..30).map(|i| random_pod(&mut rng, i)).collect(),
            ..Default::default()
        };
        input.network_policies = (0..6).map(|i| random_policy(&mut rng, i)).collect();
        let mut one_by_one = IncrementalCompiler::new(input.clone());
        let mut whole = IncrementalCompiler::new(input.clone());
        assert_eq!(one_by_one.plan(), &compile(&input), "seed {seed}: the first compile");
        let (mut next_pod, mut next_policy) = (30, 6);
        let mut counted = 0;
        let mut merged = 0;
        for step in 0..150 {
            match rng.below(10) {
                0..=2 => {
                    let i = rng.below(input.pods.len());
                    // Relabelled, moved, given other ports, sometimes another address.
                    let mut pod = random_pod(&mut rng, next_pod);
                    next_pod += 1;
                    pod.name = input.pods[i].name.clone();
                    pod.namespace = input.pods[i].namespace.clone();
                    if rng.below(2) == 0 {
                        pod.ip = input.pods[i].ip;
                    }
                    input.pods[i] = pod.clone();
                    one_by_one.set_pod(pod);
                }
                3 => {
                    let pod = random_pod(&mut rng, next_pod);
                    next_pod += 1;
                    input.pods.push(pod.clone());
                    one_by_one.set_pod(pod);
                }
                4 if input.pods.len() > 1 => {
                    let pod = input.pods.remove(rng.below(input.pods.len()));
                    one_by_one.remove_pod(&pod.namespace, &pod.name);
                }
                5 | 6 => {
                    let np = random_policy(&mut rng, next_policy);
                    next_policy += 1;
                    input.network_policies.push(np.clone());
                    one_by_one.set_network_policy(np);
                }
                7 if !input.network_policies.is_empty() => {
                    let i = rng.below(input.network_policies.len());
                    let mut np = random_policy(&mut rng, 0);
                    np.metadata = input.network_policies[i].metadata.clone();
                    input.network_policies[i] = np.clone();
                    one_by_one.set_network_policy(np);
                }
                8 if !input.network_policies.is_empty() => {
                    let np = input.network_policies.remove(rng.below(input.network_policies.len()));
                    let ns = np.metadata.namespace.clone().unwrap();
                    one_by_one.remove_network_policy(&ns, &np.metadata.name);
                }
                _ => {
                    if rng.below(2) == 0 {
                        input.namespaces = namespaces(&mut rng);
                    } else {
                        input.admin_policies = vec![anp(
                            "deny",
                            json!({"priority": 1, "subject": {"namespaces": {"matchLabels": {"team": "a"}}},
                                   "ingress": [{"action": rng.pick(&["Deny", "Pass"]),
                                                "from": [{"namespaces": {"matchLabels": {"team": "b"}}}]}]}),
                        )];
                    }
                    one_by_one.update(input.clone());
                }
            }
            let before = whole.plan().clone();
            whole.update(input.clone());
            let reference = compile(&input);
            // The counters first, for a readable failure (the plans compare them too).
            assert_eq!(
                one_by_one.plan().counters,
                reference.counters,
                "seed {seed}, step {step}: counters, one by one"
            );
            assert_eq!(whole.plan().counters, reference.counters, "seed {seed}, step {step}: counters, whole inputs");
            assert_counters_named_and_declared(&reference, &before, &format!("seed {seed}, step {step}"));
            counted += reference.counters.len();
            merged += reference.counter_maps.values().filter(|m| m.members.len() > 1).count();
            if step % 5 == 0 {
                assert_merging_keeps_verdicts_and_counters(&input, &reference, &format!("seed {seed}, step {step}"));
            }
            assert_eq!(one_by_one.plan(), &reference, "seed {seed}, step {step}: changes one by one");
            assert_eq!(whole.plan(), &reference, "seed {seed}, step {step}: whole inputs");
            assert_eq!(whole.plan().diff(&before), reference.diff(&before), "seed {seed}, step {step}: the diff");
        }
        assert!(counted > 0, "seed {seed}: no step had a counter");
        assert!(merged > 0, "seed {seed}: no step merged rules");
    }
}

/// For packets from every pod to every local pod (and back) on a few ports, the merged
/// chains decide and count as the same chains without merging ([`unmerged`]).
fn assert_merging_keeps_verdicts_and_counters(input: &PolicyInput, plan: &PolicyPlan, at: &str) {
    let plain = unmerged(plan);
    for (proto, port) in [(Protocol::Tcp, 80), (Protocol::Tcp, 8050), (Protocol::Udp, 53)] {
        for peer in &input.pods {
            for (local, chain) in &plan.ingress {
                let pkt = Packet { src: peer.ip, dst: *local, proto, port };
                assert_eq!(run_counting(plan, chain, &pkt), run_counting(&plain, chain, &pkt), "{at}: ingress");
            }
            for (local, chain) in &plan.egress {
                let pkt = Packet { src: *local, dst: peer.ip, proto, port };
                assert_eq!(run_counting(plan, chain, &pkt), run_counting(&plain, chain, &pkt), "{at}: egress");
            }
        }
    }
}

/// Every counter `plan`'s chains name is one of its counters; going from `old` to `plan`, the additions declare each new
/// counter before the first rule that names it, and the removals delete each counter
/// `plan` no longer has after the chains that named it.
fn assert_counters_named_and_declared(plan: &PolicyPlan, old: &PolicyPlan, at: &str) {
    let named = |plan: &PolicyPlan| -> BTreeSet<String> {
        plan.chains
            .values()
            .flatten()
            .flat_map(|rule| {
                rule.split("counter name \"").skip(1).map(|rest| rest[..rest.find('"').unwrap()].to_string())
            })
            .collect()
    };
    // A rule that compiles to no line for a pod (a named port it lacks) still has its
    // counter (reported as zero), as `compile` has always planned it.
    let planned: BTreeSet<String> = plan.counters.keys().cloned().collect();
    let unplanned: Vec<String> = named(plan).difference(&planned).cloned().collect();
    assert!(unplanned.is_empty(), "{at}: counters named by rules but not planned: {unplanned:?}");
    let additions = plan.additions(old, false);
    for name in plan.counters.keys().filter(|n| !old.counters.contains_key(*n)) {
        let declared = additions.find(&format!("add counter ip flatnet {name}\n"));
        let used = additions.find(&format!("counter name \"{name}\""));
        assert!(declared.is_some(), "{at}: {name} declared:\n{additions}");
        assert!(used.is_none() || declared < used, "{at}: {name} declared before its first use:\n{additions}");
    }
    let removals = plan.removals(old);
    let last_chain = removals.rfind("delete chain ");
    for name in old.counters.keys().filter(|n| !plan.counters.contains_key(*n)) {
        let deleted = removals.find(&format!("delete counter ip flatnet {name}\n"));
        assert!(deleted.is_some() && deleted > last_chain, "{at}: {name} deleted after the chains:\n{removals}");
    }
    for name in plan.counters.keys() {
        assert!(!removals.contains(&format!("delete counter ip flatnet {name}\n")), "{at}: {name} kept");
    }
    // Counter maps: their elements name planned counters; a new map is declared after the
    // counters and before the first rule that looks in it; a map no longer used is deleted
    // after the chains and before any counter.
    for (name, map) in &plan.counter_maps {
        assert!(map.elements.values().all(|c| plan.counters.contains_key(c)), "{at}: {name} names unplanned counters");
        if old.counter_maps.contains_key(name) {
            continue;
        }
        let declared = additions.find(&format!("add map ip flatnet {name} "));
        let used = additions.find(&format!("map @{name} "));
        let last_counter = additions.rfind("add counter ");
        assert!(declared.is_some() && declared > last_counter, "{at}: {name} declared after the counters");
        assert!(used.is_none() || declared < used, "{at}: {name} declared before its first use:\n{additions}");
    }
    let first_counter = removals.find("delete counter ");
    for name in old.counter_maps.keys().filter(|n| !plan.counter_maps.contains_key(*n)) {
        let deleted = removals.find(&format!("delete map ip flatnet {name}\n"));
        assert!(deleted.is_some() && deleted > last_chain, "{at}: {name} deleted after the chains:\n{removals}");
        assert!(first_counter.is_none() || deleted < first_counter, "{at}: {name} deleted before the counters");
    }
}

/// The programming benchmark's shape, without a kernel: 1,000 policies over 5,000 pods in
/// 50 namespaces (each policy selects an app of its namespace and allows two peers), then one
/// more policy, then one pod relabelled. Prints the compile times and script sizes (run with
/// `cargo test -p flatnet-netcore --release --lib policy::tests::scale -- --ignored --nocapture`).
#[test]
#[ignore = "a measurement: run it by name"]
fn scale() {
    let mut input = PolicyInput::default();
    for n in 0..50 {
        let ns = format!("ns{n}");
        input.namespaces.insert(ns.clone(), BTreeMap::from([(NAMESPACE_NAME_LABEL.to_string(), ns.clone())]));
        for p in 0..100 {
            input.pods.push(PolicyPod {
                namespace: ns.clone(),
                name: format!("p{p}"),
                ip: Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 244, 0, 2)) + (n * 100 + p) as u32),
                labels: BTreeMap::from([("app".to_string(), format!("app{}", p % 20))]),
                ports: BTreeMap::new(),
                local: p % 5 == 0,
            });
        }
    }
    let policy = |i: usize| {
        np(
            &format!("ns{}", i % 50),
            &format!("p{i}"),
            json!({"podSelector": {"matchLabels": {"app": format!("app{}", i % 20)}},
                   "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": format!("app{}", (i + 1) % 20)}}},
                                         {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: format!("ns{}", (i + 7) % 50)}}}],
                                "ports": [{"port": 80}]}]}),
        )
    };
    input.network_policies = (0..1000).map(policy).collect();
    let t = std::time::Instant::now();
    let full = compile(&input);
    let compile_full = t.elapsed();
    let script = full.render();
    println!(
        "full: compile {compile_full:?}, {} chains, {} sets, {} pods mapped, script {} lines / {} bytes",
        full.chains.len(),
        full.sets.len(),
        full.ingress.len(),
        script.lines().count(),
        script.len()
    );
    input.network_policies.push(policy(1000));
    let t = std::time::Instant::now();
    let more = compile(&input);
    let diff = more.diff(&full);
    println!("one more policy: compile + diff {:?}, script {} lines", t.elapsed(), diff.lines().count());
    input.pods[0].labels.insert("app".into(), "app1".into());
    let t = std::time::Instant::now();
    let relabelled = compile(&input);
    let diff = relabelled.diff(&more);
    println!("one pod relabelled: compile + diff {:?}, script {} lines", t.elapsed(), diff.lines().count());
}
