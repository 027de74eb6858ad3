// The detail view of one object: its facts, its JSON, its events and (pods) its logs, with
// delete for the kinds users write. It follows the object live; the logs load on demand.

import { h, labelChips, age } from "../dom.js";
import { request, token } from "../api.js";
import { KINDS, hrefOf, healthPill, eventsOf, renewalOf } from "../kinds.js";
import { get, items } from "../store.js";
import { confirmDelete } from "./forms.js";
import { toYaml } from "../yaml.js";

// What survives re-renders of the same object: the chosen tab and the logs tab's state.
let current = { key: null, tab: "overview", logs: null };

function table(caption, head, rows) {
  if (!rows.length) return h("p", { class: "muted" }, `No ${caption.toLowerCase()}.`);
  return h("div", { class: "table-wrap" }, h("table", {},
    h("caption", { class: "sr-only" }, caption),
    h("thead", {}, h("tr", {}, head.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c)))))));
}

function containerState(st) {
  if (!st) return "—";
  if (st.running) return `running since ${age(st.running.startedAt)}`;
  if (st.waiting) return `waiting: ${st.waiting.reason || ""}`;
  if (st.terminated) return `exited ${st.terminated.exitCode}${st.terminated.reason ? ` (${st.terminated.reason})` : ""}`;
  return "—";
}

/** Kind-specific sections of the overview tab. */
function related(kind, obj) {
  if (kind.id === "pods") {
    const statuses = new Map((obj.status?.containerStatuses || []).map((c) => [c.name, c]));
    return [h("h3", {}, "Containers"), table("Containers", ["Name", "Command", "Ports", "State", "Ready", "Restarts"],
      (obj.spec?.containers || []).map((c) => {
        const st = statuses.get(c.name);
        return [c.name, h("code", {}, [...(c.command || []), ...(c.args || [])].join(" ")),
          (c.ports || []).map((p) => `${p.containerPort}/${p.protocol || "TCP"}${p.name ? ` (${p.name})` : ""}`).join(", ") || "—",
          containerState(st?.state), st?.ready ? "yes" : "no", st?.restartCount ?? 0];
      }))];
  }
  if (kind.id === "services" || kind.id === "endpoints") {
    const ep = get(KINDS.endpoints, obj.metadata.namespace, obj.metadata.name);
    const rows = [];
    for (const subset of ep?.subsets || []) {
      const ports = (subset.ports || []).map((p) => `${p.port}/${p.protocol || "TCP"}`).join(", ");
      for (const [field, ready] of [["addresses", "ready"], ["notReadyAddresses", "not ready"]]) {
        for (const a of subset[field] || []) {
          const pod = a.targetRef ? h("a", { href: `#/pods/${encodeURIComponent(a.targetRef.namespace || obj.metadata.namespace)}/${encodeURIComponent(a.targetRef.name)}` }, a.targetRef.name) : "—";
          rows.push([h("code", {}, a.ip), ports, pod, a.nodeName || "—", ready]);
        }
      }
    }
    return [h("h3", {}, "Endpoints"), h("div", { id: "endpoints-of", "data-count": rows.length },
      table("Endpoints", ["Address", "Ports", "Pod", "Node", "State"], rows))];
  }
  if (kind.id === "nodes") {
    const pods = items(KINDS.pods).filter((p) => p.spec?.nodeName === obj.metadata.name);
    const lease = get(KINDS.nodeleases, "", obj.metadata.name);
    // When the node last renewed is its heartbeat Lease's, not its CIDR lease's.
    const renewed = renewalOf(obj.metadata.name)?.spec?.renewTime;
    const leaseFacts = lease
      ? h("dl", { class: "facts" }, [["Pod CIDR", lease.spec.podCIDR], ["Gateway", lease.spec.gateway], ["Node IP", lease.spec.nodeIP],
        ...Object.entries(lease.spec.backendData || {}), ["Renewed", renewed ? `${age(renewed)} ago` : "never"], ["State", KINDS.nodeleases.health(lease).text]]
        .filter(([, v]) => v).map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]))
      : h("p", { class: "muted" }, "No lease.");
    return [h("h3", {}, h("a", { href: `#/nodeleases/_/${encodeURIComponent(obj.metadata.name)}` }, "Lease")), leaseFacts,
      h("h3", {}, "Pods on this node"), table("Pods", ["Pod", "IP", "Status"],
      pods.map((p) => [h("a", { href: hrefOf(KINDS.pods, p) }, `${p.metadata.namespace}/${p.metadata.name}`), p.status?.podIP || "—", healthPill(KINDS.pods.health(p))]))];
  }
  return [];
}

/** The logs tab; what it shows lives in `current.logs`, so re-renders keep it. */
function logsPanel(kind, obj) {
  const containers = (obj.spec?.containers || []).map((c) => c.name);
  const state = current.logs ||= { container: containers[0], tail: "100", text: "", status: "", loaded: false };
  const rerender = () => window.dispatchEvent(new Event("flatnet:render"));
  async function load() {
    state.loaded = true;
    state.status = "loading…";
    rerender();
    if (!token.get()) {
      state.text = "";
      state.status = "Reading logs needs the admin token (Token button, top right).";
      return rerender();
    }
    const path = `${kind.itemPath(obj.metadata.namespace, obj.metadata.name)}/log?container=${encodeURIComponent(state.container)}&tailLines=${state.tail}`;
    try {
      state.text = (await request("GET", path)) || "(empty)";
      state.status = `${state.container}: loaded at ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      state.text = "";
      state.status = `Could not read the log: ${err.message}`;
    }
    rerender();
  }
  if (!state.loaded) queueMicrotask(load);
  const select = h("select", { id: "logs-container", onchange: (e) => { state.container = e.target.value; load(); } },
    containers.map((c) => h("option", { value: c, selected: c === state.container }, c)));
  const tail = h("select", { id: "logs-tail", onchange: (e) => { state.tail = e.target.value; load(); } },
    ["100", "500", "2000"].map((n) => h("option", { value: n, selected: n === state.tail }, `last ${n} lines`)));
  return h("div", { class: "logs-panel" },
    h("div", { class: "row" }, h("label", {}, "Container ", select), h("label", {}, "Show ", tail),
      h("button", { type: "button", class: "btn", id: "logs-refresh", onclick: load }, "Refresh")),
    h("p", { class: "muted", role: "status" }, state.status),
    h("pre", { id: "logs-output", class: "logs", tabindex: "0", "aria-label": "Container log" }, state.text));
}

const TABS = [
  ["overview", "Overview"],
  ["events", "Events"],
  ["logs", "Logs"],
  ["json", "JSON"],
  ["yaml", "YAML"],
];

export function detail(kind, namespace, name) {
  const obj = get(kind, kind.namespaced ? namespace : "", name);
  const key = `${kind.id}/${namespace}/${name}`;
  if (current.key !== key) current = { key, tab: "overview", logs: null };
  const back = h("a", { href: `#/${kind.id}`, class: "back" }, `← ${kind.title}`);
  if (!obj) {
    return h("section", { class: "detail" }, back,
      h("h1", {}, name), h("p", { class: "empty", role: "status" }, `${kind.kind} ${kind.namespaced ? `${namespace}/` : ""}${name} does not exist (any more).`));
  }
  const tabs = TABS.filter(([id]) => id !== "logs" || kind.id === "pods");
  if (!tabs.some(([id]) => id === current.tab)) current.tab = "overview";
  const panels = {
    overview: () => [
      h("dl", { class: "facts" }, [["Namespace", obj.metadata.namespace], ["UID", obj.metadata.uid], ["Created", obj.metadata.creationTimestamp],
        ...kind.summary(obj)].filter(([, v]) => v !== undefined && v !== null && v !== "")
        .map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))])),
      h("h3", {}, "Labels"), labelChips(obj.metadata.labels),
      ...(obj.status?.conditions?.length ? [h("h3", {}, "Conditions"), table("Conditions", ["Type", "Status", "Reason", "Message", "Changed"],
        obj.status.conditions.map((c) => [c.type, c.status, c.reason || "—", c.message || "—", age(c.lastTransitionTime)]))] : []),
      ...related(kind, obj),
    ],
    events: () => table("Events", ["Last seen", "Type", "Reason", "Message", "From"], eventsOf(kind, obj).map((e) =>
      [age(e.lastTimestamp || e.metadata.creationTimestamp), healthPill(KINDS.events.health(e)), e.reason, e.message, e.source?.host || e.source?.component || "—"])),
    logs: () => logsPanel(kind, obj),
    json: () => h("pre", { class: "code", tabindex: "0", "aria-label": "JSON" }, JSON.stringify(obj, null, 2)),
    yaml: () => h("pre", { class: "code", tabindex: "0", "aria-label": "YAML" }, toYaml(obj)),
  };

  const panel = h("div", { role: "tabpanel", id: "detail-panel", "aria-labelledby": `detail-tab-${current.tab}`, class: "panel" }, panels[current.tab]());
  const tabButtons = tabs.map(([id, text]) => h("button", {
    type: "button", role: "tab", id: `detail-tab-${id}`, "aria-controls": "detail-panel", "aria-selected": String(id === current.tab),
    tabindex: id === current.tab ? "0" : "-1",
    onclick: () => { current.tab = id; window.dispatchEvent(new Event("flatnet:render")); },
  }, text, id === "events" ? h("span", { class: "count" }, String(eventsOf(kind, obj).length)) : null));
  const tablist = h("div", { role: "tablist", class: "subtabs", "aria-label": "Details" }, tabButtons);
  tablist.addEventListener("keydown", (e) => {
    const i = tabs.findIndex(([id]) => id === current.tab);
    const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
    if (!step) return;
    current.tab = tabs[(i + step + tabs.length) % tabs.length][0];
    window.dispatchEvent(new Event("flatnet:render"));
    requestAnimationFrame(() => document.getElementById(`detail-tab-${current.tab}`)?.focus());
  });

  const actions = kind.creatable
    ? h("button", { type: "button", class: "btn danger", id: "delete-object", onclick: async () => {
      if (await confirmDelete(kind, obj)) location.hash = `#/${kind.id}`;
    } }, "Delete")
    : null;
  return h("section", { class: "detail", "data-kind": kind.id, "data-key": `${obj.metadata.namespace || ""}/${obj.metadata.name}` },
    back,
    h("div", { class: "detail-head" },
      h("h1", {}, h("span", { class: "kind" }, kind.kind), " ", obj.metadata.namespace ? h("span", { class: "muted" }, `${obj.metadata.namespace}/`) : null, obj.metadata.name),
      healthPill(kind.health(obj)), h("span", { class: "spacer" }), actions),
    tablist, panel);
}
