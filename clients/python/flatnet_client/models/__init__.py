"""Contains all the data models used in inputs/outputs"""

from .admin_network_policy import AdminNetworkPolicy
from .admin_network_policy_egress_rule import AdminNetworkPolicyEgressRule
from .admin_network_policy_ingress_rule import AdminNetworkPolicyIngressRule
from .admin_network_policy_list import AdminNetworkPolicyList
from .admin_network_policy_metadata import AdminNetworkPolicyMetadata
from .admin_network_policy_peer import AdminNetworkPolicyPeer
from .admin_network_policy_port import AdminNetworkPolicyPort
from .admin_network_policy_rule_action import AdminNetworkPolicyRuleAction
from .admin_network_policy_spec import AdminNetworkPolicySpec
from .admin_network_policy_subject import AdminNetworkPolicySubject
from .backend import Backend
from .baseline_admin_network_policy import BaselineAdminNetworkPolicy
from .baseline_admin_network_policy_list import BaselineAdminNetworkPolicyList
from .baseline_admin_network_policy_metadata import BaselineAdminNetworkPolicyMetadata
from .baseline_admin_network_policy_spec import BaselineAdminNetworkPolicySpec
from .client_ip_config import ClientIpConfig
from .cluster_config import ClusterConfig
from .condition_status import ConditionStatus
from .container import Container
from .container_port import ContainerPort
from .container_state import ContainerState
from .container_state_running import ContainerStateRunning
from .container_state_terminated import ContainerStateTerminated
from .container_state_waiting import ContainerStateWaiting
from .container_status import ContainerStatus
from .daemon_endpoint import DaemonEndpoint
from .endpoint_address import EndpointAddress
from .endpoint_port import EndpointPort
from .endpoint_subset import EndpointSubset
from .endpoints import Endpoints
from .endpoints_list import EndpointsList
from .env_var import EnvVar
from .event import Event
from .event_list import EventList
from .event_metadata import EventMetadata
from .event_source import EventSource
from .event_type import EventType
from .heartbeat import Heartbeat
from .heartbeat_backend_data import HeartbeatBackendData
from .http_get_action import HttpGetAction
from .ip_block import IpBlock
from .label_selector import LabelSelector
from .label_selector_match_labels import LabelSelectorMatchLabels
from .label_selector_requirement import LabelSelectorRequirement
from .list_meta import ListMeta
from .namespace import Namespace
from .namespace_list import NamespaceList
from .namespace_metadata import NamespaceMetadata
from .namespace_spec import NamespaceSpec
from .namespace_status import NamespaceStatus
from .namespaced_pod import NamespacedPod
from .network_policy import NetworkPolicy
from .network_policy_egress_rule import NetworkPolicyEgressRule
from .network_policy_ingress_rule import NetworkPolicyIngressRule
from .network_policy_list import NetworkPolicyList
from .network_policy_metadata import NetworkPolicyMetadata
from .network_policy_peer import NetworkPolicyPeer
from .network_policy_port import NetworkPolicyPort
from .network_policy_spec import NetworkPolicySpec
from .node import Node
from .node_address import NodeAddress
from .node_condition import NodeCondition
from .node_daemon_endpoints import NodeDaemonEndpoints
from .node_lease import NodeLease
from .node_lease_list import NodeLeaseList
from .node_lease_spec import NodeLeaseSpec
from .node_lease_spec_backend_data import NodeLeaseSpecBackendData
from .node_list import NodeList
from .node_metadata import NodeMetadata
from .node_spec import NodeSpec
from .node_status import NodeStatus
from .node_token import NodeToken
from .object_meta import ObjectMeta
from .object_meta_annotations import ObjectMetaAnnotations
from .object_meta_labels import ObjectMetaLabels
from .object_reference import ObjectReference
from .openapi_response_200 import OpenapiResponse200
from .pod import Pod
from .pod_condition import PodCondition
from .pod_list import PodList
from .pod_metadata import PodMetadata
from .pod_phase import PodPhase
from .pod_spec import PodSpec
from .pod_status import PodStatus
from .policy_type import PolicyType
from .port_number import PortNumber
from .port_range import PortRange
from .port_range_spec import PortRangeSpec
from .probe import Probe
from .protocol import Protocol
from .restart_policy import RestartPolicy
from .service import Service
from .service_list import ServiceList
from .service_metadata import ServiceMetadata
from .service_port import ServicePort
from .service_spec import ServiceSpec
from .service_spec_selector import ServiceSpecSelector
from .service_type import ServiceType
from .session_affinity import SessionAffinity
from .session_affinity_config import SessionAffinityConfig
from .status import Status
from .status_cause import StatusCause
from .tcp_socket_action import TcpSocketAction
from .traffic_policy import TrafficPolicy
from .watch_event import WatchEvent
from .watch_event_object import WatchEventObject

__all__ = (
    "AdminNetworkPolicy",
    "AdminNetworkPolicyEgressRule",
    "AdminNetworkPolicyIngressRule",
    "AdminNetworkPolicyList",
    "AdminNetworkPolicyMetadata",
    "AdminNetworkPolicyPeer",
    "AdminNetworkPolicyPort",
    "AdminNetworkPolicyRuleAction",
    "AdminNetworkPolicySpec",
    "AdminNetworkPolicySubject",
    "Backend",
    "BaselineAdminNetworkPolicy",
    "BaselineAdminNetworkPolicyList",
    "BaselineAdminNetworkPolicyMetadata",
    "BaselineAdminNetworkPolicySpec",
    "ClientIpConfig",
    "ClusterConfig",
    "ConditionStatus",
    "Container",
    "ContainerPort",
    "ContainerState",
    "ContainerStateRunning",
    "ContainerStateTerminated",
    "ContainerStateWaiting",
    "ContainerStatus",
    "DaemonEndpoint",
    "EndpointAddress",
    "EndpointPort",
    "Endpoints",
    "EndpointsList",
    "EndpointSubset",
    "EnvVar",
    "Event",
    "EventList",
    "EventMetadata",
    "EventSource",
    "EventType",
    "Heartbeat",
    "HeartbeatBackendData",
    "HttpGetAction",
    "IpBlock",
    "LabelSelector",
    "LabelSelectorMatchLabels",
    "LabelSelectorRequirement",
    "ListMeta",
    "Namespace",
    "NamespacedPod",
    "NamespaceList",
    "NamespaceMetadata",
    "NamespaceSpec",
    "NamespaceStatus",
    "NetworkPolicy",
    "NetworkPolicyEgressRule",
    "NetworkPolicyIngressRule",
    "NetworkPolicyList",
    "NetworkPolicyMetadata",
    "NetworkPolicyPeer",
    "NetworkPolicyPort",
    "NetworkPolicySpec",
    "Node",
    "NodeAddress",
    "NodeCondition",
    "NodeDaemonEndpoints",
    "NodeLease",
    "NodeLeaseList",
    "NodeLeaseSpec",
    "NodeLeaseSpecBackendData",
    "NodeList",
    "NodeMetadata",
    "NodeSpec",
    "NodeStatus",
    "NodeToken",
    "ObjectMeta",
    "ObjectMetaAnnotations",
    "ObjectMetaLabels",
    "ObjectReference",
    "OpenapiResponse200",
    "Pod",
    "PodCondition",
    "PodList",
    "PodMetadata",
    "PodPhase",
    "PodSpec",
    "PodStatus",
    "PolicyType",
    "PortNumber",
    "PortRange",
    "PortRangeSpec",
    "Probe",
    "Protocol",
    "RestartPolicy",
    "Service",
    "ServiceList",
    "ServiceMetadata",
    "ServicePort",
    "ServiceSpec",
    "ServiceSpecSelector",
    "ServiceType",
    "SessionAffinity",
    "SessionAffinityConfig",
    "Status",
    "StatusCause",
    "TcpSocketAction",
    "TrafficPolicy",
    "WatchEvent",
    "WatchEventObject",
)
