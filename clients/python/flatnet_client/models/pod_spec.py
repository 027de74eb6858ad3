from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.restart_policy import RestartPolicy
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.container import Container


T = TypeVar("T", bound="PodSpec")


@_attrs_define
class PodSpec:
    """
    Attributes:
        containers (list[Container]): At least one; container names are unique within the pod.
        node_name (None | str | Unset): The node the pod runs on. Set it to bind the pod yourself; leave it out and the
            scheduler binds the pod to the Ready node with the fewest pods. Immutable once set.
        restart_policy (RestartPolicy | Unset):
        termination_grace_period_seconds (int | None | Unset): Seconds between SIGTERM and SIGKILL when the pod is
            deleted (default 30).
    """

    containers: list[Container]
    node_name: None | str | Unset = UNSET
    restart_policy: RestartPolicy | Unset = UNSET
    termination_grace_period_seconds: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        containers = []
        for containers_item_data in self.containers:
            containers_item = containers_item_data.to_dict()
            containers.append(containers_item)

        node_name: None | str | Unset
        if isinstance(self.node_name, Unset):
            node_name = UNSET
        else:
            node_name = self.node_name

        restart_policy: str | Unset = UNSET
        if not isinstance(self.restart_policy, Unset):
            restart_policy = self.restart_policy.value

        termination_grace_period_seconds: int | None | Unset
        if isinstance(self.termination_grace_period_seconds, Unset):
            termination_grace_period_seconds = UNSET
        else:
            termination_grace_period_seconds = self.termination_grace_period_seconds

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "containers": containers,
            }
        )
        if node_name is not UNSET:
            field_dict["nodeName"] = node_name
        if restart_policy is not UNSET:
            field_dict["restartPolicy"] = restart_policy
        if termination_grace_period_seconds is not UNSET:
            field_dict["terminationGracePeriodSeconds"] = termination_grace_period_seconds

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.container import Container  # noqa: PLC0415

        d = dict(src_dict)
        containers = []
        _containers = d.pop("containers")
        for containers_item_data in _containers:
            containers_item = Container.from_dict(containers_item_data)

            containers.append(containers_item)

        def _parse_node_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        node_name = _parse_node_name(d.pop("nodeName", UNSET))

        _restart_policy = d.pop("restartPolicy", UNSET)
        restart_policy: RestartPolicy | Unset
        if isinstance(_restart_policy, Unset):
            restart_policy = UNSET
        else:
            restart_policy = RestartPolicy(_restart_policy)

        def _parse_termination_grace_period_seconds(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        termination_grace_period_seconds = _parse_termination_grace_period_seconds(
            d.pop("terminationGracePeriodSeconds", UNSET)
        )

        pod_spec = cls(
            containers=containers,
            node_name=node_name,
            restart_policy=restart_policy,
            termination_grace_period_seconds=termination_grace_period_seconds,
        )

        return pod_spec
