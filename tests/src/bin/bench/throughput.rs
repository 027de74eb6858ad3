//! `flatnet-bench throughput`: pod-to-pod throughput on real `flatnet up` clusters, with the
//! physical limit measured in the same run.
//!
//! For each backend (host-gw, then vxlan) it brings up a 2-node cluster with the release
//! binaries next to this one, runs `iperf3 -s` as pods (one on each node) and a client pod on
//! node-1, and measures one TCP stream (`iperf3 -c -t SECS`, median of `--runs`):
//! same-node pod to pod, cross-node pod to pod, and the raw underlay between the two node
//! namespaces (the fabric's veth – bridge – veth path, no pods involved). It also times
//! `flatnet up --detach` of a 3-node cluster from start to every node Ready.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use openapi::client::Client;
use openapi::{Container, ObjectMeta, Pod, PodSpec};

pub(crate) struct Cluster {
    flatnet: PathBuf,
    pub(crate) dir: tempfile::TempDir,
    prefix: String,
    url: String,
}

impl Cluster {
    /// `flatnet up --detach`; answers the cluster and the wall time until it returned.
    pub(crate) fn up(nodes: u32, backend: &str) -> Result<(Cluster, Duration)> {
        let flatnet = std::env::current_exe()?.with_file_name("flatnet");
        if !flatnet.exists() {
            bail!("{} is missing: cargo build --release --bins", flatnet.display());
        }
        let dir = tempfile::tempdir()?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let prefix = format!("b{}x{}-", std::process::id(), backend.len() + nodes as usize);
        let url = format!("https://127.0.0.1:{port}");
        let cluster = Cluster { flatnet, dir, prefix, url };
        let started = Instant::now();
        let out = cluster.run(&[
            "up",
            "--nodes",
            &nodes.to_string(),
            "--backend",
            backend,
            "--detach",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])?;
        let took = started.elapsed();
        if !out.status.success() {
            bail!(
                "flatnet up failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok((cluster, took))
    }

    pub(crate) fn run(&self, args: &[&str]) -> Result<std::process::Output> {
        Ok(Command::new(&self.flatnet)
            .args(args)
            .arg("--data-dir")
            .arg(self.dir.path())
            .env("FLATNET_CLUSTER_PREFIX", &self.prefix)
            .stdin(Stdio::null())
            .output()?)
    }

    pub(crate) fn node_netns(&self, i: u32) -> String {
        format!("flatnet-{}node-{i}", self.prefix)
    }

    pub(crate) fn client(&self) -> Result<Client> {
        let token = std::fs::read_to_string(self.dir.path().join("apiserver/admin.token"))?;
        let ca = std::fs::read(self.dir.path().join("apiserver/ca.crt"))?;
        Ok(Client::with_ca(&self.url, Some(token.trim().to_string()), &ca)?)
    }

    /// Create a pod running `command` on `node` and wait for it to run; answers (netns, IP).
    async fn pod(&self, name: &str, node: &str, command: &[&str]) -> Result<(String, String)> {
        self.pod_with_labels(name, node, command, &[]).await
    }

    /// [`Cluster::pod`] with labels.
    pub(crate) async fn pod_with_labels(
        &self,
        name: &str,
        node: &str,
        command: &[&str],
        labels: &[(&str, &str)],
    ) -> Result<(String, String)> {
        let pods = self.client()?.pods("default");
        let pod = Pod {
            metadata: ObjectMeta {
                name: name.into(),
                labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                ..Default::default()
            },
            spec: PodSpec {
                node_name: Some(node.into()),
                containers: vec![Container {
                    name: "main".into(),
                    command: command.iter().map(|s| s.to_string()).collect(),
                    ..Default::default()
                }],
                ..Default::default()
            },
            ..Default::default()
        };
        pods.create(&pod).await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let p = pods.get(name).await?;
            if p.status.phase == openapi::PodPhase::Running {
                let uid = p.metadata.uid.clone().unwrap_or_default();
                let ns = netcore::names::pod_netns(node, "default", name, &uid);
                return Ok((ns, p.status.pod_ip.unwrap_or_default()));
            }
            if Instant::now() > deadline {
                bail!("pod {name} did not start");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Ok(out) = self.run(&["down"]) {
            if !out.status.success() {
                eprintln!("flatnet down failed: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
    }
}

/// One iperf3 TCP stream from namespace `from` to `target` for `secs`; answers Gbit/s.
pub(crate) fn iperf(from: &str, target: &str, secs: u32) -> Result<f64> {
    // The server may still be starting: retry the connection for a few seconds.
    for _ in 0..50 {
        let out = Command::new("ip")
            .args(["netns", "exec", from, "iperf3", "-c", target, "-t", &secs.to_string(), "-J"])
            .output()
            .context("run iperf3 (apt-get install -y iperf3)")?;
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if let Some(bps) = report["end"]["sum_received"]["bits_per_second"].as_f64() {
            return Ok(bps / 1e9);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("iperf3 from {from} to {target} never connected")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// The same topology as a host-gw cluster's cross-node path, wired by hand with iproute2
/// (no flatnet code): pod – veth – bridge – node – veth – fabric bridge – veth – node –
/// bridge – veth – pod, static routes between the nodes. Flatnet's path should match it.
struct HandWired {
    names: Vec<String>,
}

impl HandWired {
    fn new() -> Result<HandWired> {
        let tag = format!("flatnet-bench-hw{}-", std::process::id());
        let ns = |n: &str| format!("{tag}{n}");
        let names: Vec<String> = ["fab", "n1", "n2", "p1", "p2"].iter().map(|n| ns(n)).collect();
        let wired = HandWired { names: names.clone() };
        for n in &names {
            ip(&["netns", "add", n])?;
        }
        let (fab, n1, n2, p1, p2) = (&names[0], &names[1], &names[2], &names[3], &names[4]);
        let batch = |netns: &str, cmds: &[String]| -> Result<()> {
            for c in cmds {
                let args: Vec<&str> = c.split_whitespace().collect();
                let mut full = vec!["-n", netns];
                full.extend(args);
                ip(&full)?;
            }
            Ok(())
        };
        batch(fab, &["link add br0 type bridge".into(), "link set br0 up".into()])?;
        for (i, node, pod) in [(1, n1, p1), (2, n2, p2)] {
            batch(
                fab,
                &[
                    format!("link add f{i} type veth peer name eth0 netns {node}"),
                    format!("link set f{i} master br0 up"),
                ],
            )?;
            batch(
                node,
                &[
                    format!("addr add 192.168.253.{}/24 dev eth0", 10 + i),
                    "link set eth0 up".into(),
                    "link set lo up".into(),
                    "link add br0 type bridge".into(),
                    format!("addr add 10.250.{i}.1/24 dev br0"),
                    "link set br0 up".into(),
                    format!("link add v{i} type veth peer name eth0 netns {pod}"),
                    format!("link set v{i} master br0 up"),
                    format!("route add 10.250.{}.0/24 via 192.168.253.{}", 3 - i, 13 - i),
                ],
            )?;
            batch(
                pod,
                &[
                    format!("addr add 10.250.{i}.2/24 dev eth0"),
                    "link set eth0 up".into(),
                    "link set lo up".into(),
                    format!("route add default via 10.250.{i}.1"),
                ],
            )?;
            ip(&["netns", "exec", node, "sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
        }
        Ok(wired)
    }
}

impl Drop for HandWired {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip").args(args).output()?;
    if !out.status.success() {
        bail!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// An `iperf3 -s` in the namespace `ns` (the raw underlay's server), killed on drop.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn run(secs: u32, runs: usize) -> Result<()> {
    let iperf3 = Path::new("/usr/bin/iperf3");
    if !iperf3.exists() {
        bail!("iperf3 is missing: apt-get install -y iperf3");
    }
    let mut rows = Vec::new();
    // The hand-wired twin of host-gw's cross-node path, measured in the same run.
    let hand = HandWired::new()?;
    let hand_server = Server(
        Command::new("ip")
            .args(["netns", "exec", &hand.names[4], "iperf3", "-s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let mut hand_runs = Vec::new();
    for backend in ["host-gw", "vxlan"] {
        let (cluster, _) = Cluster::up(2, backend)?;
        let server = ["iperf3", "-s"];
        let (_, same_ip) = cluster.pod("srv-same", "node-1", &server).await?;
        let (_, cross_ip) = cluster.pod("srv-cross", "node-2", &server).await?;
        let (client_ns, _) = cluster.pod("client", "node-1", &["sleep", "100000"]).await?;
        let raw = Server(
            Command::new("ip")
                .args(["netns", "exec", &cluster.node_netns(2), "iperf3", "-s"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        );
        // Interleaved, so that drift of the machine hits every path alike.
        let (mut same, mut cross, mut raw_gbps) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            same.push(iperf(&client_ns, &same_ip, secs)?);
            cross.push(iperf(&client_ns, &cross_ip, secs)?);
            raw_gbps.push(iperf(&cluster.node_netns(1), "192.168.254.12", secs)?);
            if backend == "host-gw" {
                hand_runs.push(iperf(&hand.names[3], "10.250.2.2", secs)?);
            }
        }
        let (same, cross, raw_gbps) = (median(same), median(cross), median(raw_gbps));
        drop(raw);
        rows.push((backend, same, cross, raw_gbps));
    }
    drop(hand_server);
    drop(hand);
    let hand_gbps = median(hand_runs);
    let mut up_times = Vec::new();
    for _ in 0..3 {
        let (_cluster, took) = Cluster::up(3, "host-gw")?;
        up_times.push(took.as_secs_f64());
    }

    println!("## Pod-to-pod throughput (flatnet-bench throughput, iperf3, 1 TCP stream, {secs} s, median of {runs})\n");
    println!("| path | Gbit/s | ratio to the raw underlay of the same run |");
    println!("|---|---|---|");
    for (backend, same, cross, raw) in &rows {
        println!("| raw underlay node-1 → node-2 ({backend} run) | {raw:.1} | 1 |");
        println!("| same-node pod → pod ({backend} run) | {same:.1} | {:.2} |", same / raw);
        println!("| cross-node pod → pod, **{backend}** | {cross:.1} | **{:.2}** |", cross / raw);
        if *backend == "host-gw" {
            println!(
                "| the same path wired by hand with iproute2 (same hops, no flatnet) | {hand_gbps:.1} | {:.2} |",
                hand_gbps / raw
            );
            println!("| → host-gw cross-node / hand-wired same hops | | **{:.2}** |", cross / hand_gbps);
        }
    }
    println!(
        "\n`flatnet up --detach`, 3 nodes, host-gw, start to every node Ready (3 runs): {}",
        up_times.iter().map(|t| format!("{t:.2} s")).collect::<Vec<_>>().join(", ")
    );
    Ok(())
}
