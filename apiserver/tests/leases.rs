//! Node leases over a hand-moved clock: expiry turns a node NotReady (its pods' endpoints
//! not ready), a heartbeat within the grace period brings it back with the same CIDR,
//! reclamation frees the CIDR and fails the pods; fresh subnets are handed out before
//! reclaimed ones, and a node coming back gets its old subnet when it is still free.

mod common;

use common::*;
use openapi::{ConditionStatus, Lease, NodeLease, PodPhase};
use serde_json::json;

const TTL: i64 = 20;
const GRACE: i64 = 100;

async fn server() -> TestServer {
    TestServer::builder().lease(TTL as u64, GRACE as u64).start().await
}

/// Node `node`'s heartbeat Lease.
async fn renewal(srv: &TestServer, node: &str) -> Lease {
    srv.get(&format!("{LEASES}/{node}")).await.ok()
}

const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";

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
    assert_eq!(renewal(&srv, "n1").await.spec.renew_time, Some(srv.clock.now()));
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

/// A heartbeat that changes nothing renews the node's Lease only: its CIDR lease (which
/// every agent watches) keeps its resourceVersion and no watcher of CIDR leases hears of
/// it. A heartbeat with new backend data writes the CIDR lease, once.
#[tokio::test]
async fn a_heartbeat_writes_the_cidr_lease_only_when_what_it_holds_changes() {
    let srv = server().await;
    srv.ready_node("n1", "192.168.50.1").await;
    let before: NodeLease = srv.lease("n1").await.ok();
    let from = srv.revision();

    srv.advance(5);
    assert_eq!(srv.heartbeat("n1").await, before, "the answer is the CIDR lease, unchanged");
    assert_eq!(srv.lease("n1").await.ok::<NodeLease>(), before);
    assert_eq!(renewal(&srv, "n1").await.spec.renew_time, Some(srv.clock.now()));

    let vtep = json!({"backendData": {"vtepMAC": "02:00:00:00:00:01"}});
    srv.advance(5);
    let changed: NodeLease = srv.post("/api/v1/nodes/n1/heartbeat", &vtep).await.ok();
    assert_eq!(changed.spec.backend_data["vtepMAC"], "02:00:00:00:00:01");
    assert!(rv_of(&changed) > rv_of(&before));
    srv.advance(5);
    let again: NodeLease = srv.post("/api/v1/nodes/n1/heartbeat", &vtep).await.ok();
    assert_eq!(again, changed);

    let watch = |path: &str| format!("{path}?watch=true&resourceVersion={from}&timeoutSeconds=1");
    let [cidr, renewals]: [Vec<WatchLine>; 2] =
        srv.watch_all(&[watch("/api/v1/nodeleases"), watch(LEASES)]).await.try_into().unwrap();
    assert_eq!(cidr.iter().map(WatchLine::short).collect::<Vec<_>>(), ["MODIFIED n1"]);
    assert_eq!(cidr[0].object["spec"]["backendData"]["vtepMAC"], "02:00:00:00:00:01");
    assert_eq!(renewals.iter().map(WatchLine::short).collect::<Vec<_>>(), ["MODIFIED n1"; 3]);
    let renewed = renewal(&srv, "n1").await;
    assert_eq!(renewed.spec.holder_identity.as_deref(), Some("n1"));
    assert_eq!(renewed.spec.lease_duration_seconds, Some(TTL as i32));
}

/// The node stops renewing its Lease while its CIDR lease is untouched: it still turns
/// NotReady at the TTL and loses its CIDR after the grace, both read from the Lease.
#[tokio::test]
async fn expiry_reads_the_renewal_from_the_lease() {
    let srv = server().await;
    srv.ready_node("n1", "192.168.50.1").await;
    srv.advance(TTL - 5);
    srv.heartbeat("n1").await;
    let renewed_at = srv.clock.now();
    // The CIDR lease was written at registration only; the node is alive by its Lease.
    srv.advance(10);
    srv.tick().await;
    assert_ready(&srv, "n1", ConditionStatus::True, "LeaseRenewed").await;
    srv.advance(TTL - 10);
    srv.tick().await;
    assert_eq!(srv.clock.now(), renewed_at + chrono::Duration::seconds(TTL));
    assert_ready(&srv, "n1", ConditionStatus::False, "LeaseExpired").await;
    srv.advance(GRACE);
    srv.tick().await;
    srv.lease("n1").await.error(404, "NotFound", None);
    // The Lease stays (the node may come back); deleting the node deletes it.
    assert_eq!(renewal(&srv, "n1").await.spec.renew_time, Some(renewed_at));
}

/// A CIDR lease with no Lease (a store from before Leases, or an admin deleted it) gets one
/// renewed at the tick: the node has one TTL from then, not from long ago.
#[tokio::test]
async fn a_missing_lease_gives_the_node_one_ttl() {
    let srv = server().await;
    srv.ready_node("n1", "192.168.50.1").await;
    srv.delete(&format!("{LEASES}/n1")).await.ok::<Lease>();
    srv.advance(TTL * 3);
    srv.tick().await;
    assert_ready(&srv, "n1", ConditionStatus::True, "LeaseRenewed").await;
    assert_eq!(renewal(&srv, "n1").await.spec.renew_time, Some(srv.clock.now()));
    srv.advance(TTL);
    srv.tick().await;
    assert_ready(&srv, "n1", ConditionStatus::False, "LeaseExpired").await;
}

/// Deleting a node deletes its Lease and forgets its policy counters report.
#[tokio::test]
async fn deleting_a_node_deletes_its_lease_and_its_policy_counters() {
    let srv = server().await;
    srv.ready_node("n1", "192.168.50.1").await;
    srv.ready_node("n2", "192.168.50.2").await;
    let counter = |packets: u64| {
        json!({"items": [{"kind": "NetworkPolicy", "namespace": "x", "name": "deny", "direction": "Ingress",
            "action": "Deny", "packets": packets, "bytes": packets * 60}]})
    };
    for (node, packets) in [("n1", 5), ("n2", 7)] {
        srv.put(&format!("/api/v1/nodes/{node}/policycounters"), &counter(packets)).await.ok::<serde_json::Value>();
    }
    let packets = |v: &serde_json::Value| {
        v["items"].as_array().unwrap().iter().map(|c| c["packets"].as_u64().unwrap()).sum::<u64>()
    };
    assert_eq!(packets(&srv.get("/api/v1/policycounters").await.json()), 12);

    srv.delete("/api/v1/nodes/n1").await.ok::<openapi::Node>();
    srv.get(&format!("{LEASES}/n1")).await.error(404, "NotFound", None);
    assert!(renewal(&srv, "n2").await.spec.renew_time.is_some());
    // The report is dropped when this server's change feed brings the deletion.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = packets(&srv.get("/api/v1/policycounters").await.json());
        if now == 7 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "n1's report is still summed: {now} packets");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // A node registering under the same name starts with no report.
    srv.ready_node("n1", "192.168.50.1").await;
    assert_eq!(packets(&srv.get("/api/v1/policycounters").await.json()), 7);
}

/// Leases are served like every kind: discovery in `coordination.k8s.io/v1`, kubectl's
/// table (NAME HOLDER AGE), and the admin's own leases anywhere (leader election).
#[tokio::test]
async fn leases_are_a_kubernetes_kind() {
    let srv = server().await;
    srv.ready_node("n1", "192.168.50.1").await;
    let groups = srv.get("/apis").await.expect(200);
    assert!(groups["groups"].as_array().unwrap().iter().any(|g| g["name"] == "coordination.k8s.io"), "{groups}");
    let v1 = srv.get("/apis/coordination.k8s.io/v1").await.expect(200);
    let r = v1["resources"].as_array().unwrap().iter().find(|r| r["name"] == "leases").expect("leases listed");
    assert_eq!((&r["kind"], &r["namespaced"]), (&json!("Lease"), &json!(true)));
    let table = srv
        .send(Req::get(LEASES).header("accept", "application/json;as=Table;v=v1;g=meta.k8s.io").token(ADMIN))
        .await
        .expect(200);
    let headers: Vec<&str> =
        table["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(headers, ["Name", "Holder", "Age"]);
    assert_eq!(table["rows"][0]["cells"][1], "n1");

    // An admin's own lease, as client-go's leader election writes it.
    let mine = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "my-controller"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15, "acquireTime": "2030-01-01T00:00:00.123456Z",
                 "renewTime": "2030-01-01T00:00:00.123456789Z", "leaseTransitions": 0}});
    let path = "/apis/coordination.k8s.io/v1/namespaces/default/leases";
    let created = srv.post(path, &mine).await.expect(201);
    assert_eq!(created["spec"]["renewTime"], "2030-01-01T00:00:00.123456Z", "a MicroTime keeps microseconds");
    let mut bad = mine.clone();
    bad["metadata"]["name"] = json!("bad");
    bad["spec"]["leaseDurationSeconds"] = json!(0);
    srv.post(path, &bad).await.error(422, "Invalid", Some("spec.leaseDurationSeconds"));
    srv.delete(&format!("{path}/my-controller")).await.ok::<Lease>();
}
