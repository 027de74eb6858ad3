//! Watch streams: every event exactly once across a reconnect, label and field selectors
//! turning changes into ADDED / DELETED, the initial state and its BOOKMARK, periodic
//! bookmarks, and 410 Gone once the history is compacted.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use openapi::{Pod, Service};
use serde_json::Value;

const PODS: &str = "/api/v1/namespaces/default/pods";

/// What a write made: the event type a watch must show, the name, the revision.
type Write = (String, String, i64);

fn added(p: &Pod) -> Write {
    ("ADDED".into(), p.metadata.name.clone(), rv_of(p))
}
fn modified(p: &Pod) -> Write {
    ("MODIFIED".into(), p.metadata.name.clone(), rv_of(p))
}
fn deleted(p: &Pod) -> Write {
    ("DELETED".into(), p.metadata.name.clone(), rv_of(p))
}

fn seen(lines: &[WatchLine]) -> Vec<Write> {
    lines.iter().map(|l| (l.event_type.clone(), l.name().to_string(), l.rv())).collect()
}

/// A mix of pod writes in `default` (what the watch must see) and writes it must not see
/// (another namespace, another kind). Answers the first kind.
async fn writes(srv: &TestServer, tag: &str) -> Vec<Write> {
    let mut out = Vec::new();
    let a = srv.create_pod(pod(&format!("{tag}-a")).labels(&[("app", "web")])).await;
    out.push(added(&a));
    srv.create_pod(pod(&format!("{tag}-x")).namespace("other")).await;
    let b = srv.create_pod(pod(&format!("{tag}-b"))).await;
    out.push(added(&b));
    srv.create_service(service(&format!("{tag}-svc")).selector(&[("app", "web")]).port(80, 80)).await;
    let mut relabel = a.clone();
    relabel.metadata.labels.insert("v".into(), "2".into());
    let a: Pod = srv.put(&pod_path(&a.metadata.name), &relabel).await.ok();
    out.push(modified(&a));
    let status = running_ready(b.clone(), false);
    let b: Pod = srv.put(&format!("{}/status", pod_path(&b.metadata.name)), &status).await.ok();
    out.push(modified(&b));
    let gone: Pod = srv.delete(&pod_path(&a.metadata.name)).await.ok();
    out.push(deleted(&gone));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_exactly_once_across_a_reconnect() {
    let srv = TestServer::start().await;
    srv.create_pod(pod("before")).await;
    let a = srv.revision();

    // First connection from A, with writes while it streams.
    let app = srv.app.clone();
    let first = tokio::spawn(async move {
        send(&app, Req::get(&format!("{PODS}?watch=true&resourceVersion={a}&timeoutSeconds=1")).token(ADMIN)).await
    });
    let mut expected = writes(&srv, "one").await;
    let first = first.await.unwrap();
    assert_eq!(first.status.as_u16(), 200, "{}", first.text());
    let first = seen(&first.lines());
    assert_eq!(first, expected, "the first connection sees exactly the writes after A");

    // The client got as far as B (the middle of what was sent), then lost the connection.
    let b = first[first.len() / 2].2;
    let kept: Vec<Write> = first.into_iter().filter(|w| w.2 <= b).collect();
    // Writes while disconnected (from the history), and while connected again (live).
    expected.extend(writes(&srv, "two").await);
    let app = srv.app.clone();
    let second = tokio::spawn(async move {
        send(&app, Req::get(&format!("{PODS}?watch=true&resourceVersion={b}&timeoutSeconds=1")).token(ADMIN)).await
    });
    expected.extend(writes(&srv, "three").await);
    let second = second.await.unwrap();
    assert_eq!(second.status.as_u16(), 200, "{}", second.text());
    let second = seen(&second.lines());
    assert!(second.iter().all(|w| w.2 > b), "nothing at or before B again: {second:?}");

    let union: Vec<Write> = kept.into_iter().chain(second).collect();
    let revs: HashSet<i64> = union.iter().map(|w| w.2).collect();
    assert_eq!(revs.len(), union.len(), "no duplicates: {union:?}");
    assert!(union.windows(2).all(|w| w[0].2 < w[1].2), "in revision order: {union:?}");
    assert_eq!(union, expected, "no gaps");
}

#[tokio::test]
async fn a_label_selector_turns_relabels_into_deleted_and_added() {
    let srv = TestServer::start().await;
    let a = srv.create_pod(pod("a").labels(&[("app", "web")])).await;
    let b = srv.create_pod(pod("b").labels(&[("app", "db")])).await;
    let from = srv.revision();
    let query = format!("{PODS}?watch=true&labelSelector=app%3Dweb&resourceVersion={from}&timeoutSeconds=1");

    let app = srv.app.clone();
    let q = query.clone();
    let live = tokio::spawn(async move { send(&app, Req::get(&q).token(ADMIN)).await });
    let relabel = |p: &Pod, app: &str| {
        let mut p = p.clone();
        p.metadata.labels.insert("app".into(), app.into());
        p
    };
    let a: Pod = srv.put(&pod_path("a"), &relabel(&a, "db")).await.ok();
    let b: Pod = srv.put(&pod_path("b"), &relabel(&b, "web")).await.ok();
    let mut b2 = b.clone();
    b2.metadata.labels.insert("v".into(), "2".into());
    srv.put(&pod_path("b"), &b2).await.ok::<Pod>();
    srv.put(&pod_path("a"), &relabel(&a, "other")).await.ok::<Pod>();
    srv.create_pod(pod("c").labels(&[("app", "web")])).await;
    srv.create_pod(pod("d").labels(&[("app", "db")])).await;
    srv.delete(&pod_path("c")).await.ok::<Pod>();
    srv.delete(&pod_path("d")).await.ok::<Pod>();

    let want = ["DELETED a", "ADDED b", "MODIFIED b", "ADDED c", "DELETED c"];
    let live = live.await.unwrap();
    assert_eq!(live.status.as_u16(), 200);
    let live = live.lines();
    assert_eq!(live.iter().map(WatchLine::short).collect::<Vec<_>>(), want);
    // The objects are as they are after each change.
    assert_eq!(live[0].object["metadata"]["labels"]["app"], "db");
    assert_eq!(live[1].object["metadata"]["labels"]["app"], "web");
    // The same from the history alone.
    let replayed = srv.watch(&query).await;
    assert_eq!(replayed, live);
}

#[tokio::test]
async fn a_node_field_selector_sees_a_binding_as_added() {
    let srv = TestServer::start().await;
    srv.create_node(node("n1").ip("192.168.50.1")).await;
    srv.ready_node("n2", "192.168.50.2").await;
    let mut cordon = srv.node("n2").await;
    cordon.spec.unschedulable = true;
    srv.put("/api/v1/nodes/n2", &cordon).await.ok::<openapi::Node>();
    // Waits: n1 is not Ready, n2 is cordoned.
    let p = srv.create_pod(pod("p")).await;
    assert_eq!(p.spec.node_name, None);
    let from = srv.revision();
    let query =
        format!("/api/v1/pods?watch=true&fieldSelector=spec.nodeName%3Dn1&resourceVersion={from}&timeoutSeconds=1");

    let app = srv.app.clone();
    let q = query.clone();
    let live = tokio::spawn(async move { send(&app, Req::get(&q).token(ADMIN)).await });
    srv.heartbeat("n1").await; // binds p to n1
    srv.create_pod(pod("elsewhere").node("n2")).await;
    srv.create_pod(pod("r").node("n1")).await;
    srv.set_pod_ready("r").await;
    srv.delete(&pod_path("r")).await.ok::<Pod>();

    let live = live.await.unwrap().lines();
    assert_eq!(
        live.iter().map(WatchLine::short).collect::<Vec<_>>(),
        ["ADDED p", "ADDED r", "MODIFIED r", "DELETED r"]
    );
    assert_eq!(live[0].object["spec"]["nodeName"], "n1");
    assert!(live[0].object["status"]["podIP"].as_str().unwrap().starts_with("10.244."));
    // From the history alone: the same. Without a resourceVersion: the pods on n1 now, then
    // the bookmark (asked for).
    let now = "/api/v1/pods?watch=true&fieldSelector=spec.nodeName%3Dn1&allowWatchBookmarks=true&timeoutSeconds=1"
        .to_string();
    let [replayed, now]: [Vec<WatchLine>; 2] = srv.watch_all(&[query, now]).await.try_into().unwrap();
    assert_eq!(replayed, live);
    assert_eq!(now.iter().map(WatchLine::short).collect::<Vec<_>>(), ["ADDED p", "BOOKMARK "]);
}

#[tokio::test]
async fn without_a_resource_version_current_objects_then_a_bookmark_then_changes() {
    let srv = TestServer::start().await;
    let x = srv.create_pod(pod("x").labels(&[("app", "web")])).await;
    srv.create_pod(pod("y").namespace("other").labels(&[("app", "web")])).await;
    srv.create_pod(pod("a").labels(&[("app", "db")])).await;
    let z = srv.create_pod(pod("z").labels(&[("app", "web")])).await;
    // Modified after z: the initial events come oldest first, by revision.
    let mut x2 = x.clone();
    x2.metadata.labels.insert("v".into(), "2".into());
    let x: Pod = srv.put(&pod_path("x"), &x2).await.ok();
    let list_rev = srv.revision();

    let mut w = srv.open_watch(&format!("{PODS}?watch=true&allowWatchBookmarks=true&labelSelector=app%3Dweb")).await;
    let initial = w.take(3).await;
    assert_eq!(initial.iter().map(WatchLine::short).collect::<Vec<_>>(), ["ADDED z", "ADDED x", "BOOKMARK "]);
    assert_eq!(initial[0].rv(), rv_of(&z));
    assert_eq!(initial[1].rv(), rv_of(&x));
    assert_eq!(initial[2].rv(), list_rev);
    assert_eq!(initial[2].object["kind"], "Pod");
    // Then changes, live.
    let w1 = srv.create_pod(pod("w").labels(&[("app", "web")])).await;
    let next = w.next().await.unwrap();
    assert_eq!((next.short(), next.rv()), ("ADDED w".into(), rv_of(&w1)));
    srv.delete(&pod_path("x")).await.ok::<Pod>();
    assert_eq!(w.next().await.unwrap().short(), "DELETED x");

    // `resourceVersion=0` means the same as none; without allowWatchBookmarks, no BOOKMARK.
    let zero = srv.watch(&format!("{PODS}?watch=true&resourceVersion=0&timeoutSeconds=1")).await;
    assert_eq!(zero.iter().map(WatchLine::short).collect::<Vec<_>>(), ["ADDED a", "ADDED z", "ADDED w"]);
}

#[tokio::test]
async fn periodic_bookmarks_carry_the_revision_reached() {
    let srv = TestServer::builder().bookmark_interval(Duration::from_millis(100)).start().await;
    let p = srv.create_pod(pod("p")).await;
    let mut w =
        srv.open_watch(&format!("{PODS}?watch=true&allowWatchBookmarks=true&resourceVersion={}", rv_of(&p))).await;
    let q = srv.create_pod(pod("q")).await;
    assert_eq!(w.next().await.unwrap().short(), "ADDED q");
    // A write the watch does not show still moves its bookmarks on.
    let svc: Service = srv.create_service(service("s").port(80, 80)).await;
    let rev = srv.revision();
    assert!(rv_of(&svc) > rv_of(&q));
    loop {
        let l = w.next().await.unwrap();
        assert_eq!(l.event_type, "BOOKMARK", "{l:?}");
        if l.rv() == rev {
            break;
        }
        assert!(l.rv() >= rv_of(&q) && l.rv() < rev, "{l:?}");
    }
    // Without allowWatchBookmarks: none.
    let quiet = srv.watch(&format!("{PODS}?watch=true&resourceVersion={}&timeoutSeconds=1", rv_of(&q))).await;
    assert!(quiet.is_empty(), "{quiet:?}");
}

#[tokio::test]
async fn watches_of_other_kinds() {
    let srv = TestServer::start().await;
    srv.create_node(node("n1").ip("192.168.50.1")).await;
    srv.create_service(service("web").selector(&[("app", "web")]).port(80, 8080)).await;
    let from = srv.revision();
    srv.advance(1);
    srv.heartbeat("n1").await;
    srv.create_pod(pod("p").labels(&[("app", "web")])).await;
    srv.set_pod_ready("p").await;

    let [nodes, cidr_leases, leases, eps, svcs]: [Vec<WatchLine>; 5] = srv
        .watch_all(
            &[
                "/api/v1/nodes",
                "/api/v1/nodeleases",
                "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                "/api/v1/namespaces/default/endpoints",
                "/api/v1/services",
            ]
            .map(|path| format!("{path}?watch=true&resourceVersion={from}&timeoutSeconds=1")),
        )
        .await
        .try_into()
        .unwrap();
    assert_eq!(nodes.iter().map(WatchLine::short).collect::<Vec<_>>(), ["MODIFIED n1"]);
    assert_eq!(nodes[0].object["status"]["conditions"][0]["status"], "True");
    // The heartbeat renewed the node's Lease; its CIDR lease held nothing new.
    assert!(cidr_leases.is_empty(), "{cidr_leases:?}");
    assert_eq!(leases.iter().map(WatchLine::short).collect::<Vec<_>>(), ["MODIFIED n1"]);
    assert_eq!(leases[0].object["spec"]["renewTime"], "2030-01-01T00:00:01.000000Z");
    assert_eq!(eps.iter().map(WatchLine::short).collect::<Vec<_>>(), ["MODIFIED web", "MODIFIED web"]);
    let last: &Value = &eps[1].object["subsets"][0]["addresses"][0]["targetRef"]["name"];
    assert_eq!(last, "p");
    assert!(svcs.is_empty(), "{svcs:?}");
}

#[tokio::test]
async fn a_compacted_resource_version_answers_410_gone() {
    let srv = TestServer::builder().watch_history(5).start().await;
    // The initial namespaces took the first revisions.
    let start = srv.revision();
    for i in 0..12 {
        srv.create_pod(pod(&format!("p{i}"))).await;
    }
    let rev = srv.revision();
    assert_eq!(rev, start + 12);
    // Before the tick compacts, the whole history is there.
    let from = start + 1;
    assert_eq!(srv.watch(&format!("{PODS}?watch=true&resourceVersion={from}&timeoutSeconds=1")).await.len(), 11);
    srv.tick().await;
    assert_eq!(srv.revision(), rev, "the tick wrote nothing");
    let compacted = rev - 5;

    for old in [1, compacted - 1] {
        let resp = srv.get(&format!("{PODS}?watch=true&resourceVersion={old}&timeoutSeconds=1")).await;
        let status = resp.error(410, "Gone", None);
        assert!(status.message.contains(&old.to_string()), "{status:?}");
    }
    // The oldest version still kept, and a list's version, work.
    let list = srv.pods(PODS).await;
    assert_eq!(list.items.len(), 12);
    let [kept, fresh]: [Vec<WatchLine>; 2] = srv
        .watch_all(
            &[compacted.to_string(), list.metadata.resource_version.clone()]
                .map(|rv| format!("{PODS}?watch=true&resourceVersion={rv}&timeoutSeconds=1")),
        )
        .await
        .try_into()
        .unwrap();
    assert_eq!(kept.iter().map(WatchLine::rv).collect::<Vec<_>>(), ((compacted + 1)..=rev).collect::<Vec<_>>());
    assert!(fresh.is_empty(), "{fresh:?}");
    // Not a number: 400.
    srv.get(&format!("{PODS}?watch=true&resourceVersion=abc")).await.error(400, "BadRequest", None);
}
