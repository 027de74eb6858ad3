//! Scheduling: a pod without `spec.nodeName` goes to the Ready, schedulable node with the
//! fewest pods; without one it waits (PodScheduled False) and is bound, with an IP, when a
//! node turns Ready. A pod bound by its creator gets an IP from that node's lease.

mod common;

use common::*;
use ipnetwork::Ipv4Network;
use openapi::{ConditionStatus, Node, Pod, PodPhase};

fn assert_bound(pod: &Pod, node: &Node) {
    assert_eq!(pod.spec.node_name.as_deref(), Some(node.metadata.name.as_str()), "{pod:?}");
    let cidr: Ipv4Network = node.spec.pod_cidr.as_deref().unwrap().parse().unwrap();
    let ip = pod.status.pod_ip.as_deref().unwrap_or_else(|| panic!("no pod IP: {pod:?}"));
    assert!(cidr.contains(ip.parse().unwrap()), "{ip} not in {cidr}");
    assert_eq!(pod.status.host_ip.as_deref(), node.internal_ip());
    assert_eq!(pod_condition(pod, "PodScheduled").unwrap().status, ConditionStatus::True);
}

#[tokio::test]
async fn the_ready_node_with_the_fewest_pods_wins() {
    let srv = TestServer::start().await;
    let n1 = srv.ready_node("n1", "192.168.50.1").await;
    let n2 = srv.ready_node("n2", "192.168.50.2").await;
    // Registered, never heartbeated: not Ready, never chosen although empty.
    srv.create_node(node("n0").ip("192.168.50.9")).await;
    // Ready but cordoned: never chosen although empty.
    let n4 = srv.ready_node("n4", "192.168.50.4").await;
    let mut cordon = n4.clone();
    cordon.spec.unschedulable = true;
    srv.put("/api/v1/nodes/n4", &cordon).await.ok::<Node>();

    for name in ["x1", "x2"] {
        assert_bound(&srv.create_pod(pod(name).node("n1")).await, &n1);
    }
    // n1: 2, n2: 0 -> n2; n2: 1 -> n2; 2 vs 2: the first by name -> n1; 3 vs 2 -> n2.
    for (name, want) in [("a", &n2), ("b", &n2), ("c", &n1), ("d", &n2)] {
        let p = srv.create_pod(pod(name)).await;
        assert_bound(&p, want);
    }
    // Pods in other namespaces count too: n1 has 3, n2 3 -> n1 by name, then n2.
    assert_bound(&srv.create_pod(pod("e").namespace("other")).await, &n1);
    assert_bound(&srv.create_pod(pod("f")).await, &n2);

    // Uncordoned: the empty node is the one with the fewest pods.
    let mut uncordon = srv.node("n4").await;
    uncordon.spec.unschedulable = false;
    srv.put("/api/v1/nodes/n4", &uncordon).await.ok::<Node>();
    assert_bound(&srv.create_pod(pod("g")).await, &n4);
}

#[tokio::test]
async fn without_a_ready_node_pods_wait_and_are_bound_when_one_turns_ready() {
    let srv = TestServer::start().await;
    srv.create_service(service("web").selector(&[("app", "web")]).port(80, 8080)).await;
    let p = srv.create_pod(pod("p1").labels(&[("app", "web")])).await;
    assert_eq!(p.spec.node_name, None);
    assert_eq!(p.status.phase, PodPhase::Pending);
    assert_eq!(p.status.pod_ip, None);
    let sched = pod_condition(&p, "PodScheduled").unwrap();
    assert_eq!((sched.status, sched.reason.as_deref()), (ConditionStatus::False, Some("Unschedulable")));
    // Without an IP a pod is no endpoint.
    assert!(srv.endpoints("web").await.subsets.is_empty());

    // A registered node is not Ready until its first heartbeat: still waiting.
    srv.create_node(node("n1").ip("192.168.50.1")).await;
    srv.create_pod(pod("p2")).await;
    srv.tick().await;
    assert_eq!(srv.pod("p1").await.spec.node_name, None);

    // The heartbeat binds both at once, in creation order, with IPs.
    srv.heartbeat("n1").await;
    let n1 = srv.node("n1").await;
    let p1 = srv.pod("p1").await;
    let p2 = srv.pod("p2").await;
    assert_bound(&p1, &n1);
    assert_bound(&p2, &n1);
    assert!(rv_of(&p1) < rv_of(&p2));
    assert_ne!(p1.status.pod_ip, p2.status.pod_ip);
    assert_eq!(endpoint_pods(&srv.endpoints("web").await), (vec![], strings(&["p1"])));
}

#[tokio::test]
async fn cordons_new_nodes_and_the_tick_release_waiting_pods() {
    // A /29 per node: 5 pod addresses, so a node is full after 5 pods.
    let srv = TestServer::builder().pod_cidr("10.244.0.0/16", 29).start().await;
    // The only Ready node is cordoned: the pod waits.
    let n1 = srv.ready_node("n1", "192.168.50.1").await;
    let mut cordon = n1.clone();
    cordon.spec.unschedulable = true;
    srv.put("/api/v1/nodes/n1", &cordon).await.ok::<Node>();
    assert_eq!(srv.create_pod(pod("p")).await.spec.node_name, None);
    // A second node turns Ready: its heartbeat binds the pod.
    let n2 = srv.ready_node("n2", "192.168.50.2").await;
    assert_bound(&srv.pod("p").await, &n2);
    // Lifting a cordon binds waiting pods too.
    let mut cordon2 = srv.node("n2").await;
    cordon2.spec.unschedulable = true;
    srv.put("/api/v1/nodes/n2", &cordon2).await.ok::<Node>();
    assert_eq!(srv.create_pod(pod("q")).await.spec.node_name, None);
    srv.tick().await;
    assert_eq!(srv.pod("q").await.spec.node_name, None);
    let mut uncordon = srv.node("n1").await;
    uncordon.spec.unschedulable = false;
    srv.put("/api/v1/nodes/n1", &uncordon).await.ok::<Node>();
    let n1 = srv.node("n1").await;
    assert_bound(&srv.pod("q").await, &n1);

    // Fill n1 (q and 4 more): the next pod finds no node with room and waits.
    for i in 0..4 {
        assert_bound(&srv.create_pod(pod(&format!("f{i}"))).await, &n1);
    }
    let late = srv.create_pod(pod("late")).await;
    assert_eq!(late.spec.node_name, None);
    assert_eq!(pod_condition(&late, "PodScheduled").unwrap().status, ConditionStatus::False);
    // A deletion makes room; the periodic tick binds the waiting pod.
    srv.delete(&pod_path("f0")).await.ok::<Pod>();
    srv.tick().await;
    assert_bound(&srv.pod("late").await, &n1);
}

#[tokio::test]
async fn a_pod_bound_by_its_creator_gets_an_ip_from_that_nodes_lease() {
    let srv = TestServer::start().await;
    srv.ready_node("n1", "192.168.50.1").await;
    // n2 is registered (so it has a lease) but not Ready: binding to it is the creator's call.
    let n2 = srv.create_node(node("n2").ip("192.168.50.2")).await;
    let p = srv.create_pod(pod("p").node("n2")).await;
    assert_bound(&p, &n2);
    let lease: openapi::NodeLease = srv.lease("n2").await.ok();
    assert_ne!(p.status.pod_ip.as_deref(), Some(lease.spec.gateway.as_str()));

    // Bound to a node that does not exist yet: it waits for an IP, not for a node.
    let ghost = srv.create_pod(pod("g").node("ghost")).await;
    assert_eq!(ghost.spec.node_name.as_deref(), Some("ghost"));
    assert_eq!(ghost.status.pod_ip, None);
    assert_eq!(pod_condition(&ghost, "PodScheduled").unwrap().status, ConditionStatus::True);
    srv.create_node(node("ghost").ip("192.168.50.3")).await;
    srv.heartbeat("ghost").await;
    assert_bound(&srv.pod("g").await, &srv.node("ghost").await);

    // Binding a waiting pod by replacing it with a nodeName; a bound pod does not move.
    let n1 = srv.node("n1").await;
    let mut cordon = n1.clone();
    cordon.spec.unschedulable = true;
    srv.put("/api/v1/nodes/n1", &cordon).await.ok::<Node>();
    let mut cordon = srv.node("ghost").await;
    cordon.spec.unschedulable = true;
    srv.put("/api/v1/nodes/ghost", &cordon).await.ok::<Node>();
    let waiting = srv.create_pod(pod("w")).await;
    assert_eq!(waiting.spec.node_name, None);
    let mut bind = waiting.clone();
    bind.spec.node_name = Some("n1".into());
    let bound: Pod = srv.put(&pod_path("w"), &bind).await.ok();
    assert_bound(&bound, &srv.node("n1").await);
    let mut moved = bound.clone();
    moved.spec.node_name = Some("n2".into());
    srv.put(&pod_path("w"), &moved).await.error(422, "Invalid", Some("spec"));
}

#[tokio::test]
async fn a_node_selector_picks_the_nodes_and_waits_for_a_match() {
    let srv = TestServer::start().await;
    let n1 = srv.ready_node("n1", "192.168.50.1").await;
    let n2 = srv.ready_node("n2", "192.168.50.2").await;
    let mut labelled = n2.clone();
    labelled.metadata.labels.insert("disk".into(), "ssd".into());
    srv.put("/api/v1/nodes/n2", &labelled).await.ok::<Node>();
    // n2 already has a pod, yet the selector sends every such pod there.
    let with = |name: &str, disk: &str| {
        let mut p = Pod::from(pod(name));
        p.spec.node_selector.insert("disk".into(), disk.into());
        p
    };
    for name in ["s1", "s2"] {
        assert_bound(&srv.create_pod(with(name, "ssd")).await, &n2);
    }
    assert_bound(&srv.create_pod(pod("plain")).await, &n1);
    // No node matches: Pending, unscheduled, the selector in the condition, an event.
    let waiting = srv.create_pod(with("w", "nvme")).await;
    assert_eq!((waiting.spec.node_name.as_deref(), waiting.status.phase), (None, PodPhase::Pending));
    let sched = pod_condition(&waiting, "PodScheduled").unwrap();
    assert_eq!((sched.status, sched.reason.as_deref()), (ConditionStatus::False, Some("Unschedulable")));
    assert!(sched.message.as_deref().unwrap().contains("disk=nvme"), "{sched:?}");
    let events = srv.get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dw").await.expect(200);
    assert_eq!(events["items"][0]["reason"], "FailedScheduling", "{events}");
    // A later pod without a selector is not held up behind it.
    assert_bound(&srv.create_pod(pod("after")).await, &n1);
    srv.tick().await;
    assert_eq!(srv.pod("w").await.spec.node_name, None);
    // Labelling a node binds the waiting pod there.
    let mut n1 = srv.node("n1").await;
    n1.metadata.labels.insert("disk".into(), "nvme".into());
    srv.put("/api/v1/nodes/n1", &n1).await.ok::<Node>();
    assert_bound(&srv.pod("w").await, &n1);
}
