from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.protocol import Protocol
from ..types import UNSET, Unset

T = TypeVar("T", bound="EndpointPort")


@_attrs_define
class EndpointPort:
    """
    Attributes:
        port (int):
        protocol (Protocol): Transport protocol of a port.
        name (None | str | Unset):
    """

    port: int
    protocol: Protocol
    name: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        port = self.port

        protocol = self.protocol.value

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "port": port,
                "protocol": protocol,
            }
        )
        if name is not UNSET:
            field_dict["name"] = name

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        port = d.pop("port")

        protocol = Protocol(d.pop("protocol"))

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        endpoint_port = cls(
            port=port,
            protocol=protocol,
            name=name,
        )

        return endpoint_port
