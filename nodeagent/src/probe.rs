//! Readiness probes, as the kubelet runs them: from the node (its namespace) to the pod's
//! IP, a TCP connect or an HTTP GET (2xx and 3xx succeed), on the container's schedule.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use netcore::netns::SocketMaker;
use openapi::{Container, IntOrString, Probe};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// A probe, resolved against its container.
#[derive(Clone, Debug)]
pub struct ProbeSpec {
    pub port: u16,
    /// `Some(path)`: HTTP GET; `None`: TCP connect.
    pub http_path: Option<String>,
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

impl ProbeSpec {
    /// `None` when the container has no probe or its named port does not exist.
    pub fn of(container: &Container) -> Option<ProbeSpec> {
        let probe: &Probe = container.readiness_probe.as_ref()?;
        let (port, http_path) = match (&probe.tcp_socket, &probe.http_get) {
            (Some(t), _) => (&t.port, None),
            (None, Some(h)) => (&h.port, Some(h.path.clone())),
            (None, None) => return None,
        };
        let port = match port {
            IntOrString::Int(p) => *p,
            IntOrString::String(name) => {
                container.ports.iter().find(|p| p.name.as_deref() == Some(name))?.container_port
            }
        };
        let secs = |v: Option<i32>, default: i32| Duration::from_secs(v.unwrap_or(default).max(0) as u64);
        Some(ProbeSpec {
            port: u16::try_from(port).ok()?,
            http_path,
            initial_delay: secs(probe.initial_delay_seconds, 0),
            period: secs(probe.period_seconds, 10).max(Duration::from_millis(100)),
            timeout: secs(probe.timeout_seconds, 1).max(Duration::from_millis(100)),
            success_threshold: probe.success_threshold.unwrap_or(1).max(1) as u32,
            failure_threshold: probe.failure_threshold.unwrap_or(3).max(1) as u32,
        })
    }
}

/// One probe: connect (and for HTTP, GET and read the status line) within the timeout.
async fn check(sockets: &SocketMaker, target: SocketAddr, spec: &ProbeSpec) -> bool {
    let attempt = async {
        let socket = tokio::net::TcpSocket::from_std_stream(std::net::TcpStream::from(sockets.tcp_socket()?));
        let mut conn = socket.connect(target).await?;
        let Some(path) = &spec.http_path else { return Ok(true) };
        let request = format!("GET {path} HTTP/1.0\r\nHost: {target}\r\nUser-Agent: flatnet-probe\r\n\r\n");
        conn.write_all(request.as_bytes()).await?;
        let mut head = [0u8; 12];
        conn.read_exact(&mut head).await?;
        // "HTTP/1.x NNN"
        let code = std::str::from_utf8(&head[9..12]).ok().and_then(|c| c.parse::<u16>().ok());
        std::io::Result::Ok(code.is_some_and(|c| (200..400).contains(&c)))
    };
    matches!(tokio::time::timeout(spec.timeout, attempt).await, Ok(Ok(true)))
}

/// Probe `ip` from the node's namespace (sockets made there) until dropped, sending each
/// change of readiness as `(container, run pid, ready)`.
pub fn spawn(
    sockets: SocketMaker,
    ip: Ipv4Addr,
    spec: ProbeSpec,
    container: String,
    pid: i32,
    tx: mpsc::Sender<(String, i32, bool)>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::time::sleep(spec.initial_delay).await;
        let (mut ready, mut successes, mut failures) = (false, 0u32, 0u32);
        let target = SocketAddr::from((ip, spec.port));
        loop {
            let ok = check(&sockets, target, &spec).await;
            if ok {
                successes += 1;
                failures = 0;
            } else {
                failures += 1;
                successes = 0;
            }
            let now = if ready { failures < spec.failure_threshold } else { successes >= spec.success_threshold };
            if now != ready {
                ready = now;
                if tx.send((container.clone(), pid, ready)).await.is_err() {
                    return;
                }
            }
            tokio::time::sleep(spec.period).await;
        }
    })
}
