from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.node_address import NodeAddress
    from ..models.node_condition import NodeCondition
    from ..models.node_daemon_endpoints import NodeDaemonEndpoints


T = TypeVar("T", bound="NodeStatus")


@_attrs_define
class NodeStatus:
    """
    Attributes:
        addresses (list[NodeAddress] | Unset): Addresses the agent reports; `InternalIP` is the node's underlay address.
        conditions (list[NodeCondition] | Unset): Server-owned `Ready` condition: True while the node's lease is live.
        daemon_endpoints (NodeDaemonEndpoints | None | Unset):
    """

    addresses: list[NodeAddress] | Unset = UNSET
    conditions: list[NodeCondition] | Unset = UNSET
    daemon_endpoints: NodeDaemonEndpoints | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.node_daemon_endpoints import NodeDaemonEndpoints  # noqa: PLC0415

        addresses: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.addresses, Unset):
            addresses = []
            for addresses_item_data in self.addresses:
                addresses_item = addresses_item_data.to_dict()
                addresses.append(addresses_item)

        conditions: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.conditions, Unset):
            conditions = []
            for conditions_item_data in self.conditions:
                conditions_item = conditions_item_data.to_dict()
                conditions.append(conditions_item)

        daemon_endpoints: dict[str, Any] | None | Unset
        if isinstance(self.daemon_endpoints, Unset):
            daemon_endpoints = UNSET
        elif isinstance(self.daemon_endpoints, NodeDaemonEndpoints):
            daemon_endpoints = self.daemon_endpoints.to_dict()
        else:
            daemon_endpoints = self.daemon_endpoints

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if addresses is not UNSET:
            field_dict["addresses"] = addresses
        if conditions is not UNSET:
            field_dict["conditions"] = conditions
        if daemon_endpoints is not UNSET:
            field_dict["daemonEndpoints"] = daemon_endpoints

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.node_address import NodeAddress  # noqa: PLC0415
        from ..models.node_condition import NodeCondition  # noqa: PLC0415
        from ..models.node_daemon_endpoints import NodeDaemonEndpoints  # noqa: PLC0415

        d = dict(src_dict)
        _addresses = d.pop("addresses", UNSET)
        addresses: list[NodeAddress] | Unset = UNSET
        if _addresses is not UNSET:
            addresses = []
            for addresses_item_data in _addresses:
                addresses_item = NodeAddress.from_dict(addresses_item_data)

                addresses.append(addresses_item)

        _conditions = d.pop("conditions", UNSET)
        conditions: list[NodeCondition] | Unset = UNSET
        if _conditions is not UNSET:
            conditions = []
            for conditions_item_data in _conditions:
                conditions_item = NodeCondition.from_dict(conditions_item_data)

                conditions.append(conditions_item)

        def _parse_daemon_endpoints(data: object) -> NodeDaemonEndpoints | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                daemon_endpoints_type_1 = NodeDaemonEndpoints.from_dict(data)

                return daemon_endpoints_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(NodeDaemonEndpoints | None | Unset, data)

        daemon_endpoints = _parse_daemon_endpoints(d.pop("daemonEndpoints", UNSET))

        node_status = cls(
            addresses=addresses,
            conditions=conditions,
            daemon_endpoints=daemon_endpoints,
        )

        return node_status
