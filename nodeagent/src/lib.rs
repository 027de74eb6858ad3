//! The flatnet node agent: one per node.
//!
//! It registers its node, renews the node's CIDR lease by heartbeat, prepares the pod
//! bridge with the lease's gateway, and follows the pods the API server binds to it (a full
//! list, then a watch filtered by `spec.nodeName`). Each pod gets a worker ([`pods`]) that
//! wires its network through `netcore` (namespace, veth, IP, routes), runs its containers
//! as processes in that namespace through a shim ([`shim`], [`containers`]) with their
//! restart policy, and reports the pod's status. The service proxy ([`services`]) follows
//! every Service and Endpoints object and keeps the node's nftables table (cluster IPs,
//! NodePorts, egress NAT; see `netcore::services`) equal to them, change by change. The
//! policy enforcer ([`policy`]) follows namespaces, pods and network policies and keeps the
//! policy part of the same table equal to what `netcore::policy` compiles of them. The
//! agent serves the containers' logs to the API server ([`logs`]) and runs commands in them
//! for it ([`exec`]).
//!
//! Every kind the agent follows (leases, pods, services, endpoints) is read through one
//! [`reflector`] (list, watch, relist with the one [`backoff`] policy). The kernel is
//! reached through small traits ([`kernel::PodNet`], [`kernel::ServiceTable`],
//! [`runtime::Runtime`]) whose recording fakes let the unit tests check the agent's
//! decisions without root; the pod status and restart decisions are pure ([`status`]).
//!
//! The agent keeps what it must remember about running containers in its data directory,
//! so a restarted agent (even after `kill -9`) adopts the running pods instead of
//! recreating them: nothing is applied before the first full list, every step is
//! idempotent, and a periodic resync repairs drift (a veth or route deleted by hand). Drift
//! is repaired at once too: the kernel's notifications in the node's namespace become
//! notices ([`drift`]) that the proxy, the pods and the backend act on.

pub mod agent;
pub mod backoff;
pub mod containers;
pub mod dns;
pub mod dns_pod;
pub mod dns_records;
pub mod dns_wire;
pub mod drift;
pub mod exec;
#[cfg(test)]
mod fake;
pub mod kernel;
pub mod logs;
pub mod metrics;
pub mod pods;
pub mod policy;
pub mod probe;
pub mod reflector;
pub mod runtime;
pub mod services;
pub mod shim;
pub mod status;

pub use agent::{run, Config};
