from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.label_selector import LabelSelector
    from ..models.namespaced_pod import NamespacedPod


T = TypeVar("T", bound="AdminNetworkPolicyPeer")


@_attrs_define
class AdminNetworkPolicyPeer:
    """Exactly one of: pods of namespaces, pods, or (egress only) networks by CIDR.

    Attributes:
        namespaces (LabelSelector | None | Unset):
        networks (list[str] | None | Unset): Egress only: destinations outside the cluster's pods, as CIDRs.
        pods (NamespacedPod | None | Unset):
    """

    namespaces: LabelSelector | None | Unset = UNSET
    networks: list[str] | None | Unset = UNSET
    pods: NamespacedPod | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.label_selector import LabelSelector  # noqa: PLC0415
        from ..models.namespaced_pod import NamespacedPod  # noqa: PLC0415

        namespaces: dict[str, Any] | None | Unset
        if isinstance(self.namespaces, Unset):
            namespaces = UNSET
        elif isinstance(self.namespaces, LabelSelector):
            namespaces = self.namespaces.to_dict()
        else:
            namespaces = self.namespaces

        networks: list[str] | None | Unset
        if isinstance(self.networks, Unset):
            networks = UNSET
        elif isinstance(self.networks, list):
            networks = self.networks

        else:
            networks = self.networks

        pods: dict[str, Any] | None | Unset
        if isinstance(self.pods, Unset):
            pods = UNSET
        elif isinstance(self.pods, NamespacedPod):
            pods = self.pods.to_dict()
        else:
            pods = self.pods

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if namespaces is not UNSET:
            field_dict["namespaces"] = namespaces
        if networks is not UNSET:
            field_dict["networks"] = networks
        if pods is not UNSET:
            field_dict["pods"] = pods

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.label_selector import LabelSelector  # noqa: PLC0415
        from ..models.namespaced_pod import NamespacedPod  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_namespaces(data: object) -> LabelSelector | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                namespaces_type_1 = LabelSelector.from_dict(data)

                return namespaces_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(LabelSelector | None | Unset, data)

        namespaces = _parse_namespaces(d.pop("namespaces", UNSET))

        def _parse_networks(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                networks_type_0 = cast(list[str], data)

                return networks_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        networks = _parse_networks(d.pop("networks", UNSET))

        def _parse_pods(data: object) -> NamespacedPod | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                pods_type_1 = NamespacedPod.from_dict(data)

                return pods_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(NamespacedPod | None | Unset, data)

        pods = _parse_pods(d.pop("pods", UNSET))

        admin_network_policy_peer = cls(
            namespaces=namespaces,
            networks=networks,
            pods=pods,
        )

        return admin_network_policy_peer
