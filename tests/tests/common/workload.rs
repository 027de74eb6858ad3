//! Pods of the cluster tests: `flatnet netexec` pods created through the API, waited for
//! until Ready, and talked to from inside any namespace (a pod's, a node's, the internet's).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use netcore::netns::Netns;
use serde_json::json;

use super::cluster::{http_get_json, http_post_json, TestCluster};
use super::flatnet;

/// A Ready pod: its name, node, network namespace and IP.
#[derive(Clone, Debug)]
pub struct PodInfo {
    pub name: String,
    pub node: String,
    pub ns: String,
    pub ip: Ipv4Addr,
}

/// A netexec pod (HTTP 8080, UDP 8081, ready by `GET /healthz`) with `labels` (plus
/// `name: NAME`), bound to `node` or scheduled.
pub fn create_netexec(c: &TestCluster, name: &str, node: Option<&str>, labels: serde_json::Value) {
    create_netexec_in(c, "default", name, node, labels)
}

/// [`create_netexec`] in namespace `namespace`.
pub fn create_netexec_in(c: &TestCluster, namespace: &str, name: &str, node: Option<&str>, labels: serde_json::Value) {
    let mut labels = labels;
    labels["name"] = json!(name);
    let mut pod = json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "netexec", "command": [flatnet(), "netexec"],
            "ports": [{"name": "http", "containerPort": 8080}, {"name": "udp", "containerPort": 8081, "protocol": "UDP"}],
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}}]}
    });
    if let Some(node) = node {
        pod["spec"]["nodeName"] = json!(node);
    }
    http_post_json(c.listen, c.data_dir(), &format!("/api/v1/namespaces/{namespace}/pods"), &pod);
}

/// Wait until the pod is Running and Ready.
pub fn ready_pod(c: &TestCluster, name: &str) -> PodInfo {
    ready_pod_in(c, "default", name)
}

/// [`ready_pod`] in namespace `namespace`.
pub fn ready_pod_in(c: &TestCluster, namespace: &str, name: &str) -> PodInfo {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pod = http_get_json(c.listen, c.data_dir(), &format!("/api/v1/namespaces/{namespace}/pods/{name}"));
        let ready = pod["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        if pod["status"]["phase"] == "Running" && ready {
            let node = pod["spec"]["nodeName"].as_str().unwrap();
            let uid = pod["metadata"]["uid"].as_str().unwrap();
            return PodInfo {
                name: name.into(),
                node: node.into(),
                ns: netcore::names::pod_netns(node, namespace, name, uid),
                ip: pod["status"]["podIP"].as_str().unwrap().parse().unwrap(),
            };
        }
        assert!(Instant::now() < deadline, "pod {name} not Ready: {pod}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `GET path` over HTTP/1.0 from inside `ns` to `to`; answers the body.
pub fn http_get_in(ns: &str, to: SocketAddr, path: &str) -> std::io::Result<String> {
    let path = path.to_string();
    Netns::open(ns)
        .unwrap()
        .run(move || {
            let mut c = TcpStream::connect_timeout(&to, Duration::from_secs(2))?;
            c.set_read_timeout(Some(Duration::from_secs(2)))?;
            c.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())?;
            let mut s = String::new();
            c.read_to_string(&mut s)?;
            Ok(s.rsplit("\r\n\r\n").next().unwrap_or("").to_string())
        })
        .unwrap()
}

/// `GET /hostname` of the netexec at `ip`, from inside `ns`.
pub fn http_hostname(ns: &str, ip: Ipv4Addr) -> std::io::Result<String> {
    http_get_in(ns, (ip, 8080).into(), "/hostname")
}

/// A UDP socket inside `ns` (it stays there), with a 2 s read timeout.
pub fn udp_socket_in(ns: &str) -> UdpSocket {
    let s = Netns::open(ns).unwrap().run(|| UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))).unwrap().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

/// One netexec UDP request on `socket`; answers the reply.
pub fn udp_request(socket: &UdpSocket, to: SocketAddr, request: &str) -> std::io::Result<String> {
    socket.send_to(request.as_bytes(), to)?;
    let mut b = vec![0u8; 2048];
    let (n, _) = socket.recv_from(&mut b)?;
    Ok(String::from_utf8_lossy(&b[..n]).into_owned())
}

/// A UDP request to the netexec at `ip` from a fresh socket inside `ns`.
pub fn udp(ns: &str, ip: Ipv4Addr, request: &str) -> std::io::Result<String> {
    udp_request(&udp_socket_in(ns), (ip, 8081).into(), request)
}

/// Poll `check` every 50 ms until it holds; panics naming `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The command line and environment of a running process (to start it again).
pub fn command_of(pid: i32) -> (Vec<String>, Vec<(String, String)>) {
    let split = |b: Vec<u8>| -> Vec<String> {
        b.split(|c| *c == 0).filter(|s| !s.is_empty()).map(|s| String::from_utf8_lossy(s).into_owned()).collect()
    };
    let args = split(std::fs::read(format!("/proc/{pid}/cmdline")).unwrap());
    let env = split(std::fs::read(format!("/proc/{pid}/environ")).unwrap())
        .into_iter()
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    (args, env)
}

/// A process the test started again; killed on drop (`flatnet down` only knows the
/// processes `up` started).
pub struct Restarted(pub std::process::Child);

impl Restarted {
    /// Start `args` with exactly `env`, output to `log`.
    pub fn spawn(args: &[String], env: Vec<(String, String)>, log: &std::path::Path) -> Restarted {
        let log = std::fs::File::create(log).unwrap();
        let child = std::process::Command::new(&args[0])
            .args(&args[1..])
            .env_clear()
            .envs(env)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Restarted(child)
    }
}

impl Drop for Restarted {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
