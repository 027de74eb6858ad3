//! The writer's view of one batch transaction: typed reads and writes of objects that bump
//! the revision and record events, all on the single write connection.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use openapi::{EventType, Node, Pod, Resource};
use sqlx::SqliteConnection;

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
    pub conn: &'a mut SqliteConnection,
    /// The last revision handed out in this batch.
    pub rev: i64,
    pub events: Vec<Change>,
    pub now: DateTime<Utc>,
    pub settings: &'a Settings,
    /// Node tokens minted in this batch (hash, node), to mirror after commit.
    pub new_tokens: Vec<(String, String)>,
    /// Set by compaction: the new compacted revision.
    pub compacted: Option<i64>,
}

impl Tx<'_> {
    fn next_rev(&mut self) -> i64 {
        self.rev += 1;
        self.rev
    }

    pub async fn get<K: Served>(&mut self, namespace: &str, name: &str) -> ApiResult<Option<K>> {
        let ns = if K::NAMESPACED { namespace } else { "" };
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM objects WHERE kind = ? AND namespace = ? AND name = ?")
                .bind(K::KIND)
                .bind(ns)
                .bind(name)
                .fetch_optional(&mut *self.conn)
                .await?;
        body.as_deref().map(from_json).transpose()
    }

    /// `get`, or 404.
    pub async fn must_get<K: Served>(&mut self, namespace: &str, name: &str) -> ApiResult<K> {
        self.get(namespace, name).await?.ok_or_else(|| ApiError::not_found(K::KIND, name))
    }

    /// All objects of a kind, in `namespace` when given.
    pub async fn list<K: Served>(&mut self, namespace: Option<&str>) -> ApiResult<Vec<K>> {
        let bodies: Vec<String> = match namespace {
            Some(ns) => {
                sqlx::query_scalar("SELECT body FROM objects WHERE kind = ? AND namespace = ? ORDER BY name")
                    .bind(K::KIND)
                    .bind(ns)
                    .fetch_all(&mut *self.conn)
                    .await?
            }
            None => {
                sqlx::query_scalar("SELECT body FROM objects WHERE kind = ? ORDER BY namespace, name")
                    .bind(K::KIND)
                    .fetch_all(&mut *self.conn)
                    .await?
            }
        };
        bodies.iter().map(|b| from_json(b)).collect()
    }

    /// Pods bound to `node` (`Some`), or not bound at all (`None`).
    pub async fn pods_on(&mut self, node: Option<&str>) -> ApiResult<Vec<Pod>> {
        let bodies: Vec<String> = match node {
            Some(n) => {
                sqlx::query_scalar(
                    "SELECT body FROM objects WHERE kind = 'Pod' AND node_name = ? ORDER BY namespace, name",
                )
                .bind(n)
                .fetch_all(&mut *self.conn)
                .await?
            }
            None => {
                sqlx::query_scalar("SELECT body FROM objects WHERE kind = 'Pod' AND node_name IS NULL ORDER BY rv")
                    .fetch_all(&mut *self.conn)
                    .await?
            }
        };
        bodies.iter().map(|b| from_json(b)).collect()
    }

    /// Every node with the number of pods bound to it (kept by triggers), in one query.
    pub async fn nodes_with_pod_counts(&mut self) -> ApiResult<Vec<(Node, i64)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT o.body, COALESCE(c.pods, 0) FROM objects o LEFT JOIN node_pods c ON c.node_name = o.name \
             WHERE o.kind = 'Node' ORDER BY o.name",
        )
        .fetch_all(&mut *self.conn)
        .await?;
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
            sqlx::query("INSERT INTO events (rev, type, kind, namespace, object) VALUES (?, ?, ?, ?, ?)")
                .bind(rev)
                .bind(event_type.as_str())
                .bind(kind.kind)
                .bind(&namespace)
                .bind(&object)
                .execute(&mut *self.conn)
                .await?;
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
        let result = sqlx::query(
            "INSERT INTO objects (kind, namespace, name, uid, rv, node_name, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(K::KIND)
        .bind(&namespace)
        .bind(&obj.metadata().name)
        .bind(obj.metadata().uid.as_deref())
        .bind(rev)
        .bind(obj.node_index())
        .bind(&json)
        .execute(&mut *self.conn)
        .await;
        match result {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(ApiError::already_exists(K::KIND, &obj.metadata().name))
            }
            other => other?,
        };
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
        sqlx::query("UPDATE objects SET rv = ?, node_name = ?, body = ? WHERE kind = ? AND namespace = ? AND name = ?")
            .bind(rev)
            .bind(obj.node_index())
            .bind(&json)
            .bind(K::KIND)
            .bind(&namespace)
            .bind(&obj.metadata().name)
            .execute(&mut *self.conn)
            .await?;
        let old_json = to_json(old)?;
        self.record(EventType::Modified, K::INFO, namespace, json, Some((selectable(old), old_json)), selectable(obj))
            .await
    }

    /// Delete; the DELETED event carries the object with the deletion's revision.
    pub async fn delete<K: Served>(&mut self, obj: &mut K) -> ApiResult<()> {
        let rev = self.next_rev();
        obj.metadata_mut().resource_version = Some(rev.to_string());
        let namespace = namespace_of(obj);
        sqlx::query("DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?")
            .bind(K::KIND)
            .bind(&namespace)
            .bind(&obj.metadata().name)
            .execute(&mut *self.conn)
            .await?;
        let json = to_json(obj)?;
        self.record(EventType::Deleted, K::INFO, namespace, json, None, selectable(obj)).await
    }

    pub async fn meta_get(&mut self, key: &str) -> ApiResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = ?").bind(key).fetch_optional(&mut *self.conn).await?)
    }

    pub async fn meta_set(&mut self, key: &str, value: &str) -> ApiResult<()> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&mut *self.conn)
        .await?;
        Ok(())
    }
}
