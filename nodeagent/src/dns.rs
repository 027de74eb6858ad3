//! The node's cluster DNS server: every node answers its own pods' queries, from what its
//! agent watches (services, endpoints, pods), with no hop to another node (the way
//! NodeLocal DNSCache and Cilium do it).
//!
//! # Where it listens
//!
//! The cluster DNS address (`clusterDNS` of the cluster configuration, `10.96.0.10` by
//! default; the `kube-dns` service in `kube-system` holds it) is added as a `/32` to the
//! node namespace's loopback device, and the server binds it, port 53, UDP and TCP, in the
//! node namespace. A pod's query leaves through its default route to the node's pod
//! gateway, and the node delivers it locally: the address is one of its own, on every node.
//! No NAT is involved (the reply needs no un-NAT, nothing depends on the pod gateway's
//! address), and the node's own processes reach the same server at the same address. The
//! nftables table lets the DNS address and port through before its service dispatch and
//! its no-endpoint rejects (`netcore::services::layout`), so the `kube-dns` service object,
//! which has no endpoints, never shadows it. For network policies: DNS is
//! `CLUSTER_DNS:53/udp` and `CLUSTER_DNS:53/tcp` on the pod's own node.
//!
//! # What it answers
//!
//! Names in the cluster domain and reverse names of the pod and service CIDRs from the
//! [`Zone`] ([`crate::dns_records`]); everything else is forwarded to the node's upstream
//! resolvers (`--dns-upstream`; by default the name servers of the node's
//! `/etc/resolv.conf`), over UDP for UDP clients and TCP for TCP clients, each server tried
//! in turn. With no upstream, such queries get SERVFAIL at once, never a timeout. Nothing is
//! cached: every answer is computed from the agent's current view, so a change is answered
//! as soon as the agent has seen it, and clients cache no longer than the 5 s TTL.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{Context, Result};
use netcore::link::Netlink;
use netcore::netns::{Netns, SocketMaker};
use openapi::client::{Client, ListParams};
use openapi::{ClusterConfig, Endpoints, Pod, Protocol, Service, ServiceType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::oneshot;

use crate::dns_records::{EndpointEntry, Lookup, PodEntry, Port, ServiceEntry, ServiceKind, Zone};
use crate::dns_wire::{self, Answer, Query, Rcode, WireError};
use crate::reflector::{ApiSource, Event, Reflector};

/// How long one upstream server gets to answer before the next is tried.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_millis(1500);
/// A TCP client idle this long is closed (RFC 7766 suggests seconds).
const TCP_IDLE: Duration = Duration::from_secs(10);

/// The upstream resolvers: `none`, a comma-separated list of `IP` or `IP:PORT`, or empty
/// for the name servers of `resolv_conf` (the node's `/etc/resolv.conf`).
pub fn parse_upstreams(spec: &str, resolv_conf: &str) -> Result<Vec<SocketAddr>> {
    let spec = spec.trim();
    if spec == "none" {
        return Ok(Vec::new());
    }
    if spec.is_empty() {
        return Ok(resolv_conf
            .lines()
            .filter_map(|l| l.trim().strip_prefix("nameserver"))
            .filter_map(|ip| ip.trim().parse::<Ipv4Addr>().ok())
            .map(|ip| SocketAddr::from((ip, 53)))
            .collect());
    }
    spec.split(',')
        .map(|s| {
            let s = s.trim();
            s.parse::<SocketAddr>()
                .or_else(|_| s.parse::<Ipv4Addr>().map(|ip| SocketAddr::from((ip, 53))))
                .with_context(|| format!("DNS upstream {s:?} is not IP or IP:PORT"))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// From API objects to the zone's entries
// ---------------------------------------------------------------------------------------------

type Key = (String, String);

fn key_of(meta: &openapi::ObjectMeta) -> Key {
    (meta.namespace.clone().unwrap_or_default(), meta.name.clone())
}

fn proto(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}

/// A service as DNS sees it; `None` until it has what its records need (a cluster IP).
pub fn service_entry(svc: &Service) -> Option<ServiceEntry> {
    let kind = if svc.spec.service_type == ServiceType::ExternalName {
        ServiceKind::ExternalName(svc.spec.external_name.clone()?.trim_end_matches('.').to_string())
    } else if svc.spec.is_headless() {
        ServiceKind::Headless
    } else {
        ServiceKind::ClusterIp(svc.spec.cluster_ip.as_deref()?.parse().ok()?)
    };
    let ports = svc
        .spec
        .ports
        .iter()
        .filter_map(|p| {
            Some(Port { name: p.name.clone(), proto: proto(p.protocol), port: u16::try_from(p.port).ok()? })
        })
        .collect();
    Some(ServiceEntry { kind, ports })
}

/// The ready addresses of a service's endpoints.
pub fn endpoint_entries(eps: &Endpoints) -> Vec<EndpointEntry> {
    let mut out = Vec::new();
    for subset in &eps.subsets {
        let ports: Vec<Port> = subset
            .ports
            .iter()
            .filter_map(|p| {
                Some(Port { name: p.name.clone(), proto: proto(p.protocol), port: u16::try_from(p.port).ok()? })
            })
            .collect();
        for a in &subset.addresses {
            let Ok(ip) = a.ip.parse() else { continue };
            let pod = (a.target_ref.kind == "Pod").then(|| a.target_ref.name.clone());
            out.push(EndpointEntry { ip, pod, ports: ports.clone() });
        }
    }
    out
}

pub fn pod_entry(pod: &Pod) -> PodEntry {
    PodEntry {
        ip: pod.status.pod_ip.as_deref().and_then(|ip| ip.parse().ok()),
        hostname: pod.spec.hostname.clone(),
        subdomain: pod.spec.subdomain.clone(),
    }
}

/// Follow services, endpoints and pods (all namespaces) into the zone. A complete list
/// replaces what the zone held of its kind; each change updates one entry.
#[tracing::instrument(name = "dns-watch", skip_all)]
async fn follow(client: Client, zone: Arc<RwLock<Zone>>) {
    let all = ListParams::default;
    let mut services = Reflector::new(ApiSource { api: client.api::<Service>(None), params: all() });
    let mut endpoints = Reflector::new(ApiSource { api: client.api::<Endpoints>(None), params: all() });
    let mut pods = Reflector::new(ApiSource { api: client.api::<Pod>(None), params: all() });
    let write = || zone.write().unwrap_or_else(|e| e.into_inner());
    loop {
        tokio::select! {
            event = services.next() => match event {
                Event::Listed(items) => {
                    let mut z = write();
                    z.clear_services();
                    for s in items {
                        z.set_service(key_of(&s.metadata), service_entry(&s));
                    }
                }
                Event::Applied(s) => write().set_service(key_of(&s.metadata), service_entry(&s)),
                Event::Deleted(s) => write().set_service(key_of(&s.metadata), None),
            },
            event = endpoints.next() => match event {
                Event::Listed(items) => {
                    let mut z = write();
                    z.clear_endpoints();
                    for e in items {
                        z.set_endpoints(key_of(&e.metadata), Some(endpoint_entries(&e)));
                    }
                }
                Event::Applied(e) => write().set_endpoints(key_of(&e.metadata), Some(endpoint_entries(&e))),
                Event::Deleted(e) => write().set_endpoints(key_of(&e.metadata), None),
            },
            event = pods.next() => match event {
                Event::Listed(items) => {
                    let mut z = write();
                    z.clear_pods();
                    for p in items {
                        z.set_pod(key_of(&p.metadata), Some(pod_entry(&p)));
                    }
                }
                Event::Applied(p) => write().set_pod(key_of(&p.metadata), Some(pod_entry(&p))),
                Event::Deleted(p) => write().set_pod(key_of(&p.metadata), None),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Answering
// ---------------------------------------------------------------------------------------------

/// What to do with one packet.
#[derive(Debug)]
pub enum Reply {
    /// Send this.
    Now(Vec<u8>),
    /// Ask upstream, relay its answer.
    Forward(Query),
    /// Ask upstream for an ExternalName's target and add its records to `answer`.
    Chase { query: Query, answer: Answer, target: String },
    /// Say nothing (the packet was a response, or unreadable beyond its header).
    Drop,
}

/// Answer a packet from the zone. `udp`: the answer must fit the client's UDP size.
pub fn answer(zone: &Zone, packet: &[u8], udp: bool) -> Reply {
    let query = match dns_wire::parse_query(packet) {
        Ok(q) => q,
        Err(WireError::NotQuery) => return Reply::Drop,
        Err(_) => return dns_wire::error_response(packet, Rcode::FormErr).map_or(Reply::Drop, Reply::Now),
    };
    let limit = udp.then(|| query.udp_limit());
    if query.opcode != 0 {
        let a = Answer { rcode: Some(Rcode::NotImp), ..Default::default() };
        return Reply::Now(dns_wire::encode_response(&query, &a, limit));
    }
    if query.question.qclass != dns_wire::CLASS_IN {
        return Reply::Forward(query);
    }
    match zone.lookup(&query.question.name, query.question.qtype) {
        Lookup::Answer(a) => Reply::Now(dns_wire::encode_response(&query, &a, limit)),
        Lookup::Forward => Reply::Forward(query),
        Lookup::Chase { answer, target } => Reply::Chase { query, answer, target },
    }
}

/// The upstream resolvers, reached from the node's namespace: one shared UDP socket (each
/// query under an ID of its own, matched back to its asker) and a TCP connection per query.
pub struct Upstream {
    servers: Vec<SocketAddr>,
    udp: Option<Arc<UdpSocket>>,
    pending: Mutex<HashMap<u16, oneshot::Sender<Vec<u8>>>>,
    next_id: AtomicU16,
    sockets: SocketMaker,
}

impl Upstream {
    /// `udp` must be a socket of the node's namespace; `sockets` makes TCP ones there.
    pub fn new(servers: Vec<SocketAddr>, udp: Option<UdpSocket>, sockets: SocketMaker) -> Arc<Upstream> {
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let up = Arc::new(Upstream {
            servers,
            udp: udp.map(Arc::new),
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU16::new(seed as u16),
            sockets,
        });
        if let Some(sock) = up.udp.clone() {
            let weak = Arc::downgrade(&up);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65535];
                while let Ok((n, from)) = sock.recv_from(&mut buf).await {
                    let Some(up) = weak.upgrade() else { break };
                    if n < 12 || !up.servers.contains(&from) {
                        continue;
                    }
                    let id = u16::from_be_bytes([buf[0], buf[1]]);
                    let waiter = up.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                    if let Some(tx) = waiter {
                        let _ = tx.send(buf[..n].to_vec());
                    }
                }
            });
        }
        up
    }

    /// Ask upstream: `packet` is a whole query; the answer comes back under its ID. None:
    /// no upstream, or none answered.
    pub async fn ask(&self, packet: &[u8], tcp: bool) -> Option<Vec<u8>> {
        if packet.len() < 12 {
            return None;
        }
        for server in &self.servers {
            let reply = if tcp { self.ask_tcp(*server, packet).await } else { self.ask_udp(*server, packet).await };
            if let Some(mut reply) = reply {
                if reply.len() >= 2 {
                    reply[..2].copy_from_slice(&packet[..2]);
                    return Some(reply);
                }
            }
        }
        None
    }

    async fn ask_udp(&self, server: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
        let sock = self.udp.as_ref()?;
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let mut id = self.next_id.fetch_add(1, Ordering::Relaxed);
            while pending.contains_key(&id) {
                id = self.next_id.fetch_add(1, Ordering::Relaxed);
            }
            pending.insert(id, tx);
            id
        };
        let mut out = packet.to_vec();
        out[..2].copy_from_slice(&id.to_be_bytes());
        let result = match sock.send_to(&out, server).await {
            Ok(_) => tokio::time::timeout(UPSTREAM_TIMEOUT, rx).await.ok().and_then(Result::ok),
            Err(e) => {
                tracing::debug!(error = %e, %server, "sending to the upstream resolver failed");
                None
            }
        };
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        result
    }

    async fn ask_tcp(&self, server: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
        let fd = self.sockets.tcp_socket().ok()?;
        let socket = tokio::net::TcpSocket::from_std_stream(std::net::TcpStream::from(fd));
        let exchange = async {
            let mut stream = socket.connect(server).await.ok()?;
            write_framed(&mut stream, packet).await.ok()?;
            read_framed(&mut stream).await.ok().flatten()
        };
        tokio::time::timeout(UPSTREAM_TIMEOUT, exchange).await.ok().flatten()
    }
}

/// Finish a query the zone could not answer alone.
async fn resolve(zone: &RwLock<Zone>, up: &Upstream, packet: &[u8], tcp: bool) -> Option<Vec<u8>> {
    let reply = answer(&zone.read().unwrap_or_else(|e| e.into_inner()), packet, !tcp);
    let limit = |q: &Query| (!tcp).then(|| q.udp_limit());
    match reply {
        Reply::Now(bytes) => Some(bytes),
        Reply::Drop => None,
        Reply::Forward(_) => match up.ask(packet, tcp).await {
            Some(bytes) => Some(bytes),
            None => dns_wire::error_response(packet, Rcode::ServFail),
        },
        Reply::Chase { query, mut answer, target } => {
            let ask = dns_wire::encode_query(query.id, &target, query.question.qtype);
            match up.ask(&ask, tcp).await.and_then(|r| dns_wire::parse_response(&r).ok()) {
                Some(r) => {
                    answer.answers.extend(r.answers);
                    if r.rcode == Rcode::NxDomain as u8 {
                        answer.rcode = Some(Rcode::NxDomain);
                    }
                }
                None => answer.rcode = Some(Rcode::ServFail),
            }
            Some(dns_wire::encode_response(&query, &answer, limit(&query)))
        }
    }
}

async fn read_framed(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match stream.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut msg).await?;
    Ok(Some(msg))
}

async fn write_framed(stream: &mut TcpStream, msg: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(msg.len()).map_err(|_| std::io::Error::other("DNS message over 65535 bytes"))?;
    let mut out = Vec::with_capacity(msg.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(msg);
    stream.write_all(&out).await
}

/// Serve UDP: answers from the zone inline (no task per query); upstream work in a task.
pub async fn serve_udp(sock: Arc<UdpSocket>, zone: Arc<RwLock<Zone>>, up: Arc<Upstream>) {
    let mut buf = vec![0u8; 65535];
    loop {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "DNS receive failed");
                continue;
            }
        };
        let packet = &buf[..n];
        let reply = answer(&zone.read().unwrap_or_else(|e| e.into_inner()), packet, true);
        match reply {
            Reply::Now(bytes) => {
                let _ = sock.send_to(&bytes, from).await;
            }
            Reply::Drop => {}
            Reply::Forward(_) | Reply::Chase { .. } => {
                let (sock, zone, up, packet) = (sock.clone(), zone.clone(), up.clone(), packet.to_vec());
                tokio::spawn(async move {
                    if let Some(bytes) = resolve(&zone, &up, &packet, false).await {
                        let _ = sock.send_to(&bytes, from).await;
                    }
                });
            }
        }
    }
}

/// Serve TCP: a task per connection, queries answered in order until the client is idle.
pub async fn serve_tcp(listener: TcpListener, zone: Arc<RwLock<Zone>>, up: Arc<Upstream>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else { continue };
        let (zone, up) = (zone.clone(), up.clone());
        tokio::spawn(async move {
            while let Ok(Ok(Some(packet))) = tokio::time::timeout(TCP_IDLE, read_framed(&mut stream)).await {
                let Some(reply) = resolve(&zone, &up, &packet, true).await else { continue };
                if write_framed(&mut stream, &reply).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// Put the cluster DNS address on the node's loopback, bind it, follow the cluster and
/// serve until the process ends.
#[tracing::instrument(name = "dns", skip_all)]
pub async fn run(
    client: Client,
    node_ns: Netns,
    node_nl: Netlink,
    cluster: ClusterConfig,
    upstreams: Vec<SocketAddr>,
) -> Result<()> {
    let address: Ipv4Addr = cluster.cluster_dns.parse().context("the cluster configuration's clusterDNS")?;
    let lo = node_nl.must_index("lo").await?;
    node_nl.set_up(lo, "lo").await?;
    node_nl.ensure_address(lo, address, 32).await?;
    let bind = || -> std::io::Result<_> {
        let udp = std::net::UdpSocket::bind((address, 53))?;
        udp.set_nonblocking(true)?;
        let tcp = std::net::TcpListener::bind((address, 53))?;
        tcp.set_nonblocking(true)?;
        let up = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        up.set_nonblocking(true)?;
        Ok((udp, tcp, up))
    };
    // An agent restarted at once may find its predecessor still holding the port.
    let mut attempts = 0;
    let (udp, tcp, upstream_udp) = loop {
        match node_ns.run(bind)? {
            Ok(sockets) => break sockets,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && attempts < 30 => {
                attempts += 1;
                tracing::warn!(%address, "port 53 is still taken; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(e).with_context(|| format!("bind {address}:53 in the node's namespace")),
        }
    };
    let zone = Arc::new(RwLock::new(Zone::new(
        &cluster.cluster_domain,
        cluster.pod_cidr.parse().context("podCIDR")?,
        cluster.service_cidr.parse().context("serviceCIDR")?,
    )));
    let upstream_udp = if upstreams.is_empty() { None } else { Some(UdpSocket::from_std(upstream_udp)?) };
    let up = Upstream::new(upstreams.clone(), upstream_udp, SocketMaker::new(&node_ns)?);
    tracing::info!(%address, domain = %cluster.cluster_domain, upstreams = ?upstreams, "cluster DNS serving");
    tokio::spawn(tracing::Instrument::in_current_span(follow(client, zone.clone())));
    tokio::spawn(serve_tcp(TcpListener::from_std(tcp)?, zone.clone(), up.clone()));
    serve_udp(Arc::new(UdpSocket::from_std(udp)?), zone, up).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_from_the_flag_or_resolv_conf() {
        let conf = "# x\nnameserver 192.0.2.1\nnameserver ::1\nsearch example\nnameserver 192.0.2.2\n";
        assert_eq!(
            parse_upstreams("", conf).unwrap(),
            vec!["192.0.2.1:53".parse().unwrap(), "192.0.2.2:53".parse::<SocketAddr>().unwrap()]
        );
        assert!(parse_upstreams("none", conf).unwrap().is_empty());
        assert_eq!(
            parse_upstreams("203.0.113.1, 203.0.113.2:5353", conf).unwrap(),
            vec!["203.0.113.1:53".parse().unwrap(), "203.0.113.2:5353".parse::<SocketAddr>().unwrap()]
        );
        assert!(parse_upstreams("nonsense", conf).is_err());
    }

    #[test]
    fn answers_from_api_objects() {
        let svc: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"clusterIP": "10.96.0.30", "ports": [{"name": "http", "port": 80}]}
        }))
        .unwrap();
        let mut zone = Zone::new("cluster.local", "10.244.0.0/16".parse().unwrap(), "10.96.0.0/16".parse().unwrap());
        zone.set_service(key_of(&svc.metadata), service_entry(&svc));
        let q = dns_wire::encode_query(7, "web.shop.svc.cluster.local", dns_wire::TYPE_A);
        let Reply::Now(bytes) = answer(&zone, &q, true) else { panic!("no answer") };
        let r = dns_wire::parse_response(&bytes).unwrap();
        assert_eq!(r.answers[0].data, dns_wire::RData::A("10.96.0.30".parse().unwrap()));
        let q = dns_wire::encode_query(8, "example.test", dns_wire::TYPE_A);
        assert!(matches!(answer(&zone, &q, true), Reply::Forward(_)));
        // Garbage gets FORMERR when its header is readable, silence otherwise.
        let mut bad = q.clone();
        bad.truncate(14);
        let Reply::Now(bytes) = answer(&zone, &bad, true) else { panic!("no FORMERR") };
        assert_eq!(bytes[3] & 0xF, Rcode::FormErr as u8);
        assert!(matches!(answer(&zone, &bad[..5], true), Reply::Drop));
    }

    #[tokio::test]
    async fn no_upstream_is_servfail_at_once() {
        let zone =
            RwLock::new(Zone::new("cluster.local", "10.244.0.0/16".parse().unwrap(), "10.96.0.0/16".parse().unwrap()));
        let up = Upstream::new(Vec::new(), None, SocketMaker::new(&Netns::current().unwrap()).unwrap());
        let q = dns_wire::encode_query(9, "example.test", dns_wire::TYPE_A);
        let started = std::time::Instant::now();
        let bytes = resolve(&zone, &up, &q, false).await.unwrap();
        assert_eq!(bytes[3] & 0xF, Rcode::ServFail as u8);
        assert!(started.elapsed() < Duration::from_millis(100));
    }
}
