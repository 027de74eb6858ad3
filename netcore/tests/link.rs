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

#[tokio::test]
async fn bridge_veth_address_route_carry_real_packets_and_delete_cleans_up() {
    if !privileged() {
        return;
    }
    let (node_s, pod_s) = (Scratch::create("node"), Scratch::create("pod"));
    let (node_ns, pod_ns) = (Netns::open(&node_s.0).unwrap(), Netns::open(&pod_s.0).unwrap());
    let node = Netlink::open(&node_ns).unwrap();
    let pod = Netlink::open(&pod_ns).unwrap();

    let (bridge, eth0) = wire(&node, &pod, &pod_ns).await;
    // Applying again changes nothing and fails nothing.
    assert_eq!(wire(&node, &pod, &pod_ns).await, (bridge, eth0));
    assert_eq!(node.observe("fnveth0").await.unwrap().unwrap().controller, Some(bridge));
    assert_eq!(pod.addresses(eth0).await.unwrap(), vec![(POD_IP, 24)]);
    assert_eq!(node.index("eth0").await.unwrap(), None, "the peer never appears in the node");

    // A server on the gateway address in the node namespace, a client in the pod.
    let listener = node_ns.run(|| TcpListener::bind((GATEWAY, 0))).unwrap().unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, peer) = listener.accept().unwrap();
        let mut buf = [0u8; 4];
        conn.read_exact(&mut buf).unwrap();
        conn.write_all(&buf).unwrap();
        peer
    });
    let echoed = pod_ns
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

    // Deleting the host end takes the pod end with it; deleting again is fine.
    node.delete("fnveth0").await.unwrap();
    node.delete("fnveth0").await.unwrap();
    assert_eq!(pod.index("eth0").await.unwrap(), None);
    node.delete_route(Ipv4Addr::new(10, 98, 0, 0), 16).await.unwrap();
}
