from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.node_metadata import NodeMetadata
    from ..models.node_spec import NodeSpec
    from ..models.node_status import NodeStatus


T = TypeVar("T", bound="Node")


@_attrs_define
class Node:
    """A node: one host (or one network namespace of the local cluster) running a node agent.

    Attributes:
        metadata (NodeMetadata):
        api_version (str | Unset):
        kind (str | Unset):
        spec (NodeSpec | Unset):
        status (NodeStatus | Unset):
    """

    metadata: NodeMetadata
    api_version: str | Unset = UNSET
    kind: str | Unset = UNSET
    spec: NodeSpec | Unset = UNSET
    status: NodeStatus | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        metadata = self.metadata.to_dict()

        api_version = self.api_version

        kind = self.kind

        spec: dict[str, Any] | Unset = UNSET
        if not isinstance(self.spec, Unset):
            spec = self.spec.to_dict()

        status: dict[str, Any] | Unset = UNSET
        if not isinstance(self.status, Unset):
            status = self.status.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "metadata": metadata,
            }
        )
        if api_version is not UNSET:
            field_dict["apiVersion"] = api_version
        if kind is not UNSET:
            field_dict["kind"] = kind
        if spec is not UNSET:
            field_dict["spec"] = spec
        if status is not UNSET:
            field_dict["status"] = status

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.node_metadata import NodeMetadata  # noqa: PLC0415
        from ..models.node_spec import NodeSpec  # noqa: PLC0415
        from ..models.node_status import NodeStatus  # noqa: PLC0415

        d = dict(src_dict)
        metadata = NodeMetadata.from_dict(d.pop("metadata"))

        api_version = d.pop("apiVersion", UNSET)

        kind = d.pop("kind", UNSET)

        _spec = d.pop("spec", UNSET)
        spec: NodeSpec | Unset
        if isinstance(_spec, Unset):
            spec = UNSET
        else:
            spec = NodeSpec.from_dict(_spec)

        _status = d.pop("status", UNSET)
        status: NodeStatus | Unset
        if isinstance(_status, Unset):
            status = UNSET
        else:
            status = NodeStatus.from_dict(_status)

        node = cls(
            metadata=metadata,
            api_version=api_version,
            kind=kind,
            spec=spec,
            status=status,
        )

        return node
