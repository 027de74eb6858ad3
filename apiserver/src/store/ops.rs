//! The write operations: every allocation, binding and endpoints update happens here, in
//! the same transaction as the write that needs it.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use chrono::Duration;
use futures::future::BoxFuture;
use ipnetwork::Ipv4Network;
use openapi::policy::{INITIAL_NAMESPACES, NAMESPACE_NAME_LABEL};
use openapi::{
    micro_time, ConditionStatus, Endpoints, Event, EventSource, Heartbeat, Lease, LeaseSpec, Namespace, Node,
    NodeCondition, NodeLease, NodeLeaseSpec, NodeToken, ObjectReference, Pod, PodCondition, PodPhase, Resource,
    Service, ServiceType, NODE_LEASE_NAMESPACE,
};

use super::backend::on;
use super::tx::{to_json as json, Tx};
use super::{hash_token, Selectable};
use crate::alloc;
use crate::endpoints;
use crate::error::{ApiError, ApiResult};
use crate::kinds::Served;

/// Who asks for a write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    Admin,
    /// A node agent: may write its own node and the status of pods bound to it.
    Node(String),
}

impl Caller {
    pub fn require_admin(&self) -> ApiResult<()> {
        match self {
            Caller::Admin => Ok(()),
            Caller::Node(n) => Err(ApiError::forbidden(format!("node {n:?} may not do this: admin token required"))),
        }
    }

    /// The admin, or the node `node` itself.
    pub fn require_node(&self, node: &str) -> ApiResult<()> {
        match self {
            Caller::Admin => Ok(()),
            Caller::Node(n) if n == node => Ok(()),
            Caller::Node(n) => Err(ApiError::forbidden(format!("node {n:?} may not write node {node:?}"))),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subresource {
    Main,
    Status,
}

/// A write, queued to the writer.
#[derive(Debug)]
pub enum Op {
    CreateNode(Node),
    UpdateNode(Node, Subresource),
    DeleteNode(String),
    Heartbeat(String, Heartbeat),
    MintNodeToken(String),
    CreatePod(Pod),
    UpdatePod(Pod, Subresource, Caller),
    DeletePod(String, String),
    CreateService(Service),
    UpdateService(Service),
    DeleteService(String, String),
    CreateEvent(Event, Caller),
    CreateNamespace(Namespace),
    UpdateNamespace(Namespace),
    DeleteNamespace(String),
    /// At start: the initial namespaces, and one for every namespace objects are in (a
    /// store written before namespaces were objects).
    SeedNamespaces,
    /// A write of a kind with no write logic of its own.
    Plain(Box<dyn PlainWrite>),
    /// Periodic: lease expiry and reclamation, binding of pending pods, history compaction.
    Tick,
    /// `dryRun=All`: the write runs, answers, and is rolled back (the writer undoes it).
    DryRun(Box<Op>),
}

pub(super) async fn apply(tx: &mut Tx<'_>, op: Op) -> ApiResult<String> {
    match op {
        Op::CreateNode(node) => create_node(tx, node).await,
        Op::UpdateNode(node, sub) => update_node(tx, node, sub).await,
        Op::DeleteNode(name) => delete_node(tx, &name).await,
        Op::Heartbeat(name, hb) => heartbeat(tx, &name, hb).await,
        Op::MintNodeToken(name) => mint_node_token(tx, &name).await,
        Op::CreatePod(pod) => create_pod(tx, pod).await,
        Op::UpdatePod(pod, sub, caller) => update_pod(tx, pod, sub, &caller).await,
        Op::DeletePod(ns, name) => delete_pod(tx, &ns, &name).await,
        Op::CreateService(svc) => create_service(tx, svc).await,
        Op::UpdateService(svc) => update_service(tx, svc).await,
        Op::DeleteService(ns, name) => delete_service(tx, &ns, &name).await,
        Op::CreateEvent(ev, caller) => create_event(tx, ev, &caller).await,
        Op::CreateNamespace(ns) => create_namespace(tx, ns).await,
        Op::UpdateNamespace(ns) => update_namespace(tx, ns).await,
        Op::DeleteNamespace(name) => delete_namespace(tx, &name).await,
        Op::SeedNamespaces => seed_namespaces(tx).await.map(|()| "{}".to_string()),
        Op::Plain(write) => write.apply(tx).await,
        Op::Tick => tick(tx).await.map(|()| "{}".to_string()),
        Op::DryRun(op) => Box::pin(apply(tx, *op)).await,
    }
}

/// A write of a kind with no write logic of its own (`Served`'s default operations): the
/// object is created, replaced or deleted as sent, with no allocation or side effect.
#[derive(Debug)]
pub enum Plain<K> {
    Create(K),
    /// Replace the object named in its metadata; a stale `resourceVersion` is a conflict.
    Update(K),
    Delete {
        namespace: String,
        name: String,
    },
}

/// A [`Plain`] write of any kind, as the writer runs it.
pub trait PlainWrite: Send + std::fmt::Debug {
    fn apply<'t>(self: Box<Self>, tx: &'t mut Tx<'_>) -> BoxFuture<'t, ApiResult<String>>;
}

impl<K: Served> PlainWrite for Plain<K> {
    fn apply<'t>(self: Box<Self>, tx: &'t mut Tx<'_>) -> BoxFuture<'t, ApiResult<String>> {
        Box::pin(async move {
            let obj = match *self {
                Plain::Create(mut obj) => {
                    if K::NAMESPACED {
                        ensure_namespace(tx, obj.metadata().namespace.as_deref().unwrap_or_default()).await?;
                    }
                    // The server gives the identity.
                    obj.metadata_mut().uid = None;
                    tx.create(&mut obj).await?;
                    obj
                }
                Plain::Update(mut obj) => {
                    let namespace = obj.metadata().namespace.clone().unwrap_or_default();
                    let name = obj.metadata().name.clone();
                    let old: K = tx.must_get(&namespace, &name).await?;
                    check_version(&old, &obj)?;
                    tx.update(&old, &mut obj).await?;
                    obj
                }
                Plain::Delete { namespace, name } => {
                    let mut obj: K = tx.must_get(&namespace, &name).await?;
                    tx.delete(&mut obj).await?;
                    obj
                }
            };
            json(&obj)
        })
    }
}

/// Optimistic concurrency: a client that sent a resourceVersion must have the current one.
fn check_version<K: Resource>(current: &K, sent: &K) -> ApiResult<()> {
    match &sent.metadata().resource_version {
        Some(v) if Some(v) != current.metadata().resource_version.as_ref() => Err(ApiError::conflict(format!(
            "{} {:?} was modified: you sent resourceVersion {v}, it is now {}; get it again and retry",
            K::KIND,
            current.metadata().name,
            current.metadata().resource_version.as_deref().unwrap_or("?")
        ))),
        _ => Ok(()),
    }
}

fn ready_condition(node: &Node) -> ConditionStatus {
    node.status
        .conditions
        .iter()
        .find(|c| c.condition_type == "Ready")
        .map(|c| c.status)
        .unwrap_or(ConditionStatus::Unknown)
}

fn set_ready_condition(
    node: &mut Node,
    status: ConditionStatus,
    reason: &str,
    message: &str,
    now: chrono::DateTime<chrono::Utc>,
) {
    node.status.conditions.retain(|c| c.condition_type != "Ready");
    node.status.conditions.push(NodeCondition {
        condition_type: "Ready".into(),
        status,
        last_heartbeat_time: None,
        last_transition_time: Some(now),
        reason: Some(reason.into()),
        message: Some(message.into()),
    });
}

// ---------------------------------------------------------------------------------------------
// Nodes, leases, tokens
// ---------------------------------------------------------------------------------------------

async fn create_node(tx: &mut Tx<'_>, mut node: Node) -> ApiResult<String> {
    node.metadata.uid = None;
    node.status.conditions.clear();
    let now = tx.now;
    set_ready_condition(
        &mut node,
        ConditionStatus::Unknown,
        "NodeStatusNeverUpdated",
        "no heartbeat received yet",
        now,
    );
    let lease = acquire_lease(tx, &node).await?;
    node.spec.pod_cidr = Some(lease.spec.pod_cidr.clone());
    // Registering counts as the first renewal: a node that never heartbeats expires one
    // lease TTL after it registered.
    renew_node_lease(tx, &node.metadata.name).await?;
    tx.create(&mut node).await?;
    json(&node)
}

async fn update_node(tx: &mut Tx<'_>, mut node: Node, sub: Subresource) -> ApiResult<String> {
    let old: Node = tx.must_get("", &node.metadata.name).await?;
    check_version(&old, &node)?;
    // podCIDR and the Ready condition are the server's; the rest depends on the subresource.
    node.spec.pod_cidr = old.spec.pod_cidr.clone();
    match sub {
        Subresource::Main => node.status = old.status.clone(),
        Subresource::Status => {
            node.metadata = old.metadata.clone();
            node.spec = old.spec.clone();
            node.status.conditions = old.status.conditions.clone();
        }
    }
    tx.update(&old, &mut node).await?;
    if node.internal_ip() != old.internal_ip() {
        if let Some(old_lease) = tx.get::<NodeLease>("", &node.metadata.name).await? {
            let mut lease = old_lease.clone();
            lease.spec.node_ip = node.internal_ip().map(str::to_string);
            tx.update(&old_lease, &mut lease).await?;
        }
    }
    // Room again, or labels a waiting pod's nodeSelector may match.
    if (node.spec.unschedulable != old.spec.unschedulable && !node.spec.unschedulable)
        || node.metadata.labels != old.metadata.labels
    {
        bind_pending(tx).await?;
    }
    json(&node)
}

async fn delete_node(tx: &mut Tx<'_>, name: &str) -> ApiResult<String> {
    let mut node: Node = tx.must_get("", name).await?;
    release_lease(tx, name).await?;
    if let Some(mut lease) = tx.get::<Lease>(NODE_LEASE_NAMESPACE, name).await? {
        tx.delete(&mut lease).await?;
    }
    evict_pods(tx, name, "NodeDeleted", "the node was deleted").await?;
    tx.delete(&mut node).await?;
    json(&node)
}

/// The subnet a node gets: its current lease's, else its previous one if still free, else
/// one never leased (in address order), else the one reclaimed longest ago.
async fn choose_subnet(tx: &mut Tx<'_>, node: &str) -> ApiResult<Ipv4Network> {
    let previous: Option<String> = on!(tx.conn.either(), |c| sqlx::query_scalar(
        "SELECT cidr FROM subnets WHERE node_name IS NULL AND last_node = $1 ORDER BY released_at DESC LIMIT 1",
    )
    .bind(node)
    .fetch_optional(c)
    .await)?;
    if let Some(cidr) = previous {
        return cidr.parse().map_err(|e| ApiError::internal("stored subnet", e));
    }
    let known: Vec<String> =
        on!(tx.conn.either(), |c| sqlx::query_scalar("SELECT cidr FROM subnets").fetch_all(c).await)?;
    let known: std::collections::HashSet<String> = known.into_iter().collect();
    let pod_cidr = tx.settings.pod_cidr;
    let prefix = tx.settings.cluster.node_subnet_prefix;
    for i in 0..alloc::subnet_count(pod_cidr, prefix) {
        let subnet = alloc::subnet_at(pod_cidr, prefix, i);
        if !known.contains(&subnet.to_string()) {
            return Ok(subnet);
        }
    }
    let reclaimed: Option<String> = on!(tx.conn.either(), |c| sqlx::query_scalar(
        "SELECT cidr FROM subnets WHERE node_name IS NULL ORDER BY released_at ASC, cidr LIMIT 1"
    )
    .fetch_optional(c)
    .await)?;
    match reclaimed {
        Some(cidr) => cidr.parse().map_err(|e| ApiError::internal("stored subnet", e)),
        None => Err(ApiError::unavailable(format!(
            "no free node subnet: every /{prefix} of the pod CIDR {pod_cidr} is leased"
        ))),
    }
}

/// The node's lease, acquiring one if it has none.
async fn acquire_lease(tx: &mut Tx<'_>, node: &Node) -> ApiResult<NodeLease> {
    let name = node.metadata.name.clone();
    if let Some(lease) = tx.get::<NodeLease>("", &name).await? {
        return Ok(lease);
    }
    let subnet = choose_subnet(tx, &name).await?;
    on!(tx.conn.either(), |c| {
        sqlx::query(
        "INSERT INTO subnets (cidr, node_name, last_node) VALUES ($1, $2, $3)
         ON CONFLICT(cidr) DO UPDATE SET node_name = excluded.node_name, last_node = excluded.last_node, released_at = NULL",
    )
    .bind(subnet.to_string())
    .bind(&name)
    .bind(&name)
    .execute(c)
    .await.map(|r| r.rows_affected())
    })?;
    let mut lease = NodeLease {
        api_version: NodeLease::API_VERSION.into(),
        kind: NodeLease::KIND.into(),
        metadata: openapi::ObjectMeta { name: name.clone(), ..Default::default() },
        spec: NodeLeaseSpec {
            node_name: name,
            pod_cidr: subnet.to_string(),
            gateway: alloc::gateway(subnet).to_string(),
            node_ip: node.internal_ip().map(str::to_string),
            backend_data: BTreeMap::new(),
            acquire_time: tx.now,
        },
    };
    tx.create(&mut lease).await?;
    Ok(lease)
}

/// Give the node's subnet back (handed out last from now on) and clear its podCIDR.
async fn release_lease(tx: &mut Tx<'_>, name: &str) -> ApiResult<()> {
    if let Some(mut lease) = tx.get::<NodeLease>("", name).await? {
        tx.delete(&mut lease).await?;
    }
    on!(tx.conn.either(), |c| sqlx::query(
        "UPDATE subnets SET node_name = NULL, released_at = $1 WHERE node_name = $2"
    )
    .bind(tx.now.timestamp_millis())
    .bind(name)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if let Some(old) = tx.get::<Node>("", name).await? {
        let mut node = old.clone();
        node.spec.pod_cidr = None;
        tx.update(&old, &mut node).await?;
    }
    Ok(())
}

/// The node's heartbeat Lease `kube-node-lease/NAME` renewed now (created if missing; its
/// holder set back to the node, as a new acquisition, if someone else wrote it).
async fn renew_node_lease(tx: &mut Tx<'_>, name: &str) -> ApiResult<()> {
    let now = micro_time::truncate(tx.now);
    let duration = i32::try_from(tx.settings.cluster.lease_ttl_seconds).unwrap_or(i32::MAX);
    match tx.get::<Lease>(NODE_LEASE_NAMESPACE, name).await? {
        Some(old) => {
            let mut lease = old.clone();
            if lease.spec.holder_identity.as_deref() != Some(name) {
                lease.spec.holder_identity = Some(name.to_string());
                lease.spec.acquire_time = Some(now);
                lease.spec.lease_transitions = Some(old.spec.lease_transitions.unwrap_or(0).saturating_add(1));
            }
            lease.spec.renew_time = Some(now);
            lease.spec.lease_duration_seconds = Some(duration);
            tx.update(&old, &mut lease).await
        }
        None => {
            ensure_namespace(tx, NODE_LEASE_NAMESPACE).await?;
            let mut lease = Lease {
                api_version: Lease::API_VERSION.into(),
                kind: Lease::KIND.into(),
                metadata: openapi::ObjectMeta {
                    name: name.to_string(),
                    namespace: Some(NODE_LEASE_NAMESPACE.to_string()),
                    ..Default::default()
                },
                spec: LeaseSpec {
                    holder_identity: Some(name.to_string()),
                    lease_duration_seconds: Some(duration),
                    acquire_time: Some(now),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                },
            };
            tx.create(&mut lease).await
        }
    }
}

/// A heartbeat renews the node's Lease (which only the leader's tick reads) and writes its
/// CIDR lease (which every agent watches) only when what that holds changes: its node IP or
/// backend data, or a new CIDR after the old one was reclaimed. Answers the CIDR lease.
async fn heartbeat(tx: &mut Tx<'_>, name: &str, hb: Heartbeat) -> ApiResult<String> {
    let mut node: Node = tx.must_get("", name).await?;
    renew_node_lease(tx, name).await?;
    let lease = match tx.get::<NodeLease>("", name).await? {
        Some(old) => {
            let mut lease = old.clone();
            lease.spec.backend_data = hb.backend_data;
            lease.spec.node_ip = node.internal_ip().map(str::to_string);
            if lease.spec != old.spec {
                tx.update(&old, &mut lease).await?;
            }
            lease
        }
        None => {
            let mut lease = acquire_lease(tx, &node).await?;
            let old_node = node.clone();
            node.spec.pod_cidr = Some(lease.spec.pod_cidr.clone());
            tx.update(&old_node, &mut node).await?;
            if !hb.backend_data.is_empty() {
                let old = lease.clone();
                lease.spec.backend_data = hb.backend_data;
                tx.update(&old, &mut lease).await?;
            }
            lease
        }
    };
    if ready_condition(&node) != ConditionStatus::True {
        set_node_ready(tx, node, ConditionStatus::True, "LeaseRenewed", "the node agent renews its lease").await?;
    }
    json(&lease)
}

/// Change a node's Ready condition and everything that follows from it: its pods' endpoint
/// readiness, and (when it turns Ready) binding of pending pods.
async fn set_node_ready(
    tx: &mut Tx<'_>,
    old: Node,
    status: ConditionStatus,
    reason: &str,
    message: &str,
) -> ApiResult<()> {
    let mut node = old.clone();
    let now = tx.now;
    set_ready_condition(&mut node, status, reason, message, now);
    tx.update(&old, &mut node).await?;
    let name = node.metadata.name.clone();
    let ready = status == ConditionStatus::True;
    for pod in tx.pods_on(Some(&name)).await? {
        refresh_endpoints_for_pod(tx, Some(&pod), Some(&pod), Some(ready)).await?;
    }
    if ready {
        assign_missing_ips(tx, &node).await?;
        bind_pending(tx).await?;
    }
    Ok(())
}

async fn mint_node_token(tx: &mut Tx<'_>, node: &str) -> ApiResult<String> {
    openapi::validation::validate_dns1123_subdomain(node).map_err(|m| ApiError::invalid("metadata.name", m))?;
    let token = super::new_token();
    let hash = hash_token(&token);
    on!(tx.conn.either(), |c| sqlx::query("INSERT INTO node_tokens (hash, node_name, created) VALUES ($1, $2, $3)")
        .bind(&hash)
        .bind(node)
        .bind(tx.now.to_rfc3339())
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    tx.new_tokens.push((hash, node.to_string()));
    json(&NodeToken { node_name: node.to_string(), token })
}

// ---------------------------------------------------------------------------------------------
// Pods: scheduling, IPs
// ---------------------------------------------------------------------------------------------

fn set_pod_condition(
    pod: &mut Pod,
    kind: &str,
    status: ConditionStatus,
    reason: Option<&str>,
    message: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) {
    if let Some(c) = pod.status.conditions.iter_mut().find(|c| c.condition_type == kind) {
        if c.status != status {
            c.last_transition_time = Some(now);
        }
        c.status = status;
        c.reason = reason.map(Into::into);
        c.message = message.map(Into::into);
        return;
    }
    pod.status.conditions.push(PodCondition {
        condition_type: kind.into(),
        status,
        last_transition_time: Some(now),
        reason: reason.map(Into::into),
        message: message.map(Into::into),
    });
}

/// The Ready, schedulable node with a lease and room, carrying the pod's `nodeSelector`
/// labels, that has the fewest pods (ties: name).
async fn schedule(tx: &mut Tx<'_>, pod: &Pod) -> ApiResult<Option<Node>> {
    let mut best: Option<(i64, Node)> = None;
    for (node, count) in tx.nodes_with_pod_counts().await? {
        let Some(cidr) = node.spec.pod_cidr.as_deref() else { continue };
        if !node.is_ready() || node.spec.unschedulable {
            continue;
        }
        if !pod.spec.node_selector.iter().all(|(k, v)| node.metadata.labels.get(k) == Some(v)) {
            continue;
        }
        let subnet: Ipv4Network = cidr.parse().map_err(|e| ApiError::internal("stored podCIDR", e))?;
        let capacity = alloc::pod_offsets(subnet).count() as i64;
        if count >= capacity {
            continue;
        }
        if best.as_ref().is_none_or(|(c, _)| count < *c) {
            best = Some((count, node));
        }
    }
    Ok(best.map(|(_, n)| n))
}

/// Allocate the pod an IP from its node's subnet, continuing after the subnet's cursor.
async fn allocate_pod_ip(tx: &mut Tx<'_>, pod_uid: &str, node: &str, cidr: &str) -> ApiResult<Option<Ipv4Addr>> {
    let subnet: Ipv4Network = cidr.parse().map_err(|e| ApiError::internal("stored podCIDR", e))?;
    // The batch remembers the cursor of a subnet it read or moved (see `tx::Cache`).
    let known = match tx.cache.cursors.get(cidr) {
        Some(c) => Some(*c),
        None => {
            let read: Option<i64> =
                on!(tx.conn.either(), |c| sqlx::query_scalar("SELECT ip_cursor FROM subnets WHERE cidr = $1")
                    .bind(cidr)
                    .fetch_optional(c)
                    .await)?;
            if let Some(c) = read {
                tx.cache.cursors.insert(cidr.to_string(), c);
            }
            read
        }
    };
    let cursor = known.unwrap_or(1);
    for offset in alloc::after_cursor(alloc::pod_offsets(subnet), cursor as u32) {
        let ip = alloc::host_at(subnet, offset);
        // The insert moves the subnet's cursor (trigger pod_ips_cursor).
        let inserted = on!(tx.conn.either(), |c| {
            sqlx::query(
            "INSERT INTO pod_ips (ip, pod_uid, node_name, subnet, \"offset\") VALUES ($1, $2, $3, $4, $5) ON CONFLICT(ip) DO NOTHING",
        )
        .bind(ip.to_string())
        .bind(pod_uid)
        .bind(node)
        .bind(cidr)
        .bind(offset as i64)
        .execute(c)
        .await.map(|r| r.rows_affected())
        })?;
        if inserted == 1 {
            // The insert trigger moved the subnet row's cursor (when there is such a row).
            if known.is_some() {
                tx.cache.cursors.insert(cidr.to_string(), offset as i64);
            }
            return Ok(Some(ip));
        }
    }
    Ok(None)
}

async fn release_pod_ip(tx: &mut Tx<'_>, pod_uid: &str) -> ApiResult<()> {
    on!(tx.conn.either(), |c| sqlx::query("DELETE FROM pod_ips WHERE pod_uid = $1")
        .bind(pod_uid)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Bind `pod` (not yet stored, or being updated) to a node and give it an IP where
/// possible. A pod that names a node without a lease keeps waiting for one.
async fn bind(tx: &mut Tx<'_>, pod: &mut Pod) -> ApiResult<()> {
    let now = tx.now;
    let node = match &pod.spec.node_name {
        Some(name) => tx.node_for_binding(name).await?,
        None => match schedule(tx, pod).await? {
            Some(node) => {
                pod.spec.node_name = Some(node.metadata.name.clone());
                Some(node)
            }
            None => {
                let message = if pod.spec.node_selector.is_empty() {
                    "no Ready node with room".to_string()
                } else {
                    let wanted: Vec<String> = pod.spec.node_selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("no Ready node with room matches the pod's nodeSelector {}", wanted.join(","))
                };
                set_pod_condition(
                    pod,
                    "PodScheduled",
                    ConditionStatus::False,
                    Some("Unschedulable"),
                    Some(&message),
                    now,
                );
                return Ok(());
            }
        },
    };
    set_pod_condition(pod, "PodScheduled", ConditionStatus::True, None, None, now);
    let Some(node) = node else { return Ok(()) };
    let Some(cidr) = node.spec.pod_cidr.clone() else { return Ok(()) };
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    match allocate_pod_ip(tx, &uid, &node.metadata.name, &cidr).await? {
        Some(ip) => {
            pod.status.pod_ip = Some(ip.to_string());
            pod.status.host_ip = node.internal_ip().map(str::to_string);
            pod.status.reason = None;
            pod.status.message = None;
        }
        None => {
            pod.status.reason = Some("OutOfAddresses".into());
            pod.status.message = Some(format!("no free address in {cidr}"));
        }
    }
    Ok(())
}

/// Schedule the pods that wait for a node (each: another may have a nodeSelector a node
/// now matches).
async fn bind_pending(tx: &mut Tx<'_>) -> ApiResult<()> {
    // Once a pod without a nodeSelector finds no node, no other such pod would.
    let mut full = false;
    for old in tx.pods_on(None).await? {
        if full && old.spec.node_selector.is_empty() {
            continue;
        }
        let mut pod = old.clone();
        bind(tx, &mut pod).await?;
        if pod.spec.node_name.is_none() {
            full |= pod.spec.node_selector.is_empty();
            continue;
        }
        tx.update(&old, &mut pod).await?;
        refresh_endpoints_for_pod(tx, Some(&old), Some(&pod), None).await?;
    }
    Ok(())
}

/// Give an IP to the pods bound to `node` that wait for one (bound before it had a lease).
async fn assign_missing_ips(tx: &mut Tx<'_>, node: &Node) -> ApiResult<()> {
    for old in tx.pods_on(Some(&node.metadata.name)).await? {
        if old.status.pod_ip.is_some() || old.status.phase != PodPhase::Pending {
            continue;
        }
        let mut pod = old.clone();
        bind(tx, &mut pod).await?;
        tx.update(&old, &mut pod).await?;
        refresh_endpoints_for_pod(tx, Some(&old), Some(&pod), None).await?;
    }
    Ok(())
}

/// The pods of a node that is gone (deleted, or its lease reclaimed) fail: their IPs go back
/// to the pool and they leave every service's endpoints.
async fn evict_pods(tx: &mut Tx<'_>, node: &str, reason: &str, message: &str) -> ApiResult<()> {
    for old in tx.pods_on(Some(node)).await? {
        let mut pod = old.clone();
        if let Some(uid) = &pod.metadata.uid {
            release_pod_ip(tx, uid).await?;
        }
        pod.status.pod_ip = None;
        pod.status.phase = PodPhase::Failed;
        pod.status.reason = Some(reason.into());
        pod.status.message = Some(message.into());
        let now = tx.now;
        set_pod_condition(&mut pod, "Ready", ConditionStatus::False, Some(reason), None, now);
        tx.update(&old, &mut pod).await?;
        refresh_endpoints_for_pod(tx, Some(&old), Some(&pod), Some(false)).await?;
    }
    Ok(())
}

async fn create_pod(tx: &mut Tx<'_>, mut pod: Pod) -> ApiResult<String> {
    ensure_namespace(tx, pod.metadata.namespace.as_deref().unwrap_or_default()).await?;
    pod.metadata.uid = Some(uuid::Uuid::new_v4().to_string());
    pod.status = Default::default();
    bind(tx, &mut pod).await?;
    tx.create(&mut pod).await?;
    refresh_endpoints_for_pod(tx, None, Some(&pod), None).await?;
    if pod.spec.node_name.is_none() && !pod.spec.node_selector.is_empty() {
        failed_scheduling_event(tx, &pod).await?;
    }
    json(&pod)
}

/// A Warning event on a pod with a `nodeSelector` that no node could take when it was
/// created, with the message of its `PodScheduled` condition, so that `kubectl describe`
/// shows why it waits (once: the condition stays up to date). Pods without a selector that
/// wait for a node get none: they are what a cluster holds before its agents join, and one
/// event per pod there would be noise.
async fn failed_scheduling_event(tx: &mut Tx<'_>, pod: &Pod) -> ApiResult<()> {
    let message = pod
        .status
        .conditions
        .iter()
        .find(|c| c.condition_type == "PodScheduled")
        .and_then(|c| c.message.clone())
        .unwrap_or_default();
    let event = Event {
        api_version: "v1".into(),
        kind: "Event".into(),
        metadata: openapi::ObjectMeta { namespace: pod.metadata.namespace.clone(), ..Default::default() },
        involved_object: ObjectReference {
            kind: "Pod".into(),
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
        },
        reason: "FailedScheduling".into(),
        message,
        event_type: "Warning".into(),
        source: Some(EventSource { component: Some("scheduler".into()), host: None }),
        first_timestamp: None,
        last_timestamp: None,
    };
    create_event(tx, event, &Caller::Admin).await?;
    Ok(())
}

async fn update_pod(tx: &mut Tx<'_>, mut pod: Pod, sub: Subresource, caller: &Caller) -> ApiResult<String> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let old: Pod = tx.must_get(&ns, &pod.metadata.name).await?;
    match sub {
        Subresource::Main => {
            caller.require_admin()?;
            check_version(&old, &pod)?;
            let binding = old.spec.node_name.is_none() && pod.spec.node_name.is_some();
            let mut expected = old.spec.clone();
            if binding {
                expected.node_name = pod.spec.node_name.clone();
            }
            if pod.spec != expected {
                return Err(ApiError::invalid(
                    "spec",
                    "pod spec is immutable (only spec.nodeName of an unbound pod may be set): delete and recreate the pod",
                ));
            }
            pod.status = old.status.clone();
            if binding {
                bind(tx, &mut pod).await?;
            }
        }
        Subresource::Status => {
            match (caller, old.spec.node_name.as_deref()) {
                (Caller::Admin, _) => {}
                (Caller::Node(n), Some(bound)) if n == bound => {}
                (Caller::Node(n), _) => {
                    return Err(ApiError::forbidden(format!(
                        "node {n:?} may not write the status of pod {:?}, which is not bound to it",
                        old.metadata.name
                    )))
                }
            }
            check_version(&old, &pod)?;
            pod.metadata = old.metadata.clone();
            pod.spec = old.spec.clone();
            pod.status.pod_ip = old.status.pod_ip.clone();
            pod.status.host_ip = old.status.host_ip.clone();
        }
    }
    tx.update(&old, &mut pod).await?;
    refresh_endpoints_for_pod(tx, Some(&old), Some(&pod), None).await?;
    json(&pod)
}

async fn delete_pod(tx: &mut Tx<'_>, ns: &str, name: &str) -> ApiResult<String> {
    let mut pod: Pod = tx.must_get(ns, name).await?;
    if let Some(uid) = &pod.metadata.uid {
        release_pod_ip(tx, uid).await?;
    }
    tx.delete(&mut pod).await?;
    refresh_endpoints_for_pod(tx, Some(&pod), None, None).await?;
    json(&pod)
}

// ---------------------------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------------------------

async fn node_ready(tx: &mut Tx<'_>, node: Option<&str>) -> ApiResult<bool> {
    Ok(match node {
        Some(n) => tx.get::<Node>("", n).await?.is_some_and(|n| n.is_ready()),
        None => false,
    })
}

/// Update, incrementally, the endpoints of every service that selects the pod before or
/// after a change (`None`: created / deleted). `ready_node` overrides the lookup of the
/// pod's node readiness when the caller already knows it.
async fn refresh_endpoints_for_pod(
    tx: &mut Tx<'_>,
    old: Option<&Pod>,
    new: Option<&Pod>,
    ready_node: Option<bool>,
) -> ApiResult<()> {
    let Some(any) = new.or(old) else { return Ok(()) };
    let ns = any.metadata.namespace.clone().unwrap_or_default();
    let uid = any.metadata.uid.clone().unwrap_or_default();
    let services: Vec<Service> = tx.list(Some(&ns)).await?;
    let mut node_is_ready = ready_node;
    for svc in services {
        let before = old.is_some_and(|p| endpoints::selects(&svc, &p.metadata.labels));
        let after = new.is_some_and(|p| endpoints::selects(&svc, &p.metadata.labels));
        if !before && !after {
            continue;
        }
        let entry = match new {
            Some(p) => {
                let ready = match node_is_ready {
                    Some(r) => r,
                    None => {
                        let r = node_ready(tx, p.spec.node_name.as_deref()).await?;
                        node_is_ready = Some(r);
                        r
                    }
                };
                endpoints::pod_entry(&svc, p, ready)
            }
            None => None,
        };
        let Some(old_ep) = tx.get::<Endpoints>(&ns, &svc.metadata.name).await? else { continue };
        let mut ep = old_ep.clone();
        ep.subsets = endpoints::replace_pod(&old_ep.subsets, &uid, entry);
        tx.update(&old_ep, &mut ep).await?;
    }
    Ok(())
}

/// The full endpoints of a service, from every pod of its namespace.
async fn compute_endpoints(tx: &mut Tx<'_>, svc: &Service) -> ApiResult<Vec<openapi::EndpointSubset>> {
    if svc.spec.selector.is_empty() {
        return Ok(Vec::new());
    }
    let ns = svc.metadata.namespace.clone().unwrap_or_default();
    // Only the pods the selector picks are decoded (their labels are read first, cheaply),
    // and only their nodes are read: a service's cost follows its own pods, not the
    // namespace's pods and the cluster's nodes.
    let pods: Vec<Pod> =
        tx.list_where(&ns, |body| endpoints::selects(svc, &Selectable::from_json(body).labels)).await?;
    let mut ready: HashMap<String, bool> = HashMap::new();
    let mut entries = Vec::new();
    for p in &pods {
        let up = match p.spec.node_name.as_deref() {
            Some(n) => match ready.get(n) {
                Some(r) => *r,
                None => {
                    let r = node_ready(tx, Some(n)).await?;
                    ready.insert(n.to_string(), r);
                    r
                }
            },
            None => false,
        };
        entries.extend(endpoints::pod_entry(svc, p, up));
    }
    Ok(endpoints::group(entries))
}

// ---------------------------------------------------------------------------------------------
// Services: cluster IPs, node ports
// ---------------------------------------------------------------------------------------------

async fn allocate_cluster_ip(tx: &mut Tx<'_>, uid: &str, requested: Option<&str>) -> ApiResult<String> {
    let cidr = tx.settings.service_cidr;
    if let Some(req) = requested {
        let ip: Ipv4Addr =
            req.parse().map_err(|_| ApiError::invalid("spec.clusterIP", format!("{req:?} is not an IPv4 address")))?;
        if !alloc::service_ip_usable(cidr, ip) {
            return Err(ApiError::invalid(
                "spec.clusterIP",
                format!("{ip} is not a usable address of the service CIDR {cidr}"),
            ));
        }
        let inserted = on!(tx.conn.either(), |c| sqlx::query(
            "INSERT INTO cluster_ips (ip, service_uid) VALUES ($1, $2) ON CONFLICT(ip) DO NOTHING"
        )
        .bind(ip.to_string())
        .bind(uid)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        if inserted == 0 {
            return Err(ApiError::invalid("spec.clusterIP", format!("{ip} is already allocated to another service")));
        }
        return Ok(ip.to_string());
    }
    let cursor: u32 = tx.meta_get("cluster_ip_cursor").await?.and_then(|c| c.parse().ok()).unwrap_or(0);
    for offset in alloc::after_cursor(alloc::service_auto_offsets(cidr), cursor) {
        let ip = alloc::host_at(cidr, offset).to_string();
        let inserted = on!(tx.conn.either(), |c| sqlx::query(
            "INSERT INTO cluster_ips (ip, service_uid) VALUES ($1, $2) ON CONFLICT(ip) DO NOTHING"
        )
        .bind(&ip)
        .bind(uid)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        if inserted == 1 {
            tx.meta_set("cluster_ip_cursor", &offset.to_string()).await?;
            return Ok(ip);
        }
    }
    Err(ApiError::unavailable(format!("no free cluster IP in {cidr}")))
}

async fn allocate_node_port(tx: &mut Tx<'_>, uid: &str, field: &str, requested: Option<i32>) -> ApiResult<i32> {
    let range = tx.settings.cluster.node_port_range;
    let insert = "INSERT INTO node_ports (port, service_uid) VALUES ($1, $2) ON CONFLICT(port) DO NOTHING";
    if let Some(port) = requested {
        let inserted = on!(tx.conn.either(), |c| sqlx::query(insert)
            .bind(port)
            .bind(uid)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        if inserted == 0 {
            return Err(ApiError::invalid(field, format!("nodePort {port} is already allocated")));
        }
        return Ok(port);
    }
    let cursor: u32 = tx.meta_get("node_port_cursor").await?.and_then(|c| c.parse().ok()).unwrap_or(0);
    for port in alloc::after_cursor(u32::from(range.min)..=u32::from(range.max), cursor) {
        let inserted = on!(tx.conn.either(), |c| sqlx::query(insert)
            .bind(port as i32)
            .bind(uid)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        if inserted == 1 {
            tx.meta_set("node_port_cursor", &port.to_string()).await?;
            return Ok(port as i32);
        }
    }
    Err(ApiError::unavailable(format!("no free NodePort in {range}")))
}

/// Allocate the node ports of a NodePort service, keeping those `old` already holds for
/// the same port, and release what is no longer used.
async fn settle_node_ports(tx: &mut Tx<'_>, svc: &mut Service, old: Option<&Service>) -> ApiResult<()> {
    let uid = svc.metadata.uid.clone().unwrap_or_default();
    let held: Vec<i32> =
        on!(tx.conn.either(), |c| sqlx::query_scalar("SELECT port FROM node_ports WHERE service_uid = $1")
            .bind(&uid)
            .fetch_all(c)
            .await)?;
    let mut keep = Vec::new();
    if svc.spec.service_type == ServiceType::NodePort {
        for i in 0..svc.spec.ports.len() {
            let port = &svc.spec.ports[i];
            let field = format!("spec.ports[{i}].nodePort");
            let previous = old.and_then(|o| {
                o.spec
                    .ports
                    .iter()
                    .find(|p| p.port == port.port && p.protocol == port.protocol)
                    .and_then(|p| p.node_port)
            });
            let wanted = port.node_port.or(previous);
            let assigned = match wanted {
                Some(p) if held.contains(&p) => p,
                other => allocate_node_port(tx, &uid, &field, other).await?,
            };
            keep.push(assigned);
            svc.spec.ports[i].node_port = Some(assigned);
        }
    }
    for p in held.into_iter().filter(|p| !keep.contains(p)) {
        on!(tx.conn.either(), |c| sqlx::query("DELETE FROM node_ports WHERE port = $1")
            .bind(p)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

async fn write_endpoints(tx: &mut Tx<'_>, svc: &Service) -> ApiResult<()> {
    let ns = svc.metadata.namespace.clone().unwrap_or_default();
    let subsets = compute_endpoints(tx, svc).await?;
    match tx.get::<Endpoints>(&ns, &svc.metadata.name).await? {
        Some(old) => {
            let mut ep = old.clone();
            ep.subsets = subsets;
            ep.metadata.labels = svc.metadata.labels.clone();
            tx.update(&old, &mut ep).await
        }
        None => {
            let mut ep = Endpoints {
                api_version: Endpoints::API_VERSION.into(),
                kind: Endpoints::KIND.into(),
                metadata: openapi::ObjectMeta {
                    name: svc.metadata.name.clone(),
                    namespace: Some(ns),
                    labels: svc.metadata.labels.clone(),
                    ..Default::default()
                },
                subsets,
            };
            tx.create(&mut ep).await
        }
    }
}

async fn create_service(tx: &mut Tx<'_>, mut svc: Service) -> ApiResult<String> {
    ensure_namespace(tx, svc.metadata.namespace.as_deref().unwrap_or_default()).await?;
    let uid = uuid::Uuid::new_v4().to_string();
    svc.metadata.uid = Some(uid.clone());
    if svc.spec.wants_cluster_ip() {
        svc.spec.cluster_ip = Some(allocate_cluster_ip(tx, &uid, svc.spec.cluster_ip.as_deref()).await?);
    }
    settle_node_ports(tx, &mut svc, None).await?;
    tx.create(&mut svc).await?;
    write_endpoints(tx, &svc).await?;
    json(&svc)
}

async fn update_service(tx: &mut Tx<'_>, mut svc: Service) -> ApiResult<String> {
    let ns = svc.metadata.namespace.clone().unwrap_or_default();
    let old: Service = tx.must_get(&ns, &svc.metadata.name).await?;
    check_version(&old, &svc)?;
    let requested = svc.spec.cluster_ip.clone();
    match (&requested, &old.spec.cluster_ip) {
        (Some(new), Some(cur)) if new != cur => {
            return Err(ApiError::invalid("spec.clusterIP", format!("is immutable (it is {cur})")))
        }
        _ => svc.spec.cluster_ip = old.spec.cluster_ip.clone(),
    }
    svc.metadata.uid = old.metadata.uid.clone();
    let uid = svc.metadata.uid.clone().unwrap_or_default();
    // A service turned ExternalName gives its cluster IP back; one turned back gets one.
    if svc.spec.service_type == ServiceType::ExternalName {
        if svc.spec.cluster_ip.take().is_some() {
            on!(tx.conn.either(), |c| sqlx::query("DELETE FROM cluster_ips WHERE service_uid = $1")
                .bind(&uid)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
        }
    } else if svc.spec.cluster_ip.is_none() {
        svc.spec.cluster_ip = requested;
        if svc.spec.wants_cluster_ip() {
            svc.spec.cluster_ip = Some(allocate_cluster_ip(tx, &uid, svc.spec.cluster_ip.as_deref()).await?);
        }
    }
    settle_node_ports(tx, &mut svc, Some(&old)).await?;
    tx.update(&old, &mut svc).await?;
    write_endpoints(tx, &svc).await?;
    json(&svc)
}

async fn delete_service(tx: &mut Tx<'_>, ns: &str, name: &str) -> ApiResult<String> {
    let mut svc: Service = tx.must_get(ns, name).await?;
    let uid = svc.metadata.uid.clone().unwrap_or_default();
    on!(tx.conn.either(), |c| sqlx::query("DELETE FROM cluster_ips WHERE service_uid = $1")
        .bind(&uid)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    on!(tx.conn.either(), |c| sqlx::query("DELETE FROM node_ports WHERE service_uid = $1")
        .bind(&uid)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    tx.delete(&mut svc).await?;
    if let Some(mut ep) = tx.get::<Endpoints>(ns, name).await? {
        tx.delete(&mut ep).await?;
    }
    json(&svc)
}

// ---------------------------------------------------------------------------------------------
// Namespaces
// ---------------------------------------------------------------------------------------------

/// The server's part of a namespace: its name label and its phase.
fn settle_namespace(ns: &mut Namespace) {
    ns.metadata.labels.insert(NAMESPACE_NAME_LABEL.to_string(), ns.metadata.name.clone());
    ns.status.phase = Some("Active".to_string());
}

async fn create_namespace(tx: &mut Tx<'_>, mut ns: Namespace) -> ApiResult<String> {
    ns.metadata.uid = None;
    settle_namespace(&mut ns);
    tx.create(&mut ns).await?;
    json(&ns)
}

async fn update_namespace(tx: &mut Tx<'_>, mut ns: Namespace) -> ApiResult<String> {
    let old: Namespace = tx.must_get("", &ns.metadata.name).await?;
    check_version(&old, &ns)?;
    settle_namespace(&mut ns);
    tx.update(&old, &mut ns).await?;
    json(&ns)
}

/// Create the namespace `name` unless it exists: flatnet's answer to an object created in
/// a missing namespace (Kubernetes' admission would refuse it with 404).
async fn ensure_namespace(tx: &mut Tx<'_>, name: &str) -> ApiResult<()> {
    if name.is_empty() || tx.get::<Namespace>("", name).await?.is_some() {
        return Ok(());
    }
    let mut ns = Namespace::named(name);
    ns.api_version = Namespace::API_VERSION.into();
    ns.kind = Namespace::KIND.into();
    settle_namespace(&mut ns);
    tx.create(&mut ns).await
}

async fn seed_namespaces(tx: &mut Tx<'_>) -> ApiResult<()> {
    // Events outlive what they are about: they do not bring back a deleted namespace.
    let in_use: Vec<String> = on!(tx.conn.either(), |c| sqlx::query_scalar(
        "SELECT DISTINCT namespace FROM objects WHERE namespace != '' AND kind != 'Event'"
    )
    .fetch_all(c)
    .await)?;
    for name in INITIAL_NAMESPACES.iter().map(|n| n.to_string()).chain(in_use) {
        ensure_namespace(tx, &name).await?;
    }
    Ok(())
}

/// Delete every object of kind `K` in `namespace` (none when `K` is cluster-scoped).
async fn delete_all_in<K: Served>(tx: &mut Tx<'_>, namespace: &str) -> ApiResult<()> {
    if !K::NAMESPACED {
        return Ok(());
    }
    for mut obj in tx.list::<K>(Some(namespace)).await? {
        tx.delete(&mut obj).await?;
    }
    Ok(())
}

/// Delete a namespace and, in the same transaction, everything in it: pods (their IPs
/// released), services (their cluster IPs, node ports and endpoints), then every other
/// namespaced kind. The initial namespaces stay.
async fn delete_namespace(tx: &mut Tx<'_>, name: &str) -> ApiResult<String> {
    if INITIAL_NAMESPACES.contains(&name) {
        return Err(ApiError::forbidden(format!("namespace {name:?} may not be deleted")));
    }
    let mut ns: Namespace = tx.must_get("", name).await?;
    for pod in tx.list::<Pod>(Some(name)).await? {
        delete_pod(tx, name, &pod.metadata.name).await?;
    }
    for svc in tx.list::<Service>(Some(name)).await? {
        delete_service(tx, name, &svc.metadata.name).await?;
    }
    macro_rules! delete_the_rest {
        ($($k:path),*) => { $(delete_all_in::<$k>(tx, name).await?;)* };
    }
    openapi::for_each_kind!(delete_the_rest);
    tx.delete(&mut ns).await?;
    json(&ns)
}

// ---------------------------------------------------------------------------------------------
// The periodic tick
// ---------------------------------------------------------------------------------------------

async fn tick(tx: &mut Tx<'_>) -> ApiResult<()> {
    let grace = Duration::seconds(tx.settings.cluster.lease_grace_seconds as i64);
    let ttl = tx.settings.cluster.lease_ttl_seconds;
    let leases: Vec<NodeLease> = tx.list(None).await?;
    // When each node last renewed: its heartbeat Lease.
    let renewals: HashMap<String, Lease> =
        tx.list::<Lease>(Some(NODE_LEASE_NAMESPACE)).await?.into_iter().map(|l| (l.metadata.name.clone(), l)).collect();
    for lease in leases {
        let name = lease.spec.node_name.clone();
        let Some(expired_at) = renewals.get(&name).and_then(|l| l.expires_at(ttl)) else {
            // A CIDR lease without a renewal on record: a store written before heartbeats
            // renewed Leases (or an admin deleted the node's Lease). The node gets one TTL
            // from now, as after a restart of the server.
            tracing::info!(node = %name, "node has no heartbeat Lease: starting one");
            renew_node_lease(tx, &name).await?;
            continue;
        };
        if tx.now < expired_at {
            continue;
        }
        // Expiry comes first even when the lease also ran out its grace since the last tick
        // (the server was down that long): a node without a lease must not stay Ready, or
        // its next heartbeat would not count as a return and bind no waiting pods.
        if let Some(node) = tx.get::<Node>("", &name).await? {
            if ready_condition(&node) != ConditionStatus::False {
                tracing::info!(node = %name, "node lease expired: NotReady");
                set_node_ready(
                    tx,
                    node,
                    ConditionStatus::False,
                    "LeaseExpired",
                    "the node agent stopped renewing its lease",
                )
                .await?;
            }
        }
        if tx.now >= expired_at + grace {
            tracing::info!(node = %name, cidr = %lease.spec.pod_cidr, "reclaiming expired node lease");
            release_lease(tx, &name).await?;
            evict_pods(tx, &name, "NodeLost", "the node's lease was reclaimed").await?;
        }
    }
    bind_pending(tx).await?;
    prune_events(tx).await?;
    compact(tx).await
}

/// The longest part of a generated event name taken from its object's name: 253 less the
/// dot and the 12-character suffix.
const EVENT_NAME_PREFIX_MAX: usize = 253 - 13;

/// Events are kept for this long after they last happened.
const EVENT_TTL: Duration = Duration::hours(1);

async fn create_event(tx: &mut Tx<'_>, mut ev: Event, caller: &Caller) -> ApiResult<String> {
    if ev.metadata.name.is_empty() {
        // Like Kubernetes: the involved object's name and a unique suffix, the name cut
        // (at a label's end) so that the whole stays a DNS subdomain of at most 253.
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let mut prefix = ev.involved_object.name.as_str();
        if prefix.len() > EVENT_NAME_PREFIX_MAX {
            prefix = prefix[..EVENT_NAME_PREFIX_MAX].trim_end_matches(['-', '.']);
        }
        ev.metadata.name = format!("{prefix}.{}", &suffix[..12]);
    }
    if let Caller::Node(node) = caller {
        // A node reports as itself, whatever the body claims.
        ev.source = Some(EventSource { component: Some("nodeagent".into()), host: Some(node.clone()) });
    }
    ev.first_timestamp.get_or_insert(tx.now);
    ev.last_timestamp.get_or_insert(tx.now);
    tx.create(&mut ev).await?;
    json(&ev)
}

/// Delete the oldest events past their time to live, a bounded number per tick.
async fn prune_events(tx: &mut Tx<'_>) -> ApiResult<()> {
    let oldest: Vec<String> = on!(tx.conn.either(), |c| sqlx::query_scalar(
        "SELECT body FROM objects WHERE kind = 'Event' ORDER BY rv LIMIT 100"
    )
    .fetch_all(c)
    .await)?;
    for body in oldest {
        let mut ev: Event = serde_json::from_str(&body).map_err(|e| ApiError::internal("decode stored event", e))?;
        let last = ev.last_timestamp.or(ev.metadata.creation_timestamp).unwrap_or(tx.now);
        if last + EVENT_TTL > tx.now {
            break;
        }
        tx.delete(&mut ev).await?;
    }
    Ok(())
}

/// Most history revisions dropped by one tick: compaction runs inside a write batch, and a
/// bounded delete keeps that batch (and the writes queued behind it, on every server of a
/// shared database) short. History past the window shrinks by this much per tick.
const COMPACT_STEP: i64 = 10_000;

/// Drop history older than the configured number of revisions, at most [`COMPACT_STEP`]
/// revisions at a time.
async fn compact(tx: &mut Tx<'_>) -> ApiResult<()> {
    let compacted: i64 = tx.meta_get("compacted").await?.and_then(|v| v.parse().ok()).unwrap_or(0);
    let floor = (tx.rev - tx.settings.watch_history).min(compacted + COMPACT_STEP);
    if floor <= compacted {
        return Ok(());
    }
    on!(tx.conn.either(), |c| sqlx::query("DELETE FROM events WHERE rev > $1 AND rev <= $2")
        .bind(compacted)
        .bind(floor)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    tx.meta_set("compacted", &floor.to_string()).await?;
    tx.compacted = Some(floor);
    Ok(())
}
