//! `flatnet up --store postgres`: a throwaway PostgreSQL for the cluster's API servers.
//!
//! Debian's server (`/usr/lib/postgresql/VERSION/bin`, the newest installed), run as the
//! `postgres` user (PostgreSQL refuses root) through `setpriv`: `initdb` into
//! `DATA/postgres/data` (trust authentication, C locale), the server listening only on a unix
//! socket in `DATA/postgres` (no TCP port, so clusters side by side never collide), one
//! database `flatnet`. The `postgres` user must be able to reach that directory, so the data
//! directory gets the others' search bit (`o+x`: enter, not list; the CA key and the tokens
//! in it stay mode 0600). `flatnet down` stops the server after the API servers and removes
//! `DATA/postgres`: the cluster's objects go with it, as the SQLite file's do not.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::procs;
use super::state::ProcessRecord;

/// The database the API servers share.
pub const DATABASE: &str = "flatnet";
const USER: &str = "postgres";

/// `DATA/postgres`: the socket directory; the cluster's files are in its `data`.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("postgres")
}

/// The API servers' `--store` URL.
pub fn store_url(data_dir: &Path) -> String {
    format!("postgres://{USER}@localhost/{DATABASE}?host={}", dir(data_dir).display())
}

/// The directory of PostgreSQL's programs (the newest installed major version), with the
/// fix when there is none.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("postgres").exists())
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => Ok(bin),
        None => anyhow::bail!(
            "--store postgres needs PostgreSQL's server (/usr/lib/postgresql/*/bin/postgres): apt-get install -y \
             postgresql (scripts/deps.sh)"
        ),
    }
}

fn as_postgres(program: &Path) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid", USER, "--regid", USER, "--clear-groups"]).arg(program);
    cmd
}

fn run_ok(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("run {cmd:?}"))?;
    if !out.status.success() {
        anyhow::bail!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn psql(bin: &Path, data_dir: &Path, sql: &str) -> Command {
    let mut cmd = Command::new(bin.join("psql"));
    cmd.arg("-h").arg(dir(data_dir)).args(["-U", USER, "-d", "postgres", "-qAtc", sql]);
    cmd
}

/// Make the cluster (once) and start its server detached; answers when it takes queries
/// and the database exists.
pub async fn start(data_dir: &Path, log: &Path) -> anyhow::Result<(Child, ProcessRecord)> {
    let bin = bin_dir()?;
    let user = nix::unistd::User::from_name(USER)
        .ok()
        .flatten()
        .context("--store postgres needs the postgres user (Debian's postgresql package makes it)")?;
    let mode = std::fs::metadata(data_dir)?.permissions().mode();
    if mode & 0o001 == 0 {
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(mode | 0o001))
            .with_context(|| format!("let the postgres user enter {}", data_dir.display()))?;
    }
    let pg = dir(data_dir);
    std::fs::create_dir_all(&pg).with_context(|| format!("create {}", pg.display()))?;
    nix::unistd::chown(&pg, Some(user.uid), Some(user.gid)).with_context(|| format!("chown {}", pg.display()))?;
    std::fs::set_permissions(&pg, std::fs::Permissions::from_mode(0o700))?;
    let data = pg.join("data");
    if !data.join("PG_VERSION").exists() {
        run_ok(as_postgres(&bin.join("initdb")).arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            USER,
            "--no-sync",
            "-E",
            "UTF8",
            "--locale",
            "C",
        ]))
        .context("initdb")?;
    }
    // A server killed with the cluster (kill -9, a crash) leaves its postmaster.pid and its
    // socket's lock file; when nobody reaped it, its pid is a zombie that PostgreSQL's own
    // check takes for a live server. Lock files whose process is gone or a zombie are
    // stale: removed (with the socket of a stale socket lock).
    let socket = pg.join(".s.PGSQL.5432");
    for (lock, also) in [(data.join("postmaster.pid"), None), (pg.join(".s.PGSQL.5432.lock"), Some(&socket))] {
        let Ok(text) = std::fs::read_to_string(&lock) else { continue };
        let pid = text.lines().next().and_then(|l| l.trim().parse::<i32>().ok());
        if pid.is_some_and(|p| super::state::proc_start(p).is_none()) {
            std::fs::remove_file(&lock).with_context(|| format!("remove the stale {}", lock.display()))?;
            if let Some(socket) = also {
                let _ = std::fs::remove_file(socket);
            }
        }
    }
    let args: Vec<std::ffi::OsString> = vec![
        "--reuid".into(),
        USER.into(),
        "--regid".into(),
        USER.into(),
        "--clear-groups".into(),
        bin.join("postgres").into(),
        "-D".into(),
        data.into(),
        "-k".into(),
        pg.clone().into(),
        // Unix socket only.
        "-c".into(),
        "listen_addresses=".into(),
    ];
    let setpriv = super::kernel::find_program("setpriv").context("setpriv (util-linux) is missing")?;
    let (child, record) = procs::spawn_detached("postgres", &setpriv, &args, &[], log)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ok = psql(&bin, data_dir, "SELECT 1").stdout(Stdio::null()).stderr(Stdio::null()).status();
        if ok.is_ok_and(|s| s.success()) {
            break;
        }
        if !record.alive() || Instant::now() > deadline {
            let why = if record.alive() { "did not take queries in 30 s" } else { "exited" };
            anyhow::bail!("PostgreSQL {why}; the end of {}:\n{}", log.display(), procs::log_tail(log, 15));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let exists = run_ok(&mut psql(&bin, data_dir, &format!("SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'")))?;
    if exists.is_empty() {
        run_ok(&mut psql(&bin, data_dir, &format!("CREATE DATABASE {DATABASE}")))?;
    }
    Ok((child, record))
}

/// Remove `DATA/postgres` (its server stopped): answers whether there was one.
pub fn remove(data_dir: &Path) -> anyhow::Result<bool> {
    let pg = dir(data_dir);
    if !pg.exists() {
        return Ok(false);
    }
    std::fs::remove_dir_all(&pg).with_context(|| format!("remove {}", pg.display()))?;
    Ok(true)
}
