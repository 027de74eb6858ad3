from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.protocol import Protocol
from ..types import UNSET, Unset

T = TypeVar("T", bound="ServicePort")


@_attrs_define
class ServicePort:
    """
    Attributes:
        port (int):
        name (None | str | Unset): Required when the service has more than one port; unique within the service.
        node_port (int | None | Unset): For `type: NodePort`: allocated from the NodePort range when absent; a requested
            port must be free and in range.
        protocol (Protocol | Unset): Transport protocol of a port.
        target_port (int | None | str | Unset):
    """

    port: int
    name: None | str | Unset = UNSET
    node_port: int | None | Unset = UNSET
    protocol: Protocol | Unset = UNSET
    target_port: int | None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        port = self.port

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        node_port: int | None | Unset
        if isinstance(self.node_port, Unset):
            node_port = UNSET
        else:
            node_port = self.node_port

        protocol: str | Unset = UNSET
        if not isinstance(self.protocol, Unset):
            protocol = self.protocol.value

        target_port: int | None | str | Unset
        if isinstance(self.target_port, Unset):
            target_port = UNSET
        else:
            target_port = self.target_port

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "port": port,
            }
        )
        if name is not UNSET:
            field_dict["name"] = name
        if node_port is not UNSET:
            field_dict["nodePort"] = node_port
        if protocol is not UNSET:
            field_dict["protocol"] = protocol
        if target_port is not UNSET:
            field_dict["targetPort"] = target_port

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        port = d.pop("port")

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        def _parse_node_port(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        node_port = _parse_node_port(d.pop("nodePort", UNSET))

        _protocol = d.pop("protocol", UNSET)
        protocol: Protocol | Unset
        if isinstance(_protocol, Unset):
            protocol = UNSET
        else:
            protocol = Protocol(_protocol)

        def _parse_target_port(data: object) -> int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | str | Unset, data)

        target_port = _parse_target_port(d.pop("targetPort", UNSET))

        service_port = cls(
            port=port,
            name=name,
            node_port=node_port,
            protocol=protocol,
            target_port=target_port,
        )

        return service_port
