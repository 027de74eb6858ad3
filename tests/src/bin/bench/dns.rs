//! `flatnet-bench dns`: the node's cluster DNS server against dnsmasq, side by side in one
//! run, each pinned to one core (`taskset`), dnsperf on another.
//!
//! flatnet's server is the agent's own code (`nodeagent::dns`), started by this binary as a
//! child (`flatnet-bench dns-serve`) with a zone of N services (`svc-I.bench`, each with a
//! cluster IP and a named port `http`). dnsmasq serves the same A and SRV records from a
//! hosts file and `--srv-host`, and answers the rest of the cluster domain locally
//! (NXDOMAIN). Both listen on loopback. The query mix: 70 % A of a service, 20 % SRV of
//! its port, 10 % A of a name that does not exist. Reported: dnsperf's queries per second
//! (100 outstanding queries), and the latency of single queries one after another (p50,
//! p99) from this process. Then the agent's memory for the zone: the resident size of the
//! server process with N services.

use std::net::{Ipv4Addr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nodeagent::dns_records::{Port, ServiceEntry, ServiceKind, Zone};
use nodeagent::dns_wire;

use crate::{ms, percentile};

const DOMAIN: &str = "cluster.local";

fn cluster_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 96, 1, 0)) + i as u32)
}

fn zone(services: usize) -> Zone {
    let mut z = Zone::new(DOMAIN, "10.244.0.0/16".parse().unwrap(), "10.96.0.0/12".parse().unwrap());
    for i in 0..services {
        let entry = ServiceEntry {
            kind: ServiceKind::ClusterIp(cluster_ip(i)),
            ports: vec![Port { name: Some("http".into()), proto: "tcp", port: 80 }],
        };
        z.set_service(("bench".into(), format!("svc-{i}")), Some(entry));
    }
    z
}

/// The hidden `dns-serve` subcommand: serve the zone on 127.0.0.1:`port` until killed.
pub async fn serve(port: u16, services: usize) -> Result<()> {
    let zone = Arc::new(RwLock::new(zone(services)));
    let sockets = netcore::netns::SocketMaker::new(&netcore::netns::Netns::current()?)?;
    let up = nodeagent::dns::Upstream::new(Vec::new(), None, sockets);
    let sock = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).await?;
    nodeagent::dns::serve_udp(Arc::new(sock), zone, up).await;
    Ok(())
}

fn query_names(services: usize, n: usize) -> Vec<(String, &'static str)> {
    (0..n)
        .map(|k| {
            let i = (k * 7919) % services;
            match k % 10 {
                0..=6 => (format!("svc-{i}.bench.svc.{DOMAIN}"), "A"),
                7 | 8 => (format!("_http._tcp.svc-{i}.bench.svc.{DOMAIN}"), "SRV"),
                _ => (format!("nope-{i}.bench.svc.{DOMAIN}"), "A"),
            }
        })
        .collect()
}

struct Server {
    child: Child,
    port: u16,
    name: &'static str,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_answering(port: u16) -> Result<()> {
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;
    let q = dns_wire::encode_query(1, &format!("svc-0.bench.svc.{DOMAIN}"), dns_wire::TYPE_A);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        sock.send_to(&q, ("127.0.0.1", port))?;
        if sock.recv(&mut buf).is_ok() {
            return Ok(());
        }
    }
    bail!("no DNS server answered on 127.0.0.1:{port}")
}

fn start_flatnet(services: usize, core: usize) -> Result<Server> {
    let port = free_udp_port();
    let exe = std::env::current_exe()?;
    let child = Command::new("taskset")
        .args(["-c", &core.to_string()])
        .arg(exe)
        .args(["dns-serve", "--port", &port.to_string(), "--services", &services.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .context("start the flatnet DNS server (taskset from util-linux)")?;
    let server = Server { child, port, name: "flatnet (nodeagent::dns)" };
    wait_answering(port)?;
    Ok(server)
}

fn start_dnsmasq(services: usize, core: usize, dir: &std::path::Path) -> Result<Server> {
    let port = free_udp_port();
    let hosts = dir.join("hosts");
    let mut text = String::new();
    for i in 0..services {
        text.push_str(&format!("{} svc-{i}.bench.svc.{DOMAIN}\n", cluster_ip(i)));
    }
    std::fs::write(&hosts, text)?;
    let conf = dir.join("dnsmasq.conf");
    let mut conf_text = String::new();
    for i in 0..services {
        conf_text.push_str(&format!("srv-host=_http._tcp.svc-{i}.bench.svc.{DOMAIN},svc-{i}.bench.svc.{DOMAIN},80\n"));
    }
    std::fs::write(&conf, conf_text)?;
    let child = Command::new("taskset")
        .args(["-c", &core.to_string(), "dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--bind-interfaces"])
        .args(["--listen-address=127.0.0.1", &format!("--port={port}"), "--cache-size=0", "--pid-file="])
        .arg(format!("--addn-hosts={}", hosts.display()))
        .arg(format!("--conf-file={}", conf.display()))
        .arg(format!("--local=/{DOMAIN}/"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("start dnsmasq (Debian package dnsmasq-base)")?;
    let server = Server { child, port, name: "dnsmasq" };
    wait_answering(port)?;
    Ok(server)
}

/// dnsperf's queries per second against `port`, from `core`.
fn dnsperf(port: u16, file: &std::path::Path, secs: u32, core: usize) -> Result<f64> {
    let out = Command::new("taskset")
        .args(["-c", &core.to_string(), "dnsperf", "-s", "127.0.0.1", "-p", &port.to_string()])
        .arg("-d")
        .arg(file)
        .args(["-l", &secs.to_string(), "-c", "4", "-q", "100"])
        .output()
        .context("run dnsperf (Debian package dnsperf)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let qps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Queries per second:"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("dnsperf printed no rate:\n{text}"))?;
    if let Some(lost) = text.lines().find(|l| l.contains("Queries lost:")) {
        eprintln!("  {}", lost.trim());
    }
    Ok(qps)
}

/// Latency of single queries, one after another.
fn latencies(port: u16, names: &[(String, &'static str)]) -> Result<Vec<Duration>> {
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    sock.connect(("127.0.0.1", port))?;
    sock.set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut buf = [0u8; 1500];
    let mut out = Vec::with_capacity(names.len());
    for (k, (name, t)) in names.iter().enumerate() {
        let qtype = if *t == "SRV" { dns_wire::TYPE_SRV } else { dns_wire::TYPE_A };
        let q = dns_wire::encode_query(k as u16, name, qtype);
        let start = Instant::now();
        sock.send(&q)?;
        loop {
            let n = sock.recv(&mut buf)?;
            if n >= 2 && buf[..2] == q[..2] {
                break;
            }
        }
        out.push(start.elapsed());
    }
    out.sort();
    Ok(out)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim().parse().ok()
}

pub async fn run(services: usize, secs: u32, queries: usize, memory_services: usize) -> Result<()> {
    tokio::task::spawn_blocking(move || measure(services, secs, queries, memory_services)).await?
}

fn measure(services: usize, secs: u32, queries: usize, memory_services: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let names = query_names(services, 100_000);
    let file = dir.path().join("queries.txt");
    let mut text = String::new();
    for (n, t) in &names {
        text.push_str(&format!("{n} {t}\n"));
    }
    std::fs::write(&file, text)?;

    println!("## Cluster DNS: flatnet's node server against dnsmasq ({services} services; server on core 0, dnsperf on core 1)\n");
    println!("| server | queries/s (dnsperf, 4 clients, 100 outstanding) | p50 | p99 | max |");
    println!("|---|---|---|---|---|");
    let servers = [start_flatnet(services, 0)?, start_dnsmasq(services, 0, dir.path())?];
    for s in &servers {
        let qps = dnsperf(s.port, &file, secs, 1)?;
        let lat = latencies(s.port, &names[..queries.min(names.len())])?;
        println!(
            "| {} | {:.0} | {} | {} | {} |",
            s.name,
            qps,
            ms(percentile(&lat, 0.5)),
            ms(percentile(&lat, 0.99)),
            ms(*lat.last().unwrap_or(&Duration::ZERO))
        );
    }
    drop(servers);

    let big = start_flatnet(memory_services, 0)?;
    let small = start_flatnet(1, 0)?;
    let (b, s) = (rss_kib(big.child.id()), rss_kib(small.child.id()));
    if let (Some(b), Some(s)) = (b, s) {
        println!(
            "\nMemory of the zone: {memory_services} services: {:.1} MiB resident, 1 service: {:.1} MiB ({:.0} bytes per service)",
            b as f64 / 1024.0,
            s as f64 / 1024.0,
            (b.saturating_sub(s) * 1024) as f64 / memory_services as f64
        );
    }
    Ok(())
}
