//! The agent's kernel boundary, as small traits: a pod's network ([`PodNet`]) and the
//! node's service table ([`ServiceTable`]) (the container runtime is
//! [`crate::runtime::Runtime`]). The real implementations call `netcore`; the recording
//! fakes of the unit tests let the agent's decisions be tested without root.

use std::collections::HashSet;

use futures::future::BoxFuture;
use futures::FutureExt;
use netcore::link::Netlink;
use netcore::model::PodNetwork;
use netcore::monitor::TableDrift;
use netcore::plan::PodStep;
use netcore::podnet;
use netcore::services::{Proxier, Repaired, ServicePort};

/// Wiring pods into the node's network.
pub trait PodNet: Send + Sync + 'static {
    /// Wire a new pod: its full plan, without observing first.
    fn attach<'a>(&'a self, pod: &'a PodNetwork) -> BoxFuture<'a, anyhow::Result<()>>;
    /// Observe a pod's wiring and repair what drifted; answers the steps it took.
    fn repair<'a>(&'a self, pod: &'a PodNetwork) -> BoxFuture<'a, anyhow::Result<Vec<PodStep>>>;
    /// Unwire a pod (delete its namespace).
    fn detach<'a>(&'a self, pod: &'a PodNetwork) -> BoxFuture<'a, anyhow::Result<()>>;
    /// Delete the pod veths whose names are not in `keep`; answers what it deleted.
    fn sweep_veths<'a>(&'a self, keep: &'a HashSet<String>) -> BoxFuture<'a, anyhow::Result<Vec<String>>>;
}

/// The node's pod network through `netcore::podnet`: its netlink socket and pod bridge.
pub struct NetcorePodNet {
    pub node: Netlink,
    /// The bridge's interface index.
    pub bridge: u32,
}

impl PodNet for NetcorePodNet {
    fn attach<'a>(&'a self, pod: &'a PodNetwork) -> BoxFuture<'a, anyhow::Result<()>> {
        async move { Ok(podnet::attach_pod(&self.node, self.bridge, pod).await?) }.boxed()
    }

    fn repair<'a>(&'a self, pod: &'a PodNetwork) -> BoxFuture<'a, anyhow::Result<Vec<PodStep>>> {
        async move { Ok(podnet::repair_pod(&self.node, self.bridge, pod).await?) }.boxed()
    }

    fn detach<'a>(&'a self, pod: &'a PodNetwork) -> BoxFuture<'a, anyhow::Result<()>> {
        async move { Ok(podnet::detach_pod(&self.node, pod).await?) }.boxed()
    }

    fn sweep_veths<'a>(&'a self, keep: &'a HashSet<String>) -> BoxFuture<'a, anyhow::Result<Vec<String>>> {
        async move { Ok(podnet::sweep_veths(&self.node, keep).await?) }.boxed()
    }
}

/// What one apply to the service table did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Service ports whose rules changed.
    pub changed: usize,
    /// Bytes of the transaction (0: nothing to do, nothing was run).
    pub bytes: usize,
}

/// The node's service table, as the proxy drives it. Blocking: the proxy calls it on a
/// blocking thread.
pub trait ServiceTable: Send + 'static {
    /// Make the table hold exactly `desired` (adopting what is there).
    fn sync_all(&mut self, desired: Vec<ServicePort>) -> anyhow::Result<Applied>;
    /// Apply changes: `Some(port)` adds or replaces the port of that name, `None` removes it.
    fn update(&mut self, changes: Vec<(String, Option<ServicePort>)>) -> anyhow::Result<Applied>;
    /// Put back what `drift` says was deleted from the table and is still wanted.
    fn repair(&mut self, drift: &TableDrift) -> anyhow::Result<Applied>;
}

impl ServiceTable for Proxier {
    fn sync_all(&mut self, desired: Vec<ServicePort>) -> anyhow::Result<Applied> {
        let report = Proxier::sync_all(self, desired)?;
        Ok(clear_stale(self, report))
    }

    fn update(&mut self, changes: Vec<(String, Option<ServicePort>)>) -> anyhow::Result<Applied> {
        let report = Proxier::update(self, changes)?;
        Ok(clear_stale(self, report))
    }

    fn repair(&mut self, drift: &TableDrift) -> anyhow::Result<Applied> {
        Ok(match Proxier::repair(self, drift)? {
            Repaired::Nothing => Applied::default(),
            Repaired::Elements(n) => Applied { changed: n, bytes: 1 },
            Repaired::Script(bytes) => Applied { changed: 0, bytes },
            Repaired::Full(report) => clear_stale(self, report),
        })
    }
}

/// Drop the UDP flows an apply made stale (see `netcore::services::StaleFlow`).
fn clear_stale(proxier: &Proxier, report: netcore::services::ApplyReport) -> Applied {
    if !report.stale.is_empty() {
        proxier.clear_stale_flows(&report.stale);
    }
    Applied { changed: report.changed, bytes: report.script_bytes }
}
