//! `/version` and Kubernetes' discovery documents (`/api`, `/api/v1`, `/apis`, `/apis/{group}`,
//! `/apis/{group}/{version}`), all derived from the kind registry ([`openapi::KINDS`]): a kind
//! added to the registry appears in discovery by itself. kubectl and the official clients
//! read them to map `kubectl get po` to a path. `/api` and `/apis` also answer the aggregated
//! format (`apidiscovery.k8s.io/v2`, one request for every group) to clients that ask for it
//! first, as kubectl 1.32 does.

use std::collections::BTreeMap;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use openapi::{KindInfo, KINDS};
use serde_json::{json, Value};

use crate::AppState;

/// The Kubernetes version whose API flatnet follows (what `/version` answers).
pub const KUBE_MAJOR: &str = "1";
pub const KUBE_MINOR: &str = "32";

/// The verbs discovery lists for a kind: `get`, `list`, `watch`, and the writes it serves
/// (`patch` beside `update`).
pub fn verbs(k: &KindInfo) -> Vec<&'static str> {
    let mut verbs = k.verbs.names();
    if k.verbs.update {
        verbs.push("patch");
    }
    verbs
}

/// The `APIResourceList` of one group version.
pub fn resource_list(api_version: &str) -> Value {
    let mut resources = Vec::new();
    for k in KINDS.iter().filter(|k| k.api_version == api_version) {
        let mut r = json!({
            "name": k.plural,
            "singularName": k.singular,
            "namespaced": k.namespaced,
            "kind": k.kind,
            "verbs": verbs(k),
        });
        if !k.short_names.is_empty() {
            r["shortNames"] = json!(k.short_names);
        }
        resources.push(r);
        if k.status {
            let mut status = vec!["get"];
            if k.verbs.update {
                status.extend(["update", "patch"]);
            }
            resources.push(json!({
                "name": format!("{}/status", k.plural),
                "singularName": "",
                "namespaced": k.namespaced,
                "kind": k.kind,
                "verbs": status,
            }));
        }
        if k.kind == "Pod" {
            resources.push(json!({
                "name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"],
            }));
            resources.push(json!({
                "name": "pods/exec", "singularName": "", "namespaced": true, "kind": "PodExecOptions",
                "verbs": ["create", "get"],
            }));
        }
    }
    json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version, "resources": resources })
}

/// Every named group (not the core group) with its versions, in registry order.
fn groups() -> BTreeMap<&'static str, Vec<&'static str>> {
    let mut groups: BTreeMap<&'static str, Vec<&'static str>> = BTreeMap::new();
    for k in KINDS.iter().filter(|k| !k.group().is_empty()) {
        let versions = groups.entry(k.group()).or_default();
        if !versions.contains(&k.version()) {
            versions.push(k.version());
        }
    }
    groups
}

fn group_doc(name: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> =
        versions.iter().map(|v| json!({ "groupVersion": format!("{name}/{v}"), "version": v })).collect();
    json!({ "name": name, "versions": versions.clone(), "preferredVersion": versions[0] })
}

/// `/apis`: the named groups.
pub fn group_list() -> Value {
    let groups: Vec<Value> = groups().iter().map(|(name, versions)| group_doc(name, versions)).collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

/// `/api`: the core group's versions.
pub fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": "" }],
    })
}

/// `/version`, in Kubernetes' shape.
pub fn version() -> Value {
    json!({
        "major": KUBE_MAJOR,
        "minor": KUBE_MINOR,
        "gitVersion": format!("v{KUBE_MAJOR}.{KUBE_MINOR}.0-flatnet.{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    })
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn json_ok(v: Value) -> Response {
    crate::api::json_response(StatusCode::OK, v.to_string())
}

/// The content type of aggregated discovery (what kubectl 1.32 asks for first).
const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Whether the `Accept` header asks for aggregated discovery (v2) before anything else.
pub fn wants_aggregated(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.split(',').next().is_some_and(|first| {
        let params: Vec<&str> = first.split(';').map(str::trim).collect();
        params.contains(&"g=apidiscovery.k8s.io")
            && params.contains(&"v=v2")
            && params.contains(&"as=APIGroupDiscoveryList")
    })
}

/// One group's entry of an `APIGroupDiscoveryList`: its versions and their resources.
fn group_discovery(group: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| {
            let api_version = if group.is_empty() { v.to_string() } else { format!("{group}/{v}") };
            let resources: Vec<Value> = KINDS
                .iter()
                .filter(|k| k.api_version == api_version)
                .map(|k| {
                    let kind = json!({ "group": group, "version": v, "kind": k.kind });
                    let mut subresources = Vec::new();
                    if k.status {
                        let mut verbs = vec!["get"];
                        if k.verbs.update {
                            verbs.extend(["patch", "update"]);
                        }
                        subresources.push(json!({ "subresource": "status", "responseKind": kind, "verbs": verbs }));
                    }
                    if k.kind == "Pod" {
                        subresources.push(json!({ "subresource": "log", "responseKind": kind, "verbs": ["get"] }));
                        let options = json!({ "group": "", "version": "v1", "kind": "PodExecOptions" });
                        subresources.push(
                            json!({ "subresource": "exec", "responseKind": options, "verbs": ["create", "get"] }),
                        );
                    }
                    let mut r = json!({
                        "resource": k.plural,
                        "responseKind": kind,
                        "scope": if k.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": k.singular,
                        "verbs": verbs(k),
                    });
                    if !k.short_names.is_empty() {
                        r["shortNames"] = json!(k.short_names);
                    }
                    if !subresources.is_empty() {
                        r["subresources"] = json!(subresources);
                    }
                    r
                })
                .collect();
            json!({ "version": v, "resources": resources, "freshness": "Current" })
        })
        .collect();
    json!({ "metadata": { "name": group }, "versions": versions })
}

/// An `APIGroupDiscoveryList` of `groups`.
fn aggregated(groups: Vec<Value>) -> Response {
    let body = json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": groups,
    });
    (StatusCode::OK, [(header::CONTENT_TYPE, AGGREGATED)], body.to_string()).into_response()
}

/// `/api`: the core group's versions, or the core group's aggregated discovery.
async fn api(headers: HeaderMap) -> Response {
    if wants_aggregated(&headers) {
        return aggregated(vec![group_discovery("", &["v1"])]);
    }
    json_ok(core_versions())
}

/// `/apis`: the named groups, or their aggregated discovery.
async fn apis(headers: HeaderMap) -> Response {
    if wants_aggregated(&headers) {
        return aggregated(groups().iter().map(|(name, versions)| group_discovery(name, versions)).collect());
    }
    json_ok(group_list())
}

/// Every discovery path served (for the OpenAPI document), with what it answers.
pub fn paths() -> Vec<(String, String)> {
    let mut paths = vec![
        ("/version".to_string(), "The Kubernetes version whose API flatnet follows".to_string()),
        ("/api".to_string(), "The core group's versions (APIVersions), or its aggregated discovery".to_string()),
        ("/api/v1".to_string(), "The core group's resources (APIResourceList)".to_string()),
        ("/apis".to_string(), "The named groups (APIGroupList), or their aggregated discovery".to_string()),
    ];
    for (name, versions) in groups() {
        paths.push((format!("/apis/{name}"), format!("The group {name} (APIGroup)")));
        for v in versions {
            paths.push((format!("/apis/{name}/{v}"), format!("The resources of {name}/{v} (APIResourceList)")));
        }
    }
    paths
}

/// The discovery routes, one per group and version of the registry.
pub fn routes(mut router: Router<AppState>) -> Router<AppState> {
    router = router
        .route("/version", get(|| async { json_ok(version()) }))
        .route("/api", get(api))
        .route("/api/v1", get(|| async { json_ok(resource_list("v1")) }))
        .route("/apis", get(apis));
    for (name, versions) in groups() {
        let doc = group_doc(name, &versions);
        router = router.route(&format!("/apis/{name}"), get(move || async move { json_ok(doc) }));
        for v in versions {
            let gv = format!("{name}/{v}");
            let path = format!("/apis/{gv}");
            router = router.route(&path, get(move || async move { json_ok(resource_list(&gv)) }));
        }
    }
    router
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_resources_carry_kubectl_short_names_and_verbs() {
        let list = resource_list("v1");
        let pods = list["resources"].as_array().unwrap().iter().find(|r| r["name"] == "pods").unwrap();
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["kind"], "Pod");
        assert_eq!(pods["namespaced"], true);
        assert_eq!(pods["verbs"], json!(["get", "list", "watch", "create", "update", "delete", "patch"]));
        let nodes = list["resources"].as_array().unwrap().iter().find(|r| r["name"] == "nodes").unwrap();
        assert_eq!((&nodes["shortNames"], &nodes["namespaced"]), (&json!(["no"]), &json!(false)));
        let eps = list["resources"].as_array().unwrap().iter().find(|r| r["name"] == "endpoints").unwrap();
        assert_eq!(eps["verbs"], json!(["get", "list", "watch"]));
    }
}
