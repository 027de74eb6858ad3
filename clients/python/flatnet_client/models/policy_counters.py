from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.policy_counter import PolicyCounter


T = TypeVar("T", bound="PolicyCounters")


@_attrs_define
class PolicyCounters:
    """The policy counters of one node (`PUT /api/v1/nodes/{name}/policycounters`, by its agent),
    or of the cluster (`GET /api/v1/policycounters`: the last report of every node, summed
    per rule).

        Attributes:
            items (list[PolicyCounter] | Unset):
    """

    items: list[PolicyCounter] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        items: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.items, Unset):
            items = []
            for items_item_data in self.items:
                items_item = items_item_data.to_dict()
                items.append(items_item)

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if items is not UNSET:
            field_dict["items"] = items

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.policy_counter import PolicyCounter  # noqa: PLC0415

        d = dict(src_dict)
        _items = d.pop("items", UNSET)
        items: list[PolicyCounter] | Unset = UNSET
        if _items is not UNSET:
            items = []
            for items_item_data in _items:
                items_item = PolicyCounter.from_dict(items_item_data)

                items.append(items_item)

        policy_counters = cls(
            items=items,
        )

        return policy_counters
