//! The cluster's processes: started detached (own session, stdin null, output to a log
//! file) so they outlive `flatnet up --detach`, and stopped by pid only when the pid still
//! names the process that was started (its start time matches).

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use netcore::netns::ChildSetup;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::state::{proc_start, stat_start, ProcessRecord};

/// Start `program` in its own session, stdin from /dev/null, stdout and stderr appended to
/// `log`, with `env` added to the environment.
pub fn spawn_detached<I, S>(
    name: &str,
    program: &Path,
    args: I,
    env: &[(&str, &str)],
    log: &Path,
) -> anyhow::Result<(Child, ProcessRecord)>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut file = std::fs::File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("open log {}", log.display()))?;
    writeln!(file, "--- flatnet up: {name} starting at {} ---", chrono::Utc::now().to_rfc3339())?;
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(file.try_clone()?).stderr(file);
    for (k, v) in env {
        cmd.env(k, v);
    }
    ChildSetup::new().new_session().apply(&mut cmd);
    let child = cmd.spawn().with_context(|| format!("start {}", program.display()))?;
    let pid = child.id() as i32;
    // The start time is read at once: the child cannot have exited and had its pid reused
    // yet, since it is our unreaped child.
    let start = proc_start(pid).unwrap_or(0);
    Ok((child, ProcessRecord { name: name.into(), pid, proc_start: start, log: log.to_path_buf() }))
}

/// Signal the process group led by the recorded process, if that process (or, once it is
/// gone, what is left of its group) is still ours. A pid now used by another process is
/// never signalled.
pub fn signal_group(record: &ProcessRecord, signal: Signal) {
    signal_group_of(record.pid, record.proc_start, signal)
}

pub fn signal_group_of(pid: i32, start: u64, signal: Signal) {
    if pid <= 1 {
        return;
    }
    match stat_start(pid) {
        // The leader is ours (running, or a zombie not reaped yet): its whole session.
        Some(s) if s == start => {
            let _ = kill(Pid::from_raw(-pid), signal);
        }
        // The pid belongs to another process now: the group we made is long gone (Linux
        // does not reuse a pid while a group of that id exists).
        Some(_) => {}
        // The leader is gone: members of its group may be left, and no other group can
        // have that id while the pid is unused.
        None => {
            let _ = kill(Pid::from_raw(-pid), signal);
        }
    }
}

/// Stop processes: SIGTERM to their groups, then SIGKILL after `grace` for those left.
/// Answers how many were running.
pub fn stop(records: &[&ProcessRecord], grace: Duration) -> usize {
    let running: Vec<&&ProcessRecord> = records.iter().filter(|r| r.alive()).collect();
    for r in records {
        signal_group(r, Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while records.iter().any(|r| r.alive()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for r in records {
        signal_group(r, Signal::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while records.iter().any(|r| r.alive()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    running.len()
}

/// The containers' runs an agent recorded: `AGENT_DIR/pods/<uid>/<container>.state`, each
/// JSON with `pid` (the shim, which leads the run's session) and `procStart`.
pub fn container_runs(agent_dir: &Path) -> Vec<(PathBuf, i32, u64)> {
    let mut runs = Vec::new();
    for pod in std::fs::read_dir(agent_dir.join("pods")).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(pod.path()).into_iter().flatten().flatten() {
            let path = file.path();
            if path.extension().is_none_or(|e| e != "state") {
                continue;
            }
            let Some(v) = std::fs::read(&path).ok().and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            else {
                continue;
            };
            if let Some(pid) = v["pid"].as_i64() {
                runs.push((path, pid as i32, v["procStart"].as_u64().unwrap_or(0)));
            }
        }
    }
    runs
}

/// SIGKILL the session of every container run recorded under `agent_dir` that is still
/// running; answers how many.
pub fn kill_containers(agent_dir: &Path) -> usize {
    let runs = container_runs(agent_dir);
    let mut killed = 0;
    for (_, pid, start) in &runs {
        // An old record without a start time: signal only a live pid whose group it leads.
        let start = if *start == 0 && is_group_leader(*pid) { proc_start(*pid).unwrap_or(0) } else { *start };
        if proc_start(*pid) == Some(start) {
            killed += 1;
        }
        signal_group_of(*pid, start, Signal::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while runs.iter().any(|(_, pid, start)| proc_start(*pid) == Some(*start)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    killed
}

fn is_group_leader(pid: i32) -> bool {
    nix::unistd::getpgid(Some(Pid::from_raw(pid))).is_ok_and(|g| g.as_raw() == pid)
}

/// The uids of the pods an agent has files for (`AGENT_DIR/pods/<uid>`).
pub fn pod_uids(agent_dir: &Path) -> Vec<String> {
    std::fs::read_dir(agent_dir.join("pods"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The last `lines` lines of this run's part of a log file (after the last header that
/// [`spawn_detached`] wrote), without backtrace frames: what an error message should show.
pub fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let run = text.rfind("--- flatnet up: ").map_or(text.as_str(), |i| &text[i..]);
    let useful: Vec<&str> = run
        .lines()
        .skip(1)
        .filter(|l| {
            let t = l.trim_start();
            let frame = t.split_once(": ").is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            !(frame
                || t.starts_with("at ")
                || t.eq_ignore_ascii_case("stack backtrace:")
                || t.starts_with("note: Some details"))
        })
        .collect();
    useful[useful.len().saturating_sub(lines)..].iter().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

/// Processes whose command line holds `--netns NAME` for one of `names`: who uses a
/// namespace we want (another cluster's agent). Answers (pid, command line).
pub fn users_of_netns(names: &[String]) -> Vec<(i32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let args: Vec<String> = raw.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        let uses = args.windows(2).any(|w| w[0] == "--netns" && names.contains(&w[1]))
            || args.iter().any(|a| a.strip_prefix("--netns=").is_some_and(|n| names.iter().any(|x| x == n)));
        if uses {
            found.push((pid, args.join(" ").trim().to_string()));
        }
    }
    found
}
