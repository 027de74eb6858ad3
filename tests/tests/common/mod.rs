//! The harness of the end-to-end tests: the workspace's binaries under test (`flatnet`,
//! `apiserver`, `nodeagent`), found in the target directory these tests were built into;
//! ([`cluster`]) clusters made with `flatnet up`; ([`workload`]) netexec pods in them;
//! ([`webdriver`]) a browser for the dashboard's test.
//!
//! Cargo builds a package's own binaries for its integration tests, not another package's:
//! build them first (`cargo build --workspace --bins`, as `scripts/test.sh` does), or these
//! tests would run whatever older binaries the target directory holds.
#![allow(dead_code)]

pub mod cluster;
pub mod webdriver;
pub mod workload;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A test that cannot run here says so loudly and passes, except under CI (`CI=true`),
/// where it fails.
pub fn skip(msg: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg} (CI=true forbids skipping)");
    }
    eprintln!("WARNING: {msg}");
}

/// The path of the workspace binary `name`: in the profile directory (`target/debug`) that
/// holds this test's executable (`target/debug/deps/TEST-HASH`). Panics, saying how to build
/// it, when it was not built.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the path of this test's executable");
    find_binary(&exe, name).unwrap_or_else(|| {
        panic!("the {name} binary was not found beside {}: run `cargo build --workspace --bins` first", exe.display())
    })
}

/// `name` in the nearest directory above `exe` that holds it.
fn find_binary(exe: &Path, name: &str) -> Option<PathBuf> {
    exe.ancestors().skip(1).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

/// The `flatnet` binary, as text for commands and for pod specs.
pub fn flatnet() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| binary("flatnet").to_string_lossy().into_owned())
}

/// A loopback address whose TCP port was free a moment ago (nothing listens there).
pub fn free_tcp_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}
