//! `flatnet probe`, the real binary on loopback: its lines and exit code against a running
//! netexec, a closed port and a server that never answers.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;

use common::{free_tcp_port, free_udp_port, Netexec, Options, FLATNET};

struct Probe {
    /// `None` when killed by a signal.
    code: Option<i32>,
    stdout: String,
}

/// Runs `flatnet probe PROTOCOL TARGET ARGS…` to its end.
fn probe(protocol: &str, target: SocketAddr, args: &[&str]) -> Probe {
    let output = Command::new(FLATNET)
        .args(["probe", protocol, &target.to_string()])
        .args(args)
        .output()
        .expect("run flatnet probe");
    Probe { code: output.status.code(), stdout: String::from_utf8(output.stdout).unwrap() }
}

#[test]
fn http_probe_of_netexec() {
    let netexec = Netexec::start(Options::pod("web-1"));

    let hostname = probe("http", netexec.http(), &["--count", "3", "--interval-ms", "10"]);
    assert_eq!((hostname.code, hostname.stdout.as_str()), (Some(0), "ok web-1\nok web-1\nok web-1\n3/3 ok\n"));
    let echo = probe("http", netexec.http(), &["--request", "/echo?msg=hi%20there"]);
    assert_eq!((echo.code, echo.stdout.as_str()), (Some(0), "ok hi there\n1/1 ok\n"));
    let missing = probe("http", netexec.http(), &["--request", "/missing", "--count", "2", "--interval-ms", "0"]);
    assert_eq!(
        (missing.code, missing.stdout.as_str()),
        (Some(1), "fail HTTP 404 Not Found\nfail HTTP 404 Not Found\n0/2 ok\n")
    );
}

#[test]
fn udp_probe_of_netexec() {
    let netexec = Netexec::start(Options::pod("web-2"));

    let hostname = probe("udp", netexec.udp(), &["--count", "2", "--interval-ms", "10"]);
    assert_eq!((hostname.code, hostname.stdout.as_str()), (Some(0), "ok web-2\nok web-2\n2/2 ok\n"));
    let echo = probe("udp", netexec.udp(), &["--request", "echo hi there"]);
    assert_eq!((echo.code, echo.stdout.as_str()), (Some(0), "ok hi there\n1/1 ok\n"));
    let clientip = probe("udp", netexec.udp(), &["--request", "clientip"]);
    assert_eq!(clientip.code, Some(0));
    assert!(clientip.stdout.starts_with("ok 127.0.0.1:"), "{}", clientip.stdout);
}

#[test]
fn tcp_probe_of_netexec() {
    let netexec = Netexec::start(Options::pod("web-3"));

    let connect = probe("tcp", netexec.http(), &[]);
    assert_eq!((connect.code, connect.stdout.as_str()), (Some(0), "ok connected\n1/1 ok\n"));
    // A request is sent, then the reply read up to the server's close; control characters
    // of the reply are escaped so that it stays on one line.
    let request = probe("tcp", netexec.http(), &["--request", "GET /healthz HTTP/1.0\r\n\r\n"]);
    assert_eq!(request.code, Some(0));
    let lines: Vec<&str> = request.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", request.stdout);
    assert!(lines[0].starts_with(r"ok HTTP/1.0 200 OK\r\n"), "{}", lines[0]);
    assert!(lines[0].ends_with(r"\r\n\r\nok"), "{}", lines[0]);
    assert_eq!(lines[1], "1/1 ok");
}

#[test]
fn probes_of_a_closed_port_fail() {
    let tcp_port = free_tcp_port();
    for protocol in ["tcp", "http"] {
        let closed = probe(protocol, tcp_port, &["--count", "2", "--interval-ms", "0"]);
        let refused = format!("fail connect {tcp_port}: Connection refused (os error 111)\n");
        assert_eq!((closed.code, closed.stdout), (Some(1), format!("{refused}{refused}0/2 ok\n")), "{protocol}");
    }
    // Loopback answers a datagram to a closed port with ICMP port unreachable at once, which
    // the connected socket reports; should the kernel's global ICMP rate limit swallow it, the
    // attempt times out instead, and fails all the same.
    let closed = probe("udp", free_udp_port(), &["--timeout-ms", "500"]);
    assert_eq!(closed.code, Some(1));
    assert!(
        ["fail receive reply: Connection refused (os error 111)\n0/1 ok\n", "fail timed out after 500 ms\n0/1 ok\n"]
            .contains(&closed.stdout.as_str()),
        "{}",
        closed.stdout
    );
}

#[test]
fn udp_probe_of_a_silent_server_times_out() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let timed_out = probe("udp", silent.local_addr().unwrap(), &["--timeout-ms", "100"]);
    assert_eq!((timed_out.code, timed_out.stdout.as_str()), (Some(1), "fail timed out after 100 ms\n0/1 ok\n"));
}

#[test]
fn some_attempts_failing_is_a_failure() {
    // Two attempts against a server that answers only the first: 1/2 is not success.
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = server.local_addr().unwrap();
    let answer_once = std::thread::spawn(move || {
        let mut buf = [0; 64];
        let (_, client) = server.recv_from(&mut buf).unwrap();
        server.send_to(b"first", client).unwrap();
        server
    });
    let half = probe("udp", target, &["--count", "2", "--interval-ms", "0", "--timeout-ms", "200"]);
    drop(answer_once.join().unwrap());
    assert_eq!((half.code, half.stdout.as_str()), (Some(1), "ok first\nfail timed out after 200 ms\n1/2 ok\n"));
}

#[test]
fn an_http_request_must_be_a_path() {
    let rejected = probe("http", free_tcp_port(), &["--request", "hostname"]);
    assert_eq!((rejected.code, rejected.stdout.as_str()), (Some(1), ""));
}
