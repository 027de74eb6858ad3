from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.event_metadata import EventMetadata
    from ..models.event_source import EventSource
    from ..models.object_reference import ObjectReference


T = TypeVar("T", bound="Event")


@_attrs_define
class Event:
    """Something that happened to an object that a user would want to see: a pod's network
    wired, a container started or exited with its code, a restart backing off. Written by
    node agents (and the API server), kept for an hour.

        Attributes:
            involved_object (ObjectReference):
            reason (str): A short CamelCase word: `Started`, `Exited`, `BackOff`, `NetworkReady`, …
            api_version (str | Unset):
            first_timestamp (datetime.datetime | None | Unset):
            kind (str | Unset):
            last_timestamp (datetime.datetime | None | Unset):
            message (str | Unset):
            metadata (EventMetadata | Unset): The name may be left empty: the server then makes one from the involved
                object.
            source (EventSource | None | Unset):
            type_ (str | Unset): `Normal` or `Warning`.
    """

    involved_object: ObjectReference
    reason: str
    api_version: str | Unset = UNSET
    first_timestamp: datetime.datetime | None | Unset = UNSET
    kind: str | Unset = UNSET
    last_timestamp: datetime.datetime | None | Unset = UNSET
    message: str | Unset = UNSET
    metadata: EventMetadata | Unset = UNSET
    source: EventSource | None | Unset = UNSET
    type_: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.event_source import EventSource  # noqa: PLC0415

        involved_object = self.involved_object.to_dict()

        reason = self.reason

        api_version = self.api_version

        first_timestamp: None | str | Unset
        if isinstance(self.first_timestamp, Unset):
            first_timestamp = UNSET
        elif isinstance(self.first_timestamp, datetime.datetime):
            first_timestamp = self.first_timestamp.isoformat()
        else:
            first_timestamp = self.first_timestamp

        kind = self.kind

        last_timestamp: None | str | Unset
        if isinstance(self.last_timestamp, Unset):
            last_timestamp = UNSET
        elif isinstance(self.last_timestamp, datetime.datetime):
            last_timestamp = self.last_timestamp.isoformat()
        else:
            last_timestamp = self.last_timestamp

        message = self.message

        metadata: dict[str, Any] | Unset = UNSET
        if not isinstance(self.metadata, Unset):
            metadata = self.metadata.to_dict()

        source: dict[str, Any] | None | Unset
        if isinstance(self.source, Unset):
            source = UNSET
        elif isinstance(self.source, EventSource):
            source = self.source.to_dict()
        else:
            source = self.source

        type_ = self.type_

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "involvedObject": involved_object,
                "reason": reason,
            }
        )
        if api_version is not UNSET:
            field_dict["apiVersion"] = api_version
        if first_timestamp is not UNSET:
            field_dict["firstTimestamp"] = first_timestamp
        if kind is not UNSET:
            field_dict["kind"] = kind
        if last_timestamp is not UNSET:
            field_dict["lastTimestamp"] = last_timestamp
        if message is not UNSET:
            field_dict["message"] = message
        if metadata is not UNSET:
            field_dict["metadata"] = metadata
        if source is not UNSET:
            field_dict["source"] = source
        if type_ is not UNSET:
            field_dict["type"] = type_

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.event_metadata import EventMetadata  # noqa: PLC0415
        from ..models.event_source import EventSource  # noqa: PLC0415
        from ..models.object_reference import ObjectReference  # noqa: PLC0415

        d = dict(src_dict)
        involved_object = ObjectReference.from_dict(d.pop("involvedObject"))

        reason = d.pop("reason")

        api_version = d.pop("apiVersion", UNSET)

        def _parse_first_timestamp(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                first_timestamp_type_0 = datetime.datetime.fromisoformat(data)

                return first_timestamp_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        first_timestamp = _parse_first_timestamp(d.pop("firstTimestamp", UNSET))

        kind = d.pop("kind", UNSET)

        def _parse_last_timestamp(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                last_timestamp_type_0 = datetime.datetime.fromisoformat(data)

                return last_timestamp_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        last_timestamp = _parse_last_timestamp(d.pop("lastTimestamp", UNSET))

        message = d.pop("message", UNSET)

        _metadata = d.pop("metadata", UNSET)
        metadata: EventMetadata | Unset
        if isinstance(_metadata, Unset):
            metadata = UNSET
        else:
            metadata = EventMetadata.from_dict(_metadata)

        def _parse_source(data: object) -> EventSource | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                source_type_1 = EventSource.from_dict(data)

                return source_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(EventSource | None | Unset, data)

        source = _parse_source(d.pop("source", UNSET))

        type_ = d.pop("type", UNSET)

        event = cls(
            involved_object=involved_object,
            reason=reason,
            api_version=api_version,
            first_timestamp=first_timestamp,
            kind=kind,
            last_timestamp=last_timestamp,
            message=message,
            metadata=metadata,
            source=source,
            type_=type_,
        )

        return event
