//! Kernel change notifications, read inside a namespace: nftables' (the multicast group
//! `NFNLGRP_NFTABLES` of a `NETLINK_NETFILTER` socket: tables, chains, rules, sets and set
//! elements added and deleted) and rtnetlink's (`RTNLGRP_LINK`, `RTNLGRP_NEIGH`,
//! `RTNLGRP_IPV4_IFADDR`, `RTNLGRP_IPV4_ROUTE`: links, neighbour and FDB entries, addresses
//! and routes). The agent follows them to repair what
//! someone changed under it (`nodeagent::drift`) within milliseconds instead of at the next
//! periodic resync.
//!
//! Decoding is pure ([`decode`]) and unit-tested with hand-built messages; a [`Monitor`]
//! owns the socket, opened inside the namespace (a notification socket hears only its own
//! namespace).
//!
//! What nftables changed is folded per transaction ([`TableFold`]): the kernel announces
//! every object a transaction touched, then ends it with a `NEWGEN` message. An object a
//! transaction deleted and created again (the agent's own `flush chain` + `add rule`, or
//! replacing a table) is no drift; what a transaction deleted and left deleted is
//! ([`TableDrift`]). Changes made through this process's own nfnetlink sockets (the agent's
//! element changes, most of its changes) are recognised by the port id the kernel stamps on
//! each notification, and skipped. Whether any other deletion matters is for the owner to
//! decide against what it wants: the agent's `nft -f` scripts are echoed too (with `nft`'s
//! port id), and what they delete is not in the agent's desired state.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType};

use crate::netns::Netns;
use crate::{Error, Result};

const NLMSG_HDRLEN: usize = 16;
const NLMSG_OVERRUN: u16 = 4;
const NLA_TYPE_MASK: u16 = 0x3fff;

const NFNL_SUBSYS_NFTABLES: u16 = 10;
/// `NFNLGRP_NFTABLES`.
const NFNLGRP_NFTABLES: u32 = 7;
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_DELTABLE: u16 = 2;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_DELCHAIN: u16 = 5;
const NFT_MSG_NEWRULE: u16 = 6;
const NFT_MSG_DELRULE: u16 = 8;
const NFT_MSG_NEWSET: u16 = 9;
const NFT_MSG_DELSET: u16 = 11;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;
const NFT_MSG_NEWGEN: u16 = 15;
// `nft destroy …` (kernel 6.3 and later): a deletion that tolerates absence.
const NFT_MSG_DESTROYTABLE: u16 = 26;
const NFT_MSG_DESTROYCHAIN: u16 = 27;
const NFT_MSG_DESTROYRULE: u16 = 28;
const NFT_MSG_DESTROYSET: u16 = 29;
const NFT_MSG_DESTROYSETELEM: u16 = 30;
/// Every object message starts with its table's name (`NFTA_TABLE_NAME`, `NFTA_CHAIN_TABLE`,
/// `NFTA_RULE_TABLE`, `NFTA_SET_TABLE`, `NFTA_SET_ELEM_LIST_TABLE` are all 1).
const NFTA_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_SET_NAME: u16 = 2;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_DATA_VALUE: u16 = 1;
const NFTA_GEN_ID: u16 = 1;

/// `RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE` (the legacy group
/// bits cover the groups `RTNLGRP_LINK`, `RTNLGRP_NEIGH`, `RTNLGRP_IPV4_IFADDR`,
/// `RTNLGRP_IPV4_ROUTE`).
const RTMGRP_LINK_ADDR_ROUTE: u32 = 0x1 | 0x4 | 0x10 | 0x40;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTM_NEWNEIGH: u16 = 28;
const RTM_DELNEIGH: u16 = 29;
/// `NUD_PERMANENT`: an entry someone configured (the VXLAN backend's neighbour and FDB
/// entries), not one the kernel learned and ages out.
const NUD_PERMANENT: u16 = 0x80;
const IFLA_IFNAME: u16 = 3;
const IFA_LOCAL: u16 = 2;
const IFA_ADDRESS: u16 = 1;
const RTA_DST: u16 = 1;
/// Address families of rtnetlink messages (`ndm_family` of a neighbour notification).
pub const AF_INET: u8 = 2;
pub const AF_BRIDGE: u8 = 7;

/// Whether a notification announces a creation or a deletion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    New,
    Delete,
}

/// An nftables object a notification is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NftObject {
    Table,
    Chain(String),
    /// A rule of this chain.
    Rule(String),
    Set(String),
    /// Elements of this set, by their keys as the kernel holds them (the bytes
    /// [`crate::nftnl::encode`] makes).
    Elements(String, Vec<Vec<u8>>),
}

/// One decoded notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notification {
    /// An nftables object of `table` (of address family `family`) added or deleted, by the
    /// netlink socket with port id `portid`.
    Nft {
        op: Op,
        family: u8,
        table: String,
        object: NftObject,
        portid: u32,
    },
    /// The end of an nftables transaction: the new generation.
    Generation(u32),
    Link {
        op: Op,
        index: u32,
        name: Option<String>,
    },
    Address {
        op: Op,
        index: u32,
        address: Option<Ipv4Addr>,
        prefix: u8,
    },
    /// An IPv4 route (`dst` `None`: the default route) in routing table `table`.
    Route {
        op: Op,
        table: u8,
        dst: Option<Ipv4Addr>,
        prefix: u8,
    },
    /// A neighbour entry (`family` `AF_INET`) or a forwarding database entry (`AF_BRIDGE`)
    /// of the link `index`; `permanent` when it was configured rather than learned.
    Neighbour {
        op: Op,
        index: u32,
        family: u8,
        permanent: bool,
    },
    /// The kernel dropped notifications (the socket's buffer overran): what changed is
    /// unknown, everything must be checked.
    Lost,
}

/// The attributes of a netlink message body: `(type, payload)`.
fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
        let kind = u16::from_ne_bytes([b[2], b[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > b.len() {
            return None;
        }
        let payload = &b[4..len];
        b = &b[len.next_multiple_of(4).min(b.len())..];
        Some((kind, payload))
    })
}

fn attr(b: &[u8], kind: u16) -> Option<&[u8]> {
    attrs(b).find(|(k, _)| *k == kind).map(|(_, p)| p)
}

fn string(b: &[u8]) -> String {
    String::from_utf8_lossy(b.split(|c| *c == 0).next().unwrap_or_default()).into_owned()
}

fn ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(b).ok().map(Ipv4Addr::from)
}

/// Decode the netlink messages in `buf` (one datagram). Messages of no interest are
/// skipped.
pub fn decode(buf: &[u8]) -> Vec<Notification> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + NLMSG_HDRLEN <= buf.len() {
        let len = u32::from_ne_bytes(buf[off..off + 4].try_into().expect("4 bytes")) as usize;
        let kind = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
        if len < NLMSG_HDRLEN || off + len > buf.len() {
            break;
        }
        if kind == NLMSG_OVERRUN {
            out.push(Notification::Lost);
        }
        let portid = u32::from_ne_bytes(buf[off + 12..off + 16].try_into().expect("4 bytes"));
        out.extend(decode_one(kind, portid, &buf[off + NLMSG_HDRLEN..off + len]));
        off += len.next_multiple_of(4);
    }
    out
}

fn decode_one(kind: u16, portid: u32, body: &[u8]) -> Option<Notification> {
    if kind >> 8 == NFNL_SUBSYS_NFTABLES {
        return decode_nft(kind & 0xff, portid, body);
    }
    let op = match kind {
        RTM_NEWLINK | RTM_NEWADDR | RTM_NEWROUTE | RTM_NEWNEIGH => Op::New,
        RTM_DELLINK | RTM_DELADDR | RTM_DELROUTE | RTM_DELNEIGH => Op::Delete,
        _ => return None,
    };
    match kind {
        RTM_NEWNEIGH | RTM_DELNEIGH => {
            // ndmsg: family, pad (3), index (4), state (2), flags, type.
            let family = *body.first()?;
            let index = u32::from_ne_bytes(body.get(4..8)?.try_into().ok()?);
            let state = u16::from_ne_bytes(body.get(8..10)?.try_into().ok()?);
            Some(Notification::Neighbour { op, index, family, permanent: state & NUD_PERMANENT != 0 })
        }
        RTM_NEWLINK | RTM_DELLINK => {
            // ifinfomsg: family, pad, type (2), index (4), flags (4), change (4).
            let index = u32::from_ne_bytes(body.get(4..8)?.try_into().ok()?);
            let name = attr(body.get(16..)?, IFLA_IFNAME).map(string);
            Some(Notification::Link { op, index, name })
        }
        RTM_NEWADDR | RTM_DELADDR => {
            // ifaddrmsg: family, prefix length, flags, scope, index (4).
            if *body.first()? != AF_INET {
                return None;
            }
            let prefix = *body.get(1)?;
            let index = u32::from_ne_bytes(body.get(4..8)?.try_into().ok()?);
            let a = body.get(8..)?;
            let address = attr(a, IFA_LOCAL).or_else(|| attr(a, IFA_ADDRESS)).and_then(ipv4);
            Some(Notification::Address { op, index, address, prefix })
        }
        _ => {
            // rtmsg: family, dst len, src len, tos, table, protocol, scope, type, flags (4).
            if *body.first()? != AF_INET {
                return None;
            }
            let prefix = *body.get(1)?;
            let table = *body.get(4)?;
            let dst = attr(body.get(12..)?, RTA_DST).and_then(ipv4);
            Some(Notification::Route { op, table, dst, prefix })
        }
    }
}

fn decode_nft(msg: u16, portid: u32, body: &[u8]) -> Option<Notification> {
    // nfgenmsg: family, version, resource id (2).
    let family = *body.first()?;
    let a = body.get(4..)?;
    let op = match msg {
        NFT_MSG_NEWTABLE | NFT_MSG_NEWCHAIN | NFT_MSG_NEWRULE | NFT_MSG_NEWSET | NFT_MSG_NEWSETELEM => Op::New,
        NFT_MSG_NEWGEN => {
            let id = attr(a, NFTA_GEN_ID).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes)?;
            return Some(Notification::Generation(id));
        }
        _ => Op::Delete,
    };
    let table = attr(a, NFTA_TABLE).map(string)?;
    let name = |kind| attr(a, kind).map(string);
    let object = match msg {
        NFT_MSG_NEWTABLE | NFT_MSG_DELTABLE | NFT_MSG_DESTROYTABLE => NftObject::Table,
        NFT_MSG_NEWCHAIN | NFT_MSG_DELCHAIN | NFT_MSG_DESTROYCHAIN => NftObject::Chain(name(NFTA_CHAIN_NAME)?),
        NFT_MSG_NEWRULE | NFT_MSG_DELRULE | NFT_MSG_DESTROYRULE => NftObject::Rule(name(NFTA_RULE_CHAIN)?),
        NFT_MSG_NEWSET | NFT_MSG_DELSET | NFT_MSG_DESTROYSET => NftObject::Set(name(NFTA_SET_NAME)?),
        NFT_MSG_NEWSETELEM | NFT_MSG_DELSETELEM | NFT_MSG_DESTROYSETELEM => {
            let keys = attr(a, NFTA_SET_ELEM_LIST_ELEMENTS)
                .map(|list| {
                    attrs(list)
                        .filter_map(|(_, element)| attr(attr(element, NFTA_SET_ELEM_KEY)?, NFTA_DATA_VALUE))
                        .map(<[u8]>::to_vec)
                        .collect()
                })
                .unwrap_or_default();
            NftObject::Elements(name(NFTA_SET_ELEM_LIST_SET)?, keys)
        }
        _ => return None,
    };
    Some(Notification::Nft { op, family, table, object, portid })
}

/// Which notifications a [`Monitor`] hears.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// nftables: every table, chain, rule, set and element change.
    Nftables,
    /// rtnetlink: links, IPv4 addresses and IPv4 routes.
    Routing,
}

/// A notification socket inside one namespace.
pub struct Monitor {
    fd: OwnedFd,
    netns: String,
    buf: Vec<u8>,
}

/// Room for bursts: a table's deletion announces each of its elements (about 100 bytes
/// each); an overrun costs a full repair, not a missed one.
const RECEIVE_BUFFER: usize = 8 << 20;

impl Monitor {
    /// Subscribe to `source` inside `ns`. Reads time out after `poll`, so a reader thread
    /// can notice that nobody listens any more.
    pub fn open(ns: &Netns, source: Source, poll: std::time::Duration) -> Result<Monitor> {
        let fail =
            |source: Errno| Error::NetlinkSocket { netns: ns.name().to_string(), source: io::Error::from(source) };
        let (protocol, groups) = match source {
            Source::Nftables => (SockProtocol::NetlinkNetFilter, 1 << (NFNLGRP_NFTABLES - 1)),
            Source::Routing => (SockProtocol::NetlinkRoute, RTMGRP_LINK_ADDR_ROUTE),
        };
        let fd: OwnedFd = ns
            .run(|| socket::socket(AddressFamily::Netlink, SockType::Raw, SockFlag::SOCK_CLOEXEC, protocol))?
            .map_err(fail)?;
        // Forced (root): the default limit is far below a large table's deletion.
        if socket::setsockopt(&fd, socket::sockopt::RcvBufForce, &RECEIVE_BUFFER).is_err() {
            socket::setsockopt(&fd, socket::sockopt::RcvBuf, &RECEIVE_BUFFER).map_err(fail)?;
        }
        socket::bind(fd.as_raw_fd(), &NetlinkAddr::new(0, groups)).map_err(fail)?;
        let timeout = nix::sys::time::TimeVal::new(poll.as_secs() as _, poll.subsec_micros() as _);
        socket::setsockopt(&fd, socket::sockopt::ReceiveTimeout, &timeout).map_err(fail)?;
        Ok(Monitor { fd, netns: ns.name().to_string(), buf: vec![0; 1 << 16] })
    }

    /// The next notifications (blocking; empty when the poll interval passed without any).
    pub fn read(&mut self) -> Result<Vec<Notification>> {
        match socket::recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::empty()) {
            Ok(n) => Ok(decode(&self.buf[..n])),
            Err(Errno::EAGAIN | Errno::EINTR) => Ok(Vec::new()),
            // The kernel dropped notifications for us; the socket stays usable.
            Err(Errno::ENOBUFS) => Ok(vec![Notification::Lost]),
            Err(e) => Err(Error::NetlinkSocket { netns: self.netns.clone(), source: io::Error::from(e) }),
        }
    }
}

/// What was deleted from one nftables table and left deleted, over one or more
/// transactions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableDrift {
    /// The table itself (with everything in it).
    pub table: bool,
    /// Notifications were lost: anything may have changed.
    pub lost: bool,
    pub chains: BTreeSet<String>,
    /// Chains that lost rules (and still exist, or are in `chains` too).
    pub rules: BTreeSet<String>,
    pub sets: BTreeSet<String>,
    /// Deleted elements: set → keys.
    pub elements: BTreeMap<String, BTreeSet<Vec<u8>>>,
}

impl TableDrift {
    pub fn is_empty(&self) -> bool {
        *self == TableDrift::default()
    }

    /// Whether only elements were deleted (a repair needs no chain or set).
    pub fn elements_only(&self) -> bool {
        !self.table && !self.lost && self.chains.is_empty() && self.rules.is_empty() && self.sets.is_empty()
    }

    /// Add what `other` found.
    pub fn merge(&mut self, other: TableDrift) {
        self.table |= other.table;
        self.lost |= other.lost;
        self.chains.extend(other.chains);
        self.rules.extend(other.rules);
        self.sets.extend(other.sets);
        for (set, keys) in other.elements {
            self.elements.entry(set).or_default().extend(keys);
        }
    }

    /// Everything unknown: repair all.
    pub fn everything() -> TableDrift {
        TableDrift { lost: true, ..TableDrift::default() }
    }
}

/// Folds the notifications of one table into [`TableDrift`]s, one per transaction: within a
/// transaction the last operation on an object wins.
#[derive(Debug)]
pub struct TableFold {
    family: u8,
    table: String,
    /// The current transaction: the last operation on each object.
    pending: HashMap<Key, Op>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Table,
    Chain(String),
    Rules(String),
    Set(String),
    Element(String, Vec<u8>),
}

impl TableFold {
    /// Follow table `table` of family `family` (2: `ip`).
    pub fn new(family: u8, table: &str) -> TableFold {
        TableFold { family, table: table.to_string(), pending: HashMap::new() }
    }

    /// Take one notification; at the end of a transaction (or on lost notifications),
    /// answers what it left deleted, if anything.
    pub fn push(&mut self, n: &Notification) -> Option<TableDrift> {
        match n {
            // This process's own element changes (its nfnetlink sockets) are no drift.
            Notification::Nft { portid, .. } if crate::nftnl::is_own_portid(*portid) => None,
            Notification::Nft { op, family, table, object, .. } if *family == self.family && *table == self.table => {
                match object {
                    NftObject::Table => {
                        self.pending.insert(Key::Table, *op);
                    }
                    NftObject::Chain(c) => {
                        self.pending.insert(Key::Chain(c.clone()), *op);
                    }
                    NftObject::Rule(c) => {
                        self.pending.insert(Key::Rules(c.clone()), *op);
                    }
                    NftObject::Set(s) => {
                        self.pending.insert(Key::Set(s.clone()), *op);
                    }
                    NftObject::Elements(s, keys) => {
                        for k in keys {
                            self.pending.insert(Key::Element(s.clone(), k.clone()), *op);
                        }
                    }
                }
                None
            }
            Notification::Generation(_) => {
                let mut drift = TableDrift::default();
                for (key, op) in self.pending.drain() {
                    if op != Op::Delete {
                        continue;
                    }
                    match key {
                        Key::Table => drift.table = true,
                        Key::Chain(c) => {
                            drift.chains.insert(c);
                        }
                        Key::Rules(c) => {
                            drift.rules.insert(c);
                        }
                        Key::Set(s) => {
                            drift.sets.insert(s);
                        }
                        Key::Element(s, k) => {
                            drift.elements.entry(s).or_default().insert(k);
                        }
                    }
                }
                (!drift.is_empty()).then_some(drift)
            }
            Notification::Lost => {
                self.pending.clear();
                Some(TableDrift::everything())
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A netlink message of `kind` with `header` (the family header) and `attrs`.
    fn msg(kind: u16, header: &[u8], attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut body = header.to_vec();
        for (t, p) in attrs {
            body.extend_from_slice(&((4 + p.len()) as u16).to_ne_bytes());
            body.extend_from_slice(&t.to_ne_bytes());
            body.extend_from_slice(p);
            body.resize(body.len().next_multiple_of(4), 0);
        }
        let mut m = ((NLMSG_HDRLEN + body.len()) as u32).to_ne_bytes().to_vec();
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(&body);
        m
    }

    fn s(v: &str) -> Vec<u8> {
        let mut b = v.as_bytes().to_vec();
        b.push(0);
        b
    }

    fn nested(attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
        // The body of a message without header is the nest's payload.
        msg(0, &[], attrs)[NLMSG_HDRLEN..].to_vec()
    }

    fn nft(msg_type: u16, attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
        msg((NFNL_SUBSYS_NFTABLES << 8) | msg_type, &[AF_INET, 0, 0, 0], attrs)
    }

    #[test]
    fn decodes_nftables_notifications() {
        let key = vec![10, 96, 0, 10, 6, 0, 0, 0, 0, 80, 0, 0];
        let element = nested(&[(NFTA_SET_ELEM_KEY, nested(&[(NFTA_DATA_VALUE, key.clone())]))]);
        let mut buf = nft(NFT_MSG_DELTABLE, &[(NFTA_TABLE, s("flatnet"))]);
        buf.extend(nft(NFT_MSG_DELCHAIN, &[(NFTA_TABLE, s("flatnet")), (NFTA_CHAIN_NAME, s("services"))]));
        buf.extend(nft(NFT_MSG_DELRULE, &[(NFTA_TABLE, s("flatnet")), (NFTA_RULE_CHAIN, s("nat_output"))]));
        buf.extend(nft(NFT_MSG_NEWSET, &[(NFTA_TABLE, s("flatnet")), (NFTA_SET_NAME, s("hairpin"))]));
        buf.extend(nft(
            NFT_MSG_DELSETELEM,
            &[
                (NFTA_TABLE, s("flatnet")),
                (NFTA_SET_ELEM_LIST_SET, s("service_ips")),
                (NFTA_SET_ELEM_LIST_ELEMENTS, nested(&[(1, element)])),
            ],
        ));
        buf.extend(nft(NFT_MSG_NEWGEN, &[(NFTA_GEN_ID, 42u32.to_be_bytes().to_vec())]));
        let n = |op, object| Notification::Nft { op, family: AF_INET, table: "flatnet".into(), object, portid: 0 };
        assert_eq!(
            decode(&buf),
            vec![
                n(Op::Delete, NftObject::Table),
                n(Op::Delete, NftObject::Chain("services".into())),
                n(Op::Delete, NftObject::Rule("nat_output".into())),
                n(Op::New, NftObject::Set("hairpin".into())),
                n(Op::Delete, NftObject::Elements("service_ips".into(), vec![key])),
                Notification::Generation(42),
            ]
        );
    }

    #[test]
    fn decodes_rtnetlink_notifications() {
        let mut link = vec![0u8; 16];
        link[4..8].copy_from_slice(&7u32.to_ne_bytes());
        let mut buf = msg(RTM_DELLINK, &link, &[(IFLA_IFNAME, s("fnv1234"))]);
        let mut addr = vec![AF_INET, 24, 0, 0];
        addr.extend_from_slice(&3u32.to_ne_bytes());
        buf.extend(msg(RTM_DELADDR, &addr, &[(IFA_LOCAL, vec![10, 244, 1, 1])]));
        buf.extend(msg(
            RTM_DELROUTE,
            &[AF_INET, 24, 0, 0, 254, 0, 0, 1, 0, 0, 0, 0],
            &[(RTA_DST, vec![10, 244, 2, 0])],
        ));
        // An FDB entry (AF_BRIDGE) of link 9, permanent; a learned IPv4 neighbour of link 4.
        let mut fdb = vec![AF_BRIDGE, 0, 0, 0];
        fdb.extend_from_slice(&9u32.to_ne_bytes());
        fdb.extend_from_slice(&NUD_PERMANENT.to_ne_bytes());
        fdb.extend_from_slice(&[0x40, 0]);
        buf.extend(msg(RTM_DELNEIGH, &fdb, &[]));
        let mut learned = vec![AF_INET, 0, 0, 0];
        learned.extend_from_slice(&4u32.to_ne_bytes());
        learned.extend_from_slice(&0x04u16.to_ne_bytes());
        learned.extend_from_slice(&[0, 1]);
        buf.extend(msg(RTM_NEWNEIGH, &learned, &[]));
        assert_eq!(
            decode(&buf),
            vec![
                Notification::Link { op: Op::Delete, index: 7, name: Some("fnv1234".into()) },
                Notification::Address { op: Op::Delete, index: 3, address: Some([10, 244, 1, 1].into()), prefix: 24 },
                Notification::Route { op: Op::Delete, table: 254, dst: Some([10, 244, 2, 0].into()), prefix: 24 },
                Notification::Neighbour { op: Op::Delete, index: 9, family: 7, permanent: true },
                Notification::Neighbour { op: Op::New, index: 4, family: AF_INET, permanent: false },
            ]
        );
    }

    fn obj(op: Op, table: &str, object: NftObject) -> Notification {
        Notification::Nft { op, family: AF_INET, table: table.into(), object, portid: 0 }
    }

    #[test]
    fn a_transaction_that_recreates_what_it_deleted_is_no_drift() {
        let mut fold = TableFold::new(AF_INET, "flatnet");
        // The agent's own rewrite of a chain: flush, then add its rules again.
        assert_eq!(fold.push(&obj(Op::Delete, "flatnet", NftObject::Rule("services".into()))), None);
        fold.push(&obj(Op::New, "flatnet", NftObject::Rule("services".into())));
        // Another table's deletions are not ours.
        fold.push(&obj(Op::Delete, "other", NftObject::Table));
        assert_eq!(fold.push(&Notification::Generation(2)), None);

        // An admin's `nft delete element`, then `nft flush chain`.
        fold.push(&obj(Op::Delete, "flatnet", NftObject::Elements("hairpin".into(), vec![vec![1; 8]])));
        let first = fold.push(&Notification::Generation(3)).unwrap();
        fold.push(&obj(Op::Delete, "flatnet", NftObject::Rule("nat_output".into())));
        let mut drift = first;
        drift.merge(fold.push(&Notification::Generation(4)).unwrap());
        assert_eq!(drift.elements["hairpin"], BTreeSet::from([vec![1; 8]]));
        assert_eq!(drift.rules, BTreeSet::from(["nat_output".to_string()]));
        assert!(!drift.elements_only());
        assert_eq!(fold.push(&Notification::Lost), Some(TableDrift::everything()));
    }
}
