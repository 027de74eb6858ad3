//! The generated API clients (clients/python, clients/typescript) against a real `apiserver`
//! on a loopback port with a data directory of its own, and the check that the committed
//! clients are what the committed OpenAPI document generates. Also schemathesis, which
//! fuzzes the live server from the document (`clients/schemathesis/run.sh`).
//!
//! The tools come from `scripts/deps.sh` (pinned): without them a test says so loudly and
//! passes, except under CI (`CI=true`), where it fails. Cargo does not build another
//! package's binaries for these tests: build `apiserver` first (`cargo build --workspace
//! --bins`, as `scripts/test.sh` does).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn skip(msg: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg} (CI=true forbids skipping)");
    }
    eprintln!("WARNING: {msg}");
}

/// `target/debug/apiserver` beside this test's executable (`target/debug/deps/clients-…`).
fn apiserver_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join("apiserver");
    assert!(path.exists(), "{} not found: run `cargo build -p flatnet-apiserver` first", path.display());
    path
}

fn have(program: &str, args: &[&str]) -> bool {
    Command::new(program).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// A live API server (HTTPS, with the CA it made in its data directory); killed on drop.
struct Server {
    child: Child,
    url: String,
    token: String,
    /// The cluster's CA certificate, `DATA_DIR/ca.crt`, which the clients trust.
    ca: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(apiserver_binary())
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start apiserver");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("flatnet apiserver listening on ").map(str::to_string))
            .expect("apiserver printed its address");
        // Keep reading stdout so the server never blocks on it.
        std::thread::spawn(move || lines.for_each(drop));
        let token = std::fs::read_to_string(dir.path().join("data/admin.token")).unwrap().trim().to_string();
        let ca = dir.path().join("data/ca.crt");
        assert!(url.starts_with("https://") && ca.exists(), "an HTTPS server with its CA: {url}, {}", ca.display());
        Server { child, url, token, ca, _dir: dir }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(what: &str, cmd: &mut Command) {
    let started = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    eprintln!("{what}: {:?}", started.elapsed());
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn committed_clients_match_the_committed_spec() {
    let ts = root().join("clients/typescript/node_modules/@hey-api/openapi-ts");
    if !have("openapi-python-client", &["--version"]) || !ts.exists() {
        return skip("openapi-python-client or clients/typescript/node_modules missing (run scripts/deps.sh): client drift NOT checked");
    }
    run("scripts/gen-clients.sh --check", Command::new(root().join("scripts/gen-clients.sh")).arg("--check"));
}

#[test]
fn python_client_against_a_live_server() {
    if !have("python3", &["-c", "import httpx, attrs"]) {
        return skip("python3 with httpx and attrs missing (run scripts/deps.sh): Python client NOT tested");
    }
    let server = Server::start();
    // Installed as users install it, into a directory of this test's own (from a copy, so
    // that the build leaves nothing in the source tree).
    let site = tempfile::tempdir().unwrap();
    let source = tempfile::tempdir().unwrap();
    run("copy clients/python", Command::new("cp").arg("-r").arg(root().join("clients/python")).arg(source.path()));
    run(
        "pip install clients/python",
        Command::new("python3")
            .args(["-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target"])
            .arg(site.path())
            .arg(source.path().join("python"))
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
    );
    run(
        "python3 -m unittest (clients/python/tests)",
        Command::new("python3")
            .args(["-m", "unittest", "discover", "-v", "-s"])
            .arg(root().join("clients/python/tests"))
            .current_dir(site.path())
            .env("PYTHONPATH", site.path())
            .env("FLATNET_URL", &server.url)
            .env("FLATNET_TOKEN", &server.token)
            .env("FLATNET_CA", &server.ca),
    );
}

#[test]
fn typescript_client_against_a_live_server() {
    let dir = root().join("clients/typescript");
    if !have("node", &["--version"]) || !dir.join("node_modules/typescript").exists() {
        return skip(
            "node or clients/typescript/node_modules missing (run scripts/deps.sh): TypeScript client NOT tested",
        );
    }
    let server = Server::start();
    run("tsc", Command::new("node").args(["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"]).current_dir(&dir));
    run(
        "node --test (clients/typescript/test)",
        Command::new("node")
            .args(["--test", "dist/test/"])
            .current_dir(&dir)
            .env("FLATNET_URL", &server.url)
            .env("FLATNET_TOKEN", &server.token)
            // Node's fetch trusts the CAs it is given at startup besides its own.
            .env("NODE_EXTRA_CA_CERTS", &server.ca),
    );
}

#[test]
fn schemathesis_finds_nothing() {
    if !have("schemathesis", &["--version"]) {
        return skip("schemathesis missing (run scripts/deps.sh): the API was NOT fuzzed");
    }
    run(
        "clients/schemathesis/run.sh",
        Command::new(root().join("clients/schemathesis/run.sh")).arg(apiserver_binary()),
    );
}
