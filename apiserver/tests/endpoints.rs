//! Endpoints follow pods: readiness (pod status and node), labels, named target ports,
//! deletion; and services: created after their pods, selector changes, no selector.

mod common;

use common::*;
use openapi::{EndpointPort, Pod, PodPhase, Protocol, Service};

#[tokio::test]
async fn endpoints_follow_pod_readiness() {
    let srv = TestServer::start().await;
    srv.ready_node("n1", "192.168.50.1").await;
    srv.create_service(service("web").selector(&[("app", "web")]).named_port("http", 80, "http")).await;
    let p1 = srv.create_pod(pod("p1").labels(&[("app", "web")]).port("http", 8080)).await;

    // Created: an address, not ready yet.
    let ep = srv.endpoints("web").await;
    assert_eq!(ep.subsets.len(), 1);
    let subset = &ep.subsets[0];
    assert!(subset.addresses.is_empty());
    let addr = &subset.not_ready_addresses[0];
    assert_eq!(Some(addr.ip.as_str()), p1.status.pod_ip.as_deref());
    assert_eq!(addr.node_name.as_deref(), Some("n1"));
    assert_eq!((addr.target_ref.kind.as_str(), addr.target_ref.name.as_str()), ("Pod", "p1"));
    assert_eq!(Some(addr.target_ref.uid.as_str()), p1.metadata.uid.as_deref());
    assert_eq!(subset.ports, vec![EndpointPort { name: Some("http".into()), port: 8080, protocol: Protocol::Tcp }]);

    // Running alone is not enough; Running and Ready is.
    let running = running_ready(srv.pod("p1").await, false);
    srv.put(&format!("{}/status", pod_path("p1")), &running).await.ok::<Pod>();
    assert_eq!(endpoint_pods(&srv.endpoints("web").await), (vec![], strings(&["p1"])));
    srv.set_pod_ready("p1").await;
    let ep = srv.endpoints("web").await;
    assert_eq!(endpoint_pods(&ep), (strings(&["p1"]), vec![]));
    assert_eq!(Some(ep.subsets[0].addresses[0].ip.as_str()), p1.status.pod_ip.as_deref());

    // Not ready again, then finished: a finished pod is no endpoint at all.
    let unready = running_ready(srv.pod("p1").await, false);
    srv.put(&format!("{}/status", pod_path("p1")), &unready).await.ok::<Pod>();
    assert_eq!(endpoint_pods(&srv.endpoints("web").await), (vec![], strings(&["p1"])));
    let mut done = srv.pod("p1").await;
    done.status.phase = PodPhase::Succeeded;
    srv.put(&format!("{}/status", pod_path("p1")), &done).await.ok::<Pod>();
    assert!(srv.endpoints("web").await.subsets.is_empty());

    // A status write that changes nothing costs no revision.
    let rev = srv.revision();
    let same = srv.pod("p1").await;
    srv.put(&format!("{}/status", pod_path("p1")), &same).await.ok::<Pod>();
    assert_eq!(srv.revision(), rev);
}

#[tokio::test]
async fn endpoints_follow_labels_and_selectors() {
    let srv = TestServer::start().await;
    srv.ready_node("n1", "192.168.50.1").await;
    srv.create_service(service("web").selector(&[("app", "web")]).port(80, 8080)).await;
    for name in ["a", "b"] {
        srv.create_pod(pod(name).labels(&[("app", "web")])).await;
        srv.set_pod_ready(name).await;
    }
    // Same labels in another namespace: not selected.
    srv.create_pod(pod("elsewhere").namespace("other").labels(&[("app", "web")])).await;
    assert_eq!(endpoint_pods(&srv.endpoints("web").await), (strings(&["a", "b"]), vec![]));

    // Relabel a: it leaves; relabel it back: it returns, still ready.
    let mut a = srv.pod("a").await;
    a.metadata.labels.insert("app".into(), "db".into());
    let a: Pod = srv.put(&pod_path("a"), &a).await.ok();
    assert_eq!(endpoint_pods(&srv.endpoints("web").await), (strings(&["b"]), vec![]));
    let mut back = a.clone();
    back.metadata.labels.insert("app".into(), "web".into());
    srv.put(&pod_path("a"), &back).await.ok::<Pod>();
    assert_eq!(endpoint_pods(&srv.endpoints("web").await), (strings(&["a", "b"]), vec![]));

    // The service's selector changes: endpoints are recomputed from every pod.
    let mut svc: Service = srv.get(&service_path("web")).await.ok();
    svc.spec.selector.insert("app".into(), "db".into());
    srv.put(&service_path("web"), &svc).await.ok::<Service>();
    assert!(srv.endpoints("web").await.subsets.is_empty());
    let mut a = srv.pod("a").await;
    a.metadata.labels.insert("app".into(), "db".into());
    srv.put(&pod_path("a"), &a).await.ok::<Pod>();
    assert_eq!(endpoint_pods(&srv.endpoints("web").await), (strings(&["a"]), vec![]));

    // The service's ports change: so do the endpoints' ports.
    let mut svc: Service = srv.get(&service_path("web")).await.ok();
    svc.spec.ports[0].target_port = Some(openapi::IntOrString::Int(9999));
    srv.put(&service_path("web"), &svc).await.ok::<Service>();
    let ep = srv.endpoints("web").await;
    assert_eq!(ep.subsets[0].ports.iter().map(|p| p.port).collect::<Vec<_>>(), [9999]);
    assert_eq!(endpoint_pods(&ep), (strings(&["a"]), vec![]));

    // A service created after its pods starts with them; one without selector has none.
    let late = srv.create_service(service("late").selector(&[("app", "db")]).port(80, 8080)).await;
    assert_eq!(late.spec.selector["app"], "db");
    assert_eq!(endpoint_pods(&srv.endpoints("late").await), (strings(&["a"]), vec![]));
    srv.create_service(service("manual").port(80, 8080)).await;
    assert!(srv.endpoints("manual").await.subsets.is_empty());
    // The endpoints carry the service's labels.
    let mut labeled: Service = srv.get(&service_path("late")).await.ok();
    labeled.metadata.labels.insert("team".into(), "x".into());
    srv.put(&service_path("late"), &labeled).await.ok::<Service>();
    assert_eq!(srv.endpoints("late").await.metadata.labels["team"], "x");
}

/// Resolved ports of a subset: (name, number).
type Ports = Vec<(String, i32)>;

#[tokio::test]
async fn named_target_ports_resolve_per_pod() {
    let srv = TestServer::start().await;
    srv.ready_node("n1", "192.168.50.1").await;
    let mut svc: Service = service("web").selector(&[("app", "web")]).named_port("http", 80, "http").into();
    svc.spec.ports.push(openapi::ServicePort { name: Some("raw".into()), port: 9000, ..Default::default() });
    srv.create_service(svc).await;
    srv.create_pod(pod("p8080").labels(&[("app", "web")]).port("http", 8080)).await;
    srv.create_pod(pod("p9090").labels(&[("app", "web")]).port("http", 9090)).await;
    // No port named http: only the numeric port resolves.
    srv.create_pod(pod("other").labels(&[("app", "web")]).port("grpc", 7070)).await;
    // A UDP port of that name does not match a TCP service port.
    let mut udp: Pod = pod("udp").labels(&[("app", "web")]).into();
    udp.spec.containers[0].ports.push(openapi::ContainerPort {
        name: Some("http".into()),
        container_port: 8081,
        protocol: Protocol::Udp,
    });
    srv.create_pod(udp).await;

    let ep = srv.endpoints("web").await;
    let mut seen: Vec<(Ports, Vec<String>)> = ep
        .subsets
        .iter()
        .map(|s| {
            let ports = s.ports.iter().map(|p| (p.name.clone().unwrap(), p.port)).collect();
            let pods = s.not_ready_addresses.iter().map(|a| a.target_ref.name.clone()).collect();
            (ports, pods)
        })
        .collect();
    seen.sort();
    let port = |n: &str, p: i32| (n.to_string(), p);
    assert_eq!(
        seen,
        vec![
            (vec![port("http", 8080), port("raw", 9000)], strings(&["p8080"])),
            (vec![port("http", 9090), port("raw", 9000)], strings(&["p9090"])),
            (vec![port("raw", 9000)], strings(&["other", "udp"])),
        ]
    );
}

#[tokio::test]
async fn endpoints_follow_deletions() {
    let srv = TestServer::start().await;
    srv.ready_node("n1", "192.168.50.1").await;
    srv.create_service(service("web").selector(&[("app", "web")]).port(80, 8080)).await;
    srv.create_service(service("all").selector(&[("tier", "front")]).port(80, 8080)).await;
    for name in ["a", "b"] {
        srv.create_pod(pod(name).labels(&[("app", "web"), ("tier", "front")])).await;
        srv.set_pod_ready(name).await;
    }
    srv.delete(&pod_path("a")).await.ok::<Pod>();
    // Every service that selected the pod lost it.
    assert_eq!(endpoint_pods(&srv.endpoints("web").await), (strings(&["b"]), vec![]));
    assert_eq!(endpoint_pods(&srv.endpoints("all").await), (strings(&["b"]), vec![]));
    srv.delete(&service_path("web")).await.ok::<Service>();
    srv.get(&format!("/api/v1/namespaces/{NS}/endpoints/web")).await.error(404, "NotFound", None);
    assert_eq!(endpoint_pods(&srv.endpoints("all").await), (strings(&["b"]), vec![]));
    // The node goes: its pods leave the endpoints.
    srv.delete("/api/v1/nodes/n1").await.ok::<openapi::Node>();
    assert!(srv.endpoints("all").await.subsets.is_empty());
}
