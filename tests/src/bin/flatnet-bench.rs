//! flatnet's benchmarks. Each subcommand starts what it measures itself, runs its baseline
//! in the same run (these machines are noisy: compare ratios, not absolute figures), and
//! prints a table for BENCHMARKS.md.
//!
//! `flatnet-bench api`: the API server over HTTP, with the release `apiserver` binary that
//! sits next to this one (`cargo build --release -p flatnet-apiserver -p flatnet-tests`):
//! pod creates per second (sequential and 64 concurrent clients), list latency with 10,000
//! pods, and watch delivery latency (write → event at each of 100 concurrent watchers).
//! Baselines in the same run: one fdatasync on the data directory's disk (the floor of a
//! durable commit) and one `GET /healthz` round trip (the floor of an HTTP request).
//!
//! `flatnet-bench services`: the service data plane: rule programming (against kube-proxy's
//! nftables layout), connect latency and throughput through a cluster IP, end-to-end
//! programming latency; see `bench/services.rs`.
//!
//! `flatnet-bench policy`: network policies: programming 1,000 policies over 5,000 pods
//! (compile and kernel apply apart), the data path to an isolated pod against an open one,
//! and the time from a policy write to enforcement on every node; see `bench/policy.rs`.
//!
//! `flatnet-bench dns`: the node's cluster DNS server against dnsmasq with dnsperf, each
//! pinned to one core, single-query latency, and the zone's memory; see `bench/dns.rs`.
//!
//! `flatnet-bench controlplane`: simulated nodes (the agent's watches and heartbeats) on
//! SQLite with one server and PostgreSQL with two; see `bench/controlplane.rs`.
//!
//! `flatnet-bench netsetup`: pod network setup latency (netns, veth, bridge, address,
//! route, until the pod's first packet arrives) of flatnet's netcore against the CNI
//! bridge plugin and netavark in the same run, and teardown; see `bench/netsetup.rs`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use futures::StreamExt;
use openapi::client::{Client, ListParams};
use openapi::{Container, Heartbeat, Node, NodeAddress, NodeStatus, ObjectMeta, Pod, PodSpec};

#[path = "bench/agent.rs"]
mod agent;
#[path = "bench/controlplane.rs"]
mod controlplane;
#[path = "bench/dns.rs"]
mod dns;
#[path = "bench/netsetup.rs"]
mod netsetup;
#[path = "bench/policy.rs"]
mod policy;
#[path = "bench/services.rs"]
mod services;
#[path = "bench/throughput.rs"]
mod throughput;

#[derive(Parser)]
#[command(about = "flatnet benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Benchmark the API server over HTTP.
    Api {
        /// Pods created one after the other.
        #[arg(long, default_value_t = 1000)]
        sequential: usize,
        /// Concurrent clients for the concurrent create phase.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Total pods in the store for the list phase.
        #[arg(long, default_value_t = 10_000)]
        list_pods: usize,
        /// Lists timed.
        #[arg(long, default_value_t = 30)]
        lists: usize,
        /// Concurrent watchers.
        #[arg(long, default_value_t = 100)]
        watchers: usize,
        /// Writes observed by every watcher.
        #[arg(long, default_value_t = 200)]
        watch_writes: usize,
        /// Where the data directory goes (a temporary one by default).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// The control plane with simulated nodes (the agent's watches and heartbeats, no
    /// kernel work): write → event at the nodes, creates/s, servers' CPU and memory, on
    /// SQLite with one server and PostgreSQL with two (release `apiserver` beside this one).
    Controlplane {
        /// Node counts, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "100,1000")]
        nodes: Vec<usize>,
        /// Setups, comma-separated: sqlite (one server), postgres (two servers).
        #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
        setups: Vec<String>,
        #[arg(long, default_value_t = 10)]
        steady_secs: u64,
        #[arg(long, default_value_t = 20)]
        steady_rate: u64,
        #[arg(long, default_value_t = 5)]
        burst_secs: u64,
        #[arg(long, default_value_t = 200)]
        burst_rate: u64,
        /// Seconds of the creates/s phase.
        #[arg(long, default_value_t = 5)]
        create_secs: u64,
        /// The servers' lease TTL (the nodes heartbeat every third of it).
        #[arg(long, default_value_t = 20)]
        lease_ttl: u64,
        /// Run only the creates/s phase (after the nodes have listed), no steady or burst.
        #[arg(long)]
        creates_only: bool,
        /// Concurrent clients of the creates/s phase (spread over the servers).
        #[arg(long, default_value_t = 64)]
        creators: usize,
    },
    /// Benchmark pod network setup: flatnet (netcore) against CNI and netavark (as root).
    Netsetup {
        /// Pods wired by each implementation, one after the other.
        #[arg(long, default_value_t = 100)]
        pods: usize,
    },
    /// The node agent under pods: N pods created at once until all Ready, then memory and
    /// idle CPU with `total` pods (needs the release binaries beside this one).
    Agent {
        #[arg(long, default_value_t = 50)]
        pods: usize,
        #[arg(long, default_value_t = 100)]
        total: usize,
    },
    /// The service data plane (as root): rule programming against kube-proxy's layout,
    /// connect latency and throughput through a cluster IP, and end-to-end programming
    /// latency on a 3-node cluster (release binaries beside this one).
    Services {
        /// rules, dataplane, e2e or all.
        #[arg(long, default_value = "all")]
        part: String,
        /// TCP connects per configuration and round.
        #[arg(long, default_value_t = 1000)]
        connects: usize,
        /// Rounds of the data-plane measurements.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Seconds per iperf3 run.
        #[arg(long, default_value_t = 5)]
        secs: u32,
        /// Services created for the end-to-end latency.
        #[arg(long, default_value_t = 50)]
        services: usize,
    },
    /// Network policies (as root): programming 1,000 policies over 5,000 pods on a node,
    /// connect latency and throughput to an isolated pod against an open one, and the time
    /// from a policy write to enforcement on every node of a 3-node cluster (release
    /// binaries beside this one).
    Policy {
        /// rules, dataplane, e2e or all.
        #[arg(long, default_value = "all")]
        part: String,
        /// Every how many pods one is on the programmed node (50: 100 of 5,000, about
        /// Kubernetes' default of 110 pods per node).
        #[arg(long, default_value_t = 50)]
        local_every: usize,
        /// TCP connects per server and round.
        #[arg(long, default_value_t = 1000)]
        connects: usize,
        /// Rounds of the data-path measurements.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Seconds per iperf3 run.
        #[arg(long, default_value_t = 5)]
        secs: u32,
        /// Policy creates (and deletes) for the end-to-end latency.
        #[arg(long, default_value_t = 30)]
        writes: usize,
    },
    /// The node's cluster DNS server against dnsmasq (dnsperf, each pinned to one core),
    /// single-query latency, and the zone's memory (release build; taskset, dnsperf and
    /// dnsmasq from Debian).
    Dns {
        /// Services in the zone queried.
        #[arg(long, default_value_t = 1000)]
        services: usize,
        /// Seconds of each dnsperf run.
        #[arg(long, default_value_t = 10)]
        secs: u32,
        /// Single queries timed for the latency.
        #[arg(long, default_value_t = 20_000)]
        queries: usize,
        /// Services in the zone whose memory is measured.
        #[arg(long, default_value_t = 10_000)]
        memory_services: usize,
    },
    /// (internal) Serve a zone of N services on 127.0.0.1:PORT, for `dns`.
    #[command(hide = true)]
    DnsServe {
        #[arg(long)]
        port: u16,
        #[arg(long)]
        services: usize,
    },
    /// Pod-to-pod throughput over host-gw and VXLAN against the raw underlay, and the time
    /// of `flatnet up` (needs the release flatnet, apiserver and nodeagent beside this binary).
    Throughput {
        /// Seconds per iperf3 run.
        #[arg(long, default_value_t = 5)]
        secs: u32,
        /// Runs per path (the median is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
}

/// Whether this process runs as root (namespaces and nftables need it).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0")))
        .unwrap_or(false)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

struct Server {
    child: Child,
    url: String,
    token: String,
    /// The server's CA (`DATA/ca.crt`): clients pin it.
    ca: Vec<u8>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sibling_binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe.parent().context("no parent of the bench binary")?.join(name);
    if !path.exists() {
        bail!(
            "{} not found: build it with `cargo build --release -p flatnet-apiserver -p flatnet-tests`",
            path.display()
        );
    }
    Ok(path)
}

fn start_apiserver(data_dir: &std::path::Path) -> Result<Server> {
    let mut child = Command::new(sibling_binary("apiserver")?)
        .args(["--listen", "127.0.0.1:0", "--node-subnet-prefix", "20", "--watch-history", "1000000"])
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .context("start apiserver")?;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().context("apiserver exited early")??;
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let token = std::fs::read_to_string(data_dir.join("admin.token"))?.trim().to_string();
    let ca = std::fs::read(data_dir.join("ca.crt"))?;
    Ok(Server { child, url, token, ca })
}

fn pod(name: &str, namespace: &str) -> Pod {
    Pod {
        metadata: ObjectMeta { name: name.into(), namespace: Some(namespace.into()), ..Default::default() },
        spec: PodSpec {
            containers: vec![Container {
                name: "app".into(),
                command: vec!["flatnet".into(), "netexec".into()],
                ..Default::default()
            }],
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Median fdatasync of a 4 KiB write in `dir`: the floor of one durable commit.
fn fsync_baseline(dir: &std::path::Path) -> Result<Duration> {
    let path = dir.join("fsync-probe");
    let mut f = std::fs::File::create(&path)?;
    let mut times = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        f.write_all(&[0u8; 4096])?;
        f.sync_data()?;
        times.push(t.elapsed());
    }
    std::fs::remove_file(&path)?;
    times.sort();
    Ok(percentile(&times, 0.5))
}

async fn api_bench(
    sequential: usize,
    clients: usize,
    list_pods: usize,
    lists: usize,
    watchers: usize,
    watch_writes: usize,
    data_dir: Option<PathBuf>,
) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = data_dir.unwrap_or_else(|| tmp.path().to_path_buf());
    let server = start_apiserver(&dir)?;
    let client = Client::with_ca(&server.url, Some(server.token.clone()), &server.ca)?;
    // Raw requests, as any client sends them: over TLS, with the token.
    let mut auth = reqwest::header::HeaderMap::new();
    auth.insert(reqwest::header::AUTHORIZATION, format!("Bearer {}", server.token).parse()?);
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&server.ca)?)
        .default_headers(auth)
        .build()?;

    // Three Ready nodes, so creates include scheduling and pod IP allocation.
    for i in 0..3 {
        let name = format!("node-{i}");
        let node = Node {
            metadata: ObjectMeta { name: name.clone(), ..Default::default() },
            status: NodeStatus {
                addresses: vec![NodeAddress {
                    address_type: "InternalIP".into(),
                    address: format!("192.168.77.{}", i + 2),
                }],
                ..Default::default()
            },
            ..Default::default()
        };
        client.nodes().create(&node).await?;
        client.heartbeat(&name, &Heartbeat::default()).await?;
    }
    // Keep the nodes Ready for the whole run.
    let hb_client = client.clone();
    let heartbeats = tokio::spawn(async move {
        loop {
            for i in 0..3 {
                let _ = hb_client.heartbeat(&format!("node-{i}"), &Heartbeat::default()).await;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });

    let fsync = fsync_baseline(&dir)?;
    let mut rtts = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        http.get(format!("{}/healthz", server.url)).send().await?.bytes().await?;
        rtts.push(t.elapsed());
    }
    rtts.sort();
    let rtt = percentile(&rtts, 0.5);

    // Sequential creates.
    let pods = client.pods("bench");
    let mut lat = Vec::with_capacity(sequential);
    let t0 = Instant::now();
    for i in 0..sequential {
        let t = Instant::now();
        pods.create(&pod(&format!("seq-{i}"), "bench")).await?;
        lat.push(t.elapsed());
    }
    let seq_elapsed = t0.elapsed();
    lat.sort();
    let seq_rate = sequential as f64 / seq_elapsed.as_secs_f64();

    // Concurrent creates: `clients` clients, until the store holds `list_pods` pods.
    let concurrent_total = list_pods.saturating_sub(sequential).max(clients);
    let per_client = concurrent_total.div_ceil(clients);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let pods = pods.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let t = Instant::now();
                pods.create(&pod(&format!("par-{c}-{i}"), "bench")).await?;
                lat.push(t.elapsed());
            }
            anyhow::Ok(lat)
        }));
    }
    let mut clat = Vec::new();
    for t in tasks {
        clat.extend(t.await??);
    }
    let par_elapsed = t0.elapsed();
    clat.sort();
    let par_rate = clat.len() as f64 / par_elapsed.as_secs_f64();

    // List latency over the whole store (all namespaces): request sent to body fully received.
    let mut list_lat = Vec::new();
    let mut count = 0;
    for _ in 0..lists {
        let t = Instant::now();
        let body = http.get(format!("{}/api/v1/pods", server.url)).send().await?.bytes().await?;
        list_lat.push(t.elapsed());
        let v: serde_json::Value = serde_json::from_slice(&body)?;
        count = v["items"].as_array().map(|a| a.len()).unwrap_or(0);
    }
    list_lat.sort();
    let list_bytes = http.get(format!("{}/api/v1/pods", server.url)).send().await?.bytes().await?.len();

    // Watch delivery: `watchers` streams on one namespace, `watch_writes` writes into it.
    let rv = client.pods("watched").list(&ListParams::default()).await?.metadata.resource_version;
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let deliveries: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let mut watch_tasks = Vec::new();
    for _ in 0..watchers {
        let url = format!("{}/api/v1/namespaces/watched/pods?watch=true&resourceVersion={rv}", server.url);
        let resp = http.get(url).send().await?;
        let sent = sent.clone();
        let deliveries = deliveries.clone();
        watch_tasks.push(tokio::spawn(async move {
            let mut body = resp.bytes_stream();
            let mut buf = Vec::new();
            let mut seen = 0;
            while seen < watch_writes {
                let Some(chunk) = body.next().await else { break };
                let chunk = chunk?;
                buf.extend_from_slice(&chunk);
                while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=pos).collect();
                    let now = Instant::now();
                    let v: serde_json::Value = serde_json::from_slice(&line)?;
                    let name = v["object"]["metadata"]["name"].as_str().unwrap_or_default().to_string();
                    let t = sent.lock().unwrap().get(&name).copied();
                    if let Some(t) = t {
                        deliveries.lock().unwrap().push(now - t);
                        seen += 1;
                    }
                }
            }
            anyhow::Ok(())
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let watched = client.pods("watched");
    for i in 0..watch_writes {
        let name = format!("w-{i}");
        sent.lock().unwrap().insert(name.clone(), Instant::now());
        watched.create(&pod(&name, "watched")).await?;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for t in watch_tasks {
        tokio::time::timeout(Duration::from_secs(60), t).await.context("watchers did not see every write")???;
    }
    let mut wlat = deliveries.lock().unwrap().clone();
    wlat.sort();
    heartbeats.abort();

    println!("## API server (flatnet-bench api)\n");
    println!("| measurement | result |");
    println!("|---|---|");
    println!("| baseline: fdatasync of 4 KiB on the data disk, median | {} |", ms(fsync));
    println!("| baseline: `GET /healthz` round trip, median | {} |", ms(rtt));
    println!(
        "| sequential pod creates ({sequential}) | {seq_rate:.0}/s (median {}, p99 {}; {:.1} fsync floors per create) |",
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
        percentile(&lat, 0.5).as_secs_f64() / fsync.as_secs_f64()
    );
    println!(
        "| concurrent pod creates ({clients} clients, {}) | {par_rate:.0}/s (median {}, p99 {}; {:.1}× sequential) |",
        clat.len(),
        ms(percentile(&clat, 0.5)),
        ms(percentile(&clat, 0.99)),
        par_rate / seq_rate
    );
    println!(
        "| list of {count} pods ({:.1} MB), {lists} lists | median {}, p99 {} |",
        list_bytes as f64 / 1e6,
        ms(percentile(&list_lat, 0.5)),
        ms(percentile(&list_lat, 0.99))
    );
    println!(
        "| watch delivery, write → event, {watchers} watchers × {watch_writes} writes ({} deliveries) | median {}, p99 {}, max {} |",
        wlat.len(),
        ms(percentile(&wlat, 0.5)),
        ms(percentile(&wlat, 0.99)),
        ms(*wlat.last().unwrap_or(&Duration::ZERO))
    );
    Ok(())
}

/// The same allocator as the API server's and the agent's (mimalloc): the simulated nodes
/// stand for agents.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Api { sequential, clients, list_pods, lists, watchers, watch_writes, data_dir } => {
            api_bench(sequential, clients, list_pods, lists, watchers, watch_writes, data_dir).await
        }
        Cmd::Controlplane {
            nodes,
            setups,
            steady_secs,
            steady_rate,
            burst_secs,
            burst_rate,
            create_secs,
            lease_ttl,
            creates_only,
            creators,
        } => {
            controlplane::run(controlplane::Opts {
                nodes,
                setups,
                steady_secs,
                steady_rate,
                burst_secs,
                burst_rate,
                create_secs,
                lease_ttl,
                creates_only,
                creators,
            })
            .await
        }
        Cmd::Netsetup { pods } => netsetup::run(pods).await,
        Cmd::Throughput { secs, runs } => throughput::run(secs, runs).await,
        Cmd::Agent { pods, total } => agent::run(pods, total).await,
        Cmd::Policy { part, local_every, connects, rounds, secs, writes } => {
            policy::run(&part, local_every, connects, rounds, secs, writes).await
        }
        Cmd::Services { part, connects, rounds, secs, services } => {
            services::run(&part, connects, rounds, secs, services).await
        }
        Cmd::Dns { services, secs, queries, memory_services } => {
            dns::run(services, secs, queries, memory_services).await
        }
        Cmd::DnsServe { port, services } => dns::serve(port, services).await,
    }
}
