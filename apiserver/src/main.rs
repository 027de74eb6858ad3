//! `apiserver`: flatnet's API server binary. See the crate docs of `apiserver`.

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;

use apiserver::config::Args;
use apiserver::{app, open_store, store, AppState};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let args = Args::parse();
    let (store, token_path) = open_store(&args, store::system_clock())
        .await
        .with_context(|| format!("open the store in {}", args.data_dir.display()))?;
    let cfg = &store.settings().cluster;
    tracing::info!(
        pod_cidr = %cfg.pod_cidr,
        service_cidr = %cfg.service_cidr,
        backend = cfg.backend.as_str(),
        revision = store.revision(),
        "store ready"
    );
    let web_dir = args.web_dir.clone().or_else(apiserver::default_web_dir);
    let state = AppState { store, metrics: Arc::new(Default::default()) };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listen on {} (is another server running there? use --listen)", args.listen))?;
    println!("flatnet apiserver listening on http://{}", listener.local_addr()?);
    println!("admin token: {}", token_path.display());
    axum::serve(listener, app(state, web_dir.as_deref()))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
