# flatnet's image for the compose demo (docker-compose.yml): the API server, the node agent
# and the `flatnet` tool (the pods' test workload), on Debian bookworm.
#
# The binaries are built on the host and copied in, not built in a Rust stage: the build
# reuses the host's cargo cache and target directory (seconds instead of a full rebuild in a
# container), needs no Rust image and no crates.io inside the build, so it also works on an
# offline machine. Build them first on Debian 12 (or any system whose glibc is not newer
# than bookworm's 2.36):
#   cargo build --release --locked -p flatnet-apiserver -p flatnet-nodeagent -p flatnet-cli
# PROFILE=debug copies target/debug instead (what scripts/compose-test.sh does, to reuse
# the binaries scripts/test.sh builds).
ARG BASE=debian:bookworm-slim
FROM ${BASE}

# Only what a node needs: ip (iproute2), nft (nftables), conntrack (UDP entries deleted when
# an endpoint goes away), and curl for the setup scripts and for trying things by hand.
# Installed only when missing, so a base image that already holds them (the test's, made
# with debootstrap on a machine that reaches no registry) builds offline.
RUN missing=""; \
    for pkg in iproute2 nftables conntrack curl; do \
        dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"; \
    done; \
    if [ -n "$missing" ]; then \
        apt-get update && \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing && \
        rm -rf /var/lib/apt/lists/*; \
    fi

ARG PROFILE=release
COPY target/${PROFILE}/apiserver target/${PROFILE}/nodeagent target/${PROFILE}/flatnet /usr/local/bin/
COPY web /usr/share/flatnet/web
COPY scripts/compose-node.sh /usr/local/bin/flatnet-node
COPY scripts/compose-setup.sh /usr/local/bin/flatnet-setup
