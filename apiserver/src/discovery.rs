//! `/version` and Kubernetes' discovery documents (`/api`, `/api/v1`, `/apis`, `/apis/{group}`,
//! `/apis/{group}/{version}`), all derived from the kind registry ([`openapi::KINDS`]): a kind
//! added to the registry appears in discovery by itself. kubectl and the official clients
//! read them to map `kubectl get po` to a path.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
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

/// The discovery routes, one per group and version of the registry.
pub fn routes(mut router: Router<AppState>) -> Router<AppState> {
    router = router
        .route("/version", get(|| async { json_ok(version()) }))
        .route("/api", get(|| async { json_ok(core_versions()) }))
        .route("/api/v1", get(|| async { json_ok(resource_list("v1")) }))
        .route("/apis", get(|| async { json_ok(group_list()) }));
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
