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
  `sessionAffinityConfig` only with `ClientIP`; a policy counter has a namespace exactly when it
  counts a NetworkPolicy's rule; a node's InternalIP/ExternalIP is an IPv4
  address; DNS: a pod's `hostname`/`subdomain` are DNS labels, `dnsConfig` holds at most 3
  IPv4 name servers (one at least with `dnsPolicy: None`), DNS names and option names; a
  service's `externalName` is a DNS name, given exactly when its type is `ExternalName`;
- the cluster's configuration: `clusterIP` (in the service CIDR) and `nodePort` (in the
  NodePort range) are left to the allocator.

One hook reads a response, and says what the document says: a watch's 200 is a stream of
WatchEvent objects, one per line. The server labels it `application/json`, as Kubernetes does
and its clients expect (or `application/x-ndjson` when the Accept header names that; the
document describes the stream under that name, and the label `application/json` in the
descriptions). `after_call` gives a watch stream labelled `application/json` the document's
`application/x-ndjson` label, so that schemathesis does not read it as one JSON document; the
check `watch_stream_is_watch_events` then reads every line and checks it is a WatchEvent
(schemathesis has no reader for streams: without that check, the lines would go unchecked).
The request keeps its headers: a hook that edited them would change the negative cases.
"""

import json

import schemathesis

WATCH_MEDIA_TYPE = "application/x-ndjson"
EVENT_TYPES = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"}

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


def _is_watch(case):
    query = case.query if isinstance(case.query, dict) else None
    return query is not None and str(query.get("watch")).lower() in ("true", "1", "t")


@schemathesis.check
def watch_stream_is_watch_events(ctx, response, case):
    """Every line of a watch stream is a WatchEvent; an ERROR carries a Status and ends it."""
    content_type = (response.headers.get("content-type") or [""])[0]
    if response.status_code != 200 or not content_type.startswith(WATCH_MEDIA_TYPE):
        return None
    lines = [line for line in response.content.decode("utf-8").split("\n") if line.strip()]
    for i, line in enumerate(lines):
        event = json.loads(line)
        if not isinstance(event, dict) or event.get("type") not in EVENT_TYPES:
            raise AssertionError(f"watch line {i} is not a WatchEvent: {line[:200]}")
        obj = event.get("object")
        if not isinstance(obj, dict) or not isinstance(obj.get("metadata", {}), dict):
            raise AssertionError(f"watch line {i} has no object: {line[:200]}")
        if event["type"] == "ERROR":
            if obj.get("kind") != "Status" or i != len(lines) - 1:
                raise AssertionError(f"watch line {i}: an ERROR carries a Status and ends the stream")
        elif event["type"] != "BOOKMARK" and not obj.get("metadata", {}).get("name"):
            raise AssertionError(f"watch line {i}: the object has no metadata.name")
    return True


@schemathesis.hook
def after_call(context, case, response):
    if _is_watch(case) and response.status_code == 200:
        content_type = response.headers.get("content-type") or []
        if content_type and content_type[0].split(";")[0].strip() == "application/json":
            response.headers["content-type"] = [WATCH_MEDIA_TYPE]


@schemathesis.hook
def before_call(context, case, kwargs):
    query = case.query if isinstance(case.query, dict) else None
    if _is_watch(case):
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
    if case.path.endswith("/policycounters"):
        _policy_counters(body)
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
        if "containers" in spec:
            _pod_dns(spec)
        _service_spec(spec)
        _policy_spec(spec, baseline="baselineadminnetworkpolicies" in case.path, netpol="/networkpolicies" in case.path)
    if "baselineadminnetworkpolicies" in case.path and isinstance(meta, dict):
        meta["name"] = "default"
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


def _pod_dns(spec):
    for field in ("hostname", "subdomain"):
        if spec.get(field) is not None:
            spec[field] = field[:4]
    cfg = spec.get("dnsConfig")
    if spec.get("dnsPolicy") == "None" and not isinstance(cfg, dict):
        cfg = spec["dnsConfig"] = {}
    if not isinstance(cfg, dict):
        return
    servers = cfg.get("nameservers")
    n = min(len(servers), 3) if isinstance(servers, list) else 0
    if spec.get("dnsPolicy") == "None":
        n = max(n, 1)
    if n or "nameservers" in cfg:
        cfg["nameservers"] = [f"192.0.2.{i + 1}" for i in range(n)]
    if isinstance(cfg.get("searches"), list):
        cfg["searches"] = ["example.test"][: len(cfg["searches"])]
    if isinstance(cfg.get("options"), list):
        cfg["options"] = [{"name": "ndots", "value": "2"}][: len(cfg["options"])]


def _service_spec(spec):
    ports = spec.get("ports")
    if not isinstance(ports, list) or "containers" in spec:
        return
    spec.pop("clusterIP", None)
    if spec.get("type") == "ExternalName":
        spec["externalName"] = "example.test"
    else:
        spec.pop("externalName", None)
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


# Network policies: one kind of peer, `endPort` after a numeric `port`, selector values only
# with In/NotIn, one subject, one kind of admin peer and port, a baseline without Pass.
def _selectors(node):
    if isinstance(node, dict):
        for e in node.get("matchExpressions") or []:
            if isinstance(e, dict):
                if e.get("operator") in ("In", "NotIn"):
                    e["values"] = ["a"]
                else:
                    e.pop("values", None)
        for v in node.values():
            _selectors(v)
    elif isinstance(node, list):
        for v in node:
            _selectors(v)


def _one_of(obj, keys, default):
    present = [k for k in keys if obj.get(k) is not None]
    for k in present[1:]:
        obj.pop(k)
    if not present:
        obj[default] = {}


def _policy_counters(body):
    for item in body.get("items") or []:
        if not isinstance(item, dict):
            continue
        if item.get("kind") == "NetworkPolicy":
            if item.get("namespace") is None:
                item["namespace"] = "default"
        else:
            item.pop("namespace", None)


def _policy_spec(spec, baseline, netpol=False):
    # A NetworkPolicy's spec may come with `ingress` alone (the document requires nothing
    # else): known by its path as well as by its fields.
    if netpol or "podSelector" in spec or "policyTypes" in spec:
        _selectors(spec)
        if isinstance(spec.get("policyTypes"), list):
            spec["policyTypes"] = list(dict.fromkeys(spec["policyTypes"]))
        for rule in (spec.get("ingress") or []) + (spec.get("egress") or []):
            if not isinstance(rule, dict):
                continue
            for peer in (rule.get("from") or []) + (rule.get("to") or []):
                if not isinstance(peer, dict):
                    continue
                if peer.get("ipBlock") is not None:
                    peer.pop("podSelector", None)
                    peer.pop("namespaceSelector", None)
                    peer["ipBlock"] = {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}
                elif peer.get("podSelector") is None and peer.get("namespaceSelector") is None:
                    peer["podSelector"] = {}
            for port in rule.get("ports") or []:
                if isinstance(port, dict) and port.get("endPort") is not None:
                    if type(port.get("port")) is not int:
                        port.pop("endPort")
                    elif port["endPort"] < port["port"]:
                        port["endPort"] = port["port"]
    if "subject" in spec:
        _selectors(spec)
        if isinstance(spec.get("subject"), dict):
            _one_of(spec["subject"], ["namespaces", "pods"], "namespaces")
        for direction in ("ingress", "egress"):
            for rule in spec.get(direction) or []:
                if not isinstance(rule, dict):
                    continue
                if baseline and rule.get("action") == "Pass":
                    rule["action"] = "Deny"
                for peer in rule.get("from" if direction == "ingress" else "to") or []:
                    if not isinstance(peer, dict):
                        continue
                    if direction == "ingress":
                        peer.pop("networks", None)
                    _one_of(peer, ["namespaces", "pods", "networks"], "namespaces")
                    if peer.get("networks") is not None:
                        peer["networks"] = ["10.0.0.0/8"]
                for port in rule.get("ports") or []:
                    if isinstance(port, dict):
                        _one_of(port, ["portNumber", "namedPort", "portRange"], "portNumber")
                        if port.get("portNumber") == {}:
                            port["portNumber"] = {"port": 80}
                        r = port.get("portRange")
                        if isinstance(r, dict) and isinstance(r.get("start"), int) and isinstance(r.get("end"), int):
                            if r["end"] <= r["start"]:
                                r["start"], r["end"] = min(r["start"], 65534), min(r["start"], 65534) + 1
