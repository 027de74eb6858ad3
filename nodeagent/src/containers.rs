//! Container processes: started through the shim ([`crate::shim`]) in their own session and
//! inside the pod's network namespace, recorded in the agent's data directory so that a
//! restarted agent adopts them instead of starting them again, and stopped by signalling
//! their session (SIGTERM, the grace period, SIGKILL).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::shim::ExitRecord;

/// A pod's files: `DATA/pods/<uid>/`.
#[derive(Clone, Debug)]
pub struct PodDir(pub PathBuf);

impl PodDir {
    pub fn new(data_dir: &Path, pod_uid: &str) -> PodDir {
        PodDir(data_dir.join("pods").join(pod_uid))
    }
    pub fn log(&self, container: &str) -> PathBuf {
        self.0.join(format!("{container}.log"))
    }
    pub fn exit_file(&self, container: &str) -> PathBuf {
        self.0.join(format!("{container}.exit"))
    }
    fn state_file(&self, container: &str) -> PathBuf {
        self.0.join(format!("{container}.state"))
    }
    pub fn network_file(&self) -> PathBuf {
        self.0.join("network.json")
    }
}

/// What the agent remembers of a container's current run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// The shim's pid, which is also the process group (session) of the run.
    pub pid: i32,
    /// The shim's start time in clock ticks since boot (`/proc/PID/stat` field 22), so a
    /// reused pid is never mistaken for the shim.
    pub proc_start: u64,
    pub started_at: DateTime<Utc>,
    pub restart_count: i32,
}

impl RunRecord {
    pub fn load(dir: &PodDir, container: &str) -> Option<RunRecord> {
        let bytes = std::fs::read(dir.state_file(container)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    fn save(&self, dir: &PodDir, container: &str) -> io::Result<()> {
        let path = dir.state_file(container);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(self)?)?;
        std::fs::rename(tmp, path)
    }
}

/// The start time of `pid`, if it is alive and not a zombie.
pub fn proc_start(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: fields after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// What to start: the container's command line, environment and working directory.
pub struct Launch<'a> {
    pub shim_exe: &'a Path,
    pub netns: &'a netcore::netns::Netns,
    pub dir: &'a PodDir,
    pub container: &'a str,
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    pub workdir: Option<String>,
    /// The pod's resolv.conf, hosts and hostname, set up by the shim in namespaces of the
    /// container's own ([`crate::dns_pod`]).
    pub etc: Option<crate::dns_pod::PodEtc>,
}

/// Something to wait on for the end of a run: the shim as our child, or an adopted shim
/// through a pidfd (a restarted agent is not the parent of the shims it adopts).
pub enum Waiter {
    Child(tokio::process::Child),
    Pidfd(tokio::io::unix::AsyncFd<OwnedFd>),
}

impl Waiter {
    pub async fn wait(self) {
        match self {
            Waiter::Child(mut c) => {
                let _ = c.wait().await;
            }
            Waiter::Pidfd(fd) => {
                // A pidfd becomes readable when its process exits.
                let _ = fd.readable().await;
            }
        }
    }
}

/// Start a run of a container; records it and answers it with its waiter.
pub fn start(launch: Launch<'_>, restart_count: i32) -> io::Result<(RunRecord, Waiter)> {
    std::fs::create_dir_all(&launch.dir.0)?;
    let exit_file = launch.dir.exit_file(launch.container);
    let _ = std::fs::remove_file(&exit_file);
    // The log exists from the moment the run does (the shim appends to it): a container
    // reported running, with no readiness probe to wait for, has a log to read at once,
    // even before the shim has opened it (as the kubelet's logs exist once a container is
    // created). Without this, a read right after the pod turned Ready could answer 404.
    std::fs::OpenOptions::new().create(true).append(true).open(launch.dir.log(launch.container))?;
    let mut cmd = tokio::process::Command::new(launch.shim_exe);
    cmd.arg("shim").arg("--log").arg(launch.dir.log(launch.container)).arg("--exit-file").arg(&exit_file);
    if let Some(dir) = &launch.workdir {
        cmd.arg("--workdir").arg(dir);
    }
    if let Some(etc) = &launch.etc {
        cmd.arg("--resolv-conf")
            .arg(&etc.resolv_conf)
            .arg("--hosts")
            .arg(&etc.hosts)
            .arg("--hostname")
            .arg(&etc.hostname);
    }
    cmd.arg("--").args(&launch.command);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()))
        .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // Its own session: the agent's death (or its terminal's) does not reach it, and the
    // agent stops the whole run with one signal to the group.
    netcore::netns::ChildSetup::new()
        .new_session()
        .netns(launch.netns)
        .map_err(io::Error::other)?
        .apply(cmd.as_std_mut());
    let child = cmd.spawn()?;
    let pid = child.id().ok_or_else(|| io::Error::other("shim exited at once"))? as i32;
    let record = RunRecord { pid, proc_start: proc_start(pid).unwrap_or(0), started_at: Utc::now(), restart_count };
    record.save(launch.dir, launch.container)?;
    Ok((record, Waiter::Child(child)))
}

/// Adopt a run recorded by an earlier agent: its waiter if the shim still runs.
pub fn adopt(record: &RunRecord) -> Option<Waiter> {
    if proc_start(record.pid)? != record.proc_start {
        return None; // the pid now belongs to another process
    }
    // SAFETY: pidfd_open(2) with a valid pid and no flags; the result is a new fd we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, record.pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd was just returned by pidfd_open and is owned by nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // SAFETY: the fd is owned by the AsyncFd for as long as it is registered.
    unsafe { tokio::io::unix::AsyncFd::register(owned) }.ok().map(Waiter::Pidfd)
}

/// How the container of a finished run ended (the shim's record), if it wrote one.
pub fn exit_record(dir: &PodDir, container: &str) -> Option<ExitRecord> {
    let bytes = std::fs::read(dir.exit_file(container)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn signal_group(pid: i32, signal: libc::c_int) {
    // SAFETY: kill(2) on a process group we started.
    unsafe {
        libc::kill(-pid, signal);
    }
}

/// Stop the runs `(pid, proc_start)`: SIGTERM to each session, wait up to `grace`, then
/// SIGKILL what is left.
pub async fn stop(runs: &[(i32, u64)], grace: Duration) {
    let alive = |runs: &[(i32, u64)]| -> Vec<(i32, u64)> {
        runs.iter().copied().filter(|(pid, start)| proc_start(*pid) == Some(*start)).collect()
    };
    let mut left = alive(runs);
    for (pid, _) in &left {
        signal_group(*pid, libc::SIGTERM);
    }
    let deadline = tokio::time::Instant::now() + grace;
    while !left.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        left = alive(&left);
    }
    for (pid, _) in &left {
        signal_group(*pid, libc::SIGKILL);
    }
}
