#!/usr/bin/env bash
# Bring flatnet up on this machine: a local multi-node cluster (network namespaces as nodes,
# the API server on https://127.0.0.1:8080 with the cluster's own CA, one node agent per
# node), as root, without Docker. Installs missing system packages, builds the release
# binaries, then runs `flatnet up` in the foreground until Ctrl-C (which removes the cluster
# again). `flatnet up` writes /var/lib/flatnet/kubeconfig and prints the line to use it
# (export KUBECONFIG=/var/lib/flatnet/kubeconfig). Flags go to `flatnet up`:
#   scripts/up.sh --nodes 5 --backend vxlan --detach      (see target/release/flatnet up --help)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
    echo "flatnet up needs root: run it with sudo: sudo $0 $*" >&2
    exit 1
fi
scripts/deps.sh --run
if ! command -v cargo >/dev/null 2>&1; then
    # sudo resets PATH: use the invoking user's rustup toolchain when there is one.
    home=$(getent passwd "${SUDO_USER:-root}" | cut -d: -f6)
    if [ -x "$home/.cargo/bin/cargo" ]; then
        export PATH="$home/.cargo/bin:$PATH"
    else
        echo "cargo is missing: install Rust (https://rustup.rs), or run: sudo env PATH=\"\$PATH\" $0" >&2
        exit 1
    fi
fi
cargo build --release --locked -p flatnet-apiserver -p flatnet-nodeagent -p flatnet-cli
exec target/release/flatnet up "$@"
