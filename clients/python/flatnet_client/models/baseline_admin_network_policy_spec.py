from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.admin_network_policy_egress_rule import AdminNetworkPolicyEgressRule
    from ..models.admin_network_policy_ingress_rule import AdminNetworkPolicyIngressRule
    from ..models.admin_network_policy_subject import AdminNetworkPolicySubject


T = TypeVar("T", bound="BaselineAdminNetworkPolicySpec")


@_attrs_define
class BaselineAdminNetworkPolicySpec:
    """
    Attributes:
        subject (AdminNetworkPolicySubject): Exactly one of: every pod of the namespaces `namespaces` selects, or the
            pods `pods`
            selects.
        egress (list[AdminNetworkPolicyEgressRule] | Unset):
        ingress (list[AdminNetworkPolicyIngressRule] | Unset): `Allow` or `Deny` only (there is nothing after the
            baseline to pass to).
    """

    subject: AdminNetworkPolicySubject
    egress: list[AdminNetworkPolicyEgressRule] | Unset = UNSET
    ingress: list[AdminNetworkPolicyIngressRule] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        subject = self.subject.to_dict()

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

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "subject": subject,
            }
        )
        if egress is not UNSET:
            field_dict["egress"] = egress
        if ingress is not UNSET:
            field_dict["ingress"] = ingress

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.admin_network_policy_egress_rule import AdminNetworkPolicyEgressRule  # noqa: PLC0415
        from ..models.admin_network_policy_ingress_rule import AdminNetworkPolicyIngressRule  # noqa: PLC0415
        from ..models.admin_network_policy_subject import AdminNetworkPolicySubject  # noqa: PLC0415

        d = dict(src_dict)
        subject = AdminNetworkPolicySubject.from_dict(d.pop("subject"))

        _egress = d.pop("egress", UNSET)
        egress: list[AdminNetworkPolicyEgressRule] | Unset = UNSET
        if _egress is not UNSET:
            egress = []
            for egress_item_data in _egress:
                egress_item = AdminNetworkPolicyEgressRule.from_dict(egress_item_data)

                egress.append(egress_item)

        _ingress = d.pop("ingress", UNSET)
        ingress: list[AdminNetworkPolicyIngressRule] | Unset = UNSET
        if _ingress is not UNSET:
            ingress = []
            for ingress_item_data in _ingress:
                ingress_item = AdminNetworkPolicyIngressRule.from_dict(ingress_item_data)

                ingress.append(ingress_item)

        baseline_admin_network_policy_spec = cls(
            subject=subject,
            egress=egress,
            ingress=ingress,
        )

        return baseline_admin_network_policy_spec
