//! Every route of the API: health, metrics, the OpenAPI document, the cluster configuration,
//! and the CRUD paths of nodes, node leases, pods, services and (read-only) endpoints.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use openapi::{ClusterConfig, ConditionStatus, Endpoints, List, Node, NodeLease, Pod, PodPhase, Service, ServiceType};
use serde_json::json;
use tower::ServiceExt;

#[tokio::test]
async fn healthz_openapi_and_cluster_config() {
    let srv = TestServer::builder().pod_cidr("10.50.0.0/16", 26).lease(30, 600).start().await;

    let health = srv.get("/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.text(), "ok");

    let doc = srv.get("/openapi.json").await.expect(200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{}", doc["openapi"]);
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/healthz",
        "/api/v1/clusterconfig",
        "/api/v1/nodes",
        "/api/v1/nodes/{name}",
        "/api/v1/nodes/{name}/status",
        "/api/v1/nodes/{name}/heartbeat",
        "/api/v1/nodes/{name}/token",
        "/api/v1/nodeleases",
        "/api/v1/nodeleases/{name}",
        "/api/v1/pods",
        "/api/v1/namespaces/{namespace}/pods",
        "/api/v1/namespaces/{namespace}/pods/{name}",
        "/api/v1/namespaces/{namespace}/pods/{name}/status",
        "/api/v1/services",
        "/api/v1/namespaces/{namespace}/services/{name}",
        "/api/v1/namespaces/{namespace}/endpoints/{name}",
    ] {
        assert!(paths.contains_key(p), "{p} missing from /openapi.json");
    }
    for schema in ["Pod", "Service", "Node", "NodeLease", "Endpoints", "Status"] {
        assert!(doc["components"]["schemas"].get(schema).is_some(), "schema {schema} missing");
    }

    let cfg: ClusterConfig = srv.get("/api/v1/clusterconfig").await.ok();
    assert_eq!(cfg.pod_cidr, "10.50.0.0/16");
    assert_eq!(cfg.node_subnet_prefix, 26);
    assert_eq!(cfg.service_cidr, "10.96.0.0/16");
    assert_eq!((cfg.node_port_range.min, cfg.node_port_range.max), (30000, 32767));
    assert_eq!((cfg.lease_ttl_seconds, cfg.lease_grace_seconds), (30, 600));
    // The configured subnet size is the one handed out.
    let n = srv.create_node(node("n1")).await;
    assert_eq!(n.spec.pod_cidr.as_deref(), Some("10.50.0.0/26"));
}

#[tokio::test]
async fn metrics_count_requests_watchers_and_objects() {
    let srv = TestServer::start().await;
    srv.get("/healthz").await;
    srv.get("/healthz").await;
    srv.get("/api/v1/nodes/nope").await;
    srv.ready_node("n1", "192.168.50.1").await;
    srv.ready_node("n2", "192.168.50.2").await;
    for name in ["a", "b", "c"] {
        srv.create_pod(pod(name)).await;
    }
    srv.create_service(service("web").selector(&[("app", "web")]).port(80, 8080)).await;

    let text = srv.metrics_text().await;
    let total = |route: &str, method: &str, code: u16| {
        metric(
            &text,
            &format!("flatnet_apiserver_requests_total{{method=\"{method}\",route=\"{route}\",code=\"{code}\"}}"),
        )
    };
    assert_eq!(total("/healthz", "GET", 200), Some(2.0), "{text}");
    // Routes are labelled by template, never by object name.
    assert_eq!(total("/api/v1/nodes/{name}", "GET", 404), Some(1.0), "{text}");
    assert_eq!(total("/api/v1/namespaces/{namespace}/pods", "POST", 201), Some(3.0), "{text}");
    assert_eq!(total("/api/v1/nodes/{name}/heartbeat", "POST", 200), Some(2.0), "{text}");
    assert!(!text.contains("/api/v1/nodes/nope"), "{text}");
    assert!(
        text.contains("flatnet_apiserver_request_duration_seconds_count{method=\"GET\",route=\"/healthz\"} 2"),
        "{text}"
    );
    let objects = |kind: &str| metric(&text, &format!("flatnet_apiserver_objects{{kind=\"{kind}\"}}"));
    assert_eq!(objects("Node"), Some(2.0));
    assert_eq!(objects("NodeLease"), Some(2.0));
    assert_eq!(objects("Pod"), Some(3.0));
    assert_eq!(objects("Service"), Some(1.0));
    assert_eq!(objects("Endpoints"), Some(1.0));
    assert_eq!(metric(&text, "flatnet_apiserver_watch_clients"), Some(0.0));

    // A watch counts while its stream is open, and stops counting when the client leaves.
    let req = Request::get("/api/v1/pods?watch=true")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .body(Body::empty())
        .unwrap();
    let open = srv.app.clone().oneshot(req).await.unwrap();
    assert_eq!(open.status(), StatusCode::OK);
    wait_for_gauge(&srv, 1.0).await;
    drop(open);
    wait_for_gauge(&srv, 0.0).await;
    // The scrape itself was counted.
    let text = srv.metrics_text().await;
    assert!(
        metric(&text, "flatnet_apiserver_requests_total{method=\"GET\",route=\"/metrics\",code=\"200\"}").unwrap()
            >= 3.0
    );
}

async fn wait_for_gauge(srv: &TestServer, want: f64) {
    for _ in 0..200 {
        if metric(&srv.metrics_text().await, "flatnet_apiserver_watch_clients") == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("watch client gauge never reached {want}: {}", srv.metrics_text().await);
}

#[tokio::test]
async fn nodes_crud_status_heartbeat_token_and_leases() {
    let srv = TestServer::start().await;

    let created: Node = srv.post("/api/v1/nodes", &Node::from(node("n1").ip("192.168.50.1"))).await.expect(201).pipe();
    assert_eq!(created.spec.pod_cidr.as_deref(), Some("10.244.0.0/24"));
    assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());
    assert_eq!(rv_of(&created), srv.revision());
    let ready = ready_condition(&created).unwrap();
    assert_eq!(ready.status, ConditionStatus::Unknown);
    assert_eq!(ready.reason.as_deref(), Some("NodeStatusNeverUpdated"));
    assert_eq!(srv.node("n1").await, created);

    let n2 = srv.create_node(node("n2").ip("192.168.50.2")).await;
    assert_eq!(n2.spec.pod_cidr.as_deref(), Some("10.244.1.0/24"));
    let list: List<Node> = srv.get("/api/v1/nodes").await.ok();
    assert_eq!(list.kind, "NodeList");
    assert_eq!(list.items.iter().map(|n| n.metadata.name.as_str()).collect::<Vec<_>>(), ["n1", "n2"]);
    assert_eq!(list.metadata.resource_version, srv.revision().to_string());

    // Leases exist from registration on, and are readable.
    let leases: List<NodeLease> = srv.get("/api/v1/nodeleases").await.ok();
    assert_eq!(leases.items.len(), 2);
    let lease: NodeLease = srv.lease("n1").await.ok();
    assert_eq!(lease.spec.pod_cidr, "10.244.0.0/24");
    assert_eq!(lease.spec.gateway, "10.244.0.1");
    assert_eq!(lease.spec.node_ip.as_deref(), Some("192.168.50.1"));
    srv.lease("nope").await.error(404, "NotFound", None);

    // Replace: labels change; podCIDR and status are the server's.
    let mut put = created.clone();
    put.metadata.labels.insert("zone".into(), "a".into());
    put.spec.pod_cidr = Some("10.9.9.0/24".into());
    put.status.conditions[0].status = ConditionStatus::True;
    let replaced: Node = srv.put("/api/v1/nodes/n1", &put).await.ok();
    assert_eq!(replaced.metadata.labels["zone"], "a");
    assert_eq!(replaced.spec.pod_cidr.as_deref(), Some("10.244.0.0/24"));
    assert_eq!(ready_condition(&replaced).unwrap().status, ConditionStatus::Unknown);
    assert!(rv_of(&replaced) > rv_of(&created));

    // Status: addresses change (and the lease follows); metadata and conditions do not.
    let mut st = replaced.clone();
    st.metadata.labels.clear();
    st.status.addresses[0].address = "192.168.50.99".into();
    st.status.conditions[0].status = ConditionStatus::True;
    let after_status: Node = srv.put("/api/v1/nodes/n1/status", &st).await.ok();
    assert_eq!(after_status.internal_ip(), Some("192.168.50.99"));
    assert_eq!(after_status.metadata.labels["zone"], "a");
    assert!(!after_status.is_ready());
    let via_status: Node = srv.get("/api/v1/nodes/n1/status").await.ok();
    assert_eq!(via_status, after_status);
    let lease: NodeLease = srv.lease("n1").await.ok();
    assert_eq!(lease.spec.node_ip.as_deref(), Some("192.168.50.99"));

    // Heartbeat: renews the lease at the server's clock, publishes backend data, Ready.
    srv.advance(5);
    let hb: NodeLease = srv
        .send(
            Req::post("/api/v1/nodes/n1/heartbeat")
                .json(&json!({"backendData": {"vtepMAC": "02:00:00:00:00:01"}}))
                .token(ADMIN),
        )
        .await
        .ok();
    assert_eq!(hb.spec.acquire_time, lease.spec.acquire_time);
    assert_eq!(hb.spec.backend_data["vtepMAC"], "02:00:00:00:00:01");
    // ... and renews the node's Lease, a MicroTime with six fractional digits.
    let renewed = srv.get("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1").await.json();
    assert_eq!(renewed["spec"]["renewTime"], openapi::micro_time::format(&srv.clock.now()));
    assert!(renewed["spec"]["renewTime"].as_str().unwrap().ends_with(".000000Z"), "{renewed}");
    assert_eq!(renewed["spec"]["holderIdentity"], "n1");
    assert_eq!(renewed["spec"]["leaseDurationSeconds"], 20);
    let n1 = srv.node("n1").await;
    assert!(n1.is_ready());
    assert_eq!(ready_condition(&n1).unwrap().reason.as_deref(), Some("LeaseRenewed"));
    srv.send(Req::post("/api/v1/nodes/nope/heartbeat").json(&json!({})).token(ADMIN))
        .await
        .error(404, "NotFound", None);

    // Token: minted once, shown once.
    let tok = srv.send(Req::post("/api/v1/nodes/n1/token").token(ADMIN)).await.expect(201);
    assert_eq!(tok["nodeName"], "n1");
    let token = tok["token"].as_str().unwrap();
    assert_eq!(token.len(), 64);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(srv.node_token("n1").await, token);

    // Delete: the lease goes, the node's pods fail.
    srv.ready_node("n3", "192.168.50.3").await;
    let p = srv.create_pod(pod("on-n3").node("n3")).await;
    assert!(p.status.pod_ip.is_some());
    let deleted: Node = srv.delete("/api/v1/nodes/n3").await.ok();
    assert_eq!(deleted.metadata.name, "n3");
    srv.get("/api/v1/nodes/n3").await.error(404, "NotFound", None);
    srv.lease("n3").await.error(404, "NotFound", None);
    srv.delete("/api/v1/nodes/n3").await.error(404, "NotFound", None);
    let p = srv.pod("on-n3").await;
    assert_eq!(p.status.phase, PodPhase::Failed);
    assert_eq!(p.status.reason.as_deref(), Some("NodeDeleted"));
    assert_eq!(p.status.pod_ip, None);
    let list: List<Node> = srv.get("/api/v1/nodes").await.ok();
    assert_eq!(list.items.len(), 2);
}

#[tokio::test]
async fn pods_crud_lists_and_status() {
    let srv = TestServer::start().await;
    srv.ready_node("n1", "192.168.50.1").await;

    let web: Pod = srv
        .post(&format!("/api/v1/namespaces/{NS}/pods"), &Pod::from(pod("web-1").labels(&[("app", "web")])))
        .await
        .expect(201)
        .pipe();
    assert_eq!(web.metadata.namespace.as_deref(), Some(NS));
    assert_eq!(web.spec.node_name.as_deref(), Some("n1"));
    assert_eq!(web.status.host_ip.as_deref(), Some("192.168.50.1"));
    assert!(web.status.pod_ip.as_deref().unwrap().starts_with("10.244.0."));
    assert_eq!(pod_condition(&web, "PodScheduled").unwrap().status, ConditionStatus::True);
    // What the server owns is not taken from the client.
    let mut forged: Pod = pod("db-1").namespace("other").labels(&[("app", "db")]).into();
    forged.metadata.uid = Some("forged-uid".into());
    forged.metadata.resource_version = Some("999".into());
    forged.status = running_ready(forged.clone(), true).status;
    forged.status.pod_ip = Some("10.0.0.99".into());
    let db = srv.create_pod(forged).await;
    assert_ne!(db.metadata.uid.as_deref(), Some("forged-uid"));
    assert_eq!(rv_of(&db), srv.revision());
    assert_eq!(db.status.phase, PodPhase::Pending);
    assert!(!db.is_ready());
    assert_ne!(db.status.pod_ip.as_deref(), Some("10.0.0.99"));
    assert_eq!(db.metadata.namespace.as_deref(), Some("other"));
    srv.get("/api/v1/namespaces/other/pods/web-1").await.error(404, "NotFound", None);

    assert_eq!(srv.pod("web-1").await, web);
    let names = |l: List<Pod>| l.items.into_iter().map(|p| p.metadata.name).collect::<Vec<_>>();
    assert_eq!(names(srv.pods("/api/v1/namespaces/default/pods").await), ["web-1"]);
    assert_eq!(names(srv.pods("/api/v1/namespaces/other/pods").await), ["db-1"]);
    let all = srv.pods("/api/v1/pods").await;
    assert_eq!(all.kind, "PodList");
    assert_eq!(names(all), ["web-1", "db-1"]);
    assert_eq!(names(srv.pods("/api/v1/pods?labelSelector=app%3Ddb").await), ["db-1"]);
    assert_eq!(names(srv.pods("/api/v1/pods?labelSelector=app%20in%20(web,db)").await).len(), 2);
    assert_eq!(names(srv.pods("/api/v1/pods?fieldSelector=spec.nodeName%3Dn1").await).len(), 2);
    assert!(names(srv.pods("/api/v1/pods?fieldSelector=spec.nodeName%3Dn2").await).is_empty());
    assert_eq!(names(srv.pods("/api/v1/pods?fieldSelector=metadata.name%3Ddb-1").await), ["db-1"]);
    srv.get("/api/v1/pods?fieldSelector=spec.image%3Dx").await.error(400, "BadRequest", None);

    // Replace: metadata may change, the spec may not, the status is kept.
    let mut put = web.clone();
    put.metadata.labels.insert("tier".into(), "front".into());
    put.status.pod_ip = Some("10.0.0.99".into());
    let replaced: Pod = srv.put(&pod_path("web-1"), &put).await.ok();
    assert_eq!(replaced.metadata.labels["tier"], "front");
    assert_eq!(replaced.status, web.status);
    assert!(rv_of(&replaced) > rv_of(&web));
    let mut bad = replaced.clone();
    bad.spec.containers[0].command = vec!["true".into()];
    srv.put(&pod_path("web-1"), &bad).await.error(422, "Invalid", Some("spec"));
    srv.put(&pod_path("nope"), &Pod::from(pod("nope"))).await.error(404, "NotFound", None);
    // The name in the body must be the name in the path; so must the namespace.
    srv.put(&pod_path("other-name"), &replaced).await.error(400, "BadRequest", None);
    srv.post("/api/v1/namespaces/other/pods", &Pod::from(pod("x").namespace(NS))).await.error(400, "BadRequest", None);

    // Status: phase and conditions are the agent's; the pod IP stays the server's.
    let mut st = running_ready(replaced.clone(), true);
    st.status.pod_ip = Some("10.0.0.99".into());
    st.metadata.labels.clear();
    let after: Pod = srv.put(&format!("{}/status", pod_path("web-1")), &st).await.ok();
    assert_eq!(after.status.phase, PodPhase::Running);
    assert!(after.is_ready());
    assert_eq!(after.status.pod_ip, web.status.pod_ip);
    assert_eq!(after.metadata.labels, replaced.metadata.labels);
    let via_status: Pod = srv.get(&format!("{}/status", pod_path("web-1"))).await.ok();
    assert_eq!(via_status, after);

    let deleted: Pod = srv.delete(&pod_path("web-1")).await.ok();
    assert_eq!(deleted.metadata.uid, web.metadata.uid);
    assert!(rv_of(&deleted) > rv_of(&after));
    srv.get(&pod_path("web-1")).await.error(404, "NotFound", None);
    srv.delete(&pod_path("web-1")).await.error(404, "NotFound", None);
    assert!(srv.pods("/api/v1/namespaces/default/pods").await.items.is_empty());
    assert_eq!(srv.pods("/api/v1/pods").await.items.len(), 1);
}

#[tokio::test]
async fn services_crud() {
    let srv = TestServer::start().await;
    let created: Service = srv
        .post(
            &format!("/api/v1/namespaces/{NS}/services"),
            &Service::from(service("web").selector(&[("app", "web")]).port(80, 8080)),
        )
        .await
        .expect(201)
        .pipe();
    // Automatic cluster IPs start above the static band (.0-.15 are only handed out on request).
    assert_eq!(created.spec.cluster_ip.as_deref(), Some("10.96.0.16"));
    assert_eq!(created.spec.ports[0].node_port, None);
    let ep = srv.endpoints("web").await;
    assert!(ep.subsets.is_empty());

    srv.post("/api/v1/namespaces/other/services", &Service::from(service("dns").port(53, 53).cluster_ip("10.96.0.10")))
        .await
        .expect(201);
    let names = |l: List<Service>| l.items.into_iter().map(|s| s.metadata.name).collect::<Vec<_>>();
    assert_eq!(names(srv.get("/api/v1/services").await.ok()), ["web", "dns"]);
    assert_eq!(names(srv.get("/api/v1/namespaces/default/services").await.ok()), ["web"]);
    assert_eq!(srv.get(&service_path("web")).await.ok::<Service>(), created);

    // Replace: ports change, the cluster IP is kept (and may not change).
    let mut put = created.clone();
    put.spec.ports[0].port = 81;
    put.spec.cluster_ip = None;
    let replaced: Service = srv.put(&service_path("web"), &put).await.ok();
    assert_eq!(replaced.spec.ports[0].port, 81);
    assert_eq!(replaced.spec.cluster_ip, created.spec.cluster_ip);
    let mut moved = replaced.clone();
    moved.spec.cluster_ip = Some("10.96.0.77".into());
    srv.put(&service_path("web"), &moved).await.error(422, "Invalid", Some("spec.clusterIP"));

    // To NodePort and back: the node port is allocated, kept across updates, then released.
    let mut np = replaced.clone();
    np.spec.service_type = ServiceType::NodePort;
    let np: Service = srv.put(&service_path("web"), &np).await.ok();
    let port = np.spec.ports[0].node_port.expect("node port allocated");
    assert!((30000..=32767).contains(&port));
    let mut relabel = np.clone();
    relabel.metadata.labels.insert("x".into(), "y".into());
    relabel.spec.ports[0].node_port = None;
    let relabeled: Service = srv.put(&service_path("web"), &relabel).await.ok();
    assert_eq!(relabeled.spec.ports[0].node_port, Some(port));
    let mut back = relabeled.clone();
    back.spec.service_type = ServiceType::ClusterIP;
    back.spec.ports[0].node_port = None;
    let back: Service = srv.put(&service_path("web"), &back).await.ok();
    assert_eq!(back.spec.ports[0].node_port, None);
    let taker = srv.create_service(service("taker").port(80, 80).node_port(port)).await;
    assert_eq!(taker.spec.ports[0].node_port, Some(port));

    // Delete: the endpoints go with it and the cluster IP is free again.
    let deleted: Service = srv.delete(&service_path("web")).await.ok();
    assert_eq!(deleted.metadata.uid, created.metadata.uid);
    srv.get(&service_path("web")).await.error(404, "NotFound", None);
    srv.get(&format!("/api/v1/namespaces/{NS}/endpoints/web")).await.error(404, "NotFound", None);
    srv.delete(&service_path("web")).await.error(404, "NotFound", None);
    let again = srv.create_service(service("again").port(80, 80).cluster_ip("10.96.0.16")).await;
    assert_eq!(again.spec.cluster_ip.as_deref(), Some("10.96.0.16"));
}

#[tokio::test]
async fn endpoints_and_leases_are_read_only() {
    let srv = TestServer::start().await;
    srv.ready_node("n1", "192.168.50.1").await;
    srv.create_service(service("web").selector(&[("app", "web")]).port(80, 8080)).await;
    srv.create_pod(pod("web-1").labels(&[("app", "web")])).await;

    let all: List<Endpoints> = srv.get("/api/v1/endpoints").await.ok();
    assert_eq!(all.kind, "EndpointsList");
    assert_eq!(all.items.len(), 1);
    let ns: List<Endpoints> = srv.get(&format!("/api/v1/namespaces/{NS}/endpoints")).await.ok();
    assert_eq!(ns.items, all.items);
    let ep = srv.endpoints("web").await;
    assert_eq!(ep, all.items[0]);
    assert_eq!(endpoint_pods(&ep), (vec![], strings(&["web-1"])));
    srv.get(&format!("/api/v1/namespaces/{NS}/endpoints/nope")).await.error(404, "NotFound", None);

    let before = srv.revision();
    let collection = format!("/api/v1/namespaces/{NS}/endpoints");
    let object = format!("{collection}/web");
    for req in [
        Req::post(&collection).json(&ep).token(ADMIN),
        Req::put(&object).json(&ep).token(ADMIN),
        Req::delete(&object).token(ADMIN),
        Req::post("/api/v1/endpoints").json(&ep).token(ADMIN),
        Req::post("/api/v1/nodeleases").json(&json!({})).token(ADMIN),
        Req::put("/api/v1/nodeleases/n1").json(&json!({})).token(ADMIN),
        Req::delete("/api/v1/nodeleases/n1").token(ADMIN),
        Req::delete("/api/v1/pods").token(ADMIN),
    ] {
        let resp = srv.send(req).await;
        resp.error(405, "MethodNotAllowed", None);
        let allow = resp.headers.get(header::ALLOW).map(|v| v.to_str().unwrap().to_string());
        assert!(allow.as_deref().is_some_and(|a| a.contains("GET")), "{allow:?}");
    }
    assert_eq!(srv.revision(), before);
    assert_eq!(srv.endpoints("web").await, ep);
    assert!(srv.lease("n1").await.status.is_success());
}

/// `value.pipe()`: decode a JSON value into a typed object.
trait Pipe {
    fn pipe<T: serde::de::DeserializeOwned>(self) -> T;
}

impl Pipe for serde_json::Value {
    fn pipe<T: serde::de::DeserializeOwned>(self) -> T {
        serde_json::from_value(self).expect("decode")
    }
}
