//! Kernel tests of the network policy chains with real packets: a node namespace with a pod
//! bridge and pods a, b, c (bridged traffic passes the node's IP hooks, as the agent sets
//! it up), made by the test and removed when it ends. A [`PolicyApplier`] programs the
//! node's table; pods connect to each other and an established connection is cut when a
//! new policy denies it.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use common::{privileged, Scratch};
use netcore::link::Netlink;
use netcore::model::{NodeNetwork, PodNetwork};
use netcore::netns::Netns;
use netcore::podnet;
use netcore::policy::{compile, PolicyApplier, PolicyInput, PolicyPod};
use openapi::{NetworkPolicy, ObjectMeta};
use serde_json::json;

const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 99, 1, 1);
const PODS: [&str; 3] = ["a", "b", "c"];

fn pod_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 99, 1, 2 + i as u8)
}

/// A node with pods a (.2), b (.3), c (.4), torn down on drop.
struct Lab {
    node: Netns,
    pods: Vec<Netns>,
    _scratch: Vec<Scratch>,
}

impl Lab {
    async fn new() -> Lab {
        let node_s = Scratch::create("polnode");
        let node = Netns::open(&node_s.0).unwrap();
        let nl = Netlink::open(&node).unwrap();
        let bridge =
            podnet::prepare_node(&nl, &node, &NodeNetwork { bridge: "fnbr0".into(), gateway: GATEWAY, prefix: 24 })
                .await
                .unwrap();
        netcore::sysctl::set(&node, "net.bridge.bridge-nf-call-iptables", "1").expect("br_netfilter");
        let mut scratch = vec![node_s];
        let mut pods = vec![];
        for i in 0..PODS.len() {
            let s = Scratch::new(&format!("pol{i}"));
            let pod = PodNetwork {
                netns: s.0.clone(),
                host_veth: format!("fnpol{i}"),
                ip: pod_ip(i),
                prefix: 24,
                gateway: GATEWAY,
                mtu: None,
            };
            podnet::attach_pod(&nl, bridge, &pod).await.unwrap();
            pods.push(Netns::open(&s.0).unwrap());
            scratch.push(s);
        }
        Lab { node, pods, _scratch: scratch }
    }

    fn input(&self, policies: Vec<NetworkPolicy>) -> PolicyInput {
        let mut input = PolicyInput::default();
        input.namespaces.insert("ns".into(), BTreeMap::from([("kubernetes.io/metadata.name".into(), "ns".into())]));
        for (i, name) in PODS.iter().enumerate() {
            input.pods.push(PolicyPod {
                namespace: "ns".into(),
                name: name.to_string(),
                ip: pod_ip(i),
                labels: BTreeMap::from([("pod".to_string(), name.to_string())]),
                ports: BTreeMap::new(),
                local: true,
            });
        }
        input.network_policies = policies;
        input
    }
}

fn np(name: &str, spec: serde_json::Value) -> NetworkPolicy {
    NetworkPolicy {
        metadata: ObjectMeta { name: name.into(), namespace: Some("ns".into()), ..Default::default() },
        spec: serde_json::from_value(spec).unwrap(),
        ..Default::default()
    }
}

/// A TCP echo server in `ns` on port 80 (one thread per connection, for long ones).
fn serve(ns: &Netns, ip: Ipv4Addr) {
    let listener = ns.run(move || TcpListener::bind((ip, 80))).unwrap().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { return };
            std::thread::spawn(move || {
                let mut b = vec![0u8; 64 * 1024];
                while let Ok(n) = c.read(&mut b) {
                    if n == 0 || c.write_all(&b[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
}

fn connect(ns: &Netns, to: Ipv4Addr) -> std::io::Result<TcpStream> {
    let addr = SocketAddr::from((to, 80));
    let c = ns.run(move || TcpStream::connect_timeout(&addr, Duration::from_millis(700))).unwrap()?;
    c.set_read_timeout(Some(Duration::from_millis(700)))?;
    Ok(c)
}

fn echo(c: &mut TcpStream) -> bool {
    let mut b = [0u8; 4];
    c.write_all(b"ping").is_ok() && c.read_exact(&mut b).is_ok() && &b == b"ping"
}

fn reachable(lab: &Lab, from: usize, to: usize) -> bool {
    connect(&lab.pods[from], pod_ip(to)).map(|mut c| echo(&mut c)).unwrap_or(false)
}

#[tokio::test]
async fn policies_filter_real_connections_and_cut_the_denied_ones() {
    if !privileged() {
        return;
    }
    let lab = Lab::new().await;
    for (i, ns) in lab.pods.iter().enumerate() {
        serve(ns, pod_ip(i));
    }
    let mut applier = PolicyApplier::new(Netns::open(lab.node.name()).unwrap());
    applier.sync_all(compile(&lab.input(vec![]))).unwrap();
    assert!(reachable(&lab, 0, 2) && reachable(&lab, 1, 2));

    // c accepts b only; an established a → c survives an allow, and the first change that
    // denies it cuts it.
    let mut kept = connect(&lab.pods[0], pod_ip(2)).unwrap();
    assert!(echo(&mut kept));
    let allow_a_b = np(
        "from-a-b",
        json!({"podSelector": {"matchLabels": {"pod": "c"}}, "ingress": [{"from": [
            {"podSelector": {"matchExpressions": [{"key": "pod", "operator": "In", "values": ["a", "b"]}]}}]}]}),
    );
    let report = applier.update(compile(&lab.input(vec![allow_a_b]))).unwrap();
    assert!(report.script_bytes > 0);
    assert!(echo(&mut kept), "allowing disturbed an established connection");
    assert!(reachable(&lab, 0, 2) && reachable(&lab, 1, 2));
    let allowed_before = count(&applier, Some(0), "Allow");
    assert!(allowed_before >= 2, "a → c and b → c were judged by rule 0: {:?}", applier.counters());

    let allow_b = np(
        "from-a-b",
        json!({"podSelector": {"matchLabels": {"pod": "c"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
    );
    applier.update(compile(&lab.input(vec![allow_b.clone()]))).unwrap();
    assert!(!echo(&mut kept), "the denied connection was not cut");
    assert!(!reachable(&lab, 0, 2), "a still reaches c");
    assert!(reachable(&lab, 1, 2), "b no longer reaches c");
    assert!(reachable(&lab, 2, 0), "c's own connections are not isolated (no egress policy)");
    // The counters: a's drops on the isolation, b's connection on rule 0, whose counter
    // outlived the chain the new rule text made.
    assert!(count(&applier, None, "Deny") > 0, "{:?}", applier.counters());
    assert!(count(&applier, Some(0), "Allow") > allowed_before, "{:?}", applier.counters());

    // b relabelled out of the allowed peer: a change of set elements only (the same chains
    // and sets), which goes over nfnetlink with the generation, and still cuts b's
    // established connection; and back.
    let mut from_b = connect(&lab.pods[1], pod_ip(2)).unwrap();
    assert!(echo(&mut from_b));
    let before = compile(&lab.input(vec![allow_b.clone()]));
    let mut relabelled = lab.input(vec![allow_b.clone()]);
    relabelled.pods[1].labels.insert("pod".into(), "x".into());
    let relabelled = compile(&relabelled);
    assert!(relabelled.chains.keys().eq(before.chains.keys()) && relabelled.sets.keys().eq(before.sets.keys()));
    applier.update(relabelled).unwrap();
    assert!(!echo(&mut from_b), "the connection of the relabelled pod was not cut");
    assert!(!reachable(&lab, 1, 2), "the relabelled b still reaches c");
    applier.update(before).unwrap();
    assert!(reachable(&lab, 1, 2), "b, labelled back, does not reach c");

    // A wiped table part is rewritten by a full sync.
    netcore::nft::apply(&lab.node, "delete table ip flatnet\n").unwrap();
    assert!(reachable(&lab, 0, 2));
    applier.sync_all(compile(&lab.input(vec![allow_b]))).unwrap();
    assert!(!reachable(&lab, 0, 2) && reachable(&lab, 1, 2));

    // Deleting the policy opens c again, and its counters go.
    applier.update(compile(&lab.input(vec![]))).unwrap();
    assert!(reachable(&lab, 0, 2));
    assert_eq!(applier.counters().unwrap(), vec![]);
    let left = netcore::nft::list_objects(&lab.node).unwrap().unwrap().counters;
    assert!(left.is_empty(), "counters left in the table: {left:?}");
}

/// Packets counted for NetworkPolicy `from-a-b`'s ingress `rule` (`None`: its isolation) and
/// `action`.
fn count(applier: &PolicyApplier, rule: Option<u32>, action: &str) -> u64 {
    count_of(applier, "from-a-b", rule, action)
}

/// Packets counted for NetworkPolicy `policy`'s ingress `rule` (`None`: its isolation) and
/// `action`.
fn count_of(applier: &PolicyApplier, policy: &str, rule: Option<u32>, action: &str) -> u64 {
    applier
        .counters()
        .unwrap()
        .iter()
        .filter(|c| c.name == policy && c.direction == "Ingress" && c.rule == rule && c.action == action)
        .map(|c| c.packets)
        .sum()
}

/// Rules merged into one counter map judge real packets as the rules would one by one: c
/// accepts b (p1), a or b (p2), nobody (p3), all on port 80, which compile to one lookup in
/// a map where b counts on p1 (its first rule) and a on p2; a pod in none of the peers
/// misses the map and is denied (and counted) by the isolation drop.
#[tokio::test]
async fn merged_rules_count_each_peer_on_its_first_rule_and_deny_the_others() {
    if !privileged() {
        return;
    }
    let lab = Lab::new().await;
    serve(&lab.pods[2], pod_ip(2));
    let from = |name: &str, pods: &[&str]| {
        np(
            name,
            json!({"podSelector": {"matchLabels": {"pod": "c"}}, "ingress": [{"from": [
                {"podSelector": {"matchExpressions": [{"key": "pod", "operator": "In", "values": pods}]}}],
                "ports": [{"port": 80}]}]}),
        )
    };
    let policies = vec![from("p1", &["b"]), from("p2", &["a", "b"]), from("p3", &["nobody"])];
    let plan = compile(&lab.input(policies.clone()));
    let chain = &plan.chains[&plan.ingress[&pod_ip(2)]];
    assert_eq!(chain.len(), 2, "one merged lookup and the isolation drop: {chain:#?}");
    assert!(chain[0].contains("counter name ip saddr map @pcm_"), "{chain:#?}");
    let mut applier = PolicyApplier::new(Netns::open(lab.node.name()).unwrap());
    // Written whole by `nft -f` (the map's elements as text).
    applier.sync_all(plan.clone()).unwrap();
    let map = plan.counter_maps.keys().next().unwrap();
    let listing = nft_list(&lab.node, &["map", "ip", "flatnet", map]);
    assert!(listing.contains("type ipv4_addr : counter"), "{listing}");
    for _ in 0..3 {
        assert!(reachable(&lab, 1, 2) && reachable(&lab, 0, 2));
    }
    let counted = |applier: &PolicyApplier, policy| count_of(applier, policy, Some(0), "Allow");
    assert!(counted(&applier, "p1") >= 3, "b counts on p1: {:?}", applier.counters());
    assert!(counted(&applier, "p2") >= 3, "a counts on p2: {:?}", applier.counters());
    assert_eq!(counted(&applier, "p3"), 0, "{:?}", applier.counters());
    let (p1, p2) = (counted(&applier, "p1"), counted(&applier, "p2"));
    assert_eq!(count_of(&applier, "p1", None, "Deny"), 0, "{:?}", applier.counters());

    // a relabelled out of p2's peer: its element leaves the map (over nfnetlink: the same
    // chains, sets and map), and a is denied by the isolation drop; b still counts on p1.
    let mut input = lab.input(policies.clone());
    input.pods[0].labels.insert("pod".into(), "x".into());
    let relabelled = compile(&input);
    assert!(
        relabelled.chains.keys().eq(plan.chains.keys()) && relabelled.counter_maps.keys().eq(plan.counter_maps.keys())
    );
    applier.update(relabelled).unwrap();
    assert!(!reachable(&lab, 0, 2), "a, in no peer, still reaches c");
    assert!(reachable(&lab, 1, 2));
    assert_eq!(counted(&applier, "p2"), p2, "a counted on p2 after leaving its peer: {:?}", applier.counters());
    assert!(counted(&applier, "p1") > p1, "{:?}", applier.counters());
    assert!(count_of(&applier, "p1", None, "Deny") > 0, "a's drops are counted: {:?}", applier.counters());

    // b moved from p1's peer: its value in the map changes to p2 (a delete and an add of
    // the element in one batch).
    let policies = vec![from("p1", &["nobody"]), from("p2", &["a", "b"]), from("p3", &["b"])];
    let moved = compile(&lab.input(policies));
    applier.update(moved.clone()).unwrap();
    let listing = nft_list(&lab.node, &["map", "ip", "flatnet", moved.counter_maps.keys().next().unwrap()]);
    let b_counter = &moved.counter_maps.values().next().unwrap().elements[&pod_ip(1)];
    assert!(listing.contains(&format!("{} : \"{b_counter}\"", pod_ip(1))), "{listing}");
    let p2 = counted(&applier, "p2");
    assert!(reachable(&lab, 1, 2) && reachable(&lab, 0, 2));
    assert!(counted(&applier, "p2") >= p2 + 2, "a and b count on p2: {:?}", applier.counters());

    // 150 policies isolating c, b allowed by the last: one lookup, and an isolation drop
    // counted by all 150 over lines the kernel takes (at most 128 expressions a rule).
    let many: Vec<NetworkPolicy> = (0..150)
        .map(|i| if i == 149 { from(&format!("q{i:03}"), &["b"]) } else { from(&format!("q{i:03}"), &["nobody"]) })
        .collect();
    applier.update(compile(&lab.input(many))).unwrap();
    assert!(reachable(&lab, 1, 2) && !reachable(&lab, 0, 2));
    assert!(counted(&applier, "q149") >= 1 && counted(&applier, "q000") == 0, "{:?}", applier.counters());
    for q in ["q000", "q099", "q100", "q149"] {
        assert!(count_of(&applier, q, None, "Deny") > 0, "a's drop counted for {q}: {:?}", applier.counters());
    }

    // Gone with their policies.
    applier.update(compile(&lab.input(vec![]))).unwrap();
    let left = netcore::nft::list_objects(&lab.node).unwrap().unwrap();
    assert!(!left.sets.iter().any(|s| s.starts_with("pcm_")), "maps left: {:?}", left.sets);
    assert!(left.counters.is_empty(), "counters left: {:?}", left.counters);
}

/// `nft list ARGS…` in `ns`.
fn nft_list(ns: &Netns, args: &[&str]) -> String {
    let out =
        std::process::Command::new("ip").args(["netns", "exec", ns.name(), "nft", "list"]).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Counter map elements written over nfnetlink (an object reference per element) read
/// back as `nft` writes its own; a value changed by a delete and an add in one batch.
#[test]
fn counter_map_elements_over_nfnetlink_are_what_nft_writes() {
    use netcore::nft::model::{Datatype, Element, MapData, Op, Part, Set, Type, Value};
    use netcore::nftnl::{self, SetOp};
    if !privileged() {
        return;
    }
    let s = Scratch::create("pcm");
    let ns = Netns::open(&s.0).unwrap();
    netcore::nft::apply(
        &ns,
        "add table ip flatnet\nadd counter ip flatnet pc_a\nadd counter ip flatnet pc_b\n\
         add map ip flatnet by_nft { type ipv4_addr : counter; }\n\
         add map ip flatnet by_netlink { type ipv4_addr : counter; }\n\
         add element ip flatnet by_nft { 10.0.0.1 : \"pc_a\", 10.0.0.2 : \"pc_b\" }\n",
    )
    .unwrap();
    let map = Set::map("by_netlink", Type::Type(vec![Datatype::Ipv4Addr]), MapData::Counter);
    assert_eq!(map.to_string(), "map by_netlink { type ipv4_addr : counter; }");
    let element = |last: u8, counter: &str| Element {
        key: vec![Part::Ipv4(Ipv4Addr::new(10, 0, 0, last))],
        value: Some(Value::Counter(counter.into())),
    };
    let mut sock = nftnl::Socket::open(&ns).unwrap();
    let add = [element(1, "pc_a"), element(2, "pc_b")];
    sock.apply("flatnet", &[SetOp { op: Op::Add, set: &map, elements: &add }]).unwrap();
    let body = |name: &str| nft_list(&ns, &["map", "ip", "flatnet", name]).replace(name, "M");
    assert_eq!(body("by_netlink"), body("by_nft"));
    assert!(body("by_nft").contains("elements = { 10.0.0.1 : \"pc_a\", 10.0.0.2 : \"pc_b\" }"), "{}", body("by_nft"));
    // 10.0.0.1 moves to pc_b, 10.0.0.2 goes: one batch.
    let (gone, moved) = ([element(1, "pc_a"), element(2, "pc_b")], [element(1, "pc_b")]);
    let ops =
        [SetOp { op: Op::Delete, set: &map, elements: &gone }, SetOp { op: Op::Add, set: &map, elements: &moved }];
    sock.apply("flatnet", &ops).unwrap();
    assert!(body("by_netlink").contains("elements = { 10.0.0.1 : \"pc_b\" }"), "{}", body("by_netlink"));
    // A counter that does not exist is refused, and the batch undone.
    let bad = [element(3, "pc_missing")];
    assert!(sock.apply("flatnet", &[SetOp { op: Op::Add, set: &map, elements: &bad }]).is_err());
    assert!(!body("by_netlink").contains("10.0.0.3"));
}

/// The data path, measured (run by name, `--ignored --nocapture`): TCP connect latency and
/// bulk throughput from a to c while c is judged by 1,000 NetworkPolicies (a allowed only by
/// the last rule: the worst case, every rule evaluated) and while no policy selects c,
/// alternating in one run.
#[tokio::test]
#[ignore = "a measurement: run it by name"]
async fn data_path_cost_of_a_thousand_policies() {
    if !privileged() {
        return;
    }
    let lab = Lab::new().await;
    serve(&lab.pods[2], pod_ip(2));
    let policies: Vec<NetworkPolicy> = (0..1000)
        .map(|i| {
            let from = if i == 999 { "a".to_string() } else { format!("nobody-{i}") };
            np(
                &format!("p{i}"),
                json!({"podSelector": {"matchLabels": {"pod": "c"}},
                       "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": from}}}], "ports": [{"port": 80}]}]}),
            )
        })
        .collect();
    let isolated = compile(&lab.input(policies));
    let open = compile(&lab.input(vec![]));
    let mut applier = PolicyApplier::new(Netns::open(lab.node.name()).unwrap());
    let measure = |rounds: usize| {
        let mut connecting = Duration::ZERO;
        for _ in 0..rounds {
            let t = std::time::Instant::now();
            let mut c = connect(&lab.pods[0], pod_ip(2)).unwrap();
            connecting += t.elapsed();
            assert!(echo(&mut c));
        }
        let mut c = connect(&lab.pods[0], pod_ip(2)).unwrap();
        let chunk = vec![7u8; 64 * 1024];
        let mut back = vec![0u8; 64 * 1024];
        let t = std::time::Instant::now();
        let mut moved = 0usize;
        while t.elapsed() < Duration::from_millis(500) {
            c.write_all(&chunk).unwrap();
            c.read_exact(&mut back).unwrap();
            moved += chunk.len();
        }
        (connecting / rounds as u32, moved as f64 / t.elapsed().as_secs_f64() / 1e6)
    };
    let (mut iso, mut opn) = ((Duration::ZERO, 0.0), (Duration::ZERO, 0.0));
    for _ in 0..5 {
        applier.sync_all(isolated.clone()).unwrap();
        let m = measure(50);
        iso = (iso.0 + m.0, iso.1 + m.1);
        applier.sync_all(open.clone()).unwrap();
        let m = measure(50);
        opn = (opn.0 + m.0, opn.1 + m.1);
    }
    println!(
        "isolated by 1,000 policies: connect {:?}, echo throughput {:.0} MB/s; open: connect {:?}, {:.0} MB/s; ratios {:.2} / {:.2}",
        iso.0 / 5,
        iso.1 / 5.0,
        opn.0 / 5,
        opn.1 / 5.0,
        iso.0.as_secs_f64() / opn.0.as_secs_f64(),
        iso.1 / opn.1
    );
}
