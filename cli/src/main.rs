//! `flatnet`: flatnet's command-line tool.
//!
//! For now it holds the two halves of the test workload that every data-path test uses:
//!
//! - `flatnet netexec` ([`netexec`]) is what a test pod runs, like Kubernetes' `agnhost
//!   netexec`: an HTTP server (`/hostname`, `/clientip`, `/healthz`, `/echo?msg=`) and a UDP
//!   server (`hostname`, `clientip`, `echo X`) that say which pod answered and from which
//!   address the client was seen, so a test can tell load balancing, SNAT and DNAT apart. It
//!   stops cleanly (exit 0) on SIGTERM, as the node agent stops containers.
//! - `flatnet probe` ([`probe`]) is the client: TCP, UDP or HTTP attempts against one target,
//!   one line per attempt and a summary, exit 0 only if every attempt succeeded, so that a
//!   shell script or a test can assert reachability (or its absence, under a policy).
//!
//!
//! And the local multi-node cluster on this machine ([`cluster`]): `flatnet up` (network
//! namespaces as nodes, the API server and one node agent per node, until every node is
//! Ready), `flatnet status` and `flatnet down`.
//!
//! Resource commands come later as further subcommands of [`Command`].

mod cluster;
mod netexec;
mod probe;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// flatnet: a container networking stack. This tool runs a local multi-node cluster, the
/// test workload and its probe.
#[derive(Parser, Debug)]
#[command(name = "flatnet", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Bring up a local multi-node cluster on this machine (root, no Docker): network
    /// namespaces as nodes, the API server and one node agent per node; wait until every
    /// node is Ready.
    Up(cluster::up::Args),
    /// Remove everything `flatnet up` made: processes, pods, namespaces, links, nftables
    /// tables (the API server's data and the logs are kept).
    Down(cluster::down::Args),
    /// Show what runs: the processes, the API, each node with its Ready condition and pod CIDR.
    Status(cluster::status::Args),
    /// Run the test workload: an HTTP and a UDP server that answer with the pod's name, the
    /// client's address or an echo.
    Netexec(netexec::Args),
    /// Probe a TCP, UDP or HTTP server: one line per attempt, then `N/M ok`; exit 0 only if
    /// every attempt succeeded.
    Probe(probe::Args),
}

// One thread: netexec runs in every test pod, often hundreds per node, and neither it nor a
// probe needs more.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<ExitCode> {
    let cluster_result = match Cli::parse().command {
        Command::Up(args) => cluster::up::run(args).await,
        Command::Down(args) => cluster::down::run(args).await,
        Command::Status(args) => cluster::status::run(args).await,
        other => return workload(other).await,
    };
    // Cluster commands say what went wrong and how to fix it, without a backtrace-like dump.
    Ok(cluster_result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    }))
}

async fn workload(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Netexec(args) => netexec::run(args).await.map(|()| ExitCode::SUCCESS),
        Command::Probe(args) => {
            let all_ok = probe::run(args).await?;
            Ok(if all_ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Up(_) | Command::Down(_) | Command::Status(_) => unreachable!("handled in main"),
    }
}
