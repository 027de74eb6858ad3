//! The fallback: with `FLATNET_NFT` set (or libnftables missing), transactions and listings
//! run the `nft` tool, with the same results and errors as through the library
//! (`tests/libnft.rs`). Its own test binary: the choice is made once per process.

mod common;

use netcore::{libnft, netns, nft};

#[test]
fn the_nft_tool_applies_and_lists_the_same() {
    if !common::privileged() {
        return;
    }
    // The only test of this binary: set before anything reads it.
    std::env::set_var("FLATNET_NFT", "nft");
    assert!(!libnft::in_process(), "FLATNET_NFT must force the tool");
    let scratch = common::Scratch::create("nfttool");
    let ns = netns::Netns::open(&scratch.0).unwrap();
    assert!(nft::available(&ns));
    common::lists_what_it_applied(&ns);
    let err = nft::apply(&ns, "add chain ip flatnet d\nadd rule ip flatnet d ip saddr @nosuchset accept\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("script line 2"), "{err}");
}
