//! `kubectl exec` end to end: kubectl 1.32 (`/usr/bin/kubectl`) against a cluster made with
//! `flatnet up`, through the kubeconfig it writes; the websocket goes from kubectl to the API
//! server to the agent of the pod's node, which runs the command in the pod.
//!
//! Also the agent's exec endpoint spoken to directly, by hand (HTTP and websocket frames
//! written here), with hostile requests, after which it still serves.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::cluster::*;
use common::flatnet;
use common::workload::{create_netexec, ready_pod};
use serde_json::json;

/// A cluster with kubectl's way in: the kubeconfig `flatnet up` wrote.
struct Kube {
    cluster: TestCluster,
    kubeconfig: PathBuf,
}

impl Kube {
    fn up(nodes: u32) -> Option<Kube> {
        if !privileged() {
            return None;
        }
        if Command::new("kubectl").arg("version").arg("--client").output().is_err() {
            common::skip("kubectl not installed (Debian: apt-get install kubernetes-client): exec tests SKIPPED");
            return None;
        }
        let cluster = TestCluster::new();
        let up = cluster.up(nodes);
        assert_eq!(up.code, Some(0), "{up:?}");
        let kubeconfig = cluster.data_dir().join("kubeconfig");
        assert!(kubeconfig.is_file(), "flatnet up wrote no kubeconfig");
        Some(Kube { cluster, kubeconfig })
    }

    fn kubectl_in(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn kubectl(&self, args: &[&str]) -> Run {
        self.kubectl_in(args, "")
    }

    /// `kubectl exec POD -- COMMAND…`.
    fn exec(&self, pod: &str, command: &[&str]) -> Run {
        let mut args = vec!["exec", pod, "--"];
        args.extend_from_slice(command);
        self.kubectl(&args)
    }

    fn pod(&self, name: &str) -> serde_json::Value {
        http_get_json(self.cluster.listen, self.cluster.data_dir(), &format!("/api/v1/namespaces/default/pods/{name}"))
    }
}

/// A netexec pod bound to `node`, with an environment and a working directory of its own.
fn client_pod(node: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: client}}\nspec:\n  nodeName: {node}\n  containers:\n  \
         - name: client\n    command: [{flatnet}, netexec]\n    workingDir: /tmp\n    env: [{{name: GREETING, value: hello}}]\n",
        flatnet = flatnet()
    )
}

/// Exec with the official Python client: prints stdout, stderr and the exit code.
const PYTHON_EXEC: &str = r#"
from kubernetes import client, config
from kubernetes.stream import stream
config.load_kube_config()
ws = stream(client.CoreV1Api().connect_get_namespaced_pod_exec, "client", "default",
            command=["sh", "-c", "echo $GREETING; echo oops >&2; exit 4"],
            stdin=False, stdout=True, stderr=True, tty=False, _preload_content=False)
ws.run_forever(timeout=30)
print(repr(ws.read_stdout()), repr(ws.read_stderr()), ws.returncode)
"#;

#[test]
fn kubectl_exec_runs_commands_in_pods_on_every_node() {
    let Some(k) = Kube::up(2) else { return };
    let c = &k.cluster;
    create_netexec(c, "web", Some("node-1"), json!({"app": "web"}));
    let applied = k.kubectl_in(&["apply", "-f", "-"], &client_pod("node-2"));
    assert_eq!(applied.code, Some(0), "{applied:?}");
    http_post_json(
        c.listen,
        c.data_dir(),
        "/api/v1/namespaces/default/services",
        &json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}),
    );
    let web = ready_pod(c, "web");
    let client = ready_pod(c, "client");
    assert_eq!((web.node.as_str(), client.node.as_str()), ("node-1", "node-2"));

    // The command runs in the pod's network namespace, on either node.
    let ns_inode = |ns: &str| std::fs::metadata(format!("/run/netns/{ns}")).unwrap().ino();
    for pod in [&web, &client] {
        let run = k.exec(&pod.name, &["readlink", "/proc/self/ns/net"]);
        assert_eq!(run.code, Some(0), "{run:?}");
        assert_eq!(run.stdout.trim(), format!("net:[{}]", ns_inode(&pod.ns)), "{}: {run:?}", pod.name);
        let run = k.exec(&pod.name, &["hostname"]);
        assert_eq!(run.stdout.trim(), pod.name, "the pod's UTS namespace: {run:?}");
    }

    // How people test a network: a probe from one pod to a service, served on the other node.
    let svc = http_get_json(c.listen, c.data_dir(), "/api/v1/namespaces/default/services/web");
    let target = format!("{}:80", svc["spec"]["clusterIP"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let probe = loop {
        let run = k.exec("client", &[flatnet(), "probe", "http", &target, "--request", "/hostname"]);
        if run.code == Some(0) || Instant::now() > deadline {
            break run;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(probe.code, Some(0), "{probe:?}");
    assert!(probe.stdout.contains("ok web") && probe.stdout.contains("1/1 ok"), "{probe:?}");

    // stdout and stderr apart, the container's environment and working directory, and the
    // exit code as kubectl's.
    let run = k.exec("client", &["sh", "-c", "echo $GREETING; pwd; echo oops >&2; exit 7"]);
    assert_eq!(run.code, Some(7), "{run:?}");
    assert_eq!(run.stdout, "hello\n/tmp\n", "{run:?}");
    assert!(run.stderr.starts_with("oops\n"), "{run:?}");
    assert!(run.stderr.contains("command terminated with exit code 7"), "{run:?}");
    // Output larger than one message, whole and in order.
    let run = k.exec("client", &["sh", "-c", "seq 1 300000"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let expected: String = (1..=300000).map(|n| format!("{n}\n")).collect();
    assert!(run.stdout == expected, "{} bytes of seq's output came back, not {}", run.stdout.len(), expected.len());
    // A probe that fails is a failing exec.
    let refused = k.exec("client", &[flatnet(), "probe", "tcp", &format!("{}:8080", web.ip), "--timeout-ms", "2000"]);
    assert_eq!(refused.code, Some(0), "port 8080 of web answers: {refused:?}");
    let refused = k.exec("client", &[flatnet(), "probe", "tcp", &format!("{}:9", web.ip), "--timeout-ms", "2000"]);
    assert_eq!(refused.code, Some(1), "nothing listens on port 9: {refused:?}");
    assert!(refused.stdout.contains("0/1 ok"), "{refused:?}");

    // stdin (-i), until its end.
    let run = k.kubectl_in(&["exec", "-i", "client", "--", "sh", "-c", "tr a-z A-Z; echo end"], "ping\npong\n");
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "PING\nPONG\nend\n");

    // The official Python client's exec (it speaks v4.channel.k8s.io), unmodified.
    let have_client = Command::new("python3")
        .args(["-c", "import kubernetes"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if have_client {
        let out = Command::new("python3").arg("-c").arg(PYTHON_EXEC).env("KUBECONFIG", &k.kubeconfig).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{text}");
        assert_eq!(text.trim(), "'hello\\n' 'oops\\n' 4", "{text}");
    } else {
        common::skip("the kubernetes Python package is missing (scripts/deps.sh installs it): its exec SKIPPED");
    }

    // A command that does not exist, a pod that does not exist.
    let run = k.exec("client", &["/no/such/command"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("/no/such/command") && run.stderr.contains("No such file"), "{run:?}");
    let run = k.exec("nope", &["true"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("\"nope\" not found"), "{run:?}");

    // Only the admin: the viewer token is refused.
    let viewer = std::fs::read_to_string(c.data_dir().join("apiserver/viewer.token")).unwrap();
    let run = k.kubectl(&["--token", viewer.trim(), "exec", "client", "--", "true"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("Forbidden"), "{run:?}");

    // The exec path itself answers Statuses before any upgrade.
    let exec_path = |pod: &str, query: &str| format!("/api/v1/namespaces/default/pods/{pod}/exec?{query}");
    for (method, path, code, says) in [
        ("GET", exec_path("nope", "command=true&stdout=true"), "404", "\"nope\" not found"),
        ("GET", exec_path("client", "stdout=true"), "400", "at least one command"),
        ("GET", exec_path("client", "command=true&stdout=true&tty=true"), "400", "terminal"),
        ("POST", exec_path("client", "command=true&stdout=true"), "400", "websockets only"),
        ("GET", exec_path("client", "command=true&stdout=true&container=other"), "400", "\"other\""),
    ] {
        let (head, body) = https_request(c.listen, c.data_dir(), method, &path, "");
        assert!(head.starts_with(&format!("HTTP/1.1 {code}")), "{method} {path}: {head}\n{body}");
        let status: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(status["kind"], "Status", "{body}");
        assert!(status["message"].as_str().unwrap().contains(says), "{method} {path}: {body}");
    }
    assert_eq!(k.pod("client")["status"]["phase"], "Running");
}

/// A raw HTTP/1.1 exchange with `addr`: answers what came back before the server closed or
/// went quiet (a 101's head, then frames, arrive over the same connection).
fn exchange(addr: SocketAddr, request: &[u8]) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    (stream, String::from_utf8_lossy(&head).into_owned())
}

fn upgrade_request(path: &str, auth: Option<&str>, protocol: Option<&str>) -> String {
    let mut req = format!(
        "GET {path} HTTP/1.1\r\nHost: agent\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    );
    if let Some(a) = auth {
        req.push_str(&format!("Authorization: {a}\r\n"));
    }
    if let Some(p) = protocol {
        req.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
    }
    req + "\r\n"
}

/// One websocket frame from the server (never masked): its opcode and payload.
fn read_frame(stream: &mut TcpStream) -> std::io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head)?;
    let len = match head[1] & 0x7f {
        126 => {
            let mut l = [0u8; 2];
            stream.read_exact(&mut l)?;
            u16::from_be_bytes(l) as usize
        }
        127 => {
            let mut l = [0u8; 8];
            stream.read_exact(&mut l)?;
            u64::from_be_bytes(l) as usize
        }
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload)?;
    Ok((head[0] & 0x0f, payload))
}

/// Whether a process with `arg` in its command line runs.
fn process_with_arg(arg: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c.split(|&b| b == 0).any(|a| a == arg.as_bytes()))
    })
}

#[test]
fn the_agent_exec_endpoint_refuses_hostile_requests_and_stays_up() {
    let Some(k) = Kube::up(1) else { return };
    let c = &k.cluster;
    create_netexec(c, "web", None, json!({}));
    ready_pod(c, "web");
    let uid = k.pod("web")["metadata"]["uid"].as_str().unwrap().to_string();
    let node = http_get_json(c.listen, c.data_dir(), "/api/v1/nodes/node-1");
    let endpoint = &node["status"]["daemonEndpoints"]["agentEndpoint"];
    let agent: SocketAddr = format!("{}:{}", endpoint["address"].as_str().unwrap(), endpoint["port"]).parse().unwrap();
    // The API server's proof: the SHA-256 of the node's token, which the agent has in its
    // environment.
    let (_, agent_pid) = c.pids().into_iter().find(|(name, _)| name == "node-1").unwrap();
    let environ = std::fs::read(format!("/proc/{agent_pid}/environ")).unwrap();
    let token = environ
        .split(|&b| b == 0)
        .find_map(|e| e.strip_prefix(b"FLATNET_TOKEN="))
        .map(|t| String::from_utf8(t.to_vec()).unwrap())
        .expect("the agent's FLATNET_TOKEN");
    let digest = Command::new("sha256sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().and_then(|mut p| {
        p.stdin.take().unwrap().write_all(token.as_bytes())?;
        p.wait_with_output()
    });
    let hash = String::from_utf8(digest.unwrap().stdout).unwrap().split_whitespace().next().unwrap().to_string();
    let key = format!("Bearer {hash}");
    let v5 = Some("v5.channel.k8s.io");
    let path = |container: &str, query: &str| format!("/pods/{uid}/containers/{container}/exec?{query}");

    for (what, request, expect) in [
        ("no token", upgrade_request(&path("netexec", "command=true&stdout=1"), None, v5), "401"),
        (
            "a client's token",
            upgrade_request(&path("netexec", "command=true&stdout=1"), Some(&format!("Bearer {token}")), v5),
            "401",
        ),
        (
            "no upgrade",
            format!(
                "GET {} HTTP/1.1\r\nHost: a\r\nAuthorization: {key}\r\n\r\n",
                path("netexec", "command=true&stdout=1")
            ),
            "400",
        ),
        ("no command", upgrade_request(&path("netexec", "stdout=1"), Some(&key), v5), "400"),
        ("no stream", upgrade_request(&path("netexec", "command=true"), Some(&key), v5), "400"),
        ("a NUL byte", upgrade_request(&path("netexec", "command=a%00b&stdout=1"), Some(&key), v5), "400"),
        ("a bad boolean", upgrade_request(&path("netexec", "command=true&stdout=yes"), Some(&key), v5), "400"),
        (
            "a path that walks",
            upgrade_request(&format!("/pods/{uid}/containers/..%2F..%2Fx/exec?command=true&stdout=1"), Some(&key), v5),
            "400",
        ),
        ("no protocol", upgrade_request(&path("netexec", "command=true&stdout=1"), Some(&key), None), "400"),
        (
            "an unknown protocol",
            upgrade_request(&path("netexec", "command=true&stdout=1"), Some(&key), Some("chat")),
            "400",
        ),
        ("an unknown container", upgrade_request(&path("other", "command=true&stdout=1"), Some(&key), v5), "409"),
        (
            "an unknown pod",
            upgrade_request("/pods/0000/containers/netexec/exec?command=true&stdout=1", Some(&key), v5),
            "409",
        ),
    ] {
        let (_, head) = exchange(agent, request.as_bytes());
        assert!(head.starts_with(&format!("HTTP/1.1 {expect}")), "{what}: {head}");
    }
    // Not HTTP at all, and a request cut short.
    let _ = exchange(agent, b"\x16\x03\x01\x02\x00garbage\r\n\r\n");
    drop(TcpStream::connect(agent).unwrap().write_all(b"GET /pods/"));

    // The protocol by hand: stdout on channel 1, then the Status on channel 3, then a close.
    let (mut ws, head) = exchange(
        agent,
        upgrade_request(&path("netexec", "command=sh&command=-c&command=echo%20hi&stdout=1"), Some(&key), v5)
            .as_bytes(),
    );
    assert!(head.starts_with("HTTP/1.1 101") && head.contains("v5.channel.k8s.io"), "{head}");
    let mut frames = Vec::new();
    while let Ok((opcode, payload)) = read_frame(&mut ws) {
        frames.push((opcode, payload));
        if opcode == 8 {
            break;
        }
    }
    assert_eq!(frames[0], (2, b"\x01hi\n".to_vec()), "{frames:?}");
    assert_eq!(frames[1].1[0], 3, "{frames:?}");
    let status: serde_json::Value = serde_json::from_slice(&frames[1].1[1..]).unwrap();
    assert_eq!(status["status"], "Success");
    assert_eq!(frames.last().unwrap().0, 8, "a close frame ends it: {frames:?}");

    // A client that goes away: its command is killed, and what it started. One that sends
    // garbage frames: too.
    for after_upgrade in [&b""[..], b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"] {
        let marker = format!("{}", 600_000 + after_upgrade.len());
        // Through a shell that stays its parent: the whole process group must go.
        let query = format!("command=sh&command=-c&command=sleep%20{marker};%20true&stdout=1");
        let (mut ws, head) = exchange(agent, upgrade_request(&path("netexec", &query), Some(&key), v5).as_bytes());
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !process_with_arg(&marker) {
            assert!(Instant::now() < deadline, "sleep {marker} never ran");
            std::thread::sleep(Duration::from_millis(50));
        }
        ws.write_all(after_upgrade).unwrap();
        drop(ws);
        let deadline = Instant::now() + Duration::from_secs(10);
        while process_with_arg(&marker) {
            assert!(Instant::now() < deadline, "sleep {marker} outlived its client");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    // Still up: the agent runs and kubectl exec works through it.
    assert!(running(agent_pid), "the agent died");
    let run = k.exec("web", &["echo", "still here"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "still here\n");
}
