//! What the API server adds to each kind of the registry ([`openapi::registry`]): how an
//! object is validated, which store operation each write becomes (and who may do it), and
//! what the store indexes of it.
//!
//! The routes, the store's kind, the paths and the OpenAPI paths come from the kind's
//! registry entry; this module holds only what is special to a kind. A kind with no write
//! logic of its own names its validation and keeps the default operations: admin-only,
//! plain create, replace and delete ([`Plain`]). For example, network policies would need
//! only:
//!
//! ```ignore
//! impl Served for NetworkPolicy {
//!     fn validate(&self, _: &Settings) -> Result<(), FieldErrors> {
//!         validation::validate_network_policy(self)
//!     }
//! }
//! ```
//!
//! Every kind of the registry must implement [`Served`]: `api::router` visits them all with
//! `openapi::for_each_kind!`, so a kind without it does not compile.

use std::fmt::Debug;

use openapi::validation::{self, FieldErrors};
use openapi::{
    AdminNetworkPolicy, BaselineAdminNetworkPolicy, Endpoints, Event, Lease, Namespace, NetworkPolicy, Node, NodeLease,
    Pod, Resource, Service, NODE_LEASE_NAMESPACE,
};

use crate::config::Settings;
use crate::error::{ApiError, ApiResult};
use crate::store::ops::Plain;
use crate::store::{Caller, Op, Subresource};
use crate::table::{self, Column};

/// A kind the API server stores and serves. The default operations are those of a kind
/// with no write logic of its own; the registry's verbs decide which of them are routed.
pub trait Served: Resource + PartialEq + Debug {
    /// The field rules of a created or replaced object (its status is the writer's).
    fn validate(&self, settings: &Settings) -> Result<(), FieldErrors>;

    /// The columns `kubectl get` shows (server-side printing, [`crate::table`]).
    const COLUMNS: &'static [Column] = table::DEFAULT;

    /// The node the object is bound to (the store's `node_name` column, which
    /// `fieldSelector=spec.nodeName=…` reads).
    fn node_index(&self) -> Option<&str> {
        None
    }

    fn create_op(self, caller: &Caller) -> ApiResult<Op> {
        caller.require_admin()?;
        Ok(Op::Plain(Box::new(Plain::Create(self))))
    }

    fn update_op(self, caller: &Caller, sub: Subresource) -> ApiResult<Op> {
        caller.require_admin()?;
        match sub {
            Subresource::Main => Ok(Op::Plain(Box::new(Plain::Update(self)))),
            // Which fields a status write may change is the kind's to say.
            Subresource::Status => {
                Err(ApiError::method_not_allowed(format!("{} has no status subresource", Self::KIND)))
            }
        }
    }

    fn delete_op(namespace: String, name: String, caller: &Caller) -> ApiResult<Op> {
        caller.require_admin()?;
        Ok(Op::Plain(Box::new(Plain::<Self>::Delete { namespace, name })))
    }
}

impl Served for Node {
    const COLUMNS: &'static [Column] = table::NODE;
    fn validate(&self, _: &Settings) -> Result<(), FieldErrors> {
        validation::validate_node(self)
    }
    /// A node registers itself (or the admin does).
    fn create_op(self, caller: &Caller) -> ApiResult<Op> {
        caller.require_node(&self.metadata.name)?;
        Ok(Op::CreateNode(self))
    }
    fn update_op(self, caller: &Caller, sub: Subresource) -> ApiResult<Op> {
        caller.require_node(&self.metadata.name)?;
        Ok(Op::UpdateNode(self, sub))
    }
    fn delete_op(_: String, name: String, caller: &Caller) -> ApiResult<Op> {
        caller.require_admin()?;
        Ok(Op::DeleteNode(name))
    }
}

/// Read-only: CIDR leases are written by node registration, heartbeats and the tick.
impl Served for NodeLease {
    fn validate(&self, _: &Settings) -> Result<(), FieldErrors> {
        Ok(())
    }
}

impl Served for Pod {
    const COLUMNS: &'static [Column] = table::POD;
    fn validate(&self, _: &Settings) -> Result<(), FieldErrors> {
        validation::validate_pod(self)
    }
    fn node_index(&self) -> Option<&str> {
        self.spec.node_name.as_deref()
    }
    fn create_op(self, caller: &Caller) -> ApiResult<Op> {
        caller.require_admin()?;
        Ok(Op::CreatePod(self))
    }
    fn update_op(self, caller: &Caller, sub: Subresource) -> ApiResult<Op> {
        // Whether a node may write this pod's status depends on where the pod is bound:
        // the writer checks that against the stored pod.
        Ok(Op::UpdatePod(self, sub, caller.clone()))
    }
    fn delete_op(ns: String, name: String, caller: &Caller) -> ApiResult<Op> {
        caller.require_admin()?;
        Ok(Op::DeletePod(ns, name))
    }
}

impl Served for Service {
    const COLUMNS: &'static [Column] = table::SERVICE;
    fn validate(&self, settings: &Settings) -> Result<(), FieldErrors> {
        validation::validate_service(self, &settings.cluster)
    }
    fn create_op(self, caller: &Caller) -> ApiResult<Op> {
        caller.require_admin()?;
        Ok(Op::CreateService(self))
    }
    fn update_op(self, caller: &Caller, _: Subresource) -> ApiResult<Op> {
        caller.require_admin()?;
        Ok(Op::UpdateService(self))
    }
    fn delete_op(ns: String, name: String, caller: &Caller) -> ApiResult<Op> {
        caller.require_admin()?;
        Ok(Op::DeleteService(ns, name))
    }
}

/// Read-only: the writer computes endpoints from services and pods.
impl Served for Endpoints {
    const COLUMNS: &'static [Column] = table::ENDPOINTS;
    fn validate(&self, _: &Settings) -> Result<(), FieldErrors> {
        Ok(())
    }
}

/// Events are created (by node agents as themselves, or the admin) and deleted (admin, by
/// default); the registry serves no update.
impl Served for Event {
    const COLUMNS: &'static [Column] = table::EVENT;
    fn validate(&self, _: &Settings) -> Result<(), FieldErrors> {
        validation::validate_event(self)
    }
    fn create_op(self, caller: &Caller) -> ApiResult<Op> {
        Ok(Op::CreateEvent(self, caller.clone()))
    }
}

/// Namespaces carry the server's `kubernetes.io/metadata.name` label; deleting one deletes
/// what is in it.
impl Served for Namespace {
    fn validate(&self, _: &Settings) -> Result<(), FieldErrors> {
        validation::validate_namespace(self)
    }
    fn create_op(self, caller: &Caller) -> ApiResult<Op> {
        caller.require_admin()?;
        Ok(Op::CreateNamespace(self))
    }
    fn update_op(self, caller: &Caller, _: Subresource) -> ApiResult<Op> {
        caller.require_admin()?;
        Ok(Op::UpdateNamespace(self))
    }
    fn delete_op(_: String, name: String, caller: &Caller) -> ApiResult<Op> {
        caller.require_admin()?;
        Ok(Op::DeleteNamespace(name))
    }
}

impl Served for NetworkPolicy {
    fn validate(&self, _: &Settings) -> Result<(), FieldErrors> {
        validation::validate_network_policy(self)
    }
}

impl Served for AdminNetworkPolicy {
    fn validate(&self, _: &Settings) -> Result<(), FieldErrors> {
        validation::validate_admin_network_policy(self)
    }
}

impl Served for BaselineAdminNetworkPolicy {
    fn validate(&self, _: &Settings) -> Result<(), FieldErrors> {
        validation::validate_baseline_admin_network_policy(self)
    }
}

/// Who may write a Lease: the admin any; a node's token only its own heartbeat Lease,
/// `kube-node-lease/NODE` (the heartbeat endpoint renews it too).
fn require_lease_writer(caller: &Caller, namespace: &str, name: &str) -> ApiResult<()> {
    match caller {
        Caller::Node(_) if namespace == NODE_LEASE_NAMESPACE => caller.require_node(name),
        _ => caller.require_admin(),
    }
}

/// Leases (coordination.k8s.io/v1): plain objects; users run their own leader election
/// with them. The nodes' heartbeat Leases in `kube-node-lease` are renewed by
/// `POST /api/v1/nodes/{name}/heartbeat`.
impl Served for Lease {
    const COLUMNS: &'static [Column] = table::LEASE;
    fn validate(&self, _: &Settings) -> Result<(), FieldErrors> {
        validation::validate_lease(self)
    }
    fn create_op(self, caller: &Caller) -> ApiResult<Op> {
        require_lease_writer(caller, self.metadata.namespace.as_deref().unwrap_or_default(), &self.metadata.name)?;
        Ok(Op::Plain(Box::new(Plain::Create(self))))
    }
    fn update_op(self, caller: &Caller, sub: Subresource) -> ApiResult<Op> {
        require_lease_writer(caller, self.metadata.namespace.as_deref().unwrap_or_default(), &self.metadata.name)?;
        match sub {
            Subresource::Main => Ok(Op::Plain(Box::new(Plain::Update(self)))),
            Subresource::Status => Err(ApiError::method_not_allowed("Lease has no status subresource")),
        }
    }
    fn delete_op(namespace: String, name: String, caller: &Caller) -> ApiResult<Op> {
        require_lease_writer(caller, &namespace, &name)?;
        Ok(Op::Plain(Box::new(Plain::<Self>::Delete { namespace, name })))
    }
}
