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

/// A write refused before its body is read (401: the token is checked first) leaves the
/// HTTP/1.1 connection usable for the next request, even when the body arrives after the
/// head, as from a client that writes them separately. Before, the server closed such a
/// connection after its answer without saying so, and a client reusing it (Python's httpx)
/// got "Server disconnected without sending a response". A body over the size limit is not
/// read: the answer says `Connection: close`.
#[test]
fn a_refused_write_leaves_the_connection_usable_for_the_next_request() {
    use std::io::{Read, Write};
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let (_server, urls) = start(
        dir.path(),
        &["--listen", "127.0.0.1:0", "--plain-http-listen", "127.0.0.1:0", "--max-body-bytes", "65536"],
    );
    let addr = urls[1].trim_start_matches("http://").to_string();

    /// Read one answer (head and Content-Length body) from `conn`: its head.
    fn answer(conn: &mut std::net::TcpStream) -> String {
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"\r\n\r\n") {
            let n = conn.read(&mut byte).expect("read the answer");
            assert_eq!(n, 1, "the server closed the connection; read so far: {:?}", String::from_utf8_lossy(&got));
            got.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&got).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        conn.read_exact(&mut body).unwrap();
        head
    }

    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = format!("{{\"metadata\":{{\"name\":\"p\",\"annotations\":{{\"x\":\"{}\"}}}}}}", "y".repeat(20_000));
    let head = format!(
        "POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    for _ in 0..3 {
        conn.write_all(head.as_bytes()).unwrap();
        // The body comes after the server has answered the head.
        std::thread::sleep(Duration::from_millis(200));
        conn.write_all(body.as_bytes()).unwrap();
        let refused = answer(&mut conn);
        assert!(refused.starts_with("http/1.1 401"), "{refused}");
        assert!(!refused.contains("connection: close"), "{refused}");
    }
    conn.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).unwrap();
    assert!(answer(&mut conn).starts_with("http/1.1 200"));

    // Over the limit: not read, and the answer says the connection closes.
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let big = "z".repeat(100_000);
    let head = format!(
        "POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        big.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    let _ = conn.write_all(big.as_bytes());
    let refused = answer(&mut conn);
    assert!(refused.starts_with("http/1.1 401") && refused.contains("connection: close"), "{refused}");
}
