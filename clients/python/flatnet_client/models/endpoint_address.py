from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.object_reference import ObjectReference


T = TypeVar("T", bound="EndpointAddress")


@_attrs_define
class EndpointAddress:
    """
    Attributes:
        ip (str):
        target_ref (ObjectReference):
        node_name (None | str | Unset):
    """

    ip: str
    target_ref: ObjectReference
    node_name: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        ip = self.ip

        target_ref = self.target_ref.to_dict()

        node_name: None | str | Unset
        if isinstance(self.node_name, Unset):
            node_name = UNSET
        else:
            node_name = self.node_name

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "ip": ip,
                "targetRef": target_ref,
            }
        )
        if node_name is not UNSET:
            field_dict["nodeName"] = node_name

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.object_reference import ObjectReference  # noqa: PLC0415

        d = dict(src_dict)
        ip = d.pop("ip")

        target_ref = ObjectReference.from_dict(d.pop("targetRef"))

        def _parse_node_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        node_name = _parse_node_name(d.pop("nodeName", UNSET))

        endpoint_address = cls(
            ip=ip,
            target_ref=target_ref,
            node_name=node_name,
        )

        return endpoint_address
