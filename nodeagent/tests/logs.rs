//! Pod logs through the API server: `GET …/pods/{name}/log` reaches the agent's log endpoint
//! (published in the Node status) with the hash of the node's token, and answers the end of
//! the container's log file. Admin only; the agent refuses anyone else. No root needed: the
//! agent's endpoint runs in this process, over a log file written by the test.

mod common;

use std::net::{Ipv4Addr, SocketAddr};

use common::*;
use openapi::client::{Client, LogParams};
use openapi::{Container, DaemonEndpoint, Node, NodeDaemonEndpoints, NodeStatus, ObjectMeta, Pod, PodSpec};

async fn register(cluster: &Cluster, name: &str, endpoint: Option<DaemonEndpoint>) -> Client {
    let token = cluster.admin.create_node_token(name).await.unwrap().token;
    let node_client = cluster.client(Some(token));
    let node = Node {
        metadata: ObjectMeta { name: name.into(), ..Default::default() },
        status: NodeStatus {
            daemon_endpoints: endpoint.map(|agent_endpoint| NodeDaemonEndpoints { agent_endpoint }),
            ..Default::default()
        },
        ..Default::default()
    };
    node_client.nodes().create(&node).await.unwrap();
    node_client
}

async fn pod_on(cluster: &Cluster, name: &str, node: &str, containers: &[&str]) -> Pod {
    let pod = Pod {
        metadata: ObjectMeta { name: name.into(), ..Default::default() },
        spec: PodSpec {
            node_name: Some(node.into()),
            containers: containers
                .iter()
                .map(|c| Container { name: c.to_string(), command: vec!["true".into()], ..Default::default() })
                .collect(),
            ..Default::default()
        },
        ..Default::default()
    };
    cluster.admin.pods("default").create(&pod).await.unwrap()
}

fn code(e: openapi::client::Error) -> Option<u16> {
    e.code()
}

#[tokio::test]
async fn pod_logs_are_read_through_the_agent_by_the_admin_only() {
    let cluster = Cluster::start(20).await;
    let data = tempfile::tempdir().unwrap();
    // The agent's token is the one minted for it: start its endpoint with it.
    let token = cluster.admin.create_node_token("n1").await.unwrap().token;
    let endpoint =
        nodeagent::logs::start("127.0.0.1:0".parse().unwrap(), Ipv4Addr::LOCALHOST, &token, data.path().into())
            .await
            .unwrap();
    // A second token of the same node (an earlier run's): the server tries each.
    let node_client = register(&cluster, "n1", Some(endpoint.clone())).await;
    let pod = pod_on(&cluster, "web", "n1", &["main"]).await;
    let uid = pod.metadata.uid.clone().unwrap();
    let dir = data.path().join("pods").join(&uid);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.log"), "one\ntwo\nthree\n").unwrap();

    let pods = &cluster.admin;
    let all = pods.pod_log("default", "web", &LogParams::default()).await.unwrap();
    assert_eq!(all, "one\ntwo\nthree\n");
    let last = LogParams { container: Some("main".into()), tail_lines: Some(2) };
    assert_eq!(pods.pod_log("default", "web", &last).await.unwrap(), "two\nthree\n");

    // Unknown container, unknown pod.
    let other = LogParams { container: Some("nope".into()), ..Default::default() };
    assert_eq!(code(pods.pod_log("default", "web", &other).await.unwrap_err()), Some(400));
    assert_eq!(code(pods.pod_log("default", "gone", &LogParams::default()).await.unwrap_err()), Some(404));

    // Not the admin: anonymous 401, the node's own token 403.
    let anonymous = cluster.client(None);
    assert_eq!(code(anonymous.pod_log("default", "web", &LogParams::default()).await.unwrap_err()), Some(401));
    assert_eq!(code(node_client.pod_log("default", "web", &LogParams::default()).await.unwrap_err()), Some(403));

    // The agent answers only the hash of its token: not the token, not nothing.
    let url = format!(
        "http://{}/pods/{uid}/containers/main/log",
        SocketAddr::from((endpoint.address.unwrap().parse::<Ipv4Addr>().unwrap(), endpoint.port))
    );
    let http = reqwest::Client::new();
    assert_eq!(http.get(&url).send().await.unwrap().status(), 401);
    assert_eq!(http.get(&url).bearer_auth(&token).send().await.unwrap().status(), 401);
    let traversal = url.replace(&uid, "..");
    assert_ne!(http.get(&traversal).send().await.unwrap().status(), 200);

    // A container that has not written yet: 404; a node without an endpoint: 503.
    pod_on(&cluster, "quiet", "n1", &["main"]).await;
    assert_eq!(code(pods.pod_log("default", "quiet", &LogParams::default()).await.unwrap_err()), Some(404));
    register(&cluster, "n2", None).await;
    pod_on(&cluster, "elsewhere", "n2", &["a", "b"]).await;
    let b = LogParams { container: Some("b".into()), ..Default::default() };
    assert_eq!(code(pods.pod_log("default", "elsewhere", &b).await.unwrap_err()), Some(503));
    // Two containers and none named: 400, naming them.
    let err = pods.pod_log("default", "elsewhere", &LogParams::default()).await.unwrap_err();
    assert_eq!(code(err), Some(400));
}
