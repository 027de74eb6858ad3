from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="LeaseSpec")


@_attrs_define
class LeaseSpec:
    """
    Attributes:
        acquire_time (datetime.datetime | None | Unset): When the current holder acquired the lease (a MicroTime: RFC
            3339 with microseconds).
        holder_identity (None | str | Unset): Who holds the lease (for a node's Lease: the node's name).
        lease_duration_seconds (int | None | Unset): How long after `renewTime` the lease runs out unless renewed (at
            least 1).
        lease_transitions (int | None | Unset): How many times the lease changed holder.
        renew_time (datetime.datetime | None | Unset): When the holder last renewed the lease (a MicroTime).
    """

    acquire_time: datetime.datetime | None | Unset = UNSET
    holder_identity: None | str | Unset = UNSET
    lease_duration_seconds: int | None | Unset = UNSET
    lease_transitions: int | None | Unset = UNSET
    renew_time: datetime.datetime | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        acquire_time: None | str | Unset
        if isinstance(self.acquire_time, Unset):
            acquire_time = UNSET
        elif isinstance(self.acquire_time, datetime.datetime):
            acquire_time = self.acquire_time.isoformat()
        else:
            acquire_time = self.acquire_time

        holder_identity: None | str | Unset
        if isinstance(self.holder_identity, Unset):
            holder_identity = UNSET
        else:
            holder_identity = self.holder_identity

        lease_duration_seconds: int | None | Unset
        if isinstance(self.lease_duration_seconds, Unset):
            lease_duration_seconds = UNSET
        else:
            lease_duration_seconds = self.lease_duration_seconds

        lease_transitions: int | None | Unset
        if isinstance(self.lease_transitions, Unset):
            lease_transitions = UNSET
        else:
            lease_transitions = self.lease_transitions

        renew_time: None | str | Unset
        if isinstance(self.renew_time, Unset):
            renew_time = UNSET
        elif isinstance(self.renew_time, datetime.datetime):
            renew_time = self.renew_time.isoformat()
        else:
            renew_time = self.renew_time

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if acquire_time is not UNSET:
            field_dict["acquireTime"] = acquire_time
        if holder_identity is not UNSET:
            field_dict["holderIdentity"] = holder_identity
        if lease_duration_seconds is not UNSET:
            field_dict["leaseDurationSeconds"] = lease_duration_seconds
        if lease_transitions is not UNSET:
            field_dict["leaseTransitions"] = lease_transitions
        if renew_time is not UNSET:
            field_dict["renewTime"] = renew_time

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_acquire_time(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                acquire_time_type_0 = datetime.datetime.fromisoformat(data)

                return acquire_time_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        acquire_time = _parse_acquire_time(d.pop("acquireTime", UNSET))

        def _parse_holder_identity(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        holder_identity = _parse_holder_identity(d.pop("holderIdentity", UNSET))

        def _parse_lease_duration_seconds(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        lease_duration_seconds = _parse_lease_duration_seconds(d.pop("leaseDurationSeconds", UNSET))

        def _parse_lease_transitions(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        lease_transitions = _parse_lease_transitions(d.pop("leaseTransitions", UNSET))

        def _parse_renew_time(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                renew_time_type_0 = datetime.datetime.fromisoformat(data)

                return renew_time_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        renew_time = _parse_renew_time(d.pop("renewTime", UNSET))

        lease_spec = cls(
            acquire_time=acquire_time,
            holder_identity=holder_identity,
            lease_duration_seconds=lease_duration_seconds,
            lease_transitions=lease_transitions,
            renew_time=renew_time,
        )

        return lease_spec
