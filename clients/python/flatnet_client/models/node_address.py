from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="NodeAddress")


@_attrs_define
class NodeAddress:
    """
    Attributes:
        address (str): An IPv4 address for `InternalIP` and `ExternalIP`.
        type_ (str): `InternalIP`, `ExternalIP` or `Hostname`.
    """

    address: str
    type_: str

    def to_dict(self) -> dict[str, Any]:
        address = self.address

        type_ = self.type_

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "address": address,
                "type": type_,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        address = d.pop("address")

        type_ = d.pop("type")

        node_address = cls(
            address=address,
            type_=type_,
        )

        return node_address
