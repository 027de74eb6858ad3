#!/bin/sh
# A node of the compose demo (docker-compose.yml), as the image's `flatnet-node`: the node
# agent on this container's own network namespace (no --netns), registered with the
# container's address as its InternalIP and serving pod logs on it, with the node token the
# setup service minted. HTTPS to the API server, trusting only the cluster's CA, which comes
# through the same tokens volume (the setup service writes it before any token).
set -eu
node=${FLATNET_NODE:?set FLATNET_NODE to this node\'s name}
server=${FLATNET_SERVER:-https://apiserver:8080}
token=/var/lib/flatnet/tokens/$node
ca=/var/lib/flatnet/tokens/ca.crt
address=$(ip -4 -o addr show dev eth0 | awk '{ split($4, a, "/"); print a[1]; exit }')
[ -n "$address" ] || { echo "flatnet-node: eth0 has no IPv4 address" >&2; exit 1; }

waited=0
until [ -s "$token" ]; do
    [ "$waited" -eq 0 ] && echo "flatnet-node: waiting for $token (the setup service mints it)" >&2
    waited=1
    sleep 0.5
done
exec nodeagent --server "$server" --ca-file "$ca" --node "$node" --node-ip "$address" --token-file "$token" \
    --daemon-listen 0.0.0.0:10250
