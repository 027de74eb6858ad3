from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.node_lease_spec_backend_data import NodeLeaseSpecBackendData


T = TypeVar("T", bound="NodeLeaseSpec")


@_attrs_define
class NodeLeaseSpec:
    """
    Attributes:
        acquire_time (datetime.datetime):
        gateway (str): First address of the CIDR: the pod gateway on the node's bridge, never a pod IP.
        lease_duration_seconds (int):
        node_name (str):
        pod_cidr (str):
        renew_time (datetime.datetime):
        backend_data (NodeLeaseSpecBackendData | Unset): Backend data the node publishes with its lease (for VXLAN:
            `vtepMAC`).
        node_ip (None | str | Unset): The node's underlay address (its `InternalIP`), where other nodes route the CIDR.
    """

    acquire_time: datetime.datetime
    gateway: str
    lease_duration_seconds: int
    node_name: str
    pod_cidr: str
    renew_time: datetime.datetime
    backend_data: NodeLeaseSpecBackendData | Unset = UNSET
    node_ip: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        acquire_time = self.acquire_time.isoformat()

        gateway = self.gateway

        lease_duration_seconds = self.lease_duration_seconds

        node_name = self.node_name

        pod_cidr = self.pod_cidr

        renew_time = self.renew_time.isoformat()

        backend_data: dict[str, Any] | Unset = UNSET
        if not isinstance(self.backend_data, Unset):
            backend_data = self.backend_data.to_dict()

        node_ip: None | str | Unset
        if isinstance(self.node_ip, Unset):
            node_ip = UNSET
        else:
            node_ip = self.node_ip

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "acquireTime": acquire_time,
                "gateway": gateway,
                "leaseDurationSeconds": lease_duration_seconds,
                "nodeName": node_name,
                "podCIDR": pod_cidr,
                "renewTime": renew_time,
            }
        )
        if backend_data is not UNSET:
            field_dict["backendData"] = backend_data
        if node_ip is not UNSET:
            field_dict["nodeIP"] = node_ip

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.node_lease_spec_backend_data import NodeLeaseSpecBackendData  # noqa: PLC0415

        d = dict(src_dict)
        acquire_time = datetime.datetime.fromisoformat(d.pop("acquireTime"))

        gateway = d.pop("gateway")

        lease_duration_seconds = d.pop("leaseDurationSeconds")

        node_name = d.pop("nodeName")

        pod_cidr = d.pop("podCIDR")

        renew_time = datetime.datetime.fromisoformat(d.pop("renewTime"))

        _backend_data = d.pop("backendData", UNSET)
        backend_data: NodeLeaseSpecBackendData | Unset
        if isinstance(_backend_data, Unset):
            backend_data = UNSET
        else:
            backend_data = NodeLeaseSpecBackendData.from_dict(_backend_data)

        def _parse_node_ip(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        node_ip = _parse_node_ip(d.pop("nodeIP", UNSET))

        node_lease_spec = cls(
            acquire_time=acquire_time,
            gateway=gateway,
            lease_duration_seconds=lease_duration_seconds,
            node_name=node_name,
            pod_cidr=pod_cidr,
            renew_time=renew_time,
            backend_data=backend_data,
            node_ip=node_ip,
        )

        return node_lease_spec
