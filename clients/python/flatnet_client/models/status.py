from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.status_cause import StatusCause
    from ..models.status_details import StatusDetails
    from ..models.status_metadata import StatusMetadata


T = TypeVar("T", bound="Status")


@_attrs_define
class Status:
    """The error body on the wire: Kubernetes' `Status` (`kind: Status`, `apiVersion: v1`,
    `status: Failure`, `details.causes[].field`), which kubectl and the official clients
    read, with flatnet's `field` and `causes` also at the top. [`Status`] reads it.

    The OpenAPI document calls it `Status`, as Kubernetes does.

        Attributes:
            code (int): The HTTP status code.
            message (str):
            reason (str): As in [`Status::reason`].
            api_version (str | Unset): Always `v1`.
            causes (list[StatusCause] | Unset): The same as `details.causes`.
            details (None | StatusDetails | Unset):
            field (None | str | Unset): The first offending field (flatnet's shortcut for `details.causes[0].field`).
            kind (str | Unset): Always `Status`.
            metadata (StatusMetadata | Unset): Always empty.
            status (str | Unset): `Failure` for every error.
    """

    code: int
    message: str
    reason: str
    api_version: str | Unset = UNSET
    causes: list[StatusCause] | Unset = UNSET
    details: None | StatusDetails | Unset = UNSET
    field: None | str | Unset = UNSET
    kind: str | Unset = UNSET
    metadata: StatusMetadata | Unset = UNSET
    status: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.status_details import StatusDetails  # noqa: PLC0415

        code = self.code

        message = self.message

        reason = self.reason

        api_version = self.api_version

        causes: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.causes, Unset):
            causes = []
            for causes_item_data in self.causes:
                causes_item = causes_item_data.to_dict()
                causes.append(causes_item)

        details: dict[str, Any] | None | Unset
        if isinstance(self.details, Unset):
            details = UNSET
        elif isinstance(self.details, StatusDetails):
            details = self.details.to_dict()
        else:
            details = self.details

        field: None | str | Unset
        if isinstance(self.field, Unset):
            field = UNSET
        else:
            field = self.field

        kind = self.kind

        metadata: dict[str, Any] | Unset = UNSET
        if not isinstance(self.metadata, Unset):
            metadata = self.metadata.to_dict()

        status = self.status

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "message": message,
                "reason": reason,
            }
        )
        if api_version is not UNSET:
            field_dict["apiVersion"] = api_version
        if causes is not UNSET:
            field_dict["causes"] = causes
        if details is not UNSET:
            field_dict["details"] = details
        if field is not UNSET:
            field_dict["field"] = field
        if kind is not UNSET:
            field_dict["kind"] = kind
        if metadata is not UNSET:
            field_dict["metadata"] = metadata
        if status is not UNSET:
            field_dict["status"] = status

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.status_cause import StatusCause  # noqa: PLC0415
        from ..models.status_details import StatusDetails  # noqa: PLC0415
        from ..models.status_metadata import StatusMetadata  # noqa: PLC0415

        d = dict(src_dict)
        code = d.pop("code")

        message = d.pop("message")

        reason = d.pop("reason")

        api_version = d.pop("apiVersion", UNSET)

        _causes = d.pop("causes", UNSET)
        causes: list[StatusCause] | Unset = UNSET
        if _causes is not UNSET:
            causes = []
            for causes_item_data in _causes:
                causes_item = StatusCause.from_dict(causes_item_data)

                causes.append(causes_item)

        def _parse_details(data: object) -> None | StatusDetails | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                details_type_1 = StatusDetails.from_dict(data)

                return details_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | StatusDetails | Unset, data)

        details = _parse_details(d.pop("details", UNSET))

        def _parse_field(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        field = _parse_field(d.pop("field", UNSET))

        kind = d.pop("kind", UNSET)

        _metadata = d.pop("metadata", UNSET)
        metadata: StatusMetadata | Unset
        if isinstance(_metadata, Unset):
            metadata = UNSET
        else:
            metadata = StatusMetadata.from_dict(_metadata)

        status = d.pop("status", UNSET)

        status = cls(
            code=code,
            message=message,
            reason=reason,
            api_version=api_version,
            causes=causes,
            details=details,
            field=field,
            kind=kind,
            metadata=metadata,
            status=status,
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
