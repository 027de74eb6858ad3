//! `flatnet up`, `status` and `down`: the real binaries (flatnet, apiserver, nodeagent) on the
//! real kernel, as root. Every cluster here has its own data directory, port and name prefix
//! (so none collides with a cluster a user runs), and is taken down by a guard even when a
//! test fails.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::time::{Duration, Instant};

use common::cluster::*;
use common::flatnet;
use netcore::netns;

/// A cluster of two nodes, up.
fn up_two() -> (TestCluster, Run) {
    let cluster = TestCluster::new();
    let started = Instant::now();
    let up = cluster.up(2);
    let took = started.elapsed();
    assert_eq!(up.code, Some(0), "{up:?}");
    eprintln!("flatnet up --nodes 2 --detach: {took:?}\n{}", up.stdout);
    (cluster, up)
}

/// A pod running `flatnet netexec` on node-2, reached from its node; answers its uid.
fn netexec_on_node_2(cluster: &TestCluster) -> String {
    let pod = serde_json::json!({
        "metadata": {"name": "web-1"},
        "spec": {"nodeName": "node-2", "containers": [{"name": "web", "command": [flatnet(), "netexec"]}]}
    });
    let pod = http_post_json(cluster.listen, cluster.data_dir(), "/api/v1/namespaces/default/pods", &pod);
    let uid = pod["metadata"]["uid"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    let pod_ip = loop {
        let pod = http_get_json(cluster.listen, cluster.data_dir(), "/api/v1/namespaces/default/pods/web-1");
        if pod["status"]["phase"] == "Running" {
            if let Some(ip) = pod["status"]["podIP"].as_str() {
                break ip.to_string();
            }
        }
        assert!(Instant::now() < deadline, "pod web-1 not Running: {pod}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let target: SocketAddr = format!("{pod_ip}:8080").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while connect_from(&cluster.node_netns(2), target).is_err() {
        assert!(Instant::now() < deadline, "netexec in pod web-1 at {target} never answered");
        std::thread::sleep(Duration::from_millis(50));
    }
    uid
}

#[test]
fn up_says_the_nodes_are_ready_and_how_to_reach_the_api() {
    if !privileged() {
        return;
    }
    let (cluster, up) = up_two();
    assert!(up.stdout.contains("[4/4] nodes Ready: 2/2"), "{up:?}");
    assert!(up.stdout.contains(&format!("https://{}", cluster.listen)), "{up:?}");
    assert!(up.stdout.contains("admin.token"), "{up:?}");
    let kubeconfig = cluster.data_dir().join("kubeconfig");
    assert!(up.stdout.contains(&format!("export KUBECONFIG={}", kubeconfig.display())), "{up:?}");
}

#[test]
fn status_shows_the_ready_nodes_their_cidrs_and_the_api() {
    if !privileged() {
        return;
    }
    let (cluster, _) = up_two();
    let status = cluster.status();
    assert_eq!(status.code, Some(0), "{status:?}");
    let ready: Vec<&str> =
        status.stdout.lines().filter(|l| l.trim_start().starts_with("node-") && l.contains(" True ")).collect();
    assert_eq!(ready.len(), 2, "{status:?}");
    assert!(status.stdout.contains("10.244."), "{status:?}");
    assert!(status.stdout.contains("reachable"), "{status:?}");
}

#[test]
fn the_underlay_joins_the_nodes_and_the_internet_outside_the_root_namespace() {
    if !privileged() {
        return;
    }
    let (cluster, _) = up_two();
    // Node to node both ways, and each node to the "internet", without NAT.
    let (n1, n2) = (cluster.node_netns(1), cluster.node_netns(2));
    assert_tcp(&n1, &n2, "192.168.254.12");
    assert_tcp(&n2, &n1, "192.168.254.11");
    let internet = format!("flatnet-{}internet", cluster.prefix);
    assert_tcp(&n1, &internet, "203.0.113.1");
    assert_tcp(&n2, &internet, "203.0.113.1");
    // Nothing of it in the root namespace: no route to the underlay or the "internet".
    let routes =
        String::from_utf8(Command::new("ip").args(["route", "show", "table", "all"]).output().unwrap().stdout).unwrap();
    assert!(!routes.contains("192.168.254.") && !routes.contains("203.0.113."), "{routes}");
}

#[test]
fn down_removes_every_process_namespace_and_table_and_keeps_the_data() {
    if !privileged() {
        return;
    }
    let (cluster, _) = up_two();
    let uid = netexec_on_node_2(&cluster);
    let pod_netns = netcore::names::pod_netns("node-2", "default", "web-1", &uid);
    assert!(netns::exists(&pod_netns), "{pod_netns}");
    let state_file = cluster.data_dir().join("agents/node-2/pods").join(&uid).join("web.state");
    let shim: serde_json::Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    let shim_pid = shim["pid"].as_i64().unwrap() as i32;
    assert!(running(shim_pid));

    // Every nftables table named flatnet* in a node's namespace is removed by down.
    let n1 = cluster.node_netns(1);
    let nft = Command::new("ip").args(["netns", "exec", &n1, "nft", "add", "table", "inet", "flatnet-test"]).status();
    assert!(nft.unwrap().success());

    let pids = cluster.pids();
    let namespaces = cluster.namespaces();
    assert_eq!(namespaces.len(), 4, "{namespaces:?}");
    let down = cluster.down();
    assert_eq!(down.code, Some(0), "{down:?}");
    assert!(down.stdout.contains("1 container(s)"), "{down:?}");
    // Each node's `ip flatnet` table (its agent's services) and the test's own.
    assert!(down.stdout.contains("3 nftables table(s)"), "{down:?}");
    assert!(down.stdout.contains("1 pod namespace(s)"), "{down:?}");
    assert_gone(&cluster, &pids, &namespaces);
    assert!(!running(shim_pid), "the pod's container (shim pid {shim_pid}) still runs");
    assert!(!netns::exists(&pod_netns), "{pod_netns} left");
    assert!(cluster.data_dir().join("apiserver/admin.token").exists(), "down keeps the API server's data");
}

#[test]
fn a_second_down_is_fine_and_status_then_finds_no_cluster() {
    if !privileged() {
        return;
    }
    let (cluster, _) = up_two();
    assert_eq!(cluster.down().code, Some(0));
    let again = cluster.down();
    assert_eq!(again.code, Some(0), "a second down is fine: {again:?}");
    let status = cluster.status();
    assert_ne!(status.code, Some(0), "{status:?}");
    assert!(status.stdout.contains("no flatnet cluster"), "{status:?}");
}

#[test]
fn second_up_refuses_while_the_first_runs() {
    if !privileged() {
        return;
    }
    let cluster = TestCluster::new();
    let up = cluster.up(1);
    assert_eq!(up.code, Some(0), "{up:?}");
    let pids = cluster.pids();

    let second = cluster.up(1);
    assert_eq!(second.code, Some(1), "{second:?}");
    assert!(second.stderr.contains("already running"), "{second:?}");
    assert!(second.stderr.contains("status") && second.stderr.contains("down"), "{second:?}");
    // Nothing of the first was touched.
    assert_eq!(cluster.pids(), pids);
    assert!(pids.iter().all(|(_, pid)| running(*pid)));
    let status = cluster.status();
    assert_eq!(status.code, Some(0), "{status:?}");
}

#[test]
fn up_after_a_crash_cleans_up_and_starts_fresh() {
    if !privileged() {
        return;
    }
    let cluster = TestCluster::new();
    let up = cluster.up(2);
    assert_eq!(up.code, Some(0), "{up:?}");
    let cidrs = cluster.pod_cidrs();
    assert_eq!(cidrs.len(), 2, "{cidrs:?}");

    // A crash of everything: kill -9 every process; the namespaces stay.
    let old = cluster.pids();
    for (_, pid) in &old {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while old.iter().any(|(_, pid)| running(*pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = cluster.status();
    assert_ne!(status.code, Some(0), "{status:?}");
    assert!(status.stdout.contains("dead"), "{status:?}");

    let again = cluster.up(2);
    assert_eq!(again.code, Some(0), "{again:?}");
    assert!(again.stdout.contains("cleaning up"), "{again:?}");
    let new = cluster.pids();
    assert!(new.iter().all(|(_, pid)| running(*pid)), "{new:?}");
    assert!(new.iter().all(|p| !old.contains(p)), "fresh processes: {old:?} {new:?}");
    assert_eq!(cluster.pod_cidrs(), cidrs, "the API server's data (node CIDRs) is kept");
    assert_tcp(&cluster.node_netns(1), &cluster.node_netns(2), "192.168.254.12");

    let namespaces = cluster.namespaces();
    let down = cluster.down();
    assert_eq!(down.code, Some(0), "{down:?}");
    assert_gone(&cluster, &new, &namespaces);
}

#[test]
fn a_taken_port_is_refused_with_the_fix() {
    if !privileged() {
        return;
    }
    let cluster = TestCluster::new();
    let taken = TcpListener::bind(cluster.listen).unwrap();
    let up = cluster.up(1);
    assert_eq!(up.code, Some(1), "{up:?}");
    assert!(up.stderr.contains(&format!("{} is in use: pass --listen 127.0.0.1:PORT", cluster.listen)), "{up:?}");
    assert_eq!(cluster.namespaces(), Vec::<String>::new(), "nothing made");
    assert!(!cluster.data_dir().join("cluster.json").exists());
    drop(taken);
}

#[test]
fn down_without_a_cluster_is_fine() {
    if !privileged() {
        return;
    }
    let cluster = TestCluster::new();
    let down = cluster.down();
    assert_eq!(down.code, Some(0), "{down:?}");
    assert!(down.stdout.contains("nothing to remove"), "{down:?}");
}
