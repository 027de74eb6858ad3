//! The writer's view of one batch transaction: typed reads and writes of objects that bump
//! the revision and record events, all on the single write connection.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use openapi::{EventType, Node, Pod, Resource};

use super::backend::{on, Conn};
use super::{Change, Kind, Selectable};
use crate::config::Settings;
use crate::error::{ApiError, ApiResult};
use crate::kinds::Served;

fn namespace_of<K: Resource>(obj: &K) -> String {
    if K::NAMESPACED {
        obj.metadata().namespace.clone().unwrap_or_default()
    } else {
        String::new()
    }
}

fn selectable<K: Served>(obj: &K) -> Selectable {
    Selectable { labels: obj.metadata().labels.clone(), node: obj.node_index().map(str::to_string) }
}

pub(super) fn to_json<T: serde::Serialize>(obj: &T) -> ApiResult<String> {
    serde_json::to_string(obj).map_err(|e| ApiError::internal("serialize object", e))
}

fn from_json<K: Resource>(json: &str) -> ApiResult<K> {
    serde_json::from_str(json).map_err(|e| ApiError::internal("decode stored object", e))
}

pub struct Tx<'a> {
    pub conn: &'a mut Conn,
    /// The last revision handed out in this batch.
    pub rev: i64,
    pub events: Vec<Change>,
    pub now: DateTime<Utc>,
    pub settings: &'a Settings,
    /// Node tokens minted in this batch (hash, node), to mirror after commit.
    pub new_tokens: Vec<(String, String)>,
    /// Set by compaction: the new compacted revision.
    pub compacted: Option<i64>,
    /// What this batch has read or written, so that its later operations need not ask the
    /// database again (see [`Cache`]).
    pub cache: Cache,
}

/// Objects and lists a batch has read or written, kept for the batch's later operations
/// (a pod create looks up its namespace, its node and its namespace's services: in a batch
/// of creates, mostly the same ones). Sound because nothing else writes while a batch runs:
/// on SQLite the batch holds the write lock (`BEGIN IMMEDIATE`), on PostgreSQL the
/// revision row that every server's writer locks first (see [`super::writer`]); and every
/// write of an object goes through [`Tx::create`], [`Tx::update`] or [`Tx::delete`], which
/// keep the cache in step (an object written is remembered as written; a list of its kind
/// is forgotten). An operation that fails is rolled back to its savepoint, and the cache
/// with it: [`Cache::clear`].
#[derive(Default)]
pub struct Cache {
    /// (kind, namespace, name) → the stored body, `None` when there is no such object.
    objects: HashMap<(&'static str, String, String), Option<String>>,
    /// (kind, namespace) → the bodies of every object of that kind there, by name.
    lists: HashMap<(&'static str, String), Vec<String>>,
    /// A subnet (its CIDR) → its `ip_cursor` (moved by the `pod_ips` insert trigger).
    pub cursors: HashMap<String, i64>,
}

impl Cache {
    pub fn clear(&mut self) {
        self.objects.clear();
        self.lists.clear();
        self.cursors.clear();
    }

    fn written(&mut self, kind: &'static str, namespace: &str, name: &str, body: Option<String>) {
        self.objects.insert((kind, namespace.to_string(), name.to_string()), body);
        self.lists.retain(|(k, _), _| *k != kind);
    }
}

impl Tx<'_> {
    fn next_rev(&mut self) -> i64 {
        self.rev += 1;
        self.rev
    }

    pub async fn get<K: Served>(&mut self, namespace: &str, name: &str) -> ApiResult<Option<K>> {
        let ns = if K::NAMESPACED { namespace } else { "" };
        let key = (K::KIND, ns.to_string(), name.to_string());
        if let Some(body) = self.cache.objects.get(&key) {
            return body.as_deref().map(from_json).transpose();
        }
        let body: Option<String> = on!(self.conn.either(), |c| sqlx::query_scalar(
            "SELECT body FROM objects WHERE kind = $1 AND namespace = $2 AND name = $3"
        )
        .bind(K::KIND)
        .bind(ns)
        .bind(name)
        .fetch_optional(c)
        .await)?;
        let obj = body.as_deref().map(from_json).transpose();
        self.cache.objects.insert(key, body);
        obj
    }

    /// The node `name` (as [`Tx::get`]), and the batch remembers the `ip_cursor` of the
    /// subnet leased to it: the two reads of binding a pod to a node, in one query.
    pub async fn node_for_binding(&mut self, name: &str) -> ApiResult<Option<Node>> {
        if self.cache.objects.contains_key(&(Node::KIND, String::new(), name.to_string())) {
            return self.get("", name).await;
        }
        // (Joined on the parameter: PostgreSQL's `name` is COLLATE "C", `node_name` not.)
        let row: Option<(String, Option<String>, Option<i64>)> = on!(self.conn.either(), |c| sqlx::query_as(
            "SELECT o.body, s.cidr, s.ip_cursor FROM objects o LEFT JOIN subnets s ON s.node_name = $1 \
             WHERE o.kind = 'Node' AND o.namespace = '' AND o.name = $1"
        )
        .bind(name)
        .fetch_optional(c)
        .await)?;
        let key = (Node::KIND, String::new(), name.to_string());
        let Some((body, cidr, cursor)) = row else {
            self.cache.objects.insert(key, None);
            return Ok(None);
        };
        if let (Some(cidr), Some(cursor)) = (cidr, cursor) {
            self.cache.cursors.entry(cidr).or_insert(cursor);
        }
        let node = from_json(&body)?;
        self.cache.objects.insert(key, Some(body));
        Ok(Some(node))
    }

    /// `get`, or 404.
    pub async fn must_get<K: Served>(&mut self, namespace: &str, name: &str) -> ApiResult<K> {
        self.get(namespace, name).await?.ok_or_else(|| ApiError::not_found(K::KIND, name))
    }

    /// All objects of a kind, in `namespace` when given.
    pub async fn list<K: Served>(&mut self, namespace: Option<&str>) -> ApiResult<Vec<K>> {
        match namespace {
            Some(ns) => self.list_where(ns, |_| true).await,
            None => {
                let bodies: Vec<String> = on!(self.conn.either(), |c| sqlx::query_scalar(
                    "SELECT body FROM objects WHERE kind = $1 ORDER BY namespace, name"
                )
                .bind(K::KIND)
                .fetch_all(c)
                .await)?;
                bodies.iter().map(|b| from_json(b)).collect()
            }
        }
    }

    /// The objects of kind `K` in namespace `ns` whose stored body passes `keep`; only those
    /// are decoded (a service's endpoints decode only the pods its selector picks, not every
    /// pod of the namespace). The bodies are cached for the rest of the batch.
    pub async fn list_where<K: Served>(&mut self, ns: &str, keep: impl Fn(&str) -> bool) -> ApiResult<Vec<K>> {
        let key = (K::KIND, ns.to_string());
        if !self.cache.lists.contains_key(&key) {
            let bodies: Vec<String> = on!(self.conn.either(), |c| sqlx::query_scalar(
                "SELECT body FROM objects WHERE kind = $1 AND namespace = $2 ORDER BY name"
            )
            .bind(K::KIND)
            .bind(ns)
            .fetch_all(c)
            .await)?;
            self.cache.lists.insert(key.clone(), bodies);
        }
        self.cache.lists[&key].iter().filter(|b| keep(b)).map(|b| from_json(b)).collect()
    }

    /// Pods bound to `node` (`Some`), or not bound at all (`None`).
    pub async fn pods_on(&mut self, node: Option<&str>) -> ApiResult<Vec<Pod>> {
        let bodies: Vec<String> = match node {
            Some(n) => on!(self.conn.either(), |c| sqlx::query_scalar(
                "SELECT body FROM objects WHERE kind = 'Pod' AND node_name = $1 ORDER BY namespace, name",
            )
            .bind(n)
            .fetch_all(c)
            .await)?,
            None => on!(self.conn.either(), |c| sqlx::query_scalar(
                "SELECT body FROM objects WHERE kind = 'Pod' AND node_name IS NULL ORDER BY rv"
            )
            .fetch_all(c)
            .await)?,
        };
        bodies.iter().map(|b| from_json(b)).collect()
    }

    /// Every node with the number of pods bound to it (kept by triggers), in one query.
    pub async fn nodes_with_pod_counts(&mut self) -> ApiResult<Vec<(Node, i64)>> {
        let rows: Vec<(String, i64)> = on!(self.conn.either(), |c| sqlx::query_as(
            "SELECT o.body, COALESCE(c.pods, 0) FROM objects o LEFT JOIN node_pods c ON c.node_name = o.name \
             WHERE o.kind = 'Node' ORDER BY o.name",
        )
        .fetch_all(c)
        .await)?;
        rows.iter().map(|(body, pods)| Ok((from_json(body)?, *pods))).collect()
    }

    /// Keep the event of a change for publication after commit. Inserts and updates reach
    /// the `events` table by trigger; a deletion's row is written here.
    async fn record(
        &mut self,
        event_type: EventType,
        kind: Kind,
        namespace: String,
        object: String,
        old: Option<(Selectable, String)>,
        selectable: Selectable,
    ) -> ApiResult<()> {
        let rev = self.rev;
        if event_type == EventType::Deleted {
            on!(self.conn.either(), |c| sqlx::query(
                "INSERT INTO events (rev, type, kind, namespace, object) VALUES ($1, $2, $3, $4, $5)"
            )
            .bind(rev)
            .bind(event_type.as_str())
            .bind(kind.kind)
            .bind(&namespace)
            .bind(&object)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        }
        let (old_sel, old_obj) = match old {
            Some((s, o)) => (Some(s), Some(Arc::from(o))),
            None => (None, None),
        };
        self.events.push(Change {
            rev,
            event_type,
            kind,
            namespace,
            object: object.into(),
            selectable,
            old: old_sel,
            old_object: old_obj,
        });
        Ok(())
    }

    /// Insert a new object: stamps uid (if unset), creation time and resourceVersion.
    pub async fn create<K: Served>(&mut self, obj: &mut K) -> ApiResult<()> {
        let rev = self.next_rev();
        let now = self.now;
        let meta = obj.metadata_mut();
        if meta.uid.is_none() {
            meta.uid = Some(uuid::Uuid::new_v4().to_string());
        }
        meta.creation_timestamp = Some(now);
        meta.resource_version = Some(rev.to_string());
        let json = to_json(obj)?;
        let namespace = namespace_of(obj);
        let result = on!(self.conn.either(), |c| {
            sqlx::query(
            "INSERT INTO objects (kind, namespace, name, uid, rv, node_name, body) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(K::KIND)
        .bind(&namespace)
        .bind(&obj.metadata().name)
        .bind(obj.metadata().uid.as_deref())
        .bind(rev)
        .bind(obj.node_index())
        .bind(&json)
        .execute(c)
        .await.map(|r| r.rows_affected())
        });
        match result {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(ApiError::already_exists(K::KIND, &obj.metadata().name))
            }
            other => other?,
        };
        self.cache.written(K::KIND, &namespace, &obj.metadata().name, Some(json.clone()));
        self.record(EventType::Added, K::INFO, namespace, json, None, selectable(obj)).await
    }

    /// Replace `old` by `obj`. Nothing is written (and no revision spent) when nothing
    /// changed, so repeated identical status reports cost no event.
    pub async fn update<K: Served>(&mut self, old: &K, obj: &mut K) -> ApiResult<()> {
        obj.metadata_mut().resource_version = old.metadata().resource_version.clone();
        obj.metadata_mut().uid = old.metadata().uid.clone();
        obj.metadata_mut().creation_timestamp = old.metadata().creation_timestamp;
        // A write that leaves out the field managers keeps them, as Kubernetes does.
        if obj.metadata().managed_fields.is_empty() {
            obj.metadata_mut().managed_fields = old.metadata().managed_fields.clone();
        }
        if obj == old {
            return Ok(());
        }
        let rev = self.next_rev();
        obj.metadata_mut().resource_version = Some(rev.to_string());
        let json = to_json(obj)?;
        let namespace = namespace_of(obj);
        on!(self.conn.either(), |c| sqlx::query(
            "UPDATE objects SET rv = $1, node_name = $2, body = $3 WHERE kind = $4 AND namespace = $5 AND name = $6"
        )
        .bind(rev)
        .bind(obj.node_index())
        .bind(&json)
        .bind(K::KIND)
        .bind(&namespace)
        .bind(&obj.metadata().name)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        self.cache.written(K::KIND, &namespace, &obj.metadata().name, Some(json.clone()));
        let old_json = to_json(old)?;
        self.record(EventType::Modified, K::INFO, namespace, json, Some((selectable(old), old_json)), selectable(obj))
            .await
    }

    /// Delete; the DELETED event carries the object with the deletion's revision.
    pub async fn delete<K: Served>(&mut self, obj: &mut K) -> ApiResult<()> {
        let rev = self.next_rev();
        obj.metadata_mut().resource_version = Some(rev.to_string());
        let namespace = namespace_of(obj);
        on!(self.conn.either(), |c| sqlx::query(
            "DELETE FROM objects WHERE kind = $1 AND namespace = $2 AND name = $3"
        )
        .bind(K::KIND)
        .bind(&namespace)
        .bind(&obj.metadata().name)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        self.cache.written(K::KIND, &namespace, &obj.metadata().name, None);
        let json = to_json(obj)?;
        self.record(EventType::Deleted, K::INFO, namespace, json, None, selectable(obj)).await
    }

    pub async fn meta_get(&mut self, key: &str) -> ApiResult<Option<String>> {
        Ok(on!(self.conn.either(), |c| sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(c)
            .await)?)
    }

    pub async fn meta_set(&mut self, key: &str, value: &str) -> ApiResult<()> {
        on!(self.conn.either(), |c| sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
