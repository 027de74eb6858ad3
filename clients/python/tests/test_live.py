"""The Python client against a live API server: FLATNET_URL, FLATNET_TOKEN and FLATNET_CA
(the cluster's CA, DATA_DIR/ca.crt) say which (tests/tests/clients.rs starts one).
Run: python3 -m unittest discover -s clients/python/tests"""

import os
import ssl
import unittest
import uuid

from flatnet_client import AuthenticatedClient, Client
from flatnet_client.api.pods import create_pod, list_pod
from flatnet_client.api.services import create_service, list_endpoints
from flatnet_client.models import (
    Container,
    ContainerPort,
    Pod,
    PodMetadata,
    PodSpec,
    Service,
    ServiceMetadata,
    ServicePort,
    ServiceSpec,
    ServiceSpecSelector,
    Status,
)
from flatnet_client.watch import watch

URL = os.environ.get("FLATNET_URL", "https://127.0.0.1:8080")
TOKEN = os.environ.get("FLATNET_TOKEN", "")
CA = os.environ.get("FLATNET_CA", "flatnet-data/ca.crt")
NS = "default"


def tls() -> ssl.SSLContext:
    """A context that trusts the cluster's CA (and checks the server's name, as by default)."""
    return ssl.create_default_context(cafile=CA)


def pod(name: str, port: int = 8080) -> Pod:
    return Pod(
        metadata=PodMetadata(name=name),
        spec=PodSpec(containers=[Container(name="web", command=["sleep", "60"], ports=[ContainerPort(container_port=port)])]),
    )


class LiveServer(unittest.TestCase):
    def setUp(self):
        self.client = AuthenticatedClient(base_url=URL, token=TOKEN, verify_ssl=tls())
        self.suffix = uuid.uuid4().hex[:6]

    def test_create_pod_and_service_list_endpoints_and_watch(self):
        before = list_pod.sync(NS, client=self.client)
        self.assertEqual(before.kind, "PodList")
        name = f"py-web-{self.suffix}"
        created = create_pod.sync(NS, client=self.client, body=pod(name))
        self.assertIsInstance(created, Pod, created)
        self.assertEqual(created.metadata.name, name)

        selector = ServiceSpecSelector.from_dict({"app": name})
        svc = Service(
            metadata=ServiceMetadata(name=f"py-svc-{self.suffix}"),
            spec=ServiceSpec(selector=selector, ports=[ServicePort(port=80, target_port=8080)]),
        )
        made = create_service.sync(NS, client=self.client, body=svc)
        self.assertIsInstance(made, Service, made)
        self.assertTrue(made.spec.cluster_ip)

        endpoints = list_endpoints.sync(NS, client=self.client)
        self.assertEqual(endpoints.kind, "EndpointsList")
        self.assertIn(made.metadata.name, [e.metadata.name for e in endpoints.items])

        # Watch from the revision before the pod was made: its ADDED event, typed.
        seen = []
        for ev in watch(self.client, Pod, NS, resource_version=before.metadata.resource_version, timeout_seconds=2):
            seen.append(ev)
            if ev.type == "ADDED" and ev.object.metadata.name == name:
                break
        added = [ev for ev in seen if ev.type == "ADDED"]
        self.assertTrue(added, seen)
        self.assertIsInstance(added[-1].object, Pod)
        self.assertEqual(added[-1].object.spec.containers[0].name, "web")

    def test_validation_error_names_the_field(self):
        response = create_pod.sync_detailed(NS, client=self.client, body=pod(f"py-bad-{self.suffix}", port=70000))
        self.assertEqual(response.status_code, 422)
        self.assertIsInstance(response.parsed, Status)
        self.assertEqual(response.parsed.reason, "Invalid")
        self.assertEqual(response.parsed.field, "spec.containers[0].ports[0].containerPort")

    def test_auth_error(self):
        anonymous = Client(base_url=URL, verify_ssl=tls())
        response = create_pod.sync_detailed(NS, client=anonymous, body=pod(f"py-anon-{self.suffix}"))
        self.assertEqual(response.status_code, 401)
        self.assertIsInstance(response.parsed, Status)
        # Reads need a token too.
        response = list_pod.sync_detailed(NS, client=anonymous)
        self.assertEqual(response.status_code, 401)
        self.assertIsInstance(response.parsed, Status)
        wrong = AuthenticatedClient(base_url=URL, token="not-a-token", verify_ssl=tls())
        response = create_pod.sync_detailed(NS, client=wrong, body=pod(f"py-wrong-{self.suffix}"))
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response.parsed.reason, "Unauthorized")


if __name__ == "__main__":
    unittest.main()
