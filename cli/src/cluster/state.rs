//! `DATA/cluster.json`: what `flatnet up` made, so that `flatnet down` removes exactly that
//! (also after a crash of everything), and `flatnet status` knows what should be running.
//! Written before the first namespace exists and again after every process start.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::layout::Layout;

pub const STATE_FILE: &str = "cluster.json";
const LOCK_FILE: &str = ".lock";

/// A process `up` started: its pid, and its start time so that a reused pid is never
/// mistaken for it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProcessRecord {
    /// `apiserver` or the node's name.
    pub name: String,
    pub pid: i32,
    /// `/proc/PID/stat` field 22, clock ticks since boot.
    pub proc_start: u64,
    pub log: PathBuf,
}

impl ProcessRecord {
    /// Whether the recorded process still runs (same pid, same start time, not a zombie).
    pub fn alive(&self) -> bool {
        proc_start(self.pid) == Some(self.proc_start)
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NodeRecord {
    pub name: String,
    pub netns: String,
    pub ip: String,
    pub data_dir: PathBuf,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterState {
    pub data_dir: PathBuf,
    /// The name prefix (empty for the default cluster).
    pub prefix: String,
    pub backend: String,
    pub listen: String,
    pub url: String,
    /// Every namespace `up` makes (also those a crash kept it from making).
    pub namespaces: Vec<String>,
    /// The fabric namespace and the links made in it.
    pub fabric_netns: String,
    pub fabric_links: Vec<String>,
    pub nodes: Vec<NodeRecord>,
    #[serde(default)]
    pub apiserver: Option<ProcessRecord>,
    #[serde(default)]
    pub agents: Vec<ProcessRecord>,
    /// The store: `sqlite` (the first API server's file) or `postgres` ([`super::postgres`]).
    #[serde(default = "sqlite")]
    pub store: String,
    /// Every API server's URL, the first one's ([`ClusterState::url`]) first; the agents are
    /// given all of them.
    #[serde(default)]
    pub servers: Vec<String>,
    /// The API servers after the first (`--store postgres`).
    #[serde(default)]
    pub more_apiservers: Vec<ProcessRecord>,
    /// The PostgreSQL server (`--store postgres`).
    #[serde(default)]
    pub postgres: Option<ProcessRecord>,
    /// Unix time of the start of `up`.
    pub started_at: i64,
    /// Seconds from the start of `up` to every node Ready.
    #[serde(default)]
    pub ready_seconds: Option<f64>,
    /// The pid of a foreground `flatnet up` that supervises the cluster (none when detached).
    #[serde(default)]
    pub supervisor: Option<i32>,
}

impl ClusterState {
    pub fn new(data_dir: &Path, layout: &Layout, backend: &str, listen: &str, url: &str) -> ClusterState {
        ClusterState {
            data_dir: data_dir.to_path_buf(),
            prefix: layout.prefix.clone(),
            backend: backend.into(),
            listen: listen.into(),
            url: url.into(),
            namespaces: layout.namespaces(),
            fabric_netns: layout.fabric_netns(),
            fabric_links: layout.fabric_links(),
            nodes: layout
                .node_indices()
                .map(|i| NodeRecord {
                    name: layout.node_name(i),
                    netns: layout.node_netns(i),
                    ip: layout.node_ip(i).to_string(),
                    data_dir: agent_dir(data_dir, &layout.node_name(i)),
                })
                .collect(),
            apiserver: None,
            agents: Vec::new(),
            store: sqlite(),
            servers: vec![url.to_string()],
            more_apiservers: Vec::new(),
            postgres: None,
            started_at: chrono::Utc::now().timestamp(),
            ready_seconds: None,
            supervisor: None,
        }
    }

    /// Every process `up` started: PostgreSQL, the API servers, the agents.
    pub fn processes(&self) -> impl Iterator<Item = &ProcessRecord> {
        self.postgres.iter().chain(self.apiserver.iter()).chain(self.more_apiservers.iter()).chain(self.agents.iter())
    }

    /// Every API server's URL (a state file of an older `up` has only `url`).
    pub fn server_urls(&self) -> Vec<String> {
        if self.servers.is_empty() {
            vec![self.url.clone()]
        } else {
            self.servers.clone()
        }
    }

    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(STATE_FILE)
    }

    /// The state of the cluster in `data_dir`, if there is one.
    pub fn load(data_dir: &Path) -> anyhow::Result<Option<ClusterState>> {
        let path = Self::path(data_dir);
        match std::fs::read(&path) {
            Ok(bytes) => {
                Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                    format!("{} is not a flatnet cluster state file; move it away", path.display())
                })?))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
        }
    }

    /// Write atomically (a crash leaves the old or the new file, never half of one).
    pub fn save(&self) -> anyhow::Result<()> {
        let path = Self::path(&self.data_dir);
        let tmp = path.with_extension("json.tmp");
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        std::fs::write(&tmp, bytes).with_context(|| format!("write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("write {}", path.display()))
    }

    pub fn remove(data_dir: &Path) -> anyhow::Result<()> {
        match std::fs::remove_file(Self::path(data_dir)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

fn sqlite() -> String {
    "sqlite".into()
}

pub fn agent_dir(data_dir: &Path, node: &str) -> PathBuf {
    data_dir.join("agents").join(node)
}

pub fn apiserver_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("apiserver")
}

pub fn logs_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

/// The start time of `pid` (clock ticks since boot), if it is alive and not a zombie.
pub fn proc_start(pid: i32) -> Option<u64> {
    let (state, start) = stat(pid)?;
    (state != "Z").then_some(start)
}

/// The start time of `pid`, zombie or not, if the pid exists.
pub fn stat_start(pid: i32) -> Option<u64> {
    stat(pid).map(|(_, start)| start)
}

fn stat(pid: i32) -> Option<(String, u64)> {
    if pid <= 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some((fields.first()?.to_string(), fields.get(19)?.parse().ok()?))
}

/// An exclusive lock on a data directory: one `up` or `down` at a time.
pub struct DataLock(#[allow(dead_code)] Flock<File>);

impl DataLock {
    /// Take the lock, waiting up to `wait` for another `up`/`down` to finish.
    pub fn take(data_dir: &Path, wait: Duration) -> anyhow::Result<DataLock> {
        let path = data_dir.join(LOCK_FILE);
        let deadline = std::time::Instant::now() + wait;
        loop {
            let file = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .with_context(|| format!("open {}", path.display()))?;
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => return Ok(DataLock(lock)),
                Err((_, nix::errno::Errno::EWOULDBLOCK)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err((_, nix::errno::Errno::EWOULDBLOCK)) => anyhow::bail!(
                    "another flatnet up or down is working on {} right now: wait for it, then retry",
                    data_dir.display()
                ),
                Err((_, e)) => return Err(e).with_context(|| format!("lock {}", path.display())),
            }
        }
    }
}
