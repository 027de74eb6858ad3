// The dashboard: routes (`#/`, `#/pods`, `#/pods/NS/NAME`), the filters, the health bar, the
// connection indicator and the token dialog. The cluster comes from the informers in
// store.js; every batch of changes re-renders the current view, keeping the keyboard focus.

import { h, replace, update, toast } from "./dom.js";
import { token } from "./api.js";
import { KINDS, nodeHealth, podHealth, serviceHealth, hrefOf, healthPill } from "./kinds.js";
import { items, use, subscribe, states } from "./store.js";
import { parseSelector, matches } from "./selector.js";
import { topology, legend } from "./views/topology.js";
import { detail } from "./views/detail.js";
import { openCreate } from "./views/forms.js";

const main = document.getElementById("main");
const FILTERS_KEY = "flatnet.filters";
const filters = { namespace: "", selector: [] };

// Kinds watched all the time feed the topology and the health bar; the others (events,
// leases) only while a view shows them, which keeps the browser's six connections per
// server free for the user's requests.
for (const k of Object.values(KINDS)) if (k.always) use(k);

/** The objects of a kind that pass the namespace and label filters. */
function visible(kind) {
  return items(kind).filter((o) => (!kind.namespaced || !filters.namespace || o.metadata.namespace === filters.namespace)
    && matches(filters.selector, o.metadata.labels));
}

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent).filter(Boolean);
  if (!parts.length || !KINDS[parts[0]]) return { view: "overview" };
  if (parts.length >= 3) return { view: "detail", kind: KINDS[parts[0]], namespace: parts[1], name: parts.slice(2).join("/") };
  return { view: "list", kind: KINDS[parts[0]] };
}

// ---------------------------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------------------------

function problems() {
  const out = [];
  for (const n of items(KINDS.nodes)) {
    const hl = nodeHealth(n);
    if (hl.level !== "ok") out.push([hl, KINDS.nodes, n, `node ${n.metadata.name} is ${hl.text}${hl.detail ? ` (${hl.detail})` : ""}`]);
  }
  for (const p of visible(KINDS.pods)) {
    const hl = podHealth(p);
    if (hl.level === "bad") out.push([hl, KINDS.pods, p, `pod ${p.metadata.namespace}/${p.metadata.name}: ${hl.text}${hl.detail ? ` (${hl.detail})` : ""}`]);
  }
  for (const svc of visible(KINDS.services)) {
    const hl = serviceHealth(svc);
    if (hl.level === "bad") out.push([hl, KINDS.services, svc, `service ${svc.metadata.namespace}/${svc.metadata.name} has no ready endpoints`]);
  }
  return out;
}

function overview() {
  const issues = problems();
  const loading = states().some((st) => st.state === "syncing" && !items(st.kind).length);
  return h("section", { class: "overview" },
    h("h1", { class: "sr-only" }, "Overview"),
    h("div", { class: "cards" }, ["nodes", "pods", "services", "endpoints"].map((id) => {
      const list = id === "nodes" ? items(KINDS.nodes) : visible(KINDS[id]);
      const bad = list.filter((o) => KINDS[id].health(o).level === "bad").length;
      return h("a", { class: `card${bad ? " bad" : ""}`, href: `#/${id}` },
        h("span", { class: "big" }, String(list.length)), h("span", {}, KINDS[id].title),
        bad ? h("span", { class: "pill bad" }, `${bad} failing`) : null);
    })),
    h("section", { class: "attention", "aria-labelledby": "attention-title" },
      h("h2", { id: "attention-title" }, "Needs attention"),
      issues.length
        ? h("ul", { class: "problems" }, issues.map(([hl, k, o, text]) => h("li", {}, healthPill(hl), " ", h("a", { href: hrefOf(k, o) }, text))))
        : h("p", { class: "muted ok-text" }, "Nothing: every node is Ready, no pod is failing, every service has endpoints.")),
    h("section", { "aria-labelledby": "topology-title" },
      h("div", { class: "section-head" }, h("h2", { id: "topology-title" }, "Topology"), legend()),
      // Every node stays in the picture: the filters choose the pods and services on it.
      loading
        ? h("p", { class: "empty" }, "Loading…")
        : topology({ nodes: items(KINDS.nodes), pods: visible(KINDS.pods), services: visible(KINDS.services) })));
}

// Per kind: the column the table is sorted by and the direction (1 or -1); events newest first.
const sorting = { events: { column: 0, dir: 1 } };

function sortKey(column, obj) {
  if (column.sort) return column.sort(obj);
  const cell = column.cell(obj);
  return cell instanceof Node ? cell.textContent : cell;
}

function compare(a, b) {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

function list(kind) {
  const sort = sorting[kind.id];
  const rows = visible(kind);
  if (sort) {
    const column = kind.columns[sort.column];
    rows.sort((a, b) => sort.dir * compare(sortKey(column, a), sortKey(column, b)));
  }
  const inf = states().find((s) => s.kind === kind);
  const empty = inf?.state === "syncing" ? "Loading…" : `No ${kind.title.toLowerCase()} match the filters.`;
  return h("section", { class: "list" },
    h("div", { class: "section-head" }, h("h1", {}, kind.title, " ", h("span", { class: "count" }, String(rows.length)))),
    rows.length
      ? h("div", { class: "table-wrap" }, h("table", { "data-kind": kind.id },
        h("caption", { class: "sr-only" }, `${kind.title}, ${rows.length} shown`),
        h("thead", {}, h("tr", {}, kind.columns.map((c, i) => {
          const dir = sort?.column === i ? sort.dir : 0;
          return h("th", { scope: "col", "aria-sort": dir ? (dir > 0 ? "ascending" : "descending") : null },
            h("button", { type: "button", class: "sort", id: `sort-${kind.id}-${i}`, onclick: () => {
              sorting[kind.id] = { column: i, dir: dir > 0 ? -1 : 1 };
              schedule();
            } }, c.title, h("span", { "aria-hidden": "true", class: "arrow" }, dir > 0 ? " ▲" : dir < 0 ? " ▼" : "")));
        }))),
        h("tbody", {}, rows.map((o) => h("tr", { "data-key": `${o.metadata.namespace || ""}/${o.metadata.name}`, "data-health": kind.health(o).level },
          kind.columns.map((c, i) => h(i === 0 ? "th" : "td", { scope: i === 0 ? "row" : null, class: c.mono ? "mono" : null, "data-label": c.title }, c.cell(o))))))))
      : h("p", { class: "empty" }, empty));
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

const SCROLLERS = ".topo-wrap, .table-wrap, .logs, .code";
let viewUses = [];
let lastRoute = "";

/** Watch what the current view needs beyond the always-watched kinds. */
function needs(r) {
  // A CIDR lease's state and renewal are its node's heartbeat Lease's.
  const renewals = (k) => (k === KINDS.nodeleases ? [KINDS.leases] : k === KINDS.nodes ? [KINDS.nodeleases, KINDS.leases] : []);
  if (r.view === "list" && !r.kind.always) return [r.kind, ...(r.kind === KINDS.nodeleases ? renewals(r.kind) : [])];
  if (r.view === "detail") return [r.kind, KINDS.events, ...renewals(r.kind)].filter((k) => !k.always);
  return [];
}

function render() {
  const r = route();
  const routeKey = location.hash;
  if (routeKey !== lastRoute) {
    viewUses.forEach((release) => release());
    viewUses = [...new Set(needs(r))].map(use);
  }
  // Keep the focus on "the same" element across re-renders (links by href, controls by id).
  const active = main.contains(document.activeElement) ? document.activeElement : null;
  const focusKey = active && (active.id ? `#${CSS.escape(active.id)}` : active.getAttribute("href") ? `[href="${CSS.escape(active.getAttribute("href"))}"]` : null);
  const scroll = [...main.querySelectorAll(SCROLLERS)].map((el) => [el.scrollLeft, el.scrollTop]);

  const view = r.view === "overview" ? overview() : r.view === "list" ? list(r.kind) : detail(r.kind, r.namespace, r.name);
  // Most changes (a heartbeat, a lease renewal) change nothing shown: keep the DOM then, so
  // that a click, a text selection or a hover in progress is not disturbed.
  if (routeKey === lastRoute && main.firstElementChild?.outerHTML === view.outerHTML) return renderChrome(r);
  replace(main, view);

  main.querySelectorAll(SCROLLERS).forEach((el, i) => {
    if (scroll[i] && routeKey === lastRoute) [el.scrollLeft, el.scrollTop] = scroll[i];
  });
  if (focusKey && routeKey === lastRoute) main.querySelector(focusKey)?.focus({ preventScroll: true });
  if (routeKey !== lastRoute) {
    lastRoute = routeKey;
    document.title = `${r.view === "detail" ? `${r.name} · ` : r.view === "list" ? `${r.kind.title} · ` : ""}flatnet`;
    if (r.view !== "overview" || document.activeElement === document.body) main.focus({ preventScroll: true });
  }
  renderChrome(r);
}

/** What is around the view: navigation, health bar, namespaces, connection state. */
function renderChrome(r) {
  renderNav(r);
  renderHealth();
  renderNamespaces();
  renderLive();
}

function renderNav(r) {
  const nav = document.getElementById("nav");
  const current = r.view === "overview" ? "" : r.kind.id;
  update(nav, [["", "Overview"], ...Object.values(KINDS).map((k) => [k.id, k.title])].map(([id, title]) =>
    h("a", { href: `#/${id}`, "aria-current": id === current ? "page" : null }, title)));
}

function renderHealth() {
  const nodes = items(KINDS.nodes);
  const readyNodes = nodes.filter((n) => nodeHealth(n).level === "ok").length;
  const pods = items(KINDS.pods);
  const failing = pods.filter((p) => podHealth(p).level === "bad").length;
  const running = pods.filter((p) => podHealth(p).level === "ok").length;
  const services = items(KINDS.services);
  const noEndpoints = services.filter((s) => serviceHealth(s).level === "bad").length;
  update(document.getElementById("health"),
    h("a", { href: "#/nodes", class: `stat ${readyNodes < nodes.length ? "bad" : "ok"}`, id: "health-nodes" }, `${readyNodes}/${nodes.length} nodes ready`),
    h("a", { href: "#/pods", class: `stat ${failing ? "bad" : "ok"}`, id: "health-pods" }, `${running}/${pods.length} pods running${failing ? `, ${failing} failing` : ""}`),
    h("a", { href: "#/services", class: `stat ${noEndpoints ? "bad" : "ok"}`, id: "health-services" }, `${services.length} service${services.length === 1 ? "" : "s"}${noEndpoints ? `, ${noEndpoints} without endpoints` : ""}`));
}

function renderNamespaces() {
  const select = document.getElementById("filter-namespace");
  const names = new Set(["default", ...(filters.namespace ? [filters.namespace] : [])]);
  for (const id of ["pods", "services", "endpoints"]) for (const o of items(KINDS[id])) names.add(o.metadata.namespace);
  const want = ["", ...[...names].sort()];
  const have = [...select.options].map((o) => o.value);
  if (want.join("\n") === have.join("\n")) return;
  replace(select, want.map((ns) => h("option", { value: ns }, ns || "all namespaces")));
  select.value = filters.namespace;
}

function renderLive() {
  const el = document.getElementById("live");
  const all = states();
  const broken = all.filter((s) => s.state === "error");
  const syncing = all.filter((s) => s.state === "syncing");
  const state = broken.length ? "error" : syncing.length ? "connecting" : "live";
  el.dataset.state = state;
  el.textContent = state === "live" ? "live" : state === "connecting" ? "connecting…" : "reconnecting…";
  el.title = broken.map((s) => `${s.kind.title}: ${s.error?.message}`).join("\n") || "watching the API";
}

let frame = 0;
function schedule() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    render();
  });
}

subscribe(schedule);
window.addEventListener("hashchange", schedule);
window.addEventListener("flatnet:render", schedule);
// Ages ("3m") and lease expiry move with the clock: refresh them every few seconds.
setInterval(schedule, 5000);

// ---------------------------------------------------------------------------------------------
// Controls
// ---------------------------------------------------------------------------------------------

document.getElementById("filter-namespace").addEventListener("change", (e) => {
  filters.namespace = e.target.value;
  saveFilters();
  schedule();
});

const labelsInput = document.getElementById("filter-labels");
function saveFilters() {
  sessionStorage.setItem(FILTERS_KEY, JSON.stringify({ namespace: filters.namespace, labels: labelsInput.value }));
}

function applyLabelFilter() {
  const error = document.getElementById("filter-labels-error");
  try {
    filters.selector = parseSelector(labelsInput.value);
    saveFilters();
    error.textContent = "";
    labelsInput.removeAttribute("aria-invalid");
    schedule();
  } catch (e) {
    error.textContent = e.message;
    labelsInput.setAttribute("aria-invalid", "true");
  }
}
// "change" too: a field cleared by a script or an assistive tool fires no "input".
labelsInput.addEventListener("input", applyLabelFilter);
labelsInput.addEventListener("change", applyLabelFilter);
// The filters survive a reload of the tab.
try {
  const saved = JSON.parse(sessionStorage.getItem(FILTERS_KEY) || "{}");
  filters.namespace = saved.namespace || "";
  labelsInput.value = saved.labels || "";
  applyLabelFilter();
} catch {
  sessionStorage.removeItem(FILTERS_KEY);
}

document.getElementById("create-pod").addEventListener("click", () => openCreate("pods", filters.namespace));
document.getElementById("create-service").addEventListener("click", () => openCreate("services", filters.namespace));
document.getElementById("create-networkpolicy").addEventListener("click", () => openCreate("networkpolicies", filters.namespace));

const tokenDialog = document.getElementById("token-dialog");
const tokenButton = document.getElementById("token-button");
function renderToken() {
  tokenButton.textContent = token.get() ? "Token ✓" : "Token";
  tokenButton.setAttribute("aria-label", token.get() ? "Token (set)" : "Token (not set)");
}
// The first time the server refuses us (no token yet, or a wrong one), ask for one.
let askedForToken = false;
window.addEventListener("flatnet:unauthorized", () => {
  if (askedForToken || tokenDialog.open) return;
  askedForToken = true;
  document.getElementById("token-input").value = token.get();
  tokenDialog.showModal();
});
tokenButton.addEventListener("click", () => {
  document.getElementById("token-input").value = token.get();
  tokenDialog.showModal();
});
tokenDialog.addEventListener("close", () => {
  if (tokenDialog.returnValue === "save") {
    token.set(document.getElementById("token-input").value.trim());
    toast(token.get() ? "Token saved for this tab" : "Token cleared");
    renderToken();
    schedule();
  }
});
document.getElementById("token-clear").addEventListener("click", () => {
  document.getElementById("token-input").value = "";
  token.set("");
  renderToken();
  tokenDialog.close();
  toast("Token cleared");
});
renderToken();
render();
