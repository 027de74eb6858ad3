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

use std::marker::PhantomData;
use std::time::Duration;

use futures::stream::BoxStream;
use futures::StreamExt;
use serde::de::DeserializeOwned;

use crate::meta::{EventType, List, RawWatchEvent, Resource, Status};
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

/// A connection to one API server, cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    /// A client of the server at `base` (`https://127.0.0.1:8080`) that trusts the CA
    /// certificate(s) in `ca_pem` (the server's `ca.crt`) and nothing else: the CA is pinned,
    /// the system's roots are not used. `token` is sent as a bearer token on every request
    /// (the server needs one on everything but its health checks).
    pub fn with_ca(base: &str, token: Option<String>, ca_pem: &[u8]) -> Result<Self> {
        Self::build(base, token, Some(ca_pem))
    }

    /// A client without a CA: for `http://` servers (a server's loopback plain-HTTP listener);
    /// an `https://` server fails its certificate check.
    pub fn new(base: &str, token: Option<String>) -> Result<Self> {
        Self::build(base, token, None)
    }

    fn build(base: &str, token: Option<String>, ca_pem: Option<&[u8]>) -> Result<Self> {
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Config(format!("server URL {base:?} must start with http:// or https://")));
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
        Ok(Client { http, base: base.trim_end_matches('/').to_string(), token })
    }

    pub fn base_url(&self) -> &str {
        &self.base
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
        let resp = self.execute(self.http.get(url).query(&query)).await?;
        let url = resp.url().to_string();
        resp.text().await.map_err(|source| Error::Http { url, source })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn authorize(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T> {
        let resp = self.execute(req).await?;
        let url = resp.url().to_string();
        let bytes = resp.bytes().await.map_err(|source| Error::Http { url: url.clone(), source })?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode { url, message: e.to_string() })
    }

    async fn execute(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let req = self.authorize(req).build().map_err(|e| Error::Config(e.to_string()))?;
        let url = req.url().to_string();
        let resp = self.http.execute(req).await.map_err(|source| Error::Http { url: url.clone(), source })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let code = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap_or_default();
        let status = Status::from_body(&bytes).unwrap_or_else(|| Status {
            code,
            reason: "Unknown".into(),
            message: String::from_utf8_lossy(&bytes).into_owned(),
            field: None,
            causes: Vec::new(),
        });
        Err(Error::Api(status))
    }
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
    pub fn watch(&self, params: &ListParams, resource_version: &str) -> BoxStream<'static, Result<WatchEvent<K>>> {
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        let api = self.clone();
        let params = params.clone();
        let rv = resource_version.to_string();
        tokio::spawn(async move { api.watch_loop(params, rv, tx).await });
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }).boxed()
    }

    async fn watch_loop(
        self,
        params: ListParams,
        mut rv: String,
        tx: tokio::sync::mpsc::Sender<Result<WatchEvent<K>>>,
    ) {
        const MAX_BACKOFF: Duration = Duration::from_secs(5);
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.watch_connection(&params, &mut rv, &tx).await {
                Ok(WatchEnd::ReceiverGone) => return,
                Ok(WatchEnd::Closed) => backoff = Duration::from_millis(100),
                Err(Error::Gone) => {
                    let _ = tx.send(Err(Error::Gone)).await;
                    return;
                }
                Err(e) => {
                    tracing::debug!(kind = K::KIND, error = %e, "watch connection failed; reconnecting");
                    if matches!(e, Error::Api(_) | Error::Decode { .. }) && tx.send(Err(e)).await.is_err() {
                        return;
                    }
                }
            }
            if tx.is_closed() {
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One watch connection: read events until it ends, advancing `rv` past each delivered
    /// event so that the next connection resumes right after it.
    async fn watch_connection(
        &self,
        params: &ListParams,
        rv: &mut String,
        tx: &tokio::sync::mpsc::Sender<Result<WatchEvent<K>>>,
    ) -> Result<WatchEnd> {
        let mut query = params.query();
        query.push(("watch", "true".into()));
        query.push(("allowWatchBookmarks", "true".into()));
        query.push(("resourceVersion", rv.clone()));
        let url = self.collection();
        let resp = match self.client.execute(self.client.http.get(&url).query(&query)).await {
            Err(Error::Api(s)) if s.code == 410 => return Err(Error::Gone),
            other => other?,
        };
        let mut body = resp.bytes_stream();
        let mut buf: Vec<u8> = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|source| Error::Http { url: url.clone(), source })?;
            buf.extend_from_slice(&chunk);
            while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=pos).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let raw: RawWatchEvent = serde_json::from_slice(&line)
                    .map_err(|e| Error::Decode { url: url.clone(), message: e.to_string() })?;
                let event = match raw.event_type {
                    EventType::Error => {
                        let status: Status = serde_json::from_value(raw.object)
                            .map_err(|e| Error::Decode { url: url.clone(), message: e.to_string() })?;
                        return Err(if status.code == 410 { Error::Gone } else { Error::Api(status) });
                    }
                    EventType::Bookmark => {
                        if let Some(v) = raw.object.pointer("/metadata/resourceVersion").and_then(|v| v.as_str()) {
                            *rv = v.to_string();
                        }
                        continue;
                    }
                    t => {
                        let object: K = serde_json::from_value(raw.object)
                            .map_err(|e| Error::Decode { url: url.clone(), message: e.to_string() })?;
                        if let Some(v) = &object.metadata().resource_version {
                            *rv = v.clone();
                        }
                        match t {
                            EventType::Added => WatchEvent::Added(object),
                            EventType::Modified => WatchEvent::Modified(object),
                            _ => WatchEvent::Deleted(object),
                        }
                    }
                };
                if tx.send(Ok(event)).await.is_err() {
                    return Ok(WatchEnd::ReceiverGone);
                }
            }
        }
        Ok(WatchEnd::Closed)
    }
}

enum WatchEnd {
    Closed,
    ReceiverGone,
}
