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
//! - creates/s: 64 clients creating pods bound to random nodes as fast as they can;
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

fn start_server(data_dir: &Path, store: Option<&str>, lease_ttl: u64) -> Result<ApiServer> {
    // FLATNET_BENCH_APISERVER: another build to measure (e.g. a baseline).
    let binary = match std::env::var_os("FLATNET_BENCH_APISERVER") {
        Some(p) => PathBuf::from(p),
        None => sibling_binary("apiserver")?,
    };
    let mut cmd = Command::new(binary);
    cmd.args(["--listen", "127.0.0.1:0", "--pod-cidr", "100.64.0.0/10", "--node-subnet-prefix", "24"])
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

type Sent = Arc<Mutex<HashMap<String, (Instant, Phase)>>>;
type Deliveries = Arc<Mutex<Vec<(Phase, bool, Duration)>>>;

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
        let mut listed = 0;
        let mut record = |name: &str, service: bool| {
            if !seen.insert(name.to_string()) {
                return;
            }
            let now = Instant::now();
            let at = sent.lock().unwrap().get(name).copied();
            if let Some((t, phase)) = at {
                deliveries.lock().unwrap().push((phase, service, now - t));
            }
        };
        loop {
            tokio::select! {
                ev = pods.next() => match ev {
                    Event::Listed(items) => {
                        listed += 1;
                        if listed == 1 {
                            ready.fetch_add(1, Ordering::Relaxed);
                        }
                        // A relist (after a cut-off watch) delivers what the watch missed.
                        for p in items {
                            record(&p.metadata.name, false);
                        }
                    }
                    Event::Applied(p) => record(&p.metadata.name, false),
                    Event::Deleted(_) => {}
                },
                ev = services.next() => match ev {
                    Event::Listed(items) => for s in items { record(&s.metadata.name, true) },
                    Event::Applied(s) => record(&s.metadata.name, true),
                    Event::Deleted(_) => {}
                },
                _ = endpoints.next() => {}
                _ = leases.next() => {}
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
}

pub async fn run(opts: Opts) -> Result<()> {
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
        "Steady {} changes/s for {} s, burst {} changes/s for {} s; a change is a pod bound to a random node, every tenth a service (to every node); lease TTL {} s (a heartbeat per node every {} s).\n",
        opts.steady_rate, opts.steady_secs, opts.burst_rate, opts.burst_secs, opts.lease_ttl, (opts.lease_ttl / 3).max(1)
    );
    println!("| setup | nodes | steady write → event p50 / p99 | burst p50 / p99 | service → every node p50 / p99 | missed | creates/s | server CPU (cores) / RSS / peak RSS | PostgreSQL CPU | simulated nodes' CPU | terminated watchers |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let servers: Vec<String> =
            r.servers.iter().map(|(cpu, rss, hwm)| format!("{cpu:.2} / {rss:.0} MB / {hwm:.0} MB")).collect();
        println!(
            "| {} | {} | {} / {} ({}) | {} / {} ({}) | {} / {} | {} | {:.0} | {} | {} | {:.2} | {} |",
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
            r.watchers
        );
    }
    Ok(())
}

async fn one(setup: &str, nodes: usize, opts: &Opts) -> Result<Row> {
    let tmp = tempfile::Builder::new().prefix("flatnet-cp-").tempdir()?;
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data)?;
    let (pg, servers) = match setup {
        "sqlite" => (None, vec![start_server(&data, None, opts.lease_ttl)?]),
        "postgres" => {
            let (pg, url) = start_postgres(tmp.path())?;
            let first = start_server(&data, Some(&url), opts.lease_ttl)?;
            let second = start_server(&data, Some(&url), opts.lease_ttl)?;
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
    let ready = Arc::new(AtomicUsize::new(0));
    for (i, name) in names.iter().enumerate() {
        spawn_node(
            clients[i % clients.len()].clone(),
            name.clone(),
            ttl,
            sent.clone(),
            deliveries.clone(),
            ready.clone(),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while ready.load(Ordering::Relaxed) < nodes {
        if Instant::now() > deadline {
            bail!("only {} of {nodes} nodes listed their pods", ready.load(Ordering::Relaxed));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
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
    for (phase, rate, secs) in
        [(Phase::Steady, opts.steady_rate, opts.steady_secs), (Phase::Burst, opts.burst_rate, opts.burst_secs)]
    {
        let start = tokio::time::Instant::now();
        let total = rate * secs;
        for k in 0..total {
            tokio::time::sleep_until(start + Duration::from_secs_f64(k as f64 / rate as f64)).await;
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let client = clients[n % clients.len()].clone();
            let sent = sent.clone();
            let is_service = n % 10 == 9;
            expected += if is_service { nodes } else { 1 };
            let node = names[(rand_fraction(&format!("x{n}")) * nodes as f64) as usize % nodes].clone();
            tasks.push(tokio::spawn(async move {
                if is_service {
                    let name = format!("s-{n}");
                    sent.lock().unwrap().insert(name.clone(), (Instant::now(), phase));
                    client.services("default").create(&service(&name)?).await?;
                } else {
                    let name = format!("p-{n}");
                    sent.lock().unwrap().insert(name.clone(), (Instant::now(), phase));
                    client.pods("default").create(&pod_on(&name, &node)?).await?;
                }
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
    let stop = Instant::now() + Duration::from_secs(opts.create_secs);
    let created = Arc::new(AtomicUsize::new(0));
    let c0 = Instant::now();
    let mut workers = Vec::new();
    for w in 0..64 {
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
    let creates = created.load(Ordering::Relaxed) as f64 / c0.elapsed().as_secs_f64();

    // Watchers cut off, from each server's /metrics.
    let mut terminated = Vec::new();
    for s in &servers {
        let http = reqwest::Client::builder().add_root_certificate(reqwest::Certificate::from_pem(&ca)?).build()?;
        let text = http.get(format!("{}/metrics", s.url)).bearer_auth(&token).send().await?.text().await?;
        let n: f64 = text
            .lines()
            .filter(|l| l.starts_with("flatnet_apiserver_watchers_terminated_total"))
            .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
            .sum();
        terminated.push(format!("{}", n + 0.0));
    }

    let d = deliveries.lock().unwrap().clone();
    let pick = |f: &dyn Fn(&(Phase, bool, Duration)) -> bool| {
        let mut v: Vec<Duration> = d.iter().filter(|x| f(x)).map(|x| x.2).collect();
        v.sort();
        (percentile(&v, 0.5), percentile(&v, 0.99), v.len())
    };
    let steady = pick(&|x| x.0 == Phase::Steady);
    let burst = pick(&|x| x.0 == Phase::Burst);
    let f = pick(&|x| x.1);
    let servers_row = pids
        .iter()
        .zip(cpu0.iter().zip(&cpu1))
        .map(|(pid, (a, b))| {
            let (rss, hwm) = rss_mb(*pid);
            ((b - a) / elapsed, rss, hwm)
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
    })
}
