//! Allocation of pod IPs, cluster IPs and node ports: never twice, also under concurrent
//! creates; requested addresses and ports honored when free and in range, refused (naming
//! the field) otherwise.

mod common;

use std::collections::HashSet;
use std::net::Ipv4Addr;

use common::*;
use futures::future::join_all;
use ipnetwork::Ipv4Network;
use openapi::{List, Pod, Service};

/// Send `reqs` all at once, each from its own task over its own clone of the router.
async fn concurrently(srv: &TestServer, reqs: Vec<Req>) -> Vec<Resp> {
    let tasks = reqs.into_iter().map(|req| {
        let app = srv.app.clone();
        tokio::spawn(async move { send(&app, req).await })
    });
    join_all(tasks).await.into_iter().map(|r| r.expect("task")).collect()
}

fn create_pod_req(p: impl Into<Pod>) -> Req {
    Req::post(&format!("/api/v1/namespaces/{NS}/pods")).json(&p.into()).token(ADMIN)
}

fn create_service_req(s: impl Into<Service>) -> Req {
    Req::post(&format!("/api/v1/namespaces/{NS}/services")).json(&s.into()).token(ADMIN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_pods_get_distinct_ips_inside_the_node_cidr() {
    let srv = TestServer::start().await;
    let n1 = srv.ready_node("n1", "192.168.50.1").await;
    // A second node that must not lend its addresses to n1's pods.
    srv.ready_node("n2", "192.168.50.2").await;
    let cidr: Ipv4Network = n1.spec.pod_cidr.as_deref().unwrap().parse().unwrap();
    let lease: openapi::NodeLease = srv.lease("n1").await.ok();
    let gateway: Ipv4Addr = lease.spec.gateway.parse().unwrap();
    assert_eq!(gateway, Ipv4Addr::new(10, 244, 0, 1));

    let reqs = (0..50).map(|i| create_pod_req(pod(&format!("p-{i}")).node("n1"))).collect();
    let resps = concurrently(&srv, reqs).await;
    let mut ips = HashSet::new();
    for r in &resps {
        let p: Pod = r.ok();
        assert_eq!(r.status.as_u16(), 201);
        let ip: Ipv4Addr = p.status.pod_ip.as_deref().expect("pod IP").parse().unwrap();
        assert!(cidr.contains(ip), "{ip} outside {cidr}");
        assert_ne!(ip, gateway, "the gateway is never a pod IP");
        assert_ne!(ip, cidr.network());
        assert_ne!(ip, cidr.broadcast());
        assert!(ips.insert(ip), "{ip} handed out twice");
    }
    assert_eq!(ips.len(), 50);
    // What the list shows is what was answered.
    let list: List<Pod> = srv.get("/api/v1/pods?fieldSelector=spec.nodeName%3Dn1").await.ok();
    let listed: HashSet<Ipv4Addr> =
        list.items.iter().map(|p| p.status.pod_ip.as_deref().unwrap().parse().unwrap()).collect();
    assert_eq!(listed, ips);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_node_subnet_hands_out_no_address_twice() {
    // A /27 holds 29 pod addresses (.2 to .30).
    let srv = TestServer::builder().pod_cidr("10.244.0.0/16", 27).start().await;
    srv.ready_node("n1", "192.168.50.1").await;
    let reqs = (0..40).map(|i| create_pod_req(pod(&format!("p-{i}")).node("n1"))).collect();
    let resps = concurrently(&srv, reqs).await;
    let pods: Vec<Pod> = resps.iter().map(|r| r.ok()).collect();
    let ips: Vec<&str> = pods.iter().filter_map(|p| p.status.pod_ip.as_deref()).collect();
    assert_eq!(ips.len(), 29);
    assert_eq!(ips.iter().collect::<HashSet<_>>().len(), 29);
    let waiting: Vec<&Pod> = pods.iter().filter(|p| p.status.pod_ip.is_none()).collect();
    assert_eq!(waiting.len(), 11);
    for p in waiting {
        assert_eq!(p.status.reason.as_deref(), Some("OutOfAddresses"), "{p:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_services_get_distinct_cluster_ips() {
    let srv = TestServer::start().await;
    let cidr: Ipv4Network = "10.96.0.0/16".parse().unwrap();
    let reqs = (0..50).map(|i| create_service_req(service(&format!("s-{i}")).port(80, 8080))).collect();
    let mut ips = HashSet::new();
    for r in concurrently(&srv, reqs).await {
        let s: Service = r.ok();
        let ip: Ipv4Addr = s.spec.cluster_ip.as_deref().unwrap().parse().unwrap();
        assert!(cidr.contains(ip) && ip != cidr.network() && ip != cidr.broadcast(), "{ip}");
        // Automatic addresses stay out of the static band (.0-.15).
        assert!(u32::from(ip) - u32::from(cidr.network()) >= 16, "{ip}");
        assert!(ips.insert(ip), "{ip} handed out twice");
    }
    assert_eq!(ips.len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_node_port_services_get_distinct_node_ports() {
    let srv = TestServer::builder().node_port_range(30000, 30059).start().await;
    // 25 services of two ports each: 50 node ports out of 60.
    let reqs = (0..25)
        .map(|i| {
            let mut s: Service = service(&format!("np-{i}")).node_port_type().into();
            for (name, port) in [("http", 80), ("https", 443)] {
                s.spec.ports.push(openapi::ServicePort { name: Some(name.into()), port, ..Default::default() });
            }
            create_service_req(s)
        })
        .collect();
    let mut ports = HashSet::new();
    let mut ips = HashSet::new();
    for r in concurrently(&srv, reqs).await {
        let s: Service = r.ok();
        assert!(ips.insert(s.spec.cluster_ip.clone().unwrap()));
        for p in &s.spec.ports {
            let np = p.node_port.expect("node port allocated");
            assert!((30000..=30059).contains(&np), "{np}");
            assert!(ports.insert(np), "node port {np} handed out twice");
        }
    }
    assert_eq!(ports.len(), 50);
    // The 10 left are handed out too, then the range is exhausted.
    let reqs =
        (0..12).map(|i| create_service_req(service(&format!("more-{i}")).port(80, 80).node_port_type())).collect();
    let resps = concurrently(&srv, reqs).await;
    let ok: Vec<Service> = resps.iter().filter(|r| r.status.is_success()).map(|r| r.ok()).collect();
    assert_eq!(ok.len(), 10);
    for s in &ok {
        assert!(ports.insert(s.spec.ports[0].node_port.unwrap()));
    }
    for r in resps.iter().filter(|r| !r.status.is_success()) {
        r.error(503, "ServiceUnavailable", None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_requested_cluster_ip_goes_to_exactly_one_of_many_concurrent_requests() {
    let srv = TestServer::start().await;
    let reqs =
        (0..20).map(|i| create_service_req(service(&format!("s-{i}")).port(80, 80).cluster_ip("10.96.3.3"))).collect();
    let resps = concurrently(&srv, reqs).await;
    let won: Vec<&Resp> = resps.iter().filter(|r| r.status.is_success()).collect();
    assert_eq!(won.len(), 1);
    for r in resps.iter().filter(|r| !r.status.is_success()) {
        r.error(422, "Invalid", Some("spec.clusterIP"));
    }
    let list: List<Service> = srv.get("/api/v1/services").await.ok();
    assert_eq!(list.items.len(), 1);
}

#[tokio::test]
async fn requested_cluster_ip_is_honored_when_free_and_in_range() {
    let srv = TestServer::start().await;
    // Inside the static band, and above it.
    let dns = srv.create_service(service("dns").port(53, 53).cluster_ip("10.96.0.10")).await;
    assert_eq!(dns.spec.cluster_ip.as_deref(), Some("10.96.0.10"));
    let fixed = srv.create_service(service("fixed").port(80, 80).cluster_ip("10.96.0.17")).await;
    assert_eq!(fixed.spec.cluster_ip.as_deref(), Some("10.96.0.17"));

    let rev = srv.revision();
    for (ip, why) in [
        ("10.96.0.10", "taken"),
        ("10.96.0.17", "taken"),
        ("10.97.0.1", "outside the service CIDR"),
        ("10.96.0.0", "the network address"),
        ("10.96.255.255", "the broadcast address"),
        ("192.168.1.1", "outside the service CIDR"),
    ] {
        let s: Service = service("other").port(80, 80).cluster_ip(ip).into();
        let resp = srv.post(&format!("/api/v1/namespaces/{NS}/services"), &s).await;
        let status = resp.error(422, "Invalid", Some("spec.clusterIP"));
        assert!(status.message.contains(ip), "{why}: {status:?}");
    }
    let s: Service = service("other").port(80, 80).cluster_ip("not-an-ip").into();
    srv.post(&format!("/api/v1/namespaces/{NS}/services"), &s).await.error(422, "Invalid", Some("spec.clusterIP"));
    // Refusals changed nothing: no service, no endpoints, no revision, no address held.
    assert_eq!(srv.revision(), rev);
    srv.get(&service_path("other")).await.error(404, "NotFound", None);
    srv.get(&format!("/api/v1/namespaces/{NS}/endpoints/other")).await.error(404, "NotFound", None);

    // Automatic allocation skips the requested address.
    let a = srv.create_service(service("a").port(80, 80)).await;
    let b = srv.create_service(service("b").port(80, 80)).await;
    assert_eq!(a.spec.cluster_ip.as_deref(), Some("10.96.0.16"));
    assert_eq!(b.spec.cluster_ip.as_deref(), Some("10.96.0.18"));

    // Freed by deletion: requestable again.
    srv.delete(&service_path("fixed")).await.ok::<Service>();
    let again = srv.create_service(service("again").port(80, 80).cluster_ip("10.96.0.17")).await;
    assert_eq!(again.spec.cluster_ip.as_deref(), Some("10.96.0.17"));
}

#[tokio::test]
async fn requested_node_port_is_honored_when_free_and_in_range() {
    let srv = TestServer::builder().node_port_range(30000, 30100).start().await;
    let a = srv.create_service(service("a").port(80, 80).node_port(30080)).await;
    assert_eq!(a.spec.ports[0].node_port, Some(30080));
    // The range's bounds are in it.
    let lo = srv.create_service(service("lo").port(80, 80).node_port(30000)).await;
    assert_eq!(lo.spec.ports[0].node_port, Some(30000));
    let hi = srv.create_service(service("hi").port(80, 80).node_port(30100)).await;
    assert_eq!(hi.spec.ports[0].node_port, Some(30100));

    let rev = srv.revision();
    let path = format!("/api/v1/namespaces/{NS}/services");
    for port in [30080, 29999, 30101, 80] {
        let s: Service = service("b").port(80, 80).node_port(port).into();
        let status = srv.post(&path, &s).await.error(422, "Invalid", Some("spec.ports[0].nodePort"));
        assert!(status.message.contains(&port.to_string()), "{status:?}");
    }
    // The second port of a service is named as such.
    let mut two: Service = service("b").node_port_type().into();
    two.spec.ports.push(openapi::ServicePort {
        name: Some("x".into()),
        port: 80,
        node_port: Some(30050),
        ..Default::default()
    });
    two.spec.ports.push(openapi::ServicePort {
        name: Some("y".into()),
        port: 81,
        node_port: Some(30080),
        ..Default::default()
    });
    srv.post(&path, &two).await.error(422, "Invalid", Some("spec.ports[1].nodePort"));
    // A nodePort on a ClusterIP service is refused.
    let mut cip: Service = service("b").port(80, 80).into();
    cip.spec.ports[0].node_port = Some(30060);
    srv.post(&path, &cip).await.error(422, "Invalid", Some("spec.ports[0].nodePort"));
    assert_eq!(srv.revision(), rev);
    // The refused two-port service did not keep 30050.
    let c = srv.create_service(service("c").port(80, 80).node_port(30050)).await;
    assert_eq!(c.spec.ports[0].node_port, Some(30050));

    // Automatic ports skip the requested ones; deletion frees a port.
    let auto = srv.create_service(service("auto").port(80, 80).node_port_type()).await;
    let np = auto.spec.ports[0].node_port.unwrap();
    assert!(![30000, 30050, 30080, 30100].contains(&np), "{np}");
    srv.delete(&service_path("a")).await.ok::<Service>();
    let d = srv.create_service(service("d").port(80, 80).node_port(30080)).await;
    assert_eq!(d.spec.ports[0].node_port, Some(30080));
}
