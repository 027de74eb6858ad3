//! The flatnet node agent: one per node. It registers its node, renews the node's CIDR
//! lease, watches the API server for the pods bound to it, and reconciles the kernel
//! (through `netcore`) and the pods' processes to them.
//!
//! Not yet built: this crate holds the place in the workspace for the node agent issue.
