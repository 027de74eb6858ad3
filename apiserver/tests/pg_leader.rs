//! Two real `apiserver` processes on one PostgreSQL database (a throwaway cluster, see
//! `common/pg.rs`), over HTTPS: one leads; kill -9 of the leader in the middle of a write
//! storm loses no acknowledged write, leaves no gap in the revisions, the other server
//! takes over the leadership, and node leases still expire (the tick now runs there).

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::pg;
use openapi::client::{Client, ListParams};
use openapi::{Container, Heartbeat, Node, NodeAddress, NodeStatus, ObjectMeta, Pod, PodSpec};

const TTL: u64 = 3;

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// Start the binary on `port` with `data_dir` and the store at `url`; returns once it
    /// listens.
    fn start(data_dir: &Path, port: u16, url: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_apiserver"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--store", url, "--lease-ttl", &TTL.to_string(), "--lease-grace", "3600"])
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start apiserver");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        loop {
            let line = lines.next().expect("apiserver exited before listening").unwrap();
            if line.contains("listening on") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Server { child, port }
    }

    fn kill9(&mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn pod(name: &str) -> Pod {
    Pod {
        metadata: ObjectMeta { name: name.into(), ..Default::default() },
        spec: PodSpec {
            containers: vec![Container {
                name: "c".into(),
                command: vec!["sleep".into(), "1".into()],
                ..Default::default()
            }],
            ..Default::default()
        },
        ..Default::default()
    }
}

fn admin(dir: &Path, port: u16) -> Client {
    let token = std::fs::read_to_string(dir.join("admin.token")).unwrap();
    let ca = std::fs::read(dir.join("ca.crt")).unwrap();
    Client::with_ca(&format!("https://127.0.0.1:{port}"), Some(token.trim().to_string()), &ca).unwrap()
}

/// `flatnet_apiserver_leader` of the server on `port`.
async fn leads(dir: &Path, port: u16) -> bool {
    let token = std::fs::read_to_string(dir.join("admin.token")).unwrap();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(dir.join("ca.crt")).unwrap()).unwrap();
    let http = reqwest::Client::builder().add_root_certificate(ca).build().unwrap();
    let text = http
        .get(format!("https://127.0.0.1:{port}/metrics"))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = text.lines().find(|l| l.starts_with("flatnet_apiserver_leader ")).expect("leader metric");
    line.ends_with(" 1")
}

/// Wait (at most a minute, a failure) until `cond` holds; answers how long it took.
async fn until<F, Fut>(what: &str, mut cond: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !cond().await {
        assert!(start.elapsed() < Duration::from_secs(60), "{what}: not within a minute");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

async fn node_ready(client: &Client, name: &str) -> bool {
    client.nodes().get(name).await.unwrap().is_ready()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_leader_loses_no_write_and_the_other_server_takes_over() {
    let url = pg::cluster().create_database();
    let dir = tempfile::tempdir().unwrap();
    let mut a = Server::start(dir.path(), free_port(), &url);
    until("server A leads", || leads(dir.path(), a.port)).await;
    // B starts second, sharing the data directory (CA, tokens) and the database.
    let b = Server::start(dir.path(), free_port(), &url);
    assert!(!leads(dir.path(), b.port).await, "two leaders");
    let (on_a, on_b) = (admin(dir.path(), a.port), admin(dir.path(), b.port));

    // A node heartbeats once, through B: its lease expires TTL seconds later.
    let node = Node {
        metadata: ObjectMeta { name: "n1".into(), ..Default::default() },
        status: NodeStatus {
            addresses: vec![NodeAddress { address_type: "InternalIP".into(), address: "192.168.50.1".into() }],
            ..Default::default()
        },
        ..Default::default()
    };
    on_b.nodes().create(&node).await.unwrap();
    on_b.heartbeat("n1", &Heartbeat::default()).await.unwrap();
    assert!(node_ready(&on_b, "n1").await);

    // Writers on both servers; SIGKILL lands on the leader while they are busy.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for (w, client) in [(0, &on_a), (1, &on_a), (2, &on_b), (3, &on_b)] {
        let pods = client.pods("default");
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0.. {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let name = format!("w{w}-{i}");
                match pods.create(&pod(&name)).await {
                    Ok(_) => acked.push(name),
                    // The killed server's writers stop; B's keep going.
                    Err(_) if w < 2 => break,
                    Err(e) => panic!("a write on the surviving server failed: {e}"),
                }
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.kill9();
    let took = until("server B leads after the leader's kill -9", || leads(dir.path(), b.port)).await;
    eprintln!("new leader {took:?} after kill -9 (lease TTL {TTL} s)");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acked = BTreeSet::new();
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    assert!(acked.iter().filter(|n| n.starts_with("w0-") || n.starts_with("w1-")).count() > 5, "{acked:?}");

    let stored: BTreeSet<String> = on_b
        .pods("default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|p| p.metadata.name)
        .collect();
    let lost: Vec<&String> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "{} acknowledged writes lost: {lost:?}", lost.len());

    // Revisions: one event per revision, none missing.
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let (count, max): (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MAX(rev) FROM events").fetch_one(&mut conn).await.unwrap();
    assert_eq!(Some(count), max, "event revisions have gaps");

    // The lease expires with the tick now running on B.
    let expired = until("n1's lease expires", || async { !node_ready(&on_b, "n1").await }).await;
    eprintln!("n1 NotReady {expired:?} after the takeover");
}
