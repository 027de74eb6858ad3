//! A typed async client for the flatnet API.
//!
//! ```no_run
//! # async fn demo() -> Result<(), openapi::client::Error> {
//! use futures::StreamExt;
//! use openapi::client::{Client, ListParams, WatchEvent};
//! use openapi::Pod;
//!
//! let ca = std::fs::read("flatnet-data/ca.crt").expect("the cluster's CA");
//! let client = Client::with_ca("https://127.0.0.1:8080", Some("TOKEN".into()), &ca)?;
//! let pods = client.api::<Pod>(Some("default"));
//! let list = pods.list(&ListParams::default().labels("app=web")).await?;
//! let mut events = pods.watch(&ListParams::default(), &list.metadata.resource_version);
//! while let Some(event) = events.next().await {
//!     match event? {
//!         WatchEvent::Added(pod) | WatchEvent::Modified(pod) => println!("{}", pod.metadata.name),
//!         WatchEvent::Deleted(pod) => println!("gone: {}", pod.metadata.name),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! A watch stream reconnects by itself (with backoff) from the last resourceVersion it saw,
//! so no event is lost or repeated across a broken connection. When the server no longer
//! has that history it yields [`Error::Gone`] and ends: list again and watch from the new
//! list's version.
//!
//! **Several servers.** A client may be given several API servers that share one store
//! (`https://a:8080,https://b:8080`, or [`Client::with_servers`]). It talks to one of them
//! at a time; when that one fails — the connection is refused or reset, the answer is a
//! 5xx, or no answer comes within [`REQUEST_TIMEOUT`] (a watch: no byte, not even a
//! bookmark, within [`WATCH_IDLE_TIMEOUT`]) — every clone of the client moves on to the
//! next server in the list, round robin. A request is sent again at once to the next server
//! when that cannot apply it twice: always when the connection failed before the request
//! was sent, otherwise only for GET, PUT and DELETE (a PUT carries the resourceVersion it
//! replaces, a DELETE of a deleted object answers 404); a POST that failed after it was sent
//! answers its error, and the caller's next request goes to the next server. A watch
//! reconnects to the next server from the last resourceVersion it saw: the servers share
//! one revision line, so the resumed watch neither misses nor repeats an event (a server
//! whose change feed is behind that version waits for it), and the consumer sees no error.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use futures::StreamExt;
use serde::de::DeserializeOwned;

use crate::meta::{EventType, List, Resource, Status};
use crate::policy::PolicyCounters;
use crate::resources::{ClusterConfig, Endpoints, Event, Heartbeat, Node, NodeLease, NodeToken, Pod, Service};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error status.
    #[error("api error: {0}")]
    Api(Status),
    /// The watch history was compacted past the requested version: relist.
    #[error("watch history compacted: relist")]
    Gone,
    #[error("http request to {url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("decode answer of {url}: {message}")]
    Decode { url: String, message: String },
    #[error("bad client configuration: {0}")]
    Config(String),
}

impl Error {
    /// The HTTP status of an API error, if this is one.
    pub fn code(&self) -> Option<u16> {
        match self {
            Error::Api(s) => Some(s.code),
            Error::Gone => Some(410),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Query parameters of list and watch.
#[derive(Clone, Debug, Default)]
pub struct ListParams {
    pub label_selector: Option<String>,
    /// Only `spec.nodeName=NAME` (pods) is supported.
    pub field_selector: Option<String>,
}

impl ListParams {
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.to_string());
        self
    }
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.to_string());
        self
    }
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(l) = &self.label_selector {
            q.push(("labelSelector", l.clone()));
        }
        if let Some(f) = &self.field_selector {
            q.push(("fieldSelector", f.clone()));
        }
        q
    }
}

/// A typed watch event (bookmarks are consumed by the stream itself).
#[derive(Clone, Debug, PartialEq)]
pub enum WatchEvent<K> {
    Added(K),
    Modified(K),
    Deleted(K),
}

/// How long a request (other than a watch) may wait for its answer's headers and body
/// before the server counts as failed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a watch may go without a byte before its server counts as failed: three of the
/// server's bookmark intervals (10 s), which the client always asks for.
pub const WATCH_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection to the API server (one of several, see the module docs), cheap to clone;
/// clones share which server is current.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    /// The servers' base URLs, without a trailing slash; requests are built on the first
    /// and sent to the current one.
    servers: Arc<[String]>,
    current: Arc<AtomicUsize>,
    token: Option<String>,
    /// [`REQUEST_TIMEOUT`] unless changed by [`Client::with_request_timeout`].
    request_timeout: Duration,
}

impl Client {
    /// A client of the server at `base` (`https://127.0.0.1:8080`; several servers of one
    /// cluster separated by commas) that trusts the CA certificate(s) in `ca_pem` (the
    /// server's `ca.crt`) and nothing else: the CA is pinned, the system's roots are not
    /// used. `token` is sent as a bearer token on every request (the server needs one on
    /// everything but its health checks).
    pub fn with_ca(base: &str, token: Option<String>, ca_pem: &[u8]) -> Result<Self> {
        Self::build(&split_servers(base), token, Some(ca_pem))
    }

    /// A client without a CA: for `http://` servers (a server's loopback plain-HTTP listener);
    /// an `https://` server fails its certificate check.
    pub fn new(base: &str, token: Option<String>) -> Result<Self> {
        Self::build(&split_servers(base), token, None)
    }

    /// A client of several API servers sharing one store, tried in this order (see the
    /// module docs); `ca_pem` as in [`Client::with_ca`].
    pub fn with_servers(servers: &[String], token: Option<String>, ca_pem: Option<&[u8]>) -> Result<Self> {
        Self::build(servers, token, ca_pem)
    }

    fn build(servers: &[String], token: Option<String>, ca_pem: Option<&[u8]>) -> Result<Self> {
        if servers.is_empty() {
            return Err(Error::Config("no API server URL given".into()));
        }
        for base in servers {
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err(Error::Config(format!("server URL {base:?} must start with http:// or https://")));
            }
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true);
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| Error::Config(format!("CA certificate: {e}")))?;
            if certs.is_empty() {
                return Err(Error::Config("CA certificate: no PEM certificate found".into()));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|e| Error::Config(e.to_string()))?;
        let servers: Arc<[String]> = servers.iter().map(|s| s.trim_end_matches('/').to_string()).collect();
        Ok(Client { http, servers, current: Arc::new(AtomicUsize::new(0)), token, request_timeout: REQUEST_TIMEOUT })
    }

    /// The same client with another limit for a request's answer (not a watch's): a load
    /// generator may want more than [`REQUEST_TIMEOUT`]; a longer limit also delays the move
    /// away from a server that hangs.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The base URL of the server requests go to now.
    pub fn base_url(&self) -> &str {
        &self.servers[self.current.load(Ordering::Relaxed) % self.servers.len()]
    }

    /// Every server this client may use, in order.
    pub fn servers(&self) -> &[String] {
        &self.servers
    }

    /// The API of kind `K`, in `namespace` (or all namespaces / cluster-scoped with `None`).
    pub fn api<K: Resource>(&self, namespace: Option<&str>) -> Api<K> {
        Api { client: self.clone(), namespace: namespace.map(str::to_string), _kind: PhantomData }
    }

    pub fn nodes(&self) -> Api<Node> {
        self.api(None)
    }
    pub fn node_leases(&self) -> Api<NodeLease> {
        self.api(None)
    }
    pub fn pods(&self, namespace: &str) -> Api<Pod> {
        self.api(Some(namespace))
    }
    pub fn services(&self, namespace: &str) -> Api<Service> {
        self.api(Some(namespace))
    }
    pub fn endpoints(&self, namespace: &str) -> Api<Endpoints> {
        self.api(Some(namespace))
    }
    pub fn events(&self, namespace: &str) -> Api<Event> {
        self.api(Some(namespace))
    }

    pub async fn cluster_config(&self) -> Result<ClusterConfig> {
        self.send(self.http.get(self.url("/api/v1/clusterconfig"))).await
    }

    /// Renew `node`'s lease (acquiring one if it has none); answers the lease.
    pub async fn heartbeat(&self, node: &str, heartbeat: &Heartbeat) -> Result<NodeLease> {
        let url = self.url(&format!("/api/v1/nodes/{node}/heartbeat"));
        self.send(self.http.post(url).json(heartbeat)).await
    }

    /// Report this node's policy counters (its agent; replaces its last report).
    pub async fn report_policy_counters(&self, node: &str, counters: &PolicyCounters) -> Result<PolicyCounters> {
        let url = self.url(&format!("/api/v1/nodes/{node}/policycounters"));
        self.send(self.http.put(url).json(counters)).await
    }

    /// The cluster's policy counters: every node's last report, summed per rule.
    pub async fn policy_counters(&self) -> Result<PolicyCounters> {
        self.send(self.http.get(self.url("/api/v1/policycounters"))).await
    }

    /// Mint a bearer token scoped to `node` (admin only).
    pub async fn create_node_token(&self, node: &str) -> Result<NodeToken> {
        let url = self.url(&format!("/api/v1/nodes/{node}/token"));
        self.send(self.http.post(url)).await
    }

    /// The log of a pod's container (admin only), read through its node's agent.
    pub async fn pod_log(&self, namespace: &str, name: &str, params: &LogParams) -> Result<String> {
        let url = self.url(&format!("/api/v1/namespaces/{namespace}/pods/{name}/log"));
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(c) = &params.container {
            query.push(("container", c.clone()));
        }
        if let Some(n) = params.tail_lines {
            query.push(("tailLines", n.to_string()));
        }
        let resp = self.execute(self.http.get(url).query(&query).timeout(self.request_timeout)).await?;
        let url = resp.url().to_string();
        resp.text().await.map_err(|source| Error::Http { url, source })
    }

    /// A URL on the first server; [`Client::execute`] sends it to the current one.
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.servers[0])
    }

    fn authorize(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T> {
        let resp = self.execute(req.timeout(self.request_timeout)).await?;
        let url = resp.url().to_string();
        let bytes = resp.bytes().await.map_err(|source| Error::Http { url: url.clone(), source })?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode { url, message: e.to_string() })
    }

    /// Send a request to the current server, failing over to the next ones as the module
    /// docs say; a success makes its server the current one.
    async fn execute(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let req = self.authorize(req).build().map_err(|e| Error::Config(e.to_string()))?;
        let first = req.url().to_string();
        let rest = first.strip_prefix(self.servers[0].as_str()).unwrap_or(first.as_str()).to_string();
        let n = self.servers.len();
        let start = self.current.load(Ordering::Relaxed) % n;
        let idempotent = matches!(*req.method(), reqwest::Method::GET | reqwest::Method::PUT | reqwest::Method::DELETE);
        let mut last: Option<Error> = None;
        for attempt in 0..n {
            let i = (start + attempt) % n;
            let Some(mut r) = req.try_clone() else {
                return Err(Error::Config("request body cannot be resent".into()));
            };
            let url = format!("{}{rest}", self.servers[i]);
            *r.url_mut() = reqwest::Url::parse(&url).map_err(|e| Error::Config(format!("URL {url}: {e}")))?;
            let (err, sent) = match self.http.execute(r).await {
                Ok(resp) if resp.status().is_server_error() => {
                    let err = Self::api_error(resp).await;
                    (err, true)
                }
                Ok(resp) => {
                    self.make_current(i);
                    if resp.status().is_success() {
                        return Ok(resp);
                    }
                    return Err(Self::api_error(resp).await);
                }
                Err(source) => {
                    // A connection that could not be made carried nothing to the server.
                    let sent = !source.is_connect();
                    let failover = source.is_connect() || source.is_timeout() || source.is_request();
                    let err = Error::Http { url, source };
                    if !failover {
                        return Err(err);
                    }
                    (err, sent)
                }
            };
            if n > 1 {
                tracing::warn!(server = %self.servers[i], error = %err, "API server failed; moving to the next one");
            }
            self.make_current((i + 1) % n);
            last = Some(err);
            if sent && !idempotent {
                break;
            }
        }
        Err(last.expect("at least one server"))
    }

    /// Make server `i` the current one (for every clone).
    fn make_current(&self, i: usize) {
        self.current.store(i, Ordering::Relaxed);
    }

    /// The current server failed in a way [`Client::execute`] cannot see (a watch's stream
    /// broke or went silent): move on to the next one.
    fn server_failed(&self, base: &str) {
        let n = self.servers.len();
        if let Some(i) = self.servers.iter().position(|s| s == base) {
            let moved = self.current.compare_exchange(i, (i + 1) % n, Ordering::Relaxed, Ordering::Relaxed).is_ok();
            if n > 1 && moved {
                tracing::warn!(server = %base, "API server failed during a watch; moving to the next one");
            }
        }
    }

    async fn api_error(resp: reqwest::Response) -> Error {
        let code = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap_or_default();
        let status = Status::from_body(&bytes).unwrap_or_else(|| Status {
            code,
            reason: "Unknown".into(),
            message: String::from_utf8_lossy(&bytes).into_owned(),
            field: None,
            causes: Vec::new(),
        });
        Error::Api(status)
    }
}

/// `a,b` → the servers `a` and `b` (spaces and empty parts ignored).
fn split_servers(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// What [`Client::pod_log`] reads: one container (required when the pod has several) and
/// its last lines.
#[derive(Clone, Debug, Default)]
pub struct LogParams {
    pub container: Option<String>,
    pub tail_lines: Option<u64>,
}

/// The operations on one kind, in one namespace (or cluster-wide).
#[derive(Clone, Debug)]
pub struct Api<K> {
    client: Client,
    namespace: Option<String>,
    _kind: PhantomData<fn() -> K>,
}

impl<K: Resource> Api<K> {
    fn collection(&self) -> String {
        self.client.url(&K::collection_path(self.namespace.as_deref()))
    }

    fn object(&self, name: &str) -> String {
        self.client.url(&K::object_path(self.namespace.as_deref(), name))
    }

    pub async fn list(&self, params: &ListParams) -> Result<List<K>> {
        self.client.send(self.client.http.get(self.collection()).query(&params.query())).await
    }

    pub async fn get(&self, name: &str) -> Result<K> {
        self.client.send(self.client.http.get(self.object(name))).await
    }

    pub async fn create(&self, object: &K) -> Result<K> {
        self.client.send(self.client.http.post(self.collection()).json(object)).await
    }

    /// Replace the object named in its metadata. With `metadata.resourceVersion` set, the
    /// write fails with 409 if the object changed since.
    pub async fn replace(&self, object: &K) -> Result<K> {
        let url = self.object(&object.metadata().name);
        self.client.send(self.client.http.put(url).json(object)).await
    }

    /// Replace the `status` of the object (pods and nodes).
    pub async fn replace_status(&self, object: &K) -> Result<K> {
        let url = format!("{}/status", self.object(&object.metadata().name));
        self.client.send(self.client.http.put(url).json(object)).await
    }

    /// Delete; answers the object as it was.
    pub async fn delete(&self, name: &str) -> Result<K> {
        self.client.send(self.client.http.delete(self.object(name))).await
    }

    /// Watch from `resource_version` on (as returned by a list). The stream reconnects by
    /// itself and ends only with [`Error::Gone`] or when dropped.
    ///
    /// The stream reads its connection itself when polled: no task and channel in between,
    /// so an event costs its consumer one wake-up, not two (a node agent holds a handful of
    /// watches; a thousand simulated nodes in `flatnet-bench controlplane` hold thousands).
    /// A consumer that stops polling leaves its events in the connection (HTTP/2 flow
    /// control), and the server cuts off a watcher whose queue fills. Polling may stop
    /// mid-read (a `select!` whose other branch won): what was read stays in the stream.
    pub fn watch(&self, params: &ListParams, resource_version: &str) -> BoxStream<'static, Result<WatchEvent<K>>> {
        let state = WatchState {
            api: self.clone(),
            params: params.clone(),
            rv: resource_version.to_string(),
            conn: None,
            buf: Vec::new(),
            pending: std::collections::VecDeque::new(),
            backoff: WATCH_BACKOFF_MIN,
            wait: false,
            done: false,
        };
        futures::stream::unfold(state, |mut st| async move {
            let item = st.next().await?;
            Some((item, st))
        })
        .boxed()
    }

    /// Open one watch connection from `rv`.
    async fn open_watch(&self, params: &ListParams, rv: &str) -> Result<WatchConn> {
        let mut query = params.query();
        query.push(("watch", "true".into()));
        query.push(("allowWatchBookmarks", "true".into()));
        query.push(("resourceVersion", rv.to_string()));
        let url = self.collection();
        let resp = match self.client.execute(self.client.http.get(&url).query(&query)).await {
            Err(Error::Api(s)) if s.code == 410 => return Err(Error::Gone),
            other => other?,
        };
        Ok(WatchConn { base: self.client.base_url().to_string(), url, body: resp.bytes_stream().boxed() })
    }
}

const WATCH_BACKOFF_MIN: Duration = Duration::from_millis(100);
const WATCH_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// An open watch connection: its server (to mark it failed), its URL (for errors), its body.
struct WatchConn {
    base: String,
    url: String,
    body: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
}

/// A watch stream's state between polls.
struct WatchState<K> {
    api: Api<K>,
    params: ListParams,
    /// The version to resume from: the last event's (or bookmark's) delivered.
    rv: String,
    conn: Option<WatchConn>,
    /// Bytes of the connection not yet a whole line.
    buf: Vec<u8>,
    /// Events decoded and not yet taken, in order.
    pending: std::collections::VecDeque<Result<WatchEvent<K>>>,
    backoff: Duration,
    /// Wait `backoff` before the next connection.
    wait: bool,
    /// 410: nothing more after what is pending.
    done: bool,
}

impl<K: Resource> WatchState<K> {
    /// The next event or error; `None` once the watch has ended (after [`Error::Gone`]).
    async fn next(&mut self) -> Option<Result<WatchEvent<K>>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            let Some(conn) = self.conn.as_mut() else {
                if self.wait {
                    tokio::time::sleep(self.backoff).await;
                    self.backoff = (self.backoff * 2).min(WATCH_BACKOFF_MAX);
                }
                self.wait = true;
                match self.api.open_watch(&self.params, &self.rv).await {
                    Ok(conn) => {
                        self.conn = Some(conn);
                        self.buf.clear();
                    }
                    Err(e) => self.failed(e),
                }
                continue;
            };
            match tokio::time::timeout(WATCH_IDLE_TIMEOUT, conn.body.next()).await {
                Ok(Some(Ok(chunk))) => self.take(&chunk),
                // The server ended the watch (its timeout): resume soon from where it ended.
                Ok(None) => {
                    self.conn = None;
                    self.backoff = WATCH_BACKOFF_MIN;
                }
                Ok(Some(Err(source))) => {
                    self.api.client.server_failed(&conn.base);
                    let url = conn.url.clone();
                    self.failed(Error::Http { url, source });
                }
                Err(_) => {
                    self.api.client.server_failed(&conn.base);
                    let message = format!("watch {}: nothing for {WATCH_IDLE_TIMEOUT:?}", conn.url);
                    self.failed(Error::Config(message));
                }
            }
        }
    }

    /// Decode every complete line of what the connection has sent into `pending`, advancing
    /// `rv` past each, and keep the start of the next line.
    fn take(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(len) = self.buf[start..].iter().position(|b| *b == b'\n') {
            let line = &self.buf[start..start + len];
            start += len + 1;
            match decode_event::<K>(line, &mut self.rv) {
                Ok(Some(event)) => self.pending.push_back(Ok(event)),
                Ok(None) => {}
                Err(e) => {
                    let url = self.conn.as_ref().map(|c| c.url.clone()).unwrap_or_default();
                    let e = match e {
                        Error::Decode { message, .. } => Error::Decode { url, message },
                        other => other,
                    };
                    self.failed(e);
                    return;
                }
            }
        }
        self.buf.drain(..start);
    }

    /// The connection (or its opening) failed with `e`: drop it and resume from `rv` after
    /// the backoff. A 410 ends the watch; a server's failure (5xx: every server failed, or a
    /// broken connection) is retried silently from the same version; a refusal (4xx) or
    /// garbage is the consumer's to handle, and is retried too.
    fn failed(&mut self, e: Error) {
        self.conn = None;
        self.buf.clear();
        match e {
            Error::Gone => {
                self.pending.push_back(Err(Error::Gone));
                self.done = true;
            }
            e => {
                tracing::debug!(kind = K::KIND, error = %e, "watch connection failed; reconnecting");
                let refused = matches!(&e, Error::Api(s) if s.code < 500) || matches!(e, Error::Decode { .. });
                if refused {
                    self.pending.push_back(Err(e));
                }
            }
        }
    }
}

/// One line of a watch stream as it arrives: its type, and its object still unparsed (it is
/// parsed once, straight into what the type says it is).
#[derive(serde::Deserialize)]
struct WireEvent<'a> {
    #[serde(rename = "type")]
    event_type: EventType,
    #[serde(borrow)]
    object: &'a serde_json::value::RawValue,
}

/// A BOOKMARK's object: only its resourceVersion matters.
#[derive(serde::Deserialize)]
struct BookmarkObject {
    metadata: BookmarkMeta,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct BookmarkMeta {
    resource_version: Option<String>,
}

/// Decode one line of a watch stream. A BOOKMARK (or a blank line) yields nothing but may
/// advance `rv`; an ERROR event ends the watch with its status (410: [`Error::Gone`]);
/// every other event advances `rv` to its object's version. Decode errors carry no URL
/// (the caller adds it).
fn decode_event<K: Resource>(line: &[u8], rv: &mut String) -> Result<Option<WatchEvent<K>>> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let decode = |e: serde_json::Error| Error::Decode { url: String::new(), message: e.to_string() };
    let raw: WireEvent<'_> = serde_json::from_slice(line).map_err(decode)?;
    let t = raw.event_type;
    match t {
        EventType::Error => {
            let status: Status = serde_json::from_str(raw.object.get()).map_err(decode)?;
            Err(if status.code == 410 { Error::Gone } else { Error::Api(status) })
        }
        EventType::Bookmark => {
            let mark: BookmarkObject = serde_json::from_str(raw.object.get()).map_err(decode)?;
            if let Some(v) = mark.metadata.resource_version {
                *rv = v;
            }
            Ok(None)
        }
        _ => {
            let object: K = serde_json::from_str(raw.object.get()).map_err(decode)?;
            if let Some(v) = &object.metadata().resource_version {
                rv.clone_from(v);
            }
            Ok(Some(match t {
                EventType::Added => WatchEvent::Added(object),
                EventType::Modified => WatchEvent::Modified(object),
                _ => WatchEvent::Deleted(object),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A plain-HTTP server answering every request with `status` and the body `hello`;
    /// answers its URL and how many requests it got.
    async fn server(status: u16) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            loop {
                let (mut conn, _) = listener.accept().await.unwrap();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    // One request per connection: its head, then its body by Content-Length.
                    loop {
                        let n = conn.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        let text = String::from_utf8_lossy(&buf).to_string();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let length = text[..end]
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_string)
                                })
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            if buf.len() >= end + 4 + length {
                                break;
                            }
                        }
                    }
                    seen.fetch_add(1, Ordering::SeqCst);
                    let answer = format!("HTTP/1.1 {status} X\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
                    let _ = conn.write_all(answer.as_bytes()).await;
                });
            }
        });
        (url, count)
    }

    /// A URL where nothing listens.
    fn refused() -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    }

    async fn log(client: &Client) -> Result<String> {
        client.pod_log("default", "p", &LogParams::default()).await
    }

    #[tokio::test]
    async fn a_refused_connection_moves_every_request_to_the_next_server() {
        let (live, hits) = server(200).await;
        let dead = refused();
        let client = Client::new(&format!("{dead},{live}"), None).unwrap();
        assert_eq!(client.base_url(), dead);
        assert_eq!(log(&client).await.unwrap(), "hello");
        assert_eq!(client.base_url(), live);
        // A clone shares the current server.
        assert_eq!(log(&client.clone()).await.unwrap(), "hello");
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_5xx_sends_a_get_again_to_the_next_server_and_stays_there() {
        let (failing, failed) = server(503).await;
        let (live, hits) = server(200).await;
        let client = Client::new(&format!("{failing},{live}"), None).unwrap();
        assert_eq!(log(&client).await.unwrap(), "hello");
        assert_eq!(log(&client).await.unwrap(), "hello");
        assert_eq!((failed.load(Ordering::SeqCst), hits.load(Ordering::SeqCst)), (1, 2));
    }

    #[tokio::test]
    async fn a_post_that_reached_a_failing_server_is_not_sent_twice() {
        let (failing, failed) = server(503).await;
        let (live, hits) = server(200).await;
        let client = Client::new(&format!("{failing},{live}"), None).unwrap();
        let err = client.create_node_token("n").await.unwrap_err();
        assert_eq!(err.code(), Some(503));
        assert_eq!((failed.load(Ordering::SeqCst), hits.load(Ordering::SeqCst)), (1, 0));
        // The next request goes to the next server.
        assert_eq!(log(&client).await.unwrap(), "hello");
        assert_eq!((failed.load(Ordering::SeqCst), hits.load(Ordering::SeqCst)), (1, 1));
    }

    #[tokio::test]
    async fn a_4xx_is_the_answer_not_a_failure() {
        let (refusing, refusals) = server(404).await;
        let (live, hits) = server(200).await;
        let client = Client::new(&format!("{refusing},{live}"), None).unwrap();
        assert_eq!(log(&client).await.unwrap_err().code(), Some(404));
        assert_eq!(client.base_url(), refusing);
        assert_eq!((refusals.load(Ordering::SeqCst), hits.load(Ordering::SeqCst)), (1, 0));
    }

    /// A watch answer: chunked, one event line per chunk.
    fn chunk(line: &str) -> String {
        format!("{:x}\r\n{line}\r\n", line.len())
    }

    fn lease_event(name: &str, rv: &str) -> String {
        let mut lease = crate::NodeLease::default();
        lease.metadata.name = name.into();
        lease.metadata.resource_version = Some(rv.into());
        format!("{}\n", serde_json::json!({"type": "ADDED", "object": lease}))
    }

    /// Accept one connection, read the request head, answer it with `head` and `body`, then
    /// (with `drop`) cut the connection without ending the body; sends the request line.
    async fn one_watch(listener: TcpListener, body: String, drop: bool, tx: tokio::sync::oneshot::Sender<String>) {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk_buf = [0u8; 4096];
        while !String::from_utf8_lossy(&buf).contains("\r\n\r\n") {
            let n = conn.read(&mut chunk_buf).await.unwrap();
            assert!(n > 0, "the client closed");
            buf.extend_from_slice(&chunk_buf[..n]);
        }
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        conn.write_all(format!("{head}{body}").as_bytes()).await.unwrap();
        conn.flush().await.unwrap();
        let _ = tx.send(String::from_utf8_lossy(&buf).lines().next().unwrap_or_default().to_string());
        if !drop {
            // Keep the watch open until the test ends.
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }

    #[tokio::test]
    async fn a_watch_whose_server_dies_resumes_on_the_next_from_its_last_version() {
        let a = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let b = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let urls = format!("http://{},http://{}", a.local_addr().unwrap(), b.local_addr().unwrap());
        // A sends the event at version 5, then dies mid-stream; B has the event at 6.
        let (tx_a, first) = tokio::sync::oneshot::channel();
        let (tx_b, second) = tokio::sync::oneshot::channel();
        tokio::spawn(one_watch(a, chunk(&lease_event("x", "5")), true, tx_a));
        let b_task = tokio::spawn(one_watch(b, chunk(&lease_event("y", "6")), false, tx_b));
        let client = Client::new(&urls, None).unwrap();
        let mut events = client.node_leases().watch(&ListParams::default(), "3");
        let names: Vec<String> = [events.next().await, events.next().await]
            .into_iter()
            .map(|e| match e {
                Some(Ok(WatchEvent::Added(l))) => l.metadata.name,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["x", "y"], "both events, in order, no error in between");
        let (first, second) = (first.await.unwrap(), second.await.unwrap());
        assert!(first.contains("resourceVersion=3"), "{first}");
        // The second server was asked for what follows the last event delivered.
        assert!(second.contains("resourceVersion=5"), "{second}");
        b_task.abort();
        assert_eq!(client.base_url(), urls.split(',').nth(1).unwrap());
    }
}
