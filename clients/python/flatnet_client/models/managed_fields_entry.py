from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.managed_fields_entry_fields_v1 import ManagedFieldsEntryFieldsV1


T = TypeVar("T", bound="ManagedFieldsEntry")


@_attrs_define
class ManagedFieldsEntry:
    """One field manager's record (server-side apply): who applied, when, and the fields its
    last applied configuration set (Kubernetes' `FieldsV1` form, `{"f:spec":{"f:ports":{}}}`).

        Attributes:
            manager (str):
            operation (str): `Apply`.
            api_version (str | Unset):
            fields_type (str | Unset): `FieldsV1`.
            fields_v1 (ManagedFieldsEntryFieldsV1 | Unset):
            subresource (str | Unset):
            time (datetime.datetime | None | Unset):
    """

    manager: str
    operation: str
    api_version: str | Unset = UNSET
    fields_type: str | Unset = UNSET
    fields_v1: ManagedFieldsEntryFieldsV1 | Unset = UNSET
    subresource: str | Unset = UNSET
    time: datetime.datetime | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        manager = self.manager

        operation = self.operation

        api_version = self.api_version

        fields_type = self.fields_type

        fields_v1: dict[str, Any] | Unset = UNSET
        if not isinstance(self.fields_v1, Unset):
            fields_v1 = self.fields_v1.to_dict()

        subresource = self.subresource

        time: None | str | Unset
        if isinstance(self.time, Unset):
            time = UNSET
        elif isinstance(self.time, datetime.datetime):
            time = self.time.isoformat()
        else:
            time = self.time

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "manager": manager,
                "operation": operation,
            }
        )
        if api_version is not UNSET:
            field_dict["apiVersion"] = api_version
        if fields_type is not UNSET:
            field_dict["fieldsType"] = fields_type
        if fields_v1 is not UNSET:
            field_dict["fieldsV1"] = fields_v1
        if subresource is not UNSET:
            field_dict["subresource"] = subresource
        if time is not UNSET:
            field_dict["time"] = time

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.managed_fields_entry_fields_v1 import ManagedFieldsEntryFieldsV1  # noqa: PLC0415

        d = dict(src_dict)
        manager = d.pop("manager")

        operation = d.pop("operation")

        api_version = d.pop("apiVersion", UNSET)

        fields_type = d.pop("fieldsType", UNSET)

        _fields_v1 = d.pop("fieldsV1", UNSET)
        fields_v1: ManagedFieldsEntryFieldsV1 | Unset
        if isinstance(_fields_v1, Unset):
            fields_v1 = UNSET
        else:
            fields_v1 = ManagedFieldsEntryFieldsV1.from_dict(_fields_v1)

        subresource = d.pop("subresource", UNSET)

        def _parse_time(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                time_type_0 = datetime.datetime.fromisoformat(data)

                return time_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        time = _parse_time(d.pop("time", UNSET))

        managed_fields_entry = cls(
            manager=manager,
            operation=operation,
            api_version=api_version,
            fields_type=fields_type,
            fields_v1=fields_v1,
            subresource=subresource,
            time=time,
        )

        return managed_fields_entry
