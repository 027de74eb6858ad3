from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.event_type import EventType

if TYPE_CHECKING:
    from ..models.watch_event_object import WatchEventObject


T = TypeVar("T", bound="WatchEvent")


@_attrs_define
class WatchEvent:
    """One event of a watch stream. A watch answers one WatchEvent per line, as long as the stream lasts, labelled
    `application/json` as Kubernetes does (a stream of JSON objects, not one document), or `application/x-ndjson` when
    the request's Accept header names it; the stream ends after `timeoutSeconds`. `object` is the kind's object for
    ADDED, MODIFIED and DELETED; for BOOKMARK only `apiVersion`, `kind` and `metadata.resourceVersion`; for ERROR a
    Status, after which the stream ends.

        Attributes:
            object_ (WatchEventObject):
            type_ (EventType): The type of a watch event.
    """

    object_: WatchEventObject
    type_: EventType
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        object_ = self.object_.to_dict()

        type_ = self.type_.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "object": object_,
                "type": type_,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.watch_event_object import WatchEventObject  # noqa: PLC0415

        d = dict(src_dict)
        object_ = WatchEventObject.from_dict(d.pop("object"))

        type_ = EventType(d.pop("type"))

        watch_event = cls(
            object_=object_,
            type_=type_,
        )

        watch_event.additional_properties = d
        return watch_event

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
