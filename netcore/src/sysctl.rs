//! sysctls of a network namespace. `/proc/sys/net` shows the namespace of the thread that
//! opens it, so a write runs on the namespace's thread ([`Netns::run`]).

use crate::netns::Netns;
use crate::{Error, Result};

/// `net.ipv4.ip_forward` and friends: `key` is the dotted name.
pub fn set(ns: &Netns, key: &str, value: &str) -> Result<()> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    let value = value.to_string();
    ns.run(move || std::fs::write(&path, value.as_bytes()))?.map_err(|source| Error::Sysctl {
        key: key.to_string(),
        netns: ns.name().to_string(),
        source,
    })
}

pub fn get(ns: &Netns, key: &str) -> Result<String> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    ns.run(move || std::fs::read_to_string(&path))?.map(|v| v.trim().to_string()).map_err(|source| Error::Sysctl {
        key: key.to_string(),
        netns: ns.name().to_string(),
        source,
    })
}
