from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.condition_status import ConditionStatus
from ..types import UNSET, Unset

T = TypeVar("T", bound="NodeCondition")


@_attrs_define
class NodeCondition:
    """
    Attributes:
        status (ConditionStatus): `status: "True" | "False" | "Unknown"` of a condition.
        type_ (str):
        last_heartbeat_time (datetime.datetime | None | Unset):
        last_transition_time (datetime.datetime | None | Unset):
        message (None | str | Unset):
        reason (None | str | Unset):
    """

    status: ConditionStatus
    type_: str
    last_heartbeat_time: datetime.datetime | None | Unset = UNSET
    last_transition_time: datetime.datetime | None | Unset = UNSET
    message: None | str | Unset = UNSET
    reason: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        status = self.status.value

        type_ = self.type_

        last_heartbeat_time: None | str | Unset
        if isinstance(self.last_heartbeat_time, Unset):
            last_heartbeat_time = UNSET
        elif isinstance(self.last_heartbeat_time, datetime.datetime):
            last_heartbeat_time = self.last_heartbeat_time.isoformat()
        else:
            last_heartbeat_time = self.last_heartbeat_time

        last_transition_time: None | str | Unset
        if isinstance(self.last_transition_time, Unset):
            last_transition_time = UNSET
        elif isinstance(self.last_transition_time, datetime.datetime):
            last_transition_time = self.last_transition_time.isoformat()
        else:
            last_transition_time = self.last_transition_time

        message: None | str | Unset
        if isinstance(self.message, Unset):
            message = UNSET
        else:
            message = self.message

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "status": status,
                "type": type_,
            }
        )
        if last_heartbeat_time is not UNSET:
            field_dict["lastHeartbeatTime"] = last_heartbeat_time
        if last_transition_time is not UNSET:
            field_dict["lastTransitionTime"] = last_transition_time
        if message is not UNSET:
            field_dict["message"] = message
        if reason is not UNSET:
            field_dict["reason"] = reason

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        status = ConditionStatus(d.pop("status"))

        type_ = d.pop("type")

        def _parse_last_heartbeat_time(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                last_heartbeat_time_type_0 = datetime.datetime.fromisoformat(data)

                return last_heartbeat_time_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        last_heartbeat_time = _parse_last_heartbeat_time(d.pop("lastHeartbeatTime", UNSET))

        def _parse_last_transition_time(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                last_transition_time_type_0 = datetime.datetime.fromisoformat(data)

                return last_transition_time_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        last_transition_time = _parse_last_transition_time(d.pop("lastTransitionTime", UNSET))

        def _parse_message(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        message = _parse_message(d.pop("message", UNSET))

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))

        node_condition = cls(
            status=status,
            type_=type_,
            last_heartbeat_time=last_heartbeat_time,
            last_transition_time=last_transition_time,
            message=message,
            reason=reason,
        )

        return node_condition
