//! Recording fakes of the agent's boundaries, for unit tests that run without root: the
//! pod network, the service table, the container runtime, and a list/watch source.

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use netcore::model::PodNetwork;
use netcore::plan::PodStep;
use netcore::services::ServicePort;
use openapi::client::{Result, WatchEvent};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::containers::{Launch, PodDir, RunRecord};
use crate::kernel::{Applied, PodNet, ServiceTable};
use crate::reflector::ListWatch;
use crate::runtime::{RunEnd, Runtime};
use crate::shim::ExitRecord;

/// A call to one of the fakes, as recorded.
#[derive(Clone, Debug, PartialEq)]
pub enum Call {
    Attach(String),
    Repair(String),
    Detach(String),
    Sweep(Vec<String>),
    /// A full sync: the names of the service ports, sorted.
    SyncAll(Vec<String>),
    /// A batch of changes: `(name, endpoints)` (`None`: removed).
    Update(Vec<(String, Option<usize>)>),
    /// A drift repair of the service table: the drift, debug-printed.
    RepairDrift(String),
    Start(String, i32),
    Stop(Vec<i32>),
}

/// What the fakes share: the calls in order, with their (virtual) time, and how many of the
/// next calls of each kind fail.
#[derive(Clone, Default)]
pub struct Recorder {
    calls: Arc<Mutex<Vec<(Instant, Call)>>>,
    failures: Arc<Mutex<HashMap<&'static str, u32>>>,
}

impl Recorder {
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().iter().map(|(_, c)| c.clone()).collect()
    }

    /// The calls with their time since `start`.
    pub fn timed(&self, start: Instant) -> Vec<(Duration, Call)> {
        self.calls.lock().unwrap().iter().map(|(t, c)| (t.duration_since(start), c.clone())).collect()
    }

    /// Make the next `n` calls of `kind` ("detach", "apply", ...) fail.
    pub fn fail_next(&self, kind: &'static str, n: u32) {
        self.failures.lock().unwrap().insert(kind, n);
    }

    /// Record `call`; false when it is to fail.
    fn record(&self, kind: &'static str, call: Call) -> bool {
        self.calls.lock().unwrap().push((Instant::now(), call));
        let mut failures = self.failures.lock().unwrap();
        match failures.get_mut(kind) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        }
    }

    fn result(&self, kind: &'static str, call: Call) -> anyhow::Result<()> {
        if self.record(kind, call) {
            Ok(())
        } else {
            Err(anyhow::anyhow!("fake {kind} failed"))
        }
    }
}

/// A pod network that records what it is asked and changes nothing.
#[derive(Clone, Default)]
pub struct FakePodNet(pub Recorder);

impl PodNet for FakePodNet {
    fn attach<'a>(&'a self, pod: &'a PodNetwork) -> BoxFuture<'a, anyhow::Result<()>> {
        futures::future::ready(self.0.result("attach", Call::Attach(pod.netns.clone()))).boxed()
    }

    fn repair<'a>(&'a self, pod: &'a PodNetwork) -> BoxFuture<'a, anyhow::Result<Vec<PodStep>>> {
        futures::future::ready(self.0.result("repair", Call::Repair(pod.netns.clone())).map(|()| Vec::new())).boxed()
    }

    fn detach<'a>(&'a self, pod: &'a PodNetwork) -> BoxFuture<'a, anyhow::Result<()>> {
        futures::future::ready(self.0.result("detach", Call::Detach(pod.netns.clone()))).boxed()
    }

    fn sweep_veths<'a>(&'a self, keep: &'a HashSet<String>) -> BoxFuture<'a, anyhow::Result<Vec<String>>> {
        let mut keep: Vec<String> = keep.iter().cloned().collect();
        keep.sort();
        futures::future::ready(self.0.result("sweep", Call::Sweep(keep)).map(|()| Vec::new())).boxed()
    }
}

/// A service table that records each apply ("apply" failures make it fail).
#[derive(Clone, Default)]
pub struct FakeTable(pub Recorder);

impl ServiceTable for FakeTable {
    fn sync_all(&mut self, desired: Vec<ServicePort>) -> anyhow::Result<Applied> {
        let mut names: Vec<String> = desired.iter().map(|p| p.name.clone()).collect();
        names.sort();
        self.0.result("apply", Call::SyncAll(names))?;
        Ok(Applied { changed: desired.len(), bytes: 1 })
    }

    fn update(&mut self, changes: Vec<(String, Option<ServicePort>)>) -> anyhow::Result<Applied> {
        let call = changes.iter().map(|(n, p)| (n.clone(), p.as_ref().map(|p| p.endpoints.len()))).collect();
        self.0.result("apply", Call::Update(call))?;
        Ok(Applied { changed: changes.len(), bytes: 1 })
    }

    fn repair(&mut self, drift: &netcore::monitor::TableDrift) -> anyhow::Result<Applied> {
        self.0.result("apply", Call::RepairDrift(format!("{drift:?}")))?;
        Ok(Applied { changed: 0, bytes: 1 })
    }
}

/// A runtime that records starts and stops; its runs never end by themselves.
#[derive(Clone, Default)]
pub struct FakeRuntime {
    pub recorder: Recorder,
}

impl Runtime for FakeRuntime {
    fn start(&self, launch: Launch<'_>, restart_count: i32) -> io::Result<(RunRecord, RunEnd)> {
        if !self.recorder.record("start", Call::Start(launch.container.to_string(), restart_count)) {
            return Err(io::Error::other("fake start failed"));
        }
        let record = RunRecord { pid: 4242, proc_start: 1, started_at: chrono::Utc::now(), restart_count };
        Ok((record, futures::future::pending().boxed()))
    }

    fn adopt(&self, _: &RunRecord) -> Option<RunEnd> {
        None
    }

    fn exit_record(&self, _: &PodDir, _: &str) -> Option<ExitRecord> {
        None
    }

    fn stop<'a>(&'a self, runs: &'a [(i32, u64)], _: Duration) -> BoxFuture<'a, ()> {
        self.recorder.record("stop", Call::Stop(runs.iter().map(|(pid, _)| *pid).collect()));
        futures::future::ready(()).boxed()
    }
}

/// A list/watch source the test drives: lists answer the current objects, and each watch
/// gets the events [`FakeSource::send`] sends while it is the newest one.
#[derive(Clone)]
pub struct FakeSource<K> {
    inner: Arc<Mutex<SourceState<K>>>,
}

struct SourceState<K> {
    objects: Vec<K>,
    lists: usize,
    watch: Option<mpsc::UnboundedSender<Result<WatchEvent<K>>>>,
}

impl<K: Clone + Send + 'static> FakeSource<K> {
    pub fn new(objects: Vec<K>) -> Self {
        FakeSource { inner: Arc::new(Mutex::new(SourceState { objects, lists: 0, watch: None })) }
    }

    /// How many lists were made.
    pub fn lists(&self) -> usize {
        self.inner.lock().unwrap().lists
    }

    /// Send an event on the current watch (the objects of later lists are unchanged).
    pub fn send(&self, event: WatchEvent<K>) {
        if let Some(tx) = &self.inner.lock().unwrap().watch {
            let _ = tx.send(Ok(event));
        }
    }
}

impl<K: Clone + Send + 'static> ListWatch<K> for FakeSource<K> {
    fn list(&self) -> BoxFuture<'static, Result<(Vec<K>, String)>> {
        let mut state = self.inner.lock().unwrap();
        state.lists += 1;
        futures::future::ready(Ok((state.objects.clone(), state.lists.to_string()))).boxed()
    }

    fn watch(&self, _: &str) -> BoxStream<'static, Result<WatchEvent<K>>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.inner.lock().unwrap().watch = Some(tx);
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) }).boxed()
    }
}
