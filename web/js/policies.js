// Network policies for the overview: which pods each policy isolates, and its counters.
// The policies, namespaces and counters are polled (every POLL_MS, short requests) rather
// than watched, so the topology does not take two more of the browser's six connections
// per server (the always-watched kinds hold four). The counters are
// `GET /api/v1/policycounters`: each node's last report, summed per policy rule.

import { request } from "./api.js";
import { items } from "./store.js";
import { KINDS } from "./kinds.js";

const POLL_MS = 3000;

export const policyState = { counters: [], networkpolicies: [], adminnetworkpolicies: [], namespaces: [], loaded: false };

const PATHS = {
  counters: "/api/v1/policycounters",
  networkpolicies: "/apis/networking.k8s.io/v1/networkpolicies",
  adminnetworkpolicies: "/apis/policy.networking.k8s.io/v1alpha1/adminnetworkpolicies",
  namespaces: "/api/v1/namespaces",
};

async function poll() {
  try {
    const [counters, np, anp, ns] = await Promise.all(Object.values(PATHS).map((p) => request("GET", p)));
    const next = { counters: counters.items || [], networkpolicies: np.items || [], adminnetworkpolicies: anp.items || [], namespaces: ns.items || [] };
    const facts = (o) => JSON.stringify([o.counters, o.networkpolicies, o.adminnetworkpolicies, o.namespaces]);
    const changed = !policyState.loaded || facts(policyState) !== facts(next);
    Object.assign(policyState, next, { loaded: true });
    if (changed) window.dispatchEvent(new Event("flatnet:render"));
  } catch {
    // No token yet, or the server is away: the next poll tries again.
  }
}
poll();
setInterval(poll, POLL_MS);

/** Whether a Kubernetes LabelSelector (`matchLabels`, `matchExpressions`) selects `labels`. */
export function selects(sel, labels = {}) {
  if (!sel) return false;
  const has = (k) => Object.prototype.hasOwnProperty.call(labels, k);
  for (const [k, v] of Object.entries(sel.matchLabels || {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions || []) {
    const ok = e.operator === "In" ? has(e.key) && (e.values || []).includes(labels[e.key])
      : e.operator === "NotIn" ? !has(e.key) || !(e.values || []).includes(labels[e.key])
        : e.operator === "Exists" ? has(e.key) : !has(e.key);
    if (!ok) return false;
  }
  return true;
}

const nsLabels = (name) => policyState.namespaces.find((n) => n.metadata.name === name)?.metadata.labels
  || { "kubernetes.io/metadata.name": name };

/** The directions a NetworkPolicy isolates: its policyTypes, else Ingress (and Egress with egress rules). */
export const isolatedDirections = (np) => np.spec?.policyTypes || ["Ingress", ...(np.spec?.egress?.length ? ["Egress"] : [])];

/** Whether an admin policy's subject selects `pod`. */
function subjectSelects(subject, pod) {
  const labels = nsLabels(pod.metadata.namespace);
  if (subject?.namespaces) return selects(subject.namespaces, labels);
  if (subject?.pods) return selects(subject.pods.namespaceSelector, labels) && selects(subject.pods.podSelector, pod.metadata.labels);
  return false;
}

/** The pods (of the pod informer) a policy isolates (a NetworkPolicy) or is about (an admin policy's subject). */
export function podsOf(kind, policy) {
  return items(KINDS.pods).filter((pod) => (kind === "NetworkPolicy"
    ? pod.metadata.namespace === policy.metadata.namespace && selects(policy.spec?.podSelector, pod.metadata.labels)
    : subjectSelects(policy.spec?.subject, pod)));
}

/** The policies that isolate `pod`: [{kind, policy}]. */
export function policiesOf(pod) {
  return [
    ...policyState.adminnetworkpolicies.filter((p) => subjectSelects(p.spec?.subject, pod)).map((policy) => ({ kind: "AdminNetworkPolicy", policy })),
    ...policyState.networkpolicies
      .filter((p) => p.metadata.namespace === pod.metadata.namespace && selects(p.spec?.podSelector, pod.metadata.labels))
      .map((policy) => ({ kind: "NetworkPolicy", policy })),
  ];
}

/** Packets a policy denied on every node (its Deny rules and, for a NetworkPolicy, its isolation). */
export function deniedOf(kind, policy) {
  return policyState.counters
    .filter((c) => c.kind === kind && c.name === policy.metadata.name && (c.namespace || "") === (policy.metadata.namespace || "") && c.action === "Deny")
    .reduce((n, c) => n + c.packets, 0);
}

/** Connections a policy allowed on every node (its Allow rules). */
export function allowedOf(kind, policy) {
  return policyState.counters
    .filter((c) => c.kind === kind && c.name === policy.metadata.name && (c.namespace || "") === (policy.metadata.namespace || "") && c.action === "Allow")
    .reduce((n, c) => n + c.packets, 0);
}
