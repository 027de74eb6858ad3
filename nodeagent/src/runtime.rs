//! The container runtime as the pod workers see it: start, adopt, observe and stop a
//! container's runs. [`ShimRuntime`] runs them as processes through the shim
//! ([`crate::containers`]); the unit tests use a recording fake.

use std::io;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;

use crate::containers::{self, Launch, PodDir, RunRecord};
use crate::shim::ExitRecord;

/// Completes when a run ends.
pub type RunEnd = BoxFuture<'static, ()>;

pub trait Runtime: Send + Sync + 'static {
    /// Start a run of a container (recorded in its pod's directory).
    fn start(&self, launch: Launch<'_>, restart_count: i32) -> io::Result<(RunRecord, RunEnd)>;
    /// Take over a run an earlier agent recorded, if it still runs.
    fn adopt(&self, record: &RunRecord) -> Option<RunEnd>;
    /// How a finished run ended, if that is known.
    fn exit_record(&self, dir: &PodDir, container: &str) -> Option<ExitRecord>;
    /// Stop the runs `(pid, proc_start)`: a polite signal, `grace`, then a kill.
    fn stop<'a>(&'a self, runs: &'a [(i32, u64)], grace: Duration) -> BoxFuture<'a, ()>;
}

/// Containers as processes under the shim.
pub struct ShimRuntime;

impl Runtime for ShimRuntime {
    fn start(&self, launch: Launch<'_>, restart_count: i32) -> io::Result<(RunRecord, RunEnd)> {
        let (record, waiter) = containers::start(launch, restart_count)?;
        Ok((record, waiter.wait().boxed()))
    }

    fn adopt(&self, record: &RunRecord) -> Option<RunEnd> {
        containers::adopt(record).map(|w| w.wait().boxed())
    }

    fn exit_record(&self, dir: &PodDir, container: &str) -> Option<ExitRecord> {
        containers::exit_record(dir, container)
    }

    fn stop<'a>(&'a self, runs: &'a [(i32, u64)], grace: Duration) -> BoxFuture<'a, ()> {
        containers::stop(runs, grace).boxed()
    }
}
