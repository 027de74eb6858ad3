//! flatnet's kernel side, shared by every node: a pure *plan* layer (desired node and pods in,
//! links, addresses, routes and an nftables ruleset out) and thin *apply* modules (netns via
//! nix, links via rtnetlink, nftables as one atomic transaction).
//!
//! Not yet built: this crate holds the place in the workspace for the node agent issue.
