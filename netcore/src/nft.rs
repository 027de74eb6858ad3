//! flatnet's nftables table, applied in a namespace two ways: an `nft -f` script, run by
//! the `nft` tool as one transaction (all of it or none of it), and, for changes that only
//! add and delete set elements, an nfnetlink batch written directly ([`crate::nftnl`]).
//! Both start from the typed objects of [`model`]: `nft` reads their rendered text (the
//! same text a user reads with `nft list table ip flatnet`, and the golden tests compare);
//! nfnetlink carries the elements encoded from their typed parts. Also here: a terse
//! listing of what the table holds (its chains and sets, without the sets' elements), and
//! the errors of both ways ([`NftError`]).
//!
//! Scripts run in this process through libnftables, the library the `nft` tool is built on
//! ([`crate::libnft`]: no process to start, about 3 ms saved per transaction), or through
//! the `nft` tool where the library cannot be loaded. Either way nftables reads a cache of
//! the table first, whose cost grows with the table; hence nfnetlink for the frequent
//! element-only changes.

pub mod model;

use std::collections::BTreeSet;
use std::io;
use std::process::Command;

use crate::libnft;
use crate::netns::Netns;
use crate::{Error, Result};

/// The address family of flatnet's table.
pub const FAMILY: &str = "ip";
/// flatnet's own table, on every node (`flatnet down` removes tables named `flatnet*`).
pub const TABLE: &str = "flatnet";

/// What went wrong with nftables ([`Error::Nft`] adds the namespace).
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    /// The `nft` binary could not be started.
    #[error("run nft: {}", run_hint(.source))]
    Run { source: io::Error },
    /// `nft -f` refused a script: none of it was applied.
    #[error("apply nftables script: {stderr}{}", quote(.line))]
    Refused {
        /// nft's message (at most 2000 bytes).
        stderr: String,
        /// The script line nft's message names.
        line: Option<ScriptLine>,
    },
    /// `nft list table` failed (other than for a missing table).
    #[error("list nftables table: {stderr}")]
    List { stderr: String },
    /// `nft -j`'s output was not understood.
    #[error("parse nft -j output: {reason}")]
    Listing { reason: String },
    /// An element does not have its set's declared type (a bug in the renderer).
    #[error("encode an element: {0}")]
    Shape(#[from] model::ShapeError),
    /// A step on the nfnetlink socket failed.
    #[error("{step} over nfnetlink: {source}")]
    Socket { step: &'static str, source: io::Error },
    /// The kernel did not take the whole batch it was sent.
    #[error("send a batch over nfnetlink: {sent} of {len} bytes sent")]
    ShortSend { sent: usize, len: usize },
    /// The kernel's answer could not be read.
    #[error("read the answer over nfnetlink: a malformed netlink message")]
    MalformedAnswer,
    /// The kernel refused a batch as a whole: nothing was applied.
    #[error("apply a batch over nfnetlink: {source}")]
    BatchRefused { source: io::Error },
    /// The kernel refused elements of one set: the whole batch was undone.
    #[error("apply set elements over nfnetlink: {op} elements of {set}: {source}")]
    Elements { op: model::Op, set: String, source: io::Error },
}

/// A line of a script, as an error quotes it (at most 300 bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptLine {
    pub number: usize,
    pub text: String,
}

fn quote(line: &Option<ScriptLine>) -> String {
    line.as_ref().map(|l| format!(" (script line {}: {})", l.number, l.text)).unwrap_or_default()
}

fn run_hint(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::NotFound {
        "the nft binary was not found: install the `nftables` package".into()
    } else {
        e.to_string()
    }
}

/// The `nft` binary (override with `FLATNET_NFT`, for a test or an unusual install).
pub(crate) fn nft_binary() -> String {
    std::env::var("FLATNET_NFT").unwrap_or_else(|_| "nft".into())
}

/// `error` in the namespace named `netns`.
pub(crate) fn nft_error(netns: &str, error: NftError) -> Error {
    Error::Nft { netns: netns.to_string(), source: error }
}

/// Apply `script` (`nft -f -`) in `ns` as one transaction.
pub fn apply(ns: &Netns, script: &str) -> Result<()> {
    let out = invoke(ns, script, 0).map_err(|source| nft_error(ns.name(), NftError::Run { source }))?;
    if !out.ok {
        return Err(nft_error(ns.name(), refusal(out.stderr.as_bytes(), script)));
    }
    Ok(())
}

/// Run `text` (commands in `nft` syntax, one transaction) in `ns` with libnftables' output
/// `flags` ([`libnft::OUTPUT_JSON`], [`libnft::OUTPUT_TERSE`]): in this process when the
/// library is loaded, else with the `nft` tool (`-j`, `-t`, `-f -`).
pub(crate) fn invoke(ns: &Netns, text: &str, flags: u32) -> io::Result<libnft::Outcome> {
    if let Some(ran) = libnft::run(ns, text, flags) {
        return ran;
    }
    let mut cmd = Command::new(nft_binary());
    if flags & libnft::OUTPUT_JSON != 0 {
        cmd.arg("-j");
    }
    if flags & libnft::OUTPUT_TERSE != 0 {
        cmd.arg("-t");
    }
    // With `-j` the tool reads a `-f` file as JSON; a listing (the only use of output
    // flags here: one command on one line) goes as arguments instead.
    let out = if flags == 0 {
        ns.output(cmd.args(["-f", "-"]), text.as_bytes())?
    } else {
        ns.output(cmd.args(text.split_whitespace()), b"")?
    };
    Ok(libnft::Outcome {
        ok: out.status.success(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// nft's error names a line of the script; quote that line (scripts are long).
fn refusal(stderr: &[u8], script: &str) -> NftError {
    let stderr = String::from_utf8_lossy(stderr);
    let line = stderr
        .lines()
        .find_map(|l| {
            // `FILE:LINE:COLUMNS: Error: …`, FILE being `/dev/stdin` for the tool reading
            // `-f -` and `/proc/self/fd/N` for the library ([`libnft`]).
            let mut parts = l.splitn(4, ':');
            let (_file, line, columns) = (parts.next()?, parts.next()?, parts.next()?);
            columns.starts_with(|c: char| c.is_ascii_digit()).then_some(())?;
            line.parse::<usize>().ok()
        })
        .and_then(|number| {
            let text = script.lines().nth(number.saturating_sub(1))?;
            Some(ScriptLine { number, text: shorten(text, 300) })
        });
    NftError::Refused { stderr: shorten(stderr.trim(), 2000), line }
}

/// `text` cut to at most `max` bytes (on a character boundary), marked when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} …", &text[..end])
}

/// The chains and sets (maps included) of a table, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableObjects {
    pub chains: BTreeSet<String>,
    pub sets: BTreeSet<String>,
    /// Named counters (the policies' rules: `crate::policy`).
    pub counters: BTreeSet<String>,
}

/// What flatnet's table holds in `ns` (`None` when there is no table), read with
/// `nft -t -j`: chains and sets, without the sets' elements, so the cost does not grow
/// with the number of services. Read once when an agent starts, to adopt its table.
pub fn list_objects(ns: &Netns) -> Result<Option<TableObjects>> {
    let text = format!("list table {FAMILY} {TABLE}");
    let out = invoke(ns, &text, libnft::OUTPUT_JSON | libnft::OUTPUT_TERSE)
        .map_err(|source| nft_error(ns.name(), NftError::Run { source }))?;
    if !out.ok {
        if out.stderr.contains("No such file or directory") {
            return Ok(None);
        }
        return Err(nft_error(ns.name(), NftError::List { stderr: out.stderr.trim().to_string() }));
    }
    parse_objects(&out.stdout).map(Some).map_err(|reason| nft_error(ns.name(), NftError::Listing { reason }))
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
                ("counter", Some(n)) => {
                    objects.counters.insert(n);
                }
                _ => {}
            }
        }
    }
    Ok(objects)
}

/// Whether nftables can be used here: libnftables loaded or the `nft` tool installed.
pub fn available(ns: &Netns) -> bool {
    libnft::in_process()
        || ns.output(Command::new(nft_binary()).arg("--version"), b"").is_ok_and(|o| o.status.success())
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
        let e = refusal(b"/dev/stdin:2:19-23: Error: syntax error", script);
        let NftError::Refused { line: Some(line), .. } = &e else { panic!("{e:?}") };
        assert_eq!(line, &ScriptLine { number: 2, text: "add chain ip t c { bogus }".into() });
        assert!(e.to_string().contains("(script line 2: add chain ip t c { bogus })"), "{e}");
        let e = refusal(b"/proc/self/fd/9:2:19-23: Error: syntax error", script);
        let NftError::Refused { line: Some(line), .. } = &e else { panic!("{e:?}") };
        assert_eq!(line.number, 2);
    }
}
