from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.protocol import Protocol
from ..types import UNSET, Unset

T = TypeVar("T", bound="PortRangeSpec")


@_attrs_define
class PortRangeSpec:
    """`start..=end` of one protocol.

    Attributes:
        end (int):
        start (int):
        protocol (Protocol | Unset): Transport protocol of a port.
    """

    end: int
    start: int
    protocol: Protocol | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        end = self.end

        start = self.start

        protocol: str | Unset = UNSET
        if not isinstance(self.protocol, Unset):
            protocol = self.protocol.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "end": end,
                "start": start,
            }
        )
        if protocol is not UNSET:
            field_dict["protocol"] = protocol

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        end = d.pop("end")

        start = d.pop("start")

        _protocol = d.pop("protocol", UNSET)
        protocol: Protocol | Unset
        if isinstance(_protocol, Unset):
            protocol = UNSET
        else:
            protocol = Protocol(_protocol)

        port_range_spec = cls(
            end=end,
            start=start,
            protocol=protocol,
        )

        return port_range_spec
