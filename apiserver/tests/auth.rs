//! Authentication and authorization: every request but the health checks needs a bearer
//! token (401 without or with a wrong one; the scheme in any case); the viewer token reads
//! and writes nothing (403); a node-scoped token writes only its own node, its heartbeat
//! and the status of pods bound to it (403 for anything else) and reads no pod's log.

mod common;

use common::*;
use openapi::{Node, Pod, Service};
use serde_json::json;

/// Every write route, with a valid body where it takes one.
async fn write_requests(srv: &TestServer) -> Vec<(String, Req)> {
    // Without resourceVersions: unconditional writes, so that they can all succeed in turn.
    let mut n1 = srv.node("n1").await;
    n1.metadata.resource_version = None;
    let mut p = srv.pod("on-n1").await;
    p.metadata.resource_version = None;
    let mut s: Service = srv.get(&service_path("web")).await.ok();
    s.metadata.resource_version = None;
    let pods = format!("/api/v1/namespaces/{NS}/pods");
    let services = format!("/api/v1/namespaces/{NS}/services");
    let mut lease: openapi::Lease = srv.get(&node_lease("n1")).await.ok();
    lease.metadata.resource_version = None;
    let leases = format!("/apis/coordination.k8s.io/v1/namespaces/{NS}/leases");
    vec![
        ("create lease".into(), Req::post(&leases).json(&json!({"metadata": {"name": "mine"}, "spec": {}}))),
        ("replace lease".into(), Req::put(&node_lease("n1")).json(&lease)),
        ("delete lease".into(), Req::delete(&node_lease("n1"))),
        ("create node".into(), Req::post("/api/v1/nodes").json(&Node::from(node("n9")))),
        ("replace node".into(), Req::put("/api/v1/nodes/n1").json(&n1)),
        ("node status".into(), Req::put("/api/v1/nodes/n1/status").json(&n1)),
        ("delete node".into(), Req::delete("/api/v1/nodes/n1")),
        ("heartbeat".into(), Req::post("/api/v1/nodes/n1/heartbeat").json(&json!({}))),
        ("token".into(), Req::post("/api/v1/nodes/n1/token")),
        ("create pod".into(), Req::post(&pods).json(&Pod::from(pod("new")))),
        ("replace pod".into(), Req::put(&pod_path("on-n1")).json(&p)),
        ("pod status".into(), Req::put(&format!("{}/status", pod_path("on-n1"))).json(&running_ready(p.clone(), true))),
        ("delete pod".into(), Req::delete(&pod_path("on-n1"))),
        ("create service".into(), Req::post(&services).json(&Service::from(service("new").port(80, 80)))),
        ("replace service".into(), Req::put(&service_path("web")).json(&s)),
        ("delete service".into(), Req::delete(&service_path("web"))),
    ]
}

/// The path of node `node`'s heartbeat Lease.
fn node_lease(node: &str) -> String {
    format!("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}")
}

async fn cluster() -> TestServer {
    let srv = TestServer::start().await;
    srv.ready_node("n1", "192.168.50.1").await;
    srv.ready_node("n2", "192.168.50.2").await;
    srv.create_pod(pod("on-n1").node("n1")).await;
    srv.create_pod(pod("on-n2").node("n2")).await;
    srv.create_service(service("web").selector(&[("app", "web")]).port(80, 80)).await;
    srv
}

/// Every read path, with what it answers to the admin.
fn read_paths(before: i64) -> Vec<String> {
    vec![
        "/metrics".to_string(),
        "/openapi.json".into(),
        "/api/v1/clusterconfig".into(),
        "/api/v1/nodes".into(),
        "/api/v1/nodes/n1".into(),
        "/api/v1/nodes/n1/status".into(),
        "/api/v1/nodeleases".into(),
        "/api/v1/nodeleases/n1".into(),
        "/apis/coordination.k8s.io/v1/leases".into(),
        node_lease("n1"),
        "/api/v1/pods".into(),
        format!("/api/v1/namespaces/{NS}/pods"),
        pod_path("on-n1"),
        format!("{}/status", pod_path("on-n1")),
        "/api/v1/services".into(),
        format!("/api/v1/namespaces/{NS}/services"),
        service_path("web"),
        "/api/v1/endpoints".into(),
        format!("/api/v1/namespaces/{NS}/endpoints"),
        format!("/api/v1/namespaces/{NS}/endpoints/web"),
        format!("/api/v1/pods?watch=true&resourceVersion={before}&timeoutSeconds=0"),
    ]
}

#[tokio::test]
async fn no_request_but_health_succeeds_without_a_valid_token() {
    let srv = cluster().await;
    let before = srv.revision();
    for (what, req) in write_requests(&srv).await {
        let s = srv.send(req).await.error(401, "Unauthorized", None);
        assert!(s.message.contains("token"), "{what}: {s:?}");
    }
    for bad in ["Bearer wrong-token", "Basic dGVzdDp0ZXN0", "Bearer ", "test-admin-token", "Token test-admin-token"] {
        for (what, req) in write_requests(&srv).await {
            let resp = srv.send(req.authorization(bad)).await;
            assert_eq!(resp.status.as_u16(), 401, "{what} with {bad:?}: {}", resp.text());
            resp.error(401, "Unauthorized", None);
        }
        for path in read_paths(before) {
            srv.send(Req::get(&path).authorization(bad)).await.error(401, "Unauthorized", None);
        }
    }
    assert_eq!(srv.revision(), before, "refused writes changed nothing");
    for path in read_paths(before).into_iter().chain(["/api/v1/nope".into(), "/apis/x/v1".into()]) {
        let s = srv.send(Req::get(&path)).await.error(401, "Unauthorized", None);
        assert!(s.message.contains("bearer token"), "GET {path}: {s:?}");
    }
    // Health checks answer anyone, even with a broken header.
    for path in ["/healthz", "/livez", "/readyz"] {
        assert_eq!(srv.send(Req::get(path)).await.text(), "ok");
        assert_eq!(srv.send(Req::get(path).authorization("Basic x")).await.status.as_u16(), 200);
    }
    // Pod logs are the admin's only.
    let log = format!("{}/log", pod_path("on-n1"));
    srv.send(Req::get(&log)).await.error(401, "Unauthorized", None);
    srv.send(Req::get(&log).token(VIEWER)).await.error(403, "Forbidden", None);

    // The admin token reads all of it, and does every write.
    for path in read_paths(before) {
        let resp = srv.get(&path).await;
        assert_eq!(resp.status.as_u16(), 200, "GET {path}: {}", resp.text());
    }
    for (what, req) in write_requests(&srv).await {
        let resp = srv.send(req.token(ADMIN)).await;
        assert!(resp.status.is_success() || resp.status.as_u16() == 404, "{what}: {} {}", resp.status, resp.text());
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let srv = cluster().await;
    for (i, scheme) in ["Bearer", "bearer", "BEARER", "bEaReR"].into_iter().enumerate() {
        let resp = srv.send(Req::get("/api/v1/nodes").authorization(&format!("{scheme} {ADMIN}"))).await;
        assert_eq!(resp.status.as_u16(), 200, "{scheme}: {}", resp.text());
        let created = srv
            .send(
                Req::post(&format!("/api/v1/namespaces/{NS}/pods"))
                    .json(&Pod::from(pod(&format!("p-{i}"))))
                    .authorization(&format!("{scheme} {ADMIN}")),
            )
            .await;
        assert_eq!(created.status.as_u16(), 201, "{scheme}: {}", created.text());
    }
}

#[tokio::test]
async fn a_viewer_token_reads_everything_and_writes_nothing() {
    let srv = cluster().await;
    let before = srv.revision();
    for path in read_paths(before) {
        let resp = srv.send(Req::get(&path).token(VIEWER)).await;
        assert_eq!(resp.status.as_u16(), 200, "GET {path}: {}", resp.text());
    }
    for (what, req) in write_requests(&srv).await {
        let resp = srv.send(req.token(VIEWER)).await;
        assert_eq!(resp.status.as_u16(), 403, "{what}: {}", resp.text());
        let s = resp.error(403, "Forbidden", None);
        assert!(s.message.contains("viewer"), "{what}: {s:?}");
    }
    assert_eq!(srv.revision(), before, "refused writes changed nothing");
}

#[tokio::test]
async fn anonymous_reads_open_reads_only_when_asked_for() {
    let srv = TestServer::builder().anonymous_reads().start().await;
    srv.ready_node("n1", "192.168.50.1").await;
    srv.create_pod(pod("on-n1").node("n1")).await;
    srv.create_service(service("web").selector(&[("app", "web")]).port(80, 80)).await;
    let before = srv.revision();
    for path in read_paths(before) {
        let resp = srv.send(Req::get(&path)).await;
        assert_eq!(resp.status.as_u16(), 200, "GET {path}: {}", resp.text());
    }
    // Writes, pod logs and wrong tokens are refused as without the flag.
    srv.send(Req::post("/api/v1/nodes").json(&Node::from(node("n9")))).await.error(401, "Unauthorized", None);
    srv.send(Req::delete(&pod_path("on-n1"))).await.error(401, "Unauthorized", None);
    srv.send(Req::get(&format!("{}/log", pod_path("on-n1")))).await.error(401, "Unauthorized", None);
    srv.send(Req::get("/api/v1/nodes").token("wrong")).await.error(401, "Unauthorized", None);
    assert_eq!(srv.revision(), before);
}

#[tokio::test]
async fn a_node_token_writes_only_its_own_node_and_pods() {
    let srv = cluster().await;
    let token = srv.node_token("n1").await;
    let as_n1 = |req: Req| req.token(&token);
    let before = srv.revision();

    // Another node: 403.
    let n2 = srv.node("n2").await;
    let mut n2_labeled = n2.clone();
    n2_labeled.metadata.labels.insert("x".into(), "y".into());
    let forbidden = vec![
        ("replace another node", Req::put("/api/v1/nodes/n2").json(&n2_labeled)),
        ("status of another node", Req::put("/api/v1/nodes/n2/status").json(&n2)),
        ("heartbeat of another node", Req::post("/api/v1/nodes/n2/heartbeat").json(&json!({}))),
        ("register another node", Req::post("/api/v1/nodes").json(&Node::from(node("n9")))),
        ("delete its own node", Req::delete("/api/v1/nodes/n1")),
        ("mint a token", Req::post("/api/v1/nodes/n1/token")),
        (
            "status of a pod on another node",
            Req::put(&format!("{}/status", pod_path("on-n2"))).json(&running_ready(srv.pod("on-n2").await, true)),
        ),
        ("create a pod", Req::post(&format!("/api/v1/namespaces/{NS}/pods")).json(&Pod::from(pod("mine").node("n1")))),
        ("replace its own pod", Req::put(&pod_path("on-n1")).json(&srv.pod("on-n1").await)),
        ("delete its own pod", Req::delete(&pod_path("on-n1"))),
        (
            "create a service",
            Req::post(&format!("/api/v1/namespaces/{NS}/services")).json(&Service::from(service("s").port(80, 80))),
        ),
        ("delete a service", Req::delete(&service_path("web"))),
    ];
    // Nor read another node's pod logs (logs are the admin's).
    let forbidden = forbidden
        .into_iter()
        .chain([("log of a pod on another node", Req::get(&format!("{}/log", pod_path("on-n2"))))]);
    for (what, req) in forbidden {
        let resp = srv.send(as_n1(req)).await;
        assert_eq!(resp.status.as_u16(), 403, "{what}: {}", resp.text());
        resp.error(403, "Forbidden", None);
    }
    // A pod nobody has bound yet is no node's either.
    let mut cordon = srv.node("n1").await;
    cordon.spec.unschedulable = true;
    srv.put("/api/v1/nodes/n1", &cordon).await.ok::<Node>();
    let mut cordon = srv.node("n2").await;
    cordon.spec.unschedulable = true;
    srv.put("/api/v1/nodes/n2", &cordon).await.ok::<Node>();
    let unbound = srv.create_pod(pod("unbound")).await;
    assert_eq!(unbound.spec.node_name, None);
    let before_unbound = srv.revision();
    srv.send(as_n1(Req::put(&format!("{}/status", pod_path("unbound"))).json(&running_ready(unbound, true))))
        .await
        .error(403, "Forbidden", None);
    assert_eq!(srv.revision(), before_unbound);
    assert!(before < before_unbound);
    assert_eq!(srv.node("n2").await.metadata.labels.get("x"), None);

    // Its own node, heartbeat and pods: allowed.
    let mut n1 = srv.node("n1").await;
    n1.metadata.labels.insert("agent".into(), "v1".into());
    let n1: Node = srv.send(as_n1(Req::put("/api/v1/nodes/n1").json(&n1))).await.ok();
    assert_eq!(n1.metadata.labels["agent"], "v1");
    let mut st = n1.clone();
    st.status.addresses[0].address = "192.168.50.11".into();
    let n1: Node = srv.send(as_n1(Req::put("/api/v1/nodes/n1/status").json(&st))).await.ok();
    assert_eq!(n1.internal_ip(), Some("192.168.50.11"));
    srv.advance(1);
    srv.send(as_n1(Req::post("/api/v1/nodes/n1/heartbeat").json(&json!({})))).await.ok::<openapi::NodeLease>();
    let renewed: openapi::Lease = srv.send(as_n1(Req::get(&node_lease("n1")))).await.ok();
    assert_eq!(renewed.spec.renew_time, Some(srv.clock.now()));
    // Its own Lease in kube-node-lease it may write; another node's, or one elsewhere, not.
    let mut mine = renewed.clone();
    mine.spec.renew_time = Some(srv.clock.now());
    srv.send(as_n1(Req::put(&node_lease("n1")).json(&mine))).await.ok::<openapi::Lease>();
    let theirs: openapi::Lease = srv.get(&node_lease("n2")).await.ok();
    srv.send(as_n1(Req::put(&node_lease("n2")).json(&theirs))).await.error(403, "Forbidden", None);
    srv.send(as_n1(Req::delete(&node_lease("n2")))).await.error(403, "Forbidden", None);
    let forged = json!({"metadata": {"name": "n9"}, "spec": {"holderIdentity": "n9"}});
    let leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";
    srv.send(as_n1(Req::post(leases).json(&forged))).await.error(403, "Forbidden", None);
    let elsewhere = json!({"metadata": {"name": "n1"}, "spec": {"holderIdentity": "n1"}});
    srv.send(as_n1(Req::post("/apis/coordination.k8s.io/v1/namespaces/default/leases").json(&elsewhere))).await.error(
        403,
        "Forbidden",
        None,
    );
    assert_eq!(srv.get(&node_lease("n2")).await.ok::<openapi::Lease>(), theirs);
    let p: Pod = srv
        .send(as_n1(
            Req::put(&format!("{}/status", pod_path("on-n1"))).json(&running_ready(srv.pod("on-n1").await, true)),
        ))
        .await
        .ok();
    assert!(p.is_ready());

    // A token minted before its node exists lets the agent register that node.
    let t3 = srv.node_token("n3").await;
    let resp = srv.send(Req::post("/api/v1/nodes").json(&Node::from(node("n3").ip("192.168.50.3"))).token(&t3)).await;
    assert_eq!(resp.status.as_u16(), 201, "{}", resp.text());
    srv.send(Req::post("/api/v1/nodes/n3/heartbeat").json(&json!({})).token(&t3)).await.ok::<openapi::NodeLease>();
    // ... and nothing of n1.
    srv.send(Req::post("/api/v1/nodes/n1/heartbeat").json(&json!({})).token(&t3)).await.error(403, "Forbidden", None);
}

/// The token is checked before the body is read: a write without a token is 401 even when
/// its body is malformed, of the wrong type or too large.
#[tokio::test]
async fn authentication_comes_before_the_body() {
    let srv = TestServer::start().await;
    let pods = format!("/api/v1/namespaces/{NS}/pods");
    for req in [
        Req::post(&pods).raw("{not json", "application/json"),
        Req::post(&pods).raw("name: x", "text/yaml"),
        Req::put("/api/v1/nodes/n1").raw("[]", "application/json"),
    ] {
        let resp = srv.send(req).await;
        assert_eq!(resp.status.as_u16(), 401, "{}", resp.text());
    }
}
