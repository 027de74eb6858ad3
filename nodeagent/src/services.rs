//! The node's service proxy (kube-proxy's job): follow every Service and Endpoints object
//! (a full list, then watch), turn them into this node's service ports, and keep
//! flatnet's nftables table equal to them through a [`Proxier`].
//!
//! Each change is applied as soon as it arrives, together with whatever else is already
//! waiting (no minimum sync period): a burst of changes becomes one transaction, a single
//! change costs one small transaction. Nothing is applied before complete lists of both
//! kinds have been seen, and the first apply adopts the table an earlier agent left (no
//! flush). A full sync repeats periodically to repair drift, and after any failed apply.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::{Context, Result};
use futures::FutureExt;
use netcore::monitor::TableDrift;
use netcore::netns::Netns;
use netcore::services::{Endpoint, Proto, Proxier, ServicePort, TableConfig};
use openapi::client::{Client, ListParams};
use openapi::{ClusterConfig, Endpoints, Protocol, Service, ServiceType, SessionAffinity, TrafficPolicy};
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::drift::{Drift, DriftReceiver};
use crate::kernel::{Applied, ServiceTable};
use crate::reflector::{ApiSource, Event, ListWatch, Reflector};

/// Kubernetes' default `sessionAffinityConfig.clientIP.timeoutSeconds`: three hours.
pub const DEFAULT_AFFINITY_SECONDS: u32 = 10_800;

type Key = (String, String);

fn key_of(meta: &openapi::ObjectMeta) -> Key {
    (meta.namespace.clone().unwrap_or_default(), meta.name.clone())
}

/// The service ports of `svc` as this node programs them: ready endpoints only, each
/// marked local when its pod runs on node `me`. A service without a cluster IP has none.
pub fn service_ports(svc: &Service, eps: Option<&Endpoints>, me: &str) -> Vec<ServicePort> {
    let Some(cluster_ip) = svc.spec.cluster_ip.as_deref().and_then(|ip| ip.parse::<Ipv4Addr>().ok()) else {
        return Vec::new();
    };
    let (ns, name) = key_of(&svc.metadata);
    let affinity_seconds = match svc.spec.session_affinity {
        SessionAffinity::ClientIP => Some(
            svc.spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds)
                .and_then(|t| u32::try_from(t).ok())
                .unwrap_or(DEFAULT_AFFINITY_SECONDS),
        ),
        SessionAffinity::None => None,
    };
    let node_port_service = svc.spec.service_type == ServiceType::NodePort;
    svc.spec
        .ports
        .iter()
        .filter_map(|sp| {
            let port = u16::try_from(sp.port).ok()?;
            let label = sp.name.clone().unwrap_or_else(|| sp.port.to_string());
            let mut endpoints = Vec::new();
            for subset in eps.map(|e| e.subsets.as_slice()).unwrap_or_default() {
                // The endpoint port of this service port: same name (both unnamed for a
                // single-port service) and protocol.
                let Some(target) = subset.ports.iter().find(|p| p.name == sp.name && p.protocol == sp.protocol) else {
                    continue;
                };
                let Ok(target) = u16::try_from(target.port) else { continue };
                for a in &subset.addresses {
                    let Ok(ip) = a.ip.parse::<Ipv4Addr>() else { continue };
                    endpoints.push(Endpoint { ip, port: target, local: a.node_name.as_deref() == Some(me) });
                }
            }
            Some(ServicePort {
                name: format!("{ns}/{name}:{label}"),
                cluster_ip,
                proto: match sp.protocol {
                    Protocol::Tcp => Proto::Tcp,
                    Protocol::Udp => Proto::Udp,
                },
                port,
                node_port: if node_port_service { sp.node_port.and_then(|p| u16::try_from(p).ok()) } else { None },
                external_local: node_port_service && svc.spec.external_traffic_policy == TrafficPolicy::Local,
                affinity_seconds,
                endpoints,
            })
        })
        .collect()
}

/// How long a new service waits for its Endpoints object before it is programmed without
/// endpoints (as a reject). The API server writes both in one transaction, but they come
/// on two watch streams: programming the service first would reject its first connections
/// for a moment, then cost a second transaction.
const ENDPOINTS_GRACE: Duration = Duration::from_millis(500);

/// What the proxy knows: the objects, and which service ports each service produced.
#[derive(Default)]
struct Cache {
    services: HashMap<Key, Service>,
    endpoints: HashMap<Key, Endpoints>,
    produced: HashMap<Key, Vec<String>>,
    /// Services seen without their Endpoints object, until when they wait for it.
    waiting: HashMap<Key, Instant>,
}

impl Cache {
    /// The services whose wait for their Endpoints is over.
    fn next_wait(&self) -> Option<Instant> {
        self.waiting.values().min().copied()
    }

    fn expired(&self) -> Vec<Key> {
        let now = Instant::now();
        self.waiting.iter().filter(|(_, until)| **until <= now).map(|(k, _)| k.clone()).collect()
    }

    fn all(&mut self, me: &str) -> Vec<ServicePort> {
        self.produced.clear();
        self.waiting.clear();
        let mut out = Vec::new();
        for (key, svc) in &self.services {
            let ports = service_ports(svc, self.endpoints.get(key), me);
            self.produced.insert(key.clone(), ports.iter().map(|p| p.name.clone()).collect());
            out.extend(ports);
        }
        out
    }

    /// The changes for the services `keys`: new or changed ports, and removals of ports
    /// that are gone.
    fn changes(&mut self, keys: impl IntoIterator<Item = Key>, me: &str) -> Vec<(String, Option<ServicePort>)> {
        let mut out = Vec::new();
        let now = Instant::now();
        for key in keys {
            let _span = tracing::debug_span!("service", service = %format_args!("{}/{}", key.0, key.1)).entered();
            // Only a service not programmed yet waits (one already programmed keeps its
            // rules until its own change arrives).
            if self.services.contains_key(&key)
                && !self.endpoints.contains_key(&key)
                && !self.produced.contains_key(&key)
            {
                let until = *self.waiting.entry(key.clone()).or_insert(now + ENDPOINTS_GRACE);
                if now < until {
                    tracing::debug!("waiting for its Endpoints");
                    continue;
                }
            }
            self.waiting.remove(&key);
            let ports = match self.services.get(&key) {
                Some(svc) => service_ports(svc, self.endpoints.get(&key), me),
                None => Vec::new(),
            };
            let names: Vec<String> = ports.iter().map(|p| p.name.clone()).collect();
            for old in self.produced.remove(&key).unwrap_or_default() {
                if !names.contains(&old) {
                    out.push((old, None));
                }
            }
            tracing::debug!(ports = names.len(), "changed");
            if !names.is_empty() {
                self.produced.insert(key, names);
            }
            out.extend(ports.into_iter().map(|p| (p.name.clone(), Some(p))));
        }
        out
    }
}

/// The first delay before a failed apply is retried (as a full sync); it doubles up to
/// [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Full syncs that may fail in a row before the proxy lists everything again.
const FAILURES_BEFORE_RELIST: u32 = 5;

/// What one apply does: a full sync, a batch of changes, or a drift repair.
enum Work {
    Full(Vec<ServicePort>),
    Changes(Vec<(String, Option<ServicePort>)>),
    Repair(TableDrift),
}

/// Run `work` on the table on a blocking thread. A panic there is logged and costs the
/// table: a new one is opened with `reopen` (it adopts the table at its first full sync).
async fn apply<T: ServiceTable>(
    table: T,
    work: Work,
    reopen: &(dyn Fn() -> Result<T> + Send + Sync),
) -> (Option<T>, Result<Applied>) {
    let joined = tokio::task::spawn_blocking(move || {
        let mut t = table;
        let r = match work {
            Work::Full(all) => t.sync_all(all),
            Work::Changes(changes) => t.update(changes),
            Work::Repair(drift) => t.repair(&drift),
        };
        (t, r)
    })
    .await;
    match joined {
        Ok((t, r)) => (Some(t), r),
        Err(e) => {
            tracing::error!(error = %e, "the service proxier panicked; opening a new one");
            let reopened = reopen().map_err(|e| tracing::error!(error = format!("{e:#}"), "reopening failed"));
            (reopened.ok(), Err(anyhow::anyhow!("apply services: the proxier panicked")))
        }
    }
}

/// Run the proxy for node `me` (in the named namespace, or the agent's own) until the
/// process ends.
#[tracing::instrument(name = "proxy", skip_all)]
pub async fn run(
    client: Client,
    me: String,
    netns: Option<String>,
    cluster: ClusterConfig,
    resync: Duration,
    drift: Option<DriftReceiver>,
) {
    let reopen = move || open(&netns, &cluster);
    let table = match reopen() {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(
                error = format!("{e:#}"),
                "the service proxy cannot start; services will not work on this node"
            );
            return;
        }
    };
    let services = Reflector::new(ApiSource { api: client.api::<Service>(None), params: ListParams::default() });
    let endpoints = Reflector::new(ApiSource { api: client.api::<Endpoints>(None), params: ListParams::default() });
    proxy(me, table, reopen, resync, services, endpoints, drift).await
}

/// The proxy's loop: follow services and endpoints, apply each change (with whatever else
/// is already waiting) to `table`, a full sync after each relist, every `resync` and after
/// a failed apply (with back-off); relist both after repeated failures. Drift notices
/// ([`crate::drift`]) are repaired at once, after the changes already waiting (a repair is
/// decided against what is applied, so the proxy's own deletions are never put back).
async fn proxy<T: ServiceTable, S: ListWatch<Service>, E: ListWatch<Endpoints>>(
    me: String,
    table: T,
    reopen: impl Fn() -> Result<T> + Send + Sync,
    resync: Duration,
    mut services: Reflector<Service, S>,
    mut endpoints: Reflector<Endpoints, E>,
    mut drift: Option<DriftReceiver>,
) {
    let mut table = Some(table);
    let mut ticker = tokio::time::interval(resync);
    ticker.tick().await;
    let mut cache = Cache::default();
    // Nothing is applied before complete lists of both kinds have been seen.
    let (mut listed_services, mut listed_endpoints) = (false, false);
    // A full sync is due now (`full` and no `retry`), or after `retry` (it failed
    // `failures` times in a row); meanwhile events still update the cache.
    let mut full = true;
    let mut retry: Option<Instant> = None;
    let mut failures = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
    // What was deleted under the proxy and waits for its repair.
    let mut drifted = TableDrift::default();
    // When each change not yet in the rules arrived (for network_programming_duration_seconds).
    let mut waiting: Vec<Instant> = Vec::new();
    loop {
        let mut dirty: BTreeSet<Key> = BTreeSet::new();
        if (!full && drifted.is_empty()) || retry.is_some() || !(listed_services && listed_endpoints) {
            // Wait for something to do.
            tokio::select! {
                ev = services.next() => {
                    arrived(&ev, &mut waiting);
                    on_event(&mut cache.services, ev, &mut dirty, &mut listed_services, &mut full)
                }
                ev = endpoints.next() => {
                    arrived(&ev, &mut waiting);
                    on_event(&mut cache.endpoints, ev, &mut dirty, &mut listed_endpoints, &mut full)
                }
                _ = ticker.tick() => full = true,
                _ = sleep_until(cache.next_wait()) => dirty.extend(cache.expired()),
                _ = sleep_until(retry) => retry = None,
                d = crate::drift::next(&mut drift) => on_drift(&d, &mut drifted, &mut full),
            }
            // Take whatever else is already waiting into the same transaction.
            loop {
                let mut progressed = false;
                if let Some(ev) = services.next().now_or_never() {
                    arrived(&ev, &mut waiting);
                    on_event(&mut cache.services, ev, &mut dirty, &mut listed_services, &mut full);
                    progressed = true;
                }
                if let Some(ev) = endpoints.next().now_or_never() {
                    arrived(&ev, &mut waiting);
                    on_event(&mut cache.endpoints, ev, &mut dirty, &mut listed_endpoints, &mut full);
                    progressed = true;
                }
                if let Some(d) = crate::drift::next(&mut drift).now_or_never() {
                    on_drift(&d, &mut drifted, &mut full);
                    progressed = true;
                }
                if !progressed {
                    break;
                }
            }
            if retry.is_some() || !(listed_services && listed_endpoints) {
                // The full sync that follows takes every change in.
                continue;
            }
        }
        let Some(t) = table.take() else {
            // A panic cost the table and none could be opened again: try later.
            table = reopen().ok();
            retry = Some(Instant::now() + failures.delay(failures.failures().saturating_sub(1)));
            full = true;
            continue;
        };
        let started = Instant::now();
        let (work, what) = if full {
            // The full sync repairs any drift too.
            drifted = TableDrift::default();
            let all = cache.all(&me);
            let what = format!("full sync of {} service ports", all.len());
            (Work::Full(all), what)
        } else {
            let changes = cache.changes(dirty, &me);
            if !changes.is_empty() {
                // Any drift is repaired next, against the state these changes leave.
                let what = format!("{} service port change(s)", changes.len());
                (Work::Changes(changes), what)
            } else if !drifted.is_empty() {
                (Work::Repair(std::mem::take(&mut drifted)), "a repair of drift".to_string())
            } else {
                // Nothing for this node's rules: nothing to program.
                waiting.clear();
                table = Some(t);
                continue;
            }
        };
        let (t, result) = apply(t, work, &reopen).await;
        table = t;
        let programmed: Vec<Duration> = match &result {
            Ok(_) => waiting.drain(..).map(|t| t.elapsed()).collect(),
            Err(_) => Vec::new(),
        };
        crate::metrics::proxy_synced(started.elapsed(), result.is_ok(), &programmed);
        match result {
            Ok(applied) => {
                full = false;
                failures.reset();
                if applied.bytes > 0 {
                    tracing::info!(
                        elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
                        changed = applied.changed,
                        "applied {what}"
                    );
                }
            }
            Err(e) => {
                full = true;
                retry = Some(Instant::now() + failures.next_delay());
                let count = failures.failures();
                tracing::warn!(
                    error = format!("{e:#}"),
                    failures = count,
                    "applying {what} failed; a full sync follows"
                );
                if count >= FAILURES_BEFORE_RELIST {
                    tracing::warn!("full syncs keep failing; listing everything again");
                    services.relist();
                    endpoints.relist();
                    (listed_services, listed_endpoints) = (false, false);
                    // The full sync of the fresh lists follows them at once.
                    failures.reset();
                    retry = None;
                }
            }
        }
    }
}

/// Sleep until `when`, or forever.
async fn sleep_until(when: Option<Instant>) {
    match when {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

fn open(netns: &Option<String>, cluster: &ClusterConfig) -> Result<Proxier> {
    let ns = match netns {
        Some(name) => Netns::open(name)?,
        None => Netns::current()?,
    };
    anyhow::ensure!(netcore::nft::available(&ns), "the nft tool is missing: install the `nftables` package");
    // Bridged traffic between pods of this node must pass conntrack, or a pod's reply to
    // another pod that reached it through a cluster IP would skip the reverse NAT.
    if let Err(e) = netcore::sysctl::set(&ns, "net.bridge.bridge-nf-call-iptables", "1") {
        tracing::warn!(error = %e, "br_netfilter is not available: same-node traffic through cluster IPs will fail");
    }
    let config = TableConfig {
        pod_cidr: cluster.pod_cidr.parse().context("cluster podCIDR")?,
        service_cidr: cluster.service_cidr.parse().context("cluster serviceCIDR")?,
        // The node's own DNS server answers there (crate::dns).
        cluster_dns: cluster.cluster_dns.parse().ok(),
    };
    Ok(Proxier::new(ns, config))
}

/// Take a drift notice: the table's deletions wait for their repair; lost notices call for
/// a full sync; the routing's are not the proxy's.
fn on_drift(d: &Drift, drifted: &mut TableDrift, full: &mut bool) {
    match d {
        Drift::Table(t) => drifted.merge(t.clone()),
        Drift::Lost => *full = true,
        Drift::Routing(_) => {}
    }
}

/// Apply one reflector event to `objects` (the cache's services or endpoints) and mark
/// its service dirty; a complete list replaces them all and calls for a full sync.
/// Note when a change (not a list) arrived.
fn arrived<K>(ev: &Event<K>, waiting: &mut Vec<Instant>) {
    if !matches!(ev, Event::Listed(_)) {
        waiting.push(Instant::now());
    }
}

fn on_event<K: openapi::Resource>(
    objects: &mut HashMap<Key, K>,
    ev: Event<K>,
    dirty: &mut BTreeSet<Key>,
    listed: &mut bool,
    full: &mut bool,
) {
    match ev {
        Event::Listed(items) => {
            *objects = items.into_iter().map(|o| (key_of(o.metadata()), o)).collect();
            *listed = true;
            *full = true;
        }
        Event::Applied(o) => {
            let key = key_of(o.metadata());
            objects.insert(key.clone(), o);
            dirty.insert(key);
        }
        Event::Deleted(o) => {
            let key = key_of(o.metadata());
            objects.remove(&key);
            dirty.insert(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openapi::{EndpointAddress, EndpointPort, EndpointSubset, ObjectMeta, ObjectReference, ServicePort as ApiPort};

    fn meta(name: &str) -> ObjectMeta {
        ObjectMeta { name: name.into(), namespace: Some("ns".into()), ..Default::default() }
    }

    fn addr(ip: &str, node: &str) -> EndpointAddress {
        EndpointAddress {
            ip: ip.into(),
            node_name: Some(node.into()),
            target_ref: ObjectReference {
                kind: "Pod".into(),
                namespace: "ns".into(),
                name: ip.into(),
                uid: String::new(),
            },
        }
    }

    fn service() -> Service {
        let mut s = Service { metadata: meta("web"), ..Default::default() };
        s.spec.cluster_ip = Some("10.96.0.20".into());
        s.spec.service_type = ServiceType::NodePort;
        s.spec.external_traffic_policy = TrafficPolicy::Local;
        s.spec.session_affinity = SessionAffinity::ClientIP;
        s.spec.ports = vec![
            ApiPort { name: Some("http".into()), port: 80, node_port: Some(30080), ..Default::default() },
            ApiPort { name: Some("dns".into()), protocol: Protocol::Udp, port: 53, ..Default::default() },
        ];
        s
    }

    fn endpoints() -> Endpoints {
        Endpoints {
            metadata: meta("web"),
            subsets: vec![EndpointSubset {
                addresses: vec![addr("10.244.1.5", "n1"), addr("10.244.2.5", "n2")],
                not_ready_addresses: vec![addr("10.244.1.9", "n1")],
                ports: vec![
                    EndpointPort { name: Some("http".into()), port: 8080, protocol: Protocol::Tcp },
                    EndpointPort { name: Some("dns".into()), port: 5353, protocol: Protocol::Udp },
                ],
            }],
            ..Default::default()
        }
    }

    #[test]
    fn ports_map_to_ready_endpoints_by_name_and_protocol() {
        let ports = service_ports(&service(), Some(&endpoints()), "n1");
        assert_eq!(ports.len(), 2);
        let http = &ports[0];
        assert_eq!(http.name, "ns/web:http");
        assert_eq!((http.port, http.node_port, http.external_local), (80, Some(30080), true));
        assert_eq!(http.affinity_seconds, Some(DEFAULT_AFFINITY_SECONDS));
        assert_eq!(
            http.endpoints,
            vec![
                Endpoint { ip: "10.244.1.5".parse().unwrap(), port: 8080, local: true },
                Endpoint { ip: "10.244.2.5".parse().unwrap(), port: 8080, local: false },
            ]
        );
        let dns = &ports[1];
        assert_eq!((dns.proto, dns.port, dns.endpoints[0].port), (Proto::Udp, 53, 5353));
        // Not ready pods get no traffic; without endpoints a port still exists (to reject).
        assert!(service_ports(&service(), None, "n1").iter().all(|p| p.endpoints.is_empty()));
    }

    #[test]
    fn a_new_service_waits_briefly_for_its_endpoints() {
        let mut cache = Cache::default();
        let key = ("ns".to_string(), "web".to_string());
        cache.services.insert(key.clone(), service());
        assert!(cache.changes([key.clone()], "n1").is_empty(), "programmed before its endpoints arrived");
        assert!(cache.next_wait().is_some());
        cache.endpoints.insert(key.clone(), endpoints());
        assert_eq!(cache.changes([key.clone()], "n1").len(), 2);
        assert!(cache.next_wait().is_none());
        // A service whose endpoints never come is programmed (to reject) after the grace.
        let other = ("ns".to_string(), "lonely".to_string());
        cache.services.insert(other.clone(), service());
        assert!(cache.changes([other.clone()], "n1").is_empty());
        *cache.waiting.get_mut(&other).unwrap() = Instant::now();
        assert_eq!(cache.expired(), vec![other.clone()]);
        let changes = cache.changes([other], "n1");
        assert!(changes.iter().all(|(_, p)| p.as_ref().is_some_and(|p| p.endpoints.is_empty())), "{changes:?}");
    }

    #[test]
    fn a_programmed_service_does_not_wait_for_endpoints() {
        let mut cache = Cache::default();
        let key = ("ns".to_string(), "web".to_string());
        cache.services.insert(key.clone(), service());
        cache.endpoints.insert(key.clone(), endpoints());
        assert_eq!(cache.all("n1").len(), 2);
        // Its Endpoints object goes first (a deletion in flight): applied at once.
        cache.endpoints.remove(&key);
        let changes = cache.changes([key], "n1");
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert!(cache.next_wait().is_none());
    }

    #[test]
    fn cluster_ip_services_have_no_node_port() {
        let mut s = service();
        s.spec.service_type = ServiceType::ClusterIP;
        let ports = service_ports(&s, Some(&endpoints()), "n1");
        assert!(ports.iter().all(|p| p.node_port.is_none() && !p.external_local));
    }

    #[test]
    fn removed_ports_and_services_become_deletions() {
        let mut cache = Cache::default();
        let key = ("ns".to_string(), "web".to_string());
        cache.services.insert(key.clone(), service());
        cache.endpoints.insert(key.clone(), endpoints());
        assert_eq!(cache.all("n1").len(), 2);
        cache.services.get_mut(&key).unwrap().spec.ports.pop();
        let changes = cache.changes([key.clone()], "n1");
        assert!(changes.contains(&("ns/web:dns".to_string(), None)), "{changes:?}");
        cache.services.remove(&key);
        let changes = cache.changes([key], "n1");
        assert_eq!(changes, vec![("ns/web:http".to_string(), None)]);
    }

    mod proxy {
        use super::*;
        use crate::fake::{Call, FakeSource, FakeTable};
        use openapi::client::WatchEvent;

        struct Proxy {
            table: FakeTable,
            services: FakeSource<Service>,
            endpoints: FakeSource<Endpoints>,
            start: Instant,
            drift: tokio::sync::broadcast::Sender<std::sync::Arc<Drift>>,
        }

        /// A proxy for node n1 over fakes, its first lists holding `services` and `endpoints`.
        fn start(services: Vec<Service>, endpoints: Vec<Endpoints>, failing_applies: u32) -> Proxy {
            let p = Proxy {
                table: FakeTable::default(),
                services: FakeSource::new(services),
                endpoints: FakeSource::new(endpoints),
                start: Instant::now(),
                drift: tokio::sync::broadcast::channel(8).0,
            };
            let drift = Some(p.drift.subscribe());
            p.table.0.fail_next("apply", failing_applies);
            let table = p.table.clone();
            tokio::spawn(super::proxy(
                "n1".into(),
                p.table.clone(),
                move || Ok(table.clone()),
                Duration::from_secs(3600),
                Reflector::new(p.services.clone()),
                Reflector::new(p.endpoints.clone()),
                drift,
            ));
            p
        }

        impl Proxy {
            fn calls(&self) -> Vec<Call> {
                self.table.0.calls()
            }
            fn seconds(&self) -> Vec<u64> {
                self.table.0.timed(self.start).iter().map(|(t, _)| t.as_secs()).collect()
            }
        }

        async fn settle() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        fn full(names: &[&str]) -> Call {
            Call::SyncAll(names.iter().map(|n| n.to_string()).collect())
        }

        #[tokio::test(start_paused = true)]
        async fn drift_is_repaired_at_once_and_lost_notices_make_a_full_sync() {
            let p = start(vec![service()], vec![endpoints()], 0);
            settle().await;
            let deleted = TableDrift { chains: ["services".to_string()].into(), ..TableDrift::default() };
            p.drift.send(std::sync::Arc::new(Drift::Table(deleted.clone()))).unwrap();
            // The routing's drift is not the proxy's.
            p.drift.send(std::sync::Arc::new(Drift::Routing(Default::default()))).unwrap();
            settle().await;
            p.drift.send(std::sync::Arc::new(Drift::Lost)).unwrap();
            settle().await;
            let all = full(&["ns/web:dns", "ns/web:http"]);
            assert_eq!(p.calls(), vec![all.clone(), Call::RepairDrift(format!("{deleted:?}")), all]);
        }

        #[tokio::test(start_paused = true)]
        async fn the_first_lists_make_one_full_sync() {
            let p = start(vec![service()], vec![endpoints()], 0);
            settle().await;
            assert_eq!(p.calls(), vec![full(&["ns/web:dns", "ns/web:http"])]);
        }

        #[tokio::test(start_paused = true)]
        async fn a_new_service_waits_for_its_endpoints() {
            let p = start(Vec::new(), Vec::new(), 0);
            settle().await;
            p.services.send(WatchEvent::Added(service()));
            tokio::time::sleep(ENDPOINTS_GRACE / 2).await;
            assert_eq!(p.calls(), vec![full(&[])], "programmed before its endpoints came");
            p.endpoints.send(WatchEvent::Added(endpoints()));
            settle().await;
            let both = vec![("ns/web:http".to_string(), Some(2)), ("ns/web:dns".to_string(), Some(2))];
            assert_eq!(p.calls()[1..], [Call::Update(both)]);
            // One whose endpoints never come is programmed (to reject) after the grace.
            let mut lonely = service();
            lonely.metadata.name = "lonely".into();
            p.services.send(WatchEvent::Added(lonely));
            tokio::time::sleep(ENDPOINTS_GRACE + Duration::from_millis(10)).await;
            let none = vec![("ns/lonely:http".to_string(), Some(0)), ("ns/lonely:dns".to_string(), Some(0))];
            assert_eq!(p.calls()[2..], [Call::Update(none)]);
        }

        #[tokio::test(start_paused = true)]
        async fn a_failed_apply_is_retried_as_a_full_sync_with_back_off() {
            let p = start(vec![service()], vec![endpoints()], 3);
            tokio::time::sleep(Duration::from_secs(5)).await;
            // Changes meanwhile are taken in by the full sync that follows.
            p.endpoints.send(WatchEvent::Deleted(endpoints()));
            tokio::time::sleep(Duration::from_secs(60)).await;
            assert_eq!(p.seconds(), vec![0, 1, 3, 7]);
            assert!(p.calls().iter().all(|c| matches!(c, Call::SyncAll(_))), "{:?}", p.calls());
            assert_eq!(p.services.lists(), 1);
        }

        #[tokio::test(start_paused = true)]
        async fn repeated_failures_list_everything_again() {
            let p = start(vec![service()], vec![endpoints()], FAILURES_BEFORE_RELIST);
            tokio::time::sleep(Duration::from_secs(60)).await;
            // Five failures (back-off 1, 2, 4, 8 s), a relist after the reflectors' first
            // delay, and the full sync of the fresh lists succeeds.
            assert_eq!(p.seconds(), vec![0, 1, 3, 7, 15, 16]);
            assert_eq!((p.services.lists(), p.endpoints.lists()), (2, 2));
        }
    }
}
