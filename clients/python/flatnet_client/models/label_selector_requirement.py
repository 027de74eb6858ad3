from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="LabelSelectorRequirement")


@_attrs_define
class LabelSelectorRequirement:
    """
    Attributes:
        key (str):
        operator (str): `In`, `NotIn`, `Exists` or `DoesNotExist`.
        values (list[str] | Unset): Required (non-empty) for `In` and `NotIn`, empty for `Exists` and `DoesNotExist`.
    """

    key: str
    operator: str
    values: list[str] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        key = self.key

        operator = self.operator

        values: list[str] | Unset = UNSET
        if not isinstance(self.values, Unset):
            values = self.values

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "key": key,
                "operator": operator,
            }
        )
        if values is not UNSET:
            field_dict["values"] = values

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        key = d.pop("key")

        operator = d.pop("operator")

        values = cast(list[str], d.pop("values", UNSET))

        label_selector_requirement = cls(
            key=key,
            operator=operator,
            values=values,
        )

        return label_selector_requirement
