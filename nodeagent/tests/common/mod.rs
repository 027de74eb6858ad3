//! The harness of the agent's end-to-end tests: a real API server on a real port (in this
//! process), node agents as real processes, each managing a throwaway network namespace as
//! its node, and everything they made removed on drop, even when a test fails.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use apiserver::auth::Authenticator;
use apiserver::config::{default_cluster_config, Settings};
use apiserver::metrics::Metrics;
use apiserver::store::{system_clock, Store};
use apiserver::AppState;
use openapi::client::Client;
use openapi::{Container, ObjectMeta, Pod, PodSpec, RestartPolicy};

/// Whether privileged tests can run: without root they say so loudly and pass, except
/// under CI (`CI=true`), where they fail.
pub fn privileged() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    let msg = "not root: node agent end-to-end tests SKIPPED";
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg} (CI=true forbids skipping)");
    }
    eprintln!("WARNING: {msg}");
    false
}

pub const ADMIN: &str = "test-admin-token";
pub const VIEWER: &str = "test-viewer-token";

pub struct Cluster {
    pub url: String,
    pub admin: Client,
    /// The cluster's CA certificate, as the server's `ca.crt`.
    pub ca_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// An API server on 127.0.0.1, with a lease TTL of `ttl` seconds.
    pub async fn start(ttl: u64) -> Cluster {
        Cluster::start_with(|c| c.lease_ttl_seconds = ttl).await
    }

    /// An API server on 127.0.0.1 with the default configuration changed by `change`.
    pub async fn start_with(change: impl FnOnce(&mut openapi::ClusterConfig)) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let mut cluster = default_cluster_config();
        change(&mut cluster);
        let store = Store::open(dir.path(), move |_| Settings::new(cluster), ADMIN, system_clock()).await.unwrap();
        apiserver::spawn_ticker(store.clone());
        let auth = Arc::new(Authenticator::new(ADMIN, VIEWER, false));
        let app = apiserver::app(AppState { store, metrics: Arc::new(Metrics::default()), auth }, None);
        let pki = apiserver::tls::load_or_create(dir.path(), &["127.0.0.1".into()]).unwrap();
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}", tcp.local_addr().unwrap());
        let listener = apiserver::tls::TlsListener::new(tcp, pki.server_config).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let ca_file = dir.path().join(apiserver::tls::CA_CERT_FILE);
        let admin = Client::with_ca(&url, Some(ADMIN.into()), pki.ca_pem.as_bytes()).unwrap();
        Cluster { url, admin, ca_file, _dir: dir }
    }

    /// A client of this cluster's server with `token`, pinning its CA.
    pub fn client(&self, token: Option<String>) -> Client {
        let ca = std::fs::read(&self.ca_file).unwrap();
        Client::with_ca(&self.url, token, &ca).unwrap()
    }
}

fn unique(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// A node: its namespace and its agent process.
pub struct Agent {
    pub node: String,
    pub netns: String,
    pub data_dir: PathBuf,
    url: String,
    ca_file: PathBuf,
    token: String,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Agent {
    pub async fn start(cluster: &Cluster, tag: &str) -> Agent {
        let node = unique(tag);
        let netns = format!("flatnet-test-{node}");
        netcore::netns::create(&netns).unwrap();
        let token = cluster.admin.create_node_token(&node).await.unwrap().token;
        let dir = tempfile::tempdir().unwrap();
        let mut agent = Agent {
            data_dir: dir.path().join("agent"),
            node,
            netns,
            url: cluster.url.clone(),
            ca_file: cluster.ca_file.clone(),
            token,
            child: None,
            _dir: dir,
        };
        agent.spawn();
        agent
    }

    pub fn spawn(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_nodeagent"))
            .args(["--server", &self.url, "--node", &self.node, "--netns", &self.netns])
            .args(["--node-ip", "192.0.2.10", "--resync-seconds", "1", "--restart-backoff-ms", "200"])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--ca-file")
            .arg(&self.ca_file)
            .env("FLATNET_TOKEN", &self.token)
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
            .stdout(Stdio::null())
            .spawn()
            .expect("start nodeagent");
        self.child = Some(child);
    }

    /// SIGKILL the agent (its pods' processes live on in their own sessions).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn pod_netns(&self, pod: &Pod) -> String {
        netcore::names::pod_netns(
            &self.node,
            pod.metadata.namespace.as_deref().unwrap(),
            &pod.metadata.name,
            pod.metadata.uid.as_deref().unwrap(),
        )
    }

    pub fn log(&self, pod: &Pod, container: &str) -> String {
        let path =
            self.data_dir.join("pods").join(pod.metadata.uid.as_deref().unwrap()).join(format!("{container}.log"));
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// Pids of the container shims the agent recorded (its pods' process groups).
    pub fn shim_pids(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        for pod in std::fs::read_dir(self.data_dir.join("pods")).into_iter().flatten().flatten() {
            for f in std::fs::read_dir(pod.path()).into_iter().flatten().flatten() {
                if f.path().extension().is_some_and(|e| e == "state") {
                    if let Some(pid) = std::fs::read(f.path())
                        .ok()
                        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                        .and_then(|v| v["pid"].as_i64())
                    {
                        pids.push(pid as i32);
                    }
                }
            }
        }
        pids
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill9();
        for pid in self.shim_pids() {
            // SAFETY: kill(2) of a process group this test's agent started.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
        for ns in netcore::netns::list(&netcore::names::pod_netns_prefix(&self.node)).unwrap_or_default() {
            let _ = netcore::netns::delete(&ns);
        }
        let _ = netcore::netns::delete(&self.netns);
    }
}

/// A pod of containers given as (name, shell command), bound to `node`.
pub fn pod(name: &str, node: &str, containers: &[(&str, &str)]) -> Pod {
    Pod {
        metadata: ObjectMeta { name: name.into(), namespace: Some("default".into()), ..Default::default() },
        spec: PodSpec {
            node_name: Some(node.into()),
            containers: containers
                .iter()
                .map(|(n, sh)| Container {
                    name: (*n).into(),
                    command: vec!["sh".into(), "-c".into(), (*sh).into()],
                    ..Default::default()
                })
                .collect(),
            restart_policy: RestartPolicy::Always,
            termination_grace_period_seconds: Some(2),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Poll `check` until it answers `Some`, or panic with `what` after `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {secs}s waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `flatnet` binary (its `netexec` is the test workload), built beside this package's
/// binaries by `cargo build --workspace --bins` (scripts/test.sh does that first).
pub fn flatnet_bin() -> String {
    let path = Path::new(env!("CARGO_BIN_EXE_nodeagent")).with_file_name("flatnet");
    assert!(path.exists(), "{} is missing: run `cargo build --workspace --bins` first", path.display());
    path.display().to_string()
}

pub fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}
