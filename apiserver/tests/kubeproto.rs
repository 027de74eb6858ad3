//! What Kubernetes clients need from the API, through the router: `/version` and discovery,
//! `/openapi/v3`, Status errors for every failure, PATCH in every format and server-side
//! apply, `dryRun`, `fieldValidation` with warnings, `generateName`, field selectors, Tables,
//! and watches as Kubernetes answers them.

mod common;

use axum::http::Method;
use common::*;
use openapi::Pod;
use serde_json::{json, Value};

const TABLE: &str =
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

fn patch(path: &str, content_type: &str, body: Value) -> Req {
    Req::new(Method::PATCH, path).raw(serde_json::to_vec(&body).unwrap(), content_type).token(ADMIN)
}

fn warnings(resp: &Resp) -> Vec<String> {
    resp.headers.get_all("warning").iter().map(|v| v.to_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn version_and_discovery_come_from_the_registry() {
    let srv = TestServer::start().await;
    let version = srv.get("/version").await.expect(200);
    assert_eq!((&version["major"], &version["minor"]), (&json!("1"), &json!("32")));
    assert_eq!(srv.get("/api").await.expect(200)["versions"], json!(["v1"]));
    let v1 = srv.get("/api/v1").await.expect(200);
    assert_eq!(v1["kind"], "APIResourceList");
    let resources = v1["resources"].as_array().unwrap();
    for k in openapi::KINDS.iter().filter(|k| k.api_version == "v1") {
        let r = resources.iter().find(|r| r["name"] == k.plural).unwrap_or_else(|| panic!("{} missing", k.plural));
        assert_eq!((&r["kind"], &r["namespaced"]), (&json!(k.kind), &json!(k.namespaced)));
        assert_eq!(r["shortNames"].as_array().map_or(0, Vec::len), k.short_names.len());
    }
    assert!(resources.iter().any(|r| r["name"] == "pods/log"));
    assert_eq!(srv.get("/apis").await.expect(200)["kind"], "APIGroupList");
    // Aggregated discovery, as kubectl 1.32 asks for it.
    let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let agg = srv.send(Req::get("/api").header("accept", accept).token(ADMIN)).await;
    assert!(agg.headers["content-type"].to_str().unwrap().contains("as=APIGroupDiscoveryList"));
    let agg = agg.expect(200);
    let pods = agg["items"][0]["versions"][0]["resources"].as_array().unwrap().iter().find(|r| r["resource"] == "pods");
    let pods = pods.expect("pods in aggregated discovery");
    assert_eq!((&pods["scope"], &pods["shortNames"]), (&json!("Namespaced"), &json!(["po"])));
    let index = srv.get("/openapi/v3").await.expect(200);
    let url = index["paths"]["api/v1"]["serverRelativeURL"].as_str().unwrap().to_string();
    let doc = srv.get(&url).await.expect(200);
    assert_eq!(doc["components"]["schemas"]["Pod"]["x-kubernetes-group-version-kind"][0]["kind"], "Pod");
}

#[tokio::test]
async fn every_error_is_a_kubernetes_status() {
    let srv = TestServer::start().await;
    let s = srv.get("/api/v1/nothing/here").await.error(404, "NotFound", None);
    assert!(s.message.contains("/api/v1/nothing/here"));
    srv.get(&format!("/api/v1/pods?x={}", "a".repeat(20_000))).await.error(414, "RequestURITooLong", None);
    let big = "b".repeat(70_000);
    srv.send(Req::get("/api/v1/pods").header("x-big", &big).token(ADMIN)).await.error(
        431,
        "RequestHeaderFieldsTooLarge",
        None,
    );
    // A malformed path: a bad percent-encoding in a path parameter.
    srv.get("/api/v1/namespaces/default/pods/%ff%fe").await.error(400, "BadRequest", None);
    // Validation failures name their fields in details.causes.
    let resp = srv
        .send(Req::post(&format!("/api/v1/namespaces/{NS}/pods")).json(&Pod::from(pod("Bad_Name"))).token(ADMIN))
        .await;
    resp.error(422, "Invalid", Some("metadata.name"));
    assert_eq!(resp.json()["details"]["causes"][0]["field"], "metadata.name");
}

#[tokio::test]
async fn patches_merge_json_strategic_and_apply() {
    let srv = TestServer::start().await;
    let mut p = Pod::from(pod("web").labels(&[("app", "web")]).port("http", 8080));
    p.spec.containers.push(openapi::Container { name: "side".into(), command: vec!["x".into()], ..Default::default() });
    srv.create_pod(p).await;
    let path = pod_path("web");

    let merged =
        srv.send(patch(&path, "application/merge-patch+json", json!({"metadata": {"labels": {"a": "1"}}}))).await;
    assert_eq!(merged.expect(200)["metadata"]["labels"], json!({"app": "web", "a": "1"}));
    let ops = json!([{"op": "remove", "path": "/metadata/labels/a"}, {"op": "add", "path": "/metadata/labels/b", "value": "2"}]);
    let jsonp = srv.send(patch(&path, "application/json-patch+json", ops)).await.expect(200);
    assert_eq!(jsonp["metadata"]["labels"], json!({"app": "web", "b": "2"}));
    // Strategic: containers merge by name (the other container stays).
    let smp = json!({"spec": {"containers": [{"name": "side", "args": ["y"]}]}});
    let err = srv.send(patch(&path, "application/strategic-merge-patch+json", smp)).await;
    // The spec of a pod is immutable: the merge kept both containers, and changing one is refused.
    err.error(422, "Invalid", None);
    let smp = json!({"metadata": {"annotations": {"n": "v"}}, "spec": {"containers": [{"name": "side"}]}});
    let merged = srv.send(patch(&path, "application/strategic-merge-patch+json", smp)).await.expect(200);
    assert_eq!(merged["spec"]["containers"].as_array().unwrap().len(), 2);
    // A failing test operation changes nothing; a missing object is 404; other types are 415.
    let failing = json!([{"op": "test", "path": "/metadata/labels/b", "value": "9"}]);
    srv.send(patch(&path, "application/json-patch+json", failing)).await.error(422, "Invalid", None);
    srv.send(patch(&pod_path("nope"), "application/merge-patch+json", json!({}))).await.error(404, "NotFound", None);
    srv.send(patch(&path, "text/plain", json!({}))).await.error(415, "UnsupportedMediaType", None);

    // Server-side apply creates when missing, then merges; it needs a field manager.
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ssa"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}});
    let ssa = service_path("ssa");
    srv.send(patch(&ssa, "application/apply-patch+yaml", svc.clone())).await.error(400, "BadRequest", None);
    let apply = |body: Value| patch(&format!("{ssa}?fieldManager=me"), "application/apply-patch+yaml", body);
    let created = srv.send(apply(svc.clone())).await.expect(201);
    assert!(created["spec"]["clusterIP"].is_string());
    let managed = &created["metadata"]["managedFields"];
    assert_eq!((&managed[0]["manager"], &managed[0]["operation"]), (&json!("me"), &json!("Apply")));
    assert!(managed[0]["fieldsV1"]["f:spec"]["f:ports"].is_object(), "{managed}");
    let mut changed = svc.clone();
    changed["spec"]["ports"][0]["targetPort"] = json!(9090);
    let applied = srv.send(apply(changed)).await.expect(200);
    assert_eq!(applied["spec"]["ports"], json!([{"port": 80, "protocol": "TCP", "targetPort": 9090}]));
    assert_eq!(applied["spec"]["clusterIP"], created["spec"]["clusterIP"]);
    assert_eq!(applied["metadata"]["managedFields"].as_array().unwrap().len(), 1);
    // A replace that leaves the field managers out keeps them.
    let mut replaced = applied.clone();
    replaced["metadata"].as_object_mut().unwrap().remove("managedFields");
    replaced["metadata"]["labels"] = json!({"r": "1"});
    let replaced = srv.send(Req::put(&ssa).json(&replaced).token(ADMIN)).await.expect(200);
    assert_eq!(replaced["metadata"]["managedFields"], applied["metadata"]["managedFields"]);
}

#[tokio::test]
async fn dry_run_validates_and_changes_nothing() {
    let srv = TestServer::start().await;
    let pods = format!("/api/v1/namespaces/{NS}/pods");
    let before = srv.revision();
    let dry =
        srv.send(Req::post(&format!("{pods}?dryRun=All")).json(&Pod::from(pod("dry"))).token(ADMIN)).await.expect(201);
    assert_eq!(dry["metadata"]["name"], "dry");
    srv.get(&pod_path("dry")).await.error(404, "NotFound", None);
    let invalid = Req::post(&format!("{pods}?dryRun=All")).json(&Pod::from(pod("Bad_Name"))).token(ADMIN);
    srv.send(invalid).await.error(422, "Invalid", Some("metadata.name"));
    assert_eq!(srv.revision(), before);

    srv.create_pod(pod("web")).await;
    let rev = srv.revision();
    let dry_patch = patch(
        &format!("{}?dryRun=All", pod_path("web")),
        "application/merge-patch+json",
        json!({"metadata": {"labels": {"x": "1"}}}),
    );
    assert_eq!(srv.send(dry_patch).await.expect(200)["metadata"]["labels"]["x"], "1");
    // Delete with DeleteOptions in the body, as kubectl sends it.
    let options = json!({"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"]});
    srv.send(Req::delete(&pod_path("web")).json(&options).token(ADMIN)).await.expect(200);
    srv.send(Req::delete(&format!("{}?dryRun=All", pod_path("web"))).token(ADMIN)).await.expect(200);
    assert!(!srv.pod("web").await.metadata.labels.contains_key("x"));
    assert_eq!(srv.revision(), rev);
    srv.send(Req::delete(&format!("{}?dryRun=Some", pod_path("web"))).token(ADMIN)).await.error(
        400,
        "BadRequest",
        None,
    );
}

#[tokio::test]
async fn field_validation_and_kubernetes_fields() {
    let srv = TestServer::start().await;
    let pods = format!("/api/v1/namespaces/{NS}/pods");
    let manifest = |name: &str, extra: Value| {
        let mut p = serde_json::to_value(Pod::from(pod(name))).unwrap();
        p["spec"]["dnsPolicy"] = json!("ClusterFirst");
        p["spec"]["containers"][0]["imagePullPolicy"] = json!("Always");
        p["spec"]["containers"][0]["resources"] = json!({"limits": {"cpu": "1"}});
        if let Value::Object(extra) = extra {
            for (k, v) in extra {
                p["spec"]["containers"][0][k] = v;
            }
        }
        p
    };
    // Kubernetes' own fields: accepted in every mode, dropped with a warning.
    for (i, mode) in
        ["", "?fieldValidation=Strict", "?fieldValidation=Warn", "?fieldValidation=Ignore"].iter().enumerate()
    {
        let name = format!("k{i}");
        let resp = srv.send(Req::post(&format!("{pods}{mode}")).json(&manifest(&name, json!({}))).token(ADMIN)).await;
        let created = resp.expect(201);
        assert!(created["spec"]["containers"][0].get("imagePullPolicy").is_none());
        let w = warnings(&resp);
        assert!(w.iter().any(|w| w.starts_with("299 - ") && w.contains("imagePullPolicy")), "{w:?}");
    }
    // A field nobody knows: 400 by default and under Strict, a warning under Warn, nothing
    // under Ignore.
    let typo = |name: &str| manifest(name, json!({"imagee": "x"}));
    let s = srv.send(Req::post(&pods).json(&typo("t1")).token(ADMIN)).await.error(400, "BadRequest", None);
    assert_eq!(s.field.as_deref(), Some("spec.containers[0].imagee"));
    srv.send(Req::post(&format!("{pods}?fieldValidation=Strict")).json(&typo("t2")).token(ADMIN)).await.error(
        400,
        "BadRequest",
        None,
    );
    let warned = srv.send(Req::post(&format!("{pods}?fieldValidation=Warn")).json(&typo("t3")).token(ADMIN)).await;
    warned.expect(201);
    assert!(warnings(&warned).iter().any(|w| w.contains("unknown field") && w.contains("imagee")));
    let ignored = srv.send(Req::post(&format!("{pods}?fieldValidation=Ignore")).json(&typo("t4")).token(ADMIN)).await;
    ignored.expect(201);
    assert!(!warnings(&ignored).iter().any(|w| w.contains("imagee")));
    srv.send(Req::post(&format!("{pods}?fieldValidation=Loud")).json(&typo("t5")).token(ADMIN)).await.error(
        400,
        "BadRequest",
        None,
    );

    // generateName.
    let mut gen = serde_json::to_value(Pod::from(pod(""))).unwrap();
    gen["metadata"] = json!({"generateName": "web-"});
    let made = srv.send(Req::post(&pods).json(&gen).token(ADMIN)).await.expect(201);
    assert!(made["metadata"]["name"].as_str().unwrap().starts_with("web-"));

    // A body without Content-Type is JSON.
    let body = serde_json::to_vec(&Pod::from(pod("noct"))).unwrap();
    srv.send(Req::post(&pods).token(ADMIN).raw(body, "")).await.expect(201);
}

#[tokio::test]
async fn tables_and_field_selectors() {
    let srv = TestServer::start().await;
    srv.create_pod(pod("a").labels(&[("app", "web")])).await;
    srv.create_pod(pod("b").namespace("other")).await;
    srv.create_service(service("web").selector(&[("app", "web")]).port(80, 8080)).await;

    let t = srv.send(Req::get("/api/v1/pods").header("accept", TABLE).token(ADMIN)).await.expect(200);
    assert_eq!(t["kind"], "Table");
    let columns: Vec<&str> =
        t["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(columns, ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node"]);
    assert_eq!(t["rows"].as_array().unwrap().len(), 2);
    assert_eq!(t["rows"][0]["cells"].as_array().unwrap()[..3], [json!("a"), json!("0/1"), json!("Pending")]);
    assert_eq!(t["rows"][0]["object"]["metadata"]["namespace"], "default");
    let one = srv.send(Req::get(&pod_path("a")).header("accept", TABLE).token(ADMIN)).await.expect(200);
    assert_eq!(one["rows"].as_array().unwrap().len(), 1);
    let svc = srv.send(Req::get("/api/v1/services").header("accept", TABLE).token(ADMIN)).await.expect(200);
    let columns: Vec<&str> =
        svc["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(columns, ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]);
    assert_eq!(svc["rows"][0]["cells"][4], "80/TCP");

    let names = |v: Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names(srv.get("/api/v1/pods?fieldSelector=metadata.namespace%3Dother").await.expect(200)), ["b"]);
    assert_eq!(names(srv.get("/api/v1/pods?fieldSelector=metadata.name%21%3Da").await.expect(200)), ["b"]);
    assert_eq!(names(srv.get("/api/v1/pods?fieldSelector=status.phase%3DPending").await.expect(200)).len(), 2);
    assert_eq!(names(srv.get("/api/v1/services?fieldSelector=metadata.name%3Dweb").await.expect(200)), ["web"]);
}

#[tokio::test]
async fn watches_as_kubernetes_answers_them() {
    let srv = TestServer::start().await;
    srv.create_pod(pod("a")).await;
    srv.create_pod(pod("b")).await;
    // A single-object watch sends its object's initial ADDED only.
    let one = srv.watch("/api/v1/pods?watch=true&fieldSelector=metadata.name%3Db&timeoutSeconds=1").await;
    assert_eq!(one.iter().map(WatchLine::short).collect::<Vec<_>>(), ["ADDED b"]);
    // Python's `watch=True`.
    let py = srv.watch("/api/v1/pods?watch=True&fieldSelector=metadata.name%3Da&timeoutSeconds=1").await;
    assert_eq!(py.len(), 1);
    // A negative resourceVersion is a bad request; one in the future is waited for, then 504.
    srv.get("/api/v1/pods?watch=true&resourceVersion=-1").await.error(400, "BadRequest", None);
    let ahead = srv.revision() + 1000;
    let s = srv.get(&format!("/api/v1/pods?watch=true&resourceVersion={ahead}")).await.error(504, "Timeout", None);
    assert!(s.message.contains("Too large resource version"), "{s:?}");
    // Tables on a watch (kubectl get -w).
    let resp =
        srv.send(Req::get("/api/v1/pods?watch=true&timeoutSeconds=1").header("accept", TABLE).token(ADMIN)).await;
    let lines = resp.lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].object["kind"], "Table");
    assert_eq!(lines[0].object["rows"][0]["cells"][0], "a");
    // The same stream, labelled application/x-ndjson when the client asks for that.
    let resp = srv
        .send(
            Req::get("/api/v1/pods?watch=true&timeoutSeconds=1").header("accept", "application/x-ndjson").token(ADMIN),
        )
        .await;
    assert_eq!(resp.headers["content-type"], "application/x-ndjson");
    assert_eq!(resp.lines().iter().map(WatchLine::short).collect::<Vec<_>>(), ["ADDED a", "ADDED b"]);
}
