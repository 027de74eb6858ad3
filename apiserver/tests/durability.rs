//! An acknowledged write survives a restart: every object, the revision, the history, the
//! allocations and the node tokens are there when the store is opened again on the same
//! directory. Each "process" is its own tokio runtime, dropped at the end like a process
//! exit (the writer task and every connection go with it).

mod common;

use std::sync::Arc;

use common::*;
use openapi::{Endpoints, Node, NodeLease, Pod, Service};
use serde_json::json;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

struct Before {
    node: Node,
    lease: NodeLease,
    pod: Pod,
    service: Service,
    endpoints: Endpoints,
    revision: i64,
    token: String,
    history: Vec<WatchLine>,
}

#[test]
fn acknowledged_writes_survive_a_restart() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let clock = ManualClock::default();

    let rt = runtime();
    let before = rt.block_on(async {
        let srv = TestServer::builder().dir(dir.clone()).clock(clock.clone()).start().await;
        srv.ready_node("n1", "192.168.50.1").await;
        let token = srv.node_token("n1").await;
        srv.create_service(service("web").selector(&[("app", "web")]).port(80, 8080).node_port(30080)).await;
        srv.create_pod(pod("web-1").labels(&[("app", "web")])).await;
        srv.create_pod(pod("gone").labels(&[("app", "web")])).await;
        srv.delete(&pod_path("gone")).await.ok::<Pod>();
        // The last write before the "crash": acknowledged, then the process is gone.
        let pod = srv.set_pod_ready("web-1").await;
        let history = srv.watch("/api/v1/pods?watch=true&resourceVersion=1&timeoutSeconds=0").await;
        assert_eq!(history.len(), 4);
        Before {
            node: srv.node("n1").await,
            lease: srv.lease("n1").await.ok(),
            service: srv.get(&service_path("web")).await.ok(),
            endpoints: srv.endpoints("web").await,
            revision: srv.revision(),
            pod,
            token,
            history,
        }
    });
    // The endpoints update of the last write was the last revision.
    assert_eq!(rv_of(&before.endpoints), before.revision);
    drop(rt);

    let rt = runtime();
    rt.block_on(async {
        let srv = TestServer::builder().dir(dir.clone()).clock(clock.clone()).start().await;
        assert_eq!(srv.revision(), before.revision);
        let list = srv.pods("/api/v1/pods").await;
        assert_eq!(list.metadata.resource_version, before.revision.to_string());
        assert_eq!(list.items, vec![before.pod.clone()]);
        assert_eq!(srv.pod("web-1").await, before.pod);
        assert_eq!(srv.node("n1").await, before.node);
        assert_eq!(srv.lease("n1").await.ok::<NodeLease>(), before.lease);
        assert_eq!(srv.get(&service_path("web")).await.ok::<Service>(), before.service);
        assert_eq!(srv.endpoints("web").await, before.endpoints);
        assert_eq!(endpoint_pods(&before.endpoints), (strings(&["web-1"]), vec![]));
        srv.get(&pod_path("gone")).await.error(404, "NotFound", None);
        // The history is kept across the restart: a watch resumes from before it.
        let history = srv.watch("/api/v1/pods?watch=true&resourceVersion=1&timeoutSeconds=0").await;
        assert_eq!(history, before.history);

        // The node token still works, and only for its node.
        let hb = Req::post("/api/v1/nodes/n1/heartbeat").json(&json!({})).token(&before.token);
        srv.send(hb).await.ok::<NodeLease>();
        let other = Req::post("/api/v1/nodes/n2/heartbeat").json(&json!({})).token(&before.token);
        srv.send(other).await.error(403, "Forbidden", None);

        // Revisions continue, and allocations were kept: nothing is handed out twice.
        let p2 = srv.create_pod(pod("web-2")).await;
        assert_eq!(rv_of(&p2), srv.revision());
        assert!(rv_of(&p2) > before.revision);
        assert_ne!(p2.status.pod_ip, before.pod.status.pod_ip);
        let s2 = srv.create_service(service("other").port(80, 80).node_port_type()).await;
        assert_ne!(s2.spec.cluster_ip, before.service.spec.cluster_ip);
        assert_ne!(s2.spec.ports[0].node_port, Some(30080));
        let taken: Service =
            service("dup").port(80, 80).cluster_ip(before.service.spec.cluster_ip.as_deref().unwrap()).into();
        srv.post(&format!("/api/v1/namespaces/{NS}/services"), &taken).await.error(
            422,
            "Invalid",
            Some("spec.clusterIP"),
        );
        srv.post("/api/v1/nodes", &Node::from(node("n1"))).await.error(409, "AlreadyExists", None);
        let n2 = srv.create_node(node("n2")).await;
        assert_eq!(n2.spec.pod_cidr.as_deref(), Some("10.244.1.0/24"));
    });
}
