//! Errors: 409 for existing names and stale resourceVersions; every validation failure is a
//! 4xx JSON `Status` (`code`, `reason`, `message`, `field`) naming the offending field; wrong
//! content type 415, too large 413, bad selectors 400; and a refused request changes nothing.

mod common;

use common::*;
use openapi::{List, Node, Pod, Service};
use serde_json::{json, Value};

/// Revision and object counts: what a refused request must leave as it was.
async fn state(srv: &TestServer) -> (i64, usize, usize, usize, usize) {
    let count = |path: &'static str| async move { srv.get(path).await.json()["items"].as_array().unwrap().len() };
    (
        srv.revision(),
        count("/api/v1/pods").await,
        count("/api/v1/services").await,
        count("/api/v1/nodes").await,
        count("/api/v1/endpoints").await,
    )
}

fn pod_json(name: &str) -> Value {
    serde_json::to_value(Pod::from(pod(name).labels(&[("app", "web")]).port("http", 8080))).unwrap()
}

fn service_json(name: &str) -> Value {
    serde_json::to_value(Service::from(service(name).selector(&[("app", "web")]).port(80, 8080))).unwrap()
}

/// `base` with `edit` applied.
fn with(mut base: Value, edit: impl FnOnce(&mut Value)) -> Value {
    edit(&mut base);
    base
}

#[tokio::test]
async fn existing_names_and_stale_versions_answer_409() {
    let srv = TestServer::start().await;
    let n1 = srv.ready_node("n1", "192.168.50.1").await;
    let p = srv.create_pod(pod("web-1")).await;
    let s = srv.create_service(service("web").port(80, 8080)).await;
    let before = state(&srv).await;

    let pods = format!("/api/v1/namespaces/{NS}/pods");
    let services = format!("/api/v1/namespaces/{NS}/services");
    srv.post(&pods, &Pod::from(pod("web-1"))).await.error(409, "AlreadyExists", None);
    srv.post(&services, &Service::from(service("web").port(81, 81))).await.error(409, "AlreadyExists", None);
    srv.post("/api/v1/nodes", &Node::from(node("n1"))).await.error(409, "AlreadyExists", None);
    assert_eq!(state(&srv).await, before);
    // The same name in another namespace is another object.
    srv.post("/api/v1/namespaces/other/pods", &Pod::from(pod("web-1"))).await.expect(201);

    // Move every object on, then write with the version read before.
    let mut p2 = p.clone();
    p2.metadata.labels.insert("v".into(), "2".into());
    srv.put(&pod_path("web-1"), &p2).await.ok::<Pod>();
    let mut s2 = s.clone();
    s2.metadata.labels.insert("v".into(), "2".into());
    srv.put(&service_path("web"), &s2).await.ok::<Service>();
    let mut n2 = n1.clone();
    n2.metadata.labels.insert("v".into(), "2".into());
    srv.put("/api/v1/nodes/n1", &n2).await.ok::<Node>();
    let before = state(&srv).await;

    let mut stale = p.clone();
    stale.metadata.labels.insert("v".into(), "3".into());
    let status = srv.put(&pod_path("web-1"), &stale).await.error(409, "Conflict", None);
    assert!(status.message.contains(&rv_of(&p).to_string()), "{status:?}");
    srv.put(&format!("{}/status", pod_path("web-1")), &running_ready(p.clone(), true))
        .await
        .error(409, "Conflict", None);
    srv.put(&service_path("web"), &s).await.error(409, "Conflict", None);
    srv.put("/api/v1/nodes/n1", &n1).await.error(409, "Conflict", None);
    srv.put("/api/v1/nodes/n1/status", &n1).await.error(409, "Conflict", None);
    assert_eq!(state(&srv).await, before);
    assert_eq!(srv.pod("web-1").await.metadata.labels.get("v").map(String::as_str), Some("2"));
    // Without a resourceVersion the write is unconditional.
    let mut blind = srv.pod("web-1").await;
    blind.metadata.resource_version = None;
    blind.metadata.labels.insert("v".into(), "4".into());
    srv.put(&pod_path("web-1"), &blind).await.ok::<Pod>();
}

#[tokio::test]
async fn validation_failures_name_the_field_and_change_nothing() {
    let srv = TestServer::start().await;
    srv.ready_node("n1", "192.168.50.1").await;
    srv.create_pod(pod("existing")).await;
    srv.create_service(service("existing").port(80, 80)).await;
    let pods = format!("/api/v1/namespaces/{NS}/pods");
    let services = format!("/api/v1/namespaces/{NS}/services");
    let long = "a".repeat(64);

    let cases: Vec<(&str, String, Value, u16, &str, String)> = vec![
        // names
        ("pod name not DNS-1123", pods.clone(), pod_json("Web_1"), 422, "Invalid", "metadata.name".into()),
        ("pod name too long", pods.clone(), pod_json(&"a".repeat(254)), 422, "Invalid", "metadata.name".into()),
        ("pod name empty", pods.clone(), pod_json(""), 422, "Invalid", "metadata.name".into()),
        ("service name not DNS-1035", services.clone(), service_json("1web"), 422, "Invalid", "metadata.name".into()),
        ("service name with a dot", services.clone(), service_json("web.x"), 422, "Invalid", "metadata.name".into()),
        (
            "node name",
            "/api/v1/nodes".into(),
            json!({"metadata": {"name": "bad..name"}}),
            422,
            "Invalid",
            "metadata.name".into(),
        ),
        (
            "namespace on a node",
            "/api/v1/nodes".into(),
            json!({"metadata": {"name": "n9", "namespace": "default"}}),
            422,
            "Invalid",
            "metadata.namespace".into(),
        ),
        (
            "node address",
            "/api/v1/nodes".into(),
            json!({"metadata": {"name": "n9"}, "status": {"addresses": [{"type": "InternalIP", "address": "nope"}]}}),
            422,
            "Invalid",
            "status.addresses[0].address".into(),
        ),
        // labels
        (
            "label key",
            pods.clone(),
            with(pod_json("p"), |v| v["metadata"]["labels"]["bad key"] = json!("x")),
            422,
            "Invalid",
            "metadata.labels[bad key]".into(),
        ),
        (
            "label key prefix",
            pods.clone(),
            with(pod_json("p"), |v| v["metadata"]["labels"]["Bad_Prefix/x"] = json!("x")),
            422,
            "Invalid",
            "metadata.labels[Bad_Prefix/x]".into(),
        ),
        (
            "label value",
            pods.clone(),
            with(pod_json("p"), |v| v["metadata"]["labels"]["app"] = json!("-web")),
            422,
            "Invalid",
            "metadata.labels[app]".into(),
        ),
        (
            "label value too long",
            pods.clone(),
            with(pod_json("p"), |v| v["metadata"]["labels"]["app"] = json!(long)),
            422,
            "Invalid",
            "metadata.labels[app]".into(),
        ),
        (
            "selector value",
            services.clone(),
            with(service_json("s"), |v| v["spec"]["selector"]["app"] = json!("a b")),
            422,
            "Invalid",
            "spec.selector[app]".into(),
        ),
        // ports
        (
            "service port too large",
            services.clone(),
            with(service_json("s"), |v| v["spec"]["ports"][0]["port"] = json!(70000)),
            422,
            "Invalid",
            "spec.ports[0].port".into(),
        ),
        (
            "service port zero",
            services.clone(),
            with(service_json("s"), |v| v["spec"]["ports"][0]["port"] = json!(0)),
            422,
            "Invalid",
            "spec.ports[0].port".into(),
        ),
        (
            "target port too large",
            services.clone(),
            with(service_json("s"), |v| v["spec"]["ports"][0]["targetPort"] = json!(65536)),
            422,
            "Invalid",
            "spec.ports[0].targetPort".into(),
        ),
        (
            "container port",
            pods.clone(),
            with(pod_json("p"), |v| v["spec"]["containers"][0]["ports"][0]["containerPort"] = json!(-1)),
            422,
            "Invalid",
            "spec.containers[0].ports[0].containerPort".into(),
        ),
        (
            "protocol",
            services.clone(),
            with(service_json("s"), |v| v["spec"]["ports"][0]["protocol"] = json!("SCTP")),
            400,
            "BadRequest",
            "spec.ports[0].protocol".into(),
        ),
        (
            "container protocol",
            pods.clone(),
            with(pod_json("p"), |v| v["spec"]["containers"][0]["ports"][0]["protocol"] = json!("tcp")),
            400,
            "BadRequest",
            "spec.containers[0].ports[0].protocol".into(),
        ),
        (
            "port not a number",
            services.clone(),
            with(service_json("s"), |v| v["spec"]["ports"][0]["port"] = json!("eighty")),
            400,
            "BadRequest",
            "spec.ports[0].port".into(),
        ),
        (
            "duplicate port names",
            services.clone(),
            with(service_json("s"), |v| {
                v["spec"]["ports"] = json!([{"name": "http", "port": 80}, {"name": "http", "port": 81}])
            }),
            422,
            "Invalid",
            "spec.ports[1].name".into(),
        ),
        (
            "missing port names",
            services.clone(),
            with(service_json("s"), |v| v["spec"]["ports"] = json!([{"port": 80}, {"port": 81}])),
            422,
            "Invalid",
            "spec.ports[0].name".into(),
        ),
        (
            "no ports",
            services.clone(),
            with(service_json("s"), |v| v["spec"]["ports"] = json!([])),
            422,
            "Invalid",
            "spec.ports".into(),
        ),
        (
            "nodePort outside the range",
            services.clone(),
            with(service_json("s"), |v| {
                v["spec"]["type"] = json!("NodePort");
                v["spec"]["ports"][0]["nodePort"] = json!(40000);
            }),
            422,
            "Invalid",
            "spec.ports[0].nodePort".into(),
        ),
        (
            "cluster IP not an address",
            services.clone(),
            with(service_json("s"), |v| v["spec"]["clusterIP"] = json!("none-such")),
            422,
            "Invalid",
            "spec.clusterIP".into(),
        ),
        // containers
        (
            "typo in a container",
            pods.clone(),
            with(pod_json("p"), |v| v["spec"]["containers"][0]["comand"] = json!(["sh"])),
            400,
            "BadRequest",
            "spec.containers[0].comand".into(),
        ),
        (
            "typo in metadata",
            pods.clone(),
            with(pod_json("p"), |v| v["metadata"]["lables"] = json!({})),
            400,
            "BadRequest",
            "metadata.lables".into(),
        ),
        (
            "typo at the top",
            services.clone(),
            with(service_json("s"), |v| v["sepc"] = json!({})),
            400,
            "BadRequest",
            "sepc".into(),
        ),
        (
            "no containers",
            pods.clone(),
            with(pod_json("p"), |v| v["spec"]["containers"] = json!([])),
            422,
            "Invalid",
            "spec.containers".into(),
        ),
        (
            "no command",
            pods.clone(),
            with(pod_json("p"), |v| v["spec"]["containers"][0]["command"] = json!([])),
            422,
            "Invalid",
            "spec.containers[0].command".into(),
        ),
        (
            "env name",
            pods.clone(),
            with(pod_json("p"), |v| v["spec"]["containers"][0]["env"] = json!([{"name": "1X", "value": "y"}])),
            422,
            "Invalid",
            "spec.containers[0].env[0].name".into(),
        ),
        (
            "container name",
            pods.clone(),
            with(pod_json("p"), |v| v["spec"]["containers"][0]["name"] = json!("Main")),
            422,
            "Invalid",
            "spec.containers[0].name".into(),
        ),
        (
            "node name of a pod",
            pods.clone(),
            with(pod_json("p"), |v| v["spec"]["nodeName"] = json!("N1")),
            422,
            "Invalid",
            "spec.nodeName".into(),
        ),
        (
            "probe",
            pods.clone(),
            with(pod_json("p"), |v| v["spec"]["containers"][0]["readinessProbe"] = json!({})),
            422,
            "Invalid",
            "spec.containers[0].readinessProbe".into(),
        ),
        // type
        ("kind", pods.clone(), with(pod_json("p"), |v| v["kind"] = json!("Service")), 422, "Invalid", "kind".into()),
        (
            "apiVersion",
            pods.clone(),
            with(pod_json("p"), |v| v["apiVersion"] = json!("v2")),
            422,
            "Invalid",
            "apiVersion".into(),
        ),
    ];
    let before = state(&srv).await;
    for (what, path, body, status, reason, field) in cases {
        let resp = srv.post(&path, &body).await;
        assert_eq!(resp.status.as_u16(), status, "{what}: {}", resp.text());
        let s = resp.error(status, reason, Some(&field));
        assert!(s.message.contains(&field) || reason == "Invalid", "{what}: the message names the field: {s:?}");
        assert_eq!(state(&srv).await, before, "{what} changed something");
    }

    // Updates are validated too, and the object stays as it was.
    let existing = srv.pod("existing").await;
    let mut bad = serde_json::to_value(&existing).unwrap();
    bad["metadata"]["labels"]["bad key"] = json!("x");
    srv.put(&pod_path("existing"), &bad).await.error(422, "Invalid", Some("metadata.labels[bad key]"));
    let mut bad = serde_json::to_value(srv.get(&service_path("existing")).await.ok::<Service>()).unwrap();
    bad["spec"]["ports"][0]["port"] = json!(99999);
    srv.put(&service_path("existing"), &bad).await.error(422, "Invalid", Some("spec.ports[0].port"));
    assert_eq!(srv.pod("existing").await, existing);

    // Malformed JSON: 400, naming the field where the parser got to one.
    let resp = srv.send(Req::post(&pods).raw("not json", "application/json").token(ADMIN)).await;
    assert_eq!(resp.error(400, "BadRequest", None).field, None);
    let resp = srv.send(Req::post(&pods).raw("{\"metadata\": {\"name\": 5}}", "application/json").token(ADMIN)).await;
    resp.error(400, "BadRequest", Some("metadata.name"));
    // Heartbeats and tokens are checked as well.
    srv.send(Req::post("/api/v1/nodes/n1/heartbeat").json(&json!({"backendData": {"bad key": "x"}})).token(ADMIN))
        .await
        .error(422, "Invalid", Some("backendData[bad key]"));
    srv.send(Req::post("/api/v1/nodes/n1/heartbeat").json(&json!({"backendDta": {}})).token(ADMIN)).await.error(
        400,
        "BadRequest",
        Some("backendDta"),
    );
    srv.send(Req::post("/api/v1/nodes/Bad_Node/token").token(ADMIN)).await.error(422, "Invalid", Some("metadata.name"));
    assert_eq!(state(&srv).await, before);
}

#[tokio::test]
async fn content_type_and_body_size() {
    let srv = TestServer::builder().max_body(4096).start().await;
    let pods = format!("/api/v1/namespaces/{NS}/pods");
    let body = serde_json::to_vec(&pod_json("p")).unwrap();
    let before = state(&srv).await;
    for ct in ["text/plain", "application/x-www-form-urlencoded", "application/jsonl"] {
        srv.send(Req::post(&pods).raw(body.clone(), ct).token(ADMIN)).await.error(415, "UnsupportedMediaType", None);
    }
    // No content type at all: read as JSON (as Kubernetes does), and an empty body is not.
    let no_ct = Req::new(axum::http::Method::PUT, &pod_path("p")).token(ADMIN);
    srv.send(no_ct).await.error(400, "BadRequest", None);

    // Just under the limit: fine. Over it: 413.
    let sized = |n: usize| with(pod_json("big"), |v| v["metadata"]["annotations"]["note"] = json!("x".repeat(n)));
    let over = serde_json::to_vec(&sized(5000)).unwrap();
    assert!(over.len() > 4096);
    srv.send(Req::post(&pods).raw(over, "application/json").token(ADMIN)).await.error(
        413,
        "RequestEntityTooLarge",
        None,
    );
    assert_eq!(state(&srv).await, before);
    let base = serde_json::to_vec(&sized(0)).unwrap().len();
    let under = serde_json::to_vec(&sized(4096 - base)).unwrap();
    assert_eq!(under.len(), 4096);
    srv.send(Req::post(&pods).raw(under, "application/json; charset=utf-8").token(ADMIN)).await.expect(201);
}

#[tokio::test]
async fn bad_list_and_watch_parameters_answer_400() {
    let srv = TestServer::start().await;
    srv.create_pod(pod("p").labels(&[("app", "web")])).await;
    for selector in ["app%20in%20(web", "app%3D%3D%3Dweb", "bad%20key%3Dx", "app%3D-x", "%3Dweb"] {
        for path in ["/api/v1/pods", "/api/v1/namespaces/default/pods", "/api/v1/services", "/api/v1/nodes"] {
            let status = srv.get(&format!("{path}?labelSelector={selector}")).await.error(400, "BadRequest", None);
            assert!(status.message.contains("labelSelector"), "{status:?}");
        }
        srv.get(&format!("/api/v1/pods?watch=true&labelSelector={selector}")).await.error(400, "BadRequest", None);
    }
    srv.get("/api/v1/pods?watch=maybe").await.error(400, "BadRequest", None);
    srv.get("/api/v1/pods?timeoutSeconds=-1").await.error(400, "BadRequest", None);
    srv.get("/api/v1/services?fieldSelector=spec.nodeName%3Dn1").await.error(400, "BadRequest", None);
    // Good selectors still work.
    let l: List<Pod> = srv.get("/api/v1/pods?labelSelector=app%20notin%20(db),!canary").await.ok();
    assert_eq!(l.items.len(), 1);
}

/// An unknown API path is a JSON 404 like every other error.
#[tokio::test]
async fn unknown_api_paths_answer_json_not_found() {
    let srv = TestServer::start().await;
    for path in ["/api/v1/widgets", "/api/v2/pods", "/apis/networking.k8s.io/v1/whatever"] {
        let resp = srv.get(path).await;
        assert_eq!(resp.status.as_u16(), 404, "{path}");
        let status: openapi::Status = serde_json::from_slice(&resp.body).expect("a JSON Status");
        assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"), "{path}");
    }
}
