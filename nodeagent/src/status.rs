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
        let image = c.image.clone().unwrap_or_default();
        statuses.push(ContainerStatus {
            name: c.name.clone(),
            image_id: image.clone(),
            image,
            ready,
            restart_count,
            state,
            last_state,
        });
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use openapi::{Container, ObjectMeta};

    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
    }

    fn exit(code: i32) -> ExitRecord {
        ExitRecord { exit_code: code, signal: None, finished_at: at(5), reason: None, message: None }
    }

    fn record(restart_count: i32) -> RunRecord {
        RunRecord { pid: 10, proc_start: 1, started_at: at(1), restart_count }
    }

    /// A pod with containers `names`, scheduled (the API server's condition).
    fn pod(names: &[&str]) -> Pod {
        let mut pod = Pod { metadata: ObjectMeta { name: "web".into(), ..Default::default() }, ..Default::default() };
        pod.spec.containers = names.iter().map(|n| Container { name: n.to_string(), ..Default::default() }).collect();
        pod.status.pod_ip = Some("10.244.1.5".into());
        pod.status.conditions.push(PodCondition {
            condition_type: "PodScheduled".into(),
            status: ConditionStatus::True,
            last_transition_time: Some(at(0)),
            reason: None,
            message: None,
        });
        pod
    }

    /// The worker's view of a pod, with a builder for its runs and probes.
    struct View {
        pod: Pod,
        runs: BTreeMap<String, Run>,
        last_terminated: BTreeMap<String, ContainerState>,
        probe_ready: BTreeMap<String, bool>,
        ready: Option<PodCondition>,
    }

    impl View {
        fn of(names: &[&str]) -> View {
            View {
                pod: pod(names),
                runs: BTreeMap::new(),
                last_terminated: BTreeMap::new(),
                probe_ready: BTreeMap::new(),
                ready: None,
            }
        }

        fn running(mut self, name: &str, restarts: i32) -> View {
            self.runs.insert(name.into(), Run::Running(record(restarts)));
            self
        }

        fn exited(mut self, name: &str, code: i32, restarts: bool) -> View {
            let restart_at = restarts.then(Instant::now);
            self.runs.insert(name.into(), Run::Exited { record: record(0), exit: Some(exit(code)), restart_at });
            self
        }

        fn probe(mut self, name: &str, ready: bool) -> View {
            self.probe_ready.insert(name.into(), ready);
            self
        }

        /// The status at `now`; the Ready condition is kept as the worker keeps it.
        fn status(&mut self, now: i64) -> PodStatus {
            let status = pod_status(&Observed {
                pod: &self.pod,
                runs: &self.runs,
                last_terminated: &self.last_terminated,
                probe_ready: &self.probe_ready,
                ready_condition: self.ready.as_ref(),
                started: at(0),
                now: at(now),
            });
            self.ready = ready_condition(&status).cloned();
            status
        }
    }

    fn ready(status: &PodStatus) -> (ConditionStatus, DateTime<Utc>) {
        let c = ready_condition(status).unwrap();
        (c.status, c.last_transition_time.unwrap())
    }

    fn waiting_reason(status: &PodStatus, i: usize) -> Option<&str> {
        status.container_statuses[i].state.waiting.as_ref()?.reason.as_deref()
    }

    #[test]
    fn restarts_double_their_delay_up_to_the_cap() {
        let backoff = Backoff::new(SEC, Duration::from_secs(60));
        let delays: Vec<u64> = (0..8)
            .map(|n| restart_delay(RestartPolicy::Always, Some(&exit(1)), SEC, n, &backoff).unwrap().as_secs())
            .collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn a_long_run_starts_the_delay_over() {
        let backoff = Backoff::new(SEC, Duration::from_secs(60));
        let delay = restart_delay(RestartPolicy::Always, Some(&exit(1)), BACKOFF_RESET, 6, &backoff);
        assert_eq!(delay, Some(SEC));
    }

    #[test]
    fn the_restart_policy_decides_whether_to_restart() {
        let b = Backoff::new(SEC, Duration::from_secs(60));
        let decide = |policy, exit: Option<&ExitRecord>| restart_delay(policy, exit, SEC, 0, &b).is_some();
        assert!(decide(RestartPolicy::Always, Some(&exit(0))));
        assert!(!decide(RestartPolicy::OnFailure, Some(&exit(0))));
        assert!(decide(RestartPolicy::OnFailure, Some(&exit(2))));
        // An end nobody recorded counts as a failure.
        assert!(decide(RestartPolicy::OnFailure, None));
        assert!(!decide(RestartPolicy::Never, Some(&exit(2))));
    }

    #[test]
    fn a_pod_without_runs_is_pending_and_creating() {
        let status = View::of(&["app"]).status(1);
        assert_eq!(status.phase, PodPhase::Pending);
        assert_eq!(waiting_reason(&status, 0), Some("ContainerCreating"));
        assert_eq!(ready(&status).0, ConditionStatus::False);
        // The API server's conditions are kept.
        assert_eq!(status.conditions[0].condition_type, "PodScheduled");
    }

    #[test]
    fn a_running_pod_without_probes_is_ready() {
        let status = View::of(&["app"]).running("app", 0).status(1);
        assert_eq!(status.phase, PodPhase::Running);
        assert!(status.container_statuses[0].ready);
        assert_eq!(ready(&status), (ConditionStatus::True, at(1)));
    }

    #[test]
    fn a_crashing_container_is_in_crash_loop_back_off() {
        let mut view = View::of(&["app", "side"]).exited("app", 1, true).running("side", 0);
        let status = view.status(1);
        assert_eq!(status.phase, PodPhase::Running);
        assert_eq!(waiting_reason(&status, 0), Some("CrashLoopBackOff"));
        let last = status.container_statuses[0].last_state.as_ref().and_then(|s| s.terminated.as_ref()).unwrap();
        assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
        assert_eq!(ready(&status).0, ConditionStatus::False);
    }

    #[test]
    fn finished_containers_decide_the_final_phase() {
        let status = View::of(&["a", "b"]).exited("a", 0, false).exited("b", 0, false).status(1);
        assert_eq!(status.phase, PodPhase::Succeeded);
        let reason = status.container_statuses[0].state.terminated.as_ref().unwrap().reason.clone();
        assert_eq!(reason.as_deref(), Some("Completed"));
        let status = View::of(&["a", "b"]).exited("a", 0, false).exited("b", 3, false).status(1);
        assert_eq!(status.phase, PodPhase::Failed);
        // One still running: the pod runs.
        let status = View::of(&["a", "b"]).exited("a", 3, false).running("b", 0).status(1);
        assert_eq!(status.phase, PodPhase::Running);
    }

    #[test]
    fn readiness_follows_the_probe_and_keeps_its_transition_time() {
        let mut view = View::of(&["app"]).running("app", 0).probe("app", false);
        assert_eq!(ready(&view.status(1)), (ConditionStatus::False, at(1)));
        // Unchanged: the transition time stays, so the status compares equal and is not
        // written again.
        assert_eq!(ready(&view.status(2)), (ConditionStatus::False, at(1)));
        view.probe_ready.insert("app".into(), true);
        assert_eq!(ready(&view.status(3)), (ConditionStatus::True, at(3)));
        assert_eq!(view.status(4), view.status(5));
        view.probe_ready.insert("app".into(), false);
        let status = view.status(6);
        assert_eq!(ready(&status), (ConditionStatus::False, at(6)));
        assert!(!status.container_statuses[0].ready);
    }

    #[test]
    fn a_restarted_container_shows_its_previous_end() {
        let mut view = View::of(&["app"]).running("app", 2);
        let previous = terminated(&record(1), Some(&exit(137)));
        view.last_terminated.insert("app".into(), previous.clone());
        let status = view.status(1);
        assert_eq!(status.container_statuses[0].restart_count, 2);
        assert_eq!(status.container_statuses[0].last_state, Some(previous));
    }
}
