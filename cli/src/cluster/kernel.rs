//! The kernel side of the local cluster, through netcore: the namespaces, the fabric bridge,
//! the veths, addresses, routes and sysctls of [`Layout`], and their removal. Nothing here
//! touches the root namespace: every link is created in the fabric namespace with its peer
//! created straight inside the node's (or internet's) namespace.

use std::path::Path;
use std::process::Stdio;

use anyhow::Context;
use netcore::link::Netlink;
use netcore::netns::{self, Netns};
use netcore::{nft, sysctl};

use super::layout::{self, Layout};

/// Make every namespace and link of `layout` (idempotent: what exists already is kept).
pub async fn create(layout: &Layout) -> anyhow::Result<()> {
    for name in layout.namespaces() {
        netns::create(&name).with_context(|| format!("create network namespace {name}"))?;
    }
    let fabric_ns = Netns::open(&layout.fabric_netns())?;
    let fabric = Netlink::open(&fabric_ns)?;
    lo_up(&fabric).await?;
    let bridge_name = layout.fabric_bridge();
    let bridge = fabric.ensure_bridge(&bridge_name).await?;
    fabric.ensure_address(bridge, layout::FABRIC_GATEWAY, layout::UNDERLAY_PREFIX).await?;
    sysctl::set(&fabric_ns, "net.ipv4.ip_forward", "1")?;

    for i in layout.node_indices() {
        let node_ns = Netns::open(&layout.node_netns(i))?;
        let veth_name = layout.fabric_veth(i);
        let veth = fabric.ensure_veth(&veth_name, layout::NODE_IFNAME, &node_ns, None).await?;
        fabric.attach_up(veth, bridge, &veth_name).await?;
        let node = Netlink::open(&node_ns)?;
        lo_up(&node).await?;
        let eth0 = node.must_index(layout::NODE_IFNAME).await?;
        node.ensure_address(eth0, layout.node_ip(i), layout::UNDERLAY_PREFIX).await?;
        node.set_up(eth0, layout::NODE_IFNAME).await?;
        node.replace_default_route(layout::FABRIC_GATEWAY).await?;
        sysctl::set(&node_ns, "net.ipv4.ip_forward", "1")?;
    }

    let inet_ns = Netns::open(&layout.internet_netns())?;
    let inet_veth_name = layout.internet_veth();
    let inet_veth = fabric.ensure_veth(&inet_veth_name, layout::NODE_IFNAME, &inet_ns, None).await?;
    fabric.ensure_address(inet_veth, layout::INTERNET_GATEWAY, layout::INTERNET_PREFIX).await?;
    fabric.set_up(inet_veth, &inet_veth_name).await?;
    let inet = Netlink::open(&inet_ns)?;
    lo_up(&inet).await?;
    let eth0 = inet.must_index(layout::NODE_IFNAME).await?;
    inet.ensure_address(eth0, layout::INTERNET_HOST, layout::INTERNET_PREFIX).await?;
    inet.set_up(eth0, layout::NODE_IFNAME).await?;
    // Back to the nodes through the fabric; no default route: this is the end of the world.
    inet.ensure_route(layout::UNDERLAY, layout::UNDERLAY_PREFIX, Some(layout::INTERNET_GATEWAY), None).await?;
    Ok(())
}

async fn lo_up(nl: &Netlink) -> anyhow::Result<()> {
    let lo = nl.must_index("lo").await?;
    nl.set_up(lo, "lo").await?;
    Ok(())
}

/// Delete `links` of the fabric namespace (a veth takes its peer along); a missing
/// namespace or link is fine.
pub async fn delete_fabric_links(fabric_netns: &str, links: &[String]) -> anyhow::Result<usize> {
    if !netns::exists(fabric_netns) {
        return Ok(0);
    }
    let fabric = Netlink::open(&Netns::open(fabric_netns)?)?;
    let mut deleted = 0;
    for link in links {
        if fabric.index(link).await?.is_some() {
            fabric.delete(link).await?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Delete the nftables tables named `flatnet*` in the namespace `name` (none of anyone
/// else's), all in one transaction through netcore; answers how many. A missing namespace
/// has none.
pub fn delete_flatnet_tables(nft: &Path, name: &str) -> anyhow::Result<usize> {
    if !netns::exists(name) {
        return Ok(0);
    }
    let ns = Netns::open(name)?;
    let out = ns
        .command(nft)?
        .args(["list", "tables"])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("run nft in {name}"))?;
    if !out.status.success() {
        anyhow::bail!("nft list tables in {name}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let tables = flatnet_tables(&String::from_utf8_lossy(&out.stdout));
    if tables.is_empty() {
        return Ok(0);
    }
    let script: String = tables.iter().map(|(family, table)| format!("delete table {family} {table}\n")).collect();
    nft::apply(&ns, &script).with_context(|| format!("delete the flatnet tables in {name}"))?;
    Ok(tables.len())
}

/// The `(family, name)` of the tables named `flatnet*` in `nft list tables` output.
pub fn flatnet_tables(listing: &str) -> Vec<(String, String)> {
    listing
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("table"), Some(family), Some(name)) if name.starts_with("flatnet") => {
                    Some((family.to_string(), name.to_string()))
                }
                _ => None,
            }
        })
        .collect()
}

/// Find `program` in PATH or the usual system directories (sudo's PATH may lack sbin).
pub fn find_program(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(Into::into))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_flatnet_tables_are_picked() {
        let listing = "table inet flatnet\ntable ip nat\ntable ip flatnet-egress\ntable inet filter\n";
        assert_eq!(
            flatnet_tables(listing),
            vec![("inet".to_string(), "flatnet".to_string()), ("ip".to_string(), "flatnet-egress".to_string())]
        );
        assert!(flatnet_tables("").is_empty());
    }
}
