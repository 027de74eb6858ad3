//! The kubeconfig `flatnet up` writes (`DATA/kubeconfig`, mode 0600: it holds the admin
//! token), as kind does: one cluster with the CA's data, one user with the admin token, and
//! a context named after the cluster, made current. `export KUBECONFIG=DATA/kubeconfig`
//! points kubectl (and the official client libraries) at the cluster.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

pub const KUBECONFIG_FILE: &str = "kubeconfig";

/// The kubeconfig's text. `name` names the cluster, its context and (with `-admin`) its user.
pub fn render(name: &str, server: &str, ca_pem: &[u8], token: &str) -> String {
    let ca = base64(ca_pem);
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: {name}\n  \
           cluster:\n    \
             server: {server}\n    \
             certificate-authority-data: {ca}\n\
         users:\n\
         - name: {name}-admin\n  \
           user:\n    \
             token: {token}\n\
         contexts:\n\
         - name: {name}\n  \
           context:\n    \
             cluster: {name}\n    \
             user: {name}-admin\n\
         current-context: {name}\n\
         preferences: {{}}\n"
    )
}

/// Write `DATA/kubeconfig` (replacing an older one), mode 0600; answers its path.
pub fn write(data_dir: &Path, contents: &str) -> anyhow::Result<PathBuf> {
    let path = data_dir.join(KUBECONFIG_FILE);
    let tmp = data_dir.join(format!(".{KUBECONFIG_FILE}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("create {}", tmp.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path).with_context(|| format!("write {}", path.display()))?;
    Ok(path)
}

/// Standard base64 with padding (RFC 4648), as kubeconfig's `*-data` fields hold.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_test_vectors() {
        let cases =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain:?}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn the_kubeconfig_names_cluster_user_and_current_context() {
        let text = render("flatnet", "https://127.0.0.1:8080", b"PEM", "tok");
        for line in [
            "- name: flatnet\n  cluster:\n    server: https://127.0.0.1:8080\n    certificate-authority-data: UEVN\n",
            "- name: flatnet-admin\n  user:\n    token: tok\n",
            "  context:\n    cluster: flatnet\n    user: flatnet-admin\n",
            "current-context: flatnet\n",
        ] {
            assert!(text.contains(line), "{line:?} in\n{text}");
        }
    }

    #[test]
    fn it_is_written_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "a").unwrap();
        write(dir.path(), "b").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "b");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
