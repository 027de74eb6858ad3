//! Endpoints computation: which pods back a service, at which ports. Pure functions over
//! objects; the store calls them inside the transaction of the pod or service change.
//!
//! A pod contributes one entry per service: its address (ready or not) and the service's
//! ports resolved against the pod's container ports (a named `targetPort` may resolve to
//! different numbers on different pods, or not at all). Entries with the same resolved ports
//! form one subset, as in Kubernetes' Endpoints.

use std::collections::BTreeMap;

use openapi::{EndpointAddress, EndpointPort, EndpointSubset, ObjectReference, Pod, PodPhase, Service};

/// One pod's contribution to a service's endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub address: EndpointAddress,
    pub ready: bool,
    pub ports: Vec<EndpointPort>,
}

/// Whether the service selects this pod (a service without selector selects nothing).
pub fn selects(service: &Service, labels: &BTreeMap<String, String>) -> bool {
    !service.spec.selector.is_empty() && service.spec.selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The entry `pod` contributes to `service`, if any: the pod must be selected, have an IP,
/// not be finished, and resolve at least one of the service's ports. It is ready when the
/// pod is Running with its Ready condition True and its node is Ready.
pub fn pod_entry(service: &Service, pod: &Pod, node_ready: bool) -> Option<Entry> {
    if !selects(service, &pod.metadata.labels) {
        return None;
    }
    let ip = pod.status.pod_ip.clone()?;
    if matches!(pod.status.phase, PodPhase::Succeeded | PodPhase::Failed) {
        return None;
    }
    let mut ports: Vec<EndpointPort> = service
        .spec
        .ports
        .iter()
        .filter_map(|sp| {
            pod.resolve_port(&sp.target(), sp.protocol).map(|port| EndpointPort {
                name: sp.name.clone(),
                port,
                protocol: sp.protocol,
            })
        })
        .collect();
    if ports.is_empty() {
        return None;
    }
    ports.sort();
    Some(Entry {
        address: EndpointAddress {
            ip,
            node_name: pod.spec.node_name.clone(),
            target_ref: ObjectReference {
                kind: "Pod".into(),
                namespace: pod.metadata.namespace.clone().unwrap_or_default(),
                name: pod.metadata.name.clone(),
                uid: pod.metadata.uid.clone().unwrap_or_default(),
            },
        },
        ready: pod.status.phase == PodPhase::Running && pod.is_ready() && node_ready,
        ports,
    })
}

/// Flatten subsets back into entries (the inverse of [`group`]).
pub fn entries(subsets: &[EndpointSubset]) -> Vec<Entry> {
    let mut out = Vec::new();
    for s in subsets {
        for (list, ready) in [(&s.addresses, true), (&s.not_ready_addresses, false)] {
            out.extend(list.iter().map(|a| Entry { address: a.clone(), ready, ports: s.ports.clone() }));
        }
    }
    out
}

/// Group entries into subsets by their ports, deterministically ordered.
pub fn group(entries: Vec<Entry>) -> Vec<EndpointSubset> {
    let mut by_ports: BTreeMap<Vec<EndpointPort>, EndpointSubset> = BTreeMap::new();
    for e in entries {
        let subset = by_ports.entry(e.ports.clone()).or_insert_with(|| EndpointSubset {
            addresses: Vec::new(),
            not_ready_addresses: Vec::new(),
            ports: e.ports,
        });
        if e.ready {
            subset.addresses.push(e.address);
        } else {
            subset.not_ready_addresses.push(e.address);
        }
    }
    let mut subsets: Vec<EndpointSubset> = by_ports.into_values().collect();
    for s in &mut subsets {
        s.addresses.sort();
        s.not_ready_addresses.sort();
    }
    subsets
}

/// Replace the pod `uid`'s entry in `subsets` by `entry` (or remove it when `None`).
pub fn replace_pod(subsets: &[EndpointSubset], uid: &str, entry: Option<Entry>) -> Vec<EndpointSubset> {
    let mut all: Vec<Entry> = entries(subsets).into_iter().filter(|e| e.address.target_ref.uid != uid).collect();
    all.extend(entry);
    group(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openapi::{ConditionStatus, Container, ContainerPort, IntOrString, PodCondition, Protocol, ServicePort};

    fn pod(name: &str, ip: &str, ready: bool, http_port: i32) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = name.into();
        p.metadata.namespace = Some("default".into());
        p.metadata.uid = Some(format!("uid-{name}"));
        p.metadata.labels.insert("app".into(), "web".into());
        p.spec.node_name = Some("n1".into());
        p.spec.containers.push(Container {
            name: "c".into(),
            ports: vec![ContainerPort {
                name: Some("http".into()),
                container_port: http_port,
                protocol: Protocol::Tcp,
            }],
            ..Default::default()
        });
        p.status.pod_ip = Some(ip.into());
        p.status.phase = PodPhase::Running;
        p.status.conditions.push(PodCondition {
            condition_type: "Ready".into(),
            status: if ready { ConditionStatus::True } else { ConditionStatus::False },
            last_transition_time: None,
            reason: None,
            message: None,
        });
        p
    }

    fn service(target: IntOrString) -> Service {
        let mut s = Service::default();
        s.spec.selector.insert("app".into(), "web".into());
        s.spec.ports.push(ServicePort { port: 80, target_port: Some(target), ..Default::default() });
        s
    }

    #[test]
    fn named_ports_split_subsets_and_readiness_splits_addresses() {
        let svc = service(IntOrString::String("http".into()));
        let pods =
            [pod("a", "10.0.0.2", true, 8080), pod("b", "10.0.0.3", false, 8080), pod("c", "10.0.0.4", true, 9090)];
        let subsets = group(pods.iter().filter_map(|p| pod_entry(&svc, p, true)).collect());
        assert_eq!(subsets.len(), 2);
        assert_eq!(subsets[0].ports[0].port, 8080);
        assert_eq!(subsets[0].addresses.len(), 1);
        assert_eq!(subsets[0].not_ready_addresses.len(), 1);
        assert_eq!(subsets[1].ports[0].port, 9090);
        assert_eq!(subsets[1].addresses[0].ip, "10.0.0.4");
    }

    #[test]
    fn node_not_ready_makes_pods_not_ready() {
        let svc = service(IntOrString::Int(8080));
        let e = pod_entry(&svc, &pod("a", "10.0.0.2", true, 8080), false).unwrap();
        assert!(!e.ready);
    }

    #[test]
    fn unmatched_unresolved_and_ipless_pods_contribute_nothing() {
        let svc = service(IntOrString::String("grpc".into()));
        assert!(pod_entry(&svc, &pod("a", "10.0.0.2", true, 8080), true).is_none());
        let svc = service(IntOrString::Int(8080));
        let mut p = pod("a", "10.0.0.2", true, 8080);
        p.metadata.labels.insert("app".into(), "db".into());
        assert!(pod_entry(&svc, &p, true).is_none());
        let mut p = pod("a", "10.0.0.2", true, 8080);
        p.status.pod_ip = None;
        assert!(pod_entry(&svc, &p, true).is_none());
        let mut no_selector = svc.clone();
        no_selector.spec.selector.clear();
        assert!(pod_entry(&no_selector, &pod("a", "10.0.0.2", true, 8080), true).is_none());
    }

    #[test]
    fn replace_is_incremental_and_equals_full_recompute() {
        let svc = service(IntOrString::Int(8080));
        let a = pod("a", "10.0.0.2", true, 8080);
        let b = pod("b", "10.0.0.3", true, 8080);
        let full = group([&a, &b].iter().filter_map(|p| pod_entry(&svc, p, true)).collect());
        let step = replace_pod(&[], "uid-a", pod_entry(&svc, &a, true));
        let step = replace_pod(&step, "uid-b", pod_entry(&svc, &b, true));
        assert_eq!(step, full);
        let removed = replace_pod(&step, "uid-a", None);
        assert_eq!(removed[0].addresses.len(), 1);
        assert_eq!(removed[0].addresses[0].ip, "10.0.0.3");
        assert!(replace_pod(&removed, "uid-b", None).is_empty());
    }
}
