//! The two databases the store runs on: SQLite (the embedded default, one file in the data
//! directory) and PostgreSQL (shared by several API servers).
//!
//! Every statement is written once, in the dialect both accept (`$1` placeholders, which
//! SQLite reads as numbered parameters; `ON CONFLICT ... DO UPDATE SET ... = excluded.x`;
//! no engine-specific functions). [`on!`] runs such a statement on whichever connection
//! the store has: it expands the statement once per engine, so each is type-checked
//! against that engine's sqlx driver and no runtime translation layer (`sqlx::Any`) sits
//! between the store and the database. The schemas differ where the engines do
//! (`migrations/` for SQLite, `migrations_pg/` for PostgreSQL: triggers are functions there,
//! integers are `BIGINT`) and are kept equivalent by running the same test suite on both
//! (`FLATNET_TEST_STORE=postgres`, see `apiserver/tests/common`).

use std::fmt;
use std::path::PathBuf;

use sqlx::postgres::{PgConnection, PgPool};
use sqlx::sqlite::SqlitePool;
use sqlx::SqliteConnection;

/// Where the store keeps its data, from `--store`.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite file (`--store sqlite:PATH`, or `flatnet.db` in the data directory).
    Sqlite(PathBuf),
    /// A PostgreSQL database (`--store postgres://USER@HOST/DB` or `postgresql://...`;
    /// a unix socket directory as `?host=/run/postgresql`).
    Postgres(String),
}

impl Location {
    /// Parse `--store`: `sqlite:PATH`, `postgres://...` or `postgresql://...`.
    pub fn parse(s: &str) -> Result<Location, String> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Location::Postgres(s.to_string()));
        }
        if let Some(path) = s.strip_prefix("sqlite://").or_else(|| s.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err("--store sqlite:PATH needs a path".into());
            }
            return Ok(Location::Sqlite(PathBuf::from(path)));
        }
        Err(format!("--store {s:?}: expected sqlite:PATH, postgres://... or postgresql://..."))
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Location::Postgres(_))
    }
}

/// Shown in logs and errors without the password of a PostgreSQL URL.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            Location::Postgres(url) => f.write_str(&hide_password(url)),
        }
    }
}

/// `scheme://user:password@host...` → `scheme://user:***@host...`.
fn hide_password(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else { return url.to_string() };
    let Some(at) = url[start..].find('@').map(|i| start + i) else { return url.to_string() };
    match url[start..at].find(':') {
        Some(colon) => format!("{}:***{}", &url[..start + colon], &url[at..]),
        None => url.to_string(),
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// One connection, of either engine (the writer's).
pub enum Conn {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

/// The read pool, of either engine.
#[derive(Clone)]
pub enum Pool {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

/// Run `$body` with `$c` bound to the engine's connection (or pool) inside `$conn`, a
/// `&mut Conn` or `&Pool`. The body is expanded once per engine.
macro_rules! on {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::store::backend::Either::Sqlite($c) => $body,
            $crate::store::backend::Either::Pg($c) => $body,
        }
    };
}
pub(crate) use on;

/// What [`on!`] matches on: a borrowed [`Conn`] or [`Pool`], by engine.
pub enum Either<S, P> {
    Sqlite(S),
    Pg(P),
}

impl Conn {
    pub fn either(&mut self) -> Either<&mut SqliteConnection, &mut PgConnection> {
        match self {
            Conn::Sqlite(c) => Either::Sqlite(c),
            Conn::Pg(c) => Either::Pg(c),
        }
    }
}

impl Pool {
    pub fn either(&self) -> Either<&SqlitePool, &PgPool> {
        match self {
            Pool::Sqlite(p) => Either::Sqlite(p),
            Pool::Pg(p) => Either::Pg(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_store_locations() {
        assert_eq!(Location::parse("sqlite:/var/lib/x.db").unwrap(), Location::Sqlite("/var/lib/x.db".into()));
        assert_eq!(Location::parse("sqlite:///tmp/x.db").unwrap(), Location::Sqlite("/tmp/x.db".into()));
        assert!(Location::parse("postgres://u@localhost/db").unwrap().is_postgres());
        assert!(Location::parse("postgresql://u@localhost/db").unwrap().is_postgres());
        assert!(Location::parse("mysql://x").is_err());
        assert!(Location::parse("sqlite:").is_err());
        let shown = Location::parse("postgres://u:secret@localhost/db").unwrap().to_string();
        assert!(!shown.contains("secret"), "{shown}");
    }
}
