//! flatnet's API contract, shared by the API server, the node agent, the CLI and tests.
//!
//! - [`meta`]: object metadata, lists, watch events and the error body ([`Status`]).
//! - [`resources`]: the kinds (Node, NodeLease, Lease, Pod, Service, Endpoints, Event) and the
//!   cluster configuration, in Kubernetes' JSON shapes.
//! - [`policy`]: namespaces, NetworkPolicy, AdminNetworkPolicy and its baseline.
//! - [`registry`]: each kind's facts (group, version, names, scope, verbs), declared once;
//!   paths, routes, store kinds and OpenAPI paths are derived from it.
//! - [`validation`]: the rules every object must pass at the API edge, each failure naming
//!   its field.
//! - [`selector`]: label selectors (`app=web,tier in (a,b)`).
//! - [`client`] (feature `client`, on by default): a typed async client over reqwest, with
//!   watch streams that reconnect from the last resourceVersion.
//!
//! The OpenAPI document the API server serves at `/openapi.json` is committed next to this
//! crate as `openapi.json`; a test in the API server fails when the two differ.

pub mod meta;
pub mod policy;
pub mod registry;
pub mod resources;
pub mod selector;
pub mod validation;

#[cfg(feature = "client")]
pub mod client;

pub use meta::{
    EventType, List, ListMeta, ManagedFieldsEntry, ObjectMeta, RawWatchEvent, Resource, Status, StatusBody,
    StatusCause, StatusDetails,
};
pub use policy::{
    AdminNetworkPolicy, BaselineAdminNetworkPolicy, Namespace, NetworkPolicy, PolicyCounter, PolicyCounters,
};
pub use registry::{KindInfo, Verbs, KINDS};
pub use resources::*;
