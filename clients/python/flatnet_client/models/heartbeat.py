from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.heartbeat_backend_data import HeartbeatBackendData


T = TypeVar("T", bound="Heartbeat")


@_attrs_define
class Heartbeat:
    """Body of `POST /api/v1/nodes/{name}/heartbeat`: renews the node's lease (acquiring one
    if it has none) and publishes its backend data.

        Attributes:
            backend_data (HeartbeatBackendData | Unset):
    """

    backend_data: HeartbeatBackendData | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        backend_data: dict[str, Any] | Unset = UNSET
        if not isinstance(self.backend_data, Unset):
            backend_data = self.backend_data.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if backend_data is not UNSET:
            field_dict["backendData"] = backend_data

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.heartbeat_backend_data import HeartbeatBackendData  # noqa: PLC0415

        d = dict(src_dict)
        _backend_data = d.pop("backendData", UNSET)
        backend_data: HeartbeatBackendData | Unset
        if isinstance(_backend_data, Unset):
            backend_data = UNSET
        else:
            backend_data = HeartbeatBackendData.from_dict(_backend_data)

        heartbeat = cls(
            backend_data=backend_data,
        )

        return heartbeat
