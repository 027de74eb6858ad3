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
//!   [`logs`]: pod logs, read through the node's agent;
//!   [`error`]: the one error type and its JSON body;
//!   [`spec`]: the OpenAPI document; [`metrics`]: `/metrics`.
//! - [`alloc`] and [`endpoints`]: the pure parts of allocation and endpoints computation.
//!
//! Writes need a bearer token: the admin token created on first start in
//! `DATA_DIR/admin.token`, or a node-scoped token minted with
//! `POST /api/v1/nodes/{name}/token`, which may write only that node, its heartbeat and the
//! status of pods bound to it. Reads are open, except pod logs (admin only: logs may hold
//! secrets).

pub mod alloc;
pub mod api;
pub mod config;
pub mod endpoints;
pub mod error;
pub mod kinds;
pub mod logs;
pub mod metrics;
pub mod spec;
pub mod store;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tower_http::services::ServeDir;

use crate::config::{Args, Settings};
use crate::metrics::Metrics;
use crate::store::{Clock, Op, Store};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
}

/// The whole HTTP application: the API, `/metrics`, `/openapi.json`, and the dashboard's
/// static files at `/` when `web_dir` is given.
pub fn app(state: AppState, web_dir: Option<&Path>) -> Router {
    let max_body = state.store.settings().max_body_bytes;
    let mut router = api::router()
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), metrics::track))
        .layer(DefaultBodyLimit::max(max_body))
        // A span per request (method, path), logged at debug level: RUST_LOG=tower_http=debug.
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state);
    if let Some(dir) = web_dir {
        router = router.fallback_service(ServeDir::new(dir));
    }
    router
}

/// The admin token of a data directory: read it, or create it (mode 0600) on first start.
pub fn admin_token(data_dir: &Path) -> anyhow::Result<(String, PathBuf)> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(data_dir)?;
    let path = data_dir.join("admin.token");
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => return Ok((t.trim().to_string(), path)),
        Ok(_) => anyhow::bail!("admin token file {} is empty: delete it to create a new one", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(anyhow::anyhow!("read admin token {}: {e}", path.display())),
    }
    let token = store::new_token();
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
    writeln!(f, "{token}")?;
    f.sync_all()?;
    Ok((token, path))
}

/// Open the store for `args`, with `clock`, and start the periodic tick.
pub async fn open_store(args: &Args, clock: Clock) -> anyhow::Result<(Store, PathBuf)> {
    let (token, token_path) = admin_token(&args.data_dir)?;
    let configure = |stored| {
        let cluster = config::merge_cluster_config(args, stored)?;
        let mut settings = Settings::new(cluster)?;
        settings.watch_history = args.watch_history;
        settings.max_body_bytes = args.max_body_bytes;
        Ok(settings)
    };
    let store = Store::open(&args.data_dir, configure, &token, clock).await?;
    ensure_kube_dns(&store).await?;
    spawn_ticker(store.clone());
    Ok((store, token_path))
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
