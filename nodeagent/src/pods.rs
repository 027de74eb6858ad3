//! Pod workers: one task per pod bound to this node, like the kubelet's. A worker owns its
//! pod's network wiring, its containers' runs and its status. It is level-triggered: each
//! turn compares what the pod needs with what runs and acts on the difference, whatever
//! woke it (a change of the pod, a container's end, a backoff timer, the periodic resync).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use netcore::link::Netlink;
use netcore::netns::Netns;
use netcore::podnet::{self, PodNetwork};
use openapi::client::Client;
use openapi::{
    ConditionStatus, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, Event, ObjectReference, Pod, PodCondition, PodPhase, PodStatus, RestartPolicy,
};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::containers::{self, Launch, PodDir, RunRecord};
use crate::shim::ExitRecord;

/// What every worker shares.
pub struct NodeContext {
    pub client: Client,
    pub node_name: String,
    pub node: Netlink,
    /// Sockets in the node's namespace, where readiness probes connect from.
    pub sockets: netcore::netns::SocketMaker,
    pub bridge: u32,
    pub gateway: Ipv4Addr,
    pub prefix: u8,
    /// The pods' MTU when the backend lowers it (VXLAN).
    pub pod_mtu: Option<u32>,
    pub data_dir: PathBuf,
    pub shim_exe: PathBuf,
    /// The first restart delay of a crashing container; it doubles up to [`MAX_BACKOFF`].
    pub backoff_base: Duration,
}

const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A run that lasted this long resets the restart delay.
const BACKOFF_RESET: Duration = Duration::from_secs(60);
const DEFAULT_GRACE: i64 = 30;

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

enum Run {
    Running(RunRecord),
    Exited { record: RunRecord, exit: Option<ExitRecord>, restart_at: Option<Instant> },
}

impl Run {
    fn record(&self) -> &RunRecord {
        match self {
            Run::Running(r) | Run::Exited { record: r, .. } => r,
        }
    }
}

fn network_of(ctx: &NodeContext, pod: &Pod) -> Option<PodNetwork> {
    let ip: Ipv4Addr = pod.status.pod_ip.as_deref()?.parse().ok()?;
    let uid = pod.metadata.uid.as_deref()?;
    Some(PodNetwork {
        netns: netcore::names::pod_netns(
            &ctx.node_name,
            pod.metadata.namespace.as_deref().unwrap_or(""),
            &pod.metadata.name,
            uid,
        ),
        host_veth: netcore::names::pod_veth(uid),
        ip,
        prefix: ctx.prefix,
        gateway: ctx.gateway,
        mtu: ctx.pod_mtu,
    })
}

fn should_restart(policy: RestartPolicy, exit: Option<&ExitRecord>) -> bool {
    match policy {
        RestartPolicy::Always => true,
        RestartPolicy::OnFailure => exit.is_none_or(|e| e.exit_code != 0),
        RestartPolicy::Never => false,
    }
}

fn backoff(base: Duration, restarts: i32) -> Duration {
    base.saturating_mul(1u32 << restarts.clamp(0, 16)).min(MAX_BACKOFF)
}

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
    probe_events: (mpsc::Sender<(String, i32, bool)>, mpsc::Receiver<(String, i32, bool)>),
    networked: bool,
    network_announced: bool,
    started: DateTime<Utc>,
    reported: Option<PodStatus>,
    ready_condition: Option<PodCondition>,
    exits: (mpsc::Sender<(String, i32)>, mpsc::Receiver<(String, i32)>),
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
            started: Utc::now(),
            reported: None,
            ready_condition,
            exits: mpsc::channel(16),
        };
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
        tokio::spawn(async move {
            if let Err(e) = events.create(&event).await {
                tracing::debug!(error = %e, reason = %event.reason, "event not delivered");
            }
        });
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
                    Some(PodMsg::Update(pod)) => self.pod = *pod,
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
            match containers::adopt(&record) {
                Some(waiter) => {
                    tracing::info!(container = %c.name, pid = record.pid, "adopted running container");
                    self.watch_exit(&c.name, record.pid, waiter);
                    self.start_probe(c, record.pid);
                    self.runs.insert(c.name.clone(), Run::Running(record));
                }
                None => {
                    let exit = containers::exit_record(&self.dir, &c.name);
                    self.runs.insert(c.name.clone(), Run::Exited { record, exit, restart_at: Some(Instant::now()) });
                }
            }
        }
    }

    fn watch_exit(&self, name: &str, pid: i32, waiter: containers::Waiter) {
        let tx = self.exits.0.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            waiter.wait().await;
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
        let exit = containers::exit_record(&self.dir, name);
        let ran = Utc::now().signed_duration_since(record.started_at).to_std().unwrap_or_default();
        let delay = if ran >= BACKOFF_RESET {
            self.ctx.backoff_base
        } else {
            backoff(self.ctx.backoff_base, record.restart_count)
        };
        tracing::info!(container = %name, code = ?exit.as_ref().map(|e| e.exit_code), "container exited");
        let restart_at = should_restart(self.pod.spec.restart_policy, exit.as_ref()).then(|| Instant::now() + delay);
        let code = exit.as_ref().map_or("unknown".to_string(), |e| e.exit_code.to_string());
        let failed = exit.as_ref().is_none_or(|e| e.exit_code != 0);
        self.event("Exited", format!("container {name} exited with code {code}"), failed);
        if restart_at.is_some() {
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
        if !self.networked {
            // A new pod gets its full plan at once (the hot path: nothing to observe); a pod
            // wired before (a resync, or adopted after an agent restart) is observed and
            // only what drifted is repaired, so nothing that works is touched.
            let fresh = !self.network_announced && self.runs.is_empty();
            let result = if fresh {
                podnet::attach_pod(&self.ctx.node, self.ctx.bridge, &net).await.map(|()| Vec::new())
            } else {
                podnet::repair_pod(&self.ctx.node, self.ctx.bridge, &net).await
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
                    let saved = SavedNetwork { netns: net.netns.clone(), host_veth: net.host_veth.clone(), ip: net.ip };
                    let _ = std::fs::create_dir_all(&self.dir.0).and_then(|()| {
                        std::fs::write(self.dir.network_file(), serde_json::to_vec(&saved).unwrap_or_default())
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "wiring the pod network failed; retrying");
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
        for c in self.pod.spec.containers.clone() {
            let restarts = match self.runs.get(&c.name) {
                None => 0,
                Some(Run::Running(_)) => continue,
                Some(Run::Exited { restart_at: Some(at), record, exit }) if *at <= now => {
                    self.last_terminated.insert(c.name.clone(), terminated(record, exit.as_ref()));
                    record.restart_count + 1
                }
                Some(Run::Exited { .. }) => continue,
            };
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
            };
            match containers::start(launch, restarts) {
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
        let mut statuses = Vec::new();
        let (mut running, mut failed, mut restarting, mut done) = (0, 0, 0, 0);
        for c in &self.pod.spec.containers {
            let run = self.runs.get(&c.name);
            let restart_count = run.map(|r| r.record().restart_count).unwrap_or(0);
            let (state, last_state, ready) = match run {
                None => (waiting("ContainerCreating", None), None, false),
                Some(Run::Running(r)) => {
                    running += 1;
                    let state = ContainerState {
                        running: Some(ContainerStateRunning { started_at: Some(r.started_at) }),
                        ..Default::default()
                    };
                    let ready = self.probe_ready.get(&c.name).copied().unwrap_or(true);
                    (state, self.last_terminated.get(&c.name).cloned(), ready)
                }
                Some(Run::Exited { record, exit, restart_at }) => {
                    let terminated = terminated(record, exit.as_ref());
                    if restart_at.is_some() {
                        restarting += 1;
                        (
                            waiting("CrashLoopBackOff", Some("back-off restarting the container")),
                            Some(terminated),
                            false,
                        )
                    } else {
                        done += 1;
                        if exit.as_ref().is_none_or(|e| e.exit_code != 0) {
                            failed += 1;
                        }
                        (terminated, None, false)
                    }
                }
            };
            statuses.push(ContainerStatus { name: c.name.clone(), ready, restart_count, state, last_state });
        }
        let total = self.pod.spec.containers.len();
        let phase = if done == total && total > 0 {
            if failed > 0 {
                PodPhase::Failed
            } else {
                PodPhase::Succeeded
            }
        } else if running > 0 || restarting > 0 {
            PodPhase::Running
        } else {
            PodPhase::Pending
        };
        let all_ready = statuses.iter().all(|s| s.ready) && phase == PodPhase::Running;
        // The Ready condition is the agent's own, kept here with its transition time: the
        // pod object it gets back from the watch may be older than its last report, and a
        // status derived from that copy would flip the time, differ, be written again and
        // come back as another event, forever.
        let wanted = if all_ready { ConditionStatus::True } else { ConditionStatus::False };
        let ready = match &self.ready_condition {
            Some(c) if c.status == wanted => c.clone(),
            _ => PodCondition {
                condition_type: "Ready".into(),
                status: wanted,
                last_transition_time: Some(Utc::now()),
                reason: None,
                message: None,
            },
        };
        self.ready_condition = Some(ready.clone());
        // The other conditions (PodScheduled) are the API server's.
        let mut conditions: Vec<PodCondition> =
            self.pod.status.conditions.iter().filter(|c| c.condition_type != "Ready").cloned().collect();
        conditions.push(ready);
        PodStatus {
            phase,
            pod_ip: self.pod.status.pod_ip.clone(),
            host_ip: self.pod.status.host_ip.clone(),
            conditions,
            container_statuses: statuses,
            start_time: Some(self.started),
            reason: None,
            message: None,
        }
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
        containers::stop(&runs, Duration::from_secs(grace.max(0) as u64)).await;
        if let Some(net) = network_of(&self.ctx, &self.pod) {
            if let Err(e) = podnet::detach_pod(&self.ctx.node, &net).await {
                tracing::warn!(error = %e, "unwiring the pod network failed");
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir.0);
        tracing::info!("pod removed");
    }
}

fn waiting(reason: &str, message: Option<&str>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting { reason: Some(reason.into()), message: message.map(Into::into) }),
        ..Default::default()
    }
}

fn terminated(record: &RunRecord, exit: Option<&ExitRecord>) -> ContainerState {
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: exit.map(|e| e.exit_code).unwrap_or(-1),
            signal: exit.and_then(|e| e.signal),
            reason: Some(match exit {
                Some(e) => {
                    e.reason
                        .clone()
                        .unwrap_or_else(|| if e.exit_code == 0 { "Completed".into() } else { "Error".into() })
                }
                None => "Unknown".into(),
            }),
            started_at: Some(record.started_at),
            finished_at: exit.map(|e| e.finished_at),
        }),
        ..Default::default()
    }
}

/// Undo what an earlier agent left for pods the API no longer binds here: stop their
/// runs, unwire their network, remove their files.
pub async fn collect_orphans(ctx: &NodeContext, keep: &std::collections::HashSet<String>) {
    let pods_dir = ctx.data_dir.join("pods");
    let Ok(entries) = std::fs::read_dir(&pods_dir) else { return };
    for entry in entries.flatten() {
        let uid = entry.file_name().to_string_lossy().into_owned();
        if keep.contains(&uid) {
            continue;
        }
        let dir = PodDir(entry.path());
        let mut runs = Vec::new();
        for file in std::fs::read_dir(&dir.0).into_iter().flatten().flatten() {
            let name = file.file_name().to_string_lossy().into_owned();
            if let Some(container) = name.strip_suffix(".state") {
                if let Some(r) = RunRecord::load(&dir, container) {
                    runs.push((r.pid, r.proc_start));
                }
            }
        }
        containers::stop(&runs, Duration::from_secs(DEFAULT_GRACE as u64)).await;
        if let Some(saved) =
            std::fs::read(dir.network_file()).ok().and_then(|b| serde_json::from_slice::<SavedNetwork>(&b).ok())
        {
            let net = PodNetwork {
                netns: saved.netns,
                host_veth: saved.host_veth,
                ip: saved.ip,
                prefix: ctx.prefix,
                gateway: ctx.gateway,
                mtu: ctx.pod_mtu,
            };
            let _ = podnet::detach_pod(&ctx.node, &net).await;
        }
        let _ = std::fs::remove_dir_all(&dir.0);
        tracing::info!(pod_uid = %uid, "removed a pod the API no longer has");
    }
}
