//! Kernel tests of the cross-node backends: two node namespaces on a fabric bridge, a pod
//! on each, real TCP and UDP between the pods through host-gw routes or a VXLAN overlay
//! (a bulk transfer with full-size segments too), and stale routes removed by a sync.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use common::{privileged, Scratch};
use ipnetwork::Ipv4Network;
use netcore::backend::{self, Backend, HostGw, Remote, Vxlan};
use netcore::link::Netlink;
use netcore::model::{NodeNetwork, PodNetwork};
use netcore::netns::Netns;
use netcore::podnet;

const CLUSTER: &str = "10.244.0.0/16";

struct Node {
    ns: Netns,
    nl: Netlink,
    ip: Ipv4Addr,
    subnet: Ipv4Network,
    pod_ip: Ipv4Addr,
    pod_ns: String,
}

/// A fabric with two nodes, each with a pod; nothing routes between the pods yet.
async fn two_nodes(scratch: &[Scratch; 5]) -> (Node, Node) {
    let fabric_ns = Netns::open(&scratch[0].0).unwrap();
    let fabric = Netlink::open(&fabric_ns).unwrap();
    let bridge = fabric.ensure_bridge("fnfab").await.unwrap();
    let mut nodes = Vec::new();
    for (i, (node_s, pod_s)) in [(&scratch[1], &scratch[3]), (&scratch[2], &scratch[4])].into_iter().enumerate() {
        let n = i as u8 + 1;
        let ns = Netns::open(&node_s.0).unwrap();
        let host = fabric.ensure_veth(&format!("fnfab{n}"), "eth0", &ns, None).await.unwrap();
        fabric.attach_up(host, bridge, "fabric port").await.unwrap();
        let nl = Netlink::open(&ns).unwrap();
        let eth0 = nl.must_index("eth0").await.unwrap();
        let ip = Ipv4Addr::new(192, 168, 250, 10 + n);
        nl.ensure_address(eth0, ip, 24).await.unwrap();
        nl.set_up(eth0, "eth0").await.unwrap();
        let lo = nl.must_index("lo").await.unwrap();
        nl.set_up(lo, "lo").await.unwrap();
        let subnet: Ipv4Network = format!("10.244.{n}.0/24").parse().unwrap();
        let gateway = Ipv4Addr::new(10, 244, n, 1);
        let net = NodeNetwork { bridge: "fnbr0".into(), gateway, prefix: 24 };
        let br = podnet::prepare_node(&nl, &ns, &net).await.unwrap();
        let pod_ip = Ipv4Addr::new(10, 244, n, 2);
        let pod = PodNetwork {
            netns: pod_s.0.clone(),
            host_veth: "fnpod".into(),
            ip: pod_ip,
            prefix: 24,
            gateway,
            mtu: None,
        };
        podnet::attach_pod(&nl, br, &pod).await.unwrap();
        nodes.push(Node { ns, nl, ip, subnet, pod_ip, pod_ns: pod_s.0.clone() });
    }
    let b = nodes.pop().unwrap();
    (nodes.pop().unwrap(), b)
}

fn scratch(tag: &str) -> [Scratch; 5] {
    let s = |t: &str| Scratch::create(&format!("{tag}{t}"));
    [s("f"), s("n1"), s("n2"), Scratch::new(&format!("{tag}p1")), Scratch::new(&format!("{tag}p2"))]
}

/// TCP (with `bulk` bytes) and UDP from `from`'s pod to `to`'s pod; false if it fails.
fn talk(from: &Node, to: &Node, bulk: usize) -> bool {
    let (server, client) = (Netns::open(&to.pod_ns).unwrap(), Netns::open(&from.pod_ns).unwrap());
    let ip = to.pod_ip;
    let listener = server.run(|| TcpListener::bind((ip, 0))).unwrap().unwrap();
    let udp = server.run(|| UdpSocket::bind((ip, 0))).unwrap().unwrap();
    let (tport, uport) = (listener.local_addr().unwrap().port(), udp.local_addr().unwrap().port());
    listener.set_nonblocking(true).unwrap();
    let t = std::thread::spawn(move || {
        // Accept with a deadline: when the client cannot reach us, give up.
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        let mut c = loop {
            match listener.accept() {
                Ok((c, _)) => break c,
                Err(_) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                Err(_) => return None,
            }
        };
        c.set_nonblocking(false).ok()?;
        c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut got = Vec::new();
        c.read_to_end(&mut got).ok()?;
        Some(got.len())
    });
    let u = std::thread::spawn(move || {
        udp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut b = [0u8; 64];
        if let Ok((n, peer)) = udp.recv_from(&mut b) {
            let _ = udp.send_to(&b[..n], peer);
        }
    });
    let ok = client
        .run(move || -> std::io::Result<()> {
            let mut c = TcpStream::connect_timeout(&(ip, tport).into(), Duration::from_secs(2))?;
            c.write_all(&vec![7u8; bulk])?;
            drop(c);
            let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
            s.set_read_timeout(Some(Duration::from_secs(2)))?;
            s.send_to(b"hi", (ip, uport))?;
            let mut b = [0u8; 64];
            let (n, _) = s.recv_from(&mut b)?;
            (&b[..n] == b"hi").then_some(()).ok_or_else(|| std::io::Error::other("wrong UDP answer"))
        })
        .unwrap();
    let received = t.join().unwrap();
    u.join().unwrap();
    ok.is_ok() && received == Some(bulk)
}

fn remote(n: &Node, mac: Option<[u8; 6]>) -> Remote {
    Remote { node: "peer".into(), subnet: n.subnet, node_ip: n.ip, vtep_mac: mac }
}

#[tokio::test]
async fn host_gw_routes_carry_pod_traffic_and_stale_routes_go() {
    if !privileged() {
        return;
    }
    let s = scratch("hg");
    let (a, b) = two_nodes(&s).await;
    let cluster: Ipv4Network = CLUSTER.parse().unwrap();
    assert!(!talk(&a, &b, 1000), "pods reached each other before any route existed");
    let (ga, gb) = (HostGw { cluster, own: a.subnet }, HostGw { cluster, own: b.subnet });
    for _ in 0..2 {
        ga.sync(&a.nl, &[remote(&b, None)]).await.unwrap();
        gb.sync(&b.nl, &[remote(&a, None)]).await.unwrap();
    }
    assert!(talk(&a, &b, 1 << 20) && talk(&b, &a, 1 << 20));
    // The remote's lease is gone: its route goes, and nothing else.
    let report = ga.sync(&a.nl, &[]).await.unwrap();
    assert_eq!(report.removed, vec![b.subnet]);
    assert!(!talk(&a, &b, 1000));
    assert!(a.nl.routes().await.unwrap().iter().any(|r| r.dst == a.subnet), "the own subnet's route stays");
}

#[tokio::test]
async fn vxlan_overlay_carries_pod_traffic_including_full_size_segments() {
    if !privileged() {
        return;
    }
    let s = scratch("vx");
    let (a, b) = two_nodes(&s).await;
    let cluster: Ipv4Network = CLUSTER.parse().unwrap();
    let (va, vb) = (Vxlan::new(cluster, a.subnet, a.ip), Vxlan::new(cluster, b.subnet, b.ip));
    let da = va.prepare(&a.nl).await.unwrap();
    let db = vb.prepare(&b.nl).await.unwrap();
    assert_eq!(va.pod_mtu(), Some(1450), "uplink 1500 minus the VXLAN overhead");
    let mac = |d: &std::collections::BTreeMap<String, String>| netcore::model::parse_mac(&d[backend::VTEP_MAC_KEY]);
    // Without the peer's MAC there is no route yet.
    va.sync(&a.nl, &[remote(&b, None)]).await.unwrap();
    assert!(!talk(&a, &b, 1000));
    for _ in 0..2 {
        va.sync(&a.nl, &[remote(&b, mac(&db))]).await.unwrap();
        vb.sync(&b.nl, &[remote(&a, mac(&da))]).await.unwrap();
    }
    // The pods keep MTU 1500 here, so full-size segments meet the 1450-byte overlay: path
    // MTU discovery must work for the bulk transfer to arrive whole.
    assert!(talk(&a, &b, 4 << 20) && talk(&b, &a, 4 << 20));
    let report = va.sync(&a.nl, &[]).await.unwrap();
    assert_eq!(report.removed, vec![b.subnet]);
    assert!(!talk(&a, &b, 1000));
    let _ = (&a.ns, &b.ns);
}
