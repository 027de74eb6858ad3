#!/usr/bin/env python3
"""The official Kubernetes Python client (`kubernetes` on PyPI), unmodified, against flatnet.

Usage: python_client.py KUBECONFIG FLATNET. Loads the kubeconfig `flatnet up` wrote (https, the
cluster's CA, the admin token) with `config.load_kube_config(path)`; run by
tests/tests/kubectl.rs against a cluster made with `flatnet up` (one Ready node). Every step prints what it checked; the first
failure raises and the script exits non-zero.
"""
import sys
import threading
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

NS = "py"


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what, flush=True)


def main():
    kubeconfig, flatnet = sys.argv[1], sys.argv[2]
    config.load_kube_config(kubeconfig)
    v1 = client.CoreV1Api()

    # Namespaces list through the core API; nodes are there and Ready.
    nodes = v1.list_node()
    check(len(nodes.items) >= 1, "list_node answers the cluster's nodes")
    ready = [c.status for c in nodes.items[0].status.conditions if c.type == "Ready"]
    check(ready == ["True"], "the first node is Ready")

    # Leftovers of an earlier run.
    for delete in (v1.delete_namespaced_pod, v1.delete_namespaced_service):
        try:
            delete("py-web" if delete == v1.delete_namespaced_pod else "py-svc", NS)
        except ApiException as e:
            if e.status != 404:
                raise

    # Pods: create, read, list with a label selector, patch, replace, delete.
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="py-web", labels={"app": "py"}),
        spec=client.V1PodSpec(
            containers=[
                client.V1Container(
                    name="web",
                    image="flatnet",
                    image_pull_policy="IfNotPresent",
                    command=[flatnet, "netexec"],
                    ports=[client.V1ContainerPort(container_port=8080, name="http")],
                )
            ]
        ),
    )
    created = v1.create_namespaced_pod(NS, pod)
    check(created.metadata.name == "py-web" and created.metadata.uid, "create_namespaced_pod")
    check(v1.read_namespaced_pod("py-web", NS).spec.containers[0].name == "web", "read_namespaced_pod")
    listed = v1.list_namespaced_pod(NS, label_selector="app=py")
    check([p.metadata.name for p in listed.items] == ["py-web"], "list_namespaced_pod with a label selector")
    by_name = v1.list_pod_for_all_namespaces(field_selector=f"metadata.name=py-web,metadata.namespace={NS}")
    check(len(by_name.items) == 1, "list with fieldSelector=metadata.name")

    patched = v1.patch_namespaced_pod("py-web", NS, {"metadata": {"labels": {"tier": "front"}}})
    check(patched.metadata.labels.get("tier") == "front", "patch_namespaced_pod (strategic merge)")

    # The watch stream exactly as the client's README shows it.
    w = watch.Watch()
    seen = []
    for event in w.stream(v1.list_namespaced_pod, namespace=NS, label_selector="app=py", timeout_seconds=30):
        seen.append((event["type"], event["object"].metadata.name))
        if event["object"].metadata.name == "py-web":
            w.stop()
    check(seen and seen[0] == ("ADDED", "py-web"), f"watch.Watch().stream saw {seen[:3]}")

    # A single-object watch until the pod runs: its containerStatuses (with the `image` and
    # `imageID` the client requires) deserialize.
    w = watch.Watch()
    for event in w.stream(
        v1.list_namespaced_pod, namespace=NS, field_selector="metadata.name=py-web", timeout_seconds=60
    ):
        st = event["object"].status
        if st.phase == "Running" and st.container_statuses and st.container_statuses[0].ready:
            w.stop()
    running = v1.read_namespaced_pod("py-web", NS)
    statuses = running.status.container_statuses or []
    check(
        running.status.phase == "Running" and [(s.name, s.image, s.ready) for s in statuses] == [("web", "flatnet", True)],
        f"the pod runs on {running.spec.node_name} with containerStatuses {[(s.name, s.image, s.image_id) for s in statuses]}",
    )
    # The container is Ready as soon as it starts (no readiness probe), so its first line may
    # not be written yet: read again for a while, as a user tailing a fresh pod would.
    log, deadline = "", time.monotonic() + 20
    while "flatnet netexec" not in log and time.monotonic() < deadline:
        log = v1.read_namespaced_pod_log("py-web", NS)
        if "flatnet netexec" not in log:
            time.sleep(0.1)
    check("flatnet netexec" in log, f"read_namespaced_pod_log answered {log[:200]!r}")

    # A change seen by a watch that started before it.
    w2 = watch.Watch()
    changes = []

    # From a version taken before the change: the change is in the stream however late the
    # thread starts.
    rv = v1.list_namespaced_pod(NS).metadata.resource_version

    def follow():
        for event in w2.stream(v1.list_namespaced_pod, namespace=NS, resource_version=rv, timeout_seconds=20):
            changes.append(event["type"])
            if event["type"] == "MODIFIED":
                w2.stop()

    t = threading.Thread(target=follow)
    t.start()
    v1.patch_namespaced_pod("py-web", NS, {"metadata": {"labels": {"seen": "yes"}}})
    t.join(25)
    check("MODIFIED" in changes, "a watch sees a later change")

    current = v1.read_namespaced_pod("py-web", NS)
    current.metadata.annotations = {"note": "replaced"}
    replaced = v1.replace_namespaced_pod("py-web", NS, current)
    check(replaced.metadata.annotations == {"note": "replaced"}, "replace_namespaced_pod")

    # Services and their endpoints.
    svc = client.V1Service(
        metadata=client.V1ObjectMeta(name="py-svc"),
        spec=client.V1ServiceSpec(selector={"app": "py"}, ports=[client.V1ServicePort(port=80, target_port="http")]),
    )
    svc = v1.create_namespaced_service(NS, svc)
    check(svc.spec.cluster_ip, "create_namespaced_service gives a cluster IP")
    check(v1.read_namespaced_service("py-svc", NS).spec.cluster_ip == svc.spec.cluster_ip, "read_namespaced_service")
    check([s.metadata.name for s in v1.list_namespaced_service(NS).items] == ["py-svc"], "list_namespaced_service")
    # Endpoints are the server's (read-only through the API): the running pod's address.
    pod_ip = v1.read_namespaced_pod("py-web", NS).status.pod_ip
    addresses = []
    for _ in range(300):  # a bound on a hang (60 s), not on speed
        ep = v1.read_namespaced_endpoints("py-svc", NS)
        addresses = [a.ip for s in ep.subsets or [] for a in s.addresses or []]
        if addresses:
            break
        time.sleep(0.2)
    check(ep.metadata.name == "py-svc" and addresses == [pod_ip], f"read_namespaced_endpoints: {addresses}")
    check(any(e.metadata.name == "py-svc" for e in v1.list_endpoints_for_all_namespaces().items), "list endpoints")
    check(any(e.metadata.name == "py-svc" for e in v1.list_namespaced_endpoints(NS).items), "list_namespaced_endpoints")
    svc_patch = {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}
    check(
        v1.patch_namespaced_service("py-svc", NS, svc_patch).spec.ports[0].target_port == 8080,
        "patch_namespaced_service merges ports by port",
    )

    current_svc = v1.read_namespaced_service("py-svc", NS)
    current_svc.metadata.labels = {"replaced": "yes"}
    check(v1.replace_namespaced_service("py-svc", NS, current_svc).metadata.labels == {"replaced": "yes"}, "replace_namespaced_service")
    merged = v1.patch_namespaced_service(
        "py-svc", NS, {"metadata": {"labels": {"merged": "yes"}}}, _content_type="application/merge-patch+json"
    )
    check(merged.metadata.labels.get("merged") == "yes", "a JSON merge patch")
    json_patched = v1.patch_namespaced_service("py-svc", NS, [{"op": "remove", "path": "/metadata/labels/merged"}])
    check("merged" not in (json_patched.metadata.labels or {}), "patch_namespaced_service with a JSON patch (a list)")

    # Errors are ApiException with the Status body.
    try:
        v1.read_namespaced_pod("nope", NS)
        raise AssertionError("reading a missing pod succeeded")
    except ApiException as e:
        check(e.status == 404 and '"kind":"Status"' in e.body and '"reason":"NotFound"' in e.body, "404 as a Status")
    try:
        bad = client.V1Pod(metadata=client.V1ObjectMeta(name="Bad_Name"), spec=pod.spec)
        v1.create_namespaced_pod(NS, bad)
        raise AssertionError("an invalid pod was created")
    except ApiException as e:
        check(e.status == 422 and '"field":"metadata.name"' in e.body, "422 names the field in details.causes")

    # Dry run changes nothing.
    v1.delete_namespaced_pod("py-web", NS, dry_run="All")
    check(v1.read_namespaced_pod("py-web", NS).metadata.name == "py-web", "delete with dry_run=All keeps the pod")

    v1.delete_namespaced_service("py-svc", NS)
    v1.delete_namespaced_pod("py-web", NS)
    try:
        v1.read_namespaced_pod("py-web", NS)
        raise AssertionError("the deleted pod is still there")
    except ApiException as e:
        check(e.status == 404, "delete_namespaced_pod")
    print("python client: all passed")


if __name__ == "__main__":
    main()
