//! The real clients against a cluster made with `flatnet up`: kubectl 1.32 (`/usr/bin/kubectl`;
//! on Debian, the `kubernetes-client` package) and the official Python client (`kubernetes`
//! on PyPI), unmodified.
//!
//! Both reach the API through the kubeconfig `flatnet up` writes (`DATA/kubeconfig`: https,
//! the cluster's CA pinned, the admin token), as a user would after `export KUBECONFIG=...`:
//! kubectl with `--kubeconfig`, the Python client with `config.load_kube_config(path)`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::cluster::*;
use common::flatnet;

/// A cluster of one node and the kubeconfig `flatnet up` wrote for it.
struct Kube {
    /// Held for its `Drop`, which takes the cluster down.
    _cluster: TestCluster,
    kubeconfig: PathBuf,
}

fn have(bin: &str) -> bool {
    Command::new(bin).arg("--help").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

fn source_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
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
        let kubeconfig = cluster.data_dir().join("kubeconfig");
        assert!(kubeconfig.is_file(), "flatnet up wrote no {}", kubeconfig.display());
        assert!(up.stdout.contains(&format!("export KUBECONFIG={}", kubeconfig.display())), "{up:?}");
        Some(Kube { _cluster: cluster, kubeconfig })
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

    // nodeSelector: no node carries disk=ssd, so the pod waits unscheduled, with the reason in
    // its PodScheduled condition; labelling the node schedules it there.
    let picky = web_pod()
        .replace("name: web\n  labels: {app: web}", "name: picky\n  labels: {app: picky}")
        .replace("spec:\n", "spec:\n  nodeSelector: {disk: ssd}\n");
    k.ok_in(&["create", "-f", "-"], &picky);
    k.ok(&["wait", "--for=condition=PodScheduled=false", "pod/picky", "--timeout=30s"]);
    let unscheduled = k.ok(&["get", "pod", "picky", "-o", "json"]);
    let unscheduled: serde_json::Value = serde_json::from_str(&unscheduled).unwrap();
    assert_eq!(unscheduled["status"]["phase"], "Pending", "{unscheduled}");
    assert!(unscheduled["spec"].get("nodeName").is_none(), "{unscheduled}");
    let condition = &unscheduled["status"]["conditions"][0];
    assert_eq!((&condition["type"], &condition["reason"]), (&"PodScheduled".into(), &"Unschedulable".into()));
    assert!(condition["message"].as_str().unwrap().contains("disk=ssd"), "{condition}");
    let described = k.ok(&["describe", "pod", "picky"]);
    assert!(described.contains("FailedScheduling") && described.contains("disk=ssd"), "{described}");
    assert!(k.ok(&["label", "node", "node-1", "disk=ssd"]).contains("node/node-1 labeled"));
    k.ok(&["wait", "--for=condition=Ready", "pod/picky", "--timeout=60s"]);
    assert_eq!(k.ok(&["get", "pod", "picky", "-o", "jsonpath={.spec.nodeName}"]), "node-1");
    k.ok(&["delete", "pod", "picky"]);

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

    // The README's tour: several kinds at once, node leases.
    let both = k.ok(&["get", "svc,endpoints", "web"]);
    assert!(both.contains("service/web") && both.contains("endpoints/web"), "{both}");
    assert_eq!(lines_with(&k.ok(&["get", "nodeleases"]), "node-1").len(), 1);
    let leases = k.ok(&["get", "leases", "-n", "kube-node-lease"]);
    let row: Vec<&str> = lines_with(&leases, "node-1")[0].split_whitespace().collect();
    assert_eq!(row[..2], ["node-1", "node-1"], "NAME HOLDER AGE: {leases}");

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

    // get -w sees a change: once it has shown the pod as it is, a label makes a MODIFIED line.
    let mut watch = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&k.kubeconfig)
        .args(["get", "pods", "-w", "--output-watch-events"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    // A bound on a hang, not on speed.
    let next_line = || lines.recv_timeout(Duration::from_secs(60));
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.split_whitespace().nth(1) == Some("web")) {
        seen.push(next_line().unwrap_or_else(|e| panic!("kubectl get -w never showed web ({e}): {seen:?}")));
    }
    k.ok(&["label", "pod", "web", "watched=yes"]);
    while !seen.iter().any(|l| l.starts_with("MODIFIED") && l.split_whitespace().nth(1) == Some("web")) {
        seen.push(next_line().unwrap_or_else(|e| panic!("kubectl get -w saw no MODIFIED web ({e}): {seen:?}")));
    }
    let _ = watch.kill();
    let _ = watch.wait();

    // --dry-run=server changes nothing: a delete, a create, and an apply with a changed port.
    assert!(k.ok_in(&["apply", "--dry-run=server", "-f", "-"], &web_service(82)).stdout.contains("server dry run"));
    assert!(lines_with(&k.ok(&["get", "svc", "web"]), "web")[0].contains(" 81/TCP "));
    assert!(k.ok(&["delete", "pod", "web", "--dry-run=server"]).contains("server dry run"));
    k.ok(&["get", "pod", "web"]);
    let other = web_pod().replace("name: web\n", "name: dry\n");
    k.ok_in(&["create", "--dry-run=server", "-f", "-"], &other);
    assert!(k.kubectl(&["get", "pod", "dry"]).stderr.contains("NotFound"));

    // explain, and an invalid manifest rejected with the server's message.
    let explained = k.ok(&["explain", "pod.spec"]);
    assert!(
        explained.contains("containers") && explained.contains("nodeName") && explained.contains("nodeSelector"),
        "{explained}"
    );
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
        .arg(&k.kubeconfig)
        .arg(flatnet())
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("python client: all passed"), "{text}");
}
