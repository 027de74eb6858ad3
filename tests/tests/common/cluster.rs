//! The harness of the cluster tests: `flatnet` runs with a data directory, port and name
//! prefix of each test's own, taken down by a guard even when a test fails.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netcore::netns::{self, Netns};

use super::flatnet;
/// How long `flatnet up --detach` may take (the target is well under 5 s; CI machines are slow).
pub const UP_LIMIT: Duration = Duration::from_secs(60);

/// Whether privileged tests can run: without root they say so loudly and pass, except under
/// CI (`CI=true`), where they fail.
pub fn privileged() -> bool {
    if nix::unistd::geteuid().is_root() {
        // `flatnet up` starts the apiserver and agents that sit beside it.
        for bin in ["flatnet", "apiserver", "nodeagent"] {
            super::binary(bin);
        }
        return true;
    }
    super::skip("not root: flatnet up/down/status tests SKIPPED");
    false
}

pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {:?}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// One test's cluster: a data directory, a port and a name prefix of its own.
///
/// Its store is SQLite, or with `FLATNET_TEST_STORE=postgres` in the environment (or
/// [`TestCluster::on_postgres`]) `flatnet up --store postgres`: a throwaway PostgreSQL in the
/// data directory and a second API server on `second_listen`, the agents given both. The
/// tests talk to `listen` (the first server) either way.
pub struct TestCluster {
    pub prefix: String,
    pub listen: SocketAddr,
    /// The second API server's address (`--store postgres`).
    pub second_listen: SocketAddr,
    /// `sqlite` or `postgres`.
    pub store: String,
    pub dir: tempfile::TempDir,
    /// Environment of every `flatnet` run (and so of the API server and agents it starts).
    pub env: Vec<(String, String)>,
}

impl TestCluster {
    pub fn new() -> TestCluster {
        static N: AtomicUsize = AtomicUsize::new(0);
        let prefix = format!("t{:x}x{}-", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let listen = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let second_listen = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let store = match std::env::var("FLATNET_TEST_STORE").as_deref() {
            Ok("postgres") => "postgres",
            Ok("sqlite") | Ok("") | Err(_) => "sqlite",
            Ok(other) => panic!("FLATNET_TEST_STORE={other}: sqlite or postgres"),
        };
        TestCluster {
            prefix,
            listen,
            second_listen,
            store: store.into(),
            dir: tempfile::tempdir().unwrap(),
            env: Vec::new(),
        }
    }

    /// A cluster on PostgreSQL with two API servers, whatever `FLATNET_TEST_STORE` says.
    pub fn on_postgres() -> TestCluster {
        let mut c = TestCluster::new();
        c.store = "postgres".into();
        c
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `flatnet ARGS --data-dir DIR` with this cluster's prefix, to its end (at most `limit`).
    pub fn flatnet(&self, args: &[&str], limit: Duration) -> Run {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let out = self.dir.path().join(format!("run-{n}.out"));
        let err = self.dir.path().join(format!("run-{n}.err"));
        let mut child = Command::new(flatnet())
            .args(args)
            .arg("--data-dir")
            .arg(self.data_dir())
            .env("FLATNET_CLUSTER_PREFIX", &self.prefix)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
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

    pub fn up(&self, nodes: u32) -> Run {
        self.up_with(nodes, "host-gw")
    }

    pub fn up_with(&self, nodes: u32, backend: &str) -> Run {
        let listen = self.listen.to_string();
        let nodes = nodes.to_string();
        let second = self.second_listen.to_string();
        let mut args = vec!["up", "--nodes", &nodes, "--backend", backend, "--detach", "--listen", &listen];
        if self.store == "postgres" {
            args.extend(["--store", "postgres", "--second-listen", &second]);
        }
        self.flatnet(&args, UP_LIMIT)
    }

    pub fn down(&self) -> Run {
        self.flatnet(&["down"], Duration::from_secs(60))
    }

    pub fn status(&self) -> Run {
        self.flatnet(&["status"], Duration::from_secs(20))
    }

    pub fn state(&self) -> serde_json::Value {
        let bytes = std::fs::read(self.data_dir().join("cluster.json")).expect("cluster.json");
        serde_json::from_slice(&bytes).unwrap()
    }

    /// (name, pid) of the API server(s), PostgreSQL and the agents, from the state file.
    pub fn pids(&self) -> Vec<(String, i32)> {
        let state = self.state();
        let mut all = vec![&state["apiserver"]];
        all.extend(state["moreApiservers"].as_array().into_iter().flatten());
        all.extend(state["postgres"].as_object().map(|_| &state["postgres"]));
        all.extend(state["agents"].as_array().unwrap());
        all.iter().map(|p| (p["name"].as_str().unwrap().to_string(), p["pid"].as_i64().unwrap() as i32)).collect()
    }

    pub fn node_netns(&self, i: u32) -> String {
        format!("flatnet-{}node-{i}", self.prefix)
    }

    /// The "internet" namespace of this cluster (203.0.113.1, beyond the fabric).
    pub fn internet_netns(&self) -> String {
        format!("flatnet-{}internet", self.prefix)
    }

    /// Namespaces with this cluster's prefix.
    pub fn namespaces(&self) -> Vec<String> {
        netns::list(&format!("flatnet-{}", self.prefix)).unwrap()
    }

    /// Node name → pod CIDR, from the API.
    pub fn pod_cidrs(&self) -> Vec<(String, String)> {
        let nodes = http_get_json(self.listen, self.data_dir(), "/api/v1/nodes");
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
pub fn running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let rest = &stat[stat.rfind(')').unwrap() + 2..];
            !rest.starts_with('Z')
        }
        Err(_) => false,
    }
}

/// `GET path` with the admin token of `data_dir`; answers the JSON reply (a 200).
pub fn http_get_json(server: SocketAddr, data_dir: &Path, path: &str) -> serde_json::Value {
    let (head, body) = https_request(server, data_dir, "GET", path, "");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// `POST path` with a JSON body and the admin token of `data_dir`; answers the JSON reply.
pub fn http_post_json(server: SocketAddr, data_dir: &Path, path: &str, body: &serde_json::Value) -> serde_json::Value {
    http_write(server, data_dir, "POST", path, &body.to_string())
}

/// `PUT path` with a JSON body and the admin token of `data_dir`; answers the JSON reply.
pub fn http_put_json(server: SocketAddr, data_dir: &Path, path: &str, body: &serde_json::Value) -> serde_json::Value {
    http_write(server, data_dir, "PUT", path, &body.to_string())
}

/// `DELETE path` with the admin token of `data_dir`; answers the JSON reply.
pub fn http_delete(server: SocketAddr, data_dir: &Path, path: &str) -> serde_json::Value {
    http_write(server, data_dir, "DELETE", path, "")
}

fn http_write(server: SocketAddr, data_dir: &Path, method: &str, path: &str, body: &str) -> serde_json::Value {
    let (head, body) = https_request(server, data_dir, method, path, body);
    assert!(head.starts_with("HTTP/1.1 20"), "{head}\n{body}");
    serde_json::from_str(&body).unwrap()
}

/// One HTTPS request to the cluster's API server, as a client that pins the cluster's CA
/// (`DATA/apiserver/ca.crt`) and sends its admin token; answers the status line and headers,
/// and the body.
pub fn https_request(server: SocketAddr, data_dir: &Path, method: &str, path: &str, body: &str) -> (String, String) {
    let token = std::fs::read_to_string(data_dir.join("apiserver/admin.token")).unwrap();
    let mut stream = tls_connect(server, &data_dir.join("apiserver/ca.crt")).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {server}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        token.trim(),
        body.len()
    )
    .unwrap();
    let mut response = Vec::new();
    // The server may close without TLS's close_notify; what arrived is the answer.
    match stream.read_to_end(&mut response) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
        Err(e) => panic!("read the answer of {method} {path}: {e}"),
    }
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

/// A TLS connection to `server` that trusts only the CA in `ca_file`.
pub fn tls_connect(
    server: SocketAddr,
    ca_file: &Path,
) -> std::io::Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca_file).map_err(std::io::Error::other)? {
        roots.add(cert.map_err(std::io::Error::other)?).map_err(std::io::Error::other)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::IpAddress(server.ip().into());
    let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(std::io::Error::other)?;
    let tcp = TcpStream::connect(server)?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    // Finish the handshake now, so that a certificate error shows here.
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}

/// A TCP listener inside the namespace `ns` (the socket stays in that namespace).
pub fn listen_in(ns: &str, addr: &str) -> TcpListener {
    Netns::open(ns).unwrap().run(|| TcpListener::bind(addr)).unwrap().unwrap()
}

/// A TCP connection from inside `ns` to `target`; answers the local address it used.
pub fn connect_from(ns: &str, target: SocketAddr) -> std::io::Result<SocketAddr> {
    Netns::open(ns)
        .unwrap()
        .run(move || {
            let stream = TcpStream::connect_timeout(&target, Duration::from_secs(3))?;
            stream.local_addr()
        })
        .unwrap()
}

/// Connect from `from` to a listener in `to` on `addr`; the listener sees `from`'s address.
pub fn assert_tcp(from: &str, to: &str, addr: &str) {
    let listener = listen_in(to, &format!("{addr}:0"));
    let target = listener.local_addr().unwrap();
    let local = connect_from(from, target).unwrap_or_else(|e| panic!("connect from {from} to {target} in {to}: {e}"));
    let (_, peer) = listener.accept().unwrap();
    assert_eq!(peer, local, "no NAT between {from} and {to}");
}

/// Every process of the state file dead, no namespace with the prefix, no link of ours in
/// the root namespace, no state file.
pub fn assert_gone(cluster: &TestCluster, pids: &[(String, i32)], namespaces: &[String]) {
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
