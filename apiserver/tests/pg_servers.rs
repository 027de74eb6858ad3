//! Two API servers on one PostgreSQL database (a throwaway cluster, see `common/pg.rs`):
//! writes on either are seen by watchers on both, in revision order, exactly once;
//! revisions have no gaps; a watch resumed on the other server from the last
//! resourceVersion misses nothing; a node token minted on one server works on the other.
//!
//! Runs whatever `FLATNET_TEST_STORE` says: these tests are about PostgreSQL.

mod common;

use std::collections::BTreeSet;

use apiserver::store::Location;
use common::*;
use openapi::Pod;

const PODS: &str = "/api/v1/namespaces/default/pods";

async fn two_servers() -> (TestServer, TestServer, String) {
    let url = pg::cluster().create_database();
    let a = TestServer::builder().store(Location::Postgres(url.clone())).start().await;
    let b = TestServer::builder().store(Location::Postgres(url.clone())).start().await;
    (a, b, url)
}

/// `n` pods named `{tag}-{i}` created on `srv`, then each relabelled, then every other one
/// deleted: answers the (type, name, resourceVersion) of every write, in the order made.
async fn churn(srv: &TestServer, tag: &str, n: usize) -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    let mut pods = Vec::new();
    for i in 0..n {
        let p = srv.create_pod(pod(&format!("{tag}-{i}"))).await;
        out.push(("ADDED".to_string(), p.metadata.name.clone(), rv_of(&p)));
        pods.push(p);
    }
    for p in &pods {
        let mut changed = p.clone();
        changed.metadata.labels.insert("round".into(), "2".into());
        let p: Pod = srv.put(&pod_path(&p.metadata.name), &changed).await.ok();
        out.push(("MODIFIED".to_string(), p.metadata.name.clone(), rv_of(&p)));
    }
    for p in pods.iter().step_by(2) {
        let gone: Pod = srv.delete(&pod_path(&p.metadata.name)).await.ok();
        out.push(("DELETED".to_string(), gone.metadata.name.clone(), rv_of(&gone)));
    }
    out
}

fn seen(lines: &[WatchLine]) -> Vec<(String, String, i64)> {
    lines.iter().map(|l| (l.event_type.clone(), l.name().to_string(), l.rv())).collect()
}

/// Every revision from 1 to the newest has exactly one event row: no gaps a watcher
/// reading "after the last one seen" could skip.
async fn assert_no_gaps(url: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let (count, max): (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MAX(rev) FROM events").fetch_one(&mut conn).await.unwrap();
    let revision: String =
        sqlx::query_scalar("SELECT value FROM meta WHERE key = 'revision'").fetch_one(&mut conn).await.unwrap();
    assert_eq!(Some(count), max, "event revisions have gaps");
    assert_eq!(revision.parse::<i64>().unwrap(), count, "the revision counter and the events disagree");
}

/// Wait (at most 30 s, a failure) until `srv`'s change feed has published `rev`.
async fn wait_published(srv: &TestServer, rev: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while srv.revision() < rev {
        assert!(std::time::Instant::now() < deadline, "the feed did not reach {rev}: at {}", srv.revision());
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_on_both_servers_reach_watchers_on_both_in_order_exactly_once() {
    let (a, b, url) = two_servers().await;
    let from = a.revision();
    assert_eq!(from, b.revision());
    let query = format!("{PODS}?watch=true&resourceVersion={from}");
    let mut on_a = a.open_watch(&query).await;
    let mut on_b = b.open_watch(&query).await;

    // Writers on both servers at once: their batches interleave in the database.
    let (wa, wb) = tokio::join!(churn(&a, "a", 30), churn(&b, "b", 30));
    let mut written: Vec<_> = wa.iter().chain(wb.iter()).cloned().collect();
    written.sort_by_key(|w| w.2);
    let revs: BTreeSet<i64> = written.iter().map(|w| w.2).collect();
    assert_eq!(revs.len(), written.len(), "two writes got the same revision: {written:?}");

    let got_a = seen(&on_a.take(written.len()).await);
    let got_b = seen(&on_b.take(written.len()).await);
    // Each watcher: every write, once, in revision order (`written` is sorted by revision
    // and its revisions are distinct, so equality says all three).
    assert_eq!(got_a, written, "the watch on server A");
    assert_eq!(got_b, written, "the watch on server B");
    // Each writer's own answers came in increasing revision order too.
    for w in [&wa, &wb] {
        assert!(w.windows(2).all(|p| p[0].2 < p[1].2), "{w:?}");
    }
    // The revisions of this test's writes are exactly from+1..=newest: nothing else was
    // written, and none was skipped.
    let newest = *revs.last().unwrap();
    assert_eq!(revs, (from + 1..=newest).collect::<BTreeSet<_>>());
    assert_no_gaps(&url).await;
    // Both feeds reach the newest revision (the watches may have read part of it from the
    // history table) and go no further: nothing else was written.
    wait_published(&a, newest).await;
    wait_published(&b, newest).await;
    assert_eq!((a.revision(), b.revision()), (newest, newest));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_watch_resumed_on_the_other_server_misses_nothing() {
    let (a, b, url) = two_servers().await;
    let from = a.revision();
    let mut on_a = a.open_watch(&format!("{PODS}?watch=true&resourceVersion={from}")).await;
    let first = churn(&a, "one", 5).await;
    let got = seen(&on_a.take(first.len()).await);
    assert_eq!(got, first);
    let last = got.last().unwrap().2;
    drop(on_a);

    // While nobody watches, both servers write; the client comes back on B.
    let mut later = churn(&a, "two", 5).await;
    later.extend(churn(&b, "three", 5).await);
    let mut on_b = b.open_watch(&format!("{PODS}?watch=true&resourceVersion={last}")).await;
    let more = churn(&a, "four", 3).await;
    later.extend(more);
    let got = seen(&on_b.take(later.len()).await);
    assert_eq!(got, later);

    // The same history read back through a plain watch on A, to its end.
    let both = a.watch(&format!("{PODS}?watch=true&resourceVersion={last}&timeoutSeconds=1")).await;
    assert_eq!(seen(&both), later);
    assert_no_gaps(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_token_minted_on_one_server_works_on_the_other() {
    let (a, b, _url) = two_servers().await;
    a.create_node(node("n1").ip("192.168.50.1")).await;
    let token = a.node_token("n1").await;
    // At once: B finds a token it has not cached yet in the database.
    let resp = b.send(Req::get("/api/v1/nodes/n1").token(&token)).await;
    assert_eq!(resp.status, axum::http::StatusCode::OK, "{}", resp.text());
    // A token no server minted is still refused.
    let resp = b.send(Req::get("/api/v1/nodes/n1").token(&apiserver::store::new_token())).await;
    assert_eq!(resp.status, axum::http::StatusCode::UNAUTHORIZED, "{}", resp.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_continues_the_shared_revision() {
    let (a, b, url) = two_servers().await;
    let p = a.create_pod(pod("p1")).await;
    drop(b);
    let b = TestServer::builder().store(Location::Postgres(url.clone())).start().await;
    assert_eq!(b.revision(), rv_of(&p));
    let q = b.create_pod(pod("p2")).await;
    assert_eq!(rv_of(&q), rv_of(&p) + 1);
    // A's feed sees B's write.
    let mut w = a.open_watch(&format!("{PODS}?watch=true&resourceVersion={}", rv_of(&p))).await;
    assert_eq!(w.next().await.unwrap().name(), "p2");
    assert_no_gaps(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_on_one_server_wakes_the_other_by_notification() {
    let (a, b, _url) = two_servers().await;
    let notified = |text: &str| metric(text, "flatnet_apiserver_feed_wakeups_total{cause=\"notify\"}").unwrap();
    let before = notified(&b.metrics_text().await);
    let p = a.create_pod(pod("ping")).await;
    let mut w = b.open_watch(&format!("{PODS}?watch=true&resourceVersion={}", rv_of(&p) - 1)).await;
    assert_eq!(w.next().await.unwrap().name(), "ping");
    // The NOTIFY of A's commit reaches B (the safety-net timer would deliver the event
    // too, so the count is what tells them apart).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    // (The watch above read A's write from the history table; B's feed publishes it to the
    // in-memory bus on its own wake-up.)
    let published = |text: &str| metric(text, "flatnet_apiserver_store_revision").unwrap();
    loop {
        let text = b.metrics_text().await;
        if notified(&text) > before && published(&text) >= rv_of(&p) as f64 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no NOTIFY reached server B: {text}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let text = b.metrics_text().await;
    assert_eq!(metric(&text, "flatnet_apiserver_store_info{backend=\"postgres\"}"), Some(1.0));
    assert_eq!(published(&text), rv_of(&p) as f64);
    // (B's own start-up writes, such as making sure the initial namespaces exist, may wake
    // its feed locally too: the notify count above is what shows A's commit reached it.)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_started_at_once_on_a_new_database_share_one_schema() {
    let url = pg::cluster().create_database();
    let start = || TestServer::builder().store(Location::Postgres(url.clone())).start();
    let (a, b, c) = tokio::join!(start(), start(), start());
    let p = a.create_pod(pod("p")).await;
    let q = b.create_pod(pod("q")).await;
    assert_eq!(rv_of(&q), rv_of(&p) + 1);
    let mut w = c.open_watch(&format!("{PODS}?watch=true&resourceVersion={}", rv_of(&p) - 1)).await;
    assert_eq!(
        seen(&w.take(2).await),
        [("ADDED".into(), "p".into(), rv_of(&p)), ("ADDED".into(), "q".into(), rv_of(&q))]
    );
    assert_no_gaps(&url).await;
}

/// Many concurrent writers on both servers (so both batch, and their batches interleave
/// under the revision lock), with failing writes mixed in: each watcher sees every
/// successful write once, in one order, with no gap; no address is handed out twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_batches_on_both_servers_reach_both_watchers_in_one_order() {
    let (a, b, url) = two_servers().await;
    a.ready_node("n1", "192.168.70.1").await;
    wait_published(&b, a.revision()).await;
    let from = a.revision();
    let query = format!("{PODS}?watch=true&resourceVersion={from}");
    let mut on_a = a.open_watch(&query).await;
    let mut on_b = b.open_watch(&query).await;

    // 8 writers per server, 15 pods each; every fifth create repeats a name the other
    // server also creates, so one of the two fails (409) inside its batch.
    let write = |srv: &TestServer, tag: &'static str, w: usize| {
        let app = srv.app.clone();
        async move {
            let mut done = Vec::new();
            for i in 0..15 {
                let name = if i % 5 == 4 { format!("both-{w}-{i}") } else { format!("{tag}-{w}-{i}") };
                let p: Pod = pod(&name).node("n1").into();
                let resp = send(&app, Req::post(PODS).json(&p).token(ADMIN)).await;
                match resp.status.as_u16() {
                    201 => {
                        let p: Pod = resp.ok();
                        done.push(("ADDED".to_string(), p.metadata.name.clone(), rv_of(&p)));
                    }
                    409 => assert!(name.starts_with("both-"), "{name}: {}", resp.text()),
                    other => panic!("{name}: {other} {}", resp.text()),
                }
            }
            done
        }
    };
    let mut tasks = Vec::new();
    for w in 0..8 {
        tasks.push(tokio::spawn(write(&a, "a", w)));
        tasks.push(tokio::spawn(write(&b, "b", w)));
    }
    let mut written = Vec::new();
    for t in tasks {
        written.extend(t.await.unwrap());
    }
    written.sort_by_key(|w| w.2);
    // 8 × 15 × 2 creates, of which the 8 × 3 repeated names succeed once each.
    assert_eq!(written.len(), 8 * 12 * 2 + 8 * 3, "{written:?}");
    let revs: BTreeSet<i64> = written.iter().map(|w| w.2).collect();
    assert_eq!(revs.len(), written.len(), "two writes got the same revision");
    let newest = *revs.last().unwrap();
    assert_eq!(revs, (from + 1..=newest).collect::<BTreeSet<_>>(), "the revisions have gaps");

    assert_eq!(seen(&on_a.take(written.len()).await), written, "the watch on server A");
    assert_eq!(seen(&on_b.take(written.len()).await), written, "the watch on server B");
    assert_no_gaps(&url).await;

    // Both servers batched (more writes than commits), and no address went to two pods.
    let (mut writes, mut commits) = (0.0, 0.0);
    for srv in [&a, &b] {
        let text = srv.metrics_text().await;
        writes += metric(&text, "flatnet_apiserver_store_writes_total").unwrap();
        commits += metric(&text, "flatnet_apiserver_store_commit_duration_seconds_count").unwrap();
    }
    assert!(writes > commits, "no batch of several writes: {writes} writes, {commits} commits");
    let pods = a.pods(PODS).await;
    let ips: BTreeSet<String> = pods.items.iter().filter_map(|p| p.status.pod_ip.clone()).collect();
    assert_eq!(ips.len(), pods.items.len(), "an address was given twice, or a pod has none");
}
