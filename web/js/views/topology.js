// The topology picture: services on top, then one column per node (its address, its pod CIDR
// lease, its pods with their IPs and state), and an arrow from each service to each of its
// endpoints (dashed when not ready). Every box is a link to its detail view, so the picture
// is keyboard-navigable; the tables carry the same facts as text. A pod that a network policy
// isolates (or an admin policy's subject) wears a shield; the list under the picture names
// each policy, the pods it isolates and the packets it denied.

import { s, h } from "../dom.js";
import { KINDS, hrefOf, nodeHealth, podHealth, serviceHealth } from "../kinds.js";
import { get } from "../store.js";
import { policyState, policiesOf, podsOf, deniedOf } from "../policies.js";

const M = 24;
const SVC = { w: 214, h: 60, gap: 18 };
const NODE = { w: 252, head: 80, gap: 26, pad: 12 };
const POD = { h: 46, gap: 8 };
const ARROW_SPACE = 78;
const HUES = [215, 150, 30, 280, 0, 190, 330, 95, 250, 55];

const clip = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);
const address = (node, type) => (node.status?.addresses || []).find((a) => a.type === type)?.address;

function box(href, label, cls, x, y, w, hgt, lines, level) {
  return s("a", { href, "aria-label": label, class: `topo-box ${cls}` },
    s("title", {}, label),
    s("rect", { x, y, width: w, height: hgt, rx: 8, class: "frame" }),
    level ? s("rect", { x, y, width: 5, height: hgt, rx: 2, class: `stripe ${level}` }) : null,
    lines.map(([text, cls2], i) => s("text", { x: x + 14, y: y + 19 + i * 17, class: cls2 || "" }, text)));
}

/** An SVG path through `points` with rounded corners. */
function rounded(points, r = 8) {
  let d = `M${points[0][0]},${points[0][1]}`;
  for (let k = 1; k < points.length - 1; k++) {
    const [px, py] = points[k - 1];
    const [x, y] = points[k];
    const [nx, ny] = points[k + 1];
    const inLen = Math.hypot(x - px, y - py);
    const outLen = Math.hypot(nx - x, ny - y);
    const ri = Math.min(r, inLen / 2, outLen / 2);
    const a = [x - ((x - px) / (inLen || 1)) * ri, y - ((y - py) / (inLen || 1)) * ri];
    const b = [x + ((nx - x) / (outLen || 1)) * ri, y + ((ny - y) / (outLen || 1)) * ri];
    d += ` L${a[0]},${a[1]} Q${x},${y} ${b[0]},${b[1]}`;
  }
  const last = points[points.length - 1];
  return `${d} L${last[0]},${last[1]}`;
}

/**
 * Render the topology of `nodes`, `pods`, `services` (already filtered) into an element.
 */
export function topology({ nodes, pods, services }) {
  // Columns: every node, plus nodes named by pods but unknown, plus the unscheduled pods.
  const columns = nodes.map((n) => ({ name: n.metadata.name, node: n, pods: [] }));
  const byName = new Map(columns.map((c) => [c.name, c]));
  for (const pod of pods) {
    const nodeName = pod.spec?.nodeName || "";
    if (!byName.has(nodeName)) {
      const col = { name: nodeName, node: null, pods: [] };
      byName.set(nodeName, col);
      columns.push(col);
    }
    byName.get(nodeName).pods.push(pod);
  }
  const nodesWidth = columns.length * (NODE.w + NODE.gap) - NODE.gap;
  const width = Math.max(nodesWidth, 3 * (SVC.w + SVC.gap)) + 2 * M;
  const perRow = Math.max(1, Math.floor((width - 2 * M + SVC.gap) / (SVC.w + SVC.gap)));
  const svcRows = Math.ceil(services.length / perRow);
  const nodesTop = M + (services.length ? svcRows * (SVC.h + SVC.gap) - SVC.gap + ARROW_SPACE : 0);
  const tallest = Math.max(0, ...columns.map((c) => c.pods.length));
  const height = nodesTop + NODE.head + NODE.pad + tallest * (POD.h + POD.gap) + NODE.pad + M;

  const podPos = new Map();
  const layers = { nodes: [], pods: [], services: [], arrows: [] };

  columns.forEach((col, i) => {
    const x = M + i * (NODE.w + NODE.gap);
    const colHeight = height - nodesTop - M;
    if (col.node) {
      const hl = nodeHealth(col.node);
      const label = `Node ${col.name}, ${hl.text}, address ${address(col.node, "InternalIP") || "unknown"}, pod CIDR ${col.node.spec?.podCIDR || "none"}, ${col.pods.length} pods`;
      layers.nodes.push(s("g", { class: "topo-node", "data-node": col.name },
        s("rect", { x, y: nodesTop, width: NODE.w, height: colHeight, rx: 12, class: `node-area ${hl.level}` }),
        box(hrefOf(KINDS.nodes, col.node), label, "node-head", x, nodesTop, NODE.w, NODE.head - 8, [
          [clip(col.name, 24), "title"],
          [`${hl.text} · ${address(col.node, "InternalIP") || "no address"}`, `sub ${hl.level}`],
          [`CIDR ${col.node.spec?.podCIDR || "—"}`, "mono sub"],
        ], hl.level)));
    } else {
      const title = col.name ? `${col.name} (unknown node)` : "Not scheduled";
      layers.nodes.push(s("g", { class: "topo-node ghost" },
        s("rect", { x, y: nodesTop, width: NODE.w, height: colHeight, rx: 12, class: "node-area ghost" }),
        s("text", { x: x + 14, y: nodesTop + 26, class: "title" }, title)));
    }
    col.pods.forEach((pod, j) => {
      const px = x + NODE.pad;
      const py = nodesTop + NODE.head + j * (POD.h + POD.gap);
      const hl = podHealth(pod);
      const ip = pod.status?.podIP || "no IP";
      const ns = pod.metadata.namespace;
      podPos.set(`${ns}/${pod.metadata.name}`, { x: px, y: py + POD.h / 2 });
      const policies = policiesOf(pod).map(({ kind, policy }) => `${kind} ${policy.metadata.namespace ? `${policy.metadata.namespace}/` : ""}${policy.metadata.name}`);
      const isolated = policies.length ? `, isolated by ${policies.join(", ")}` : "";
      layers.pods.push(box(hrefOf(KINDS.pods, pod), `Pod ${ns}/${pod.metadata.name}, ${hl.text}, IP ${ip}${isolated}`, "pod",
        px, py, NODE.w - 2 * NODE.pad, POD.h,
        [[clip(pod.metadata.name, 26), "name"], [`${ip} · ${hl.text}`, `mono sub ${hl.level}`]], hl.level));
      if (policies.length) {
        // A shield (drawn: not every font has one) at the box's top right.
        layers.pods.push(s("g", { class: "policy-badge", "data-pod": `${ns}/${pod.metadata.name}`, transform: `translate(${px + NODE.w - 2 * NODE.pad - 24},${py + 8})` },
          s("title", {}, `isolated by ${policies.join(", ")}`),
          s("path", { d: "M7,0 L14,2.5 L14,7.5 C14,12 10.5,14.5 7,16 C3.5,14.5 0,12 0,7.5 L0,2.5 Z" })));
      }
    });
  });

  services.forEach((svc, i) => {
    const x = M + (i % perRow) * (SVC.w + SVC.gap);
    const y = M + Math.floor(i / perRow) * (SVC.h + SVC.gap);
    const hue = HUES[i % HUES.length];
    const hl = serviceHealth(svc);
    const ports = (svc.spec?.ports || []).map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ""}/${p.protocol || "TCP"}`).join(" ");
    const key = `${svc.metadata.namespace}/${svc.metadata.name}`;
    const g = s("g", { class: "topo-service", "data-service": key, style: `--hue:${hue}` },
      box(hrefOf(KINDS.services, svc), `Service ${key}, cluster IP ${svc.spec?.clusterIP || "none"}, ports ${ports}, ${hl.text}`,
        "svc", x, y, SVC.w, SVC.h,
        [[clip(svc.metadata.name, 24), "name"], [`${svc.spec?.clusterIP || "—"} ${clip(ports, 18)}`, "mono sub"]], hl.level));
    layers.services.push(g);
    const ep = get(KINDS.endpoints, svc.metadata.namespace, svc.metadata.name);
    const from = { x: x + SVC.w / 2, y: y + SVC.h };
    for (const subset of ep?.subsets || []) {
      for (const [field, ready] of [["addresses", true], ["notReadyAddresses", false]]) {
        for (const a of subset[field] || []) {
          const to = a.targetRef && podPos.get(`${a.targetRef.namespace || svc.metadata.namespace}/${a.targetRef.name}`);
          if (!to) continue;
          // Down to a bus above the nodes, along it to the gap left of the pod's column,
          // down the gap, then into the pod: arrows never cross other boxes.
          const lane = i % 4;
          const busY = nodesTop - 14 - lane * 5;
          const gapX = to.x - NODE.pad - 10 - lane * 4;
          const d = rounded([[from.x, from.y], [from.x, busY], [gapX, busY], [gapX, to.y], [to.x - 2, to.y]]);
          layers.arrows.push(s("path", { d, class: `arrow${ready ? "" : " not-ready"}`, "data-service": key, style: `--hue:${hue}`, "marker-end": "url(#arrowhead)" }));
        }
      }
    }
    const highlight = (on) => () => {
      svgEl.classList.toggle("focus-mode", on);
      svgEl.querySelectorAll(`[data-service="${CSS.escape(key)}"]`).forEach((el) => el.classList.toggle("hl", on));
    };
    g.addEventListener("mouseenter", highlight(true));
    g.addEventListener("mouseleave", highlight(false));
    g.addEventListener("focusin", highlight(true));
    g.addEventListener("focusout", highlight(false));
  });

  const svgEl = s("svg", {
    class: "topo", width, height, viewBox: `0 0 ${width} ${height}`, role: "group",
    "aria-label": `Topology: ${nodes.length} nodes, ${pods.length} pods, ${services.length} services`,
  },
  s("defs", {}, s("marker", { id: "arrowhead", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
    s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }))),
  layers.nodes, layers.arrows, layers.pods, layers.services);

  if (!columns.length && !services.length) return h("p", { class: "empty" }, "No nodes, pods or services match the filters.");
  return h("div", { class: "topo-wrap", tabindex: "-1" }, svgEl, policyList(new Set(pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`))));
}

/** Each policy, the shown pods it isolates, and what it denied (on every node). */
function policyList(shown) {
  const entries = [
    ...policyState.adminnetworkpolicies.map((policy) => ["AdminNetworkPolicy", KINDS.adminnetworkpolicies, policy]),
    ...policyState.networkpolicies.map((policy) => ["NetworkPolicy", KINDS.networkpolicies, policy]),
  ];
  if (!entries.length) return null;
  return h("ul", { class: "topo-policies", "aria-label": "Network policies" }, entries.map(([kind, k, policy]) => {
    const key = `${policy.metadata.namespace ? `${policy.metadata.namespace}/` : ""}${policy.metadata.name}`;
    const pods = podsOf(kind, policy).map((p) => `${p.metadata.namespace}/${p.metadata.name}`).filter((p) => shown.has(p));
    const denied = deniedOf(kind, policy);
    return h("li", { "data-policy": `${kind}/${key}` },
      h("a", { href: hrefOf(k, policy) }, `${kind} ${key}`),
      ` isolates ${pods.length ? pods.join(", ") : "no pod shown"} · `,
      h("span", { class: `denied${denied ? " bad" : ""}`, "data-denied": String(denied) }, `${denied} denied`));
  }));
}

export function legend() {
  return h("ul", { class: "legend", "aria-label": "Legend" },
    h("li", {}, h("span", { class: "swatch ok" }), "ready / running"),
    h("li", {}, h("span", { class: "swatch warn" }), "pending, not ready, unknown"),
    h("li", {}, h("span", { class: "swatch bad" }), "failing, node not ready, no endpoints"),
    h("li", {}, h("span", { class: "line" }), "service → ready endpoint"),
    h("li", {}, h("span", { class: "line dashed" }), "not-ready endpoint"));
}
