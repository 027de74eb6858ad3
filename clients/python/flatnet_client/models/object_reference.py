from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="ObjectReference")


@_attrs_define
class ObjectReference:
    """
    Attributes:
        kind (str):
        name (str):
        namespace (str | Unset):
        uid (str | Unset):
    """

    kind: str
    name: str
    namespace: str | Unset = UNSET
    uid: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        kind = self.kind

        name = self.name

        namespace = self.namespace

        uid = self.uid

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "kind": kind,
                "name": name,
            }
        )
        if namespace is not UNSET:
            field_dict["namespace"] = namespace
        if uid is not UNSET:
            field_dict["uid"] = uid

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        kind = d.pop("kind")

        name = d.pop("name")

        namespace = d.pop("namespace", UNSET)

        uid = d.pop("uid", UNSET)

        object_reference = cls(
            kind=kind,
            name=name,
            namespace=namespace,
            uid=uid,
        )

        return object_reference
