from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.network_policy_metadata import NetworkPolicyMetadata
    from ..models.network_policy_spec import NetworkPolicySpec


T = TypeVar("T", bound="NetworkPolicy")


@_attrs_define
class NetworkPolicy:
    """
    Attributes:
        metadata (NetworkPolicyMetadata):
        api_version (str | Unset):
        kind (str | Unset):
        spec (NetworkPolicySpec | Unset):
    """

    metadata: NetworkPolicyMetadata
    api_version: str | Unset = UNSET
    kind: str | Unset = UNSET
    spec: NetworkPolicySpec | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        metadata = self.metadata.to_dict()

        api_version = self.api_version

        kind = self.kind

        spec: dict[str, Any] | Unset = UNSET
        if not isinstance(self.spec, Unset):
            spec = self.spec.to_dict()

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

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.network_policy_metadata import NetworkPolicyMetadata  # noqa: PLC0415
        from ..models.network_policy_spec import NetworkPolicySpec  # noqa: PLC0415

        d = dict(src_dict)
        metadata = NetworkPolicyMetadata.from_dict(d.pop("metadata"))

        api_version = d.pop("apiVersion", UNSET)

        kind = d.pop("kind", UNSET)

        _spec = d.pop("spec", UNSET)
        spec: NetworkPolicySpec | Unset
        if isinstance(_spec, Unset):
            spec = UNSET
        else:
            spec = NetworkPolicySpec.from_dict(_spec)

        network_policy = cls(
            metadata=metadata,
            api_version=api_version,
            kind=kind,
            spec=spec,
        )

        return network_policy
