//! The pod worker's decisions, as pure functions: when an exited container restarts, and
//! the status a pod reports (phase, conditions, container states) from what the worker
//! knows of its runs. No I/O and no clock of their own, so they are unit-tested directly.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use openapi::{
    ConditionStatus, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, Pod, PodCondition, PodPhase, PodStatus, RestartPolicy,
};
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::containers::RunRecord;
use crate::shim::ExitRecord;

/// A run that lasted this long resets the restart delay.
pub const BACKOFF_RESET: Duration = Duration::from_secs(60);

/// A container's current run, as its worker knows it.
#[derive(Clone, Debug, PartialEq)]
pub enum Run {
    Running(RunRecord),
    /// Ended; restarts at `restart_at` (`None`: it stays down, by its restart policy).
    Exited {
        record: RunRecord,
        exit: Option<ExitRecord>,
        restart_at: Option<Instant>,
    },
}

impl Run {
    pub fn record(&self) -> &RunRecord {
        match self {
            Run::Running(r) | Run::Exited { record: r, .. } => r,
        }
    }
}

fn should_restart(policy: RestartPolicy, exit: Option<&ExitRecord>) -> bool {
    match policy {
        RestartPolicy::Always => true,
        RestartPolicy::OnFailure => exit.is_none_or(|e| e.exit_code != 0),
        RestartPolicy::Never => false,
    }
}

/// How long after its end a run of `restart_count` restarts that `ran` for is started
/// again (`None`: never, by the pod's restart policy). The delay doubles with each restart
/// (`backoff`), and starts over after a run that lasted [`BACKOFF_RESET`].
pub fn restart_delay(
    policy: RestartPolicy,
    exit: Option<&ExitRecord>,
    ran: Duration,
    restart_count: i32,
    backoff: &Backoff,
) -> Option<Duration> {
    let attempt = if ran >= BACKOFF_RESET { 0 } else { u32::try_from(restart_count).unwrap_or(0) };
    should_restart(policy, exit).then(|| backoff.delay(attempt))
}

/// What a pod's status is computed from.
pub struct Observed<'a> {
    /// The pod as the worker last saw it (its spec, and the API server's conditions).
    pub pod: &'a Pod,
    pub runs: &'a BTreeMap<String, Run>,
    /// How each container's previous run ended, shown as its `lastState`.
    pub last_terminated: &'a BTreeMap<String, ContainerState>,
    /// Readiness of containers with a probe (absent: no probe, ready while running).
    pub probe_ready: &'a BTreeMap<String, bool>,
    /// The Ready condition the worker reported last.
    pub ready_condition: Option<&'a PodCondition>,
    /// When the worker took the pod on.
    pub started: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// The status to report.
///
/// The Ready condition is the agent's own, kept by the worker with its transition time
/// (`ready_condition`): the pod object it gets back from the watch may be older than its
/// last report, and a status derived from that copy would flip the time, differ, be
/// written again and come back as another event, forever.
pub fn pod_status(o: &Observed<'_>) -> PodStatus {
    let mut statuses = Vec::new();
    let (mut running, mut failed, mut restarting, mut done) = (0, 0, 0, 0);
    for c in &o.pod.spec.containers {
        let run = o.runs.get(&c.name);
        let restart_count = run.map(|r| r.record().restart_count).unwrap_or(0);
        let (state, last_state, ready) = match run {
            None => (waiting("ContainerCreating", None), None, false),
            Some(Run::Running(r)) => {
                running += 1;
                let state = ContainerState {
                    running: Some(ContainerStateRunning { started_at: Some(r.started_at) }),
                    ..Default::default()
                };
                let ready = o.probe_ready.get(&c.name).copied().unwrap_or(true);
                (state, o.last_terminated.get(&c.name).cloned(), ready)
            }
            Some(Run::Exited { record, exit, restart_at }) => {
                let terminated = terminated(record, exit.as_ref());
                if restart_at.is_some() {
                    restarting += 1;
                    (waiting("CrashLoopBackOff", Some("back-off restarting the container")), Some(terminated), false)
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
    let total = o.pod.spec.containers.len();
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
    let wanted = if all_ready { ConditionStatus::True } else { ConditionStatus::False };
    let ready = match o.ready_condition {
        Some(c) if c.status == wanted => c.clone(),
        _ => PodCondition {
            condition_type: "Ready".into(),
            status: wanted,
            last_transition_time: Some(o.now),
            reason: None,
            message: None,
        },
    };
    // The other conditions (PodScheduled) are the API server's.
    let mut conditions: Vec<PodCondition> =
        o.pod.status.conditions.iter().filter(|c| c.condition_type != "Ready").cloned().collect();
    conditions.push(ready);
    PodStatus {
        phase,
        pod_ip: o.pod.status.pod_ip.clone(),
        host_ip: o.pod.status.host_ip.clone(),
        conditions,
        container_statuses: statuses,
        start_time: Some(o.started),
        reason: None,
        message: None,
    }
}

/// The Ready condition of a status computed by [`pod_status`].
pub fn ready_condition(status: &PodStatus) -> Option<&PodCondition> {
    status.conditions.iter().find(|c| c.condition_type == "Ready")
}

fn waiting(reason: &str, message: Option<&str>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting { reason: Some(reason.into()), message: message.map(Into::into) }),
        ..Default::default()
    }
}

/// How a run ended, as a container state.
pub fn terminated(record: &RunRecord, exit: Option<&ExitRecord>) -> ContainerState {
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
