//! `kubectl exec`: `GET|POST /api/v1/namespaces/{ns}/pods/{name}/exec?command=…&stdin=…&
//! stdout=…&stderr=…&tty=…&container=…`, upgraded to a websocket with Kubernetes' channel
//! subprotocol `v5.channel.k8s.io` (or `v4.channel.k8s.io`), and proxied message by message
//! to the exec endpoint of the agent of the pod's node (`nodeagent::exec`), which runs the
//! command in the container's namespaces and speaks the same protocol.
//!
//! kubectl 1.32 tries a websocket first (GET) and falls back to SPDY (POST with `Upgrade:
//! SPDY/3.1`) when the websocket upgrade is refused, whatever the reason. flatnet serves
//! websockets only: every error is answered before the upgrade as a `Status` (so kubectl's
//! SPDY retry gets the same answer and prints the server's message), and a request that is
//! valid but no websocket upgrade is refused with 400. The agent is reached first, so an
//! agent that refuses (a container not running) is a `Status` too, not a broken stream.
//!
//! Exec is as powerful as a shell in every pod: it needs the admin token (viewer and node
//! tokens are refused). No terminal is offered (`tty=true` is refused): `kubectl exec -i`
//! works, `-t` does not.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use openapi::{Pod, Resource};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message as AgentMessage};
use tokio_tungstenite::WebSocketStream;

use crate::api::{span_name, span_namespace, Authenticated};
use crate::error::{ApiError, ApiResult};
use crate::logs::{agent_of, choose_container, get, AgentAddr};
use crate::AppState;

/// The channel subprotocols served, best first (the agent serves the same).
pub const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// How long reaching the agent and its websocket handshake may take.
const AGENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The query kubectl sends, checked before anything runs.
#[derive(Debug, PartialEq, Eq)]
struct ExecQuery {
    command: Vec<String>,
    container: Option<String>,
    stdin: bool,
    stdout: bool,
    stderr: bool,
}

/// A boolean as Go's `strconv.ParseBool` (and so Kubernetes) reads it.
fn parse_bool(key: &str, value: &str) -> ApiResult<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(ApiError::bad_request(format!("{key}={value:?} is not a boolean"))),
    }
}

impl ExecQuery {
    fn parse(pairs: &[(String, String)]) -> ApiResult<ExecQuery> {
        let mut q = ExecQuery { command: Vec::new(), container: None, stdin: false, stdout: false, stderr: false };
        for (key, value) in pairs {
            match key.as_str() {
                "command" => q.command.push(value.clone()),
                "container" => q.container = Some(value.clone()),
                "stdin" => q.stdin = parse_bool(key, value)?,
                "stdout" => q.stdout = parse_bool(key, value)?,
                "stderr" => q.stderr = parse_bool(key, value)?,
                "tty" if parse_bool(key, value)? => {
                    return Err(ApiError::bad_request(
                        "a terminal (tty=true, kubectl exec -t) is not supported: use kubectl exec -i without -t",
                    ));
                }
                _ => {} // tty=false, and what other clients add
            }
        }
        if q.command.is_empty() || q.command[0].is_empty() {
            return Err(ApiError::bad_request("you must specify at least one command for the container"));
        }
        if q.command.iter().any(|a| a.contains('\0')) {
            return Err(ApiError::bad_request("a command argument holds a NUL byte"));
        }
        if !(q.stdin || q.stdout || q.stderr) {
            return Err(ApiError::bad_request("you must specify at least one of stdin, stdout, stderr"));
        }
        Ok(q)
    }
}

/// The first of [`PROTOCOLS`] the client offers.
fn choose_protocol<'a>(offered: impl Iterator<Item = &'a HeaderValue>) -> Option<&'static str> {
    let offered: Vec<&str> =
        offered.filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim).collect();
    PROTOCOLS.into_iter().find(|p| offered.contains(p))
}

/// Open the websocket to the agent's exec endpoint, trying each of the node's token hashes
/// (a node may hold several; its agent knows one).
async fn connect_agent(
    st: &AppState,
    agent: &AgentAddr,
    uid: &str,
    container: &str,
    q: &ExecQuery,
    protocol: &'static str,
) -> ApiResult<WebSocketStream<TcpStream>> {
    let (node, host, port) = (&agent.node, &agent.host, agent.port);
    let mut url = reqwest::Url::parse(&format!("ws://{host}:{port}/pods/{uid}/containers/{container}/exec"))
        .map_err(|e| ApiError::bad_gateway(format!("the agent address of node {node:?}: {e}")))?;
    {
        let mut pairs = url.query_pairs_mut();
        for arg in &q.command {
            pairs.append_pair("command", arg);
        }
        pairs.append_pair("stdin", &q.stdin.to_string());
        pairs.append_pair("stdout", &q.stdout.to_string());
        pairs.append_pair("stderr", &q.stderr.to_string());
    }
    let unreachable =
        |e: &dyn std::fmt::Display| ApiError::bad_gateway(format!("the agent of node {node:?} at {host}:{port}: {e}"));
    for key in st.store.node_token_hashes(node) {
        let mut request = url.as_str().into_client_request().map_err(|e| unreachable(&e))?;
        let headers = request.headers_mut();
        headers.insert(header::AUTHORIZATION, format!("Bearer {key}").parse().map_err(|e| unreachable(&e))?);
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(protocol));
        let handshake = async {
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tokio_tungstenite::client_async(request, tcp).await.map_err(Into::into)
        };
        let outcome: Result<_, Box<dyn std::error::Error + Send + Sync>> =
            match tokio::time::timeout(AGENT_TIMEOUT, handshake).await {
                Ok(r) => r,
                Err(_) => Err("no answer in time".into()),
            };
        let error = match outcome {
            Ok((socket, _)) => return Ok(socket),
            Err(e) => e,
        };
        let Some(tungstenite::Error::Http(resp)) = error.downcast_ref::<tungstenite::Error>() else {
            return Err(unreachable(&error));
        };
        let text = resp.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default().trim().to_string();
        match resp.status() {
            StatusCode::UNAUTHORIZED => continue,
            // The container is not running (409) or the agent refused the command (400).
            StatusCode::CONFLICT | StatusCode::BAD_REQUEST => {
                return Err(ApiError::bad_request(format!("exec in container {container:?}: {text}")));
            }
            status => {
                return Err(ApiError::bad_gateway(format!("the agent of node {node:?} answered {status}: {text}")))
            }
        }
    }
    Err(ApiError::bad_gateway(format!("the agent of node {node:?} accepted none of the node's tokens")))
}

/// Copy messages both ways until either side closes; a close on one side closes the other.
async fn proxy(mut client: WebSocket, mut agent: WebSocketStream<TcpStream>) {
    loop {
        tokio::select! {
            msg = client.recv() => {
                let forward = match msg {
                    Some(Ok(Message::Binary(data))) => AgentMessage::Binary(data),
                    Some(Ok(Message::Text(text))) => AgentMessage::Text(text.as_str().into()),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                        let _ = agent.close(None).await;
                        return;
                    }
                };
                if agent.send(forward).await.is_err() {
                    let _ = client.send(Message::Close(None)).await;
                    return;
                }
            }
            msg = agent.next() => {
                let forward = match msg {
                    Some(Ok(AgentMessage::Binary(data))) => Message::Binary(data),
                    Some(Ok(AgentMessage::Text(text))) => Message::Text(text.as_str().into()),
                    Some(Ok(AgentMessage::Close(_))) | Some(Err(_)) | None => {
                        let done = CloseFrame { code: 1000, reason: "".into() };
                        let _ = client.send(Message::Close(Some(done))).await;
                        return;
                    }
                    Some(Ok(_)) => continue,
                };
                if client.send(forward).await.is_err() {
                    let _ = agent.close(None).await;
                    return;
                }
            }
        }
    }
}

/// `GET|POST /api/v1/namespaces/{ns}/pods/{name}/exec`.
#[tracing::instrument(skip_all, fields(kind = Pod::KIND, namespace = span_namespace(&p), name = span_name(&p)))]
pub async fn pod_exec(
    State(st): State<AppState>,
    Path(p): Path<HashMap<String, String>>,
    Authenticated(caller): Authenticated,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let Query(pairs) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let q = ExecQuery::parse(&pairs)?;
    let (namespace, name) =
        (p.get("namespace").cloned().unwrap_or_default(), p.get("name").cloned().unwrap_or_default());
    let pod: Pod = get(&st, Pod::INFO, &namespace, &name).await?.ok_or_else(|| ApiError::not_found("Pod", &name))?;
    let container = choose_container(&pod, q.container.clone())?;
    let agent = agent_of(&st, &pod, "nothing runs in it").await?;
    let ws = ws.map_err(|_| {
        ApiError::bad_request(format!(
            "exec is served over websockets only (subprotocol {}); SPDY is not supported",
            PROTOCOLS[0]
        ))
    })?;
    let protocol = choose_protocol(ws.requested_protocols())
        .ok_or_else(|| ApiError::bad_request(format!("exec speaks one of the websocket subprotocols {PROTOCOLS:?}")))?;
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let agent_socket = connect_agent(&st, &agent, &uid, &container, &q, protocol).await?;
    tracing::info!(%container, node = %agent.node, command = ?q.command, "exec");
    let mut ws = ws;
    ws.set_selected_protocol(HeaderValue::from_static(protocol));
    Ok(ws.on_upgrade(move |client| proxy(client, agent_socket)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn kubectls_query_is_checked() {
        let q = ExecQuery::parse(&pairs(&[
            ("command", "flatnet"),
            ("command", "probe"),
            ("container", "c"),
            ("stdout", "true"),
            ("stderr", "true"),
            ("tty", "false"),
        ]))
        .unwrap();
        assert_eq!(q.command, ["flatnet", "probe"]);
        assert_eq!(q.container.as_deref(), Some("c"));
        assert!(q.stdout && q.stderr && !q.stdin);
        for (bad, why) in [
            (pairs(&[("stdout", "true")]), "at least one command"),
            (pairs(&[("command", "ls")]), "at least one of stdin"),
            (pairs(&[("command", "ls"), ("stdout", "1"), ("tty", "true")]), "terminal"),
            (pairs(&[("command", "ls"), ("stdin", "maybe")]), "not a boolean"),
        ] {
            let err = ExecQuery::parse(&bad).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST);
            assert!(err.message.contains(why), "{bad:?}: {}", err.message);
        }
    }

    #[test]
    fn v5_is_preferred_and_one_is_needed() {
        let offer = |s: &'static str| [HeaderValue::from_static(s)];
        assert_eq!(choose_protocol(offer("v4.channel.k8s.io, v5.channel.k8s.io").iter()), Some(PROTOCOLS[0]));
        assert_eq!(choose_protocol(offer("v4.channel.k8s.io").iter()), Some(PROTOCOLS[1]));
        assert_eq!(choose_protocol(offer("channel.k8s.io").iter()), None);
    }
}
