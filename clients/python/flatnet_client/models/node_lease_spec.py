from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.node_lease_spec_backend_data import NodeLeaseSpecBackendData


T = TypeVar("T", bound="NodeLeaseSpec")


@_attrs_define
class NodeLeaseSpec:
    """
    Attributes:
        acquire_time (datetime.datetime): When the node acquired this CIDR. When it last renewed is its `Lease`'s
            `renewTime`; how long a renewal lasts, the Lease's `leaseDurationSeconds`.
        gateway (str): First address of the CIDR: the pod gateway on the node's bridge, never a pod IP.
        node_name (str):
        pod_cidr (str):
        backend_data (NodeLeaseSpecBackendData | Unset): Backend data the node publishes with its heartbeat (for VXLAN:
            `vtepMAC`).
        node_ip (None | str | Unset): The node's underlay address (its `InternalIP`), where other nodes route the CIDR.
    """

    acquire_time: datetime.datetime
    gateway: str
    node_name: str
    pod_cidr: str
    backend_data: NodeLeaseSpecBackendData | Unset = UNSET
    node_ip: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        acquire_time = self.acquire_time.isoformat()

        gateway = self.gateway

        node_name = self.node_name

        pod_cidr = self.pod_cidr

        backend_data: dict[str, Any] | Unset = UNSET
        if not isinstance(self.backend_data, Unset):
            backend_data = self.backend_data.to_dict()

        node_ip: None | str | Unset
        if isinstance(self.node_ip, Unset):
            node_ip = UNSET
        else:
            node_ip = self.node_ip

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "acquireTime": acquire_time,
                "gateway": gateway,
                "nodeName": node_name,
                "podCIDR": pod_cidr,
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

        node_name = d.pop("nodeName")

        pod_cidr = d.pop("podCIDR")

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
            node_name=node_name,
            pod_cidr=pod_cidr,
            backend_data=backend_data,
            node_ip=node_ip,
        )

        node_lease_spec.additional_properties = d
        return node_lease_spec

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
