//! The cluster's DNS records, per the Kubernetes DNS specification (kubernetes/dns
//! `docs/specification.md`), computed on demand from what the agent watches: services,
//! their ready endpoints and pods. Pure: no I/O, unit-tested without root.
//!
//! | name | type | answer |
//! |---|---|---|
//! | `svc.ns.svc.DOMAIN` | A | the cluster IP; a headless service: each ready endpoint's address |
//! | `svc.ns.svc.DOMAIN` (ExternalName) | CNAME | the external name (the server chases it) |
//! | `host.svc.ns.svc.DOMAIN` | A | a headless service's endpoint: the pod's `hostname` when its `subdomain` is the service, else its address with dashes (`10-244-1-5`) |
//! | `_port._proto.svc.ns.svc.DOMAIN` | SRV | per named port: the service (or each endpoint of a headless one) with the addresses in the additional section |
//! | `a-b-c-d.ns.pod.DOMAIN` | A | `a.b.c.d`, if a pod in `ns` has that address |
//! | `d.c.b.a.in-addr.arpa` | PTR | a cluster IP's service name; a pod's endpoint name or pod name |
//! | `dns-version.DOMAIN` | TXT | the specification's version, `1.1.0` |
//!
//! A name in the domain that does not exist is NXDOMAIN; one that exists without records of
//! the asked type (an AAAA query for a service, `ns.svc.DOMAIN`) is NODATA. Both carry the
//! domain's SOA, whose minimum is the TTL: negative answers are cached no longer than
//! positive ones. Every TTL is [`TTL`] (5 s, as CoreDNS), so no answer outlives a change by
//! more than that anywhere. Names outside the domain, and reverse names outside the pod
//! and service CIDRs, are forwarded upstream.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;

use crate::dns_wire::{Answer, RData, Rcode, Record, TYPE_ANY, TYPE_CNAME};

/// Seconds every answer may be cached.
pub const TTL: u32 = 5;
/// The version of the Kubernetes DNS specification answered at `dns-version`.
pub const SPEC_VERSION: &str = "1.1.0";

type Key = (String, String);

/// A port of a service or endpoint, as DNS sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    /// The port's name (SRV records exist for named ports only).
    pub name: Option<String>,
    /// `tcp` or `udp`.
    pub proto: &'static str,
    pub port: u16,
}

/// A service, as DNS sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceKind {
    ClusterIp(Ipv4Addr),
    Headless,
    ExternalName(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEntry {
    pub kind: ServiceKind,
    pub ports: Vec<Port>,
}

/// A ready endpoint address of a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointEntry {
    pub ip: Ipv4Addr,
    /// The pod behind it (its name in the service's namespace).
    pub pod: Option<String>,
    pub ports: Vec<Port>,
}

/// A pod, as DNS sees it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PodEntry {
    pub ip: Option<Ipv4Addr>,
    pub hostname: Option<String>,
    pub subdomain: Option<String>,
}

/// What to do with a query.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Answer this.
    Answer(Answer),
    /// Not ours: ask the upstream resolvers.
    Forward,
    /// An ExternalName: answer the CNAME and what upstream says of its target.
    Chase { answer: Answer, target: String },
}

/// Everything the cluster DNS answers from. Each change updates its own entry (and one
/// reverse index), so a change costs the same whatever the number of services.
#[derive(Debug)]
pub struct Zone {
    /// The cluster domain, lowercase, without the final dot (`cluster.local`).
    domain: String,
    pod_cidr: Ipv4Network,
    service_cidr: Ipv4Network,
    services: HashMap<Key, ServiceEntry>,
    cluster_ips: HashMap<Ipv4Addr, Key>,
    endpoints: HashMap<Key, Vec<EndpointEntry>>,
    pods: HashMap<Key, PodEntry>,
    pod_ips: HashMap<Ipv4Addr, Key>,
}

/// `10.244.1.5` → `10-244-1-5`.
pub fn dashed(ip: Ipv4Addr) -> String {
    ip.to_string().replace('.', "-")
}

fn undashed(label: &str) -> Option<Ipv4Addr> {
    label.replace('-', ".").parse().ok()
}

impl Zone {
    pub fn new(domain: &str, pod_cidr: Ipv4Network, service_cidr: Ipv4Network) -> Zone {
        Zone {
            domain: domain.trim_end_matches('.').to_ascii_lowercase(),
            pod_cidr,
            service_cidr,
            services: HashMap::new(),
            cluster_ips: HashMap::new(),
            endpoints: HashMap::new(),
            pods: HashMap::new(),
            pod_ips: HashMap::new(),
        }
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub fn service_count(&self) -> usize {
        self.services.len()
    }

    pub fn set_service(&mut self, key: Key, entry: Option<ServiceEntry>) {
        if let Some(ServiceEntry { kind: ServiceKind::ClusterIp(ip), .. }) = self.services.remove(&key) {
            if self.cluster_ips.get(&ip) == Some(&key) {
                self.cluster_ips.remove(&ip);
            }
        }
        if let Some(entry) = entry {
            if let ServiceKind::ClusterIp(ip) = entry.kind {
                self.cluster_ips.insert(ip, key.clone());
            }
            self.services.insert(key, entry);
        }
    }

    pub fn set_endpoints(&mut self, key: Key, ready: Option<Vec<EndpointEntry>>) {
        match ready {
            Some(list) => self.endpoints.insert(key, list),
            None => self.endpoints.remove(&key),
        };
    }

    pub fn set_pod(&mut self, key: Key, entry: Option<PodEntry>) {
        if let Some(PodEntry { ip: Some(ip), .. }) = self.pods.remove(&key) {
            if self.pod_ips.get(&ip) == Some(&key) {
                self.pod_ips.remove(&ip);
            }
        }
        if let Some(entry) = entry {
            if let Some(ip) = entry.ip {
                self.pod_ips.insert(ip, key.clone());
            }
            self.pods.insert(key, entry);
        }
    }

    /// Forget everything of one kind (before a full list replaces it).
    pub fn clear_services(&mut self) {
        self.services.clear();
        self.cluster_ips.clear();
    }
    pub fn clear_endpoints(&mut self) {
        self.endpoints.clear();
    }
    pub fn clear_pods(&mut self) {
        self.pods.clear();
        self.pod_ips.clear();
    }

    fn fqdn(&self, parts: &[&str]) -> String {
        let mut s = parts.join(".");
        s.push('.');
        s.push_str(&self.domain);
        s
    }

    /// The name an endpoint of headless service `svc` answers to: its pod's hostname when
    /// the pod's subdomain is the service, else its address with dashes.
    fn endpoint_host(&self, ns: &str, svc: &str, ep: &EndpointEntry) -> String {
        let pod = ep.pod.as_ref().and_then(|p| self.pods.get(&(ns.to_string(), p.clone())));
        match pod {
            Some(PodEntry { hostname: Some(h), subdomain: Some(sd), .. }) if sd == svc => h.to_ascii_lowercase(),
            _ => dashed(ep.ip),
        }
    }

    fn soa(&self) -> Record {
        Record {
            name: self.domain.clone(),
            ttl: TTL,
            data: RData::Soa {
                mname: format!("ns.dns.{}", self.domain),
                rname: format!("hostmaster.{}", self.domain),
                serial: 1,
                refresh: 7200,
                retry: 1800,
                expire: 86400,
                minimum: TTL,
            },
        }
    }

    /// Answer a question: `name` as the client wrote it, `qtype` its type.
    pub fn lookup(&self, name: &str, qtype: u16) -> Lookup {
        let lower = name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(rev) = lower.strip_suffix(".in-addr.arpa") {
            return self.reverse(name, rev, qtype);
        }
        let rest = if lower == self.domain {
            ""
        } else {
            match lower.strip_suffix(&self.domain).and_then(|r| r.strip_suffix('.')) {
                Some(r) => r,
                None => return Lookup::Forward,
            }
        };
        let labels: Vec<&str> = if rest.is_empty() { Vec::new() } else { rest.split('.').collect() };
        let found = self.records(&labels);
        self.finish(name, qtype, found)
    }

    /// Turn the records of a name (None: the name does not exist) into the answer to `qtype`.
    fn finish(&self, name: &str, qtype: u16, found: Option<Found>) -> Lookup {
        let mut answer = Answer { authoritative: true, ..Default::default() };
        let Some(found) = found else {
            answer.rcode = Some(Rcode::NxDomain);
            answer.authority.push(self.soa());
            return Lookup::Answer(answer);
        };
        let record = |data: RData| Record { name: name.to_string(), ttl: TTL, data };
        if let Some(target) = found.cname {
            answer.answers.push(record(RData::Cname(target.clone())));
            if qtype == TYPE_CNAME {
                return Lookup::Answer(answer);
            }
            return match self.lookup(&target, qtype) {
                // A target inside the cluster: answered here, one level deep.
                Lookup::Answer(inner) => {
                    answer.answers.extend(inner.answers.into_iter().filter(|r| r.data.rtype() != TYPE_CNAME));
                    Lookup::Answer(answer)
                }
                _ => Lookup::Chase { answer, target },
            };
        }
        for data in found.data {
            if qtype == TYPE_ANY || data.rtype() == qtype {
                answer.answers.push(record(data));
            }
        }
        if answer.answers.is_empty() {
            answer.authority.push(self.soa());
        } else {
            answer.additional = found.additional;
        }
        Lookup::Answer(answer)
    }

    /// The records of the name whose labels before the domain are `labels`.
    fn records(&self, labels: &[&str]) -> Option<Found> {
        match labels {
            [] => Some(Found { data: vec![self.soa().data], ..Default::default() }),
            ["dns-version"] => Some(Found::data(vec![RData::Txt(vec![SPEC_VERSION.into()])])),
            ["svc"] | ["pod"] => Some(Found::default()),
            [ns, "svc"] => self.services.keys().any(|(n, _)| n == ns).then(Found::default),
            [svc, ns, "svc"] => self.service(ns, svc),
            [proto, svc, ns, "svc"] if proto.starts_with('_') => {
                let s = self.services.get(&key(ns, svc))?;
                s.ports.iter().any(|p| format!("_{}", p.proto) == *proto).then(Found::default)
            }
            [host, svc, ns, "svc"] => {
                let s = self.services.get(&key(ns, svc))?;
                if s.kind != ServiceKind::Headless {
                    return None;
                }
                let ips: BTreeSet<Ipv4Addr> = self
                    .ready(ns, svc)
                    .iter()
                    .filter(|ep| self.endpoint_host(ns, svc, ep) == *host)
                    .map(|ep| ep.ip)
                    .collect();
                (!ips.is_empty()).then(|| Found::data(ips.into_iter().map(RData::A).collect()))
            }
            [port, proto, svc, ns, "svc"] => self.srv(ns, svc, port.strip_prefix('_')?, proto.strip_prefix('_')?),
            [ns, "pod"] => self.pods.keys().any(|(n, _)| n == ns).then(Found::default),
            [ip, ns, "pod"] => {
                let ip = undashed(ip)?;
                let (pod_ns, _) = self.pod_ips.get(&ip)?;
                (pod_ns == ns).then(|| Found::data(vec![RData::A(ip)]))
            }
            _ => None,
        }
    }

    fn ready(&self, ns: &str, svc: &str) -> &[EndpointEntry] {
        self.endpoints.get(&key(ns, svc)).map(Vec::as_slice).unwrap_or_default()
    }

    fn service(&self, ns: &str, svc: &str) -> Option<Found> {
        let s = self.services.get(&key(ns, svc))?;
        Some(match &s.kind {
            ServiceKind::ClusterIp(ip) => Found::data(vec![RData::A(*ip)]),
            ServiceKind::ExternalName(target) => Found { cname: Some(target.clone()), ..Default::default() },
            ServiceKind::Headless => {
                let ips: BTreeSet<Ipv4Addr> = self.ready(ns, svc).iter().map(|ep| ep.ip).collect();
                Found::data(ips.into_iter().map(RData::A).collect())
            }
        })
    }

    fn srv(&self, ns: &str, svc: &str, port: &str, proto: &str) -> Option<Found> {
        let s = self.services.get(&key(ns, svc))?;
        let matches = |p: &Port| p.name.as_deref() == Some(port) && p.proto == proto;
        let a = |name: String, ip| Record { name, ttl: TTL, data: RData::A(ip) };
        match &s.kind {
            ServiceKind::ClusterIp(ip) => {
                let p = s.ports.iter().find(|p| matches(p))?;
                let target = self.fqdn(&[svc, ns, "svc"]);
                Some(Found {
                    data: vec![RData::Srv { priority: 0, weight: 100, port: p.port, target: target.clone() }],
                    additional: vec![a(target, *ip)],
                    cname: None,
                })
            }
            ServiceKind::Headless => {
                s.ports.iter().find(|p| matches(p))?;
                let mut found = Found::default();
                let mut seen = BTreeSet::new();
                for ep in self.ready(ns, svc) {
                    let Some(p) = ep.ports.iter().find(|p| matches(p)) else { continue };
                    let target = self.fqdn(&[&self.endpoint_host(ns, svc, ep), svc, ns, "svc"]);
                    if !seen.insert((target.clone(), p.port)) {
                        continue;
                    }
                    found.data.push(RData::Srv { priority: 0, weight: 100, port: p.port, target: target.clone() });
                    found.additional.push(a(target, ep.ip));
                }
                Some(found)
            }
            ServiceKind::ExternalName(_) => None,
        }
    }

    fn reverse(&self, name: &str, rev: &str, qtype: u16) -> Lookup {
        let octets: Vec<u8> = rev.split('.').filter_map(|l| l.parse().ok()).collect();
        let [d, c, b, a] = octets[..] else { return Lookup::Forward };
        if rev.split('.').count() != 4 {
            return Lookup::Forward;
        }
        let ip = Ipv4Addr::new(a, b, c, d);
        if !self.pod_cidr.contains(ip) && !self.service_cidr.contains(ip) {
            return Lookup::Forward;
        }
        let target = if let Some((ns, svc)) = self.cluster_ips.get(&ip) {
            Some(self.fqdn(&[svc, ns, "svc"]))
        } else if let Some((ns, pod)) = self.pod_ips.get(&ip) {
            let entry = &self.pods[&(ns.clone(), pod.clone())];
            Some(match (&entry.hostname, &entry.subdomain) {
                (Some(h), Some(sd))
                    if self.services.get(&key(ns, sd)).is_some_and(|s| s.kind == ServiceKind::Headless) =>
                {
                    self.fqdn(&[h, sd, ns, "svc"])
                }
                _ => self.fqdn(&[&dashed(ip), ns, "pod"]),
            })
        } else {
            None
        };
        self.finish(name, qtype, target.map(|t| Found::data(vec![RData::Ptr(t)])))
    }
}

fn key(ns: &str, name: &str) -> Key {
    (ns.to_string(), name.to_string())
}

/// The records of one name.
#[derive(Default, Debug)]
struct Found {
    data: Vec<RData>,
    additional: Vec<Record>,
    /// An alias: the name has only this CNAME.
    cname: Option<String>,
}

impl Found {
    fn data(data: Vec<RData>) -> Found {
        Found { data, ..Default::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns_wire::{TYPE_A, TYPE_AAAA, TYPE_PTR, TYPE_SOA, TYPE_SRV, TYPE_TXT};

    fn zone() -> Zone {
        let mut z = Zone::new("cluster.local", "10.244.0.0/16".parse().unwrap(), "10.96.0.0/16".parse().unwrap());
        let http = || vec![Port { name: Some("http".into()), proto: "tcp", port: 80 }];
        z.set_service(
            key("default", "web"),
            Some(ServiceEntry { kind: ServiceKind::ClusterIp(ip("10.96.0.20")), ports: http() }),
        );
        z.set_service(key("default", "db"), Some(ServiceEntry { kind: ServiceKind::Headless, ports: http() }));
        z.set_service(
            key("default", "ext"),
            Some(ServiceEntry { kind: ServiceKind::ExternalName("example.test".into()), ports: vec![] }),
        );
        let ep = |addr: &str, pod: &str| EndpointEntry {
            ip: ip(addr),
            pod: Some(pod.into()),
            ports: vec![Port { name: Some("http".into()), proto: "tcp", port: 8080 }],
        };
        z.set_endpoints(key("default", "db"), Some(vec![ep("10.244.1.5", "db-0"), ep("10.244.2.7", "db-1")]));
        z.set_pod(
            key("default", "db-0"),
            Some(PodEntry { ip: Some(ip("10.244.1.5")), hostname: Some("db-0".into()), subdomain: Some("db".into()) }),
        );
        z.set_pod(key("default", "db-1"), Some(PodEntry { ip: Some(ip("10.244.2.7")), ..Default::default() }));
        z
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn answer(l: Lookup) -> Answer {
        match l {
            Lookup::Answer(a) => a,
            other => panic!("not an answer: {other:?}"),
        }
    }

    fn data(l: Lookup) -> Vec<RData> {
        let a = answer(l);
        assert_eq!(a.rcode(), Rcode::NoError);
        a.answers.into_iter().map(|r| r.data).collect()
    }

    #[test]
    fn a_service_answers_its_cluster_ip_whatever_the_case() {
        let z = zone();
        assert_eq!(data(z.lookup("web.default.svc.cluster.local", TYPE_A)), vec![RData::A(ip("10.96.0.20"))]);
        let a = answer(z.lookup("WEB.Default.svc.cluster.local.", TYPE_A));
        assert_eq!(a.answers[0].name, "WEB.Default.svc.cluster.local.", "the name as asked");
        assert_eq!(a.answers[0].ttl, TTL);
        assert!(a.authoritative);
    }

    #[test]
    fn nxdomain_and_nodata_differ() {
        let z = zone();
        let nx = answer(z.lookup("nope.default.svc.cluster.local", TYPE_A));
        assert_eq!(nx.rcode(), Rcode::NxDomain);
        assert_eq!(nx.authority[0].data.rtype(), TYPE_SOA);
        let nodata = answer(z.lookup("web.default.svc.cluster.local", TYPE_AAAA));
        assert_eq!(nodata.rcode(), Rcode::NoError);
        assert!(nodata.answers.is_empty());
        assert_eq!(nodata.authority[0].data.rtype(), TYPE_SOA);
        // Empty non-terminals exist.
        assert_eq!(answer(z.lookup("default.svc.cluster.local", TYPE_A)).rcode(), Rcode::NoError);
        assert_eq!(answer(z.lookup("svc.cluster.local", TYPE_A)).rcode(), Rcode::NoError);
        assert_eq!(answer(z.lookup("other.svc.cluster.local", TYPE_A)).rcode(), Rcode::NxDomain);
        assert_eq!(
            answer(z.lookup("web.default.svc.cluster.local.default.svc.cluster.local", TYPE_A)).rcode(),
            Rcode::NxDomain
        );
    }

    #[test]
    fn a_headless_service_answers_its_ready_endpoints_and_their_names() {
        let z = zone();
        assert_eq!(
            data(z.lookup("db.default.svc.cluster.local", TYPE_A)),
            vec![RData::A(ip("10.244.1.5")), RData::A(ip("10.244.2.7"))]
        );
        assert_eq!(data(z.lookup("db-0.db.default.svc.cluster.local", TYPE_A)), vec![RData::A(ip("10.244.1.5"))]);
        assert_eq!(data(z.lookup("10-244-2-7.db.default.svc.cluster.local", TYPE_A)), vec![RData::A(ip("10.244.2.7"))]);
        assert_eq!(answer(z.lookup("db-1.db.default.svc.cluster.local", TYPE_A)).rcode(), Rcode::NxDomain);
        // Hostnames exist only under headless services.
        assert_eq!(answer(z.lookup("x.web.default.svc.cluster.local", TYPE_A)).rcode(), Rcode::NxDomain);
    }

    #[test]
    fn srv_for_named_ports() {
        let z = zone();
        let a = answer(z.lookup("_http._tcp.web.default.svc.cluster.local", TYPE_SRV));
        assert_eq!(
            a.answers[0].data,
            RData::Srv { priority: 0, weight: 100, port: 80, target: "web.default.svc.cluster.local".into() }
        );
        assert_eq!(a.additional[0].data, RData::A(ip("10.96.0.20")));
        let a = answer(z.lookup("_http._tcp.db.default.svc.cluster.local", TYPE_SRV));
        let targets: Vec<_> = a
            .answers
            .iter()
            .map(|r| match &r.data {
                RData::Srv { port, target, .. } => (*port, target.clone()),
                _ => panic!(),
            })
            .collect();
        assert_eq!(
            targets,
            vec![
                (8080, "db-0.db.default.svc.cluster.local".to_string()),
                (8080, "10-244-2-7.db.default.svc.cluster.local".to_string())
            ]
        );
        assert_eq!(a.additional.len(), 2);
        assert_eq!(answer(z.lookup("_http._udp.web.default.svc.cluster.local", TYPE_SRV)).rcode(), Rcode::NxDomain);
        assert_eq!(answer(z.lookup("_tcp.web.default.svc.cluster.local", TYPE_SRV)).rcode(), Rcode::NoError);
    }

    #[test]
    fn ptr_for_cluster_ips_and_pods() {
        let z = zone();
        assert_eq!(
            data(z.lookup("20.0.96.10.in-addr.arpa", TYPE_PTR)),
            vec![RData::Ptr("web.default.svc.cluster.local".into())]
        );
        assert_eq!(
            data(z.lookup("5.1.244.10.in-addr.arpa", TYPE_PTR)),
            vec![RData::Ptr("db-0.db.default.svc.cluster.local".into())]
        );
        assert_eq!(
            data(z.lookup("7.2.244.10.in-addr.arpa", TYPE_PTR)),
            vec![RData::Ptr("10-244-2-7.default.pod.cluster.local".into())]
        );
        assert_eq!(answer(z.lookup("9.9.244.10.in-addr.arpa", TYPE_PTR)).rcode(), Rcode::NxDomain);
        assert_eq!(z.lookup("1.113.0.203.in-addr.arpa", TYPE_PTR), Lookup::Forward);
    }

    #[test]
    fn pod_records_are_checked_against_the_pods() {
        let z = zone();
        assert_eq!(data(z.lookup("10-244-2-7.default.pod.cluster.local", TYPE_A)), vec![RData::A(ip("10.244.2.7"))]);
        assert_eq!(answer(z.lookup("10-244-2-7.other.pod.cluster.local", TYPE_A)).rcode(), Rcode::NxDomain);
        assert_eq!(answer(z.lookup("10-244-9-9.default.pod.cluster.local", TYPE_A)).rcode(), Rcode::NxDomain);
    }

    #[test]
    fn external_names_are_cnames_chased_upstream() {
        let z = zone();
        match z.lookup("ext.default.svc.cluster.local", TYPE_A) {
            Lookup::Chase { answer, target } => {
                assert_eq!(target, "example.test");
                assert_eq!(answer.answers[0].data, RData::Cname("example.test".into()));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(z.lookup("example.test", TYPE_A), Lookup::Forward);
    }

    #[test]
    fn dns_version_and_changes() {
        let mut z = zone();
        assert_eq!(data(z.lookup("dns-version.cluster.local", TYPE_TXT)), vec![RData::Txt(vec!["1.1.0".into()])]);
        z.set_service(key("default", "web"), None);
        assert_eq!(answer(z.lookup("web.default.svc.cluster.local", TYPE_A)).rcode(), Rcode::NxDomain);
        assert_eq!(answer(z.lookup("20.0.96.10.in-addr.arpa", TYPE_PTR)).rcode(), Rcode::NxDomain);
        z.set_pod(key("default", "db-1"), None);
        assert_eq!(answer(z.lookup("10-244-2-7.default.pod.cluster.local", TYPE_A)).rcode(), Rcode::NxDomain);
        assert_eq!(z.service_count(), 2);
    }
}
