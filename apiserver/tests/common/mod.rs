//! Shared harness of the HTTP-level tests: a real store on a SQLite file in a temporary
//! directory, a clock the tests move by hand, requests through `Router::oneshot`, and small
//! builders for the objects the tests create.
//!
//! The periodic tick is never spawned here: tests run `Op::Tick` themselves (see
//! [`TestServer::tick`]) so that lease expiry and compaction happen exactly when a test says.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use apiserver::auth::Authenticator;
use apiserver::config::{default_cluster_config, Settings};
use apiserver::metrics::Metrics;
use apiserver::store::{Clock, Op, Store};
use apiserver::AppState;
use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, TimeZone, Utc};
use http_body_util::BodyExt;
use openapi::{
    ClusterConfig, ConditionStatus, Container, ContainerPort, Endpoints, IntOrString, List, Node, NodeAddress,
    NodeLease, NodeToken, ObjectMeta, Pod, PodCondition, PodPhase, Protocol, Service, ServicePort, ServiceType, Status,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tempfile::TempDir;
use tower::ServiceExt;

/// The admin bearer token every test server is opened with.
pub const ADMIN: &str = "test-admin-token";
/// The read-only viewer token every test server is opened with.
pub const VIEWER: &str = "test-viewer-token";
pub const NS: &str = "default";

// ---------------------------------------------------------------------------------------------
// Clock
// ---------------------------------------------------------------------------------------------

/// A clock that only moves when a test advances it.
#[derive(Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock(Arc::new(Mutex::new(Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap())))
    }
}

impl ManualClock {
    pub fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }

    pub fn advance(&self, seconds: i64) {
        *self.0.lock().unwrap() += chrono::Duration::seconds(seconds);
    }

    pub fn clock(&self) -> Clock {
        let now = self.0.clone();
        Arc::new(move || *now.lock().unwrap())
    }
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

pub struct ServerBuilder {
    cluster: ClusterConfig,
    watch_history: i64,
    max_body_bytes: usize,
    bookmark_interval: Option<std::time::Duration>,
    dir: Option<Arc<TempDir>>,
    clock: ManualClock,
    anonymous_reads: bool,
}

impl ServerBuilder {
    /// Reads without a token answer (the server's `--anonymous-reads`).
    pub fn anonymous_reads(mut self) -> Self {
        self.anonymous_reads = true;
        self
    }
    pub fn lease(mut self, ttl_seconds: u64, grace_seconds: u64) -> Self {
        self.cluster.lease_ttl_seconds = ttl_seconds;
        self.cluster.lease_grace_seconds = grace_seconds;
        self
    }
    pub fn pod_cidr(mut self, cidr: &str, node_prefix: u8) -> Self {
        self.cluster.pod_cidr = cidr.into();
        self.cluster.node_subnet_prefix = node_prefix;
        self
    }
    pub fn service_cidr(mut self, cidr: &str) -> Self {
        self.cluster.service_cidr = cidr.into();
        self
    }
    pub fn node_port_range(mut self, min: u16, max: u16) -> Self {
        self.cluster.node_port_range = openapi::PortRange { min, max };
        self
    }
    pub fn watch_history(mut self, revisions: i64) -> Self {
        self.watch_history = revisions;
        self
    }
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }
    pub fn bookmark_interval(mut self, every: std::time::Duration) -> Self {
        self.bookmark_interval = Some(every);
        self
    }
    /// Open the store in an existing directory (a restart).
    pub fn dir(mut self, dir: Arc<TempDir>) -> Self {
        self.dir = Some(dir);
        self
    }
    pub fn clock(mut self, clock: ManualClock) -> Self {
        self.clock = clock;
        self
    }

    pub async fn start(self) -> TestServer {
        let dir = match self.dir {
            Some(d) => d,
            None => Arc::new(tempfile::tempdir().expect("temp dir")),
        };
        let (cluster, watch_history, max_body) = (self.cluster, self.watch_history, self.max_body_bytes);
        let bookmarks = self.bookmark_interval;
        let configure = move |stored: Option<ClusterConfig>| {
            let mut settings = Settings::new(stored.unwrap_or(cluster))?;
            settings.watch_history = watch_history;
            settings.max_body_bytes = max_body;
            if let Some(every) = bookmarks {
                settings.bookmark_interval = every;
            }
            Ok(settings)
        };
        let store = Store::open(dir.path(), configure, ADMIN, self.clock.clock()).await.expect("open store");
        let metrics = Arc::new(Metrics::default());
        let auth = Arc::new(Authenticator::new(ADMIN, VIEWER, self.anonymous_reads));
        let app = apiserver::app(AppState { store: store.clone(), metrics: metrics.clone(), auth }, None);
        TestServer { app, store, metrics, clock: self.clock, dir }
    }
}

/// One API server over a real SQLite file, driven through `Router::oneshot`.
pub struct TestServer {
    pub app: Router,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub clock: ManualClock,
    pub dir: Arc<TempDir>,
}

impl TestServer {
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            cluster: default_cluster_config(),
            watch_history: 100_000,
            max_body_bytes: 1024 * 1024,
            bookmark_interval: None,
            dir: None,
            clock: ManualClock::default(),
            anonymous_reads: false,
        }
    }

    pub async fn start() -> TestServer {
        Self::builder().start().await
    }

    pub async fn send(&self, req: Req) -> Resp {
        send(&self.app, req).await
    }

    /// A read with the admin token.
    pub async fn get(&self, path: &str) -> Resp {
        self.send(Req::get(path).token(ADMIN)).await
    }
    pub async fn post<T: Serialize>(&self, path: &str, body: &T) -> Resp {
        self.send(Req::post(path).json(body).token(ADMIN)).await
    }
    pub async fn put<T: Serialize>(&self, path: &str, body: &T) -> Resp {
        self.send(Req::put(path).json(body).token(ADMIN)).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Req::delete(path).token(ADMIN)).await
    }

    /// Run one periodic tick (lease expiry and reclamation, pending pods, compaction).
    pub async fn tick(&self) {
        self.store.write(Op::Tick).await.expect("tick");
    }

    pub fn advance(&self, seconds: i64) {
        self.clock.advance(seconds);
    }

    pub fn revision(&self) -> i64 {
        self.store.revision()
    }

    // --- nodes ---

    pub async fn create_node(&self, node: impl Into<Node>) -> Node {
        self.post("/api/v1/nodes", &node.into()).await.ok()
    }

    pub async fn heartbeat(&self, name: &str) -> NodeLease {
        self.send(Req::post(&format!("/api/v1/nodes/{name}/heartbeat")).json(&serde_json::json!({})).token(ADMIN))
            .await
            .ok()
    }

    /// Register a node and heartbeat it: Ready, with a lease.
    pub async fn ready_node(&self, name: &str, ip: &str) -> Node {
        self.create_node(node(name).ip(ip)).await;
        self.heartbeat(name).await;
        let n = self.node(name).await;
        assert!(n.is_ready(), "{n:?}");
        n
    }

    pub async fn node(&self, name: &str) -> Node {
        self.get(&format!("/api/v1/nodes/{name}")).await.ok()
    }

    pub async fn lease(&self, name: &str) -> Resp {
        self.get(&format!("/api/v1/nodeleases/{name}")).await
    }

    pub async fn node_token(&self, name: &str) -> String {
        let t: NodeToken = self.send(Req::post(&format!("/api/v1/nodes/{name}/token")).token(ADMIN)).await.ok();
        assert_eq!(t.node_name, name);
        t.token
    }

    // --- pods ---

    pub async fn create_pod(&self, pod: impl Into<Pod>) -> Pod {
        let pod = pod.into();
        let ns = pod.metadata.namespace.clone().unwrap_or_else(|| NS.into());
        self.post(&format!("/api/v1/namespaces/{ns}/pods"), &pod).await.ok()
    }

    pub async fn pod(&self, name: &str) -> Pod {
        self.get(&pod_path(name)).await.ok()
    }

    pub async fn pods(&self, path: &str) -> List<Pod> {
        self.get(path).await.ok()
    }

    /// Report the pod Running with its Ready condition True (what a node agent does).
    pub async fn set_pod_ready(&self, name: &str) -> Pod {
        let pod = running_ready(self.pod(name).await, true);
        self.put(&format!("{}/status", pod_path(name)), &pod).await.ok()
    }

    // --- services, endpoints ---

    pub async fn create_service(&self, svc: impl Into<Service>) -> Service {
        self.post(&format!("/api/v1/namespaces/{NS}/services"), &svc.into()).await.ok()
    }

    pub async fn endpoints(&self, name: &str) -> Endpoints {
        self.get(&format!("/api/v1/namespaces/{NS}/endpoints/{name}")).await.ok()
    }

    // --- watch, metrics ---

    /// A watch request read to its end (give it `timeoutSeconds`), as parsed lines.
    pub async fn watch(&self, path_and_query: &str) -> Vec<WatchLine> {
        let resp = self.get(path_and_query).await;
        assert_eq!(resp.status, StatusCode::OK, "watch {path_and_query}: {}", resp.text());
        assert_eq!(resp.headers[header::CONTENT_TYPE], "application/json");
        resp.lines()
    }

    /// Several watch requests at once (each ends at its `timeoutSeconds`), in order.
    pub async fn watch_all(&self, paths: &[String]) -> Vec<Vec<WatchLine>> {
        futures::future::join_all(paths.iter().map(|p| self.watch(p))).await
    }

    /// A watch request kept open, read line by line.
    pub async fn open_watch(&self, path_and_query: &str) -> WatchStream {
        let req = Request::get(path_and_query)
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
            .body(Body::empty())
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.expect("router is infallible");
        assert_eq!(resp.status(), StatusCode::OK, "watch {path_and_query}");
        WatchStream { body: resp.into_body(), buf: Vec::new() }
    }

    pub async fn metrics_text(&self) -> String {
        let resp = self.get("/metrics").await;
        assert_eq!(resp.status, StatusCode::OK);
        resp.text()
    }
}

/// The app of `srv` served over HTTPS on a loopback port, with a CA made in `srv`'s data
/// directory: answers the base URL and the CA certificate (PEM).
pub async fn serve_tls(srv: &TestServer) -> (String, Vec<u8>, tokio::task::JoinHandle<()>) {
    let names = apiserver::tls::serving_names("127.0.0.1:0".parse().unwrap(), &[]);
    let pki = apiserver::tls::load_or_create(srv.dir.path(), &names).expect("make the CA");
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let listener = apiserver::tls::TlsListener::new(tcp, pki.server_config).unwrap();
    let app = srv.app.clone();
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("https://{addr}"), pki.ca_pem.into_bytes(), task)
}

pub fn pod_path(name: &str) -> String {
    format!("/api/v1/namespaces/{NS}/pods/{name}")
}

pub fn service_path(name: &str) -> String {
    format!("/api/v1/namespaces/{NS}/services/{name}")
}

pub async fn send(app: &Router, req: Req) -> Resp {
    let mut builder = Request::builder().method(req.method).uri(&req.path);
    if let Some(t) = &req.token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if let Some(v) = &req.authorization {
        builder = builder.header(header::AUTHORIZATION, v);
    }
    for (name, value) in &req.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body = match req.body {
        Some((bytes, content_type)) => {
            // An empty content type sends none.
            if !content_type.is_empty() {
                builder = builder.header(header::CONTENT_TYPE, content_type);
            }
            Body::from(bytes)
        }
        None => Body::empty(),
    };
    let resp = app.clone().oneshot(builder.body(body).unwrap()).await.expect("router is infallible");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("read body").to_bytes().to_vec();
    Resp { status: parts.status, headers: parts.headers, body }
}

// ---------------------------------------------------------------------------------------------
// Requests and responses
// ---------------------------------------------------------------------------------------------

pub struct Req {
    method: Method,
    path: String,
    token: Option<String>,
    authorization: Option<String>,
    body: Option<(Vec<u8>, String)>,
    headers: Vec<(String, String)>,
}

impl Req {
    pub fn new(method: Method, path: &str) -> Req {
        Req { method, path: path.into(), token: None, authorization: None, body: None, headers: Vec::new() }
    }
    pub fn get(path: &str) -> Req {
        Req::new(Method::GET, path)
    }
    pub fn post(path: &str) -> Req {
        Req::new(Method::POST, path)
    }
    pub fn put(path: &str) -> Req {
        Req::new(Method::PUT, path)
    }
    pub fn delete(path: &str) -> Req {
        Req::new(Method::DELETE, path)
    }
    /// Send `Authorization: Bearer TOKEN`.
    pub fn token(mut self, token: &str) -> Req {
        self.token = Some(token.into());
        self
    }
    /// Send this exact `Authorization` header.
    pub fn authorization(mut self, value: &str) -> Req {
        self.authorization = Some(value.into());
        self
    }
    pub fn json<T: Serialize>(self, body: &T) -> Req {
        let bytes = serde_json::to_vec(body).unwrap();
        self.raw(bytes, "application/json")
    }
    /// Send this header too (`Accept`, …).
    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.into(), value.into()));
        self
    }
    pub fn raw(mut self, bytes: impl Into<Vec<u8>>, content_type: &str) -> Req {
        self.body = Some((bytes.into(), content_type.into()));
        self
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The body of a 2xx answer, decoded.
    #[track_caller]
    pub fn ok<T: DeserializeOwned>(&self) -> T {
        assert!(self.status.is_success(), "expected success, got {}: {}", self.status, self.text());
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("decode ({e}): {}", self.text()))
    }

    /// Assert the status and return the JSON body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text());
        self.json()
    }

    /// Assert an error answer: the HTTP status, a JSON `Status` body with the same `code`,
    /// the `reason`, a message, and (when given) the offending `field`.
    #[track_caller]
    pub fn error(&self, status: u16, reason: &str, field: Option<&str>) -> Status {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text());
        assert_eq!(
            self.headers.get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap()),
            Some("application/json"),
            "error bodies are JSON: {}",
            self.text()
        );
        let s: Status =
            serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not a Status ({e}): {}", self.text()));
        // Kubernetes' shape, which kubectl and the official clients read.
        let v = self.json();
        assert_eq!(
            (&v["kind"], &v["apiVersion"], &v["status"]),
            (&serde_json::json!("Status"), &serde_json::json!("v1"), &serde_json::json!("Failure"))
        );
        assert_eq!(s.code, status, "{s:?}");
        assert_eq!(s.reason, reason, "{s:?}");
        assert!(!s.message.is_empty(), "{s:?}");
        if let Some(f) = field {
            assert_eq!(s.field.as_deref(), Some(f), "{s:?}");
            assert!(s.causes.is_empty() || s.causes.iter().any(|c| c.field == f), "{s:?}");
        }
        s
    }

    /// The lines of an NDJSON body.
    pub fn lines(&self) -> Vec<WatchLine> {
        self.text()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line ({e}): {l}"));
                WatchLine { event_type: v["type"].as_str().expect("type").to_string(), object: v["object"].clone() }
            })
            .collect()
    }
}

/// An open watch response.
pub struct WatchStream {
    body: Body,
    buf: Vec<u8>,
}

impl WatchStream {
    /// The next line; `None` when the stream ended. Fails the test after 5 s of silence.
    pub async fn next(&mut self) -> Option<WatchLine> {
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                let resp = Resp { status: StatusCode::OK, headers: HeaderMap::new(), body: line };
                if let Some(l) = resp.lines().pop() {
                    return Some(l);
                }
                continue;
            }
            let frame = tokio::time::timeout(std::time::Duration::from_secs(5), self.body.frame())
                .await
                .expect("no watch event within 5 s");
            match frame {
                None => return None,
                Some(f) => {
                    if let Ok(data) = f.expect("watch body").into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    /// The next `n` lines.
    pub async fn take(&mut self, n: usize) -> Vec<WatchLine> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.next().await.expect("the watch ended early"));
        }
        out
    }
}

/// One line of a watch stream.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchLine {
    pub event_type: String,
    pub object: Value,
}

impl WatchLine {
    pub fn rv(&self) -> i64 {
        self.object["metadata"]["resourceVersion"].as_str().expect("resourceVersion").parse().unwrap()
    }
    pub fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or("")
    }
    /// `TYPE name`, for compact assertions.
    pub fn short(&self) -> String {
        format!("{} {}", self.event_type, self.name())
    }
}

pub fn rv_of<K: openapi::Resource>(obj: &K) -> i64 {
    obj.metadata().revision()
}

/// The value of one Prometheus sample line `name{labels} value` (labels exactly as given).
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')).map(|v| v.parse().unwrap()))
}

// ---------------------------------------------------------------------------------------------
// Object builders
// ---------------------------------------------------------------------------------------------

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta { name: name.into(), namespace: namespace.map(Into::into), ..Default::default() }
}

pub struct NodeBuilder(Node);

/// `node("n1").ip("192.168.50.1")`.
pub fn node(name: &str) -> NodeBuilder {
    NodeBuilder(Node {
        api_version: "v1".into(),
        kind: "Node".into(),
        metadata: meta(name, None),
        ..Default::default()
    })
}

impl NodeBuilder {
    pub fn ip(mut self, ip: &str) -> Self {
        self.0.status.addresses.push(NodeAddress { address_type: "InternalIP".into(), address: ip.into() });
        self
    }
    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.0.metadata.labels.insert(k.into(), v.into());
        self
    }
}

impl From<NodeBuilder> for Node {
    fn from(b: NodeBuilder) -> Node {
        b.0
    }
}

pub struct PodBuilder(Pod);

/// `pod("web-1").labels(&[("app", "web")]).port("http", 8080).node("n1")`.
pub fn pod(name: &str) -> PodBuilder {
    let mut p = Pod { api_version: "v1".into(), kind: "Pod".into(), metadata: meta(name, None), ..Default::default() };
    p.spec.containers.push(Container {
        name: "main".into(),
        command: vec!["sleep".into(), "infinity".into()],
        ..Default::default()
    });
    PodBuilder(p)
}

impl PodBuilder {
    pub fn namespace(mut self, ns: &str) -> Self {
        self.0.metadata.namespace = Some(ns.into());
        self
    }
    pub fn labels(mut self, labels: &[(&str, &str)]) -> Self {
        for (k, v) in labels {
            self.0.metadata.labels.insert(k.to_string(), v.to_string());
        }
        self
    }
    /// A named TCP container port.
    pub fn port(mut self, name: &str, port: i32) -> Self {
        self.0.spec.containers[0].ports.push(ContainerPort {
            name: Some(name.into()),
            container_port: port,
            protocol: Protocol::Tcp,
        });
        self
    }
    pub fn node(mut self, node: &str) -> Self {
        self.0.spec.node_name = Some(node.into());
        self
    }
}

impl From<PodBuilder> for Pod {
    fn from(b: PodBuilder) -> Pod {
        b.0
    }
}

/// `pod` reported Running with its Ready condition `ready`.
pub fn running_ready(mut pod: Pod, ready: bool) -> Pod {
    pod.status.phase = PodPhase::Running;
    pod.status.conditions.retain(|c| c.condition_type != "Ready");
    pod.status.conditions.push(PodCondition {
        condition_type: "Ready".into(),
        status: if ready { ConditionStatus::True } else { ConditionStatus::False },
        last_transition_time: None,
        reason: None,
        message: None,
    });
    pod
}

pub struct ServiceBuilder(Service);

/// `service("web").selector(&[("app", "web")]).port(80, 8080)`.
pub fn service(name: &str) -> ServiceBuilder {
    ServiceBuilder(Service {
        api_version: "v1".into(),
        kind: "Service".into(),
        metadata: meta(name, None),
        ..Default::default()
    })
}

impl ServiceBuilder {
    pub fn selector(mut self, labels: &[(&str, &str)]) -> Self {
        for (k, v) in labels {
            self.0.spec.selector.insert(k.to_string(), v.to_string());
        }
        self
    }
    /// An unnamed TCP port with a numeric target.
    pub fn port(mut self, port: i32, target: i32) -> Self {
        self.0.spec.ports.push(ServicePort { port, target_port: Some(IntOrString::Int(target)), ..Default::default() });
        self
    }
    /// A named TCP port whose target is a container port name.
    pub fn named_port(mut self, name: &str, port: i32, target: &str) -> Self {
        self.0.spec.ports.push(ServicePort {
            name: Some(name.into()),
            port,
            target_port: Some(IntOrString::String(target.into())),
            ..Default::default()
        });
        self
    }
    pub fn node_port_type(mut self) -> Self {
        self.0.spec.service_type = ServiceType::NodePort;
        self
    }
    /// Ask for `port` as the node port of the last port.
    pub fn node_port(mut self, port: i32) -> Self {
        self.0.spec.service_type = ServiceType::NodePort;
        self.0.spec.ports.last_mut().expect("a port first").node_port = Some(port);
        self
    }
    pub fn cluster_ip(mut self, ip: &str) -> Self {
        self.0.spec.cluster_ip = Some(ip.into());
        self
    }
}

impl From<ServiceBuilder> for Service {
    fn from(b: ServiceBuilder) -> Service {
        b.0
    }
}

// ---------------------------------------------------------------------------------------------
// Endpoints helpers
// ---------------------------------------------------------------------------------------------

/// Names of the ready and not-ready pods of endpoints, each sorted.
pub fn endpoint_pods(ep: &Endpoints) -> (Vec<String>, Vec<String>) {
    let mut ready: Vec<String> =
        ep.subsets.iter().flat_map(|s| s.addresses.iter().map(|a| a.target_ref.name.clone())).collect();
    let mut not_ready: Vec<String> =
        ep.subsets.iter().flat_map(|s| s.not_ready_addresses.iter().map(|a| a.target_ref.name.clone())).collect();
    ready.sort();
    not_ready.sort();
    (ready, not_ready)
}

pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

pub fn ready_condition(node: &Node) -> Option<&openapi::NodeCondition> {
    node.status.conditions.iter().find(|c| c.condition_type == "Ready")
}

pub fn pod_condition<'a>(pod: &'a Pod, kind: &str) -> Option<&'a PodCondition> {
    pod.status.conditions.iter().find(|c| c.condition_type == kind)
}
