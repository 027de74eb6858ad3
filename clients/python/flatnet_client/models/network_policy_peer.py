from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.ip_block import IpBlock
    from ..models.label_selector import LabelSelector


T = TypeVar("T", bound="NetworkPolicyPeer")


@_attrs_define
class NetworkPolicyPeer:
    """One peer: either `ipBlock`, or pods by `podSelector` and/or `namespaceSelector`. Both
    selectors in one peer mean the pods that match `podSelector` in the namespaces that match
    `namespaceSelector`; `podSelector` alone means pods of the policy's namespace;
    `namespaceSelector` alone means every pod of the matching namespaces.

        Attributes:
            ip_block (IpBlock | None | Unset):
            namespace_selector (LabelSelector | None | Unset):
            pod_selector (LabelSelector | None | Unset):
    """

    ip_block: IpBlock | None | Unset = UNSET
    namespace_selector: LabelSelector | None | Unset = UNSET
    pod_selector: LabelSelector | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.ip_block import IpBlock  # noqa: PLC0415
        from ..models.label_selector import LabelSelector  # noqa: PLC0415

        ip_block: dict[str, Any] | None | Unset
        if isinstance(self.ip_block, Unset):
            ip_block = UNSET
        elif isinstance(self.ip_block, IpBlock):
            ip_block = self.ip_block.to_dict()
        else:
            ip_block = self.ip_block

        namespace_selector: dict[str, Any] | None | Unset
        if isinstance(self.namespace_selector, Unset):
            namespace_selector = UNSET
        elif isinstance(self.namespace_selector, LabelSelector):
            namespace_selector = self.namespace_selector.to_dict()
        else:
            namespace_selector = self.namespace_selector

        pod_selector: dict[str, Any] | None | Unset
        if isinstance(self.pod_selector, Unset):
            pod_selector = UNSET
        elif isinstance(self.pod_selector, LabelSelector):
            pod_selector = self.pod_selector.to_dict()
        else:
            pod_selector = self.pod_selector

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if ip_block is not UNSET:
            field_dict["ipBlock"] = ip_block
        if namespace_selector is not UNSET:
            field_dict["namespaceSelector"] = namespace_selector
        if pod_selector is not UNSET:
            field_dict["podSelector"] = pod_selector

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.ip_block import IpBlock  # noqa: PLC0415
        from ..models.label_selector import LabelSelector  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_ip_block(data: object) -> IpBlock | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                ip_block_type_1 = IpBlock.from_dict(data)

                return ip_block_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(IpBlock | None | Unset, data)

        ip_block = _parse_ip_block(d.pop("ipBlock", UNSET))

        def _parse_namespace_selector(data: object) -> LabelSelector | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                namespace_selector_type_1 = LabelSelector.from_dict(data)

                return namespace_selector_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(LabelSelector | None | Unset, data)

        namespace_selector = _parse_namespace_selector(d.pop("namespaceSelector", UNSET))

        def _parse_pod_selector(data: object) -> LabelSelector | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                pod_selector_type_1 = LabelSelector.from_dict(data)

                return pod_selector_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(LabelSelector | None | Unset, data)

        pod_selector = _parse_pod_selector(d.pop("podSelector", UNSET))

        network_policy_peer = cls(
            ip_block=ip_block,
            namespace_selector=namespace_selector,
            pod_selector=pod_selector,
        )

        return network_policy_peer
