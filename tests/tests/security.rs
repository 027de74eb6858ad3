//! Transport and auth of a real `flatnet up`: HTTPS with the cluster's CA pinned, a token on
//! every request but health, and the kubeconfig `up` writes, used by the real kubectl.

mod common;

use std::process::Command;

use common::cluster::*;

fn up_one() -> TestCluster {
    let cluster = TestCluster::new();
    let up = cluster.up(1);
    assert_eq!(up.code, Some(0), "{up:?}");
    cluster
}

/// A raw HTTPS request with the CA pinned and the given `Authorization` header (if any);
/// answers the status code.
fn status_of(cluster: &TestCluster, method: &str, path: &str, authorization: Option<&str>) -> u16 {
    use std::io::{Read, Write};
    let mut stream = tls_connect(cluster.listen, &cluster.data_dir().join("apiserver/ca.crt")).unwrap();
    let auth = authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {}\r\n{auth}Content-Type: application/json\r\nContent-Length: 2\r\n\
         Connection: close\r\n\r\n{{}}",
        cluster.listen
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    answer.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("no status: {answer}"))
}

#[test]
fn the_api_answers_only_https_with_its_ca_and_only_with_a_token() {
    if !privileged() {
        return;
    }
    let cluster = up_one();
    let api = cluster.data_dir().join("apiserver");
    use std::os::unix::fs::PermissionsExt;
    for secret in ["ca.key", "admin.token", "viewer.token"] {
        let mode = std::fs::metadata(api.join(secret)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{secret}");
    }
    let admin = std::fs::read_to_string(api.join("admin.token")).unwrap().trim().to_string();
    let viewer = std::fs::read_to_string(api.join("viewer.token")).unwrap().trim().to_string();

    for path in ["/healthz", "/livez", "/readyz"] {
        assert_eq!(status_of(&cluster, "GET", path, None), 200, "{path}");
    }
    for path in ["/api/v1/nodes", "/api/v1/pods", "/metrics", "/openapi.json", "/api/v1/namespaces/default/pods/x"] {
        assert_eq!(status_of(&cluster, "GET", path, None), 401, "{path}");
        assert_eq!(status_of(&cluster, "GET", path, Some("Bearer nope")), 401, "{path}");
    }
    assert_eq!(status_of(&cluster, "GET", "/api/v1/nodes", Some(&format!("bearer {viewer}"))), 200);
    assert_eq!(status_of(&cluster, "GET", "/api/v1/nodes", Some(&format!("BEARER {admin}"))), 200);
    let pods = "/api/v1/namespaces/default/pods";
    assert_eq!(status_of(&cluster, "POST", pods, None), 401);
    assert_eq!(status_of(&cluster, "POST", pods, Some(&format!("Bearer {viewer}"))), 403);
    // The admin gets as far as reading the (empty) pod.
    assert_eq!(status_of(&cluster, "POST", pods, Some(&format!("Bearer {admin}"))), 400);

    // Another cluster's CA (a fresh one) does not verify this server.
    let other = tempfile::tempdir().unwrap();
    let other_ca = make_other_ca(other.path());
    let Err(err) = tls_connect(cluster.listen, &other_ca) else { panic!("the handshake succeeded with a wrong CA") };
    assert!(err.to_string().to_lowercase().contains("certificate"), "{err}");
}

/// A CA that is not the cluster's: the one an API server makes in an empty data directory.
fn make_other_ca(dir: &std::path::Path) -> std::path::PathBuf {
    let mut server = Command::new(common::binary("apiserver"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ca = dir.join("ca.crt");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !ca.exists() {
        assert!(std::time::Instant::now() < deadline, "no ca.crt in {}", dir.display());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = server.kill();
    let _ = server.wait();
    ca
}

#[test]
fn kubectl_reaches_the_cluster_through_the_kubeconfig_up_wrote() {
    if !privileged() {
        return;
    }
    let Some(kubectl) =
        ["/usr/bin/kubectl", "/usr/local/bin/kubectl"].into_iter().find(|p| std::path::Path::new(p).exists())
    else {
        common::skip("kubectl is not installed: kubeconfig test SKIPPED");
        return;
    };
    let cluster = up_one();
    let kubeconfig = cluster.data_dir().join("kubeconfig");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&kubeconfig).unwrap().permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(text.contains(&format!("server: https://{}", cluster.listen)), "{text}");
    assert!(text.contains("certificate-authority-data: "), "{text}");

    let run = |args: &[&str]| {
        let out = Command::new(kubectl)
            .env("KUBECONFIG", &kubeconfig)
            .env("HOME", cluster.data_dir())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = run(&["config", "current-context"]);
    assert!(ok, "{err}");
    assert!(out.trim().starts_with("flatnet"), "{out}");
    // kubectl verifies the server with the CA and sends the admin token.
    let (ok, out, err) = run(&["get", "--raw", "/api/v1/nodes"]);
    assert!(ok, "{err}");
    let nodes: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(nodes["items"].as_array().unwrap().len(), 1, "{out}");
    let (ok, out, err) = run(&["get", "--raw", "/healthz"]);
    assert!(ok && out.trim() == "ok", "{out} {err}");
    // With a wrong token, the server refuses it (kubectl's words for a 401).
    let (ok, _, err) = run(&["get", "--raw", "/api/v1/nodes", "--token", "wrong"]);
    assert!(!ok && err.contains("must be logged in"), "{err}");
}
