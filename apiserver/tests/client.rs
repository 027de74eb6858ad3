//! The typed client (`openapi::client`) against the app served over HTTPS on a real TCP
//! port: create, list, get, errors as typed values, and watch streams (including 410 as
//! `Error::Gone`); the CA is pinned.

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use openapi::client::{Client, Error, ListParams, WatchEvent};
use openapi::{Heartbeat, Node, Pod};

async fn next<K>(
    events: &mut futures::stream::BoxStream<'static, openapi::client::Result<WatchEvent<K>>>,
) -> WatchEvent<K> {
    tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("a watch event within 5 s")
        .expect("the stream goes on")
        .expect("an event, not an error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typed_client_over_a_real_port() {
    let srv = TestServer::start().await;
    let (base, ca, server) = serve_tls(&srv).await;
    let admin = Client::with_ca(&base, Some(ADMIN.into()), &ca).unwrap();
    let viewer = Client::with_ca(&base, Some(VIEWER.into()), &ca).unwrap();

    assert_eq!(viewer.cluster_config().await.unwrap().pod_cidr, "10.244.0.0/16");
    let n1 = admin.nodes().create(&node("n1").ip("192.168.50.1").into()).await.unwrap();
    assert_eq!(n1.spec.pod_cidr.as_deref(), Some("10.244.0.0/24"));
    let lease = admin.heartbeat("n1", &Heartbeat::default()).await.unwrap();
    assert_eq!(lease.spec.pod_cidr, "10.244.0.0/24");
    assert!(viewer.nodes().get("n1").await.unwrap().is_ready());
    let token = admin.create_node_token("n1").await.unwrap();
    let agent = Client::with_ca(&base, Some(token.token), &ca).unwrap();

    // Create, get, list (with a selector), as typed objects.
    let pods = admin.pods(NS);
    let web = pods.create(&pod("web-1").labels(&[("app", "web")]).port("http", 8080).into()).await.unwrap();
    assert_eq!(web.spec.node_name.as_deref(), Some("n1"));
    pods.create(&pod("db-1").labels(&[("app", "db")]).into()).await.unwrap();
    assert_eq!(viewer.pods(NS).get("web-1").await.unwrap(), web);
    let list = viewer.pods(NS).list(&ListParams::default().labels("app=web")).await.unwrap();
    assert_eq!(list.items, vec![web.clone()]);
    assert_eq!(list.metadata.resource_version, srv.revision().to_string());
    let all = viewer.api::<Pod>(None).list(&ListParams::default()).await.unwrap();
    assert_eq!(all.items.len(), 2);
    let svc = admin
        .services(NS)
        .create(&service("web").selector(&[("app", "web")]).named_port("http", 80, "http").into())
        .await
        .unwrap();
    assert!(svc.spec.cluster_ip.is_some());
    let ep = viewer.endpoints(NS).get("web").await.unwrap();
    assert_eq!(endpoint_pods(&ep), (vec![], strings(&["web-1"])));

    // Errors come back as typed statuses.
    let missing = viewer.pods(NS).get("nope").await.unwrap_err();
    assert!(matches!(&missing, Error::Api(s) if s.code == 404 && s.reason == "NotFound"), "{missing:?}");
    let read_only = viewer.pods(NS).create(&pod("x").into()).await.unwrap_err();
    assert_eq!(read_only.code(), Some(403));
    let no_token = Client::with_ca(&base, None, &ca).unwrap();
    assert_eq!(no_token.pods(NS).get("web-1").await.unwrap_err().code(), Some(401));
    let invalid = pods.create(&pod("Bad_Name").into()).await.unwrap_err();
    assert!(matches!(&invalid, Error::Api(s) if s.field.as_deref() == Some("metadata.name")), "{invalid:?}");

    // A watch from the list's version sees what happens next, in order.
    let mut events = viewer.pods(NS).watch(&ListParams::default().labels("app=web"), &list.metadata.resource_version);
    let mut on_n1 =
        viewer.pods(NS).watch(&ListParams::default().fields("spec.nodeName=n1"), &srv.revision().to_string());
    let web2 = pods.create(&pod("web-2").labels(&[("app", "web")]).into()).await.unwrap();
    assert_eq!(next(&mut events).await, WatchEvent::Added(web2.clone()));
    assert_eq!(next(&mut on_n1).await, WatchEvent::Added(web2.clone()));
    // The node agent reports the pod ready, with its own token.
    let ready = agent.pods(NS).replace_status(&running_ready(web2.clone(), true)).await.unwrap();
    assert!(ready.is_ready());
    assert_eq!(next(&mut events).await, WatchEvent::Modified(ready.clone()));
    let gone = pods.delete("web-2").await.unwrap();
    assert_eq!(next(&mut events).await, WatchEvent::Deleted(gone));
    // Writes the selector does not match are not seen.
    pods.create(&pod("db-2").labels(&[("app", "db")]).into()).await.unwrap();
    let web3 = pods.create(&pod("web-3").labels(&[("app", "web")]).into()).await.unwrap();
    assert_eq!(next(&mut events).await, WatchEvent::Added(web3));
    // An agent may not write other nodes.
    let mut other: Node = node("n2").into();
    other.metadata.labels.insert("x".into(), "y".into());
    assert_eq!(agent.nodes().create(&other).await.unwrap_err().code(), Some(403));

    drop(events);
    drop(on_n1);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_from_compacted_history_ends_with_gone() {
    let srv = TestServer::builder().watch_history(3).start().await;
    let (base, ca, server) = serve_tls(&srv).await;
    let admin = Client::with_ca(&base, Some(ADMIN.into()), &ca).unwrap();
    for i in 0..6 {
        admin.pods(NS).create(&pod(&format!("p{i}")).into()).await.unwrap();
    }
    srv.tick().await;
    let mut events = admin.pods(NS).watch(&ListParams::default(), "1");
    let end = tokio::time::timeout(Duration::from_secs(5), events.next()).await.unwrap().unwrap();
    assert!(matches!(end, Err(Error::Gone)), "{end:?}");
    assert!(tokio::time::timeout(Duration::from_secs(5), events.next()).await.unwrap().is_none(), "the stream ends");
    // Relisting gives a version to watch from again.
    let list = admin.pods(NS).list(&ListParams::default()).await.unwrap();
    let mut events = admin.pods(NS).watch(&ListParams::default(), &list.metadata.resource_version);
    let p = admin.pods(NS).create(&pod("after").into()).await.unwrap();
    assert_eq!(next(&mut events).await, WatchEvent::Added(p));
    server.abort();
}

/// The server's certificate checks out only against its own CA: a client that pins another
/// CA, or none, fails the handshake before any request is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_verification_fails_with_a_wrong_ca() {
    let srv = TestServer::start().await;
    let (base, ca, server) = serve_tls(&srv).await;
    let other = TestServer::start().await;
    let other_ca = apiserver::tls::load_or_create(other.dir.path(), &["127.0.0.1".into()]).unwrap().ca_pem;
    assert_ne!(other_ca.as_bytes(), &ca[..]);

    let right = Client::with_ca(&base, Some(ADMIN.into()), &ca).unwrap();
    right.nodes().list(&ListParams::default()).await.unwrap();
    let wrong = Client::with_ca(&base, Some(ADMIN.into()), other_ca.as_bytes()).unwrap();
    let err = wrong.nodes().list(&ListParams::default()).await.unwrap_err();
    assert!(matches!(err, Error::Http { .. }), "{err:?}");
    let none = Client::new(&base, Some(ADMIN.into())).unwrap();
    assert!(matches!(none.nodes().list(&ListParams::default()).await.unwrap_err(), Error::Http { .. }));
    // Plain HTTP to the TLS port is no request either.
    let plain = Client::new(&base.replace("https://", "http://"), Some(ADMIN.into())).unwrap();
    assert!(plain.nodes().list(&ListParams::default()).await.is_err());
    assert!(Client::with_ca(&base, None, b"not a certificate").is_err());
    server.abort();
}
