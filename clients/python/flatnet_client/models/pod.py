from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.pod_metadata import PodMetadata
    from ..models.pod_spec import PodSpec
    from ..models.pod_status import PodStatus


T = TypeVar("T", bound="Pod")


@_attrs_define
class Pod:
    """A pod: containers (processes) sharing one network namespace and one IP.

    Attributes:
        metadata (PodMetadata):
        spec (PodSpec):
        api_version (str | Unset):
        kind (str | Unset):
        status (PodStatus | Unset):
    """

    metadata: PodMetadata
    spec: PodSpec
    api_version: str | Unset = UNSET
    kind: str | Unset = UNSET
    status: PodStatus | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        metadata = self.metadata.to_dict()

        spec = self.spec.to_dict()

        api_version = self.api_version

        kind = self.kind

        status: dict[str, Any] | Unset = UNSET
        if not isinstance(self.status, Unset):
            status = self.status.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "metadata": metadata,
                "spec": spec,
            }
        )
        if api_version is not UNSET:
            field_dict["apiVersion"] = api_version
        if kind is not UNSET:
            field_dict["kind"] = kind
        if status is not UNSET:
            field_dict["status"] = status

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.pod_metadata import PodMetadata  # noqa: PLC0415
        from ..models.pod_spec import PodSpec  # noqa: PLC0415
        from ..models.pod_status import PodStatus  # noqa: PLC0415

        d = dict(src_dict)
        metadata = PodMetadata.from_dict(d.pop("metadata"))

        spec = PodSpec.from_dict(d.pop("spec"))

        api_version = d.pop("apiVersion", UNSET)

        kind = d.pop("kind", UNSET)

        _status = d.pop("status", UNSET)
        status: PodStatus | Unset
        if isinstance(_status, Unset):
            status = UNSET
        else:
            status = PodStatus.from_dict(_status)

        pod = cls(
            metadata=metadata,
            spec=spec,
            api_version=api_version,
            kind=kind,
            status=status,
        )

        return pod
