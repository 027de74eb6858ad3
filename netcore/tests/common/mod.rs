//! Shared by the kernel tests: the root check and throwaway namespaces.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use netcore::netns;

/// Whether privileged tests can run. Without root they say so loudly and pass, except
/// under CI (`CI=true`), where they fail.
pub fn privileged() -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0")))
        .unwrap_or(false);
    if root {
        return true;
    }
    let msg = "not root: netcore kernel tests SKIPPED";
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg} (CI=true forbids skipping)");
    }
    eprintln!("WARNING: {msg}");
    false
}

/// A namespace name unique to this test run, deleted on drop even when the test fails.
pub struct Scratch(pub String);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        Scratch(format!("flatnet-test-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)))
    }

    /// Create it too.
    pub fn create(tag: &str) -> Scratch {
        let s = Scratch::new(tag);
        netns::create(&s.0).expect("create scratch netns");
        s
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = netns::delete(&self.0);
    }
}

/// Through whichever way `netcore::nft` runs nftables: no flatnet table in the fresh
/// namespace `ns` lists as none; a table applied lists its chain, set and counter.
pub fn lists_what_it_applied(ns: &netns::Netns) {
    use netcore::nft;
    assert_eq!(nft::list_objects(ns).unwrap(), None, "no flatnet table yet");
    let script = "add table ip flatnet\nadd chain ip flatnet x\nadd set ip flatnet y { type ipv4_addr; }\nadd counter ip flatnet z\n";
    nft::apply(ns, script).unwrap();
    let objects = nft::list_objects(ns).unwrap().expect("the table");
    assert_eq!(objects.chains.into_iter().collect::<Vec<_>>(), ["x"]);
    assert_eq!(objects.sets.into_iter().collect::<Vec<_>>(), ["y"]);
    assert_eq!(objects.counters.into_iter().collect::<Vec<_>>(), ["z"]);
}
