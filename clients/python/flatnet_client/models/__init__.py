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
from .discovery_api_response_200 import DiscoveryApiResponse200
from .discovery_api_v1_response_200 import DiscoveryApiV1Response200
from .discovery_apis_coordination_k8s_io_response_200 import DiscoveryApisCoordinationK8SIoResponse200
from .discovery_apis_coordination_k8s_io_v1_response_200 import DiscoveryApisCoordinationK8SIoV1Response200
from .discovery_apis_networking_k8s_io_response_200 import DiscoveryApisNetworkingK8SIoResponse200
from .discovery_apis_networking_k8s_io_v1_response_200 import DiscoveryApisNetworkingK8SIoV1Response200
from .discovery_apis_policy_networking_k8s_io_response_200 import DiscoveryApisPolicyNetworkingK8SIoResponse200
from .discovery_apis_policy_networking_k8s_io_v1_alpha_1_response_200 import (
    DiscoveryApisPolicyNetworkingK8SIoV1Alpha1Response200,
)
from .discovery_apis_response_200 import DiscoveryApisResponse200
from .discovery_version_response_200 import DiscoveryVersionResponse200
from .dns_policy import DnsPolicy
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
from .lease import Lease
from .lease_list import LeaseList
from .lease_metadata import LeaseMetadata
from .lease_spec import LeaseSpec
from .list_meta import ListMeta
from .managed_fields_entry import ManagedFieldsEntry
from .managed_fields_entry_fields_v1 import ManagedFieldsEntryFieldsV1
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
from .openapi_v3_api_v1_response_200 import OpenapiV3ApiV1Response200
from .openapi_v3_apis_coordination_k8s_io_v1_response_200 import OpenapiV3ApisCoordinationK8SIoV1Response200
from .openapi_v3_apis_networking_k8s_io_v1_response_200 import OpenapiV3ApisNetworkingK8SIoV1Response200
from .openapi_v3_apis_policy_networking_k8s_io_v1_alpha_1_response_200 import (
    OpenapiV3ApisPolicyNetworkingK8SIoV1Alpha1Response200,
)
from .openapi_v3_index_response_200 import OpenapiV3IndexResponse200
from .patch_admin_network_policy_body import PatchAdminNetworkPolicyBody
from .patch_baseline_admin_network_policy_body import PatchBaselineAdminNetworkPolicyBody
from .patch_lease_body import PatchLeaseBody
from .patch_namespace_body import PatchNamespaceBody
from .patch_network_policy_body import PatchNetworkPolicyBody
from .patch_node_body import PatchNodeBody
from .patch_pod_body import PatchPodBody
from .patch_service_body import PatchServiceBody
from .pod import Pod
from .pod_condition import PodCondition
from .pod_dns_config import PodDnsConfig
from .pod_dns_config_option import PodDnsConfigOption
from .pod_list import PodList
from .pod_metadata import PodMetadata
from .pod_phase import PodPhase
from .pod_spec import PodSpec
from .pod_spec_node_selector import PodSpecNodeSelector
from .pod_status import PodStatus
from .policy_counter import PolicyCounter
from .policy_counters import PolicyCounters
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
from .status_details import StatusDetails
from .status_metadata import StatusMetadata
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
    "DiscoveryApiResponse200",
    "DiscoveryApisCoordinationK8SIoResponse200",
    "DiscoveryApisCoordinationK8SIoV1Response200",
    "DiscoveryApisNetworkingK8SIoResponse200",
    "DiscoveryApisNetworkingK8SIoV1Response200",
    "DiscoveryApisPolicyNetworkingK8SIoResponse200",
    "DiscoveryApisPolicyNetworkingK8SIoV1Alpha1Response200",
    "DiscoveryApisResponse200",
    "DiscoveryApiV1Response200",
    "DiscoveryVersionResponse200",
    "DnsPolicy",
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
    "Lease",
    "LeaseList",
    "LeaseMetadata",
    "LeaseSpec",
    "ListMeta",
    "ManagedFieldsEntry",
    "ManagedFieldsEntryFieldsV1",
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
    "OpenapiV3ApisCoordinationK8SIoV1Response200",
    "OpenapiV3ApisNetworkingK8SIoV1Response200",
    "OpenapiV3ApisPolicyNetworkingK8SIoV1Alpha1Response200",
    "OpenapiV3ApiV1Response200",
    "OpenapiV3IndexResponse200",
    "PatchAdminNetworkPolicyBody",
    "PatchBaselineAdminNetworkPolicyBody",
    "PatchLeaseBody",
    "PatchNamespaceBody",
    "PatchNetworkPolicyBody",
    "PatchNodeBody",
    "PatchPodBody",
    "PatchServiceBody",
    "Pod",
    "PodCondition",
    "PodDnsConfig",
    "PodDnsConfigOption",
    "PodList",
    "PodMetadata",
    "PodPhase",
    "PodSpec",
    "PodSpecNodeSelector",
    "PodStatus",
    "PolicyCounter",
    "PolicyCounters",
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
    "StatusDetails",
    "StatusMetadata",
    "TcpSocketAction",
    "TrafficPolicy",
    "WatchEvent",
    "WatchEventObject",
)
