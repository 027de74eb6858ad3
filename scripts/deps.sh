#!/usr/bin/env bash
# Install what flatnet needs on a Debian machine, only what is missing.
# Debian packages: iproute2 (ip), nftables (nft), conntrack, iperf3 (benchmarks), chromium and
# chromium-driver (the dashboard's browser test), bind9-dnsutils (dig), dnsmasq-base (an
# upstream resolver in the DNS tests, and a peer in its benchmark) and dnsperf.
# Python: openapi-spec-validator, to check that the committed OpenAPI document is valid.
# The real clients of tests/tests/kubectl.rs: kubectl (Debian's kubernetes-client) and the
# official Python client (`kubernetes` on PyPI, pinned to the version tested).
# `--run`: only what a running cluster needs (scripts/up.sh), not the test tools.
set -euo pipefail

run_only=false
[ "${1:-}" = "--run" ] && run_only=true

pairs="ip:iproute2 nft:nftables conntrack:conntrack python3:python3 curl:curl"
$run_only || pairs="$pairs iperf3:iperf3 chromium:chromium chromedriver:chromium-driver"
$run_only || pairs="$pairs dig:bind9-dnsutils dnsmasq:dnsmasq-base dnsperf:dnsperf"
# kubectl: preinstalled (1.32) on the CI machines; on a plain Debian, kubernetes-client (1.20).
$run_only || pairs="$pairs kubectl:kubernetes-client"
need_pkgs=()
for pair in $pairs; do
    bin=${pair%%:*} pkg=${pair##*:}
    command -v "$bin" >/dev/null 2>&1 || need_pkgs+=("$pkg")
done
if ((${#need_pkgs[@]})); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "flatnet needs these Debian packages: ${need_pkgs[*]}" >&2
        echo "install them as root: apt-get update && apt-get install -y ${need_pkgs[*]}" >&2
        exit 1
    fi
    echo "installing ${need_pkgs[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

if ! $run_only && ! python3 -c 'import openapi_spec_validator' 2>/dev/null; then
    echo "installing openapi-spec-validator (pip)" >&2
    python3 -m pip install -q openapi-spec-validator 2>/dev/null \
        || python3 -m pip install -q --break-system-packages openapi-spec-validator
fi

KUBERNETES_PY=37.0.2
if ! $run_only && [ "$(python3 -c 'import kubernetes; print(kubernetes.__version__)' 2>/dev/null)" != "$KUBERNETES_PY" ]; then
    echo "installing kubernetes==$KUBERNETES_PY (pip)" >&2
    python3 -m pip install -q "kubernetes==$KUBERNETES_PY" 2>/dev/null \
        || python3 -m pip install -q --break-system-packages "kubernetes==$KUBERNETES_PY"
fi

# The generated API clients (clients/): their generators and tests, and schemathesis, which
# fuzzes the API from its OpenAPI document. Pinned: the committed clients are what these
# versions generate (scripts/gen-clients.sh --check). wheel: `pip install clients/python` offline.
py_pins="openapi-python-client==0.29.1 ruff==0.17.6 schemathesis==4.32.5 wheel==0.48.0"
if ! $run_only; then
    # shellcheck disable=SC2207
    missing=($(python3 - $py_pins <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    try:
        ok = version(name) == want
    except PackageNotFoundError:
        ok = False
    if not ok:
        print(pin)
PY
    ))
    if ((${#missing[@]})); then
        echo "installing ${missing[*]} (pip)" >&2
        python3 -m pip install -q "${missing[@]}" 2>/dev/null \
            || python3 -m pip install -q --break-system-packages "${missing[@]}"
    fi
    ts_dir="$(cd "$(dirname "$0")/.." && pwd)/clients/typescript"
    if command -v npm >/dev/null 2>&1 \
        && { ! cmp -s "$ts_dir/package-lock.json" "$ts_dir/node_modules/.flatnet-lock.json" 2>/dev/null \
            || [ ! -e "$ts_dir/node_modules/typescript/bin/tsc" ]; }; then
        echo "installing the TypeScript client's tools (npm ci in clients/typescript)" >&2
        (cd "$ts_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null \
            && cp package-lock.json node_modules/.flatnet-lock.json)
    fi
fi
