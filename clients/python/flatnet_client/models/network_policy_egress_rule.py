from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.network_policy_peer import NetworkPolicyPeer
    from ..models.network_policy_port import NetworkPolicyPort


T = TypeVar("T", bound="NetworkPolicyEgressRule")


@_attrs_define
class NetworkPolicyEgressRule:
    """Traffic to any of `to` (everywhere when empty) on any of `ports` (all when empty).

    Attributes:
        ports (list[NetworkPolicyPort] | Unset):
        to (list[NetworkPolicyPeer] | Unset):
    """

    ports: list[NetworkPolicyPort] | Unset = UNSET
    to: list[NetworkPolicyPeer] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        ports: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.ports, Unset):
            ports = []
            for ports_item_data in self.ports:
                ports_item = ports_item_data.to_dict()
                ports.append(ports_item)

        to: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.to, Unset):
            to = []
            for to_item_data in self.to:
                to_item = to_item_data.to_dict()
                to.append(to_item)

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if ports is not UNSET:
            field_dict["ports"] = ports
        if to is not UNSET:
            field_dict["to"] = to

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.network_policy_peer import NetworkPolicyPeer  # noqa: PLC0415
        from ..models.network_policy_port import NetworkPolicyPort  # noqa: PLC0415

        d = dict(src_dict)
        _ports = d.pop("ports", UNSET)
        ports: list[NetworkPolicyPort] | Unset = UNSET
        if _ports is not UNSET:
            ports = []
            for ports_item_data in _ports:
                ports_item = NetworkPolicyPort.from_dict(ports_item_data)

                ports.append(ports_item)

        _to = d.pop("to", UNSET)
        to: list[NetworkPolicyPeer] | Unset = UNSET
        if _to is not UNSET:
            to = []
            for to_item_data in _to:
                to_item = NetworkPolicyPeer.from_dict(to_item_data)

                to.append(to_item)

        network_policy_egress_rule = cls(
            ports=ports,
            to=to,
        )

        return network_policy_egress_rule
