//! The cluster DNS on `flatnet up` clusters of three nodes: pods resolve services by short
//! name, by `NAME.NS` and by FQDN through their own resolv.conf (getent, curl), headless
//! services answer their ready pods, SRV and PTR records (dig), a deleted service is
//! NXDOMAIN, outside names go through the node's upstream resolver (dnsmasq in the internet
//! namespace), a large answer falls back to TCP, and `dnsPolicy: None` is honoured.
//! Commands run inside a pod's own namespaces (network, mount, UTS) through `nsenter`.

mod common;

use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::cluster::*;
use common::workload::*;
use serde_json::json;

const INTERNET_HOST: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const CLUSTER_DNS: &str = "10.96.0.10";

fn tools() -> bool {
    for tool in ["dig", "nsenter", "getent", "curl", "dnsmasq"] {
        if !Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success()) {
            common::skip(&format!("{tool} is missing (scripts/deps.sh installs it): DNS tests SKIPPED"));
            return false;
        }
    }
    true
}

/// A process of the pod (its namespaces are the containers').
fn pod_pid(p: &PodInfo) -> i32 {
    let out = Command::new("ip").args(["netns", "pids", &p.ns]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // The shim and the container share the namespaces; the container is the newer one.
    text.split_whitespace().filter_map(|s| s.parse().ok()).max().unwrap_or_else(|| panic!("no process in {}", p.ns))
}

/// Run `cmd` in the pod's network, mount and UTS namespaces; its stdout and success.
fn in_pod(p: &PodInfo, cmd: &[&str]) -> (String, bool) {
    let out = Command::new("nsenter")
        .args(["-t", &pod_pid(p).to_string(), "-n", "-m", "-u", "--"])
        .args(cmd)
        .output()
        .unwrap();
    (String::from_utf8_lossy(&out.stdout).trim().to_string(), out.status.success())
}

fn getent(p: &PodInfo, name: &str) -> Option<Ipv4Addr> {
    let (out, ok) = in_pod(p, &["getent", "hosts", name]);
    ok.then(|| out.split_whitespace().next()?.parse().ok()).flatten()
}

fn dig(p: &PodInfo, args: &[&str]) -> String {
    let mut cmd = vec!["dig", "+time=2", "+tries=1"];
    cmd.extend_from_slice(args);
    in_pod(p, &cmd).0
}

fn dig_short(p: &PodInfo, args: &[&str]) -> Vec<String> {
    let mut cmd = vec!["+short"];
    cmd.extend_from_slice(args);
    let mut lines: Vec<String> = dig(p, &cmd).lines().map(String::from).collect();
    lines.sort();
    lines
}

fn create(c: &TestCluster, kind: &str, body: serde_json::Value) -> serde_json::Value {
    http_post_json(c.listen, c.data_dir(), &format!("/api/v1/namespaces/default/{kind}"), &body)
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    wait_until(what, Duration::from_secs(20), &mut check);
}

/// Three nodes with a netexec pod `web-i` on node i, the service `web` (80 → 8080, port
/// `http`) and the headless service `db` over the same pods.
struct Lab {
    c: TestCluster,
    pods: Vec<PodInfo>,
    web: Ipv4Addr,
}

fn lab(env: Vec<(String, String)>) -> Lab {
    let mut c = TestCluster::new();
    c.env = env;
    let up = c.up_with(3, "host-gw");
    assert_eq!(up.code, Some(0), "{up:?}");
    for i in 1..=3 {
        create_netexec(&c, &format!("web-{i}"), Some(&format!("node-{i}")), json!({"app": "web"}));
    }
    let pods: Vec<PodInfo> = (1..=3).map(|i| ready_pod(&c, &format!("web-{i}"))).collect();
    let s = create(
        &c,
        "services",
        json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}),
    );
    let web = s["spec"]["clusterIP"].as_str().unwrap().parse().unwrap();
    create(
        &c,
        "services",
        json!({"metadata": {"name": "db"}, "spec": {"clusterIP": "None", "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 8080}]}}),
    );
    Lab { c, pods, web }
}

#[test]
fn pods_on_every_node_resolve_services_by_name() {
    if !privileged() || !tools() {
        return;
    }
    let Lab { c, pods, web } = lab(vec![("FLATNET_DNS_UPSTREAM".into(), "none".into())]);
    let kube_dns = http_get_json(c.listen, c.data_dir(), "/api/v1/namespaces/kube-system/services/kube-dns");
    assert_eq!(kube_dns["spec"]["clusterIP"], CLUSTER_DNS);

    for p in &pods {
        // The pod's own files: resolv.conf, hosts, hostname.
        let (resolv, _) = in_pod(p, &["cat", "/etc/resolv.conf"]);
        assert_eq!(
            resolv,
            "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5"
        );
        assert_eq!(in_pod(p, &["hostname"]).0, p.name);
        assert!(in_pod(p, &["cat", "/etc/hosts"]).0.ends_with(&format!("{}\t{}", p.ip, p.name)));

        wait_for(&format!("web resolves from {}", p.name), || getent(p, "web") == Some(web));
        assert_eq!(getent(p, "web.default"), Some(web));
        assert_eq!(getent(p, "web.default.svc.cluster.local"), Some(web));
        // The name, then the service's endpoints and rules (they may lag the name).
        wait_for(&format!("curl http://web/ from {}", p.name), || {
            in_pod(p, &["curl", "-s", "--max-time", "2", "http://web/hostname"]).0.starts_with("web-")
        });
    }
    // The node's own file is untouched.
    assert!(!std::fs::read_to_string("/etc/resolv.conf").unwrap().contains(CLUSTER_DNS));

    let p = &pods[0];
    // The headless service: each ready pod.
    let mut ips: Vec<String> = pods.iter().map(|p| p.ip.to_string()).collect();
    ips.sort();
    wait_for("db answers 3 pods", || dig_short(p, &["db.default.svc.cluster.local"]) == ips);
    // SRV of a named port, for the service and for each pod of the headless one.
    assert_eq!(
        dig_short(p, &["SRV", "_http._tcp.web.default.svc.cluster.local"]),
        vec!["0 100 80 web.default.svc.cluster.local."]
    );
    assert_eq!(dig_short(p, &["SRV", "_http._tcp.db.default.svc.cluster.local"]).len(), 3);
    // PTR of the cluster IP and of a pod.
    assert_eq!(dig_short(p, &["-x", &web.to_string()]), vec!["web.default.svc.cluster.local."]);
    let dashed = pods[1].ip.to_string().replace('.', "-");
    assert_eq!(dig_short(p, &["-x", &pods[1].ip.to_string()]), vec![format!("{dashed}.default.pod.cluster.local.")]);
    assert_eq!(dig_short(p, &[&format!("{dashed}.default.pod.cluster.local")]), vec![pods[1].ip.to_string()]);
    assert_eq!(dig_short(p, &["TXT", "dns-version.cluster.local"]), vec!["\"1.1.0\""]);
    // NODATA and NXDOMAIN; with no upstream, an outside name fails at once.
    assert!(dig(p, &["AAAA", "web.default.svc.cluster.local"]).contains("status: NOERROR"));
    assert!(dig(p, &["nope.default.svc.cluster.local"]).contains("status: NXDOMAIN"));
    let started = Instant::now();
    assert!(dig(p, &["example.test"]).contains("status: SERVFAIL"));
    assert!(started.elapsed() < Duration::from_secs(1), "SERVFAIL took {:?}", started.elapsed());

    // A deleted service is NXDOMAIN, from every node, as soon as its agent saw it.
    http_delete(c.listen, c.data_dir(), "/api/v1/namespaces/default/services/web");
    for p in &pods {
        wait_for(&format!("web gone for {}", p.name), || {
            dig(p, &["web.default.svc.cluster.local"]).contains("status: NXDOMAIN")
        });
    }
}

/// dnsmasq in the internet namespace, answering `example.test`.
struct Dnsmasq(Child);

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn dnsmasq(c: &TestCluster) -> Dnsmasq {
    let child = Command::new("ip")
        .args(["netns", "exec", &c.internet_netns(), "dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts"])
        .args(["--listen-address", &INTERNET_HOST.to_string(), "--bind-interfaces", "--port", "53"])
        .args(["--address=/example.test/203.0.113.80", "--pid-file="])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Dnsmasq(child)
}

#[test]
fn outside_names_go_to_the_upstream_resolver() {
    if !privileged() || !tools() {
        return;
    }
    let Lab { c, pods, .. } = lab(vec![("FLATNET_DNS_UPSTREAM".into(), INTERNET_HOST.to_string())]);
    let _upstream = dnsmasq(&c);
    create(
        &c,
        "services",
        json!({"metadata": {"name": "ext"}, "spec": {"type": "ExternalName", "externalName": "example.test", "ports": []}}),
    );
    for p in &pods {
        wait_for(&format!("example.test from {}", p.name), || {
            getent(p, "example.test") == Some("203.0.113.80".parse().unwrap())
        });
    }
    let p = &pods[2];
    wait_for("the ExternalName", || {
        dig_short(p, &["ext.default.svc.cluster.local"]) == vec!["203.0.113.80", "example.test."]
    });
    // Over TCP too.
    assert_eq!(dig_short(p, &["+tcp", "example.test"]), vec!["203.0.113.80"]);
}

#[test]
fn a_large_answer_falls_back_to_tcp_and_dns_policy_none_is_honoured() {
    if !privileged() || !tools() {
        return;
    }
    const PODS: usize = 100;
    let c = TestCluster::new();
    let up = c.up_with(3, "host-gw");
    assert_eq!(up.code, Some(0), "{up:?}");
    create(
        &c,
        "services",
        json!({"metadata": {"name": "many"}, "spec": {"clusterIP": "None", "selector": {"app": "many"},
            "ports": [{"port": 9}]}}),
    );
    for i in 0..PODS {
        create(
            &c,
            "pods",
            json!({"metadata": {"name": format!("many-{i}"), "labels": {"app": "many"}},
                "spec": {"containers": [{"name": "sleep", "command": ["sleep", "3600"]}]}}),
        );
    }
    create_netexec(&c, "client", Some("node-1"), json!({}));
    let client = ready_pod(&c, "client");
    create(
        &c,
        "pods",
        json!({"metadata": {"name": "own-dns"}, "spec": {"nodeName": "node-2", "dnsPolicy": "None",
            "dnsConfig": {"nameservers": ["192.0.2.53"], "searches": ["example.test"], "options": [{"name": "ndots", "value": "1"}]},
            "containers": [{"name": "sleep", "command": ["sleep", "3600"]}]}}),
    );
    let own = ready_pod(&c, "own-dns");
    assert_eq!(
        in_pod(&own, &["cat", "/etc/resolv.conf"]).0,
        "nameserver 192.0.2.53\nsearch example.test\noptions ndots:1"
    );

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        // dig retries over TCP when the UDP answer is truncated; +ignore shows the truncation.
        let udp = dig(&client, &["+ignore", "+bufsize=512", "many.default.svc.cluster.local"]);
        let tcp = dig_short(&client, &["many.default.svc.cluster.local"]);
        if tcp.len() == PODS {
            assert!(udp.contains(" tc "), "the UDP answer is not truncated: {udp}");
            break;
        }
        assert!(Instant::now() < deadline, "{} of {PODS} addresses answered", tcp.len());
        std::thread::sleep(Duration::from_millis(500));
    }
    // getent (glibc) gets them all too.
    let (out, ok) = in_pod(&client, &["getent", "ahostsv4", "many.default.svc.cluster.local"]);
    assert!(ok);
    let distinct: std::collections::BTreeSet<&str> = out.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(distinct.len(), PODS);
}

/// From a service's create to its name answering from a pod on every node (the query sent
/// every millisecond from each pod's namespace): median and p99 over 50 services. A
/// measurement for BENCHMARKS.md, not a check: `cargo test -p flatnet-tests --test dns
/// create_to_resolve -- --ignored --nocapture` (release binaries give the real figures).
#[test]
#[ignore]
fn create_to_resolve_latency() {
    if !privileged() || !tools() {
        return;
    }
    let Lab { c, pods, .. } = lab(vec![("FLATNET_DNS_UPSTREAM".into(), "none".into())]);
    let dns: std::net::SocketAddr = (CLUSTER_DNS.parse::<Ipv4Addr>().unwrap(), 53).into();
    let sockets: Vec<_> = pods
        .iter()
        .map(|p| {
            let s = udp_socket_in(&p.ns);
            s.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
            s
        })
        .collect();
    let mut all = Vec::new();
    for i in 0..50 {
        let name = format!("lat-{i}");
        let query = nodeagent::dns_wire::encode_query(i, &format!("{name}.default.svc.cluster.local"), 1);
        let created = Instant::now();
        create(&c, "services", json!({"metadata": {"name": name}, "spec": {"ports": [{"port": 80}]}}));
        std::thread::scope(|scope| {
            let handles: Vec<_> = sockets
                .iter()
                .map(|s| {
                    let query = &query;
                    scope.spawn(move || {
                        let mut buf = [0u8; 512];
                        loop {
                            s.send_to(query, dns).unwrap();
                            if let Ok(n) = s.recv(&mut buf) {
                                // NOERROR with one answer.
                                if n > 12 && buf[3] & 0xF == 0 && buf[7] == 1 {
                                    return created.elapsed();
                                }
                            }
                            assert!(created.elapsed() < Duration::from_secs(10), "never resolved");
                        }
                    })
                })
                .collect();
            for h in handles {
                all.push(h.join().unwrap());
            }
        });
    }
    all.sort();
    let at = |p: f64| all[((all.len() - 1) as f64 * p).round() as usize];
    println!(
        "create -> resolves on each of 3 nodes, {} samples: median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        all.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        all.last().unwrap().as_secs_f64() * 1e3
    );
}
