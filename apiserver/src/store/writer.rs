//! The writer task: group commit of queued operations, each in its own savepoint.
//!
//! sqlx runs each SQLite connection on a worker thread, so every statement is a round trip
//! between threads; the writer therefore sends transaction boundaries as one multi-statement
//! call (`RELEASE op; SAVEPOINT op`) instead of one call each.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use sqlx::SqliteConnection;
use tokio::sync::mpsc;

use super::tx::Tx;
use super::{ops, Inner, Job};
use crate::error::{ApiError, ApiResult};

type Reply = tokio::sync::oneshot::Sender<ApiResult<String>>;

/// At most this many operations share one commit; more wait for the next.
const MAX_BATCH: usize = 512;

pub(super) async fn run(mut conn: SqliteConnection, mut jobs: mpsc::Receiver<Job>, inner: Arc<Inner>) {
    let mut rev = inner.revision.load(Ordering::Acquire);
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs_now = std::mem::take(&mut batch);
        rev = run_batch(&mut conn, jobs_now, &inner, rev).await;
    }
    tracing::info!("store writer stopped");
}

/// Execute one or more statements (no parameters) in one round trip.
async fn exec(conn: &mut SqliteConnection, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::Executor::execute(conn, sql).await.map(|_| ())
}

/// Run one batch; answers every job and returns the revision after it.
async fn run_batch(conn: &mut SqliteConnection, jobs: Vec<Job>, inner: &Inner, rev: i64) -> i64 {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE; SAVEPOINT op").await {
        let _ = exec(conn, "ROLLBACK").await;
        let err = ApiError::internal("begin transaction", e);
        for job in jobs {
            let _ = job.reply.send(Err(err.clone()));
        }
        return rev;
    }
    let mut tx = Tx {
        conn,
        rev,
        events: Vec::new(),
        now: (inner.clock)(),
        settings: &inner.settings,
        new_tokens: Vec::new(),
        compacted: None,
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
        None if new_rev != rev => {
            exec(
                conn,
                &format!(
                    "INSERT INTO meta (key, value) VALUES ('revision', '{new_rev}') \
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value; COMMIT"
                ),
            )
            .await
        }
        None => exec(conn, "COMMIT").await,
    };
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
    inner.revision.store(new_rev, Ordering::Release);
    if let Some(c) = compacted {
        inner.compacted.store(c, Ordering::Release);
    }
    if !new_tokens.is_empty() {
        let mut cache = inner.node_tokens.write().expect("token cache poisoned");
        cache.extend(new_tokens);
    }
    for event in events {
        // No receivers is fine: nobody watches.
        let _ = inner.events.send(Arc::new(event));
    }
    for (reply, result) in results {
        let _ = reply.send(result);
    }
    new_rev
}
