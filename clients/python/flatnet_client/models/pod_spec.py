from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.dns_policy import DnsPolicy
from ..models.restart_policy import RestartPolicy
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.container import Container
    from ..models.pod_dns_config import PodDnsConfig
    from ..models.pod_spec_node_selector import PodSpecNodeSelector


T = TypeVar("T", bound="PodSpec")


@_attrs_define
class PodSpec:
    """
    Attributes:
        containers (list[Container]): At least one; container names are unique within the pod.
        dns_config (None | PodDnsConfig | Unset):
        dns_policy (DnsPolicy | Unset):
        hostname (None | str | Unset): The pod's hostname (default: its name).
        node_name (None | str | Unset): The node the pod runs on. Set it to bind the pod yourself; leave it out and the
            scheduler binds the pod to the Ready node with the fewest pods. Immutable once set.
        node_selector (PodSpecNodeSelector | Unset): Labels a node must carry (all of them, with these values) for the
            scheduler to bind
            the pod to it. A pod no Ready node matches stays Pending, its `PodScheduled`
            condition False (reason `Unschedulable`), until a node matches. Ignored when
            `nodeName` is set, as Kubernetes' scheduler never sees such a pod.
        restart_policy (RestartPolicy | Unset):
        subdomain (None | str | Unset): With `hostname`, and a headless service of this name in the pod's namespace, the
            pod
            answers in DNS as `HOSTNAME.SUBDOMAIN.NS.svc.DOMAIN`.
        termination_grace_period_seconds (int | None | Unset): Seconds between SIGTERM and SIGKILL when the pod is
            deleted (default 30).
    """

    containers: list[Container]
    dns_config: None | PodDnsConfig | Unset = UNSET
    dns_policy: DnsPolicy | Unset = UNSET
    hostname: None | str | Unset = UNSET
    node_name: None | str | Unset = UNSET
    node_selector: PodSpecNodeSelector | Unset = UNSET
    restart_policy: RestartPolicy | Unset = UNSET
    subdomain: None | str | Unset = UNSET
    termination_grace_period_seconds: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.pod_dns_config import PodDnsConfig  # noqa: PLC0415

        containers = []
        for containers_item_data in self.containers:
            containers_item = containers_item_data.to_dict()
            containers.append(containers_item)

        dns_config: dict[str, Any] | None | Unset
        if isinstance(self.dns_config, Unset):
            dns_config = UNSET
        elif isinstance(self.dns_config, PodDnsConfig):
            dns_config = self.dns_config.to_dict()
        else:
            dns_config = self.dns_config

        dns_policy: str | Unset = UNSET
        if not isinstance(self.dns_policy, Unset):
            dns_policy = self.dns_policy.value

        hostname: None | str | Unset
        if isinstance(self.hostname, Unset):
            hostname = UNSET
        else:
            hostname = self.hostname

        node_name: None | str | Unset
        if isinstance(self.node_name, Unset):
            node_name = UNSET
        else:
            node_name = self.node_name

        node_selector: dict[str, Any] | Unset = UNSET
        if not isinstance(self.node_selector, Unset):
            node_selector = self.node_selector.to_dict()

        restart_policy: str | Unset = UNSET
        if not isinstance(self.restart_policy, Unset):
            restart_policy = self.restart_policy.value

        subdomain: None | str | Unset
        if isinstance(self.subdomain, Unset):
            subdomain = UNSET
        else:
            subdomain = self.subdomain

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
        if dns_config is not UNSET:
            field_dict["dnsConfig"] = dns_config
        if dns_policy is not UNSET:
            field_dict["dnsPolicy"] = dns_policy
        if hostname is not UNSET:
            field_dict["hostname"] = hostname
        if node_name is not UNSET:
            field_dict["nodeName"] = node_name
        if node_selector is not UNSET:
            field_dict["nodeSelector"] = node_selector
        if restart_policy is not UNSET:
            field_dict["restartPolicy"] = restart_policy
        if subdomain is not UNSET:
            field_dict["subdomain"] = subdomain
        if termination_grace_period_seconds is not UNSET:
            field_dict["terminationGracePeriodSeconds"] = termination_grace_period_seconds

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.container import Container  # noqa: PLC0415
        from ..models.pod_dns_config import PodDnsConfig  # noqa: PLC0415
        from ..models.pod_spec_node_selector import PodSpecNodeSelector  # noqa: PLC0415

        d = dict(src_dict)
        containers = []
        _containers = d.pop("containers")
        for containers_item_data in _containers:
            containers_item = Container.from_dict(containers_item_data)

            containers.append(containers_item)

        def _parse_dns_config(data: object) -> None | PodDnsConfig | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                dns_config_type_1 = PodDnsConfig.from_dict(data)

                return dns_config_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PodDnsConfig | Unset, data)

        dns_config = _parse_dns_config(d.pop("dnsConfig", UNSET))

        _dns_policy = d.pop("dnsPolicy", UNSET)
        dns_policy: DnsPolicy | Unset
        if isinstance(_dns_policy, Unset):
            dns_policy = UNSET
        else:
            dns_policy = DnsPolicy(_dns_policy)

        def _parse_hostname(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        hostname = _parse_hostname(d.pop("hostname", UNSET))

        def _parse_node_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        node_name = _parse_node_name(d.pop("nodeName", UNSET))

        _node_selector = d.pop("nodeSelector", UNSET)
        node_selector: PodSpecNodeSelector | Unset
        if isinstance(_node_selector, Unset):
            node_selector = UNSET
        else:
            node_selector = PodSpecNodeSelector.from_dict(_node_selector)

        _restart_policy = d.pop("restartPolicy", UNSET)
        restart_policy: RestartPolicy | Unset
        if isinstance(_restart_policy, Unset):
            restart_policy = UNSET
        else:
            restart_policy = RestartPolicy(_restart_policy)

        def _parse_subdomain(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        subdomain = _parse_subdomain(d.pop("subdomain", UNSET))

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
            dns_config=dns_config,
            dns_policy=dns_policy,
            hostname=hostname,
            node_name=node_name,
            node_selector=node_selector,
            restart_policy=restart_policy,
            subdomain=subdomain,
            termination_grace_period_seconds=termination_grace_period_seconds,
        )

        return pod_spec
