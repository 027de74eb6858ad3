//! The container shim: one small process per container run, like conmon or
//! containerd-shim. The agent starts it (already in its own session and inside the pod's
//! network namespace, see [`crate::containers`]); the shim starts the container's process,
//! waits for it and writes how it ended to the exit file. Because the shim, not the agent,
//! is the container's parent, a restarted agent still learns the exit code of a container
//! that ended while it was away.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

/// How a container ended, as the shim records it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExitRecord {
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub finished_at: chrono::DateTime<chrono::Utc>,
    /// Set when the process could not be started at all.
    pub reason: Option<String>,
    pub message: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct ShimArgs {
    /// Where the container's stdout and stderr go (appended).
    #[arg(long)]
    pub log: PathBuf,
    /// Where the exit record is written when the container ends.
    #[arg(long)]
    pub exit_file: PathBuf,
    #[arg(long)]
    pub workdir: Option<PathBuf>,
    /// Bind-mounted over `/etc/resolv.conf` in a mount namespace of the container's own.
    #[arg(long)]
    pub resolv_conf: Option<PathBuf>,
    /// Bind-mounted over `/etc/hosts` likewise.
    #[arg(long)]
    pub hosts: Option<PathBuf>,
    /// The container's hostname, in a UTS namespace of its own.
    #[arg(long)]
    pub hostname: Option<String>,
    /// The container's command and arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

extern "C" fn ignore(_: libc::c_int) {}

fn os_error(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

fn c_path(p: &std::path::Path) -> Result<std::ffi::CString, String> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(|_| format!("{} has a NUL byte", p.display()))
}

/// Give the process (and so the container it starts) a mount namespace whose
/// `/etc/resolv.conf` and `/etc/hosts` are the pod's files, and a UTS namespace with the
/// pod's hostname. Mounts are made slaves first: nothing done here propagates back to the
/// node, while the node's later mounts still reach the container. Must run while the shim
/// is single-threaded (unshare of a mount namespace requires it).
fn enter_pod_namespaces(args: &ShimArgs) -> Result<(), String> {
    let mounts: Vec<(&PathBuf, &str)> =
        [(args.resolv_conf.as_ref(), "/etc/resolv.conf"), (args.hosts.as_ref(), "/etc/hosts")]
            .into_iter()
            .filter_map(|(src, dst)| Some((src?, dst)))
            .collect();
    let mut flags = 0;
    if !mounts.is_empty() {
        flags |= libc::CLONE_NEWNS;
    }
    if args.hostname.is_some() {
        flags |= libc::CLONE_NEWUTS;
    }
    if flags == 0 {
        return Ok(());
    }
    // SAFETY: unshare(2) with namespace flags only; the process is single-threaded here.
    if unsafe { libc::unshare(flags) } != 0 {
        return Err(os_error("unshare the mount and UTS namespaces"));
    }
    if !mounts.is_empty() {
        // SAFETY: mount(2) with a static, NUL-terminated target and no source or data.
        let rc = unsafe {
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_SLAVE,
                std::ptr::null(),
            )
        };
        if rc != 0 {
            return Err(os_error("make / a slave mount"));
        }
    }
    for (src, dst) in mounts {
        let (src_c, dst_c) = (c_path(src)?, c_path(std::path::Path::new(dst))?);
        // SAFETY: mount(2) with NUL-terminated paths that outlive the call.
        let rc =
            unsafe { libc::mount(src_c.as_ptr(), dst_c.as_ptr(), std::ptr::null(), libc::MS_BIND, std::ptr::null()) };
        if rc != 0 {
            return Err(os_error(&format!("bind {} over {dst}", src.display())));
        }
    }
    if let Some(name) = &args.hostname {
        // SAFETY: sethostname(2) with a pointer and length of a live buffer.
        if unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) } != 0 {
            return Err(os_error(&format!("set the hostname {name:?}")));
        }
    }
    Ok(())
}

fn write_record(path: &PathBuf, record: &ExitRecord) {
    let tmp = path.with_extension("tmp");
    if std::fs::write(&tmp, serde_json::to_vec(record).unwrap_or_default()).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

/// Run the shim; never returns.
pub fn run(args: ShimArgs) -> ! {
    // The agent stops a container by signalling its process group (the shim's session). The
    // shim outlives the container to record its end: catch the stop signals with a handler
    // (an ignored disposition would be inherited by the container; a handler is reset at exec).
    for sig in [nix::sys::signal::Signal::SIGTERM, nix::sys::signal::Signal::SIGINT, nix::sys::signal::Signal::SIGHUP] {
        let action = nix::sys::signal::SigAction::new(
            nix::sys::signal::SigHandler::Handler(ignore),
            nix::sys::signal::SaFlags::SA_RESTART,
            nix::sys::signal::SigSet::empty(),
        );
        // SAFETY: the handler does nothing, which is async-signal-safe.
        let _ = unsafe { nix::sys::signal::sigaction(sig, &action) };
    }
    let fail = |reason: &str, message: String| -> ! {
        write_record(
            &args.exit_file,
            &ExitRecord {
                exit_code: 128,
                signal: None,
                finished_at: chrono::Utc::now(),
                reason: Some(reason.into()),
                message: Some(message),
            },
        );
        std::process::exit(0)
    };
    let log = match OpenOptions::new().create(true).append(true).open(&args.log) {
        Ok(f) => f,
        Err(e) => fail("StartError", format!("open log {}: {e}", args.log.display())),
    };
    let stderr = match log.try_clone() {
        Ok(f) => f,
        Err(e) => fail("StartError", format!("open log: {e}")),
    };
    if let Err(e) = enter_pod_namespaces(&args) {
        fail("StartError", e);
    }
    let mut cmd = Command::new(&args.command[0]);
    cmd.args(&args.command[1..]).stdin(Stdio::null()).stdout(log).stderr(stderr);
    if let Some(dir) = &args.workdir {
        cmd.current_dir(dir);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => fail("StartError", format!("start {:?}: {e}", args.command[0])),
    };
    let status = match child.wait() {
        Ok(s) => s,
        Err(e) => fail("Unknown", format!("wait for the container: {e}")),
    };
    use std::os::unix::process::ExitStatusExt;
    let signal = status.signal();
    let exit_code = status.code().unwrap_or_else(|| 128 + signal.unwrap_or(0));
    write_record(
        &args.exit_file,
        &ExitRecord { exit_code, signal, finished_at: chrono::Utc::now(), reason: None, message: None },
    );
    std::process::exit(0)
}
