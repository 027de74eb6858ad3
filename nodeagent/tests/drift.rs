//! Kernel tests of drift repair from notifications, with real packets: a node namespace
//! with a pod bridge, a server pod and a client pod, and flatnet's table programmed by a
//! `Proxier` for one service. The agent's [`Notifier`] follows the node's notifications and
//! a loop like the proxy's repairs what it reports. Each case deletes something with `nft`
//! as an admin would, and waits for the client's connections through the cluster IP to work
//! again; the time from the deletion to the first working connection is printed (median of
//! several rounds; `cargo test -p flatnet-nodeagent --test drift -- --nocapture`).
//! Everything is removed on drop, even when the test fails.

mod common;

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::privileged;
use netcore::link::Netlink;
use netcore::model::{NodeNetwork, PodNetwork};
use netcore::netns::{self, Netns};
use netcore::podnet;
use netcore::services::{Endpoint, Proto, Proxier, ServicePort, TableConfig};
use nodeagent::drift::{self, Drift, Notifier};

const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 98, 1, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 98, 1, 2);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 98, 1, 3);
const VIP: Ipv4Addr = Ipv4Addr::new(10, 97, 0, 10);
const ROUNDS: usize = 5;

/// Namespaces deleted on drop.
struct Scratch(Vec<String>);

impl Drop for Scratch {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = netns::delete(n);
        }
    }
}

fn nft(ns: &str, script: &str) {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(script.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "nft {script:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// How long a probe waits for its connection. The first SYN after a deletion is often
/// neither answered nor refused (only its retransmission, a second later, would tell): a
/// short timeout and a new probe keep the figure's resolution at this. Connections between
/// namespaces take well under a millisecond; a probe that times out under load only makes
/// the figure larger.
const PROBE_TIMEOUT: Duration = Duration::from_millis(5);

/// One connection from the client pod to the service; its answer.
fn ask(client: &Netns, timeout: Duration) -> std::io::Result<String> {
    let to = SocketAddr::from((VIP, 80));
    let mut c = client.run(move || TcpStream::connect_timeout(&to, timeout)).unwrap()?;
    c.set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut s = String::new();
    c.read_to_string(&mut s)?;
    Ok(s)
}

/// How long since `start` until a connection works again (waits up to 20 s: a generous
/// bound, not the figure under test).
fn until_it_works(client: &Netns, start: Instant) -> Duration {
    loop {
        if ask(client, PROBE_TIMEOUT).is_ok_and(|s| s == "server") {
            return start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(20), "not repaired after 20 s");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_table_chains_and_elements_are_repaired_from_notifications() {
    if !privileged() {
        return;
    }
    let tag = std::process::id();
    let names: Vec<String> = ["node", "srv", "cli"].iter().map(|t| format!("flatnet-test-drift{t}-{tag}")).collect();
    let _scratch = Scratch(names.clone());
    netns::create(&names[0]).unwrap();
    let node = Netns::open(&names[0]).unwrap();
    let nl = Netlink::open(&node).unwrap();
    let bridge =
        podnet::prepare_node(&nl, &node, &NodeNetwork { bridge: "fnbr0".into(), gateway: GATEWAY, prefix: 24 })
            .await
            .unwrap();
    for (i, (ns, ip)) in [(&names[1], SERVER), (&names[2], CLIENT)].into_iter().enumerate() {
        let pod = PodNetwork {
            netns: ns.clone(),
            host_veth: format!("fndrift{i}"),
            ip,
            prefix: 24,
            gateway: GATEWAY,
            mtu: None,
        };
        podnet::attach_pod(&nl, bridge, &pod).await.unwrap();
    }
    let (server, client) = (Netns::open(&names[1]).unwrap(), Netns::open(&names[2]).unwrap());
    // Without its DNAT, a packet to the service range is refused at once (an ICMP
    // "prohibited", fatal to a connect) instead of timing out: the probe sees the repair,
    // not a retransmission timer.
    let out = std::process::Command::new("ip")
        .args(["-n", &names[0], "route", "add", "prohibit", "10.97.0.0/16"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Every refusal, not one per second per client (ICMP errors are rate-limited).
    netcore::sysctl::set(&node, "net.ipv4.icmp_ratelimit", "0").unwrap();

    let listener = server.run(|| TcpListener::bind((SERVER, 8080))).unwrap().unwrap();
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let serving = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut c, _)) => {
                        let _ = c.write_all(b"server");
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(1)),
                }
            }
        })
    };

    let config = TableConfig {
        pod_cidr: "10.98.0.0/16".parse().unwrap(),
        service_cidr: "10.97.0.0/16".parse().unwrap(),
        cluster_dns: None,
    };
    let mut proxier = Proxier::new(Netns::open(&names[0]).unwrap(), config);
    let web = ServicePort {
        name: "t/web:80".into(),
        cluster_ip: VIP,
        proto: Proto::Tcp,
        port: 80,
        node_port: Some(30080),
        external_local: false,
        affinity_seconds: None,
        endpoints: vec![Endpoint { ip: SERVER, port: 8080, local: true }],
    };
    proxier.sync_all(vec![web]).unwrap();
    assert_eq!(ask(&client, Duration::from_secs(1)).unwrap(), "server");

    // The agent's notifier, and a repair loop like the proxy's.
    let notifier = Notifier::start(&node).unwrap();
    let mut rx = Some(notifier.subscribe());
    let proxier = Arc::new(Mutex::new(proxier));
    let repairs = Arc::new(AtomicUsize::new(0));
    let repairing = {
        let (proxier, repairs) = (proxier.clone(), repairs.clone());
        tokio::spawn(async move {
            loop {
                let d = drift::next(&mut rx).await;
                let Drift::Table(t) = &*d else { continue };
                let t = t.clone();
                let proxier = proxier.clone();
                tokio::task::spawn_blocking(move || proxier.lock().unwrap().repair(&t).unwrap()).await.unwrap();
                repairs.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let cases: [(&str, &str); 5] = [
        ("a service_ips element", "delete element ip flatnet service_ips { 10.97.0.10 . tcp . 80 }"),
        ("an lb_slots element", "delete element ip flatnet lb_slots_tcp_1 { 10.97.0.10 . tcp . 80 . 0 }"),
        ("a base chain (nat_prerouting)", "delete chain ip flatnet nat_prerouting"),
        (
            "a chain and the rules that jump to it (services)",
            "flush chain ip flatnet nat_prerouting\nflush chain ip flatnet nat_output\ndelete chain ip flatnet services",
        ),
        ("the table", "delete table ip flatnet"),
    ];
    let mut figures = Vec::new();
    for (what, script) in cases {
        let mut times = Vec::new();
        for _ in 0..ROUNDS {
            let node_name = names[0].clone();
            let script = script.to_string();
            let client = Netns::open(&names[2]).unwrap();
            let t = tokio::task::spawn_blocking(move || {
                // The last probe's connection must not carry this one: a reused client port
                // would match its conntrack entry, NAT included, without any rule.
                let out = std::process::Command::new("ip")
                    .args(["netns", "exec", &node_name, "conntrack", "-F"])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "conntrack -F: {}", String::from_utf8_lossy(&out.stderr));
                // From the start of the deletion: an upper bound (it includes nft's own
                // run, and the repair may start before nft has exited).
                let start = Instant::now();
                nft(&node_name, &script);
                until_it_works(&client, start)
            })
            .await
            .unwrap();
            times.push(t);
        }
        let m = median(times.clone());
        println!("repair of {what}: median {m:?} over {ROUNDS} rounds ({times:?})");
        figures.push((what, m));
    }

    // No feedback: once repaired, the table stays quiet (a repair's own notices are no
    // drift, so nothing repairs again).
    tokio::time::sleep(drift::WINDOW * 3).await;
    let settled = repairs.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(repairs.load(Ordering::Relaxed), settled, "repairs kept coming without drift");
    assert!(settled >= 5 * ROUNDS, "only {settled} repairs for {} deletions", 5 * ROUNDS);

    // The proxier's own deletions are not put back: an endpoint removed stays removed.
    let changed = ServicePort {
        name: "t/web:80".into(),
        cluster_ip: VIP,
        proto: Proto::Tcp,
        port: 80,
        node_port: Some(30080),
        external_local: false,
        affinity_seconds: None,
        endpoints: vec![],
    };
    {
        let proxier = proxier.clone();
        tokio::task::spawn_blocking(move || {
            proxier.lock().unwrap().update(vec![(changed.name.clone(), Some(changed))])
        })
        .await
        .unwrap()
        .unwrap();
    }
    tokio::time::sleep(drift::WINDOW * 3).await;
    let refused = ask(&client, Duration::from_secs(1)).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused, "{refused}");
    // Its element changes went over its own nfnetlink socket: not even a notice.
    assert_eq!(repairs.load(Ordering::Relaxed), settled, "the proxier's own change was taken for drift");

    repairing.abort();
    stop.store(true, Ordering::Relaxed);
    serving.join().unwrap();
    for (what, m) in figures {
        println!("REPAIR {what}: {m:?}");
    }
}
