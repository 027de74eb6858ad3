//! Drift notices: what someone changed under the agent in its node's namespace, from the
//! kernel's own notifications ([`netcore::monitor`]), broadcast to the parts of the agent
//! that own those objects, so each repairs its own within milliseconds. The periodic
//! resyncs stay, as the safety net for anything a notice misses.
//!
//! - nftables: what was deleted from flatnet's table `ip flatnet` and left deleted, per
//!   transaction ([`netcore::monitor::TableDrift`]): elements, rules, chains, sets, the
//!   table. The service proxy ([`crate::services`]) puts back what it wants, as little as
//!   will do (`netcore::services::Proxier::repair`).
//! - rtnetlink: deleted routes, addresses, flatnet's links (names under
//!   [`netcore::names::PREFIX`]) and configured neighbour and FDB entries (the VXLAN
//!   backend's way to the other nodes' VTEPs) ([`RoutingDrift`]). The pods' workers re-check
//!   their wiring (veth, address, routes) and the backend re-syncs its routes, neighbours
//!   and FDB entries to the other nodes. MACs a bridge learned and ages out are not drift.
//!
//! Only deletions are drift, so a repair (which adds) never feeds back into another. The
//! agent's own changes come back as notifications too: its element changes (over its own
//! nfnetlink sockets) are recognised by their netlink port id and dropped before they
//! become notices; what its `nft -f` scripts delete is no longer in its desired state, so
//! the proxy's repair finds nothing to do (a repair is decided against the desired state,
//! never against the notice alone); its own link and route deletions (a pod removed, a node
//! gone) make the pods and the backend re-check, and find nothing to do. Notices are
//! debounced: the first one opens a window that closes after [`QUIET`] without more (at
//! most [`WINDOW`]), so a burst (a table's deletion announces every element in it) becomes
//! one notice.
//!
//! # Joining
//!
//! A new owner of objects in `ip flatnet` (the network policy enforcer) subscribes with
//! one line where the agent starts its parts (`agent::run`): pass it `subscribe()` as the
//! proxy gets it. In its loop it waits on [`next`] like the proxy does, repairs its own
//! chains and sets (the names it declared) named in a `Drift::Table`, everything after a
//! deleted table (`TableDrift::table`) or on `Drift::Lost`, and ignores the rest. Nothing
//! here changes.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use netcore::monitor::{Monitor, Notification, Op, Source, TableDrift, TableFold, AF_BRIDGE, AF_INET};
use netcore::netns::Netns;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

/// The quiet time that ends a burst of notices.
pub const QUIET: Duration = Duration::from_millis(10);
/// The longest a notice waits for its burst to end.
pub const WINDOW: Duration = Duration::from_millis(200);
/// How often a reader thread checks that someone still listens.
pub const POLL: Duration = Duration::from_secs(1);
/// Notices a slow subscriber may fall behind by before it is told to resync everything.
const CAPACITY: usize = 64;

/// Deletions in the node's routing: links, addresses, routes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoutingDrift {
    /// Deleted links with flatnet's names.
    pub links: BTreeSet<String>,
    /// Whether an IPv4 address was deleted.
    pub addresses: bool,
    /// Deleted IPv4 routes of the main table, as `dst/prefix`.
    pub routes: BTreeSet<String>,
    /// Links that lost an IPv4 neighbour entry or a configured FDB entry, by index.
    pub neighbours: BTreeSet<u32>,
    /// Notices were lost: anything may have changed.
    pub lost: bool,
}

impl RoutingDrift {
    fn is_empty(&self) -> bool {
        *self == RoutingDrift::default()
    }

    fn push(&mut self, n: &Notification) {
        match n {
            Notification::Link { op: Op::Delete, name: Some(name), .. } if name.starts_with(netcore::names::PREFIX) => {
                self.links.insert(name.clone());
            }
            Notification::Address { op: Op::Delete, .. } => self.addresses = true,
            // The main table (254): the local table's routes follow addresses.
            Notification::Route { op: Op::Delete, table: 254, dst, prefix } => {
                self.routes.insert(format!("{}/{prefix}", dst.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED)));
            }
            // A deleted IPv4 neighbour carries the state the deletion left (`FAILED`), not the
            // one it had, so every IPv4 deletion counts; the kernel deletes learned ones only
            // when its table outgrows `gc_thresh1` (128 entries), so they are rare. A deleted
            // FDB entry keeps its state: only configured ones count (not the bridge's learned
            // MACs, which age out all the time).
            Notification::Neighbour { op: Op::Delete, index, family, permanent }
                if *family == AF_INET || (*family == AF_BRIDGE && *permanent) =>
            {
                self.neighbours.insert(*index);
            }
            Notification::Lost => self.lost = true,
            _ => {}
        }
    }
}

/// One debounced notice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Drift {
    /// Deletions in flatnet's nftables table.
    Table(TableDrift),
    Routing(RoutingDrift),
    /// A subscriber fell behind and missed notices: anything may have changed.
    Lost,
}

/// What a subscriber holds.
pub type DriftReceiver = broadcast::Receiver<Arc<Drift>>;

/// Broadcasts the drift of one namespace.
#[derive(Clone)]
pub struct Notifier {
    tx: broadcast::Sender<Arc<Drift>>,
}

impl Notifier {
    /// Follow `ns`'s nftables and rtnetlink notifications: one reader thread each (a
    /// blocking socket opened inside the namespace) and a task that folds and debounces.
    /// The readers end within [`POLL`] of the task, which ends with the runtime.
    pub fn start(ns: &Netns) -> anyhow::Result<Notifier> {
        let (raw_tx, raw_rx) = mpsc::unbounded_channel();
        for source in [Source::Nftables, Source::Routing] {
            let mut monitor = Monitor::open(ns, source, POLL)?;
            let raw_tx = raw_tx.clone();
            std::thread::Builder::new().name(format!("drift-{source:?}").to_lowercase()).spawn(move || loop {
                match monitor.read() {
                    Ok(batch) if batch.is_empty() && raw_tx.is_closed() => return,
                    Ok(batch) if batch.is_empty() => {}
                    Ok(batch) => {
                        if raw_tx.send((source, batch)).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        // Without notices the periodic resyncs still repair drift.
                        let what = "reading kernel notifications failed; drift waits for the resync";
                        tracing::error!(error = %e, ?source, "{what}");
                        return;
                    }
                }
            })?;
        }
        let (tx, _) = broadcast::channel(CAPACITY);
        tokio::spawn(debounce(raw_rx, tx.clone()));
        Ok(Notifier { tx })
    }

    pub fn subscribe(&self) -> DriftReceiver {
        self.tx.subscribe()
    }
}

/// Fold notifications into drift and send each burst's as one notice per kind.
async fn debounce(mut raw: mpsc::UnboundedReceiver<(Source, Vec<Notification>)>, tx: broadcast::Sender<Arc<Drift>>) {
    let mut fold = TableFold::new(2, netcore::nft::TABLE);
    let mut table = TableDrift::default();
    let mut routing = RoutingDrift::default();
    let mut opened: Option<Instant> = None;
    loop {
        let deadline = opened.map(|o| (Instant::now() + QUIET).min(o + WINDOW));
        let got = match deadline {
            Some(d) => tokio::time::timeout_at(d, raw.recv()).await.ok(),
            None => Some(raw.recv().await),
        };
        match got {
            Some(Some((source, batch))) => {
                for n in &batch {
                    match source {
                        Source::Nftables => {
                            if let Some(d) = fold.push(n) {
                                table.merge(d);
                            }
                        }
                        Source::Routing => routing.push(n),
                    }
                }
                if opened.is_none() && !(table.is_empty() && routing.is_empty()) {
                    opened = Some(Instant::now());
                }
                continue;
            }
            // Every reader ended (and so every subscriber, or the readers failed).
            Some(None) => return,
            // The window closed.
            None => {}
        }
        opened = None;
        if !table.is_empty() {
            tracing::info!(drift = ?table, "flatnet's nftables table changed under the agent");
            let _ = tx.send(Arc::new(Drift::Table(std::mem::take(&mut table))));
        }
        if !routing.is_empty() {
            tracing::info!(drift = ?routing, "the node's links, addresses or routes changed under the agent");
            let _ = tx.send(Arc::new(Drift::Routing(std::mem::take(&mut routing))));
        }
    }
}

/// The next notice for a subscriber (`None`: there are none): falling behind becomes
/// [`Drift::Lost`]; a closed channel waits forever.
pub async fn next(rx: &mut Option<DriftReceiver>) -> Arc<Drift> {
    let Some(r) = rx else { return std::future::pending().await };
    match r.recv().await {
        Ok(d) => d,
        Err(broadcast::error::RecvError::Lagged(_)) => Arc::new(Drift::Lost),
        Err(broadcast::error::RecvError::Closed) => {
            *rx = None;
            std::future::pending().await
        }
    }
}
