"""Schemathesis hooks for flatnet's API (loaded through SCHEMATHESIS_HOOKS by clients/schemathesis/run.sh).

They change only what JSON Schema cannot say about a request, and only in generated requests
that schemathesis means to be valid (positive mode):

- a watch (`watch=true`) streams until `timeoutSeconds`: every watch gets a short one, so that
  each request ends;
- JSON numbers: the schema says `integer`, which JSON Schema also satisfies with `80.0`; the
  server, like Kubernetes, takes integers written as integers;
- `metadata.namespace` of a namespaced object must be the path's namespace (or absent).
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
        timeout = query.get("timeoutSeconds")
        if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout > WATCH_TIMEOUT_SECONDS:
            if timeout is None or _is_positive(case) or isinstance(timeout, int):
                query["timeoutSeconds"] = WATCH_TIMEOUT_SECONDS
    if not _is_positive(case):
        return
    if isinstance(case.body, (dict, list)):
        case.body = _integral(case.body)
    body = case.body
    namespace = (case.path_parameters or {}).get("namespace")
    if namespace is not None and isinstance(body, dict) and isinstance(body.get("metadata"), dict):
        if body["metadata"].get("namespace") is not None:
            body["metadata"]["namespace"] = namespace
