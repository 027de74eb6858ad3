//! Agents fail over between API servers: on a `flatnet up --store postgres` cluster (two API
//! servers on one PostgreSQL, the agents given both URLs), kill -9 the first server. The
//! agents move to the second without re-creating anything — every pod keeps its network
//! namespace (same inode) and its veth (same ifindex on both ends), their watches resume from
//! their resourceVersions instead of listing again, their heartbeats keep renewing the leases
//! — and a pod created through the surviving server is wired and reachable.

mod common;

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use common::cluster::*;
use common::workload::*;
use serde_json::json;

/// What must not change while the agent switches servers: the pod's namespace inode and its
/// `eth0` line as `ip -o link` prints it up to the flags (`2: eth0@if7:`, the pod end's
/// ifindex and the node end's).
fn fingerprint(pod: &PodInfo) -> (u64, String) {
    let inode = std::fs::metadata(format!("/run/netns/{}", pod.ns)).expect("the pod's netns").ino();
    let out = std::process::Command::new("ip").args(["-n", &pod.ns, "-o", "link", "show", "eth0"]).output().unwrap();
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    let head: String = line.split(": <").next().unwrap_or_default().to_string();
    assert!(head.contains("eth0@if"), "{}: {line}", pod.name);
    (inode, head)
}

/// Each node's Lease renewTime (a MicroTime: RFC 3339 text with six fractional digits, so
/// that text order is time order), by node name.
fn renew_times(c: &TestCluster) -> Vec<(String, String)> {
    let leases =
        http_get_json(c.listen, c.data_dir(), "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases");
    let mut out: Vec<(String, String)> = leases["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["metadata"]["name"].as_str().unwrap().into(), l["spec"]["renewTime"].as_str().unwrap().into()))
        .collect();
    out.sort();
    out
}

fn agent_log(c: &TestCluster, node: &str) -> String {
    std::fs::read_to_string(c.data_dir().join("logs").join(format!("{node}.log"))).unwrap_or_default()
}

#[test]
fn agents_move_to_the_surviving_api_server_with_their_pods_untouched() {
    if !privileged() {
        return;
    }
    let mut c = TestCluster::on_postgres();
    let up = c.up(2);
    assert_eq!(up.code, Some(0), "{up:?}");
    create_netexec(&c, "web-1", Some("node-1"), json!({"app": "web"}));
    create_netexec(&c, "web-2", Some("node-2"), json!({"app": "web"}));
    let pods = [ready_pod(&c, "web-1"), ready_pod(&c, "web-2")];
    let before: Vec<_> = pods.iter().map(fingerprint).collect();
    for node in ["node-1", "node-2"] {
        assert!(!agent_log(&c, node).contains("moving to the next one"), "{node} failed over before the kill");
    }

    let state = c.state();
    let first = state["apiserver"]["pid"].as_i64().unwrap() as i32;
    assert_eq!(state["moreApiservers"].as_array().map(Vec::len), Some(1), "two API servers: {state}");
    let leases_before = renew_times(&c);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(first), nix::sys::signal::Signal::SIGKILL).unwrap();
    wait_until("the first API server to die", Duration::from_secs(10), || !running(first));
    // From here on the test, too, talks to the surviving server.
    c.listen = c.second_listen;

    // Heartbeats go on through the second server: every lease is renewed after the kill.
    wait_until("every lease renewed through the second server", Duration::from_secs(30), || {
        let now = renew_times(&c);
        now.len() == leases_before.len() && now.iter().zip(&leases_before).all(|(a, b)| a.1 > b.1)
    });

    // A pod created through the survivor is wired, and reachable from the other node's pod.
    create_netexec(&c, "web-3", Some("node-1"), json!({"app": "web"}));
    let web3 = ready_pod(&c, "web-3");
    assert_eq!(http_hostname(&pods[1].ns, web3.ip).unwrap(), "web-3");

    // The old pods were not touched: same namespaces, same veths, still talking.
    let after: Vec<_> = pods.iter().map(fingerprint).collect();
    assert_eq!(after, before, "a pod's netns or veth was re-created across the failover");
    assert_eq!(http_hostname(&pods[0].ns, pods[1].ip).unwrap(), "web-2");
    assert_eq!(http_hostname(&pods[1].ns, pods[0].ip).unwrap(), "web-1");

    // `flatnet status` says a process died, and reaches the API through the second server.
    let status = c.status();
    assert!(status.stdout.contains("degraded"), "{status:?}");
    let second = format!("API https://{}: reachable", c.second_listen);
    assert!(status.stdout.contains(&second), "{status:?}");

    // The agents moved (their client says so) and resumed their watches without a relist.
    for node in ["node-1", "node-2"] {
        let log = agent_log(&c, node);
        assert!(log.contains("moving to the next one"), "{node}'s agent did not fail over:\n{log}");
        assert!(!log.contains("listing again"), "{node}'s agent relisted instead of resuming:\n{log}");
    }
}
