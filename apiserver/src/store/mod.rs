//! The store: SQLite through sqlx, one writer, many readers, and the watch event bus.
//!
//! Every write goes through one writer task ([`writer`]) that owns the only write
//! connection. It takes the operations queued at the moment, runs each in its own savepoint
//! inside one `BEGIN IMMEDIATE` transaction, commits once (group commit: one fsync for the
//! batch, `synchronous=FULL`, so an acknowledged write survives `kill -9` and power loss),
//! then publishes the batch's events in revision order and answers the callers. A failing
//! operation rolls back to its savepoint and leaves the others of the batch untouched.
//!
//! The revision is a single counter over all kinds: each change gets the next value, which
//! is the object's `resourceVersion` and the key of its row in the `events` history. Reads
//! use a pool of read connections; WAL gives each read transaction a consistent snapshot.

pub mod ops;
mod tx;
mod writer;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use openapi::{ClusterConfig, EventType, KindInfo};
use serde::Deserialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Row, SqliteConnection};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::config::Settings;
use crate::error::{ApiError, ApiResult};
pub use ops::{Caller, Op, Subresource};

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
        struct Obj {
            metadata: Meta,
            spec: Option<serde_json::Value>,
        }
        match serde_json::from_str::<Obj>(json) {
            Ok(o) => Selectable {
                labels: o.metadata.labels,
                node: o.spec.and_then(|s| serde_json::from_value::<Spec>(s).ok()).and_then(|s| s.node_name),
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
    read: SqlitePool,
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
}

/// A handle on the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

const DB_FILE: &str = "flatnet.db";
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
    /// Open (creating if needed) the database in `data_dir`, run migrations, settle the
    /// cluster configuration with `configure` (given the stored one, if any), and start the
    /// writer. `admin_token` is the token whose bearer may do everything.
    pub async fn open(
        data_dir: &Path,
        configure: impl FnOnce(Option<ClusterConfig>) -> Result<Settings, String>,
        admin_token: &str,
        clock: Clock,
    ) -> anyhow::Result<Store> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(DB_FILE);
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

        let stored: Option<String> =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'config'").fetch_optional(&mut conn).await?;
        let stored = stored.map(|s| serde_json::from_str::<ClusterConfig>(&s)).transpose()?;
        let settings = configure(stored).map_err(anyhow::Error::msg)?;
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('config', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .bind(serde_json::to_string(&settings.cluster)?)
        .execute(&mut conn)
        .await?;
        let revision = meta_i64(&mut conn, "revision").await?;
        let compacted = meta_i64(&mut conn, "compacted").await?;
        let tokens: Vec<(String, String)> =
            sqlx::query_as("SELECT hash, node_name FROM node_tokens").fetch_all(&mut conn).await?;

        let read = SqlitePoolOptions::new().max_connections(4).connect_with(opts.clone()).await?;
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
        });
        tokio::spawn(writer::run(conn, ops_rx, inner.clone()));
        let store = Store { inner };
        store.write(Op::SeedNamespaces).await.map_err(|e| anyhow::anyhow!("seed the namespaces: {}", e.to_status()))?;
        Ok(store)
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
        Ok(sqlx::query_scalar("SELECT body FROM objects WHERE kind = ? AND namespace = ? AND name = ?")
            .bind(kind.kind)
            .bind(namespace)
            .bind(name)
            .fetch_optional(&self.inner.read)
            .await?)
    }

    /// All objects of `kind` (in `namespace`, on `node` when given), ordered by namespace and
    /// name, with the revision they were read at.
    pub async fn list_raw(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        node: Option<&str>,
    ) -> ApiResult<(i64, Vec<String>)> {
        let mut tx = self.inner.read.begin().await?;
        let rev = meta_i64(&mut tx, "revision").await?;
        let mut sql = String::from("SELECT body FROM objects WHERE kind = ?");
        if namespace.is_some() {
            sql.push_str(" AND namespace = ?");
        }
        if node.is_some() {
            sql.push_str(" AND node_name = ?");
        }
        sql.push_str(" ORDER BY namespace, name");
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
    }

    /// Events of `kind` (in `namespace`) after `after`, from the history. Fails with 410
    /// when that part of the history was compacted.
    pub async fn history(&self, kind: Kind, namespace: Option<&str>, after: i64) -> ApiResult<Vec<Arc<Change>>> {
        let mut tx = self.inner.read.begin().await?;
        let compacted = meta_i64(&mut tx, "compacted").await?;
        if after < compacted {
            return Err(gone(after, compacted));
        }
        let mut sql = String::from(
            "SELECT rev, type, kind, namespace, object, old_object FROM events WHERE kind = ? AND rev > ?",
        );
        if namespace.is_some() {
            sql.push_str(" AND namespace = ?");
        }
        sql.push_str(" ORDER BY rev");
        let mut q = sqlx::query(&sql).bind(kind.kind).bind(after);
        if let Some(ns) = namespace {
            q = q.bind(ns);
        }
        let rows = q.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows.into_iter()
            .map(|row| {
                let object: String = row.get("object");
                let old: Option<String> = row.get("old_object");
                let event_type = match row.get::<String, _>("type").as_str() {
                    "ADDED" => EventType::Added,
                    "MODIFIED" => EventType::Modified,
                    _ => EventType::Deleted,
                };
                Ok(Arc::new(Change {
                    rev: row.get("rev"),
                    event_type,
                    kind: openapi::registry::find(row.get::<&str, _>("kind")).unwrap_or(kind),
                    namespace: row.get("namespace"),
                    selectable: Selectable::from_json(&object),
                    old: old.as_deref().map(Selectable::from_json),
                    object: object.into(),
                    old_object: old.map(Into::into),
                }))
            })
            .collect()
    }

    /// Number of objects of each kind, for `/metrics`.
    pub async fn count_by_kind(&self) -> ApiResult<Vec<(String, i64)>> {
        Ok(sqlx::query_as("SELECT kind, COUNT(*) FROM objects GROUP BY kind ORDER BY kind")
            .fetch_all(&self.inner.read)
            .await?)
    }

    /// Whether the database answers (for `/healthz`).
    pub async fn ping(&self) -> ApiResult<()> {
        let mut conn = self.inner.read.acquire().await?;
        conn.ping().await?;
        Ok(())
    }
}

pub fn gone(asked: i64, compacted: i64) -> ApiError {
    ApiError::gone(format!(
        "resourceVersion {asked} is too old: history before {} was compacted; list again",
        compacted + 1
    ))
}

async fn meta_i64(conn: &mut SqliteConnection, key: &str) -> Result<i64, sqlx::Error> {
    let v: Option<String> =
        sqlx::query_scalar("SELECT value FROM meta WHERE key = ?").bind(key).fetch_optional(conn).await?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}
