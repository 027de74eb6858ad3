//! `/openapi/v3` as Kubernetes serves it: an index of one document per group version
//! (`/openapi/v3/api/v1`, `/openapi/v3/apis/{group}/{version}`), each the part of flatnet's
//! OpenAPI document ([`crate::spec`]) under that group version, with Kubernetes' extension
//! `x-kubernetes-group-version-kind` on the kinds' schemas and operations.
//!
//! kubectl reads them to find that a kind's PATCH takes `fieldValidation` (then it lets the
//! server validate instead of validating itself), and `kubectl explain` reads the schemas.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use openapi::{KindInfo, KINDS};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::AppState;

/// The lists merged by key in strategic merge patches, as Kubernetes' types declare them
/// (`patchMergeKey`): kubectl apply reads them to compute its patches, and
/// [`crate::patch::strategic`] merges them the same way.
const MERGE_KEYS: &[(&str, &str, &str)] = &[
    ("PodSpec", "containers", "name"),
    ("Container", "ports", "containerPort"),
    ("Container", "env", "name"),
    ("ServiceSpec", "ports", "port"),
    ("PodStatus", "conditions", "type"),
    ("NodeStatus", "conditions", "type"),
    ("NodeStatus", "addresses", "type"),
];

/// The path of a group version's document, relative to `/openapi/v3/` (`api/v1`).
fn gv_path(k: &KindInfo) -> String {
    k.base_path().trim_start_matches('/').to_string()
}

fn gvk(k: &KindInfo) -> Value {
    json!({ "group": k.group(), "version": k.version(), "kind": k.kind })
}

/// Every group version's document, by its path.
fn documents() -> &'static BTreeMap<String, String> {
    static DOCS: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    DOCS.get_or_init(|| {
        let full: Value = serde_json::from_str(&crate::spec::document_json()).expect("the OpenAPI document is JSON");
        let mut docs: BTreeMap<String, Value> = BTreeMap::new();
        for k in KINDS {
            let doc = docs.entry(gv_path(k)).or_insert_with(|| {
                json!({
                    "openapi": full["openapi"].clone(),
                    "info": full["info"].clone(),
                    "paths": {},
                    "components": full["components"].clone(),
                })
            });
            let routes = k.routes();
            let mut paths = vec![routes.all.clone(), routes.object.clone(), routes.status()];
            paths.extend(routes.collection.clone());
            for path in paths {
                let Some(mut item) = full["paths"].get(&path).cloned() else { continue };
                if let Some(ops) = item.as_object_mut() {
                    for op in ops.values_mut().filter(|op| op.is_object()) {
                        op["x-kubernetes-group-version-kind"] = gvk(k);
                    }
                }
                doc["paths"][path] = item;
            }
            if let Some(schema) = doc.pointer_mut(&format!("/components/schemas/{}", k.kind)) {
                schema["x-kubernetes-group-version-kind"] = json!([gvk(k)]);
            }
        }
        for doc in docs.values_mut() {
            for (schema, property, key) in MERGE_KEYS {
                if let Some(p) = doc.pointer_mut(&format!("/components/schemas/{schema}/properties/{property}")) {
                    p["x-kubernetes-patch-merge-key"] = json!(key);
                    p["x-kubernetes-patch-strategy"] = json!("merge");
                }
            }
        }
        docs.into_iter()
            .map(|(path, mut doc)| {
                doc["openapi"] = json!("3.0.0");
                to_openapi_30(&mut doc["components"]);
                (path, doc.to_string())
            })
            .collect()
    })
}

/// Kubernetes' documents are OpenAPI 3.0, and kubectl explain reads a schema's `type` as
/// one string: an optional field's `type: [T, "null"]` becomes `type: T`, and a `oneOf` of a
/// reference and `null` becomes an `allOf` of the reference.
fn to_openapi_30(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(types)) = m.get("type") {
                let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                if kept.len() == 1 {
                    m.insert("type".into(), kept[0].clone());
                }
            }
            if let Some(Value::Array(options)) = m.get("oneOf") {
                let kept: Vec<Value> =
                    options.iter().filter(|o| o.get("type") != Some(&json!("null"))).cloned().collect();
                if kept.len() == 1 {
                    m.remove("oneOf");
                    m.insert("allOf".into(), Value::Array(kept));
                }
            }
            m.values_mut().for_each(to_openapi_30);
        }
        Value::Array(a) => a.iter_mut().for_each(to_openapi_30),
        _ => {}
    }
}

fn hash(doc: &str) -> String {
    Sha256::digest(doc.as_bytes()).iter().take(16).map(|b| format!("{b:02X}")).collect()
}

/// Every `/openapi/v3` path served (for the OpenAPI document, which they are derived from:
/// computed from the registry, not from the documents).
pub fn paths() -> Vec<String> {
    let mut gvs: Vec<String> = KINDS.iter().map(|k| gv_path(k)).collect();
    gvs.sort();
    gvs.dedup();
    std::iter::once("/openapi/v3".to_string()).chain(gvs.into_iter().map(|gv| format!("/openapi/v3/{gv}"))).collect()
}

/// `/openapi/v3`: where each group version's document is.
pub fn index() -> Value {
    let paths: serde_json::Map<String, Value> = documents()
        .iter()
        .map(|(path, doc)| {
            (path.clone(), json!({ "serverRelativeURL": format!("/openapi/v3/{path}?hash={}", hash(doc)) }))
        })
        .collect();
    json!({ "paths": paths })
}

/// The routes of `/openapi/v3`.
pub fn routes(mut router: Router<AppState>) -> Router<AppState> {
    router =
        router.route("/openapi/v3", get(|| async { crate::api::json_response(StatusCode::OK, index().to_string()) }));
    for path in documents().keys() {
        let p = path.clone();
        router = router.route(
            &format!("/openapi/v3/{path}"),
            get(move || async move {
                let doc: Response = crate::api::json_response(StatusCode::OK, documents()[&p].clone());
                doc
            }),
        );
    }
    router
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_core_document_marks_pod_patch_with_field_validation() {
        let doc: Value = serde_json::from_str(&documents()["api/v1"]).unwrap();
        let patch = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
        assert_eq!(patch["x-kubernetes-group-version-kind"], json!({"group": "", "version": "v1", "kind": "Pod"}));
        let params = patch["parameters"].as_array().unwrap();
        assert!(params.iter().any(|p| p["name"] == "fieldValidation" && p["in"] == "query"));
        assert_eq!(doc["components"]["schemas"]["Pod"]["x-kubernetes-group-version-kind"][0]["kind"], "Pod");
        assert!(index()["paths"]["api/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap()
            .starts_with("/openapi/v3/api/v1?hash="));
    }
}
