//! Pod logs, the Kubernetes way: `GET /api/v1/namespaces/{ns}/pods/{name}/log` reads a
//! container's log through the agent of the pod's node, at the endpoint that agent publishes
//! in its Node status (`status.daemonEndpoints.agentEndpoint`, like the kubelet's).
//!
//! Logs may hold secrets: reading them needs the admin token. The server proves itself to
//! the agent with the SHA-256 of the node's token (`nodeagent::logs`): only the server holds
//! it (tokens are stored as hashes), and it is worth nothing against the API.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use openapi::{Node, Pod, Resource};
use serde::Deserialize;

use crate::api::{span_name, span_namespace, Authenticated};
use crate::error::{ApiError, ApiResult};
use crate::store::Kind;
use crate::AppState;

/// The most a log read answers (its last bytes), as the agent caps it too.
pub const MAX_LOG_BYTES: u64 = 4 << 20;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogQuery {
    container: Option<String>,
    tail_lines: Option<u64>,
    limit_bytes: Option<u64>,
}

fn agent_client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("build the agent HTTP client")
    })
}

pub(crate) async fn get<K: serde::de::DeserializeOwned>(
    st: &AppState,
    kind: Kind,
    namespace: &str,
    name: &str,
) -> ApiResult<Option<K>> {
    match st.store.get_raw(kind, namespace, name).await? {
        Some(body) => {
            serde_json::from_str(&body).map(Some).map_err(|e| ApiError::internal("decode a stored object", e))
        }
        None => Ok(None),
    }
}

/// The container to read: the one asked for, or the pod's only one.
pub(crate) fn choose_container(pod: &Pod, asked: Option<String>) -> ApiResult<String> {
    let names: Vec<&str> = pod.spec.containers.iter().map(|c| c.name.as_str()).collect();
    match asked {
        Some(c) if names.contains(&c.as_str()) => Ok(c),
        Some(c) => Err(ApiError::bad_request(format!(
            "container {c:?} is not in pod {:?}: one of {names:?}",
            pod.metadata.name
        ))),
        None if names.len() == 1 => Ok(names[0].to_string()),
        None => Err(ApiError::bad_request(format!("a container name must be given (?container=): one of {names:?}"))),
    }
}

/// Where the agent of a pod's node listens.
pub(crate) struct AgentAddr {
    pub node: String,
    pub host: String,
    pub port: u16,
}

/// The agent endpoint of `pod`'s node, from the Node's `status.daemonEndpoints`;
/// `unbound` says what a pod not bound to a node yet lacks (for the error).
pub(crate) async fn agent_of(st: &AppState, pod: &Pod, unbound: &str) -> ApiResult<AgentAddr> {
    let name = &pod.metadata.name;
    let node_name = pod
        .spec
        .node_name
        .clone()
        .ok_or_else(|| ApiError::bad_request(format!("pod {name:?} is not bound to a node yet: {unbound}")))?;
    let node: Node = get(st, Node::INFO, "", &node_name)
        .await?
        .ok_or_else(|| ApiError::unavailable(format!("node {node_name:?} of pod {name:?} is not registered")))?;
    let endpoint = node.status.daemon_endpoints.as_ref().map(|d| &d.agent_endpoint).ok_or_else(|| {
        ApiError::unavailable(format!("node {node_name:?} publishes no agent endpoint (status.daemonEndpoints)"))
    })?;
    let host = endpoint
        .address
        .as_deref()
        .or_else(|| node.internal_ip())
        .ok_or_else(|| ApiError::unavailable(format!("node {node_name:?} has no address for its agent")))?
        .to_string();
    Ok(AgentAddr { node: node_name, host, port: endpoint.port })
}

/// `GET /api/v1/namespaces/{ns}/pods/{name}/log?container=&tailLines=&limitBytes=`.
#[tracing::instrument(skip_all, fields(kind = Pod::KIND, namespace = span_namespace(&p), name = span_name(&p)))]
pub async fn pod_log(
    State(st): State<AppState>,
    Path(p): Path<HashMap<String, String>>,
    Authenticated(caller): Authenticated,
    query: Result<Query<LogQuery>, QueryRejection>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let (namespace, name) =
        (p.get("namespace").cloned().unwrap_or_default(), p.get("name").cloned().unwrap_or_default());
    let pod: Pod = get(&st, Pod::INFO, &namespace, &name).await?.ok_or_else(|| ApiError::not_found("Pod", &name))?;
    let container = choose_container(&pod, q.container)?;
    let agent = agent_of(&st, &pod, "it has no log").await?;
    let (node_name, host) = (&agent.node, &agent.host);
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let url = format!("http://{host}:{}/pods/{uid}/containers/{container}/log", agent.port);
    let mut params = vec![("limitBytes", q.limit_bytes.unwrap_or(MAX_LOG_BYTES).min(MAX_LOG_BYTES).to_string())];
    if let Some(n) = q.tail_lines {
        params.push(("tailLines", n.to_string()));
    }
    // A node may hold several tokens (one per `flatnet up`, say); its agent knows one.
    for key in st.store.node_token_hashes(node_name) {
        let resp = agent_client().get(&url).bearer_auth(&key).query(&params).send().await.map_err(|e| {
            ApiError::bad_gateway(format!("the agent of node {node_name:?} at {host}:{}: {e}", agent.port))
        })?;
        match resp.status() {
            StatusCode::UNAUTHORIZED => continue,
            StatusCode::NOT_FOUND => {
                return Err(ApiError::not_found("log of container", &format!("{name}/{container}")));
            }
            status if status.is_success() => {
                let body = resp.bytes().await.map_err(|e| {
                    ApiError::bad_gateway(format!("read the log from the agent of node {node_name:?}: {e}"))
                })?;
                return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response());
            }
            status => {
                return Err(ApiError::bad_gateway(format!("the agent of node {node_name:?} answered {status}")));
            }
        }
    }
    Err(ApiError::bad_gateway(format!("the agent of node {node_name:?} accepted none of the node's tokens")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openapi::{Container, ObjectMeta, PodSpec};

    fn pod(containers: &[&str]) -> Pod {
        Pod {
            metadata: ObjectMeta { name: "p".into(), ..Default::default() },
            spec: PodSpec {
                containers: containers
                    .iter()
                    .map(|n| Container { name: n.to_string(), ..Default::default() })
                    .collect(),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn the_only_container_is_the_default_and_others_must_be_named() {
        assert_eq!(choose_container(&pod(&["web"]), None).unwrap(), "web");
        assert_eq!(choose_container(&pod(&["a", "b"]), Some("b".into())).unwrap(), "b");
        let err = choose_container(&pod(&["a", "b"]), None).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(err.message.contains("\"a\", \"b\""), "{}", err.message);
        assert!(choose_container(&pod(&["a"]), Some("zz".into())).unwrap_err().message.contains("zz"));
    }
}
