from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="DaemonEndpoint")


@_attrs_define
class DaemonEndpoint:
    """
    Attributes:
        port (int):
        address (None | str | Unset): The address to reach it at; absent: the node's `InternalIP`.
    """

    port: int
    address: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        port = self.port

        address: None | str | Unset
        if isinstance(self.address, Unset):
            address = UNSET
        else:
            address = self.address

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "port": port,
            }
        )
        if address is not UNSET:
            field_dict["address"] = address

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        port = d.pop("port")

        def _parse_address(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        address = _parse_address(d.pop("address", UNSET))

        daemon_endpoint = cls(
            port=port,
            address=address,
        )

        return daemon_endpoint
