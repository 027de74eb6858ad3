from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="HttpGetAction")


@_attrs_define
class HttpGetAction:
    """
    Attributes:
        port (int | str): A port given as a number or as the name of a container port.
        path (str | Unset):
    """

    port: int | str
    path: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        port: int | str
        port = self.port

        path = self.path

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "port": port,
            }
        )
        if path is not UNSET:
            field_dict["path"] = path

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_port(data: object) -> int | str:
            return cast(int | str, data)

        port = _parse_port(d.pop("port"))

        path = d.pop("path", UNSET)

        http_get_action = cls(
            port=port,
            path=path,
        )

        return http_get_action
