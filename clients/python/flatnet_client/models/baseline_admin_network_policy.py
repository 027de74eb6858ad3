from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.baseline_admin_network_policy_metadata import BaselineAdminNetworkPolicyMetadata
    from ..models.baseline_admin_network_policy_spec import BaselineAdminNetworkPolicySpec


T = TypeVar("T", bound="BaselineAdminNetworkPolicy")


@_attrs_define
class BaselineAdminNetworkPolicy:
    """The singleton (named `default`) judged after every NetworkPolicy, for traffic none of
    them isolates: the cluster's defaults that namespaces may override.

        Attributes:
            api_version (str | Unset):
            kind (str | Unset):
            metadata (BaselineAdminNetworkPolicyMetadata | Unset):
            spec (BaselineAdminNetworkPolicySpec | Unset):
    """

    api_version: str | Unset = UNSET
    kind: str | Unset = UNSET
    metadata: BaselineAdminNetworkPolicyMetadata | Unset = UNSET
    spec: BaselineAdminNetworkPolicySpec | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        api_version = self.api_version

        kind = self.kind

        metadata: dict[str, Any] | Unset = UNSET
        if not isinstance(self.metadata, Unset):
            metadata = self.metadata.to_dict()

        spec: dict[str, Any] | Unset = UNSET
        if not isinstance(self.spec, Unset):
            spec = self.spec.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if api_version is not UNSET:
            field_dict["apiVersion"] = api_version
        if kind is not UNSET:
            field_dict["kind"] = kind
        if metadata is not UNSET:
            field_dict["metadata"] = metadata
        if spec is not UNSET:
            field_dict["spec"] = spec

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.baseline_admin_network_policy_metadata import BaselineAdminNetworkPolicyMetadata  # noqa: PLC0415
        from ..models.baseline_admin_network_policy_spec import BaselineAdminNetworkPolicySpec  # noqa: PLC0415

        d = dict(src_dict)
        api_version = d.pop("apiVersion", UNSET)

        kind = d.pop("kind", UNSET)

        _metadata = d.pop("metadata", UNSET)
        metadata: BaselineAdminNetworkPolicyMetadata | Unset
        if isinstance(_metadata, Unset):
            metadata = UNSET
        else:
            metadata = BaselineAdminNetworkPolicyMetadata.from_dict(_metadata)

        _spec = d.pop("spec", UNSET)
        spec: BaselineAdminNetworkPolicySpec | Unset
        if isinstance(_spec, Unset):
            spec = UNSET
        else:
            spec = BaselineAdminNetworkPolicySpec.from_dict(_spec)

        baseline_admin_network_policy = cls(
            api_version=api_version,
            kind=kind,
            metadata=metadata,
            spec=spec,
        )

        return baseline_admin_network_policy
