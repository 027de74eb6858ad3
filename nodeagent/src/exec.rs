//! `exec` for the API server: run a command in a running container's context and stream it
//! over a websocket, at `GET /pods/{uid}/containers/{container}/exec?command=…&stdin=…&
//! stdout=…&stderr=…` on the agent endpoint of [`crate::logs`] (same server-proof auth).
//!
//! The websocket speaks Kubernetes' channel protocol (`v5.channel.k8s.io`, or
//! `v4.channel.k8s.io`): each binary message is one channel byte then data. 0 is stdin,
//! 1 stdout, 2 stderr, 3 the error channel (one `Status` when the command ends: `Success`, or
//! `Failure` with reason `NonZeroExitCode` and the code in `details.causes`), 4 resize (no
//! terminal here: ignored); v5 adds the close signal `[255, channel]`, which here ends stdin.
//! The API server proxies these messages unchanged to kubectl.
//!
//! The command enters the container's namespaces as the shim left them: the pod's network
//! namespace, and the container's own mount and UTS namespaces when it has them (its
//! `/etc/resolv.conf`, `/etc/hosts` and hostname, [`crate::dns_pod`]). It gets the
//! environment the container was started with (the shim's, which the agent set to exactly
//! that) and the container's working directory (the shim's `--workdir`, else the directory
//! the container started in). Containers share the node's PID namespace and have no cgroup
//! of their own, so there is nothing more to enter. The command runs in a process group of
//! its own, killed when the client goes away before it ends.

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use nix::sched::CloneFlags;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::containers::{proc_start, PodDir, RunRecord};
use crate::logs::{safe_segment, same};

/// The channel protocols served, best first.
pub const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];
pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const ERROR: u8 = 3;
/// v5's close signal: `[CLOSE, channel]` says the client sends nothing more on `channel`.
pub const CLOSE: u8 = 255;

/// How much of a command's output one message carries at most.
const CHUNK: usize = 32 * 1024;

struct ExecState {
    /// `Bearer <hex SHA-256 of the node token>`, as for logs.
    expected: String,
    data_dir: PathBuf,
}

/// The exec route, to be merged into the agent endpoint's router.
pub fn router(expected: String, data_dir: PathBuf) -> Router {
    Router::new()
        .route("/pods/{uid}/containers/{container}/exec", get(exec))
        .with_state(Arc::new(ExecState { expected, data_dir }))
}

/// What to run and which streams the client wants.
#[derive(Debug, PartialEq, Eq)]
pub struct ExecOptions {
    pub command: Vec<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// A boolean query value as Go's `strconv.ParseBool` reads it (what Kubernetes accepts).
pub fn parse_bool(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("{key}={value:?} is not a boolean")),
    }
}

impl ExecOptions {
    /// The options from the query's pairs (`command` repeats, one argument each); keys the
    /// agent does not use are ignored.
    pub fn from_query(pairs: &[(String, String)]) -> Result<ExecOptions, String> {
        let mut o = ExecOptions { command: Vec::new(), stdin: false, stdout: false, stderr: false };
        for (key, value) in pairs {
            match key.as_str() {
                "command" => o.command.push(value.clone()),
                "stdin" => o.stdin = parse_bool(key, value)?,
                "stdout" => o.stdout = parse_bool(key, value)?,
                "stderr" => o.stderr = parse_bool(key, value)?,
                _ => {}
            }
        }
        if o.command.is_empty() || o.command[0].is_empty() {
            return Err("you must specify at least one command for the container".into());
        }
        if o.command.iter().any(|a| a.contains('\0')) {
            return Err("a command argument holds a NUL byte".into());
        }
        if !(o.stdin || o.stdout || o.stderr) {
            return Err("you must specify at least one of stdin, stdout, stderr".into());
        }
        Ok(o)
    }
}

/// The `Status` sent on the error channel when the command has ended.
pub fn exit_status(code: i32) -> serde_json::Value {
    if code == 0 {
        return json!({ "metadata": {}, "status": "Success" });
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!("command terminated with non-zero exit code: exit status {code}"),
        "reason": "NonZeroExitCode",
        "details": { "causes": [{ "reason": "ExitCode", "message": code.to_string() }] },
    })
}

fn failure(message: String) -> serde_json::Value {
    json!({ "metadata": {}, "status": "Failure", "message": message, "reason": "InternalError", "code": 500 })
}

/// Where and how a container's command runs: the namespaces to enter, its environment and
/// working directory.
struct Target {
    namespaces: Vec<(OwnedFd, CloneFlags)>,
    env: Vec<(OsString, OsString)>,
    workdir: CString,
}

/// Why no command can run in a container.
#[derive(Debug, thiserror::Error)]
enum LocateError {
    #[error("container {0:?} is not running")]
    NotRunning(String),
    #[error("read the container's process {pid}: {source}")]
    Proc { pid: i32, source: io::Error },
}

/// The pid of the container's process: the shim's child.
fn container_pid(shim: i32) -> Option<i32> {
    let children = std::fs::read_to_string(format!("/proc/{shim}/task/{shim}/children")).ok()?;
    children.split_whitespace().next()?.parse().ok()
}

/// The working directory the shim gave the container (`--workdir`, before the command's
/// `--`), if any.
fn workdir_arg(cmdline: &[u8]) -> Option<Vec<u8>> {
    let mut args = cmdline.split(|&b| b == 0);
    while let Some(arg) = args.next() {
        match arg {
            b"--" => return None,
            b"--workdir" => return args.next().map(<[u8]>::to_vec),
            _ => {}
        }
    }
    None
}

/// `KEY=VALUE\0…` as pairs.
fn parse_environ(environ: &[u8]) -> Vec<(OsString, OsString)> {
    environ
        .split(|&b| b == 0)
        .filter_map(|entry| {
            let eq = entry.iter().position(|&b| b == b'=')?;
            Some((OsString::from_vec(entry[..eq].to_vec()), OsString::from_vec(entry[eq + 1..].to_vec())))
        })
        .collect()
}

fn locate(data_dir: &Path, uid: &str, container: &str) -> Result<Target, LocateError> {
    let not_running = || LocateError::NotRunning(container.to_string());
    let record = RunRecord::load(&PodDir::new(data_dir, uid), container).ok_or_else(not_running)?;
    if proc_start(record.pid) != Some(record.proc_start) {
        return Err(not_running());
    }
    let shim = record.pid;
    let pid = container_pid(shim).ok_or_else(not_running)?;
    let proc_err = |pid| move |source| LocateError::Proc { pid, source };
    let mut namespaces = Vec::new();
    for (name, flag) in
        [("net", CloneFlags::CLONE_NEWNET), ("uts", CloneFlags::CLONE_NEWUTS), ("mnt", CloneFlags::CLONE_NEWNS)]
    {
        let theirs = format!("/proc/{pid}/ns/{name}");
        let file = std::fs::File::open(&theirs).map_err(proc_err(pid))?;
        let ours = std::fs::metadata(format!("/proc/self/ns/{name}")).map_err(proc_err(pid))?;
        let meta = file.metadata().map_err(proc_err(pid))?;
        // Only the namespaces that differ from the agent's: entering one's own mount
        // namespace again would only reset the root and working directory.
        if (meta.dev(), meta.ino()) != (ours.dev(), ours.ino()) {
            namespaces.push((OwnedFd::from(file), flag));
        }
    }
    let environ = std::fs::read(format!("/proc/{shim}/environ")).map_err(proc_err(shim))?;
    let cmdline = std::fs::read(format!("/proc/{shim}/cmdline")).map_err(proc_err(shim))?;
    let workdir = match workdir_arg(&cmdline) {
        Some(dir) => dir,
        None => std::fs::read_link(format!("/proc/{shim}/cwd")).map_err(proc_err(shim))?.into_os_string().into_vec(),
    };
    let workdir = CString::new(workdir).map_err(|e| proc_err(shim)(io::Error::other(e)))?;
    // The container's process must still be the one we looked at (not a reused pid).
    if proc_start(shim) != Some(record.proc_start) {
        return Err(not_running());
    }
    Ok(Target { namespaces, env: parse_environ(&environ), workdir })
}

/// `GET /pods/{uid}/containers/{container}/exec?command=…`: refused before the upgrade with
/// 401 (not the API server), 400 (a bad query, no websocket, no protocol in common) or
/// 409 (the container is not running).
async fn exec(
    State(st): State<Arc<ExecState>>,
    UrlPath((uid, container)): UrlPath<(String, String)>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let auth = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()).unwrap_or_default();
    if !same(auth, st.expected.as_bytes()) {
        return (StatusCode::UNAUTHORIZED, "unauthorized\n").into_response();
    }
    if !safe_segment(&uid) || !safe_segment(&container) {
        return (StatusCode::BAD_REQUEST, "bad pod uid or container name\n").into_response();
    }
    let options = match query.map_err(|e| e.body_text()).and_then(|Query(q)| ExecOptions::from_query(&q)) {
        Ok(o) => o,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let ws = match ws {
        Ok(ws) => ws.protocols(PROTOCOLS),
        Err(e) => return (StatusCode::BAD_REQUEST, format!("exec needs a websocket upgrade: {e}\n")).into_response(),
    };
    if ws.selected_protocol().is_none() {
        return (StatusCode::BAD_REQUEST, format!("exec speaks one of the subprotocols {PROTOCOLS:?}\n"))
            .into_response();
    }
    let (data_dir, c) = (st.data_dir.clone(), container.clone());
    let target = match tokio::task::spawn_blocking(move || locate(&data_dir, &uid, &c)).await {
        Ok(Ok(t)) => t,
        Ok(Err(e @ LocateError::NotRunning(_))) => return (StatusCode::CONFLICT, format!("{e}\n")).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, %container, "exec: finding the container failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "finding the container failed\n").into_response();
        }
        Err(e) => {
            tracing::warn!(error = %e, "exec: the container lookup panicked");
            return (StatusCode::INTERNAL_SERVER_ERROR, "finding the container failed\n").into_response();
        }
    };
    tracing::info!(%container, command = ?options.command, "exec");
    ws.on_upgrade(move |socket| session(socket, target, options))
}

/// Start the command in the target's context, between fork and exec: enter its namespaces,
/// then its working directory (entering a mount namespace resets the directory to its root).
fn spawn(target: Target, options: &ExecOptions) -> io::Result<tokio::process::Child> {
    let pipe = |wanted: bool| if wanted { Stdio::piped() } else { Stdio::null() };
    let mut cmd = tokio::process::Command::new(&options.command[0]);
    cmd.args(&options.command[1..])
        .env_clear()
        .envs(target.env)
        .stdin(pipe(options.stdin))
        .stdout(pipe(options.stdout))
        .stderr(pipe(options.stderr))
        .process_group(0)
        .kill_on_drop(true);
    let (namespaces, workdir) = (target.namespaces, target.workdir);
    // SAFETY: the closure makes only async-signal-safe system calls (setns, chdir) on
    // descriptors and a string prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            for (fd, flag) in &namespaces {
                nix::sched::setns(fd, *flag).map_err(|e| io::Error::from_raw_os_error(e as i32))?;
            }
            if libc::chdir(workdir.as_ptr()) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut bytes = Vec::with_capacity(data.len() + 1);
    bytes.push(channel);
    bytes.extend_from_slice(data);
    Message::Binary(bytes.into())
}

/// Read from `stream` if it is still open; never completes otherwise.
async fn read_open<R: AsyncRead + Unpin>(stream: &mut Option<R>, buf: &mut [u8]) -> io::Result<usize> {
    match stream {
        Some(s) => s.read(buf).await,
        None => std::future::pending().await,
    }
}

/// Kill the command's process group (the command and whatever it started).
fn kill_group(pgid: Option<u32>) {
    if let Some(pgid) = pgid {
        // SAFETY: kill(2) on the process group we made for the command.
        unsafe {
            libc::kill(-(pgid as i32), libc::SIGKILL);
        }
    }
}

/// Run one command over an upgraded connection until it has ended and its output is sent.
async fn session(mut socket: WebSocket, target: Target, options: ExecOptions) {
    let mut child = match spawn(target, &options) {
        Ok(c) => c,
        Err(e) => {
            let status = failure(format!("start {:?} in the container: {e}", options.command[0]));
            let _ = socket.send(frame(ERROR, status.to_string().as_bytes())).await;
            let _ = socket.send(Message::Close(Some(CloseFrame { code: 1000, reason: "".into() }))).await;
            return;
        }
    };
    let pgid = child.id();
    // Stdin is written by a task of its own, so a command that does not read it yet does
    // not keep its output from being read.
    let mut stdin = child.stdin.take().map(|mut pipe| {
        let (tx, mut rx) = mpsc::channel::<Bytes>(16);
        tokio::spawn(async move {
            while let Some(data) = rx.recv().await {
                if pipe.write_all(&data).await.is_err() {
                    break;
                }
            }
        });
        tx
    });
    let (mut stdout, mut stderr) = (child.stdout.take(), child.stderr.take());
    let (mut out_buf, mut err_buf) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    let mut exited: Option<ExitStatus> = None;
    while exited.is_none() || stdout.is_some() || stderr.is_some() {
        let sent = tokio::select! {
            msg = socket.recv() => match msg {
                Some(Ok(Message::Binary(data))) => {
                    match data.first() {
                        Some(&STDIN) => {
                            if let Some(tx) = &stdin {
                                if tx.send(data.slice(1..)).await.is_err() {
                                    stdin = None;
                                }
                            }
                        }
                        Some(&CLOSE) if data.get(1) == Some(&STDIN) => stdin = None,
                        _ => {} // resize, or a channel the client may not write
                    }
                    Ok(())
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => Err(()),
                Some(Ok(_)) => Ok(()),
            },
            n = read_open(&mut stdout, &mut out_buf) => match n {
                Ok(0) | Err(_) => { stdout = None; Ok(()) }
                Ok(n) => socket.send(frame(STDOUT, &out_buf[..n])).await.map_err(drop),
            },
            n = read_open(&mut stderr, &mut err_buf) => match n {
                Ok(0) | Err(_) => { stderr = None; Ok(()) }
                Ok(n) => socket.send(frame(STDERR, &err_buf[..n])).await.map_err(drop),
            },
            status = child.wait(), if exited.is_none() => match status {
                Ok(s) => { exited = Some(s); Ok(()) }
                Err(e) => {
                    tracing::warn!(error = %e, "exec: waiting for the command failed");
                    Err(())
                }
            },
        };
        if sent.is_err() {
            // The client is gone (or the command cannot be waited for): stop everything.
            kill_group(pgid);
            return;
        }
    }
    use std::os::unix::process::ExitStatusExt;
    let status = exited.expect("the loop ends once the command has exited");
    let code = status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    let _ = socket.send(frame(ERROR, exit_status(code).to_string().as_bytes())).await;
    let _ = socket.send(Message::Close(Some(CloseFrame { code: 1000, reason: "".into() }))).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn options_from_kubectls_query() {
        let o = ExecOptions::from_query(&pairs(&[
            ("command", "sh"),
            ("command", "-c"),
            ("command", "echo hi"),
            ("stdout", "true"),
            ("stderr", "1"),
            ("tty", "false"),
        ]))
        .unwrap();
        assert_eq!(o.command, ["sh", "-c", "echo hi"]);
        assert!(o.stdout && o.stderr && !o.stdin);
        for (bad, why) in [
            (pairs(&[("stdout", "true")]), "at least one command"),
            (pairs(&[("command", ""), ("stdout", "true")]), "at least one command"),
            (pairs(&[("command", "ls")]), "at least one of stdin"),
            (pairs(&[("command", "ls"), ("stdout", "yes")]), "not a boolean"),
            (pairs(&[("command", "a\0b"), ("stdout", "1")]), "NUL"),
        ] {
            let err = ExecOptions::from_query(&bad).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    #[test]
    fn the_exit_code_is_a_status_cause() {
        assert_eq!(exit_status(0), json!({ "metadata": {}, "status": "Success" }));
        let s = exit_status(3);
        assert_eq!(s["reason"], "NonZeroExitCode");
        assert_eq!(s["details"]["causes"][0], json!({ "reason": "ExitCode", "message": "3" }));
    }

    #[test]
    fn the_shims_workdir_and_environment() {
        let cmdline = b"/bin/nodeagent\0shim\0--log\0/d/c.log\0--workdir\0/srv\0--\0sh\0--workdir\0x\0";
        assert_eq!(workdir_arg(cmdline), Some(b"/srv".to_vec()));
        assert_eq!(workdir_arg(b"/bin/nodeagent\0shim\0--\0app\0--workdir\0/x\0"), None);
        let env = parse_environ(b"PATH=/bin\0A=b=c\0junk\0\0");
        assert_eq!(env, [("PATH".into(), "/bin".into()), ("A".into(), "b=c".into())]);
    }
}
