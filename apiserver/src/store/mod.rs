//! The store: SQLite (embedded, the default) or PostgreSQL through sqlx, one writer per
//! server, many readers, and the watch event bus. See [`backend`] for how one set of
//! statements runs on both engines and [`feed`] for how servers sharing a PostgreSQL
//! database see each other's writes.
//!
//! Every write goes through one writer task ([`writer`]) that owns the only write
//! connection. It takes the operations queued at the moment, runs each in its own savepoint
//! inside one transaction (`BEGIN IMMEDIATE` on SQLite; on PostgreSQL, one that first locks
//! the revision row, which serializes the writers of all servers), commits once (group commit: one fsync for the
//! batch, `synchronous=FULL`, so an acknowledged write survives `kill -9` and power loss),
//! then publishes the batch's events in revision order and answers the callers (on
//! PostgreSQL the change feed publishes them, see [`feed`]). A failing
//! operation rolls back to its savepoint and leaves the others of the batch untouched.
//!
//! The revision is a single counter over all kinds: each change gets the next value, which
//! is the object's `resourceVersion` and the key of its row in the `events` history. Reads
//! use a pool of read connections; WAL gives each read transaction a consistent snapshot
//! (REPEATABLE READ on PostgreSQL).

pub mod backend;
mod feed;
mod leader;
pub mod ops;
mod tx;
mod writer;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use chrono::{DateTime, Utc};
use openapi::{ClusterConfig, EventType, KindInfo};
use serde::Deserialize;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Row};
use tokio::sync::{broadcast, mpsc, oneshot, watch, Notify};

pub use backend::Location;
use backend::{on, Conn, Pool};

use crate::config::Settings;
use crate::error::{ApiError, ApiResult};
pub use ops::{Caller, Op, Subresource};

/// An integer kept in `meta` (0 when absent), read on `$conn` (any sqlx executor).
macro_rules! meta_i64 {
    ($conn:expr, $key:expr) => {
        sqlx::query_scalar::<_, String>("SELECT value FROM meta WHERE key = $1")
            .bind($key)
            .fetch_optional($conn)
            .await
            .map(|v| v.and_then(|v| v.parse::<i64>().ok()).unwrap_or(0))
    };
}

/// Start a read-only transaction that sees one snapshot for all its statements: WAL gives
/// SQLite that for free; PostgreSQL's default (READ COMMITTED) takes a snapshot per
/// statement, so reads that pair the revision with rows ask for REPEATABLE READ.
macro_rules! begin_snapshot {
    ($pool:expr, postgres = $pg:expr) => {{
        let mut tx = $pool.begin().await?;
        if $pg {
            sqlx::Executor::execute(&mut *tx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").await?;
        }
        tx
    }};
}

/// Rebuild a [`Change`] from a row of `events` (`rev, type, kind, namespace, object,
/// old_object`); `$fallback` is the kind to assume if the stored name is unknown (a kind
/// removed since); `None` (no fallback) answers `None` for such rows.
macro_rules! change_from_row {
    ($row:expr, $fallback:expr) => {{
        let row = $row;
        let object: String = row.get("object");
        let old: Option<String> = row.get("old_object");
        let event_type = match row.get::<String, _>("type").as_str() {
            "ADDED" => openapi::EventType::Added,
            "MODIFIED" => openapi::EventType::Modified,
            _ => openapi::EventType::Deleted,
        };
        let kind_name: String = row.get("kind");
        openapi::registry::find(&kind_name).or($fallback).map(|kind| $crate::store::Change {
            rev: row.get("rev"),
            event_type,
            kind,
            namespace: row.get("namespace"),
            selectable: $crate::store::Selectable::from_json(&object),
            old: old.as_deref().map($crate::store::Selectable::from_json),
            object: object.into(),
            old_object: old.map(Into::into),
        })
    }};
}
use change_from_row;

/// The time source; tests substitute a clock they move by hand.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// A kind kept in the `objects` table, keyed by its name ([`KindInfo::kind`]): the
/// registry's entry, so the store has no list of kinds of its own.
pub type Kind = &'static KindInfo;

/// What watch filters look at in an object: its labels and (pods) its node.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Selectable {
    pub labels: BTreeMap<String, String>,
    pub node: Option<String>,
}

impl Selectable {
    pub(crate) fn from_json(json: &str) -> Selectable {
        #[derive(Deserialize)]
        struct Meta {
            #[serde(default)]
            labels: BTreeMap<String, String>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Spec {
            node_name: Option<String>,
        }
        #[derive(Deserialize)]
        struct Obj<'a> {
            metadata: Meta,
            // Left unparsed until read (a spec that is not a pod's is not an error).
            #[serde(borrow)]
            spec: Option<&'a serde_json::value::RawValue>,
        }
        match serde_json::from_str::<Obj>(json) {
            Ok(o) => Selectable {
                labels: o.metadata.labels,
                node: o.spec.and_then(|s| serde_json::from_str::<Spec>(s.get()).ok()).and_then(|s| s.node_name),
            },
            Err(_) => Selectable::default(),
        }
    }
}

/// One committed change, as kept in the history and sent to watchers.
#[derive(Clone, Debug)]
pub struct Change {
    pub rev: i64,
    pub event_type: EventType,
    pub kind: Kind,
    pub namespace: String,
    /// The object after the change, serialized once for every watcher.
    pub object: Arc<str>,
    pub selectable: Selectable,
    /// For MODIFIED: what the object looked like before, so a watch filtered by labels or
    /// node can turn the change into ADDED or DELETED.
    pub old: Option<Selectable>,
    pub old_object: Option<Arc<str>>,
}

struct Job {
    op: Op,
    reply: oneshot::Sender<ApiResult<String>>,
}

struct Inner {
    read: Pool,
    ops: mpsc::Sender<Job>,
    events: broadcast::Sender<Arc<Change>>,
    settings: Settings,
    /// The last committed (and published) revision.
    revision: AtomicI64,
    /// Events at or below this revision were compacted away.
    compacted: AtomicI64,
    clock: Clock,
    admin_token_hash: String,
    /// SHA-256 of node tokens → node name, mirrored from `node_tokens`.
    node_tokens: RwLock<HashMap<String, String>>,
    /// PostgreSQL: wakes this server's change feed after a local commit ([`feed`]).
    feed_wake: Notify,
    /// The revision published on the bus so far; on PostgreSQL a batch's answers wait for
    /// it, so a write's answer never runs ahead of this server's watches.
    published: watch::Sender<i64>,
    /// Whether this server runs the work that must run once ([`leader`]); always on SQLite.
    leader: AtomicBool,
    /// PostgreSQL: the change feed's wake-ups by cause ([`feed::Wake`]).
    feed_wakes: [AtomicU64; 3],
    /// The watch fan-out fed by `events`, started by the first watch ([`crate::watch::Hub`]).
    hub: OnceLock<Arc<crate::watch::Hub>>,
    /// Time from a write batch's begin to its commit.
    commit_seconds: Mutex<crate::metrics::Histogram>,
    /// PostgreSQL: time a batch waited for the revision row lock (other servers' batches).
    lock_wait_seconds: Mutex<crate::metrics::Histogram>,
    /// Operations run by the writer (dry runs and failed ones included).
    writes: AtomicU64,
}

/// A handle on the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// The SQLite file in the data directory, when `--store` does not say otherwise.
pub const DB_FILE: &str = "flatnet.db";
/// Capacity of the in-memory event bus; a watcher further behind reads from the database.
const EVENT_BUS: usize = 4096;

/// A new bearer token: 32 random bytes, hex.
pub fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn hash_token(token: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Open (creating if needed) the SQLite database in `data_dir`; see [`Store::open_at`].
    pub async fn open(
        data_dir: &Path,
        configure: impl FnOnce(Option<ClusterConfig>) -> Result<Settings, String>,
        admin_token: &str,
        clock: Clock,
    ) -> anyhow::Result<Store> {
        std::fs::create_dir_all(data_dir)?;
        Store::open_at(&Location::Sqlite(data_dir.join(DB_FILE)), configure, admin_token, clock).await
    }

    /// Open (creating if needed) the database at `location`, run migrations, settle the
    /// cluster configuration with `configure` (given the stored one, if any), and start the
    /// writer (and, on PostgreSQL, the change feed). `admin_token` is the token whose bearer
    /// may do everything.
    pub async fn open_at(
        location: &Location,
        configure: impl FnOnce(Option<ClusterConfig>) -> Result<Settings, String>,
        admin_token: &str,
        clock: Clock,
    ) -> anyhow::Result<Store> {
        let mut pg_opts = None;
        let (mut conn, read) = match location {
            Location::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(std::time::Duration::from_secs(10))
                    // 64 MiB page cache per connection: lists and the writer's lookups stay in memory.
                    .pragma("cache_size", "-65536")
                    .disable_statement_logging();
                let mut conn = opts.connect().await?;
                sqlx::migrate!("./migrations").run(&mut conn).await?;
                let read = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await?;
                (Conn::Sqlite(conn), Pool::Sqlite(read))
            }
            Location::Postgres(url) => {
                // Commits wait for the WAL flush (synchronous_commit on, PostgreSQL's default):
                // an acknowledged write survives kill -9 of the server and of the database.
                let opts = PgConnectOptions::from_str(url)?.disable_statement_logging();
                let mut conn = opts.connect().await?;
                // Several servers may start at once: sqlx's migrator takes an advisory lock.
                sqlx::migrate!("./migrations_pg").run(&mut conn).await?;
                let read = PgPoolOptions::new().max_connections(8).connect_with(opts.clone()).await?;
                pg_opts = Some(opts);
                (Conn::Pg(conn), Pool::Pg(read))
            }
        };

        let stored: Option<String> =
            on!(conn.either(), |c| sqlx::query_scalar("SELECT value FROM meta WHERE key = 'config'")
                .fetch_optional(c)
                .await)?;
        let stored = stored.map(|s| serde_json::from_str::<ClusterConfig>(&s)).transpose()?;
        let settings = configure(stored).map_err(anyhow::Error::msg)?;
        let config = serde_json::to_string(&settings.cluster)?;
        on!(conn.either(), |c| sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('config', $1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .bind(&config)
        .execute(c)
        .await
        .map(|_| ()))?;
        let revision = on!(conn.either(), |c| meta_i64!(c, "revision"))?;
        let compacted = on!(conn.either(), |c| meta_i64!(c, "compacted"))?;
        let tokens: Vec<(String, String)> =
            on!(conn.either(), |c| sqlx::query_as("SELECT hash, node_name FROM node_tokens").fetch_all(c).await)?;

        let postgres = location.is_postgres();
        let (ops_tx, ops_rx) = mpsc::channel(4096);
        let (events, _) = broadcast::channel(EVENT_BUS);
        let inner = Arc::new(Inner {
            read,
            ops: ops_tx,
            events,
            settings,
            revision: AtomicI64::new(revision),
            compacted: AtomicI64::new(compacted),
            clock,
            admin_token_hash: hash_token(admin_token),
            node_tokens: RwLock::new(tokens.into_iter().collect()),
            feed_wake: Notify::new(),
            published: watch::Sender::new(revision),
            leader: AtomicBool::new(!postgres),
            feed_wakes: Default::default(),
            hub: OnceLock::new(),
            commit_seconds: Default::default(),
            lock_wait_seconds: Default::default(),
            writes: AtomicU64::new(0),
        });
        if let Some(opts) = pg_opts {
            feed::start(inner.clone()).await?;
            leader::start(inner.clone(), opts);
        }
        tokio::spawn(writer::run(conn, ops_rx, inner.clone()));
        let store = Store { inner };
        store.write(Op::SeedNamespaces).await.map_err(|e| anyhow::anyhow!("seed the namespaces: {}", e.to_status()))?;
        Ok(store)
    }

    /// Whether this server runs the work that must run once (the periodic tick): on
    /// PostgreSQL, the one holding the database's leader lock ([`leader`]); on SQLite, always.
    pub fn is_leader(&self) -> bool {
        self.inner.leader.load(Ordering::Acquire)
    }

    /// This server's watch fan-out (started on first use).
    pub fn hub(&self) -> Arc<crate::watch::Hub> {
        self.inner.hub.get_or_init(|| crate::watch::Hub::start(self.inner.events.subscribe(), self.revision())).clone()
    }

    /// The store's Prometheus series: leadership, backend, commit latency, watchers.
    pub fn metrics_text(&self) -> String {
        let backend = if self.is_postgres() { "postgres" } else { "sqlite" };
        let mut out = format!(
            "# HELP flatnet_apiserver_leader Whether this server runs the once-per-cluster work (1) or not (0).\n\
             # TYPE flatnet_apiserver_leader gauge\n\
             flatnet_apiserver_leader {}\n\
             # HELP flatnet_apiserver_store_info The store's backend.\n\
             # TYPE flatnet_apiserver_store_info gauge\n\
             flatnet_apiserver_store_info{{backend=\"{backend}\"}} 1\n\
             # HELP flatnet_apiserver_store_revision The newest revision published to this server's watches.\n\
             # TYPE flatnet_apiserver_store_revision gauge\n\
             flatnet_apiserver_store_revision {}\n",
            u8::from(self.is_leader()),
            self.revision()
        );
        if self.is_postgres() {
            out.push_str(
                "# HELP flatnet_apiserver_feed_wakeups_total Reads of the shared event table by what woke them \
                 (notify: a commit's NOTIFY; local: this server's commit; timer: the safety net).\n\
                 # TYPE flatnet_apiserver_feed_wakeups_total counter\n",
            );
            for (cause, n) in feed::WAKE_CAUSES.iter().zip(&self.inner.feed_wakes) {
                let n = n.load(Ordering::Relaxed);
                out.push_str(&format!("flatnet_apiserver_feed_wakeups_total{{cause=\"{cause}\"}} {n}\n"));
            }
        }
        out.push_str(
            "# HELP flatnet_apiserver_store_commit_duration_seconds Time from a write batch's begin to its commit \
             (every write waits for one).\n# TYPE flatnet_apiserver_store_commit_duration_seconds histogram\n",
        );
        self.inner.commit_seconds.lock().expect("metrics poisoned").render(
            &mut out,
            "flatnet_apiserver_store_commit_duration_seconds",
            "",
        );
        out.push_str(&format!(
            "# HELP flatnet_apiserver_store_writes_total Write operations run by this server's writer \
             (over the commit count: the mean batch size).\n\
             # TYPE flatnet_apiserver_store_writes_total counter\n\
             flatnet_apiserver_store_writes_total {}\n",
            self.inner.writes.load(Ordering::Relaxed)
        ));
        if self.is_postgres() {
            out.push_str(
                "# HELP flatnet_apiserver_store_lock_wait_seconds Time a write batch waited for the revision row \
                 (held by another server's batch).\n# TYPE flatnet_apiserver_store_lock_wait_seconds histogram\n",
            );
            self.inner.lock_wait_seconds.lock().expect("metrics poisoned").render(
                &mut out,
                "flatnet_apiserver_store_lock_wait_seconds",
                "",
            );
        }
        if let Some(hub) = self.inner.hub.get() {
            out.push_str(&hub.metrics_text());
        }
        out
    }

    /// Whether this store is on PostgreSQL (shared with other servers).
    pub fn is_postgres(&self) -> bool {
        self.inner.is_postgres()
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.inner.clock)()
    }

    pub fn revision(&self) -> i64 {
        self.inner.revision.load(Ordering::Acquire)
    }

    pub fn compacted(&self) -> i64 {
        self.inner.compacted.load(Ordering::Acquire)
    }

    /// Who a bearer token belongs to, if anyone.
    pub fn authenticate(&self, token: &str) -> Option<Caller> {
        let hash = hash_token(token);
        if hash == self.inner.admin_token_hash {
            return Some(Caller::Admin);
        }
        let tokens = self.inner.node_tokens.read().expect("token cache poisoned");
        tokens.get(&hash).map(|node| Caller::Node(node.clone()))
    }

    /// PostgreSQL: add `token` to the cache if the database knows it as a node token (minted
    /// on another server, not yet seen by this one's feed). Errors count as unknown.
    pub async fn learn_node_token(&self, token: &str) {
        let Pool::Pg(pool) = &self.inner.read else { return };
        let hash = hash_token(token);
        let node: Result<Option<String>, _> = sqlx::query_scalar("SELECT node_name FROM node_tokens WHERE hash = $1")
            .bind(&hash)
            .fetch_optional(pool)
            .await;
        if let Ok(Some(node)) = node {
            self.inner.node_tokens.write().expect("token cache poisoned").insert(hash, node);
        }
    }

    /// The hashes of the tokens minted for `node`: its agent accepts them as proof that a
    /// request comes from the API server (only the server holds them; see `nodeagent::logs`).
    pub fn node_token_hashes(&self, node: &str) -> Vec<String> {
        let tokens = self.inner.node_tokens.read().expect("token cache poisoned");
        tokens.iter().filter(|(_, n)| *n == node).map(|(hash, _)| hash.clone()).collect()
    }

    /// Run a write through the writer; answers the written object's JSON.
    pub async fn write(&self, op: Op) -> ApiResult<String> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .ops
            .send(Job { op, reply })
            .await
            .map_err(|_| ApiError::unavailable("the store's writer has stopped"))?;
        rx.await.map_err(|_| ApiError::unavailable("the store's writer has stopped"))?
    }

    /// Subscribe to events committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.inner.events.subscribe()
    }

    pub async fn get_raw(&self, kind: Kind, namespace: &str, name: &str) -> ApiResult<Option<String>> {
        Ok(on!(self.inner.read.either(), |p| sqlx::query_scalar(
            "SELECT body FROM objects WHERE kind = $1 AND namespace = $2 AND name = $3"
        )
        .bind(kind.kind)
        .bind(namespace)
        .bind(name)
        .fetch_optional(p)
        .await)?)
    }

    /// All objects of `kind` (in `namespace`, on `node` when given), ordered by namespace and
    /// name, with the revision they were read at.
    pub async fn list_raw(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        node: Option<&str>,
    ) -> ApiResult<(i64, Vec<String>)> {
        let mut sql = String::from("SELECT body FROM objects WHERE kind = $1");
        let mut n = 1;
        if namespace.is_some() {
            n += 1;
            sql.push_str(&format!(" AND namespace = ${n}"));
        }
        if node.is_some() {
            n += 1;
            sql.push_str(&format!(" AND node_name = ${n}"));
        }
        sql.push_str(" ORDER BY namespace, name");
        let postgres = self.is_postgres();
        on!(self.inner.read.either(), |p| {
            let mut tx = begin_snapshot!(p, postgres = postgres);
            let rev = meta_i64!(&mut *tx, "revision")?;
            let mut q = sqlx::query_scalar::<_, String>(&sql).bind(kind.kind);
            if let Some(ns) = namespace {
                q = q.bind(ns);
            }
            if let Some(n) = node {
                q = q.bind(n);
            }
            let items = q.fetch_all(&mut *tx).await?;
            tx.commit().await?;
            Ok((rev, items))
        })
    }

    /// Events of `kind` (in `namespace`) after `after`, from the history. Fails with 410
    /// when that part of the history was compacted.
    pub async fn history(&self, kind: Kind, namespace: Option<&str>, after: i64) -> ApiResult<Vec<Arc<Change>>> {
        let mut sql = String::from(
            "SELECT rev, type, kind, namespace, object, old_object FROM events WHERE kind = $1 AND rev > $2",
        );
        if namespace.is_some() {
            sql.push_str(" AND namespace = $3");
        }
        sql.push_str(" ORDER BY rev");
        let postgres = self.is_postgres();
        on!(self.inner.read.either(), |p| {
            let mut tx = begin_snapshot!(p, postgres = postgres);
            let compacted = meta_i64!(&mut *tx, "compacted")?;
            if after < compacted {
                return Err(gone(after, compacted));
            }
            let mut q = sqlx::query(&sql).bind(kind.kind).bind(after);
            if let Some(ns) = namespace {
                q = q.bind(ns);
            }
            let rows = q.fetch_all(&mut *tx).await?;
            tx.commit().await?;
            Ok(rows.iter().filter_map(|row| change_from_row!(row, Some(kind)).map(Arc::new)).collect())
        })
    }

    /// Number of objects of each kind, for `/metrics`.
    pub async fn count_by_kind(&self) -> ApiResult<Vec<(String, i64)>> {
        Ok(on!(self.inner.read.either(), |p| sqlx::query_as(
            "SELECT kind, COUNT(*) FROM objects GROUP BY kind ORDER BY kind"
        )
        .fetch_all(p)
        .await)?)
    }

    /// Whether the database answers (for `/healthz`).
    pub async fn ping(&self) -> ApiResult<()> {
        on!(self.inner.read.either(), |p| {
            let mut conn = p.acquire().await?;
            conn.ping().await?;
        });
        Ok(())
    }
}

impl Inner {
    fn is_postgres(&self) -> bool {
        matches!(self.read, Pool::Pg(_))
    }
}

pub fn gone(asked: i64, compacted: i64) -> ApiError {
    ApiError::gone(format!(
        "resourceVersion {asked} is too old: history before {} was compacted; list again",
        compacted + 1
    ))
}
