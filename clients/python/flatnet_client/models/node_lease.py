from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.node_lease_spec import NodeLeaseSpec
    from ..models.object_meta import ObjectMeta


T = TypeVar("T", bound="NodeLease")


@_attrs_define
class NodeLease:
    """A node's CIDR lease (like Flannel's subnet lease): which pod subnet a node holds and what
    other nodes need to route to it. Read-only to users; created when a node registers,
    deleted when reclaimed. Every agent watches these, so a NodeLease changes only when what
    it holds changes (a heartbeat that changes nothing does not write it): whether the node
    is alive is its `Lease` `kube-node-lease/NODE`, which the heartbeat renews and only
    the API server's leader reads.

    Its spec does not reject unknown fields: the server writes it, and a store written
    before the renewal moved to the `Lease` still holds a `renewTime` here (dropped at the
    next write).

        Attributes:
            spec (NodeLeaseSpec):
            api_version (str | Unset):
            kind (str | Unset):
            metadata (ObjectMeta | Unset): Metadata every object carries, in Kubernetes' shape.

                Unknown fields are rejected so that a typo (`lables`) is an error rather than silently
                ignored. `uid`, `resourceVersion` and `creationTimestamp` are set by the server.
    """

    spec: NodeLeaseSpec
    api_version: str | Unset = UNSET
    kind: str | Unset = UNSET
    metadata: ObjectMeta | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        spec = self.spec.to_dict()

        api_version = self.api_version

        kind = self.kind

        metadata: dict[str, Any] | Unset = UNSET
        if not isinstance(self.metadata, Unset):
            metadata = self.metadata.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "spec": spec,
            }
        )
        if api_version is not UNSET:
            field_dict["apiVersion"] = api_version
        if kind is not UNSET:
            field_dict["kind"] = kind
        if metadata is not UNSET:
            field_dict["metadata"] = metadata

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.node_lease_spec import NodeLeaseSpec  # noqa: PLC0415
        from ..models.object_meta import ObjectMeta  # noqa: PLC0415

        d = dict(src_dict)
        spec = NodeLeaseSpec.from_dict(d.pop("spec"))

        api_version = d.pop("apiVersion", UNSET)

        kind = d.pop("kind", UNSET)

        _metadata = d.pop("metadata", UNSET)
        metadata: ObjectMeta | Unset
        if isinstance(_metadata, Unset):
            metadata = UNSET
        else:
            metadata = ObjectMeta.from_dict(_metadata)

        node_lease = cls(
            spec=spec,
            api_version=api_version,
            kind=kind,
            metadata=metadata,
        )

        return node_lease
