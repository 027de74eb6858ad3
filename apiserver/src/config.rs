//! Command-line and environment configuration, and the cluster configuration it seeds.
//!
//! The cluster configuration (pod CIDR, service CIDR, node subnet size, NodePort range,
//! backend, lease timings) is fixed when a data directory is first used and stored in it:
//! changing the pod CIDR under existing leases would strand every pod. A later start that
//! explicitly asks for a different value fails with an error naming both values.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnetwork::Ipv4Network;
use openapi::{Backend, ClusterConfig, PortRange};

#[derive(clap::Parser, Debug, Clone)]
#[command(name = "apiserver", version, about = "flatnet's API server")]
pub struct Args {
    /// Address to serve HTTPS on.
    #[arg(long, env = "FLATNET_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory of the SQLite database (`flatnet.db`), the cluster's CA (`ca.crt`, `ca.key`)
    /// and the tokens (`admin.token`, `viewer.token`), all made on first start.
    #[arg(long, env = "FLATNET_DATA_DIR", default_value = "flatnet-data")]
    pub data_dir: PathBuf,
    /// More names (DNS names or IP addresses) for the serving certificate, besides the listen
    /// address, 127.0.0.1, ::1, localhost and the host name. Repeat or separate with commas.
    #[arg(long = "tls-san", env = "FLATNET_TLS_SAN", value_delimiter = ',')]
    pub tls_sans: Vec<String>,
    /// Also serve plain HTTP on this loopback address (say 127.0.0.1:8079), for local tools
    /// that cannot do TLS. Tokens are required there as on HTTPS. Off by default: HTTPS only.
    #[arg(long, env = "FLATNET_PLAIN_HTTP_LISTEN")]
    pub plain_http_listen: Option<SocketAddr>,
    /// Answer reads (GET) without a token, for demos; writes still need one. Off by default,
    /// as on kind and k3s: a pod's spec (its environment) often holds secrets.
    #[arg(long, env = "FLATNET_ANONYMOUS_READS")]
    pub anonymous_reads: bool,
    /// Directory of the dashboard's static files (default: the `web/` folder of the source tree).
    #[arg(long, env = "FLATNET_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
    /// Cluster (pod) CIDR [first start default: 10.244.0.0/16].
    #[arg(long, env = "FLATNET_POD_CIDR")]
    pub pod_cidr: Option<Ipv4Network>,
    /// Prefix length of each node's lease [first start default: 24].
    #[arg(long, env = "FLATNET_NODE_SUBNET_PREFIX")]
    pub node_subnet_prefix: Option<u8>,
    /// Service CIDR [first start default: 10.96.0.0/16].
    #[arg(long, env = "FLATNET_SERVICE_CIDR")]
    pub service_cidr: Option<Ipv4Network>,
    /// NodePort range [first start default: 30000-32767].
    #[arg(long, env = "FLATNET_NODE_PORT_RANGE")]
    pub node_port_range: Option<PortRange>,
    /// Pod-to-pod backend across nodes: host-gw or vxlan [first start default: host-gw].
    #[arg(long, env = "FLATNET_BACKEND")]
    pub backend: Option<Backend>,
    /// Seconds a node lease lives without a heartbeat [first start default: 20].
    #[arg(long, env = "FLATNET_LEASE_TTL")]
    pub lease_ttl: Option<u64>,
    /// Seconds after expiry before a lease is reclaimed [first start default: 3600].
    #[arg(long, env = "FLATNET_LEASE_GRACE")]
    pub lease_grace: Option<u64>,
    /// The cluster's DNS domain [first start default: cluster.local].
    #[arg(long, env = "FLATNET_CLUSTER_DOMAIN")]
    pub cluster_domain: Option<String>,
    /// Watch history kept, in revisions; older resourceVersions answer 410 Gone.
    #[arg(long, env = "FLATNET_WATCH_HISTORY", default_value_t = 100_000)]
    pub watch_history: i64,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "FLATNET_MAX_BODY", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
}

/// Runtime settings derived from [`Args`] and the stored cluster configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    pub cluster: ClusterConfig,
    pub pod_cidr: Ipv4Network,
    pub service_cidr: Ipv4Network,
    pub watch_history: i64,
    pub max_body_bytes: usize,
    /// How often lease expiry, reclamation, scheduling of pending pods and compaction run.
    pub tick_interval: Duration,
    /// How often a watch with `allowWatchBookmarks` gets a BOOKMARK.
    pub bookmark_interval: Duration,
}

impl Settings {
    pub fn new(cluster: ClusterConfig) -> Result<Self, String> {
        validate_cluster_config(&cluster)?;
        Ok(Settings {
            pod_cidr: cluster.pod_cidr.parse().map_err(|e| format!("podCIDR: {e}"))?,
            service_cidr: cluster.service_cidr.parse().map_err(|e| format!("serviceCIDR: {e}"))?,
            cluster,
            watch_history: 100_000,
            max_body_bytes: 1024 * 1024,
            tick_interval: Duration::from_secs(1),
            bookmark_interval: Duration::from_secs(10),
        })
    }
}

pub fn default_cluster_config() -> ClusterConfig {
    ClusterConfig {
        pod_cidr: "10.244.0.0/16".into(),
        node_subnet_prefix: 24,
        service_cidr: "10.96.0.0/16".into(),
        node_port_range: PortRange { min: 30000, max: 32767 },
        backend: Backend::HostGw,
        lease_ttl_seconds: 20,
        lease_grace_seconds: 3600,
        cluster_domain: openapi::DEFAULT_CLUSTER_DOMAIN.into(),
        cluster_dns: "10.96.0.10".into(),
    }
}

/// The cluster DNS address of a service CIDR: its tenth address, as in Kubernetes.
pub fn default_cluster_dns(service_cidr: Ipv4Network) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(u32::from(service_cidr.network()) + 10)
}

/// Fill the stored configuration (or the defaults on first start) with explicit flags;
/// an explicit flag that contradicts the stored configuration is an error.
pub fn merge_cluster_config(args: &Args, stored: Option<ClusterConfig>) -> Result<ClusterConfig, String> {
    let first_start = stored.is_none();
    let mut cfg = stored.unwrap_or_else(default_cluster_config);
    let set = |name: &str, current: String, wanted: Option<String>| -> Result<Option<String>, String> {
        match wanted {
            Some(w) if !first_start && w != current => Err(format!(
                "--{name} {w} contradicts the data directory's cluster configuration ({name} {current}); \
                 use a new --data-dir to change it"
            )),
            other => Ok(other),
        }
    };
    if let Some(v) = set("pod-cidr", cfg.pod_cidr.clone(), args.pod_cidr.map(|c| c.to_string()))? {
        cfg.pod_cidr = v;
    }
    if let Some(v) = set("service-cidr", cfg.service_cidr.clone(), args.service_cidr.map(|c| c.to_string()))? {
        cfg.service_cidr = v;
    }
    if set("node-subnet-prefix", cfg.node_subnet_prefix.to_string(), args.node_subnet_prefix.map(|p| p.to_string()))?
        .is_some()
    {
        cfg.node_subnet_prefix = args.node_subnet_prefix.unwrap_or(cfg.node_subnet_prefix);
    }
    if set("node-port-range", cfg.node_port_range.to_string(), args.node_port_range.map(|r| r.to_string()))?.is_some() {
        cfg.node_port_range = args.node_port_range.unwrap_or(cfg.node_port_range);
    }
    if set("backend", cfg.backend.as_str().into(), args.backend.map(|b| b.as_str().to_string()))?.is_some() {
        cfg.backend = args.backend.unwrap_or(cfg.backend);
    }
    if let Some(v) = set("cluster-domain", cfg.cluster_domain.clone(), args.cluster_domain.clone())? {
        cfg.cluster_domain = v.trim_end_matches('.').to_ascii_lowercase();
    }
    if cfg.cluster_dns.is_empty() || first_start {
        // The service CIDR's own address; data directories from before DNS get it too.
        let svc: Ipv4Network =
            cfg.service_cidr.parse().map_err(|e| format!("service CIDR {:?}: {e}", cfg.service_cidr))?;
        cfg.cluster_dns = default_cluster_dns(svc).to_string();
    }
    // Lease timings may change between starts: they affect no stored address.
    if let Some(ttl) = args.lease_ttl {
        cfg.lease_ttl_seconds = ttl;
    }
    if let Some(grace) = args.lease_grace {
        cfg.lease_grace_seconds = grace;
    }
    validate_cluster_config(&cfg)?;
    Ok(cfg)
}

pub fn validate_cluster_config(cfg: &ClusterConfig) -> Result<(), String> {
    let pod: Ipv4Network = cfg.pod_cidr.parse().map_err(|e| format!("pod CIDR {:?}: {e}", cfg.pod_cidr))?;
    let svc: Ipv4Network = cfg.service_cidr.parse().map_err(|e| format!("service CIDR {:?}: {e}", cfg.service_cidr))?;
    if pod.network() != pod.ip() {
        return Err(format!("pod CIDR {pod} has host bits set"));
    }
    if svc.network() != svc.ip() {
        return Err(format!("service CIDR {svc} has host bits set"));
    }
    if cfg.node_subnet_prefix > 29 || cfg.node_subnet_prefix < pod.prefix() {
        return Err(format!(
            "node subnet prefix /{} must be between the pod CIDR's /{} and /29",
            cfg.node_subnet_prefix,
            pod.prefix()
        ));
    }
    if cfg.node_subnet_prefix - pod.prefix() > 16 {
        return Err("the pod CIDR holds more than 65536 node subnets: use a larger node subnet".into());
    }
    if svc.prefix() > 28 || svc.prefix() < 12 {
        return Err(format!("service CIDR {svc} must be between /12 and /28"));
    }
    if pod.overlaps(svc) {
        return Err(format!("pod CIDR {pod} and service CIDR {svc} overlap"));
    }
    let dns: std::net::Ipv4Addr =
        cfg.cluster_dns.parse().map_err(|e| format!("cluster DNS address {:?}: {e}", cfg.cluster_dns))?;
    if !svc.contains(dns) {
        return Err(format!("cluster DNS address {dns} is outside the service CIDR {svc}"));
    }
    if openapi::validation::validate_dns1123_subdomain(&cfg.cluster_domain).is_err() {
        return Err(format!("cluster domain {:?} is not a DNS name", cfg.cluster_domain));
    }
    if cfg.lease_ttl_seconds == 0 {
        return Err("lease TTL must be at least 1 second".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn first_start_takes_flags_later_starts_refuse_contradictions() {
        let args = Args::parse_from(["apiserver", "--pod-cidr", "10.50.0.0/16", "--backend", "vxlan"]);
        let cfg = merge_cluster_config(&args, None).unwrap();
        assert_eq!(cfg.pod_cidr, "10.50.0.0/16");
        assert_eq!(cfg.backend, Backend::Vxlan);
        // Same values again, or no flags: fine.
        assert_eq!(merge_cluster_config(&args, Some(cfg.clone())).unwrap(), cfg);
        let bare = Args::parse_from(["apiserver"]);
        assert_eq!(merge_cluster_config(&bare, Some(cfg.clone())).unwrap(), cfg);
        let other = Args::parse_from(["apiserver", "--pod-cidr", "10.60.0.0/16"]);
        let err = merge_cluster_config(&other, Some(cfg)).unwrap_err();
        assert!(err.contains("10.60.0.0/16") && err.contains("10.50.0.0/16"), "{err}");
    }

    #[test]
    fn rejects_bad_cluster_configs() {
        let ok = merge_cluster_config(&Args::parse_from(["apiserver"]), None).unwrap();
        assert_eq!(ok.cluster_dns, "10.96.0.10");
        assert!(validate_cluster_config(&ok).is_ok());
        let cases: [fn(&mut ClusterConfig); 6] = [
            |c| c.cluster_dns = "10.97.0.10".into(),
            |c| c.cluster_domain = "Not A Domain".into(),
            |c| c.service_cidr = "10.244.128.0/20".into(),
            |c| c.node_subnet_prefix = 8,
            |c| c.pod_cidr = "10.244.1.0/16".into(),
            |c| c.service_cidr = "nonsense".into(),
        ];
        for change in cases {
            let mut c = ok.clone();
            change(&mut c);
            assert!(validate_cluster_config(&c).is_err(), "{c:?}");
        }
    }
}
