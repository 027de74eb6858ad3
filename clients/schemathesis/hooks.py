"""Schemathesis hooks for flatnet's API (loaded through SCHEMATHESIS_HOOKS by clients/schemathesis/run.sh).

They change only what JSON Schema cannot say about a request, and only in the requests that
schemathesis generates as valid (positive mode); the schemas' descriptions state each rule:

- a watch (`watch=true`) streams until `timeoutSeconds`: every watch gets a short one, so that
  each request ends;
- JSON numbers: the schema says `integer`, which JSON Schema also satisfies with `80.0`; the
  server, like Kubernetes, takes integers written as integers;
- identity: `metadata.namespace` is the path's namespace (absent for cluster-scoped kinds),
  and a replaced object's `metadata.name` is the path's name;
- rules between fields: unique container names, ports and port names; a probe has exactly one
  of `tcpSocket` and `httpGet`; a service's ports are named when there are several;
  `sessionAffinityConfig` only with `ClientIP`; a node's InternalIP/ExternalIP is an IPv4
  address;
- the cluster's configuration: `clusterIP` (in the service CIDR) and `nodePort` (in the
  NodePort range) are left to the allocator.
"""

import schemathesis

WATCH_TIMEOUT_SECONDS = 1


def _is_positive(case):
    meta = getattr(case, "meta", None)
    try:
        return meta is None or meta.generation.mode.is_positive
    except AttributeError:
        return True


def _integral(value):
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


@schemathesis.hook
def before_call(context, case, kwargs):
    query = case.query if isinstance(case.query, dict) else None
    if query is not None and str(query.get("watch")).lower() in ("true", "1"):
        # Any timeout the server would wait out (absent, or a u64 above ours) becomes ours;
        # malformed or out-of-range ones stay, for the server to reject at once.
        timeout = query.get("timeoutSeconds")
        if isinstance(timeout, str) and timeout.isdigit():
            timeout = int(timeout)
        if timeout is None or (type(timeout) is int and WATCH_TIMEOUT_SECONDS < timeout < 2**64):
            query["timeoutSeconds"] = WATCH_TIMEOUT_SECONDS
    if not _is_positive(case):
        return
    if isinstance(case.body, (dict, list)):
        case.body = _integral(case.body)
    body = case.body
    if not isinstance(body, dict):
        return
    params = case.path_parameters or {}
    meta = body.get("metadata")
    if isinstance(meta, dict):
        if "namespace" in params:
            if meta.get("namespace") is not None:
                meta["namespace"] = params["namespace"]
        else:
            meta.pop("namespace", None)
        if "name" in params and case.method.upper() == "PUT" and not case.path.endswith("/heartbeat"):
            meta["name"] = params["name"]
    spec = body.get("spec")
    if isinstance(spec, dict):
        _pod_spec(spec)
        _service_spec(spec)
    status = body.get("status")
    if isinstance(status, dict):
        for address in status.get("addresses") or []:
            if isinstance(address, dict) and address.get("type") in ("InternalIP", "ExternalIP"):
                address["address"] = "10.0.0.1"


def _pod_spec(spec):
    containers = spec.get("containers")
    if not isinstance(containers, list):
        return
    names, port_names = set(), set()
    for i, c in enumerate(containers):
        if not isinstance(c, dict):
            continue
        if c.get("name") in names:
            c["name"] = f"c{i}"
        names.add(c.get("name"))
        ports, kept = set(), []
        for p in c.get("ports") or []:
            if not isinstance(p, dict):
                continue
            key = (p.get("containerPort"), p.get("protocol", "TCP"))
            if key in ports:
                continue
            ports.add(key)
            if p.get("name") is not None:
                if p["name"] in port_names:
                    p.pop("name")
                else:
                    port_names.add(p["name"])
            kept.append(p)
        if "ports" in c and isinstance(c["ports"], list):
            c["ports"] = kept
        probe = c.get("readinessProbe")
        if isinstance(probe, dict):
            if probe.get("tcpSocket") is not None and probe.get("httpGet") is not None:
                probe["httpGet"] = None
            elif probe.get("tcpSocket") is None and probe.get("httpGet") is None:
                probe["tcpSocket"] = {"port": 80}


def _service_spec(spec):
    ports = spec.get("ports")
    if not isinstance(ports, list) or "containers" in spec:
        return
    spec.pop("clusterIP", None)
    if spec.get("sessionAffinity") != "ClientIP":
        spec.pop("sessionAffinityConfig", None)
    seen, names = set(), set()
    for i, p in enumerate(ports):
        if not isinstance(p, dict):
            continue
        p.pop("nodePort", None)
        key = (p.get("port"), p.get("protocol", "TCP"))
        if key in seen:
            p["port"] = 60000 + i
        seen.add((p.get("port"), p.get("protocol", "TCP")))
        if len(ports) > 1 and (p.get("name") is None or p.get("name") in names):
            p["name"] = f"p{i}"
        names.add(p.get("name"))
