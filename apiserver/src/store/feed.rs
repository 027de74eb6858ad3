//! The change feed of a store on PostgreSQL: how a server sees the writes of every server
//! sharing the database, its own included.
//!
//! One task per server holds a `LISTEN flatnet_events` connection. Each wake-up (a
//! notification from any server's commit, a local commit, or the safety-net timer) reads
//! `events` after the last revision it published, in revision order, and publishes each row
//! on the in-memory bus exactly once. Because writers hand out revisions under one row lock
//! (see [`super::writer`]), every revision at or below the newest committed one is already
//! committed when it is read: reading "after the last one seen" cannot skip any.
//! Notifications are only a wake-up: one lost with a dropped connection costs at most
//! [`SAFETY_NET`] of delay, never an event.
//!
//! The same wake-up refreshes what else other servers change: the node token cache and the
//! compacted revision.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};
use sqlx::Row;

use super::backend::Pool;
use super::{change_from_row, Inner};

/// What woke the feed, counted in `flatnet_apiserver_feed_wakeups_total{cause}`.
#[derive(Clone, Copy)]
pub(super) enum Wake {
    /// A `NOTIFY` from a commit, on any server (this one's included).
    Notify = 0,
    /// A commit of this server's writer.
    Local = 1,
    /// The safety-net timer.
    Timer = 2,
}

pub(super) const WAKE_CAUSES: [&str; 3] = ["notify", "local", "timer"];

/// The channel writers notify on commit.
pub(super) const CHANNEL: &str = "flatnet_events";
/// Read the event table at least this often, whatever notifications say.
const SAFETY_NET: Duration = Duration::from_secs(1);
/// Rows read per query; a feed further behind reads again at once.
const PAGE: i64 = 5000;

/// Listen, then start the feed task. Listening starts before the first read, so nothing
/// committed after [`super::Store::open_at`] read the revision goes unnoticed.
pub(super) async fn start(inner: Arc<Inner>) -> anyhow::Result<()> {
    let Pool::Pg(pool) = &inner.read else { anyhow::bail!("the change feed needs PostgreSQL") };
    let pool = pool.clone();
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(CHANNEL).await?;
    tokio::spawn(run(inner, pool, listener));
    Ok(())
}

async fn run(inner: Arc<Inner>, pool: PgPool, mut listener: PgListener) {
    let mut last = inner.revision.load(Ordering::Acquire);
    loop {
        match catch_up(&inner, &pool, last).await {
            Ok(rev) => last = rev,
            Err(e) => {
                tracing::warn!(error = %e, "change feed: reading events failed; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        }
        tokio::select! {
            // `recv` reconnects by itself after a dropped connection (and re-listens); an
            // error here is logged and the loop reads the table anyway.
            n = listener.recv() => {
                match n {
                    Ok(_) => inner.feed_wakes[Wake::Notify as usize].fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        tracing::warn!(error = %e, "change feed: listen connection failed");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        0
                    }
                };
            }
            _ = inner.feed_wake.notified() => {
                inner.feed_wakes[Wake::Local as usize].fetch_add(1, Ordering::Relaxed);
            }
            _ = tokio::time::sleep(SAFETY_NET) => {
                inner.feed_wakes[Wake::Timer as usize].fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Publish every event after `last`; answers the last revision published.
///
/// One statement reads the committed revision and the events after `last` (one snapshot):
/// when the page is not full, every revision up to that committed one has been read, so
/// the feed moves on to it even past revisions that have no event row (compacted away).
async fn catch_up(inner: &Inner, pool: &PgPool, mut last: i64) -> Result<i64, sqlx::Error> {
    loop {
        let rows = sqlx::query(
            "SELECT m.value AS committed, e.rev, e.type, e.kind, e.namespace, e.object, e.old_object \
             FROM (SELECT value FROM meta WHERE key = 'revision') m LEFT JOIN LATERAL \
             (SELECT * FROM events WHERE rev > $1 ORDER BY rev LIMIT $2) e ON true ORDER BY e.rev",
        )
        .bind(last)
        .bind(PAGE)
        .fetch_all(pool)
        .await?;
        // What other servers change besides objects, read after the events and applied
        // before they go out: a node token minted before an event this server publishes
        // is accepted here by the time a client sees that event.
        refresh(inner, pool).await?;
        let committed: i64 =
            rows.first().and_then(|r| r.get::<Option<String>, _>("committed")?.parse().ok()).unwrap_or(0);
        let mut read = 0;
        for row in &rows {
            let Some(rev) = row.get::<Option<i64>, _>("rev") else { continue };
            read += 1;
            match change_from_row!(row, None) {
                // No receivers is fine: nobody watches.
                Some(change) => drop(inner.events.send(Arc::new(change))),
                // A kind this server does not know (a newer server's): skipped, the
                // revision still moves on.
                None => tracing::warn!(rev, "change feed: event of an unknown kind skipped"),
            }
            inner.revision.store(rev, Ordering::Release);
            last = rev;
        }
        if read < PAGE && committed > last {
            last = committed;
            inner.revision.store(last, Ordering::Release);
        }
        inner.published.send_replace(last);
        if read < PAGE {
            return Ok(last);
        }
    }
}

/// Reload the node token cache when the table's size changed (tokens are only ever added),
/// and move the compacted revision on.
async fn refresh(inner: &Inner, pool: &PgPool) -> Result<(), sqlx::Error> {
    let (tokens, compacted): (i64, Option<String>) =
        sqlx::query_as("SELECT (SELECT COUNT(*) FROM node_tokens), (SELECT value FROM meta WHERE key = 'compacted')")
            .fetch_one(pool)
            .await?;
    if tokens != inner.node_tokens.read().expect("token cache poisoned").len() as i64 {
        let all: Vec<(String, String)> =
            sqlx::query_as("SELECT hash, node_name FROM node_tokens").fetch_all(pool).await?;
        *inner.node_tokens.write().expect("token cache poisoned") = all.into_iter().collect();
    }
    inner.compacted.fetch_max(compacted.and_then(|c| c.parse().ok()).unwrap_or(0), Ordering::AcqRel);
    Ok(())
}
