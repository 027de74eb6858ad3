//! Services on `flatnet up` clusters of three nodes, with real agents and real packets:
//! cluster IPs from every node to endpoints on every node (TCP and UDP), the spread over
//! three endpoints, session affinity, hairpin, the reject at scale to zero, stale UDP
//! conntrack, NodePorts from the internet namespace with both traffic policies, egress
//! masquerade, and an agent restart under a request loop. One behaviour per test, each on
//! a cluster of its own.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::cluster::*;
use common::workload::*;
use serde_json::json;

const INTERNET_HOST: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);

fn node_ip(i: u32) -> Ipv4Addr {
    Ipv4Addr::new(192, 168, 254, 10 + i as u8)
}

/// Create a service; answers its cluster IP and its ports' node ports.
fn create_service(c: &TestCluster, body: serde_json::Value) -> (Ipv4Addr, Vec<u16>) {
    let s = http_post_json(c.listen, c.data_dir(), "/api/v1/namespaces/default/services", &body);
    let ip = s["spec"]["clusterIP"].as_str().unwrap().parse().unwrap();
    let node_ports = s["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["nodePort"].as_u64())
        .map(|p| p as u16)
        .collect();
    (ip, node_ports)
}

fn ready_addresses(c: &TestCluster, service: &str) -> usize {
    let e = http_get_json(c.listen, c.data_dir(), &format!("/api/v1/namespaces/default/endpoints/{service}"));
    e["subsets"].as_array().into_iter().flatten().map(|s| s["addresses"].as_array().map_or(0, |a| a.len())).sum()
}

fn wait_endpoints(c: &TestCluster, service: &str, n: usize) {
    wait_until(&format!("{n} ready endpoints of {service}"), Duration::from_secs(30), || {
        ready_addresses(c, service) == n
    });
}

/// Poll until `GET path` through `to` from `ns` answers (the agent programmed its rules).
fn wait_http(ns: &str, to: SocketAddr, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let last = match http_get_in(ns, to, path) {
            Ok(body) if !body.is_empty() => return body,
            other => other,
        };
        assert!(Instant::now() < deadline, "{to}{path} from {ns} never answered: {last:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn up(c: &TestCluster, backend: &str) {
    let up = c.up_with(3, backend);
    assert_eq!(up.code, Some(0), "{up:?}");
}

/// A three-node cluster with a netexec pod `{app}-{i}` (labelled `app: {app}`) on each
/// node i, Ready. The cluster goes down when it is dropped.
struct Lab {
    c: TestCluster,
    pods: Vec<PodInfo>,
}

fn lab(backend: &str, app: &str) -> Lab {
    let c = TestCluster::new();
    up(&c, backend);
    for i in 1..=3 {
        create_netexec(&c, &format!("{app}-{i}"), Some(&format!("node-{i}")), json!({"app": app}));
    }
    let pods = (1..=3).map(|i| ready_pod(&c, &format!("{app}-{i}"))).collect();
    Lab { c, pods }
}

/// A service of one port, 80 to the pods' 8080, with `spec` merged into its spec.
fn service_80(c: &TestCluster, name: &str, spec: serde_json::Value) -> (Ipv4Addr, Vec<u16>) {
    let mut body = json!({"metadata": {"name": name}, "spec": {"ports": [{"port": 80, "targetPort": 8080}]}});
    for (k, v) in spec.as_object().unwrap() {
        body["spec"][k] = v.clone();
    }
    create_service(c, body)
}

#[test]
fn tcp_and_udp_through_a_cluster_ip_reach_endpoints_on_every_node() {
    if !privileged() {
        return;
    }
    let Lab { c, pods } = lab("host-gw", "web");
    let (web, _) = create_service(
        &c,
        json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [
            {"name": "http", "port": 80, "targetPort": "http"},
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "udp"}]}}),
    );
    wait_endpoints(&c, "web", 3);

    // From a pod on every node, 100 requests each: every endpoint, on every node, gets a
    // fair share of the 300 (a third is 100; 60..140 is more than four deviations wide).
    let mut total: BTreeMap<String, usize> = BTreeMap::new();
    for p in &pods {
        wait_http(&p.ns, (web, 80).into(), "/hostname");
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for _ in 0..100 {
            let host = http_get_in(&p.ns, (web, 80).into(), "/hostname")
                .unwrap_or_else(|e| panic!("{} -> {web}:80: {e}", p.name));
            *seen.entry(host.clone()).or_default() += 1;
            *total.entry(host).or_default() += 1;
        }
        assert_eq!(seen.len(), 3, "{} reached only {seen:?}", p.name);
    }
    assert_eq!(total.keys().cloned().collect::<Vec<_>>(), vec!["web-1", "web-2", "web-3"]);
    for (host, n) in &total {
        assert!((60..=140).contains(n), "unfair spread over 300 requests: {total:?} ({host})");
    }

    // UDP through the cluster IP's second port (a named target port), from every node.
    for p in &pods {
        let mut hosts = std::collections::BTreeSet::new();
        for _ in 0..20 {
            let s = udp_socket_in(&p.ns);
            hosts.insert(udp_request(&s, (web, 53).into(), "hostname").unwrap());
        }
        assert!(hosts.len() >= 2 && hosts.iter().all(|h| h.starts_with("web-")), "{}: UDP reached {hosts:?}", p.name);
    }

    // The node itself (its own connections pass the output hook).
    assert!(wait_http(&c.node_netns(3), (web, 80).into(), "/hostname").starts_with("web-"));
}

#[test]
fn session_affinity_keeps_a_client_on_its_endpoint() {
    if !privileged() {
        return;
    }
    let Lab { c, pods } = lab("host-gw", "web");
    let (sticky, _) = service_80(
        &c,
        "sticky",
        json!({"selector": {"app": "web"}, "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 300}}}),
    );
    wait_endpoints(&c, "sticky", 3);
    let first = wait_http(&pods[1].ns, (sticky, 80).into(), "/hostname");
    for _ in 0..20 {
        assert_eq!(
            http_get_in(&pods[1].ns, (sticky, 80).into(), "/hostname").unwrap(),
            first,
            "the sticky client moved"
        );
    }
}

#[test]
fn a_pod_reaching_its_own_service_lands_on_itself_masqueraded() {
    if !privileged() {
        return;
    }
    let c = TestCluster::new();
    up(&c, "host-gw");
    create_netexec(&c, "web-1", Some("node-1"), json!({"app": "web"}));
    let (me, _) = service_80(&c, "me", json!({"selector": {"name": "web-1"}}));
    let pod = ready_pod(&c, "web-1");
    wait_endpoints(&c, "me", 1);
    // Hairpin: web-1 reaches its own service, lands on itself, and sees its node's gateway.
    let lease = http_get_json(c.listen, c.data_dir(), "/api/v1/nodeleases/node-1");
    let gateway = lease["spec"]["gateway"].as_str().unwrap().to_string();
    assert_eq!(wait_http(&pod.ns, (me, 80).into(), "/hostname"), "web-1");
    let seen = http_get_in(&pod.ns, (me, 80).into(), "/clientip").unwrap();
    assert_eq!(seen.split(':').next().unwrap(), gateway, "hairpin traffic must be masqueraded");
}

#[test]
fn tcp_to_a_service_scaled_to_zero_is_refused_at_once() {
    if !privileged() {
        return;
    }
    let Lab { c, pods } = lab("host-gw", "client");
    create_netexec(&c, "solo", Some("node-2"), json!({"app": "solo"}));
    let (solo, _) = service_80(&c, "solo", json!({"selector": {"app": "solo"}}));
    ready_pod(&c, "solo");
    wait_endpoints(&c, "solo", 1);
    wait_http(&pods[0].ns, (solo, 80).into(), "/hostname");
    http_delete(c.listen, c.data_dir(), "/api/v1/namespaces/default/pods/solo");
    // Every node programs the empty service on its own watch: wait for each client's node
    // (node-3 may see the endpoints change after node-1 does; until then its rules still lead
    // to the pod, which can still answer while node-2 tears it down).
    for pod in &pods {
        wait_until(
            "connections to the empty service refused",
            Duration::from_secs(20),
            || matches!(http_get_in(&pod.ns, (solo, 80).into(), "/hostname"), Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused),
        );
    }
    // Refused, not left hanging: a fresh connection from another node fails at once.
    let started = Instant::now();
    let err = http_get_in(&pods[2].ns, (solo, 80).into(), "/hostname").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    assert!(started.elapsed() < Duration::from_secs(1), "the reject took {:?}", started.elapsed());
}

/// A VXLAN cluster with a client pod on node-1 and a UDP service `dns` (53 to 8081) whose
/// one endpoint `u-1` is on node-2: the cluster, the client, and the service's address,
/// already answering the client.
fn udp_lab() -> (TestCluster, PodInfo, SocketAddr) {
    let c = TestCluster::new();
    up(&c, "vxlan");
    create_netexec(&c, "client", Some("node-1"), json!({"app": "client"}));
    create_netexec(&c, "u-1", Some("node-2"), json!({"app": "u"}));
    let (dns, _) = create_service(
        &c,
        json!({"metadata": {"name": "dns"}, "spec": {"selector": {"app": "u"}, "ports": [{"port": 53, "protocol": "UDP", "targetPort": 8081}]}}),
    );
    let client = ready_pod(&c, "client");
    ready_pod(&c, "u-1");
    wait_endpoints(&c, "dns", 1);
    let to: SocketAddr = (dns, 53).into();
    let socket = udp_socket_in(&client.ns);
    wait_until("UDP through the cluster IP", Duration::from_secs(20), || udp_request(&socket, to, "hostname").is_ok());
    (c, client, to)
}

#[test]
fn a_udp_flow_stays_on_its_endpoint_and_moves_when_the_endpoint_goes() {
    if !privileged() {
        return;
    }
    let (c, client, to) = udp_lab();
    let socket = udp_socket_in(&client.ns);
    assert_eq!(udp_request(&socket, to, "hostname").unwrap(), "u-1");

    // A second endpoint comes; the client's flow stays where it is (conntrack). The client
    // keeps its flow alive meanwhile, as a real one would: a UDP conntrack entry that has seen
    // one reply lives 30 s (nf_conntrack_udp_timeout), and bringing u-2 up can take longer on
    // a loaded machine; an expired flow is a new one, balanced afresh (to u-2 half the time).
    let stop = Arc::new(AtomicBool::new(false));
    let keepalive = {
        let (stop, socket) = (stop.clone(), socket.try_clone().unwrap());
        std::thread::spawn(move || {
            let mut answers = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                // A lost datagram (a timeout) still refreshed the entry on its way out.
                if let Ok(host) = udp_request(&socket, to, "hostname") {
                    answers.push(host);
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            answers
        })
    };
    create_netexec(&c, "u-2", Some("node-3"), json!({"app": "u"}));
    ready_pod(&c, "u-2");
    wait_endpoints(&c, "dns", 2);
    stop.store(true, Ordering::Relaxed);
    let answers = keepalive.join().unwrap();
    assert!(answers.iter().all(|h| h == "u-1"), "the flow left u-1 while u-2 came: {answers:?}");
    assert_eq!(udp_request(&socket, to, "hostname").unwrap(), "u-1");

    // u-1 goes away: the same socket (the same conntrack tuple, kept alive by the client's
    // own retries) reaches u-2, because the agent deleted the flow to u-1.
    http_delete(c.listen, c.data_dir(), "/api/v1/namespaces/default/pods/u-1");
    wait_until("the UDP client moved to u-2", Duration::from_secs(30), || {
        udp_request(&socket, to, "hostname").is_ok_and(|h| h == "u-2")
    });
}

#[test]
fn udp_to_a_service_scaled_to_zero_is_refused() {
    if !privileged() {
        return;
    }
    let (c, client, to) = udp_lab();
    let socket = udp_socket_in(&client.ns);
    assert_eq!(udp_request(&socket, to, "hostname").unwrap(), "u-1");
    // Scale to zero: the next datagram is rejected (ICMP port unreachable).
    http_delete(c.listen, c.data_dir(), "/api/v1/namespaces/default/pods/u-1");
    socket.connect(to).unwrap();
    wait_until("UDP to the empty service refused", Duration::from_secs(30), || {
        let _ = socket.send(b"hostname");
        let mut b = [0u8; 64];
        matches!(socket.recv(&mut b), Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused)
    });
}

#[test]
fn an_agent_restart_under_a_request_loop_fails_no_request() {
    if !privileged() {
        return;
    }
    // Zero failures through a cluster IP while node-1's agent is killed and started again,
    // and the table was not flushed (the agent adopts it).
    let c = TestCluster::new();
    up(&c, "vxlan");
    create_netexec(&c, "client", Some("node-1"), json!({"app": "client"}));
    create_netexec(&c, "e-1", Some("node-2"), json!({"app": "e"}));
    let (echo, _) = service_80(&c, "echo", json!({"selector": {"app": "e"}}));
    let client = ready_pod(&c, "client");
    ready_pod(&c, "e-1");
    wait_endpoints(&c, "echo", 1);
    wait_http(&client.ns, (echo, 80).into(), "/hostname");
    let stop = Arc::new(AtomicBool::new(false));
    let looper = {
        let (stop, ns) = (stop.clone(), client.ns.clone());
        std::thread::spawn(move || {
            let (mut ok, mut failures) = (0usize, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                match http_get_in(&ns, (echo, 80).into(), "/hostname") {
                    Ok(h) if h == "e-1" => ok += 1,
                    other => failures.push(format!("{other:?}")),
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (ok, failures)
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let agent = c.pids().into_iter().find(|(n, _)| n == "node-1").expect("node-1's agent").1;
    let (args, env) = command_of(agent);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(agent), nix::sys::signal::Signal::SIGKILL).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let _restarted = Restarted::spawn(&args, env, &c.data_dir().join("restarted-agent.log"));
    // Until the new agent has synced its table (its log says so), and a little longer.
    let log = c.data_dir().join("restarted-agent.log");
    wait_until("the restarted agent's full sync", Duration::from_secs(30), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("full sync"))
    });
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let (ok, failures) = looper.join().unwrap();
    assert!(ok > 20, "only {ok} requests made it");
    assert!(
        failures.is_empty(),
        "{} of {} requests failed across the restart: {failures:?}",
        failures.len(),
        ok + failures.len()
    );
}

#[test]
fn a_cluster_policy_node_port_reaches_any_endpoint_masqueraded() {
    if !privileged() {
        return;
    }
    let Lab { c, .. } = lab("host-gw", "np");
    let (_, ports) = service_80(&c, "np-cluster", json!({"type": "NodePort", "selector": {"app": "np"}}));
    wait_endpoints(&c, "np-cluster", 3);
    let internet = c.internet_netns();
    let internal: Vec<String> = (1..=3).map(|i| node_ip(i).to_string()).collect();
    for i in 1..=3u32 {
        // Any endpoint; the pod sees a node's address, not the client's.
        let to: SocketAddr = (node_ip(i), ports[0]).into();
        wait_http(&internet, to, "/hostname");
        let mut hosts = std::collections::BTreeSet::new();
        for _ in 0..30 {
            hosts.insert(http_get_in(&internet, to, "/hostname").unwrap());
            let seen = http_get_in(&internet, to, "/clientip").unwrap();
            let ip = seen.split(':').next().unwrap().to_string();
            assert_ne!(ip, INTERNET_HOST.to_string(), "Cluster policy must masquerade (node-{i})");
            let gateway_of_some_node = ip.starts_with("10.244.") && ip.ends_with(".1");
            assert!(internal.contains(&ip) || gateway_of_some_node, "node-{i}: pod saw {ip}");
        }
        assert!(hosts.len() >= 2, "node-{i}'s NodePort reached only {hosts:?}");
    }
}

#[test]
fn a_local_policy_node_port_reaches_only_its_nodes_pod_and_keeps_the_source() {
    if !privileged() {
        return;
    }
    let Lab { c, .. } = lab("host-gw", "np");
    let (_, ports) = service_80(
        &c,
        "np-local",
        json!({"type": "NodePort", "externalTrafficPolicy": "Local", "selector": {"app": "np"}}),
    );
    wait_endpoints(&c, "np-local", 3);
    let internet = c.internet_netns();
    for i in 1..=3u32 {
        let to: SocketAddr = (node_ip(i), ports[0]).into();
        assert_eq!(wait_http(&internet, to, "/hostname"), format!("np-{i}"));
        for _ in 0..5 {
            assert_eq!(http_get_in(&internet, to, "/hostname").unwrap(), format!("np-{i}"));
        }
        let seen = http_get_in(&internet, to, "/clientip").unwrap();
        assert_eq!(seen.split(':').next().unwrap(), INTERNET_HOST.to_string(), "Local policy must keep the source");
    }
}

#[test]
fn pods_egress_with_their_nodes_address_but_reach_pods_unmasqueraded() {
    if !privileged() {
        return;
    }
    let Lab { c, pods } = lab("host-gw", "np");
    let internet = c.internet_netns();
    // Egress: the outside host sees the pod's node, and replies come back.
    let listener = listen_in(&internet, &format!("{INTERNET_HOST}:0"));
    let target = listener.local_addr().unwrap();
    for p in &pods {
        let server = std::thread::spawn({
            let listener = listener.try_clone().unwrap();
            move || {
                let (mut conn, peer) = listener.accept().unwrap();
                conn.write_all(b"pong").unwrap();
                peer
            }
        });
        let reply = netcore::netns::Netns::open(&p.ns)
            .unwrap()
            .run(move || {
                let mut s = std::net::TcpStream::connect_timeout(&target, Duration::from_secs(3))?;
                let mut b = String::new();
                s.read_to_string(&mut b)?;
                Ok::<_, std::io::Error>(b)
            })
            .unwrap()
            .unwrap_or_else(|e| panic!("{} could not reach the internet host: {e}", p.name));
        assert_eq!(reply, "pong");
        let peer = server.join().unwrap();
        let i: u32 = p.node.trim_start_matches("node-").parse().unwrap();
        assert_eq!(peer.ip(), std::net::IpAddr::V4(node_ip(i)), "{}'s egress must carry its node's address", p.name);
    }
    // Pod to pod is never masqueraded, across nodes either.
    let seen = http_get_in(&pods[1].ns, (pods[0].ip, 8080).into(), "/clientip").unwrap();
    assert_eq!(seen.split(':').next().unwrap(), pods[1].ip.to_string());
}
