//! `flatnet up`: the local multi-node cluster, from nothing to every node Ready.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use openapi::client::{Client, ListParams};
use tokio::signal::unix::{signal, Signal, SignalKind};

use super::layout::{check_prefix, Layout, MAX_NODES};
use super::state::{apiserver_dir, logs_dir, ClusterState, DataLock};
use super::{down, kernel, kubeconfig, procs, DataArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// How many nodes (network namespaces, each with its agent).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=MAX_NODES as i64))]
    pub nodes: u32,
    /// How pods reach pods on other nodes [first start default: host-gw; later starts keep
    /// the data directory's].
    #[arg(long, value_parser = ["host-gw", "vxlan"])]
    pub backend: Option<String>,
    #[command(flatten)]
    pub data: DataArgs,
    /// Where the API server (and the dashboard) listens.
    #[arg(long, env = "FLATNET_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Where the cluster keeps its objects: `sqlite` (a file in the data directory, one API
    /// server) or `postgres` (a throwaway PostgreSQL in the data directory, removed by `flatnet
    /// down`, and two API servers on it; the agents fail over between them).
    #[arg(long, env = "FLATNET_STORE_KIND", default_value = "sqlite", value_parser = ["sqlite", "postgres"])]
    pub store: String,
    /// With `--store postgres`: where the second API server listens [default: the port after
    /// --listen's].
    #[arg(long)]
    pub second_listen: Option<SocketAddr>,
    /// Return once every node is Ready and leave the cluster running (stop it with
    /// `flatnet down`); without it, `up` runs until Ctrl-C and then removes the cluster.
    #[arg(long)]
    pub detach: bool,
    /// (tests) Inserted into every namespace and link name, so clusters can run side by side.
    #[arg(long, env = "FLATNET_CLUSTER_PREFIX", default_value = "", hide = true)]
    pub name_prefix: String,
    /// Seconds to wait for every node to be Ready.
    #[arg(long, default_value_t = 60, hide = true)]
    pub ready_timeout: u64,
}

impl Args {
    /// The second API server's address (`--store postgres`).
    fn second_listen_addr(&self) -> SocketAddr {
        self.second_listen
            .unwrap_or_else(|| SocketAddr::new(self.listen.ip(), self.listen.port().checked_add(1).unwrap_or(1)))
    }
}

/// The signals that stop a foreground cluster (and interrupt `up` while it works).
struct Stop {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl Stop {
    fn new() -> anyhow::Result<Stop> {
        Ok(Stop {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => "SIGHUP",
        }
    }
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    super::require_root("flatnet up")?;
    if kernel::find_program("ip").is_none() || kernel::find_program("nft").is_none() {
        anyhow::bail!("flatnet up needs ip and nft: install nftables/iproute2: apt-get install -y nftables iproute2");
    }
    let apiserver_bin = super::sibling_binary("apiserver")?;
    let agent_bin = super::sibling_binary("nodeagent")?;
    check_prefix(&args.name_prefix).map_err(anyhow::Error::msg)?;
    if args.listen.port() == 0 {
        anyhow::bail!("--listen {} needs a port: pass --listen 127.0.0.1:PORT", args.listen);
    }
    let data_dir = args.data.absolute()?;
    std::fs::create_dir_all(logs_dir(&data_dir)).with_context(|| format!("create {}", data_dir.display()))?;
    let mut stop = Stop::new()?;
    let lock = DataLock::take(&data_dir, Duration::ZERO)?;
    let down_cmd = format!("{}{} down{}", super::sudo(), super::self_command(), super::data_dir_flag(&data_dir));
    let status_cmd = format!("{} status{}", super::self_command(), super::data_dir_flag(&data_dir));

    if let Some(old) = ClusterState::load(&data_dir)? {
        if let Some(p) = old.processes().find(|p| p.alive()) {
            anyhow::bail!(
                "a flatnet cluster from {} is already running ({} pid {}, API {}): `{status_cmd}` shows it, \
                 `{down_cmd}` stops it",
                data_dir.display(),
                p.name,
                p.pid,
                old.url
            );
        }
        println!("cleaning up what a cluster that stopped without `flatnet down` left behind");
        let removed = down::teardown_with(&old, false).await.context("clean up the previous cluster")?;
        println!("      {removed}");
    }

    // The port, and the names, must be ours to take.
    if let Err(e) = TcpListener::bind(args.listen) {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            let ip = args.listen.ip();
            anyhow::bail!("{} is in use: pass --listen {ip}:PORT", args.listen);
        }
        return Err(e).with_context(|| format!("listen on {}", args.listen));
    }
    let postgres = args.store == "postgres";
    let second_listen = postgres.then(|| args.second_listen_addr());
    if let Some(l) = second_listen {
        if l.port() == 0 || l == args.listen {
            anyhow::bail!("--second-listen {l} needs a port other than --listen's");
        }
        if let Err(e) = TcpListener::bind(l) {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                anyhow::bail!("{l} (the second API server's) is in use: pass --second-listen {}:PORT", l.ip());
            }
            return Err(e).with_context(|| format!("listen on {l}"));
        }
    }
    let layout = Layout::new(&args.name_prefix, args.nodes);
    check_names_free(&layout)?;

    let url = super::url_of(args.listen);
    // A PostgreSQL store starts empty every time (`down` removes it).
    let first_start = postgres || !apiserver_dir(&data_dir).join("flatnet.db").exists();
    let backend_flag = match (&args.backend, first_start) {
        (Some(b), _) => Some(b.clone()),
        (None, true) => Some("host-gw".to_string()),
        (None, false) => None,
    };
    let mut state =
        ClusterState::new(&data_dir, &layout, backend_flag.as_deref().unwrap_or("?"), &args.listen.to_string(), &url);
    if !args.detach {
        state.supervisor = Some(std::process::id() as i32);
    }
    state.store = args.store.clone();
    state.servers.extend(second_listen.map(super::url_of));
    state.save()?;

    let mut children: Vec<Child> = Vec::new();
    let outcome = tokio::select! {
        r = bring_up(&args, &layout, &mut state, &mut children, backend_flag, started, &apiserver_bin, &agent_bin) => r,
        sig = stop.recv() => Err(anyhow::anyhow!("interrupted by {sig}")),
    };
    if let Err(e) = outcome {
        eprintln!("flatnet up failed: {e:#}");
        eprintln!("removing what was made (logs are kept in {})", logs_dir(&data_dir).display());
        let _ = state.save();
        if let Err(e) = down::teardown(&state).await {
            eprintln!("{e:#}");
        }
        reap(&mut children);
        return Ok(ExitCode::FAILURE);
    }
    let ready = state.ready_seconds.unwrap_or_default();
    print_summary(&state, ready, &status_cmd, &down_cmd, args.detach);
    if args.detach {
        return Ok(ExitCode::SUCCESS);
    }

    // Foreground: until a signal, or until someone else took the cluster down.
    drop(lock);
    let api_pid = state.apiserver.as_ref().map(|a| a.pid);
    let mut reported_dead = std::collections::HashSet::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let sig = loop {
        tokio::select! {
            sig = stop.recv() => break Some(sig),
            _ = tick.tick() => {}
        }
        for child in children.iter_mut() {
            let _ = child.try_wait();
        }
        match ClusterState::load(&data_dir) {
            Ok(Some(s)) if s.apiserver.as_ref().map(|a| a.pid) == api_pid => {
                for p in s.processes() {
                    if !p.alive() && reported_dead.insert(p.name.clone()) {
                        eprintln!("warning: {} (pid {}) exited; its log: {}", p.name, p.pid, p.log.display());
                    }
                }
            }
            _ => break None,
        }
    };
    let Some(sig) = sig else {
        println!("the cluster was taken down elsewhere ({down_cmd}); exiting");
        reap(&mut children);
        return Ok(ExitCode::SUCCESS);
    };
    println!("{sig}: taking the cluster down");
    let _lock = DataLock::take(&data_dir, Duration::from_secs(120))?;
    let result = match ClusterState::load(&data_dir)? {
        Some(s) => down::teardown(&s).await.map(|r| println!("flatnet down: {r}")),
        None => Ok(()),
    };
    reap(&mut children);
    result.map(|()| ExitCode::SUCCESS)
}

/// Wait for children already killed, so none is left a zombie.
fn reap(children: &mut [Child]) {
    for child in children {
        if matches!(child.try_wait(), Ok(None)) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Namespaces of ours that exist now belong to another cluster (ours were cleaned above).
fn check_names_free(layout: &Layout) -> anyhow::Result<()> {
    let taken: Vec<String> = layout.namespaces().into_iter().filter(|ns| netcore::netns::exists(ns)).collect();
    if taken.is_empty() {
        return Ok(());
    }
    let users = procs::users_of_netns(&taken);
    let owner = users
        .iter()
        .find_map(|(_, cmd)| {
            let args: Vec<&str> = cmd.split(' ').collect();
            args.windows(2).find(|w| w[0] == "--data-dir").map(|w| w[1].to_string())
        })
        .and_then(|agent_dir| Path::new(&agent_dir).parent()?.parent().map(|d| d.display().to_string()));
    let fix = match owner {
        Some(dir) => format!(
            "another flatnet cluster runs with data dir {dir}: stop it first with `flatnet down --data-dir {dir}`"
        ),
        None => String::from(
            "another flatnet cluster (a different --data-dir) made them: take it down with `flatnet down --data-dir \
             DIR`, or remove them with `ip netns del NAME` if nothing uses them",
        ),
    };
    anyhow::bail!("network namespace(s) {} already exist: {fix}", taken.join(", "))
}

#[allow(clippy::too_many_arguments)]
async fn bring_up(
    args: &Args,
    layout: &Layout,
    state: &mut ClusterState,
    children: &mut Vec<Child>,
    backend_flag: Option<String>,
    started: Instant,
    apiserver_bin: &Path,
    agent_bin: &Path,
) -> anyhow::Result<()> {
    let data_dir = state.data_dir.clone();
    let logs = logs_dir(&data_dir);

    let t = Instant::now();
    kernel::create(layout).await.context("make the namespaces")?;
    println!("[1/4] fabric, internet and {} node namespace(s) ({} ms)", layout.nodes, t.elapsed().as_millis());

    let t = Instant::now();
    let api_dir = apiserver_dir(&data_dir);
    let mut api_args: Vec<String> = vec!["--data-dir".into(), api_dir.display().to_string()];
    if let Some(b) = &backend_flag {
        api_args.extend(["--backend".into(), b.clone()]);
    }
    if state.store == "postgres" {
        let (child, record) = super::postgres::start(&data_dir, &logs.join("postgres.log")).await?;
        children.push(child);
        state.postgres = Some(record);
        state.save()?;
        api_args.extend(["--store".into(), super::postgres::store_url(&data_dir)]);
    }
    let urls = state.server_urls();
    let mut client = None;
    for (i, url) in urls.iter().enumerate() {
        let name = if i == 0 { "apiserver".to_string() } else { format!("apiserver-{}", i + 1) };
        let listen = if i == 0 { args.listen } else { args.second_listen_addr() };
        let mut server_args = vec!["--listen".to_string(), listen.to_string()];
        server_args.extend(api_args.iter().cloned());
        let log = logs.join(format!("{name}.log"));
        let (child, record) = procs::spawn_detached(&name, apiserver_bin, &server_args, &[], &log)?;
        children.push(child);
        if i == 0 {
            state.apiserver = Some(record.clone());
        } else {
            state.more_apiservers.push(record.clone());
        }
        state.save()?;
        // The first server makes the CA and tokens on its first start, before it listens;
        // the next ones are started once it answers, and read them.
        let (c, cluster) = wait_answering(&data_dir, url, &record).await?;
        if i == 0 {
            state.backend = cluster.backend.as_str().to_string();
            state.save()?;
            client = Some(c);
        }
    }
    let client = client.expect("one API server at least");
    if state.store == "postgres" {
        println!(
            "[2/4] PostgreSQL, API servers on {} (backend {}, {} ms)",
            urls.join(" and "),
            state.backend,
            t.elapsed().as_millis()
        );
    } else {
        println!("[2/4] API server on {} (backend {}, {} ms)", state.url, state.backend, t.elapsed().as_millis());
    }

    let token_path = api_dir.join("admin.token");
    let admin_token = std::fs::read_to_string(&token_path)
        .with_context(|| format!("read the admin token {}", token_path.display()))?
        .trim()
        .to_string();
    let ca_path = api_dir.join("ca.crt");
    let ca = std::fs::read(&ca_path).with_context(|| format!("read the CA {}", ca_path.display()))?;
    let config = kubeconfig::render(&super::cluster_name(&layout.prefix), &state.url, &ca, &admin_token);
    kubeconfig::write(&data_dir, &config)?;
    let admin = &client;
    let tokens = futures::future::try_join_all(state.nodes.iter().map(|n| admin.create_node_token(&n.name)))
        .await
        .context("mint the node tokens")?;
    // Leases renewed from now on are this run's (a crashed run's may still be live).
    let agents_started: DateTime<Utc> = Utc::now();
    for (node, token) in state.nodes.clone().iter().zip(tokens) {
        std::fs::create_dir_all(&node.data_dir)?;
        let agent_args: Vec<String> = vec![
            "--netns".into(),
            node.netns.clone(),
            "--node".into(),
            node.name.clone(),
            "--node-ip".into(),
            node.ip.clone(),
            "--server".into(),
            urls.join(","),
            "--ca-file".into(),
            ca_path.display().to_string(),
            "--data-dir".into(),
            node.data_dir.display().to_string(),
        ];
        let log = logs.join(format!("{}.log", node.name));
        // The nodes are namespaces on this machine: the host's resolvers are not reachable
        // from them, and there is no internet to resolve. Names outside the cluster fail at
        // once (SERVFAIL) instead of after a timeout, unless the caller names upstreams.
        let dns_upstream = std::env::var("FLATNET_DNS_UPSTREAM").unwrap_or_else(|_| "none".into());
        let env = [("FLATNET_TOKEN", token.token.as_str()), ("FLATNET_DNS_UPSTREAM", dns_upstream.as_str())];
        let (child, record) = procs::spawn_detached(&node.name, agent_bin, &agent_args, &env, &log)?;
        children.push(child);
        state.agents.push(record);
        state.save()?;
    }
    println!("[3/4] {} agent(s) started", state.agents.len());

    wait_ready(&client, state, agents_started, Duration::from_secs(args.ready_timeout)).await?;
    state.ready_seconds = Some(started.elapsed().as_secs_f64());
    state.save()?;
    Ok(())
}

/// Wait until the API server at `url` (started as `record`) answers; answers a client of it
/// and the cluster's configuration.
async fn wait_answering(
    data_dir: &Path,
    url: &str,
    record: &super::state::ProcessRecord,
) -> anyhow::Result<(Client, openapi::ClusterConfig)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = match super::api_client(data_dir, url) {
            Ok(client) => client.cluster_config().await.map(|c| (client, c)).map_err(anyhow::Error::from),
            Err(e) => Err(e),
        };
        match answer {
            Ok(c) => return Ok(c),
            Err(e) => {
                if !record.alive() || Instant::now() > deadline {
                    let why = if record.alive() { format!("did not answer in 30 s ({e})") } else { "exited".into() };
                    anyhow::bail!(
                        "the API server {url} {why}; the end of {}:\n{}",
                        record.log.display(),
                        procs::log_tail(&record.log, 15)
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// Wait until every node is Ready with a lease renewed by this run's agent, showing progress.
async fn wait_ready(
    client: &Client,
    state: &ClusterState,
    since: DateTime<Utc>,
    timeout: Duration,
) -> anyhow::Result<()> {
    let total = state.nodes.len();
    let tty = std::io::stdout().is_terminal();
    let deadline = Instant::now() + timeout;
    let mut shown: Option<usize> = None;
    let since = since - chrono::Duration::milliseconds(since.timestamp_subsec_millis() as i64);
    loop {
        let ready = ready_nodes(client, state, since).await.unwrap_or(0);
        if shown != Some(ready) {
            if tty {
                print!("\r[4/4] nodes Ready: {ready}/{total}");
                let _ = std::io::stdout().flush();
            } else {
                println!("[4/4] nodes Ready: {ready}/{total}");
            }
            shown = Some(ready);
        }
        if ready == total {
            if tty {
                println!();
            }
            return Ok(());
        }
        if let Some(dead) = state.agents.iter().find(|a| !a.alive()) {
            if tty {
                println!();
            }
            anyhow::bail!(
                "the agent of {} exited; the end of {}:\n{}",
                dead.name,
                dead.log.display(),
                procs::log_tail(&dead.log, 15)
            );
        }
        if Instant::now() > deadline {
            if tty {
                println!();
            }
            anyhow::bail!(
                "only {ready} of {total} nodes Ready after {} s; see the agents' logs in {}",
                timeout.as_secs(),
                logs_dir(&state.data_dir).display()
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// How many of the cluster's nodes are Ready with a Lease (`kube-node-lease/NODE`) renewed
/// at or after `since`.
async fn ready_nodes(client: &Client, state: &ClusterState, since: DateTime<Utc>) -> anyhow::Result<usize> {
    let params = ListParams::default();
    let (node_api, lease_api) = (client.nodes(), client.api::<openapi::Lease>(Some(openapi::NODE_LEASE_NAMESPACE)));
    let (nodes, leases) = tokio::try_join!(node_api.list(&params), lease_api.list(&params))?;
    let renewed: BTreeMap<String, DateTime<Utc>> =
        leases.items.into_iter().filter_map(|l| Some((l.metadata.name.clone(), l.spec.renew_time?))).collect();
    Ok(nodes
        .items
        .iter()
        .filter(|n| state.nodes.iter().any(|ours| ours.name == n.metadata.name))
        .filter(|n| n.is_ready() && renewed.get(&n.metadata.name).is_some_and(|t| *t >= since))
        .count())
}

fn print_summary(state: &ClusterState, ready: f64, status_cmd: &str, down_cmd: &str, detach: bool) {
    let data_dir = &state.data_dir;
    let api_dir = apiserver_dir(data_dir);
    let (token, ca) = (api_dir.join("admin.token"), api_dir.join("ca.crt"));
    let kubeconfig = data_dir.join(kubeconfig::KUBECONFIG_FILE);
    let flatnet = flatnet_for_pods();
    let sudo = super::sudo();
    println!();
    println!("flatnet is up: {} node(s) Ready in {ready:.2} s (backend {})", state.nodes.len(), state.backend);
    println!();
    println!("  API          {} (HTTPS; the cluster's CA: {})", state.url, ca.display());
    for other in state.server_urls().iter().skip(1) {
        println!("  API (2nd)    {other} (the same PostgreSQL; the agents fail over between them)");
    }
    println!("  dashboard    {}/ (the browser does not know the CA; sign in with a token)", state.url);
    println!("  kubeconfig   {} (root only: it holds the admin token)", kubeconfig.display());
    println!("  admin token  {} (root only)", token.display());
    println!("  viewer token {} (read-only; root only)", api_dir.join("viewer.token").display());
    println!("  logs         {}", logs_dir(data_dir).display());
    println!(
        "  nodes        {}",
        state.nodes.iter().map(|n| format!("{} {}", n.name, n.ip)).collect::<Vec<_>>().join(", ")
    );
    println!();
    println!("Use the cluster with kubectl:");
    println!();
    println!("  export KUBECONFIG={}", kubeconfig.display());
    println!();
    println!("Try:");
    println!("  kubectl get nodes");
    println!("The raw API, with curl (the CA pinned, the admin token):");
    println!("  API={}", state.url);
    println!("  TOKEN=$({sudo}cat {})", token.display());
    println!("  CA={}", ca.display());
    println!("  curl -s --cacert $CA -H \"Authorization: Bearer $TOKEN\" $API/api/v1/nodes");
    println!(
        "  curl -s --cacert $CA -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\\n    \
         $API/api/v1/namespaces/default/pods -d '{{\"metadata\":{{\"name\":\"web-1\",\"labels\":{{\"app\":\"web\"}}}},\n    \
         \"spec\":{{\"nodeName\":\"node-1\",\"containers\":[{{\"name\":\"web\",\"command\":[\"{flatnet}\",\"netexec\"],\n    \
         \"ports\":[{{\"name\":\"http\",\"containerPort\":8080}}]}}]}}}}'"
    );
    println!(
        "  curl -s --cacert $CA -H \"Authorization: Bearer $TOKEN\" $API/api/v1/namespaces/default/pods/web-1   # status.podIP, phase Running"
    );
    println!(
        "  curl -s --cacert $CA -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\\n    \
         $API/api/v1/namespaces/default/services -d '{{\"metadata\":{{\"name\":\"web\"}},\"spec\":{{\"type\":\"NodePort\",\n    \
         \"selector\":{{\"app\":\"web\"}},\"ports\":[{{\"port\":80,\"targetPort\":\"http\",\"nodePort\":30080}}]}}}}'"
    );
    if let (Some(internet), Some(node)) =
        (state.namespaces.iter().find(|n| n.ends_with("internet")), state.nodes.last())
    {
        println!(
            "  {sudo}ip netns exec {internet} {flatnet} probe http {}:30080   # from the \"internet\" to web-1 via {}'s NodePort",
            node.ip, node.name
        );
    }
    println!("  {status_cmd}");
    println!("  {down_cmd}");
    if !detach {
        println!();
        println!("Running in the foreground: Ctrl-C stops the cluster and removes it (as flatnet down does).");
    }
}

/// The absolute path of this binary, for pod commands (containers run without our PATH).
fn flatnet_for_pods() -> String {
    std::env::current_exe().map(|p: PathBuf| p.display().to_string()).unwrap_or_else(|_| "flatnet".into())
}
