from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.daemon_endpoint import DaemonEndpoint


T = TypeVar("T", bound="NodeDaemonEndpoints")


@_attrs_define
class NodeDaemonEndpoints:
    """
    Attributes:
        agent_endpoint (DaemonEndpoint):
    """

    agent_endpoint: DaemonEndpoint

    def to_dict(self) -> dict[str, Any]:
        agent_endpoint = self.agent_endpoint.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "agentEndpoint": agent_endpoint,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.daemon_endpoint import DaemonEndpoint  # noqa: PLC0415

        d = dict(src_dict)
        agent_endpoint = DaemonEndpoint.from_dict(d.pop("agentEndpoint"))

        node_daemon_endpoints = cls(
            agent_endpoint=agent_endpoint,
        )

        return node_daemon_endpoints
