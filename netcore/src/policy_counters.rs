//! Counters of the network policies: one named nftables counter per policy, direction, rule
//! and action, named `pc_<hash>` after what it counts, and referenced by every rule line
//! that rule compiles to (`… counter name "pc_…" drop`), on every pod's chain. Counter
//! objects outlive the chains that name them (a chain rewritten after a change keeps
//! counting into the same object), and go when their rule does.
//!
//! A connection is judged at its first packet (and again after each change of plan), so
//! the counters of `Allow` and `Pass` rules count new connections, and those of `Deny`
//! rules every packet dropped. The drop a NetworkPolicy's isolation adds after its allow
//! rules is counted as rule-less `Deny` of every policy isolating the pod ([`PER_RULE`] to
//! a line: a pod isolated by more policies has its isolation counted over several lines).

use std::collections::BTreeMap;

use openapi::policy::PolicyCounterKey;
use openapi::PolicyCounter;

use super::content_name;
use crate::netns::Netns;
use crate::nft::{nft_error, NftError, FAMILY, TABLE};
use crate::Result;

/// The prefix of the policies' counter objects in flatnet's table.
pub const COUNTER_PREFIX: &str = "pc_";

/// The name of the counter of `key`.
pub fn counter_name(key: &PolicyCounterKey) -> String {
    let (kind, namespace, name, direction, rule, action) = key;
    let rule = rule.map_or_else(|| "isolation".to_string(), |r| r.to_string());
    content_name("pc", &format!("{kind} {} {name} {direction} {rule} {action}", namespace.as_deref().unwrap_or("")))
}

/// The most counters one rule line names: the kernel takes at most 128 expressions in a
/// rule (`NFT_RULE_MAXEXPRS`), and a named counter is one. The isolation drop of a pod that
/// more policies isolate counts over several lines ([`super::PolicyPlan`]'s chains).
pub const PER_RULE: usize = 100;

/// The statements that count a packet in `names`, before a verdict.
pub fn counting(names: &[String]) -> String {
    names.iter().map(|n| format!("counter name \"{n}\" ")).collect()
}

/// The key of a NetworkPolicy's rule (or, `rule: None`, its isolation drop).
pub fn network_policy_key(
    namespace: &str,
    name: &str,
    direction: &str,
    rule: Option<u32>,
    action: &str,
) -> PolicyCounterKey {
    (
        "NetworkPolicy".into(),
        Some(namespace.to_string()),
        name.to_string(),
        direction.to_string(),
        rule,
        action.to_string(),
    )
}

/// The key of an admin (or baseline) policy's rule.
pub fn admin_key(kind: &str, name: &str, direction: &str, rule: u32, action: &str) -> PolicyCounterKey {
    (kind.to_string(), None, name.to_string(), direction.to_string(), Some(rule), action.to_string())
}

/// The named counters of a plan: name → what it counts ([`super::PolicyPlan::counters`]).
pub type CounterNames = BTreeMap<String, PolicyCounterKey>;

/// The policy counters in `ns` that `known` names, with their packets and bytes.
pub fn read(ns: &Netns, known: &CounterNames) -> Result<Vec<PolicyCounter>> {
    let text = format!("list counters table {FAMILY} {TABLE}");
    let out = crate::nft::invoke(ns, &text, crate::libnft::OUTPUT_JSON)
        .map_err(|source| nft_error(ns.name(), NftError::Run { source }))?;
    if !out.ok {
        return Err(nft_error(ns.name(), NftError::List { stderr: out.stderr.trim().to_string() }));
    }
    Ok(parse(&out.stdout, known))
}

/// The counters of `nft -j list counters` output that `known` names.
pub fn parse(json: &[u8], known: &CounterNames) -> Vec<PolicyCounter> {
    let doc: serde_json::Value = serde_json::from_slice(json).unwrap_or_default();
    let items = doc.get("nftables").and_then(|v| v.as_array()).cloned().unwrap_or_default();
    let mut out = Vec::new();
    for item in items {
        let Some(c) = item.get("counter") else { continue };
        let Some(name) = c.get("name").and_then(|n| n.as_str()) else { continue };
        let Some((kind, namespace, policy, direction, rule, action)) = known.get(name).cloned() else {
            continue;
        };
        out.push(PolicyCounter {
            kind,
            namespace,
            name: policy,
            direction,
            rule,
            action,
            packets: c.get("packets").and_then(|v| v.as_u64()).unwrap_or(0),
            bytes: c.get("bytes").and_then(|v| v.as_u64()).unwrap_or(0),
        });
    }
    out
}
