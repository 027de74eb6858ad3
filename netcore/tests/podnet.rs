//! Kernel tests of a node's pod network: two pods on one bridge reach each other (TCP and
//! UDP), their gateway and their own address with real packets; applying twice changes
//! nothing; detaching removes the namespace and the veth; drift made by hand is observed,
//! planned and repaired exactly.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use common::{privileged, Scratch};
use netcore::link::Netlink;
use netcore::model::{NodeNetwork, PodNetwork};
use netcore::netns::{self, Netns};
use netcore::plan::{self, PodStep};
use netcore::podnet;

const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 98, 7, 1);

fn pod(scratch: &Scratch, veth: &str, last: u8) -> PodNetwork {
    PodNetwork {
        netns: scratch.0.clone(),
        host_veth: veth.into(),
        ip: Ipv4Addr::new(10, 98, 7, last),
        prefix: 24,
        gateway: GATEWAY,
        mtu: None,
    }
}

/// Echo one TCP exchange and one UDP datagram from `client` to `server_ip` in `server`.
fn tcp_and_udp(server: &Netns, server_ip: Ipv4Addr, client: &Netns) -> (SocketAddr, SocketAddr) {
    let listener = server.run(|| TcpListener::bind((server_ip, 0))).unwrap().unwrap();
    let udp = server.run(|| UdpSocket::bind((server_ip, 0))).unwrap().unwrap();
    let (tport, uport) = (listener.local_addr().unwrap().port(), udp.local_addr().unwrap().port());
    let tcp_server = std::thread::spawn(move || {
        let (mut c, peer) = listener.accept().unwrap();
        let mut b = [0u8; 3];
        c.read_exact(&mut b).unwrap();
        c.write_all(&b).unwrap();
        peer
    });
    let udp_server = std::thread::spawn(move || {
        let mut b = [0u8; 16];
        udp.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let (n, peer) = udp.recv_from(&mut b).unwrap();
        udp.send_to(&b[..n], peer).unwrap();
        peer
    });
    client
        .run(move || {
            let mut c = TcpStream::connect_timeout(&(server_ip, tport).into(), Duration::from_secs(3)).unwrap();
            c.write_all(b"abc").unwrap();
            let mut b = [0u8; 3];
            c.read_exact(&mut b).unwrap();
            assert_eq!(&b, b"abc");
            let u = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
            u.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            u.send_to(b"xyz", (server_ip, uport)).unwrap();
            let mut b = [0u8; 16];
            let (n, _) = u.recv_from(&mut b).unwrap();
            assert_eq!(&b[..n], b"xyz");
        })
        .unwrap();
    (tcp_server.join().unwrap(), udp_server.join().unwrap())
}

#[tokio::test]
async fn pods_on_one_bridge_reach_each_other_their_gateway_and_themselves() {
    if !privileged() {
        return;
    }
    let node_s = Scratch::create("pnode");
    let (a_s, b_s) = (Scratch::new("pa"), Scratch::new("pb"));
    let node_ns = Netns::open(&node_s.0).unwrap();
    let node = Netlink::open(&node_ns).unwrap();
    let net = NodeNetwork { bridge: "fnbr0".into(), gateway: GATEWAY, prefix: 24 };
    let (a, b) = (pod(&a_s, "fnpoda", 2), pod(&b_s, "fnpodb", 3));
    let bridge = podnet::prepare_node(&node, &node_ns, &net).await.unwrap();
    for _ in 0..2 {
        assert_eq!(podnet::prepare_node(&node, &node_ns, &net).await.unwrap(), bridge);
        podnet::attach_pod(&node, bridge, &a).await.unwrap();
        podnet::attach_pod(&node, bridge, &b).await.unwrap();
    }
    assert_eq!(netcore::sysctl::get(&node_ns, "net.ipv4.ip_forward").unwrap(), "1");
    let details =
        std::process::Command::new("ip").args(["-n", &node_s.0, "-d", "link", "show", "fnpoda"]).output().unwrap();
    assert!(String::from_utf8_lossy(&details.stdout).contains("hairpin on"), "hairpin is not on");

    let (a_ns, b_ns) = (Netns::open(&a.netns).unwrap(), Netns::open(&b.netns).unwrap());
    // Pod to pod through the bridge, both ways of addressing; the server sees the pod's IP.
    let (tcp_peer, udp_peer) = tcp_and_udp(&b_ns, b.ip, &a_ns);
    assert_eq!((tcp_peer.ip(), udp_peer.ip()), (a.ip.into(), a.ip.into()));
    // Pod to its gateway (the node), and pod to its own IP.
    tcp_and_udp(&node_ns, GATEWAY, &a_ns);
    tcp_and_udp(&a_ns, a.ip, &a_ns);

    // An open handle keeps a namespace (and so its veth) alive, as a process inside would.
    drop(a_ns);
    for _ in 0..2 {
        podnet::detach_pod(&node, &a).await.unwrap();
    }
    assert!(!netns::exists(&a.netns));
    // The kernel takes the veth pair down with the namespace, in the background.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while node.index("fnpoda").await.unwrap().is_some() {
        assert!(std::time::Instant::now() < deadline, "a's veth outlived its namespace");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(node.index("fnpodb").await.unwrap().is_some(), "the other pod is untouched");
    podnet::detach_pod(&node, &b).await.unwrap();
}

/// A prepared node with two pods, a and b, wired to its bridge. The scratch namespaces
/// (and with them everything in them) go when it is dropped.
struct Drifting {
    node_s: Scratch,
    node_ns: Netns,
    node: Netlink,
    net: NodeNetwork,
    bridge: u32,
    a: PodNetwork,
    b: PodNetwork,
    _pods: (Scratch, Scratch),
}

impl Drifting {
    /// `tag` names the test's namespaces; its veths live in its own node namespace, so tests
    /// running at once never collide.
    async fn wired(tag: &str) -> Drifting {
        let node_s = Scratch::create(&format!("{tag}node"));
        let (a_s, b_s) = (Scratch::new(&format!("{tag}a")), Scratch::new(&format!("{tag}b")));
        let node_ns = Netns::open(&node_s.0).unwrap();
        let node = Netlink::open(&node_ns).unwrap();
        let net = NodeNetwork { bridge: "fnbr0".into(), gateway: GATEWAY, prefix: 24 };
        let bridge = podnet::prepare_node(&node, &node_ns, &net).await.unwrap();
        let (a, b) = (pod(&a_s, "fnra", 2), pod(&b_s, "fnrb", 3));
        podnet::attach_pod(&node, bridge, &a).await.unwrap();
        podnet::attach_pod(&node, bridge, &b).await.unwrap();
        Drifting { node_s, node_ns, node, net, bridge, a, b, _pods: (a_s, b_s) }
    }

    /// a talks to b and to its gateway.
    fn a_talks(&self) {
        let (a_ns, b_ns) = (Netns::open(&self.a.netns).unwrap(), Netns::open(&self.b.netns).unwrap());
        tcp_and_udp(&b_ns, self.b.ip, &a_ns);
        tcp_and_udp(&self.node_ns, GATEWAY, &a_ns);
    }
}

#[tokio::test]
async fn a_correctly_wired_node_and_pod_need_nothing() {
    if !privileged() {
        return;
    }
    let lab = Drifting::wired("rok").await;
    let seen_node = podnet::observe_node(&lab.node, &lab.node_ns, &lab.net).await.unwrap();
    assert_eq!(plan::plan_node(&lab.net, &seen_node), vec![]);
    assert_eq!(podnet::repair_pod(&lab.node, lab.bridge, &lab.a).await.unwrap(), vec![]);
}

#[tokio::test]
async fn a_lost_route_and_a_detached_veth_are_repaired_exactly() {
    if !privileged() {
        return;
    }
    let lab = Drifting::wired("rdrift").await;
    // Drift by hand: a's default route deleted, its veth detached from the bridge.
    let a_inside = Netlink::open(&Netns::open(&lab.a.netns).unwrap()).unwrap();
    a_inside.delete_route(Ipv4Addr::UNSPECIFIED, 0).await.unwrap();
    let nomaster = ["-n", &lab.node_s.0, "link", "set", "fnra", "nomaster"];
    assert!(std::process::Command::new("ip").args(nomaster).status().unwrap().success());
    assert_eq!(
        podnet::repair_pod(&lab.node, lab.bridge, &lab.a).await.unwrap(),
        vec![PodStep::AttachVeth, PodStep::Hairpin, PodStep::DefaultRoute]
    );
    assert_eq!(podnet::repair_pod(&lab.node, lab.bridge, &lab.a).await.unwrap(), vec![]);
    lab.a_talks();
}

#[tokio::test]
async fn a_deleted_veth_is_recreated_and_the_pod_configured_again() {
    if !privileged() {
        return;
    }
    let lab = Drifting::wired("rgone").await;
    lab.node.delete("fnra").await.unwrap();
    let steps = podnet::repair_pod(&lab.node, lab.bridge, &lab.a).await.unwrap();
    assert_eq!(steps.first(), Some(&PodStep::CreateVeth));
    lab.a_talks();
}
