//! `flatnet-bench policy`: network policies (as root).
//!
//! - **rules**: programming one node. A synthetic cluster (N pods in N/100 namespaces of 100
//!   pods, 20 apps of 5 pods per namespace; one in `--local-every` on the node) and N/5
//!   policies of realistic size: each selects one app of its namespace and allows port 80
//!   from three peers: an app of its namespace (5 pods), a whole other namespace (100 pods),
//!   an app in the namespaces of a team (25 pods). Loaded from empty into a fresh
//!   namespace's table; then one more policy (selecting a pod of the node); then one pod's
//!   labels changed (of another node, then of this one); median of 20 each. The compile
//!   (`IncrementalCompiler`, what the agent runs) and the kernel apply (`PolicyApplier`: an
//!   `nft -f` transaction of the plan's difference when chains or sets come or go, else one
//!   nfnetlink batch of elements) are timed apart. At three sizes, to show that a change's
//!   cost does not follow the table; with the reference `compile()` of everything (what the
//!   agent ran for each change before) and the agent's whole-input `update` for comparison.
//! - **dataplane**: TCP connect latency and one iperf3 stream from a pod to a pod that the
//!   policies isolate (and allow the client) against a pod no policy selects, each in its own
//!   node namespace holding the same 1,000 policies, alternating in one run. Two shapes of
//!   the isolated pod: *typical* (selected by two policies: its namespace's default deny and
//!   its app's allow) and *worst* (selected by all 1,000, the client allowed by the last).
//! - **e2e**: on a `flatnet up` cluster of 3 nodes (release binaries beside this one): a
//!   client pod on node-1 probes a server pod on each node; a NetworkPolicy that denies the
//!   servers' ingress is created, then deleted, `--rounds` times. From the moment the write
//!   is sent to the first denied probe (after the create) and the first allowed one (after
//!   the delete) on each node; median and p99.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use netcore::netns::Netns;
use netcore::policy::{compile, IncrementalCompiler, PolicyApplier, PolicyInput, PolicyPod};
use openapi::policy::NAMESPACE_NAME_LABEL;
use openapi::{NetworkPolicy, ObjectMeta};
use serde_json::json;

use super::services::{connect_times, Lab, Scratch, SERVER};
use super::throughput::{iperf, Cluster};
use super::{ms, percentile};

const PODS_PER_NAMESPACE: usize = 100;
const APPS: usize = 20;
const TEAMS: usize = 10;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    percentile(&v, 0.5)
}

fn labels(pairs: &[(&str, String)]) -> std::collections::BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

/// `pods` pods in namespaces of 100, one in `local_every` on this node; addresses from
/// 10.245.0.0 up (clear of the labs' 10.244.1.0/24).
fn cluster(pods: usize, local_every: usize) -> PolicyInput {
    let mut input = PolicyInput::default();
    for n in 0..pods.div_ceil(PODS_PER_NAMESPACE) {
        let ns = format!("ns{n}");
        let team = format!("team{}", n % TEAMS);
        input.namespaces.insert(ns.clone(), labels(&[(NAMESPACE_NAME_LABEL, ns.clone()), ("team", team)]));
    }
    for i in 0..pods {
        input.pods.push(PolicyPod {
            namespace: format!("ns{}", i / PODS_PER_NAMESPACE),
            name: format!("p{i}"),
            ip: Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 245, 0, 0)) + i as u32),
            labels: labels(&[("app", format!("app{}", i % APPS))]),
            ports: Default::default(),
            // Spread over namespaces and apps alike (a multiplicative hash of the index).
            local: local_every != usize::MAX && (i.wrapping_mul(2_654_435_761) >> 8) % local_every == 0,
        });
    }
    input
}

fn network_policy(namespace: &str, name: &str, spec: serde_json::Value) -> NetworkPolicy {
    NetworkPolicy {
        metadata: ObjectMeta { name: name.into(), namespace: Some(namespace.into()), ..Default::default() },
        spec: serde_json::from_value(spec).expect("a NetworkPolicySpec"),
        ..Default::default()
    }
}

/// Policy `i` of a cluster of `namespaces` namespaces (see the module's doc).
fn policy(i: usize, namespaces: usize) -> NetworkPolicy {
    policy_for(i, i % namespaces, (i / namespaces) % APPS, namespaces)
}

/// Policy `i`, selecting app `app` of namespace `ns`.
fn policy_for(i: usize, ns: usize, app: usize, namespaces: usize) -> NetworkPolicy {
    network_policy(
        &format!("ns{ns}"),
        &format!("pol{i}"),
        json!({
            "podSelector": {"matchLabels": {"app": format!("app{app}")}},
            "ingress": [{
                "from": [
                    {"podSelector": {"matchLabels": {"app": format!("app{}", (i + 1) % APPS)}}},
                    {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: format!("ns{}", (i + 7) % namespaces)}}},
                    {"namespaceSelector": {"matchLabels": {"team": format!("team{}", i % TEAMS)}},
                     "podSelector": {"matchLabels": {"app": format!("app{}", (i + 3) % APPS)}}},
                ],
                "ports": [{"protocol": "TCP", "port": 80}],
            }],
        }),
    )
}

/// One size of the programming benchmark; prints a table row.
fn program(policies: usize, pods: usize, local_every: usize) -> Result<()> {
    let namespaces = pods.div_ceil(PODS_PER_NAMESPACE);
    let mut input = cluster(pods, local_every);
    input.network_policies = (0..policies).map(|i| policy(i, namespaces)).collect();
    let scratch = Scratch::new("pol")?;
    let mut applier = PolicyApplier::new(scratch.open()?);

    let started = Instant::now();
    let reference = compile(&input);
    let reference_compile = started.elapsed();

    let started = Instant::now();
    let mut compiler = IncrementalCompiler::new(input.clone());
    let full_compile = started.elapsed();
    assert_eq!(compiler.plan(), &reference, "the incremental compiler differs from compile()");
    let started = Instant::now();
    let bytes = applier.sync_all(compiler.plan().clone())?.script_bytes;
    let full_apply = started.elapsed();

    let (mut add_compile, mut add_apply, mut add_whole) = (Vec::new(), Vec::new(), Vec::new());
    for k in 0..20 {
        // One that selects a pod of this node (one that selects none changes nothing here).
        let local: Vec<&PolicyPod> = compiler.input().pods.iter().filter(|p| p.local).collect();
        let target = local[(k * 13) % local.len()];
        let ns = target.namespace.trim_start_matches("ns").parse::<usize>()?;
        let app = target.labels["app"].trim_start_matches("app").parse::<usize>()?;
        let np = policy_for(policies + k, ns, app, namespaces);
        let started = Instant::now();
        compiler.set_network_policy(np);
        let plan = compiler.plan().clone();
        add_compile.push(started.elapsed());
        let started = Instant::now();
        let report = applier.update(plan)?;
        add_whole.push(started.elapsed());
        add_apply.push(report.enforced.unwrap_or_else(|| started.elapsed()));
    }
    // A pod takes the app of the next one: it leaves some sets and joins others; a local
    // pod's own chains change too.
    let mut relabel = |local: bool| -> Result<(Duration, Duration, Duration)> {
        let (mut compile_times, mut apply_times, mut whole) = (Vec::new(), Vec::new(), Vec::new());
        for k in 0..20 {
            let pods: Vec<&PolicyPod> = compiler.input().pods.iter().filter(|p| p.local == local).collect();
            let mut pod = pods[(k * 7) % pods.len()].clone();
            let app = pod.labels["app"].trim_start_matches("app").parse::<usize>()?;
            pod.labels.insert("app".into(), format!("app{}", (app + 1) % APPS));
            let started = Instant::now();
            compiler.set_pod(pod);
            let plan = compiler.plan().clone();
            compile_times.push(started.elapsed());
            let started = Instant::now();
            let report = applier.update(plan)?;
            whole.push(started.elapsed());
            // (A pod that no set holds and no chain of this node judges changes nothing.)
            apply_times.push(report.enforced.unwrap_or_else(|| started.elapsed()));
        }
        Ok((median(compile_times), median(apply_times), median(whole)))
    };
    let remote = relabel(false)?;
    let local = relabel(true)?;
    // The floor of any change that takes a script: one `nft -f` that changes nothing.
    let mut floor = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        netcore::nft::apply(&scratch.open()?, "add table ip flatnet\n")?;
        floor.push(started.elapsed());
    }
    // What the agent's loop pays around it: a whole new input compared with the last.
    let mut whole = compiler.input().clone();
    whole.pods[1].labels.insert("app".into(), "app7".into());
    let started = Instant::now();
    compiler.update(whole);
    let update_whole = started.elapsed();

    let plan = compiler.plan();
    // compile + apply until in force = total (the apply with the deletion of what is no
    // longer used).
    let cell = |c: Duration, a: Duration, whole: Duration| {
        format!("{} + {} = **{}** ({})", ms(c), ms(a), ms(c + a), ms(c + whole))
    };
    println!(
        "| {policies} | {pods} | {} | {} sets, {} counter maps, {} counters, {} chains, {} KiB | {} | {} | {} | {} | {} | {} | {} |",
        plan.ingress.len(),
        plan.sets.len(),
        plan.counter_maps.len(),
        plan.counters.len(),
        plan.chains.len(),
        bytes / 1024,
        cell(full_compile, full_apply, full_apply),
        cell(median(add_compile), median(add_apply), median(add_whole)),
        cell(remote.0, remote.1, remote.2),
        cell(local.0, local.1, local.2),
        ms(reference_compile),
        ms(update_whole),
        ms(median(floor)),
    );
    Ok(())
}

fn rules(local_every: usize) -> Result<()> {
    println!(
        "\n### Programming one node (compile + kernel apply until in force = **total** (total with the \
         deletion of what is no longer used); changes: median of 20)\n"
    );
    println!(
        "| policies | pods | local pods isolated | table | from empty | one more policy | a pod of another node \
         relabelled | a local pod relabelled | reference compile() of everything | the agent's whole-input update, \
         one pod changed | one `nft -f` that changes nothing |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (policies, pods) in [(100, 500), (1_000, 5_000), (4_000, 20_000)] {
        program(policies, pods, local_every)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Data path
// ---------------------------------------------------------------------------------------

/// The lab's client (10.244.1.2) and server (10.244.1.3) as the compiler sees them, in
/// namespace `bench`, with the cluster of 5,000 pods around them.
fn lab_input(server_app: &str) -> PolicyInput {
    let mut input = cluster(5_000, usize::MAX);
    input.namespaces.insert("bench".into(), labels(&[(NAMESPACE_NAME_LABEL, "bench".into())]));
    for (name, ip, app) in [("client", Ipv4Addr::new(10, 244, 1, 2), "client"), ("server", SERVER, server_app)] {
        input.pods.push(PolicyPod {
            namespace: "bench".into(),
            name: name.into(),
            ip,
            labels: labels(&[("app", app.into())]),
            ports: Default::default(),
            local: true,
        });
    }
    input
}

/// An allow of the lab's client to the server's ports 8080 (connects) and 5201 (iperf3).
fn allow_client(name: &str, client_app: &str) -> NetworkPolicy {
    network_policy(
        "bench",
        name,
        json!({"podSelector": {"matchLabels": {"app": "server"}},
               "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": client_app}}}],
                            "ports": [{"port": 8080}, {"port": 5201}]}]}),
    )
}

/// The lab's policies: `Typical` (998 policies elsewhere, the server's namespace denies by
/// default and allows the client), `Worst` (all 1,000 select the server; only the last
/// allows the client, so its first packet walks every rule), `Open` (the policies of
/// `Typical` but the default deny, and the server's app renamed: no policy selects it).
#[derive(Clone, Copy, Debug)]
enum Shape {
    Typical,
    Worst,
    Open,
}

fn lab_policies(shape: Shape) -> PolicyInput {
    let mut input = lab_input(match shape {
        Shape::Open => "unselected",
        _ => "server",
    });
    let namespaces = 50;
    match shape {
        Shape::Typical | Shape::Open => {
            input.network_policies = (0..998).map(|i| policy(i, namespaces)).collect();
            if matches!(shape, Shape::Typical) {
                input.network_policies.push(network_policy("bench", "default-deny", json!({"podSelector": {}})));
            }
            input.network_policies.push(allow_client("allow-client", "client"));
        }
        Shape::Worst => {
            input.network_policies =
                (0..999).map(|i| allow_client(&format!("a{i:04}"), &format!("other{i}"))).collect();
            input.network_policies.push(allow_client("z-last", "client"));
        }
    }
    input
}

async fn dataplane(connects: usize, rounds: usize, secs: u32) -> Result<()> {
    let shapes = [Shape::Open, Shape::Typical, Shape::Worst];
    let mut labs = Vec::new();
    for (k, shape) in shapes.iter().enumerate() {
        let lab = Lab::new(&format!("pol{k}")).await?;
        let node = Netns::open(lab.node_name())?;
        // Bridged traffic passes the node's IP hooks, as the agent sets it up.
        netcore::sysctl::set(&node, "net.bridge.bridge-nf-call-iptables", "1")?;
        let mut applier = PolicyApplier::new(node);
        let client = Netns::open(lab.client_name())?;
        let to: SocketAddr = (SERVER, 8080).into();
        let mut input = lab_policies(*shape);
        if !matches!(shape, Shape::Open) {
            // Enforced: without the client's allow, its connection is dropped.
            let allow = input.network_policies.pop().unwrap();
            applier.sync_all(compile(&input))?;
            let refused = client.run(move || TcpStream::connect_timeout(&to, Duration::from_millis(200)).is_err())?;
            if !refused {
                bail!("{shape:?}: the server is not isolated");
            }
            input.network_policies.push(allow);
        }
        applier.sync_all(compile(&input))?;
        if !client.run(move || TcpStream::connect_timeout(&to, Duration::from_secs(1)).is_ok())? {
            bail!("{shape:?}: the client is not allowed");
        }
        labs.push((lab, applier));
    }
    let clients: Vec<Netns> = labs.iter().map(|(lab, _)| Netns::open(lab.client_name())).collect::<Result<_, _>>()?;
    for c in &clients {
        connect_times(c, (SERVER, 8080).into(), 200)?;
    }
    let batch = 50;
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); shapes.len()];
    for _ in 0..(connects * rounds).div_ceil(batch) {
        for (k, c) in clients.iter().enumerate() {
            times[k].extend(connect_times(c, (SERVER, 8080).into(), batch)?);
        }
    }
    let n = times[0].len();
    let medians: Vec<Duration> = times.into_iter().map(median).collect();
    println!("\n### Data path: TCP connect, pod → pod on one node, 1,000 policies on the node ({n} connects each, alternating batches of {batch}, median)\n");
    println!("| server pod | median connect | ratio to the open pod |");
    println!("|---|---|---|");
    let open = medians[0].as_secs_f64();
    for (shape, m) in shapes.iter().zip(&medians) {
        println!("| {} | {} µs | {:.3} |", describe(*shape), m.as_micros(), m.as_secs_f64() / open);
    }

    // Throughput: one iperf3 stream to each server, alternating.
    let mut servers = Vec::new();
    for (lab, _) in &labs {
        servers.push(
            Command::new("ip")
                .args(["netns", "exec", lab.server_name(), "iperf3", "-s", "-B", &SERVER.to_string()])
                .stdout(std::process::Stdio::null())
                .spawn()
                .context("start iperf3 -s (apt-get install -y iperf3)")?,
        );
    }
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); shapes.len()];
    let result = (|| -> Result<()> {
        for _ in 0..rounds {
            for (k, (lab, _)) in labs.iter().enumerate() {
                rates[k].push(iperf(lab.client_name(), &SERVER.to_string(), secs)?);
            }
        }
        Ok(())
    })();
    for mut s in servers {
        let _ = s.kill();
        let _ = s.wait();
    }
    result?;
    println!("\n### Data path: one iperf3 TCP stream, {secs} s, alternating, median of {rounds}\n");
    println!("| server pod | Gbit/s | ratio to the open pod |");
    println!("|---|---|---|");
    let meds: Vec<f64> = rates
        .into_iter()
        .map(|mut v| {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            v[v.len() / 2]
        })
        .collect();
    for (shape, r) in shapes.iter().zip(&meds) {
        println!("| {} | {r:.2} | {:.3} |", describe(*shape), r / meds[0]);
    }
    Ok(())
}

fn describe(shape: Shape) -> &'static str {
    match shape {
        Shape::Open => "no policy selects it (1,000 policies on the node)",
        Shape::Typical => "isolated: its namespace's default deny + an allow of the client (1,000 on the node)",
        Shape::Worst => "isolated by all 1,000 policies, the client allowed by the last rule",
    }
}

// ---------------------------------------------------------------------------------------
// End to end
// ---------------------------------------------------------------------------------------

/// Probe `to` from `client` until a connection's outcome is `want` (connected or not
/// within 3 ms); answers when that probe started (denied) or ended (allowed).
fn probe_until(client: &str, to: SocketAddr, want: bool, limit: Duration) -> Result<Instant> {
    let netns = Netns::open(client)?;
    let deadline = Instant::now() + limit;
    let seen = netns.run(move || loop {
        let started = Instant::now();
        let ok = TcpStream::connect_timeout(&to, Duration::from_millis(3)).is_ok();
        if ok == want {
            return Some(if want { Instant::now() } else { started });
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_micros(500));
    })?;
    seen.context("the probe never saw the change")
}

async fn e2e(rounds: usize) -> Result<()> {
    let (cluster, _) = Cluster::up(3, "host-gw")?;
    let client = cluster.client()?;
    let netexec = std::env::current_exe()?.with_file_name("flatnet");
    let netexec = netexec.to_string_lossy().to_string();
    let (client_ns, _) =
        cluster.pod_with_labels("client", "node-1", &[&netexec, "netexec"], &[("app", "client")]).await?;
    let mut servers = Vec::new();
    for i in 1..=3 {
        let (_, ip) = cluster
            .pod_with_labels(&format!("server-{i}"), &format!("node-{i}"), &[&netexec, "netexec"], &[("app", "server")])
            .await?;
        let to: SocketAddr = (ip.parse::<Ipv4Addr>()?, 8080).into();
        probe_until(&client_ns, to, true, Duration::from_secs(30)).context("the server never answered")?;
        servers.push(to);
    }
    let api = client.api::<NetworkPolicy>(Some("default"));
    let deny = network_policy("default", "deny-servers", json!({"podSelector": {"matchLabels": {"app": "server"}}}));
    let (mut denied, mut allowed) = (Vec::new(), Vec::new());
    let mut per_node: Vec<Vec<Duration>> = vec![Vec::new(); 3];
    for _ in 0..rounds {
        for want in [false, true] {
            let probes: Vec<_> = servers
                .iter()
                .map(|&to| {
                    let ns = client_ns.clone();
                    std::thread::spawn(move || probe_until(&ns, to, want, Duration::from_secs(10)))
                })
                .collect();
            // Let each probe start its loop (their first probes still see the old state).
            tokio::time::sleep(Duration::from_millis(20)).await;
            let sent = Instant::now();
            if want {
                api.delete("deny-servers").await?;
            } else {
                api.create(&deny).await?;
            }
            for (n, probe) in probes.into_iter().enumerate() {
                let at = probe.join().map_err(|_| anyhow::anyhow!("probe panicked"))??;
                let took = at.saturating_duration_since(sent);
                per_node[n].push(took);
                if want { &mut allowed } else { &mut denied }.push(took);
            }
            // Established connections and the agents settle before the next write.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    denied.sort();
    allowed.sort();
    let mut all: Vec<Duration> = denied.iter().chain(&allowed).copied().collect();
    all.sort();
    println!(
        "\n### From a policy write to enforcement on every node ({rounds} creates and deletes, 3 nodes, host-gw)\n"
    );
    println!("| from the write being sent to … | samples | median | p99 | max |");
    println!("|---|---|---|---|---|");
    for (what, v) in [
        ("the first denied probe (policy created)", &denied),
        ("the first allowed probe (policy deleted)", &allowed),
        ("either", &all),
    ] {
        println!(
            "| {what} | {} | {} | {} | {} |",
            v.len(),
            ms(percentile(v, 0.5)),
            ms(percentile(v, 0.99)),
            ms(*v.last().unwrap())
        );
    }
    for (n, mut v) in per_node.into_iter().enumerate() {
        v.sort();
        println!(
            "| … on node-{} | {} | {} | {} | {} |",
            n + 1,
            v.len(),
            ms(percentile(&v, 0.5)),
            ms(percentile(&v, 0.99)),
            ms(*v.last().unwrap())
        );
    }
    drop(cluster);
    Ok(())
}

pub async fn run(
    part: &str,
    local_every: usize,
    connects: usize,
    rounds: usize,
    secs: u32,
    writes: usize,
) -> Result<()> {
    if !super::is_root() {
        bail!("the policy benchmark needs root (namespaces and nftables)");
    }
    if matches!(part, "rules" | "all") {
        rules(local_every)?;
    }
    if matches!(part, "dataplane" | "all") {
        dataplane(connects, rounds, secs).await?;
    }
    if matches!(part, "e2e" | "all") {
        e2e(writes).await?;
    }
    Ok(())
}
