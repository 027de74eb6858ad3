from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.port_number import PortNumber
    from ..models.port_range_spec import PortRangeSpec


T = TypeVar("T", bound="AdminNetworkPolicyPort")


@_attrs_define
class AdminNetworkPolicyPort:
    """Exactly one of a port number, a named port of the destination pod, or a range.

    Attributes:
        named_port (None | str | Unset):
        port_number (None | PortNumber | Unset):
        port_range (None | PortRangeSpec | Unset):
    """

    named_port: None | str | Unset = UNSET
    port_number: None | PortNumber | Unset = UNSET
    port_range: None | PortRangeSpec | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.port_number import PortNumber  # noqa: PLC0415
        from ..models.port_range_spec import PortRangeSpec  # noqa: PLC0415

        named_port: None | str | Unset
        if isinstance(self.named_port, Unset):
            named_port = UNSET
        else:
            named_port = self.named_port

        port_number: dict[str, Any] | None | Unset
        if isinstance(self.port_number, Unset):
            port_number = UNSET
        elif isinstance(self.port_number, PortNumber):
            port_number = self.port_number.to_dict()
        else:
            port_number = self.port_number

        port_range: dict[str, Any] | None | Unset
        if isinstance(self.port_range, Unset):
            port_range = UNSET
        elif isinstance(self.port_range, PortRangeSpec):
            port_range = self.port_range.to_dict()
        else:
            port_range = self.port_range

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if named_port is not UNSET:
            field_dict["namedPort"] = named_port
        if port_number is not UNSET:
            field_dict["portNumber"] = port_number
        if port_range is not UNSET:
            field_dict["portRange"] = port_range

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.port_number import PortNumber  # noqa: PLC0415
        from ..models.port_range_spec import PortRangeSpec  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_named_port(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        named_port = _parse_named_port(d.pop("namedPort", UNSET))

        def _parse_port_number(data: object) -> None | PortNumber | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                port_number_type_1 = PortNumber.from_dict(data)

                return port_number_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PortNumber | Unset, data)

        port_number = _parse_port_number(d.pop("portNumber", UNSET))

        def _parse_port_range(data: object) -> None | PortRangeSpec | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                port_range_type_1 = PortRangeSpec.from_dict(data)

                return port_range_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PortRangeSpec | Unset, data)

        port_range = _parse_port_range(d.pop("portRange", UNSET))

        admin_network_policy_port = cls(
            named_port=named_port,
            port_number=port_number,
            port_range=port_range,
        )

        return admin_network_policy_port
