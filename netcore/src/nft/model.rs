//! A typed model of the nftables objects flatnet writes: tables, chains, sets and maps
//! declared with the types of their keys and values, elements made of typed parts, and the
//! commands of a transaction.
//!
//! Both ways into the kernel start from these values: `Display` renders the text that
//! `nft -f` reads (and a user reads back with `nft list table`), and [`crate::nftnl`]
//! encodes elements from their parts, taking each part's datatype and length from the
//! set's declared key or value type. So an element's shape is stated once, in its set's
//! declaration.
//!
//! Rules stay text: flatnet writes few of them, all static or per sticky service, and the
//! golden tests read them as text.

use std::fmt;
use std::net::Ipv4Addr;

/// Transport protocol (`meta l4proto`, the `inet_proto` datatype).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    /// The name nft uses.
    pub fn nft(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }

    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
        }
    }
}

/// The datatype of one part of a key or value: what the kernel stores, and its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Datatype {
    /// `ipv4_addr`: 4 bytes, network order.
    Ipv4Addr,
    /// `inet_proto`: 1 byte.
    InetProto,
    /// `inet_service` (a port): 2 bytes, network order.
    InetService,
    /// `mark` (the packet mark): 4 bytes, host order.
    Mark,
    /// A 32-bit `integer`, as `numgen` makes: 4 bytes, host order.
    Integer,
}

impl Datatype {
    /// Bytes the kernel stores for a value of this type (before the 4-byte alignment of a
    /// concatenation).
    pub fn size(self) -> usize {
        match self {
            Datatype::Ipv4Addr | Datatype::Mark | Datatype::Integer => 4,
            Datatype::InetProto => 1,
            Datatype::InetService => 2,
        }
    }
}

impl fmt::Display for Datatype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Datatype::Ipv4Addr => "ipv4_addr",
            Datatype::InetProto => "inet_proto",
            Datatype::InetService => "inet_service",
            Datatype::Mark => "mark",
            Datatype::Integer => "integer",
        })
    }
}

/// An expression a set's key or a map's value is declared by (`typeof …`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expr {
    IpSaddr,
    IpDaddr,
    /// `meta l4proto`.
    L4Proto,
    /// `th dport`: the destination port of any transport header.
    ThDport,
    /// `tcp dport` (or `udp dport`): a port that also implies a protocol match.
    Dport(Proto),
    /// `meta mark`.
    Mark,
    /// `numgen random mod N`.
    NumgenRandomMod(u32),
}

impl Expr {
    pub fn datatype(self) -> Datatype {
        match self {
            Expr::IpSaddr | Expr::IpDaddr => Datatype::Ipv4Addr,
            Expr::L4Proto => Datatype::InetProto,
            Expr::ThDport | Expr::Dport(_) => Datatype::InetService,
            Expr::Mark => Datatype::Mark,
            Expr::NumgenRandomMod(_) => Datatype::Integer,
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::IpSaddr => f.write_str("ip saddr"),
            Expr::IpDaddr => f.write_str("ip daddr"),
            Expr::L4Proto => f.write_str("meta l4proto"),
            Expr::ThDport => f.write_str("th dport"),
            Expr::Dport(p) => write!(f, "{} dport", p.nft()),
            Expr::Mark => f.write_str("meta mark"),
            Expr::NumgenRandomMod(n) => write!(f, "numgen random mod {n}"),
        }
    }
}

/// The type of a key or of a map's data: by expressions (`typeof ip daddr . th dport`) or
/// by datatypes (`type ipv4_addr . inet_service`). A concatenation when it has several.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    Typeof(Vec<Expr>),
    Type(Vec<Datatype>),
}

impl Type {
    /// The datatypes of the parts, in order.
    pub fn datatypes(&self) -> impl Iterator<Item = Datatype> + '_ {
        let (exprs, types): (&[Expr], &[Datatype]) = match self {
            Type::Typeof(exprs) => (exprs, &[]),
            Type::Type(types) => (&[], types),
        };
        exprs.iter().map(|e| e.datatype()).chain(types.iter().copied())
    }

    /// How many parts: more than one makes a concatenation.
    pub fn arity(&self) -> usize {
        match self {
            Type::Typeof(exprs) => exprs.len(),
            Type::Type(types) => types.len(),
        }
    }

    fn keyword(&self) -> &'static str {
        match self {
            Type::Typeof(_) => "typeof",
            Type::Type(_) => "type",
        }
    }
}

/// The parts joined by ` . `, without the keyword.
impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Typeof(exprs) => join(f, exprs, " . "),
            Type::Type(types) => join(f, types, " . "),
        }
    }
}

fn join<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T], sep: &str) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        item.fmt(f)?;
    }
    Ok(())
}

/// What a map's elements map to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapData {
    /// A verdict (`goto chain`, `drop`, …): a verdict map.
    Verdict,
    /// Data of this type (e.g. `ip daddr . tcp dport`, for `dnat … map`).
    Data(Type),
    /// A named counter of the table (an object map, `: counter`, for `counter name … map`).
    Counter,
}

/// A set's flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetFlag {
    /// Elements added from the packet path (`update @set { … }`).
    Dynamic,
    /// Elements expire.
    Timeout,
}

impl fmt::Display for SetFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SetFlag::Dynamic => "dynamic",
            SetFlag::Timeout => "timeout",
        })
    }
}

/// A set, or a map when it has `data`. `Display` writes its declaration as `nft` reads it
/// after `add`: `map NAME { typeof K : V; }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Set {
    pub name: String,
    pub key: Type,
    pub data: Option<MapData>,
    pub flags: Vec<SetFlag>,
    /// Seconds an element lives (with [`SetFlag::Timeout`]).
    pub timeout: Option<u32>,
}

impl Set {
    /// A set of keys of type `key`.
    pub fn plain(name: impl Into<String>, key: Type) -> Set {
        Set { name: name.into(), key, data: None, flags: Vec::new(), timeout: None }
    }

    /// A map from `key` to `data`.
    pub fn map(name: impl Into<String>, key: Type, data: MapData) -> Set {
        Set { data: Some(data), ..Set::plain(name, key) }
    }

    pub fn kind(&self) -> SetKind {
        if self.data.is_some() {
            SetKind::Map
        } else {
            SetKind::Set
        }
    }

    /// Whether `element` has the parts this set's key (and data) declare: the check both
    /// transports rely on.
    pub fn check(&self, element: &Element) -> Result<(), ShapeError> {
        let mismatch = |what: &'static str| ShapeError { set: self.name.clone(), element: element.to_string(), what };
        if !parts_fit(&element.key, &self.key) {
            return Err(mismatch("its key does not have the declared type"));
        }
        match (&self.data, &element.value) {
            (None, None) | (Some(MapData::Verdict), Some(Value::Verdict(_))) => Ok(()),
            (Some(MapData::Data(t)), Some(Value::Data(parts))) if parts_fit(parts, t) => Ok(()),
            (Some(MapData::Counter), Some(Value::Counter(_))) => Ok(()),
            (None, Some(_)) => Err(mismatch("a set's element has a value")),
            (Some(_), None) => Err(mismatch("a map's element has no value")),
            (Some(_), Some(_)) => Err(mismatch("its value does not have the declared type")),
        }
    }
}

fn parts_fit(parts: &[Part], ty: &Type) -> bool {
    parts.len() == ty.arity() && parts.iter().zip(ty.datatypes()).all(|(p, t)| p.datatype() == t)
}

impl fmt::Display for Set {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {{ {} }}", self.kind(), self.name, SetBody(self))
    }
}

/// What a set's declaration holds between its braces.
struct SetBody<'a>(&'a Set);

impl fmt::Display for SetBody<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = self.0;
        write!(f, "{} {}", set.key.keyword(), set.key)?;
        match &set.data {
            None => {}
            Some(MapData::Verdict) => f.write_str(" : verdict")?,
            Some(MapData::Data(t)) => write!(f, " : {t}")?,
            Some(MapData::Counter) => f.write_str(" : counter")?,
        }
        f.write_str(";")?;
        if !set.flags.is_empty() {
            f.write_str(" flags ")?;
            join(f, &set.flags, ",")?;
            f.write_str(";")?;
        }
        if let Some(t) = set.timeout {
            write!(f, " timeout {t}s;")?;
        }
        Ok(())
    }
}

/// An element whose parts do not match its set's declaration (a bug in the renderer).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("element {{ {element} }} of {set}: {what}")]
pub struct ShapeError {
    pub set: String,
    pub element: String,
    pub what: &'static str,
}

/// `set` or `map`, as commands name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetKind {
    Set,
    Map,
}

impl fmt::Display for SetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SetKind::Set => "set",
            SetKind::Map => "map",
        })
    }
}

/// One typed part of an element's key or value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    Ipv4(Ipv4Addr),
    Proto(Proto),
    Port(u16),
    Mark(u32),
    /// An integer, e.g. a `numgen` slot.
    Integer(u32),
}

impl Part {
    pub fn datatype(self) -> Datatype {
        match self {
            Part::Ipv4(_) => Datatype::Ipv4Addr,
            Part::Proto(_) => Datatype::InetProto,
            Part::Port(_) => Datatype::InetService,
            Part::Mark(_) => Datatype::Mark,
            Part::Integer(_) => Datatype::Integer,
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Ipv4(ip) => ip.fmt(f),
            Part::Proto(p) => f.write_str(p.nft()),
            Part::Port(p) => p.fmt(f),
            Part::Mark(m) => write!(f, "{m:#x}"),
            Part::Integer(i) => i.fmt(f),
        }
    }
}

/// A verdict, as a verdict map's value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Accept,
    Drop,
    Jump(String),
    Goto(String),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Accept => f.write_str("accept"),
            Verdict::Drop => f.write_str("drop"),
            Verdict::Jump(chain) => write!(f, "jump {chain}"),
            Verdict::Goto(chain) => write!(f, "goto {chain}"),
        }
    }
}

/// A map element's value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Value {
    Verdict(Verdict),
    Data(Vec<Part>),
    /// The name of a counter object (in an object map).
    Counter(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Verdict(v) => v.fmt(f),
            Value::Data(parts) => join(f, parts, " . "),
            Value::Counter(name) => write!(f, "\"{name}\""),
        }
    }
}

/// An element: its key (several parts: a concatenation) and, in a map, its value.
/// `Display` writes it as inside `add element … { … }`: `key` or `key : value`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Element {
    pub key: Vec<Part>,
    pub value: Option<Value>,
}

impl Element {
    /// The element's key alone (as `delete element` takes it).
    pub fn key(&self) -> Key<'_> {
        Key(&self.key)
    }
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        join(f, &self.key, " . ")?;
        match &self.value {
            Some(v) => write!(f, " : {v}"),
            None => Ok(()),
        }
    }
}

/// An element's key, displayed alone.
pub struct Key<'a>(&'a [Part]);

impl fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        join(f, self.0, " . ")
    }
}

/// Add or delete (elements, in a batch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Add,
    Delete,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Add => "add",
            Op::Delete => "delete",
        })
    }
}

/// The type of a base chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainType {
    Filter,
    Nat,
}

/// A netfilter hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

/// What a base chain does with a packet no rule decided on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Accept,
    Drop,
}

/// Where a base chain hooks in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BaseChain {
    pub kind: ChainType,
    pub hook: Hook,
    pub priority: i32,
    pub policy: Policy,
}

impl fmt::Display for BaseChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ChainType::Filter => "filter",
            ChainType::Nat => "nat",
        };
        let hook = match self.hook {
            Hook::Prerouting => "prerouting",
            Hook::Input => "input",
            Hook::Forward => "forward",
            Hook::Output => "output",
            Hook::Postrouting => "postrouting",
        };
        let policy = match self.policy {
            Policy::Accept => "accept",
            Policy::Drop => "drop",
        };
        write!(f, "type {kind} hook {hook} priority {}; policy {policy};", self.priority)
    }
}

/// A chain: a regular one (reached by `jump`/`goto`) or, with `base`, one on a hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub name: String,
    pub base: Option<BaseChain>,
}

impl Chain {
    pub fn regular(name: impl Into<String>) -> Chain {
        Chain { name: name.into(), base: None }
    }
}

/// A table (its family and name): writes the commands of a transaction on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Table {
    pub family: &'static str,
    pub name: &'static str,
}

/// One command of an `nft -f` script on a [`Table`].
#[derive(Clone, Copy, Debug)]
pub enum Command<'a> {
    AddTable,
    DeleteTable,
    AddChain(&'a Chain),
    FlushChain(&'a str),
    DeleteChain(&'a str),
    /// Declare a set or map (a no-op when it exists as declared).
    AddSet(&'a Set),
    FlushSet(SetKind, &'a str),
    DeleteSet(SetKind, &'a str),
    AddRule(&'a str, &'a str),
    AddElements(&'a str, &'a [Element]),
    /// Delete elements by key (their values are not written).
    DeleteElements(&'a str, &'a [Element]),
}

impl Table {
    /// Append `command` and a newline to `script`.
    pub fn write(&self, script: &mut String, command: Command<'_>) {
        use std::fmt::Write as _;
        let _ = writeln!(script, "{}", TableCommand { table: self, command });
    }
}

struct TableCommand<'a> {
    table: &'a Table,
    command: Command<'a>,
}

impl fmt::Display for TableCommand<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Table { family, name: table } = self.table;
        let at = format_args!("{family} {table}");
        match self.command {
            Command::AddTable => write!(f, "add table {at}"),
            Command::DeleteTable => write!(f, "delete table {at}"),
            Command::AddChain(Chain { name, base: None }) => write!(f, "add chain {at} {name}"),
            Command::AddChain(Chain { name, base: Some(base) }) => write!(f, "add chain {at} {name} {{ {base} }}"),
            Command::FlushChain(name) => write!(f, "flush chain {at} {name}"),
            Command::DeleteChain(name) => write!(f, "delete chain {at} {name}"),
            Command::AddSet(set) => write!(f, "add {} {at} {} {{ {} }}", set.kind(), set.name, SetBody(set)),
            Command::FlushSet(kind, name) => write!(f, "flush {kind} {at} {name}"),
            Command::DeleteSet(kind, name) => write!(f, "delete {kind} {at} {name}"),
            Command::AddRule(chain, rule) => write!(f, "add rule {at} {chain} {rule}"),
            Command::AddElements(set, elements) => {
                write!(f, "add element {at} {set} {{ ")?;
                join(f, elements, ", ")?;
                f.write_str(" }")
            }
            Command::DeleteElements(set, elements) => {
                write!(f, "delete element {at} {set} {{ ")?;
                for (i, e) in elements.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    e.key().fmt(f)?;
                }
                f.write_str(" }")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots_map() -> Set {
        Set::map(
            "lb_slots_tcp_2",
            Type::Typeof(vec![Expr::IpDaddr, Expr::L4Proto, Expr::ThDport, Expr::NumgenRandomMod(2)]),
            MapData::Data(Type::Typeof(vec![Expr::IpDaddr, Expr::Dport(Proto::Tcp)])),
        )
    }

    #[test]
    fn declarations_render_as_nft_reads_them() {
        let t = Table { family: "ip", name: "t" };
        let mut s = String::new();
        t.write(&mut s, Command::AddSet(&slots_map()));
        let sticky = Set {
            flags: vec![SetFlag::Dynamic, SetFlag::Timeout],
            timeout: Some(60),
            ..Set::plain("aff", Type::Type(vec![Datatype::Ipv4Addr]))
        };
        t.write(&mut s, Command::AddSet(&sticky));
        let base = BaseChain { kind: ChainType::Nat, hook: Hook::Output, priority: -100, policy: Policy::Accept };
        t.write(&mut s, Command::AddChain(&Chain { name: "out".into(), base: Some(base) }));
        assert_eq!(
            s,
            "add map ip t lb_slots_tcp_2 { typeof ip daddr . meta l4proto . th dport . numgen random mod 2 : ip daddr . tcp dport; }\n\
             add set ip t aff { type ipv4_addr; flags dynamic,timeout; timeout 60s; }\n\
             add chain ip t out { type nat hook output priority -100; policy accept; }\n"
        );
    }

    #[test]
    fn elements_render_and_are_checked_against_their_set() {
        let ip = |s: &str| Part::Ipv4(s.parse().unwrap());
        let e = Element {
            key: vec![ip("10.96.0.1"), Part::Proto(Proto::Tcp), Part::Port(80), Part::Integer(1)],
            value: Some(Value::Data(vec![ip("10.244.1.2"), Part::Port(8080)])),
        };
        assert_eq!(e.to_string(), "10.96.0.1 . tcp . 80 . 1 : 10.244.1.2 . 8080");
        assert_eq!(e.key().to_string(), "10.96.0.1 . tcp . 80 . 1");
        let map = slots_map();
        assert_eq!(map.check(&e), Ok(()));
        let short = Element { key: e.key[..3].to_vec(), ..e.clone() };
        assert!(map.check(&short).is_err());
        let verdict = Element { value: Some(Value::Verdict(Verdict::Drop)), ..e.clone() };
        assert!(map.check(&verdict).is_err());
        assert!(map.check(&Element { value: None, ..e }).is_err());
    }
}
