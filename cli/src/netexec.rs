//! `flatnet netexec`: the test workload, after Kubernetes' `agnhost netexec`.
//!
//! HTTP on `--http-port` (default 8080):
//!
//! | request | answer |
//! |---|---|
//! | `GET /hostname` | the pod's name |
//! | `GET /clientip` | the client's `ip:port` as this server sees it (after any NAT) |
//! | `GET /healthz` | `ok` |
//! | `GET /echo?msg=X` | `X` |
//!
//! UDP on `--udp-port` (default 8081), one reply datagram per request datagram: `hostname`,
//! `clientip` and `echo X` answer the same as over HTTP. A trailing line ending is ignored, so
//! `echo hostname | nc -u` works; anything else gets no reply and one line on stderr.
//!
//! The pod's name is `POD_NAME` if set: the node agent runs containers as processes in the
//! pod's network namespace but not in a UTS namespace of their own, so the kernel hostname
//! (the fallback) would be the node's.
//!
//! SIGTERM (or SIGINT) stops both servers: HTTP requests in flight are answered, idle
//! connections are closed, and the process exits 0, within [`SHUTDOWN_GRACE`] at most.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::{ConnectInfo, Query, State};
use axum::routing::get;
use axum::Router;
use tokio::net::{TcpListener, UdpSocket};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Where the kernel hostname is read when `POD_NAME` is not set.
const HOSTNAME_PATH: &str = "/proc/sys/kernel/hostname";

/// How long requests in flight may take to finish after SIGTERM before the process exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Port of the HTTP server; 0 turns it off.
    #[arg(long, default_value_t = 8080)]
    http_port: u16,
    /// Port of the UDP server; 0 turns it off.
    #[arg(long, default_value_t = 8081)]
    udp_port: u16,
    /// Address both servers listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    address: IpAddr,
}

/// The servers' shared state: the pod's name, read once at start.
type PodName = Arc<str>;

pub async fn run(args: Args) -> anyhow::Result<()> {
    // Installed first: from here on SIGTERM can no longer kill the process with the default
    // action, so a SIGTERM that arrives right after the start line still exits 0.
    let mut sigterm = signal(SignalKind::terminate()).context("install the SIGTERM handler")?;
    let pod: PodName = pod_name()?.into();
    // Dropping `stop` tells every server to finish.
    let (stop, stopped) = watch::channel(());
    let mut servers = JoinSet::new();
    let mut started = vec![format!("pod {pod}")];

    if args.http_port == 0 {
        started.push("http off".into());
    } else {
        let addr = SocketAddr::new(args.address, args.http_port);
        let listener = TcpListener::bind(addr).await.with_context(|| format!("listen on tcp {addr}"))?;
        servers.spawn(serve_http(listener, pod.clone(), stopped.clone()));
        started.push(format!("http on {addr}"));
    }
    if args.udp_port == 0 {
        started.push("udp off".into());
    } else {
        let addr = SocketAddr::new(args.address, args.udp_port);
        let socket = UdpSocket::bind(addr).await.with_context(|| format!("listen on udp {addr}"))?;
        servers.spawn(serve_udp(socket, pod.clone(), stopped.clone()));
        started.push(format!("udp on {addr}"));
    }
    eprintln!("flatnet netexec: {}", started.join(", "));

    let signal = tokio::select! {
        _ = sigterm.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
        // A server never returns before it is told to, except on an error.
        Some(finished) = servers.join_next() => {
            finished.context("server task")??;
            anyhow::bail!("a server stopped by itself");
        }
    };
    eprintln!("flatnet netexec: {signal}, stopping");
    drop(stop);
    let all_stopped = async {
        while let Some(finished) = servers.join_next().await {
            finished.context("server task")??;
        }
        anyhow::Ok(())
    };
    match tokio::time::timeout(SHUTDOWN_GRACE, all_stopped).await {
        Ok(result) => result,
        Err(_) => {
            eprintln!("flatnet netexec: requests still in flight after {SHUTDOWN_GRACE:?}, exiting anyway");
            Ok(())
        }
    }
}

/// `POD_NAME` if set and not empty, else the kernel hostname.
fn pod_name() -> anyhow::Result<String> {
    if let Some(name) = std::env::var("POD_NAME").ok().filter(|name| !name.is_empty()) {
        return Ok(name);
    }
    let hostname = std::fs::read_to_string(HOSTNAME_PATH).with_context(|| format!("read {HOSTNAME_PATH}"))?;
    Ok(hostname.trim().to_string())
}

async fn serve_http(listener: TcpListener, pod: PodName, mut stopped: watch::Receiver<()>) -> anyhow::Result<()> {
    let app = Router::new()
        .route("/hostname", get(|State(pod): State<PodName>| async move { pod.to_string() }))
        .route("/clientip", get(|ConnectInfo(client): ConnectInfo<SocketAddr>| async move { client.to_string() }))
        .route("/healthz", get(|| async { "ok" }))
        .route("/echo", get(echo))
        .with_state(pod);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            let _ = stopped.changed().await;
        })
        .await
        .context("serve http")
}

/// `GET /echo?msg=X` answers `X`; without `msg`, an empty body.
async fn echo(Query(mut query): Query<HashMap<String, String>>) -> String {
    query.remove("msg").unwrap_or_default()
}

async fn serve_udp(socket: UdpSocket, pod: PodName, mut stopped: watch::Receiver<()>) -> anyhow::Result<()> {
    // The largest UDP payload: a request is never cut short.
    let mut buf = vec![0; 65535];
    loop {
        let (len, client) = tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok(received) => received,
                // One bad datagram must not stop the server.
                Err(err) => {
                    eprintln!("flatnet netexec: udp receive: {err}");
                    continue;
                }
            },
            _ = stopped.changed() => return Ok(()),
        };
        let request = String::from_utf8_lossy(&buf[..len]);
        match udp_reply(&request, &pod, client) {
            Some(reply) => {
                if let Err(err) = socket.send_to(reply.as_bytes(), client).await {
                    eprintln!("flatnet netexec: udp reply to {client}: {err}");
                }
            }
            None => eprintln!("flatnet netexec: unknown udp request {request:?} from {client}"),
        }
    }
}

/// The answer to one UDP request, or `None` if it is not one netexec knows.
fn udp_reply(request: &str, pod: &str, client: SocketAddr) -> Option<String> {
    let request = request.strip_suffix('\n').map_or(request, |line| line.strip_suffix('\r').unwrap_or(line));
    match request {
        "hostname" => Some(pod.to_string()),
        "clientip" => Some(client.to_string()),
        "echo" => Some(String::new()),
        _ => request.strip_prefix("echo ").map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_requests() {
        let client: SocketAddr = "10.244.1.7:40000".parse().unwrap();
        let reply = |request| udp_reply(request, "web-1", client);
        assert_eq!(reply("hostname").as_deref(), Some("web-1"));
        assert_eq!(reply("hostname\n").as_deref(), Some("web-1"));
        assert_eq!(reply("hostname\r\n").as_deref(), Some("web-1"));
        assert_eq!(reply("clientip").as_deref(), Some("10.244.1.7:40000"));
        assert_eq!(reply("echo  two  spaces ").as_deref(), Some(" two  spaces "));
        assert_eq!(reply("echo hi\n").as_deref(), Some("hi"));
        assert_eq!(reply("echo").as_deref(), Some(""));
        assert_eq!(reply("echoes"), None);
        assert_eq!(reply("Hostname"), None);
        assert_eq!(reply(""), None);
    }
}
