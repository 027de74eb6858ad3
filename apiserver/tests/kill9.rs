//! The real `apiserver` binary, killed with SIGKILL in the middle of a write storm: every
//! write it acknowledged is there after the restart, and a watch stream of the typed client
//! resumes across the restart with no event lost or repeated. Over HTTPS, with the CA the
//! server made on its first start.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use openapi::client::{Client, ListParams, WatchEvent};
use openapi::{Container, ObjectMeta, Pod, PodSpec};

struct Server {
    child: Child,
}

impl Server {
    /// Start the binary on `port` with `data_dir`; returns once it listens.
    fn start(data_dir: &Path, port: u16) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_apiserver"))
            .arg("--data-dir")
            .arg(data_dir)
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
        Server { child }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_and_watch_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = Server::start(dir.path(), port);
    let client = admin(dir.path(), port);
    let pods = client.pods("default");

    let start = pods.list(&ListParams::default()).await.unwrap();
    let mut watch = pods.watch(&ListParams::default(), &start.metadata.resource_version);

    // 8 writers create pods as fast as they can; SIGKILL lands while they are busy.
    let mut writers = Vec::new();
    for w in 0..8 {
        let pods = pods.clone();
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0.. {
                let name = format!("w{w}-{i}");
                match pods.create(&pod(&name)).await {
                    Ok(_) => acked.push(name),
                    Err(_) => break,
                }
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.kill9();
    let mut acked = BTreeSet::new();
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    assert!(acked.len() > 20, "the write storm was too short to mean anything: {}", acked.len());

    let mut server = Server::start(dir.path(), port);
    let after = pods.list(&ListParams::default()).await.unwrap();
    let stored: BTreeSet<String> = after.items.iter().map(|p| p.metadata.name.clone()).collect();
    let lost: Vec<&String> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "{} acknowledged writes lost after kill -9: {lost:?}", lost.len());

    // More writes after the restart; the watch stream reconnects by itself.
    for i in 0..5 {
        pods.create(&pod(&format!("after-{i}"))).await.unwrap();
    }
    let expected: BTreeSet<String> = stored.iter().cloned().chain((0..5).map(|i| format!("after-{i}"))).collect();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while seen.len() < expected.len() {
        let next = tokio::time::timeout_at(deadline, watch.next()).await;
        match next {
            Ok(Some(Ok(WatchEvent::Added(p)))) => seen.push(p.metadata.name),
            Ok(Some(other)) => panic!("unexpected watch item {other:?}"),
            Ok(None) => panic!("watch stream ended"),
            Err(_) => panic!("watch saw {} of {} creations", seen.len(), expected.len()),
        }
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "watch delivered an event twice across the restart");
    assert_eq!(unique, expected, "watch events differ from the stored objects");
    server.kill9();
}
