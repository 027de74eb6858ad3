//! Kernel tests of flatnet's service table with real packets: a node namespace with a pod
//! bridge and three pods, and an "outside" namespace on a second bridge, all made by the
//! test and removed when it ends. The [`Proxier`] programs the node's table; clients in
//! pods and outside connect through cluster IPs and NodePorts and check who answered and
//! which source address the server saw.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{privileged, Scratch};
use netcore::link::Netlink;
use netcore::model::{NodeNetwork, PodNetwork};
use netcore::netns::Netns;
use netcore::nft;
use netcore::nft::model::{Command, Element, Expr, Op, Part, Set, Table, Type};
use netcore::nftnl::{self, SetOp};
use netcore::podnet;
use netcore::services::{Endpoint, Proto, Proxier, ServicePort, TableConfig};

const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 98, 1, 1);
const OUTSIDE_GW: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const OUTSIDE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn config() -> TableConfig {
    TableConfig {
        pod_cidr: "10.98.0.0/16".parse().unwrap(),
        service_cidr: "10.97.0.0/16".parse().unwrap(),
        cluster_dns: None,
    }
}

/// A node with pods a (.2), b (.3), c (.4) and an outside host, torn down on drop.
struct Lab {
    node: Netns,
    pods: Vec<Netns>,
    outside: Netns,
    _scratch: Vec<Scratch>,
}

impl Lab {
    async fn new() -> Lab {
        let node_s = Scratch::create("svcnode");
        let node_ns = Netns::open(&node_s.0).unwrap();
        let nl = Netlink::open(&node_ns).unwrap();
        let mut scratch = vec![];
        let mut pods = vec![];
        let bridge =
            podnet::prepare_node(&nl, &node_ns, &NodeNetwork { bridge: "fnbr0".into(), gateway: GATEWAY, prefix: 24 })
                .await
                .unwrap();
        for (i, tag) in ["sa", "sb", "sc"].iter().enumerate() {
            let s = Scratch::new(tag);
            let pod = PodNetwork {
                netns: s.0.clone(),
                host_veth: format!("fnsvc{i}"),
                ip: Ipv4Addr::new(10, 98, 1, 2 + i as u8),
                prefix: 24,
                gateway: GATEWAY,
                mtu: None,
            };
            podnet::attach_pod(&nl, bridge, &pod).await.unwrap();
            pods.push(Netns::open(&s.0).unwrap());
            scratch.push(s);
        }
        let out_bridge = podnet::prepare_node(
            &nl,
            &node_ns,
            &NodeNetwork { bridge: "fnbr1".into(), gateway: OUTSIDE_GW, prefix: 24 },
        )
        .await
        .unwrap();
        let s = Scratch::new("sout");
        let out = PodNetwork {
            netns: s.0.clone(),
            host_veth: "fnsvcout".into(),
            ip: OUTSIDE,
            prefix: 24,
            gateway: OUTSIDE_GW,
            mtu: None,
        };
        podnet::attach_pod(&nl, out_bridge, &out).await.unwrap();
        let outside = Netns::open(&s.0).unwrap();
        scratch.push(s);
        // A node has its loopback up (a reject of its own connection is delivered over it)
        // and a default route (here to the outside host): its own connections to a
        // cluster IP need a route before the output hook DNATs them.
        nl.set_up(1, "lo").await.unwrap();
        nl.replace_default_route(OUTSIDE).await.unwrap();
        scratch.push(node_s);
        Lab { node: node_ns, pods, outside, _scratch: scratch }
    }

    fn pod_ip(i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 98, 1, 2 + i as u8)
    }

    fn proxier(&self) -> Proxier {
        Proxier::new(Netns::open(self.node.name()).unwrap(), config())
    }
}

/// A TCP and UDP server in `ns` on `ip:port`: answers each connection or datagram with
/// `name` and the address it saw the client at. Stops when dropped.
struct Server {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(ns: &Netns, ip: Ipv4Addr, port: u16, name: &'static str) -> Server {
        let tcp = ns.run(move || TcpListener::bind((ip, port))).unwrap().unwrap();
        let udp = ns.run(move || UdpSocket::bind((ip, port))).unwrap().unwrap();
        tcp.set_nonblocking(true).unwrap();
        udp.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (s1, s2) = (stop.clone(), stop.clone());
        let t1 = std::thread::spawn(move || {
            while !s1.load(Ordering::Relaxed) {
                match tcp.accept() {
                    Ok((mut c, peer)) => {
                        c.set_nonblocking(false).unwrap();
                        let _ = c.write_all(format!("{name} {}", peer.ip()).as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        let t2 = std::thread::spawn(move || {
            let mut b = [0u8; 64];
            while !s2.load(Ordering::Relaxed) {
                if let Ok((_, peer)) = udp.recv_from(&mut b) {
                    let _ = udp.send_to(format!("{name} {}", peer.ip()).as_bytes(), peer);
                }
            }
        });
        Server { stop, threads: vec![t1, t2] }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Connect from `ns` to `to`; the server's answer ("name seen-ip").
fn ask(ns: &Netns, to: SocketAddr) -> std::io::Result<String> {
    let mut c = ns.run(move || TcpStream::connect_timeout(&to, Duration::from_secs(3))).unwrap()?;
    c.set_read_timeout(Some(Duration::from_secs(3)))?;
    let mut s = String::new();
    c.read_to_string(&mut s)?;
    Ok(s)
}

/// A UDP client socket in `ns` (kept across sends: its conntrack entry is what matters).
fn udp_client(ns: &Netns) -> UdpSocket {
    let u = ns.run(|| UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))).unwrap().unwrap();
    u.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    u
}

fn udp_ask(u: &UdpSocket, to: SocketAddr) -> std::io::Result<String> {
    u.send_to(b"?", to)?;
    let mut b = [0u8; 64];
    let (n, _) = u.recv_from(&mut b)?;
    Ok(String::from_utf8_lossy(&b[..n]).into_owned())
}

fn ep(i: usize, port: u16) -> Endpoint {
    Endpoint { ip: Lab::pod_ip(i), port, local: true }
}

fn service(name: &str, ip: Ipv4Addr, port: u16, proto: Proto, endpoints: Vec<Endpoint>) -> ServicePort {
    ServicePort {
        name: name.into(),
        cluster_ip: ip,
        proto,
        port,
        node_port: None,
        external_local: false,
        affinity_seconds: None,
        endpoints,
    }
}

fn vip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 97, 0, last)
}

#[tokio::test]
async fn cluster_ip_spreads_hairpins_rejects_and_follows_endpoints() {
    if !privileged() {
        return;
    }
    let lab = Lab::new().await;
    let _b = Server::start(&lab.pods[1], Lab::pod_ip(1), 8080, "b");
    let _c = Server::start(&lab.pods[2], Lab::pod_ip(2), 8080, "c");
    let _a = Server::start(&lab.pods[0], Lab::pod_ip(0), 8080, "a");
    let mut p = lab.proxier();
    let web = service("t/web:80", vip(10), 80, Proto::Tcp, vec![ep(1, 8080), ep(2, 8080)]);
    let me = service("t/me:80", vip(11), 80, Proto::Tcp, vec![ep(0, 8080)]);
    p.sync_all(vec![web.clone(), me.clone()]).unwrap();

    // Spread: both endpoints get a fair share of 300 connections; the server sees the
    // client pod's own address (no masquerade between pods).
    let (mut nb, mut nc) = (0, 0);
    for _ in 0..300 {
        let answer = ask(&lab.pods[0], (vip(10), 80).into()).unwrap();
        match answer.as_str() {
            "b 10.98.1.2" => nb += 1,
            "c 10.98.1.2" => nc += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert!(nb >= 100 && nc >= 100, "uneven spread: b {nb}, c {nc}");

    // The node itself reaches the cluster IP too (output hook).
    assert!(ask(&lab.node, (vip(10), 80).into()).unwrap().starts_with(['b', 'c']));

    // Hairpin: a reaches its own service and lands on itself, masqueraded to the gateway.
    assert_eq!(ask(&lab.pods[0], (vip(11), 80).into()).unwrap(), format!("a {GATEWAY}"));

    // An established connection survives endpoint changes; new ones follow them.
    let kept = lab.pods[0].run(|| TcpStream::connect((vip(10), 80))).unwrap().unwrap();
    p.update(vec![(web.name.clone(), Some(ServicePort { endpoints: vec![ep(2, 8080)], ..web.clone() }))]).unwrap();
    for _ in 0..20 {
        assert_eq!(ask(&lab.pods[0], (vip(10), 80).into()).unwrap(), "c 10.98.1.2");
    }
    let mut s = String::new();
    let mut kept = kept;
    kept.read_to_string(&mut s).unwrap();
    assert!(s == "b 10.98.1.2" || s == "c 10.98.1.2", "{s:?}");

    // Scale to zero: refused at once (a TCP reset), not left hanging.
    p.update(vec![(web.name.clone(), Some(ServicePort { endpoints: vec![], ..web.clone() }))]).unwrap();
    let started = std::time::Instant::now();
    let err = ask(&lab.pods[0], (vip(10), 80).into()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    assert!(started.elapsed() < Duration::from_secs(2), "the reject took {:?}", started.elapsed());
    // The node's own connection is refused as well.
    assert_eq!(ask(&lab.node, (vip(10), 80).into()).unwrap_err().kind(), std::io::ErrorKind::ConnectionRefused);

    // Back up: traffic flows again. Deleting the service leaves no element behind.
    p.update(vec![(web.name.clone(), Some(web.clone()))]).unwrap();
    assert!(ask(&lab.pods[0], (vip(10), 80).into()).unwrap().starts_with(['b', 'c']));
    p.update(vec![(web.name.clone(), None), (me.name.clone(), None)]).unwrap();
    let listing = std::process::Command::new("ip")
        .args(["netns", "exec", lab.node.name(), "nft", "list", "table", "ip", "flatnet"])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(!listing.contains("10.97.0.1"), "elements left behind:\n{listing}");
}

#[tokio::test]
async fn udp_flows_to_a_removed_endpoint_are_cleared() {
    if !privileged() {
        return;
    }
    let lab = Lab::new().await;
    let _b = Server::start(&lab.pods[1], Lab::pod_ip(1), 5353, "b");
    let _c = Server::start(&lab.pods[2], Lab::pod_ip(2), 5353, "c");
    let mut p = lab.proxier();
    let dns = service("t/dns:53", vip(20), 53, Proto::Udp, vec![ep(1, 5353)]);
    p.sync_all(vec![dns.clone()]).unwrap();
    let client = udp_client(&lab.pods[0]);
    let to: SocketAddr = (vip(20), 53).into();
    assert_eq!(udp_ask(&client, to).unwrap(), "b 10.98.1.2");

    // b goes away and c comes: the same client socket (the same conntrack tuple) now
    // reaches c, because the proxier dropped the flow to b.
    let report =
        p.update(vec![(dns.name.clone(), Some(ServicePort { endpoints: vec![ep(2, 5353)], ..dns.clone() }))]).unwrap();
    assert_eq!(report.stale.len(), 1, "{report:?}");
    assert_eq!(p.clear_stale_flows(&report.stale), 0);
    assert_eq!(udp_ask(&client, to).unwrap(), "c 10.98.1.2");

    // Scale to zero: the next datagram is rejected (ICMP port unreachable → ECONNREFUSED
    // on a connected socket), not sent to c.
    let report = p.update(vec![(dns.name.clone(), Some(ServicePort { endpoints: vec![], ..dns.clone() }))]).unwrap();
    assert_eq!(p.clear_stale_flows(&report.stale), 0);
    client.connect(to).unwrap();
    client.send(b"?").unwrap();
    let mut b = [0u8; 64];
    let err = client.recv(&mut b).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
}

#[tokio::test]
async fn node_ports_keep_or_hide_the_client_and_pods_egress_masqueraded() {
    if !privileged() {
        return;
    }
    let lab = Lab::new().await;
    let _a = Server::start(&lab.pods[0], Lab::pod_ip(0), 80, "a");
    let _out = Server::start(&lab.outside, OUTSIDE, 9000, "outside");
    let mut p = lab.proxier();
    let cluster =
        ServicePort { node_port: Some(30080), ..service("t/cluster:80", vip(30), 80, Proto::Tcp, vec![ep(0, 80)]) };
    let local = ServicePort {
        node_port: Some(30081),
        external_local: true,
        ..service("t/local:80", vip(31), 80, Proto::Tcp, vec![ep(0, 80)])
    };
    let remote_only = ServicePort {
        node_port: Some(30082),
        external_local: true,
        ..service(
            "t/remote:80",
            vip(32),
            80,
            Proto::Tcp,
            vec![Endpoint { ip: Ipv4Addr::new(10, 98, 9, 9), port: 80, local: false }],
        )
    };
    let empty = ServicePort { node_port: Some(30083), ..service("t/empty:80", vip(33), 80, Proto::Tcp, vec![]) };
    p.sync_all(vec![cluster, local, remote_only, empty]).unwrap();

    // Cluster: masqueraded, the pod sees the node (the bridge's address toward it).
    assert_eq!(ask(&lab.outside, (OUTSIDE_GW, 30080).into()).unwrap(), format!("a {GATEWAY}"));
    // Local: the pod sees the outside client's own address.
    assert_eq!(ask(&lab.outside, (OUTSIDE_GW, 30081).into()).unwrap(), format!("a {OUTSIDE}"));
    // Local with no endpoint on this node: dropped (as Kubernetes does), so it times out.
    let err = ask(&lab.outside, (OUTSIDE_GW, 30082).into()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
    // No endpoints at all: refused.
    assert_eq!(
        ask(&lab.outside, (OUTSIDE_GW, 30083).into()).unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );

    // Egress: the outside host sees the node's address, not the pod's.
    assert_eq!(ask(&lab.pods[1], (OUTSIDE, 9000).into()).unwrap(), format!("outside {OUTSIDE_GW}"));
    // Pod to pod is never masqueraded.
    assert_eq!(ask(&lab.pods[1], (Lab::pod_ip(0), 80).into()).unwrap(), "a 10.98.1.3");
}

#[tokio::test]
async fn client_ip_affinity_sticks_until_the_timeout() {
    if !privileged() {
        return;
    }
    let lab = Lab::new().await;
    let _b = Server::start(&lab.pods[1], Lab::pod_ip(1), 80, "b");
    let _c = Server::start(&lab.pods[2], Lab::pod_ip(2), 80, "c");
    let mut p = lab.proxier();
    let sticky = ServicePort {
        affinity_seconds: Some(2),
        ..service("t/sticky:80", vip(40), 80, Proto::Tcp, vec![ep(1, 80), ep(2, 80)])
    };
    p.sync_all(vec![sticky.clone()]).unwrap();
    let first = ask(&lab.pods[0], (vip(40), 80).into()).unwrap();
    for _ in 0..30 {
        assert_eq!(ask(&lab.pods[0], (vip(40), 80).into()).unwrap(), first, "the client moved");
    }
    // The node is another client: it may land elsewhere, and it sticks too.
    let node_first = ask(&lab.node, (vip(40), 80).into()).unwrap();
    for _ in 0..10 {
        assert_eq!(ask(&lab.node, (vip(40), 80).into()).unwrap(), node_first);
    }
    // After the timeout with no new connection the client is free again: over a few
    // rounds of waiting, it lands on the other endpoint at least once.
    let mut moved = false;
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(2200)).await;
        if ask(&lab.pods[0], (vip(40), 80).into()).unwrap() != first {
            moved = true;
            break;
        }
    }
    assert!(moved, "the client never left its endpoint after the affinity timeout");
}

#[tokio::test]
async fn a_restarted_proxier_adopts_the_table_without_a_gap() {
    if !privileged() {
        return;
    }
    let lab = Lab::new().await;
    let _b = Server::start(&lab.pods[1], Lab::pod_ip(1), 80, "b");
    let sticky =
        ServicePort { affinity_seconds: Some(600), ..service("t/sticky:80", vip(50), 80, Proto::Tcp, vec![ep(1, 80)]) };
    let gone =
        ServicePort { affinity_seconds: Some(600), ..service("t/gone:80", vip(51), 80, Proto::Tcp, vec![ep(1, 80)]) };
    let plain = service("t/plain:80", vip(52), 80, Proto::Tcp, vec![ep(1, 80)]);
    let mut first = lab.proxier();
    first.sync_all(vec![sticky.clone(), gone.clone(), plain.clone()]).unwrap();
    assert!(ask(&lab.pods[0], (vip(50), 80).into()).unwrap().starts_with('b'));
    let before = nft::list_objects(lab.proxier().netns()).unwrap().unwrap();
    drop(first);

    // Requests keep flowing while a new proxier adopts the table with a different set.
    let stop = Arc::new(AtomicBool::new(false));
    let client = Netns::open(lab.pods[0].name()).unwrap();
    let s = stop.clone();
    let looper = std::thread::spawn(move || {
        let (mut ok, mut failed) = (0, 0);
        while !s.load(Ordering::Relaxed) {
            match ask(&client, (vip(52), 80).into()) {
                Ok(_) => ok += 1,
                Err(_) => failed += 1,
            }
        }
        (ok, failed)
    });
    std::thread::sleep(Duration::from_millis(100));
    let mut second = lab.proxier();
    for _ in 0..3 {
        second.sync_all(vec![sticky.clone(), plain.clone()]).unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let (ok, failed) = looper.join().unwrap();
    assert!(ok > 0 && failed == 0, "{ok} ok, {failed} failed during adoption");

    let after = nft::list_objects(second.netns()).unwrap().unwrap();
    let aff = |o: &nft::TableObjects| o.sets.iter().filter(|s| s.starts_with("aff")).count();
    assert_eq!(aff(&before), 2);
    assert_eq!(aff(&after), 1, "the gone service's affinity set was not removed: {after:?}");
    // The sticky service kept its recorded client through the restart.
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", lab.node.name(), "nft", "list", "set", "ip", "flatnet"])
        .arg(after.sets.iter().find(|s| s.starts_with("aff")).unwrap())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("10.98.1.2"), "{}", String::from_utf8_lossy(&out.stdout));
    // An incremental change after adoption works on the adopted state.
    second.update(vec![(plain.name.clone(), None)]).unwrap();
    assert!(ask(&lab.pods[0], (vip(52), 80).into()).is_err(), "a deleted service still answers");
}

/// The bulk load of a new table (elements over nfnetlink) gives exactly the table that the
/// same rendering through `nft -f` gives.
#[tokio::test]
async fn bulk_loaded_elements_equal_nft_loaded_ones() {
    if !privileged() {
        return;
    }
    let (a, b) = (Scratch::create("bulka"), Scratch::create("bulkb"));
    let mut sps = vec![
        service("t/web:80", vip(10), 80, Proto::Tcp, vec![ep(1, 8080), ep(2, 8080)]),
        service("t/dns:53", vip(11), 53, Proto::Udp, vec![ep(1, 5353)]),
        service("t/none:80", vip(12), 80, Proto::Tcp, vec![]),
        ServicePort {
            node_port: Some(30080),
            ..service("t/np:80", vip(13), 80, Proto::Tcp, vec![ep(0, 80), ep(1, 80), ep(2, 80)])
        },
        ServicePort {
            node_port: Some(30081),
            external_local: true,
            ..service(
                "t/l:80",
                vip(14),
                80,
                Proto::Tcp,
                vec![Endpoint { ip: Ipv4Addr::new(10, 98, 2, 2), port: 80, local: false }],
            )
        },
        ServicePort { node_port: Some(30082), ..service("t/npnone:80", vip(15), 80, Proto::Udp, vec![]) },
    ];
    sps.extend((0..300).map(|i| {
        service(
            &format!("t/s{i}:80"),
            Ipv4Addr::new(10, 97, 1 + (i / 250) as u8, (i % 250) as u8),
            80,
            Proto::Tcp,
            vec![ep(i % 3, 80)],
        )
    }));
    let mut p = Proxier::new(Netns::open(&a.0).unwrap(), config());
    p.sync_all(sps.clone()).unwrap();
    let desired = sps.into_iter().map(|sp| (sp.name.clone(), sp.normalize())).collect();
    nft::apply(&Netns::open(&b.0).unwrap(), &netcore::services::render_full(&config(), None, &desired)).unwrap();
    let list = |ns: &str| {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", ns, "nft", "list", "table", "ip", "flatnet"])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let (la, lb) = (list(&a.0), list(&b.0));
    assert!(la.contains("10.97.1.4 . tcp . 80 : goto lb_tcp_1"), "{la}");
    assert_eq!(la, lb, "bulk-loaded table differs from the nft-loaded one");

    // Element-only changes go over nfnetlink too: the same changes applied as nft scripts
    // to the other table give the same result.
    let mut q = Proxier::new(Netns::open(&b.0).unwrap(), config());
    q.sync_all(desired.into_values().collect()).unwrap();
    let steps: Vec<Vec<(String, Option<ServicePort>)>> = vec![
        vec![(
            "t/s1:80".into(),
            Some(service("t/s1:80", Ipv4Addr::new(10, 97, 1, 1), 80, Proto::Tcp, vec![ep(2, 80)])),
        )],
        vec![
            ("t/s2:80".into(), None),
            ("t/none:80".into(), Some(service("t/none:80", vip(12), 80, Proto::Tcp, vec![ep(0, 80)]))),
        ],
        vec![("t/web:80".into(), Some(service("t/web:80", vip(10), 80, Proto::Tcp, vec![ep(2, 8080), ep(0, 8080)])))],
    ];
    for step in steps {
        let prepared = q.prepare_update(step.clone());
        assert!(!prepared.script.is_empty());
        nft::apply(q.netns(), &prepared.script).unwrap();
        q.commit(prepared);
        p.update(step).unwrap();
        assert_eq!(list(&a.0), list(&b.0), "an nfnetlink change differs from the nft one");
    }
}

/// An nfnetlink batch the kernel refuses answers an error naming the set (no hang), and
/// changes nothing.
#[tokio::test]
async fn a_refused_element_batch_is_an_error() {
    if !privileged() {
        return;
    }
    let s = Scratch::create("nlerr");
    let ns = Netns::open(&s.0).unwrap();
    let mut sock = nftnl::Socket::open(&ns).unwrap();
    let hairpin = Set::plain("hairpin", Type::Typeof(vec![Expr::IpSaddr, Expr::IpDaddr]));
    let pair = |last: u8| {
        let ip = Part::Ipv4(Ipv4Addr::new(10, 0, 0, last));
        Element { key: vec![ip, ip], value: None }
    };
    let one = [pair(1)];
    let ops = [SetOp { op: Op::Add, set: &hairpin, elements: &one }];
    let err = sock.apply("flatnet", &ops).unwrap_err();
    let netcore::Error::Nft { source: nft::NftError::Elements { op: Op::Add, set, source }, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((set.as_str(), source.kind()), ("hairpin", std::io::ErrorKind::NotFound), "{err}");
    // With the table there, the same socket works, and a bad element in a batch undoes it.
    let table = Table { family: "ip", name: "flatnet" };
    let mut script = String::new();
    table.write(&mut script, Command::AddTable);
    table.write(&mut script, Command::AddSet(&hairpin));
    nft::apply(&ns, &script).unwrap();
    sock.apply("flatnet", &ops).unwrap();
    let (two, missing) = ([pair(2)], [pair(99)]);
    let bad = [
        SetOp { op: Op::Add, set: &hairpin, elements: &two },
        SetOp { op: Op::Delete, set: &hairpin, elements: &missing },
    ];
    assert!(sock.apply("flatnet", &bad).is_err());
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &s.0, "nft", "list", "set", "ip", "flatnet", "hairpin"])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains("10.0.0.1") && !listing.contains("10.0.0.2"),
        "the failed batch was not undone:\n{listing}"
    );
}

/// A table of another layout is replaced in one transaction, and what the proxier then
/// believes exists matches the kernel: a later change needing a shared group that only the
/// old table had still creates it.
#[tokio::test]
async fn a_table_of_another_layout_is_replaced() {
    if !privileged() {
        return;
    }
    let s = Scratch::create("oldlayout");
    let ns = Netns::open(&s.0).unwrap();
    nft::apply(
        &ns,
        "add table ip flatnet\nadd set ip flatnet service_ips { type ipv4_addr; }\n\
         add map ip flatnet lb_slots_tcp_5 { type ipv4_addr : ipv4_addr; }\n",
    )
    .unwrap();
    let mut p = Proxier::new(Netns::open(&s.0).unwrap(), config());
    let web = service("t/web:80", vip(10), 80, Proto::Tcp, vec![ep(1, 80)]);
    p.sync_all(vec![web.clone()]).unwrap();
    let objects = nft::list_objects(&ns).unwrap().unwrap();
    assert!(!objects.sets.contains("lb_slots_tcp_5"), "the old table's map survived: {objects:?}");
    let five: Vec<Endpoint> =
        (0..5).map(|i| Endpoint { ip: Ipv4Addr::new(10, 98, 3, i), port: 80, local: false }).collect();
    p.update(vec![(web.name.clone(), Some(ServicePort { endpoints: five, ..web }))]).unwrap();
    assert!(nft::list_objects(&ns).unwrap().unwrap().sets.contains("lb_slots_tcp_5"));
}
