//! HTTP handlers: the resource routes (generic over kinds, one set per entry of the kind
//! registry, [`openapi::registry`]), the node routes that are not plain CRUD (heartbeat,
//! token), the cluster configuration, health and metrics.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::handler::Handler;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use axum::Router;
use openapi::selector::LabelSelector;
use openapi::validation;
use openapi::{Heartbeat, Node, Pod, PolicyCounters, Resource};
use serde::Deserialize;

pub use crate::auth::Authenticated;
use crate::decode::{self, WriteQuery};
use crate::error::{ApiError, ApiResult, Json};
use crate::fields::FieldSelector;
use crate::kinds::Served;
use crate::patch::PatchType;
use crate::store::{Caller, Op, Selectable, Subresource};
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
            self.add(Method::PATCH, &routes.object, patch::<K>);
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
    r.add(Method::PUT, &format!("{node}/policycounters"), report_policy_counters);
    r.add(Method::GET, "/api/v1/policycounters", policy_counters);
    r.add(Method::GET, &format!("{}/log", Pod::INFO.routes().object), crate::logs::pod_log);
    let exec = format!("{}/exec", Pod::INFO.routes().object);
    r.add(Method::GET, &exec, crate::exec::pod_exec);
    r.add(Method::POST, &exec, crate::exec::pod_exec);
    r
}

/// Every (path, method) the router serves, but the JSON 404s of unknown API paths.
pub fn served_routes() -> Vec<(String, Method)> {
    let mut served = routes().served;
    served.extend(crate::discovery::paths().into_iter().map(|(path, _)| (path, Method::GET)));
    served.extend(crate::openapiv3::paths().into_iter().map(|path| (path, Method::GET)));
    served
}

/// Every route of the API (without the dashboard's static files).
pub fn router() -> Router<AppState> {
    let router =
        routes().by_path.into_iter().fold(Router::new(), |router, (path, methods)| router.route(&path, methods));
    crate::openapiv3::routes(crate::discovery::routes(router))
        // Kubernetes' names for the health check, as probes and load balancers ask them.
        .route("/livez", axum::routing::get(healthz))
        .route("/readyz", axum::routing::get(healthz))
        // Unknown API paths answer a JSON Status too (other paths go to the dashboard).
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .route("/apis/{*rest}", axum::routing::any(api_not_found))
        // After every route: it applies to the routes registered before it.
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(as_status))
}

/// The longest request target (path and query) served; longer ones are answered 414.
pub const MAX_URI_BYTES: usize = 16 * 1024;
/// The most header bytes (names and values) served; more are answered 431.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Every error of the API is a Kubernetes `Status`: too long a request target (414), too
/// many header bytes (431), and the plain-text rejections of the router and extractors (a
/// malformed path, a bad percent-encoding) are turned into one.
async fn as_status(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let uri_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "RequestURITooLong",
            format!("the request target is {uri_len} bytes: at most {MAX_URI_BYTES}"),
        )
        .into_response();
    }
    let header_bytes: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
    if header_bytes > MAX_HEADER_BYTES {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "RequestHeaderFieldsTooLarge",
            format!("the request's headers are {header_bytes} bytes: at most {MAX_HEADER_BYTES}"),
        )
        .into_response();
    }
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let allow = resp.headers().get(header::ALLOW).cloned();
    let body = axum::body::to_bytes(resp.into_body(), 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_string();
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_string() } else { text };
    let mut out = ApiError::new(status, reason_of(status), message).into_response();
    if let Some(allow) = allow {
        out.headers_mut().insert(header::ALLOW, allow);
    }
    out
}

/// Kubernetes' reason for an HTTP status.
fn reason_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        409 => "Conflict",
        410 => "Gone",
        413 => "RequestEntityTooLarge",
        414 => "RequestURITooLong",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        431 => "RequestHeaderFieldsTooLarge",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "InternalError",
    }
}

async fn api_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::path_not_found(uri.path())
}

/// Every error is a JSON `Status`, also a method a path does not serve (writes to the
/// read-only endpoints and node leases); axum still adds the `Allow` header.
async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::method_not_allowed(format!("{method} is not allowed on {}", uri.path()))
}

pub(crate) fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
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
    #[serde(default, deserialize_with = "go_bool")]
    watch: bool,
    resource_version: Option<String>,
    #[serde(default, deserialize_with = "go_bool")]
    allow_watch_bookmarks: bool,
    timeout_seconds: Option<u64>,
    /// What each row of a Table carries: `None`, `Metadata` (default) or `Object`.
    include_object: Option<String>,
}

/// A boolean query parameter as Kubernetes (Go's `strconv.ParseBool`) reads it: `true`,
/// `True`, `1`, `t`, … (the Python client sends `watch=True`).
fn go_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let s = String::deserialize(d)?;
    match s.as_str() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(serde::de::Error::custom(format!("{other:?} is not a boolean"))),
    }
}

/// The `Accept` header, as text.
fn accept(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())
}

/// A list or object as a Table, when the client asked for one (see [`crate::table`]).
fn as_table<K: Served>(st: &AppState, objects: &[&str], rv: &str, include: Option<&str>) -> Response {
    let values: Vec<serde_json::Value> = objects.iter().filter_map(|o| serde_json::from_str(o).ok()).collect();
    let t = crate::table::table(K::COLUMNS, &values, rv, st.store.now(), crate::table::Include::parse(include));
    (StatusCode::OK, [(header::CONTENT_TYPE, TABLE_CONTENT_TYPE)], t.to_string()).into_response()
}

const TABLE_CONTENT_TYPE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// The watch's resourceVersion (parsed by the list: a negative or malformed one is a bad
/// request): none (or "0") starts with the current objects; one ahead of the store is waited
/// for a little, then answered 504 as Kubernetes does ("Too large resource version").
async fn watch_from(st: &AppState, from: Option<i64>) -> ApiResult<Option<i64>> {
    let Some(from) = from else { return Ok(None) };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while from > st.store.revision() {
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::too_large_resource_version(from, st.store.revision()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Answer 410 as a status before streaming, so clients see it as an HTTP error.
    if from < st.store.compacted() {
        return Err(crate::store::gone(from, st.store.compacted()));
    }
    Ok(Some(from))
}

/// The watch body as `kubectl get -w` asks for it when it wants Tables: each object as a
/// one-row Table. (The stream sends BOOKMARK events only with `allowWatchBookmarks=true`.)
/// A chunk of the stream may hold several lines; each is reshaped on its own.
fn table_watch<K: Served>(st: &AppState, body: axum::body::Body, include: Option<String>) -> axum::body::Body {
    use futures::StreamExt;
    let st = st.clone();
    let stream = body.into_data_stream().map(move |chunk| {
        chunk.map(|bytes| {
            let mut out = Vec::with_capacity(bytes.len() * 2);
            for line in bytes.split_inclusive(|b| *b == b'\n') {
                table_line::<K>(&st, line, include.as_deref(), &mut out);
            }
            axum::body::Bytes::from(out)
        })
    });
    axum::body::Body::from_stream(stream)
}

/// One watch line with its object as a one-row Table (BOOKMARK and ERROR lines as they are).
fn table_line<K: Served>(st: &AppState, line: &[u8], include: Option<&str>, out: &mut Vec<u8>) {
    let as_is = line.starts_with(b"{\"type\":\"BOOKMARK\"") || line.starts_with(b"{\"type\":\"ERROR\"");
    let parsed = if as_is { None } else { serde_json::from_slice::<serde_json::Value>(line).ok() };
    let Some(mut ev) = parsed else {
        out.extend_from_slice(line);
        return;
    };
    let object = ev["object"].take();
    let rv = object.pointer("/metadata/resourceVersion").and_then(|v| v.as_str()).unwrap_or("").to_string();
    ev["object"] =
        crate::table::table(K::COLUMNS, &[object], &rv, st.store.now(), crate::table::Include::parse(include));
    serde_json::to_writer(&mut *out, &ev).expect("a Value always serializes");
    out.push(b'\n');
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
    headers: HeaderMap,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let (namespace, _) = path_parts(&p)?;
    let namespace = (!namespace.is_empty()).then_some(namespace);
    let labels = LabelSelector::parse(q.label_selector.as_deref().unwrap_or(""))
        .map_err(|m| ApiError::bad_request(format!("labelSelector: {m}")))?;
    let fields = FieldSelector::parse(K::INFO, q.field_selector.as_deref())?;
    let node = fields.node().map(str::to_string);
    let filter = Filter { kind: K::INFO, namespace, labels, node, fields };
    let table = crate::table::wants_table(accept(&headers));

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
        let from = watch_from(&st, from).await?;
        let params = WatchParams {
            from,
            bookmarks: q.allow_watch_bookmarks,
            timeout: q.timeout_seconds.map(Duration::from_secs),
        };
        let body = watch::stream(st.store.clone(), st.metrics.clone(), filter, params);
        let body = if table { table_watch::<K>(&st, body, q.include_object) } else { body };
        // A stream of JSON objects, one per line, labelled `application/json` as Kubernetes
        // does (what its clients expect), or `application/x-ndjson` when the client asks for it.
        let ndjson = accept(&headers).is_some_and(|a| a.contains(crate::spec::WATCH_CONTENT_TYPE));
        let content_type = if ndjson { crate::spec::WATCH_CONTENT_TYPE } else { "application/json" };
        return Ok(([(header::CONTENT_TYPE, content_type)], body).into_response());
    }

    let (rev, items) = st.store.list_raw(filter.kind, filter.namespace.as_deref(), filter.node.as_deref()).await?;
    let selected = |item: &String| {
        (filter.labels.is_empty() || filter.matches(&Selectable::from_json(item))) && filter.fields.matches_json(item)
    };
    if table {
        let objects: Vec<&str> = items.iter().filter(|i| selected(i)).map(String::as_str).collect();
        return Ok(as_table::<K>(&st, &objects, &rev.to_string(), q.include_object.as_deref()));
    }
    let mut body = String::with_capacity(items.iter().map(|i| i.len() + 1).sum::<usize>() + 128);
    body.push_str(&format!(
        "{{\"apiVersion\":\"{}\",\"kind\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{rev}\"}},\"items\":[",
        K::API_VERSION,
        K::INFO.list_kind()
    ));
    let mut first = true;
    for item in &items {
        if !selected(item) {
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
async fn read<K: Served>(
    State(st): State<AppState>,
    Path(p): Path<HashMap<String, String>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let (namespace, name) = path_parts(&p)?;
    match st.store.get_raw(K::INFO, &namespace, &name).await? {
        Some(body) if crate::table::wants_table(accept(&headers)) => {
            let rv = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.pointer("/metadata/resourceVersion").and_then(|r| r.as_str().map(str::to_string)))
                .unwrap_or_default();
            Ok(as_table::<K>(&st, &[&body], &rv, q.include_object.as_deref()))
        }
        Some(body) => Ok(json_response(StatusCode::OK, body)),
        None => Err(ApiError::not_found(K::KIND, &name)),
    }
}

// ---------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------

/// The options of a write (`dryRun`, `fieldValidation`, …).
/// A write's query parameters, each checked whether the write uses it or not (a delete has
/// no body to validate, yet a malformed `fieldValidation` is still a 400, as the document says).
fn write_query(q: Result<Query<WriteQuery>, QueryRejection>) -> ApiResult<WriteQuery> {
    let q = q.map(|Query(q)| q).map_err(|e| ApiError::bad_request(e.body_text()))?;
    q.validation()?;
    q.dry_run()?;
    Ok(q)
}

/// A write's answer: its status, the object, and a `Warning` header per dropped field.
fn written(status: StatusCode, body: String, warnings: &[String]) -> Response {
    let mut resp = json_response(status, body);
    resp.headers_mut().extend(decode::warning_headers(warnings));
    resp
}

/// The store operation, or its dry run.
fn maybe_dry(op: Op, dry_run: bool) -> Op {
    if dry_run {
        Op::DryRun(Box::new(op))
    } else {
        op
    }
}

#[tracing::instrument(skip_all, fields(kind = K::KIND, namespace = span_namespace(&p), name))]
async fn create<K: Served>(
    State(st): State<AppState>,
    Path(p): Path<HashMap<String, String>>,
    Authenticated(caller): Authenticated,
    query: Result<Query<WriteQuery>, QueryRejection>,
    Json(value): Json<serde_json::Value>,
) -> ApiResult<Response> {
    let q = write_query(query)?;
    let (mut obj, warnings) = decode::decode::<K>(value, q.validation()?)?;
    let (namespace, _) = path_parts(&p)?;
    normalize(&mut obj, &namespace, None)?;
    tracing::Span::current().record("name", obj.metadata().name.as_str());
    obj.validate(st.store.settings())?;
    let body = st.store.write(maybe_dry(obj.create_op(&caller)?, q.dry_run()?)).await?;
    Ok(written(StatusCode::CREATED, body, &warnings))
}

#[tracing::instrument(skip_all, fields(kind = K::KIND, namespace = span_namespace(&p), name = span_name(&p), ?sub))]
async fn write_existing<K: Served>(
    st: AppState,
    p: HashMap<String, String>,
    caller: Caller,
    mut obj: K,
    sub: Subresource,
    dry_run: bool,
) -> ApiResult<String> {
    let (namespace, name) = path_parts(&p)?;
    normalize(&mut obj, &namespace, Some(&name))?;
    // A status write carries the whole object (only its status is taken): valid as a whole,
    // as the document says, so that no invalid status is stored.
    let _ = sub;
    obj.validate(st.store.settings())?;
    st.store.write(maybe_dry(obj.update_op(&caller, sub)?, dry_run)).await
}

async fn update<K: Served>(
    State(st): State<AppState>,
    Path(p): Path<HashMap<String, String>>,
    Authenticated(caller): Authenticated,
    query: Result<Query<WriteQuery>, QueryRejection>,
    Json(value): Json<serde_json::Value>,
) -> ApiResult<Response> {
    let q = write_query(query)?;
    let (obj, warnings) = decode::decode::<K>(value, q.validation()?)?;
    let body = write_existing(st, p, caller, obj, Subresource::Main, q.dry_run()?).await?;
    Ok(written(StatusCode::OK, body, &warnings))
}

async fn update_status<K: Served>(
    State(st): State<AppState>,
    Path(p): Path<HashMap<String, String>>,
    Authenticated(caller): Authenticated,
    query: Result<Query<WriteQuery>, QueryRejection>,
    Json(value): Json<serde_json::Value>,
) -> ApiResult<Response> {
    let q = write_query(query)?;
    let (obj, warnings) = decode::decode::<K>(value, q.validation()?)?;
    let body = write_existing(st, p, caller, obj, Subresource::Status, q.dry_run()?).await?;
    Ok(written(StatusCode::OK, body, &warnings))
}

/// PATCH of an object: JSON merge patch, JSON patch, strategic merge patch, or server-side
/// apply (which creates the object when missing). The patch is applied to the stored object
/// and the result written as a replace; a concurrent write makes it try again.
#[tracing::instrument(skip_all, fields(kind = K::KIND, namespace = span_namespace(&p), name = span_name(&p)))]
async fn patch<K: Served>(
    State(st): State<AppState>,
    Path(p): Path<HashMap<String, String>>,
    Authenticated(caller): Authenticated,
    query: Result<Query<WriteQuery>, QueryRejection>,
    request: axum::extract::Request,
) -> ApiResult<Response> {
    let q = write_query(query)?;
    let (ct, bytes) = crate::error::read_body(request, &st).await?;
    let Some(kind) = PatchType::from_content_type(&ct) else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!(
                "the body of a PATCH is application/merge-patch+json, application/json-patch+json, \
                 application/strategic-merge-patch+json or application/apply-patch+yaml, not {ct:?}"
            ),
        ));
    };
    let patch: serde_json::Value = crate::error::parse_json(&bytes).map_err(|e| {
        if kind == PatchType::Apply {
            ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                format!("flatnet reads apply patches written as JSON (kubectl sends them so): {}", e.message),
            )
        } else {
            e
        }
    })?;
    if kind == PatchType::Apply && q.field_manager.as_deref().is_none_or(str::is_empty) {
        return Err(ApiError::bad_request("fieldManager is required for apply patches"));
    }
    let (validation, dry_run) = (q.validation()?, q.dry_run()?);
    let (namespace, name) = path_parts(&p)?;
    let mut patch = patch;
    if let Some(meta) = patch.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.remove("managedFields");
    }
    let precondition = patch.pointer("/metadata/resourceVersion").is_some();
    // Server-side apply records its field manager and the fields it set.
    let manager = (kind == PatchType::Apply)
        .then(|| (q.field_manager.clone().unwrap_or_default(), crate::patch::fields_v1(&patch)));
    for _ in 0..8 {
        let Some(current) = st.store.get_raw(K::INFO, &namespace, &name).await? else {
            if kind != PatchType::Apply {
                return Err(ApiError::not_found(K::KIND, &name));
            }
            let mut created = patch.clone();
            if let Some((manager, fields)) = &manager {
                record_manager::<K>(&mut created, manager, fields, st.store.now());
            }
            let (mut obj, warnings) = decode::decode::<K>(created, validation)?;
            normalize(&mut obj, &namespace, Some(&name))?;
            obj.validate(st.store.settings())?;
            let body = st.store.write(maybe_dry(obj.create_op(&caller)?, dry_run)).await?;
            return Ok(written(StatusCode::CREATED, body, &warnings));
        };
        let mut v: serde_json::Value =
            serde_json::from_str(&current).map_err(|e| ApiError::internal("stored object", e))?;
        let rv = v.pointer("/metadata/resourceVersion").cloned();
        let applied = match kind {
            PatchType::Merge => {
                crate::patch::merge(&mut v, &patch);
                Ok(())
            }
            PatchType::Json => crate::patch::json_patch(v.take(), &patch).map(|out| v = out),
            PatchType::Strategic | PatchType::Apply => crate::patch::strategic(&mut v, &patch),
        };
        applied.map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", m))?;
        if !precondition {
            if let (Some(rv), Some(meta)) = (rv, v.get_mut("metadata").and_then(|m| m.as_object_mut())) {
                meta.insert("resourceVersion".into(), rv);
            }
        }
        if let Some((manager, fields)) = &manager {
            record_manager::<K>(&mut v, manager, fields, st.store.now());
        }
        let (obj, warnings) = decode::decode::<K>(v, validation)?;
        match write_existing(st.clone(), p.clone(), caller.clone(), obj, Subresource::Main, dry_run).await {
            Ok(body) => return Ok(written(StatusCode::OK, body, &warnings)),
            Err(e) if e.reason == "Conflict" && !precondition => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::conflict(format!("{} {name:?} kept changing: patch it again", K::KIND)))
}

/// Put `manager`'s Apply entry into the object's `metadata.managedFields`: a new one, or the
/// old one with the fields now applied (its time moves only when they changed).
fn record_manager<K: Served>(
    obj: &mut serde_json::Value,
    manager: &str,
    fields: &serde_json::Value,
    now: chrono::DateTime<chrono::Utc>,
) {
    if !obj["metadata"].is_object() {
        obj["metadata"] = serde_json::json!({});
    }
    let meta = &mut obj["metadata"];
    let mut entries: Vec<serde_json::Value> = meta["managedFields"].as_array().cloned().unwrap_or_default();
    let time = serde_json::json!(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    match entries.iter_mut().find(|e| e["manager"] == manager && e["operation"] == "Apply") {
        Some(e) if e["fieldsV1"] == *fields => {}
        Some(e) => {
            e["fieldsV1"] = fields.clone();
            e["time"] = time;
        }
        None => entries.push(serde_json::json!({
            "manager": manager,
            "operation": "Apply",
            "apiVersion": K::API_VERSION,
            "time": time,
            "fieldsType": "FieldsV1",
            "fieldsV1": fields,
        })),
    }
    meta["managedFields"] = serde_json::Value::Array(entries);
}

#[tracing::instrument(skip_all, fields(kind = K::KIND, namespace = span_namespace(&p), name = span_name(&p)))]
async fn delete<K: Served>(
    State(st): State<AppState>,
    Path(p): Path<HashMap<String, String>>,
    Authenticated(caller): Authenticated,
    query: Result<Query<WriteQuery>, QueryRejection>,
    options: axum::body::Bytes,
) -> ApiResult<Response> {
    let q = write_query(query)?;
    // kubectl and the official clients send `DeleteOptions` as the body, with `dryRun` there.
    let mut dry_run = q.dry_run()?;
    if !options.is_empty() {
        let options: serde_json::Value = crate::error::parse_json(&options)?;
        if let Some(modes) = options.get("dryRun").and_then(|d| d.as_array()) {
            for mode in modes {
                match mode.as_str() {
                    Some("All") => dry_run = true,
                    _ => return Err(ApiError::bad_request(format!("unsupported dryRun {mode}: only \"All\""))),
                }
            }
        }
    }
    let (namespace, name) = path_parts(&p)?;
    let body = st.store.write(maybe_dry(K::delete_op(namespace, name, &caller)?, dry_run)).await?;
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

/// `PUT /api/v1/nodes/{name}/policycounters`: the node's agent replaces its policy counters
/// (kept in memory, [`crate::metrics::Metrics::set_policy_counters`]).
#[tracing::instrument(skip_all, fields(node = %name))]
async fn report_policy_counters(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Authenticated(caller): Authenticated,
    Json(report): Json<PolicyCounters>,
) -> ApiResult<Response> {
    caller.require_node(&name)?;
    validate_policy_counters(&report)?;
    if st.store.get_raw(Node::INFO, "", &name).await?.is_none() {
        return Err(ApiError::not_found("node", &name));
    }
    st.metrics.set_policy_counters(&name, report.items.clone());
    let body = serde_json::to_string(&report).map_err(|e| ApiError::internal("policy counters", e))?;
    Ok(json_response(StatusCode::OK, body))
}

/// A report's counters name a policy kind, a valid name (and namespace for a NetworkPolicy),
/// a direction and an action; at most [`openapi::policy::POLICY_COUNTERS_MAX`] of them.
fn validate_policy_counters(report: &PolicyCounters) -> ApiResult<()> {
    if report.items.len() > openapi::policy::POLICY_COUNTERS_MAX {
        return Err(ApiError::invalid("items", format!("at most {} counters", openapi::policy::POLICY_COUNTERS_MAX)));
    }
    for (i, c) in report.items.iter().enumerate() {
        let field = |f: &str| format!("items[{i}].{f}");
        let namespaced = match c.kind.as_str() {
            "NetworkPolicy" => true,
            "AdminNetworkPolicy" | "BaselineAdminNetworkPolicy" => false,
            _ => {
                return Err(ApiError::invalid(
                    field("kind"),
                    "NetworkPolicy, AdminNetworkPolicy or BaselineAdminNetworkPolicy",
                ))
            }
        };
        match (&c.namespace, namespaced) {
            (Some(ns), true) => {
                validation::validate_dns1123_label(ns).map_err(|m| ApiError::invalid(field("namespace"), m))?
            }
            (None, false) => {}
            (None, true) => return Err(ApiError::invalid(field("namespace"), "required for a NetworkPolicy")),
            (Some(_), false) => return Err(ApiError::invalid(field("namespace"), "only a NetworkPolicy has one")),
        }
        validation::validate_dns1123_subdomain(&c.name).map_err(|m| ApiError::invalid(field("name"), m))?;
        if !matches!(c.direction.as_str(), "Ingress" | "Egress") {
            return Err(ApiError::invalid(field("direction"), "Ingress or Egress"));
        }
        if !matches!(c.action.as_str(), "Allow" | "Deny" | "Pass") {
            return Err(ApiError::invalid(field("action"), "Allow, Deny or Pass"));
        }
        // The document declares the counts int64 (what JSON clients can hold).
        for (name, value) in [("packets", c.packets), ("bytes", c.bytes)] {
            if value > i64::MAX as u64 {
                return Err(ApiError::invalid(field(name), format!("at most {}", i64::MAX)));
            }
        }
        // An index into a policy's rules: the document declares it an int32.
        if c.rule.is_some_and(|r| r > i32::MAX as u32) {
            return Err(ApiError::invalid(field("rule"), format!("a rule index, at most {}", i32::MAX)));
        }
    }
    Ok(())
}

/// `GET /api/v1/policycounters`: every node's last report, summed per policy rule.
async fn policy_counters(State(st): State<AppState>) -> ApiResult<Response> {
    let all = PolicyCounters { items: st.metrics.policy_counters() };
    let body = serde_json::to_string(&all).map_err(|e| ApiError::internal("policy counters", e))?;
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
    let mut body = st.metrics.render(&objects);
    body.push_str(&st.store.metrics_text());
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
