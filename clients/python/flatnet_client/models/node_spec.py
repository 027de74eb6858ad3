from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="NodeSpec")


@_attrs_define
class NodeSpec:
    """
    Attributes:
        pod_cidr (None | str | Unset): Server-owned: the CIDR of the node's current lease (absent while it has none).
        unschedulable (bool | Unset): When true the scheduler binds no new pods to this node.
    """

    pod_cidr: None | str | Unset = UNSET
    unschedulable: bool | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        pod_cidr: None | str | Unset
        if isinstance(self.pod_cidr, Unset):
            pod_cidr = UNSET
        else:
            pod_cidr = self.pod_cidr

        unschedulable = self.unschedulable

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if pod_cidr is not UNSET:
            field_dict["podCIDR"] = pod_cidr
        if unschedulable is not UNSET:
            field_dict["unschedulable"] = unschedulable

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_pod_cidr(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        pod_cidr = _parse_pod_cidr(d.pop("podCIDR", UNSET))

        unschedulable = d.pop("unschedulable", UNSET)

        node_spec = cls(
            pod_cidr=pod_cidr,
            unschedulable=unschedulable,
        )

        return node_spec
