//! Watch streams: newline-delimited JSON events from a resourceVersion on.
//!
//! A watcher subscribes to the in-memory event bus *before* reading the history from the
//! database, then drops from the bus what the history already delivered (by revision).
//! Every event is committed before it is published, so nothing falls between the two, and
//! nothing is sent twice. A watcher that falls so far behind that the bus overflows reads
//! the missed part from the database again; if that part was compacted, it gets an ERROR
//! event with 410 and the stream ends. No watcher polls the database while idle.
//!
//! Filters follow Kubernetes: with a label or field selector, a MODIFIED event is sent as
//! ADDED when the object starts matching and as DELETED when it stops matching.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use openapi::selector::LabelSelector;
use openapi::{EventType, Status};
use tokio::sync::{broadcast, mpsc};

use crate::fields::FieldSelector;
use crate::metrics::Metrics;
use crate::store::{Change, Kind, Selectable, Store};

/// What a watch (or list) selects.
#[derive(Clone, Debug)]
pub struct Filter {
    pub kind: Kind,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    /// `spec.nodeName=…` (pods).
    pub node: Option<String>,
    /// Every field selector (including `spec.nodeName`), read from the object itself.
    pub fields: FieldSelector,
}

impl Filter {
    pub fn matches(&self, s: &Selectable) -> bool {
        self.labels.matches(&s.labels) && self.node.as_ref().is_none_or(|n| s.node.as_ref() == Some(n))
    }

    /// [`Filter::matches`] and the field selectors, on the object's JSON.
    pub fn matches_object(&self, s: &Selectable, json: &str) -> bool {
        self.matches(s) && self.fields.matches_json(json)
    }

    fn in_scope(&self, ev: &Change) -> bool {
        ev.kind == self.kind && self.namespace.as_ref().is_none_or(|ns| *ns == ev.namespace)
    }

    /// How `ev` looks through this filter: the event type to send, or nothing.
    pub fn view(&self, ev: &Change) -> Option<EventType> {
        if !self.in_scope(ev) {
            return None;
        }
        let now = self.matches_object(&ev.selectable, &ev.object);
        let old = match (&ev.old, &ev.old_object) {
            (Some(o), Some(json)) => Some(self.matches_object(o, json)),
            (Some(o), None) => Some(self.matches(o)),
            _ => None,
        };
        match ev.event_type {
            EventType::Modified => match (old.unwrap_or(now), now) {
                (true, true) => Some(EventType::Modified),
                (false, true) => Some(EventType::Added),
                (true, false) => Some(EventType::Deleted),
                (false, false) => None,
            },
            t => now.then_some(t),
        }
    }
}

/// Options of one watch request.
pub struct WatchParams {
    /// `None`: start with an ADDED event per current object, then a BOOKMARK at the list's
    /// revision, then changes.
    pub from: Option<i64>,
    pub bookmarks: bool,
    pub timeout: Option<Duration>,
}

fn line(event_type: EventType, object: &str) -> Bytes {
    let mut s = String::with_capacity(object.len() + 32);
    s.push_str("{\"type\":\"");
    s.push_str(event_type.as_str());
    s.push_str("\",\"object\":");
    s.push_str(object);
    s.push_str("}\n");
    Bytes::from(s)
}

fn bookmark(kind: Kind, rev: i64) -> Bytes {
    let object = format!(
        "{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{rev}\"}}}}",
        kind.kind, kind.api_version
    );
    line(EventType::Bookmark, &object)
}

fn error(status: &Status) -> Bytes {
    line(EventType::Error, &serde_json::to_string(&openapi::StatusBody::from(status)).unwrap_or_default())
}

type Tx = mpsc::Sender<Result<Bytes, Infallible>>;

/// Start a watch; the body streams until the client leaves, the timeout passes, or an
/// error (410) ends it.
pub fn stream(store: Store, metrics: Arc<Metrics>, filter: Filter, params: WatchParams) -> Body {
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(async move {
        let _client = metrics.watch_client();
        run(store, filter, params, tx).await;
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    Body::from_stream(stream)
}

/// Send `bytes`; false when the client is gone.
async fn send(tx: &Tx, bytes: Bytes) -> bool {
    tx.send(Ok(bytes)).await.is_ok()
}

async fn run(store: Store, filter: Filter, params: WatchParams, tx: Tx) {
    let mut bus = store.subscribe();
    let mut last = match params.from {
        Some(from) => match replay(&store, &filter, from, &tx).await {
            Some(last) => last,
            None => return,
        },
        None => match initial(&store, &filter, &tx).await {
            Some(last) => last,
            None => return,
        },
    };
    let mut bookmarks = tokio::time::interval(store.settings().bookmark_interval);
    bookmarks.tick().await;
    let deadline = tokio::time::sleep(params.timeout.unwrap_or(Duration::from_secs(365 * 24 * 3600)));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            received = bus.recv() => match received {
                Ok(ev) => {
                    if ev.rev <= last {
                        continue;
                    }
                    last = ev.rev;
                    if let Some(t) = filter.view(&ev) {
                        if !send(&tx, line(t, &ev.object)).await {
                            return;
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    bus = store.subscribe();
                    match replay(&store, &filter, last, &tx).await {
                        Some(l) => last = l,
                        None => return,
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = bookmarks.tick(), if params.bookmarks => {
                if !send(&tx, bookmark(filter.kind, last)).await {
                    return;
                }
            }
            _ = &mut deadline => return,
            _ = tx.closed() => return,
        }
    }
}

/// Send the history after `from`; the revision reached, or `None` when the stream is over.
async fn replay(store: &Store, filter: &Filter, from: i64, tx: &Tx) -> Option<i64> {
    let events = match store.history(filter.kind, filter.namespace.as_deref(), from).await {
        Ok(events) => events,
        Err(e) => {
            send(tx, error(&e.to_status())).await;
            return None;
        }
    };
    let mut last = from;
    for ev in events {
        last = last.max(ev.rev);
        if let Some(t) = filter.view(&ev) {
            if !send(tx, line(t, &ev.object)).await {
                return None;
            }
        }
    }
    Some(last)
}

/// Send every current object as ADDED (oldest first), then a BOOKMARK at the list's revision.
async fn initial(store: &Store, filter: &Filter, tx: &Tx) -> Option<i64> {
    let (rev, items) = match store.list_raw(filter.kind, filter.namespace.as_deref(), filter.node.as_deref()).await {
        Ok(v) => v,
        Err(e) => {
            send(tx, error(&e.to_status())).await;
            return None;
        }
    };
    let mut objects: Vec<(i64, String)> = items
        .into_iter()
        .filter(|o| {
            (filter.labels.is_empty() || filter.matches(&Selectable::from_json(o))) && filter.fields.matches_json(o)
        })
        .map(|o| (revision_of(&o), o))
        .collect();
    objects.sort_by_key(|(rv, _)| *rv);
    for (_, o) in objects {
        if !send(tx, line(EventType::Added, &o)).await {
            return None;
        }
    }
    if !send(tx, bookmark(filter.kind, rev)).await {
        return None;
    }
    Some(rev)
}

fn revision_of(json: &str) -> i64 {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Meta {
        resource_version: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Obj {
        metadata: Meta,
    }
    serde_json::from_str::<Obj>(json)
        .ok()
        .and_then(|o| o.metadata.resource_version)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openapi::{Pod, Resource, Service};
    use std::collections::BTreeMap;

    fn sel(labels: &[(&str, &str)], node: Option<&str>) -> Selectable {
        Selectable {
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
            node: node.map(str::to_string),
        }
    }

    fn modified(old: Selectable, new: Selectable) -> Change {
        Change {
            rev: 1,
            event_type: EventType::Modified,
            kind: Pod::INFO,
            namespace: "default".into(),
            object: Arc::from("{}"),
            selectable: new,
            old: Some(old),
            old_object: Some(Arc::from("{}")),
        }
    }

    #[test]
    fn selectors_turn_modifications_into_adds_and_deletes() {
        let f = Filter {
            kind: Pod::INFO,
            namespace: None,
            labels: LabelSelector::parse("app=web").unwrap(),
            node: None,
            fields: FieldSelector::default(),
        };
        let web = sel(&[("app", "web")], None);
        let db = sel(&[("app", "db")], None);
        assert_eq!(f.view(&modified(web.clone(), web.clone())), Some(EventType::Modified));
        assert_eq!(f.view(&modified(db.clone(), web.clone())), Some(EventType::Added));
        assert_eq!(f.view(&modified(web.clone(), db.clone())), Some(EventType::Deleted));
        assert_eq!(f.view(&modified(db.clone(), db)), None);
    }

    #[test]
    fn node_filter_sees_binding_as_added() {
        let f = Filter {
            kind: Pod::INFO,
            namespace: None,
            labels: LabelSelector::default(),
            node: Some("n1".into()),
            fields: FieldSelector::default(),
        };
        let unbound = sel(&[], None);
        let bound = sel(&[], Some("n1"));
        assert_eq!(f.view(&modified(unbound, bound.clone())), Some(EventType::Added));
        let mut other_ns = modified(bound.clone(), bound);
        other_ns.kind = Service::INFO;
        assert_eq!(f.view(&other_ns), None);
    }
}
