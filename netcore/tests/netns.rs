//! Kernel tests of named network namespaces (root; see `common::privileged`).

mod common;

use common::{privileged, Scratch};
use netcore::netns::{self, ChildSetup, Netns};

fn interfaces() -> Vec<String> {
    std::fs::read_to_string("/proc/thread-self/net/dev")
        .unwrap()
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next().map(|n| n.trim().to_string()))
        .collect()
}

#[test]
fn create_is_idempotent_and_iproute2_sees_the_namespace() {
    if !privileged() {
        return;
    }
    let ns = Scratch::new("life");
    netns::create(&ns.0).unwrap();
    netns::create(&ns.0).unwrap();
    assert!(netns::exists(&ns.0));
    assert!(netns::list("flatnet-test-life-").unwrap().contains(&ns.0));
    let out = std::process::Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(&ns.0), "ip netns list does not show {}", ns.0);
}

#[test]
fn run_enters_the_namespace() {
    if !privileged() {
        return;
    }
    let ns = Scratch::create("enter");
    // Inside: a fresh namespace has only `lo`.
    let inside = Netns::open(&ns.0).unwrap().run(interfaces).unwrap();
    assert_eq!(inside, vec!["lo".to_string()]);
}

#[test]
fn run_in_the_current_namespace_stays_in_it() {
    if !privileged() {
        return;
    }
    let here = Netns::current().unwrap();
    let same = here.run(|| std::fs::read_link("/proc/thread-self/ns/net").unwrap()).unwrap();
    assert_eq!(same, std::fs::read_link("/proc/thread-self/ns/net").unwrap());
}

#[test]
fn a_command_runs_inside_the_namespace() {
    if !privileged() {
        return;
    }
    let ns = Scratch::create("cmd");
    let out = Netns::open(&ns.0).unwrap().command("ip").unwrap().args(["-o", "link", "show"]).output().unwrap();
    let links = String::from_utf8_lossy(&out.stdout);
    assert_eq!(links.lines().count(), 1, "only lo in a fresh namespace: {links}");
    assert!(links.contains(": lo:"), "{links}");
}

#[test]
fn delete_is_idempotent_and_removes() {
    if !privileged() {
        return;
    }
    let ns = Scratch::create("gone");
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

#[test]
fn a_child_in_a_new_session_leads_it() {
    let mut cmd = std::process::Command::new("cat");
    cmd.arg("/proc/self/stat");
    ChildSetup::new().new_session().apply(&mut cmd);
    let out = cmd.output().unwrap();
    let stat = String::from_utf8_lossy(&out.stdout);
    let pid = stat.split_whitespace().next().unwrap();
    // After the command name in parentheses: state, ppid, process group, session.
    let after = stat.rsplit_once(") ").unwrap().1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    assert_eq!((fields[2], fields[3]), (pid, pid), "{stat}");
}
