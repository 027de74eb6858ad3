//! `nodeagent`: flatnet's node agent binary (and, as `nodeagent shim`, its container shim).

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "nodeagent", version, about = "flatnet's node agent")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    agent: AgentArgs,
}

#[derive(Subcommand)]
enum Command {
    /// (internal) The per-container shim the agent starts.
    #[command(hide = true)]
    Shim(nodeagent::shim::ShimArgs),
}

#[derive(clap::Args)]
struct AgentArgs {
    /// The API server's URL; several servers sharing one store as `URL,URL` or a repeated
    /// `--server`: the agent uses one at a time and moves to the next when it fails, its
    /// watches resuming where they were (see `openapi::client`).
    #[arg(long, env = "FLATNET_SERVER", default_value = "https://127.0.0.1:8080", value_delimiter = ',', num_args = 1)]
    server: Vec<String>,
    /// The cluster's CA certificate (the API server's `DATA_DIR/ca.crt`): the only
    /// certificate authority the agent trusts for the server (required for https://).
    #[arg(long, env = "FLATNET_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// This node's name.
    #[arg(long, env = "FLATNET_NODE")]
    node: Option<String>,
    /// The node's bearer token (a node token from `POST /api/v1/nodes/NAME/token`).
    #[arg(long, env = "FLATNET_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Read the token from this file instead.
    #[arg(long, env = "FLATNET_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// The named network namespace that is this node (default: the agent's own).
    #[arg(long, env = "FLATNET_NETNS")]
    netns: Option<String>,
    /// The node's underlay address, published as its InternalIP.
    #[arg(long, env = "FLATNET_NODE_IP")]
    node_ip: Option<Ipv4Addr>,
    /// Where the agent keeps container logs and state [default: /var/lib/flatnet/NODE].
    #[arg(long, env = "FLATNET_AGENT_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Where the agent serves pod logs to the API server (published in the node's status as
    /// `daemonEndpoints.agentEndpoint`; port 0: any free port; 0.0.0.0: the node's address).
    #[arg(long, env = "FLATNET_DAEMON_LISTEN", default_value = "127.0.0.1:0")]
    daemon_listen: std::net::SocketAddr,
    /// Upstream resolvers of the node's cluster DNS server, for names outside the cluster:
    /// `IP[:PORT],…`, or `none` (such names fail at once with SERVFAIL). Default: the name
    /// servers of the node's resolv.conf (`/etc/netns/NETNS/resolv.conf` for a named
    /// namespace that has one, as `ip netns exec` uses, else `/etc/resolv.conf`).
    #[arg(long, env = "FLATNET_DNS_UPSTREAM", default_value = "")]
    dns_upstream: String,
    /// Seconds between full reconciliations (drift repair).
    #[arg(long, env = "FLATNET_RESYNC", default_value_t = 30)]
    resync_seconds: u64,
    /// First restart delay of a crashing container, in milliseconds (doubles up to 60 s).
    #[arg(long, env = "FLATNET_RESTART_BACKOFF_MS", default_value_t = 1000)]
    restart_backoff_ms: u64,
}

/// The API server's allocator (mimalloc): an agent decodes every service, endpoints and
/// lease event of the cluster, and glibc's malloc takes its slow path for objects of a few KB.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Shim(args)) = cli.command {
        nodeagent::shim::run(args);
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let a = cli.agent;
    let node = a.node.context("--node NAME is required")?;
    let token = match (a.token, a.token_file) {
        (Some(t), _) => t,
        (None, Some(path)) => std::fs::read_to_string(&path)
            .with_context(|| format!("read token file {}", path.display()))?
            .trim()
            .to_string(),
        (None, None) => anyhow::bail!("a node token is required: --token or --token-file"),
    };
    let resolv_conf = a
        .netns
        .as_ref()
        .and_then(|ns| std::fs::read_to_string(format!("/etc/netns/{ns}/resolv.conf")).ok())
        .or_else(|| std::fs::read_to_string("/etc/resolv.conf").ok())
        .unwrap_or_default();
    let dns_upstreams = nodeagent::dns::parse_upstreams(&a.dns_upstream, &resolv_conf)?;
    let ca_pem = match a.ca_file {
        Some(path) => Some(std::fs::read(&path).with_context(|| format!("read CA file {}", path.display()))?),
        None if a.server.iter().any(|s| s.starts_with("https://")) => {
            anyhow::bail!("--ca-file is required for {}: the API server's ca.crt", a.server.join(","))
        }
        None => None,
    };
    let config = nodeagent::Config {
        server: a.server.join(","),
        ca_pem,
        token,
        node_ip: a.node_ip.context("--node-ip ADDRESS is required")?,
        data_dir: a.data_dir.unwrap_or_else(|| PathBuf::from("/var/lib/flatnet").join(&node)),
        node_name: node,
        netns: a.netns,
        daemon_listen: a.daemon_listen,
        resync: Duration::from_secs(a.resync_seconds.max(1)),
        backoff_base: Duration::from_millis(a.restart_backoff_ms.max(1)),
        dns_upstreams,
        node_resolv_conf: resolv_conf,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(nodeagent::run(config))
}
