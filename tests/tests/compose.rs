//! The docker-compose demo end to end (`docker-compose.yml` at the root): runs
//! `scripts/compose-test.sh`, which installs Docker's engine if missing, starts its own
//! dockerd in a network namespace of its own, builds the image from the debug binaries, runs
//! the demo, checks pod to pod, the cluster IP, the NodePort from the client, egress, the
//! dashboard, pod logs, a node killed and started again, and that `down -v` leaves nothing,
//! then tears everything down whether the checks passed or not. Its output is the test's.
//!
//! Needs root; without it the test says so loudly and passes, except under `CI=true`.
//! About 65 s warm, 85 s without the cached base image (debootstrap), plus installing the
//! Debian packages on a machine that lacks them.

use std::path::Path;
use std::process::Command;

/// The script bounds each of its waits; this only stops a run that hangs all the same
/// (SIGTERM: the script's teardown still runs).
const LIMIT: &str = "20m";

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0")))
        .unwrap_or(false)
}

#[test]
fn compose_demo_end_to_end() {
    if !is_root() {
        let msg = "not root: the compose demo test (dockerd, network namespaces) is SKIPPED";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg} (CI=true forbids skipping)");
        }
        eprintln!("WARNING: {msg}");
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root");
    let status = Command::new("timeout")
        .args(["--signal=TERM", "--kill-after=120", LIMIT])
        .arg(repo.join("scripts/compose-test.sh"))
        .current_dir(repo)
        .status()
        .expect("run scripts/compose-test.sh");
    assert!(status.success(), "scripts/compose-test.sh failed ({status}); its output above says which check");
}
