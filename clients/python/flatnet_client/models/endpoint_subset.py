from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.endpoint_address import EndpointAddress
    from ..models.endpoint_port import EndpointPort


T = TypeVar("T", bound="EndpointSubset")


@_attrs_define
class EndpointSubset:
    """
    Attributes:
        ports (list[EndpointPort]):
        addresses (list[EndpointAddress] | Unset): Ready pods: these receive traffic.
        not_ready_addresses (list[EndpointAddress] | Unset): Matching pods that are not ready (or whose node is
            NotReady).
    """

    ports: list[EndpointPort]
    addresses: list[EndpointAddress] | Unset = UNSET
    not_ready_addresses: list[EndpointAddress] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        ports = []
        for ports_item_data in self.ports:
            ports_item = ports_item_data.to_dict()
            ports.append(ports_item)

        addresses: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.addresses, Unset):
            addresses = []
            for addresses_item_data in self.addresses:
                addresses_item = addresses_item_data.to_dict()
                addresses.append(addresses_item)

        not_ready_addresses: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.not_ready_addresses, Unset):
            not_ready_addresses = []
            for not_ready_addresses_item_data in self.not_ready_addresses:
                not_ready_addresses_item = not_ready_addresses_item_data.to_dict()
                not_ready_addresses.append(not_ready_addresses_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "ports": ports,
            }
        )
        if addresses is not UNSET:
            field_dict["addresses"] = addresses
        if not_ready_addresses is not UNSET:
            field_dict["notReadyAddresses"] = not_ready_addresses

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.endpoint_address import EndpointAddress  # noqa: PLC0415
        from ..models.endpoint_port import EndpointPort  # noqa: PLC0415

        d = dict(src_dict)
        ports = []
        _ports = d.pop("ports")
        for ports_item_data in _ports:
            ports_item = EndpointPort.from_dict(ports_item_data)

            ports.append(ports_item)

        _addresses = d.pop("addresses", UNSET)
        addresses: list[EndpointAddress] | Unset = UNSET
        if _addresses is not UNSET:
            addresses = []
            for addresses_item_data in _addresses:
                addresses_item = EndpointAddress.from_dict(addresses_item_data)

                addresses.append(addresses_item)

        _not_ready_addresses = d.pop("notReadyAddresses", UNSET)
        not_ready_addresses: list[EndpointAddress] | Unset = UNSET
        if _not_ready_addresses is not UNSET:
            not_ready_addresses = []
            for not_ready_addresses_item_data in _not_ready_addresses:
                not_ready_addresses_item = EndpointAddress.from_dict(not_ready_addresses_item_data)

                not_ready_addresses.append(not_ready_addresses_item)

        endpoint_subset = cls(
            ports=ports,
            addresses=addresses,
            not_ready_addresses=not_ready_addresses,
        )

        return endpoint_subset
