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
# Every pass runs to its end, and every pass runs even when an earlier one failed, so one run
# shows every failure (--no-fail-fast); the script fails at the end if any pass did.
failed=()
cargo test --workspace --locked --no-fail-fast "$@" || failed+=("workspace")
# The API server's HTTP-level tests again, on PostgreSQL (a throwaway server per test process,
# apiserver/tests/common/pg.rs) instead of SQLite (the unit tests do not touch the store).
FLATNET_TEST_STORE=postgres cargo test -p flatnet-apiserver --locked --no-fail-fast --test '*' "$@" \
    || failed+=("apiserver on PostgreSQL")
# End-to-end suites again on `flatnet up --store postgres` clusters (PostgreSQL and two API
# servers, the agents given both; tests/tests/common/cluster.rs).
FLATNET_TEST_STORE=postgres cargo test -p flatnet-tests --locked --no-fail-fast \
    --test services --test multinode --test cluster "$@" || failed+=("end-to-end on PostgreSQL")
if [ ${#failed[@]} -ne 0 ]; then
    printf 'FAILED passes: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "all passes green"
