//! Drift repair on `flatnet up` clusters of three nodes (host-gw, vxlan), with real agents
//! and real packets: an admin's `nft delete table ip flatnet` in a node's namespace (what a
//! firewall reload does), the deletion of that node's route to another node's pods, of a
//! pod's veth, and of the pod bridge's gateway address. Each time, traffic through the service (or to the other node's pod, or to the
//! rewired pod) flows again soon after: the agent follows the kernel's notifications instead
//! of waiting for its periodic resyncs (30 s for routes and pods, 300 s for the service table
//! by default, longer than this test waits). The time from the deletion to the first working
//! request is printed, median of several rounds (`cargo test -p flatnet-tests --test drift
//! -- --nocapture --test-threads 1`).

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::cluster::*;
use common::workload::*;
use netcore::netns::Netns;
use serde_json::json;

const ROUNDS: usize = 5;

/// `GET /hostname` from `ns` to `to`, waiting at most `timeout` for the connection: short,
/// so a request that went nowhere is retried soon (the figure's resolution).
fn hostname(ns: &str, to: SocketAddr, timeout: Duration) -> std::io::Result<String> {
    Netns::open(ns)
        .unwrap()
        .run(move || {
            let mut c = TcpStream::connect_timeout(&to, timeout)?;
            c.set_read_timeout(Some(Duration::from_secs(2)))?;
            c.write_all(b"GET /hostname HTTP/1.0\r\n\r\n")?;
            let mut s = String::new();
            c.read_to_string(&mut s)?;
            Ok(s.rsplit("\r\n\r\n").next().unwrap_or("").to_string())
        })
        .unwrap()
}

/// Run `args` (a command inside node `ns`, as `ip netns exec` would), then time until a
/// request from `from` to `to` answers. Waits up to `limit`, a bound well under the
/// periodic resync and far above the target, not the figure under test.
fn break_and_time(ns: &str, args: &[&str], from: &str, to: SocketAddr, limit: Duration) -> Duration {
    let start = Instant::now();
    let out = Command::new("ip").args(["netns", "exec", ns]).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    loop {
        if hostname(from, to, Duration::from_millis(10)).is_ok_and(|h| !h.is_empty()) {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{args:?} in {ns}: not repaired after {limit:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

#[test]
fn host_gw_deletions_under_the_agent_are_repaired_within_a_second() {
    if privileged() {
        deletions_are_repaired("host-gw");
    }
}

#[test]
fn vxlan_deletions_under_the_agent_are_repaired_within_a_second() {
    if privileged() {
        deletions_are_repaired("vxlan");
    }
}

fn deletions_are_repaired(backend: &str) {
    let c = TestCluster::new();
    let up = c.up_with(3, backend);
    assert_eq!(up.code, Some(0), "{up:?}");
    for i in 1..=3 {
        create_netexec(&c, &format!("web-{i}"), Some(&format!("node-{i}")), json!({"app": "web"}));
    }
    let pods: Vec<PodInfo> = (1..=3).map(|i| ready_pod(&c, &format!("web-{i}"))).collect();
    let svc = http_post_json(
        c.listen,
        c.data_dir(),
        "/api/v1/namespaces/default/services",
        &json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"},
            "ports": [{"port": 80, "targetPort": 8080}]}}),
    );
    let vip: Ipv4Addr = svc["spec"]["clusterIP"].as_str().unwrap().parse().unwrap();
    let node2 = c.node_netns(2);
    let client = &pods[1].ns;
    wait_until("the service answers from node-2's pod", Duration::from_secs(30), || {
        hostname(client, (vip, 80).into(), Duration::from_secs(1)).is_ok_and(|h| h.starts_with("web-"))
    });

    // The table, with every service and NAT rule in it.
    let mut table = Vec::new();
    for _ in 0..ROUNDS {
        let t = break_and_time(
            &node2,
            &["nft", "delete", "table", "ip", "flatnet"],
            client,
            (vip, 80).into(),
            Duration::from_secs(20),
        );
        table.push(t);
    }

    // Network policies live in the same table: a wiped table must not leave a pod that a
    // policy isolates open for long. `guarded` (on node-2) takes no ingress at all; a probe
    // from node-1's pod must be refused again soon after each deletion (within 10 s, under
    // the enforcer's 30 s periodic resync, so a missing repair fails the test).
    create_netexec(&c, "guarded", Some("node-2"), json!({"role": "guarded"}));
    let guarded = ready_pod(&c, "guarded");
    http_post_json(
        c.listen,
        c.data_dir(),
        "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies",
        &json!({"metadata": {"name": "guard"}, "spec": {"podSelector": {"matchLabels": {"role": "guarded"}},
            "policyTypes": ["Ingress"]}}),
    );
    let reaches_guarded =
        || hostname(&pods[0].ns, (guarded.ip, 8080).into(), Duration::from_millis(200)).is_ok_and(|h| h == "guarded");
    wait_until("the policy isolates guarded", Duration::from_secs(30), || !reaches_guarded());
    let mut policy = Vec::new();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let out = Command::new("ip")
            .args(["netns", "exec", &node2, "nft", "delete", "table", "ip", "flatnet"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        wait_until("guarded isolated again after the table went", Duration::from_secs(10), || !reaches_guarded());
        policy.push(start.elapsed());
        // And the services came back with it.
        wait_until("the service answers again", Duration::from_secs(10), || {
            hostname(client, (vip, 80).into(), Duration::from_millis(200)).is_ok_and(|h| h.starts_with("web-"))
        });
    }
    assert!(!reaches_guarded(), "guarded is reachable although a policy isolates it");

    // Node-2's route to node-1's pods (host-gw: via node-1's address; vxlan: onlink via
    // node-1's VTEP).
    let cidrs = c.pod_cidrs();
    let node1_cidr = cidrs.iter().find(|(n, _)| n == "node-1").map(|(_, c)| c.clone()).unwrap();
    let mut route = Vec::new();
    for _ in 0..ROUNDS {
        let t = break_and_time(
            &node2,
            &["ip", "route", "del", &node1_cidr],
            client,
            (pods[0].ip, 8080).into(),
            Duration::from_secs(10),
        );
        route.push(t);
    }
    assert_eq!(hostname(client, (pods[0].ip, 8080).into(), Duration::from_secs(1)).unwrap(), "web-1");

    // Node-2's route to its own pods (the one the kernel adds with the bridge's gateway
    // address, deleted alone): node-1's pod reaches web-2 again.
    let node2_cidr = cidrs.iter().find(|(n, _)| n == "node-2").map(|(_, c)| c.clone()).unwrap();
    let mut own_route = Vec::new();
    for _ in 0..ROUNDS {
        let args = ["ip", "route", "del", &node2_cidr, "dev", netcore::names::NODE_BRIDGE];
        own_route.push(break_and_time(&node2, &args, &pods[0].ns, (pods[1].ip, 8080).into(), Duration::from_secs(10)));
    }

    // VXLAN: node-2's neighbour entry for node-1's VTEP (the inner gateway address → the
    // VTEP's MAC) and its FDB entry (that MAC → node-1's underlay address). Without either,
    // node-2's packets to node-1's pods have nowhere to go.
    let mut neighbour = Vec::new();
    let mut fdb = Vec::new();
    if backend == "vxlan" {
        let gateway_of_node1: Ipv4Addr = node1_cidr.split('/').next().unwrap().parse().unwrap();
        let vx = netcore::backend::VXLAN_DEVICE;
        let show = Command::new("ip")
            .args([
                "netns",
                "exec",
                &node2,
                "ip",
                "-j",
                "neigh",
                "show",
                "dev",
                vx,
                "to",
                &gateway_of_node1.to_string(),
            ])
            .output()
            .unwrap();
        let entries: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
        let mac = entries[0]["lladdr"].as_str().unwrap_or_else(|| panic!("no neighbour entry: {entries}")).to_string();
        for _ in 0..ROUNDS {
            let args = ["ip", "neigh", "del", &gateway_of_node1.to_string(), "dev", vx];
            neighbour.push(break_and_time(&node2, &args, client, (pods[0].ip, 8080).into(), Duration::from_secs(10)));
        }
        for _ in 0..ROUNDS {
            let args = ["bridge", "fdb", "del", &mac, "dev", vx];
            fdb.push(break_and_time(&node2, &args, client, (pods[0].ip, 8080).into(), Duration::from_secs(10)));
        }
        assert_eq!(hostname(client, (pods[0].ip, 8080).into(), Duration::from_secs(1)).unwrap(), "web-1");
    }

    // Node-2's end of web-2's veth (its pod end goes with it): web-2 is rewired, and a pod
    // on node-1 reaches it again.
    let mut veth = Vec::new();
    for _ in 0..ROUNDS {
        let pod = http_get_json(c.listen, c.data_dir(), "/api/v1/namespaces/default/pods/web-2");
        let name = netcore::names::pod_veth(pod["metadata"]["uid"].as_str().unwrap());
        let t = break_and_time(
            &node2,
            &["ip", "link", "del", &name],
            &pods[0].ns,
            (pods[1].ip, 8080).into(),
            Duration::from_secs(10),
        );
        veth.push(t);
    }
    assert_eq!(hostname(&pods[0].ns, (pods[1].ip, 8080).into(), Duration::from_secs(1)).unwrap(), "web-2");

    // The gateway address of node-2's pod bridge (its pods' next hop): web-2 reaches the
    // service again.
    let [a, b, c3, _] = pods[1].ip.octets();
    let gateway = format!("{}/24", Ipv4Addr::new(a, b, c3, 1));
    let mut address = Vec::new();
    for _ in 0..ROUNDS {
        let args = ["ip", "address", "del", &gateway, "dev", netcore::names::NODE_BRIDGE];
        let t = break_and_time(&node2, &args, client, (vip, 80).into(), Duration::from_secs(10));
        address.push(t);
    }

    println!("REPAIR {backend} `nft delete table ip flatnet` on node-2: median {:?} of {table:?}", median(&table));
    println!(
        "REPAIR {backend} policy isolation back after `nft delete table ip flatnet`: median {:?} of {policy:?}",
        median(&policy)
    );
    println!("REPAIR {backend} `ip route del {node1_cidr}` on node-2: median {:?} of {route:?}", median(&route));
    println!(
        "REPAIR {backend} `ip route del {node2_cidr}` (its own pods) on node-2: median {:?} of {own_route:?}",
        median(&own_route)
    );
    if backend == "vxlan" {
        println!(
            "REPAIR vxlan `ip neigh del` of node-1's VTEP on node-2: median {:?} of {neighbour:?}",
            median(&neighbour)
        );
        println!("REPAIR vxlan `bridge fdb del` of node-1's VTEP on node-2: median {:?} of {fdb:?}", median(&fdb));
    }
    println!("REPAIR {backend} `ip link del` of web-2's veth on node-2: median {:?} of {veth:?}", median(&veth));
    println!("REPAIR {backend} `ip address del {gateway}` on node-2: median {:?} of {address:?}", median(&address));
}
