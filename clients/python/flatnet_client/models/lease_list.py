from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.lease import Lease
    from ..models.list_meta import ListMeta


T = TypeVar("T", bound="LeaseList")


@_attrs_define
class LeaseList:
    """
    Attributes:
        api_version (str):
        items (list[Lease]):
        kind (str): LeaseList
        metadata (ListMeta): Metadata of a list: the store revision the list was read at. Watch from it to follow.
    """

    api_version: str
    items: list[Lease]
    kind: str
    metadata: ListMeta
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        api_version = self.api_version

        items = []
        for items_item_data in self.items:
            items_item = items_item_data.to_dict()
            items.append(items_item)

        kind = self.kind

        metadata = self.metadata.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "apiVersion": api_version,
                "items": items,
                "kind": kind,
                "metadata": metadata,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.lease import Lease  # noqa: PLC0415
        from ..models.list_meta import ListMeta  # noqa: PLC0415

        d = dict(src_dict)
        api_version = d.pop("apiVersion")

        items = []
        _items = d.pop("items")
        for items_item_data in _items:
            items_item = Lease.from_dict(items_item_data)

            items.append(items_item)

        kind = d.pop("kind")

        metadata = ListMeta.from_dict(d.pop("metadata"))

        lease_list = cls(
            api_version=api_version,
            items=items,
            kind=kind,
            metadata=metadata,
        )

        lease_list.additional_properties = d
        return lease_list

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
