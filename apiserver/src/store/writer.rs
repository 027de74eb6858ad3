//! The writer task: group commit of queued operations, each in its own savepoint.
//!
//! sqlx runs each SQLite connection on a worker thread, so every statement is a round trip
//! between threads; the writer therefore sends transaction boundaries as one multi-statement
//! call (`RELEASE op; SAVEPOINT op`) instead of one call each.
//!
//! On PostgreSQL several servers' writers share the database. Each batch starts by locking
//! the single `meta` row `revision` (`SELECT ... FOR UPDATE`) and continues from the value
//! it holds; the row is updated and the lock released by the batch's commit. So writers are
//! serialized by that row: the batch that takes revisions N+1..M commits before any other
//! batch can read M, and revisions become visible in commit order with no gaps. (A sequence
//! would not do: `nextval` hands out numbers at call time, so a later number can commit
//! first and a reader that moved past it would skip the earlier one, which is why kine needs
//! "fill" rows and a poll.) A batch also costs one round trip for the lock, and commits
//! with `NOTIFY flatnet_events`, delivered to every server's [`super::feed`] on commit.
//! The writer does not publish its own events there: the feed does, in revision order with
//! everyone else's, and the writer waits for it before answering.
//!
//! # Time under the revision lock
//!
//! On PostgreSQL the servers' batches run one after the other, so what bounds the writes per
//! second of all servers together is the time a batch holds the lock: one round trip per
//! statement between the lock and the commit (plus the commit's WAL flush, once per
//! batch). It is kept short by:
//! - taking the lock in the round trip that begins the transaction (`BEGIN; SELECT ... FOR
//!   UPDATE; SAVEPOINT op` as one simple query);
//! - the batch's read cache ([`super::tx::Cache`]): an operation does not read again what
//!   an earlier one of the batch read or wrote (the namespace, the node, the namespace's
//!   services, a subnet's address cursor), and binding a pod reads its node and its
//!   subnet's cursor in one query. This keeps every guarantee: the cache only holds what
//!   the database holds inside this transaction (nobody else writes while the batch holds
//!   the lock, and every object write goes through the cache), and it is dropped with any
//!   operation that is rolled back;
//! - not waiting for the feed: the answers of a committed batch wait for this server's feed
//!   to publish its revisions (so that a client's next watch from the answer's
//!   resourceVersion misses nothing) on a task of their own, while the writer goes on with
//!   the next batch. Answers still go out only after the commit (durable, `synchronous_commit`
//!   on) and in revision order (the feed publishes in order and each batch's answers wait for
//!   its last revision).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::backend::{on, Conn};
use super::tx::Tx;
use super::{ops, Inner, Job};
use crate::error::{ApiError, ApiResult};

type Reply = tokio::sync::oneshot::Sender<ApiResult<String>>;

/// At most this many operations share one commit; more wait for the next.
const MAX_BATCH: usize = 512;

pub(super) async fn run(mut conn: Conn, mut jobs: mpsc::Receiver<Job>, inner: Arc<Inner>) {
    let mut rev = inner.revision.load(Ordering::Acquire);
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs_now = std::mem::take(&mut batch);
        rev = run_batch(&mut conn, jobs_now, &inner, rev).await;
    }
    tracing::info!("store writer stopped");
}

/// Execute one or more statements (no parameters) in one round trip.
async fn exec(conn: &mut Conn, sql: &str) -> Result<(), sqlx::Error> {
    on!(conn.either(), |c| sqlx::Executor::execute(c, sql).await.map(|_| ()))
}

/// Begin the batch's transaction; answers the revision to continue from.
async fn begin(conn: &mut Conn, rev: i64, inner: &Inner) -> Result<i64, sqlx::Error> {
    match conn {
        Conn::Sqlite(_) => exec(conn, "BEGIN IMMEDIATE; SAVEPOINT op").await.map(|_| rev),
        Conn::Pg(c) => {
            // One round trip (a simple query of three statements): begin, lock the revision
            // row (waiting while another server's batch holds it), open the first savepoint.
            let asked = std::time::Instant::now();
            // (A query without parameters goes as a simple query: several statements at once.)
            let rows = sqlx::Executor::fetch_all(
                &mut *c,
                "BEGIN; SELECT value FROM meta WHERE key = 'revision' FOR UPDATE; SAVEPOINT op",
            )
            .await?;
            inner.lock_wait_seconds.lock().expect("metrics poisoned").observe(asked.elapsed().as_secs_f64());
            let locked: Option<String> = rows.first().map(|r| sqlx::Row::try_get(r, 0)).transpose()?;
            Ok(locked.and_then(|v| v.parse().ok()).unwrap_or(0))
        }
    }
}

/// Run one batch; answers every job and returns the revision after it.
async fn run_batch(conn: &mut Conn, jobs: Vec<Job>, inner: &Inner, rev: i64) -> i64 {
    let postgres = matches!(conn, Conn::Pg(_));
    let started = std::time::Instant::now();
    inner.writes.fetch_add(jobs.len() as u64, Ordering::Relaxed);
    let rev = match begin(conn, rev, inner).await {
        Ok(rev) => rev,
        Err(e) => {
            let _ = exec(conn, "ROLLBACK").await;
            let err = ApiError::internal("begin transaction", e);
            for job in jobs {
                let _ = job.reply.send(Err(err.clone()));
            }
            return rev;
        }
    };
    let mut tx = Tx {
        conn,
        rev,
        events: Vec::new(),
        now: (inner.clock)(),
        settings: &inner.settings,
        new_tokens: Vec::new(),
        compacted: None,
        cache: Default::default(),
    };
    let count = jobs.len();
    let mut results: Vec<(Reply, ApiResult<String>)> = Vec::with_capacity(count);
    let mut broken: Option<sqlx::Error> = None;
    for (i, Job { op, reply }) in jobs.into_iter().enumerate() {
        if broken.is_some() {
            results.push((reply, Err(ApiError::unavailable("store transaction failed"))));
            continue;
        }
        let mark = (tx.rev, tx.events.len(), tx.new_tokens.len(), tx.compacted);
        // A dry run answers as if done and is undone like a failure.
        let dry_run = matches!(op, ops::Op::DryRun(_));
        let result = ops::apply(&mut tx, op).await;
        let keep = result.is_ok() && !dry_run;
        if !keep {
            tx.rev = mark.0;
            tx.events.truncate(mark.1);
            tx.new_tokens.truncate(mark.2);
            tx.compacted = mark.3;
            // What the operation wrote is undone: so is what the batch remembers.
            tx.cache.clear();
        }
        // Close this operation's savepoint and open the next one in the same round trip.
        let more = i + 1 < count;
        let boundary = match (keep, more) {
            (true, true) => "RELEASE op; SAVEPOINT op",
            (true, false) => "RELEASE op",
            (false, true) => "ROLLBACK TO op; RELEASE op; SAVEPOINT op",
            (false, false) => "ROLLBACK TO op; RELEASE op",
        };
        if let Err(e) = exec(tx.conn, boundary).await {
            broken = Some(e);
        }
        results.push((reply, result));
    }
    let Tx { rev: new_rev, events, new_tokens, compacted, .. } = tx;
    let committed = match broken {
        Some(e) => Err(e),
        // The revision is an integer we produced: formatting it into the SQL is safe.
        None if new_rev != rev || !new_tokens.is_empty() => {
            // Other servers hear of new revisions and of node tokens minted here.
            let notify = if postgres { "NOTIFY flatnet_events; " } else { "" };
            exec(
                conn,
                &format!(
                    "INSERT INTO meta (key, value) VALUES ('revision', '{new_rev}') \
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value; {notify}COMMIT"
                ),
            )
            .await
        }
        None => exec(conn, "COMMIT").await,
    };
    inner.commit_seconds.lock().expect("metrics poisoned").observe(started.elapsed().as_secs_f64());
    if let Err(e) = committed {
        let _ = exec(conn, "ROLLBACK").await;
        let err = ApiError::internal("commit", e);
        for (reply, _) in results {
            let _ = reply.send(Err(err.clone()));
        }
        return rev;
    }

    // Published strictly in revision order, before the writers hear back: a client that
    // writes and then watches from the answer's resourceVersion misses nothing.
    if let Some(c) = compacted {
        inner.compacted.fetch_max(c, Ordering::AcqRel);
    }
    if !new_tokens.is_empty() {
        let mut cache = inner.node_tokens.write().expect("token cache poisoned");
        cache.extend(new_tokens);
    }
    if postgres {
        // The feed publishes these events (with any other server's before them); answer
        // once it has. It reads them from the database, so it cannot fail to see them (it
        // retries until the database answers). The writer goes on with the next batch
        // meanwhile: a feed that lags reads several batches in one query.
        inner.feed_wake.notify_one();
        let mut published = inner.published.subscribe();
        tokio::spawn(async move {
            let _ = published.wait_for(|r| *r >= new_rev).await;
            for (reply, result) in results {
                let _ = reply.send(result);
            }
        });
        return new_rev;
    } else {
        inner.revision.store(new_rev, Ordering::Release);
        for event in events {
            // No receivers is fine: nobody watches.
            let _ = inner.events.send(Arc::new(event));
        }
        inner.published.send_replace(new_rev);
    }
    for (reply, result) in results {
        let _ = reply.send(result);
    }
    new_rev
}
