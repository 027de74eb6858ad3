//! `flatnet-bench controlplane`: the control plane with many nodes, simulated in this
//! process. Each simulated node runs the agent's own watches (its [`Reflector`]s: pods with
//! `spec.nodeName=NODE`, all services, all endpoints, all node leases) and heartbeats every
//! third of the lease TTL, as the agent does; it does no kernel work. Nodes are spread over
//! the servers (node i on server i mod n).
//!
//! Per setup (SQLite and one server; PostgreSQL and two servers) and node count:
//! - a steady phase (`--steady-rate` changes/s) and a burst (`--burst-rate` changes/s). A
//!   change is a pod created on a random node (its event goes to that node's pod watch), or
//!   every tenth change a service (its event goes to every node). Writes go to the servers
//!   in turn. Reported: write → event at the node(s), p50 and p99, over every delivery;
//! - creates/s: 64 clients (`--creators`) creating pods bound to random nodes as fast as they can;
//! - CPU (user + system, as a share of one core, over the phases) and RSS (now and peak)
//!   of each API server, read from /proc; for PostgreSQL also its processes' CPU.
//!
//! Needs the release `apiserver` beside this binary and, for PostgreSQL, Debian's
//! `postgresql` (run as root: the database runs as user `postgres`).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures::StreamExt;
use nodeagent::reflector::{ApiSource, Event, Reflector};
use openapi::client::{Client, ListParams};
use openapi::{Endpoints, Heartbeat, Node, Pod, Service};

use crate::{ms, percentile, sibling_binary};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Phase {
    Steady,
    Burst,
}

/// A server process (killed on drop).
struct ApiServer {
    child: Child,
    url: String,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throwaway PostgreSQL (unix socket only, in a temporary directory), stopped on drop.
struct Postgres {
    child: Child,
    dir: PathBuf,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Immediate shutdown (SIGQUIT), then the directory.
        let _ = Command::new("kill").args(["-QUIT", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn pg_bin() -> Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL is not installed (scripts/deps.sh)")?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("postgres").exists())
        .collect();
    versions.sort();
    Ok(versions.pop().context("no PostgreSQL server in /usr/lib/postgresql")?.1)
}

fn start_postgres(base: &Path) -> Result<(Postgres, String)> {
    let bin = pg_bin()?;
    let dir = base.join("pg");
    std::fs::create_dir_all(&dir)?;
    let ok = Command::new("chown").arg("-R").arg("postgres:postgres").arg(base).status()?.success();
    if !ok {
        bail!("chown {} to postgres", base.display());
    }
    let as_pg = |prog: &str| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid", "postgres", "--regid", "postgres", "--clear-groups"]).arg(bin.join(prog));
        c
    };
    let data = dir.join("data");
    let out = as_pg("initdb")
        .arg("-D")
        .arg(&data)
        .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale", "C"])
        .output()?;
    if !out.status.success() {
        bail!("initdb: {}", String::from_utf8_lossy(&out.stderr));
    }
    let log = std::fs::File::create(dir.join("postgres.log"))?;
    // Durable commits (fsync on), as a production database would have.
    let child = as_pg("postgres")
        .arg("-D")
        .arg(&data)
        .arg("-k")
        .arg(&dir)
        .args(["-c", "listen_addresses=", "-c", "max_connections=200"])
        .args(if pg_statements() {
            &["-c", "shared_preload_libraries=pg_stat_statements", "-c", "pg_stat_statements.track=all"][..]
        } else {
            &[]
        })
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    let pg = Postgres { child, dir: dir.clone() };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ok = Command::new(bin.join("psql"))
            .arg("-h")
            .arg(&dir)
            .args(["-U", "postgres", "-d", "postgres", "-qAtc", "CREATE DATABASE flatnet"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            break;
        }
        if Instant::now() > deadline {
            bail!("PostgreSQL did not start");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let url = format!("postgres://postgres@localhost/flatnet?host={}", dir.display());
    Ok((pg, url))
}

/// Simulated nodes started at a time (see [`one`]).
const WAVE: usize = 250;

/// The pod CIDR the servers are given, and each node's share of it.
const POD_CIDR: &str = "100.64.0.0/10";

/// The prefix length of each node's subnet: as large as [`POD_CIDR`] allows for `nodes`
/// (at most /24). Small subnets would fill up in the creates/s phase with few nodes (a /24
/// holds 253 pods, 10 nodes 2,530), and then measure the search of a full subnet instead.
fn node_prefix(nodes: usize) -> u8 {
    let bits = usize::BITS - nodes.max(2).saturating_sub(1).leading_zeros();
    (10 + bits as u8).clamp(16, 24)
}

fn start_server(data_dir: &Path, store: Option<&str>, lease_ttl: u64, nodes: usize) -> Result<ApiServer> {
    // FLATNET_BENCH_APISERVER: another build to measure (e.g. a baseline).
    let binary = match std::env::var_os("FLATNET_BENCH_APISERVER") {
        Some(p) => PathBuf::from(p),
        None => sibling_binary("apiserver")?,
    };
    let mut cmd = Command::new(binary);
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--pod-cidr",
        POD_CIDR,
        "--node-subnet-prefix",
        &node_prefix(nodes).to_string(),
    ])
    .args(["--lease-ttl", &lease_ttl.to_string()])
    .arg("--data-dir")
    .arg(data_dir)
    .env("RUST_LOG", "warn")
    .stdout(Stdio::piped());
    if let Some(s) = store {
        cmd.args(["--store", s]);
    }
    let mut child = cmd.spawn().context("start apiserver")?;
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let url = loop {
        let line = lines.next().context("apiserver exited early")??;
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok(ApiServer { child, url })
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    let Some(rest) = stat.rsplit(')').next() else { return 0.0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat; `rest` starts at field 3.
    let ticks: f64 =
        f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0) + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// (VmRSS, VmHWM) in MB.
fn rss_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let get = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (get("VmRSS:"), get("VmHWM:"))
}

/// Every process whose command line starts with a PostgreSQL program under `dir`'s cluster.
fn postgres_pids(postmaster: u32) -> Vec<u32> {
    let mut out = vec![postmaster];
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let ppid = stat.rsplit(')').next().and_then(|r| r.split_whitespace().nth(1)).and_then(|v| v.parse().ok());
            if ppid == Some(postmaster) {
                out.push(pid);
            }
        }
    }
    out
}

/// Each write by object name: when it was sent, its phase, and when it was answered.
type Sent = Arc<Mutex<HashMap<String, (Instant, Phase, Option<Instant>)>>>;
/// One delivery: its phase, whether a service, write → event, and the write's answer →
/// event (zero when the event came first).
type Delivery = (Phase, bool, Duration, Duration);
type Deliveries = Arc<Mutex<Vec<Delivery>>>;

/// One simulated node: the agent's four watches and its heartbeat.
fn spawn_node(client: Client, name: String, ttl: u64, sent: Sent, deliveries: Deliveries, ready: Arc<AtomicUsize>) {
    let params = ListParams::default().fields(&format!("spec.nodeName={name}"));
    let mut pods = Reflector::new(ApiSource { api: client.api::<Pod>(None), params });
    let all = ListParams::default;
    let mut services = Reflector::new(ApiSource { api: client.api::<Service>(None), params: all() });
    let mut endpoints = Reflector::new(ApiSource { api: client.api::<Endpoints>(None), params: all() });
    let mut leases = Reflector::new(ApiSource { api: client.node_leases(), params: all() });
    let hb_client = client.clone();
    let hb_name = name.clone();
    tokio::spawn(async move {
        let period = Duration::from_secs((ttl / 3).max(1));
        // Spread the nodes' heartbeats over the period.
        let offset = period.mul_f64(rand_fraction(&hb_name));
        tokio::time::sleep(offset).await;
        loop {
            let _ = hb_client.heartbeat(&hb_name, &Heartbeat::default()).await;
            tokio::time::sleep(period).await;
        }
    });
    tokio::spawn(async move {
        let mut seen: HashSet<String> = HashSet::new();
        // Which of the four watches have delivered their first list (bits 0-3): the node
        // counts as ready once all four have.
        let mut listed = 0u8;
        let mut first_list = |bit: u8| {
            let before = listed;
            listed |= 1 << bit;
            if before != 0b1111 && listed == 0b1111 {
                ready.fetch_add(1, Ordering::Relaxed);
            }
        };
        let mut record = |name: &str, service: bool| {
            if !seen.insert(name.to_string()) {
                return;
            }
            let now = Instant::now();
            let at = sent.lock().unwrap().get(name).copied();
            if let Some((t, phase, answered)) = at {
                let after = answered.map(|a| now.saturating_duration_since(a)).unwrap_or_default();
                deliveries.lock().unwrap().push((phase, service, now - t, after));
            }
        };
        loop {
            tokio::select! {
                ev = pods.next() => match ev {
                    Event::Listed(items) => {
                        first_list(0);
                        // A relist (after a cut-off watch) delivers what the watch missed.
                        for p in items {
                            record(&p.metadata.name, false);
                        }
                    }
                    Event::Applied(p) => record(&p.metadata.name, false),
                    Event::Deleted(_) => {}
                },
                ev = services.next() => match ev {
                    Event::Listed(items) => {
                        first_list(1);
                        for s in items {
                            record(&s.metadata.name, true)
                        }
                    }
                    Event::Applied(s) => record(&s.metadata.name, true),
                    Event::Deleted(_) => {}
                },
                ev = endpoints.next() => if let Event::Listed(_) = ev { first_list(2) },
                ev = leases.next() => if let Event::Listed(_) = ev { first_list(3) },
            }
        }
    });
}

/// A fraction in [0, 1) from a name (spreads heartbeats without a random generator).
fn rand_fraction(s: &str) -> f64 {
    let h = s.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
    (h % 10_000) as f64 / 10_000.0
}

fn pod_on(name: &str, node: &str) -> Result<Pod> {
    Ok(serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": node, "containers": [{"name": "app", "command": ["flatnet", "netexec"]}]}
    }))?)
}

fn service(name: &str) -> Result<Service> {
    Ok(serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "protocol": "TCP"}]}
    }))?)
}

pub struct Opts {
    pub nodes: Vec<usize>,
    pub setups: Vec<String>,
    pub steady_secs: u64,
    pub steady_rate: u64,
    pub burst_secs: u64,
    pub burst_rate: u64,
    pub create_secs: u64,
    /// The servers' lease TTL; nodes heartbeat every third of it, as the agent does.
    pub lease_ttl: u64,
    /// Only the creates/s phase.
    pub creates_only: bool,
    /// Concurrent clients of the creates/s phase.
    pub creators: usize,
}

struct Row {
    setup: String,
    nodes: usize,
    steady: (Duration, Duration, usize),
    burst: (Duration, Duration, usize),
    fanout: (Duration, Duration),
    missing: usize,
    creates: f64,
    servers: Vec<(f64, f64, f64)>,
    postgres_cpu: Option<f64>,
    watchers: String,
    /// This process (the simulated nodes), in cores.
    nodes_cpu: f64,
    /// During the creates/s phase, in cores: each server, PostgreSQL, this process.
    creates_cpu: (Vec<f64>, Option<f64>, f64),
    /// Writes per commit during the creates/s phase, per server (from its /metrics).
    batch: Vec<f64>,
}

/// Open files this process and the servers (its children) need: a simulated node holds
/// one HTTP/2 connection carrying its four watches and its heartbeats (over HTTP/1.1 it
/// was one connection each, five per node), at both ends, and a few more for a while
/// (the creates phase's clients, reconnects).
fn files_needed(nodes: usize) -> u64 {
    nodes as u64 * 2 + 1024
}

/// Raise the open-file limit to the hard limit (the servers inherit it); fail early when
/// even that is too low for `nodes` rather than part-way through.
fn raise_nofile(nodes: usize) -> Result<u64> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    let need = files_needed(nodes);
    if hard < need {
        bail!(
            "{nodes} simulated nodes need about {need} open files in this process and in a single server, \
             above the hard limit of {hard} (raise it, e.g. `ulimit -Hn {need}` as a privileged user)"
        );
    }
    Ok(hard)
}

/// Sum of a series (all its label sets) in a Prometheus text page.
fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum()
}

/// Each server's /metrics page.
async fn metrics_pages(servers: &[ApiServer], token: &str, ca: &[u8]) -> Result<Vec<String>> {
    let http = reqwest::Client::builder().add_root_certificate(reqwest::Certificate::from_pem(ca)?).build()?;
    let mut out = Vec::new();
    for s in servers {
        out.push(http.get(format!("{}/metrics", s.url)).bearer_auth(token).send().await?.text().await?);
    }
    Ok(out)
}

/// `FLATNET_BENCH_PG_STATEMENTS=1`: PostgreSQL loads pg_stat_statements, and the statements
/// of the creates/s phase are printed (calls, mean and total time), for finding where a
/// write's time goes.
fn pg_statements() -> bool {
    std::env::var_os("FLATNET_BENCH_PG_STATEMENTS").is_some_and(|v| !v.is_empty() && v != "0")
}

fn psql(dir: &Path, sql: &str) -> Result<String> {
    let out = Command::new(pg_bin()?.join("psql"))
        .arg("-h")
        .arg(dir)
        .args(["-U", "postgres", "-d", "flatnet", "-qAtF", " | ", "-c", sql])
        .output()?;
    if !out.status.success() {
        bail!("psql: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub async fn run(opts: Opts) -> Result<()> {
    let most = opts.nodes.iter().copied().max().unwrap_or(0);
    let limit = raise_nofile(most)?;
    eprintln!("open-file limit {limit} (about {} needed for {most} nodes)", files_needed(most));
    let mut rows = Vec::new();
    for setup in &opts.setups {
        for &n in &opts.nodes {
            eprintln!("== {setup}, {n} nodes");
            match one(setup, n, &opts).await {
                Ok(row) => rows.push(row),
                Err(e) => eprintln!("{setup} with {n} nodes failed: {e:#}"),
            }
        }
    }
    println!("## Control plane at scale (flatnet-bench controlplane)\n");
    println!(
        "Steady {} changes/s for {} s, burst {} changes/s for {} s; a change is a pod bound to a random node, every tenth a service (to every node); lease TTL {} s (a heartbeat per node every {} s); creates/s from {} clients.\n",
        opts.steady_rate,
        opts.steady_secs,
        opts.burst_rate,
        opts.burst_secs,
        opts.lease_ttl,
        (opts.lease_ttl / 3).max(1),
        opts.creators
    );
    println!("| setup | nodes | steady write → event p50 / p99 | burst p50 / p99 | service → every node p50 / p99 | missed | creates/s | server CPU (cores) / RSS / peak RSS | PostgreSQL CPU | simulated nodes' CPU | terminated watchers | creates: CPU of servers / PostgreSQL / bench, writes per commit |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let servers: Vec<String> =
            r.servers.iter().map(|(cpu, rss, hwm)| format!("{cpu:.2} / {rss:.0} MB / {hwm:.0} MB")).collect();
        let creates_cpu = format!(
            "{} / {} / {:.2}, {}",
            r.creates_cpu.0.iter().map(|c| format!("{c:.2}")).collect::<Vec<_>>().join(" + "),
            r.creates_cpu.1.map(|c| format!("{c:.2}")).unwrap_or_else(|| "-".into()),
            r.creates_cpu.2,
            r.batch.iter().map(|b| format!("{b:.1}")).collect::<Vec<_>>().join(" + ")
        );
        println!(
            "| {} | {} | {} / {} ({}) | {} / {} ({}) | {} / {} | {} | {:.0} | {} | {} | {:.2} | {} | {} |",
            r.setup,
            r.nodes,
            ms(r.steady.0),
            ms(r.steady.1),
            r.steady.2,
            ms(r.burst.0),
            ms(r.burst.1),
            r.burst.2,
            ms(r.fanout.0),
            ms(r.fanout.1),
            r.missing,
            r.creates,
            servers.join("; "),
            r.postgres_cpu.map(|c| format!("{c:.2}")).unwrap_or_else(|| "-".into()),
            r.nodes_cpu,
            r.watchers,
            creates_cpu
        );
    }
    Ok(())
}

async fn one(setup: &str, nodes: usize, opts: &Opts) -> Result<Row> {
    let tmp = tempfile::Builder::new().prefix("flatnet-cp-").tempdir()?;
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data)?;
    let (pg, servers) = match setup {
        "sqlite" => (None, vec![start_server(&data, None, opts.lease_ttl, nodes)?]),
        "postgres" => {
            let (pg, url) = start_postgres(tmp.path())?;
            if pg_statements() {
                psql(&pg.dir, "CREATE EXTENSION pg_stat_statements")?;
            }
            let first = start_server(&data, Some(&url), opts.lease_ttl, nodes)?;
            let second = start_server(&data, Some(&url), opts.lease_ttl, nodes)?;
            (Some(pg), vec![first, second])
        }
        other => bail!("unknown setup {other} (sqlite or postgres)"),
    };
    let token = std::fs::read_to_string(data.join("admin.token"))?.trim().to_string();
    let ca = std::fs::read(data.join("ca.crt"))?;
    let clients: Vec<Client> = servers
        .iter()
        .map(|s| Client::with_ca(&s.url, Some(token.clone()), &ca).map_err(anyhow::Error::from))
        .collect::<Result<_>>()?;
    let ttl = opts.lease_ttl;

    // Register the nodes, 32 at a time.
    let names: Vec<String> = (0..nodes).map(|i| format!("node-{i}")).collect();
    futures::stream::iter(names.iter().enumerate())
        .map(|(i, name)| {
            let c = clients[i % clients.len()].clone();
            async move {
                let node: Node = serde_json::from_value(serde_json::json!({
                    "metadata": {"name": name},
                    "status": {"addresses": [{"type": "InternalIP", "address": format!("10.{}.{}.{}", 200 + i / 65536, (i / 256) % 256, i % 256)}]}
                }))?;
                c.nodes().create(&node).await?;
                c.heartbeat(name, &Heartbeat::default()).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()?;

    let sent: Sent = Arc::default();
    let deliveries: Deliveries = Arc::default();
    let writes: Arc<Mutex<Vec<(Phase, Duration)>>> = Arc::default();
    let ready = Arc::new(AtomicUsize::new(0));
    // Each simulated node has its own client, as each agent has: its own connection (with
    // HTTP/2 one connection carries all of a node's watches and heartbeats; shared by every
    // node it would carry thousands of streams on one connection, which no agent does).
    //
    // The nodes start in waves of [`WAVE`], each wave listing before the next starts, as a
    // rolling start would: every node's first list of the leases holds all N leases, so all
    // N nodes listing at once would hold N² leases in flight (25 million at 5,000 nodes).
    let starting = Instant::now();
    for (w, wave) in names.chunks(WAVE).enumerate() {
        for (j, name) in wave.iter().enumerate() {
            let i = w * WAVE + j;
            let own = Client::with_ca(&servers[i % servers.len()].url, Some(token.clone()), &ca)?;
            spawn_node(own, name.clone(), ttl, sent.clone(), deliveries.clone(), ready.clone());
        }
        let want = (w * WAVE + wave.len()).min(nodes);
        let deadline = Instant::now() + Duration::from_secs(300);
        while ready.load(Ordering::Relaxed) < want {
            if Instant::now() > deadline {
                bail!("only {} of {want} nodes listed what they watch", ready.load(Ordering::Relaxed));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    eprintln!("{nodes} simulated nodes listed what they watch in {:.1} s", starting.elapsed().as_secs_f64());
    // Let the first lists of every watch settle.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let pids: Vec<u32> = servers.iter().map(|s| s.child.id()).collect();
    let pg_pids = pg.as_ref().map(|p| postgres_pids(p.child.id())).unwrap_or_default();
    let cpu0: Vec<f64> = pids.iter().map(|p| cpu_seconds(*p)).collect();
    let pg0: f64 = pg_pids.iter().map(|p| cpu_seconds(*p)).sum();
    let me0 = cpu_seconds(std::process::id());
    let t0 = Instant::now();

    // The steady phase, then the burst: each change at its time, on its own task.
    let counter = Arc::new(AtomicUsize::new(0));
    let mut expected = 0usize;
    let mut tasks = Vec::new();
    let phases =
        [(Phase::Steady, opts.steady_rate, opts.steady_secs), (Phase::Burst, opts.burst_rate, opts.burst_secs)];
    for (phase, rate, secs) in if opts.creates_only { &phases[..0] } else { &phases[..] } {
        let (phase, rate, secs) = (*phase, *rate, *secs);
        let start = tokio::time::Instant::now();
        let total = rate * secs;
        for k in 0..total {
            tokio::time::sleep_until(start + Duration::from_secs_f64(k as f64 / rate as f64)).await;
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let client = clients[n % clients.len()].clone();
            let (sent, writes) = (sent.clone(), writes.clone());
            let is_service = n % 10 == 9;
            expected += if is_service { nodes } else { 1 };
            let node = names[(rand_fraction(&format!("x{n}")) * nodes as f64) as usize % nodes].clone();
            tasks.push(tokio::spawn(async move {
                let t = Instant::now();
                let name = format!("{}-{n}", if is_service { "s" } else { "p" });
                sent.lock().unwrap().insert(name.clone(), (t, phase, None));
                if is_service {
                    client.services("default").create(&service(&name)?).await?;
                } else {
                    client.pods("default").create(&pod_on(&name, &node)?).await?;
                }
                let done = Instant::now();
                if let Some(write) = sent.lock().unwrap().get_mut(&name) {
                    write.2 = Some(done);
                }
                writes.lock().unwrap().push((phase, done - t));
                anyhow::Ok(())
            }));
        }
    }
    for t in tasks {
        t.await??;
    }
    // Wait for the deliveries (at most 60 s).
    let wait_until = Instant::now() + Duration::from_secs(60);
    while deliveries.lock().unwrap().len() < expected && Instant::now() < wait_until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu1: Vec<f64> = pids.iter().map(|p| cpu_seconds(*p)).collect();
    let pg1: f64 = pg_pids.iter().map(|p| cpu_seconds(*p)).sum();
    let me1 = cpu_seconds(std::process::id());

    // Creates/s: 64 clients, pods bound to random nodes, `create_secs` seconds.
    if let Some(pg) = pg.as_ref().filter(|_| pg_statements()) {
        psql(&pg.dir, "SELECT pg_stat_statements_reset()")?;
    }
    let before = metrics_pages(&servers, &token, &ca).await?;
    let ccpu0: Vec<f64> = pids.iter().map(|p| cpu_seconds(*p)).collect();
    let cpg0: f64 = pg_pids.iter().map(|p| cpu_seconds(*p)).sum();
    let cme0 = cpu_seconds(std::process::id());
    let stop = Instant::now() + Duration::from_secs(opts.create_secs);
    let created = Arc::new(AtomicUsize::new(0));
    let c0 = Instant::now();
    let mut workers = Vec::new();
    for w in 0..opts.creators {
        let client = clients[w % clients.len()].clone();
        let names = names.clone();
        let created = created.clone();
        workers.push(tokio::spawn(async move {
            let mut k = 0;
            while Instant::now() < stop {
                let node = &names[(rand_fraction(&format!("c{w}-{k}")) * names.len() as f64) as usize % names.len()];
                client.pods("default").create(&pod_on(&format!("c-{w}-{k}"), node)?).await?;
                created.fetch_add(1, Ordering::Relaxed);
                k += 1;
            }
            anyhow::Ok(())
        }));
    }
    for w in workers {
        w.await??;
    }
    let create_elapsed = c0.elapsed().as_secs_f64();
    let creates = created.load(Ordering::Relaxed) as f64 / create_elapsed;
    let creates_cpu = (
        pids.iter().zip(&ccpu0).map(|(p, c)| (cpu_seconds(*p) - c) / create_elapsed).collect(),
        (!pg_pids.is_empty()).then(|| (pg_pids.iter().map(|p| cpu_seconds(*p)).sum::<f64>() - cpg0) / create_elapsed),
        (cpu_seconds(std::process::id()) - cme0) / create_elapsed,
    );
    let after = metrics_pages(&servers, &token, &ca).await?;
    let batch = before
        .iter()
        .zip(&after)
        .map(|(b, a)| {
            let writes = metric_sum(a, "flatnet_apiserver_store_writes_total")
                - metric_sum(b, "flatnet_apiserver_store_writes_total");
            let commits = metric_sum(a, "flatnet_apiserver_store_commit_duration_seconds_count")
                - metric_sum(b, "flatnet_apiserver_store_commit_duration_seconds_count");
            writes / commits.max(1.0)
        })
        .collect();
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        let d = |name: &str| metric_sum(a, name) - metric_sum(b, name);
        let commits = d("flatnet_apiserver_store_commit_duration_seconds_count").max(1.0);
        eprintln!(
            "server {i}: {:.0} writes in {commits:.0} commits; mean begin → commit {:.2} ms, of which waiting for the revision lock {:.2} ms",
            d("flatnet_apiserver_store_writes_total"),
            d("flatnet_apiserver_store_commit_duration_seconds_sum") / commits * 1000.0,
            d("flatnet_apiserver_store_lock_wait_seconds_sum") / commits * 1000.0,
        );
    }
    if let Some(pg) = pg.as_ref().filter(|_| pg_statements()) {
        let top = psql(
            &pg.dir,
            "SELECT calls, round(mean_exec_time::numeric, 3), round(total_exec_time::numeric, 1), \
             left(regexp_replace(query, '\\s+', ' ', 'g'), 110) FROM pg_stat_statements \
             ORDER BY total_exec_time DESC LIMIT 25",
        )?;
        eprintln!("statements of the creates/s phase (calls | mean ms | total ms | query):\n{top}");
    }

    // Watchers cut off, from each server's /metrics.
    let terminated: Vec<String> = after
        .iter()
        .map(|text| format!("{}", metric_sum(text, "flatnet_apiserver_watchers_terminated_total") + 0.0))
        .collect();

    // The simulated nodes' memory: each holds every lease, service and endpoints object
    // (its reflectors' caches), so it grows with the square of the node count.
    let (me_rss, me_hwm) = rss_mb(std::process::id());
    eprintln!("this process (the simulated nodes): RSS {me_rss:.0} MB, peak {me_hwm:.0} MB");
    let d = deliveries.lock().unwrap().clone();
    let pick = |f: &dyn Fn(&Delivery) -> bool| {
        let mut v: Vec<Duration> = d.iter().filter(|x| f(x)).map(|x| x.2).collect();
        v.sort();
        (percentile(&v, 0.5), percentile(&v, 0.99), v.len())
    };
    // Where the time goes: the write's own answer, and what follows it.
    let w = writes.lock().unwrap().clone();
    for phase in [Phase::Steady, Phase::Burst] {
        let mut answer: Vec<Duration> = w.iter().filter(|x| x.0 == phase).map(|x| x.1).collect();
        answer.sort();
        let mut after: Vec<Duration> = d.iter().filter(|x| x.0 == phase).map(|x| x.3).collect();
        after.sort();
        eprintln!(
            "{phase:?}: the write answered in p50 {} / p99 {}; its event at the nodes p50 {} / p99 {} after the answer",
            ms(percentile(&answer, 0.5)),
            ms(percentile(&answer, 0.99)),
            ms(percentile(&after, 0.5)),
            ms(percentile(&after, 0.99)),
        );
    }
    let steady = pick(&|x| x.0 == Phase::Steady);
    let burst = pick(&|x| x.0 == Phase::Burst);
    let f = pick(&|x| x.1);
    let servers_row = pids
        .iter()
        .zip(cpu0.iter().zip(&cpu1))
        .map(|(pid, (a, b))| {
            let (rss, hwm) = rss_mb(*pid);
            // (With --creates-only there were no phases before: no CPU share to show.)
            (if opts.creates_only { 0.0 } else { (b - a) / elapsed }, rss, hwm)
        })
        .collect();
    drop(servers);
    drop(pg);
    Ok(Row {
        setup: if setup == "sqlite" { "SQLite, 1 server".into() } else { "PostgreSQL, 2 servers".into() },
        nodes,
        steady,
        burst,
        fanout: (f.0, f.1),
        missing: expected.saturating_sub(d.len()),
        creates,
        servers: servers_row,
        postgres_cpu: (!pg_pids.is_empty()).then(|| (pg1 - pg0) / elapsed),
        watchers: terminated.join(" + "),
        nodes_cpu: (me1 - me0) / elapsed,
        creates_cpu,
        batch,
    })
}
