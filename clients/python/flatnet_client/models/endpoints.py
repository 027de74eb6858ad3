from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.endpoint_subset import EndpointSubset
    from ..models.object_meta import ObjectMeta


T = TypeVar("T", bound="Endpoints")


@_attrs_define
class Endpoints:
    """The endpoints of a service, computed by the API server: the addresses of the pods its
    selector matches, ready or not, grouped by the ports they resolve to. Read-only.

        Attributes:
            api_version (str | Unset):
            kind (str | Unset):
            metadata (ObjectMeta | Unset): Metadata every object carries, in Kubernetes' shape.

                Unknown fields are rejected so that a typo (`lables`) is an error rather than silently
                ignored. `uid`, `resourceVersion` and `creationTimestamp` are set by the server.
            subsets (list[EndpointSubset] | Unset):
    """

    api_version: str | Unset = UNSET
    kind: str | Unset = UNSET
    metadata: ObjectMeta | Unset = UNSET
    subsets: list[EndpointSubset] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        api_version = self.api_version

        kind = self.kind

        metadata: dict[str, Any] | Unset = UNSET
        if not isinstance(self.metadata, Unset):
            metadata = self.metadata.to_dict()

        subsets: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.subsets, Unset):
            subsets = []
            for subsets_item_data in self.subsets:
                subsets_item = subsets_item_data.to_dict()
                subsets.append(subsets_item)

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if api_version is not UNSET:
            field_dict["apiVersion"] = api_version
        if kind is not UNSET:
            field_dict["kind"] = kind
        if metadata is not UNSET:
            field_dict["metadata"] = metadata
        if subsets is not UNSET:
            field_dict["subsets"] = subsets

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.endpoint_subset import EndpointSubset  # noqa: PLC0415
        from ..models.object_meta import ObjectMeta  # noqa: PLC0415

        d = dict(src_dict)
        api_version = d.pop("apiVersion", UNSET)

        kind = d.pop("kind", UNSET)

        _metadata = d.pop("metadata", UNSET)
        metadata: ObjectMeta | Unset
        if isinstance(_metadata, Unset):
            metadata = UNSET
        else:
            metadata = ObjectMeta.from_dict(_metadata)

        _subsets = d.pop("subsets", UNSET)
        subsets: list[EndpointSubset] | Unset = UNSET
        if _subsets is not UNSET:
            subsets = []
            for subsets_item_data in _subsets:
                subsets_item = EndpointSubset.from_dict(subsets_item_data)

                subsets.append(subsets_item)

        endpoints = cls(
            api_version=api_version,
            kind=kind,
            metadata=metadata,
            subsets=subsets,
        )

        return endpoints
