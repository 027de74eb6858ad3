//! libnftables in the agent's own process: the library the `nft` tool is built on, loaded
//! at run time (`dlopen("libnftables.so.1")`, shipped by Debian's `nftables` package with
//! the tool), so that a transaction costs no process.
//!
//! Why: starting `nft` costs about 3 ms before it does anything (loading its shared
//! libraries: measured `nft --version` at 3.2–3.4 ms on these machines, and 5 ms for an
//! `nft -f` of an empty script in a namespace), more than the work of a small change.
//! A network policy added on a node with 1,000 policies (a chain, its rules and counters)
//! spent most of its 10 ms in that start.
//!
//! What stays the same: the text is the same `nft` syntax, parsed and checked by the same
//! code, sent as one transaction; errors carry the same messages. The text is handed over
//! as a file (a memfd, `/proc/self/fd/N`) rather than a buffer: the library's errors for a
//! buffer do not say which line they are about, and for a file they do, as `nft -f` does.
//!
//! The namespace: the library opens its netlink socket in the namespace of the thread that
//! creates a context (and a socket stays in the namespace it was created in), so each call
//! creates its context on a thread that entered the target namespace ([`Netns::run`]) and
//! frees it there.
//!
//! Threads: a context is not shared, but the library keeps some process-wide state (its
//! parser's and number library's initialisation), so calls are serialized by one lock.
//! Agents make few calls a second; the lock is never held across I/O other than the call.
//!
//! When the library cannot be loaded (another distribution's soname, a stripped image), or
//! `FLATNET_NFT` names an `nft` binary, the tool is run as before ([`super::nft`]).

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::sync::{Mutex, OnceLock};

use crate::netns::Netns;

type Ctx = *mut c_void;

/// `NFT_CTX_OUTPUT_JSON` and `NFT_CTX_OUTPUT_TERSE` of `libnftables.h`.
pub const OUTPUT_JSON: c_uint = 1 << 4;
pub const OUTPUT_TERSE: c_uint = 1 << 11;

/// The library's functions that flatnet calls.
struct Lib {
    ctx_new: unsafe extern "C" fn(c_uint) -> Ctx,
    ctx_free: unsafe extern "C" fn(Ctx),
    buffer_output: unsafe extern "C" fn(Ctx) -> c_int,
    buffer_error: unsafe extern "C" fn(Ctx) -> c_int,
    get_output_buffer: unsafe extern "C" fn(Ctx) -> *const c_char,
    get_error_buffer: unsafe extern "C" fn(Ctx) -> *const c_char,
    output_set_flags: unsafe extern "C" fn(Ctx, c_uint),
    run_cmd_from_filename: unsafe extern "C" fn(Ctx, *const c_char) -> c_int,
}

/// The loaded library, or `None` when it cannot be loaded (then callers run `nft`).
fn lib() -> Option<&'static Lib> {
    static LIB: OnceLock<Option<Lib>> = OnceLock::new();
    LIB.get_or_init(|| {
        if std::env::var_os("FLATNET_NFT").is_some() {
            return None;
        }
        match load() {
            Ok(lib) => Some(lib),
            Err(why) => {
                tracing::info!(%why, "libnftables not loaded; running the nft tool for each transaction");
                None
            }
        }
    })
    .as_ref()
}

/// Whether transactions run in this process (the library loaded).
pub fn in_process() -> bool {
    lib().is_some()
}

fn load() -> Result<Lib, String> {
    let soname = c"libnftables.so.1";
    // SAFETY: dlopen with a valid C string; the handle is kept for the process's life (never
    // dlclosed), so the symbols taken from it stay valid.
    let handle = unsafe { nix::libc::dlopen(soname.as_ptr(), nix::libc::RTLD_NOW | nix::libc::RTLD_LOCAL) };
    if handle.is_null() {
        // SAFETY: dlerror returns a thread-local C string or null.
        let err = unsafe { nix::libc::dlerror() };
        let why = if err.is_null() {
            "dlopen failed".to_string()
        } else {
            // SAFETY: non-null dlerror result is a valid C string.
            unsafe { CStr::from_ptr(err) }.to_string_lossy().into_owned()
        };
        return Err(why);
    }
    let sym = |name: &CStr| -> Result<*mut c_void, String> {
        // SAFETY: valid handle and C string.
        let p = unsafe { nix::libc::dlsym(handle, name.as_ptr()) };
        if p.is_null() {
            Err(format!("libnftables.so.1 has no {}", name.to_string_lossy()))
        } else {
            Ok(p)
        }
    };
    // SAFETY: each symbol is the function of that name in libnftables.h, whose C signature
    // the field's type repeats (checked against nftables 1.0.6's header).
    unsafe {
        Ok(Lib {
            ctx_new: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(c_uint) -> Ctx>(sym(c"nft_ctx_new")?),
            ctx_free: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(Ctx)>(sym(c"nft_ctx_free")?),
            buffer_output: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(Ctx) -> c_int>(sym(
                c"nft_ctx_buffer_output",
            )?),
            buffer_error: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(Ctx) -> c_int>(sym(
                c"nft_ctx_buffer_error",
            )?),
            get_output_buffer: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(Ctx) -> *const c_char>(sym(
                c"nft_ctx_get_output_buffer",
            )?),
            get_error_buffer: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(Ctx) -> *const c_char>(sym(
                c"nft_ctx_get_error_buffer",
            )?),
            output_set_flags: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(Ctx, c_uint)>(sym(
                c"nft_ctx_output_set_flags",
            )?),
            run_cmd_from_filename: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(Ctx, *const c_char) -> c_int>(
                sym(c"nft_run_cmd_from_filename")?,
            ),
        })
    }
}

/// What one call answered: success, and what it printed on its output and error streams.
#[derive(Debug)]
pub struct Outcome {
    pub ok: bool,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Run `text` (commands in `nft` syntax, one transaction) in `ns` with the output `flags`.
/// `None` when the library is not loaded: the caller runs the tool.
pub fn run(ns: &Netns, text: &str, flags: c_uint) -> Option<std::io::Result<Outcome>> {
    let lib = lib()?;
    Some(run_with(lib, ns, text, flags))
}

fn run_with(lib: &Lib, ns: &Netns, text: &str, flags: c_uint) -> std::io::Result<Outcome> {
    use std::io::Write;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: memfd_create with a valid name; a non-negative result is a new fd we own.
    let fd = unsafe { nix::libc::memfd_create(c"flatnet-nft".as_ptr(), nix::libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is new and owned here.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    (&file).write_all(text.as_bytes())?;
    let path = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd())).expect("no NUL in a path");
    static LOCK: Mutex<()> = Mutex::new(());
    let _serial = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let ran = ns.run(|| {
        // SAFETY: the functions are libnftables' (see `load`); the context is created, used
        // and freed on this one thread, and the buffers it hands out are copied before it is
        // freed.
        unsafe {
            let ctx = (lib.ctx_new)(0);
            if ctx.is_null() {
                return Err(std::io::Error::other("nft_ctx_new failed"));
            }
            let result = (|| {
                if (lib.buffer_output)(ctx) != 0 || (lib.buffer_error)(ctx) != 0 {
                    return Err(std::io::Error::other("nft_ctx_buffer_output failed"));
                }
                (lib.output_set_flags)(ctx, flags);
                let rc = (lib.run_cmd_from_filename)(ctx, path.as_ptr());
                let copy =
                    |p: *const c_char| if p.is_null() { Vec::new() } else { CStr::from_ptr(p).to_bytes().to_vec() };
                let stdout = copy((lib.get_output_buffer)(ctx));
                let stderr = String::from_utf8_lossy(&copy((lib.get_error_buffer)(ctx))).into_owned();
                Ok(Outcome { ok: rc == 0, stdout, stderr })
            })();
            (lib.ctx_free)(ctx);
            result
        }
    });
    drop(file);
    ran.map_err(|e| std::io::Error::other(e.to_string())).and_then(|r| r)
}
