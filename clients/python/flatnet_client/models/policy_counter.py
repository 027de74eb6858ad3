from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="PolicyCounter")


@_attrs_define
class PolicyCounter:
    """The counts of one rule of a policy. A connection is judged at its first packet (and again
    at its first packet after each change of the node's plan), so `Allow` and `Pass` count
    judgements of new connections, and `Deny` every packet dropped (a client's retries
    included).

        Attributes:
            action (str): `Allow`, `Deny` or `Pass`.
            bytes_ (int):
            direction (str): `Ingress` or `Egress`.
            kind (str): `NetworkPolicy`, `AdminNetworkPolicy` or `BaselineAdminNetworkPolicy`.
            name (str):
            packets (int):
            namespace (None | str | Unset): The policy's namespace (NetworkPolicies only).
            rule (int | None | Unset): The rule's index in `ingress` or `egress`; absent for the drop of a NetworkPolicy's
                isolation (what no rule of the policies selecting the pod allows), which counts
                against every policy isolating the pod.
    """

    action: str
    bytes_: int
    direction: str
    kind: str
    name: str
    packets: int
    namespace: None | str | Unset = UNSET
    rule: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        action = self.action

        bytes_ = self.bytes_

        direction = self.direction

        kind = self.kind

        name = self.name

        packets = self.packets

        namespace: None | str | Unset
        if isinstance(self.namespace, Unset):
            namespace = UNSET
        else:
            namespace = self.namespace

        rule: int | None | Unset
        if isinstance(self.rule, Unset):
            rule = UNSET
        else:
            rule = self.rule

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "action": action,
                "bytes": bytes_,
                "direction": direction,
                "kind": kind,
                "name": name,
                "packets": packets,
            }
        )
        if namespace is not UNSET:
            field_dict["namespace"] = namespace
        if rule is not UNSET:
            field_dict["rule"] = rule

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        action = d.pop("action")

        bytes_ = d.pop("bytes")

        direction = d.pop("direction")

        kind = d.pop("kind")

        name = d.pop("name")

        packets = d.pop("packets")

        def _parse_namespace(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        namespace = _parse_namespace(d.pop("namespace", UNSET))

        def _parse_rule(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        rule = _parse_rule(d.pop("rule", UNSET))

        policy_counter = cls(
            action=action,
            bytes_=bytes_,
            direction=direction,
            kind=kind,
            name=name,
            packets=packets,
            namespace=namespace,
            rule=rule,
        )

        return policy_counter
