//! `flatnet-bench agent`: the node agent under pods, on a real 1-node `flatnet up` cluster:
//! the time from creating N pods through the API to all of them Running and Ready (each a
//! `flatnet netexec` whose HTTP readiness probe passes from the node, so each is reachable),
//! then the agent's resident memory and its CPU use while idle with those pods.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use openapi::{Container, HttpGetAction, IntOrString, ObjectMeta, Pod, PodSpec, Probe};

use crate::throughput::Cluster;

/// (resident kB, utime + stime in clock ticks) of a process.
fn usage(pid: i32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap_or(0) + 2..].split_whitespace().collect();
    let ticks = fields.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + fields.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    Ok((rss, ticks))
}

fn netexec_pod(name: &str, flatnet: &str) -> Pod {
    Pod {
        metadata: ObjectMeta { name: name.into(), ..Default::default() },
        spec: PodSpec {
            node_name: Some("node-1".into()),
            containers: vec![Container {
                name: "main".into(),
                command: vec![flatnet.into(), "netexec".into()],
                readiness_probe: Some(Probe {
                    http_get: Some(HttpGetAction { path: "/healthz".into(), port: IntOrString::Int(8080) }),
                    period_seconds: Some(1),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn all_ready(cluster: &Cluster, n: usize, limit: Duration) -> Result<Duration> {
    let pods = cluster.client()?.pods("default");
    let started = Instant::now();
    loop {
        let list = pods.list(&Default::default()).await?;
        let ready = list.items.iter().filter(|p| p.is_ready()).count();
        if ready >= n {
            return Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            bail!("{ready} of {n} pods Ready after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn run(pods: usize, total: usize) -> Result<()> {
    let (cluster, _) = Cluster::up(1, "host-gw")?;
    let flatnet = std::env::current_exe()?.with_file_name("flatnet").display().to_string();
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(cluster.dir.path().join("cluster.json"))?)?;
    let agent = state["agents"][0]["pid"].as_i64().unwrap_or(0) as i32;
    let (rss_empty, _) = usage(agent)?;

    // N pods at once through the API, as a scale-up would.
    let api = cluster.client()?.pods("default");
    let t0 = Instant::now();
    let creates = (0..pods).map(|i| {
        let api = api.clone();
        let pod = netexec_pod(&format!("p{i}"), &flatnet);
        async move { api.create(&pod).await }
    });
    for r in futures::future::join_all(creates).await {
        r?;
    }
    let created = t0.elapsed();
    let ready = all_ready(&cluster, pods, Duration::from_secs(120)).await? + created;

    // Up to `total` pods, then idle.
    for i in pods..total {
        api.create(&netexec_pod(&format!("p{i}"), &flatnet)).await?;
    }
    all_ready(&cluster, total, Duration::from_secs(120)).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss_full, t_before) = usage(agent)?;
    let idle = Duration::from_secs(20);
    tokio::time::sleep(idle).await;
    let (_, t_after) = usage(agent)?;
    let hz = 100.0; // USER_HZ
    let cpu = (t_after - t_before) as f64 / hz / idle.as_secs_f64() * 100.0;

    println!("## Node agent (flatnet-bench agent)\n");
    println!("| measurement | result |");
    println!("|---|---|");
    println!("| {pods} pods created through the API at once → all Running and Ready (HTTP probe from the node) | {:.2} s (creates answered after {:.0} ms) |", ready.as_secs_f64(), created.as_secs_f64() * 1000.0);
    println!(
        "| agent resident memory, no pods → {total} pods | {:.1} MB → {:.1} MB |",
        rss_empty as f64 / 1024.0,
        rss_full as f64 / 1024.0
    );
    println!(
        "| agent CPU while idle with {total} pods ({}-second window; probes every second) | {cpu:.2} % of one core |",
        idle.as_secs()
    );
    Ok(())
}
