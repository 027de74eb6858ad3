//! Golden tests of the rendered rules (regenerate with `UPDATE_GOLDEN=1`), and unit tests
//! of the change logic. The kernel accepts these scripts: netcore/tests/services.rs applies
//! them and sends packets through them.

use std::net::Ipv4Addr;

use super::*;
use crate::netns::Netns;
use crate::nft;
use crate::services::Proxier;

fn ep(ip: &str, port: u16, local: bool) -> Endpoint {
    Endpoint { ip: ip.parse().unwrap(), port, local }
}

pub(crate) fn config() -> TableConfig {
    TableConfig {
        pod_cidr: "10.244.0.0/16".parse().unwrap(),
        service_cidr: "10.96.0.0/16".parse().unwrap(),
        cluster_dns: None,
    }
}

fn svc(name: &str, ip: &str, port: u16, endpoints: Vec<Endpoint>) -> ServicePort {
    ServicePort {
        name: name.into(),
        cluster_ip: ip.parse().unwrap(),
        proto: Proto::Tcp,
        port,
        node_port: None,
        external_local: false,
        affinity_seconds: None,
        endpoints,
    }
}

/// A sample of every kind of service port.
fn sample() -> Vec<ServicePort> {
    vec![
        svc("default/web:http", "10.96.0.16", 80, vec![ep("10.244.2.5", 8080, false), ep("10.244.1.5", 8080, true)]),
        ServicePort {
            node_port: Some(30080),
            ..svc("default/front:80", "10.96.0.17", 80, vec![ep("10.244.1.6", 80, true), ep("10.244.2.6", 80, false)])
        },
        ServicePort {
            node_port: Some(30081),
            external_local: true,
            ..svc("default/local:80", "10.96.0.18", 80, vec![ep("10.244.1.7", 80, true), ep("10.244.2.7", 80, false)])
        },
        ServicePort {
            node_port: Some(30082),
            external_local: true,
            ..svc("default/elsewhere:80", "10.96.0.19", 80, vec![ep("10.244.2.8", 80, false)])
        },
        ServicePort {
            proto: Proto::Udp,
            ..svc("kube-system/dns:53", "10.96.0.10", 53, vec![ep("10.244.2.9", 53, false)])
        },
        ServicePort { node_port: Some(30083), ..svc("default/empty:80", "10.96.0.20", 80, vec![]) },
        ServicePort {
            node_port: Some(30084),
            affinity_seconds: Some(60),
            ..svc("default/sticky:80", "10.96.0.21", 80, vec![ep("10.244.1.8", 80, true), ep("10.244.2.10", 80, false)])
        },
    ]
}

fn golden(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/services/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (create it with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(actual, expected, "{name} differs from the golden file (UPDATE_GOLDEN=1 to accept a change)");
}

fn desired(sps: Vec<ServicePort>) -> HashMap<String, ServicePort> {
    sps.into_iter().map(|sp| (sp.name.clone(), sp.normalize())).collect()
}

pub(crate) fn proxier() -> Proxier {
    Proxier::new(Netns::current().unwrap(), config())
}

/// A proxier that believes `sps` are applied (as after a full sync).
fn proxier_with(sps: Vec<ServicePort>) -> Proxier {
    let mut p = proxier();
    let prepared = p.prepare_update(sps.into_iter().map(|sp| (sp.name.clone(), Some(sp))).collect());
    p.commit(prepared);
    p
}

#[test]
fn full_table_from_empty() {
    golden("full.nft", &render_full(&config(), None, &desired(sample())));
}

/// With a cluster DNS address, its port 53 passes before the rejects and the dispatch.
#[test]
fn cluster_dns_comes_first() {
    let config = TableConfig { cluster_dns: Some("10.96.0.10".parse().unwrap()), ..config() };
    golden("cluster_dns.nft", &render_full(&config, None, &HashMap::new()));
}

#[test]
fn full_table_adopting_an_existing_one() {
    // The kernel holds a sticky service that is gone and the shared objects for 3 endpoints.
    let existing = nft::TableObjects {
        chains: ["services", "lb_3", "aff_0123456789ab", "aff_0123456789ab_01234567"].map(String::from).into(),
        sets: ["service_ips", "lb_slots_3", "aff_0123456789ab_01234567"].map(String::from).into(),
        ..Default::default()
    };
    golden("adopt.nft", &render_full(&config(), Some(&existing), &desired(sample())));
}

#[test]
fn scale_up_touches_only_that_service() {
    let p = proxier_with(sample());
    let mut web = sample()[0].clone();
    web.endpoints.push(ep("10.244.3.5", 8080, false));
    let prepared = p.prepare_update(vec![(web.name.clone(), Some(web))]);
    golden("scale_up.nft", &prepared.script);
    assert_eq!(prepared.report.changed, 1);
    assert!(prepared.report.stale.is_empty(), "TCP and no endpoint removed: nothing stale");
}

#[test]
fn scale_to_zero_rejects_and_drops_udp_flows() {
    let p = proxier_with(sample());
    let mut dns = sample()[4].clone();
    dns.endpoints.clear();
    let prepared = p.prepare_update(vec![(dns.name.clone(), Some(dns))]);
    golden("udp_scale_to_zero.nft", &prepared.script);
    assert_eq!(
        prepared.report.stale,
        vec![StaleFlow {
            frontend: Frontend::ClusterIp("10.96.0.10".parse().unwrap(), 53),
            endpoint: Some("10.244.2.9".parse().unwrap())
        }]
    );
}

#[test]
fn delete_sticky_service_removes_its_chains_and_sets() {
    let p = proxier_with(sample());
    let prepared = p.prepare_update(vec![("default/sticky:80".into(), None)]);
    golden("delete_sticky.nft", &prepared.script);
}

#[test]
fn unchanged_service_renders_nothing() {
    let p = proxier_with(sample());
    let prepared = p.prepare_update(sample().into_iter().map(|sp| (sp.name.clone(), Some(sp))).collect());
    assert_eq!(prepared.script, "");
    assert_eq!(prepared.report.changed, 0);
}

#[test]
fn endpoint_order_does_not_matter() {
    let p = proxier_with(sample());
    let mut web = sample()[0].clone();
    web.endpoints.reverse();
    assert_eq!(p.prepare_update(vec![(web.name.clone(), Some(web))]).script, "");
}

#[test]
fn hairpin_addresses_are_shared_between_services() {
    // Two services on the same local pod: removing one keeps the pod's hairpin element.
    let a = svc("default/a:80", "10.96.0.30", 80, vec![ep("10.244.1.20", 80, true)]);
    let b = svc("default/b:81", "10.96.0.31", 81, vec![ep("10.244.1.20", 81, true)]);
    let mut p = proxier_with(vec![a.clone(), b.clone()]);
    let prepared = p.prepare_update(vec![(a.name.clone(), None)]);
    assert!(!prepared.script.contains("hairpin"), "{}", prepared.script);
    p.commit(prepared);
    let prepared = p.prepare_update(vec![(b.name.clone(), None)]);
    assert!(
        prepared.script.contains("delete element ip flatnet hairpin { 10.244.1.20 . 10.244.1.20 }"),
        "{}",
        prepared.script
    );
}

#[test]
fn change_cost_does_not_grow_with_the_number_of_services() {
    let many: Vec<ServicePort> = (0..10_000u32)
        .map(|i| {
            let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 96, 0, 0)) + 100 + i);
            let e = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 244, 2, 0)) + i);
            svc(&format!("ns/s{i}:80"), &ip.to_string(), 80, vec![ep(&e.to_string(), 80, false)])
        })
        .collect();
    let small = proxier_with(many[..10].to_vec());
    let big = proxier_with(many);
    let extra = svc("ns/extra:80", "10.96.200.1", 80, vec![ep("10.244.3.1", 80, false), ep("10.244.3.2", 80, false)]);
    let a = small.prepare_update(vec![(extra.name.clone(), Some(extra.clone()))]).script;
    let b = big.prepare_update(vec![(extra.name.clone(), Some(extra))]).script;
    assert_eq!(a, b, "one added service renders the same script with 10 or 10,000 present");
}

#[test]
fn udp_node_port_endpoint_removal_is_stale_for_both_frontends() {
    let old = ServicePort {
        proto: Proto::Udp,
        node_port: Some(30053),
        ..svc("default/u:53", "10.96.0.40", 53, vec![ep("10.244.1.1", 53, true), ep("10.244.2.1", 53, false)])
    };
    let mut new = old.clone();
    new.endpoints.remove(1);
    let stale = stale_flows(Some(&old), Some(&new));
    let gone: Ipv4Addr = "10.244.2.1".parse().unwrap();
    assert_eq!(
        stale,
        vec![
            StaleFlow { frontend: Frontend::ClusterIp(old.cluster_ip, 53), endpoint: Some(gone) },
            StaleFlow { frontend: Frontend::NodePort(30053), endpoint: Some(gone) },
        ]
    );
    assert!(stale_flows(Some(&svc("d/t:1", "10.96.0.41", 1, vec![ep("10.244.1.1", 1, true)])), None).is_empty());
}

#[test]
fn a_udp_frontend_that_gets_its_first_endpoint_drops_its_unnated_flows() {
    let empty = ServicePort { proto: Proto::Udp, node_port: Some(30054), ..svc("d/u:53", "10.96.0.42", 53, vec![]) };
    let ready = ServicePort { endpoints: vec![ep("10.244.1.2", 53, false)], ..empty.clone() };
    let all = |f| StaleFlow { frontend: f, endpoint: None };
    let expected = vec![all(Frontend::ClusterIp(empty.cluster_ip, 53)), all(Frontend::NodePort(30054))];
    assert_eq!(stale_flows(Some(&empty), Some(&ready)), expected);
    assert_eq!(stale_flows(None, Some(&ready)), expected);
    // Already serving: nothing; TCP: nothing.
    assert!(stale_flows(Some(&ready), Some(&ready)).is_empty());
    let tcp = ServicePort { proto: Proto::Tcp, ..ready.clone() };
    assert!(stale_flows(None, Some(&tcp)).is_empty());
}

#[test]
fn every_rendered_element_fits_its_sets_declaration() {
    // What nfnetlink would send for a full table: each element encodes by its set's type.
    let (tx, _) = full_tx(&config(), None, &desired(sample()));
    let mut count = 0;
    for (name, adds) in &tx.add_elements {
        assert_eq!(name, &adds.set.name);
        for e in &adds.elements {
            crate::nftnl::encode(&adds.set, e).unwrap_or_else(|err| panic!("{err}"));
            count += 1;
        }
    }
    assert!(count > 20, "{count} elements");
}

fn drift() -> crate::monitor::TableDrift {
    crate::monitor::TableDrift::default()
}

/// The encoded key of the wanted element `key` of `set`, as a deletion notice carries it.
fn wanted_key(set: ElementSet, key: Vec<Part>) -> Vec<u8> {
    let (all, _) = all_contents(&desired(sample()));
    let value = all.elements[&set][&key].clone();
    crate::nftnl::encode(&set.declaration(), &Element { key, value }).unwrap().key
}

#[test]
fn a_deleted_wanted_element_alone_is_added_again() {
    let applied = desired(sample());
    let (_, shared) = all_contents(&applied);
    let web = vec![Part::Ipv4("10.96.0.16".parse().unwrap()), Part::Proto(Proto::Tcp), Part::Port(80)];
    let gone = vec![Part::Ipv4("10.96.9.9".parse().unwrap()), Part::Proto(Proto::Tcp), Part::Port(80)];
    let mut d = drift();
    d.elements.insert("service_ips".into(), [wanted_key(ElementSet::ServiceIps, web.clone())].into());
    let Repair::Elements(ops) = repair(&config(), &applied, &shared, &d) else { panic!("not an element repair") };
    assert_eq!(ops.len(), 1);
    assert_eq!((ops[0].0, ops[0].1.set.name.as_str()), (Op::Add, "service_ips"));
    assert_eq!(ops[0].1.elements.iter().map(|e| e.key.clone()).collect::<Vec<_>>(), vec![web]);

    // The echo of the proxier's own deletion (an element it no longer wants): nothing.
    let mut d = drift();
    let encoded =
        crate::nftnl::encode(&ElementSet::NoEndpoints.declaration(), &Element { key: gone, value: None }).unwrap().key;
    d.elements.insert("no_endpoints".into(), [encoded].into());
    assert!(matches!(repair(&config(), &applied, &shared, &d), Repair::Nothing));
}

#[test]
fn a_deleted_chain_comes_back_with_the_chains_that_jump_to_it() {
    let applied = desired(sample());
    let (_, shared) = all_contents(&applied);
    // `nft flush chain … nat_prerouting; flush chain … nat_output; delete chain … services`.
    let mut d = drift();
    d.chains.insert("services".into());
    d.rules.extend(["nat_prerouting", "nat_output", "services"].map(String::from));
    let Repair::Script(script) = repair(&config(), &applied, &shared, &d) else { panic!("not a script") };
    golden("repair_services.nft", &script);
    // A shared group's chain and map, deleted with the elements that went to it.
    let mut d = drift();
    d.chains.insert("lb_tcp_2".into());
    d.sets.insert("lb_slots_tcp_2".into());
    let Repair::Script(script) = repair(&config(), &applied, &shared, &d) else { panic!("not a script") };
    golden("repair_group.nft", &script);
}
