from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.pod_phase import PodPhase
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.container_status import ContainerStatus
    from ..models.pod_condition import PodCondition


T = TypeVar("T", bound="PodStatus")


@_attrs_define
class PodStatus:
    """
    Attributes:
        conditions (list[PodCondition] | Unset):
        container_statuses (list[ContainerStatus] | Unset):
        host_ip (None | str | Unset): Server-owned: the node's `InternalIP` when the pod was bound.
        message (None | str | Unset):
        phase (PodPhase | Unset):
        pod_ip (None | str | Unset): Server-owned: allocated from the node's lease when the pod is bound.
        reason (None | str | Unset):
        start_time (datetime.datetime | None | Unset):
    """

    conditions: list[PodCondition] | Unset = UNSET
    container_statuses: list[ContainerStatus] | Unset = UNSET
    host_ip: None | str | Unset = UNSET
    message: None | str | Unset = UNSET
    phase: PodPhase | Unset = UNSET
    pod_ip: None | str | Unset = UNSET
    reason: None | str | Unset = UNSET
    start_time: datetime.datetime | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        conditions: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.conditions, Unset):
            conditions = []
            for conditions_item_data in self.conditions:
                conditions_item = conditions_item_data.to_dict()
                conditions.append(conditions_item)

        container_statuses: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.container_statuses, Unset):
            container_statuses = []
            for container_statuses_item_data in self.container_statuses:
                container_statuses_item = container_statuses_item_data.to_dict()
                container_statuses.append(container_statuses_item)

        host_ip: None | str | Unset
        if isinstance(self.host_ip, Unset):
            host_ip = UNSET
        else:
            host_ip = self.host_ip

        message: None | str | Unset
        if isinstance(self.message, Unset):
            message = UNSET
        else:
            message = self.message

        phase: str | Unset = UNSET
        if not isinstance(self.phase, Unset):
            phase = self.phase.value

        pod_ip: None | str | Unset
        if isinstance(self.pod_ip, Unset):
            pod_ip = UNSET
        else:
            pod_ip = self.pod_ip

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

        start_time: None | str | Unset
        if isinstance(self.start_time, Unset):
            start_time = UNSET
        elif isinstance(self.start_time, datetime.datetime):
            start_time = self.start_time.isoformat()
        else:
            start_time = self.start_time

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if conditions is not UNSET:
            field_dict["conditions"] = conditions
        if container_statuses is not UNSET:
            field_dict["containerStatuses"] = container_statuses
        if host_ip is not UNSET:
            field_dict["hostIP"] = host_ip
        if message is not UNSET:
            field_dict["message"] = message
        if phase is not UNSET:
            field_dict["phase"] = phase
        if pod_ip is not UNSET:
            field_dict["podIP"] = pod_ip
        if reason is not UNSET:
            field_dict["reason"] = reason
        if start_time is not UNSET:
            field_dict["startTime"] = start_time

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.container_status import ContainerStatus  # noqa: PLC0415
        from ..models.pod_condition import PodCondition  # noqa: PLC0415

        d = dict(src_dict)
        _conditions = d.pop("conditions", UNSET)
        conditions: list[PodCondition] | Unset = UNSET
        if _conditions is not UNSET:
            conditions = []
            for conditions_item_data in _conditions:
                conditions_item = PodCondition.from_dict(conditions_item_data)

                conditions.append(conditions_item)

        _container_statuses = d.pop("containerStatuses", UNSET)
        container_statuses: list[ContainerStatus] | Unset = UNSET
        if _container_statuses is not UNSET:
            container_statuses = []
            for container_statuses_item_data in _container_statuses:
                container_statuses_item = ContainerStatus.from_dict(container_statuses_item_data)

                container_statuses.append(container_statuses_item)

        def _parse_host_ip(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        host_ip = _parse_host_ip(d.pop("hostIP", UNSET))

        def _parse_message(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        message = _parse_message(d.pop("message", UNSET))

        _phase = d.pop("phase", UNSET)
        phase: PodPhase | Unset
        if isinstance(_phase, Unset):
            phase = UNSET
        else:
            phase = PodPhase(_phase)

        def _parse_pod_ip(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        pod_ip = _parse_pod_ip(d.pop("podIP", UNSET))

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))

        def _parse_start_time(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                start_time_type_0 = datetime.datetime.fromisoformat(data)

                return start_time_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        start_time = _parse_start_time(d.pop("startTime", UNSET))

        pod_status = cls(
            conditions=conditions,
            container_statuses=container_statuses,
            host_ip=host_ip,
            message=message,
            phase=phase,
            pod_ip=pod_ip,
            reason=reason,
            start_time=start_time,
        )

        return pod_status
