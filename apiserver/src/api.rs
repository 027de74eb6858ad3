//! HTTP handlers: the resource routes (generic over kinds), the node routes that are not
//! plain CRUD (heartbeat, token), the cluster configuration, health and metrics.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use openapi::selector::LabelSelector;
use openapi::validation::{self, FieldErrors};
use openapi::{Endpoints, Event, Heartbeat, Node, NodeLease, Pod, Resource, Service};
use serde::Deserialize;

use crate::config::Settings;
use crate::error::{ApiError, ApiResult, Json};
use crate::store::{Caller, Op, Selectable, Store, Stored, Subresource};
use crate::watch::{self, Filter, WatchParams};
use crate::AppState;

use crate::store::Kind;

/// A kind users (or nodes) write; every stored kind can be read, listed and watched.
pub trait WriteKind: Stored {
    fn validate(&self, settings: &Settings) -> Result<(), FieldErrors>;
    fn create_op(self, caller: &Caller) -> ApiResult<Op>;
    fn update_op(self, caller: &Caller, sub: Subresource) -> ApiResult<Op>;
    fn delete_op(namespace: String, name: String, caller: &Caller) -> ApiResult<Op>;
}

impl WriteKind for Node {
    fn validate(&self, _: &Settings) -> Result<(), FieldErrors> {
        validation::validate_node(self)
    }
    fn create_op(self, caller: &Caller) -> ApiResult<Op> {
        caller.require_node(&self.metadata.name)?;
        Ok(Op::CreateNode(self))
    }
    fn update_op(self, caller: &Caller, sub: Subresource) -> ApiResult<Op> {
        caller.require_node(&self.metadata.name)?;
        Ok(Op::UpdateNode(self, sub))
    }
    fn delete_op(_: String, name: String, caller: &Caller) -> ApiResult<Op> {
        caller.require_admin()?;
        Ok(Op::DeleteNode(name))
    }
}

impl WriteKind for Pod {
    fn validate(&self, _: &Settings) -> Result<(), FieldErrors> {
        validation::validate_pod(self)
    }
    fn create_op(self, caller: &Caller) -> ApiResult<Op> {
        caller.require_admin()?;
        Ok(Op::CreatePod(self))
    }
    fn update_op(self, caller: &Caller, sub: Subresource) -> ApiResult<Op> {
        // Whether a node may write this pod's status depends on where the pod is bound:
        // the writer checks that against the stored pod.
        Ok(Op::UpdatePod(self, sub, caller.clone()))
    }
    fn delete_op(ns: String, name: String, caller: &Caller) -> ApiResult<Op> {
        caller.require_admin()?;
        Ok(Op::DeletePod(ns, name))
    }
}

impl WriteKind for Service {
    fn validate(&self, settings: &Settings) -> Result<(), FieldErrors> {
        validation::validate_service(self, &settings.cluster)
    }
    fn create_op(self, caller: &Caller) -> ApiResult<Op> {
        caller.require_admin()?;
        Ok(Op::CreateService(self))
    }
    fn update_op(self, caller: &Caller, _: Subresource) -> ApiResult<Op> {
        caller.require_admin()?;
        Ok(Op::UpdateService(self))
    }
    fn delete_op(ns: String, name: String, caller: &Caller) -> ApiResult<Op> {
        caller.require_admin()?;
        Ok(Op::DeleteService(ns, name))
    }
}

impl WriteKind for Event {
    fn validate(&self, _: &Settings) -> Result<(), FieldErrors> {
        validation::validate_event(self)
    }
    /// Node agents report events (as themselves); the admin may too.
    fn create_op(self, caller: &Caller) -> ApiResult<Op> {
        Ok(Op::CreateEvent(self, caller.clone()))
    }
    fn update_op(self, _: &Caller, _: Subresource) -> ApiResult<Op> {
        Err(ApiError::bad_request("events cannot be changed"))
    }
    fn delete_op(ns: String, name: String, caller: &Caller) -> ApiResult<Op> {
        caller.require_admin()?;
        Ok(Op::DeleteEvent(ns, name))
    }
}

/// Every route of the API (without the dashboard's static files).
pub fn router() -> Router<AppState> {
    let ns = "/api/v1/namespaces/{namespace}";
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json))
        .route("/api/v1/clusterconfig", get(cluster_config))
        .route("/api/v1/nodes", get(list::<Node>).post(create::<Node>))
        .route("/api/v1/nodes/{name}", get(read::<Node>).put(update::<Node>).delete(delete::<Node>))
        .route("/api/v1/nodes/{name}/status", get(read::<Node>).put(update_status::<Node>))
        .route("/api/v1/nodes/{name}/heartbeat", post(heartbeat))
        .route("/api/v1/nodes/{name}/token", post(node_token))
        .route("/api/v1/nodeleases", get(list::<NodeLease>))
        .route("/api/v1/nodeleases/{name}", get(read::<NodeLease>))
        .route("/api/v1/pods", get(list::<Pod>))
        .route(&format!("{ns}/pods"), get(list::<Pod>).post(create::<Pod>))
        .route(&format!("{ns}/pods/{{name}}"), get(read::<Pod>).put(update::<Pod>).delete(delete::<Pod>))
        .route(&format!("{ns}/pods/{{name}}/status"), get(read::<Pod>).put(update_status::<Pod>))
        .route(&format!("{ns}/pods/{{name}}/log"), get(crate::logs::pod_log))
        .route("/api/v1/services", get(list::<Service>))
        .route(&format!("{ns}/services"), get(list::<Service>).post(create::<Service>))
        .route(
            &format!("{ns}/services/{{name}}"),
            get(read::<Service>).put(update::<Service>).delete(delete::<Service>),
        )
        .route("/api/v1/endpoints", get(list::<Endpoints>))
        .route(&format!("{ns}/endpoints"), get(list::<Endpoints>))
        .route(&format!("{ns}/endpoints/{{name}}"), get(read::<Endpoints>))
        .route("/api/v1/events", get(list::<Event>))
        .route(&format!("{ns}/events"), get(list::<Event>).post(create::<Event>))
        .route(&format!("{ns}/events/{{name}}"), get(read::<Event>).delete(delete::<Event>))
        // Unknown API paths answer a JSON Status too (other paths go to the dashboard).
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .route("/apis/{*rest}", axum::routing::any(api_not_found))
        // After every route: it applies to the routes registered before it.
        .method_not_allowed_fallback(method_not_allowed)
}

async fn api_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::path_not_found(uri.path())
}

/// Every error is a JSON `Status`, also a method a path does not serve (writes to the
/// read-only endpoints and node leases); axum still adds the `Allow` header.
async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::method_not_allowed(format!("{method} is not allowed on {}", uri.path()))
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The authenticated caller of a write. It is extracted before the body is read, so an
/// unauthenticated write is answered 401 whatever its body.
pub struct Authenticated(pub Caller);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> ApiResult<Self> {
        authenticate(&st.store, &parts.headers).map(Authenticated)
    }
}

/// The caller of a write: every write needs a bearer token.
fn authenticate(store: &Store, headers: &HeaderMap) -> ApiResult<Caller> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("writes need a bearer token (Authorization: Bearer TOKEN)"))?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be \"Bearer TOKEN\""))?;
    store.authenticate(token).ok_or_else(|| ApiError::unauthorized("unknown bearer token"))
}

/// Namespace and name from the path (absent ones are empty).
fn path_parts(p: &HashMap<String, String>) -> (String, String) {
    (p.get("namespace").cloned().unwrap_or_default(), p.get("name").cloned().unwrap_or_default())
}

/// Check and fill the type and identity of a written object against its path.
fn normalize<K: Resource>(obj: &mut K, namespace: &str, name: Option<&str>) -> ApiResult<()> {
    let (api_version, kind) = obj.type_meta_mut();
    if !api_version.is_empty() && api_version != K::API_VERSION {
        return Err(ApiError::invalid("apiVersion", format!("{api_version:?} is not {:?}", K::API_VERSION)));
    }
    if !kind.is_empty() && kind != K::KIND {
        return Err(ApiError::invalid("kind", format!("{kind:?} is not {:?}", K::KIND)));
    }
    *api_version = K::API_VERSION.to_string();
    *kind = K::KIND.to_string();
    let meta = obj.metadata_mut();
    if K::NAMESPACED {
        match &meta.namespace {
            Some(ns) if ns != namespace => {
                return Err(ApiError::bad_request(format!(
                    "metadata.namespace {ns:?} does not match the namespace {namespace:?} of the path"
                )))
            }
            _ => meta.namespace = Some(namespace.to_string()),
        }
    } else if meta.namespace.is_some() {
        return Err(ApiError::invalid("metadata.namespace", format!("{} is not namespaced", K::KIND)));
    }
    if let Some(name) = name {
        if meta.name.is_empty() {
            meta.name = name.to_string();
        } else if meta.name != name {
            return Err(ApiError::bad_request(format!(
                "metadata.name {:?} does not match the name {name:?} of the path",
                meta.name
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// List, get, watch
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    label_selector: Option<String>,
    field_selector: Option<String>,
    #[serde(default)]
    watch: bool,
    resource_version: Option<String>,
    #[serde(default)]
    allow_watch_bookmarks: bool,
    timeout_seconds: Option<u64>,
}

fn parse_field_selector(kind: Kind, selector: Option<&str>) -> ApiResult<Option<String>> {
    let Some(s) = selector.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(None) };
    let value = s.strip_prefix("spec.nodeName==").or_else(|| s.strip_prefix("spec.nodeName="));
    match (kind, value) {
        (Kind::Pod, Some(node)) => Ok(Some(node.to_string())),
        _ => Err(ApiError::bad_request(format!(
            "unsupported fieldSelector {s:?}: only spec.nodeName=NAME on pods is supported"
        ))),
    }
}

async fn list<K: Stored>(
    State(st): State<AppState>,
    Path(p): Path<HashMap<String, String>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let (namespace, _) = path_parts(&p);
    let namespace = (!namespace.is_empty()).then_some(namespace);
    let labels = LabelSelector::parse(q.label_selector.as_deref().unwrap_or(""))
        .map_err(|m| ApiError::bad_request(format!("labelSelector: {m}")))?;
    let node = parse_field_selector(K::STORE_KIND, q.field_selector.as_deref())?;
    let filter = Filter { kind: K::STORE_KIND, namespace, labels, node };

    if q.watch {
        let from = match q.resource_version.as_deref() {
            None | Some("") | Some("0") => None,
            Some(v) => Some(
                v.parse::<i64>()
                    .map_err(|_| ApiError::bad_request(format!("resourceVersion {v:?} is not a number")))?,
            ),
        };
        if let Some(from) = from {
            // Answer 410 as a status before streaming, so clients see it as an HTTP error.
            if from < st.store.compacted() {
                return Err(crate::store::gone(from, st.store.compacted()));
            }
        }
        let params = WatchParams {
            from,
            bookmarks: q.allow_watch_bookmarks,
            timeout: q.timeout_seconds.map(Duration::from_secs),
        };
        let body = watch::stream(st.store.clone(), st.metrics.clone(), filter, params);
        return Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response());
    }

    let (rev, items) = st.store.list_raw(filter.kind, filter.namespace.as_deref(), filter.node.as_deref()).await?;
    let mut body = String::with_capacity(items.iter().map(|i| i.len() + 1).sum::<usize>() + 128);
    body.push_str(&format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"{}List\",\"metadata\":{{\"resourceVersion\":\"{rev}\"}},\"items\":[",
        K::KIND
    ));
    let mut first = true;
    for item in &items {
        if !filter.labels.is_empty() && !filter.matches(&Selectable::from_json(item)) {
            continue;
        }
        if !first {
            body.push(',');
        }
        first = false;
        body.push_str(item);
    }
    body.push_str("]}");
    Ok(json_response(StatusCode::OK, body))
}

async fn read<K: Stored>(State(st): State<AppState>, Path(p): Path<HashMap<String, String>>) -> ApiResult<Response> {
    let (namespace, name) = path_parts(&p);
    match st.store.get_raw(K::STORE_KIND, &namespace, &name).await? {
        Some(body) => Ok(json_response(StatusCode::OK, body)),
        None => Err(ApiError::not_found(K::KIND, &name)),
    }
}

// ---------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------

async fn create<K: WriteKind>(
    State(st): State<AppState>,
    Path(p): Path<HashMap<String, String>>,
    Authenticated(caller): Authenticated,
    Json(mut obj): Json<K>,
) -> ApiResult<Response> {
    let (namespace, _) = path_parts(&p);
    normalize(&mut obj, &namespace, None)?;
    obj.validate(st.store.settings())?;
    let body = st.store.write(obj.create_op(&caller)?).await?;
    Ok(json_response(StatusCode::CREATED, body))
}

async fn write_existing<K: WriteKind>(
    st: AppState,
    p: HashMap<String, String>,
    caller: Caller,
    mut obj: K,
    sub: Subresource,
) -> ApiResult<Response> {
    let (namespace, name) = path_parts(&p);
    normalize(&mut obj, &namespace, Some(&name))?;
    // A status write carries the whole object, but only its status is taken.
    if sub == Subresource::Main {
        obj.validate(st.store.settings())?;
    }
    let body = st.store.write(obj.update_op(&caller, sub)?).await?;
    Ok(json_response(StatusCode::OK, body))
}

async fn update<K: WriteKind>(
    State(st): State<AppState>,
    Path(p): Path<HashMap<String, String>>,
    Authenticated(caller): Authenticated,
    Json(obj): Json<K>,
) -> ApiResult<Response> {
    write_existing(st, p, caller, obj, Subresource::Main).await
}

async fn update_status<K: WriteKind>(
    State(st): State<AppState>,
    Path(p): Path<HashMap<String, String>>,
    Authenticated(caller): Authenticated,
    Json(obj): Json<K>,
) -> ApiResult<Response> {
    write_existing(st, p, caller, obj, Subresource::Status).await
}

async fn delete<K: WriteKind>(
    State(st): State<AppState>,
    Path(p): Path<HashMap<String, String>>,
    Authenticated(caller): Authenticated,
) -> ApiResult<Response> {
    let (namespace, name) = path_parts(&p);
    let body = st.store.write(K::delete_op(namespace, name, &caller)?).await?;
    Ok(json_response(StatusCode::OK, body))
}

async fn heartbeat(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Authenticated(caller): Authenticated,
    Json(hb): Json<Heartbeat>,
) -> ApiResult<Response> {
    caller.require_node(&name)?;
    for (k, _) in &hb.backend_data {
        validation::validate_label_key(k).map_err(|m| ApiError::invalid(format!("backendData[{k}]"), m))?;
    }
    let body = st.store.write(Op::Heartbeat(name, hb)).await?;
    Ok(json_response(StatusCode::OK, body))
}

async fn node_token(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Authenticated(caller): Authenticated,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let body = st.store.write(Op::MintNodeToken(name)).await?;
    Ok(json_response(StatusCode::CREATED, body))
}

// ---------------------------------------------------------------------------------------------
// Cluster-level
// ---------------------------------------------------------------------------------------------

async fn cluster_config(State(st): State<AppState>) -> ApiResult<Response> {
    let body = serde_json::to_string(&st.store.settings().cluster).map_err(|e| ApiError::internal("config", e))?;
    Ok(json_response(StatusCode::OK, body))
}

async fn healthz(State(st): State<AppState>) -> ApiResult<&'static str> {
    st.store.ping().await?;
    Ok("ok")
}

async fn metrics(State(st): State<AppState>) -> ApiResult<Response> {
    let objects = st.store.count_by_kind().await?;
    let body = st.metrics.render(&objects);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}

async fn openapi_json() -> Response {
    json_response(StatusCode::OK, crate::spec::document_json())
}
