//! What a pod's containers see of names: their own `/etc/resolv.conf` (by `dnsPolicy` and
//! `dnsConfig`, as the kubelet makes it), `/etc/hosts` with the pod's own name and address,
//! and the pod's hostname. The agent writes the two files into the pod's directory; the
//! shim ([`crate::shim`]) bind-mounts them over `/etc/resolv.conf` and `/etc/hosts` in a
//! mount namespace of the container's own, and sets the hostname in a UTS namespace of its
//! own, so the node's files are never touched.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use openapi::{DnsPolicy, Pod};

use crate::containers::PodDir;

/// What every pod's resolver configuration starts from.
#[derive(Clone, Debug)]
pub struct NodeDns {
    /// The cluster DNS address (`clusterDNS`).
    pub address: Ipv4Addr,
    /// The cluster domain, without the final dot.
    pub domain: String,
    /// The node's own resolv.conf, for `dnsPolicy: Default`.
    pub node_resolv_conf: String,
}

/// glibc reads at most this many name servers.
const MAX_NAMESERVERS: usize = 3;

#[derive(Default)]
struct Resolv {
    nameservers: Vec<String>,
    searches: Vec<String>,
    /// `(name, value)`, in order, one per name.
    options: Vec<(String, Option<String>)>,
}

impl Resolv {
    fn parse(text: &str) -> Resolv {
        let mut r = Resolv::default();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => r.nameservers.extend(words.next().map(String::from)),
                Some("search") | Some("domain") => r.searches = words.map(String::from).collect(),
                Some("options") => {
                    for o in words {
                        let (name, value) = match o.split_once(':') {
                            Some((n, v)) => (n.to_string(), Some(v.to_string())),
                            None => (o.to_string(), None),
                        };
                        r.option(name, value);
                    }
                }
                _ => {}
            }
        }
        r
    }

    fn option(&mut self, name: String, value: Option<String>) {
        match self.options.iter_mut().find(|(n, _)| *n == name) {
            Some(existing) => existing.1 = value,
            None => self.options.push((name, value)),
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for ns in self.nameservers.iter().take(MAX_NAMESERVERS) {
            out.push_str(&format!("nameserver {ns}\n"));
        }
        if !self.searches.is_empty() {
            out.push_str(&format!("search {}\n", self.searches.join(" ")));
        }
        if !self.options.is_empty() {
            let opts: Vec<String> = self
                .options
                .iter()
                .map(|(n, v)| match v {
                    Some(v) => format!("{n}:{v}"),
                    None => n.clone(),
                })
                .collect();
            out.push_str(&format!("options {}\n", opts.join(" ")));
        }
        out
    }
}

fn namespace(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or("default")
}

/// The pod's `/etc/resolv.conf`.
pub fn resolv_conf(pod: &Pod, node: &NodeDns) -> String {
    let mut r = match pod.spec.dns_policy {
        DnsPolicy::ClusterFirst => Resolv {
            nameservers: vec![node.address.to_string()],
            searches: vec![
                format!("{}.svc.{}", namespace(pod), node.domain),
                format!("svc.{}", node.domain),
                node.domain.clone(),
            ],
            options: vec![("ndots".into(), Some("5".into()))],
        },
        DnsPolicy::Default => Resolv::parse(&node.node_resolv_conf),
        DnsPolicy::None => Resolv::default(),
    };
    if let Some(cfg) = &pod.spec.dns_config {
        for ns in &cfg.nameservers {
            if !r.nameservers.contains(ns) {
                r.nameservers.push(ns.clone());
            }
        }
        for s in &cfg.searches {
            if !r.searches.contains(s) {
                r.searches.push(s.clone());
            }
        }
        for o in &cfg.options {
            r.option(o.name.clone(), o.value.clone());
        }
    }
    r.render()
}

/// The pod's hostname: `spec.hostname`, else its name (at most 63 bytes, as a label).
pub fn hostname(pod: &Pod) -> String {
    let name = pod.spec.hostname.as_deref().unwrap_or(&pod.metadata.name);
    name[..name.len().min(63)].trim_end_matches(['-', '.']).to_string()
}

/// The pod's `/etc/hosts`: loopback, and the pod's address with its hostname (and its
/// fully qualified name when it has a subdomain).
pub fn hosts(pod: &Pod, ip: Ipv4Addr, domain: &str) -> String {
    let host = hostname(pod);
    let names = match &pod.spec.subdomain {
        Some(sd) => format!("{host}.{sd}.{}.svc.{domain}\t{host}", namespace(pod)),
        None => host,
    };
    format!(
        "# flatnet-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n{ip}\t{names}\n"
    )
}

/// What the shim puts in a container's namespaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodEtc {
    pub resolv_conf: PathBuf,
    pub hosts: PathBuf,
    pub hostname: String,
}

/// Write the pod's files into its directory (atomically: a running container's bind mount
/// keeps the file it was given; a new run gets the new one).
pub fn write(dir: &PodDir, pod: &Pod, ip: Ipv4Addr, node: &NodeDns) -> std::io::Result<PodEtc> {
    std::fs::create_dir_all(&dir.0)?;
    let put = |name: &str, text: String| -> std::io::Result<PathBuf> {
        let path = dir.0.join(name);
        let tmp = dir.0.join(format!("{name}.tmp"));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    };
    Ok(PodEtc {
        resolv_conf: put("resolv.conf", resolv_conf(pod, node))?,
        hosts: put("hosts", hosts(pod, ip, &node.domain))?,
        hostname: hostname(pod),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> NodeDns {
        NodeDns {
            address: "10.96.0.10".parse().unwrap(),
            domain: "cluster.local".into(),
            node_resolv_conf: "nameserver 203.0.113.53\nsearch corp.example\noptions timeout:2 rotate\n".into(),
        }
    }

    fn pod(spec: serde_json::Value) -> Pod {
        let mut spec = spec;
        spec["containers"] = serde_json::json!([{"name": "c", "command": ["true"]}]);
        serde_json::from_value(serde_json::json!({"metadata": {"name": "web-1", "namespace": "shop"}, "spec": spec}))
            .unwrap()
    }

    #[test]
    fn cluster_first_is_the_default() {
        assert_eq!(
            resolv_conf(&pod(serde_json::json!({})), &node()),
            "nameserver 10.96.0.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
        );
    }

    #[test]
    fn dns_config_adds_and_overrides() {
        let p = pod(serde_json::json!({"dnsConfig": {
            "nameservers": ["192.0.2.1"], "searches": ["extra.example"],
            "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}}));
        assert_eq!(
            resolv_conf(&p, &node()),
            "nameserver 10.96.0.10\nnameserver 192.0.2.1\n\
             search shop.svc.cluster.local svc.cluster.local cluster.local extra.example\noptions ndots:2 edns0\n"
        );
    }

    #[test]
    fn default_is_the_nodes_and_none_is_only_the_config() {
        assert_eq!(
            resolv_conf(&pod(serde_json::json!({"dnsPolicy": "Default"})), &node()),
            "nameserver 203.0.113.53\nsearch corp.example\noptions timeout:2 rotate\n"
        );
        let p = pod(
            serde_json::json!({"dnsPolicy": "None", "dnsConfig": {"nameservers": ["192.0.2.1"], "searches": ["a.example"]}}),
        );
        assert_eq!(resolv_conf(&p, &node()), "nameserver 192.0.2.1\nsearch a.example\n");
    }

    #[test]
    fn hosts_and_hostname() {
        let p = pod(serde_json::json!({}));
        assert_eq!(hostname(&p), "web-1");
        assert!(hosts(&p, "10.244.1.5".parse().unwrap(), "cluster.local").ends_with("\n10.244.1.5\tweb-1\n"));
        let p = pod(serde_json::json!({"hostname": "db-0", "subdomain": "db"}));
        assert_eq!(hostname(&p), "db-0");
        assert!(hosts(&p, "10.244.1.5".parse().unwrap(), "cluster.local")
            .ends_with("\n10.244.1.5\tdb-0.db.shop.svc.cluster.local\tdb-0\n"));
    }
}
