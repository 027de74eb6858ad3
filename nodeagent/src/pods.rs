//! Pod workers: one task per pod bound to this node, like the kubelet's. A worker owns its
//! pod's network wiring, its containers' runs and its status. It is level-triggered: each
//! turn compares what the pod needs with what runs and acts on the difference, whatever
//! woke it (a change of the pod, a container's end, a backoff timer, the periodic resync).

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use netcore::model::PodNetwork;
use netcore::netns::Netns;
use openapi::client::Client;
use openapi::{ContainerState, Event, ObjectReference, Pod, PodCondition, PodStatus};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::containers::{Launch, PodDir, RunRecord};
use crate::kernel::PodNet;
use crate::runtime::{RunEnd, Runtime};
use crate::status::{self, Observed, Run};

/// What every worker shares.
pub struct NodeContext {
    pub client: Client,
    pub node_name: String,
    /// Wires the pods into the node's network.
    pub net: Arc<dyn PodNet>,
    /// Runs their containers.
    pub runtime: Arc<dyn Runtime>,
    /// Sockets in the node's namespace, where readiness probes connect from.
    pub sockets: netcore::netns::SocketMaker,
    /// The node's side of every pod's wiring.
    pub wiring: Wiring,
    pub data_dir: PathBuf,
    pub shim_exe: PathBuf,
    /// The first restart delay of a crashing container; it doubles up to [`MAX_BACKOFF`].
    pub backoff_base: Duration,
    /// What the pods' resolv.conf is made from; `None`: containers see the node's files.
    pub dns: Option<crate::dns_pod::NodeDns>,
}

const MAX_BACKOFF: Duration = Duration::from_secs(60);
const DEFAULT_GRACE: i64 = 30;

impl NodeContext {
    /// The restart policy of crashing containers.
    fn restart_backoff(&self) -> Backoff {
        Backoff::new(self.backoff_base, MAX_BACKOFF)
    }
}

/// The node's side of every pod's wiring: the gateway on the pod bridge, the prefix of the
/// node's pod subnet, and the pods' MTU when the backend lowers it (VXLAN).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wiring {
    pub gateway: Ipv4Addr,
    pub prefix: u8,
    pub mtu: Option<u32>,
}

pub enum PodMsg {
    Update(Box<Pod>),
    Resync,
    Delete,
}

/// A pod's wiring, saved so that an agent can undo it for a pod the API no longer has.
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
struct SavedNetwork {
    netns: String,
    host_veth: String,
    ip: Ipv4Addr,
}

impl SavedNetwork {
    fn of(net: &PodNetwork) -> SavedNetwork {
        SavedNetwork { netns: net.netns.clone(), host_veth: net.host_veth.clone(), ip: net.ip }
    }

    fn load(dir: &PodDir) -> Option<SavedNetwork> {
        serde_json::from_slice(&std::fs::read(dir.network_file()).ok()?).ok()
    }

    /// Write the record (atomically: a torn record would lose the namespace it names).
    fn save(&self, dir: &PodDir) -> std::io::Result<()> {
        std::fs::create_dir_all(&dir.0)?;
        let path = dir.network_file();
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(self)?)?;
        std::fs::rename(tmp, path)
    }

    fn network(self, wiring: Wiring) -> PodNetwork {
        PodNetwork {
            netns: self.netns,
            host_veth: self.host_veth,
            ip: self.ip,
            prefix: wiring.prefix,
            gateway: wiring.gateway,
            mtu: wiring.mtu,
        }
    }
}

/// [`release`], retried with back-off until it succeeds: a pod is gone only when its
/// network is (its record stays meanwhile, for an agent that restarts).
async fn release_until_done(net: &dyn PodNet, dir: &PodDir, wiring: Wiring, fallback: Option<PodNetwork>) {
    let mut backoff = Backoff::new(Duration::from_secs(1), MAX_BACKOFF);
    while let Err(e) = release(net, dir, wiring, fallback.clone()).await {
        let delay = backoff.next_delay();
        tracing::warn!(error = format!("{e:#}"), retry_in = ?delay, "unwiring the pod network failed");
        tokio::time::sleep(delay).await;
    }
}

fn network_of(ctx: &NodeContext, pod: &Pod) -> Option<PodNetwork> {
    let ip: Ipv4Addr = pod.status.pod_ip.as_deref()?.parse().ok()?;
    let uid = pod.metadata.uid.as_deref()?;
    let netns = netcore::names::pod_netns(
        &ctx.node_name,
        pod.metadata.namespace.as_deref().unwrap_or(""),
        &pod.metadata.name,
        uid,
    );
    Some(SavedNetwork { netns, host_veth: netcore::names::pod_veth(uid), ip }.network(ctx.wiring))
}

/// Release what is left of a pod: unwire its network (as its record says, else as
/// `fallback`), then remove its files. The files, and so the record, are kept when the
/// network could not be unwired: they are the only trace of its namespace.
async fn release(net: &dyn PodNet, dir: &PodDir, wiring: Wiring, fallback: Option<PodNetwork>) -> anyhow::Result<()> {
    if let Some(network) = SavedNetwork::load(dir).map(|s| s.network(wiring)).or(fallback) {
        net.detach(&network).await?;
    }
    match std::fs::remove_dir_all(&dir.0) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            tracing::warn!(error = %e, dir = %dir.0.display(), "removing the pod's files failed")
        }
        _ => {}
    }
    Ok(())
}

/// Both ends of a worker's channel: readiness changes `(container, run pid, ready)`, ends
/// of runs `(container, run pid)`.
type Channel<T> = (mpsc::Sender<T>, mpsc::Receiver<T>);

/// A worker for one pod; runs until the pod is deleted.
pub struct PodWorker {
    ctx: Arc<NodeContext>,
    pod: Pod,
    dir: PodDir,
    runs: BTreeMap<String, Run>,
    /// How each container's previous run ended, shown as its `lastState`.
    last_terminated: BTreeMap<String, ContainerState>,
    /// Readiness of containers with a probe (absent: not probed yet, or no probe).
    probe_ready: BTreeMap<String, bool>,
    probes: BTreeMap<String, tokio::task::JoinHandle<()>>,
    probe_events: Channel<(String, i32, bool)>,
    networked: bool,
    network_announced: bool,
    /// The network record (`network.json`) is written for the pod's current network.
    network_saved: bool,
    started: DateTime<Utc>,
    reported: Option<PodStatus>,
    ready_condition: Option<PodCondition>,
    exits: Channel<(String, i32)>,
}

impl PodWorker {
    pub fn spawn(ctx: Arc<NodeContext>, pod: Pod) -> mpsc::Sender<PodMsg> {
        let (tx, rx) = mpsc::channel(16);
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let dir = PodDir::new(&ctx.data_dir, &uid);
        let ready_condition = pod.status.conditions.iter().find(|c| c.condition_type == "Ready").cloned();
        let worker = PodWorker {
            ctx,
            pod,
            dir,
            runs: BTreeMap::new(),
            last_terminated: BTreeMap::new(),
            probe_ready: BTreeMap::new(),
            probes: BTreeMap::new(),
            probe_events: mpsc::channel(16),
            networked: false,
            network_announced: false,
            network_saved: false,
            started: Utc::now(),
            reported: None,
            ready_condition,
            exits: mpsc::channel(16),
        };
        // A child of the agent's span, which names the node.
        let span = tracing::info_span!("pod", pod = %format!("{}/{}", worker.namespace(), worker.pod.metadata.name));
        tokio::spawn(tracing::Instrument::instrument(worker.run(rx), span));
        tx
    }

    fn namespace(&self) -> &str {
        self.pod.metadata.namespace.as_deref().unwrap_or("")
    }

    /// Report an event about this pod, without waiting for the API (an event that cannot be
    /// delivered is logged and dropped; it never holds up the pod).
    fn event(&self, reason: &str, message: String, warning: bool) {
        let event = Event {
            involved_object: ObjectReference {
                kind: "Pod".into(),
                namespace: self.namespace().to_string(),
                name: self.pod.metadata.name.clone(),
                uid: self.pod.metadata.uid.clone().unwrap_or_default(),
            },
            reason: reason.into(),
            message,
            event_type: if warning { "Warning" } else { "Normal" }.into(),
            ..Default::default()
        };
        let events = self.ctx.client.events(self.namespace());
        let deliver = async move {
            if let Err(e) = events.create(&event).await {
                tracing::debug!(error = %e, reason = %event.reason, "event not delivered");
            }
        };
        tokio::spawn(tracing::Instrument::in_current_span(deliver));
    }

    async fn run(mut self, mut rx: mpsc::Receiver<PodMsg>) {
        self.adopt();
        loop {
            let ok = self.turn().await;
            let retry = (!ok).then(|| Instant::now() + Duration::from_secs(1));
            let wake = self.next_deadline().into_iter().chain(retry).min();
            let sleep = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(PodMsg::Update(pod)) => {
                        if pod.status.pod_ip != self.pod.status.pod_ip {
                            self.network_saved = false;
                        }
                        self.pod = *pod;
                    }
                    Some(PodMsg::Resync) => self.networked = false,
                    Some(PodMsg::Delete) | None => return self.teardown().await,
                },
                Some((name, pid)) = self.exits.1.recv() => self.exited(&name, pid),
                Some((name, pid, ready)) = self.probe_events.1.recv() => {
                    if matches!(self.runs.get(&name), Some(Run::Running(r)) if r.pid == pid) {
                        self.probe_ready.insert(name, ready);
                    }
                }
                _ = sleep => {}
            }
        }
    }

    /// Take over the runs an earlier agent recorded, if their shims still live.
    fn adopt(&mut self) {
        for c in &self.pod.spec.containers.clone() {
            let Some(record) = RunRecord::load(&self.dir, &c.name) else { continue };
            match self.ctx.runtime.adopt(&record) {
                Some(waiter) => {
                    tracing::info!(container = %c.name, pid = record.pid, "adopted running container");
                    self.watch_exit(&c.name, record.pid, waiter);
                    self.start_probe(c, record.pid);
                    self.runs.insert(c.name.clone(), Run::Running(record));
                }
                None => {
                    let exit = self.ctx.runtime.exit_record(&self.dir, &c.name);
                    self.runs.insert(c.name.clone(), Run::Exited { record, exit, restart_at: Some(Instant::now()) });
                }
            }
        }
    }

    fn watch_exit(&self, name: &str, pid: i32, end: RunEnd) {
        let tx = self.exits.0.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            end.await;
            let _ = tx.send((name, pid)).await;
        });
    }

    /// Probe the container's readiness for this run (it is not ready until the probe says so).
    fn start_probe(&mut self, container: &openapi::Container, pid: i32) {
        self.stop_probe(&container.name);
        let Some(spec) = crate::probe::ProbeSpec::of(container) else { return };
        let Some(ip) = self.pod.status.pod_ip.as_deref().and_then(|ip| ip.parse().ok()) else { return };
        let tx = self.probe_events.0.clone();
        let handle = crate::probe::spawn(self.ctx.sockets.clone(), ip, spec, container.name.clone(), pid, tx);
        self.probe_ready.insert(container.name.clone(), false);
        self.probes.insert(container.name.clone(), handle);
    }

    fn stop_probe(&mut self, name: &str) {
        if let Some(h) = self.probes.remove(name) {
            h.abort();
        }
        self.probe_ready.remove(name);
    }

    fn exited(&mut self, name: &str, pid: i32) {
        match self.runs.get(name) {
            Some(Run::Running(record)) if record.pid == pid => {}
            _ => return,
        }
        self.stop_probe(name);
        let Some(Run::Running(record)) = self.runs.remove(name) else { return };
        let exit = self.ctx.runtime.exit_record(&self.dir, name);
        let ran = Utc::now().signed_duration_since(record.started_at).to_std().unwrap_or_default();
        let backoff = self.ctx.restart_backoff();
        let delay =
            status::restart_delay(self.pod.spec.restart_policy, exit.as_ref(), ran, record.restart_count, &backoff);
        tracing::info!(container = %name, code = ?exit.as_ref().map(|e| e.exit_code), "container exited");
        let restart_at = delay.map(|d| Instant::now() + d);
        let code = exit.as_ref().map_or("unknown".to_string(), |e| e.exit_code.to_string());
        let failed = exit.as_ref().is_none_or(|e| e.exit_code != 0);
        self.event("Exited", format!("container {name} exited with code {code}"), failed);
        if let Some(delay) = delay {
            self.event("BackOff", format!("restarting container {name} in {} ms", delay.as_millis()), failed);
        }
        self.runs.insert(name.to_string(), Run::Exited { record, exit, restart_at });
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.runs
            .values()
            .filter_map(|r| match r {
                Run::Exited { restart_at, .. } => *restart_at,
                Run::Running(_) => None,
            })
            .min()
    }

    /// One level-triggered pass; false when something failed and should be retried soon.
    async fn turn(&mut self) -> bool {
        let Some(net) = network_of(&self.ctx, &self.pod) else {
            // No IP yet (the node's lease is still coming): nothing to wire or run.
            return true;
        };
        let mut ok = true;
        if !self.network_saved {
            // The record comes first: whatever is wired must be found again, even by an
            // agent that restarts before this pod's next turn.
            match SavedNetwork::of(&net).save(&self.dir) {
                Ok(()) => self.network_saved = true,
                Err(e) => {
                    tracing::warn!(error = %e, "saving the pod's network record failed; retrying");
                    return false;
                }
            }
        }
        if !self.networked {
            // A new pod gets its full plan at once (the hot path: nothing to observe); a pod
            // wired before (a resync, or adopted after an agent restart) is observed and
            // only what drifted is repaired, so nothing that works is touched.
            let fresh = !self.network_announced && self.runs.is_empty();
            let result = if fresh {
                self.ctx.net.attach(&net).await.map(|()| Vec::new())
            } else {
                self.ctx.net.repair(&net).await
            };
            match result {
                Ok(repaired) => {
                    if !repaired.is_empty() {
                        tracing::info!(steps = ?repaired, "repaired the pod network");
                        self.event("NetworkRepaired", format!("repaired drift: {repaired:?}"), true);
                    }
                    if fresh {
                        self.event(
                            "NetworkReady",
                            format!(
                                "netns {}, {}/{} on veth {} via {}",
                                net.netns, net.ip, net.prefix, net.host_veth, net.gateway
                            ),
                            false,
                        );
                    }
                    self.networked = true;
                    self.network_announced = true;
                }
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "wiring the pod network failed; retrying");
                    self.event("NetworkFailed", e.to_string(), true);
                    ok = false;
                }
            }
        }
        if self.networked {
            ok &= self.start_due(&net).await;
        }
        ok &= self.report().await;
        ok
    }

    async fn start_due(&mut self, net: &PodNetwork) -> bool {
        let now = Instant::now();
        let netns = match Netns::open(&net.netns) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "pod namespace vanished; rewiring");
                self.networked = false;
                return false;
            }
        };
        let mut ok = true;
        // The pod's resolv.conf and hosts, written when a container is about to start.
        let mut etc: Option<Option<crate::dns_pod::PodEtc>> = None;
        for c in self.pod.spec.containers.clone() {
            let restarts = match self.runs.get(&c.name) {
                None => 0,
                Some(Run::Running(_)) => continue,
                Some(Run::Exited { restart_at: Some(at), record, exit }) if *at <= now => {
                    self.last_terminated.insert(c.name.clone(), status::terminated(record, exit.as_ref()));
                    record.restart_count + 1
                }
                Some(Run::Exited { .. }) => continue,
            };
            if etc.is_none() {
                etc = Some(match &self.ctx.dns {
                    Some(dns) => match crate::dns_pod::write(&self.dir, &self.pod, net.ip, dns) {
                        Ok(files) => Some(files),
                        Err(e) => {
                            self.event("Failed", format!("write the pod's resolv.conf and hosts: {e}"), true);
                            return false;
                        }
                    },
                    None => None,
                });
            }
            let mut env = vec![
                ("POD_NAME".to_string(), self.pod.metadata.name.clone()),
                ("POD_NAMESPACE".to_string(), self.namespace().to_string()),
                ("POD_IP".to_string(), net.ip.to_string()),
                ("NODE_NAME".to_string(), self.ctx.node_name.clone()),
            ];
            env.extend(c.env.iter().map(|e| (e.name.clone(), e.value.clone())));
            let mut command = c.command.clone();
            command.extend(c.args.iter().cloned());
            let launch = Launch {
                shim_exe: &self.ctx.shim_exe,
                netns: &netns,
                dir: &self.dir,
                container: &c.name,
                command,
                env,
                workdir: c.working_dir.clone(),
                etc: etc.clone().flatten(),
            };
            match self.ctx.runtime.start(launch, restarts) {
                Ok((record, waiter)) => {
                    tracing::info!(container = %c.name, pid = record.pid, restarts, "container started");
                    self.event(
                        "Started",
                        format!("container {} started (pid {}, restarts {restarts})", c.name, record.pid),
                        false,
                    );
                    self.watch_exit(&c.name, record.pid, waiter);
                    self.start_probe(&c, record.pid);
                    self.runs.insert(c.name.clone(), Run::Running(record));
                }
                Err(e) => {
                    tracing::warn!(container = %c.name, error = %e, "starting the container failed");
                    self.event("Failed", format!("container {}: {e}", c.name), true);
                    ok = false;
                }
            }
        }
        ok
    }

    fn status(&mut self) -> PodStatus {
        let status = status::pod_status(&Observed {
            pod: &self.pod,
            runs: &self.runs,
            last_terminated: &self.last_terminated,
            probe_ready: &self.probe_ready,
            ready_condition: self.ready_condition.as_ref(),
            started: self.started,
            now: Utc::now(),
        });
        self.ready_condition = status::ready_condition(&status).cloned();
        status
    }

    /// Report the status when it changed; false when the API could not be reached.
    async fn report(&mut self) -> bool {
        let status = self.status();
        if self.reported.as_ref() == Some(&status) {
            return true;
        }
        let mut pod = self.pod.clone();
        pod.metadata.resource_version = None;
        pod.status = status.clone();
        match self.ctx.client.pods(self.namespace()).replace_status(&pod).await {
            Ok(updated) => {
                self.pod.status = updated.status;
                self.reported = Some(status);
                true
            }
            Err(e) if e.code() == Some(404) => true, // deleted meanwhile: the delete follows
            Err(e) => {
                tracing::warn!(error = %e, "reporting pod status failed");
                false
            }
        }
    }

    async fn teardown(mut self) {
        for name in self.probes.keys().cloned().collect::<Vec<_>>() {
            self.stop_probe(&name);
        }
        let grace = self.pod.spec.termination_grace_period_seconds.unwrap_or(DEFAULT_GRACE);
        let runs: Vec<(i32, u64)> = self
            .runs
            .values()
            .filter_map(|r| match r {
                Run::Running(rec) => Some((rec.pid, rec.proc_start)),
                Run::Exited { .. } => None,
            })
            .collect();
        if !runs.is_empty() {
            self.event("Killing", format!("stopping {} container(s), grace period {grace} s", runs.len()), false);
        }
        self.ctx.runtime.stop(&runs, Duration::from_secs(grace.max(0) as u64)).await;
        let fallback = network_of(&self.ctx, &self.pod);
        release_until_done(&*self.ctx.net, &self.dir, self.ctx.wiring, fallback).await;
        tracing::info!("pod removed");
    }
}

/// Undo what an earlier agent left for pods the API no longer binds here (those not in
/// `keep`): stop their runs, unwire their network, remove their files. A pod whose network
/// cannot be unwired keeps its files, and is tried again at the next full list.
pub async fn collect_orphans(
    data_dir: &Path,
    net: &dyn PodNet,
    runtime: &dyn Runtime,
    wiring: Wiring,
    keep: &HashSet<String>,
) {
    let Ok(entries) = std::fs::read_dir(data_dir.join("pods")) else { return };
    for entry in entries.flatten() {
        let uid = entry.file_name().to_string_lossy().into_owned();
        if !keep.contains(&uid) {
            collect_orphan(PodDir(entry.path()), net, runtime, wiring).await;
        }
    }
}

#[tracing::instrument(skip_all, fields(pod_uid = %dir.0.file_name().unwrap_or_default().to_string_lossy()))]
async fn collect_orphan(dir: PodDir, net: &dyn PodNet, runtime: &dyn Runtime, wiring: Wiring) {
    let mut runs = Vec::new();
    for file in std::fs::read_dir(&dir.0).into_iter().flatten().flatten() {
        let name = file.file_name().to_string_lossy().into_owned();
        if let Some(container) = name.strip_suffix(".state") {
            if let Some(r) = RunRecord::load(&dir, container) {
                runs.push((r.pid, r.proc_start));
            }
        }
    }
    runtime.stop(&runs, Duration::from_secs(DEFAULT_GRACE as u64)).await;
    match release(net, &dir, wiring, None).await {
        Ok(()) => tracing::info!("removed a pod the API no longer has"),
        Err(e) => tracing::warn!(
            error = format!("{e:#}"),
            "unwiring a pod the API no longer has failed; its record is kept for the next try"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{Call, FakePodNet, FakeRuntime};

    fn wiring() -> Wiring {
        Wiring { gateway: Ipv4Addr::new(10, 244, 1, 1), prefix: 24, mtu: None }
    }

    /// The files an agent leaves for pod `uid`: its network record, and the run record of
    /// one container when `pid` is given.
    fn leave_pod(data: &Path, uid: &str, pid: Option<i32>) -> PodDir {
        let dir = PodDir::new(data, uid);
        let saved = SavedNetwork {
            netns: format!("ns-{uid}"),
            host_veth: format!("veth-{uid}"),
            ip: Ipv4Addr::new(10, 244, 1, 9),
        };
        saved.save(&dir).unwrap();
        if let Some(pid) = pid {
            let record = RunRecord { pid, proc_start: 1, started_at: Utc::now(), restart_count: 0 };
            std::fs::write(dir.0.join("app.state"), serde_json::to_vec(&record).unwrap()).unwrap();
        }
        dir
    }

    #[tokio::test]
    async fn orphans_are_stopped_unwired_and_removed() {
        let data = tempfile::tempdir().unwrap();
        let live = leave_pod(data.path(), "live", Some(5));
        let orphan = leave_pod(data.path(), "gone", Some(77));
        let (net, runtime) = (FakePodNet::default(), FakeRuntime::default());
        let keep = HashSet::from(["live".to_string()]);
        collect_orphans(data.path(), &net, &runtime, wiring(), &keep).await;
        assert_eq!(runtime.recorder.calls(), vec![Call::Stop(vec![77])]);
        assert_eq!(net.0.calls(), vec![Call::Detach("ns-gone".into())]);
        assert!(!orphan.0.exists());
        assert!(live.network_file().exists(), "a live pod's files were touched");
    }

    #[tokio::test]
    async fn an_orphan_that_cannot_be_unwired_keeps_its_record() {
        let data = tempfile::tempdir().unwrap();
        let orphan = leave_pod(data.path(), "gone", None);
        let (net, runtime) = (FakePodNet::default(), FakeRuntime::default());
        net.0.fail_next("detach", 1);
        collect_orphans(data.path(), &net, &runtime, wiring(), &HashSet::new()).await;
        assert!(orphan.network_file().exists(), "the only record of the namespace was lost");
        // The next full list tries again.
        collect_orphans(data.path(), &net, &runtime, wiring(), &HashSet::new()).await;
        assert_eq!(net.0.calls(), vec![Call::Detach("ns-gone".into()); 2]);
        assert!(!orphan.0.exists());
    }

    #[tokio::test(start_paused = true)]
    async fn a_deleted_pod_is_unwired_with_retries_before_its_record_goes() {
        let data = tempfile::tempdir().unwrap();
        let dir = leave_pod(data.path(), "pod", None);
        let net = FakePodNet::default();
        net.0.fail_next("detach", 2);
        let start = Instant::now();
        let release = release_until_done(&net, &dir, wiring(), None);
        tokio::pin!(release);
        // While the network cannot be unwired, the record stays.
        assert!(tokio::time::timeout(Duration::from_secs(2), &mut release).await.is_err());
        assert!(dir.network_file().exists());
        release.await;
        assert!(!dir.0.exists());
        let times: Vec<u64> = net.0.timed(start).iter().map(|(t, _)| t.as_secs()).collect();
        assert_eq!(times, vec![0, 1, 3], "retried with back-off");
    }

    #[tokio::test]
    async fn a_pod_without_a_record_is_unwired_as_its_object_says() {
        let data = tempfile::tempdir().unwrap();
        let dir = PodDir::new(data.path(), "pod");
        let net = FakePodNet::default();
        let fallback = SavedNetwork { netns: "ns-x".into(), host_veth: "v".into(), ip: Ipv4Addr::new(10, 244, 1, 2) };
        release(&net, &dir, wiring(), Some(fallback.network(wiring()))).await.unwrap();
        assert_eq!(net.0.calls(), vec![Call::Detach("ns-x".into())]);
    }
}
