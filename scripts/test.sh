#!/usr/bin/env bash
# The whole test suite: installs what is missing, then runs every test of the workspace.
# Kernel and end-to-end tests need root; run as root (under CI=true they never skip).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
if [ "$(id -u)" -ne 0 ]; then
    echo "WARNING: not root: privileged tests will be SKIPPED (run as root for the full suite)" >&2
fi
# Style and lints are part of the suite (rustfmt and clippy come with the rustup toolchain).
cargo fmt --all --check
cargo clippy --workspace --locked --all-targets -- -D warnings
cargo build --workspace --locked --bins
cargo test --workspace --locked "$@"
# The API server's HTTP-level tests again, on PostgreSQL (a throwaway server per test process,
# apiserver/tests/common/pg.rs) instead of SQLite (the unit tests do not touch the store).
FLATNET_TEST_STORE=postgres cargo test -p flatnet-apiserver --locked --test '*' "$@"
# End-to-end suites again on `flatnet up --store postgres` clusters (PostgreSQL and two API
# servers, the agents given both; tests/tests/common/cluster.rs).
FLATNET_TEST_STORE=postgres cargo test -p flatnet-tests --locked --test services --test multinode --test cluster "$@"
