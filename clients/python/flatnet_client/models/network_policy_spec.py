from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.policy_type import PolicyType
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.label_selector import LabelSelector
    from ..models.network_policy_egress_rule import NetworkPolicyEgressRule
    from ..models.network_policy_ingress_rule import NetworkPolicyIngressRule


T = TypeVar("T", bound="NetworkPolicySpec")


@_attrs_define
class NetworkPolicySpec:
    """
    Attributes:
        egress (list[NetworkPolicyEgressRule] | Unset): Traffic allowed out of the selected pods (when the policy
            isolates egress).
        ingress (list[NetworkPolicyIngressRule] | Unset): Traffic allowed into the selected pods (when the policy
            isolates ingress).
        pod_selector (LabelSelector | Unset): A label selector, as policies carry it: every `matchLabels` pair and every
            `matchExpressions` requirement must hold. The empty selector selects everything.
        policy_types (list[PolicyType] | None | Unset): The directions the policy isolates. Absent: `Ingress`, plus
            `Egress` when the policy
            has egress rules (Kubernetes' default).
    """

    egress: list[NetworkPolicyEgressRule] | Unset = UNSET
    ingress: list[NetworkPolicyIngressRule] | Unset = UNSET
    pod_selector: LabelSelector | Unset = UNSET
    policy_types: list[PolicyType] | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        egress: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.egress, Unset):
            egress = []
            for egress_item_data in self.egress:
                egress_item = egress_item_data.to_dict()
                egress.append(egress_item)

        ingress: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.ingress, Unset):
            ingress = []
            for ingress_item_data in self.ingress:
                ingress_item = ingress_item_data.to_dict()
                ingress.append(ingress_item)

        pod_selector: dict[str, Any] | Unset = UNSET
        if not isinstance(self.pod_selector, Unset):
            pod_selector = self.pod_selector.to_dict()

        policy_types: list[str] | None | Unset
        if isinstance(self.policy_types, Unset):
            policy_types = UNSET
        elif isinstance(self.policy_types, list):
            policy_types = []
            for policy_types_type_0_item_data in self.policy_types:
                policy_types_type_0_item = policy_types_type_0_item_data.value
                policy_types.append(policy_types_type_0_item)

        else:
            policy_types = self.policy_types

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if egress is not UNSET:
            field_dict["egress"] = egress
        if ingress is not UNSET:
            field_dict["ingress"] = ingress
        if pod_selector is not UNSET:
            field_dict["podSelector"] = pod_selector
        if policy_types is not UNSET:
            field_dict["policyTypes"] = policy_types

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.label_selector import LabelSelector  # noqa: PLC0415
        from ..models.network_policy_egress_rule import NetworkPolicyEgressRule  # noqa: PLC0415
        from ..models.network_policy_ingress_rule import NetworkPolicyIngressRule  # noqa: PLC0415

        d = dict(src_dict)
        _egress = d.pop("egress", UNSET)
        egress: list[NetworkPolicyEgressRule] | Unset = UNSET
        if _egress is not UNSET:
            egress = []
            for egress_item_data in _egress:
                egress_item = NetworkPolicyEgressRule.from_dict(egress_item_data)

                egress.append(egress_item)

        _ingress = d.pop("ingress", UNSET)
        ingress: list[NetworkPolicyIngressRule] | Unset = UNSET
        if _ingress is not UNSET:
            ingress = []
            for ingress_item_data in _ingress:
                ingress_item = NetworkPolicyIngressRule.from_dict(ingress_item_data)

                ingress.append(ingress_item)

        _pod_selector = d.pop("podSelector", UNSET)
        pod_selector: LabelSelector | Unset
        if isinstance(_pod_selector, Unset):
            pod_selector = UNSET
        else:
            pod_selector = LabelSelector.from_dict(_pod_selector)

        def _parse_policy_types(data: object) -> list[PolicyType] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                policy_types_type_0 = []
                _policy_types_type_0 = data
                for policy_types_type_0_item_data in _policy_types_type_0:
                    policy_types_type_0_item = PolicyType(policy_types_type_0_item_data)

                    policy_types_type_0.append(policy_types_type_0_item)

                return policy_types_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[PolicyType] | None | Unset, data)

        policy_types = _parse_policy_types(d.pop("policyTypes", UNSET))

        network_policy_spec = cls(
            egress=egress,
            ingress=ingress,
            pod_selector=pod_selector,
            policy_types=policy_types,
        )

        return network_policy_spec
