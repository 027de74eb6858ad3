//! `flatnet up`, `status` and `down`: the real binaries (flatnet, apiserver, nodeagent) on the
//! real kernel, as root. Every cluster here has its own data directory, port and name prefix
//! (so none collides with a cluster a user runs), and is taken down by a guard even when a
//! test fails.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use netcore::netns::{self, Netns};

const FLATNET: &str = env!("CARGO_BIN_EXE_flatnet");
/// How long `flatnet up --detach` may take (the target is well under 5 s; CI machines are slow).
const UP_LIMIT: Duration = Duration::from_secs(60);

/// Whether privileged tests can run: without root they say so loudly and pass, except under
/// CI (`CI=true`), where they fail.
fn privileged() -> bool {
    if nix::unistd::geteuid().is_root() {
        let dir = Path::new(FLATNET).parent().unwrap();
        for bin in ["apiserver", "nodeagent"] {
            assert!(dir.join(bin).is_file(), "{} is missing: run `cargo build --bins` first", dir.join(bin).display());
        }
        return true;
    }
    let msg = "not root: flatnet up/down/status tests SKIPPED";
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg} (CI=true forbids skipping)");
    }
    eprintln!("WARNING: {msg}");
    false
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {:?}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// One test's cluster: a data directory, a port and a name prefix of its own.
struct TestCluster {
    prefix: String,
    listen: SocketAddr,
    dir: tempfile::TempDir,
}

impl TestCluster {
    fn new() -> TestCluster {
        static N: AtomicUsize = AtomicUsize::new(0);
        let prefix = format!("t{:x}x{}-", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let listen = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        TestCluster { prefix, listen, dir: tempfile::tempdir().unwrap() }
    }

    fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `flatnet ARGS --data-dir DIR` with this cluster's prefix, to its end (at most `limit`).
    fn flatnet(&self, args: &[&str], limit: Duration) -> Run {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let out = self.dir.path().join(format!("run-{n}.out"));
        let err = self.dir.path().join(format!("run-{n}.err"));
        let mut child = Command::new(FLATNET)
            .args(args)
            .arg("--data-dir")
            .arg(self.data_dir())
            .env("FLATNET_CLUSTER_PREFIX", &self.prefix)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "flatnet {args:?} took more than {limit:?}\n{}\n{}",
                    std::fs::read_to_string(&out).unwrap_or_default(),
                    std::fs::read_to_string(&err).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Run {
            code: status.code(),
            stdout: std::fs::read_to_string(&out).unwrap_or_default(),
            stderr: std::fs::read_to_string(&err).unwrap_or_default(),
        }
    }

    fn up(&self, nodes: u32) -> Run {
        let listen = self.listen.to_string();
        self.flatnet(&["up", "--nodes", &nodes.to_string(), "--detach", "--listen", &listen], UP_LIMIT)
    }

    fn down(&self) -> Run {
        self.flatnet(&["down"], Duration::from_secs(60))
    }

    fn status(&self) -> Run {
        self.flatnet(&["status"], Duration::from_secs(20))
    }

    fn state(&self) -> serde_json::Value {
        let bytes = std::fs::read(self.data_dir().join("cluster.json")).expect("cluster.json");
        serde_json::from_slice(&bytes).unwrap()
    }

    /// (name, pid) of the API server and the agents, from the state file.
    fn pids(&self) -> Vec<(String, i32)> {
        let state = self.state();
        let mut all = vec![&state["apiserver"]];
        all.extend(state["agents"].as_array().unwrap());
        all.iter().map(|p| (p["name"].as_str().unwrap().to_string(), p["pid"].as_i64().unwrap() as i32)).collect()
    }

    fn node_netns(&self, i: u32) -> String {
        format!("flatnet-{}node-{i}", self.prefix)
    }

    /// Namespaces with this cluster's prefix.
    fn namespaces(&self) -> Vec<String> {
        netns::list(&format!("flatnet-{}", self.prefix)).unwrap()
    }

    /// Node name → pod CIDR, from the API.
    fn pod_cidrs(&self) -> Vec<(String, String)> {
        let nodes = http_get_json(self.listen, "/api/v1/nodes");
        let mut out: Vec<(String, String)> = nodes["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                (n["metadata"]["name"].as_str().unwrap().into(), n["spec"]["podCIDR"].as_str().unwrap_or("").into())
            })
            .collect();
        out.sort();
        out
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let pids = std::fs::read(self.data_dir().join("cluster.json")).ok().map(|_| self.pids()).unwrap_or_default();
        let down = self.down();
        if down.code != Some(0) {
            eprintln!("cleanup: flatnet down failed: {down:?}");
        }
        // Belt and braces: nothing with this test's prefix may outlive it.
        for (_, pid) in pids {
            if running(pid) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            }
        }
        for ns in self.namespaces() {
            eprintln!("cleanup: removing leftover namespace {ns}");
            let _ = netns::delete(&ns);
        }
    }
}

/// Whether `pid` runs (exists and is not a zombie).
fn running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let rest = &stat[stat.rfind(')').unwrap() + 2..];
            !rest.starts_with('Z')
        }
        Err(_) => false,
    }
}

fn http_get_json(server: SocketAddr, path: &str) -> serde_json::Value {
    let mut stream = TcpStream::connect(server).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// `POST path` with a JSON body and the admin token of `data_dir`; answers the JSON reply.
fn http_post_json(server: SocketAddr, data_dir: &Path, path: &str, body: &serde_json::Value) -> serde_json::Value {
    let token = std::fs::read_to_string(data_dir.join("apiserver/admin.token")).unwrap();
    let body = body.to_string();
    let mut stream = TcpStream::connect(server).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {server}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        token.trim(),
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 20"), "{head}\n{body}");
    serde_json::from_str(body).unwrap()
}

/// A TCP listener inside the namespace `ns` (the socket stays in that namespace).
fn listen_in(ns: &str, addr: &str) -> TcpListener {
    Netns::open(ns).unwrap().run(|| TcpListener::bind(addr)).unwrap().unwrap()
}

/// A TCP connection from inside `ns` to `target`; answers the local address it used.
fn connect_from(ns: &str, target: SocketAddr) -> std::io::Result<SocketAddr> {
    Netns::open(ns)
        .unwrap()
        .run(move || {
            let stream = TcpStream::connect_timeout(&target, Duration::from_secs(3))?;
            stream.local_addr()
        })
        .unwrap()
}

/// Connect from `from` to a listener in `to` on `addr`; the listener sees `from`'s address.
fn assert_tcp(from: &str, to: &str, addr: &str) {
    let listener = listen_in(to, &format!("{addr}:0"));
    let target = listener.local_addr().unwrap();
    let local = connect_from(from, target).unwrap_or_else(|e| panic!("connect from {from} to {target} in {to}: {e}"));
    let (_, peer) = listener.accept().unwrap();
    assert_eq!(peer, local, "no NAT between {from} and {to}");
}

/// Every process of the state file dead, no namespace with the prefix, no link of ours in
/// the root namespace, no state file.
fn assert_gone(cluster: &TestCluster, pids: &[(String, i32)], namespaces: &[String]) {
    for (name, pid) in pids {
        assert!(!running(*pid), "{name} (pid {pid}) still runs after down");
    }
    assert_eq!(cluster.namespaces(), Vec::<String>::new(), "namespaces left after down");
    for ns in namespaces {
        assert!(!Path::new("/run/netns").join(ns).exists(), "/run/netns/{ns} left");
        let out = Command::new("ip").args(["-n", ns, "link"]).output().unwrap();
        assert!(!out.status.success(), "ip -n {ns} link still works: {}", String::from_utf8_lossy(&out.stdout));
    }
    let hash = format!("fn{:06x}", netcore::names::stable_hash(&cluster.prefix) >> 40);
    let root_links = String::from_utf8(Command::new("ip").args(["-o", "link"]).output().unwrap().stdout).unwrap();
    assert!(!root_links.contains(&hash), "links {hash}* in the root namespace:\n{root_links}");
    assert!(!cluster.data_dir().join("cluster.json").exists(), "cluster.json left after down");
}

#[test]
fn up_status_traffic_down() {
    if !privileged() {
        return;
    }
    let cluster = TestCluster::new();
    let started = Instant::now();
    let up = cluster.up(2);
    let took = started.elapsed();
    assert_eq!(up.code, Some(0), "{up:?}");
    eprintln!("flatnet up --nodes 2 --detach: {took:?}\n{}", up.stdout);
    assert!(up.stdout.contains("[4/4] nodes Ready: 2/2"), "{up:?}");
    assert!(up.stdout.contains(&format!("http://{}", cluster.listen)), "{up:?}");
    assert!(up.stdout.contains("admin.token"), "{up:?}");

    let status = cluster.status();
    assert_eq!(status.code, Some(0), "{status:?}");
    let ready: Vec<&str> =
        status.stdout.lines().filter(|l| l.trim_start().starts_with("node-") && l.contains(" True ")).collect();
    assert_eq!(ready.len(), 2, "{status:?}");
    assert!(status.stdout.contains("10.244."), "{status:?}");
    assert!(status.stdout.contains("reachable"), "{status:?}");

    // The underlay: node to node both ways, and each node to the "internet", without NAT.
    let (n1, n2) = (cluster.node_netns(1), cluster.node_netns(2));
    assert_tcp(&n1, &n2, "192.168.254.12");
    assert_tcp(&n2, &n1, "192.168.254.11");
    let internet = format!("flatnet-{}internet", cluster.prefix);
    assert_tcp(&n1, &internet, "203.0.113.1");
    assert_tcp(&n2, &internet, "203.0.113.1");
    // Nothing of it in the root namespace: no route to the underlay or the "internet".
    let routes =
        String::from_utf8(Command::new("ip").args(["route", "show", "table", "all"]).output().unwrap().stdout).unwrap();
    assert!(!routes.contains("192.168.254.") && !routes.contains("203.0.113."), "{routes}");

    // A pod running `flatnet netexec` on node-2, reached from its node.
    let pod = serde_json::json!({
        "metadata": {"name": "web-1"},
        "spec": {"nodeName": "node-2", "containers": [{"name": "web", "command": [FLATNET, "netexec"]}]}
    });
    let pod = http_post_json(cluster.listen, cluster.data_dir(), "/api/v1/namespaces/default/pods", &pod);
    let uid = pod["metadata"]["uid"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    let pod_ip = loop {
        let pod = http_get_json(cluster.listen, "/api/v1/namespaces/default/pods/web-1");
        if pod["status"]["phase"] == "Running" {
            if let Some(ip) = pod["status"]["podIP"].as_str() {
                break ip.to_string();
            }
        }
        assert!(Instant::now() < deadline, "pod web-1 not Running: {pod}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let target: SocketAddr = format!("{pod_ip}:8080").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while connect_from(&n2, target).is_err() {
        assert!(Instant::now() < deadline, "netexec in pod web-1 at {target} never answered");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pod_netns = netcore::names::pod_netns("node-2", "default", "web-1", &uid);
    assert!(netns::exists(&pod_netns), "{pod_netns}");
    let state_file = cluster.data_dir().join("agents/node-2/pods").join(&uid).join("web.state");
    let shim: serde_json::Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    let shim_pid = shim["pid"].as_i64().unwrap() as i32;
    assert!(running(shim_pid));

    // An nftables table named flatnet* in a node's namespace is removed by down.
    let nft = Command::new("ip").args(["netns", "exec", &n1, "nft", "add", "table", "inet", "flatnet-test"]).status();
    assert!(nft.unwrap().success());

    let pids = cluster.pids();
    let namespaces = cluster.namespaces();
    assert_eq!(namespaces.len(), 4, "{namespaces:?}");
    let down = cluster.down();
    assert_eq!(down.code, Some(0), "{down:?}");
    assert!(down.stdout.contains("1 container(s)"), "{down:?}");
    assert!(down.stdout.contains("1 nftables table(s)"), "{down:?}");
    assert!(down.stdout.contains("1 pod namespace(s)"), "{down:?}");
    assert_gone(&cluster, &pids, &namespaces);
    assert!(!running(shim_pid), "the pod's container (shim pid {shim_pid}) still runs");
    assert!(!netns::exists(&pod_netns), "{pod_netns} left");
    assert!(cluster.data_dir().join("apiserver/admin.token").exists(), "down keeps the API server's data");
    let again = cluster.down();
    assert_eq!(again.code, Some(0), "a second down is fine: {again:?}");
    let status = cluster.status();
    assert_ne!(status.code, Some(0), "{status:?}");
    assert!(status.stdout.contains("no flatnet cluster"), "{status:?}");
}

#[test]
fn second_up_refuses_while_the_first_runs() {
    if !privileged() {
        return;
    }
    let cluster = TestCluster::new();
    let up = cluster.up(1);
    assert_eq!(up.code, Some(0), "{up:?}");
    let pids = cluster.pids();

    let second = cluster.up(1);
    assert_eq!(second.code, Some(1), "{second:?}");
    assert!(second.stderr.contains("already running"), "{second:?}");
    assert!(second.stderr.contains("status") && second.stderr.contains("down"), "{second:?}");
    // Nothing of the first was touched.
    assert_eq!(cluster.pids(), pids);
    assert!(pids.iter().all(|(_, pid)| running(*pid)));
    let status = cluster.status();
    assert_eq!(status.code, Some(0), "{status:?}");
}

#[test]
fn up_after_a_crash_cleans_up_and_starts_fresh() {
    if !privileged() {
        return;
    }
    let cluster = TestCluster::new();
    let up = cluster.up(2);
    assert_eq!(up.code, Some(0), "{up:?}");
    let cidrs = cluster.pod_cidrs();
    assert_eq!(cidrs.len(), 2, "{cidrs:?}");

    // A crash of everything: kill -9 every process; the namespaces stay.
    let old = cluster.pids();
    for (_, pid) in &old {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while old.iter().any(|(_, pid)| running(*pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = cluster.status();
    assert_ne!(status.code, Some(0), "{status:?}");
    assert!(status.stdout.contains("dead"), "{status:?}");

    let again = cluster.up(2);
    assert_eq!(again.code, Some(0), "{again:?}");
    assert!(again.stdout.contains("cleaning up"), "{again:?}");
    let new = cluster.pids();
    assert!(new.iter().all(|(_, pid)| running(*pid)), "{new:?}");
    assert!(new.iter().all(|p| !old.contains(p)), "fresh processes: {old:?} {new:?}");
    assert_eq!(cluster.pod_cidrs(), cidrs, "the API server's data (node CIDRs) is kept");
    assert_tcp(&cluster.node_netns(1), &cluster.node_netns(2), "192.168.254.12");

    let namespaces = cluster.namespaces();
    let down = cluster.down();
    assert_eq!(down.code, Some(0), "{down:?}");
    assert_gone(&cluster, &new, &namespaces);
}

#[test]
fn a_taken_port_is_refused_with_the_fix() {
    if !privileged() {
        return;
    }
    let cluster = TestCluster::new();
    let taken = TcpListener::bind(cluster.listen).unwrap();
    let up = cluster.up(1);
    assert_eq!(up.code, Some(1), "{up:?}");
    assert!(up.stderr.contains(&format!("{} is in use: pass --listen 127.0.0.1:PORT", cluster.listen)), "{up:?}");
    assert_eq!(cluster.namespaces(), Vec::<String>::new(), "nothing made");
    assert!(!cluster.data_dir().join("cluster.json").exists());
    drop(taken);
}

#[test]
fn down_without_a_cluster_is_fine() {
    if !privileged() {
        return;
    }
    let cluster = TestCluster::new();
    let down = cluster.down();
    assert_eq!(down.code, Some(0), "{down:?}");
    assert!(down.stdout.contains("nothing to remove"), "{down:?}");
}
