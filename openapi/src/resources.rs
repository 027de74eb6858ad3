//! The resource kinds, in Kubernetes' JSON shapes (camelCase, `spec` + `status`).
//!
//! Specs reject unknown fields so that a typo is an error, not a silently ignored setting.
//! Fields the server owns (pod IPs, cluster IPs, node ports it allocates, node readiness)
//! are documented as such on the field.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::meta::ObjectMeta;

fn is_false(b: &bool) -> bool {
    !*b
}

/// Transport protocol of a port.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    #[default]
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }
}

/// A port given as a number or as the name of a container port.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(untagged)]
pub enum IntOrString {
    Int(i32),
    String(String),
}

/// `status: "True" | "False" | "Unknown"` of a condition.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConditionStatus {
    True,
    False,
    #[default]
    Unknown,
}

// ---------------------------------------------------------------------------------------------
// Node and its CIDR lease
// ---------------------------------------------------------------------------------------------

/// A node: one host (or one network namespace of the local cluster) running a node agent.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Node {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: NodeSpec,
    #[serde(default)]
    pub status: NodeStatus,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeSpec {
    /// Server-owned: the CIDR of the node's current lease (absent while it has none).
    #[serde(default, rename = "podCIDR", skip_serializing_if = "Option::is_none")]
    pub pod_cidr: Option<String>,
    /// When true the scheduler binds no new pods to this node.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unschedulable: bool,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeStatus {
    /// Addresses the agent reports; `InternalIP` is the node's underlay address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<NodeAddress>,
    /// Server-owned `Ready` condition: True while the node's lease is live.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<NodeCondition>,
    /// Where the node's daemons serve, reported by the agent (the API server reads pod logs
    /// there), as Kubernetes' `daemonEndpoints.kubeletEndpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon_endpoints: Option<NodeDaemonEndpoints>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeDaemonEndpoints {
    /// The node agent's HTTP endpoint (`GET /pods/{uid}/containers/{container}/log`).
    pub agent_endpoint: DaemonEndpoint,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DaemonEndpoint {
    /// The address to reach it at; absent: the node's `InternalIP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub port: u16,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeAddress {
    /// `InternalIP`, `ExternalIP` or `Hostname`.
    #[serde(rename = "type")]
    pub address_type: String,
    /// An IPv4 address for `InternalIP` and `ExternalIP`.
    pub address: String,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeCondition {
    #[serde(rename = "type")]
    pub condition_type: String,
    pub status: ConditionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_heartbeat_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Node {
    /// Whether the server considers the node Ready (its lease is live).
    pub fn is_ready(&self) -> bool {
        self.status.conditions.iter().any(|c| c.condition_type == "Ready" && c.status == ConditionStatus::True)
    }

    /// The node's `InternalIP`, if it reported one.
    pub fn internal_ip(&self) -> Option<&str> {
        self.status.addresses.iter().find(|a| a.address_type == "InternalIP").map(|a| a.address.as_str())
    }
}

/// A node's CIDR lease (like Flannel's subnet lease): which pod subnet a node holds and what
/// other nodes need to route to it. Read-only to users; created when a node registers,
/// deleted when reclaimed. Every agent watches these, so a NodeLease changes only when what
/// it holds changes (a heartbeat that changes nothing does not write it): whether the node
/// is alive is its `Lease` `kube-node-lease/NODE`, which the heartbeat renews and only
/// the API server's leader reads.
///
/// Its spec does not reject unknown fields: the server writes it, and a store written
/// before the renewal moved to the `Lease` still holds a `renewTime` here (dropped at the
/// next write).
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeLease {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: NodeLeaseSpec,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NodeLeaseSpec {
    pub node_name: String,
    #[serde(rename = "podCIDR")]
    pub pod_cidr: String,
    /// First address of the CIDR: the pod gateway on the node's bridge, never a pod IP.
    pub gateway: String,
    /// The node's underlay address (its `InternalIP`), where other nodes route the CIDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "nodeIP")]
    pub node_ip: Option<String>,
    /// Backend data the node publishes with its heartbeat (for VXLAN: `vtepMAC`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub backend_data: BTreeMap<String, String>,
    /// When the node acquired this CIDR. When it last renewed is its `Lease`'s
    /// `renewTime`; how long a renewal lasts, the Lease's `leaseDurationSeconds`.
    pub acquire_time: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------
// Lease (coordination.k8s.io/v1)
// ---------------------------------------------------------------------------------------------

/// The namespace of the nodes' heartbeat `Lease`s, as in Kubernetes. It exists from the
/// start and cannot be deleted.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// A lease, in Kubernetes' `coordination.k8s.io/v1` shape: who holds something, since when,
/// and until when unless renewed. Each node's heartbeat renews `kube-node-lease/NODE`
/// (created at its first heartbeat); the API server's leader turns a node whose Lease ran
/// out NotReady, and reclaims its CIDR after the grace. Nobody else watches these, so a
/// renewal costs one event to no node. Admins may create, replace and delete Leases (for
/// their own leader election, as client-go's `leaselock` does); a node's token may write
/// only its own Lease in `kube-node-lease`.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Lease {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: LeaseSpec,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeaseSpec {
    /// Who holds the lease (for a node's Lease: the node's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_identity: Option<String>,
    /// How long after `renewTime` the lease runs out unless renewed (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 2147483647)]
    pub lease_duration_seconds: Option<i32>,
    /// When the current holder acquired the lease (a MicroTime: RFC 3339 with microseconds).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "micro_time")]
    pub acquire_time: Option<DateTime<Utc>>,
    /// When the holder last renewed the lease (a MicroTime).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "micro_time")]
    pub renew_time: Option<DateTime<Utc>>,
    /// How many times the lease changed holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 2147483647)]
    pub lease_transitions: Option<i32>,
}

impl Lease {
    /// When the lease runs out unless renewed: `renewTime` (else `acquireTime`) plus
    /// `leaseDurationSeconds` (else `default_duration`); `None` when it was never renewed.
    pub fn expires_at(&self, default_duration: u64) -> Option<DateTime<Utc>> {
        let renewed = self.spec.renew_time.or(self.spec.acquire_time)?;
        let seconds = self.spec.lease_duration_seconds.map_or(default_duration as i64, i64::from);
        Some(renewed + chrono::Duration::seconds(seconds))
    }
}

/// Kubernetes' MicroTime: RFC 3339 in UTC with exactly six fractional digits
/// (`2026-12-01T04:36:00.123456Z`). Any RFC 3339 time is accepted on input.
pub mod micro_time {
    use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// `t` with what a MicroTime cannot carry (nanoseconds) dropped.
    pub fn truncate(t: DateTime<Utc>) -> DateTime<Utc> {
        t.trunc_subsecs(6)
    }

    pub fn format(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&format(t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Ok(Option::<DateTime<Utc>>::deserialize(d)?.map(truncate))
    }
}

/// Body of `POST /api/v1/nodes/{name}/heartbeat`: renews the node's lease (acquiring one
/// if it has none) and publishes its backend data.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Heartbeat {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub backend_data: BTreeMap<String, String>,
}

/// Answer of `POST /api/v1/nodes/{name}/token`: a bearer token scoped to one node. It is
/// shown once; the server keeps only its hash.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NodeToken {
    pub node_name: String,
    pub token: String,
}

// ---------------------------------------------------------------------------------------------
// Pod
// ---------------------------------------------------------------------------------------------

/// A pod: containers (processes) sharing one network namespace and one IP.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pod {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: PodSpec,
    #[serde(default)]
    pub status: PodStatus,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RestartPolicy {
    #[default]
    Always,
    OnFailure,
    Never,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodSpec {
    /// The node the pod runs on. Set it to bind the pod yourself; leave it out and the
    /// scheduler binds the pod to the Ready node with the fewest pods. Immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// Labels a node must carry (all of them, with these values) for the scheduler to bind
    /// the pod to it. A pod no Ready node matches stays Pending, its `PodScheduled`
    /// condition False (reason `Unschedulable`), until a node matches. Ignored when
    /// `nodeName` is set, as Kubernetes' scheduler never sees such a pod.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// At least one; container names are unique within the pod.
    pub containers: Vec<Container>,
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    /// Seconds between SIGTERM and SIGKILL when the pod is deleted (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_grace_period_seconds: Option<i64>,
    /// The pod's hostname (default: its name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// With `hostname`, and a headless service of this name in the pod's namespace, the pod
    /// answers in DNS as `HOSTNAME.SUBDOMAIN.NS.svc.DOMAIN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdomain: Option<String>,
    /// How the containers' `/etc/resolv.conf` is made: `ClusterFirst` (the cluster DNS, the
    /// default), `Default` (the node's resolvers) or `None` (only `dnsConfig`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub dns_policy: DnsPolicy,
    /// Name servers, search domains and options added to (or, with `dnsPolicy: None`,
    /// making) the containers' `/etc/resolv.conf`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_config: Option<PodDnsConfig>,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DnsPolicy {
    #[default]
    ClusterFirst,
    Default,
    None,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodDnsConfig {
    /// IPv4 addresses of name servers (at most 3 in all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    /// Search domains (at most 32 in all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub searches: Vec<String>,
    /// Resolver options (`ndots` with value `2`, `edns0` …); one given here replaces the
    /// policy's option of the same name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<PodDnsConfigOption>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodDnsConfigOption {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A container: a process started in the pod's network namespace. `image` is accepted and
/// shown, not pulled: `command` + `args` are run on the node.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Container {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Each `containerPort`/`protocol` once; port names are unique within the pod.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvVar {
    pub name: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerPort {
    /// A name services can use as `targetPort` (IANA service name syntax, ≤ 15 chars),
    /// unique within the pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub container_port: i32,
    #[serde(default)]
    pub protocol: Protocol,
}

/// A readiness probe: exactly one of `tcpSocket` or `httpGet`.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Probe {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_socket: Option<TcpSocketAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_get: Option<HttpGetAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_threshold: Option<i32>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpSocketAction {
    pub port: IntOrString,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpGetAction {
    #[serde(default = "default_path")]
    pub path: String,
    pub port: IntOrString,
}

fn default_path() -> String {
    "/".into()
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PodPhase {
    #[default]
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodStatus {
    #[serde(default)]
    pub phase: PodPhase,
    /// Server-owned: allocated from the node's lease when the pod is bound.
    #[serde(default, rename = "podIP", skip_serializing_if = "Option::is_none")]
    pub pod_ip: Option<String>,
    /// Server-owned: the node's `InternalIP` when the pod was bound.
    #[serde(default, rename = "hostIP", skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<PodCondition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_statuses: Vec<ContainerStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodCondition {
    /// `Ready` (decides endpoints), `PodScheduled`, ...
    #[serde(rename = "type")]
    pub condition_type: String,
    pub status: ConditionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerStatus {
    pub name: String,
    /// The container's `image` as its spec names it (flatnet runs commands, not images; an
    /// empty string when the spec names none). Always present: Kubernetes' clients require it.
    #[serde(default)]
    pub image: String,
    /// What the image resolved to: flatnet pulls nothing, so this repeats `image`. Always
    /// present: Kubernetes' clients require it.
    #[serde(default, rename = "imageID")]
    pub image_id: String,
    #[serde(default)]
    pub ready: bool,
    #[serde(default)]
    pub restart_count: i32,
    #[serde(default)]
    pub state: ContainerState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_state: Option<ContainerState>,
}

/// Exactly one of `waiting`, `running`, `terminated` is set.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<ContainerStateWaiting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<ContainerStateRunning>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminated: Option<ContainerStateTerminated>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerStateWaiting {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerStateRunning {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerStateTerminated {
    pub exit_code: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
}

impl Pod {
    /// The `Ready` condition is True (set by the node agent from its probes).
    pub fn is_ready(&self) -> bool {
        self.status.conditions.iter().any(|c| c.condition_type == "Ready" && c.status == ConditionStatus::True)
    }

    /// Resolve a service's `targetPort` against this pod's container ports. A number is
    /// taken as is; a name must match a container port of the same protocol.
    pub fn resolve_port(&self, target: &IntOrString, protocol: Protocol) -> Option<i32> {
        match target {
            IntOrString::Int(p) => Some(*p),
            IntOrString::String(name) => self
                .spec
                .containers
                .iter()
                .flat_map(|c| c.ports.iter())
                .find(|p| p.name.as_deref() == Some(name) && p.protocol == protocol)
                .map(|p| p.container_port),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Service and Endpoints
// ---------------------------------------------------------------------------------------------

/// A service: a stable virtual IP (and optionally a port on every node) load-balanced over
/// the ready pods its selector matches.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Service {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: ServiceSpec,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ServiceType {
    #[default]
    ClusterIP,
    NodePort,
    /// An alias: DNS answers the service's name with a CNAME to `externalName`; no cluster
    /// IP, no proxying.
    ExternalName,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SessionAffinity {
    #[default]
    None,
    ClientIP,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrafficPolicy {
    #[default]
    Cluster,
    Local,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceSpec {
    #[serde(default, rename = "type")]
    pub service_type: ServiceType,
    /// Allocated from the service CIDR when absent; a requested address must be free and in
    /// the service CIDR. `None` makes a headless service: no cluster IP and no load
    /// balancing, DNS answers the ready endpoints' addresses. Immutable.
    #[serde(default, rename = "clusterIP", skip_serializing_if = "Option::is_none")]
    pub cluster_ip: Option<String>,
    /// For `type: ExternalName`: the DNS name the service is an alias of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_name: Option<String>,
    /// Pods with all these labels back the service. Without a selector there are no
    /// endpoints.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, String>,
    pub ports: Vec<ServicePort>,
    #[serde(default)]
    pub session_affinity: SessionAffinity,
    /// Only with `sessionAffinity: ClientIP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity_config: Option<SessionAffinityConfig>,
    /// For NodePort: `Local` keeps the client address and uses only the node's own
    /// endpoints; `Cluster` (default) masquerades and uses every endpoint.
    #[serde(default)]
    pub external_traffic_policy: TrafficPolicy,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionAffinityConfig {
    #[serde(default, rename = "clientIP", skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<ClientIpConfig>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientIpConfig {
    /// Seconds a client sticks to its endpoint (1..=86400, default 10800).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServicePort {
    /// Required when the service has more than one port; unique within the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub protocol: Protocol,
    pub port: i32,
    /// Number or container port name on the pods; defaults to `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<IntOrString>,
    /// For `type: NodePort`: allocated from the NodePort range when absent; a requested
    /// port must be free and in range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_port: Option<i32>,
}

/// The `clusterIP` of a headless service.
pub const HEADLESS: &str = "None";

impl ServiceSpec {
    /// `clusterIP: None`.
    pub fn is_headless(&self) -> bool {
        self.cluster_ip.as_deref() == Some(HEADLESS)
    }
    /// Whether the service gets a cluster IP: neither headless nor an ExternalName.
    pub fn wants_cluster_ip(&self) -> bool {
        !self.is_headless() && self.service_type != ServiceType::ExternalName
    }
}

impl ServicePort {
    /// `targetPort`, defaulting to `port`.
    pub fn target(&self) -> IntOrString {
        self.target_port.clone().unwrap_or(IntOrString::Int(self.port))
    }
}

/// The endpoints of a service, computed by the API server: the addresses of the pods its
/// selector matches, ready or not, grouped by the ports they resolve to. Read-only.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Endpoints {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub subsets: Vec<EndpointSubset>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointSubset {
    /// Ready pods: these receive traffic.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<EndpointAddress>,
    /// Matching pods that are not ready (or whose node is NotReady).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_ready_addresses: Vec<EndpointAddress>,
    pub ports: Vec<EndpointPort>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointAddress {
    pub ip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    pub target_ref: ObjectReference,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectReference {
    pub kind: String,
    #[serde(default)]
    pub namespace: String,
    pub name: String,
    #[serde(default)]
    pub uid: String,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointPort {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub port: i32,
    pub protocol: Protocol,
}

// ---------------------------------------------------------------------------------------------
// Event
// ---------------------------------------------------------------------------------------------

/// Something that happened to an object that a user would want to see: a pod's network
/// wired, a container started or exited with its code, a restart backing off. Written by
/// node agents (and the API server), kept for an hour.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Event {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    /// The name may be left empty: the server then makes one from the involved object.
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub involved_object: ObjectReference,
    /// A short CamelCase word: `Started`, `Exited`, `BackOff`, `NetworkReady`, …
    pub reason: String,
    #[serde(default)]
    pub message: String,
    /// `Normal` or `Warning`.
    #[serde(default = "normal", rename = "type")]
    pub event_type: String,
    /// Server-owned for node callers: the node that reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<EventSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_timestamp: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_timestamp: Option<DateTime<Utc>>,
}

fn normal() -> String {
    "Normal".into()
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Cluster configuration
// ---------------------------------------------------------------------------------------------

/// How pods reach pods on other nodes.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// A route per remote node's pod CIDR via that node's underlay address (Flannel host-gw).
    #[default]
    HostGw,
    /// A VXLAN overlay: VNI 1, UDP 8472 (Flannel vxlan).
    Vxlan,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::HostGw => "host-gw",
            Backend::Vxlan => "vxlan",
        }
    }
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "host-gw" => Ok(Backend::HostGw),
            "vxlan" => Ok(Backend::Vxlan),
            other => Err(format!("unknown backend {other:?}: expected host-gw or vxlan")),
        }
    }
}

/// The cluster-wide network configuration, fixed when the data directory is first used.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterConfig {
    /// The cluster (pod) CIDR, split into one lease per node.
    #[serde(rename = "podCIDR")]
    pub pod_cidr: String,
    /// Prefix length of each node's lease (24: a /24 per node).
    pub node_subnet_prefix: u8,
    #[serde(rename = "serviceCIDR")]
    pub service_cidr: String,
    pub node_port_range: PortRange,
    pub backend: Backend,
    /// A node lease not renewed for this long expires and its node turns NotReady.
    pub lease_ttl_seconds: u64,
    /// An expired lease is reclaimed (its CIDR freed) after this further grace period.
    pub lease_grace_seconds: u64,
    /// The cluster's DNS domain: services answer as `NAME.NS.svc.DOMAIN`.
    #[serde(default = "default_cluster_domain")]
    pub cluster_domain: String,
    /// The cluster DNS address (the `kube-dns` service in `kube-system`): every node answers
    /// its own pods' queries to it on port 53, UDP and TCP. The tenth address of the service
    /// CIDR unless set.
    #[serde(default, rename = "clusterDNS")]
    pub cluster_dns: String,
}

/// The default cluster domain.
pub const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";

fn default_cluster_domain() -> String {
    DEFAULT_CLUSTER_DOMAIN.into()
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PortRange {
    pub min: u16,
    pub max: u16,
}

impl std::str::FromStr for PortRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, b) = s.split_once('-').ok_or_else(|| format!("port range {s:?} is not MIN-MAX"))?;
        let min: u16 = a.trim().parse().map_err(|_| format!("port range {s:?}: bad minimum"))?;
        let max: u16 = b.trim().parse().map_err(|_| format!("port range {s:?}: bad maximum"))?;
        if min == 0 || min > max {
            return Err(format!("port range {s:?}: need 1 <= MIN <= MAX"));
        }
        Ok(PortRange { min, max })
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.min, self.max)
    }
}
