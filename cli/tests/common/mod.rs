//! The real `flatnet netexec` on loopback, on ports picked free just before it starts. (The
//! tests of whole clusters are end-to-end tests: they live in the `tests/` crate.)
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const FLATNET: &str = env!("CARGO_BIN_EXE_flatnet");

/// How long netexec may take to print its start line.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// What to start netexec with.
pub struct Options<'a> {
    /// `POD_NAME`; `None` leaves it unset (the kernel hostname answers).
    pub pod_name: Option<&'a str>,
    pub http: bool,
    pub udp: bool,
}

impl Options<'_> {
    pub fn pod(name: &str) -> Options<'_> {
        Options { pod_name: Some(name), http: true, udp: true }
    }
}

pub struct Netexec {
    pub child: Child,
    http: Option<SocketAddr>,
    udp: Option<SocketAddr>,
    /// The line netexec printed once both servers were listening.
    #[allow(dead_code)] // read by some test binaries only
    pub start_line: String,
}

impl Netexec {
    /// Starts netexec on 127.0.0.1; returns once it has printed its start line, so listens.
    pub fn start(options: Options) -> Netexec {
        let http = options.http.then(free_tcp_port);
        let udp = options.udp.then(free_udp_port);
        let mut command = Command::new(FLATNET);
        command
            .args(["netexec", "--address", "127.0.0.1"])
            .arg(format!("--http-port={}", http.map_or(0, |addr| addr.port())))
            .arg(format!("--udp-port={}", udp.map_or(0, |addr| addr.port())))
            .env_remove("POD_NAME")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(name) = options.pod_name {
            command.env("POD_NAME", name);
        }
        let mut child = command.spawn().expect("start flatnet netexec");
        // A thread reads stderr to its end, so that netexec never blocks on a full pipe.
        let (lines_tx, lines) = mpsc::channel();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        let start_line = match lines.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(err) => {
                let _ = child.kill();
                panic!("flatnet netexec printed no start line ({err}); exit: {:?}", child.wait());
            }
        };
        assert!(start_line.starts_with("flatnet netexec: "), "unexpected first line {start_line:?}");
        Netexec { child, http, udp, start_line }
    }

    pub fn http(&self) -> SocketAddr {
        self.http.expect("netexec started without http")
    }

    pub fn udp(&self) -> SocketAddr {
        self.udp.expect("netexec started without udp")
    }
}

impl Drop for Netexec {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback address whose TCP port was free a moment ago (nothing listens there).
pub fn free_tcp_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// A loopback address whose UDP port was free a moment ago (nothing listens there).
pub fn free_udp_port() -> SocketAddr {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}
