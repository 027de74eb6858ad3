from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.managed_fields_entry import ManagedFieldsEntry
    from ..models.object_meta_annotations import ObjectMetaAnnotations
    from ..models.object_meta_labels import ObjectMetaLabels


T = TypeVar("T", bound="LeaseMetadata")


@_attrs_define
class LeaseMetadata:
    """
    Attributes:
        name (str): The lease's name; on replace, the name of the path
        annotations (ObjectMetaAnnotations | Unset):
        creation_timestamp (datetime.datetime | None | Unset):
        labels (ObjectMetaLabels | Unset):
        managed_fields (list[ManagedFieldsEntry] | Unset): Who set which fields with server-side apply; kept when a
            write leaves it out.
        namespace (None | str | Unset): Namespace of a namespaced object; taken from the path when absent.
        resource_version (None | str | Unset): The store revision of the last write to this object. Send it back on
            update for
            optimistic concurrency: a stale value is answered with 409 Conflict.
        uid (None | str | Unset):
    """

    name: str
    annotations: ObjectMetaAnnotations | Unset = UNSET
    creation_timestamp: datetime.datetime | None | Unset = UNSET
    labels: ObjectMetaLabels | Unset = UNSET
    managed_fields: list[ManagedFieldsEntry] | Unset = UNSET
    namespace: None | str | Unset = UNSET
    resource_version: None | str | Unset = UNSET
    uid: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        annotations: dict[str, Any] | Unset = UNSET
        if not isinstance(self.annotations, Unset):
            annotations = self.annotations.to_dict()

        creation_timestamp: None | str | Unset
        if isinstance(self.creation_timestamp, Unset):
            creation_timestamp = UNSET
        elif isinstance(self.creation_timestamp, datetime.datetime):
            creation_timestamp = self.creation_timestamp.isoformat()
        else:
            creation_timestamp = self.creation_timestamp

        labels: dict[str, Any] | Unset = UNSET
        if not isinstance(self.labels, Unset):
            labels = self.labels.to_dict()

        managed_fields: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.managed_fields, Unset):
            managed_fields = []
            for managed_fields_item_data in self.managed_fields:
                managed_fields_item = managed_fields_item_data.to_dict()
                managed_fields.append(managed_fields_item)

        namespace: None | str | Unset
        if isinstance(self.namespace, Unset):
            namespace = UNSET
        else:
            namespace = self.namespace

        resource_version: None | str | Unset
        if isinstance(self.resource_version, Unset):
            resource_version = UNSET
        else:
            resource_version = self.resource_version

        uid: None | str | Unset
        if isinstance(self.uid, Unset):
            uid = UNSET
        else:
            uid = self.uid

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "name": name,
            }
        )
        if annotations is not UNSET:
            field_dict["annotations"] = annotations
        if creation_timestamp is not UNSET:
            field_dict["creationTimestamp"] = creation_timestamp
        if labels is not UNSET:
            field_dict["labels"] = labels
        if managed_fields is not UNSET:
            field_dict["managedFields"] = managed_fields
        if namespace is not UNSET:
            field_dict["namespace"] = namespace
        if resource_version is not UNSET:
            field_dict["resourceVersion"] = resource_version
        if uid is not UNSET:
            field_dict["uid"] = uid

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.managed_fields_entry import ManagedFieldsEntry  # noqa: PLC0415
        from ..models.object_meta_annotations import ObjectMetaAnnotations  # noqa: PLC0415
        from ..models.object_meta_labels import ObjectMetaLabels  # noqa: PLC0415

        d = dict(src_dict)
        name = d.pop("name")

        _annotations = d.pop("annotations", UNSET)
        annotations: ObjectMetaAnnotations | Unset
        if isinstance(_annotations, Unset):
            annotations = UNSET
        else:
            annotations = ObjectMetaAnnotations.from_dict(_annotations)

        def _parse_creation_timestamp(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                creation_timestamp_type_0 = datetime.datetime.fromisoformat(data)

                return creation_timestamp_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        creation_timestamp = _parse_creation_timestamp(d.pop("creationTimestamp", UNSET))

        _labels = d.pop("labels", UNSET)
        labels: ObjectMetaLabels | Unset
        if isinstance(_labels, Unset):
            labels = UNSET
        else:
            labels = ObjectMetaLabels.from_dict(_labels)

        _managed_fields = d.pop("managedFields", UNSET)
        managed_fields: list[ManagedFieldsEntry] | Unset = UNSET
        if _managed_fields is not UNSET:
            managed_fields = []
            for managed_fields_item_data in _managed_fields:
                managed_fields_item = ManagedFieldsEntry.from_dict(managed_fields_item_data)

                managed_fields.append(managed_fields_item)

        def _parse_namespace(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        namespace = _parse_namespace(d.pop("namespace", UNSET))

        def _parse_resource_version(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        resource_version = _parse_resource_version(d.pop("resourceVersion", UNSET))

        def _parse_uid(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        uid = _parse_uid(d.pop("uid", UNSET))

        lease_metadata = cls(
            name=name,
            annotations=annotations,
            creation_timestamp=creation_timestamp,
            labels=labels,
            managed_fields=managed_fields,
            namespace=namespace,
            resource_version=resource_version,
            uid=uid,
        )

        lease_metadata.additional_properties = d
        return lease_metadata

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
