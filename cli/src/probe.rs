//! `flatnet probe`: the client half of the test workload.
//!
//! Each attempt uses a new socket, so a new source port: every attempt is a new flow to the
//! load balancer and to conntrack, as separate clients would be.
//!
//! - `tcp`: connect; with `--request`, send it and read the reply up to the server's close, as
//!   an HTTP/1.0 server closes after its answer (one that keeps the connection open runs into
//!   the timeout).
//! - `udp`: send the request (default `hostname`) from a connected socket and wait for one
//!   datagram; a closed port on a reachable host fails at once (ICMP port unreachable).
//! - `http`: `GET` the request path (default `/hostname`) with HTTP/1.1 and
//!   `Connection: close`; a 2xx answer succeeds with its body as the reply.
//!
//! Each attempt prints `ok REPLY` or `fail ERROR` on one line (control characters in the reply
//! escaped, as `\n`), then a summary `N/M ok`.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// A reply longer than this is cut: a probe checks reachability, it does not download.
const MAX_REPLY: u64 = 1 << 20;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// tcp: connect (and exchange --request); udp: one datagram each way; http: GET a path.
    protocol: Protocol,
    /// The server, as IP:PORT.
    target: SocketAddr,
    /// tcp: bytes to send (default: none, only connect); udp: the datagram to send (default
    /// `hostname`); http: the path to GET (default `/hostname`).
    #[arg(long)]
    request: Option<String>,
    /// Number of attempts.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    count: u32,
    /// Pause between two attempts, in milliseconds.
    #[arg(long, default_value_t = 100)]
    interval_ms: u64,
    /// Time limit of each attempt, in milliseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_ms: u64,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Protocol {
    Tcp,
    Udp,
    Http,
}

/// Runs every attempt; `Ok(true)` if all of them succeeded.
pub async fn run(args: Args) -> anyhow::Result<bool> {
    if let (Protocol::Http, Some(path)) = (args.protocol, &args.request) {
        anyhow::ensure!(
            path.starts_with('/') && !path.contains(|c: char| c.is_whitespace() || c.is_control()),
            "an http request is a path starting with / and without spaces, not {path:?}"
        );
    }
    let timeout = Duration::from_millis(args.timeout_ms);
    let mut succeeded = 0;
    for attempt in 0..args.count {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
        }
        match tokio::time::timeout(timeout, probe_once(&args)).await {
            Ok(Ok(reply)) => {
                succeeded += 1;
                println!("ok {}", one_line(&reply));
            }
            Ok(Err(err)) => println!("fail {}", one_line(&format!("{err:#}"))),
            Err(_) => println!("fail timed out after {} ms", args.timeout_ms),
        }
    }
    println!("{succeeded}/{} ok", args.count);
    Ok(succeeded == args.count)
}

/// One attempt; its reply.
async fn probe_once(args: &Args) -> anyhow::Result<String> {
    let target = args.target;
    let request = args.request.as_deref();
    match args.protocol {
        Protocol::Tcp => {
            let mut stream = TcpStream::connect(target).await.with_context(|| format!("connect {target}"))?;
            let Some(request) = request else {
                return Ok("connected".into());
            };
            // The sending side stays open: servers may take a half-close for the end of the
            // connection and drop the reply (hyper does, at times).
            stream.write_all(request.as_bytes()).await.context("send request")?;
            Ok(String::from_utf8_lossy(&read_reply(stream).await?).into_owned())
        }
        Protocol::Udp => {
            let unspecified = match target {
                SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
                SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
            };
            let socket = UdpSocket::bind(unspecified).await.context("bind a udp socket")?;
            // Connected, so that the kernel reports ICMP errors (port unreachable) to recv.
            socket.connect(target).await.with_context(|| format!("connect {target}"))?;
            socket.send(request.unwrap_or("hostname").as_bytes()).await.context("send request")?;
            let mut buf = vec![0; 65535];
            let len = socket.recv(&mut buf).await.context("receive reply")?;
            Ok(String::from_utf8_lossy(&buf[..len]).into_owned())
        }
        Protocol::Http => {
            let path = request.unwrap_or("/hostname");
            let mut stream = TcpStream::connect(target).await.with_context(|| format!("connect {target}"))?;
            let request = format!(
                "GET {path} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: flatnet-probe\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(request.as_bytes()).await.context("send request")?;
            let response = parse_response(&read_reply(stream).await?)?;
            anyhow::ensure!((200..300).contains(&response.status), "HTTP {} {}", response.status, response.reason);
            Ok(String::from_utf8_lossy(&response.body).into_owned())
        }
    }
}

/// Everything the server sends until it closes the connection, at most [`MAX_REPLY`] bytes.
async fn read_reply(stream: impl AsyncRead + Unpin) -> anyhow::Result<Vec<u8>> {
    let mut reply = Vec::new();
    stream.take(MAX_REPLY).read_to_end(&mut reply).await.context("read reply")?;
    Ok(reply)
}

#[derive(Debug, PartialEq)]
struct Response {
    status: u16,
    reason: String,
    body: Vec<u8>,
}

/// A whole HTTP/1.x response, read up to the server's close: status, reason and body (cut at
/// `Content-Length`, or decoded if chunked).
fn parse_response(raw: &[u8]) -> anyhow::Result<Response> {
    let head_len = find(raw, b"\r\n\r\n").context("bad http response: no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..head_len]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (version, status) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let status = status
        .parse()
        .ok()
        .filter(|_| version.starts_with("HTTP/1."))
        .with_context(|| format!("bad http status line {status_line:?}"))?;
    let reason = parts.next().unwrap_or_default().to_string();

    let mut body = &raw[head_len + 4..];
    let mut chunked = false;
    for (name, value) in lines.filter_map(|line| line.split_once(':')) {
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let len: usize = value.parse().with_context(|| format!("bad http Content-Length {value:?}"))?;
            body = body.get(..len).context("bad http response: body shorter than its Content-Length")?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
    }
    let body = if chunked { dechunk(body)? } else { body.to_vec() };
    Ok(Response { status, reason, body })
}

/// The body of a `Transfer-Encoding: chunked` message (chunk extensions and trailers ignored).
fn dechunk(mut raw: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_len = find(raw, b"\r\n").context("bad http chunk: no size line")?;
        let size_line = String::from_utf8_lossy(&raw[..line_len]);
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16).with_context(|| format!("bad http chunk size {size_hex:?}"))?;
        raw = &raw[line_len + 2..];
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(raw.get(..size).context("bad http chunk: cut short")?);
        raw = raw.get(size + 2..).context("bad http chunk: cut short")?;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// `text` on one line: control characters (line endings above all) escaped as Rust does.
fn one_line(text: &str) -> String {
    let mut line = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_with_content_length() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nContent-Length: 5\r\n\r\nweb-1";
        let response = parse_response(raw).unwrap();
        assert_eq!(response, Response { status: 200, reason: "OK".into(), body: b"web-1".to_vec() });
    }

    #[test]
    fn response_cut_at_content_length_and_read_to_close_without_it() {
        assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA").unwrap().body, b"ok");
        assert_eq!(parse_response(b"HTTP/1.0 404 Not Found\r\n\r\nno such path").unwrap().body, b"no such path");
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").is_err());
    }

    #[test]
    fn chunked_response() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nweb\r\n2;ext=1\r\n-1\r\n0\r\nTrailer: x\r\n\r\n";
        assert_eq!(parse_response(raw).unwrap().body, b"web-1");
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nweb").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err());
    }

    #[test]
    fn bad_responses() {
        assert!(parse_response(b"").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 abc OK\r\n\r\n").is_err());
    }

    #[test]
    fn replies_are_printed_on_one_line() {
        assert_eq!(one_line("web-1"), "web-1");
        assert_eq!(one_line("HTTP/1.0 200 OK\r\n\r\nok\n"), "HTTP/1.0 200 OK\\r\\n\\r\\nok\\n");
        assert_eq!(one_line("tab\there \u{0}"), "tab\\there \\u{0}");
    }
}
