//! Namespaces as objects (initial ones, the server's name label, creation on first use, the
//! cascade on delete) and the network policy kinds (NetworkPolicy, AdminNetworkPolicy,
//! BaselineAdminNetworkPolicy): their paths, round trips and validation.

mod common;

use common::*;
use openapi::{AdminNetworkPolicy, Endpoints, List, Namespace, NetworkPolicy, Pod, Service};
use serde_json::json;

const NAME_LABEL: &str = "kubernetes.io/metadata.name";

#[tokio::test]
async fn initial_namespaces_exist_and_carry_their_name_label() {
    let srv = TestServer::start().await;
    let list: List<Namespace> = srv.get("/api/v1/namespaces").await.ok();
    let names: Vec<&str> = list.items.iter().map(|n| n.metadata.name.as_str()).collect();
    assert_eq!(names, ["default", "kube-node-lease", "kube-system"]);
    for ns in &list.items {
        assert_eq!(ns.metadata.labels[NAME_LABEL], ns.metadata.name);
        assert_eq!(ns.status.phase.as_deref(), Some("Active"));
    }
    // The initial namespaces may not be deleted.
    srv.delete("/api/v1/namespaces/default").await.error(403, "Forbidden", None);
    srv.delete("/api/v1/namespaces/kube-system").await.error(403, "Forbidden", None);
    srv.delete("/api/v1/namespaces/kube-node-lease").await.error(403, "Forbidden", None);
}

#[tokio::test]
async fn the_server_owns_the_name_label() {
    let srv = TestServer::start().await;
    let body = json!({"metadata": {"name": "team-a", "labels": {"env": "prod", NAME_LABEL: "lies"}}});
    let ns: Namespace = srv.post("/api/v1/namespaces", &body).await.ok();
    assert_eq!(ns.api_version, "v1");
    assert_eq!(ns.metadata.labels[NAME_LABEL], "team-a");
    assert_eq!(ns.metadata.labels["env"], "prod");
    let mut changed = ns.clone();
    changed.metadata.labels.remove(NAME_LABEL);
    changed.metadata.labels.insert("env".into(), "dev".into());
    let ns: Namespace = srv.put("/api/v1/namespaces/team-a", &changed).await.ok();
    assert_eq!(ns.metadata.labels[NAME_LABEL], "team-a");
    assert_eq!(ns.metadata.labels["env"], "dev");
    // Selectable by the label, as a policy's namespaceSelector would.
    let list: List<Namespace> = srv.get("/api/v1/namespaces?labelSelector=env%3Ddev").await.ok();
    assert_eq!(list.items.len(), 1);
    srv.post("/api/v1/namespaces", &json!({"metadata": {"name": "Bad_Name"}})).await.error(
        422,
        "Invalid",
        Some("metadata.name"),
    );
    srv.post("/api/v1/namespaces", &json!({"metadata": {"name": "team-a"}})).await.error(409, "AlreadyExists", None);
}

#[tokio::test]
async fn an_object_in_a_missing_namespace_creates_it() {
    let srv = TestServer::start().await;
    srv.ready_node("n1", "192.168.50.1").await;
    srv.create_pod(pod("a").namespace("fresh")).await;
    let ns: Namespace = srv.get("/api/v1/namespaces/fresh").await.ok();
    assert_eq!(ns.metadata.labels[NAME_LABEL], "fresh");
    let np = json!({"metadata": {"name": "deny"}, "spec": {"podSelector": {}}});
    srv.post("/apis/networking.k8s.io/v1/namespaces/other/networkpolicies", &np).await.expect(201);
    srv.get("/api/v1/namespaces/other").await.expect(200);
}

#[tokio::test]
async fn deleting_a_namespace_deletes_what_is_in_it() {
    let srv = TestServer::start().await;
    srv.ready_node("n1", "192.168.50.1").await;
    srv.post("/api/v1/namespaces", &json!({"metadata": {"name": "doomed"}})).await.expect(201);
    let a: Pod = srv.create_pod(pod("a").namespace("doomed").labels(&[("app", "web")])).await;
    srv.create_pod(pod("b").labels(&[("app", "web")])).await;
    let svc = json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "type": "NodePort",
        "ports": [{"port": 80, "targetPort": 8080}]}});
    let svc: Service = srv.post("/api/v1/namespaces/doomed/services", &svc).await.ok();
    let np = json!({"metadata": {"name": "deny"}, "spec": {"podSelector": {}}});
    srv.post("/apis/networking.k8s.io/v1/namespaces/doomed/networkpolicies", &np).await.expect(201);

    srv.delete("/api/v1/namespaces/doomed").await.expect(200);
    srv.get("/api/v1/namespaces/doomed").await.error(404, "NotFound", None);
    srv.get("/api/v1/namespaces/doomed/pods/a").await.error(404, "NotFound", None);
    srv.get("/api/v1/namespaces/doomed/services/web").await.error(404, "NotFound", None);
    srv.get("/api/v1/namespaces/doomed/endpoints/web").await.error(404, "NotFound", None);
    srv.get("/apis/networking.k8s.io/v1/namespaces/doomed/networkpolicies/deny").await.error(404, "NotFound", None);
    // Other namespaces keep theirs.
    srv.get("/api/v1/namespaces/default/pods/b").await.expect(200);

    // What the deleted objects held is free again: the same cluster IP, node port and pod IP
    // can be had.
    let again = json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "type": "NodePort",
        "clusterIP": svc.spec.cluster_ip, "ports": [{"port": 80, "targetPort": 8080, "nodePort": svc.spec.ports[0].node_port}]}});
    srv.post("/api/v1/namespaces/default/services", &again).await.expect(201);
    let ep: Endpoints = srv.endpoints("web").await;
    let ips: Vec<&str> = ep.subsets.iter().flat_map(|s| s.addresses.iter().map(|a| a.ip.as_str())).collect();
    assert!(!ips.contains(&a.status.pod_ip.as_deref().unwrap()), "{ips:?}");
}

#[tokio::test]
async fn network_policies_round_trip_in_kubernetes_shape() {
    let srv = TestServer::start().await;
    let body = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "web-allow"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "web"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{
                "from": [
                    {"podSelector": {"matchExpressions": [{"key": "role", "operator": "In", "values": ["client"]}]},
                     "namespaceSelector": {"matchLabels": {"team": "a"}}},
                    {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}
                ],
                "ports": [{"protocol": "TCP", "port": 80, "endPort": 90}, {"port": "http"}, {"protocol": "UDP"}]
            }],
            "egress": [{"to": [{"namespaceSelector": {}}], "ports": [{"protocol": "UDP", "port": 53}]}]
        }
    });
    let created = srv.post("/apis/networking.k8s.io/v1/namespaces/default/networkpolicies", &body).await.expect(201);
    assert_eq!(created["spec"], body["spec"]);
    let np: NetworkPolicy =
        srv.get("/apis/networking.k8s.io/v1/namespaces/default/networkpolicies/web-allow").await.ok();
    assert_eq!(np.metadata.namespace.as_deref(), Some("default"));
    let all: List<NetworkPolicy> = srv.get("/apis/networking.k8s.io/v1/networkpolicies").await.ok();
    assert_eq!(all.items.len(), 1);
    assert_eq!(all.kind, "NetworkPolicyList");
    srv.delete("/apis/networking.k8s.io/v1/namespaces/default/networkpolicies/web-allow").await.expect(200);
}

/// Each malformed policy is answered 422 naming the field.
#[tokio::test]
async fn malformed_network_policies_are_rejected_with_the_field() {
    let srv = TestServer::start().await;
    let cases = [
        (
            json!({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Has"}]}}),
            "spec.podSelector.matchExpressions[0].operator",
        ),
        (
            json!({"podSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}),
            "spec.podSelector.matchExpressions[0].values",
        ),
        (json!({"podSelector": {"matchLabels": {"-bad": "x"}}}), "spec.podSelector.matchLabels[-bad]"),
        (
            json!({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}]}),
            "spec.ingress[0].from[0].ipBlock.cidr",
        ),
        (
            json!({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16"]}}]}]}),
            "spec.ingress[0].from[0].ipBlock.except[0]",
        ),
        (
            json!({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}]}),
            "spec.ingress[0].from[0].ipBlock",
        ),
        (json!({"ingress": [{"from": [{}]}]}), "spec.ingress[0].from[0]"),
        (json!({"ingress": [{"ports": [{"port": 0}]}]}), "spec.ingress[0].ports[0].port"),
        (json!({"ingress": [{"ports": [{"port": "Not_A_Name"}]}]}), "spec.ingress[0].ports[0].port"),
        (json!({"egress": [{"ports": [{"endPort": 90}]}]}), "spec.egress[0].ports[0].endPort"),
        (json!({"egress": [{"ports": [{"port": 90, "endPort": 80}]}]}), "spec.egress[0].ports[0].endPort"),
        (json!({"egress": [{"ports": [{"port": "http", "endPort": 80}]}]}), "spec.egress[0].ports[0].endPort"),
        (json!({"policyTypes": ["Ingress", "Ingress"]}), "spec.policyTypes[1]"),
    ];
    for (spec, field) in cases {
        let body = json!({"metadata": {"name": "p"}, "spec": spec});
        srv.post("/apis/networking.k8s.io/v1/namespaces/default/networkpolicies", &body).await.error(
            422,
            "Invalid",
            Some(field),
        );
    }
    // An unknown field or an unknown protocol is a malformed body.
    let body = json!({"metadata": {"name": "p"}, "spec": {"podSelektor": {}}});
    srv.post("/apis/networking.k8s.io/v1/namespaces/default/networkpolicies", &body).await.error(
        400,
        "BadRequest",
        None,
    );
}

#[tokio::test]
async fn admin_network_policies_are_cluster_scoped_and_validated() {
    let srv = TestServer::start().await;
    let base = "/apis/policy.networking.k8s.io/v1alpha1/adminnetworkpolicies";
    let body = json!({
        "metadata": {"name": "deny-z"},
        "spec": {
            "priority": 10,
            "subject": {"namespaces": {"matchLabels": {NAME_LABEL: "x"}}},
            "ingress": [
                {"name": "pass-y", "action": "Pass", "from": [{"namespaces": {"matchLabels": {NAME_LABEL: "y"}}}]},
                {"name": "deny-z", "action": "Deny",
                 "from": [{"pods": {"namespaceSelector": {}, "podSelector": {"matchLabels": {"pod": "z"}}}}],
                 "ports": [{"portNumber": {"protocol": "TCP", "port": 80}}, {"namedPort": "http"},
                           {"portRange": {"protocol": "UDP", "start": 1000, "end": 2000}}]}
            ],
            "egress": [{"action": "Allow", "to": [{"networks": ["192.168.0.0/16"]}]}]
        }
    });
    let created = srv.post(base, &body).await.expect(201);
    assert_eq!(created["spec"], body["spec"]);
    assert_eq!(created["apiVersion"], "policy.networking.k8s.io/v1alpha1");
    let anp: AdminNetworkPolicy = srv.get(&format!("{base}/deny-z")).await.ok();
    assert_eq!(anp.metadata.namespace, None);

    let cases = [
        (json!({"priority": 1001, "subject": {"namespaces": {}}}), "spec.priority"),
        (json!({"priority": 1, "subject": {}}), "spec.subject"),
        (
            json!({"priority": 1, "subject": {"namespaces": {}}, "ingress": [{"action": "Deny", "from": []}]}),
            "spec.ingress[0].from",
        ),
        (
            json!({"priority": 1, "subject": {"namespaces": {}}, "ingress": [{"action": "Deny", "from": [{"networks": ["10.0.0.0/8"]}]}]}),
            "spec.ingress[0].from[0].networks",
        ),
        (
            json!({"priority": 1, "subject": {"namespaces": {}}, "egress": [{"action": "Deny", "to": [{"networks": ["10.0.0.0"]}]}]}),
            "spec.egress[0].to[0].networks[0]",
        ),
        (
            json!({"priority": 1, "subject": {"namespaces": {}}, "egress": [{"action": "Deny", "to": [{"namespaces": {}}], "ports": [{"portRange": {"start": 9, "end": 8}}]}]}),
            "spec.egress[0].ports[0].portRange.end",
        ),
        (
            json!({"priority": 1, "subject": {"namespaces": {}}, "egress": [{"action": "Deny", "to": [{"namespaces": {}}], "ports": [{}]}]}),
            "spec.egress[0].ports[0]",
        ),
    ];
    for (spec, field) in cases {
        srv.post(base, &json!({"metadata": {"name": "bad"}, "spec": spec})).await.error(422, "Invalid", Some(field));
    }

    let banp = "/apis/policy.networking.k8s.io/v1alpha1/baselineadminnetworkpolicies";
    let pass = json!({"subject": {"namespaces": {}}, "ingress": [{"action": "Pass", "from": [{"namespaces": {}}]}]});
    srv.post(banp, &json!({"metadata": {"name": "default"}, "spec": pass})).await.error(
        422,
        "Invalid",
        Some("spec.ingress[0].action"),
    );
    let deny = json!({"subject": {"namespaces": {}}, "ingress": [{"action": "Deny", "from": [{"namespaces": {}}]}]});
    srv.post(banp, &json!({"metadata": {"name": "other"}, "spec": deny})).await.error(
        422,
        "Invalid",
        Some("metadata.name"),
    );
    srv.post(banp, &json!({"metadata": {"name": "default"}, "spec": deny})).await.expect(201);
}

/// The policy counters: each node reports its own (a node token, for its node only), the
/// server sums them per rule (readable by the viewer), a new report replaces the node's
/// last, and a report names a policy kind, direction and action (422 with the field).
#[tokio::test]
async fn policy_counters_are_reported_per_node_and_summed() {
    let srv = TestServer::start().await;
    srv.ready_node("n1", "192.168.50.1").await;
    srv.ready_node("n2", "192.168.50.2").await;
    let (t1, t2) = (srv.node_token("n1").await, srv.node_token("n2").await);
    let counter = |name: &str, rule: Option<u32>, action: &str, packets: u64| {
        let mut c = json!({"kind": "NetworkPolicy", "namespace": "x", "name": name, "direction": "Ingress",
            "action": action, "packets": packets, "bytes": packets * 60});
        if let Some(r) = rule {
            c["rule"] = json!(r);
        }
        c
    };
    let report = |items: Vec<serde_json::Value>| json!({ "items": items });
    let put = |node: &str, token: &str, body: serde_json::Value| {
        Req::put(&format!("/api/v1/nodes/{node}/policycounters")).json(&body).token(token)
    };
    srv.send(put("n1", &t1, report(vec![counter("deny", None, "Deny", 5), counter("web", Some(0), "Allow", 2)])))
        .await
        .ok::<serde_json::Value>();
    srv.send(put("n2", &t2, report(vec![counter("deny", None, "Deny", 7)]))).await.ok::<serde_json::Value>();
    // A node may not report for another.
    srv.send(put("n1", &t2, report(vec![]))).await.error(403, "Forbidden", None);
    // Nor for a node that does not exist (the admin may write any node's).
    srv.send(put("ghost", ADMIN, report(vec![]))).await.error(404, "NotFound", None);

    let sum = |v: &serde_json::Value, name: &str, action: &str| -> u64 {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["name"] == name && c["action"] == action)
            .map(|c| c["packets"].as_u64().unwrap())
            .sum()
    };
    let all: serde_json::Value = srv.send(Req::get("/api/v1/policycounters").token(VIEWER)).await.ok();
    assert_eq!((sum(&all, "deny", "Deny"), sum(&all, "web", "Allow")), (12, 2), "{all}");
    assert_eq!(all["items"].as_array().unwrap().len(), 2, "one item per rule: {all}");
    // A new report replaces the node's last one.
    srv.send(put("n1", &t1, report(vec![counter("deny", None, "Deny", 6)]))).await.ok::<serde_json::Value>();
    let all: serde_json::Value = srv.get("/api/v1/policycounters").await.ok();
    assert_eq!((sum(&all, "deny", "Deny"), sum(&all, "web", "Allow")), (13, 0), "{all}");
    // And /metrics shows the sums.
    let metrics = srv.get("/metrics").await;
    assert!(metrics.text().contains(
        "flatnet_policy_packets_total{kind=\"NetworkPolicy\",namespace=\"x\",name=\"deny\",direction=\"Ingress\",rule=\"isolation\",action=\"Deny\"} 13"
    ), "{}", metrics.text());

    // Validation: 422 naming the field.
    let mut bad = counter("deny", None, "Deny", 1);
    bad["direction"] = json!("Sideways");
    srv.send(put("n1", &t1, report(vec![bad]))).await.error(422, "Invalid", Some("items[0].direction"));
    let mut bad = counter("deny", None, "Deny", 1);
    bad.as_object_mut().unwrap().remove("namespace");
    srv.send(put("n1", &t1, report(vec![bad]))).await.error(422, "Invalid", Some("items[0].namespace"));
    let mut bad = counter("Bad_Name", None, "Deny", 1);
    bad["kind"] = json!("AdminNetworkPolicy");
    bad.as_object_mut().unwrap().remove("namespace");
    srv.send(put("n1", &t1, report(vec![bad]))).await.error(422, "Invalid", Some("items[0].name"));
}
