//! Running `nft` inside a node's namespace: one script per call, applied by the kernel as
//! one transaction (all of it or none of it), and a terse listing of what flatnet's table
//! holds (its chains and sets, without the sets' elements).
//!
//! flatnet programs nftables through the `nft` tool (as kube-proxy's nftables mode does)
//! rather than through raw netlink: the scripts are the same text a user reads with
//! `nft list table ip flatnet`, and golden tests compare them. The cost is one process per
//! transaction (about a millisecond), which the batching of changes amortizes.

use std::collections::BTreeSet;
use std::process::Command;

use crate::netns::Netns;
use crate::{Error, Result};

/// The address family of flatnet's table.
pub const FAMILY: &str = "ip";
/// flatnet's own table, on every node (`flatnet down` removes tables named `flatnet*`).
pub const TABLE: &str = "flatnet";

/// The `nft` binary (override with `FLATNET_NFT`, for a test or an unusual install).
fn nft_binary() -> String {
    std::env::var("FLATNET_NFT").unwrap_or_else(|_| "nft".into())
}

fn nft_error(what: &str, ns: &Netns, detail: String) -> Error {
    Error::Nft { what: format!("{what} in netns {}", ns.name()), detail }
}

/// Apply `script` (`nft -f -`) in `ns` as one transaction.
pub fn apply(ns: &Netns, script: &str) -> Result<()> {
    let out = ns
        .output(Command::new(nft_binary()).args(["-f", "-"]), script.as_bytes())
        .map_err(|e| nft_error("run nft", ns, missing_hint(e)))?;
    if !out.status.success() {
        return Err(nft_error("apply nftables script", ns, describe_failure(&out.stderr, script)));
    }
    Ok(())
}

fn missing_hint(e: std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        "the nft binary was not found: install the `nftables` package".into()
    } else {
        e.to_string()
    }
}

/// nft's error names a line of the script; quote that line (scripts are long).
fn describe_failure(stderr: &[u8], script: &str) -> String {
    let stderr = String::from_utf8_lossy(stderr);
    let mut msg = stderr.trim().to_string();
    if msg.len() > 2000 {
        msg.truncate(2000);
        msg.push_str(" …");
    }
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("/dev/stdin:").and_then(|rest| rest.split(':').next()?.parse::<usize>().ok()));
    if let Some(n) = line {
        if let Some(text) = script.lines().nth(n.saturating_sub(1)) {
            let mut text = text.to_string();
            if text.len() > 300 {
                text.truncate(300);
                text.push_str(" …");
            }
            msg.push_str(&format!(" (script line {n}: {text})"));
        }
    }
    msg
}

/// The chains and sets (maps included) of a table, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableObjects {
    pub chains: BTreeSet<String>,
    pub sets: BTreeSet<String>,
}

/// What flatnet's table holds in `ns` (`None` when there is no table), read with
/// `nft -t -j`: chains and sets, without the sets' elements, so the cost does not grow
/// with the number of services. Read once when an agent starts, to adopt its table.
pub fn list_objects(ns: &Netns) -> Result<Option<TableObjects>> {
    let out = ns
        .output(Command::new(nft_binary()).args(["-t", "-j", "list", "table", FAMILY, TABLE]), b"")
        .map_err(|e| nft_error("run nft", ns, missing_hint(e)))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("No such file or directory") {
            return Ok(None);
        }
        return Err(nft_error("list nftables table", ns, stderr.trim().to_string()));
    }
    parse_objects(&out.stdout).map(Some).map_err(|e| nft_error("parse nft -j output", ns, e))
}

fn parse_objects(json: &[u8]) -> std::result::Result<TableObjects, String> {
    let doc: serde_json::Value = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    let items = doc.get("nftables").and_then(|v| v.as_array()).ok_or("no `nftables` array")?;
    let mut objects = TableObjects::default();
    for item in items {
        let Some(obj) = item.as_object() else { continue };
        for (kind, body) in obj {
            let name = body.get("name").and_then(|n| n.as_str()).map(str::to_string);
            match (kind.as_str(), name) {
                ("chain", Some(n)) => {
                    objects.chains.insert(n);
                }
                ("set" | "map", Some(n)) => {
                    objects.sets.insert(n);
                }
                _ => {}
            }
        }
    }
    Ok(objects)
}

/// Whether `nft` can run here (it is installed and the caller may use netlink).
pub fn available(ns: &Netns) -> bool {
    ns.output(Command::new(nft_binary()).arg("--version"), b"").is_ok_and(|o| o.status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_terse_listing() {
        let json = br#"{"nftables": [{"metainfo": {"version": "1.0.6"}},
            {"table": {"family": "ip", "name": "flatnet", "handle": 1}},
            {"map": {"family": "ip", "name": "service_ips", "table": "flatnet", "type": ["ipv4_addr"], "map": "verdict"}},
            {"set": {"family": "ip", "name": "aff_1_2", "table": "flatnet", "type": "ipv4_addr"}},
            {"chain": {"family": "ip", "table": "flatnet", "name": "services", "handle": 3}},
            {"rule": {"family": "ip", "table": "flatnet", "chain": "services", "expr": []}}]}"#;
        let o = parse_objects(json).unwrap();
        assert_eq!(o.chains.into_iter().collect::<Vec<_>>(), vec!["services"]);
        assert_eq!(o.sets.into_iter().collect::<Vec<_>>(), vec!["aff_1_2", "service_ips"]);
    }

    #[test]
    fn failures_quote_the_line() {
        let script = "add table ip t\nadd chain ip t c { bogus }\n";
        let msg = describe_failure(b"/dev/stdin:2:19-23: Error: syntax error", script);
        assert!(msg.contains("script line 2: add chain ip t c { bogus }"), "{msg}");
    }
}
