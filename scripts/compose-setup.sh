#!/bin/sh
# The compose demo's one-shot setup (docker-compose.yml's `setup` service), as the image's
# `flatnet-setup NODE...`: with the admin token it mints each node's token into the tokens
# volume (once: a token already there is kept), then, unless FLATNET_DEMO=0, creates the
# demo: a pod `web-N` running `flatnet netexec` on each node and the NodePort service `web`
# (port 80, node port 30080). Safe to run again: what exists is left alone. The API server
# speaks HTTPS with the cluster's CA (its ca.crt), which this copies into the tokens volume
# for the nodes, before their tokens.
set -eu
server=${FLATNET_SERVER:-https://apiserver:8080}
tokens=/var/lib/flatnet/tokens
admin_token_file=/var/lib/flatnet/apiserver/admin.token
ca=/var/lib/flatnet/apiserver/ca.crt

echo "setup: waiting for the API server at $server"
until [ -s "$ca" ] && curl -fsS --cacert "$ca" "$server/healthz" >/dev/null 2>&1 && [ -s "$admin_token_file" ]; do
    sleep 0.5
done
admin_token=$(cat "$admin_token_file")
cp "$ca" "$tokens/.ca.crt"
mv "$tokens/.ca.crt" "$tokens/ca.crt"

# POST a JSON body as the admin; 409 (already exists) counts as done.
post() {
    code=$(curl -sS -o /tmp/answer -w '%{http_code}' --cacert "$ca" -H "Authorization: Bearer $admin_token" \
        -H 'Content-Type: application/json' -X POST "$server$1" -d "$2")
    case $code in
        20? | 409) ;;
        *) echo "setup: POST $1 answered $code: $(cat /tmp/answer)" >&2; exit 1 ;;
    esac
}

for node in "$@"; do
    [ -s "$tokens/$node" ] && continue
    post "/api/v1/nodes/$node/token" ''
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p' /tmp/answer >"$tokens/.$node"
    [ -s "$tokens/.$node" ] || { echo "setup: no token in $(cat /tmp/answer)" >&2; exit 1; }
    mv "$tokens/.$node" "$tokens/$node"
    echo "setup: minted the token of $node"
done

[ "${FLATNET_DEMO:-1}" = 0 ] && exit 0
# Create the object NAME in the collection PATH unless it exists (a second `up` runs this again).
create() {
    curl -fsS -o /dev/null --cacert "$ca" -H "Authorization: Bearer $admin_token" "$server$1/$2" 2>/dev/null \
        || post "$1" "$3"
}
i=0
for node in "$@"; do
    i=$((i + 1))
    create /api/v1/namespaces/default/pods "web-$i" "{\"metadata\":{\"name\":\"web-$i\",\"labels\":{\"app\":\"web\"}},
      \"spec\":{\"nodeName\":\"$node\",\"containers\":[{\"name\":\"web\",\"image\":\"flatnet:local\",
      \"command\":[\"/usr/local/bin/flatnet\",\"netexec\"],\"ports\":[{\"name\":\"http\",\"containerPort\":8080}],
      \"readinessProbe\":{\"httpGet\":{\"path\":\"/healthz\",\"port\":8080},\"periodSeconds\":1}}]}}"
done
create /api/v1/namespaces/default/services web '{"metadata":{"name":"web"},"spec":{"type":"NodePort",
  "selector":{"app":"web"},"ports":[{"port":80,"targetPort":"http","nodePort":30080}]}}'
echo "setup: demo pods web-1..web-$i and the NodePort service web (30080) are there"
