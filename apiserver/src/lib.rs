//! flatnet's API server.
//!
//! It holds the desired state of the cluster and decides *what*: which node a pod runs on,
//! which IP it gets, which cluster IP and node ports a service gets, which pods back a
//! service. Node agents decide *how* on their kernels, following the watch.
//!
//! - [`store`]: SQLite through sqlx, one writer doing group commits, a single revision
//!   counter, the event history and bus; [`store::ops`] holds every write with its
//!   allocations, scheduling and endpoints updates, each in one transaction.
//! - [`watch`]: watch streams from a resourceVersion, exact across reconnects.
//! - [`api`]: the axum routes, derived from the kind registry ([`openapi::registry`]);
//!   [`kinds`]: what each kind adds to its registry entry (validation, write operations);
//!   [`logs`]: pod logs, read through the node's agent; [`exec`]: `kubectl exec`, a websocket
//!   proxied to the node's agent;
//!   [`error`]: the one error type and its JSON body;
//!   [`spec`]: the OpenAPI document; [`metrics`]: `/metrics`.
//! - What Kubernetes clients (kubectl, the official client libraries) need, all derived from
//!   the registry: [`discovery`] (`/version`, `/api`, `/apis`, …), [`openapiv3`]
//!   (`/openapi/v3`), [`table`] (server-side printing), [`fields`] (field selectors),
//!   [`patch`] (merge, JSON, strategic merge patches and server-side apply) and [`decode`]
//!   (`dryRun`, `fieldValidation`, Kubernetes' fields flatnet drops with a warning,
//!   `generateName`).
//! - [`alloc`] and [`endpoints`]: the pure parts of allocation and endpoints computation.
//! - [`auth`]: a bearer token on every request (admin, viewer, node-scoped), health checks
//!   and `/version` aside; [`tls`]: HTTPS with the cluster's own CA, made on first start.
//!
//! The data directory holds, besides the database: `ca.crt` and `ca.key` (the cluster's CA,
//! like kubeadm's), `admin.token` and `viewer.token` (all keys and tokens mode 0600).

pub mod alloc;
pub mod api;
pub mod auth;
pub mod config;
pub mod decode;
pub mod discovery;
pub mod drain;
pub mod endpoints;
pub mod error;
pub mod exec;
pub mod fields;
pub mod kinds;
pub mod logs;
pub mod metrics;
pub mod openapiv3;
pub mod patch;
pub mod spec;
pub mod store;
pub mod table;
pub mod tls;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tower_http::services::ServeDir;

use crate::auth::Authenticator;
use crate::config::{Args, Settings};
use crate::metrics::Metrics;
use crate::store::{Clock, Op, Store};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub auth: Arc<Authenticator>,
}

/// The whole HTTP application: the API, `/metrics`, `/openapi.json`, and the dashboard's
/// static files at `/` when `web_dir` is given. Every API route is behind
/// [`auth::authenticate`]; the static files are not (they hold no cluster data).
///
/// Must be called within a Tokio runtime: it starts [`forget_deleted_nodes`].
pub fn app(state: AppState, web_dir: Option<&Path>) -> Router {
    tokio::spawn(forget_deleted_nodes(state.store.subscribe(), state.metrics.clone()));
    let max_body = state.store.settings().max_body_bytes;
    let mut router = api::router()
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), metrics::track))
        .layer(DefaultBodyLimit::max(max_body))
        // Outside the rest: a body left unread by an early answer (a 401 comes before the
        // body is read) is read before the answer goes, so the connection stays usable.
        .layer(axum::middleware::from_fn_with_state(max_body, drain::unread_bodies))
        // A span per request (method, path), logged at debug level: RUST_LOG=tower_http=debug.
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state);
    if let Some(dir) = web_dir {
        router = router.fallback_service(ServeDir::new(dir));
    }
    router
}

/// Drop a deleted node's policy counters report (kept in this server's memory) when the
/// node's DELETED event comes by on the store's change feed, so that every server of a
/// shared database forgets it, whichever server deleted the node. Holds only the feed's
/// receiver, so it ends with the store. (A feed that fell more than its capacity behind may
/// have skipped a deletion: that report stays until the server restarts, as every report
/// did before; it is logged.)
pub async fn forget_deleted_nodes(
    mut feed: tokio::sync::broadcast::Receiver<Arc<store::Change>>,
    metrics: Arc<Metrics>,
) {
    use openapi::{EventType, Node, Resource};
    use tokio::sync::broadcast::error::RecvError;
    #[derive(serde::Deserialize)]
    struct Named {
        metadata: openapi::ObjectMeta,
    }
    loop {
        match feed.recv().await {
            Ok(change) if change.kind == Node::INFO && change.event_type == EventType::Deleted => {
                if let Ok(node) = serde_json::from_str::<Named>(&change.object) {
                    metrics.forget_policy_counters(&node.metadata.name);
                }
            }
            Ok(_) => {}
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(
                    skipped = n,
                    "policy counters: the change feed ran ahead; a deleted node's report may stay"
                )
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// What [`open_store`] opened: the store, the tokens' files and the token checker.
pub struct Opened {
    pub store: Store,
    pub auth: Arc<Authenticator>,
    pub admin_token_path: PathBuf,
    pub viewer_token_path: PathBuf,
}

/// Open the store for `args`, with `clock`, and start the periodic tick; the admin and
/// viewer tokens are read, or made on first start.
pub async fn open_store(args: &Args, clock: Clock) -> anyhow::Result<Opened> {
    let (admin, admin_token_path) = auth::token_file(&args.data_dir, auth::ADMIN_TOKEN_FILE)?;
    let (viewer, viewer_token_path) = auth::token_file(&args.data_dir, auth::VIEWER_TOKEN_FILE)?;
    let configure = |stored| {
        let cluster = config::merge_cluster_config(args, stored)?;
        let mut settings = Settings::new(cluster)?;
        settings.watch_history = args.watch_history;
        settings.max_body_bytes = args.max_body_bytes;
        Ok(settings)
    };
    let location = args.store.clone().unwrap_or_else(|| store::Location::Sqlite(args.data_dir.join(store::DB_FILE)));
    let store = Store::open_at(&location, configure, &admin, clock).await?;
    ensure_kube_dns(&store).await?;
    spawn_ticker(store.clone());
    let auth = Arc::new(Authenticator::new(&admin, &viewer, args.anonymous_reads));
    Ok(Opened { store, auth, admin_token_path, viewer_token_path })
}

/// The `kube-dns` service in `kube-system`: how users and clients find the cluster DNS
/// (every node answers its own pods at this address, see the agent's `dns` module). It has
/// no selector and so no endpoints: the nodes' tables leave its address to the local server.
pub fn kube_dns_service(cluster: &openapi::ClusterConfig) -> openapi::Service {
    use openapi::{ObjectMeta, Protocol, Service, ServicePort, ServiceSpec};
    let port = |name: &str, protocol| ServicePort { name: Some(name.into()), protocol, port: 53, ..Default::default() };
    Service {
        metadata: ObjectMeta {
            name: "kube-dns".into(),
            namespace: Some("kube-system".into()),
            labels: [("k8s-app".to_string(), "kube-dns".to_string())].into(),
            ..Default::default()
        },
        spec: ServiceSpec {
            cluster_ip: Some(cluster.cluster_dns.clone()),
            ports: vec![port("dns", Protocol::Udp), port("dns-tcp", Protocol::Tcp)],
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Create the `kube-dns` service unless it exists.
pub async fn ensure_kube_dns(store: &Store) -> anyhow::Result<()> {
    use openapi::Resource;
    let svc = kube_dns_service(&store.settings().cluster);
    let ns = svc.metadata.namespace.as_deref().unwrap_or_default();
    let existing = store.get_raw(openapi::Service::INFO, ns, &svc.metadata.name).await;
    if existing.map_err(|e| anyhow::anyhow!("read the kube-dns service: {}", e.message))?.is_some() {
        return Ok(());
    }
    match store.write(Op::CreateService(svc)).await {
        Ok(_) => Ok(()),
        Err(e) if e.status == axum::http::StatusCode::CONFLICT => Ok(()),
        Err(e) => anyhow::bail!("create the kube-dns service: {}", e.message),
    }
}

/// Lease expiry and reclamation, pending pods and compaction, once per tick interval.
pub fn spawn_ticker(store: Store) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(store.settings().tick_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            // Several servers on one PostgreSQL: only the leader ticks (store::leader).
            if !store.is_leader() {
                continue;
            }
            if let Err(e) = store.write(Op::Tick).await {
                tracing::warn!(error = %e.message, "periodic tick failed");
            }
        }
    });
}

/// The default dashboard folder: `web/` of the source tree when it exists.
pub fn default_web_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web");
    dir.is_dir().then_some(dir)
}
