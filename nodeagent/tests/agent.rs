//! The node agent end to end, as root: a real API server, a real agent process managing a
//! throwaway namespace as its node, pods as real namespaces and processes, real packets.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use common::*;
use netcore::netns::{self, Netns};
use openapi::{Node, Pod, PodPhase};

async fn running(cluster: &Cluster, name: &str) -> Pod {
    let pods = cluster.admin.pods("default");
    eventually(30, &format!("pod {name} Running and Ready"), || async {
        let p = pods.get(name).await.ok()?;
        (p.status.phase == PodPhase::Running && p.is_ready()).then_some(p)
    })
    .await
}

/// TCP and UDP from `client`'s namespace to a server in `server`'s namespace at `ip`.
fn exchange(server: &str, ip: Ipv4Addr, client: &str) {
    let (server, client) = (Netns::open(server).unwrap(), Netns::open(client).unwrap());
    let listener = server.run(|| TcpListener::bind((ip, 0))).unwrap().unwrap();
    let udp = server.run(|| UdpSocket::bind((ip, 0))).unwrap().unwrap();
    let (tport, uport) = (listener.local_addr().unwrap().port(), udp.local_addr().unwrap().port());
    let t = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        c.write_all(b"tcp-ok").unwrap();
    });
    let u = std::thread::spawn(move || {
        udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut b = [0u8; 16];
        let (n, peer) = udp.recv_from(&mut b).unwrap();
        udp.send_to(&b[..n], peer).unwrap();
    });
    client
        .run(move || {
            let mut c = TcpStream::connect_timeout(&(ip, tport).into(), Duration::from_secs(5)).unwrap();
            let mut s = String::new();
            c.read_to_string(&mut s).unwrap();
            assert_eq!(s, "tcp-ok");
            let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            sock.send_to(b"udp-ok", (ip, uport)).unwrap();
            let mut b = [0u8; 16];
            let (n, _) = sock.recv_from(&mut b).unwrap();
            assert_eq!(&b[..n], b"udp-ok");
        })
        .unwrap();
    t.join().unwrap();
    u.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_run_with_their_ip_reach_each_other_and_are_cleaned_up() {
    if !privileged() {
        return;
    }
    let cluster = Cluster::start(20).await;
    let agent = Agent::start(&cluster, "n").await;
    let nodes = cluster.admin.nodes();
    let node: Node =
        eventually(20, "node Ready", || async { nodes.get(&agent.node).await.ok().filter(|n| n.is_ready()) }).await;
    let cidr: ipnetwork::Ipv4Network = node.spec.pod_cidr.unwrap().parse().unwrap();

    let pods = cluster.admin.pods("default");
    let env = "echo POD_NAME=$POD_NAME POD_IP=$POD_IP NODE_NAME=$NODE_NAME; exec sleep 1000";
    pods.create(&pod("a", &agent.node, &[("main", env)])).await.unwrap();
    pods.create(&pod("b", &agent.node, &[("main", "exec sleep 1000")])).await.unwrap();
    let (a, b) = (running(&cluster, "a").await, running(&cluster, "b").await);
    let a_ip: Ipv4Addr = a.status.pod_ip.as_deref().unwrap().parse().unwrap();
    let b_ip: Ipv4Addr = b.status.pod_ip.as_deref().unwrap().parse().unwrap();
    assert!(cidr.contains(a_ip) && cidr.contains(b_ip));

    // The container saw its identity in the environment.
    let log =
        eventually(10, "container output", || async { Some(agent.log(&a, "main")).filter(|l| !l.is_empty()) }).await;
    assert_eq!(log.trim(), format!("POD_NAME=a POD_IP={a_ip} NODE_NAME={}", agent.node));

    // The pod's namespace carries its IP: pod to pod (both ways), pod to gateway, pod to self.
    let (a_ns, b_ns) = (agent.pod_netns(&a), agent.pod_netns(&b));
    exchange(&b_ns, b_ip, &a_ns);
    exchange(&a_ns, a_ip, &b_ns);
    let gateway: Ipv4Addr = (u32::from(cidr.network()) + 1).into();
    exchange(&agent.netns, gateway, &a_ns);
    exchange(&a_ns, a_ip, &a_ns);
    // Events are reported in the background (a pod can be running before its events are
    // in): wait for all four, then say which one is missing if one never comes.
    let wanted = [("a", "NetworkReady"), ("a", "Started"), ("b", "NetworkReady"), ("b", "Started")];
    let events = cluster.admin.events("default");
    let reasons = || async {
        let items = events.list(&Default::default()).await.unwrap().items;
        items.iter().map(|e| (e.involved_object.name.clone(), e.reason.clone())).collect::<Vec<_>>()
    };
    let all_in = |r: &Vec<(String, String)>| wanted.iter().all(|(p, w)| r.iter().any(|(n, x)| n == p && x == w));
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while !all_in(&reasons().await) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let reasons = reasons().await;
    for (pod, reason) in wanted {
        assert!(reasons.iter().any(|(n, r)| n == pod && r == reason), "no {reason} event for {pod}: {reasons:?}");
    }

    // Delete: processes, namespace and veth go; the IP goes back to the pool.
    let pids_before = agent.shim_pids();
    assert_eq!(pids_before.len(), 2);
    pods.delete("a").await.unwrap();
    eventually(20, "pod a's namespace removed", || async { (!netns::exists(&a_ns)).then_some(()) }).await;
    let veth = netcore::names::pod_veth(a.metadata.uid.as_deref().unwrap());
    let node_nl = netcore::link::Netlink::open(&Netns::open(&agent.netns).unwrap()).unwrap();
    eventually(10, "pod a's veth removed", || async { node_nl.index(&veth).await.unwrap().is_none().then_some(()) })
        .await;
    eventually(10, "pod a's processes gone", || async {
        (pids_before.iter().filter(|p| alive(**p)).count() == 1).then_some(())
    })
    .await;
    assert!(exchange_fails(&b_ns, a_ip), "a's address still answers after delete");
}

/// True when nothing answers on `ip` from `client` (a short TCP connect attempt).
fn exchange_fails(client: &str, ip: Ipv4Addr) -> bool {
    Netns::open(client)
        .unwrap()
        .run(move || TcpStream::connect_timeout(&(ip, 9).into(), Duration::from_millis(300)).is_err())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_of_a_pod_share_localhost() {
    if !privileged() {
        return;
    }
    let cluster = Cluster::start(20).await;
    let agent = Agent::start(&cluster, "l").await;
    // The server container listens on localhost only; the client reaches it there.
    let flatnet = flatnet_bin();
    let server = format!("exec {flatnet} netexec --address 127.0.0.1 --http-port 7000 --udp-port 7001");
    let client = format!(
        "until {flatnet} probe http 127.0.0.1:7000 --request /hostname; do sleep 0.1; done; \
         {flatnet} probe udp 127.0.0.1:7001 --request hostname; exec sleep 1000"
    );
    let pods = cluster.admin.pods("default");
    pods.create(&pod("duo", &agent.node, &[("server", &server), ("client", &client)])).await.unwrap();
    let p = running(&cluster, "duo").await;
    // The client retries until the server listens; then both answers name the pod.
    eventually(20, "the client's answers from the server container", || async {
        let log = agent.log(&p, "client");
        (log.lines().filter(|l| *l == "ok duo").count() == 2).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_container_restarts_with_backoff_and_counts() {
    if !privileged() {
        return;
    }
    let cluster = Cluster::start(20).await;
    let agent = Agent::start(&cluster, "c").await;
    let pods = cluster.admin.pods("default");
    pods.create(&pod("crash", &agent.node, &[("main", "echo run; exit 3")])).await.unwrap();
    let p = eventually(30, "3 restarts", || async {
        let p = pods.get("crash").await.ok()?;
        (p.status.container_statuses.first()?.restart_count >= 3).then_some(p)
    })
    .await;
    let status = &p.status.container_statuses[0];
    let last = status.last_state.as_ref().and_then(|s| s.terminated.as_ref()).expect("last state terminated");
    assert_eq!(last.exit_code, 3);
    assert_eq!(p.status.phase, PodPhase::Running, "a restarting pod stays Running, as in Kubernetes");
    // The runs are spaced out by the growing backoff (200 ms, 400 ms, 800 ms, …), not a tight loop.
    let log = agent.log(&p, "main");
    let runs = log.lines().filter(|l| *l == "run").count();
    assert!((4..=8).contains(&runs), "{runs} runs in the log:\n{log}");
    // The user sees why in the pod's events.
    let events = cluster.admin.events("default").list(&Default::default()).await.unwrap().items;
    let about_crash: Vec<_> = events.iter().filter(|e| e.involved_object.name == "crash").collect();
    assert!(about_crash
        .iter()
        .any(|e| e.reason == "Exited" && e.message.contains("code 3") && e.event_type == "Warning"));
    assert!(about_crash.iter().any(|e| e.reason == "BackOff"));
    assert!(about_crash.iter().all(|e| e.source.as_ref().and_then(|s| s.host.as_deref()) == Some(agent.node.as_str())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_pods_ip_goes_back_to_the_pool() {
    if !privileged() {
        return;
    }
    // A /29 per node: five pod addresses.
    let cluster = Cluster::start_with(|c| c.node_subnet_prefix = 29).await;
    let agent = Agent::start(&cluster, "i").await;
    let pods = cluster.admin.pods("default");
    for i in 0..5 {
        pods.create(&pod(&format!("p{i}"), &agent.node, &[("main", "exec sleep 1000")])).await.unwrap();
    }
    let mut ips = Vec::new();
    for i in 0..5 {
        ips.push(running(&cluster, &format!("p{i}")).await.status.pod_ip.unwrap());
    }
    let freed = ips[2].clone();
    pods.delete("p2").await.unwrap();
    let again = pods.create(&pod("p5", &agent.node, &[("main", "exec sleep 1000")])).await.unwrap();
    assert_eq!(again.status.pod_ip.as_deref(), Some(freed.as_str()), "the only free address is the deleted pod's");
    let p5 = running(&cluster, "p5").await;
    exchange(&agent.pod_netns(&p5), freed.parse().unwrap(), &agent.pod_netns(&running(&cluster, "p0").await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_restart_adopts_pods_without_disruption_and_repairs_drift() {
    if !privileged() {
        return;
    }
    let cluster = Cluster::start(20).await;
    let mut agent = Agent::start(&cluster, "r").await;
    let pods = cluster.admin.pods("default");
    let serve = format!("exec {} netexec --http-port 8080 --udp-port 0", flatnet_bin());
    pods.create(&pod("steady", &agent.node, &[("main", &serve)])).await.unwrap();
    let before = running(&cluster, "steady").await;
    let ip: Ipv4Addr = before.status.pod_ip.as_deref().unwrap().parse().unwrap();
    let pid = agent.shim_pids()[0];
    let port = 8080;
    let pod_ns = Netns::open(&agent.pod_netns(&before)).unwrap();

    // The pod's netexec answers GET /hostname; a client on the node keeps asking while the
    // agent is killed and restarted.
    let node_ns = Netns::open(&agent.netns).unwrap();
    let get_hostname = move || -> std::io::Result<String> {
        let mut c = TcpStream::connect_timeout(&(ip, port).into(), Duration::from_secs(1))?;
        c.set_read_timeout(Some(Duration::from_secs(2)))?;
        c.write_all(b"GET /hostname HTTP/1.0\r\n\r\n")?;
        let mut s = String::new();
        c.read_to_string(&mut s)?;
        Ok(s.rsplit("\r\n\r\n").next().unwrap_or("").to_string())
    };
    eventually(10, "netexec serving", || async { node_ns.run(get_hostname).unwrap().ok().filter(|h| h == "steady") })
        .await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let prober = std::thread::spawn(move || {
        node_ns
            .run(move || {
                let (mut ok, mut failed) = (0, 0);
                while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                    match get_hostname() {
                        Ok(s) if s == "steady" => ok += 1,
                        _ => failed += 1,
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                (ok, failed)
            })
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    agent.kill9();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(alive(pid), "the container died with the agent");
    agent.spawn();
    // Drift: delete the pod's default route by hand; the resync puts it back.
    let pod_nl = netcore::link::Netlink::open(&pod_ns).unwrap();
    pod_nl.delete_route(Ipv4Addr::UNSPECIFIED, 0).await.unwrap();
    // Without a default route, sending off-subnet fails at once (ENETUNREACH); the datagram
    // only goes as far as the node, whose namespace has no route onwards.
    let has_default_route = || {
        pod_ns
            .run(|| {
                UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
                    .and_then(|s| s.send_to(b"x", (Ipv4Addr::new(203, 0, 113, 1), 9)))
                    .is_ok()
            })
            .unwrap()
    };
    assert!(!has_default_route());
    eventually(15, "the default route restored by resync", || async { has_default_route().then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, failed) = prober.join().unwrap();
    assert!(ok > 20, "too few probes: {ok}");
    assert_eq!(failed, 0, "{failed} of {} connections failed across the agent restart", ok + failed);

    // Adopted, not recreated: the same process, no restart counted.
    let after = running(&cluster, "steady").await;
    assert_eq!(agent.shim_pids(), vec![pid]);
    assert_eq!(after.status.container_statuses[0].restart_count, 0);
    assert_eq!(after.status.pod_ip, before.status.pod_ip);
    // The repair was exactly the deleted route, and the user can see it.
    let events = cluster.admin.events("default").list(&Default::default()).await.unwrap().items;
    let repaired: Vec<_> = events.iter().filter(|e| e.reason == "NetworkRepaired").collect();
    assert_eq!(repaired.len(), 1, "{repaired:?}");
    assert_eq!(repaired[0].message, "repaired drift: [DefaultRoute]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_probe_decides_ready_and_endpoints() {
    if !privileged() {
        return;
    }
    let cluster = Cluster::start(20).await;
    let agent = Agent::start(&cluster, "p").await;
    // The server comes up two seconds after the container starts.
    let serve = format!("sleep 2; exec {} netexec --http-port 8080 --udp-port 0", flatnet_bin());
    let mut p = pod("slow", &agent.node, &[("web", &serve)]);
    p.metadata.labels.insert("app".into(), "slow".into());
    p.spec.containers[0].readiness_probe = Some(openapi::Probe {
        http_get: Some(openapi::HttpGetAction { path: "/healthz".into(), port: openapi::IntOrString::Int(8080) }),
        period_seconds: Some(1),
        ..Default::default()
    });
    let svc = openapi::Service {
        metadata: openapi::ObjectMeta { name: "slow".into(), ..Default::default() },
        spec: openapi::ServiceSpec {
            selector: [("app".to_string(), "slow".to_string())].into(),
            ports: vec![openapi::ServicePort {
                port: 80,
                target_port: Some(openapi::IntOrString::Int(8080)),
                ..Default::default()
            }],
            ..Default::default()
        },
        ..Default::default()
    };
    cluster.admin.services("default").create(&svc).await.unwrap();
    let pods = cluster.admin.pods("default");
    pods.create(&p).await.unwrap();
    // Running but not ready while the probe fails: the endpoint is not ready either.
    let early = eventually(10, "pod Running", || async {
        pods.get("slow").await.ok().filter(|p| p.status.phase == PodPhase::Running)
    })
    .await;
    assert!(!early.is_ready(), "ready before the server listens");
    let eps = cluster.admin.endpoints("default").get("slow").await.unwrap();
    assert!(eps.subsets.iter().all(|s| s.addresses.is_empty()));
    // Then the probe passes: ready, and the endpoint moves to the ready addresses.
    running(&cluster, "slow").await;
    let eps = cluster.admin.endpoints("default");
    eventually(10, "a ready endpoint", || async {
        let e = eps.get("slow").await.ok()?;
        (e.subsets.first()?.addresses.len() == 1).then_some(())
    })
    .await;
}

/// Pod status PUTs so far, from the API server's metrics.
async fn status_writes(cluster: &Cluster) -> u64 {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&cluster.ca_file).unwrap()).unwrap();
    let http = reqwest::Client::builder().add_root_certificate(ca).build().unwrap();
    let resp = http.get(format!("{}/metrics", cluster.url)).bearer_auth(ADMIN).send().await.unwrap();
    let text = resp.error_for_status().unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| {
            l.contains("route=\"/api/v1/namespaces/{namespace}/pods/{name}/status\"") && l.contains("method=\"PUT\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steady_pod_costs_no_status_writes() {
    if !privileged() {
        return;
    }
    let cluster = Cluster::start(20).await;
    let agent = Agent::start(&cluster, "s").await;
    let pods = cluster.admin.pods("default");
    for i in 0..3 {
        let serve = format!("exec {} netexec", flatnet_bin());
        let mut p = pod(&format!("s{i}"), &agent.node, &[("web", &serve)]);
        p.spec.containers[0].readiness_probe = Some(openapi::Probe {
            http_get: Some(openapi::HttpGetAction { path: "/healthz".into(), port: openapi::IntOrString::Int(8080) }),
            period_seconds: Some(1),
            ..Default::default()
        });
        pods.create(&p).await.unwrap();
    }
    for i in 0..3 {
        running(&cluster, &format!("s{i}")).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = status_writes(&cluster).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = status_writes(&cluster).await;
    // Probes pass every second and nothing changes: nothing to report.
    assert!(after - before <= 1, "{} status writes in 3 s for 3 steady pods", after - before);
}
