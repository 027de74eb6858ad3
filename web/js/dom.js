// Small DOM helpers. Every piece of data from the API becomes a text node or an attribute
// value, never HTML, so a pod named `<img onerror=…>` is shown, not run.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "value" && "value" in el) {
      el.value = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An HTML element: `h("a", {href: "#/"}, "text", otherNode)`. */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Replace the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * Replace the children of `el` only when they would change: keeps the focus of a keyboard
 * user in place and keeps live regions from announcing the same text again.
 */
export function update(el, ...children) {
  const next = document.createElement(el.tagName);
  append(next, children);
  if (next.innerHTML !== el.innerHTML) el.replaceChildren(...next.childNodes);
  return el;
}

/** A status pill: level is ok, warn, bad or idle. */
export function pill(level, text, title) {
  return h("span", { class: `pill ${level}`, title }, text);
}

/** Labels as chips. */
export function labelChips(labels) {
  const entries = Object.entries(labels || {});
  if (!entries.length) return h("span", { class: "muted" }, "—");
  return h("span", { class: "chips" }, entries.map(([k, v]) => h("span", { class: "chip" }, `${k}=${v}`)));
}

/** "3m ago" for an RFC 3339 time. */
export function age(time) {
  if (!time) return "—";
  const seconds = Math.max(0, (Date.now() - Date.parse(time)) / 1000);
  if (seconds < 60) return `${Math.floor(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

/** A short-lived message in the corner (errors stay until dismissed). */
export function toast(message, level = "ok") {
  const box = document.getElementById("toasts");
  const close = h("button", { type: "button", class: "btn ghost small", "aria-label": "Dismiss" }, "×");
  const item = h("div", { class: `toast ${level}`, role: level === "bad" ? "alert" : "status" }, h("span", {}, message), close);
  close.addEventListener("click", () => item.remove());
  box.append(item);
  // A few at a time: the oldest go first.
  while (box.children.length > 3) box.firstElementChild.remove();
  if (level !== "bad") setTimeout(() => item.remove(), 4000);
}
