from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.service_type import ServiceType
from ..models.session_affinity import SessionAffinity
from ..models.traffic_policy import TrafficPolicy
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.service_port import ServicePort
    from ..models.service_spec_selector import ServiceSpecSelector
    from ..models.session_affinity_config import SessionAffinityConfig


T = TypeVar("T", bound="ServiceSpec")


@_attrs_define
class ServiceSpec:
    """
    Attributes:
        ports (list[ServicePort]):
        cluster_ip (None | str | Unset): Allocated from the service CIDR when absent; a requested address must be free
            and in
            the service CIDR. `None` makes a headless service: no cluster IP and no load
            balancing, DNS answers the ready endpoints' addresses. Immutable.
        external_name (None | str | Unset): For `type: ExternalName`: the DNS name the service is an alias of.
        external_traffic_policy (TrafficPolicy | Unset):
        selector (ServiceSpecSelector | Unset): Pods with all these labels back the service. Without a selector there
            are no
            endpoints.
        session_affinity (SessionAffinity | Unset):
        session_affinity_config (None | SessionAffinityConfig | Unset):
        type_ (ServiceType | Unset):
    """

    ports: list[ServicePort]
    cluster_ip: None | str | Unset = UNSET
    external_name: None | str | Unset = UNSET
    external_traffic_policy: TrafficPolicy | Unset = UNSET
    selector: ServiceSpecSelector | Unset = UNSET
    session_affinity: SessionAffinity | Unset = UNSET
    session_affinity_config: None | SessionAffinityConfig | Unset = UNSET
    type_: ServiceType | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.session_affinity_config import SessionAffinityConfig  # noqa: PLC0415

        ports = []
        for ports_item_data in self.ports:
            ports_item = ports_item_data.to_dict()
            ports.append(ports_item)

        cluster_ip: None | str | Unset
        if isinstance(self.cluster_ip, Unset):
            cluster_ip = UNSET
        else:
            cluster_ip = self.cluster_ip

        external_name: None | str | Unset
        if isinstance(self.external_name, Unset):
            external_name = UNSET
        else:
            external_name = self.external_name

        external_traffic_policy: str | Unset = UNSET
        if not isinstance(self.external_traffic_policy, Unset):
            external_traffic_policy = self.external_traffic_policy.value

        selector: dict[str, Any] | Unset = UNSET
        if not isinstance(self.selector, Unset):
            selector = self.selector.to_dict()

        session_affinity: str | Unset = UNSET
        if not isinstance(self.session_affinity, Unset):
            session_affinity = self.session_affinity.value

        session_affinity_config: dict[str, Any] | None | Unset
        if isinstance(self.session_affinity_config, Unset):
            session_affinity_config = UNSET
        elif isinstance(self.session_affinity_config, SessionAffinityConfig):
            session_affinity_config = self.session_affinity_config.to_dict()
        else:
            session_affinity_config = self.session_affinity_config

        type_: str | Unset = UNSET
        if not isinstance(self.type_, Unset):
            type_ = self.type_.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "ports": ports,
            }
        )
        if cluster_ip is not UNSET:
            field_dict["clusterIP"] = cluster_ip
        if external_name is not UNSET:
            field_dict["externalName"] = external_name
        if external_traffic_policy is not UNSET:
            field_dict["externalTrafficPolicy"] = external_traffic_policy
        if selector is not UNSET:
            field_dict["selector"] = selector
        if session_affinity is not UNSET:
            field_dict["sessionAffinity"] = session_affinity
        if session_affinity_config is not UNSET:
            field_dict["sessionAffinityConfig"] = session_affinity_config
        if type_ is not UNSET:
            field_dict["type"] = type_

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.service_port import ServicePort  # noqa: PLC0415
        from ..models.service_spec_selector import ServiceSpecSelector  # noqa: PLC0415
        from ..models.session_affinity_config import SessionAffinityConfig  # noqa: PLC0415

        d = dict(src_dict)
        ports = []
        _ports = d.pop("ports")
        for ports_item_data in _ports:
            ports_item = ServicePort.from_dict(ports_item_data)

            ports.append(ports_item)

        def _parse_cluster_ip(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        cluster_ip = _parse_cluster_ip(d.pop("clusterIP", UNSET))

        def _parse_external_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        external_name = _parse_external_name(d.pop("externalName", UNSET))

        _external_traffic_policy = d.pop("externalTrafficPolicy", UNSET)
        external_traffic_policy: TrafficPolicy | Unset
        if isinstance(_external_traffic_policy, Unset):
            external_traffic_policy = UNSET
        else:
            external_traffic_policy = TrafficPolicy(_external_traffic_policy)

        _selector = d.pop("selector", UNSET)
        selector: ServiceSpecSelector | Unset
        if isinstance(_selector, Unset):
            selector = UNSET
        else:
            selector = ServiceSpecSelector.from_dict(_selector)

        _session_affinity = d.pop("sessionAffinity", UNSET)
        session_affinity: SessionAffinity | Unset
        if isinstance(_session_affinity, Unset):
            session_affinity = UNSET
        else:
            session_affinity = SessionAffinity(_session_affinity)

        def _parse_session_affinity_config(data: object) -> None | SessionAffinityConfig | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                session_affinity_config_type_1 = SessionAffinityConfig.from_dict(data)

                return session_affinity_config_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | SessionAffinityConfig | Unset, data)

        session_affinity_config = _parse_session_affinity_config(d.pop("sessionAffinityConfig", UNSET))

        _type_ = d.pop("type", UNSET)
        type_: ServiceType | Unset
        if isinstance(_type_, Unset):
            type_ = UNSET
        else:
            type_ = ServiceType(_type_)

        service_spec = cls(
            ports=ports,
            cluster_ip=cluster_ip,
            external_name=external_name,
            external_traffic_policy=external_traffic_policy,
            selector=selector,
            session_affinity=session_affinity,
            session_affinity_config=session_affinity_config,
            type_=type_,
        )

        return service_spec
