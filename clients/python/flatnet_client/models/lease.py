from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.lease_metadata import LeaseMetadata
    from ..models.lease_spec import LeaseSpec


T = TypeVar("T", bound="Lease")


@_attrs_define
class Lease:
    """A lease, in Kubernetes' `coordination.k8s.io/v1` shape: who holds something, since when,
    and until when unless renewed. Each node's heartbeat renews `kube-node-lease/NODE`
    (created at its first heartbeat); the API server's leader turns a node whose Lease ran
    out NotReady, and reclaims its CIDR after the grace. Nobody else watches these, so a
    renewal costs one event to no node. Admins may create, replace and delete Leases (for
    their own leader election, as client-go's `leaselock` does); a node's token may write
    only its own Lease in `kube-node-lease`.

        Attributes:
            metadata (LeaseMetadata):
            api_version (str | Unset):
            kind (str | Unset):
            spec (LeaseSpec | Unset):
    """

    metadata: LeaseMetadata
    api_version: str | Unset = UNSET
    kind: str | Unset = UNSET
    spec: LeaseSpec | Unset = UNSET

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
        from ..models.lease_metadata import LeaseMetadata  # noqa: PLC0415
        from ..models.lease_spec import LeaseSpec  # noqa: PLC0415

        d = dict(src_dict)
        metadata = LeaseMetadata.from_dict(d.pop("metadata"))

        api_version = d.pop("apiVersion", UNSET)

        kind = d.pop("kind", UNSET)

        _spec = d.pop("spec", UNSET)
        spec: LeaseSpec | Unset
        if isinstance(_spec, Unset):
            spec = UNSET
        else:
            spec = LeaseSpec.from_dict(_spec)

        lease = cls(
            metadata=metadata,
            api_version=api_version,
            kind=kind,
            spec=spec,
        )

        return lease
