from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.protocol import Protocol
from ..types import UNSET, Unset

T = TypeVar("T", bound="NetworkPolicyPort")


@_attrs_define
class NetworkPolicyPort:
    """A port (number or the name of a container port of the destination pod), or the range
    `port..=endPort`; no port: every port of the protocol.

        Attributes:
            end_port (int | None | Unset): The last port of a range starting at a numeric `port`.
            port (int | None | str | Unset):
            protocol (None | Protocol | Unset):
    """

    end_port: int | None | Unset = UNSET
    port: int | None | str | Unset = UNSET
    protocol: None | Protocol | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        end_port: int | None | Unset
        if isinstance(self.end_port, Unset):
            end_port = UNSET
        else:
            end_port = self.end_port

        port: int | None | str | Unset
        if isinstance(self.port, Unset):
            port = UNSET
        else:
            port = self.port

        protocol: None | str | Unset
        if isinstance(self.protocol, Unset):
            protocol = UNSET
        elif isinstance(self.protocol, Protocol):
            protocol = self.protocol.value
        else:
            protocol = self.protocol

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if end_port is not UNSET:
            field_dict["endPort"] = end_port
        if port is not UNSET:
            field_dict["port"] = port
        if protocol is not UNSET:
            field_dict["protocol"] = protocol

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_end_port(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        end_port = _parse_end_port(d.pop("endPort", UNSET))

        def _parse_port(data: object) -> int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | str | Unset, data)

        port = _parse_port(d.pop("port", UNSET))

        def _parse_protocol(data: object) -> None | Protocol | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                protocol_type_1 = Protocol(data)

                return protocol_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Protocol | Unset, data)

        protocol = _parse_protocol(d.pop("protocol", UNSET))

        network_policy_port = cls(
            end_port=end_port,
            port=port,
            protocol=protocol,
        )

        return network_policy_port
