from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.label_selector import LabelSelector


T = TypeVar("T", bound="NamespacedPod")


@_attrs_define
class NamespacedPod:
    """Pods matching `podSelector` in the namespaces matching `namespaceSelector`.

    Attributes:
        namespace_selector (LabelSelector | Unset): A label selector, as policies carry it: every `matchLabels` pair and
            every
            `matchExpressions` requirement must hold. The empty selector selects everything.
        pod_selector (LabelSelector | Unset): A label selector, as policies carry it: every `matchLabels` pair and every
            `matchExpressions` requirement must hold. The empty selector selects everything.
    """

    namespace_selector: LabelSelector | Unset = UNSET
    pod_selector: LabelSelector | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        namespace_selector: dict[str, Any] | Unset = UNSET
        if not isinstance(self.namespace_selector, Unset):
            namespace_selector = self.namespace_selector.to_dict()

        pod_selector: dict[str, Any] | Unset = UNSET
        if not isinstance(self.pod_selector, Unset):
            pod_selector = self.pod_selector.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if namespace_selector is not UNSET:
            field_dict["namespaceSelector"] = namespace_selector
        if pod_selector is not UNSET:
            field_dict["podSelector"] = pod_selector

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.label_selector import LabelSelector  # noqa: PLC0415

        d = dict(src_dict)
        _namespace_selector = d.pop("namespaceSelector", UNSET)
        namespace_selector: LabelSelector | Unset
        if isinstance(_namespace_selector, Unset):
            namespace_selector = UNSET
        else:
            namespace_selector = LabelSelector.from_dict(_namespace_selector)

        _pod_selector = d.pop("podSelector", UNSET)
        pod_selector: LabelSelector | Unset
        if isinstance(_pod_selector, Unset):
            pod_selector = UNSET
        else:
            pod_selector = LabelSelector.from_dict(_pod_selector)

        namespaced_pod = cls(
            namespace_selector=namespace_selector,
            pod_selector=pod_selector,
        )

        return namespaced_pod
