//! Kernel tests of links, addresses and routes: a node namespace with a bridge, a pod
//! namespace wired to it by a veth created straight into the pod, and real TCP packets
//! between them. Applied twice to prove idempotence; deleted to prove cleanup.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use common::{privileged, Scratch};
use netcore::link::Netlink;
use netcore::netns::Netns;

const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
const POD_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);

async fn wire(node: &Netlink, pod: &Netlink, pod_ns: &Netns) -> (u32, u32) {
    let bridge = node.ensure_bridge("fnbr0").await.unwrap();
    node.ensure_address(bridge, GATEWAY, 24).await.unwrap();
    let host = node.ensure_veth("fnveth0", "eth0", pod_ns, None).await.unwrap();
    node.set_controller(host, bridge, "fnveth0").await.unwrap();
    node.set_up(host, "fnveth0").await.unwrap();
    let eth0 = pod.index("eth0").await.unwrap().expect("the peer is inside the pod namespace");
    pod.ensure_address(eth0, POD_IP, 24).await.unwrap();
    pod.set_up(eth0, "eth0").await.unwrap();
    let lo = pod.index("lo").await.unwrap().unwrap();
    pod.set_up(lo, "lo").await.unwrap();
    pod.ensure_route(Ipv4Addr::UNSPECIFIED, 0, Some(GATEWAY), None).await.unwrap();
    (bridge, eth0)
}

/// A node namespace with a bridge and a pod namespace wired to it, with a netlink
/// connection to each.
struct Wired {
    _scratch: (Scratch, Scratch),
    node_ns: Netns,
    pod_ns: Netns,
    node: Netlink,
    pod: Netlink,
    bridge: u32,
    eth0: u32,
}

async fn wired(tag: &str) -> Wired {
    let (node_s, pod_s) = (Scratch::create(&format!("{tag}node")), Scratch::create(&format!("{tag}pod")));
    let (node_ns, pod_ns) = (Netns::open(&node_s.0).unwrap(), Netns::open(&pod_s.0).unwrap());
    let node = Netlink::open(&node_ns).unwrap();
    let pod = Netlink::open(&pod_ns).unwrap();
    let (bridge, eth0) = wire(&node, &pod, &pod_ns).await;
    Wired { _scratch: (node_s, pod_s), node_ns, pod_ns, node, pod, bridge, eth0 }
}

#[tokio::test]
async fn wiring_again_changes_nothing_and_the_peer_stays_inside() {
    if !privileged() {
        return;
    }
    let w = wired("again").await;
    assert_eq!(wire(&w.node, &w.pod, &w.pod_ns).await, (w.bridge, w.eth0));
    assert_eq!(w.node.observe("fnveth0").await.unwrap().unwrap().controller, Some(w.bridge));
    assert_eq!(w.pod.addresses(w.eth0).await.unwrap(), vec![(POD_IP, 24)]);
    assert_eq!(w.node.index("eth0").await.unwrap(), None, "the peer never appears in the node");
}

#[tokio::test]
async fn bridge_veth_address_and_route_carry_real_packets() {
    if !privileged() {
        return;
    }
    let w = wired("packets").await;
    // A server on the gateway address in the node namespace, a client in the pod.
    let listener = w.node_ns.run(|| TcpListener::bind((GATEWAY, 0))).unwrap().unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, peer) = listener.accept().unwrap();
        let mut buf = [0u8; 4];
        conn.read_exact(&mut buf).unwrap();
        conn.write_all(&buf).unwrap();
        peer
    });
    let echoed = w
        .pod_ns
        .run(move || {
            let mut c = TcpStream::connect_timeout(&SocketAddr::from((GATEWAY, port)), Duration::from_secs(3)).unwrap();
            c.write_all(b"ping").unwrap();
            let mut buf = [0u8; 4];
            c.read_exact(&mut buf).unwrap();
            buf
        })
        .unwrap();
    assert_eq!(&echoed, b"ping");
    assert_eq!(server.join().unwrap().ip(), std::net::IpAddr::V4(POD_IP), "the server saw the pod's address");
}

#[tokio::test]
async fn deleting_the_host_end_takes_the_pod_end_and_deleting_again_is_fine() {
    if !privileged() {
        return;
    }
    let w = wired("delete").await;
    w.node.delete("fnveth0").await.unwrap();
    w.node.delete("fnveth0").await.unwrap();
    assert_eq!(w.pod.index("eth0").await.unwrap(), None);
}

#[tokio::test]
async fn deleting_an_absent_route_is_fine() {
    if !privileged() {
        return;
    }
    let w = wired("noroute").await;
    w.node.delete_route(Ipv4Addr::new(10, 98, 0, 0), 16).await.unwrap();
}
