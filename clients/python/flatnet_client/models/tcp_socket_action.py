from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="TcpSocketAction")


@_attrs_define
class TcpSocketAction:
    """
    Attributes:
        port (int | str): A port given as a number or as the name of a container port.
    """

    port: int | str

    def to_dict(self) -> dict[str, Any]:
        port: int | str
        port = self.port

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "port": port,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_port(data: object) -> int | str:
            return cast(int | str, data)

        port = _parse_port(d.pop("port"))

        tcp_socket_action = cls(
            port=port,
        )

        return tcp_socket_action
