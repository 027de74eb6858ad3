// The kinds the dashboard knows: where they live in the API, their table columns (a cell,
// and a sort key where the cell's text does not sort), their health and their summary. A new kind (network policies, DNS records) is one more entry
// here; the tables, the detail view, the watch and the filters follow from it.

import { request } from "./api.js";
import { h, pill, labelChips, age } from "./dom.js";
import { get, items } from "./store.js";
import { formatSelector } from "./selector.js";
import { podsOf, deniedOf, allowedOf, isolatedDirections } from "./policies.js";

function kind(def) {
  const base = def.group ? `/apis/${def.group}` : "/api/v1";
  return {
    namespaced: true,
    always: false,
    creatable: false,
    ...def,
    listPath: `${base}/${def.plural}`,
    itemPath(namespace, name) {
      const ns = this.namespaced ? `/namespaces/${encodeURIComponent(namespace)}` : "";
      return `${base}${ns}/${def.plural}/${encodeURIComponent(name)}`;
    },
    collectionPath(namespace) {
      return `${base}/namespaces/${encodeURIComponent(namespace)}/${def.plural}`;
    },
  };
}

/** The cluster domain (`clusterDomain` of /api/v1/clusterconfig), for services' DNS names. */
let clusterDomain = "cluster.local";
// Read with the tab's token like every request (reads need one); without one yet, again
// once the user gives one.
function loadClusterDomain() {
  request("GET", "/api/v1/clusterconfig")
    .then((c) => {
      if (c?.clusterDomain) clusterDomain = c.clusterDomain;
    })
    .catch(() => window.addEventListener("flatnet:token", loadClusterDomain, { once: true }));
}
loadClusterDomain();
/** The name a service answers to in the cluster DNS. */
export const dnsName = (svc) => `${svc.metadata.name}.${svc.metadata.namespace}.svc.${clusterDomain}`;

const condition = (obj, type) => (obj.status?.conditions || []).find((c) => c.type === type);
const nameLink = (k, obj) => h("a", { href: hrefOf(k, obj), class: "name" }, obj.metadata.name);

/** The detail route of an object. */
export function hrefOf(k, obj) {
  return `#/${k.id}/${encodeURIComponent(obj.metadata.namespace || "_")}/${encodeURIComponent(obj.metadata.name)}`;
}

export function nodeHealth(node) {
  const ready = condition(node, "Ready");
  if (!ready) return { level: "warn", text: "Unknown" };
  if (ready.status === "True") return node.spec?.unschedulable ? { level: "warn", text: "Ready, cordoned" } : { level: "ok", text: "Ready" };
  if (ready.status === "False") return { level: "bad", text: "NotReady", detail: ready.reason || ready.message };
  return { level: "warn", text: "Unknown", detail: ready.reason };
}

export function podHealth(pod) {
  const phase = pod.status?.phase || "Pending";
  const statuses = pod.status?.containerStatuses || [];
  const waiting = statuses.map((c) => c.state?.waiting?.reason).find(Boolean);
  const restarts = statuses.reduce((n, c) => n + (c.restartCount || 0), 0);
  const ready = condition(pod, "Ready")?.status === "True";
  if (phase === "Failed") return { level: "bad", text: pod.status?.reason || "Failed", detail: pod.status?.message };
  if (phase === "Succeeded") return { level: "idle", text: "Completed" };
  if (waiting && /BackOff|Err|Crash/i.test(waiting)) return { level: "bad", text: waiting, detail: `${restarts} restarts` };
  if (phase === "Running" && ready) return { level: "ok", text: "Running", detail: restarts ? `${restarts} restarts` : undefined };
  if (phase === "Running") return { level: "warn", text: "NotReady", detail: waiting };
  return { level: "warn", text: waiting || phase };
}

function endpointCounts(namespace, name) {
  const ep = get(KINDS.endpoints, namespace, name);
  let ready = 0;
  let notReady = 0;
  for (const subset of ep?.subsets || []) {
    ready += (subset.addresses || []).length;
    notReady += (subset.notReadyAddresses || []).length;
  }
  return { ready, notReady };
}

/** Health from the ready and not-ready addresses of the Endpoints `namespace/name`. */
function addressHealth(namespace, name, noneText) {
  const { ready, notReady } = endpointCounts(namespace, name);
  const detail = notReady ? `${notReady} not ready` : undefined;
  return ready ? { level: "ok", text: `${ready} ready`, detail } : { level: "bad", text: noneText, detail };
}

export function serviceHealth(svc) {
  if (!Object.keys(svc.spec?.selector || {}).length) return { level: "idle", text: "no selector" };
  return addressHealth(svc.metadata.namespace, svc.metadata.name, "no endpoints");
}

const endpointsHealth = (ep) => addressHealth(ep.metadata.namespace, ep.metadata.name, "none ready");

/** The namespace of the nodes' heartbeat Leases (coordination.k8s.io/v1). */
export const NODE_LEASE_NAMESPACE = "kube-node-lease";

/** A Lease's state: live until renewTime + leaseDurationSeconds. */
function renewalHealth(lease) {
  if (!lease?.spec?.renewTime) return { level: "warn", text: "not renewed" };
  const until = Date.parse(lease.spec.renewTime) + (lease.spec.leaseDurationSeconds || 0) * 1000;
  return until > Date.now() ? { level: "ok", text: "live" } : { level: "warn", text: "expired" };
}

/** A node's heartbeat Lease (`kube-node-lease/NODE`), which says when it last renewed. */
export const renewalOf = (nodeName) => get(KINDS.leases, NODE_LEASE_NAMESPACE, nodeName);

/** A node's CIDR lease is live while the node renews its Lease. */
const leaseHealth = (lease) => renewalHealth(renewalOf(lease.spec.nodeName));

export const healthPill = (hl) => pill(hl.level, hl.text, hl.detail);

/** A column of ages ("3m") that sorts by the time itself, the newest first. */
const ageColumn = (title, time) => ({ title, cell: (o) => age(time(o)), sort: (o) => (time(o) ? -Date.parse(time(o)) : 0) });

const ports = (list, fmt) => (list || []).map(fmt).join(", ") || "—";
const servicePort = (p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ""}/${p.protocol || "TCP"}${p.targetPort !== undefined ? `→${p.targetPort}` : ""}`;
const address = (node, type) => (node.status?.addresses || []).find((a) => a.type === type)?.address;
const total = (pod) => (pod.spec?.containers || []).length;

export const KINDS = {
  nodes: kind({
    id: "nodes", kind: "Node", title: "Nodes", plural: "nodes", namespaced: false, always: true,
    health: nodeHealth,
    columns: [
      { title: "Name", cell: (o) => nameLink(KINDS.nodes, o) },
      { title: "Status", cell: (o) => healthPill(nodeHealth(o)) },
      { title: "Internal IP", cell: (o) => address(o, "InternalIP") || "—", mono: true },
      { title: "Pod CIDR", cell: (o) => o.spec?.podCIDR || "—", mono: true },
      { title: "Pods", cell: (o) => items(KINDS.pods).filter((p) => p.spec?.nodeName === o.metadata.name).length },
      { title: "Labels", cell: (o) => labelChips(o.metadata.labels) },
      ageColumn("Age", (o) => o.metadata.creationTimestamp),
    ],
    summary: (o) => [
      ["Internal IP", address(o, "InternalIP")],
      ["Pod CIDR", o.spec?.podCIDR],
      ["Last heartbeat", condition(o, "Ready")?.lastHeartbeatTime],
    ],
  }),
  nodeleases: kind({
    id: "nodeleases", kind: "NodeLease", title: "CIDR leases", plural: "nodeleases", namespaced: false,
    health: leaseHealth,
    columns: [
      { title: "Name", cell: (o) => nameLink(KINDS.nodeleases, o) },
      { title: "State", cell: (o) => healthPill(leaseHealth(o)) },
      { title: "Node", cell: (o) => o.spec.nodeName },
      { title: "Pod CIDR", cell: (o) => o.spec.podCIDR, mono: true },
      { title: "Gateway", cell: (o) => o.spec.gateway, mono: true },
      { title: "Node IP", cell: (o) => o.spec.nodeIP || "—", mono: true },
      ageColumn("Renewed", (o) => renewalOf(o.spec.nodeName)?.spec?.renewTime),
    ],
    summary: (o) => [
      ["Backend data", Object.entries(o.spec.backendData || {}).map(([k, v]) => `${k}=${v}`).join(", ")],
      ["Acquired", o.spec.acquireTime],
      ["Renewed", renewalOf(o.spec.nodeName)?.spec?.renewTime],
    ],
  }),
  leases: kind({
    id: "leases", kind: "Lease", title: "Leases", plural: "leases", group: "coordination.k8s.io/v1",
    health: renewalHealth,
    columns: [
      { title: "Name", cell: (o) => nameLink(KINDS.leases, o) },
      { title: "Namespace", cell: (o) => o.metadata.namespace },
      { title: "Holder", cell: (o) => o.spec?.holderIdentity || "—" },
      { title: "State", cell: (o) => healthPill(renewalHealth(o)) },
      ageColumn("Renewed", (o) => o.spec?.renewTime),
      { title: "Duration", cell: (o) => (o.spec?.leaseDurationSeconds ? `${o.spec.leaseDurationSeconds} s` : "—") },
    ],
    summary: (o) => [
      ["Holder", o.spec?.holderIdentity],
      ["Acquired", o.spec?.acquireTime],
      ["Renewed", o.spec?.renewTime],
      ["Lease duration", o.spec?.leaseDurationSeconds && `${o.spec.leaseDurationSeconds} s`],
      ["Transitions", o.spec?.leaseTransitions !== undefined ? String(o.spec.leaseTransitions) : undefined],
    ],
  }),
  pods: kind({
    id: "pods", kind: "Pod", title: "Pods", plural: "pods", always: true, creatable: true,
    health: podHealth,
    columns: [
      { title: "Name", cell: (o) => nameLink(KINDS.pods, o) },
      { title: "Namespace", cell: (o) => o.metadata.namespace },
      { title: "Status", cell: (o) => healthPill(podHealth(o)) },
      { title: "Ready", cell: (o) => `${(o.status?.containerStatuses || []).filter((c) => c.ready).length}/${total(o)}` },
      { title: "Restarts", cell: (o) => (o.status?.containerStatuses || []).reduce((n, c) => n + (c.restartCount || 0), 0) },
      { title: "Pod IP", cell: (o) => o.status?.podIP || "—", mono: true },
      { title: "Node", cell: (o) => (o.spec?.nodeName ? h("a", { href: `#/nodes/_/${encodeURIComponent(o.spec.nodeName)}` }, o.spec.nodeName) : "—") },
      { title: "Labels", cell: (o) => labelChips(o.metadata.labels) },
      ageColumn("Age", (o) => o.metadata.creationTimestamp),
    ],
    summary: (o) => [
      ["Phase", o.status?.phase],
      ["Pod IP", o.status?.podIP],
      ["Host IP", o.status?.hostIP],
      ["Node", o.spec?.nodeName],
      ["Restart policy", o.spec?.restartPolicy],
      ["Started", o.status?.startTime],
    ],
  }),
  services: kind({
    id: "services", kind: "Service", title: "Services", plural: "services", always: true, creatable: true,
    health: serviceHealth,
    columns: [
      { title: "Name", cell: (o) => nameLink(KINDS.services, o) },
      { title: "Namespace", cell: (o) => o.metadata.namespace },
      { title: "Type", cell: (o) => o.spec?.type || "ClusterIP" },
      { title: "Cluster IP", cell: (o) => o.spec?.clusterIP || "—", mono: true },
      { title: "DNS name", cell: (o) => dnsName(o), mono: true },
      { title: "Ports", cell: (o) => ports(o.spec?.ports, servicePort), mono: true },
      { title: "Selector", cell: (o) => formatSelector(o.spec?.selector) || "—", mono: true },
      { title: "Endpoints", cell: (o) => healthPill(serviceHealth(o)) },
      ageColumn("Age", (o) => o.metadata.creationTimestamp),
    ],
    summary: (o) => [
      ["Type", o.spec?.type || "ClusterIP"],
      ["Cluster IP", o.spec?.clusterIP],
      ["DNS name", dnsName(o)],
      ["External name", o.spec?.externalName],
      ["Ports", ports(o.spec?.ports, servicePort)],
      ["Selector", formatSelector(o.spec?.selector)],
      ["Session affinity", o.spec?.sessionAffinity],
    ],
  }),
  endpoints: kind({
    id: "endpoints", kind: "Endpoints", title: "Endpoints", plural: "endpoints", always: true,
    health: endpointsHealth,
    columns: [
      { title: "Name", cell: (o) => nameLink(KINDS.endpoints, o) },
      { title: "Namespace", cell: (o) => o.metadata.namespace },
      { title: "Ready addresses", cell: (o) => endpointList(o, "addresses"), mono: true },
      { title: "Not ready", cell: (o) => endpointList(o, "notReadyAddresses"), mono: true },
      ageColumn("Age", (o) => o.metadata.creationTimestamp),
    ],
    summary: () => [],
  }),
  events: kind({
    id: "events", kind: "Event", title: "Events", plural: "events",
    health: (o) => (o.type === "Warning" ? { level: "warn", text: "Warning" } : { level: "idle", text: o.type || "Normal" }),
    columns: [
      ageColumn("Last seen", (o) => o.lastTimestamp || o.metadata.creationTimestamp),
      { title: "Type", cell: (o) => healthPill(KINDS.events.health(o)) },
      { title: "Reason", cell: (o) => o.reason },
      { title: "Object", cell: (o) => involvedLink(o) },
      { title: "Message", cell: (o) => o.message },
    ],
    summary: (o) => [["Source", [o.source?.component, o.source?.host].filter(Boolean).join(" on ")]],
  }),
};

// Network policies (issue 11): what a selector selects, written as kubectl does.
const policySelector = (sel) => {
  const parts = [formatSelector(sel?.matchLabels)].filter(Boolean);
  for (const e of sel?.matchExpressions || []) parts.push(`${e.key} ${e.operator}${e.values?.length ? ` (${e.values.join(",")})` : ""}`);
  return parts.join(", ") || "(all)";
};
const policyTypes = (o) => (o.spec?.policyTypes || ["Ingress", ...(o.spec?.egress?.length ? ["Egress"] : [])]).join(", ");
const adminSubject = (s) => (s?.namespaces ? `namespaces ${policySelector(s.namespaces)}`
  : s?.pods ? `pods ${policySelector(s.pods.podSelector)} in namespaces ${policySelector(s.pods.namespaceSelector)}` : "—");
const ruleActions = (o) => [...(o.spec?.ingress || []), ...(o.spec?.egress || [])].map((r) => r.action).join(", ") || "—";

Object.assign(KINDS, {
  namespaces: kind({
    id: "namespaces", kind: "Namespace", title: "Namespaces", plural: "namespaces", namespaced: false,
    health: (o) => ({ level: "ok", text: o.status?.phase || "Active" }),
    columns: [
      { title: "Name", cell: (o) => nameLink(KINDS.namespaces, o) },
      { title: "Status", cell: (o) => healthPill(KINDS.namespaces.health(o)) },
      { title: "Pods", cell: (o) => items(KINDS.pods).filter((p) => p.metadata.namespace === o.metadata.name).length },
      { title: "Labels", cell: (o) => labelChips(o.metadata.labels) },
      ageColumn("Age", (o) => o.metadata.creationTimestamp),
    ],
    summary: () => [],
  }),
  networkpolicies: kind({
    id: "networkpolicies", kind: "NetworkPolicy", title: "Network policies", plural: "networkpolicies",
    group: "networking.k8s.io/v1",
    health: () => ({ level: "ok", text: "enforced" }),
    columns: [
      { title: "Name", cell: (o) => nameLink(KINDS.networkpolicies, o) },
      { title: "Namespace", cell: (o) => o.metadata.namespace },
      { title: "Pod selector", cell: (o) => policySelector(o.spec?.podSelector), mono: true },
      { title: "Types", cell: policyTypes },
      { title: "Rules", cell: (o) => `${(o.spec?.ingress || []).length} in, ${(o.spec?.egress || []).length} out` },
      { title: "Isolated pods", cell: (o) => podsOf("NetworkPolicy", o).length, sort: (o) => podsOf("NetworkPolicy", o).length },
      { title: "Denied", cell: (o) => deniedOf("NetworkPolicy", o), sort: (o) => deniedOf("NetworkPolicy", o) },
      ageColumn("Age", (o) => o.metadata.creationTimestamp),
    ],
    summary: (o) => [
      ["Pod selector", policySelector(o.spec?.podSelector)],
      ["Isolates", isolatedDirections(o).join(", ")],
      ["Isolated pods", podsOf("NetworkPolicy", o).map((p) => p.metadata.name).join(", ") || "none"],
      ["Denied packets", String(deniedOf("NetworkPolicy", o))],
      ["Allowed connections", String(allowedOf("NetworkPolicy", o))],
    ],
  }),
  adminnetworkpolicies: kind({
    id: "adminnetworkpolicies", kind: "AdminNetworkPolicy", title: "Admin network policies", plural: "adminnetworkpolicies",
    group: "policy.networking.k8s.io/v1alpha1", namespaced: false,
    health: () => ({ level: "ok", text: "enforced" }),
    columns: [
      { title: "Name", cell: (o) => nameLink(KINDS.adminnetworkpolicies, o) },
      { title: "Priority", cell: (o) => o.spec?.priority, sort: (o) => o.spec?.priority ?? 0 },
      { title: "Subject", cell: (o) => adminSubject(o.spec?.subject), mono: true },
      { title: "Actions", cell: ruleActions },
      { title: "Subject pods", cell: (o) => podsOf("AdminNetworkPolicy", o).length, sort: (o) => podsOf("AdminNetworkPolicy", o).length },
      { title: "Denied", cell: (o) => deniedOf("AdminNetworkPolicy", o), sort: (o) => deniedOf("AdminNetworkPolicy", o) },
      ageColumn("Age", (o) => o.metadata.creationTimestamp),
    ],
    summary: (o) => [
      ["Priority", o.spec?.priority],
      ["Subject", adminSubject(o.spec?.subject)],
      ["Subject pods", podsOf("AdminNetworkPolicy", o).map((p) => `${p.metadata.namespace}/${p.metadata.name}`).join(", ") || "none"],
      ["Denied packets", String(deniedOf("AdminNetworkPolicy", o))],
      ["Allowed connections", String(allowedOf("AdminNetworkPolicy", o))],
    ],
  }),
});

function endpointList(ep, field) {
  const out = [];
  for (const subset of ep.subsets || []) {
    const portText = (subset.ports || []).map((p) => p.port).join(",");
    for (const a of subset[field] || []) out.push(`${a.ip}:${portText}${a.targetRef ? ` (${a.targetRef.name})` : ""}`);
  }
  return out.length ? h("span", { class: "stack" }, out.map((t) => h("span", {}, t))) : "—";
}

function involvedLink(ev) {
  const ref = ev.involvedObject || {};
  const k = Object.values(KINDS).find((k) => k.kind === ref.kind);
  const text = `${ref.kind || "?"}/${ref.name || "?"}`;
  return k ? h("a", { href: `#/${k.id}/${encodeURIComponent(ref.namespace || "_")}/${encodeURIComponent(ref.name)}` }, text) : text;
}

/** The events about an object, newest first. */
export function eventsOf(k, obj) {
  return items(KINDS.events)
    .filter((e) => e.involvedObject?.kind === k.kind && e.involvedObject?.name === obj.metadata.name
      && (e.involvedObject?.namespace || "") === (k.namespaced ? obj.metadata.namespace : e.involvedObject?.namespace || ""))
    .sort((a, b) => (b.lastTimestamp || "").localeCompare(a.lastTimestamp || ""));
}
