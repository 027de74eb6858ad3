from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.label_selector import LabelSelector
    from ..models.namespaced_pod import NamespacedPod


T = TypeVar("T", bound="AdminNetworkPolicySubject")


@_attrs_define
class AdminNetworkPolicySubject:
    """Exactly one of: every pod of the namespaces `namespaces` selects, or the pods `pods`
    selects.

        Attributes:
            namespaces (LabelSelector | None | Unset):
            pods (NamespacedPod | None | Unset):
    """

    namespaces: LabelSelector | None | Unset = UNSET
    pods: NamespacedPod | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.label_selector import LabelSelector  # noqa: PLC0415
        from ..models.namespaced_pod import NamespacedPod  # noqa: PLC0415

        namespaces: dict[str, Any] | None | Unset
        if isinstance(self.namespaces, Unset):
            namespaces = UNSET
        elif isinstance(self.namespaces, LabelSelector):
            namespaces = self.namespaces.to_dict()
        else:
            namespaces = self.namespaces

        pods: dict[str, Any] | None | Unset
        if isinstance(self.pods, Unset):
            pods = UNSET
        elif isinstance(self.pods, NamespacedPod):
            pods = self.pods.to_dict()
        else:
            pods = self.pods

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if namespaces is not UNSET:
            field_dict["namespaces"] = namespaces
        if pods is not UNSET:
            field_dict["pods"] = pods

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.label_selector import LabelSelector  # noqa: PLC0415
        from ..models.namespaced_pod import NamespacedPod  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_namespaces(data: object) -> LabelSelector | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                namespaces_type_1 = LabelSelector.from_dict(data)

                return namespaces_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(LabelSelector | None | Unset, data)

        namespaces = _parse_namespaces(d.pop("namespaces", UNSET))

        def _parse_pods(data: object) -> NamespacedPod | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                pods_type_1 = NamespacedPod.from_dict(data)

                return pods_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(NamespacedPod | None | Unset, data)

        pods = _parse_pods(d.pop("pods", UNSET))

        admin_network_policy_subject = cls(
            namespaces=namespaces,
            pods=pods,
        )

        return admin_network_policy_subject
