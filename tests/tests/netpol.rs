//! Network policies on `flatnet up` clusters of three nodes, both backends, the way the
//! Kubernetes e2e suite probes them (test/e2e/network/netpol): namespaces x, y and z, pods
//! a, b and c in each (a on node-1, b on node-2, c on node-3, so every case has same-node and
//! cross-node peers), each pod serving ports 80 and 81 over TCP and UDP (two netexec
//! containers, ports named `serve-80-tcp` … as upstream names them), and a service in front
//! of every pod. Each case checks the full reachability matrix, 72 pairs × 4 port/protocols,
//! probed in parallel, to pod IPs and (where marked) to the services' cluster IPs; after each
//! case its policies are deleted and the matrix is open again.
//!
//! Cases: default deny ingress; default deny egress; egress to one namespace; egress
//! allowing DNS only (dig through the cluster DNS works, everything else is denied); allow
//! from a pod selector, from a namespace selector, both in one peer (AND) against two peers
//! (OR); ipBlock with except; a named port; `endPort` ranges, TCP and UDP; two policies
//! (union); matchExpressions with every operator, one policy updated through them; a pod
//! relabelled into and out of a policy's peer; AdminNetworkPolicy Deny beating a
//! NetworkPolicy's allow, an established connection cut by it, `Pass` handing the decision
//! back to the NetworkPolicies; a BaselineAdminNetworkPolicy's Deny applying only where no
//! NetworkPolicy isolates; a NodePort reached from the internet namespace, judged by `ipBlock`
//! against the client's address. The counters: denied probes raise the denied count of the
//! policy that denied them, and only its.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::cluster::*;
use common::workload::*;
use netcore::netns::Netns;
use serde_json::{json, Value};

const NAMESPACES: [&str; 3] = ["x", "y", "z"];
const PODS: [&str; 3] = ["a", "b", "c"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proto {
    Tcp,
    Udp,
}
use Proto::*;

/// What every matrix probes: (port, protocol).
const PORTS: [(u16, Proto); 4] = [(80, Tcp), (81, Tcp), (80, Udp), (81, Udp)];

struct Pod {
    ns: &'static str,
    name: &'static str,
    info: PodInfo,
    /// The cluster IP of the service `s-NAME` in the pod's namespace, which selects it alone.
    service: Ipv4Addr,
}

impl Pod {
    fn is(&self, id: &str) -> bool {
        id.split_once('/') == Some((self.ns, self.name))
    }
}

/// Probe to pod IPs or to the services' cluster IPs.
#[derive(Clone, Copy, PartialEq)]
enum Via {
    Pods,
    Services,
}

struct Cluster {
    c: TestCluster,
    /// x/a, x/b, x/c, y/a, …, z/c.
    pods: Vec<Pod>,
}

/// A pod of two netexec containers, one per port, each serving that port over TCP and UDP.
fn create_pod(c: &TestCluster, ns: &str, name: &str, node: &str) {
    let container = |port: u16| {
        json!({"name": format!("cont-{port}"),
            "command": [common::flatnet(), "netexec", "--http-port", port.to_string(), "--udp-port", port.to_string()],
            "ports": [{"name": format!("serve-{port}-tcp"), "containerPort": port},
                      {"name": format!("serve-{port}-udp"), "containerPort": port, "protocol": "UDP"}],
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": port}, "periodSeconds": 1}})
    };
    let pod = json!({
        "metadata": {"name": name, "labels": {"pod": name}},
        "spec": {"nodeName": node, "containers": [container(80), container(81)]}
    });
    http_post_json(c.listen, c.data_dir(), &format!("/api/v1/namespaces/{ns}/pods"), &pod);
}

impl Cluster {
    fn up(backend: &str) -> Cluster {
        let c = TestCluster::new();
        let up = c.up_with(3, backend);
        assert_eq!(up.code, Some(0), "{up:?}");
        for ns in NAMESPACES {
            // y carries a label of its own (matchExpressions Exists / DoesNotExist).
            let labels = if ns == "y" { json!({"team": "blue"}) } else { json!({}) };
            http_post_json(
                c.listen,
                c.data_dir(),
                "/api/v1/namespaces",
                &json!({"metadata": {"name": ns, "labels": labels}}),
            );
            for (i, pod) in PODS.iter().enumerate() {
                create_pod(&c, ns, pod, &format!("node-{}", i + 1));
                let port = |name: &str, port: u16, proto: &str, target: &str| json!({"name": name, "port": port, "protocol": proto, "targetPort": target});
                http_post_json(
                    c.listen,
                    c.data_dir(),
                    &format!("/api/v1/namespaces/{ns}/services"),
                    &json!({"metadata": {"name": format!("s-{pod}")}, "spec": {"selector": {"pod": pod},
                        "ports": [port("t80", 80, "TCP", "serve-80-tcp"), port("t81", 81, "TCP", "serve-81-tcp"),
                                  port("u80", 80, "UDP", "serve-80-udp"), port("u81", 81, "UDP", "serve-81-udp")]}}),
                );
            }
        }
        let mut pods = Vec::new();
        for ns in NAMESPACES {
            for name in PODS {
                let info = ready_pod_in(&c, ns, name);
                let svc = http_get_json(c.listen, c.data_dir(), &format!("/api/v1/namespaces/{ns}/services/s-{name}"));
                let service = svc["spec"]["clusterIP"].as_str().unwrap().parse().unwrap();
                pods.push(Pod { ns, name, info, service });
            }
        }
        Cluster { c, pods }
    }

    fn pod(&self, id: &str) -> &Pod {
        self.pods.iter().find(|p| p.is(id)).unwrap_or_else(|| panic!("no pod {id}"))
    }

    /// One matrix: for each port/protocol, a line per source, a column per destination
    /// (`X` reached, `.` not, `-` itself, not probed).
    fn matrix(&self, via: Via) -> String {
        let n = self.pods.len();
        let mut cells = vec![vec![false; n * n]; PORTS.len()];
        std::thread::scope(|scope| {
            let mut probes = Vec::new();
            for (k, &(port, proto)) in PORTS.iter().enumerate() {
                for (i, from) in self.pods.iter().enumerate() {
                    for (j, to) in self.pods.iter().enumerate() {
                        if i == j {
                            continue;
                        }
                        let ip = if via == Via::Pods { to.info.ip } else { to.service };
                        let handle =
                            scope.spawn(move || probe(&from.info.ns, ip, port, proto).as_deref() == Some(to.name));
                        probes.push((k, i * n + j, handle));
                    }
                }
            }
            for (k, cell, handle) in probes {
                cells[k][cell] = handle.join().unwrap();
            }
        });
        render(n, |k, i, j| if i == j { None } else { Some(cells[k][i * n + j]) })
    }

    /// Wait (a few seconds at most) until the matrix through `via` is what `allowed` says
    /// (from, to, port, protocol), for every pair but a pod and itself.
    fn expect(&self, what: &str, via: Via, allowed: impl Fn(&Pod, &Pod, u16, Proto) -> bool) {
        let n = self.pods.len();
        let expected = render(n, |k, i, j| {
            let (port, proto) = PORTS[k];
            (i != j).then(|| allowed(&self.pods[i], &self.pods[j], port, proto))
        });
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let got = self.matrix(via);
            if got == expected {
                return;
            }
            if Instant::now() > deadline {
                let via = if via == Via::Pods { "pod IPs" } else { "cluster IPs" };
                panic!("{what}: the reachability matrix to {via} is\n{got}\nexpected\n{expected}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Everything reaches everything, through pod IPs.
    fn expect_open(&self, what: &str) {
        self.expect(what, Via::Pods, |_, _, _, _| true);
    }

    fn post(&self, path: &str, body: Value) {
        let reply = http_post_json(self.c.listen, self.c.data_dir(), path, &body);
        assert!(reply["metadata"]["name"].is_string(), "{path}: {reply}");
    }

    fn get(&self, path: &str) -> Value {
        http_get_json(self.c.listen, self.c.data_dir(), path)
    }

    fn put(&self, path: &str, body: &Value) {
        let reply = http_put_json(self.c.listen, self.c.data_dir(), path, body);
        assert!(reply["metadata"]["name"].is_string(), "{path}: {reply}");
    }

    fn delete(&self, path: &str) {
        let reply = http_delete(self.c.listen, self.c.data_dir(), path);
        assert!(reply["metadata"]["name"].is_string(), "{path}: {reply}");
    }

    /// A NetworkPolicy `name` in x, `spec` as given.
    fn netpol(&self, name: &str, spec: Value) {
        self.post(NETPOL, json!({"metadata": {"name": name}, "spec": spec}));
    }

    /// Delete the NetworkPolicies of x named, then wait until the matrix is open again.
    fn clear(&self, what: &str, names: &[&str]) {
        for name in names {
            self.delete(&format!("{NETPOL}/{name}"));
        }
        self.expect_open(&format!("{what}: its policies deleted"));
    }

    /// The labels of pod `id` become `labels` (a PUT of the whole pod).
    fn relabel(&self, id: &str, labels: Value) {
        let (ns, name) = id.split_once('/').unwrap();
        let path = format!("/api/v1/namespaces/{ns}/pods/{name}");
        let mut pod = self.get(&path);
        pod["metadata"]["labels"] = labels;
        self.put(&path, &pod);
    }

    /// The cluster's count of packets of one policy rule (`GET /api/v1/policycounters`; 0
    /// until reported).
    fn count(&self, policy: (&str, Option<&str>, &str), direction: &str, rule: Option<u64>, action: &str) -> u64 {
        let (kind, namespace, name) = policy;
        let all = self.get("/api/v1/policycounters");
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| {
                c["kind"] == kind
                    && c["namespace"].as_str() == namespace
                    && c["name"] == name
                    && c["direction"] == direction
                    && c["rule"].as_u64() == rule
                    && c["action"] == action
            })
            .map(|c| c["packets"].as_u64().unwrap())
            .sum()
    }

    /// Wait until the counters stop changing: every agent has reported what it counted.
    fn settle_counters(&self) {
        let mut last = self.get("/api/v1/policycounters");
        for _ in 0..10 {
            // Two report periods of the agents (2 s).
            std::thread::sleep(Duration::from_secs(5));
            let now = self.get("/api/v1/policycounters");
            if now == last {
                return;
            }
            last = now;
        }
        panic!("the policy counters never settled: {last}");
    }
}

/// The matrices, one block per port/protocol; `cell(k, from, to)`: reached, not, or not probed.
fn render(n: usize, cell: impl Fn(usize, usize, usize) -> Option<bool>) -> String {
    let mut out = String::new();
    for (k, (port, proto)) in PORTS.iter().enumerate() {
        out.push_str(&format!("{proto:?}/{port}\n"));
        for i in 0..n {
            for j in 0..n {
                out.push(match cell(k, i, j) {
                    None => '-',
                    Some(true) => 'X',
                    Some(false) => '.',
                });
                if j % 3 == 2 && j + 1 < n {
                    out.push(' ');
                }
            }
            out.push('\n');
        }
    }
    out
}

/// One probe from the network namespace `ns` (netexec's `/hostname` over TCP, `hostname`
/// over UDP, with the workload helpers' 2 s timeouts): the name of the pod that answered.
fn probe(ns: &str, ip: Ipv4Addr, port: u16, proto: Proto) -> Option<String> {
    let to = SocketAddr::from((ip, port));
    match proto {
        Tcp => http_get_in(ns, to, "/hostname"),
        Udp => udp_request(&udp_socket_in(ns), to, "hostname"),
    }
    .ok()
}

/// Whether the cluster DNS answers a query from the network namespace `ns`.
fn dns_answers(ns: &str) -> bool {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "dig", "@10.96.0.10", "+short", "+time=1", "+tries=1"])
        .arg("kube-dns.kube-system.svc.cluster.local")
        .output()
        .expect("dig (scripts/deps.sh installs it)");
    String::from_utf8_lossy(&out.stdout).trim() == "10.96.0.10"
}

const NETPOL: &str = "/apis/networking.k8s.io/v1/namespaces/x/networkpolicies";
const ANP: &str = "/apis/policy.networking.k8s.io/v1alpha1/adminnetworkpolicies";
const BANP: &str = "/apis/policy.networking.k8s.io/v1alpha1/baselineadminnetworkpolicies";

fn ns_is(name: &str) -> Value {
    json!({"matchLabels": {"kubernetes.io/metadata.name": name}})
}

fn pod_is(name: &str) -> Value {
    json!({"matchLabels": {"pod": name}})
}

fn policies_filter_pod_traffic(backend: &str) {
    if !privileged() {
        return;
    }
    let cl = Cluster::up(backend);
    cl.expect_open("no policy");
    cl.expect("no policy", Via::Services, |_, _, _, _| true);
    let xa = |_: &Pod, to: &Pod| to.is("x/a");

    // Default deny, each direction.
    cl.netpol("deny", json!({"podSelector": {}}));
    cl.expect("default deny ingress in x", Via::Pods, |_, to, _, _| to.ns != "x");
    cl.expect("default deny ingress in x", Via::Services, |_, to, _, _| to.ns != "x");
    cl.clear("default deny ingress", &["deny"]);
    cl.netpol("deny-egress", json!({"podSelector": {}, "policyTypes": ["Egress"]}));
    cl.expect("default deny egress in x", Via::Pods, |from, _, _, _| from.ns != "x");
    assert!(!dns_answers(&cl.pod("x/a").info.ns), "DNS answered through a default deny egress");
    // Egress allowed to one namespace.
    cl.netpol(
        "to-y",
        json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"namespaceSelector": ns_is("y")}]}]}),
    );
    cl.expect("egress from x to y only", Via::Pods, |from, to, _, _| from.ns != "x" || to.ns == "y");
    cl.clear("egress to y", &["deny-egress", "to-y"]);
    // Egress allowing DNS only.
    cl.netpol("deny-egress", json!({"podSelector": {}, "policyTypes": ["Egress"]}));
    cl.netpol(
        "dns",
        json!({"podSelector": {}, "policyTypes": ["Egress"],
            "egress": [{"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}),
    );
    wait_until("DNS answers x/a with egress to port 53 allowed", Duration::from_secs(10), || {
        dns_answers(&cl.pod("x/a").info.ns)
    });
    cl.expect("egress from x: DNS only", Via::Pods, |from, _, _, _| from.ns != "x");
    cl.clear("egress DNS only", &["deny-egress", "dns"]);

    // Ingress peers.
    let into_a = |peers: Value| json!({"podSelector": pod_is("a"), "ingress": [{"from": peers}]});
    cl.netpol("from-b", into_a(json!([{"podSelector": pod_is("b")}])));
    cl.expect("x/a from pod b of x", Via::Pods, |from, to, _, _| !xa(from, to) || from.is("x/b"));
    cl.expect("x/a from pod b of x", Via::Services, |from, to, _, _| !xa(from, to) || from.is("x/b"));
    cl.clear("pod selector", &["from-b"]);
    cl.netpol("from-y", into_a(json!([{"namespaceSelector": ns_is("y")}])));
    cl.expect("x/a from namespace y", Via::Pods, |from, to, _, _| !xa(from, to) || from.ns == "y");
    cl.clear("namespace selector", &["from-y"]);
    cl.netpol("and", into_a(json!([{"namespaceSelector": ns_is("y"), "podSelector": pod_is("b")}])));
    cl.expect("x/a from b of y (one peer: AND)", Via::Pods, |from, to, _, _| !xa(from, to) || from.is("y/b"));
    cl.clear("one peer", &["and"]);
    cl.netpol("or", into_a(json!([{"namespaceSelector": ns_is("y")}, {"podSelector": pod_is("b")}])));
    cl.expect("x/a from y or from b of x (two peers: OR)", Via::Pods, |from, to, _, _| {
        !xa(from, to) || from.ns == "y" || from.is("x/b")
    });
    cl.clear("two peers", &["or"]);
    let o = cl.pod("x/a").info.ip.octets();
    let cluster_cidr = format!("{}.{}.0.0/16", o[0], o[1]);
    let yb = cl.pod("y/b").info.ip;
    cl.netpol("block", into_a(json!([{"ipBlock": {"cidr": cluster_cidr, "except": [format!("{yb}/32")]}}])));
    cl.expect("x/a from the pods' /16 except y/b", Via::Pods, |from, to, _, _| !xa(from, to) || !from.is("y/b"));
    cl.clear("ipBlock", &["block"]);

    // Ports: a named port; endPort ranges.
    cl.netpol("named", json!({"podSelector": pod_is("a"), "ingress": [{"ports": [{"port": "serve-81-tcp"}]}]}));
    cl.expect("x/a on serve-81-tcp only", Via::Pods, |from, to, port, proto| {
        !xa(from, to) || (port, proto) == (81, Tcp)
    });
    cl.expect("x/a on serve-81-tcp only", Via::Services, |from, to, port, proto| {
        !xa(from, to) || (port, proto) == (81, Tcp)
    });
    cl.clear("named port", &["named"]);
    cl.netpol(
        "range",
        json!({"podSelector": pod_is("a"), "ingress": [{"ports": [
            {"protocol": "TCP", "port": 81, "endPort": 90}, {"protocol": "UDP", "port": 70, "endPort": 80}]}]}),
    );
    cl.expect("x/a on TCP 81-90 and UDP 70-80", Via::Pods, |from, to, port, proto| {
        !xa(from, to) || (port, proto) == (81, Tcp) || (port, proto) == (80, Udp)
    });
    cl.clear("endPort", &["range"]);

    // Two policies selecting x/a: the union of their rules.
    cl.netpol("from-ya", into_a(json!([{"namespaceSelector": ns_is("y"), "podSelector": pod_is("a")}])));
    cl.netpol(
        "from-zb-81",
        json!({"podSelector": pod_is("a"), "ingress": [{"from": [{"namespaceSelector": ns_is("z"), "podSelector": pod_is("b")}],
            "ports": [{"protocol": "TCP", "port": 81}]}]}),
    );
    cl.expect("x/a from y/a, and from z/b on TCP 81", Via::Pods, |from, to, port, proto| {
        !xa(from, to) || from.is("y/a") || (from.is("z/b") && (port, proto) == (81, Tcp))
    });
    cl.clear("union", &["from-ya", "from-zb-81"]);

    // matchExpressions, every operator, by updating one policy.
    let expr = |key: &str, op: &str, values: &[&str]| {
        let mut e = json!({"key": key, "operator": op});
        if !values.is_empty() {
            e["values"] = json!(values);
        }
        json!({"matchExpressions": [e]})
    };
    cl.netpol("expr", into_a(json!([{"namespaceSelector": {}, "podSelector": expr("pod", "In", &["b", "c"])}])));
    cl.expect("x/a from pods b and c of every namespace (In)", Via::Pods, |from, to, _, _| {
        !xa(from, to) || from.name != "a"
    });
    type Update = (Value, &'static str, fn(&Pod) -> bool);
    let updates: [Update; 3] = [
        (json!({"namespaceSelector": {}, "podSelector": expr("pod", "NotIn", &["b"])}), "NotIn", |p| p.name != "b"),
        (json!({"namespaceSelector": expr("team", "Exists", &[])}), "Exists", |p| p.ns == "y"),
        (json!({"namespaceSelector": expr("team", "DoesNotExist", &[])}), "DoesNotExist", |p| p.ns != "y"),
    ];
    for (peer, op, allowed) in updates {
        let path = format!("{NETPOL}/expr");
        let mut pol = cl.get(&path);
        pol["spec"]["ingress"][0]["from"] = json!([peer]);
        cl.put(&path, &pol);
        cl.expect(&format!("x/a through {op}, the policy updated"), Via::Pods, |from, to, _, _| {
            !xa(from, to) || allowed(from)
        });
    }
    cl.clear("matchExpressions", &["expr"]);

    // A pod relabelled into a policy's peer, then out of it.
    cl.netpol(
        "clients",
        into_a(json!([{"namespaceSelector": {}, "podSelector": {"matchLabels": {"role": "client"}}}])),
    );
    cl.expect("x/a from role=client: nobody", Via::Pods, |from, to, _, _| !xa(from, to));
    cl.relabel("y/c", json!({"pod": "c", "role": "client"}));
    cl.expect("x/a from role=client: y/c relabelled", Via::Pods, |from, to, _, _| !xa(from, to) || from.is("y/c"));
    cl.relabel("y/c", json!({"pod": "c"}));
    cl.expect("x/a from role=client: y/c's label gone", Via::Pods, |from, to, _, _| !xa(from, to));
    cl.clear("relabel", &["clients"]);

    // Admin policies, and the counters.
    cl.netpol("deny", json!({"podSelector": {}}));
    cl.expect("default deny ingress in x", Via::Pods, |_, to, _, _| to.ns != "x");
    // The matrix's probes into x were dropped by x/deny's isolation, and counted there.
    let deny = ("NetworkPolicy", Some("x"), "deny");
    wait_until("x/deny's isolation counts drops", Duration::from_secs(20), || {
        cl.count(deny, "Ingress", None, "Deny") > 0
    });
    cl.netpol("from-y", json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": ns_is("y")}]}]}));
    let x_from_y = |from: &Pod, to: &Pod, _, _| to.ns != "x" || from.ns == "y";
    cl.expect("into x from y", Via::Pods, x_from_y);

    // An established connection from y/b to x/c, then an admin Deny of y: it is cut.
    let yb = cl.pod("y/b");
    let xc = cl.pod("x/c");
    let target = (xc.info.ip, 80).into();
    let mut kept = Netns::open(&yb.info.ns)
        .unwrap()
        .run(move || TcpStream::connect_timeout(&target, Duration::from_secs(2)))
        .unwrap()
        .unwrap();
    kept.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let admin_deny_y = |name: &str, priority: u32, action: &str| {
        json!({"metadata": {"name": name}, "spec": {"priority": priority,
            "subject": {"namespaces": ns_is("x")},
            "ingress": [{"action": action, "from": [{"namespaces": ns_is("y")}]}]}})
    };
    cl.post(ANP, admin_deny_y("deny-y", 10, "Deny"));
    cl.expect("an admin Deny beats the NetworkPolicy's allow", Via::Pods, |_, to, _, _| to.ns != "x");
    // Denied datagrams from y/b to x/c count as drops of deny-y's rule 0, and of nothing
    // else. The other counters keep counting a few packets meanwhile: connections that a
    // change of policy cut earlier (a probe caught mid-way) go on retransmitting, backing off
    // for minutes, and each retransmission is a denied packet. So "nothing else" reads: the
    // others rose by less than the datagrams sent, while deny-y counted every one.
    const DATAGRAMS: u64 = 200;
    cl.settle_counters();
    let anp = ("AdminNetworkPolicy", None, "deny-y");
    let from_y = ("NetworkPolicy", Some("x"), "from-y");
    let counts = || {
        [
            cl.count(anp, "Ingress", Some(0), "Deny"),
            cl.count(deny, "Ingress", None, "Deny"),
            cl.count(from_y, "Ingress", None, "Deny"),
            cl.count(from_y, "Ingress", Some(0), "Allow"),
        ]
    };
    let before = counts();
    let to = SocketAddr::from((xc.info.ip, 80));
    let socket = udp_socket_in(&yb.info.ns);
    for _ in 0..DATAGRAMS {
        socket.send_to(b"hostname", to).unwrap();
    }
    wait_until("deny-y counts the denied datagrams", Duration::from_secs(20), || {
        cl.count(anp, "Ingress", Some(0), "Deny") >= before[0] + DATAGRAMS
    });
    cl.settle_counters();
    let after = counts();
    for i in 1..4 {
        assert!(after[i] - before[i] < DATAGRAMS, "another policy counted the datagrams: {before:?} {after:?}");
    }
    let (head, metrics) = https_request(cl.c.listen, cl.c.data_dir(), "GET", "/metrics", "");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let line = format!(
        "flatnet_policy_packets_total{{kind=\"AdminNetworkPolicy\",namespace=\"\",name=\"deny-y\",direction=\"Ingress\",rule=\"0\",action=\"Deny\"}} {}",
        after[0]
    );
    assert!(metrics.contains(&line), "{line} not in /metrics:\n{metrics}");
    let _ = kept.write_all(b"GET /hostname HTTP/1.0\r\n\r\n");
    let mut answer = String::new();
    let read = kept.read_to_string(&mut answer);
    assert!(read.is_err() || answer.is_empty(), "the denied connection still answered: {answer:?}");

    // Pass, at a higher priority (a lower number) than the Deny: the NetworkPolicies decide.
    cl.post(ANP, admin_deny_y("pass-y", 5, "Pass"));
    cl.expect("an admin Pass defers to the NetworkPolicies", Via::Pods, x_from_y);
    cl.delete(&format!("{ANP}/pass-y"));
    cl.expect("the Pass deleted: the Deny again", Via::Pods, |_, to, _, _| to.ns != "x");
    cl.delete(&format!("{ANP}/deny-y"));
    cl.expect("the admin policy deleted", Via::Pods, x_from_y);
    cl.clear("admin policies", &["from-y", "deny"]);

    // The baseline: its Deny of z into x holds where no NetworkPolicy isolates x …
    cl.post(
        BANP,
        json!({"metadata": {"name": "default"}, "spec": {"subject": {"namespaces": ns_is("x")},
            "ingress": [{"name": "no-z", "action": "Deny", "from": [{"namespaces": ns_is("z")}]}]}}),
    );
    cl.expect("the baseline denies z into x", Via::Pods, |from, to, _, _| to.ns != "x" || from.ns != "z");
    // … and a NetworkPolicy that selects the pods decides instead.
    cl.netpol("from-z", json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": ns_is("z")}]}]}));
    cl.expect("a NetworkPolicy overrides the baseline", Via::Pods, |from, to, _, _| to.ns != "x" || from.ns == "z");
    cl.delete(&format!("{BANP}/default"));
    cl.clear("baseline", &["from-z"]);

    // A NodePort (Local: the client's address is kept) to x/a on node-1, from the internet
    // namespace (203.0.113.1): judged by ipBlock against the client's address.
    let svc = http_post_json(
        cl.c.listen,
        cl.c.data_dir(),
        "/api/v1/namespaces/x/services",
        &json!({"metadata": {"name": "np-a"}, "spec": {"type": "NodePort", "externalTrafficPolicy": "Local",
            "selector": {"pod": "a"}, "ports": [{"port": 80, "targetPort": 80}]}}),
    );
    let node_port = svc["spec"]["ports"][0]["nodePort"].as_u64().unwrap() as u16;
    let to: SocketAddr = (Ipv4Addr::new(192, 168, 254, 11), node_port).into();
    let internet = cl.c.internet_netns();
    let reaches = || http_get_in(&internet, to, "/hostname").is_ok_and(|h| h == "a");
    wait_until("the NodePort answers", Duration::from_secs(20), reaches);
    let block = |except: Value| json!({"podSelector": pod_is("a"), "ingress": [{"from": [{"ipBlock": {"cidr": "203.0.113.0/24", "except": except}}]}]});
    cl.netpol("outside", block(json!(["203.0.113.1/32"])));
    wait_until("the excepted client is denied", Duration::from_secs(5), || !reaches());
    cl.delete(&format!("{NETPOL}/outside"));
    cl.netpol("outside", block(json!([])));
    wait_until("the client in the block is allowed", Duration::from_secs(5), reaches);
}

#[test]
fn host_gw_policies_filter_pod_traffic() {
    policies_filter_pod_traffic("host-gw");
}

#[test]
fn vxlan_policies_filter_pod_traffic() {
    policies_filter_pod_traffic("vxlan");
}
