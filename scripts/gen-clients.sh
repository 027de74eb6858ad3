#!/usr/bin/env bash
# Regenerate the API clients under clients/ from the committed OpenAPI document
# (openapi/openapi.json): clients/python with openapi-python-client, clients/typescript/src/gen
# with @hey-api/openapi-ts. Hand-written files (READMEs, the watch helpers, the tests) are
# kept. Tools: scripts/deps.sh installs the pinned versions.
#
#   scripts/gen-clients.sh           regenerate in place
#   scripts/gen-clients.sh --check   regenerate into a temporary copy and fail if the
#                                    committed clients differ (the drift test runs this)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
spec=$root/openapi/openapi.json
check=false
[ "${1:-}" = "--check" ] && check=true

# What generation does not touch, relative to each client's directory.
py_keep=(README.md flatnet_client/watch.py tests)
ts_keep=() # the generator writes only src/gen

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Python: generate into a scratch directory, then lay the hand-written files over it.
(cd "$work" && openapi-python-client generate --path "$spec" --meta setup \
    --config "$root/clients/python-config.yaml" --output-path "$work/python" >"$work/py.log" 2>&1) || {
    cat "$work/py.log" >&2
    exit 1
}
if grep -qi "warning" "$work/py.log"; then
    echo "openapi-python-client warned:" >&2
    cat "$work/py.log" >&2
    exit 1
fi
rm -rf "$work/python/.ruff_cache"
for f in "${py_keep[@]}"; do
    rm -rf "${work:?}/python/$f"
    [ -e "$root/clients/python/$f" ] && cp -r "$root/clients/python/$f" "$work/python/$f"
done

# TypeScript: @hey-api/openapi-ts from clients/typescript/node_modules (npm ci).
ts=$root/clients/typescript
mkdir -p "$work/ts"
(cd "$ts" && node node_modules/@hey-api/openapi-ts/bin/run.js -i "$spec" -o "$work/ts/gen" \
    -c @hey-api/client-fetch --no-log-file >"$work/ts.log" 2>&1) || {
    cat "$work/ts.log" >&2
    exit 1
}

if $check; then
    status=0
    diff -r -x __pycache__ -x '*.egg-info' -x build "$root/clients/python" "$work/python" >"$work/py.diff" || status=1
    diff -r "$ts/src/gen" "$work/ts/gen" >"$work/ts.diff" || status=1
    if [ $status -ne 0 ]; then
        echo "the committed clients differ from what openapi/openapi.json generates; run scripts/gen-clients.sh:" >&2
        head -50 "$work/py.diff" "$work/ts.diff" >&2
        exit 1
    fi
    echo "clients match openapi/openapi.json"
    exit 0
fi
rm -rf "$root/clients/python.new"
cp -r "$work/python" "$root/clients/python.new"
rm -rf "$root/clients/python"
mv "$root/clients/python.new" "$root/clients/python"
rm -rf "$ts/src/gen"
mkdir -p "$ts/src"
cp -r "$work/ts/gen" "$ts/src/gen"
echo "regenerated clients/python and clients/typescript/src/gen"
