//! `flatnet-bench netsetup`: pod network setup latency, flatnet against the peers a
//! container runtime would use, side by side in one run.
//!
//! Every implementation gets its own throwaway "node" network namespace with its own bridge
//! and /24, and wires N pods to it one after the other (after one unmeasured warm-up pod
//! that also creates the peers' bridges). The implementations take turns pod by pod, in a
//! new random order every round, so that drift on these noisy machines, and the kernel work
//! a peer's process leaves behind when it exits, hit all of them alike:
//!
//! - **flatnet**: in process, `podnet::attach_pod` on a node prepared once with
//!   `podnet::prepare_node` (netns, veth created straight into it, attached and up,
//!   hairpin, `lo` up, address, `eth0` up, default route). No process is spawned.
//! - **flatnet, stage by stage**: the same path as `attach_pod` (`plan::plan_pod` for a new
//!   pod, applied by `podnet::apply_pod_observed`, which `apply_pod` runs too), with a clock
//!   lap as each step and the wait for the bridge port finish, for the breakdown.
//! - **`ip -batch`**: the agent-independent floor from peers.md: one `ip -batch` in the
//!   node namespace (veth into the pod netns, bridge, up, hairpin) and one `ip -n POD -batch`
//!   (`lo` up, address, `eth0` up, default route).
//! - **CNI**: Debian's containernetworking-plugins `bridge` + `host-local`, invoked as a
//!   CNI runtime invokes them (env vars, config on stdin, cniVersion 1.0.0).
//! - **netavark**: `netavark --config DIR setup /run/netns/POD` with an internal network
//!   (no firewall), the pod's IP given as podman gives it.
//!
//! Every peer is spawned from a thread that has entered the node namespace (what
//! `ip netns exec` would do, without its own process), so nothing touches the root
//! namespace. For the peers the pod namespace is made with `netcore::netns::create` inside
//! the timed section, as `attach_pod` makes it inside its own: each implementation pays for
//! its namespace.
//!
//! The clock starts when the pod is decided and stops when a UDP datagram sent from inside
//! the pod (a thread entered with `Netns::run`) to the gateway address is received by a
//! socket bound on that address in the node namespace: a thread blocked on that socket
//! stamps each arrival, and the pod resends every 250 µs until one arrives. "setup" is the
//! time until the implementation returned. The report also says, per implementation, how
//! often the first datagram was not the first to arrive (lost) and how often the first
//! packet took ≥ 0.9 s: the pod's ARP request was dropped (the new bridge port was not
//! forwarding yet) and its packets waited for the ARP retransmit, 1 s later.
//!
//! Teardown: flatnet's `podnet::detach_pod` of half the pods one after the other, and of the
//! other half all at once (`join_all` over 4 netlink handles on the bench's runtime); on the
//! step-by-step pods, half at once on a runtime with 16 threads and 16 handles, and half by
//! deleting only the namespace (the kernel removes the veth with it); the peers' own
//! teardown per pod.
//!
//! Everything is made under `flatnet-bench-PID-` (namespaces) and in a temporary directory,
//! and removed on exit, also on error; namespaces of earlier runs whose process is gone are
//! removed at start.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use netcore::link::Netlink;
use netcore::model::{NodeNetwork, PodNetwork};
use netcore::netns::{self, Netns};
use netcore::plan::{self, ObservedPod, PodStep};
use netcore::podnet::{self, Progress, POD_IFNAME};
use serde_json::json;

use super::{ms, percentile};

const NS_PREFIX: &str = "flatnet-bench-";
const CNI_PATH: &str = "/usr/lib/cni";
const NETAVARK: &str = "/usr/lib/podman/netavark";
/// The /21 the benchmark's node subnets come from (10.123.K.0/24, one per implementation).
const SUBNET_BASE: Ipv4Addr = Ipv4Addr::new(10, 123, 0, 0);
const SUBNET_PREFIX: u8 = 21;
/// How long a pod may take to send its first packet before the run fails.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between teardown phases: namespace deletion finishes in a kernel worker after the
/// call returns, and that work should not be charged to the next phase.
const SETTLE: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Flatnet,
    Steps,
    IpBatch,
    Cni,
    Netavark,
}

const KINDS: [Kind; 5] = [Kind::Flatnet, Kind::Steps, Kind::IpBatch, Kind::Cni, Kind::Netavark];

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Flatnet => "flatnet `podnet::attach_pod` (in process)",
            Kind::Steps => "flatnet, the same path stage by stage (breakdown)",
            Kind::IpBatch => "two `ip -batch` calls (floor, peers.md)",
            Kind::Cni => "CNI bridge + host-local ADD",
            Kind::Netavark => "netavark `setup`, internal network",
        }
    }

    /// Short tag used in namespace names.
    fn tag(self) -> &'static str {
        match self {
            Kind::Flatnet => "fn",
            Kind::Steps => "st",
            Kind::IpBatch => "ip",
            Kind::Cni => "cni",
            Kind::Netavark => "nav",
        }
    }

    /// Third octet of the node's /24.
    fn octet(self) -> u8 {
        match self {
            Kind::Flatnet => 0,
            Kind::Cni => 1,
            Kind::Netavark => 2,
            Kind::IpBatch => 3,
            Kind::Steps => 4,
        }
    }

    fn bridge(self) -> &'static str {
        match self {
            Kind::Flatnet => "fnbench0",
            Kind::Steps => "fnbstep0",
            Kind::IpBatch => "fnbip0",
            Kind::Cni => "fnbcni0",
            Kind::Netavark => "fnbnav0",
        }
    }

    fn in_process(self) -> bool {
        matches!(self, Kind::Flatnet | Kind::Steps)
    }
}

/// What a stage of `attach_pod` does, as the breakdown's row says it, with the netlink
/// round trips it makes (interface indexes are looked up once per pod and kept).
fn stage_label(progress: Progress<'_>) -> String {
    let step = match progress {
        Progress::Step(step) => step,
        Progress::PortForwarding => {
            return "drop of the pod's netns and netlink handle, then the wait until the bridge port forwards \
                    (`wait_forwarding`: one lookup per poll)"
                .into()
        }
    };
    let what = match step {
        PodStep::CreateNetns => "`netns::create` (thread: unshare + bind mount)",
        PodStep::CreateVeth => {
            "`Netns::open` of the pod netns, `ensure_veth` (lookup, create with the peer in the pod netns, lookup: \
             3 round trips)"
        }
        PodStep::AttachVeth => "`attach_up` (bridge port and up: 1)",
        PodStep::Eth0Up => "`Netlink::open` in the pod netns (thread + socket), lookup + up (2)",
        PodStep::Hairpin => "`set_hairpin` (1)",
        PodStep::LoopbackUp => "up (1)",
        PodStep::AddAddress => "`ensure_address` (1)",
        PodStep::DefaultRoute => "`replace_default_route` (1)",
        PodStep::SetMtu => "`set_mtu` of both ends (2)",
    };
    format!("{step:?}: {what}")
}

/// Namespaces whose names start with the prefix are deleted on drop (deleting a node
/// namespace deletes its bridge and veths, and the veths take their pod ends with them).
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for name in netns::list(&self.0).unwrap_or_default() {
            if let Err(e) = netns::delete(&name) {
                eprintln!("cleanup: {e}");
            }
        }
    }
}

/// Delete `flatnet-bench-PID-*` namespaces left by runs whose process is gone.
fn reap_stale() {
    for name in netns::list(NS_PREFIX).unwrap_or_default() {
        let pid = name[NS_PREFIX.len()..].split('-').next().unwrap_or("");
        if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) && !Path::new("/proc").join(pid).exists() {
            eprintln!("removing netns {name} left by an earlier run");
            let _ = netns::delete(&name);
        }
    }
}

/// Refuse to run if a route of this (root) namespace overlaps the benchmark's subnets: the
/// benchmark only uses its own namespaces, but an overlap would make its results confusing.
fn check_routes() -> Result<()> {
    let table = std::fs::read_to_string("/proc/net/route").context("read /proc/net/route")?;
    let base = u32::from(SUBNET_BASE);
    let base_mask = u32::MAX << (32 - SUBNET_PREFIX);
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let dst = u32::from_be(u32::from_str_radix(f[1], 16)?);
        let mask = u32::from_be(u32::from_str_radix(f[7], 16)?);
        if mask == 0 {
            continue; // the default route
        }
        let m = mask & base_mask;
        if dst & m == base & m {
            bail!("route {} in the root namespace overlaps {SUBNET_BASE}/{SUBNET_PREFIX}", line.trim());
        }
    }
    Ok(())
}

type Job = Box<dyn FnOnce() + Send>;

/// A thread living inside one namespace, running jobs sent to it: peers are spawned from it,
/// so they start in that namespace without a wrapper process.
struct NsThread {
    tx: Option<mpsc::Sender<Job>>,
    handle: Option<JoinHandle<()>>,
}

impl NsThread {
    fn start(name: &str) -> Result<NsThread> {
        let ns = Netns::open(name)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let handle = std::thread::spawn(move || {
            let entered = ns.run(move || {
                for job in rx {
                    job();
                }
            });
            if let Err(e) = entered {
                eprintln!("namespace thread: {e}");
            }
        });
        Ok(NsThread { tx: Some(tx), handle: Some(handle) })
    }

    fn call<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let (rtx, rrx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            let _ = rtx.send(f());
        });
        self.tx.as_ref().context("namespace thread stopped")?.send(job).ok().context("namespace thread gone")?;
        rrx.recv().context("namespace thread could not run the job (setns failed?)")
    }
}

impl Drop for NsThread {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Run a program (in the calling thread's namespace), config on stdin; its stdout.
fn exec(program: &str, args: &[String], envs: &[(&str, String)], stdin: &[u8]) -> Result<Vec<u8>> {
    let mut child = Command::new(program)
        .args(args)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("spawn {program}"))?;
    child.stdin.take().context("stdin")?.write_all(stdin)?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "{program} {args:?} {envs:?}: {}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out.stdout)
}

/// `podnet::attach_pod` as the agent runs it (`plan::plan_pod` for a new pod, applied by
/// `podnet::apply_pod_observed`, the function behind `apply_pod`), with a lap at the end
/// of each stage: (stage, time) in the order they ran.
async fn attach_stepwise(node: &Netlink, bridge: u32, pod: &PodNetwork) -> Result<Vec<(String, Duration)>> {
    let steps = plan::plan_pod(pod, bridge, &ObservedPod::absent());
    let mut laps = Vec::with_capacity(steps.len() + 1);
    let mut last = Instant::now();
    podnet::apply_pod_observed(node, bridge, pod, &steps, |progress| {
        let now = Instant::now();
        laps.push((stage_label(progress), now - last));
        last = now;
    })
    .await?;
    Ok(laps)
}

struct Pod {
    netns: String,
    ip: Ipv4Addr,
    host_veth: String,
    cni_id: String,
    /// CNI ADD's result (passed back as prevResult on DEL).
    cni_result: Option<serde_json::Value>,
    /// netavark's options, given again on teardown.
    nav_opts: Option<Vec<u8>>,
}

struct Node {
    kind: Kind,
    name: String,
    thread: NsThread,
    /// For flatnet: the node's netlink connection and bridge index.
    netlink: Option<(Netlink, u32)>,
    gateway: Ipv4Addr,
    /// Bound on the gateway address in the node namespace, after the warm-up pod.
    probe: Option<Probe>,
    tmp: PathBuf,
    pods: Vec<Pod>,
    setup: Vec<Duration>,
    ready: Vec<Duration>,
    /// Which datagram arrived first, per pod (1: the first one sent).
    attempts: Vec<u64>,
    /// The step-by-step variant's laps, per pod: (stage, time).
    steps: Vec<Vec<(String, Duration)>>,
}

impl Node {
    fn subnet(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 123, self.kind.octet(), 0)
    }

    fn cni_conf(&self) -> serde_json::Value {
        json!({
            "cniVersion": "1.0.0",
            "name": "fnbench-cni",
            "type": "bridge",
            "bridge": self.kind.bridge(),
            "isGateway": true,
            "ipMasq": false,
            "hairpinMode": true,
            "ipam": {
                "type": "host-local",
                "subnet": format!("{}/24", self.subnet()),
                "dataDir": self.tmp.join("cni-ipam").to_string_lossy(),
                "routes": [{"dst": "0.0.0.0/0"}],
            },
        })
    }

    fn cni_env(&self, command: &str, pod: &Pod) -> Vec<(&'static str, String)> {
        vec![
            ("CNI_COMMAND", command.to_string()),
            ("CNI_CONTAINERID", pod.cni_id.clone()),
            ("CNI_NETNS", format!("{}/{}", netns::NETNS_DIR, pod.netns)),
            ("CNI_IFNAME", POD_IFNAME.to_string()),
            ("CNI_PATH", CNI_PATH.to_string()),
        ]
    }

    fn netavark_opts(&self, idx: usize, ip: Ipv4Addr) -> Vec<u8> {
        let net = "fnbench-nav";
        json!({
            "container_id": format!("{:064x}", idx + 1),
            "container_name": format!("fnbench-{idx}"),
            "networks": { net: { "interface_name": POD_IFNAME, "static_ips": [ip.to_string()] } },
            "network_info": { net: {
                "name": net,
                "id": format!("{:064x}", 0xf1a7_u64),
                "driver": "bridge",
                "network_interface": self.kind.bridge(),
                "subnets": [{ "subnet": format!("{}/24", self.subnet()), "gateway": self.gateway.to_string() }],
                "ipv6_enabled": false,
                "dns_enabled": false,
                "internal": true,
            }},
        })
        .to_string()
        .into_bytes()
    }

    fn netavark_args(&self, command: &str, pod: &Pod) -> Vec<String> {
        vec![
            "--config".into(),
            self.tmp.join("netavark").to_string_lossy().into_owned(),
            command.into(),
            format!("{}/{}", netns::NETNS_DIR, pod.netns),
        ]
    }

    /// Wire pod `idx` (0 is the warm-up); with the probe bound, also wait for its first
    /// packet. Answers (setup, first packet received), both from the decision to create it.
    async fn wire(&mut self, prefix: &str, idx: usize) -> Result<(Duration, Option<(Duration, u64)>)> {
        let kind = self.kind;
        let mut pod = Pod {
            netns: format!("{prefix}{}-{idx}", kind.tag()),
            ip: Ipv4Addr::new(10, 123, kind.octet(), (idx + 2) as u8),
            host_veth: netcore::names::pod_veth(&format!("{prefix}{}-{idx}", kind.tag())),
            cni_id: format!("{prefix}{idx}"),
            cni_result: None,
            nav_opts: None,
        };
        let podnet = PodNetwork {
            netns: pod.netns.clone(),
            host_veth: pod.host_veth.clone(),
            ip: pod.ip,
            prefix: 24,
            gateway: self.gateway,
            mtu: None,
        };
        let t0 = Instant::now();
        match kind {
            Kind::Flatnet => {
                let (nl, bridge) = self.netlink.as_ref().context("no netlink")?;
                podnet::attach_pod(nl, *bridge, &podnet).await?;
            }
            Kind::Steps => {
                let (nl, bridge) = self.netlink.as_ref().context("no netlink")?;
                let laps = attach_stepwise(nl, *bridge, &podnet).await?;
                if self.probe.is_some() {
                    self.steps.push(laps);
                }
            }
            Kind::IpBatch => {
                netns::create(&pod.netns)?;
                let node_cmds = format!(
                    "link add {veth} type veth peer name {POD_IFNAME} netns {ns}\n\
                     link set {veth} master {br} up\n\
                     link set dev {veth} type bridge_slave hairpin on\n",
                    veth = pod.host_veth,
                    ns = pod.netns,
                    br = kind.bridge()
                );
                let pod_cmds = format!(
                    "link set lo up\naddr add {}/24 dev {POD_IFNAME}\nlink set {POD_IFNAME} up\n\
                     route add default via {}\n",
                    pod.ip, self.gateway
                );
                let ns = pod.netns.clone();
                self.thread.call(move || -> Result<()> {
                    exec("ip", &["-batch".into(), "-".into()], &[], node_cmds.as_bytes())?;
                    exec("ip", &["-n".into(), ns, "-batch".into(), "-".into()], &[], pod_cmds.as_bytes())?;
                    Ok(())
                })??;
            }
            Kind::Cni => {
                netns::create(&pod.netns)?;
                let env = self.cni_env("ADD", &pod);
                let conf = self.cni_conf().to_string().into_bytes();
                let out = self.thread.call(move || exec(&format!("{CNI_PATH}/bridge"), &[], &env, &conf))??;
                let result: serde_json::Value = serde_json::from_slice(&out).context("CNI ADD result")?;
                let addr = result["ips"][0]["address"].as_str().context("CNI ADD result without an IP")?;
                pod.ip = addr.split('/').next().unwrap_or_default().parse().context("CNI ADD result's IP")?;
                pod.cni_result = Some(result);
            }
            Kind::Netavark => {
                netns::create(&pod.netns)?;
                let opts = self.netavark_opts(idx, pod.ip);
                let args = self.netavark_args("setup", &pod);
                let stdin = opts.clone();
                self.thread.call(move || exec(NETAVARK, &args, &[], &stdin))??;
                pod.nav_opts = Some(opts);
            }
        }
        let setup = t0.elapsed();
        let ready = match &self.probe {
            Some(probe) => {
                let a = first_packet(&pod.netns, pod.ip, probe, self.gateway, idx as u64)?;
                Some((a.at - t0, a.attempt))
            }
            None => None,
        };
        self.pods.push(pod);
        Ok((setup, ready))
    }

    fn bind_probe(&mut self) -> Result<()> {
        let gw = self.gateway;
        let sock = self.thread.call(move || UdpSocket::bind((gw, 0)))?.context("bind the probe on the gateway")?;
        self.probe = Some(Probe::new(sock)?);
        Ok(())
    }

    /// Peer teardown of one pod (plugin, then the namespace, as a runtime does); its time.
    fn peer_teardown(&self, pod: &Pod) -> Result<Duration> {
        let t0 = Instant::now();
        match self.kind {
            Kind::IpBatch => {
                let args = vec!["link".into(), "del".into(), pod.host_veth.clone()];
                self.thread.call(move || exec("ip", &args, &[], b""))??;
            }
            Kind::Cni => {
                let mut conf = self.cni_conf();
                conf["prevResult"] = pod.cni_result.clone().unwrap_or_default();
                let conf = conf.to_string().into_bytes();
                let env = self.cni_env("DEL", pod);
                self.thread.call(move || exec(&format!("{CNI_PATH}/bridge"), &[], &env, &conf))??;
            }
            Kind::Netavark => {
                let args = self.netavark_args("teardown", pod);
                let stdin = pod.nav_opts.clone().unwrap_or_default();
                self.thread.call(move || exec(NETAVARK, &args, &[], &stdin))??;
            }
            Kind::Flatnet | Kind::Steps => bail!("not a peer"),
        }
        netns::delete(&pod.netns)?;
        Ok(t0.elapsed())
    }
}

/// How often the pod resends its probe datagram until one arrives.
const RESEND: Duration = Duration::from_micros(250);

/// A UDP socket bound on the gateway address in a node namespace, and a thread blocked on
/// it that stamps each datagram (tag, attempt) with the instant it was received.
struct Probe {
    port: u16,
    rx: std::sync::Mutex<mpsc::Receiver<(u64, u64, SocketAddr, Instant)>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Probe {
    fn new(sock: UdpSocket) -> Result<Probe> {
        let port = sock.local_addr()?.port();
        sock.set_read_timeout(Some(Duration::from_millis(100)))?;
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let stopped = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while !stopped.load(Ordering::Relaxed) {
                if let Ok((16, from)) = sock.recv_from(&mut buf) {
                    let at = Instant::now();
                    let tag = u64::from_be_bytes(buf[..8].try_into().unwrap());
                    let attempt = u64::from_be_bytes(buf[8..16].try_into().unwrap());
                    if tx.send((tag, attempt, from, at)).is_err() {
                        break;
                    }
                }
            }
        });
        Ok(Probe { port, rx: std::sync::Mutex::new(rx), stop, handle: Some(handle) })
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// What the readiness probe saw.
struct Arrival {
    at: Instant,
    /// Which of the pod's datagrams arrived first (1: none was lost).
    attempt: u64,
}

/// Send a datagram from inside the pod to the gateway every [`RESEND`] until the probe in
/// the node namespace receives one; when the first one was received, and which one it was.
fn first_packet(pod_ns: &str, pod_ip: Ipv4Addr, probe: &Probe, gateway: Ipv4Addr, tag: u64) -> Result<Arrival> {
    let to = SocketAddrV4::new(gateway, probe.port);
    let ns = Netns::open(pod_ns)?;
    let rx = &probe.rx;
    ns.run(move || -> Result<Arrival> {
        let rx = rx.lock().unwrap();
        let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).context("bind in the pod")?;
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut attempt = 0u64;
        loop {
            attempt += 1;
            let mut msg = [0u8; 16];
            msg[..8].copy_from_slice(&tag.to_be_bytes());
            msg[8..].copy_from_slice(&attempt.to_be_bytes());
            // Errors (a link not up yet) are retried like losses.
            let _ = sock.send_to(&msg, to);
            let resend_at = Instant::now() + RESEND;
            loop {
                let wait = resend_at.saturating_duration_since(Instant::now());
                match rx.recv_timeout(wait) {
                    Ok((t, first, from, at)) if t == tag => {
                        if from.ip() != std::net::IpAddr::V4(pod_ip) {
                            bail!("probe from {pod_ns} arrived from {from}, not from {pod_ip}");
                        }
                        return Ok(Arrival { at, attempt: first });
                    }
                    Ok(_) => {} // a late duplicate from an earlier pod
                    Err(mpsc::RecvTimeoutError::Timeout) => break,
                    Err(mpsc::RecvTimeoutError::Disconnected) => bail!("probe thread gone"),
                }
            }
            if Instant::now() >= deadline {
                bail!("{pod_ns} sent no packet to {to} within {READY_TIMEOUT:?}");
            }
        }
    })?
}

fn stats(v: &[Duration]) -> (Duration, Duration) {
    let mut s = v.to_vec();
    s.sort();
    (percentile(&s, 0.5), percentile(&s, 0.99))
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// Wait until none of the links exist in the node namespace; how long that took from `t0`.
async fn until_links_gone(nl: &Netlink, names: &[String], t0: Instant) -> Result<Duration> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut left: Vec<&String> = names.iter().collect();
    while !left.is_empty() {
        let mut still = Vec::new();
        for n in left {
            if nl.index(n).await?.is_some() {
                still.push(n);
            }
        }
        left = still;
        if !left.is_empty() {
            if Instant::now() > deadline {
                bail!("{} host veths still exist 30 s after their namespaces were deleted", left.len());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    Ok(t0.elapsed())
}

/// `detach_pod` of every pod at once, on a fresh runtime with `threads` workers and
/// `handles` netlink connections to the node; the wall time.
fn detach_on_own_runtime(node_ns: &str, pods: Vec<PodNetwork>, threads: usize, handles: usize) -> Result<Duration> {
    let node_ns = node_ns.to_string();
    std::thread::spawn(move || -> Result<Duration> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()?;
        rt.block_on(async move {
            let ns = Netns::open(&node_ns)?;
            let nls = (0..handles).map(|_| Netlink::open(&ns)).collect::<netcore::Result<Vec<_>>>()?;
            let t0 = Instant::now();
            let tasks: Vec<_> = pods
                .into_iter()
                .enumerate()
                .map(|(i, p)| {
                    let nl = nls[i % nls.len()].clone();
                    tokio::spawn(async move { podnet::detach_pod(&nl, &p).await })
                })
                .collect();
            for r in futures::future::join_all(tasks).await {
                r??;
            }
            Ok(t0.elapsed())
        })
    })
    .join()
    .map_err(|_| anyhow::anyhow!("teardown thread panicked"))?
}

/// Median of `n` netlink round trips (`RTM_GETLINK` of `lo` through netcore's `Netlink`) in
/// the named namespace, on the calling runtime.
async fn netlink_rtt(ns_name: &str, n: usize) -> Result<Duration> {
    let ns = Netns::open(ns_name)?;
    let nl = Netlink::open(&ns)?;
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        nl.index("lo").await?.context("no lo")?;
        times.push(t.elapsed());
    }
    Ok(stats(&times).0)
}

/// The same on a fresh current-thread runtime (connection and caller on one thread).
fn netlink_rtt_current_thread(ns_name: &str, n: usize) -> Result<Duration> {
    let ns_name = ns_name.to_string();
    std::thread::spawn(move || -> Result<Duration> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        rt.block_on(netlink_rtt(&ns_name, n))
    })
    .join()
    .map_err(|_| anyhow::anyhow!("netlink baseline thread panicked"))?
}

pub async fn run(pods: usize) -> Result<()> {
    if !(2..=250).contains(&pods) {
        bail!("--pods must be between 2 and 250 (each implementation uses one /24)");
    }
    if !super::is_root() {
        bail!("netsetup creates network namespaces: run it as root");
    }
    for tool in [format!("{CNI_PATH}/bridge"), format!("{CNI_PATH}/host-local"), NETAVARK.to_string()] {
        if !Path::new(&tool).exists() {
            bail!("{tool} is missing: apt-get install -y containernetworking-plugins netavark");
        }
    }
    check_routes()?;
    reap_stale();

    let prefix = format!("{NS_PREFIX}{}-", std::process::id());
    let _cleanup = Cleanup(prefix.clone());
    let tmp = tempfile::Builder::new().prefix("flatnet-bench-netsetup-").tempdir()?;

    let versions = {
        let nav = Command::new(NETAVARK).arg("--version").output()?;
        let cni = Command::new("dpkg-query")
            .args(["-W", "-f", "${Version}", "containernetworking-plugins"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")?;
        format!(
            "kernel {}, {}, containernetworking-plugins {}",
            kernel.trim(),
            String::from_utf8_lossy(&nav.stdout).trim(),
            cni.trim()
        )
    };

    // The nodes: one namespace each; flatnet's (and the ip floor's) bridge made with
    // prepare_node, the peers' by their warm-up pod.
    let mut nodes = Vec::new();
    for kind in KINDS {
        let name = format!("{prefix}node-{}", kind.tag());
        netns::create(&name)?;
        let gateway = Ipv4Addr::new(10, 123, kind.octet(), 1);
        let netlink = if kind.in_process() || kind == Kind::IpBatch {
            let ns = Netns::open(&name)?;
            let nl = Netlink::open(&ns)?;
            let net = NodeNetwork { bridge: kind.bridge().into(), gateway, prefix: 24 };
            let bridge = podnet::prepare_node(&nl, &ns, &net).await?;
            Some((nl, bridge))
        } else {
            None
        };
        let dir = tmp.path().join(kind.tag());
        std::fs::create_dir_all(&dir)?;
        nodes.push(Node {
            kind,
            thread: NsThread::start(&name)?,
            name,
            netlink,
            gateway,
            probe: None,
            tmp: dir,
            pods: Vec::new(),
            setup: Vec::new(),
            ready: Vec::new(),
            attempts: Vec::new(),
            steps: Vec::new(),
        });
    }

    // Warm-up pod (index 0): not measured; it makes the peers' bridges and gateways and
    // pulls their binaries into the page cache. Then the probe, and a check of the probe.
    for node in &mut nodes {
        node.wire(&prefix, 0).await.with_context(|| format!("warm-up of {}", node.kind.label()))?;
        node.bind_probe()?;
        let p = &node.pods[0];
        let probe = node.probe.as_ref().context("probe")?;
        first_packet(&p.netns, p.ip, probe, node.gateway, u64::MAX)
            .with_context(|| format!("warm-up pod of {} cannot reach its gateway", node.kind.label()))?;
    }

    // Baselines: what one netlink request costs through netcore, on this runtime and on a
    // current-thread one.
    let rtt_multi = netlink_rtt(&nodes[0].name, 500).await?;
    let rtt_single = netlink_rtt_current_thread(&nodes[0].name, 500)?;

    // The measured pods, implementations taking turns in a new random order every round
    // (a fixed cyclic order would make each always follow the same one, e.g. flatnet always
    // right after a netavark process exited).
    eprintln!("wiring {pods} pods with each of {} implementations…", nodes.len());
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    for idx in 1..=pods {
        for i in (1..order.len()).rev() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            order.swap(i, (rng % (i as u64 + 1)) as usize);
        }
        for &k in &order {
            let node = &mut nodes[k];
            let (setup, ready) =
                node.wire(&prefix, idx).await.with_context(|| format!("pod {idx} of {}", node.kind.label()))?;
            let (ready, attempt) = ready.context("no probe")?;
            node.setup.push(setup);
            node.ready.push(ready);
            node.attempts.push(attempt);
        }
    }

    // Teardown.
    eprintln!("tearing down…");
    let half = pods / 2;
    let fl = &nodes[0];
    let (fl_nl, _) = fl.netlink.as_ref().context("netlink")?;
    let to_podnet = |p: &Pod, gw: Ipv4Addr| PodNetwork {
        netns: p.netns.clone(),
        host_veth: p.host_veth.clone(),
        ip: p.ip,
        prefix: 24,
        gateway: gw,
        mtu: None,
    };
    // flatnet, one after the other.
    let seq: Vec<PodNetwork> = fl.pods[1..=half].iter().map(|p| to_podnet(p, fl.gateway)).collect();
    let mut seq_each = Vec::new();
    let t0 = Instant::now();
    for p in &seq {
        let t = Instant::now();
        podnet::detach_pod(fl_nl, p).await?;
        seq_each.push(t.elapsed());
    }
    let seq_wall = t0.elapsed();
    tokio::time::sleep(SETTLE).await;
    // flatnet, all at once: join_all over 4 handles, on this runtime.
    let conc: Vec<PodNetwork> = fl.pods[half + 1..].iter().map(|p| to_podnet(p, fl.gateway)).collect();
    let fl_ns = Netns::open(&fl.name)?;
    let handles = (0..4).map(|_| Netlink::open(&fl_ns)).collect::<netcore::Result<Vec<_>>>()?;
    let t0 = Instant::now();
    let results =
        futures::future::join_all(conc.iter().enumerate().map(|(i, p)| podnet::detach_pod(&handles[i % 4], p))).await;
    let conc_wall = t0.elapsed();
    for r in results {
        r?;
    }
    drop(handles);
    tokio::time::sleep(SETTLE).await;

    // Step-by-step pods: half at once on 16 threads, half by deleting only the namespace.
    let st = &nodes[1];
    let st_conc: Vec<PodNetwork> = st.pods[1..=half].iter().map(|p| to_podnet(p, st.gateway)).collect();
    let st_conc_n = st_conc.len();
    let wide_wall = detach_on_own_runtime(&st.name, st_conc, 16, 16)?;
    tokio::time::sleep(SETTLE).await;
    let (st_nl, _) = st.netlink.as_ref().context("netlink")?;
    let ns_only: Vec<&Pod> = st.pods[half + 1..].iter().collect();
    let t0 = Instant::now();
    for p in &ns_only {
        netns::delete(&p.netns)?;
    }
    let ns_only_wall = t0.elapsed();
    let veths: Vec<String> = ns_only.iter().map(|p| p.host_veth.clone()).collect();
    let ns_only_gone = until_links_gone(st_nl, &veths, t0).await?;
    tokio::time::sleep(SETTLE).await;

    // The peers' teardown, one pod after the other.
    let mut peer_down = Vec::new();
    for node in &nodes[2..] {
        let mut each = Vec::new();
        for p in &node.pods[1..] {
            each.push(node.peer_teardown(p).with_context(|| format!("teardown of {}", p.netns))?);
        }
        peer_down.push((node.kind, each));
        tokio::time::sleep(SETTLE).await;
    }

    // Report.
    let fl_ready = stats(&nodes[0].ready).0;
    println!("## Pod network setup (flatnet-bench netsetup --pods {pods})\n");
    println!("{versions}; {} logical CPUs.\n", std::thread::available_parallelism().map_or(0, |n| n.get()));
    println!(
        "| implementation ({pods} pods each) | setup, median | setup, p99 | to first packet, median | to first packet, p99 | ratio to flatnet (first packet, median) | setup returned → first packet, median | first datagram lost | waited ≥ 0.9 s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for node in &nodes {
        let (sm, sp) = stats(&node.setup);
        let (rm, rp) = stats(&node.ready);
        let gap: Vec<Duration> = node.ready.iter().zip(&node.setup).map(|(r, s)| *r - *s).collect();
        let lost = node.attempts.iter().filter(|a| **a > 1).count();
        let slow = node.ready.iter().filter(|r| **r >= Duration::from_millis(900)).count();
        println!(
            "| {} | {} | {} | {} | {} | {:.2}× | {} | {lost}/{pods} | {slow}/{pods} |",
            node.kind.label(),
            ms(sm),
            ms(sp),
            ms(rm),
            ms(rp),
            rm.as_secs_f64() / fl_ready.as_secs_f64(),
            us(stats(&gap).0),
        );
    }

    println!(
        "\nBaseline: one netlink request through netcore's `Netlink` (`RTM_GETLINK` of `lo`), median of 500: {} on \
         the bench's multi-thread runtime (2 workers), {} on a current-thread runtime.",
        us(rtt_multi),
        us(rtt_single)
    );
    println!("\n### flatnet `attach_pod`, stage by stage ({pods} pods)\n");
    println!("| step | median | p99 | share of the median total |");
    println!("|---|---|---|---|");
    let totals: Vec<Duration> = nodes[1].steps.iter().map(|l| l.iter().map(|(_, d)| *d).sum()).collect();
    let total_median = stats(&totals).0;
    let stages: Vec<&String> = nodes[1].steps.first().map(|l| l.iter().map(|(s, _)| s).collect()).unwrap_or_default();
    if nodes[1].steps.iter().any(|l| !l.iter().map(|(s, _)| s).eq(stages.iter().copied())) {
        bail!("the step-by-step pods did not all run the same stages");
    }
    for (i, step) in stages.iter().enumerate() {
        let col: Vec<Duration> = nodes[1].steps.iter().map(|l| l[i].1).collect();
        let (m, p) = stats(&col);
        println!("| {step} | {} | {} | {:.0} % |", us(m), us(p), 100.0 * m.as_secs_f64() / total_median.as_secs_f64());
    }
    let (tm, tp) = stats(&totals);
    println!("| total | {} | {} | |", us(tm), us(tp));

    println!("\n### Teardown\n");
    println!("| teardown | result |");
    println!("|---|---|");
    let (dm, dp) = stats(&seq_each);
    println!(
        "| flatnet `detach_pod`, {} pods one after the other | wall **{}** (per pod median {}, p99 {}) |",
        seq.len(),
        ms(seq_wall),
        ms(dm),
        ms(dp)
    );
    println!(
        "| flatnet `detach_pod`, {} pods at once (`join_all`, 4 handles, the bench's 2-worker runtime) | wall **{}** |",
        conc.len(),
        ms(conc_wall)
    );
    println!(
        "| flatnet `detach_pod`, {st_conc_n} pods at once (spawned tasks, 16 handles, a 16-worker runtime) | wall **{}** |",
        ms(wide_wall)
    );
    println!(
        "| `netns::delete` only (the kernel removes the veth with the namespace), {} pods one after the other | calls return after {}; all host veths gone after {} |",
        ns_only.len(),
        ms(ns_only_wall),
        ms(ns_only_gone)
    );
    for (kind, each) in &peer_down {
        let (m, p) = stats(each);
        let what = match kind {
            Kind::IpBatch => "`ip link del` + `netns::delete`",
            Kind::Cni => "CNI DEL + `netns::delete`",
            Kind::Netavark => "netavark `teardown` + `netns::delete`",
            _ => "",
        };
        println!("| {what}, per pod, {} pods one after the other | median {}, p99 {} |", each.len(), ms(m), ms(p));
    }
    drop(nodes);
    Ok(())
}
