//! `flatnet-bench services`: the service data plane (as root).
//!
//! - **rules**: the time netcore's `Proxier` (what the agent runs) takes to apply N services
//!   of 2 endpoints each to an empty table in a fresh namespace, and to apply one more
//!   service (and one endpoint change) when N exist; median of 20. Baseline in the same
//!   run: kube-proxy's nftables layout (a chain per service with an anonymous `numgen`
//!   verdict map, a chain per endpoint, dispatched from a verdict map), rendered for the
//!   same services and loaded with `nft -f` the same way.
//! - **dataplane**: TCP connect latency from a pod through a cluster IP to a pod on the
//!   same node, with 10 services installed and with 10,000 (alternating rounds, median of
//!   each), and directly to the pod IP; then one iperf3 TCP stream through the cluster IP
//!   against the same stream to the pod IP.
//! - **e2e**: on a `flatnet up` cluster of 3 nodes (release binaries beside this one),
//!   the time from the API accepting a new service (its POST returned) to the first
//!   successful TCP connection through its cluster IP from a pod on each node, over 50
//!   services; and, as a baseline, the time until a watcher on the API sees the service.

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures::StreamExt;
use netcore::netns::{self, Netns};
use netcore::services::{Endpoint, Proto, Proxier, ServicePort, TableConfig};

use super::throughput::{iperf, Cluster};
use super::{ms, percentile};

fn config() -> TableConfig {
    TableConfig {
        pod_cidr: "10.244.0.0/16".parse().unwrap(),
        service_cidr: "10.96.0.0/12".parse().unwrap(),
        cluster_dns: None,
    }
}

/// Service `i` (cluster IP from 10.100.0.0 up) with 2 endpoints.
fn service(i: usize, endpoints: usize) -> ServicePort {
    let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 100, 0, 0)) + i as u32);
    ServicePort {
        name: format!("bench/s{i}:80"),
        cluster_ip: ip,
        proto: Proto::Tcp,
        port: 80,
        node_port: None,
        external_local: false,
        affinity_seconds: None,
        endpoints: (0..endpoints)
            .map(|k| Endpoint {
                ip: Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 244, 0, 0)) + (i * 2 + k) as u32 % 65_000),
                port: 8080,
                local: false,
            })
            .collect(),
    }
}

/// A namespace of the benchmark's own, deleted on drop.
pub(super) struct Scratch(String);

impl Scratch {
    pub(super) fn new(tag: &str) -> Result<Scratch> {
        let name = format!("flatnet-bench-{tag}-{}", std::process::id());
        let _ = netns::delete(&name);
        netns::create(&name)?;
        Ok(Scratch(name))
    }
    pub(super) fn open(&self) -> Result<Netns> {
        Ok(Netns::open(&self.0)?)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = netns::delete(&self.0);
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    percentile(&v, 0.5)
}

// ---------------------------------------------------------------------------------------
// kube-proxy's layout, the baseline
// ---------------------------------------------------------------------------------------

fn kube_proxy_static() -> String {
    "add table ip kp\n\
     add map ip kp service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }\n\
     add chain ip kp mark-for-masquerade\n\
     add rule ip kp mark-for-masquerade meta mark set meta mark | 0x4000\n\
     add chain ip kp services\n\
     add rule ip kp services ip daddr . meta l4proto . th dport vmap @service-ips\n\
     add chain ip kp nat-prerouting { type nat hook prerouting priority -100; }\n\
     add rule ip kp nat-prerouting jump services\n"
        .into()
}

/// One service in kube-proxy's nftables layout: a service chain choosing an endpoint chain
/// with `numgen random mod N vmap { … }`, endpoint chains that mark hairpin traffic and DNAT.
fn kube_proxy_service(sp: &ServicePort, out: &mut String) {
    use std::fmt::Write as _;
    let svc = format!("service-{}", sp.name.replace([':', '/'], "-"));
    let mut slots = Vec::new();
    for (k, e) in sp.endpoints.iter().enumerate() {
        let ep = format!("endpoint-{}-{}", sp.name.replace([':', '/'], "-"), k);
        let _ = writeln!(out, "add chain ip kp {ep}");
        let _ = writeln!(out, "add rule ip kp {ep} ip saddr {} jump mark-for-masquerade", e.ip);
        let _ = writeln!(out, "add rule ip kp {ep} meta l4proto tcp dnat to {}:{}", e.ip, e.port);
        slots.push(format!("{k} : goto {ep}"));
    }
    let _ = writeln!(out, "add chain ip kp {svc}");
    let _ =
        writeln!(out, "add rule ip kp {svc} numgen random mod {} vmap {{ {} }}", sp.endpoints.len(), slots.join(", "));
    let _ = writeln!(out, "add element ip kp service-ips {{ {} . tcp . {} : goto {svc} }}", sp.cluster_ip, sp.port);
}

fn nft(ns: &Netns, script: &str) -> Result<Duration> {
    let started = Instant::now();
    netcore::nft::apply(ns, script)?;
    Ok(started.elapsed())
}

fn kube_proxy_load(n: usize) -> Result<(Duration, Duration)> {
    let scratch = Scratch::new("kp")?;
    let ns = scratch.open()?;
    let mut script = kube_proxy_static();
    for i in 0..n {
        kube_proxy_service(&service(i, 2), &mut script);
    }
    let full = nft(&ns, &script)?;
    let mut adds = Vec::new();
    for k in 0..5 {
        let mut one = String::new();
        kube_proxy_service(&service(n + k, 2), &mut one);
        adds.push(nft(&ns, &one)?);
    }
    Ok((full, median(adds)))
}

async fn rules(sizes: &[usize], kube_proxy_max: usize) -> Result<()> {
    println!("\n### Rule programming (services of 2 endpoints; one more: median of 20)\n");
    println!("| services | flatnet: from empty | flatnet: one more | flatnet: one endpoint changed | kube-proxy layout: from empty | kube-proxy layout: one more |");
    println!("|---|---|---|---|---|---|");
    for &n in sizes {
        let scratch = Scratch::new("rules")?;
        let mut p = Proxier::new(scratch.open()?, config());
        let all: Vec<ServicePort> = (0..n).map(|i| service(i, 2)).collect();
        let started = Instant::now();
        p.sync_all(all)?;
        let full = started.elapsed();
        let mut adds = Vec::new();
        for k in 0..20 {
            let sp = service(n + k, 2);
            let started = Instant::now();
            p.update(vec![(sp.name.clone(), Some(sp))])?;
            adds.push(started.elapsed());
        }
        let mut changes = Vec::new();
        for k in 0..20 {
            let mut sp = service(k, 2);
            sp.endpoints.push(Endpoint { ip: Ipv4Addr::new(10, 245, 0, k as u8), port: 8080, local: false });
            let started = Instant::now();
            p.update(vec![(sp.name.clone(), Some(sp))])?;
            changes.push(started.elapsed());
        }
        let (kp_full, kp_add) = if n <= kube_proxy_max {
            let (f, a) = kube_proxy_load(n)?;
            (ms(f), ms(a))
        } else {
            ("(not run)".into(), "(not run)".into())
        };
        println!("| {n} | {} | {} | {} | {kp_full} | {kp_add} |", ms(full), ms(median(adds)), ms(median(changes)),);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Data plane
// ---------------------------------------------------------------------------------------

/// A node namespace with two pods on its bridge: the client (.2) and the server (.3), whose
/// acceptor answers every connection; dropped with its namespaces.
pub(super) struct Lab {
    _scratch: Vec<Scratch>,
    node: Netns,
    client: String,
    server: String,
    stop: Arc<AtomicBool>,
    acceptor: Option<std::thread::JoinHandle<()>>,
}

pub(super) const SERVER: Ipv4Addr = Ipv4Addr::new(10, 244, 1, 3);
const VIP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 10);

impl Lab {
    pub(super) async fn new(tag: &str) -> Result<Lab> {
        use netcore::link::Netlink;
        use netcore::model::{NodeNetwork, PodNetwork};
        use netcore::podnet;
        let node_s = Scratch::new(&format!("{tag}node"))?;
        let node = node_s.open()?;
        let nl = Netlink::open(&node)?;
        nl.set_up(1, "lo").await?;
        let gateway = Ipv4Addr::new(10, 244, 1, 1);
        let bridge =
            podnet::prepare_node(&nl, &node, &NodeNetwork { bridge: "fnbr0".into(), gateway, prefix: 24 }).await?;
        let mut names = Vec::new();
        for (i, role) in ["client", "server"].iter().enumerate() {
            let name = format!("flatnet-bench-{tag}{role}-{}", std::process::id());
            let _ = netns::delete(&name);
            let pod = PodNetwork {
                netns: name.clone(),
                host_veth: format!("fnbench{i}"),
                ip: Ipv4Addr::new(10, 244, 1, 2 + i as u8),
                prefix: 24,
                gateway,
                mtu: None,
            };
            podnet::attach_pod(&nl, bridge, &pod).await?;
            names.push(name);
        }
        let (client, server) = (names[0].clone(), names[1].clone());
        let listener = Netns::open(&server)?.run(|| TcpListener::bind((SERVER, 8080)))??;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let acceptor = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((c, _)) => drop(c),
                    Err(_) => std::thread::sleep(Duration::from_micros(50)),
                }
            }
        });
        let scratch = vec![node_s, Scratch(client.clone()), Scratch(server.clone())];
        Ok(Lab { _scratch: scratch, node, client, server, stop, acceptor: Some(acceptor) })
    }

    pub(super) fn node_name(&self) -> &str {
        self.node.name()
    }

    pub(super) fn client_name(&self) -> &str {
        &self.client
    }

    pub(super) fn server_name(&self) -> &str {
        &self.server
    }

    /// Program `extra` filler services besides the target ones (the cluster IP `VIP:80` →
    /// the server's 8080, `VIP:5201` → its iperf3).
    fn program(&self, extra: usize) -> Result<Proxier> {
        let target = ServicePort {
            name: "bench/target:80".into(),
            cluster_ip: VIP,
            proto: Proto::Tcp,
            port: 80,
            node_port: None,
            external_local: false,
            affinity_seconds: None,
            endpoints: vec![Endpoint { ip: SERVER, port: 8080, local: true }],
        };
        let iperf_svc = ServicePort {
            name: "bench/iperf:5201".into(),
            port: 5201,
            endpoints: vec![Endpoint { ip: SERVER, port: 5201, local: true }],
            ..target.clone()
        };
        let mut p = Proxier::new(Netns::open(self.node.name())?, config());
        p.sync_all((0..extra).map(|i| service(i, 2)).chain([target, iperf_svc]).collect())?;
        Ok(p)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
    }
}

/// `count` TCP connects (each closed at once) from `ns` to `to`; answers each one's time.
pub(super) fn connect_times(ns: &Netns, to: SocketAddr, count: usize) -> Result<Vec<Duration>> {
    Ok(ns.run(move || -> std::io::Result<Vec<Duration>> {
        let mut times = Vec::with_capacity(count);
        for _ in 0..count {
            let started = Instant::now();
            let _s = TcpStream::connect_timeout(&to, Duration::from_secs(2))?;
            times.push(started.elapsed());
        }
        Ok(times)
    })??)
}

/// Two identical labs, one with 10 services and one with 10,000 (plus the targets); the
/// measurements alternate between them in small batches, so the machine's drift hits both
/// alike.
async fn dataplane(connects: usize, rounds: usize, secs: u32) -> Result<()> {
    let (small, big) = (Lab::new("dpa").await?, Lab::new("dpb").await?);
    let _ps = small.program(8)?;
    let _pb = big.program(9_998)?;
    let (sc, bc) = (Netns::open(&small.client)?, Netns::open(&big.client)?);
    // Warm up every path.
    for (ns, to) in [(&sc, (SERVER, 8080)), (&sc, (VIP, 80)), (&bc, (SERVER, 8080)), (&bc, (VIP, 80))] {
        connect_times(ns, to.into(), 200)?;
    }
    let batch = 50;
    let (mut direct, mut ten, mut many) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..(connects * rounds).div_ceil(batch) {
        direct.extend(connect_times(&sc, (SERVER, 8080).into(), batch)?);
        ten.extend(connect_times(&sc, (VIP, 80).into(), batch)?);
        many.extend(connect_times(&bc, (VIP, 80).into(), batch)?);
    }
    let n = direct.len();
    let (direct, ten, many) = (median(direct), median(ten), median(many));
    println!("\n### Data-plane cost (TCP connect, pod → pod on one node, {n} connects per path in alternating batches of {batch}, median)\n");
    println!("| path | median connect |");
    println!("|---|---|");
    println!("| pod IP directly (lab with 10 services) | {} µs |", direct.as_micros());
    println!("| cluster IP, 10 services installed | {} µs |", ten.as_micros());
    println!("| cluster IP, 10,000 services installed | {} µs |", many.as_micros());
    println!("\nratio 10,000 / 10 services: {:.3}", many.as_secs_f64() / ten.as_secs_f64());

    // Throughput: iperf3 through the cluster IP against the pod IP, alternating runs.
    let mut server = Command::new("ip")
        .args(["netns", "exec", &small.server, "iperf3", "-s", "-B", &SERVER.to_string()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("start iperf3 -s (apt-get install -y iperf3)")?;
    let (mut to_pod, mut to_vip) = (Vec::new(), Vec::new());
    let result = (|| -> Result<()> {
        for _ in 0..rounds {
            to_pod.push(iperf(&small.client, &SERVER.to_string(), secs)?);
            to_vip.push(iperf(&small.client, &VIP.to_string(), secs)?);
        }
        Ok(())
    })();
    let _ = server.kill();
    let _ = server.wait();
    result?;
    let med = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let (pod_bw, vip_bw) = (med(to_pod), med(to_vip));
    println!(
        "\n### Throughput through a cluster IP (one iperf3 TCP stream, {secs} s, alternating, median of {rounds})\n"
    );
    println!("| path | Gbit/s |");
    println!("|---|---|");
    println!("| pod IP directly | {pod_bw:.2} |");
    println!("| cluster IP (DNAT to the same pod) | {vip_bw:.2} |");
    println!("\nratio cluster IP / pod IP: {:.3}", vip_bw / pod_bw);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// End to end
// ---------------------------------------------------------------------------------------

async fn e2e(services: usize) -> Result<()> {
    use openapi::{IntOrString, ObjectMeta, Service, ServicePort as ApiPort, ServiceSpec};
    let (cluster, _) = Cluster::up(3, "host-gw")?;
    let client = cluster.client()?;
    // One netexec pod per node: the clients, and the endpoints of every service.
    let netexec = std::env::current_exe()?.with_file_name("flatnet");
    let netexec = netexec.to_string_lossy().to_string();
    let mut pods = Vec::new();
    for i in 1..=3 {
        let (ns, _) = cluster
            .pod_with_labels(&format!("p-{i}"), &format!("node-{i}"), &[&netexec, "netexec"], &[("app", "bench")])
            .await?;
        pods.push(ns);
    }
    // Wait until every pod answers (its server is up), so endpoints are ready.
    let api = client.api::<openapi::Pod>(Some("default"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list = api.list(&Default::default()).await?;
        if list.items.iter().filter(|p| p.is_ready()).count() == 3 {
            break;
        }
        if Instant::now() > deadline {
            bail!("pods not ready");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let svc_api = client.api::<Service>(Some("default"));
    let list = svc_api.list(&Default::default()).await?;
    let mut watch = svc_api.watch(&Default::default(), &list.metadata.resource_version);
    let mut e2e = Vec::new();
    let mut watched = Vec::new();
    let mut per_node: Vec<Vec<Duration>> = vec![Vec::new(); 3];
    for i in 0..services {
        let svc = Service {
            metadata: ObjectMeta { name: format!("lat-{i}"), ..Default::default() },
            spec: ServiceSpec {
                selector: [("app".to_string(), "bench".to_string())].into(),
                ports: vec![ApiPort { port: 80, target_port: Some(IntOrString::Int(8080)), ..Default::default() }],
                ..Default::default()
            },
            ..Default::default()
        };
        let created = svc_api.create(&svc).await?;
        let accepted = Instant::now();
        let vip: Ipv4Addr = created.spec.cluster_ip.clone().context("no cluster IP")?.parse()?;
        let probes: Vec<_> = pods
            .iter()
            .map(|ns| {
                let ns = ns.clone();
                std::thread::spawn(move || -> Result<Duration> {
                    let netns = Netns::open(&ns)?;
                    let to: SocketAddr = (vip, 80).into();
                    let limit = Instant::now() + Duration::from_secs(10);
                    let ok = netns.run(move || loop {
                        if TcpStream::connect_timeout(&to, Duration::from_millis(3)).is_ok() {
                            return Some(Instant::now());
                        }
                        if Instant::now() > limit {
                            return None;
                        }
                        std::thread::sleep(Duration::from_micros(500));
                    })?;
                    ok.map(|t| t.duration_since(accepted)).context("no connection within 10 s")
                })
            })
            .collect();
        // The watcher's view, meanwhile.
        loop {
            match tokio::time::timeout(Duration::from_secs(10), watch.next()).await {
                Ok(Some(Ok(openapi::client::WatchEvent::Added(s)))) if s.metadata.name == created.metadata.name => {
                    watched.push(accepted.elapsed());
                    break;
                }
                Ok(Some(Ok(_))) => {}
                other => bail!("watch: {other:?}"),
            }
        }
        for (n, probe) in probes.into_iter().enumerate() {
            let t = probe.join().map_err(|_| anyhow::anyhow!("probe panicked"))??;
            per_node[n].push(t);
            e2e.push(t);
        }
    }
    e2e.sort();
    watched.sort();
    println!("\n### End-to-end programming latency ({services} services, 3 nodes, host-gw)\n");
    println!("| from the API accepting a service to … | median | p99 | max |");
    println!("|---|---|---|---|");
    println!(
        "| a watcher on the API seeing it (baseline) | {} | {} | {} |",
        ms(percentile(&watched, 0.5)),
        ms(percentile(&watched, 0.99)),
        ms(*watched.last().unwrap())
    );
    println!(
        "| the first TCP connection through its cluster IP, from a pod on each node ({} samples) | {} | {} | {} |",
        e2e.len(),
        ms(percentile(&e2e, 0.5)),
        ms(percentile(&e2e, 0.99)),
        ms(*e2e.last().unwrap())
    );
    for (n, mut v) in per_node.into_iter().enumerate() {
        v.sort();
        println!(
            "| … from node-{} | {} | {} | {} |",
            n + 1,
            ms(percentile(&v, 0.5)),
            ms(percentile(&v, 0.99)),
            ms(*v.last().unwrap())
        );
    }
    let _ = std::io::stdout().flush();
    drop(cluster);
    Ok(())
}

pub async fn run(part: &str, connects: usize, rounds: usize, secs: u32, services: usize) -> Result<()> {
    if !super::is_root() {
        bail!("the services benchmark needs root (namespaces and nftables)");
    }
    if matches!(part, "rules" | "all") {
        rules(&[100, 1_000, 10_000, 50_000], 10_000).await?;
    }
    if matches!(part, "dataplane" | "all") {
        dataplane(connects, rounds, secs).await?;
    }
    if matches!(part, "e2e" | "all") {
        e2e(services).await?;
    }
    Ok(())
}
