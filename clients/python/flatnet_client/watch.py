"""Watch streams, typed: the one part of the API the generated client cannot stream.

A watch (`GET …?watch=true`) answers one `WatchEvent` per line, for as long as the stream
lasts (labelled `application/json` as Kubernetes does, or `application/x-ndjson` when asked). `watch()` yields each line as a `TypedWatchEvent` whose `object` is
the kind's model for ADDED, MODIFIED and DELETED, a `Status` for ERROR (the stream ends after
it) and the raw dict for BOOKMARK (only `metadata.resourceVersion` is meaningful).

    from flatnet_client import AuthenticatedClient
    from flatnet_client.models import Pod
    from flatnet_client.watch import watch

    client = AuthenticatedClient(base_url="https://127.0.0.1:8080", token=TOKEN, verify_ssl=CA)  # CA: ssl.create_default_context(cafile="…/ca.crt")
    for ev in watch(client, Pod, namespace="default", timeout_seconds=30):
        print(ev.type, ev.object.metadata.name)

Hand-written (scripts/gen-clients.sh keeps it); the paths follow the kind registry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from . import errors
from .client import AuthenticatedClient, Client
from .models import Endpoints, Event, Node, NodeLease, Pod, Service, Status, WatchEvent

T = TypeVar("T")

# The collection of each kind: (API base path, plural, namespaced).
KINDS: dict[type, tuple[str, str, bool]] = {
    Pod: ("/api/v1", "pods", True),
    Service: ("/api/v1", "services", True),
    Endpoints: ("/api/v1", "endpoints", True),
    Event: ("/api/v1", "events", True),
    Node: ("/api/v1", "nodes", False),
    NodeLease: ("/api/v1", "nodeleases", False),
}


@dataclass
class TypedWatchEvent(Generic[T]):
    """One event: `type` is ADDED, MODIFIED, DELETED, BOOKMARK or ERROR."""

    type: str
    object: T | Status | dict[str, Any]
    raw: WatchEvent

    @property
    def resource_version(self) -> str | None:
        obj = self.raw.object_.to_dict()
        return (obj.get("metadata") or {}).get("resourceVersion")


class WatchError(Exception):
    """The server refused the watch (for example 410 Gone: list again)."""

    def __init__(self, status: Status | None, status_code: int, content: bytes):
        self.status = status
        self.status_code = status_code
        super().__init__(f"{status_code}: {status.message if status else content[:200]!r}")


def collection_path(kind: type, namespace: str | None = None) -> str:
    base, plural, namespaced = KINDS[kind]
    if namespaced and namespace is not None:
        return f"{base}/namespaces/{namespace}/{plural}"
    return f"{base}/{plural}"


def watch(
    client: Client | AuthenticatedClient,
    kind: type[T],
    namespace: str | None = None,
    *,
    resource_version: str | None = None,
    label_selector: str | None = None,
    field_selector: str | None = None,
    timeout_seconds: int | None = None,
    allow_bookmarks: bool = False,
) -> Iterator[TypedWatchEvent[T]]:
    """Stream the changes of `kind` (in `namespace`, or all) until the server ends the stream
    (`timeout_seconds`) or the caller stops iterating. Without `resource_version` the current
    objects come first as ADDED, then a BOOKMARK at the list's revision."""
    params: dict[str, Any] = {"watch": "true"}
    for key, value in (
        ("resourceVersion", resource_version),
        ("labelSelector", label_selector),
        ("fieldSelector", field_selector),
        ("timeoutSeconds", timeout_seconds),
    ):
        if value is not None:
            params[key] = value
    if allow_bookmarks:
        params["allowWatchBookmarks"] = "true"
    http = client.get_httpx_client()
    with http.stream("GET", collection_path(kind, namespace), params=params) as response:
        if response.status_code != 200:
            content = response.read()
            try:
                status = Status.from_dict(json.loads(content))
            except (ValueError, KeyError, TypeError):
                status = None
            if status is None and client.raise_on_unexpected_status:
                raise errors.UnexpectedStatus(response.status_code, content)
            raise WatchError(status, response.status_code, content)
        for line in response.iter_lines():
            if not line.strip():
                continue
            raw = WatchEvent.from_dict(json.loads(line))
            obj: Any = raw.object_.to_dict()
            event_type = raw.type_.value
            if event_type in ("ADDED", "MODIFIED", "DELETED"):
                obj = kind.from_dict(obj)  # type: ignore[attr-defined]
            elif event_type == "ERROR":
                obj = Status.from_dict(obj)
            yield TypedWatchEvent(type=event_type, object=obj, raw=raw)
