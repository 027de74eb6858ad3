//! sysctls of a network namespace. `/proc/sys/net` shows the namespace of the thread that
//! opens it, so a read or write runs on the namespace's thread ([`Netns::run`]).

use std::io;

use crate::netns::Netns;
use crate::{Error, Result};

/// `net.ipv4.ip_forward` and friends: `key` is the dotted name. A sysctl that already holds
/// `value` is left alone: in a container `/proc/sys` is read-only and the runtime sets the
/// node's sysctls (compose's `sysctls:`), so writing the same value would fail for nothing.
pub fn set(ns: &Netns, key: &str, value: &str) -> Result<()> {
    let path = path_of(key);
    let value = value.to_string();
    ns.run(move || write_unless_equal(&path, &value))?.map_err(|source| sysctl_error(ns, key, source))
}

pub fn get(ns: &Netns, key: &str) -> Result<String> {
    let path = path_of(key);
    ns.run(move || std::fs::read_to_string(&path))?
        .map(|v| v.trim().to_string())
        .map_err(|source| sysctl_error(ns, key, source))
}

/// Write `value` to the sysctl file at `path` unless it already reads `value`.
fn write_unless_equal(path: &str, value: &str) -> io::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|current| current.trim() == value.trim()) {
        return Ok(());
    }
    std::fs::write(path, value.as_bytes())
}

fn path_of(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

fn sysctl_error(ns: &Netns, key: &str, source: io::Error) -> Error {
    Error::Sysctl { key: key.to_string(), netns: ns.name().to_string(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `kernel.ostype` is read-only for everyone, root included, like a container's /proc/sys.
    #[test]
    fn a_read_only_sysctl_already_at_the_value_is_accepted() {
        let path = path_of("kernel.ostype");
        let current = std::fs::read_to_string(&path).unwrap();
        write_unless_equal(&path, current.trim()).unwrap();
        assert!(write_unless_equal(&path, "NotLinux").is_err());
    }
}
