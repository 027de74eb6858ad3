//! Pod-to-pod across nodes on `flatnet up` clusters of three nodes, both backends: every pod
//! reaches every pod (TCP and UDP, an all-pairs matrix) and every node address; large
//! packets and a bulk transfer cross VXLAN; a node whose agent dies turns NotReady after the
//! lease TTL, its pods leave the endpoints, and when the agent comes back the node has the
//! same CIDR and its pods work again without being recreated.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::cluster::*;
use common::workload::*;
use netcore::netns::Netns;
use serde_json::json;

fn create_pod(c: &TestCluster, name: &str, node: &str) {
    create_netexec(c, name, Some(node), json!({"app": name}));
}

/// Send `bytes` over TCP from `from` to a listener in `to`'s namespace; answers what arrived.
fn bulk(from: &PodInfo, to: &PodInfo, bytes: usize) -> usize {
    let listener = listen_in(&to.ns, &format!("{}:0", to.ip));
    let target = listener.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        got.len()
    });
    Netns::open(&from.ns)
        .unwrap()
        .run(move || {
            let mut c = TcpStream::connect_timeout(&target, Duration::from_secs(3)).unwrap();
            c.write_all(&vec![1u8; bytes]).unwrap();
        })
        .unwrap();
    reader.join().unwrap()
}

const NAMES: [&str; 3] = ["web-1", "web-2", "web-3"];

/// A three-node cluster on `backend` with a netexec pod `web-i` on each node i, Ready.
fn three_pods(backend: &str) -> (TestCluster, Vec<PodInfo>) {
    let c = TestCluster::new();
    let up = c.up_with(3, backend);
    assert_eq!(up.code, Some(0), "{up:?}");
    for (i, name) in NAMES.iter().enumerate() {
        create_pod(&c, name, &format!("node-{}", i + 1));
    }
    let pods = NAMES.iter().map(|n| ready_pod(&c, n)).collect();
    (c, pods)
}

fn pods_use_the_backends_mtu(backend: &str) {
    if !privileged() {
        return;
    }
    let (_c, pods) = three_pods(backend);
    // On VXLAN, pods use the overlay's MTU (the fabric's 1500 minus 50).
    let want_mtu = if backend == "vxlan" { "mtu 1450 " } else { "mtu 1500 " };
    for p in &pods {
        let out = std::process::Command::new("ip").args(["-n", &p.ns, "-o", "link", "show", "eth0"]).output().unwrap();
        let line = String::from_utf8_lossy(&out.stdout);
        assert!(line.contains(want_mtu), "{backend}: pod eth0 is not at {want_mtu}: {line}");
    }
}

fn every_pod_reaches_every_pod_and_node(backend: &str) {
    if !privileged() {
        return;
    }
    let (c, pods) = three_pods(backend);
    let mut failures = Vec::new();
    for (i, from) in pods.iter().enumerate() {
        for (j, to) in pods.iter().enumerate() {
            match http_hostname(&from.ns, to.ip) {
                Ok(h) if h == NAMES[j] => {}
                other => failures.push(format!("TCP {} -> {}: {other:?}", NAMES[i], NAMES[j])),
            }
            match udp(&from.ns, to.ip, "hostname") {
                Ok(h) if h == NAMES[j] => {}
                other => failures.push(format!("UDP {} -> {}: {other:?}", NAMES[i], NAMES[j])),
            }
        }
        // Every node's underlay address, from every pod.
        for n in 1..=3 {
            let node_ns = c.node_netns(n);
            let listener = listen_in(&node_ns, &format!("192.168.254.{}:0", 10 + n));
            let target = listener.local_addr().unwrap();
            if let Err(e) = Netns::open(&from.ns)
                .unwrap()
                .run(move || TcpStream::connect_timeout(&target, Duration::from_secs(2)))
                .unwrap()
            {
                failures.push(format!("TCP {} -> node-{n} {target}: {e}", NAMES[i]));
            }
        }
    }
    assert!(failures.is_empty(), "{} of 27 checks failed ({backend}):\n{}", failures.len(), failures.join("\n"));
}

fn large_packets_cross_between_nodes(backend: &str) {
    if !privileged() {
        return;
    }
    let (_c, pods) = three_pods(backend);
    // A 1400-byte UDP payload each way, and 8 MB of full-size TCP segments.
    let big = format!("echo {}", "x".repeat(1395));
    for (a, b) in [(0, 1), (1, 2), (2, 0)] {
        let reply =
            udp(&pods[a].ns, pods[b].ip, &big).unwrap_or_else(|e| panic!("1400-byte UDP {a}->{b} ({backend}): {e}"));
        assert_eq!(reply.len(), 1395);
        assert_eq!(bulk(&pods[a], &pods[b], 8 << 20), 8 << 20, "bulk transfer {a}->{b} ({backend})");
    }
}

#[test]
fn host_gw_pods_keep_the_uplinks_mtu() {
    pods_use_the_backends_mtu("host-gw");
}

#[test]
fn vxlan_pods_use_the_overlays_mtu() {
    pods_use_the_backends_mtu("vxlan");
}

#[test]
fn host_gw_every_pod_reaches_every_pod_and_node() {
    every_pod_reaches_every_pod_and_node("host-gw");
}

#[test]
fn vxlan_every_pod_reaches_every_pod_and_node() {
    every_pod_reaches_every_pod_and_node("vxlan");
}

#[test]
fn host_gw_carries_large_packets_between_nodes() {
    large_packets_cross_between_nodes("host-gw");
}

#[test]
fn vxlan_carries_large_packets_between_nodes() {
    large_packets_cross_between_nodes("vxlan");
}

#[test]
fn a_node_whose_agent_dies_turns_not_ready_and_comes_back_with_its_cidr_and_pods() {
    if !privileged() {
        return;
    }
    let mut c = TestCluster::new();
    // A short lease, so the test waits seconds, not the default 20.
    c.env.push(("FLATNET_LEASE_TTL".into(), "3".into()));
    let up = c.up(2);
    assert_eq!(up.code, Some(0), "{up:?}");
    create_pod(&c, "victim", "node-2");
    create_pod(&c, "client", "node-1");
    let svc = json!({"metadata": {"name": "victim"}, "spec": {"selector": {"app": "victim"}, "ports": [{"port": 80, "targetPort": 8080}]}});
    http_post_json(c.listen, c.data_dir(), "/api/v1/namespaces/default/services", &svc);
    let victim = ready_pod(&c, "victim");
    let client = ready_pod(&c, "client");
    let endpoints = || http_get_json(c.listen, c.data_dir(), "/api/v1/namespaces/default/endpoints/victim");
    let wait = |what: &str, check: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !check() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait("a ready endpoint", &|| endpoints()["subsets"][0]["addresses"].as_array().is_some_and(|a| a.len() == 1));
    let cidrs_before = c.pod_cidrs();
    let shim_pids = |dir: &std::path::Path| -> Vec<i64> {
        let mut pids = Vec::new();
        for pod in std::fs::read_dir(dir.join("agents/node-2/pods")).into_iter().flatten().flatten() {
            for f in std::fs::read_dir(pod.path()).into_iter().flatten().flatten() {
                if f.path().extension().is_some_and(|e| e == "state") {
                    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(f.path()).unwrap()).unwrap();
                    pids.push(v["pid"].as_i64().unwrap());
                }
            }
        }
        pids
    };
    let pods_before = shim_pids(c.data_dir());

    // Kill node-2's agent: past the TTL the node is NotReady and its pod leaves the endpoints,
    // while node-1 keeps its route to node-2's pods (the lease is not reclaimed yet).
    let agent = c.pids().into_iter().find(|(n, _)| n.contains("node-2")).expect("node-2's agent").1;
    let (args, env) = command_of(agent);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(agent), nix::sys::signal::Signal::SIGKILL).unwrap();
    let node2_ready = || {
        let n = http_get_json(c.listen, c.data_dir(), "/api/v1/nodes/node-2");
        n["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    };
    wait("node-2 NotReady", &|| !node2_ready());
    wait("the endpoint not ready", &|| {
        let e = endpoints();
        e["subsets"][0]["addresses"].as_array().is_none_or(|a| a.is_empty())
            && e["subsets"][0]["notReadyAddresses"].as_array().is_some_and(|a| a.len() == 1)
    });
    assert_eq!(http_hostname(&client.ns, victim.ip).unwrap(), "victim", "the pod itself still serves");

    // Bring the agent back: same CIDR, the pod adopted (same process), ready again.
    let _guard = Restarted::spawn(&args, env, &c.data_dir().join("restarted-agent.log"));
    wait("node-2 Ready again", &node2_ready);
    assert_eq!(c.pod_cidrs(), cidrs_before, "a node that came back got another CIDR");
    wait("the endpoint ready again", &|| {
        endpoints()["subsets"][0]["addresses"].as_array().is_some_and(|a| a.len() == 1)
    });
    assert_eq!(shim_pids(c.data_dir()), pods_before, "the pod was recreated instead of adopted");
    assert_eq!(http_hostname(&client.ns, victim.ip).unwrap(), "victim");
}
