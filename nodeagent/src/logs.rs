//! The agent's HTTP endpoint, for the API server: the logs the shim writes for each
//! container (`DATA/pods/<uid>/<container>.log`), at
//! `GET /pods/{uid}/containers/{container}/log?tailLines=N&limitBytes=N`, like the kubelet's
//! `containerLogs`. The agent publishes where it listens in its Node status
//! (`daemonEndpoints.agentEndpoint`); the API server's `pods/{name}/log` proxies here.
//!
//! Only the API server may read: it proves itself with the SHA-256 of this node's token,
//! which it holds (it stores tokens only as hashes) and which is worth nothing against the
//! API itself. The same endpoint serves `exec` ([`crate::exec`]). By default the endpoint
//! listens on loopback (the local cluster runs every agent and the API server in the root
//! namespace); a node elsewhere listens on its address.

use std::io::{Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use openapi::DaemonEndpoint;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::containers::PodDir;

/// The most one read answers: the log's last 4 MiB.
pub const MAX_BYTES: u64 = 4 << 20;

struct LogState {
    /// `Bearer <hex SHA-256 of the node token>`.
    expected: String,
    data_dir: PathBuf,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogQuery {
    tail_lines: Option<u64>,
    limit_bytes: Option<u64>,
}

/// Listen on `listen` and serve in the background; answers the endpoint to publish (the
/// node's address when listening on all addresses).
pub async fn start(
    listen: SocketAddr,
    node_ip: Ipv4Addr,
    token: &str,
    data_dir: PathBuf,
) -> anyhow::Result<DaemonEndpoint> {
    let listener =
        tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listen on {listen} for pod logs"))?;
    let local = listener.local_addr()?;
    let address = if local.ip().is_unspecified() { node_ip.to_string() } else { local.ip().to_string() };
    let hash: String = Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let expected = format!("Bearer {hash}");
    let exec = crate::exec::router(expected.clone(), data_dir.clone());
    let state = Arc::new(LogState { expected, data_dir });
    let app = Router::new()
        .route("/pods/{uid}/containers/{container}/log", get(read_log))
        .with_state(state)
        .merge(exec)
        // The agent's metrics (no token: timings and counts only, as kube-proxy serves them).
        .route("/metrics", get(|| async { crate::metrics::render() }));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the pod log endpoint stopped");
        }
    });
    tracing::info!(%local, "serving pod logs to the API server");
    Ok(DaemonEndpoint { address: Some(address), port: local.port() })
}

/// Equal, in time independent of where they differ.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A path segment we made ourselves: a pod uid or a container name, nothing that walks.
pub(crate) fn safe_segment(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

async fn read_log(
    State(st): State<Arc<LogState>>,
    Path((uid, container)): Path<(String, String)>,
    Query(q): Query<LogQuery>,
    headers: HeaderMap,
) -> Response {
    let auth = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()).unwrap_or_default();
    if !same(auth, st.expected.as_bytes()) {
        return (StatusCode::UNAUTHORIZED, "unauthorized\n").into_response();
    }
    if !safe_segment(&uid) || !safe_segment(&container) {
        return (StatusCode::BAD_REQUEST, "bad pod uid or container name\n").into_response();
    }
    let path = PodDir::new(&st.data_dir, &uid).log(&container);
    let limit = q.limit_bytes.unwrap_or(MAX_BYTES).min(MAX_BYTES);
    let tail_lines = q.tail_lines;
    let read = tokio::task::spawn_blocking(move || read_tail(&path, limit, tail_lines)).await;
    match read {
        Ok(Ok(bytes)) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], bytes).into_response(),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            (StatusCode::NOT_FOUND, "no log for this container (yet)\n").into_response()
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, %uid, %container, "reading a container log failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "reading the log failed\n").into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "the log reader panicked");
            (StatusCode::INTERNAL_SERVER_ERROR, "reading the log failed\n").into_response()
        }
    }
}

/// The end of a log file: at most `limit` bytes, then at most `tail_lines` lines.
fn read_tail(path: &std::path::Path, limit: u64, tail_lines: Option<u64>) -> std::io::Result<Vec<u8>> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(limit);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::with_capacity((len - start) as usize);
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(tail(&bytes, start > 0, tail_lines).to_vec())
}

/// The last `lines` lines of `bytes` (a final line without newline counts); when `cut` (the
/// read began mid-file), the first, partial line is dropped.
fn tail(bytes: &[u8], cut: bool, lines: Option<u64>) -> &[u8] {
    let mut out = bytes;
    if cut {
        out = match out.iter().position(|&b| b == b'\n') {
            Some(i) => &out[i + 1..],
            None => &[],
        };
    }
    let Some(n) = lines else { return out };
    if n == 0 {
        return &[];
    }
    // Skip the final newline, then find the n-th newline from the end.
    let body = out.strip_suffix(b"\n").unwrap_or(out);
    let mut seen = 0;
    for (i, &b) in body.iter().enumerate().rev() {
        if b == b'\n' {
            seen += 1;
            if seen == n {
                return &out[i + 1..];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_takes_the_last_lines() {
        let log = b"one\ntwo\nthree\n";
        assert_eq!(tail(log, false, None), log);
        assert_eq!(tail(log, false, Some(1)), b"three\n");
        assert_eq!(tail(log, false, Some(2)), b"two\nthree\n");
        assert_eq!(tail(log, false, Some(9)), log);
        assert_eq!(tail(log, false, Some(0)), b"");
        assert_eq!(tail(b"one\ntwo", false, Some(1)), b"two");
        // A read that began mid-file drops the partial first line.
        assert_eq!(tail(b"ne\ntwo\n", true, None), b"two\n");
        assert_eq!(tail(b"no newline", true, None), b"");
    }

    #[test]
    fn reads_at_most_the_limit_from_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        std::fs::write(&path, b"aaaa\nbbbb\ncccc\n").unwrap();
        assert_eq!(read_tail(&path, 7, None).unwrap(), b"cccc\n");
        assert_eq!(read_tail(&path, 1 << 20, Some(2)).unwrap(), b"bbbb\ncccc\n");
        assert_eq!(read_tail(&dir.path().join("none.log"), 10, None).unwrap_err().kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn only_plain_segments_and_the_exact_key() {
        assert!(safe_segment("0b7c1a2e-5f4d-4c3b-9a8e-123456789abc"));
        assert!(safe_segment("web"));
        for bad in ["", "..", "a/b", "a.log", "x y"] {
            assert!(!safe_segment(bad), "{bad:?}");
        }
        assert!(same(b"Bearer abc", b"Bearer abc"));
        assert!(!same(b"Bearer abd", b"Bearer abc"));
        assert!(!same(b"Bearer ab", b"Bearer abc"));
    }
}
