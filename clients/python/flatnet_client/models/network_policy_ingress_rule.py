from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.network_policy_peer import NetworkPolicyPeer
    from ..models.network_policy_port import NetworkPolicyPort


T = TypeVar("T", bound="NetworkPolicyIngressRule")


@_attrs_define
class NetworkPolicyIngressRule:
    """Traffic from any of `from` (everywhere when empty) to any of `ports` (all when empty).

    Attributes:
        from_ (list[NetworkPolicyPeer] | Unset):
        ports (list[NetworkPolicyPort] | Unset):
    """

    from_: list[NetworkPolicyPeer] | Unset = UNSET
    ports: list[NetworkPolicyPort] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from_: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.from_, Unset):
            from_ = []
            for from_item_data in self.from_:
                from_item = from_item_data.to_dict()
                from_.append(from_item)

        ports: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.ports, Unset):
            ports = []
            for ports_item_data in self.ports:
                ports_item = ports_item_data.to_dict()
                ports.append(ports_item)

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if from_ is not UNSET:
            field_dict["from"] = from_
        if ports is not UNSET:
            field_dict["ports"] = ports

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.network_policy_peer import NetworkPolicyPeer  # noqa: PLC0415
        from ..models.network_policy_port import NetworkPolicyPort  # noqa: PLC0415

        d = dict(src_dict)
        _from_ = d.pop("from", UNSET)
        from_: list[NetworkPolicyPeer] | Unset = UNSET
        if _from_ is not UNSET:
            from_ = []
            for from_item_data in _from_:
                from_item = NetworkPolicyPeer.from_dict(from_item_data)

                from_.append(from_item)

        _ports = d.pop("ports", UNSET)
        ports: list[NetworkPolicyPort] | Unset = UNSET
        if _ports is not UNSET:
            ports = []
            for ports_item_data in _ports:
                ports_item = NetworkPolicyPort.from_dict(ports_item_data)

                ports.append(ports_item)

        network_policy_ingress_rule = cls(
            from_=from_,
            ports=ports,
        )

        return network_policy_ingress_rule
