//! `apiserver`: flatnet's API server binary. See the crate docs of `apiserver`.

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;

use apiserver::config::Args;
use apiserver::tls::{self, TlsListener};
use apiserver::{app, open_store, store, AppState};

/// mimalloc instead of glibc's malloc: a watch event's line and its TLS records are a few
/// KB, above glibc's per-thread cache (1 KB), and with glibc a fan-out to 1,000 watchers
/// spent a quarter of the server's CPU in malloc's slow path (BENCHMARKS.md, control plane).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let args = Args::parse();
    if let Some(plain) = args.plain_http_listen {
        if !plain.ip().is_loopback() {
            anyhow::bail!(
                "--plain-http-listen {plain}: plain HTTP is served on loopback only (tokens would cross the network \
                 in clear): use 127.0.0.1:PORT"
            );
        }
    }
    let opened = open_store(&args, store::system_clock()).await.with_context(|| match &args.store {
        Some(location) => format!("open the store {location}"),
        None => format!("open the store in {}", args.data_dir.display()),
    })?;
    let names = tls::serving_names(args.listen, &args.tls_sans);
    let pki = tls::load_or_create(&args.data_dir, &names)
        .with_context(|| format!("set up TLS with the CA in {}", args.data_dir.display()))?;
    let store = opened.store;
    let cfg = &store.settings().cluster;
    tracing::info!(
        pod_cidr = %cfg.pod_cidr,
        service_cidr = %cfg.service_cidr,
        backend = cfg.backend.as_str(),
        revision = store.revision(),
        anonymous_reads = args.anonymous_reads,
        "store ready"
    );
    let web_dir = args.web_dir.clone().or_else(apiserver::default_web_dir);
    let state = AppState { store, metrics: Arc::new(Default::default()), auth: opened.auth };
    let router = app(state, web_dir.as_deref());

    let tcp = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listen on {} (is another server running there? use --listen)", args.listen))?;
    let listener = TlsListener::new(tcp, pki.server_config)?;
    println!("flatnet apiserver listening on https://{}", axum::serve::Listener::local_addr(&listener)?);
    println!("certificate authority: {}", args.data_dir.join(tls::CA_CERT_FILE).display());
    println!("serving certificate for: {}", names.join(", "));
    println!("admin token: {}", opened.admin_token_path.display());
    println!("viewer token: {}", opened.viewer_token_path.display());

    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match args.plain_http_listen {
        None => axum::serve(listener, router).with_graceful_shutdown(shutdown).await?,
        Some(plain) => {
            let plain = tokio::net::TcpListener::bind(plain)
                .await
                .with_context(|| format!("listen on {plain} (--plain-http-listen)"))?;
            println!("plain HTTP (loopback only) on http://{}", plain.local_addr()?);
            let https = axum::serve(listener, router.clone()).with_graceful_shutdown(shutdown);
            let http = async { axum::serve(plain, router).await };
            tokio::select! {
                r = https => r?,
                r = http => r?,
            }
        }
    }
    Ok(())
}
