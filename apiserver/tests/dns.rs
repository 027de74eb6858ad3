//! What the API holds for the cluster DNS: headless and ExternalName services get no cluster
//! IP (and give theirs back when turned ExternalName), headless services still get their
//! endpoints, the `kube-dns` service holds the cluster DNS address, created once, and the
//! cluster configuration names the domain and the address.

mod common;

use common::*;
use openapi::{Endpoints, Service};
use serde_json::json;

#[tokio::test]
async fn headless_and_external_name_services_get_no_cluster_ip() {
    let srv = TestServer::start().await;
    let path = format!("/api/v1/namespaces/{NS}/services");
    let headless: Service = srv
        .post(
            &path,
            &json!({"metadata": {"name": "db"}, "spec": {"clusterIP": "None", "selector": {"app": "db"},
            "ports": [{"name": "sql", "port": 5432}]}}),
        )
        .await
        .ok();
    assert_eq!(headless.spec.cluster_ip.as_deref(), Some("None"));
    let eps: Endpoints = srv.get(&format!("/api/v1/namespaces/{NS}/endpoints/db")).await.ok();
    assert_eq!(eps.metadata.name, "db");

    let ext: Service = srv
        .post(
            &path,
            &json!({"metadata": {"name": "ext"}, "spec": {"type": "ExternalName",
            "externalName": "example.test", "ports": []}}),
        )
        .await
        .ok();
    assert_eq!(ext.spec.cluster_ip, None);
    srv.post(&path, &json!({"metadata": {"name": "bad"}, "spec": {"type": "ExternalName", "ports": []}})).await.error(
        422,
        "Invalid",
        Some("spec.externalName"),
    );
    srv.post(
        &path,
        &json!({"metadata": {"name": "bad"}, "spec": {"clusterIP": "None", "type": "NodePort",
        "ports": [{"port": 80}]}}),
    )
    .await
    .error(422, "Invalid", Some("spec.type"));

    // A ClusterIP service turned ExternalName gives its address back; turned back, gets one.
    let mut web: Service =
        srv.post(&path, &json!({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}})).await.ok();
    assert!(web.spec.cluster_ip.is_some());
    web.spec.service_type = openapi::ServiceType::ExternalName;
    web.spec.external_name = Some("example.test".into());
    web.spec.cluster_ip = None;
    let web: Service = srv.put(&format!("{path}/web"), &web).await.ok();
    assert_eq!(web.spec.cluster_ip, None);
    let mut back = web.clone();
    back.spec.service_type = openapi::ServiceType::ClusterIP;
    back.spec.external_name = None;
    let back: Service = srv.put(&format!("{path}/web"), &back).await.ok();
    assert!(back.spec.cluster_ip.as_deref().is_some_and(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok()));
}

#[tokio::test]
async fn kube_dns_holds_the_cluster_dns_address_once() {
    let srv = TestServer::start().await;
    let cfg = srv.get("/api/v1/clusterconfig").await.json();
    assert_eq!(cfg["clusterDomain"], "cluster.local");
    assert_eq!(cfg["clusterDNS"], "10.96.0.10");
    apiserver::ensure_kube_dns(&srv.store).await.unwrap();
    // Again, as on every start: nothing to do.
    apiserver::ensure_kube_dns(&srv.store).await.unwrap();
    let svc: Service = srv.get("/api/v1/namespaces/kube-system/services/kube-dns").await.ok();
    assert_eq!(svc.spec.cluster_ip.as_deref(), Some("10.96.0.10"));
    assert_eq!(svc.spec.ports.len(), 2);
}
