//! Named network namespaces, made the way `ip netns add` makes them, so that `ip netns`
//! and flatnet see the same namespaces: `/run/netns` is a shared mount point, and each
//! namespace is kept alive by a bind mount of its nsfs file onto `/run/netns/NAME`.
//!
//! `setns(2)` moves only the calling thread, so code that must run inside a namespace runs
//! on a dedicated OS thread ([`Netns::run`]), never on an async runtime's worker; a child
//! process enters one between fork and exec ([`ChildSetup`], [`Netns::command`]).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

use crate::{Error, Result};

/// Where `ip netns` keeps its namespaces.
pub const NETNS_DIR: &str = "/run/netns";

fn errno(e: nix::errno::Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

fn check_name(name: &str) -> Result<()> {
    let bad = name.is_empty() || name == "." || name == ".." || name.contains('/') || name.len() > 200;
    if bad {
        return Err(Error::InvalidName { name: name.into(), reason: "netns names are one non-empty path component" });
    }
    Ok(())
}

fn path_of(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// Make `/run/netns` exist and be a shared mount point, as iproute2 does, so namespaces
/// mounted there later show up in other mount namespaces too.
fn prepare_dir() -> io::Result<()> {
    std::fs::create_dir_all(NETNS_DIR)?;
    let shared = |flags| mount(None::<&str>, NETNS_DIR, Some("none"), flags, None::<&str>);
    match shared(MsFlags::MS_SHARED | MsFlags::MS_REC) {
        Ok(()) => Ok(()),
        // Not a mount point yet: bind it onto itself, then make it shared.
        Err(nix::errno::Errno::EINVAL) => {
            mount(Some(NETNS_DIR), NETNS_DIR, Some("none"), MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
                .map_err(errno)?;
            shared(MsFlags::MS_SHARED | MsFlags::MS_REC).map_err(errno)
        }
        Err(e) => Err(errno(e)),
    }
}

/// Whether `path` has a namespace mounted on it (its device is nsfs, not the directory's).
fn is_mounted(path: &Path) -> bool {
    match (std::fs::metadata(path), std::fs::metadata(NETNS_DIR)) {
        (Ok(file), Ok(dir)) => file.dev() != dir.dev(),
        _ => false,
    }
}

/// Create the named namespace; an existing one is kept as it is (idempotent).
pub fn create(name: &str) -> Result<()> {
    check_name(name)?;
    let fail = |source| Error::CreateNetns { name: name.into(), source };
    let path = path_of(name);
    if is_mounted(&path) {
        return Ok(());
    }
    prepare_dir().map_err(fail)?;
    // An empty file left by an interrupted create is reused.
    File::options().write(true).create(true).truncate(false).open(&path).map_err(fail)?;
    let target = path.clone();
    let made = std::thread::spawn(move || -> io::Result<()> {
        unshare(CloneFlags::CLONE_NEWNET).map_err(errno)?;
        mount(Some("/proc/thread-self/ns/net"), &target, Some("none"), MsFlags::MS_BIND, None::<&str>).map_err(errno)
    })
    .join()
    .unwrap_or_else(|_| Err(io::Error::other("netns creation thread panicked")));
    if let Err(e) = made {
        let _ = std::fs::remove_file(&path);
        return Err(fail(e));
    }
    Ok(())
}

/// Delete the named namespace; one already gone is fine. Processes still inside keep the
/// namespace alive until they exit, as with `ip netns del`.
pub fn delete(name: &str) -> Result<()> {
    check_name(name)?;
    let fail = |source| Error::DeleteNetns { name: name.into(), source };
    let path = path_of(name);
    match umount2(&path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(fail(errno(e))),
    }
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(fail(e)),
    }
}

/// Whether the named namespace exists.
pub fn exists(name: &str) -> bool {
    check_name(name).is_ok() && is_mounted(&path_of(name))
}

/// Names of the namespaces in `/run/netns` that start with `prefix` (for cleanup).
pub fn list(prefix: &str) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    let entries = match std::fs::read_dir(NETNS_DIR) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(names),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with(prefix) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// An open network namespace: the named one of a pod or node, or the one this process
/// runs in (a node inside a container).
#[derive(Debug)]
pub struct Netns {
    name: String,
    fd: OwnedFd,
}

impl Netns {
    /// Open the named namespace.
    pub fn open(name: &str) -> Result<Netns> {
        check_name(name)?;
        let path = path_of(name);
        if !is_mounted(&path) {
            let source =
                io::Error::new(io::ErrorKind::NotFound, format!("{} is not a network namespace", path.display()));
            return Err(Error::OpenNetns { name: name.into(), source });
        }
        let file = File::open(&path).map_err(|source| Error::OpenNetns { name: name.into(), source })?;
        Ok(Netns { name: name.into(), fd: file.into() })
    }

    /// The namespace of the calling thread.
    pub fn current() -> Result<Netns> {
        let file = File::open("/proc/thread-self/ns/net")
            .map_err(|source| Error::OpenNetns { name: "(current)".into(), source })?;
        Ok(Netns { name: "(current)".into(), fd: file.into() })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// A command whose child runs inside this namespace; see [`ChildSetup`].
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Result<std::process::Command> {
        let mut cmd = std::process::Command::new(program);
        ChildSetup::new().netns(self)?.apply(&mut cmd);
        Ok(cmd)
    }

    /// Run `cmd` as a child process inside this namespace (it enters the namespace between
    /// fork and exec), feed it `stdin`, and wait for its output. For tools that act on the
    /// namespace they run in, such as `nft` and `conntrack`.
    pub fn output(&self, cmd: &mut std::process::Command, stdin: &[u8]) -> io::Result<std::process::Output> {
        use std::io::Write;
        ChildSetup { new_session: false, netns: Some(self.fd.try_clone()?) }.apply(cmd);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn()?;
        let mut input = child.stdin.take().expect("piped stdin");
        // Write from another thread: a child that fills its output pipe before reading all
        // of a large script would otherwise deadlock with us.
        let data = stdin.to_vec();
        let writer = std::thread::spawn(move || input.write_all(&data));
        let output = child.wait_with_output()?;
        match writer.join() {
            Ok(Ok(())) => {}
            // The child may exit early (an error in line 1): its output says why.
            Ok(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(io::Error::other("stdin writer panicked")),
        }
        Ok(output)
    }

    /// Run `f` inside this namespace, on a dedicated OS thread, and return what it returns.
    /// A panic in `f` is resumed in the caller.
    pub fn run<T: Send, F: FnOnce() -> T + Send>(&self, f: F) -> Result<T> {
        let fd = self.fd.as_fd();
        std::thread::scope(|scope| {
            let handle = scope.spawn(move || {
                setns(fd, CloneFlags::CLONE_NEWNET).map_err(errno)?;
                Ok(f())
            });
            match handle.join() {
                Ok(result) => result.map_err(|source| Error::EnterNetns { name: self.name.clone(), source }),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }
}

/// Makes TCP sockets inside one namespace from any thread, cheaply. A socket belongs to the
/// namespace it was created in, whichever thread uses it afterwards, so one long-lived
/// thread that entered the namespace once creates sockets on request; the caller connects
/// and talks on its own runtime. (Entering a namespace per connection costs a thread and a
/// `setns` each time: a node agent probing many pods every second would spend a core on it.)
#[derive(Clone, Debug)]
pub struct SocketMaker {
    requests: std::sync::mpsc::Sender<std::sync::mpsc::SyncSender<io::Result<OwnedFd>>>,
}

impl SocketMaker {
    pub fn new(ns: &Netns) -> Result<SocketMaker> {
        let fd = ns.fd.try_clone().map_err(|source| Error::EnterNetns { name: ns.name.clone(), source })?;
        let (requests, rx) = std::sync::mpsc::channel::<std::sync::mpsc::SyncSender<io::Result<OwnedFd>>>();
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name(format!("sockets-{}", ns.name))
            .spawn(move || {
                let entered = setns(&fd, CloneFlags::CLONE_NEWNET).map_err(errno);
                let ok = entered.is_ok();
                let _ = ready_tx.send(entered);
                if !ok {
                    return;
                }
                // Ends when every SocketMaker clone is dropped.
                while let Ok(reply) = rx.recv() {
                    // SAFETY: socket(2) with constant arguments; a valid result is a new fd we own.
                    let fd = unsafe { libc_socket() };
                    let _ = reply.send(fd);
                }
            })
            .map_err(|source| Error::EnterNetns { name: ns.name.clone(), source })?;
        ready_rx
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("socket thread died")))
            .map_err(|source| Error::EnterNetns { name: ns.name.clone(), source })?;
        Ok(SocketMaker { requests })
    }

    /// A new, unconnected, non-blocking IPv4 TCP socket in the namespace.
    pub fn tcp_socket(&self) -> io::Result<OwnedFd> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.requests.send(tx).map_err(|_| io::Error::other("socket thread gone"))?;
        rx.recv().map_err(|_| io::Error::other("socket thread gone"))?
    }
}

/// # Safety
/// Calls socket(2); the returned fd is owned by the caller.
unsafe fn libc_socket() -> io::Result<OwnedFd> {
    use std::os::fd::FromRawFd;
    let fd = nix::libc::socket(
        nix::libc::AF_INET,
        nix::libc::SOCK_STREAM | nix::libc::SOCK_NONBLOCK | nix::libc::SOCK_CLOEXEC,
        0,
    );
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(OwnedFd::from_raw_fd(fd))
}

/// What a child process does between fork and exec: the one place flatnet sets that up
/// (every child that must start in a namespace or in a session of its own goes through it).
///
/// - [`ChildSetup::new_session`]: `setsid(2)`, so the child outlives its parent's terminal
///   and the whole run can be stopped with one signal to its process group.
/// - [`ChildSetup::netns`]: `setns(2)` into a network namespace, for a tool that acts on
///   the namespace it runs in (`nft`, `conntrack`) or a container's process.
///
/// Both are async-signal-safe system calls, the only kind allowed in a forked child.
#[derive(Debug, Default)]
pub struct ChildSetup {
    new_session: bool,
    /// A duplicate of the namespace's descriptor, owned by the command that uses it, so the
    /// descriptor stays open until the child is spawned whatever the caller does with its
    /// `Netns`. It is close-on-exec: the program never sees it.
    netns: Option<OwnedFd>,
}

impl ChildSetup {
    pub fn new() -> ChildSetup {
        ChildSetup::default()
    }

    /// Start the child in a new session (it leads its own process group).
    pub fn new_session(mut self) -> ChildSetup {
        self.new_session = true;
        self
    }

    /// Start the child inside `ns`.
    pub fn netns(mut self, ns: &Netns) -> Result<ChildSetup> {
        let fd = ns.fd.try_clone().map_err(|source| Error::EnterNetns { name: ns.name.clone(), source })?;
        self.netns = Some(fd);
        Ok(self)
    }

    /// Make `cmd`'s children start this way (the session first, then the namespace). For a
    /// `tokio::process::Command`, pass its `as_std_mut()`.
    pub fn apply(self, cmd: &mut std::process::Command) {
        use std::os::unix::process::CommandExt;
        let ChildSetup { new_session, netns } = self;
        // SAFETY: between fork and exec only setsid(2) and setns(2), both async-signal-safe
        // and allocation-free; the namespace's descriptor is owned by the closure, which
        // `cmd` keeps until it is dropped.
        unsafe {
            cmd.pre_exec(move || {
                if new_session {
                    nix::unistd::setsid().map_err(errno)?;
                }
                if let Some(fd) = &netns {
                    setns(fd, CloneFlags::CLONE_NEWNET).map_err(errno)?;
                }
                Ok(())
            });
        }
    }
}
