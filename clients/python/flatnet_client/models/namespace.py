from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.namespace_metadata import NamespaceMetadata
    from ..models.namespace_spec import NamespaceSpec
    from ..models.namespace_status import NamespaceStatus


T = TypeVar("T", bound="Namespace")


@_attrs_define
class Namespace:
    """A namespace. Creating a namespaced object in a namespace that does not exist creates the
    namespace (flatnet has no admission step to refuse it); deleting a namespace deletes
    every object in it, in the same transaction.

        Attributes:
            metadata (NamespaceMetadata):
            api_version (str | Unset):
            kind (str | Unset):
            spec (NamespaceSpec | Unset):
            status (NamespaceStatus | Unset):
    """

    metadata: NamespaceMetadata
    api_version: str | Unset = UNSET
    kind: str | Unset = UNSET
    spec: NamespaceSpec | Unset = UNSET
    status: NamespaceStatus | Unset = UNSET

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
        from ..models.namespace_metadata import NamespaceMetadata  # noqa: PLC0415
        from ..models.namespace_spec import NamespaceSpec  # noqa: PLC0415
        from ..models.namespace_status import NamespaceStatus  # noqa: PLC0415

        d = dict(src_dict)
        metadata = NamespaceMetadata.from_dict(d.pop("metadata"))

        api_version = d.pop("apiVersion", UNSET)

        kind = d.pop("kind", UNSET)

        _spec = d.pop("spec", UNSET)
        spec: NamespaceSpec | Unset
        if isinstance(_spec, Unset):
            spec = UNSET
        else:
            spec = NamespaceSpec.from_dict(_spec)

        _status = d.pop("status", UNSET)
        status: NamespaceStatus | Unset
        if isinstance(_status, Unset):
            status = UNSET
        else:
            status = NamespaceStatus.from_dict(_status)

        namespace = cls(
            metadata=metadata,
            api_version=api_version,
            kind=kind,
            spec=spec,
            status=status,
        )

        return namespace
