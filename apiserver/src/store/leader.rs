//! One leader among the API servers sharing a PostgreSQL database, for the work that must
//! run once: the periodic tick (lease expiry and grace reclaim, binding pending pods, event
//! pruning, history compaction; see `spawn_ticker`). Endpoints need no leader: they are
//! computed inside the writes that change them.
//!
//! The leader is the server holding a session-level advisory lock
//! (`pg_try_advisory_lock`) on a connection of its own. PostgreSQL releases the lock when
//! that session ends, so:
//! - a leader that exits or is killed (kill -9: the kernel closes its socket) loses it at
//!   once, and a candidate takes it at its next try, within [`TRY_EVERY`];
//! - a leader that hangs or is cut off stops pinging; the session's `idle_session_timeout`
//!   (a third of the lease TTL) ends it on the database's side, and the old leader, whose
//!   ping then fails or times out, steps down. A new leader is thus in place well within
//!   the lease TTL, before any lease could be wrongly judged expired by a stale clock.
//!
//! During that handover two servers may briefly both believe they lead. That is harmless:
//! a tick is an ordinary write, serialized with all others by the revision row lock, and
//! idempotent (a second tick finds nothing left to expire).
//!
//! On SQLite there is one server per database, always the leader.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

use super::Inner;

/// The advisory lock's key: "flatnet" in ASCII.
pub(super) const LOCK_KEY: i64 = 0x0066_6c61_746e_6574;
/// How often a candidate tries for the lock, and the leader pings its session.
pub(super) const TRY_EVERY: Duration = Duration::from_secs(1);

pub(super) fn start(inner: Arc<Inner>, opts: PgConnectOptions) {
    tokio::spawn(run(inner, opts));
}

/// The session's idle timeout: a third of the lease TTL, at least twice [`TRY_EVERY`].
fn idle_timeout(inner: &Inner) -> Duration {
    Duration::from_secs(inner.settings.cluster.lease_ttl_seconds / 3).max(TRY_EVERY * 2)
}

async fn run(inner: Arc<Inner>, opts: PgConnectOptions) {
    let idle = idle_timeout(&inner);
    let opts = opts.options([("idle_session_timeout", format!("{}ms", idle.as_millis()))]);
    loop {
        match opts.connect().await {
            Ok(conn) => campaign(&inner, conn, idle).await,
            Err(e) => tracing::warn!(error = %e, "leader election: cannot connect"),
        }
        step_down(&inner);
        tokio::time::sleep(TRY_EVERY).await;
    }
}

/// Try for the lock, then hold it, on one session; returns when the session is lost.
async fn campaign(inner: &Inner, mut conn: PgConnection, idle: Duration) {
    loop {
        let leading = inner.leader.load(Ordering::Acquire);
        let step = async {
            if leading {
                conn.ping().await.map(|_| true)
            } else {
                sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
                    .bind(LOCK_KEY)
                    .fetch_one(&mut conn)
                    .await
            }
        };
        match tokio::time::timeout(idle / 2, step).await {
            Ok(Ok(true)) => {
                if !leading {
                    tracing::info!("leader election: this server leads (runs the periodic tick)");
                    inner.leader.store(true, Ordering::Release);
                }
            }
            Ok(Ok(false)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "leader election: session lost");
                return;
            }
            Err(_) => {
                tracing::warn!("leader election: the database did not answer in time");
                return;
            }
        }
        tokio::time::sleep(TRY_EVERY).await;
    }
}

fn step_down(inner: &Inner) {
    if inner.leader.swap(false, Ordering::AcqRel) {
        tracing::warn!("leader election: this server no longer leads");
    }
}
