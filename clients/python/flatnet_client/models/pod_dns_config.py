from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.pod_dns_config_option import PodDnsConfigOption


T = TypeVar("T", bound="PodDnsConfig")


@_attrs_define
class PodDnsConfig:
    """
    Attributes:
        nameservers (list[str] | Unset): IPv4 addresses of name servers (at most 3 in all).
        options (list[PodDnsConfigOption] | Unset): Resolver options (`ndots` with value `2`, `edns0` …); one given here
            replaces the
            policy's option of the same name.
        searches (list[str] | Unset): Search domains (at most 32 in all).
    """

    nameservers: list[str] | Unset = UNSET
    options: list[PodDnsConfigOption] | Unset = UNSET
    searches: list[str] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        nameservers: list[str] | Unset = UNSET
        if not isinstance(self.nameservers, Unset):
            nameservers = self.nameservers

        options: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.options, Unset):
            options = []
            for options_item_data in self.options:
                options_item = options_item_data.to_dict()
                options.append(options_item)

        searches: list[str] | Unset = UNSET
        if not isinstance(self.searches, Unset):
            searches = self.searches

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if nameservers is not UNSET:
            field_dict["nameservers"] = nameservers
        if options is not UNSET:
            field_dict["options"] = options
        if searches is not UNSET:
            field_dict["searches"] = searches

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.pod_dns_config_option import PodDnsConfigOption  # noqa: PLC0415

        d = dict(src_dict)
        nameservers = cast(list[str], d.pop("nameservers", UNSET))

        _options = d.pop("options", UNSET)
        options: list[PodDnsConfigOption] | Unset = UNSET
        if _options is not UNSET:
            options = []
            for options_item_data in _options:
                options_item = PodDnsConfigOption.from_dict(options_item_data)

                options.append(options_item)

        searches = cast(list[str], d.pop("searches", UNSET))

        pod_dns_config = cls(
            nameservers=nameservers,
            options=options,
            searches=searches,
        )

        return pod_dns_config
