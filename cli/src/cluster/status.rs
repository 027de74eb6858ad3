//! `flatnet status`: what runs — the processes `up` started (alive or dead), whether the
//! API answers, and each node with its Ready condition and pod CIDR. Needs no root, but the
//! nodes are listed only for a user who may read a token (root: the tokens are mode 0600).
//! Exit code 0 only when every process runs and the API answers.

use std::process::ExitCode;
use std::time::Duration;

use openapi::client::ListParams;
use openapi::ConditionStatus;

use super::state::ClusterState;
use super::DataArgs;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub data: DataArgs,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    // `flatnet status | head` ends quietly, as other tools do, instead of panicking on EPIPE.
    // SAFETY: setting a signal's disposition to its default; no handler runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let data_dir = args.data.absolute()?;
    let me = super::self_command();
    let flag = super::data_dir_flag(&data_dir);
    let Some(state) = ClusterState::load(&data_dir)? else {
        println!("no flatnet cluster in {} (start one: {me} up{flag})", data_dir.display());
        return Ok(ExitCode::FAILURE);
    };
    let alive = state.processes().filter(|p| p.alive()).count();
    let total = state.processes().count();
    let verdict = if total > 0 && alive == total {
        "running"
    } else if alive == 0 {
        "stopped (crashed?)"
    } else {
        "degraded"
    };
    let started = chrono::DateTime::from_timestamp(state.started_at, 0)
        .map(|t| t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    let ready = state.ready_seconds.map(|s| format!(", all Ready {s:.2} s after start")).unwrap_or_default();
    println!(
        "flatnet cluster in {}: {verdict} (backend {}, {} node(s), up since {started}{ready})",
        data_dir.display(),
        state.backend,
        state.nodes.len()
    );
    if let Some(pid) = state.supervisor {
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            println!("  supervised by a foreground `flatnet up` (pid {pid}): Ctrl-C there stops it");
        }
    }
    println!();
    println!("  {:<12} {:>8}  {:<8} LOG", "PROCESS", "PID", "STATE");
    for p in state.processes() {
        let st = if p.alive() { "running" } else { "dead" };
        println!("  {:<12} {:>8}  {:<8} {}", p.name, p.pid, st, p.log.display());
    }
    println!();

    let client = super::api_client(&data_dir, &state.url)?;
    let nodes = tokio::time::timeout(Duration::from_secs(3), client.nodes().list(&ListParams::default())).await;
    let api_ok = match nodes {
        Ok(Ok(list)) => {
            println!("API {}: reachable (dashboard {}/)", state.url, state.url);
            println!();
            println!("  {:<10} {:<8} {:<16} {:<16} NETNS", "NODE", "READY", "POD CIDR", "INTERNAL IP");
            let mut shown = 0;
            for ours in &state.nodes {
                let Some(node) = list.items.iter().find(|n| n.metadata.name == ours.name) else {
                    println!("  {:<10} {:<8} {:<16} {:<16} {}", ours.name, "-", "-", ours.ip, netns_state(&ours.netns));
                    continue;
                };
                shown += 1;
                let ready = node.status.conditions.iter().find(|c| c.condition_type == "Ready");
                let ready_text = match ready {
                    Some(c) if c.status == ConditionStatus::True => "True".to_string(),
                    Some(c) => {
                        let status = match c.status {
                            ConditionStatus::False => "False",
                            _ => "Unknown",
                        };
                        match &c.reason {
                            Some(r) => format!("{status} ({r})"),
                            None => status.to_string(),
                        }
                    }
                    None => "Unknown".to_string(),
                };
                println!(
                    "  {:<10} {:<8} {:<16} {:<16} {}",
                    ours.name,
                    ready_text,
                    node.spec.pod_cidr.as_deref().unwrap_or("-"),
                    node.internal_ip().unwrap_or("-"),
                    netns_state(&ours.netns)
                );
            }
            let others: Vec<&str> = list
                .items
                .iter()
                .filter(|n| !state.nodes.iter().any(|o| o.name == n.metadata.name))
                .map(|n| n.metadata.name.as_str())
                .collect();
            if !others.is_empty() {
                println!("  (also registered, not part of this run: {})", others.join(", "));
            }
            let _ = shown;
            true
        }
        // The API answers, but this user may read neither token (they are root's).
        Ok(Err(e)) if e.code() == Some(401) => {
            println!("API {}: reachable; listing its nodes needs a token: run `sudo {me} status{flag}`", state.url);
            true
        }
        Ok(Err(e)) => {
            println!("API {}: NOT reachable ({e})", state.url);
            false
        }
        Err(_) => {
            println!("API {}: NOT reachable (no answer in 3 s)", state.url);
            false
        }
    };
    let healthy = total > 0 && alive == total && api_ok;
    if !healthy {
        println!();
        println!("fix: {}{me} down{flag} removes what is left; then {me} up{flag} starts it again", super::sudo());
    }
    Ok(if healthy { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn netns_state(name: &str) -> String {
    if netcore::netns::exists(name) {
        name.to_string()
    } else {
        format!("{name} (missing)")
    }
}
