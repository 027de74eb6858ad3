from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.admin_network_policy_metadata import AdminNetworkPolicyMetadata
    from ..models.admin_network_policy_spec import AdminNetworkPolicySpec


T = TypeVar("T", bound="AdminNetworkPolicy")


@_attrs_define
class AdminNetworkPolicy:
    """A cluster-wide policy of the administrator, judged before any NetworkPolicy.

    Attributes:
        metadata (AdminNetworkPolicyMetadata):
        spec (AdminNetworkPolicySpec):
        api_version (str | Unset):
        kind (str | Unset):
    """

    metadata: AdminNetworkPolicyMetadata
    spec: AdminNetworkPolicySpec
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
        from ..models.admin_network_policy_metadata import AdminNetworkPolicyMetadata  # noqa: PLC0415
        from ..models.admin_network_policy_spec import AdminNetworkPolicySpec  # noqa: PLC0415

        d = dict(src_dict)
        metadata = AdminNetworkPolicyMetadata.from_dict(d.pop("metadata"))

        spec = AdminNetworkPolicySpec.from_dict(d.pop("spec"))

        api_version = d.pop("apiVersion", UNSET)

        kind = d.pop("kind", UNSET)

        admin_network_policy = cls(
            metadata=metadata,
            spec=spec,
            api_version=api_version,
            kind=kind,
        )

        return admin_network_policy
