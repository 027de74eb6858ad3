#!/usr/bin/env bash
# The compose demo's end-to-end test (docker-compose.yml), as root, with a real Docker engine:
# installs what is missing (docker.io, docker-compose, debootstrap, curl, python3; apt-get),
# starts its own dockerd inside a network and mount namespace of its own, with its own data
# and exec roots on a tmpfs, so the root namespace's links and firewall are never touched
# (a host-gw and a VXLAN pass, the node kill with a 6 s lease TTL); makes the base image
# with debootstrap (no registry is reachable here; the root filesystem is cached in
# target/compose-test/), builds the image from the binaries in target/$FLATNET_PROFILE
# (default debug: the ones scripts/test.sh builds), runs the demo, checks every path with
# real requests (node kill and return included), and tears everything down, dockerd and
# what it left included, whether the checks pass or not.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

if [ "$(id -u)" -ne 0 ]; then
    echo "compose-test needs root (dockerd, network namespaces)" >&2
    exit 2
fi
export PATH="/usr/bin:/usr/sbin:/bin:/sbin:$PATH"  # Debian's docker client, not /usr/local/bin's
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
profile=${FLATNET_PROFILE:-debug}
started=$(date +%s)
log() { echo "[compose-test +$(($(date +%s) - started))s] $*" >&2; }

# --- what is missing ---------------------------------------------------------------------
need=()
for pair in dockerd:docker.io docker-compose:docker-compose debootstrap:debootstrap \
    ip:iproute2 curl:curl python3:python3; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair##*:}")
done
if ((${#need[@]})); then
    log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ "$profile" = debug ]; then
    cargo build --locked -p flatnet-apiserver -p flatnet-nodeagent -p flatnet-cli --bins
else
    cargo build --locked --release -p flatnet-apiserver -p flatnet-nodeagent -p flatnet-cli --bins
fi

# --- dockerd in a namespace of its own; teardown whatever happens -------------------------
# What a run killed with SIGKILL left (its namespace, its roots' tmpfs), named by its pid.
for stale in $(ip netns list | grep -o '^flatnet-compose-[0-9]*'); do
    pid=${stale##*-}
    kill -0 "$pid" 2>/dev/null && continue
    log "removing $stale, left by an interrupted run"
    for p in $(ip netns pids "$stale"); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$stale" || true
    if mountpoint -q "/tmp/$stale"; then umount -l "/tmp/$stale"; fi
    rm -rf "/tmp/${stale:?}"
done
id=$$
ns=flatnet-compose-$id
work=/tmp/$ns
mkdir -m 0700 "$work"
cgroup_parent=flatnet-compose-$id
export DOCKER_HOST=unix://$work/docker.sock COMPOSE_PROJECT_NAME=fnct$id
export FLATNET_PROFILE=$profile FLATNET_BASE_IMAGE=flatnet-base:bookworm FLATNET_LEASE_TTL=6
key_json_existed=false
[ -e /etc/docker/key.json ] && key_json_existed=true
root_links_before=$(ip -o link show | awk -F': ' '{print $2}' | sort)

teardown() {
    local rc=$?
    set +e
    log "teardown (checks exited with $rc)"
    if [ -S "$work/docker.sock" ]; then
        timeout 60 docker-compose down -v --remove-orphans --timeout 2 >/dev/null 2>&1
    fi
    log "compose down; stopping dockerd"
    if [ -s "$work/dockerd.pid" ]; then
        local pid
        pid=$(cat "$work/dockerd.pid")
        kill "$pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
    fi
    log "dockerd stopped; removing its namespace, roots and cgroups"
    # Whatever dockerd left running in its namespace (containerd, shims): ours by construction.
    if ip netns list | grep -qw "$ns"; then
        for pid in $(ip netns pids "$ns"); do kill -9 "$pid" 2>/dev/null; done
        sleep 0.2
        ip netns del "$ns"  # takes docker0, br-* and dockerd's firewall rules with it
    fi
    # Its mounts lived in its own mount namespace; sweep any that leaked, then the tmpfs.
    grep -o " $work/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
    mountpoint -q "$work" && umount -l "$work"
    rm -rf "$work"
    for dir in /sys/fs/cgroup/"$cgroup_parent" /sys/fs/cgroup/*/"$cgroup_parent"; do
        [ -d "$dir" ] && find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    $key_json_existed || rm -f /etc/docker/key.json
    rmdir /etc/docker 2>/dev/null
    local root_links_after
    root_links_after=$(ip -o link show | awk -F': ' '{print $2}' | sort)
    local new_links
    new_links=$(comm -13 <(echo "$root_links_before") <(echo "$root_links_after") | grep -E '^(docker|br-|veth|fn)' || true)
    if [ -n "$new_links" ]; then
        echo "FAIL: links left in the root namespace: $new_links" >&2
        rc=1
    fi
    log "done: $([ "$rc" -eq 0 ] && echo PASS || echo "FAIL ($rc)")"
    exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# dockerd's roots on a tmpfs: removing a data root from disk took 20 s, unmounting takes none.
mount -t tmpfs -o size=4g,mode=0700 flatnet-compose "$work"
ip netns add "$ns"
ip -n "$ns" link set lo up
echo '{}' >"$work/daemon.json"
log "starting dockerd in netns $ns, roots in $work"
# Not `ip netns exec`: it mounts a new /sys, which hides the cgroup hierarchies dockerd needs.
# A mount namespace of its own (slave: the host's mounts reach in, its own never leak out)
# and only the network namespace entered.
unshare --mount --propagation slave nsenter --net="/run/netns/$ns" dockerd --host "$DOCKER_HOST" --data-root "$work/data" --exec-root "$work/exec" \
    --pidfile "$work/dockerd.pid" --config-file "$work/daemon.json" --cgroup-parent "/$cgroup_parent" \
    --storage-driver overlay2 >"$work/dockerd.log" 2>&1 &
for _ in $(seq 300); do docker info >/dev/null 2>&1 && break; sleep 0.1; done
docker info >/dev/null || { cat "$work/dockerd.log" >&2; exit 1; }

# --- the base image: Debian bookworm from the host's mirror, cached ------------------------
packages=iproute2,nftables,conntrack,curl
cache=$repo/target/compose-test
base_tar=$cache/bookworm-${packages//,/-}.tar
if [ ! -s "$base_tar" ]; then
    mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
    mirror=${mirror:-http://deb.debian.org/debian}
    log "debootstrap bookworm from $mirror (cached afterwards in $base_tar)"
    mkdir -p "$cache"
    debootstrap --variant=minbase --include="$packages" bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
    tar -C "$work/rootfs" -cf "$base_tar.tmp" . && mv "$base_tar.tmp" "$base_tar"
    rm -rf "$work/rootfs"
fi
docker import "$base_tar" "$FLATNET_BASE_IMAGE" >/dev/null
log "base image ready; building"
docker-compose build -q
log "image built"

# --- checks ----------------------------------------------------------------------------
api=https://127.0.0.1:8080
host() { ip netns exec "$ns" "$@"; }  # "the host" of the demo: where dockerd publishes
# As a client of the API: the cluster's CA pinned, the admin token (see credentials).
get() { host curl -fsS --cacert "$work/ca.crt" -H "Authorization: Bearer $admin_token" "$api$1"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
fail() { echo "FAIL: $*" >&2; docker-compose ps >&2; docker-compose logs --tail 30 >&2; exit 1; }
# Wait up to $1 seconds for the command to succeed.
wait_for() {
    local limit=$1 what=$2
    shift 2
    local until=$(($(date +%s) + limit))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$until" ] || fail "$what (after ${limit}s)"
        sleep 0.5
    done
}
node_ready() { [ "$(get "/api/v1/nodes/$1" | json 'next(c["status"] for c in d["status"]["conditions"] if c["type"]=="Ready")')" = "$2" ]; }
pods_running() {
    [ "$(get /api/v1/pods | json 'sum(1 for p in d["items"] if p["status"].get("phase")=="Running" and any(c.get("ready") for c in p["status"].get("containerStatuses",[])))')" = 3 ]
}
ready_endpoints() {
    get /api/v1/namespaces/default/endpoints/web \
        | json '" ".join(sorted(a["targetRef"]["name"] for s in d.get("subsets",[]) for a in s.get("addresses",[])))'
}
endpoints_are() { [ "$(ready_endpoints)" = "$1" ]; }
# In node $1's container, in the namespace of pod $2: the rest of the command.
in_pod() {
    local node=$1 pod=$2
    shift 2
    # shellcheck disable=SC2016 # expanded by the container's shell
    docker-compose exec -T "$node" sh -c 'ip netns exec "$(ip netns list | awk -v p="-default-$0-" "index(\$1, p) { print \$1; exit }")" "$@"' "$pod" "$@"
}
pod_ip() { get "/api/v1/namespaces/default/pods/$1" | json 'd["status"]["podIP"]'; }

# $2 requests from pod $1 (on node $3) to URL $4, one answer a line (one exec: each costs ~1 s).
requests() {
    # shellcheck disable=SC2016 # expanded by the pod's shell
    in_pod "$3" "$1" sh -c 'for _ in $(seq "$0"); do curl -fsS --max-time 5 "$1" || echo FAILED; echo; done' "$2" "$4"
}

# The nodes register with their containers' addresses and get leases, the demo's pods run,
# and every path works: pod to pod across node containers, the cluster IP from a pod, the
# NodePort from the client on every node, egress masqueraded to the node's address.
# The cluster's CA and admin token, copied out of the API server's volume once it made them.
credentials() {
    wait_for 60 "the API server's CA and admin token" docker-compose exec -T apiserver \
        test -s /var/lib/flatnet/apiserver/ca.crt -a -s /var/lib/flatnet/apiserver/admin.token
    docker-compose exec -T apiserver cat /var/lib/flatnet/apiserver/ca.crt >"$work/ca.crt"
    admin_token=$(docker-compose exec -T apiserver cat /var/lib/flatnet/apiserver/admin.token)
}
cluster_serves() {
    local leases addresses pod ip seen out n p
    credentials
    wait_for 60 "the API server answers on the published port" get /healthz
    for n in 1 2 3; do wait_for 60 "node-$n is Ready" node_ready "node-$n" True; done
    leases=$(get /api/v1/nodeleases | json '" ".join(sorted(l["metadata"]["name"]+"="+l["spec"]["podCIDR"] for l in d["items"]))')
    log "nodes Ready, leases: $leases"
    [ "$(echo "$leases" | tr ' ' '\n' | cut -d= -f2 | sort -u | wc -l)" = 3 ] || fail "three distinct leases: $leases"
    addresses=$(get /api/v1/nodes | json '" ".join(sorted(a["address"] for n in d["items"] for a in n["status"]["addresses"] if a["type"]=="InternalIP"))')
    [ "$addresses" = "192.168.254.11 192.168.254.12 192.168.254.13" ] || fail "InternalIPs are the containers' addresses: $addresses"
    wait_for 90 "the three demo pods are Running and ready" pods_running
    wait_for 30 "the service has three ready endpoints" endpoints_are "web-1 web-2 web-3"

    for pod in web-2 web-3; do
        ip=$(pod_ip "$pod")
        out=$(in_pod node-1 web-1 curl -fsS --max-time 5 "http://$ip:8080/hostname") || fail "web-1 -> $pod ($ip)"
        [ "$out" = "$pod" ] || fail "web-1 -> $pod answered $out"
    done
    log "pod to pod across node containers: ok"

    vip=$(get /api/v1/namespaces/default/services/web | json 'd["spec"]["clusterIP"]')
    seen=$(requests web-3 30 node-3 "http://$vip/hostname" | sort | uniq -c | tr -s ' \n' ' ')
    for p in web-1 web-2 web-3; do [[ "$seen" == *" $p "* ]] || fail "cluster IP $vip from web-3 never reached $p: $seen"; done
    [[ "$seen" != *FAILED* ]] || fail "cluster IP $vip from web-3: $seen"
    log "cluster IP $vip from a pod reaches all three endpoints:$seen"

    for n in 11 12 13; do
        out=$(docker-compose exec -T client curl -fsS --max-time 5 "http://192.168.254.$n:30080/hostname") \
            || fail "client -> NodePort on 192.168.254.$n"
        [[ "$out" == web-? ]] || fail "NodePort on 192.168.254.$n answered $out"
    done
    log "NodePort 30080 from the client container on every node: ok"

    out=$(in_pod node-2 web-2 curl -fsS --max-time 5 http://192.168.254.100:9000/clientip) || fail "egress web-2 -> client"
    [[ "$out" == 192.168.254.12:* ]] || fail "egress from web-2 is masqueraded to node-2's address, got $out"
    log "egress from a pod to the client, masqueraded as its node: $out"
}

# `down -v` leaves nothing: no container, volume, network, link or flatnet table on the host.
down_leaves_nothing() {
    docker-compose down -v >/dev/null 2>&1
    [ -z "$(docker ps -aq)" ] || fail "containers left after down -v"
    [ -z "$(docker volume ls -q)" ] || fail "volumes left after down -v"
    [ -z "$(docker network ls -q --filter "name=${COMPOSE_PROJECT_NAME}")" ] || fail "networks left after down -v"
    local left
    left=$(ip -n "$ns" -o link show | awk -F': ' '{print $2}' | grep -Ev '^(lo|docker0)$' || true)
    [ -z "$left" ] || fail "links left on the host after down -v: $left"
    ! ip netns exec "$ns" nft list tables | grep -q flatnet || fail "a flatnet nftables table left on the host"
    log "down -v left no container, network, volume, link or flatnet table"
}

log "host-gw (the default)"
docker-compose up -d
cluster_serves

host curl -fsS --cacert "$work/ca.crt" "$api/" | grep -qi '<html' || fail "the dashboard on the published port"
get "/api/v1/namespaces/default/pods/web-2/log?container=web" | grep -q . || fail "web-2's log through node-2's agent"
[ "$(host curl -s -o /dev/null -w '%{http_code}' --cacert "$work/ca.crt" "$api/api/v1/pods")" = 401 ] \
    || fail "a read without a token answers 401"
logs=$(docker-compose logs --no-color)
for pattern in "apiserver_1 .*listening on" "node-1_1 .*node registered" "node-2_1 .*node registered" \
    "node-3_1 .*node registered" "setup_1 .*demo pods.*are there"; do
    grep -Eq "$pattern" <<<"$logs" || fail "docker-compose logs shows '$pattern'"
done
log "dashboard from the host, pod log through the agent, docker-compose logs: ok"
docker-compose up -d >/dev/null 2>&1  # runs setup again: it must find everything in place
[ "$(docker wait "$(docker-compose ps -q setup)")" = 0 ] || fail "setup run a second time"

# --- a node dies and comes back ------------------------------------------------------------
cidr2=$(get /api/v1/nodeleases/node-2 | json 'd["spec"]["podCIDR"]')
docker-compose kill node-2 >/dev/null 2>&1
killed=$(date +%s)
# The TTL, plus the server's 1 s expiry tick and this loop's polls (each ~0.3 s).
wait_for $((FLATNET_LEASE_TTL + 4)) "node-2 turns NotReady within the lease TTL (${FLATNET_LEASE_TTL}s)" node_ready node-2 False
log "node-2 NotReady $(($(date +%s) - killed))s after the kill"
wait_for 10 "web-2 leaves the service's endpoints" endpoints_are "web-1 web-3"
seen=$(requests web-1 20 node-1 "http://$vip/hostname" | sort | uniq -c | tr -s ' \n' ' ')
[[ "$seen" =~ ^(\ [0-9]+\ web-[13])+\ $ ]] || fail "the service from web-1 with node-2 down: $seen"
for n in 11 13; do
    docker-compose exec -T client curl -fsS --max-time 5 "http://192.168.254.$n:30080/hostname" >/dev/null \
        || fail "NodePort on 192.168.254.$n with node-2 down"
done
log "with node-2 down the service keeps answering, from web-1 and web-3 only:$seen"

docker-compose start node-2 >/dev/null 2>&1
wait_for 60 "node-2 Ready again" node_ready node-2 True
[ "$(get /api/v1/nodeleases/node-2 | json 'd["spec"]["podCIDR"]')" = "$cidr2" ] || fail "node-2 got its CIDR $cidr2 back"
wait_for 60 "web-2 back in the endpoints" endpoints_are "web-1 web-2 web-3"
ip2=$(pod_ip web-2)
out=$(in_pod node-3 web-3 curl -fsS --max-time 5 "http://$ip2:8080/hostname") || fail "web-3 -> web-2 after the return"
[ "$out" = web-2 ] || fail "web-3 -> web-2 after the return answered $out"
log "node-2 back with $cidr2, web-2 serving again"

down_leaves_nothing

log "vxlan"
FLATNET_BACKEND=vxlan docker-compose up -d
cluster_serves
docker-compose exec -T node-1 ip -d link show fnvx0 | grep -q "vxlan id 1" || fail "node-1 has no VXLAN device fnvx0"
down_leaves_nothing
