//! Who is asking, and whether they may: a bearer token on every request.
//!
//! | token | made | may |
//! |---|---|---|
//! | admin | on first start, `DATA_DIR/admin.token` | everything |
//! | viewer | on first start, `DATA_DIR/viewer.token` | read (not pod logs) |
//! | node | `POST /api/v1/nodes/{name}/token` (admin) | read; write its node, its heartbeat, the status of its pods |
//!
//! [`authenticate`] runs before every route: without a token only the health checks
//! (`/healthz`, `/livez`, `/readyz`) and `/version` answer, as on a Kubernetes API server
//! without anonymous auth; with `--anonymous-reads` (demos) reads answer too. A viewer, or
//! an anonymous reader, is refused every method but GET and HEAD here; handlers that write
//! take [`Authenticated`], which only admin and node tokens pass, and check a node's scope.
//! The dashboard's static files are served without a token (they hold no cluster data).
//!
//! The scheme is matched case-insensitively (`bearer` works, as in Kubernetes). The admin
//! and viewer tokens are compared in constant time (their SHA-256 digests, so the length of
//! the token leaks nothing either); node tokens are looked up by the SHA-256 digest the store
//! keeps, which tells an attacker nothing about any token's bytes.

use std::path::{Path, PathBuf};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ApiResult};
use crate::store::{Caller, Store};
use crate::AppState;

pub const ADMIN_TOKEN_FILE: &str = "admin.token";
pub const VIEWER_TOKEN_FILE: &str = "viewer.token";

/// Paths that answer without a token: health checks (for probes and load balancers) and the
/// server's version (kubectl asks it before anything else).
pub const OPEN_PATHS: [&str; 4] = ["/healthz", "/livez", "/readyz", "/version"];

/// The bearer of a request, once [`authenticate`] has run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    Admin,
    Viewer,
    Node(String),
    /// No token: an open path, or a read with `--anonymous-reads`.
    Anonymous,
}

/// The tokens the server knows besides node tokens (which live in the store).
pub struct Authenticator {
    admin: [u8; 32],
    viewer: [u8; 32],
    anonymous_reads: bool,
}

impl Authenticator {
    pub fn new(admin_token: &str, viewer_token: &str, anonymous_reads: bool) -> Self {
        Authenticator { admin: digest(admin_token), viewer: digest(viewer_token), anonymous_reads }
    }

    /// Who `token` belongs to, if anyone.
    pub fn identify(&self, store: &Store, token: &str) -> Option<Principal> {
        let d = digest(token);
        // Both comparisons always run: which token matched does not show in the timing.
        let (admin, viewer) = (d.ct_eq(&self.admin), d.ct_eq(&self.viewer));
        if bool::from(admin) {
            return Some(Principal::Admin);
        }
        if bool::from(viewer) {
            return Some(Principal::Viewer);
        }
        match store.authenticate(token)? {
            Caller::Node(node) => Some(Principal::Node(node)),
            // The store knows the admin token too; it matched above already.
            Caller::Admin => Some(Principal::Admin),
        }
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The token of `Authorization: Bearer TOKEN` (any case of `Bearer`); `None` without the
/// header, an error when it is not a bearer token.
fn bearer_token(headers: &HeaderMap) -> ApiResult<Option<&str>> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let malformed = || ApiError::unauthorized("the Authorization header must be \"Bearer TOKEN\"");
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
    }
    Ok(Some(token))
}

fn is_read(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

/// The middleware in front of every API route: identifies the bearer, refuses what no
/// token allows, and leaves the [`Principal`] in the request's extensions.
pub async fn authenticate(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    match principal(&st, req.method(), req.uri().path(), req.headers()) {
        Ok(p) => {
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

fn principal(st: &AppState, method: &Method, path: &str, headers: &HeaderMap) -> ApiResult<Principal> {
    let token = match bearer_token(headers) {
        Ok(t) => t,
        // A broken header on an open path is still an open path.
        Err(_) if OPEN_PATHS.contains(&path) => None,
        Err(e) => return Err(e),
    };
    let who = match token {
        Some(t) => st.auth.identify(&st.store, t).ok_or_else(|| ApiError::unauthorized("unknown bearer token"))?,
        None if OPEN_PATHS.contains(&path) => return Ok(Principal::Anonymous),
        None if st.auth.anonymous_reads && is_read(method) => Principal::Anonymous,
        None => {
            return Err(ApiError::unauthorized(
                "this request needs a bearer token (Authorization: Bearer TOKEN): the admin token, the viewer \
                 token or a node token",
            ))
        }
    };
    if !is_read(method) {
        match who {
            Principal::Viewer => return Err(ApiError::forbidden("the viewer token may only read")),
            Principal::Anonymous => return Err(ApiError::unauthorized("writes need a bearer token")),
            Principal::Admin | Principal::Node(_) => {}
        }
    }
    Ok(who)
}

/// The caller of a write (or of a read that needs write rights, such as pod logs): the admin
/// or a node. Extracted before the body is read, so a refused write is answered whatever its
/// body.
pub struct Authenticated(pub Caller);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> ApiResult<Self> {
        match parts.extensions.get::<Principal>() {
            Some(Principal::Admin) => Ok(Authenticated(Caller::Admin)),
            Some(Principal::Node(n)) => Ok(Authenticated(Caller::Node(n.clone()))),
            Some(Principal::Viewer) => Err(ApiError::forbidden("the viewer token may not do this")),
            Some(Principal::Anonymous) => Err(ApiError::unauthorized("this request needs a bearer token")),
            None => Err(ApiError::internal("authenticate", "the authentication layer is missing")),
        }
    }
}

/// A token of a data directory (`admin.token`, `viewer.token`): read it, or create it
/// (mode 0600) on first start. Answers the token and its path.
pub fn token_file(data_dir: &Path, file: &str) -> anyhow::Result<(String, PathBuf)> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(data_dir)?;
    let path = data_dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => return Ok((t.trim().to_string(), path)),
        Ok(_) => anyhow::bail!("token file {} is empty: delete it to create a new one", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(anyhow::anyhow!("read token {}: {e}", path.display())),
    }
    let token = crate::store::new_token();
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
    writeln!(f, "{token}")?;
    f.sync_all()?;
    Ok((token, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_nothing_else_passes() {
        for ok in ["Bearer abc", "bearer abc", "BEARER abc", "  Bearer   abc  "] {
            assert_eq!(bearer_token(&headers(ok)).unwrap(), Some("abc"), "{ok:?}");
        }
        for bad in ["abc", "Basic abc", "Bearer", "Bearer ", "Bearerabc", "Token abc"] {
            assert!(bearer_token(&headers(bad)).is_err(), "{bad:?}");
        }
        assert_eq!(bearer_token(&HeaderMap::new()).unwrap(), None);
    }
}
