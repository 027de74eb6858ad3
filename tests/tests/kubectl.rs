//! The real clients against a cluster made with `flatnet up`: kubectl 1.32 (`/usr/bin/kubectl`;
//! on Debian, the `kubernetes-client` package) and the official Python client (`kubernetes`
//! on PyPI), unmodified.
//!
//! kubectl reaches the API through a kubeconfig: the one `flatnet up` writes
//! (`DATA/kubeconfig`) when there is one. Until the API server serves HTTPS, there is none,
//! and kubectl never sends a token to an `http://` server: kubectl then goes through
//! `tests/kube/token_proxy.py`, a loopback proxy that adds the admin token.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::cluster::*;
use common::{flatnet, free_tcp_port};

/// A cluster of one node with kubectl's way in.
struct Kube {
    cluster: TestCluster,
    kubeconfig: PathBuf,
    proxy: Option<Child>,
}

impl Drop for Kube {
    fn drop(&mut self) {
        if let Some(mut p) = self.proxy.take() {
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

fn have(bin: &str) -> bool {
    Command::new(bin).arg("--help").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

fn source_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn kubeconfig(path: &Path, server: &str, token: Option<&str>) {
    let user = token.map_or_else(|| "{}".to_string(), |t| format!("{{token: \"{t}\"}}"));
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: flatnet\n  cluster: {{server: \"{server}\"}}\n\
         users:\n- name: admin\n  user: {user}\ncontexts:\n- name: flatnet\n  context: {{cluster: flatnet, user: admin, namespace: default}}\n\
         current-context: flatnet\n"
    );
    std::fs::write(path, text).unwrap();
}

impl Kube {
    fn up() -> Option<Kube> {
        if !privileged() {
            return None;
        }
        if !have("kubectl") {
            common::skip("kubectl not installed (Debian: apt-get install kubernetes-client): kubectl tests SKIPPED");
            return None;
        }
        let cluster = TestCluster::new();
        let up = cluster.up(1);
        assert_eq!(up.code, Some(0), "{up:?}");
        let written = cluster.data_dir().join("kubeconfig");
        if written.is_file() {
            return Some(Kube { kubeconfig: written, cluster, proxy: None });
        }
        let token = cluster.data_dir().join("apiserver/admin.token");
        let port = free_tcp_port();
        let proxy = Command::new("python3")
            .arg(source_dir().join("kube/token_proxy.py"))
            .args([port.port().to_string(), cluster.listen.port().to_string()])
            .arg(&token)
            .stdout(Stdio::null())
            .spawn()
            .expect("start tests/kube/token_proxy.py");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(port).is_err() {
            assert!(Instant::now() < deadline, "the token proxy never listened on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let path = cluster.data_dir().join("kubeconfig-test");
        kubeconfig(&path, &format!("http://{port}"), None);
        Some(Kube { cluster, kubeconfig: path, proxy: Some(proxy) })
    }

    /// A kubeconfig for clients that do send a token over plain HTTP (the Python client).
    fn direct_kubeconfig(&self) -> PathBuf {
        if self.proxy.is_none() {
            return self.kubeconfig.clone();
        }
        let token = std::fs::read_to_string(self.cluster.data_dir().join("apiserver/admin.token")).unwrap();
        let path = self.cluster.data_dir().join("kubeconfig-direct");
        kubeconfig(&path, &format!("http://{}", self.cluster.listen), Some(token.trim()));
        path
    }

    fn kubectl_in(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut child = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        drop(input);
        let out = child.wait_with_output().unwrap();
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn kubectl(&self, args: &[&str]) -> Run {
        self.kubectl_in(args, None)
    }

    /// kubectl ARGS must succeed; answers its stdout.
    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let run = self.kubectl(args);
        assert_eq!(run.code, Some(0), "kubectl {args:?}: {run:?}");
        run.stdout
    }

    #[track_caller]
    fn ok_in(&self, args: &[&str], stdin: &str) -> Run {
        let run = self.kubectl_in(args, Some(stdin));
        assert_eq!(run.code, Some(0), "kubectl {args:?}: {run:?}");
        run
    }
}

/// A pod running `flatnet netexec`, with the fields a Kubernetes manifest typically has and
/// flatnet does not use.
fn web_pod() -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {{app: web}}
spec:
  dnsPolicy: ClusterFirst
  terminationGracePeriodSeconds: 5
  restartPolicy: Always
  containers:
  - name: web
    image: flatnet
    imagePullPolicy: IfNotPresent
    resources: {{limits: {{cpu: 100m, memory: 64Mi}}}}
    command: [{flatnet}, netexec]
    ports: [{{containerPort: 8080, name: http}}]
"#,
        flatnet = flatnet()
    )
}

fn web_service(port: u16) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {{app: web}}\n  ports:\n  - port: {port}\n    targetPort: http\n"
    )
}

fn lines_with<'a>(text: &'a str, word: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.split_whitespace().next() == Some(word)).collect()
}

#[test]
fn kubectl_gets_creates_applies_patches_watches_and_deletes() {
    let Some(k) = Kube::up() else { return };

    // Discovery and tables.
    let nodes = k.ok(&["get", "nodes"]);
    assert!(nodes.starts_with("NAME") && nodes.contains("STATUS"), "{nodes}");
    assert!(lines_with(&nodes, "node-1")[0].contains(" Ready "), "{nodes}");
    assert!(k.ok(&["version"]).contains("Server Version: v1.32"));
    assert!(k.ok(&["api-resources"]).lines().any(|l| l.starts_with("pods ") && l.contains(" po ")));

    // A manifest with typical extra fields, validated (no --validate=false): created, with
    // warnings for what flatnet drops.
    let created = k.ok_in(&["create", "-f", "-"], &web_pod());
    assert!(created.stdout.contains("pod/web created"), "{created:?}");
    assert!(created.stderr.contains("imagePullPolicy"), "{created:?}");
    k.ok(&["wait", "--for=condition=Ready", "pod/web", "--timeout=60s"]);

    let pods = k.ok(&["get", "pods"]);
    let header: Vec<&str> = pods.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], "{pods}");
    let row: Vec<&str> = lines_with(&pods, "web")[0].split_whitespace().collect();
    assert_eq!(&row[..4], ["web", "1/1", "Running", "0"], "{pods}");
    let wide = k.ok(&["get", "pods", "-o", "wide"]);
    let row: Vec<&str> = lines_with(&wide, "web")[0].split_whitespace().collect();
    assert!(row[5].starts_with("10.") && row[6] == "node-1", "{wide}");
    let json: serde_json::Value = serde_json::from_str(&k.ok(&["get", "pod", "web", "-o", "json"])).unwrap();
    assert_eq!(json["kind"], "Pod");
    assert!(k.ok(&["get", "pods", "-o", "yaml"]).contains("kind: List"));
    assert!(k.ok(&["get", "pods", "-A"]).lines().next().unwrap().starts_with("NAMESPACE"));
    assert_eq!(lines_with(&k.ok(&["get", "pods", "-l", "app=web"]), "web").len(), 1);
    let none = k.kubectl(&["get", "pods", "-l", "app=nope"]);
    assert!(none.stderr.contains("No resources found"), "{none:?}");
    let by_field = k.ok(&["get", "pods", "--field-selector", "status.phase=Running,metadata.name=web"]);
    assert_eq!(lines_with(&by_field, "web").len(), 1, "{by_field}");

    // describe shows the pod's events (a field selector on involvedObject); logs.
    let described = k.ok(&["describe", "pod", "web"]);
    assert!(described.contains("Events:") && described.contains("Started"), "{described}");
    assert!(k.ok(&["logs", "web"]).contains("flatnet netexec"));
    assert!(k.ok(&["get", "events"]).contains("pod/web"));

    // Client-side apply twice (the second changes nothing), then with a changed port.
    assert!(k.ok_in(&["apply", "-f", "-"], &web_service(80)).stdout.contains("service/web created"));
    let again = k.ok_in(&["apply", "-f", "-"], &web_service(80));
    assert!(again.stdout.contains("service/web unchanged"), "{again:?}");
    assert!(k.ok_in(&["apply", "-f", "-"], &web_service(81)).stdout.contains("service/web configured"));
    let svc = k.ok(&["get", "svc", "web"]);
    let header: Vec<&str> = svc.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], "{svc}");
    assert!(lines_with(&svc, "web")[0].contains(" 81/TCP "), "{svc}");
    let eps = k.ok(&["get", "endpoints", "web"]);
    assert!(lines_with(&eps, "web")[0].contains(":8080"), "{eps}");

    // Server-side apply: creates, then changes.
    let ssa =
        "apiVersion: v1\nkind: Service\nmetadata: {name: ssa}\nspec:\n  selector: {app: web}\n  ports: [{port: 90}]\n";
    assert!(k.ok_in(&["apply", "--server-side", "-f", "-"], ssa).stdout.contains("service/ssa serverside-applied"));
    let ssa2 = ssa.replace("metadata: {name: ssa}", "metadata: {name: ssa, labels: {v: \"2\"}}");
    k.ok_in(&["apply", "--server-side", "-f", "-"], &ssa2);
    assert!(k.ok(&["get", "svc", "ssa", "--show-labels"]).contains("v=2"));
    let managed = k.ok(&["get", "svc", "ssa", "-o", "yaml", "--show-managed-fields"]);
    assert!(managed.contains("manager: kubectl") && managed.contains("operation: Apply"), "{managed}");

    // label, annotate, patch (merge and json), replace.
    assert!(k.ok(&["label", "pod", "web", "tier=front"]).contains("pod/web labeled"));
    assert!(k.ok(&["annotate", "pod", "web", "note=hello"]).contains("pod/web annotated"));
    k.ok(&["patch", "pod", "web", "--type=merge", "-p", r#"{"metadata":{"labels":{"x":"1"}}}"#]);
    k.ok(&["patch", "pod", "web", "--type=json", "-p", r#"[{"op":"remove","path":"/metadata/labels/x"}]"#]);
    let labels = k.ok(&["get", "pod", "web", "-o", "jsonpath={.metadata.labels}"]);
    assert!(labels.contains("tier") && !labels.contains("\"x\""), "{labels}");
    let current = k.ok(&["get", "svc", "ssa", "-o", "yaml"]);
    let replaced = current.replace("v: \"2\"", "v: \"3\"");
    assert!(k.ok_in(&["replace", "-f", "-"], &replaced).stdout.contains("service/ssa replaced"));

    // get -w sees a change.
    let mut watch = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&k.kubeconfig)
        .args(["get", "pods", "-w", "--output-watch-events"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    k.ok(&["label", "pod", "web", "watched=yes"]);
    std::thread::sleep(Duration::from_secs(2));
    let _ = watch.kill();
    let seen = String::from_utf8_lossy(&watch.wait_with_output().unwrap().stdout).into_owned();
    assert!(seen.lines().any(|l| l.starts_with("MODIFIED") && l.contains("web")), "{seen}");

    // --dry-run=server changes nothing.
    assert!(k.ok(&["delete", "pod", "web", "--dry-run=server"]).contains("server dry run"));
    k.ok(&["get", "pod", "web"]);
    let other = web_pod().replace("name: web\n", "name: dry\n");
    k.ok_in(&["create", "--dry-run=server", "-f", "-"], &other);
    assert!(k.kubectl(&["get", "pod", "dry"]).stderr.contains("NotFound"));

    // explain, and an invalid manifest rejected with the server's message.
    let explained = k.ok(&["explain", "pod.spec"]);
    assert!(explained.contains("containers") && explained.contains("nodeName"), "{explained}");
    let invalid = k.kubectl_in(&["apply", "-f", "-"], Some(&web_pod().replace("name: web\n", "name: Bad_Name\n")));
    assert_ne!(invalid.code, Some(0));
    assert!(invalid.stderr.contains("DNS-1123"), "{invalid:?}");
    let typo = k.kubectl_in(&["apply", "-f", "-"], Some(&web_pod().replace("imagePullPolicy", "imagePullPolcy")));
    assert!(typo.stderr.contains("imagePullPolcy"), "{typo:?}");

    assert!(k.ok(&["delete", "pod", "web"]).contains("pod \"web\" deleted"));
    assert!(k.kubectl(&["get", "pod", "web"]).stderr.contains("NotFound"));
}

#[test]
fn the_official_python_client_works_unmodified() {
    let Some(k) = Kube::up() else { return };
    let have_client = Command::new("python3")
        .args(["-c", "import kubernetes"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have_client {
        common::skip("the kubernetes Python package is missing (scripts/deps.sh installs it): SKIPPED");
        return;
    }
    let out = Command::new("python3")
        .arg(source_dir().join("kube/python_client.py"))
        .arg(flatnet())
        .env("KUBECONFIG", k.direct_kubeconfig())
        .output()
        .unwrap();
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("python client: all passed"), "{text}");
}
