from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.client_ip_config import ClientIpConfig


T = TypeVar("T", bound="SessionAffinityConfig")


@_attrs_define
class SessionAffinityConfig:
    """
    Attributes:
        client_ip (ClientIpConfig | None | Unset):
    """

    client_ip: ClientIpConfig | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.client_ip_config import ClientIpConfig  # noqa: PLC0415

        client_ip: dict[str, Any] | None | Unset
        if isinstance(self.client_ip, Unset):
            client_ip = UNSET
        elif isinstance(self.client_ip, ClientIpConfig):
            client_ip = self.client_ip.to_dict()
        else:
            client_ip = self.client_ip

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if client_ip is not UNSET:
            field_dict["clientIP"] = client_ip

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.client_ip_config import ClientIpConfig  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_client_ip(data: object) -> ClientIpConfig | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                client_ip_type_1 = ClientIpConfig.from_dict(data)

                return client_ip_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ClientIpConfig | None | Unset, data)

        client_ip = _parse_client_ip(d.pop("clientIP", UNSET))

        session_affinity_config = cls(
            client_ip=client_ip,
        )

        return session_affinity_config
