//! flatnet's kernel side, shared by every node.
//!
//! - [`names`]: every kernel object name flatnet makes is derived here, from stable ids,
//!   within the kernel's limits, under the `fn`/`flatnet` prefix that cleanup looks for.
//! - [`netns`]: named network namespaces as `ip netns` makes them (`/run/netns/NAME`), and
//!   running code inside one on a dedicated OS thread.
//!
//! Still to come with the node agent: the pure *plan* layer (desired node and pods in,
//! links, addresses, routes and an nftables ruleset out) and the rtnetlink *apply* modules.

pub mod names;
pub mod netns;

/// Errors of the kernel side: each says what it was doing and on which object.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("create netns {name}: {source}")]
    CreateNetns { name: String, source: std::io::Error },
    #[error("open netns {name}: {source}")]
    OpenNetns { name: String, source: std::io::Error },
    #[error("delete netns {name}: {source}")]
    DeleteNetns { name: String, source: std::io::Error },
    #[error("enter netns {name}: {source}")]
    EnterNetns { name: String, source: std::io::Error },
    #[error("invalid name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
}

pub type Result<T> = std::result::Result<T, Error>;
