//! Kernel tests of named network namespaces (root; see `common::privileged`).

mod common;

use common::{privileged, Scratch};
use netcore::netns::{self, Netns};

fn interfaces() -> Vec<String> {
    std::fs::read_to_string("/proc/thread-self/net/dev")
        .unwrap()
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next().map(|n| n.trim().to_string()))
        .collect()
}

#[test]
fn create_is_idempotent_run_enters_and_delete_removes() {
    if !privileged() {
        return;
    }
    let ns = Scratch::new("life");
    netns::create(&ns.0).unwrap();
    netns::create(&ns.0).unwrap();
    assert!(netns::exists(&ns.0));
    assert!(netns::list("flatnet-test-life-").unwrap().contains(&ns.0));

    // Inside: a fresh namespace has only `lo`; outside there is more (or at least other ids).
    let inside = Netns::open(&ns.0).unwrap().run(interfaces).unwrap();
    assert_eq!(inside, vec!["lo".to_string()]);
    let here = Netns::current().unwrap();
    let same = here.run(|| std::fs::read_link("/proc/thread-self/ns/net").unwrap()).unwrap();
    assert_eq!(same, std::fs::read_link("/proc/thread-self/ns/net").unwrap());

    // iproute2 sees the same namespace.
    let out = std::process::Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(&ns.0), "ip netns list does not show {}", ns.0);

    netns::delete(&ns.0).unwrap();
    netns::delete(&ns.0).unwrap();
    assert!(!netns::exists(&ns.0));
    assert!(Netns::open(&ns.0).is_err());
}

#[test]
fn two_namespaces_are_distinct() {
    if !privileged() {
        return;
    }
    let (a, b) = (Scratch::new("a"), Scratch::new("b"));
    netns::create(&a.0).unwrap();
    netns::create(&b.0).unwrap();
    let id = || std::fs::read_link("/proc/thread-self/ns/net").unwrap();
    let ida = Netns::open(&a.0).unwrap().run(id).unwrap();
    let idb = Netns::open(&b.0).unwrap().run(id).unwrap();
    assert_ne!(ida, idb);
    assert_ne!(ida, id());
}

#[test]
fn bad_names_are_refused() {
    for bad in ["", "..", "a/b"] {
        assert!(netns::create(bad).is_err(), "{bad:?}");
        assert!(netns::delete(bad).is_err(), "{bad:?}");
    }
}
