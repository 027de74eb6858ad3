//! The real `apiserver` binary's listeners: HTTPS on `--listen` with the CA it made, and the
//! optional plain-HTTP listener, loopback only, where tokens are required just the same.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use openapi::client::{Client, ListParams};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start the binary with `args`; answers it and the URLs it printed (HTTPS first).
fn start(dir: &std::path::Path, args: &[&str]) -> (Server, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_apiserver"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start apiserver");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let wanted = if args.contains(&"--plain-http-listen") { 2 } else { 1 };
    let mut urls = Vec::new();
    while urls.len() < wanted {
        let line = lines.next().expect("apiserver exited before listening").unwrap();
        if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http")) {
            urls.push(url.to_string());
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (Server(child), urls)
}

#[tokio::test]
async fn https_by_default_and_plain_http_only_on_loopback_with_tokens_all_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, urls) = start(dir.path(), &["--listen", "127.0.0.1:0", "--plain-http-listen", "127.0.0.1:0"]);
    let [https, http] = &urls[..] else { panic!("two URLs: {urls:?}") };
    assert!(https.starts_with("https://127.0.0.1:") && http.starts_with("http://127.0.0.1:"), "{urls:?}");
    let admin = std::fs::read_to_string(dir.path().join("admin.token")).unwrap().trim().to_string();
    let ca = std::fs::read(dir.path().join("ca.crt")).unwrap();

    let secure = Client::with_ca(https, Some(admin.clone()), &ca).unwrap();
    secure.nodes().list(&ListParams::default()).await.unwrap();
    let plain = Client::new(http, Some(admin)).unwrap();
    plain.nodes().list(&ListParams::default()).await.unwrap();
    let anonymous = Client::new(http, None).unwrap();
    assert_eq!(anonymous.nodes().list(&ListParams::default()).await.unwrap_err().code(), Some(401));
    let health = reqwest::get(format!("{http}/healthz")).await.unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");

    // Not on another address: tokens would cross the network in clear.
    let out = Command::new(env!("CARGO_BIN_EXE_apiserver"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0", "--plain-http-listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("loopback"), "{err}");
}
