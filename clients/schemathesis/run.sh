#!/usr/bin/env bash
# Fuzz flatnet's API with schemathesis: every operation, every check, stateful links, against
# a real `apiserver` on a loopback port with a fresh data directory, over HTTPS: schemathesis
# verifies the server against the CA the server made (DATA_DIR/ca.crt) and sends the admin
# token on every request (reads need one too).
#   clients/schemathesis/run.sh [APISERVER_BINARY]
# Bounded: ST_MAX_EXAMPLES (default 25) examples per operation, ST_MAX_TIME (default 120) seconds.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/target/debug/apiserver}
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" --listen "127.0.0.1:$port" --data-dir "$work/data" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
    [ -s "$work/data/admin.token" ] && [ -s "$work/data/ca.crt" ] &&
        curl -fs --cacert "$work/data/ca.crt" "https://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.1
done
cd "$work"
SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$root/clients/schemathesis" \
    schemathesis --config-file "$root/clients/schemathesis/schemathesis.toml" run "$root/openapi/openapi.json" \
    --url "https://127.0.0.1:$port" --tls-verify "$work/data/ca.crt" \
    -H "Authorization: Bearer $(cat "$work/data/admin.token")" \
    --checks all --phases examples,coverage,fuzzing,stateful \
    -n "${ST_MAX_EXAMPLES:-25}" --max-time "${ST_MAX_TIME:-120}" \
    --request-timeout 10 --seed "${ST_SEED:-1}" \
    --no-color --continue-on-failure --warnings off
