//! Events: node agents report them as themselves, anyone reads them, they are created and
//! deleted but never changed, and they expire an hour after they last happened.

mod common;

use common::*;
use openapi::{Event, List, ObjectReference};
use serde_json::json;

fn event(reason: &str) -> serde_json::Value {
    json!({
        "involvedObject": {"kind": "Pod", "namespace": NS, "name": "web-1"},
        "reason": reason,
        "message": "container main exited with code 3",
        "type": "Warning",
        "source": {"component": "impostor", "host": "some-other-node"}
    })
}

#[tokio::test]
async fn nodes_report_events_as_themselves_and_they_expire() {
    let srv = TestServer::start().await;
    let token = srv.node_token("n1").await;
    let path = format!("/api/v1/namespaces/{NS}/events");
    let created: Event = srv.send(Req::post(&path).token(&token).json(&event("Exited"))).await.ok();
    assert!(created.metadata.name.starts_with("web-1."), "{}", created.metadata.name);
    let source = created.source.unwrap();
    assert_eq!(source.host.as_deref(), Some("n1"), "the server sets the reporting node");
    assert_eq!(
        created.involved_object,
        ObjectReference { kind: "Pod".into(), namespace: NS.into(), name: "web-1".into(), uid: String::new() }
    );

    // Read by anyone; listed across namespaces too.
    let listed: List<Event> = srv.get("/api/v1/events").await.ok();
    assert_eq!(listed.items.len(), 1);
    // Never changed; bad ones refused with the field named.
    let one = format!("{path}/{}", created.metadata.name);
    assert_eq!(srv.send(Req::put(&one).token(&token).json(&event("Exited"))).await.status.as_u16(), 405);
    srv.send(Req::post(&path).token(&token).json(&event("not a word"))).await.error(422, "Invalid", Some("reason"));
    let mut bad = event("Exited");
    bad["type"] = json!("Fatal");
    srv.send(Req::post(&path).token(&token).json(&bad)).await.error(422, "Invalid", Some("type"));
    // Only the admin deletes.
    srv.send(Req::delete(&one).token(&token)).await.error(403, "Forbidden", None);

    // An hour later the tick removes it.
    srv.advance(59 * 60);
    srv.tick().await;
    assert_eq!(srv.get("/api/v1/events").await.ok::<List<Event>>().items.len(), 1);
    srv.advance(2 * 60);
    srv.tick().await;
    assert!(srv.get("/api/v1/events").await.ok::<List<Event>>().items.is_empty());
}

/// Deleting an event is a plain write (the kind has no delete logic of its own): answered
/// with the object as it was at the deletion's revision, gone afterwards, and seen by
/// watchers as DELETED.
#[tokio::test]
async fn the_admin_deletes_an_event_with_the_plain_delete() {
    let srv = TestServer::start().await;
    let path = format!("/api/v1/namespaces/{NS}/events");
    let created: Event = srv.post(&path, &event("Started")).await.ok();
    let one = format!("{path}/{}", created.metadata.name);
    let deleted: Event = srv.delete(&one).await.ok();
    assert_eq!(deleted.metadata.name, created.metadata.name);
    assert_eq!(deleted.reason, "Started");
    assert!(rv_of(&deleted) > rv_of(&created), "the deletion has its own revision");
    srv.get(&one).await.error(404, "NotFound", None);
    srv.delete(&one).await.error(404, "NotFound", None);
    let from = rv_of(&created);
    let lines = srv.watch(&format!("{path}?watch=true&resourceVersion={from}&timeoutSeconds=1")).await;
    let types: Vec<&str> = lines.iter().map(|l| l.event_type.as_str()).collect();
    assert_eq!(types, ["DELETED"], "{lines:?}");
}

/// The plain replace a kind with no write logic of its own gets (events are not replaced
/// through the API, so the store is asked directly): the current resourceVersion replaces,
/// a stale one is a conflict, and uid and creation time stay the server's.
#[tokio::test]
async fn the_plain_replace_checks_the_resource_version() {
    use apiserver::store::ops::Plain;
    use apiserver::store::Op;

    let srv = TestServer::start().await;
    let path = format!("/api/v1/namespaces/{NS}/events");
    let created: Event = srv.post(&path, &event("Started")).await.ok();
    let mut changed = created.clone();
    changed.message = "changed".into();
    changed.metadata.uid = Some("client-chosen".into());
    let body = srv.store.write(Op::Plain(Box::new(Plain::Update(changed.clone())))).await.unwrap();
    let replaced: Event = serde_json::from_str(&body).unwrap();
    assert_eq!(replaced.message, "changed");
    assert_eq!(replaced.metadata.uid, created.metadata.uid);
    assert_eq!(replaced.metadata.creation_timestamp, created.metadata.creation_timestamp);
    assert!(rv_of(&replaced) > rv_of(&created));
    let read: Event = srv.get(&format!("{path}/{}", created.metadata.name)).await.ok();
    assert_eq!(read, replaced);

    // `changed` still carries the version it was read at.
    let err = srv.store.write(Op::Plain(Box::new(Plain::Update(changed)))).await.unwrap_err();
    assert_eq!(err.to_status().code, 409, "{err:?}");
}
