from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="NamespaceSpec")


@_attrs_define
class NamespaceSpec:
    """
    Attributes:
        finalizers (list[str] | Unset): Accepted for compatibility; deletion does not wait for finalizers.
    """

    finalizers: list[str] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        finalizers: list[str] | Unset = UNSET
        if not isinstance(self.finalizers, Unset):
            finalizers = self.finalizers

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if finalizers is not UNSET:
            field_dict["finalizers"] = finalizers

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        finalizers = cast(list[str], d.pop("finalizers", UNSET))

        namespace_spec = cls(
            finalizers=finalizers,
        )

        return namespace_spec
