//! Namespaces and network policies, in Kubernetes' shapes.
//!
//! - [`Namespace`] (core `v1`, cluster-scoped): the server sets the label
//!   `kubernetes.io/metadata.name` to the namespace's name, so policies can select a
//!   namespace by name.
//! - [`NetworkPolicy`] (`networking.k8s.io/v1`): allow-lists per pod. A pod is isolated in a
//!   direction once any policy that selects it names that direction; then only the union of
//!   the rules of the policies selecting it is allowed. Replies of allowed connections pass.
//! - [`AdminNetworkPolicy`] and [`BaselineAdminNetworkPolicy`]
//!   (`policy.networking.k8s.io/v1alpha1`, cluster-scoped): the cluster administrator's
//!   allow- and deny-lists. Admin policies are judged first, by priority (lower first), with
//!   `Allow`, `Deny` or `Pass` (hand the decision to the NetworkPolicies); then the
//!   namespaces' NetworkPolicies; then the baseline (a singleton named `default`), for
//!   traffic no NetworkPolicy isolates.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::meta::ObjectMeta;
use crate::resources::{IntOrString, Protocol};

/// The label every namespace carries, set by the server to the namespace's name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The namespaces that exist from the start and may not be deleted.
pub const INITIAL_NAMESPACES: [&str; 3] = ["default", "kube-system", crate::resources::NODE_LEASE_NAMESPACE];

// ---------------------------------------------------------------------------------------------
// Namespace
// ---------------------------------------------------------------------------------------------

/// A namespace. Creating a namespaced object in a namespace that does not exist creates the
/// namespace (flatnet has no admission step to refuse it); deleting a namespace deletes
/// every object in it, in the same transaction.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Namespace {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: NamespaceSpec,
    #[serde(default)]
    pub status: NamespaceStatus,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespaceSpec {
    /// Accepted for compatibility; deletion does not wait for finalizers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespaceStatus {
    /// Server-owned: `Active` (deletion is immediate, so never `Terminating`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

impl Namespace {
    /// A namespace named `name`, as the server creates it.
    pub fn named(name: &str) -> Namespace {
        Namespace { metadata: ObjectMeta { name: name.to_string(), ..Default::default() }, ..Default::default() }
    }
}

// ---------------------------------------------------------------------------------------------
// Label selectors
// ---------------------------------------------------------------------------------------------

/// A label selector, as policies carry it: every `matchLabels` pair and every
/// `matchExpressions` requirement must hold. The empty selector selects everything.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelectorRequirement {
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    /// Required (non-empty) for `In` and `NotIn`, empty for `Exists` and `DoesNotExist`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

impl LabelSelector {
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// NetworkPolicy
// ---------------------------------------------------------------------------------------------

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicy {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: NetworkPolicySpec,
}

/// A direction of traffic a policy isolates.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyType {
    Ingress,
    Egress,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicySpec {
    /// The pods of the policy's namespace it applies to; empty: all of them.
    #[serde(default)]
    pub pod_selector: LabelSelector,
    /// Traffic allowed into the selected pods (when the policy isolates ingress).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<NetworkPolicyIngressRule>,
    /// Traffic allowed out of the selected pods (when the policy isolates egress).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<NetworkPolicyEgressRule>,
    /// The directions the policy isolates. Absent: `Ingress`, plus `Egress` when the policy
    /// has egress rules (Kubernetes' default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_types: Option<Vec<PolicyType>>,
}

impl NetworkPolicySpec {
    /// The directions the policy isolates, with Kubernetes' default when unset.
    pub fn isolates(&self, direction: PolicyType) -> bool {
        match &self.policy_types {
            Some(types) => types.contains(&direction),
            None => direction == PolicyType::Ingress || !self.egress.is_empty(),
        }
    }
}

/// Traffic from any of `from` (everywhere when empty) to any of `ports` (all when empty).
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicyIngressRule {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<NetworkPolicyPort>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<NetworkPolicyPeer>,
}

/// Traffic to any of `to` (everywhere when empty) on any of `ports` (all when empty).
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicyEgressRule {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<NetworkPolicyPort>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<NetworkPolicyPeer>,
}

/// One peer: either `ipBlock`, or pods by `podSelector` and/or `namespaceSelector`. Both
/// selectors in one peer mean the pods that match `podSelector` in the namespaces that match
/// `namespaceSelector`; `podSelector` alone means pods of the policy's namespace;
/// `namespaceSelector` alone means every pod of the matching namespaces.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicyPeer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_block: Option<IpBlock>,
}

/// Addresses in `cidr` but not in any of `except` (each within `cidr`).
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IpBlock {
    pub cidr: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
}

/// A port (number or the name of a container port of the destination pod), or the range
/// `port..=endPort`; no port: every port of the protocol.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicyPort {
    /// `TCP` (default) or `UDP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<IntOrString>,
    /// The last port of a range starting at a numeric `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<i32>,
}

// ---------------------------------------------------------------------------------------------
// AdminNetworkPolicy and BaselineAdminNetworkPolicy
// ---------------------------------------------------------------------------------------------

/// A cluster-wide policy of the administrator, judged before any NetworkPolicy.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdminNetworkPolicy {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: AdminNetworkPolicySpec,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdminNetworkPolicySpec {
    /// 0-1000; the lower, the earlier it is judged. Two policies of one priority are
    /// judged in name order.
    pub priority: i32,
    /// The pods the policy applies to.
    pub subject: AdminNetworkPolicySubject,
    /// Judged in order: the first rule that matches decides. At most 100.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<AdminNetworkPolicyIngressRule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<AdminNetworkPolicyEgressRule>,
}

/// The singleton (named `default`) judged after every NetworkPolicy, for traffic none of
/// them isolates: the cluster's defaults that namespaces may override.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BaselineAdminNetworkPolicy {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: BaselineAdminNetworkPolicySpec,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BaselineAdminNetworkPolicySpec {
    pub subject: AdminNetworkPolicySubject,
    /// `Allow` or `Deny` only (there is nothing after the baseline to pass to).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<AdminNetworkPolicyIngressRule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<AdminNetworkPolicyEgressRule>,
}

/// Exactly one of: every pod of the namespaces `namespaces` selects, or the pods `pods`
/// selects.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdminNetworkPolicySubject {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<NamespacedPod>,
}

/// Pods matching `podSelector` in the namespaces matching `namespaceSelector`.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespacedPod {
    #[serde(default)]
    pub namespace_selector: LabelSelector,
    #[serde(default)]
    pub pod_selector: LabelSelector,
}

/// What a matching rule does.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AdminNetworkPolicyRuleAction {
    Allow,
    Deny,
    /// Skip the remaining admin policies: the NetworkPolicies (then the baseline) decide.
    Pass,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdminNetworkPolicyIngressRule {
    /// Shown in counters and events; at most 100 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub action: AdminNetworkPolicyRuleAction,
    /// At least one peer.
    pub from: Vec<AdminNetworkPolicyPeer>,
    /// Absent: every port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<AdminNetworkPolicyPort>>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdminNetworkPolicyEgressRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub action: AdminNetworkPolicyRuleAction,
    pub to: Vec<AdminNetworkPolicyPeer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<AdminNetworkPolicyPort>>,
}

/// Exactly one of: pods of namespaces, pods, or (egress only) networks by CIDR.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdminNetworkPolicyPeer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<NamespacedPod>,
    /// Egress only: destinations outside the cluster's pods, as CIDRs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networks: Option<Vec<String>>,
}

/// Exactly one of a port number, a named port of the destination pod, or a range.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdminNetworkPolicyPort {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_number: Option<PortNumber>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub named_port: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_range: Option<PortRangeSpec>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortNumber {
    #[serde(default)]
    pub protocol: Protocol,
    pub port: i32,
}

/// `start..=end` of one protocol.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortRangeSpec {
    #[serde(default)]
    pub protocol: Protocol,
    pub start: i32,
    pub end: i32,
}

// ---------------------------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------------------------

/// The limit of [`PolicyCounters::items`] in one node's report.
pub const POLICY_COUNTERS_MAX: usize = 10_000;

/// The counts of one rule of a policy. A connection is judged at its first packet (and again
/// at its first packet after each change of the node's plan), so `Allow` and `Pass` count
/// judgements of new connections, and `Deny` every packet dropped (a client's retries
/// included).
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyCounter {
    /// `NetworkPolicy`, `AdminNetworkPolicy` or `BaselineAdminNetworkPolicy`.
    pub kind: String,
    /// The policy's namespace (NetworkPolicies only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    /// `Ingress` or `Egress`.
    pub direction: String,
    /// The rule's index in `ingress` or `egress`; absent for the drop of a NetworkPolicy's
    /// isolation (what no rule of the policies selecting the pod allows), which counts
    /// against every policy isolating the pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub rule: Option<u32>,
    /// `Allow`, `Deny` or `Pass`.
    pub action: String,
    #[schema(minimum = 0)]
    pub packets: u64,
    #[schema(minimum = 0)]
    pub bytes: u64,
}

/// What a [`PolicyCounter`] counts: kind, namespace, name, direction, rule, action.
pub type PolicyCounterKey = (String, Option<String>, String, String, Option<u32>, String);

impl PolicyCounter {
    pub fn key(&self) -> PolicyCounterKey {
        (
            self.kind.clone(),
            self.namespace.clone(),
            self.name.clone(),
            self.direction.clone(),
            self.rule,
            self.action.clone(),
        )
    }

    /// Its labels in the metrics' text format, as `flatnet_policy_packets_total` carries them
    /// on the API server's and the agents' `/metrics` (`rule="isolation"` for the drop of a
    /// NetworkPolicy's isolation).
    pub fn metric_labels(&self) -> String {
        let rule = self.rule.map_or_else(|| "isolation".to_string(), |r| r.to_string());
        format!(
            "kind=\"{}\",namespace=\"{}\",name=\"{}\",direction=\"{}\",rule=\"{rule}\",action=\"{}\"",
            self.kind,
            self.namespace.as_deref().unwrap_or(""),
            self.name,
            self.direction,
            self.action
        )
    }
}

/// The policy counters of one node (`PUT /api/v1/nodes/{name}/policycounters`, by its agent),
/// or of the cluster (`GET /api/v1/policycounters`: the last report of every node, summed
/// per rule).
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyCounters {
    #[serde(default)]
    pub items: Vec<PolicyCounter>,
}
