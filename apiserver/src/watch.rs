//! Watch streams: newline-delimited JSON events from a resourceVersion on.
//!
//! A watcher registers with the server's [`Hub`] *before* reading the history from the
//! database, then drops from its queue what the history already delivered (by revision).
//! Every event is committed before it is published, so nothing falls between the two, and
//! nothing is sent twice. If the part to replay was compacted, the watcher gets an ERROR
//! event with 410 and the stream ends. No watcher polls the database while idle.
//!
//! Filters follow Kubernetes: with a label or field selector, a MODIFIED event is sent as
//! ADDED when the object starts matching and as DELETED when it stops matching.
//!
//! # The fan-out (like kube-apiserver's watch cache)
//!
//! One dispatcher task per server reads the store's event bus and hands each event to the
//! watchers that can see it:
//! - **Encoded once.** An event's line (`{"type":…,"object":…}`) is built at most once per
//!   event type (a filter may turn a MODIFIED into ADDED or DELETED) and shared as `Bytes`
//!   by every watcher that gets it.
//! - **Indexed by node.** Watches with `spec.nodeName=N` (each agent's pod watch) are kept
//!   under N: a pod event wakes only the watches of its node (before and after the change)
//!   and the watches without a node filter, not every node's.
//! - **Bounded queues.** Each watcher has a queue of [`WATCH_QUEUE`] events. The dispatcher
//!   never waits: when a watcher's queue is full (its client reads slower than events
//!   come), the watcher is cut off: its stream ends after what it was sent, and it is
//!   counted in `flatnet_apiserver_watchers_terminated_total`. The client watches again from
//!   the last resourceVersion it saw (read from the history table), as Kubernetes clients
//!   do when kube-apiserver closes an unresponsive watcher. If the dispatcher itself falls
//!   behind the bus (which holds 4096 events), every watcher is cut off the same way.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use futures::StreamExt;
use openapi::selector::LabelSelector;
use openapi::{EventType, Status};
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};
use tokio::sync::{broadcast, mpsc, oneshot};

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

/// Events a watcher may have pending before it is cut off.
pub const WATCH_QUEUE: usize = 1024;

/// An event for one watcher: its revision and its encoded line.
type Item = (i64, Bytes);

type KindKey = (&'static str, &'static str);

fn key(kind: Kind) -> KindKey {
    (kind.api_version, kind.kind)
}

struct Slot {
    filter: Arc<Filter>,
    queue: mpsc::Sender<Item>,
}

/// The watchers of one kind.
#[derive(Default)]
struct KindWatchers {
    /// Watches without a node filter: every event of the kind is offered to them.
    all: HashMap<u64, Slot>,
    /// Watches with `spec.nodeName=N`, by N.
    by_node: HashMap<String, HashMap<u64, Slot>>,
}

impl KindWatchers {
    fn len(&self) -> usize {
        self.all.len() + self.by_node.values().map(HashMap::len).sum::<usize>()
    }
}

#[derive(Default)]
struct Index {
    kinds: HashMap<KindKey, KindWatchers>,
    /// Watchers cut off, by kind.
    terminated: BTreeMap<&'static str, u64>,
}

impl Index {
    fn insert(&mut self, id: u64, slot: Slot) {
        let kw = self.kinds.entry(key(slot.filter.kind)).or_default();
        match &slot.filter.node {
            Some(n) => {
                kw.by_node.entry(n.clone()).or_default().insert(id, slot);
            }
            None => {
                kw.all.insert(id, slot);
            }
        }
    }

    fn remove(&mut self, id: u64, filter: &Filter) -> Option<Slot> {
        let kw = self.kinds.get_mut(&key(filter.kind))?;
        match &filter.node {
            Some(n) => {
                let m = kw.by_node.get_mut(n)?;
                let slot = m.remove(&id);
                if m.is_empty() {
                    kw.by_node.remove(n);
                }
                slot
            }
            None => kw.all.remove(&id),
        }
    }

    /// Offer `ev` to the watchers that can see it; cuts off those whose queue is full.
    /// Answers how many watchers got it.
    fn dispatch(&mut self, ev: &Change) -> usize {
        let Some(kw) = self.kinds.get_mut(&key(ev.kind)) else { return 0 };
        let mut lines: [Option<Bytes>; 3] = [None, None, None];
        let mut gone: Vec<(u64, Option<String>, bool)> = Vec::new();
        let mut sent = 0;
        let mut offer = |id: u64, slot: &Slot, node: Option<&String>| {
            let Some(t) = slot.filter.view(ev) else { return };
            let i = match t {
                EventType::Added => 0,
                EventType::Modified => 1,
                _ => 2,
            };
            let bytes = lines[i].get_or_insert_with(|| line(t, &ev.object)).clone();
            match slot.queue.try_send((ev.rev, bytes)) {
                Ok(()) => sent += 1,
                Err(TrySendError::Full(_)) => gone.push((id, node.cloned(), true)),
                Err(TrySendError::Closed(_)) => gone.push((id, node.cloned(), false)),
            }
        };
        for (id, slot) in &kw.all {
            offer(*id, slot, None);
        }
        let new_node = ev.selectable.node.as_ref();
        let old_node = ev.old.as_ref().and_then(|o| o.node.as_ref()).filter(|o| Some(*o) != new_node);
        for node in [new_node, old_node].into_iter().flatten() {
            if let Some(m) = kw.by_node.get(node) {
                for (id, slot) in m {
                    offer(*id, slot, Some(node));
                }
            }
        }
        for (id, node, cut) in gone {
            match node {
                None => drop(kw.all.remove(&id)),
                Some(n) => {
                    if let Some(m) = kw.by_node.get_mut(&n) {
                        m.remove(&id);
                        if m.is_empty() {
                            kw.by_node.remove(&n);
                        }
                    }
                }
            }
            if cut {
                *self.terminated.entry(ev.kind.kind).or_default() += 1;
            }
        }
        sent
    }

    /// Cut off every watcher (the dispatcher lost events).
    fn cut_all(&mut self) {
        for (k, kw) in self.kinds.drain() {
            *self.terminated.entry(k.1).or_default() += kw.len() as u64;
        }
    }
}

/// A server's watch fan-out: the index of its watchers and the dispatcher feeding them.
#[derive(Default)]
pub struct Hub {
    index: Mutex<Index>,
    next_id: AtomicU64,
    /// Every event up to this revision has been offered to the watchers' queues.
    dispatched: AtomicI64,
}

/// A watcher's place in the [`Hub`]; leaves it when dropped.
struct Registration {
    hub: Arc<Hub>,
    id: u64,
    filter: Arc<Filter>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.index.lock().expect("watch index poisoned").remove(self.id, &self.filter);
    }
}

impl Hub {
    /// A hub fed by `bus` (the store's event bus) from a task of its own, which ends when
    /// the bus closes.
    pub fn start(mut bus: broadcast::Receiver<Arc<Change>>, revision: i64) -> Arc<Hub> {
        let hub = Arc::new(Hub { dispatched: AtomicI64::new(revision), ..Default::default() });
        let h = hub.clone();
        tokio::spawn(async move {
            loop {
                match bus.recv().await {
                    Ok(ev) => {
                        h.index.lock().expect("watch index poisoned").dispatch(&ev);
                        h.dispatched.fetch_max(ev.rev, Ordering::Release);
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!("watch dispatcher fell {n} events behind the bus: every watcher is cut off");
                        h.index.lock().expect("watch index poisoned").cut_all();
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        h.index.lock().expect("watch index poisoned").kinds.clear();
                        return;
                    }
                }
            }
        });
        hub
    }

    fn register(self: &Arc<Self>, filter: Arc<Filter>) -> (Registration, mpsc::Receiver<Item>) {
        let (queue, rx) = mpsc::channel(WATCH_QUEUE);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.index.lock().expect("watch index poisoned").insert(id, Slot { filter: filter.clone(), queue });
        (Registration { hub: self.clone(), id, filter }, rx)
    }

    /// Prometheus series: watchers by kind, watchers cut off by kind.
    pub fn metrics_text(&self) -> String {
        use std::fmt::Write;
        let index = self.index.lock().expect("watch index poisoned");
        let mut out = String::from(
            "# HELP flatnet_apiserver_watchers Registered watches by kind.\n# TYPE flatnet_apiserver_watchers gauge\n",
        );
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (k, kw) in &index.kinds {
            *counts.entry(k.1).or_default() += kw.len();
        }
        for (kind, n) in counts {
            let _ = writeln!(out, "flatnet_apiserver_watchers{{kind=\"{kind}\"}} {n}");
        }
        out.push_str(
            "# HELP flatnet_apiserver_watchers_terminated_total Watchers cut off because their queue was full \
             (a client reading slower than events come).\n# TYPE flatnet_apiserver_watchers_terminated_total counter\n",
        );
        for (kind, n) in &index.terminated {
            let _ = writeln!(out, "flatnet_apiserver_watchers_terminated_total{{kind=\"{kind}\"}} {n}");
        }
        out
    }
}

/// Start a watch; the body streams until the client leaves, the timeout passes, the
/// watcher is cut off, or an error (410) ends it.
///
/// The watcher registers with the hub at once. Its start (the history to replay, or the
/// current objects) is read on a task of its own and comes through a channel; from then on
/// the body reads the watcher's queue itself, with no task in between (one task hop less
/// per event at every watcher), and sends whatever has queued up since it was last polled
/// as one chunk (one HTTP/2 frame, one TLS record).
pub fn stream(store: Store, metrics: Arc<Metrics>, filter: Filter, params: WatchParams) -> Body {
    let hub = store.hub();
    let filter = Arc::new(filter);
    let (registration, queue) = hub.register(filter.clone());
    let (lines_tx, lines) = mpsc::channel::<Bytes>(1024);
    let (reached_tx, reached) = oneshot::channel::<i64>();
    let bookmark_interval = store.settings().bookmark_interval;
    {
        let filter = filter.clone();
        let (from, bookmarks) = (params.from, params.bookmarks);
        tokio::spawn(async move {
            let last = match from {
                Some(from) => replay(&store, &filter, from, &lines_tx).await,
                None => initial(&store, &filter, bookmarks, &lines_tx).await,
            };
            if let Some(last) = last {
                let _ = reached_tx.send(last);
            }
        });
    }
    let live = Live {
        hub,
        _registration: registration,
        _client: metrics.watch_client(),
        queue,
        filter,
        last: 0,
        bookmarks: params.bookmarks.then_some(bookmark_interval),
        ticks: None,
        timeout: params.timeout.unwrap_or(Duration::from_secs(365 * 24 * 3600)),
        deadline: None,
    };
    let state = State::Start { lines, reached, live };
    let stream = futures::stream::unfold(state, |state| async move {
        match state {
            State::Start { mut lines, reached, mut live } => match lines.recv().await {
                Some(first) => {
                    let mut chunk = Chunk::default();
                    chunk.push(first);
                    while chunk.len() < MAX_CHUNK {
                        match lines.try_recv() {
                            Ok(more) => chunk.push(more),
                            Err(_) => break,
                        }
                    }
                    Some((chunk.finish(), State::Start { lines, reached, live }))
                }
                // The start is over: live from the revision it reached (none: it ended the
                // stream, with an ERROR line or because the client left).
                None => {
                    live.last = reached.await.ok()?;
                    live.begin();
                    let chunk = live.next().await?;
                    Some((chunk, State::Live(live)))
                }
            },
            State::Live(mut live) => {
                let chunk = live.next().await?;
                Some((chunk, State::Live(live)))
            }
        }
    })
    .map(Ok::<_, Infallible>);
    Body::from_stream(stream)
}

/// What a chunk of a watch's body holds at most before it is sent (more lines wait for the
/// next poll).
const MAX_CHUNK: usize = 256 * 1024;

enum State {
    /// Sending the start (the replayed history or the current objects).
    Start { lines: mpsc::Receiver<Bytes>, reached: oneshot::Receiver<i64>, live: Live },
    /// Sending changes as they come.
    Live(Live),
}

/// The lines of one chunk: one line is sent as it is (shared with every other watcher that
/// got it), several are joined.
#[derive(Default)]
struct Chunk {
    first: Option<Bytes>,
    joined: Vec<u8>,
}

impl Chunk {
    fn push(&mut self, line: Bytes) {
        match self.first.take() {
            None if self.joined.is_empty() => self.first = Some(line),
            None => self.joined.extend_from_slice(&line),
            Some(first) => {
                self.joined.extend_from_slice(&first);
                self.joined.extend_from_slice(&line);
            }
        }
    }

    fn len(&self) -> usize {
        self.first.as_ref().map_or(self.joined.len(), Bytes::len)
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn finish(self) -> Bytes {
        self.first.unwrap_or_else(|| Bytes::from(self.joined))
    }
}

/// A watcher past its start: its queue in the hub, what it has sent, its bookmarks and its
/// deadline. Dropping it leaves the hub.
struct Live {
    hub: Arc<Hub>,
    _registration: Registration,
    _client: crate::metrics::WatchClient,
    queue: mpsc::Receiver<Item>,
    filter: Arc<Filter>,
    /// The revision sent last (events at or below it are already delivered).
    last: i64,
    bookmarks: Option<Duration>,
    ticks: Option<tokio::time::Interval>,
    timeout: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Live {
    /// The start is over: bookmarks and the timeout count from now.
    fn begin(&mut self) {
        let now = tokio::time::Instant::now();
        self.ticks = self.bookmarks.map(|period| tokio::time::interval_at(now + period, period));
        self.deadline = Some(Box::pin(tokio::time::sleep_until(now + self.timeout)));
    }

    /// Add an event from the queue to `chunk` unless it was already sent.
    fn take(&mut self, (rev, bytes): Item, chunk: &mut Chunk) {
        if rev > self.last {
            self.last = rev;
            chunk.push(bytes);
        }
    }

    /// The next chunk to send; `None` ends the stream (cut off, server stopping, timeout).
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            let deadline = self.deadline.as_mut().expect("begun");
            tokio::select! {
                received = self.queue.recv() => {
                    // None: cut off (or the server is stopping): the stream ends.
                    let item = received?;
                    let mut chunk = Chunk::default();
                    self.take(item, &mut chunk);
                    while chunk.len() < MAX_CHUNK {
                        match self.queue.try_recv() {
                            Ok(item) => self.take(item, &mut chunk),
                            // Disconnected: what was queued is sent; the next call ends.
                            Err(_) => break,
                        }
                    }
                    if !chunk.is_empty() {
                        return Some(chunk.finish());
                    }
                }
                _ = tick(&mut self.ticks) => {
                    // Everything up to `dispatched` is in the queue already: send it, then the
                    // bookmark may say `dispatched` even if none of it was for this watcher.
                    let dispatched = self.hub.dispatched.load(Ordering::Acquire);
                    let mut chunk = Chunk::default();
                    loop {
                        match self.queue.try_recv() {
                            Ok(item) => self.take(item, &mut chunk),
                            Err(TryRecvError::Empty) => break,
                            Err(TryRecvError::Disconnected) => {
                                // Cut off: what was queued goes, no bookmark past it.
                                return (!chunk.is_empty()).then(|| chunk.finish());
                            }
                        }
                    }
                    self.last = self.last.max(dispatched);
                    chunk.push(bookmark(self.filter.kind, self.last));
                    return Some(chunk.finish());
                }
                _ = deadline => return None,
            }
        }
    }
}

/// The next bookmark tick, or never (no bookmarks asked for).
async fn tick(ticks: &mut Option<tokio::time::Interval>) {
    match ticks {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Send `bytes`; false when the client is gone.
async fn send(tx: &mpsc::Sender<Bytes>, bytes: Bytes) -> bool {
    tx.send(bytes).await.is_ok()
}

/// Send the history after `from`; the revision reached, or `None` when the stream is over.
async fn replay(store: &Store, filter: &Filter, from: i64, tx: &mpsc::Sender<Bytes>) -> Option<i64> {
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

/// Send every current object as ADDED (oldest first), then (when the client allows bookmarks)
/// a BOOKMARK at the list's revision. Answers that revision.
async fn initial(store: &Store, filter: &Filter, bookmarks: bool, tx: &mpsc::Sender<Bytes>) -> Option<i64> {
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
    if bookmarks && !send(tx, bookmark(filter.kind, rev)).await {
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

    fn pod_filter(node: Option<&str>) -> Filter {
        Filter {
            kind: Pod::INFO,
            namespace: None,
            labels: LabelSelector::default(),
            node: node.map(str::to_string),
            fields: FieldSelector::default(),
        }
    }

    fn added(rev: i64, node: Option<&str>) -> Change {
        Change {
            rev,
            event_type: EventType::Added,
            kind: Pod::INFO,
            namespace: "default".into(),
            object: Arc::from("{}"),
            selectable: sel(&[], node),
            old: None,
            old_object: None,
        }
    }

    fn slot(index: &mut Index, id: u64, node: Option<&str>, capacity: usize) -> mpsc::Receiver<Item> {
        let (queue, rx) = mpsc::channel(capacity);
        index.insert(id, Slot { filter: Arc::new(pod_filter(node)), queue });
        rx
    }

    #[test]
    fn a_pod_event_reaches_its_nodes_watches_and_the_unfiltered_ones_only() {
        let mut index = Index::default();
        let mut n1 = slot(&mut index, 1, Some("n1"), 8);
        let mut n2 = slot(&mut index, 2, Some("n2"), 8);
        let mut all = slot(&mut index, 3, None, 8);
        let mut services = {
            let (queue, rx) = mpsc::channel(8);
            let filter = Filter { kind: Service::INFO, ..pod_filter(None) };
            index.insert(4, Slot { filter: Arc::new(filter), queue });
            rx
        };
        assert_eq!(index.dispatch(&added(7, Some("n1"))), 2);
        let (rev, a) = n1.try_recv().unwrap();
        let (_, b) = all.try_recv().unwrap();
        assert_eq!(rev, 7);
        assert!(a.starts_with(b"{\"type\":\"ADDED\""));
        // Encoded once: both watchers hold the same buffer.
        assert_eq!(a.as_ptr(), b.as_ptr());
        assert!(n2.try_recv().is_err());
        assert!(services.try_recv().is_err());
        // A pod moving from n1 to n2 is DELETED for n1's watch and ADDED for n2's.
        let mut moved = modified(sel(&[], Some("n1")), sel(&[], Some("n2")));
        moved.rev = 8;
        assert_eq!(index.dispatch(&moved), 3);
        assert!(n1.try_recv().unwrap().1.starts_with(b"{\"type\":\"DELETED\""));
        assert!(n2.try_recv().unwrap().1.starts_with(b"{\"type\":\"ADDED\""));
        assert!(all.try_recv().unwrap().1.starts_with(b"{\"type\":\"MODIFIED\""));
        // Unbound pods wake no node's watch.
        assert_eq!(index.dispatch(&added(9, None)), 1);
        // A watcher that left is dropped from the index at the next event for it.
        drop(n1);
        index.dispatch(&added(10, Some("n1")));
        assert!(!index.kinds[&key(Pod::INFO)].by_node.contains_key("n1"));
        assert!(index.terminated.is_empty(), "a watcher that left is not counted as cut off");
    }

    #[test]
    fn a_full_queue_cuts_its_watcher_off_and_no_other() {
        let mut index = Index::default();
        let mut slow = slot(&mut index, 1, Some("n1"), 4);
        let mut fast = slot(&mut index, 2, None, 4);
        for rev in 1..=5 {
            index.dispatch(&added(rev, Some("n1")));
            assert_eq!(fast.try_recv().unwrap().0, rev);
        }
        assert_eq!(index.terminated.get("Pod"), Some(&1));
        assert!(index.kinds[&key(Pod::INFO)].by_node.is_empty());
        // The slow watcher gets what was queued, then its stream ends.
        for rev in 1..=4 {
            assert_eq!(slow.try_recv().unwrap().0, rev);
        }
        assert_eq!(slow.try_recv().unwrap_err(), TryRecvError::Disconnected);
        // The others go on.
        assert_eq!(index.dispatch(&added(6, Some("n1"))), 1);
        assert_eq!(fast.try_recv().unwrap().0, 6);
    }

    #[test]
    fn the_dispatcher_losing_events_cuts_everyone_off() {
        let mut index = Index::default();
        let mut a = slot(&mut index, 1, Some("n1"), 4);
        let mut b = slot(&mut index, 2, None, 4);
        index.cut_all();
        assert_eq!(index.terminated.get("Pod"), Some(&2));
        assert_eq!(a.try_recv().unwrap_err(), TryRecvError::Disconnected);
        assert_eq!(b.try_recv().unwrap_err(), TryRecvError::Disconnected);
    }
}
