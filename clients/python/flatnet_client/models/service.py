from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.service_metadata import ServiceMetadata
    from ..models.service_spec import ServiceSpec


T = TypeVar("T", bound="Service")


@_attrs_define
class Service:
    """A service: a stable virtual IP (and optionally a port on every node) load-balanced over
    the ready pods its selector matches.

        Attributes:
            metadata (ServiceMetadata):
            spec (ServiceSpec):
            api_version (str | Unset):
            kind (str | Unset):
    """

    metadata: ServiceMetadata
    spec: ServiceSpec
    api_version: str | Unset = UNSET
    kind: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        metadata = self.metadata.to_dict()

        spec = self.spec.to_dict()

        api_version = self.api_version

        kind = self.kind

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

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.service_metadata import ServiceMetadata  # noqa: PLC0415
        from ..models.service_spec import ServiceSpec  # noqa: PLC0415

        d = dict(src_dict)
        metadata = ServiceMetadata.from_dict(d.pop("metadata"))

        spec = ServiceSpec.from_dict(d.pop("spec"))

        api_version = d.pop("apiVersion", UNSET)

        kind = d.pop("kind", UNSET)

        service = cls(
            metadata=metadata,
            spec=spec,
            api_version=api_version,
            kind=kind,
        )

        return service
