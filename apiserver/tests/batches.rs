//! Operations that share one write batch (group commit) see each other's writes: the
//! writer remembers, for the rest of a batch, the objects, lists and subnet cursors it has
//! read or written (`store::tx::Cache`), and forgets them when an operation is rolled back.
//! Runs on whichever store `FLATNET_TEST_STORE` says (SQLite or PostgreSQL).
//!
//! The writes are queued at once on a single-threaded runtime, so the writer finds them all
//! queued when it next runs and takes them as one batch; each test checks that they did
//! share one commit, so it cannot pass without exercising a batch.

mod common;

use std::collections::BTreeSet;

use apiserver::store::Op;
use common::*;
use openapi::{Endpoints, Pod, Service};

fn commits(text: &str) -> f64 {
    metric(text, "flatnet_apiserver_store_commit_duration_seconds_count").unwrap()
}

/// Run `ops` as one batch; answers each one's result (the object's JSON, or the error's
/// status code).
async fn one_batch(srv: &TestServer, ops: Vec<Op>) -> Vec<Result<String, u16>> {
    let before = commits(&srv.store.metrics_text());
    let results = futures::future::join_all(ops.into_iter().map(|op| srv.store.write(op))).await;
    let after = commits(&srv.store.metrics_text());
    assert_eq!(after - before, 1.0, "the operations did not share one commit");
    results.into_iter().map(|r| r.map_err(|e| e.to_status().code)).collect()
}

fn pod_in_batch(name: &str) -> Op {
    // (Through the store, not HTTP: the namespace is not taken from a path.)
    Op::CreatePod(pod(name).namespace(NS).node("n1").labels(&[("app", "web")]).port("http", 8080).into())
}

#[tokio::test]
async fn a_batch_sees_its_own_services_pods_and_addresses_and_forgets_what_failed() {
    let srv = TestServer::start().await;
    srv.ready_node("n1", "192.168.60.1").await;
    srv.create_pod(pod("before").node("n1").labels(&[("app", "web")]).port("http", 8080)).await;

    let mut svc: Service = service("web").selector(&[("app", "web")]).named_port("http", 80, "http").into();
    svc.metadata.namespace = Some(NS.into());
    let dup: Pod = pod("p1").namespace(NS).node("n1").labels(&[("app", "web")]).into();
    let results = one_batch(
        &srv,
        vec![
            // Reads the namespace's services (none yet) and the node's subnet cursor.
            pod_in_batch("p0"),
            // A service created in the batch: the pods after it must see it.
            Op::CreateService(svc),
            pod_in_batch("p1"),
            // Fails (409) after reading what the others read: rolled back, cache and all.
            Op::CreatePod(dup),
            pod_in_batch("p2"),
            // A dry run is undone too, and must not leave its address taken in the cache.
            Op::DryRun(Box::new(pod_in_batch("dry"))),
            pod_in_batch("p3"),
        ],
    )
    .await;
    let codes: Vec<Option<u16>> = results.iter().map(|r| r.as_ref().err().copied()).collect();
    assert_eq!(codes, vec![None, None, None, Some(409), None, None, None], "{results:?}");

    // Every pod has its own address, and the stored ones are those the answers gave.
    let mut ips = BTreeSet::new();
    for name in ["before", "p0", "p1", "p2", "p3"] {
        let p = srv.pod(name).await;
        let ip = p.status.pod_ip.clone().unwrap_or_else(|| panic!("{name} has no IP: {p:?}"));
        assert!(ips.insert(ip.clone()), "{ip} given twice");
    }
    let answered: Pod = serde_json::from_str(results[6].as_ref().unwrap()).unwrap();
    assert_eq!(answered.status.pod_ip, srv.pod("p3").await.status.pod_ip);
    // The dry run answered a pod with an address, and kept neither.
    let dry: Pod = serde_json::from_str(results[5].as_ref().unwrap()).unwrap();
    assert!(dry.status.pod_ip.is_some(), "{dry:?}");
    assert_eq!(srv.get(&pod_path("dry")).await.status, axum::http::StatusCode::NOT_FOUND);
    let next = srv.create_pod(pod("after").node("n1")).await;
    assert!(!ips.contains(next.status.pod_ip.as_ref().unwrap()), "{next:?}");

    // The service's endpoints list exactly the pods it selects: the one created before the
    // batch and p1..p3 after it in the batch (p0 was added before the service existed,
    // and the service's creation computed it in).
    let ep: Endpoints = srv.endpoints("web").await;
    let mut listed: Vec<String> = ep
        .subsets
        .iter()
        .flat_map(|s| s.addresses.iter().chain(s.not_ready_addresses.iter()))
        .map(|a| a.ip.clone())
        .collect();
    listed.sort();
    let mut want: Vec<String> = ips.into_iter().collect();
    want.sort();
    assert_eq!(listed, want, "{ep:?}");
}

#[tokio::test]
async fn a_namespace_deleted_in_a_batch_is_not_remembered_as_existing() {
    let srv = TestServer::start().await;
    srv.ready_node("n1", "192.168.61.1").await;
    let in_ns = |name: &str| Op::CreatePod(pod(name).namespace("team").node("n1").into());
    let results = one_batch(&srv, vec![in_ns("a"), Op::DeleteNamespace("team".into()), in_ns("b")]).await;
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    // The pod created after the deletion brought the namespace back (as a pod in a missing
    // namespace does), and only that pod is in it.
    let ns = srv.get("/api/v1/namespaces/team").await;
    assert_eq!(ns.status, axum::http::StatusCode::OK, "{}", ns.text());
    let pods = srv.pods("/api/v1/namespaces/team/pods").await;
    let names: Vec<String> = pods.items.iter().map(|p| p.metadata.name.clone()).collect();
    assert_eq!(names, vec!["b".to_string()]);
}

#[tokio::test]
async fn what_a_dry_run_created_in_a_batch_is_forgotten_with_it() {
    let srv = TestServer::start().await;
    let in_ghost = |name: &str| Op::CreatePod(pod(name).namespace("ghost").into());
    // The dry run creates the missing namespace "ghost" (and is undone); the real create
    // after it must create the namespace again, not take it as existing.
    let results = one_batch(&srv, vec![Op::DryRun(Box::new(in_ghost("dry"))), in_ghost("real")]).await;
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    let ns = srv.get("/api/v1/namespaces/ghost").await;
    assert_eq!(ns.status, axum::http::StatusCode::OK, "{}", ns.text());
    let names: Vec<String> =
        srv.pods("/api/v1/namespaces/ghost/pods").await.items.iter().map(|p| p.metadata.name.clone()).collect();
    assert_eq!(names, vec!["real".to_string()]);
}
