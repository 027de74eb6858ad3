//! The kind registry: every fact about a kind the API serves, stated once.
//!
//! A kind is one entry of the `kinds!` table at the bottom of this module: its API group
//! and version, plural, singular and short names, whether it is namespaced, which verbs and
//! subresources the API serves, and the words the OpenAPI document uses for it. The entry
//! implements [`Resource`] for the type, and [`KINDS`] lists every entry's [`KindInfo`] in
//! table order. Everything else is derived by generic code:
//!
//! - paths ([`KindInfo::collection_path`], [`KindInfo::object_path`]): core kinds live under
//!   `/api/v1`, the others under `/apis/{group}/{version}`; the typed client follows them;
//! - the API server's routes (`apiserver::api::router`), one set per entry, with the verbs
//!   the entry declares;
//! - the store's kinds (the `kind` column is [`KindInfo::kind`]);
//! - the OpenAPI paths, the kinds' schemas and their list schemas (`apiserver::spec`);
//! - later, the discovery documents (`/api`, `/api/v1`, `/apis`, `/apis/{group}/{version}`):
//!   group [`KINDS`] by [`KindInfo::api_version`] and list each entry's plural, singular,
//!   [`KindInfo::short_names`], namespaced flag and [`Verbs::names`].
//!
//! The API server visits the types of the table with
//! [`for_each_kind!`](crate::for_each_kind): it needs the types, not only their facts, to
//! instantiate its generic handlers.
//!
//! # Adding a kind: NetworkPolicy in `networking.k8s.io/v1`
//!
//! 1. The type, in Kubernetes' shape, in [`crate::resources`], deriving `ToSchema` (its
//!    schema and those it refers to join the OpenAPI document by themselves):
//!
//!    ```ignore
//!    pub struct NetworkPolicy {
//!        pub api_version: String,
//!        pub kind: String,
//!        pub metadata: ObjectMeta,
//!        pub spec: NetworkPolicySpec,
//!    }
//!    ```
//!
//! 2. One entry in the `kinds!` table below:
//!
//!    ```ignore
//!    NetworkPolicy {
//!        api_version: "networking.k8s.io/v1",
//!        plural: "networkpolicies",
//!        singular: "networkpolicy",
//!        short_names: &["netpol"],
//!        namespaced: true,
//!        verbs: Verbs::ALL,
//!        tag: "networkpolicies",
//!    }
//!    ```
//!
//!    From it: `Resource for NetworkPolicy` (so `client.api::<NetworkPolicy>(Some("ns"))`
//!    works), the routes `GET /apis/networking.k8s.io/v1/networkpolicies`,
//!    `GET|POST /apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies` and
//!    `GET|PUT|DELETE …/networkpolicies/{name}`, list, get and watch, the store rows, and the
//!    OpenAPI paths, the `NetworkPolicy` schemas and the `NetworkPolicyList` schema.
//!
//!    Namespaces as objects are the same in the core group, cluster-scoped:
//!    `Namespace { plural: "namespaces", singular: "namespace", short_names: &["ns"],
//!    verbs: Verbs::ALL, tag: "namespaces" }` serves `/api/v1/namespaces` and
//!    `/api/v1/namespaces/{name}`, beside the namespaced kinds' `/api/v1/namespaces/{namespace}/…`.
//!
//! 3. Its validation in [`crate::validation`], and `impl Served for NetworkPolicy` in the API
//!    server (`apiserver::kinds`), naming that validation. A kind with no write logic of its
//!    own keeps the default operations: admin-only create, replace (optimistic concurrency
//!    on `resourceVersion`) and delete. A kind that needs more (allocations, bindings, who
//!    may write it) overrides them with its own `Op`s, as pods and services do.
//!
//! The unit test `a_kind_in_a_named_group` below declares such a kind and checks its paths.

use std::fmt;
use std::hash::{Hash, Hasher};

use crate::meta::{ObjectMeta, Resource};
use crate::policy::{AdminNetworkPolicy, BaselineAdminNetworkPolicy, Namespace, NetworkPolicy};
use crate::resources::{Endpoints, Event, Lease, Node, NodeLease, Pod, Service};

/// The verbs the API serves for a kind, beyond `get`, `list` and `watch`, which every kind
/// serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verbs {
    /// `POST` to the collection.
    pub create: bool,
    /// `PUT` of an object.
    pub update: bool,
    /// `DELETE` of an object.
    pub delete: bool,
}

impl Verbs {
    /// Read-only: get, list and watch.
    pub const READ: Verbs = Verbs { create: false, update: false, delete: false };
    /// Create, update and delete too.
    pub const ALL: Verbs = Verbs { create: true, update: true, delete: true };

    /// Whether any write is served.
    pub const fn writable(self) -> bool {
        self.create || self.update || self.delete
    }

    /// Their names as discovery lists them (`get`, `list`, `watch`, `create`, …).
    pub fn names(self) -> Vec<&'static str> {
        let mut names = vec!["get", "list", "watch"];
        for (served, name) in [(self.create, "create"), (self.update, "update"), (self.delete, "delete")] {
            if served {
                names.push(name);
            }
        }
        names
    }
}

/// Everything the API says about one kind. Two `KindInfo`s are the same kind when they have
/// the same `apiVersion` and `kind`.
#[derive(Clone, Copy, Debug)]
pub struct KindInfo {
    /// `v1` for the core group, `GROUP/VERSION` for the others (`networking.k8s.io/v1`).
    pub api_version: &'static str,
    /// The kind's name (`Pod`); also its key in the store.
    pub kind: &'static str,
    /// The lower-case plural used in paths (`pods`).
    pub plural: &'static str,
    /// The lower-case singular (`pod`).
    pub singular: &'static str,
    /// Abbreviations kubectl accepts (`po`).
    pub short_names: &'static [&'static str],
    pub namespaced: bool,
    pub verbs: Verbs,
    /// Whether the `status` subresource is served (`GET`, `PUT …/{name}/status`).
    pub status: bool,
    /// Field selectors list and watch accept beside `metadata.name` and `metadata.namespace`,
    /// which every kind accepts (`spec.nodeName`).
    pub field_selectors: &'static [&'static str],
    /// The OpenAPI tag of its operations.
    pub tag: &'static str,
    /// The OpenAPI summary of create, where more can be said than "Create a Kind".
    pub create_summary: Option<&'static str>,
}

impl KindInfo {
    /// The optional parts of an entry, for struct update syntax in the `kinds!` table.
    pub const DEFAULTS: KindInfo = KindInfo {
        api_version: "v1",
        kind: "",
        plural: "",
        singular: "",
        short_names: &[],
        namespaced: false,
        verbs: Verbs::READ,
        status: false,
        field_selectors: &[],
        tag: "",
        create_summary: None,
    };

    /// The API group: empty for the core group.
    pub fn group(&self) -> &'static str {
        self.api_version.rsplit_once('/').map_or("", |(group, _)| group)
    }

    /// The version within the group (`v1`).
    pub fn version(&self) -> &'static str {
        self.api_version.rsplit_once('/').map_or(self.api_version, |(_, version)| version)
    }

    /// Where the group's version is served: `/api/v1` for the core group,
    /// `/apis/{group}/{version}` for the others.
    pub fn base_path(&self) -> String {
        if self.group().is_empty() {
            format!("/api/{}", self.api_version)
        } else {
            format!("/apis/{}", self.api_version)
        }
    }

    /// The path of the collection: all namespaces (or cluster-scoped) when `namespace` is
    /// `None`.
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}/namespaces/{ns}/{}", self.base_path(), self.plural),
            _ => format!("{}/{}", self.base_path(), self.plural),
        }
    }

    /// The path of one object.
    pub fn object_path(&self, namespace: Option<&str>, name: &str) -> String {
        format!("{}/{name}", self.collection_path(namespace))
    }

    /// The route templates the API server serves for the kind, in axum's syntax:
    /// the list across namespaces (or the cluster-scoped collection), the namespaced
    /// collection (`None` when cluster-scoped) and the object.
    pub fn routes(&self) -> KindRoutes {
        let all = self.collection_path(None);
        let collection = self.namespaced.then(|| self.collection_path(Some("{namespace}")));
        let object = self.object_path(self.namespaced.then_some("{namespace}"), "{name}");
        KindRoutes { all, collection, object }
    }

    /// The name of its list kind (`PodList`).
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }
}

impl PartialEq for KindInfo {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.api_version == other.api_version
    }
}

impl Eq for KindInfo {}

impl Hash for KindInfo {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.api_version.hash(state);
        self.kind.hash(state);
    }
}

impl fmt::Display for KindInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.api_version, self.kind)
    }
}

/// The route templates of a kind (see [`KindInfo::routes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindRoutes {
    /// `…/pods`: every namespace's objects; for a cluster-scoped kind, its collection.
    pub all: String,
    /// `…/namespaces/{namespace}/pods`, for a namespaced kind.
    pub collection: Option<String>,
    /// `…/pods/{name}` or `…/namespaces/{namespace}/pods/{name}`.
    pub object: String,
}

impl KindRoutes {
    /// Where objects are created (and listed in a namespace).
    pub fn create(&self) -> &str {
        self.collection.as_deref().unwrap_or(&self.all)
    }

    /// The `status` subresource of an object.
    pub fn status(&self) -> String {
        format!("{}/status", self.object)
    }
}

/// The kind of `K`.
pub fn info<K: Resource>() -> &'static KindInfo {
    K::INFO
}

/// The kind named `kind` (its store key), if the API serves it.
pub fn find(kind: &str) -> Option<&'static KindInfo> {
    KINDS.iter().copied().find(|k| k.kind == kind)
}

/// Declares the kinds: `Type { field: value, … }` implements [`Resource`] for `Type` with
/// that [`KindInfo`] (its `kind` is the type's name; unset fields come from
/// [`KindInfo::DEFAULTS`]), and the table becomes [`KINDS`] and
/// [`for_each_kind!`](crate::for_each_kind).
///
/// `$d` is a literal `$`, passed in so that the generated macro can have parameters.
macro_rules! kinds {
    ($d:tt $($ty:ident { $($field:ident: $value:expr),* $(,)? })*) => {
        $(
            impl Resource for $ty {
                const INFO: &'static KindInfo =
                    &KindInfo { kind: stringify!($ty), $($field: $value,)* ..KindInfo::DEFAULTS };
                fn metadata(&self) -> &ObjectMeta {
                    &self.metadata
                }
                fn metadata_mut(&mut self) -> &mut ObjectMeta {
                    &mut self.metadata
                }
                fn type_meta_mut(&mut self) -> (&mut String, &mut String) {
                    (&mut self.api_version, &mut self.kind)
                }
            }
        )*

        /// Every kind the API serves, in declaration order.
        pub const KINDS: &[&KindInfo] = &[$(<$ty as Resource>::INFO),*];

        /// `for_each_kind!(callback)` calls `callback!(Node, NodeLease, …)` with the types
        /// of every kind (as paths under `openapi::`), for code that needs the types.
        #[macro_export]
        macro_rules! for_each_kind {
            ($d callback:ident) => {
                $d callback!($($crate::$ty),*)
            };
        }
    };
}

kinds! { $
    Node {
        plural: "nodes",
        singular: "node",
        short_names: &["no"],
        verbs: Verbs::ALL,
        status: true,
        tag: "nodes",
        create_summary: Some("Register a node (admin, or the node's own token); acquires its CIDR lease"),
    }
    NodeLease {
        plural: "nodeleases",
        singular: "nodelease",
        tag: "nodes",
    }
    Pod {
        plural: "pods",
        singular: "pod",
        short_names: &["po"],
        namespaced: true,
        verbs: Verbs::ALL,
        status: true,
        field_selectors: &["spec.nodeName", "status.phase"],
        tag: "pods",
        create_summary: Some("Create a pod; it is scheduled and given an IP from its node's lease"),
    }
    Service {
        plural: "services",
        singular: "service",
        short_names: &["svc"],
        namespaced: true,
        verbs: Verbs::ALL,
        tag: "services",
        create_summary: Some("Create a service; it is given a cluster IP (and node ports)"),
    }
    Endpoints {
        plural: "endpoints",
        singular: "endpoints",
        short_names: &["ep"],
        namespaced: true,
        tag: "services",
    }
    Event {
        plural: "events",
        singular: "event",
        short_names: &["ev"],
        namespaced: true,
        field_selectors: &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "type",
        ],
        // Events are reported and expire; they are never changed.
        verbs: Verbs { create: true, update: false, delete: true },
        tag: "events",
        create_summary: Some("Report an event (node agents report as themselves); the name may be left empty"),
    }
    Namespace {
        plural: "namespaces",
        singular: "namespace",
        short_names: &["ns"],
        verbs: Verbs::ALL,
        tag: "namespaces",
        create_summary: Some("Create a namespace (creating an object in a missing namespace creates it too)"),
    }
    NetworkPolicy {
        api_version: "networking.k8s.io/v1",
        plural: "networkpolicies",
        singular: "networkpolicy",
        short_names: &["netpol"],
        namespaced: true,
        verbs: Verbs::ALL,
        tag: "networkpolicies",
    }
    AdminNetworkPolicy {
        api_version: "policy.networking.k8s.io/v1alpha1",
        plural: "adminnetworkpolicies",
        singular: "adminnetworkpolicy",
        short_names: &["anp"],
        verbs: Verbs::ALL,
        tag: "networkpolicies",
    }
    BaselineAdminNetworkPolicy {
        api_version: "policy.networking.k8s.io/v1alpha1",
        plural: "baselineadminnetworkpolicies",
        singular: "baselineadminnetworkpolicy",
        short_names: &["banp"],
        verbs: Verbs::ALL,
        tag: "networkpolicies",
    }
    Lease {
        api_version: "coordination.k8s.io/v1",
        plural: "leases",
        singular: "lease",
        namespaced: true,
        verbs: Verbs::ALL,
        tag: "leases",
        create_summary: Some("Create a lease (admin; a node's token: its own in kube-node-lease)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kind of a named group, as the issue that adds network policies will declare one.
    const TOY: KindInfo = KindInfo {
        api_version: "example.flatnet.io/v1alpha1",
        kind: "Toy",
        plural: "toys",
        singular: "toy",
        short_names: &["ty"],
        namespaced: true,
        verbs: Verbs::ALL,
        tag: "toys",
        ..KindInfo::DEFAULTS
    };

    #[test]
    fn a_kind_in_a_named_group() {
        assert_eq!(TOY.group(), "example.flatnet.io");
        assert_eq!(TOY.version(), "v1alpha1");
        assert_eq!(TOY.base_path(), "/apis/example.flatnet.io/v1alpha1");
        assert_eq!(TOY.collection_path(None), "/apis/example.flatnet.io/v1alpha1/toys");
        assert_eq!(TOY.collection_path(Some("web")), "/apis/example.flatnet.io/v1alpha1/namespaces/web/toys");
        assert_eq!(TOY.object_path(Some("web"), "a"), "/apis/example.flatnet.io/v1alpha1/namespaces/web/toys/a");
        let routes = TOY.routes();
        assert_eq!(routes.all, "/apis/example.flatnet.io/v1alpha1/toys");
        assert_eq!(routes.collection.as_deref(), Some("/apis/example.flatnet.io/v1alpha1/namespaces/{namespace}/toys"));
        assert_eq!(routes.object, "/apis/example.flatnet.io/v1alpha1/namespaces/{namespace}/toys/{name}");
        assert_eq!(routes.create(), "/apis/example.flatnet.io/v1alpha1/namespaces/{namespace}/toys");
    }

    #[test]
    fn core_kinds_live_under_api_v1() {
        assert_eq!(Pod::INFO.group(), "");
        assert_eq!(Pod::INFO.version(), "v1");
        assert_eq!(Pod::collection_path(Some("default")), "/api/v1/namespaces/default/pods");
        assert_eq!(Pod::collection_path(None), "/api/v1/pods");
        assert_eq!(Node::object_path(Some("ignored"), "n1"), "/api/v1/nodes/n1");
        let routes = Node::INFO.routes();
        assert_eq!((routes.all.as_str(), routes.collection.as_deref()), ("/api/v1/nodes", None));
        assert_eq!(routes.create(), "/api/v1/nodes");
        assert_eq!(routes.status(), "/api/v1/nodes/{name}/status");
    }

    #[test]
    fn the_table_is_consistent() {
        let mut seen = std::collections::HashSet::new();
        for k in KINDS {
            // The kind's name is its store key: unique across groups.
            assert!(seen.insert(k.kind), "{} is declared twice", k.kind);
            assert!(!k.plural.is_empty() && !k.singular.is_empty() && !k.tag.is_empty(), "{k} lacks a name");
            assert_eq!(find(k.kind), Some(*k));
        }
        assert_eq!(Pod::KIND, "Pod");
        assert_eq!(Pod::API_VERSION, "v1");
        assert_eq!(Event::INFO.verbs.names(), ["get", "list", "watch", "create", "delete"]);
        assert!(!Endpoints::INFO.verbs.writable());
        macro_rules! names {
            ($($ty:path),*) => { [$(<$ty as Resource>::KIND),*] };
        }
        let visited = for_each_kind!(names);
        assert_eq!(visited.as_slice(), KINDS.iter().map(|k| k.kind).collect::<Vec<_>>());
    }
}
