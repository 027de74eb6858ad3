//! `flatnet netexec`, the real binary on loopback: every HTTP path and UDP request, the pod's
//! name from `POD_NAME` or the kernel hostname, servers turned off, and SIGTERM.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use common::{Netexec, Options};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Upper bound of every socket read: a missing answer fails the test instead of hanging it.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

struct HttpAnswer {
    status: u16,
    body: String,
    /// The client side of the connection, as the server should see it.
    client: SocketAddr,
}

/// `GET path` over a fresh connection with `Connection: close`.
fn http_get(server: SocketAddr, path: &str) -> HttpAnswer {
    let mut stream = TcpStream::connect(server).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a whole HTTP response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    HttpAnswer { status, body: body.to_string(), client: stream.local_addr().unwrap() }
}

/// One datagram to `server`, one back; also the client's address.
fn udp_request(server: SocketAddr, request: &str) -> (String, SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    socket.connect(server).unwrap();
    socket.send(request.as_bytes()).unwrap();
    let mut buf = [0; 2048];
    let len = socket.recv(&mut buf).unwrap();
    (String::from_utf8(buf[..len].to_vec()).unwrap(), socket.local_addr().unwrap())
}

fn sigterm(netexec: &Netexec) {
    kill(Pid::from_raw(netexec.child.id() as i32), Signal::SIGTERM).unwrap();
}

/// The exit status, if the process exits within `limit`.
fn wait_for_exit(netexec: &mut Netexec, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = netexec.child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[test]
fn http_paths() {
    let netexec = Netexec::start(Options::pod("web-1"));
    let server = netexec.http();

    let hostname = http_get(server, "/hostname");
    assert_eq!((hostname.status, hostname.body.as_str()), (200, "web-1"));
    let healthz = http_get(server, "/healthz");
    assert_eq!((healthz.status, healthz.body.as_str()), (200, "ok"));
    let echo = http_get(server, "/echo?msg=hello%20pods");
    assert_eq!((echo.status, echo.body.as_str()), (200, "hello pods"));
    let empty_echo = http_get(server, "/echo");
    assert_eq!((empty_echo.status, empty_echo.body.as_str()), (200, ""));
    let clientip = http_get(server, "/clientip");
    assert_eq!((clientip.status, clientip.body.clone()), (200, clientip.client.to_string()));
    assert_eq!(http_get(server, "/nope").status, 404);

    assert_eq!(netexec.start_line, format!("flatnet netexec: pod web-1, http on {server}, udp on {}", netexec.udp()));
}

#[test]
fn udp_requests() {
    let netexec = Netexec::start(Options::pod("web-2"));
    let server = netexec.udp();

    assert_eq!(udp_request(server, "hostname").0, "web-2");
    // As `echo hostname | nc -u` sends it.
    assert_eq!(udp_request(server, "hostname\n").0, "web-2");
    assert_eq!(udp_request(server, "echo hello pods").0, "hello pods");
    let (clientip, client) = udp_request(server, "clientip");
    assert_eq!(clientip, client.to_string());
}

#[test]
fn without_pod_name_the_kernel_hostname_answers() {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
    let netexec = Netexec::start(Options { pod_name: None, http: true, udp: true });

    assert_eq!(http_get(netexec.http(), "/hostname").body, hostname);
    assert_eq!(udp_request(netexec.udp(), "hostname").0, hostname);
}

#[test]
fn port_zero_turns_a_server_off() {
    let http_only = Netexec::start(Options { udp: false, ..Options::pod("web-3") });
    assert!(http_only.start_line.ends_with("udp off"), "{}", http_only.start_line);
    assert_eq!(http_get(http_only.http(), "/hostname").body, "web-3");

    let udp_only = Netexec::start(Options { http: false, ..Options::pod("web-4") });
    assert!(udp_only.start_line.contains("http off"), "{}", udp_only.start_line);
    assert_eq!(udp_request(udp_only.udp(), "hostname").0, "web-4");
}

#[test]
fn sigterm_exits_zero_promptly_despite_an_idle_keepalive_connection() {
    let mut netexec = Netexec::start(Options::pod("web-5"));
    // One request on a keep-alive connection, which then stays open and idle.
    let mut idle = TcpStream::connect(netexec.http()).unwrap();
    idle.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    write!(idle, "GET /healthz HTTP/1.1\r\nHost: netexec\r\n\r\n").unwrap();
    let mut response = Vec::new();
    let mut buf = [0; 1024];
    while !response.ends_with(b"\r\n\r\nok") {
        let len = idle.read(&mut buf).unwrap();
        assert_ne!(len, 0, "connection closed before the answer: {}", String::from_utf8_lossy(&response));
        response.extend_from_slice(&buf[..len]);
    }

    // Within 2 s, well before the 5 s grace netexec gives requests in flight: an idle
    // connection does not hold the shutdown up.
    sigterm(&netexec);
    let status = wait_for_exit(&mut netexec, Duration::from_secs(2)).expect("netexec still runs 2 s after SIGTERM");
    assert!(status.success(), "netexec exited with {status} on SIGTERM");
}

#[test]
fn sigterm_exits_zero_with_both_servers_off() {
    let mut netexec = Netexec::start(Options { http: false, udp: false, ..Options::pod("pause") });
    sigterm(&netexec);
    let status = wait_for_exit(&mut netexec, Duration::from_secs(2)).expect("netexec still runs 2 s after SIGTERM");
    assert!(status.success(), "netexec exited with {status} on SIGTERM");
}
