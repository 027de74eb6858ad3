//! The local multi-node cluster on one machine: `flatnet up`, `flatnet down`, `flatnet status`.
//!
//! `up` builds the topology of [`layout`] in network namespaces (through netcore, never the
//! `ip` tool, and nothing in the root namespace), starts the `apiserver` and one `nodeagent`
//! per node (binaries next to `flatnet`) as detached processes, records everything in
//! `DATA/cluster.json` ([`state`]) and waits until every node is Ready. `down` removes what
//! that file names — processes (checked by their start time), the pods' container processes
//! and namespaces, nftables tables named `flatnet*`, links, namespaces — and nothing else.
//!
//! Data directory (default `/var/lib/flatnet`):
//!
//! | path | what |
//! |---|---|
//! | `cluster.json` | what `up` made (removed by `down`) |
//! | `apiserver/` | the API server's SQLite database, its CA (`ca.crt`, `ca.key`), `admin.token` and `viewer.token` (kept by `down`) |
//! | `kubeconfig` | for kubectl: the cluster (with the CA), the admin token, a context named after the cluster |
//! | `agents/<node>/` | each agent's pod files (container logs and run records) |
//! | `logs/<name>.log` | the output of the API server and of each agent |

pub mod down;
pub mod kernel;
pub mod kubeconfig;
pub mod layout;
pub mod procs;
pub mod state;
pub mod status;
pub mod up;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context;

pub const DEFAULT_DATA_DIR: &str = "/var/lib/flatnet";

#[derive(clap::Args, Debug, Clone)]
pub struct DataArgs {
    /// Where the cluster keeps its state, the API server's database, the agents' files and
    /// the logs.
    #[arg(long, env = "FLATNET_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
}

impl DataArgs {
    /// The data directory as an absolute path (processes and the state file keep it).
    pub fn absolute(&self) -> anyhow::Result<PathBuf> {
        absolute(&self.data_dir)
    }
}

pub fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("resolve {}", path.display()))
}

/// Fails with the fix when not root.
pub fn require_root(command: &str) -> anyhow::Result<()> {
    if !nix::unistd::geteuid().is_root() {
        anyhow::bail!("{command} needs root: run it with sudo");
    }
    Ok(())
}

/// The URL clients use for a listen address (loopback for a wildcard address): the API
/// server serves HTTPS.
pub fn url_of(listen: SocketAddr) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("https://{}", SocketAddr::new(ip, listen.port()))
}

/// The name of a cluster in kubeconfigs: `flatnet`, or `flatnet-PREFIX` for a test cluster.
pub fn cluster_name(prefix: &str) -> String {
    let prefix = prefix.trim_matches('-');
    if prefix.is_empty() {
        "flatnet".into()
    } else {
        format!("flatnet-{prefix}")
    }
}

/// A client of the cluster's API server that pins the cluster's CA, with the admin token
/// when this user may read it, else the viewer token, else none (then only health answers).
pub fn api_client(data_dir: &Path, url: &str) -> anyhow::Result<openapi::client::Client> {
    let dir = state::apiserver_dir(data_dir);
    let ca_path = dir.join("ca.crt");
    let ca = std::fs::read(&ca_path).with_context(|| format!("read the cluster's CA {}", ca_path.display()))?;
    let token = ["admin.token", "viewer.token"]
        .iter()
        .find_map(|f| std::fs::read_to_string(dir.join(f)).ok())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    Ok(openapi::client::Client::with_ca(url, token, &ca)?)
}

/// How the user calls this binary again: `flatnet` when it is the one in PATH, else its
/// path (relative to the working directory when inside it).
pub fn self_command() -> String {
    let Ok(exe) = std::env::current_exe() else { return "flatnet".into() };
    let in_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|dir| dir.join("flatnet") == exe))
        .unwrap_or(false);
    if in_path {
        return "flatnet".into();
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    match exe.strip_prefix(&cwd) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => exe.display().to_string(),
    }
}

/// ` --data-dir DIR` when not the default, for commands shown to the user.
pub fn data_dir_flag(data_dir: &Path) -> String {
    if data_dir == Path::new(DEFAULT_DATA_DIR) {
        String::new()
    } else {
        format!(" --data-dir {}", data_dir.display())
    }
}

/// `sudo ` when the user ran us through sudo (for commands that need root).
pub fn sudo() -> &'static str {
    if std::env::var_os("SUDO_USER").is_some() {
        "sudo "
    } else {
        ""
    }
}

/// A sibling binary of `flatnet` (the `apiserver`, the `nodeagent`), with the fix when it
/// is missing.
pub fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("find the flatnet binary")?;
    let path = exe.with_file_name(name);
    if !path.is_file() {
        anyhow::bail!(
            "{} is missing (flatnet up runs the {name} binary next to flatnet): build it: cargo build --release \
             (or scripts/up.sh, which builds and starts everything)",
            path.display()
        );
    }
    Ok(path)
}
