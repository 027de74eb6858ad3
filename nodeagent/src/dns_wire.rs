//! The DNS wire format (RFC 1035, EDNS0 from RFC 6891), only as much as the cluster DNS
//! server needs: parse a query, parse the records of an upstream answer, and encode a
//! response with name compression and truncation. Hand-written instead of a DNS library:
//! the server answers a handful of record types, and every read is bounds-checked, so
//! hostile input is an error, never a panic (see the fuzz-style tests below).

use std::collections::HashMap;
use std::net::Ipv4Addr;

pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_SRV: u16 = 33;
pub const TYPE_OPT: u16 = 41;
pub const TYPE_ANY: u16 = 255;
pub const CLASS_IN: u16 = 1;

/// The largest UDP answer without EDNS (RFC 1035 §4.2.1).
pub const PLAIN_UDP_SIZE: usize = 512;
/// The UDP payload size this server advertises and accepts at most (the DNS Flag Day 2020
/// recommendation, which avoids IP fragmentation).
pub const MAX_UDP_SIZE: usize = 1232;

/// Why a packet could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("packet too short")]
    Short,
    #[error("not a query")]
    NotQuery,
    #[error("expected one question, found {0}")]
    Questions(u16),
    #[error("bad name")]
    BadName,
}

/// Response codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    NoError = 0,
    FormErr = 1,
    ServFail = 2,
    NxDomain = 3,
    NotImp = 4,
    Refused = 5,
}

/// A query's single question. `name` is in presentation form without the final dot, as the
/// client wrote it (bytes other than letters, digits, `-` and `_` escaped as `\DDD`);
/// lookups use its lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    pub opcode: u8,
    /// Recursion desired: echoed in the answer.
    pub rd: bool,
    /// Checking disabled: echoed too.
    pub cd: bool,
    pub question: Question,
    /// The client's EDNS UDP payload size, if it sent an OPT record.
    pub edns_size: Option<u16>,
}

impl Query {
    /// The largest answer this client takes over UDP.
    pub fn udp_limit(&self) -> usize {
        match self.edns_size {
            Some(n) => (n as usize).clamp(PLAIN_UDP_SIZE, MAX_UDP_SIZE),
            None => PLAIN_UDP_SIZE,
        }
    }
}

/// The data of a record this server writes or copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Cname(String),
    Ptr(String),
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
    Txt(Vec<String>),
    Soa {
        mname: String,
        rname: String,
        serial: u32,
        refresh: u32,
        retry: u32,
        expire: u32,
        minimum: u32,
    },
    /// Data without names in it (AAAA, TXT from upstream …), copied as is.
    Opaque {
        rtype: u16,
        data: Vec<u8>,
    },
}

impl RData {
    pub fn rtype(&self) -> u16 {
        match self {
            RData::A(_) => TYPE_A,
            RData::Cname(_) => TYPE_CNAME,
            RData::Ptr(_) => TYPE_PTR,
            RData::Srv { .. } => TYPE_SRV,
            RData::Txt(_) => TYPE_TXT,
            RData::Soa { .. } => TYPE_SOA,
            RData::Opaque { rtype, .. } => *rtype,
        }
    }
}

/// A resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub ttl: u32,
    pub data: RData,
}

/// What to send back: the code and the three sections.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Answer {
    pub rcode: Option<Rcode>,
    /// Set for names this server is the authority of (the cluster domain).
    pub authoritative: bool,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
}

impl Answer {
    pub fn rcode(&self) -> Rcode {
        self.rcode.unwrap_or(Rcode::NoError)
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Result<u8, WireError> {
        let b = *self.buf.get(self.pos).ok_or(WireError::Short)?;
        self.pos += 1;
        Ok(b)
    }
    fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes([self.u8()?, self.u8()?, self.u8()?, self.u8()?]))
    }
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Short)?;
        let out = self.buf.get(self.pos..end).ok_or(WireError::Short)?;
        self.pos = end;
        Ok(out)
    }

    /// A name, following compression pointers (each must point backwards, so a loop is
    /// impossible), at most 255 bytes on the wire.
    fn name(&mut self) -> Result<String, WireError> {
        let mut out = String::new();
        let mut pos = self.pos;
        let mut end_of_name: Option<usize> = None;
        let mut wire_len = 0usize;
        loop {
            let len = *self.buf.get(pos).ok_or(WireError::Short)? as usize;
            match len & 0xC0 {
                0x00 => {
                    pos += 1;
                    if len == 0 {
                        break;
                    }
                    wire_len += len + 1;
                    if wire_len > 255 {
                        return Err(WireError::BadName);
                    }
                    let label = self.buf.get(pos..pos + len).ok_or(WireError::Short)?;
                    if !out.is_empty() {
                        out.push('.');
                    }
                    for &b in label {
                        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                            out.push(b as char);
                        } else {
                            out.push_str(&format!("\\{b:03}"));
                        }
                    }
                    pos += len;
                }
                0xC0 => {
                    let low = *self.buf.get(pos + 1).ok_or(WireError::Short)? as usize;
                    let target = ((len & 0x3F) << 8) | low;
                    if target >= pos {
                        return Err(WireError::BadName);
                    }
                    end_of_name.get_or_insert(pos + 2);
                    pos = target;
                }
                _ => return Err(WireError::BadName),
            }
        }
        self.pos = end_of_name.unwrap_or(pos);
        Ok(out)
    }
}

fn header_counts(buf: &[u8]) -> Result<[u16; 4], WireError> {
    let mut r = Reader { buf, pos: 4 };
    Ok([r.u16()?, r.u16()?, r.u16()?, r.u16()?])
}

/// Parse a query: one question, and the OPT record if the client sent one.
pub fn parse_query(buf: &[u8]) -> Result<Query, WireError> {
    if buf.len() < 12 {
        return Err(WireError::Short);
    }
    let id = u16::from_be_bytes([buf[0], buf[1]]);
    let flags = u16::from_be_bytes([buf[2], buf[3]]);
    if flags & 0x8000 != 0 {
        return Err(WireError::NotQuery);
    }
    let [qd, an, ns, ar] = header_counts(buf)?;
    if qd != 1 {
        return Err(WireError::Questions(qd));
    }
    let mut r = Reader { buf, pos: 12 };
    let question = Question { name: r.name()?, qtype: r.u16()?, qclass: r.u16()? };
    // Skip answer and authority records (a query has none, but must not break us).
    for _ in 0..(an as u32 + ns as u32) {
        skip_record(&mut r)?;
    }
    let mut edns_size = None;
    for _ in 0..ar {
        let start = r.pos;
        r.name()?;
        let rtype = r.u16()?;
        let class = r.u16()?;
        r.pos = start;
        skip_record(&mut r)?;
        if rtype == TYPE_OPT {
            edns_size = Some(class);
        }
    }
    Ok(Query {
        id,
        opcode: ((flags >> 11) & 0xF) as u8,
        rd: flags & 0x0100 != 0,
        cd: flags & 0x0010 != 0,
        question,
        edns_size,
    })
}

fn skip_record(r: &mut Reader<'_>) -> Result<(), WireError> {
    r.name()?;
    r.bytes(8)?;
    let len = r.u16()? as usize;
    r.bytes(len)?;
    Ok(())
}

/// A parsed upstream response: its code and its answer records (names in the data of
/// CNAME, PTR and SRV records decompressed; other types copied as they are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub id: u16,
    pub rcode: u8,
    pub truncated: bool,
    pub answers: Vec<Record>,
}

/// Parse a response (for chasing a CNAME through the upstream resolver).
pub fn parse_response(buf: &[u8]) -> Result<Response, WireError> {
    if buf.len() < 12 {
        return Err(WireError::Short);
    }
    let id = u16::from_be_bytes([buf[0], buf[1]]);
    let flags = u16::from_be_bytes([buf[2], buf[3]]);
    let [qd, an, _, _] = header_counts(buf)?;
    let mut r = Reader { buf, pos: 12 };
    for _ in 0..qd {
        r.name()?;
        r.bytes(4)?;
    }
    let mut answers = Vec::new();
    for _ in 0..an {
        let name = r.name()?;
        let rtype = r.u16()?;
        let _class = r.u16()?;
        let ttl = r.u32()?;
        let len = r.u16()? as usize;
        let start = r.pos;
        let data = match rtype {
            TYPE_A if len == 4 => {
                let b = r.bytes(4)?;
                RData::A(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
            }
            TYPE_CNAME => RData::Cname(r.name()?),
            TYPE_PTR => RData::Ptr(r.name()?),
            TYPE_SRV => RData::Srv { priority: r.u16()?, weight: r.u16()?, port: r.u16()?, target: r.name()? },
            _ => RData::Opaque { rtype, data: r.bytes(len)?.to_vec() },
        };
        if r.pos != start + len {
            return Err(WireError::Short);
        }
        answers.push(Record { name, ttl, data });
    }
    Ok(Response { id, rcode: (flags & 0xF) as u8, truncated: flags & 0x0200 != 0, answers })
}

/// Encode a query for `name` (used to ask upstream for a CNAME's target).
pub fn encode_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut w = Writer::default();
    w.buf.extend_from_slice(&id.to_be_bytes());
    w.buf.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    w.buf.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    w.name(name, false);
    w.u16(qtype);
    w.u16(CLASS_IN);
    w.buf
}

#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
    /// Lowercased name suffixes already written, and where (compression targets).
    names: HashMap<String, u16>,
}

impl Writer {
    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Write a name in presentation form (`\DDD` escapes understood), compressing against
    /// names already written when `compress`.
    fn name(&mut self, name: &str, compress: bool) {
        let labels = split_labels(name);
        for i in 0..labels.len() {
            let suffix =
                labels[i..].iter().map(|l| String::from_utf8_lossy(l).to_ascii_lowercase()).collect::<Vec<_>>();
            let key = suffix.join(".");
            if compress {
                if let Some(&at) = self.names.get(&key) {
                    self.u16(0xC000 | at);
                    return;
                }
            }
            if self.buf.len() < 0x3FFF {
                self.names.entry(key).or_insert(self.buf.len() as u16);
            }
            let label = &labels[i];
            self.buf.push(label.len().min(63) as u8);
            self.buf.extend_from_slice(&label[..label.len().min(63)]);
        }
        self.buf.push(0);
    }

    fn record(&mut self, r: &Record) {
        self.name(&r.name, true);
        self.u16(r.data.rtype());
        self.u16(CLASS_IN);
        self.u32(r.ttl);
        let len_at = self.buf.len();
        self.u16(0);
        match &r.data {
            RData::A(ip) => self.buf.extend_from_slice(&ip.octets()),
            RData::Cname(n) | RData::Ptr(n) => self.name(n, true),
            RData::Srv { priority, weight, port, target } => {
                self.u16(*priority);
                self.u16(*weight);
                self.u16(*port);
                // RFC 2782: the target is not compressed.
                self.name(target, false);
            }
            RData::Txt(strings) => {
                for s in strings {
                    let b = &s.as_bytes()[..s.len().min(255)];
                    self.buf.push(b.len() as u8);
                    self.buf.extend_from_slice(b);
                }
            }
            RData::Soa { mname, rname, serial, refresh, retry, expire, minimum } => {
                self.name(mname, true);
                self.name(rname, true);
                for v in [serial, refresh, retry, expire, minimum] {
                    self.u32(*v);
                }
            }
            RData::Opaque { data, .. } => self.buf.extend_from_slice(data),
        }
        let len = (self.buf.len() - len_at - 2) as u16;
        self.buf[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
    }
}

/// The labels of a name in presentation form, `\DDD` and `\X` escapes decoded.
fn split_labels(name: &str) -> Vec<Vec<u8>> {
    let mut labels = Vec::new();
    let mut cur = Vec::new();
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) => {
                let v: u32 = b[i + 1..i + 4].iter().fold(0, |a, d| a * 10 + (d - b'0') as u32);
                cur.push(v.min(255) as u8);
                i += 4;
            }
            b'\\' if i + 1 < b.len() => {
                cur.push(b[i + 1]);
                i += 2;
            }
            b'.' => {
                if !cur.is_empty() {
                    labels.push(std::mem::take(&mut cur));
                }
                i += 1;
            }
            c => {
                cur.push(c);
                i += 1;
            }
        }
    }
    if !cur.is_empty() {
        labels.push(cur);
    }
    labels
}

/// Encode the response to `query`. Over UDP (`limit` set), an answer that does not fit is
/// sent truncated: the header with TC set and the question only, so the client retries
/// over TCP (RFC 7766).
pub fn encode_response(query: &Query, answer: &Answer, limit: Option<usize>) -> Vec<u8> {
    let full = encode(query, answer, false);
    match limit {
        Some(limit) if full.len() > limit => encode(query, answer, true),
        _ => full,
    }
}

fn encode(query: &Query, answer: &Answer, truncated: bool) -> Vec<u8> {
    let mut w = Writer::default();
    w.u16(query.id);
    let mut flags: u16 = 0x8000 | ((query.opcode as u16 & 0xF) << 11) | 0x0080; // QR, RA
    if answer.authoritative {
        flags |= 0x0400;
    }
    if truncated {
        flags |= 0x0200;
    }
    if query.rd {
        flags |= 0x0100;
    }
    if query.cd {
        flags |= 0x0010;
    }
    flags |= answer.rcode() as u16;
    w.u16(flags);
    let (an, ns, ar): (&[Record], &[Record], &[Record]) =
        if truncated { (&[], &[], &[]) } else { (&answer.answers, &answer.authority, &answer.additional) };
    w.u16(1);
    w.u16(an.len() as u16);
    w.u16(ns.len() as u16);
    w.u16(ar.len() as u16 + u16::from(query.edns_size.is_some()));
    w.name(&query.question.name, true);
    w.u16(query.question.qtype);
    w.u16(query.question.qclass);
    for r in an.iter().chain(ns).chain(ar) {
        w.record(r);
    }
    if query.edns_size.is_some() {
        // OPT: root name, our payload size, no extended flags.
        w.buf.push(0);
        w.u16(TYPE_OPT);
        w.u16(MAX_UDP_SIZE as u16);
        w.u32(0);
        w.u16(0);
    }
    w.buf
}

/// A bare error response (FORMERR, SERVFAIL, …) to a packet whose header could be read.
pub fn error_response(packet: &[u8], rcode: Rcode) -> Option<Vec<u8>> {
    if packet.len() < 12 || packet[2] & 0x80 != 0 {
        return None;
    }
    let mut out = packet[..12].to_vec();
    out[2] = 0x80 | (packet[2] & 0x79); // QR, opcode and RD kept
    out[3] = 0x80 | rcode as u8; // RA
    out[4..12].fill(0);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn query(name: &str, qtype: u16, edns: Option<u16>) -> Vec<u8> {
        let mut q = encode_query(0x1234, name, qtype);
        if let Some(size) = edns {
            q[11] = 1;
            q.extend_from_slice(&[0, 0, 41]);
            q.extend_from_slice(&size.to_be_bytes());
            q.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        }
        q
    }

    #[test]
    fn a_query_round_trips() {
        let q = parse_query(&query("Web.Default.svc.cluster.local", TYPE_A, Some(4096))).unwrap();
        assert_eq!(q.id, 0x1234);
        assert!(q.rd);
        assert_eq!(q.question.name, "Web.Default.svc.cluster.local");
        assert_eq!(q.question.qtype, TYPE_A);
        assert_eq!(q.edns_size, Some(4096));
        assert_eq!(q.udp_limit(), MAX_UDP_SIZE);
        let answer = Answer {
            answers: vec![Record {
                name: q.question.name.clone(),
                ttl: 5,
                data: RData::A("10.96.0.20".parse().unwrap()),
            }],
            authoritative: true,
            ..Default::default()
        };
        let wire = encode_response(&q, &answer, Some(q.udp_limit()));
        let r = parse_response(&wire).unwrap();
        assert_eq!(r.id, 0x1234);
        assert_eq!(r.rcode, 0);
        assert_eq!(r.answers, answer.answers);
        // The answer's name is a pointer to the question's.
        assert_eq!(&wire[wire.len() - 11 - 16..wire.len() - 11 - 14], &[0xC0, 12]);
    }

    #[test]
    fn names_with_odd_bytes_survive_escaping() {
        let mut q = encode_query(1, "x", TYPE_A);
        // Replace the label "x" by "a.b c" (a dot and a space inside one label).
        q.truncate(12);
        q.extend_from_slice(&[5, b'a', b'.', b'b', b' ', b'c', 0, 0, 1, 0, 1]);
        let parsed = parse_query(&q).unwrap();
        assert_eq!(parsed.question.name, "a\\046b\\032c");
        let wire = encode_response(&parsed, &Answer::default(), None);
        assert_eq!(&wire[12..19], &[5, b'a', b'.', b'b', b' ', b'c', 0]);
    }

    #[test]
    fn a_large_answer_is_truncated_over_udp_only() {
        let q = parse_query(&query("big.default.svc.cluster.local", TYPE_A, None)).unwrap();
        let answers = (0..100)
            .map(|i| Record { name: q.question.name.clone(), ttl: 5, data: RData::A(Ipv4Addr::new(10, 244, 1, i)) })
            .collect();
        let answer = Answer { answers, ..Default::default() };
        let udp = encode_response(&q, &answer, Some(q.udp_limit()));
        assert!(udp.len() <= PLAIN_UDP_SIZE);
        assert_eq!(udp[2] & 0x02, 0x02, "TC set");
        assert_eq!(parse_response(&udp).unwrap().answers.len(), 0);
        let tcp = encode_response(&q, &answer, None);
        assert_eq!(parse_response(&tcp).unwrap().answers.len(), 100);
    }

    #[test]
    fn pointer_loops_and_forward_pointers_are_errors() {
        let mut q = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]); // points at itself
        assert_eq!(parse_query(&q), Err(WireError::BadName));
        let mut q = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(&[0xC0, 40, 0, 1, 0, 1]);
        assert_eq!(parse_query(&q), Err(WireError::BadName));
    }

    #[test]
    fn error_responses_keep_the_id() {
        let q = query("x.y", TYPE_A, None);
        let r = error_response(&q, Rcode::ServFail).unwrap();
        assert_eq!(&r[..2], &[0x12, 0x34]);
        assert_eq!(r[3] & 0xF, 2);
        assert_eq!(error_response(&r, Rcode::ServFail), None, "never answer a response");
    }

    /// A small deterministic generator (xorshift), so the test needs no dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// Hostile input must never panic: random packets, and valid ones with bytes flipped,
    /// cut short or extended, go through every parser.
    #[test]
    fn malformed_packets_never_panic() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let seeds = [
            query("web.default.svc.cluster.local", TYPE_A, Some(1232)),
            query("_http._tcp.web.default.svc.cluster.local", TYPE_SRV, None),
            query("10.0.96.10.in-addr.arpa", TYPE_PTR, None),
        ];
        for round in 0..200_000 {
            let mut p = if round % 4 == 0 {
                let len = (rng.next() % 64) as usize;
                (0..len).map(|_| rng.next() as u8).collect::<Vec<u8>>()
            } else {
                seeds[round % seeds.len()].clone()
            };
            let flips = 1 + rng.next() % 4;
            for _ in 0..flips {
                if p.is_empty() {
                    break;
                }
                let at = (rng.next() as usize) % p.len();
                match rng.next() % 3 {
                    0 => p[at] = rng.next() as u8,
                    1 => p.truncate(at),
                    _ => p.insert(at, rng.next() as u8),
                }
            }
            if let Ok(q) = parse_query(&p) {
                let _ = encode_response(&q, &Answer::default(), Some(q.udp_limit()));
            }
            let _ = parse_response(&p);
            let _ = error_response(&p, Rcode::FormErr);
        }
    }
}
