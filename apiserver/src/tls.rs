//! HTTPS: the cluster's own certificate authority, the server's certificate, and a TLS
//! listener for `axum::serve`.
//!
//! On first start the server makes a CA in its data directory, as kubeadm does: `ca.crt`
//! (what clients pin: the kubeconfig's `certificate-authority-data`, the agents' `--ca-file`)
//! and `ca.key` (mode 0600). Every start then issues a fresh serving certificate signed by
//! that CA for the names clients use ([`serving_names`]), kept in memory only: a new
//! `--tls-san` or a new address takes effect on restart, and no stale certificate is left on
//! disk. Keys are ECDSA P-256; TLS is rustls with the *ring* provider (no OpenSSL).
//!
//! ALPN offers HTTP/1.1 only (the server speaks HTTP/1.1): Go clients such as kubectl then
//! use HTTP/1.1 over TLS.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{Datelike, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

pub const CA_CERT_FILE: &str = "ca.crt";
pub const CA_KEY_FILE: &str = "ca.key";
const CA_NAME: &str = "flatnet-ca";
const SERVER_NAME: &str = "flatnet-apiserver";
/// How long the CA is valid (like kubeadm's: ten years).
const CA_YEARS: i32 = 10;
/// How long a serving certificate is valid; every start issues a new one.
const SERVING_YEARS: i32 = 1;
/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The cluster's CA and the server's TLS configuration.
pub struct Pki {
    /// The CA certificate (PEM), as in `DATA_DIR/ca.crt`.
    pub ca_pem: String,
    pub server_config: Arc<rustls::ServerConfig>,
}

/// Read the CA of `data_dir` (making it on first start) and issue a serving certificate for
/// `names` (DNS names or IP addresses).
pub fn load_or_create(data_dir: &Path, names: &[String]) -> anyhow::Result<Pki> {
    let (ca_key, ca_pem) = load_or_create_ca(data_dir)?;
    // Only the CA's name and key matter to sign with: rebuild its parameters, then sign.
    let ca = ca_params().self_signed(&ca_key).context("rebuild the CA certificate")?;

    let key = KeyPair::generate().context("generate the serving key")?;
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, SERVER_NAME);
    params.subject_alt_names = names.iter().map(|n| san(n)).collect::<anyhow::Result<_>>()?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, SERVING_YEARS);
    let cert = params.signed_by(&key, &ca, &ca_key).context("sign the serving certificate")?;

    let chain = vec![cert.der().clone(), CertificateDer::from_pem_slice(ca_pem.as_bytes()).context("read ca.crt")?];
    let key = PrivateKeyDer::try_from(key.serialize_der()).map_err(|e| anyhow::anyhow!("serving key: {e}"))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("TLS serving certificate")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Pki { ca_pem, server_config: Arc::new(config) })
}

/// The names the serving certificate covers: the listen address (unless a wildcard),
/// loopback, `localhost`, this host's name, and any `--tls-san`.
pub fn serving_names(listen: SocketAddr, extra: &[String]) -> Vec<String> {
    let mut names = vec![
        Ipv4Addr::LOCALHOST.to_string(),
        Ipv6Addr::LOCALHOST.to_string(),
        "localhost".to_string(),
        SERVER_NAME.to_string(),
    ];
    if !listen.ip().is_unspecified() {
        names.push(listen.ip().to_string());
    }
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        names.push(host.trim().to_string());
    }
    names.extend(extra.iter().cloned());
    names.retain(|n| !n.is_empty());
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

fn san(name: &str) -> anyhow::Result<SanType> {
    Ok(match name.parse::<IpAddr>() {
        Ok(ip) => SanType::IpAddress(ip),
        Err(_) => SanType::DnsName(name.try_into().map_err(|e| anyhow::anyhow!("TLS name {name:?}: {e}"))?),
    })
}

/// The CA's parameters: the same at every start, so a certificate signed now names the
/// issuer that `ca.crt` holds.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    set_validity(&mut params, CA_YEARS);
    params
}

/// Valid from yesterday (clocks differ a little) until `years` from now.
fn set_validity(params: &mut CertificateParams, years: i32) {
    // Day 28 at most, so that the same month of any later year has it.
    let day = |d: chrono::DateTime<Utc>, add: i32| {
        rcgen::date_time_ymd(d.year() + add, d.month() as u8, d.day().min(28) as u8)
    };
    let now = Utc::now();
    params.not_before = day(now - chrono::Duration::days(1), 0);
    params.not_after = day(now, years);
}

/// `ca.key` and `ca.crt` of `data_dir`: read them, or make both on first start.
fn load_or_create_ca(data_dir: &Path) -> anyhow::Result<(KeyPair, String)> {
    let (key_path, cert_path) = (data_dir.join(CA_KEY_FILE), data_dir.join(CA_CERT_FILE));
    match (key_path.exists(), cert_path.exists()) {
        (true, true) => {
            let key_pem = std::fs::read_to_string(&key_path).with_context(|| format!("read {}", key_path.display()))?;
            let key = KeyPair::from_pem(&key_pem).with_context(|| format!("parse {}", key_path.display()))?;
            let cert_pem =
                std::fs::read_to_string(&cert_path).with_context(|| format!("read {}", cert_path.display()))?;
            Ok((key, cert_pem))
        }
        (false, false) => {
            std::fs::create_dir_all(data_dir)?;
            let key = KeyPair::generate().context("generate the CA key")?;
            let cert = ca_params().self_signed(&key).context("make the CA certificate")?;
            write_new(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
            write_new(&cert_path, cert.pem().as_bytes(), 0o644)?;
            Ok((key, cert.pem()))
        }
        _ => anyhow::bail!(
            "{} and {} must both exist or both be absent: restore the missing one, or remove both to make a new CA \
             (every client's copy of the old CA then stops working)",
            cert_path.display(),
            key_path.display()
        ),
    }
}

/// Create `path` (never overwrite) with `mode`, and sync it.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("create {}", path.display()))?;
    f.write_all(contents)?;
    f.sync_all()?;
    Ok(())
}

/// A listener for `axum::serve` that answers TLS: TCP connections are accepted here and
/// their handshakes run in their own tasks, so a slow or silent client never holds up the
/// next one.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!(error = %e, "accept a connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                if tx.is_closed() {
                    return;
                }
                let (acceptor, ready) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = ready.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { local, ready })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept task ends only when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_made_once_with_a_private_key_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let names = serving_names("127.0.0.1:0".parse().unwrap(), &["api.example.test".into(), "10.0.0.5".into()]);
        let first = load_or_create(dir.path(), &names).unwrap();
        let mode = std::fs::metadata(dir.path().join(CA_KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create(dir.path(), &names).unwrap();
        assert_eq!(first.ca_pem, again.ca_pem);
        assert_eq!(std::fs::read_to_string(dir.path().join(CA_CERT_FILE)).unwrap(), first.ca_pem);

        std::fs::remove_file(dir.path().join(CA_KEY_FILE)).unwrap();
        let err = load_or_create(dir.path(), &names).err().unwrap().to_string();
        assert!(err.contains("both"), "{err}");
    }

    #[test]
    fn serving_names_cover_loopback_the_listen_address_and_extra_names() {
        let names = serving_names("192.0.2.7:6443".parse().unwrap(), &["api.test".into(), "localhost".into()]);
        for n in ["127.0.0.1", "::1", "localhost", "192.0.2.7", "api.test"] {
            assert!(names.contains(&n.to_string()), "{n} in {names:?}");
        }
        assert_eq!(names.iter().filter(|n| *n == "localhost").count(), 1);
        assert!(!serving_names("0.0.0.0:6443".parse().unwrap(), &[]).contains(&"0.0.0.0".to_string()));
        assert!(san("bäd").is_err());
    }
}
