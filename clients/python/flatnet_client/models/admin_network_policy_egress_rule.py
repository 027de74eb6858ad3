from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.admin_network_policy_rule_action import AdminNetworkPolicyRuleAction
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.admin_network_policy_peer import AdminNetworkPolicyPeer
    from ..models.admin_network_policy_port import AdminNetworkPolicyPort


T = TypeVar("T", bound="AdminNetworkPolicyEgressRule")


@_attrs_define
class AdminNetworkPolicyEgressRule:
    """
    Attributes:
        action (AdminNetworkPolicyRuleAction): What a matching rule does.
        to (list[AdminNetworkPolicyPeer]):
        name (None | str | Unset):
        ports (list[AdminNetworkPolicyPort] | None | Unset):
    """

    action: AdminNetworkPolicyRuleAction
    to: list[AdminNetworkPolicyPeer]
    name: None | str | Unset = UNSET
    ports: list[AdminNetworkPolicyPort] | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        action = self.action.value

        to = []
        for to_item_data in self.to:
            to_item = to_item_data.to_dict()
            to.append(to_item)

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        ports: list[dict[str, Any]] | None | Unset
        if isinstance(self.ports, Unset):
            ports = UNSET
        elif isinstance(self.ports, list):
            ports = []
            for ports_type_0_item_data in self.ports:
                ports_type_0_item = ports_type_0_item_data.to_dict()
                ports.append(ports_type_0_item)

        else:
            ports = self.ports

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "action": action,
                "to": to,
            }
        )
        if name is not UNSET:
            field_dict["name"] = name
        if ports is not UNSET:
            field_dict["ports"] = ports

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.admin_network_policy_peer import AdminNetworkPolicyPeer  # noqa: PLC0415
        from ..models.admin_network_policy_port import AdminNetworkPolicyPort  # noqa: PLC0415

        d = dict(src_dict)
        action = AdminNetworkPolicyRuleAction(d.pop("action"))

        to = []
        _to = d.pop("to")
        for to_item_data in _to:
            to_item = AdminNetworkPolicyPeer.from_dict(to_item_data)

            to.append(to_item)

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        def _parse_ports(data: object) -> list[AdminNetworkPolicyPort] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                ports_type_0 = []
                _ports_type_0 = data
                for ports_type_0_item_data in _ports_type_0:
                    ports_type_0_item = AdminNetworkPolicyPort.from_dict(ports_type_0_item_data)

                    ports_type_0.append(ports_type_0_item)

                return ports_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[AdminNetworkPolicyPort] | None | Unset, data)

        ports = _parse_ports(d.pop("ports", UNSET))

        admin_network_policy_egress_rule = cls(
            action=action,
            to=to,
            name=name,
            ports=ports,
        )

        return admin_network_policy_egress_rule
