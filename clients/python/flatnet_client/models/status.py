from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.status_cause import StatusCause


T = TypeVar("T", bound="Status")


@_attrs_define
class Status:
    """Every error the API returns: `{"code","reason","message"}`, plus the offending field
    and all causes when the request failed validation.

        Attributes:
            code (int): The HTTP status code.
            message (str):
            reason (str): A machine-readable reason: `NotFound`, `AlreadyExists`, `Conflict`, `Invalid`,
                `BadRequest`, `Unauthorized`, `Forbidden`, `Gone`, `RequestEntityTooLarge`,
                `InternalError`, `ServiceUnavailable`.
            causes (list[StatusCause] | Unset):
            field (None | str | Unset):
    """

    code: int
    message: str
    reason: str
    causes: list[StatusCause] | Unset = UNSET
    field: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        code = self.code

        message = self.message

        reason = self.reason

        causes: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.causes, Unset):
            causes = []
            for causes_item_data in self.causes:
                causes_item = causes_item_data.to_dict()
                causes.append(causes_item)

        field: None | str | Unset
        if isinstance(self.field, Unset):
            field = UNSET
        else:
            field = self.field

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "message": message,
                "reason": reason,
            }
        )
        if causes is not UNSET:
            field_dict["causes"] = causes
        if field is not UNSET:
            field_dict["field"] = field

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.status_cause import StatusCause  # noqa: PLC0415

        d = dict(src_dict)
        code = d.pop("code")

        message = d.pop("message")

        reason = d.pop("reason")

        _causes = d.pop("causes", UNSET)
        causes: list[StatusCause] | Unset = UNSET
        if _causes is not UNSET:
            causes = []
            for causes_item_data in _causes:
                causes_item = StatusCause.from_dict(causes_item_data)

                causes.append(causes_item)

        def _parse_field(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        field = _parse_field(d.pop("field", UNSET))

        status = cls(
            code=code,
            message=message,
            reason=reason,
            causes=causes,
            field=field,
        )

        status.additional_properties = d
        return status

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
