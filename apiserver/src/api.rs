//! HTTP handlers: the resource routes (generic over kinds, one set per entry of the kind
//! registry, [`openapi::registry`]), the node routes that are not plain CRUD (heartbeat,
//! token), the cluster configuration, health and metrics.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use axum::Router;
use openapi::selector::LabelSelector;
use openapi::validation;
use openapi::{Heartbeat, Node, Pod, Resource};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult, Json};
use crate::kinds::Served;
use crate::store::{Caller, Kind, Op, Selectable, Store, Subresource};
use crate::watch::{self, Filter, WatchParams};
use crate::AppState;

/// A table of routes being built: each path's handlers by method, and every (path, method)
/// served, which the OpenAPI document must describe (`spec`'s tests compare them).
#[derive(Default)]
struct Routes {
    by_path: BTreeMap<String, MethodRouter<AppState>>,
    served: Vec<(String, Method)>,
}

impl Routes {
    fn add<H, T>(&mut self, method: Method, path: &str, handler: H)
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a method axum routes");
        let methods = self.by_path.remove(path).unwrap_or_default();
        self.by_path.insert(path.to_string(), methods.on(filter, handler));
        self.served.push((path.to_string(), method));
    }

    /// The routes of one kind, as its registry entry declares them: list (and watch), get,
    /// and the writes and subresources it serves.
    fn kind<K: Served>(&mut self) {
        let info = K::INFO;
        let routes = info.routes();
        self.add(Method::GET, &routes.all, list::<K>);
        if let Some(collection) = &routes.collection {
            self.add(Method::GET, collection, list::<K>);
        }
        self.add(Method::GET, &routes.object, read::<K>);
        if info.verbs.create {
            self.add(Method::POST, routes.create(), create::<K>);
        }
        if info.verbs.update {
            self.add(Method::PUT, &routes.object, update::<K>);
        }
        if info.verbs.delete {
            self.add(Method::DELETE, &routes.object, delete::<K>);
        }
        if info.status {
            self.add(Method::GET, &routes.status(), read::<K>);
            self.add(Method::PUT, &routes.status(), update_status::<K>);
        }
    }
}

/// Every route of the API but the JSON 404s of unknown API paths: the kinds of the
/// registry, then the routes that are not plain resources.
fn routes() -> Routes {
    let mut r = Routes::default();
    macro_rules! kinds {
        ($($k:path),*) => { $(r.kind::<$k>();)* };
    }
    openapi::for_each_kind!(kinds);
    r.add(Method::GET, "/healthz", healthz);
    r.add(Method::GET, "/metrics", metrics);
    r.add(Method::GET, "/openapi.json", openapi_json);
    r.add(Method::GET, "/api/v1/clusterconfig", cluster_config);
    let node = Node::INFO.routes().object;
    r.add(Method::POST, &format!("{node}/heartbeat"), heartbeat);
    r.add(Method::POST, &format!("{node}/token"), node_token);
    r.add(Method::GET, &format!("{}/log", Pod::INFO.routes().object), crate::logs::pod_log);
    r
}

/// Every (path, method) the router serves, but the JSON 404s of unknown API paths.
pub fn served_routes() -> Vec<(String, Method)> {
    routes().served
}

/// Every route of the API (without the dashboard's static files).
pub fn router() -> Router<AppState> {
    routes()
        .by_path
        .into_iter()
        .fold(Router::new(), |router, (path, methods)| router.route(&path, methods))
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

/// Namespace and name from the path (absent ones are empty). A namespace that is not a
/// DNS-1123 label cannot exist: 404, as the document's pattern says.
fn path_parts(p: &HashMap<String, String>) -> ApiResult<(String, String)> {
    let namespace = p.get("namespace").cloned().unwrap_or_default();
    if p.contains_key("namespace") && validation::validate_dns1123_label(&namespace).is_err() {
        return Err(ApiError::not_found("namespace", &namespace));
    }
    Ok((namespace, p.get("name").cloned().unwrap_or_default()))
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
        // As Kubernetes: a replaced object names itself, as its path does.
        if meta.name.is_empty() {
            return Err(ApiError::invalid("metadata.name", format!("required: {name:?}, the name of the path")));
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

/// The most digits of a `resourceVersion` a list or watch takes (every such number fits an
/// `i64`); the OpenAPI document's pattern says the same.
pub(crate) const REVISION_DIGITS_MAX: usize = 18;

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
    match value {
        Some(node) if kind.field_selectors.contains(&"spec.nodeName") => Ok(Some(node.to_string())),
        _ => Err(ApiError::bad_request(format!(
            "unsupported fieldSelector {s:?}: only spec.nodeName=NAME on pods is supported"
        ))),
    }
}

/// The namespace of a path, for spans ("" when cluster-scoped or across namespaces).
pub(crate) fn span_namespace(p: &HashMap<String, String>) -> &str {
    p.get("namespace").map_or("", String::as_str)
}

/// The object name of a path, for spans ("" for a collection).
pub(crate) fn span_name(p: &HashMap<String, String>) -> &str {
    p.get("name").map_or("", String::as_str)
}

#[tracing::instrument(skip_all, fields(kind = K::KIND, namespace = span_namespace(&p)))]
async fn list<K: Served>(
    State(st): State<AppState>,
    Path(p): Path<HashMap<String, String>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let (namespace, _) = path_parts(&p)?;
    let namespace = (!namespace.is_empty()).then_some(namespace);
    let labels = LabelSelector::parse(q.label_selector.as_deref().unwrap_or(""))
        .map_err(|m| ApiError::bad_request(format!("labelSelector: {m}")))?;
    let node = parse_field_selector(K::INFO, q.field_selector.as_deref())?;
    let filter = Filter { kind: K::INFO, namespace, labels, node };

    // Checked on lists too, so that a malformed revision is an error wherever it is sent.
    let from = match q.resource_version.as_deref() {
        None | Some("") | Some("0") => None,
        Some(v) if v.len() <= REVISION_DIGITS_MAX && v.bytes().all(|b| b.is_ascii_digit()) => {
            Some(v.parse::<i64>().expect("at most 18 digits fit an i64"))
        }
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "resourceVersion {v:?} is not a number of at most {REVISION_DIGITS_MAX} digits"
            )))
        }
    };
    if q.watch {
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
        "{{\"apiVersion\":\"{}\",\"kind\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{rev}\"}},\"items\":[",
        K::API_VERSION,
        K::INFO.list_kind()
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

#[tracing::instrument(skip_all, fields(kind = K::KIND, namespace = span_namespace(&p), name = span_name(&p)))]
async fn read<K: Served>(State(st): State<AppState>, Path(p): Path<HashMap<String, String>>) -> ApiResult<Response> {
    let (namespace, name) = path_parts(&p)?;
    match st.store.get_raw(K::INFO, &namespace, &name).await? {
        Some(body) => Ok(json_response(StatusCode::OK, body)),
        None => Err(ApiError::not_found(K::KIND, &name)),
    }
}

// ---------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------

#[tracing::instrument(skip_all, fields(kind = K::KIND, namespace = span_namespace(&p), name))]
async fn create<K: Served>(
    State(st): State<AppState>,
    Path(p): Path<HashMap<String, String>>,
    Authenticated(caller): Authenticated,
    Json(mut obj): Json<K>,
) -> ApiResult<Response> {
    let (namespace, _) = path_parts(&p)?;
    normalize(&mut obj, &namespace, None)?;
    tracing::Span::current().record("name", obj.metadata().name.as_str());
    obj.validate(st.store.settings())?;
    let body = st.store.write(obj.create_op(&caller)?).await?;
    Ok(json_response(StatusCode::CREATED, body))
}

#[tracing::instrument(skip_all, fields(kind = K::KIND, namespace = span_namespace(&p), name = span_name(&p), ?sub))]
async fn write_existing<K: Served>(
    st: AppState,
    p: HashMap<String, String>,
    caller: Caller,
    mut obj: K,
    sub: Subresource,
) -> ApiResult<Response> {
    let (namespace, name) = path_parts(&p)?;
    normalize(&mut obj, &namespace, Some(&name))?;
    // A status write carries the whole object (only its status is taken): valid as a whole,
    // as the document says, so that no invalid status is stored.
    obj.validate(st.store.settings())?;
    let body = st.store.write(obj.update_op(&caller, sub)?).await?;
    Ok(json_response(StatusCode::OK, body))
}

async fn update<K: Served>(
    State(st): State<AppState>,
    Path(p): Path<HashMap<String, String>>,
    Authenticated(caller): Authenticated,
    Json(obj): Json<K>,
) -> ApiResult<Response> {
    write_existing(st, p, caller, obj, Subresource::Main).await
}

async fn update_status<K: Served>(
    State(st): State<AppState>,
    Path(p): Path<HashMap<String, String>>,
    Authenticated(caller): Authenticated,
    Json(obj): Json<K>,
) -> ApiResult<Response> {
    write_existing(st, p, caller, obj, Subresource::Status).await
}

#[tracing::instrument(skip_all, fields(kind = K::KIND, namespace = span_namespace(&p), name = span_name(&p)))]
async fn delete<K: Served>(
    State(st): State<AppState>,
    Path(p): Path<HashMap<String, String>>,
    Authenticated(caller): Authenticated,
) -> ApiResult<Response> {
    let (namespace, name) = path_parts(&p)?;
    let body = st.store.write(K::delete_op(namespace, name, &caller)?).await?;
    Ok(json_response(StatusCode::OK, body))
}

#[tracing::instrument(skip_all, fields(node = %name))]
async fn heartbeat(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Authenticated(caller): Authenticated,
    Json(hb): Json<Heartbeat>,
) -> ApiResult<Response> {
    caller.require_node(&name)?;
    for k in hb.backend_data.keys() {
        validation::validate_label_key(k).map_err(|m| ApiError::invalid(format!("backendData[{k}]"), m))?;
    }
    let body = st.store.write(Op::Heartbeat(name, hb)).await?;
    Ok(json_response(StatusCode::OK, body))
}

#[tracing::instrument(skip_all, fields(node = %name))]
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Namespaces as objects (a cluster-scoped core kind) sit at `/api/v1/namespaces/{name}`,
    /// beside every namespaced kind's `/api/v1/namespaces/{namespace}/…`: axum accepts both.
    #[test]
    fn the_namespace_routes_fit_beside_the_namespaced_routes() {
        let served = served_routes();
        for path in ["/api/v1/namespaces", "/api/v1/namespaces/{name}", "/api/v1/namespaces/{namespace}/pods"] {
            assert!(served.iter().any(|(p, m)| p == path && m == Method::GET), "{path} is not served");
        }
        // Conflicting routes make axum panic here.
        let _router: Router<AppState> = router();
    }
}
