//! Network policies on `flatnet up` clusters of three nodes, both backends, the way the
//! Kubernetes e2e suite probes them: namespaces x and y, netexec pods a, b, c in each (a on
//! node-1, b on node-2, c on node-3, so peers are same-node and cross-node), a full TCP
//! reachability matrix per case, probes to pod IPs. Cases: default deny ingress in x,
//! allow from a namespace, an AdminNetworkPolicy Deny beating that allow, the policy
//! deleted, an established connection cut by a new Deny, and a NodePort reached from the
//! internet namespace judged by `ipBlock` against the client's address. The counters: the
//! denied probes raise the denied count of the policy that denied them, and only its.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use common::cluster::*;
use common::workload::*;
use netcore::netns::Netns;
use serde_json::json;

const NAMESPACES: [&str; 2] = ["x", "y"];
const PODS: [&str; 3] = ["a", "b", "c"];

struct Cluster {
    c: TestCluster,
    /// x/a, x/b, x/c, y/a, y/b, y/c.
    pods: Vec<(String, PodInfo)>,
}

impl Cluster {
    fn up(backend: &str) -> Cluster {
        let c = TestCluster::new();
        let up = c.up_with(3, backend);
        assert_eq!(up.code, Some(0), "{up:?}");
        for ns in NAMESPACES {
            http_post_json(c.listen, c.data_dir(), "/api/v1/namespaces", &json!({"metadata": {"name": ns}}));
            for (i, pod) in PODS.iter().enumerate() {
                create_netexec_in(&c, ns, pod, Some(&format!("node-{}", i + 1)), json!({"pod": pod}));
            }
        }
        let mut pods = Vec::new();
        for ns in NAMESPACES {
            for pod in PODS {
                pods.push((format!("{ns}/{pod}"), ready_pod_in(&c, ns, pod)));
            }
        }
        Cluster { c, pods }
    }

    /// The TCP reachability matrix: a line per source, `X` reached, `.` not.
    fn matrix(&self) -> String {
        let mut out = String::new();
        for (_, from) in &self.pods {
            for (j, (_, to)) in self.pods.iter().enumerate() {
                let ok = http_hostname(&from.ns, to.ip).is_ok_and(|h| h == to.name);
                out.push(if ok { 'X' } else { '.' });
                if j == 2 {
                    out.push(' ');
                }
            }
            out.push('\n');
        }
        out
    }

    /// Wait (a few seconds at most) until the matrix is `expected`.
    fn expect(&self, what: &str, expected: &[&str; 6]) {
        let expected: String = expected.iter().map(|l| format!("{l}\n")).collect();
        let mut last = String::new();
        for _ in 0..20 {
            last = self.matrix();
            if last == expected {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("{what}: the reachability matrix is\n{last}expected\n{expected}");
    }

    fn post(&self, path: &str, body: serde_json::Value) {
        let reply = http_post_json(self.c.listen, self.c.data_dir(), path, &body);
        assert!(reply["metadata"]["name"].is_string(), "{path}: {reply}");
    }

    /// The cluster's count of packets of one policy rule (`GET /api/v1/policycounters`; 0
    /// until reported).
    fn count(&self, policy: (&str, Option<&str>, &str), direction: &str, rule: Option<u64>, action: &str) -> u64 {
        let (kind, namespace, name) = policy;
        let all = http_get_json(self.c.listen, self.c.data_dir(), "/api/v1/policycounters");
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
        let mut last = http_get_json(self.c.listen, self.c.data_dir(), "/api/v1/policycounters");
        for _ in 0..10 {
            // Two report periods of the agents (2 s).
            std::thread::sleep(Duration::from_secs(5));
            let now = http_get_json(self.c.listen, self.c.data_dir(), "/api/v1/policycounters");
            if now == last {
                return;
            }
            last = now;
        }
        panic!("the policy counters never settled: {last}");
    }

    fn delete(&self, path: &str) {
        let reply = http_delete(self.c.listen, self.c.data_dir(), path);
        assert!(reply["metadata"]["name"].is_string(), "{path}: {reply}");
    }
}

const NETPOL: &str = "/apis/networking.k8s.io/v1/namespaces/x/networkpolicies";
const ANP: &str = "/apis/policy.networking.k8s.io/v1alpha1/adminnetworkpolicies";
const OPEN: [&str; 6] = ["XXX XXX"; 6];
/// Into x: nothing but from the pod itself.
const X_DENIED: [&str; 6] = ["X.. XXX", ".X. XXX", "..X XXX", "... XXX", "... XXX", "... XXX"];
/// Into x: from y and from each pod itself.
const X_FROM_Y: [&str; 6] = ["X.. XXX", ".X. XXX", "..X XXX", "XXX XXX", "XXX XXX", "XXX XXX"];

fn policies_filter_pod_traffic(backend: &str) {
    if !privileged() {
        return;
    }
    let cl = Cluster::up(backend);
    cl.expect("no policy", &OPEN);

    cl.post(NETPOL, json!({"metadata": {"name": "deny"}, "spec": {"podSelector": {}}}));
    cl.expect("default deny ingress in x", &X_DENIED);
    // The matrix's probes into x were dropped by x/deny's isolation, and counted there.
    let deny = ("NetworkPolicy", Some("x"), "deny");
    wait_until("x/deny's isolation counts drops", Duration::from_secs(20), || {
        cl.count(deny, "Ingress", None, "Deny") > 0
    });

    cl.post(
        NETPOL,
        json!({"metadata": {"name": "from-y"}, "spec": {"podSelector": {},
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "y"}}}]}]}}),
    );
    cl.expect("allow from namespace y", &X_FROM_Y);

    // An established connection from y/b to x/c, then an admin Deny of y: it is cut.
    let (_, yb) = &cl.pods[4];
    let (_, xc) = &cl.pods[2];
    let target = (xc.ip, 8080).into();
    let mut kept = Netns::open(&yb.ns)
        .unwrap()
        .run(move || TcpStream::connect_timeout(&target, Duration::from_secs(2)))
        .unwrap()
        .unwrap();
    kept.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    cl.post(
        ANP,
        json!({"metadata": {"name": "deny-y"}, "spec": {"priority": 10,
            "subject": {"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "x"}}},
            "ingress": [{"action": "Deny", "from": [{"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "y"}}}]}]}}),
    );
    cl.expect("an admin Deny beats the NetworkPolicy's allow", &X_DENIED);
    // Denied probes from y/b to x/c count as drops of deny-y's rule 0, and of nothing else
    // (the kept connection is idle meanwhile: it sends nothing).
    cl.settle_counters();
    let anp = ("AdminNetworkPolicy", None, "deny-y");
    let from_y = ("NetworkPolicy", Some("x"), "from-y");
    let before = (
        cl.count(anp, "Ingress", Some(0), "Deny"),
        cl.count(deny, "Ingress", None, "Deny"),
        cl.count(from_y, "Ingress", None, "Deny"),
        cl.count(from_y, "Ingress", Some(0), "Allow"),
    );
    for _ in 0..3 {
        assert!(http_hostname(&yb.ns, xc.ip).is_err(), "y/b reached x/c");
    }
    wait_until("deny-y counts the 3 denied probes", Duration::from_secs(20), || {
        cl.count(anp, "Ingress", Some(0), "Deny") >= before.0 + 3
    });
    cl.settle_counters();
    let after = (
        cl.count(anp, "Ingress", Some(0), "Deny"),
        cl.count(deny, "Ingress", None, "Deny"),
        cl.count(from_y, "Ingress", None, "Deny"),
        cl.count(from_y, "Ingress", Some(0), "Allow"),
    );
    assert_eq!(
        (after.1, after.2, after.3),
        (before.1, before.2, before.3),
        "another policy counted: {before:?} {after:?}"
    );
    let (head, metrics) = https_request(cl.c.listen, cl.c.data_dir(), "GET", "/metrics", "");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let line = format!(
        "flatnet_policy_packets_total{{kind=\"AdminNetworkPolicy\",namespace=\"\",name=\"deny-y\",direction=\"Ingress\",rule=\"0\",action=\"Deny\"}} {}",
        after.0
    );
    assert!(metrics.contains(&line), "{line} not in /metrics:\n{metrics}");
    let _ = kept.write_all(b"GET /hostname HTTP/1.0\r\n\r\n");
    let mut answer = String::new();
    let read = kept.read_to_string(&mut answer);
    assert!(read.is_err() || answer.is_empty(), "the denied connection still answered: {answer:?}");

    cl.delete(&format!("{ANP}/deny-y"));
    cl.expect("the admin policy deleted", &X_FROM_Y);
    cl.delete(&format!("{NETPOL}/from-y"));
    cl.delete(&format!("{NETPOL}/deny"));
    cl.expect("every policy deleted", &OPEN);

    // A NodePort (Local: the client's address is kept) to x/a on node-1, from the internet
    // namespace (203.0.113.1): judged by ipBlock against the client's address.
    let svc = http_post_json(
        cl.c.listen,
        cl.c.data_dir(),
        "/api/v1/namespaces/x/services",
        &json!({"metadata": {"name": "np-a"}, "spec": {"type": "NodePort", "externalTrafficPolicy": "Local",
            "selector": {"pod": "a"}, "ports": [{"port": 80, "targetPort": 8080}]}}),
    );
    let node_port = svc["spec"]["ports"][0]["nodePort"].as_u64().unwrap() as u16;
    let to: SocketAddr = (Ipv4Addr::new(192, 168, 254, 11), node_port).into();
    let internet = cl.c.internet_netns();
    let reaches = || http_get_in(&internet, to, "/hostname").is_ok_and(|h| h == "a");
    wait_until("the NodePort answers", Duration::from_secs(20), reaches);
    let block = |except: serde_json::Value| {
        json!({"metadata": {"name": "outside"}, "spec": {"podSelector": {"matchLabels": {"pod": "a"}},
            "ingress": [{"from": [{"ipBlock": {"cidr": "203.0.113.0/24", "except": except}}]}]}})
    };
    cl.post(NETPOL, block(json!(["203.0.113.1/32"])));
    wait_until("the excepted client is denied", Duration::from_secs(5), || !reaches());
    cl.delete(&format!("{NETPOL}/outside"));
    cl.post(NETPOL, block(json!([])));
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
