//! One way to follow a kind: list, then watch from the list's resourceVersion, like kube-rs'
//! watcher and client-go's reflector. Every loop of the agent that follows objects (leases,
//! pods, services and endpoints) reads through a [`Reflector`].
//!
//! A reflector yields [`Event::Listed`] with the complete list after each (re)list, then the
//! watch's changes one by one. A consumer rebuilds its view from each snapshot (so nothing
//! is applied before a complete list has been seen) and updates it with each change.
//!
//! **Resume, not relist.** The reflector keeps the last resourceVersion it saw (the list's,
//! then each event's object's). When a watch ends for any reason but 410 Gone (the server
//! cut off a slow watcher, the stream closed, a network error, a refusal, a move to another
//! server), it watches again from that version: the server replays what came after it from
//! its history, so the consumer misses nothing and the server lists nothing. It lists again
//! only when the history no longer reaches back that far (410 Gone), or when a watch ends
//! at once, before it delivered anything (what it resumed from may be what the server
//! refuses; a list starts over from a version the server has). A relist costs the server a
//! full list of the kind, for every node that relists at the same time. The typed client's
//! own stream already resumes across dropped connections and server switches, and follows
//! the server's BOOKMARK events (it asks for `allowWatchBookmarks=true`); the reflector's
//! resume covers what that stream hands up to it.
//!
//! The back-off is what keeps a failing server from making the agent spin: a list that
//! fails, or a watch that ends at once, waits the next delay before listing again; a watch
//! that ran for the policy's longest delay, or delivered events, resets the policy.

use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use openapi::client::{Api, Error, ListParams, Result, WatchEvent};
use openapi::Resource;
use tokio::time::Instant;

use crate::backoff::Backoff;

/// The first delay before a relist; it doubles up to [`MAX_RELIST_DELAY`].
pub const FIRST_RELIST_DELAY: Duration = Duration::from_secs(1);
pub const MAX_RELIST_DELAY: Duration = Duration::from_secs(30);

/// The reflector's policy: 1 s, doubling up to 30 s.
pub fn relist_backoff() -> Backoff {
    Backoff::new(FIRST_RELIST_DELAY, MAX_RELIST_DELAY)
}

/// Where a reflector reads objects of kind `K`: a list (its items and resourceVersion) and a
/// watch from a resourceVersion. The API ([`ApiSource`]) or, in tests, a fake.
pub trait ListWatch<K>: Send + 'static {
    fn list(&self) -> BoxFuture<'static, Result<(Vec<K>, String)>>;
    fn watch(&self, resource_version: &str) -> BoxStream<'static, Result<WatchEvent<K>>>;
}

/// A kind's objects on the API server, selected by `params`.
pub struct ApiSource<K> {
    pub api: Api<K>,
    pub params: ListParams,
}

impl<K: Resource> ListWatch<K> for ApiSource<K> {
    fn list(&self) -> BoxFuture<'static, Result<(Vec<K>, String)>> {
        let api = self.api.clone();
        let params = self.params.clone();
        async move { api.list(&params).await.map(|l| (l.items, l.metadata.resource_version)) }.boxed()
    }

    fn watch(&self, resource_version: &str) -> BoxStream<'static, Result<WatchEvent<K>>> {
        self.api.watch(&self.params, resource_version)
    }
}

/// What a reflector yields.
#[derive(Clone, Debug, PartialEq)]
pub enum Event<K> {
    /// A complete list: the consumer's view is exactly these objects.
    Listed(Vec<K>),
    /// An object was added or changed.
    Applied(K),
    Deleted(K),
}

enum State<K> {
    /// Not listing or watching: list at `at` (or at once).
    Idle {
        at: Option<Instant>,
    },
    Listing(BoxFuture<'static, Result<(Vec<K>, String)>>),
    Watching {
        events: BoxStream<'static, Result<WatchEvent<K>>>,
        since: Instant,
        /// Whether this watch has delivered an event yet.
        delivered: bool,
    },
}

/// Follows one kind from a [`ListWatch`]; see the module's documentation.
pub struct Reflector<K, S> {
    source: S,
    backoff: Backoff,
    state: State<K>,
    /// The last resourceVersion seen: the last list's, then each event's.
    version: Option<String>,
    resumes: u64,
}

impl<K: Resource, S: ListWatch<K>> Reflector<K, S> {
    pub fn new(source: S) -> Self {
        Self::with_backoff(source, relist_backoff())
    }

    pub fn with_backoff(source: S, backoff: Backoff) -> Self {
        Reflector { source, backoff, state: State::Idle { at: None }, version: None, resumes: 0 }
    }

    /// The last resourceVersion this reflector saw (none before its first list).
    pub fn resource_version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// How many times a watch was resumed from the last version instead of relisting.
    pub fn resumes(&self) -> u64 {
        self.resumes
    }

    /// The next snapshot or change; never ends (failures are logged and retried).
    ///
    /// Cancel-safe: every step in progress (a list, a watch, a wait) is kept in the
    /// reflector, so it can be one branch of a `select!`.
    pub async fn next(&mut self) -> Event<K> {
        loop {
            match &mut self.state {
                State::Idle { at } => {
                    if let Some(at) = *at {
                        tokio::time::sleep_until(at).await;
                    }
                    self.state = State::Listing(self.source.list());
                }
                State::Listing(list) => match list.await {
                    Ok((items, resource_version)) => {
                        let events = self.source.watch(&resource_version);
                        self.version = Some(resource_version);
                        self.state = State::Watching { events, since: Instant::now(), delivered: false };
                        return Event::Listed(items);
                    }
                    Err(e) => {
                        let delay = self.backoff.next_delay();
                        tracing::warn!(kind = K::KIND, error = %e, retry_in = ?delay, "list failed");
                        self.state = State::Idle { at: Some(Instant::now() + delay) };
                    }
                },
                State::Watching { events, delivered, .. } => {
                    let event = match events.next().await {
                        Some(Ok(WatchEvent::Added(o) | WatchEvent::Modified(o))) => Event::Applied(o),
                        Some(Ok(WatchEvent::Deleted(o))) => Event::Deleted(o),
                        Some(Err(Error::Gone)) => {
                            tracing::info!(kind = K::KIND, "watch history compacted (410 Gone); listing again");
                            self.relist();
                            continue;
                        }
                        Some(Err(e)) => {
                            self.watch_ended(&format!("watch ended: {e}"));
                            continue;
                        }
                        None => {
                            self.watch_ended("watch closed");
                            continue;
                        }
                    };
                    *delivered = true;
                    let object = match &event {
                        Event::Applied(o) | Event::Deleted(o) => o,
                        Event::Listed(_) => unreachable!("a watch yields changes"),
                    };
                    if let Some(v) = &object.metadata().resource_version {
                        self.version = Some(v.clone());
                    }
                    return event;
                }
            }
        }
    }

    /// A watch ended other than with 410 Gone: watch again from the last version, unless
    /// it ended at once (then list again, after the back-off).
    fn watch_ended(&mut self, why: &str) {
        let State::Watching { since, delivered, .. } = &self.state else { return };
        let at_once = !*delivered && since.elapsed() < self.backoff.max();
        match (&self.version, at_once) {
            (Some(version), false) => {
                tracing::info!(kind = K::KIND, resource_version = %version, "{why}; watching again from the last version");
                self.backoff.reset();
                self.resumes += 1;
                let events = self.source.watch(version);
                self.state = State::Watching { events, since: Instant::now(), delivered: false };
            }
            _ => {
                tracing::info!(kind = K::KIND, "{why} before delivering anything; listing again");
                self.relist();
            }
        }
    }

    /// Drop the watch and list again: at once if the watch had been running for the
    /// policy's longest delay (and the policy starts over), else after the next delay.
    /// Also for a consumer that wants a fresh list (one that keeps failing to apply it).
    pub fn relist(&mut self) {
        let at = match &self.state {
            State::Watching { since, .. } if since.elapsed() >= self.backoff.max() => {
                self.backoff.reset();
                None
            }
            State::Watching { .. } => Some(Instant::now() + self.backoff.next_delay()),
            // A list is already due or in flight.
            State::Idle { .. } | State::Listing(_) => return,
        };
        self.state = State::Idle { at };
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use openapi::client::Error;
    use openapi::{NodeLease, ObjectMeta, Status};

    use super::*;

    /// A scripted source: each list answers the next scripted result (the last one
    /// repeats), each watch yields the next scripted events then ends (or stays open).
    #[derive(Clone, Default)]
    struct Fake {
        lists: Arc<Mutex<Vec<Instant>>>,
        list_results: Arc<Mutex<VecDeque<bool>>>,
        watches: Arc<Mutex<VecDeque<WatchScript>>>,
        /// The resourceVersion each watch started from, in order.
        watched_from: Arc<Mutex<Vec<String>>>,
    }

    /// A watch's events, and how it ends.
    type WatchScript = (Vec<WatchEvent<NodeLease>>, WatchEnd);

    #[derive(Clone, Copy)]
    enum WatchEnd {
        Gone,
        Refused,
        /// The stream ends (the server closed it: a cut-off).
        Closed,
        /// The stream ends after this long without events.
        ClosedAfter(Duration),
        Open,
    }

    fn lease(name: &str) -> NodeLease {
        NodeLease { metadata: ObjectMeta { name: name.into(), ..Default::default() }, ..Default::default() }
    }

    /// `name` as of resourceVersion `rv`.
    fn lease_at(name: &str, rv: u32) -> NodeLease {
        let mut l = lease(name);
        l.metadata.resource_version = Some(rv.to_string());
        l
    }

    fn refused() -> Error {
        Error::Api(Status {
            code: 400,
            reason: "BadRequest".into(),
            message: "no watch".into(),
            field: None,
            causes: Vec::new(),
        })
    }

    impl ListWatch<NodeLease> for Fake {
        fn list(&self) -> BoxFuture<'static, Result<(Vec<NodeLease>, String)>> {
            let mut lists = self.lists.lock().unwrap();
            lists.push(Instant::now());
            assert!(lists.len() < 1000, "the reflector spins");
            let mut results = self.list_results.lock().unwrap();
            let ok =
                if results.len() > 1 { results.pop_front().unwrap() } else { results.front().copied().unwrap_or(true) };
            let result = if ok { Ok((vec![lease("a")], "7".to_string())) } else { Err(refused()) };
            futures::future::ready(result).boxed()
        }

        fn watch(&self, from: &str) -> BoxStream<'static, Result<WatchEvent<NodeLease>>> {
            self.watched_from.lock().unwrap().push(from.to_string());
            let mut watches = self.watches.lock().unwrap();
            let (events, end) = if watches.len() > 1 {
                watches.pop_front().unwrap()
            } else {
                watches.front().cloned().unwrap_or((Vec::new(), WatchEnd::Refused))
            };
            let events = futures::stream::iter(events.into_iter().map(Ok));
            match end {
                WatchEnd::Gone => events.chain(futures::stream::iter([Err(Error::Gone)])).boxed(),
                WatchEnd::Refused => events.chain(futures::stream::iter([Err(refused())])).boxed(),
                WatchEnd::Closed => events.boxed(),
                WatchEnd::ClosedAfter(d) => {
                    events.chain(futures::stream::once(tokio::time::sleep(d)).filter_map(|()| async { None })).boxed()
                }
                WatchEnd::Open => events.chain(futures::stream::pending()).boxed(),
            }
        }
    }

    /// Run the reflector for `span` of virtual time; answer the offsets of the lists.
    async fn lists_during(fake: &Fake, span: Duration) -> Vec<Duration> {
        let start = Instant::now();
        let mut reflector = Reflector::new(fake.clone());
        let _ = tokio::time::timeout(span, async {
            loop {
                reflector.next().await;
            }
        })
        .await;
        fake.lists.lock().unwrap().iter().map(|t| t.duration_since(start)).collect()
    }

    fn secs(offsets: &[Duration]) -> Vec<u64> {
        offsets.iter().map(|d| d.as_secs()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_watch_that_fails_at_once_does_not_spin() {
        let fake = Fake::default();
        fake.watches.lock().unwrap().push_back((Vec::new(), WatchEnd::Refused));
        let lists = lists_during(&fake, Duration::from_secs(120)).await;
        // 1, 2, 4, 8, 16 s, then every 30 s.
        assert_eq!(secs(&lists), vec![0, 1, 3, 7, 15, 31, 61, 91]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_list_backs_off() {
        let fake = Fake::default();
        fake.list_results.lock().unwrap().extend([false, false, false, true]);
        fake.watches.lock().unwrap().push_back((Vec::new(), WatchEnd::Open));
        let lists = lists_during(&fake, Duration::from_secs(60)).await;
        assert_eq!(secs(&lists), vec![0, 1, 3, 7]);
    }

    #[tokio::test(start_paused = true)]
    async fn snapshot_then_changes_then_a_fresh_snapshot_after_gone() {
        let fake = Fake::default();
        let events = vec![WatchEvent::Added(lease("b")), WatchEvent::Deleted(lease("a"))];
        fake.watches.lock().unwrap().extend([(events, WatchEnd::Gone), (Vec::new(), WatchEnd::Open)]);
        let mut reflector = Reflector::new(fake.clone());
        assert_eq!(reflector.next().await, Event::Listed(vec![lease("a")]));
        assert_eq!(reflector.next().await, Event::Applied(lease("b")));
        assert_eq!(reflector.next().await, Event::Deleted(lease("a")));
        let before = Instant::now();
        assert_eq!(reflector.next().await, Event::Listed(vec![lease("a")]));
        // The watch ended at once: the relist waited the first delay.
        assert_eq!(Instant::now() - before, FIRST_RELIST_DELAY);
    }

    #[tokio::test(start_paused = true)]
    async fn a_watch_that_ran_long_is_relisted_at_once() {
        let fake = Fake::default();
        fake.watches.lock().unwrap().push_back((Vec::new(), WatchEnd::Open));
        let mut reflector = Reflector::new(fake.clone());
        assert!(matches!(reflector.next().await, Event::Listed(_)));
        // A watch that failed fast first: the policy counts one failure.
        reflector.relist();
        assert!(matches!(reflector.next().await, Event::Listed(_)));
        tokio::time::sleep(MAX_RELIST_DELAY).await;
        let before = Instant::now();
        reflector.relist();
        assert!(matches!(reflector.next().await, Event::Listed(_)));
        assert_eq!(Instant::now(), before, "a long-lived watch is relisted without waiting");
        reflector.relist();
        assert!(matches!(reflector.next().await, Event::Listed(_)));
        assert_eq!(Instant::now() - before, FIRST_RELIST_DELAY, "the policy started over");
    }

    #[tokio::test(start_paused = true)]
    async fn a_watch_that_ends_after_events_resumes_from_the_last_version() {
        let fake = Fake::default();
        fake.watches.lock().unwrap().extend([
            // A refusal (not 410), then a server that closes the stream (a cut-off).
            (vec![WatchEvent::Added(lease_at("b", 8)), WatchEvent::Modified(lease_at("b", 9))], WatchEnd::Refused),
            (vec![WatchEvent::Added(lease_at("c", 10))], WatchEnd::Closed),
            (vec![WatchEvent::Deleted(lease_at("c", 11))], WatchEnd::Open),
        ]);
        let mut reflector = Reflector::new(fake.clone());
        let start = Instant::now();
        assert_eq!(reflector.next().await, Event::Listed(vec![lease("a")]));
        assert_eq!(reflector.next().await, Event::Applied(lease_at("b", 8)));
        assert_eq!(reflector.next().await, Event::Applied(lease_at("b", 9)));
        assert_eq!(reflector.next().await, Event::Applied(lease_at("c", 10)));
        assert_eq!(reflector.next().await, Event::Deleted(lease_at("c", 11)));
        assert_eq!(fake.lists.lock().unwrap().len(), 1, "no relist");
        assert_eq!(*fake.watched_from.lock().unwrap(), ["7", "9", "10"]);
        assert_eq!(reflector.resource_version(), Some("11"));
        assert_eq!(reflector.resumes(), 2);
        assert_eq!(Instant::now(), start, "resumed without waiting");
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_watch_cut_off_later_resumes_from_the_list_version() {
        let fake = Fake::default();
        let quiet = MAX_RELIST_DELAY + Duration::from_secs(10);
        fake.watches.lock().unwrap().extend([
            (Vec::new(), WatchEnd::ClosedAfter(quiet)),
            (vec![WatchEvent::Added(lease_at("b", 12))], WatchEnd::Open),
        ]);
        let mut reflector = Reflector::new(fake.clone());
        let start = Instant::now();
        assert_eq!(reflector.next().await, Event::Listed(vec![lease("a")]));
        assert_eq!(reflector.next().await, Event::Applied(lease_at("b", 12)));
        assert_eq!(Instant::now() - start, quiet);
        assert_eq!(fake.lists.lock().unwrap().len(), 1, "no relist");
        assert_eq!(*fake.watched_from.lock().unwrap(), ["7", "7"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_resumed_watch_that_fails_at_once_relists_after_the_back_off() {
        let fake = Fake::default();
        fake.watches.lock().unwrap().extend([
            (vec![WatchEvent::Added(lease_at("b", 8))], WatchEnd::Closed),
            (Vec::new(), WatchEnd::Refused),
            (Vec::new(), WatchEnd::Open),
        ]);
        let mut reflector = Reflector::new(fake.clone());
        assert_eq!(reflector.next().await, Event::Listed(vec![lease("a")]));
        assert_eq!(reflector.next().await, Event::Applied(lease_at("b", 8)));
        let before = Instant::now();
        assert_eq!(reflector.next().await, Event::Listed(vec![lease("a")]));
        assert_eq!(Instant::now() - before, FIRST_RELIST_DELAY);
        assert_eq!(fake.lists.lock().unwrap().len(), 2);
        assert_eq!(*fake.watched_from.lock().unwrap(), ["7", "8", "7"]);
        assert_eq!(reflector.resource_version(), Some("7"));
    }
}
