//! Node leases over a hand-moved clock: expiry turns a node NotReady (its pods' endpoints
//! not ready), a heartbeat within the grace period brings it back with the same CIDR,
//! reclamation frees the CIDR and fails the pods; fresh subnets are handed out before
//! reclaimed ones, and a node coming back gets its old subnet when it is still free.

mod common;

use common::*;
use openapi::{ConditionStatus, NodeLease, PodPhase};

const TTL: i64 = 20;
const GRACE: i64 = 100;

async fn server() -> TestServer {
    TestServer::builder().lease(TTL as u64, GRACE as u64).start().await
}

async fn assert_ready(srv: &TestServer, node: &str, ready: ConditionStatus, reason: &str) {
    let n = srv.node(node).await;
    let c = ready_condition(&n).unwrap_or_else(|| panic!("no Ready condition: {n:?}"));
    assert_eq!((c.status, c.reason.as_deref()), (ready, Some(reason)), "{n:?}");
}

#[tokio::test]
async fn expiry_renewal_and_reclamation() {
    let srv = server().await;
    srv.ready_node("n1", "192.168.50.1").await;
    srv.create_service(service("web").selector(&[("app", "web")]).port(80, 8080)).await;
    let p1 = srv.create_pod(pod("p1").labels(&[("app", "web")]).node("n1")).await;
    srv.set_pod_ready("p1").await;
    assert_eq!(endpoint_pods(&srv.endpoints("web").await), (strings(&["p1"]), vec![]));
    let lease0: NodeLease = srv.lease("n1").await.ok();

    // Just before the TTL: still Ready.
    srv.advance(TTL - 1);
    srv.tick().await;
    assert_ready(&srv, "n1", ConditionStatus::True, "LeaseRenewed").await;
    // At the TTL: NotReady, and its pods stop being ready endpoints (they keep their IPs).
    srv.advance(1);
    srv.tick().await;
    assert_ready(&srv, "n1", ConditionStatus::False, "LeaseExpired").await;
    assert_eq!(endpoint_pods(&srv.endpoints("web").await), (vec![], strings(&["p1"])));
    assert_eq!(srv.pod("p1").await.status.pod_ip, p1.status.pod_ip);
    assert!(srv.lease("n1").await.status.is_success(), "an expired lease is kept through the grace period");
    // A second tick changes nothing.
    let rev = srv.revision();
    srv.tick().await;
    assert_eq!(srv.revision(), rev);

    // No new pod goes to a NotReady node.
    let pending = srv.create_pod(pod("pending")).await;
    assert_eq!(pending.spec.node_name, None);

    // A heartbeat within the grace period: Ready again, same CIDR, same lease.
    srv.advance(GRACE / 2);
    let lease1 = srv.heartbeat("n1").await;
    assert_eq!(lease1.spec.pod_cidr, lease0.spec.pod_cidr);
    assert_eq!(lease1.spec.acquire_time, lease0.spec.acquire_time);
    assert_eq!(lease1.spec.renew_time, srv.clock.now());
    assert_ready(&srv, "n1", ConditionStatus::True, "LeaseRenewed").await;
    assert_eq!(srv.node("n1").await.spec.pod_cidr.as_deref(), Some("10.244.0.0/24"));
    assert_eq!(endpoint_pods(&srv.endpoints("web").await), (strings(&["p1"]), vec![]));
    // ... and the pod that waited is bound to it.
    let pending = srv.pod("pending").await;
    assert_eq!(pending.spec.node_name.as_deref(), Some("n1"));
    assert!(pending.status.pod_ip.as_deref().unwrap().starts_with("10.244.0."));

    // Expire again, then run out the grace period: one second short, then at it.
    srv.advance(TTL);
    srv.tick().await;
    assert_ready(&srv, "n1", ConditionStatus::False, "LeaseExpired").await;
    srv.advance(GRACE - 1);
    srv.tick().await;
    assert!(srv.lease("n1").await.status.is_success());
    srv.advance(1);
    srv.tick().await;
    srv.lease("n1").await.error(404, "NotFound", None);
    let n1 = srv.node("n1").await;
    assert_eq!(n1.spec.pod_cidr, None);
    assert!(!n1.is_ready());
    for name in ["p1", "pending"] {
        let p = srv.pod(name).await;
        assert_eq!(p.status.phase, PodPhase::Failed, "{p:?}");
        assert_eq!(p.status.pod_ip, None);
        assert_eq!(p.status.reason.as_deref(), Some("NodeLost"));
    }
    assert!(srv.endpoints("web").await.subsets.is_empty());

    // Meanwhile a new node gets a never-used subnet, not the reclaimed one.
    let n2 = srv.create_node(node("n2").ip("192.168.50.2")).await;
    assert_eq!(n2.spec.pod_cidr.as_deref(), Some("10.244.1.0/24"));

    // The old node comes back: its old subnet is still free, so it gets it again.
    let back = srv.heartbeat("n1").await;
    assert_eq!(back.spec.pod_cidr, "10.244.0.0/24");
    assert_eq!(back.spec.acquire_time, srv.clock.now());
    let n1 = srv.node("n1").await;
    assert_eq!(n1.spec.pod_cidr.as_deref(), Some("10.244.0.0/24"));
    assert!(n1.is_ready());
    let fresh = srv.create_pod(pod("fresh").node("n1")).await;
    assert!(fresh.status.pod_ip.as_deref().unwrap().starts_with("10.244.0."));
    // The failed pods stay failed.
    assert_eq!(srv.pod("p1").await.status.phase, PodPhase::Failed);
}

#[tokio::test]
async fn a_lease_reclaimed_in_one_tick_leaves_its_node_not_ready() {
    // The server was down (no tick) for longer than TTL + grace.
    let srv = server().await;
    srv.ready_node("n1", "192.168.50.1").await;
    srv.advance(TTL + GRACE + 5);
    srv.tick().await;
    srv.lease("n1").await.error(404, "NotFound", None);
    let n1 = srv.node("n1").await;
    assert_eq!(n1.spec.pod_cidr, None);
    assert!(!n1.is_ready(), "a node without a lease is not Ready: {n1:?}");
    assert_ready(&srv, "n1", ConditionStatus::False, "LeaseExpired").await;

    // Pods wait; the node's heartbeat brings it back and binds them at once.
    let p = srv.create_pod(pod("p")).await;
    assert_eq!(p.spec.node_name, None);
    srv.heartbeat("n1").await;
    assert_ready(&srv, "n1", ConditionStatus::True, "LeaseRenewed").await;
    let p = srv.pod("p").await;
    assert_eq!(p.spec.node_name.as_deref(), Some("n1"));
    assert!(p.status.pod_ip.is_some());
}

#[tokio::test]
async fn fresh_subnets_first_then_the_longest_reclaimed() {
    // Four /24 subnets in all.
    let srv = TestServer::builder().lease(TTL as u64, GRACE as u64).pod_cidr("10.244.0.0/22", 24).start().await;
    srv.ready_node("n1", "192.168.50.1").await;
    srv.ready_node("n2", "192.168.50.2").await;
    // n2 renews once more, so n1 is reclaimed first.
    srv.advance(60);
    srv.heartbeat("n2").await;
    srv.advance(TTL + GRACE - 60);
    srv.tick().await;
    srv.lease("n1").await.error(404, "NotFound", None);
    assert!(srv.lease("n2").await.status.is_success());
    srv.advance(60);
    srv.tick().await;
    srv.lease("n2").await.error(404, "NotFound", None);

    let cidr = |n: openapi::Node| n.spec.pod_cidr.unwrap();
    assert_eq!(cidr(srv.create_node(node("n3")).await), "10.244.2.0/24");
    assert_eq!(cidr(srv.create_node(node("n4")).await), "10.244.3.0/24");
    assert_eq!(cidr(srv.create_node(node("n5")).await), "10.244.0.0/24", "reclaimed longest ago");
    assert_eq!(cidr(srv.create_node(node("n6")).await), "10.244.1.0/24");
    // Nothing left: the registration is refused and leaves nothing behind.
    let rev = srv.revision();
    srv.post("/api/v1/nodes", &openapi::Node::from(node("n7"))).await.error(503, "ServiceUnavailable", None);
    srv.get("/api/v1/nodes/n7").await.error(404, "NotFound", None);
    assert_eq!(srv.revision(), rev);

    // n1's old subnet is n5's now: its heartbeat finds no room.
    srv.send(Req::post("/api/v1/nodes/n1/heartbeat").json(&serde_json::json!({})).token(ADMIN)).await.error(
        503,
        "ServiceUnavailable",
        None,
    );
    assert_eq!(srv.node("n1").await.spec.pod_cidr, None);
    // Once a subnet is released, it gets that one.
    srv.delete("/api/v1/nodes/n3").await.ok::<openapi::Node>();
    let lease = srv.heartbeat("n1").await;
    assert_eq!(lease.spec.pod_cidr, "10.244.2.0/24");
    assert!(srv.node("n1").await.is_ready());
}

#[tokio::test]
async fn a_deleted_node_registering_again_gets_its_subnet_back() {
    let srv = server().await;
    srv.ready_node("n1", "192.168.50.1").await;
    srv.ready_node("n2", "192.168.50.2").await;
    srv.delete("/api/v1/nodes/n1").await.ok::<openapi::Node>();
    // Another node meanwhile: a fresh subnet, not n1's.
    assert_eq!(srv.create_node(node("n3")).await.spec.pod_cidr.as_deref(), Some("10.244.2.0/24"));
    let again = srv.create_node(node("n1").ip("192.168.50.1")).await;
    assert_eq!(again.spec.pod_cidr.as_deref(), Some("10.244.0.0/24"));
    let lease: NodeLease = srv.lease("n1").await.ok();
    assert_eq!(lease.spec.pod_cidr, "10.244.0.0/24");
    assert!(!again.is_ready(), "a new registration waits for its first heartbeat");
}
