//! `flatnet down`: remove everything `flatnet up` made, as recorded in `DATA/cluster.json`,
//! and nothing else. Idempotent, and works after a crash of everything: each step looks at
//! what is there now. The API server's data and the logs are kept.

use std::collections::HashSet;
use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

use netcore::names::{pod_netns_prefix, stable_hash};
use netcore::netns;

use super::state::{ClusterState, DataLock, ProcessRecord};
use super::{kernel, procs, DataArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub data: DataArgs,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::require_root("flatnet down")?;
    let data_dir = args.data.absolute()?;
    if !data_dir.is_dir() {
        println!("no flatnet cluster in {}: nothing to remove", data_dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let _lock = DataLock::take(&data_dir, Duration::from_secs(120))?;
    let Some(state) = ClusterState::load(&data_dir)? else {
        println!("no flatnet cluster in {} (no cluster.json): nothing to remove", data_dir.display());
        return Ok(ExitCode::SUCCESS);
    };
    let removed = teardown(&state).await?;
    println!("flatnet down: {removed}");
    println!(
        "kept: the API server's data in {} and the logs in {}",
        super::state::apiserver_dir(&data_dir).display(),
        super::state::logs_dir(&data_dir).display()
    );
    Ok(ExitCode::SUCCESS)
}

/// What a teardown removed.
#[derive(Debug, Default)]
pub struct Removed {
    pub agents: usize,
    pub apiserver: usize,
    pub postgres: usize,
    pub containers: usize,
    pub tables: usize,
    pub pod_namespaces: usize,
    pub links: usize,
    pub namespaces: usize,
}

impl fmt::Display for Removed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stopped {} agent(s), {} API server(s), {}{} container(s); removed {} nftables table(s), {} pod \
             namespace(s), {} link(s), {} namespace(s)",
            self.agents,
            self.apiserver,
            if self.postgres > 0 { "PostgreSQL, " } else { "" },
            self.containers,
            self.tables,
            self.pod_namespaces,
            self.links,
            self.namespaces
        )
    }
}

/// Remove everything `state` names; on success the state file is gone too. On failure the
/// state file stays, so that `down` can be run again.
pub async fn teardown(state: &ClusterState) -> anyhow::Result<Removed> {
    teardown_with(state, true).await
}

/// [`teardown`], keeping a `--store postgres` cluster's database when `remove_store` is
/// false: `flatnet up` after a crash cleans up the processes, namespaces and links, and
/// keeps the store, as it keeps a SQLite cluster's file (what the API server acknowledged
/// survives a crash; only `flatnet down` throws a PostgreSQL cluster's objects away).
pub async fn teardown_with(state: &ClusterState, remove_store: bool) -> anyhow::Result<Removed> {
    let mut removed = Removed::default();
    let mut errors: Vec<String> = Vec::new();

    // The pods the API server knows, while it still answers: their namespaces may exist
    // before the agent wrote any file about them.
    let api_pods = api_pod_uids(state).await;

    // Agents first, so that none restarts a container or rewires a pod while we work.
    let agents: Vec<&ProcessRecord> = state.agents.iter().collect();
    removed.agents = procs::stop(&agents, Duration::from_secs(3));
    for node in &state.nodes {
        removed.containers += procs::kill_containers(&node.data_dir);
    }
    let servers: Vec<&ProcessRecord> = state.apiserver.iter().chain(state.more_apiservers.iter()).collect();
    removed.apiserver = procs::stop(&servers, Duration::from_secs(5));
    if let Some(pg) = &state.postgres {
        removed.postgres = procs::stop(&[pg], Duration::from_secs(10));
    }
    for p in state.processes() {
        if p.alive() {
            errors.push(format!("{} (pid {}) is still running", p.name, p.pid));
        }
    }

    // nftables tables named flatnet* in the namespaces we made (gone with them anyway, but
    // removed explicitly: nothing of ours is left even if a namespace is held open).
    match kernel::find_program("nft") {
        Some(nft) => {
            for ns in &state.namespaces {
                match kernel::delete_flatnet_tables(&nft, ns) {
                    Ok(n) => removed.tables += n,
                    Err(e) => errors.push(format!("{e:#}")),
                }
            }
        }
        None => {
            if state.namespaces.iter().any(|ns| netns::exists(ns)) {
                eprintln!("warning: nft is missing, nftables tables go with their namespaces");
            }
        }
    }

    // The pods' namespaces: those of this cluster's pods (by the uid hash that ends each
    // name). The default cluster owns its nodes' whole prefix; a prefixed (test) cluster
    // shares node names with it, so it removes only namespaces of pods it knows.
    for node in &state.nodes {
        let prefix = pod_netns_prefix(&node.name);
        let mut uids: HashSet<String> = procs::pod_uids(&node.data_dir).into_iter().collect();
        uids.extend(api_pods.iter().filter(|(n, _)| n == &node.name).map(|(_, uid)| uid.clone()));
        let suffixes: HashSet<String> = uids.iter().map(|uid| format!("-{:08x}", stable_hash(uid) >> 32)).collect();
        let names = netns::list(&prefix).unwrap_or_default();
        for name in names {
            let ours = state.prefix.is_empty() || suffixes.iter().any(|s| name.ends_with(s.as_str()));
            if !ours {
                continue;
            }
            match netns::delete(&name) {
                Ok(()) => removed.pod_namespaces += 1,
                Err(e) => errors.push(e.to_string()),
            }
        }
    }

    match kernel::delete_fabric_links(&state.fabric_netns, &state.fabric_links).await {
        Ok(n) => removed.links = n,
        Err(e) => errors.push(format!("{e:#}")),
    }
    // Nodes and internet before the fabric they hang off.
    for ns in state.namespaces.iter().rev() {
        if !netns::exists(ns) {
            continue;
        }
        match netns::delete(ns) {
            Ok(()) => removed.namespaces += 1,
            Err(e) => errors.push(e.to_string()),
        }
    }
    if remove_store && !state.postgres.iter().any(|p| p.alive()) {
        if let Err(e) = super::postgres::remove(&state.data_dir) {
            errors.push(format!("{e:#}"));
        }
    }
    if !errors.is_empty() {
        anyhow::bail!(
            "flatnet down could not remove everything (run it again; {} is kept):\n  {}",
            ClusterState::path(&state.data_dir).display(),
            errors.join("\n  ")
        );
    }
    ClusterState::remove(&state.data_dir)?;
    Ok(removed)
}

/// (node, pod uid) of every pod bound to one of the cluster's nodes, if the API answers
/// within a second or two.
async fn api_pod_uids(state: &ClusterState) -> Vec<(String, String)> {
    if !state.apiserver.iter().chain(state.more_apiservers.iter()).any(|a| a.alive()) {
        return Vec::new();
    }
    let urls = state.server_urls().join(",");
    let Ok(client) = super::api_client(&state.data_dir, &urls) else { return Vec::new() };
    let list = tokio::time::timeout(
        Duration::from_secs(2),
        client.api::<openapi::Pod>(None).list(&openapi::client::ListParams::default()),
    )
    .await;
    let Ok(Ok(list)) = list else { return Vec::new() };
    list.items
        .into_iter()
        .filter_map(|p| Some((p.spec.node_name?, p.metadata.uid?)))
        .filter(|(node, _)| state.nodes.iter().any(|n| &n.name == node))
        .collect()
}
