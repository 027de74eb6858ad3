from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..models.backend import Backend
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.port_range import PortRange


T = TypeVar("T", bound="ClusterConfig")


@_attrs_define
class ClusterConfig:
    """The cluster-wide network configuration, fixed when the data directory is first used.

    Attributes:
        backend (Backend): How pods reach pods on other nodes.
        lease_grace_seconds (int): An expired lease is reclaimed (its CIDR freed) after this further grace period.
        lease_ttl_seconds (int): A node lease not renewed for this long expires and its node turns NotReady.
        node_port_range (PortRange):
        node_subnet_prefix (int): Prefix length of each node's lease (24: a /24 per node).
        pod_cidr (str): The cluster (pod) CIDR, split into one lease per node.
        service_cidr (str):
        cluster_dns (str | Unset): The cluster DNS address (the `kube-dns` service in `kube-system`): every node answers
            its own pods' queries to it on port 53, UDP and TCP. The tenth address of the service
            CIDR unless set.
        cluster_domain (str | Unset): The cluster's DNS domain: services answer as `NAME.NS.svc.DOMAIN`.
    """

    backend: Backend
    lease_grace_seconds: int
    lease_ttl_seconds: int
    node_port_range: PortRange
    node_subnet_prefix: int
    pod_cidr: str
    service_cidr: str
    cluster_dns: str | Unset = UNSET
    cluster_domain: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        backend = self.backend.value

        lease_grace_seconds = self.lease_grace_seconds

        lease_ttl_seconds = self.lease_ttl_seconds

        node_port_range = self.node_port_range.to_dict()

        node_subnet_prefix = self.node_subnet_prefix

        pod_cidr = self.pod_cidr

        service_cidr = self.service_cidr

        cluster_dns = self.cluster_dns

        cluster_domain = self.cluster_domain

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "backend": backend,
                "leaseGraceSeconds": lease_grace_seconds,
                "leaseTtlSeconds": lease_ttl_seconds,
                "nodePortRange": node_port_range,
                "nodeSubnetPrefix": node_subnet_prefix,
                "podCIDR": pod_cidr,
                "serviceCIDR": service_cidr,
            }
        )
        if cluster_dns is not UNSET:
            field_dict["clusterDNS"] = cluster_dns
        if cluster_domain is not UNSET:
            field_dict["clusterDomain"] = cluster_domain

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.port_range import PortRange  # noqa: PLC0415

        d = dict(src_dict)
        backend = Backend(d.pop("backend"))

        lease_grace_seconds = d.pop("leaseGraceSeconds")

        lease_ttl_seconds = d.pop("leaseTtlSeconds")

        node_port_range = PortRange.from_dict(d.pop("nodePortRange"))

        node_subnet_prefix = d.pop("nodeSubnetPrefix")

        pod_cidr = d.pop("podCIDR")

        service_cidr = d.pop("serviceCIDR")

        cluster_dns = d.pop("clusterDNS", UNSET)

        cluster_domain = d.pop("clusterDomain", UNSET)

        cluster_config = cls(
            backend=backend,
            lease_grace_seconds=lease_grace_seconds,
            lease_ttl_seconds=lease_ttl_seconds,
            node_port_range=node_port_range,
            node_subnet_prefix=node_subnet_prefix,
            pod_cidr=pod_cidr,
            service_cidr=service_cidr,
            cluster_dns=cluster_dns,
            cluster_domain=cluster_domain,
        )

        return cluster_config
