#!/usr/bin/env bash
# Bring up flatnet on this machine. For now this starts the API server only (the node agents
# and `flatnet up`, the multi-node local cluster, come next); it runs in the foreground
# until Ctrl-C. Data (SQLite database, admin token) lives in ${FLATNET_DATA_DIR:-./flatnet-data}.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --locked -p flatnet-apiserver
exec target/release/apiserver \
    --listen "${FLATNET_LISTEN:-127.0.0.1:8080}" \
    --data-dir "${FLATNET_DATA_DIR:-flatnet-data}" "$@"
