//! nftables through libnftables in this process ([`netcore::libnft`]): the transaction
//! lands in the namespace asked for (not the caller's), errors quote the script's line, and
//! listings read back what was written. Real kernel, as root.

mod common;

use std::process::Command;

use netcore::{libnft, netns, nft};

fn nft_in(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip").args(["netns", "exec", ns, "nft"]).args(args).output().expect("run nft");
    assert!(out.status.success(), "nft {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn scripts_run_in_process_in_the_namespace_asked_for() {
    if !common::privileged() {
        return;
    }
    // Debian's nftables package ships the library with the tool: under CI it must load.
    if std::env::var("CI").as_deref() == Ok("true") {
        assert!(libnft::in_process(), "libnftables.so.1 did not load");
    }
    let scratch = common::Scratch::create("libnft");
    let ns = netns::Netns::open(&scratch.0).unwrap();
    let table = format!("flatnet_libnft_{}", std::process::id());
    let script = format!(
        "add table ip {table}\nadd set ip {table} s {{ type ipv4_addr; }}\nadd chain ip {table} c\n\
         add rule ip {table} c ip saddr @s counter accept\nadd element ip {table} s {{ 10.9.0.1 }}\n"
    );
    nft::apply(&ns, &script).unwrap();
    let listed = nft_in(&scratch.0, &["list", "table", "ip", &table]);
    assert!(listed.contains("ip saddr @s counter packets 0 bytes 0 accept"), "{listed}");
    assert!(listed.contains("elements = { 10.9.0.1 }"), "{listed}");
    // Not in the caller's namespace.
    let root = Command::new("nft").args(["list", "tables"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&root.stdout).contains(&table), "the table leaked into the root namespace");

    // A refused script changes nothing and names its line.
    let bad = format!("add chain ip {table} d\nadd rule ip {table} d ip saddr @nosuchset accept\n");
    let err = nft::apply(&ns, &bad).unwrap_err().to_string();
    assert!(err.contains("script line 2"), "{err}");
    assert!(!nft_in(&scratch.0, &["list", "table", "ip", &table]).contains("chain d"), "a refused script left a chain");

    // The terse JSON listing of flatnet's own table.
    common::lists_what_it_applied(&ns);
}

#[test]
fn threads_in_parallel_each_reach_their_own_namespace() {
    if !common::privileged() {
        return;
    }
    let scratches: Vec<_> = (0..4).map(|_| common::Scratch::create("libnftpar")).collect();
    std::thread::scope(|s| {
        for (i, scratch) in scratches.iter().enumerate() {
            s.spawn(move || {
                let ns = netns::Netns::open(&scratch.0).unwrap();
                for round in 0..20 {
                    nft::apply(&ns, &format!("add table ip t{i}\nadd chain ip t{i} c{round}\n")).unwrap();
                }
            });
        }
    });
    for (i, scratch) in scratches.iter().enumerate() {
        let listed = nft_in(&scratch.0, &["list", "tables"]);
        assert_eq!(listed.trim(), format!("table ip t{i}"), "namespace {i}");
        assert_eq!(nft_in(&scratch.0, &["list", "table", "ip", &format!("t{i}")]).matches("chain c").count(), 20);
    }
}
