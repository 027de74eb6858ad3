//! A throwaway PostgreSQL cluster for tests: `initdb` into a temporary directory owned by
//! the `postgres` user, `postgres` listening only on a unix socket in that directory (no
//! TCP port, so parallel test processes never collide), one fresh database per test.
//!
//! One cluster serves a whole test process. It is started from a thread that never ends,
//! with the parent-death signal set to SIGQUIT (PostgreSQL's immediate shutdown), so the
//! kernel stops it when the test process exits for any reason, a failed assertion or
//! kill -9 included; the directory is removed at exit, and directories left by a process
//! that was killed are removed by the next run.
//!
//! Needs Debian's `postgresql` package (`scripts/deps.sh`); a missing server is a failure,
//! not a skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const PREFIX: &str = "flatnet-pgtest-";

pub struct PgCluster {
    dir: PathBuf,
    counter: AtomicUsize,
}

static CLUSTER: OnceLock<PgCluster> = OnceLock::new();

/// The process's cluster, started on first use.
pub fn cluster() -> &'static PgCluster {
    CLUSTER.get_or_init(PgCluster::start)
}

/// The directory of PostgreSQL's programs (the newest installed major version).
pub fn bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed (/usr/lib/postgresql): run scripts/deps.sh")
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("postgres").exists())
        .collect();
    versions.sort();
    versions.pop().expect("no PostgreSQL server in /usr/lib/postgresql/*/bin: run scripts/deps.sh").1
}

fn as_postgres(program: PathBuf) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid", "postgres", "--regid", "postgres", "--clear-groups"]).arg(program);
    cmd
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Remove the directories of earlier test processes that are gone.
fn remove_stale() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(PREFIX).and_then(|p| p.parse::<u32>().ok()) else { continue };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

extern "C" fn remove_dir_at_exit() {
    if let Some(c) = CLUSTER.get() {
        let _ = std::fs::remove_dir_all(&c.dir);
    }
}

extern "C" {
    fn atexit(f: extern "C" fn()) -> i32;
}

impl PgCluster {
    fn start() -> PgCluster {
        remove_stale();
        let bin = bin_dir();
        let dir = std::env::temp_dir().join(format!("{PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the cluster directory");
        run_ok(Command::new("chown").arg("postgres:postgres").arg(&dir));
        let data = dir.join("data");
        run_ok(
            as_postgres(bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale", "C"])
                .stdout(Stdio::null()),
        );
        // SAFETY: registering a plain function that only removes a directory.
        unsafe { atexit(remove_dir_at_exit) };
        let (tx, rx) = std::sync::mpsc::channel();
        let (sock, log) = (dir.clone(), dir.join("postgres.log"));
        // The parent-death signal follows the thread that started the process: this one
        // lives as long as the test process.
        std::thread::spawn(move || {
            let log = std::fs::File::create(log).expect("create the PostgreSQL log");
            let child = Command::new("setpriv")
                .args(["--reuid", "postgres", "--regid", "postgres", "--clear-groups", "--pdeathsig", "SIGQUIT"])
                .arg(bin.join("postgres"))
                .arg("-D")
                .arg(&data)
                .arg("-k")
                .arg(&sock)
                // Unix socket only; no durability needed for tests, and room for the
                // connections of many test servers.
                .args(["-c", "listen_addresses=", "-c", "fsync=off", "-c", "max_connections=300"])
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn();
            let _ = tx.send(child.map(|c| c.id()));
            loop {
                std::thread::park();
            }
        });
        rx.recv().expect("PostgreSQL starter thread").expect("start postgres");
        let cluster = PgCluster { dir, counter: AtomicUsize::new(0) };
        // Ready when it accepts a query (it takes about a second).
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ok = Command::new(bin_dir().join("psql"))
                .args(["-h"])
                .arg(&cluster.dir)
                .args(["-U", "postgres", "-d", "postgres", "-Atc", "SELECT 1"])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if ok {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start: {}",
                std::fs::read_to_string(cluster.dir.join("postgres.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        cluster
    }

    /// The socket directory.
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// A URL for database `db` of this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@localhost/{db}?host={}", self.dir.display())
    }

    /// A new, empty database; answers its URL.
    pub fn create_database(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let db = format!("t{}_{n}", std::process::id());
        run_ok(Command::new(bin_dir().join("psql")).arg("-h").arg(&self.dir).args([
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-qAtc",
            &format!("CREATE DATABASE {db}"),
        ]));
        self.url(&db)
    }
}
