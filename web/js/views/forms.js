// Create forms (a form, or a YAML/JSON editor seeded from it) and the delete confirmation.
// The server validates; its Status causes are shown next to the field they name
// (`metadata.name`, `spec.ports[0].port`), the rest above the buttons.

import { h, replace, toast } from "../dom.js";
import { request, token, ApiError } from "../api.js";
import { KINDS } from "../kinds.js";
import { items } from "../store.js";
import { parseYaml, toYaml, YamlError } from "../yaml.js";

/** `a=b, c=d` as a map (an item without `=` maps to ""). */
function parseMap(text) {
  const out = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const i = part.indexOf("=");
    out[i < 0 ? part : part.slice(0, i).trim()] = i < 0 ? "" : part.slice(i + 1).trim();
  }
  return out;
}

/** A command line split into words, with "double" and 'single' quotes. */
function splitWords(text) {
  const words = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m;
  while ((m = re.exec(text))) words.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2] ?? m[3]);
  return words;
}

const intOrString = (v) => (/^\d+$/.test(v) ? Number(v) : v);

// Per kind: the form's fields and how they make an object. `field` is the API's field path,
// so the server's causes land next to the right input.
const FORMS = {
  pods: {
    fields: (ns) => [
      { field: "metadata.name", label: "Name", required: true, placeholder: "web-1" },
      { field: "metadata.namespace", label: "Namespace", value: ns || "default" },
      { field: "metadata.labels", label: "Labels", placeholder: "app=web, tier=front", hint: "key=value, comma separated" },
      { field: "spec.nodeName", label: "Node", type: "select", options: [["", "any node (the scheduler decides)"], ...items(KINDS.nodes).map((n) => [n.metadata.name, n.metadata.name])] },
      { field: "spec.containers[0].name", label: "Container name", value: "main" },
      { field: "spec.containers[0].command", label: "Command", required: true, placeholder: "/usr/bin/flatnet netexec", hint: "a process run in the pod's network namespace; quotes group words", mono: true },
      { field: "spec.containers[0].ports[0].containerPort", label: "Container port", type: "number", placeholder: "8080", hint: "optional" },
    ],
    build: (v) => {
      const container = { name: v["spec.containers[0].name"], command: splitWords(v["spec.containers[0].command"]) };
      const port = v["spec.containers[0].ports[0].containerPort"];
      if (port) container.ports = [{ containerPort: Number(port) }];
      const spec = { containers: [container] };
      if (v["spec.nodeName"]) spec.nodeName = v["spec.nodeName"];
      return { apiVersion: "v1", kind: "Pod", metadata: meta(v), spec };
    },
  },
  services: {
    fields: (ns) => [
      { field: "metadata.name", label: "Name", required: true, placeholder: "web" },
      { field: "metadata.namespace", label: "Namespace", value: ns || "default" },
      { field: "metadata.labels", label: "Labels", placeholder: "app=web", hint: "key=value, comma separated" },
      { field: "spec.type", label: "Type", type: "select", options: [["ClusterIP", "ClusterIP"], ["NodePort", "NodePort"]] },
      { field: "spec.selector", label: "Selector", required: true, placeholder: "app=web", hint: "the pods behind the service" },
      { field: "spec.ports[0].port", label: "Port", type: "number", value: "80", required: true },
      { field: "spec.ports[0].targetPort", label: "Target port", placeholder: "8080 or a port name", hint: "default: the same as the port" },
      { field: "spec.ports[0].protocol", label: "Protocol", type: "select", options: [["TCP", "TCP"], ["UDP", "UDP"]] },
    ],
    build: (v) => {
      const port = { port: Number(v["spec.ports[0].port"]), protocol: v["spec.ports[0].protocol"] };
      if (v["spec.ports[0].targetPort"]) port.targetPort = intOrString(v["spec.ports[0].targetPort"]);
      return {
        apiVersion: "v1", kind: "Service", metadata: meta(v),
        spec: { type: v["spec.type"], selector: parseMap(v["spec.selector"]), ports: [port] },
      };
    },
  },
  // A NetworkPolicy: the pods it selects are isolated in the chosen directions; what the
  // "from"/"to" pods (by label, in the policy's namespace) may do is allowed. The editor tab
  // takes any NetworkPolicy.
  networkpolicies: {
    fields: (ns) => [
      { field: "metadata.name", label: "Name", required: true, placeholder: "deny-web" },
      { field: "metadata.namespace", label: "Namespace", value: ns || "default" },
      { field: "metadata.labels", label: "Labels", placeholder: "team=web", hint: "key=value, comma separated" },
      { field: "spec.podSelector", label: "Pod selector", placeholder: "app=web", hint: "the pods it isolates; empty: every pod of the namespace" },
      { field: "spec.policyTypes", label: "Isolates", type: "select", options: [["Ingress", "Ingress"], ["Egress", "Egress"], ["Ingress,Egress", "Ingress and egress"]] },
      { field: "spec.ingress[0].from[0].podSelector", label: "Allow from pods", placeholder: "role=client", hint: "optional: pods of the namespace allowed in; empty: none" },
      { field: "spec.ingress[0].ports[0].port", label: "On port", placeholder: "8080 or a port name", hint: "optional: every port when empty" },
    ],
    build: (v) => {
      const spec = { podSelector: { matchLabels: parseMap(v["spec.podSelector"]) }, policyTypes: v["spec.policyTypes"].split(",") };
      const from = v["spec.ingress[0].from[0].podSelector"];
      if (from) {
        const rule = { from: [{ podSelector: { matchLabels: parseMap(from) } }] };
        const port = v["spec.ingress[0].ports[0].port"];
        if (port) rule.ports = [{ port: intOrString(port) }];
        spec.ingress = [rule];
      }
      return { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: meta(v), spec };
    },
  },
};

function meta(v) {
  const m = { name: v["metadata.name"], namespace: v["metadata.namespace"] || "default" };
  const labels = parseMap(v["metadata.labels"]);
  if (Object.keys(labels).length) m.labels = labels;
  return m;
}

const idOf = (field) => `f-${field.replace(/[^\w]/g, "-")}`;

function input(f) {
  const id = idOf(f.field);
  const described = [f.hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(" ");
  const common = { id, name: f.field, "data-field": f.field, "aria-describedby": described, required: f.required || null };
  const control = f.type === "select"
    ? h("select", common, f.options.map(([value, text]) => h("option", { value }, text)))
    : h("input", { ...common, type: f.type || "text", value: f.value || "", placeholder: f.placeholder || "", autocomplete: "off", spellcheck: "false", class: f.mono ? "mono" : null, min: f.type === "number" ? 1 : null });
  return h("div", { class: "field" },
    h("label", { for: id }, f.label, f.required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null),
    control,
    f.hint ? h("small", { id: `${id}-hint`, class: "hint" }, f.hint) : null,
    h("p", { id: `${id}-error`, class: "field-error", "data-error-for": f.field, "aria-live": "polite" }));
}

/** Open the create dialog of a kind (`pods`, `services`, `networkpolicies`). */
export function openCreate(kindId, namespace) {
  const kind = KINDS[kindId];
  const spec = FORMS[kindId];
  const dialog = document.getElementById("create-dialog");
  const fields = spec.fields(namespace);
  const form = h("form", { id: "create-form", novalidate: true, "data-kind": kindId });
  const editor = h("textarea", { id: "create-editor", class: "editor mono", rows: 18, spellcheck: "false", "aria-label": `${kind.kind} manifest (YAML or JSON)`, "aria-describedby": "create-editor-errors" });
  const editorErrors = h("ul", { id: "create-editor-errors", class: "field-error list", "aria-live": "polite" });
  const general = h("div", { class: "form-error", role: "alert", hidden: true });
  let mode = "form";

  const formPanel = h("div", { id: "create-panel-form", role: "tabpanel", "aria-labelledby": "create-tab-form", class: "form-grid" }, fields.map(input));
  const editorPanel = h("div", { id: "create-panel-editor", role: "tabpanel", "aria-labelledby": "create-tab-editor", hidden: true },
    h("p", { class: "muted" }, "The whole manifest, as YAML or JSON. Seeded from the form."), editor, editorErrors);
  const tab = (id, text, panel) => h("button", { type: "button", role: "tab", id: `create-tab-${id}`, "aria-controls": panel.id, "aria-selected": String(id === "form"), tabindex: id === "form" ? "0" : "-1" }, text);
  const tabs = [tab("form", "Form", formPanel), tab("editor", "YAML / JSON", editorPanel)];
  const values = () => Object.fromEntries(fields.map((f) => [f.field, form.elements[f.field].value.trim()]));

  function select(which) {
    if (which === mode) return;
    mode = which;
    if (which === "editor") editor.value = `${toYaml(spec.build(values()))}\n`;
    tabs.forEach((t) => {
      const on = t.id === `create-tab-${which}`;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      if (on) t.focus();
    });
    formPanel.hidden = which !== "form";
    editorPanel.hidden = which !== "editor";
  }
  tabs[0].addEventListener("click", () => select("form"));
  tabs[1].addEventListener("click", () => select("editor"));
  const tablist = h("div", { role: "tablist", "aria-label": "How to describe it", class: "subtabs" }, tabs);
  tablist.addEventListener("keydown", (e) => {
    if (e.key === "ArrowRight" || e.key === "ArrowLeft") select(mode === "form" ? "editor" : "form");
  });

  function clearErrors() {
    general.hidden = true;
    replace(general);
    replace(editorErrors);
    form.querySelectorAll("[data-error-for]").forEach((el) => replace(el));
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  }

  function showErrors(err) {
    const causes = err.causes?.length ? err.causes : [{ field: err.field || "", message: err.message }];
    const unplaced = [];
    let first = null;
    for (const c of causes) {
      const target = mode === "form" && fields.find((f) => (c.field || "") === f.field || (c.field || "").startsWith(`${f.field}.`) || (c.field || "").startsWith(`${f.field}[`));
      if (target) {
        const el = form.querySelector(`[data-error-for="${CSS.escape(target.field)}"]`);
        el.append(h("span", {}, c.field === target.field ? c.message : `${c.field}: ${c.message}`));
        const control = form.elements[target.field];
        control.setAttribute("aria-invalid", "true");
        first ||= control;
      } else unplaced.push(c);
    }
    if (mode === "editor") {
      replace(editorErrors, causes.map((c) => h("li", {}, c.field ? h("code", {}, c.field) : null, c.field ? ": " : null, c.message)));
      editor.setAttribute("aria-invalid", "true");
      first = editor;
    } else if (unplaced.length) {
      general.hidden = false;
      replace(general, h("strong", {}, `${err.reason || "Error"}: `), unplaced.map((c) => h("div", {}, c.field ? `${c.field}: ${c.message}` : c.message)));
    }
    (first || general).focus?.();
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors();
    if (!token.get()) {
      showErrors(new ApiError(401, { reason: "Unauthorized", message: "creating needs the admin token: set it with the Token button" }));
      return;
    }
    let obj;
    try {
      obj = mode === "form" ? spec.build(values()) : parseYaml(editor.value);
    } catch (err) {
      showErrors({ reason: "Invalid manifest", message: err.message, causes: [{ field: "", message: err instanceof YamlError ? err.message : String(err.message) }] });
      return;
    }
    const ns = obj?.metadata?.namespace || "default";
    submit.disabled = true;
    try {
      const created = await request("POST", kind.collectionPath(ns), obj);
      dialog.close();
      toast(`${kind.kind} ${ns}/${created.metadata.name} created`);
      location.hash = `#/${kindId}/${encodeURIComponent(ns)}/${encodeURIComponent(created.metadata.name)}`;
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      showErrors(err);
    } finally {
      submit.disabled = false;
    }
  });

  const submit = h("button", { type: "submit", class: "btn primary", id: "create-submit" }, "Create");
  const cancel = h("button", { type: "button", class: "btn ghost", onclick: () => dialog.close() }, "Cancel");
  form.append(tablist, formPanel, editorPanel, general, h("div", { class: "dialog-actions" }, h("span", { class: "spacer" }), cancel, submit));
  replace(dialog, h("h2", { id: "create-title" }, `Create ${kind.kind.toLowerCase()}`), form);
  dialog.showModal();
  form.elements["metadata.name"].focus();
}

/** Ask, then delete an object; answers whether it was deleted. */
export function confirmDelete(kind, obj) {
  const dialog = document.getElementById("confirm-dialog");
  const ns = obj.metadata.namespace;
  const label = `${kind.kind.toLowerCase()} ${ns ? `${ns}/` : ""}${obj.metadata.name}`;
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  return new Promise((resolve) => {
    const yes = h("button", { type: "button", class: "btn danger", id: "confirm-delete" }, "Delete");
    const no = h("button", { type: "button", class: "btn ghost", onclick: () => dialog.close() }, "Cancel");
    yes.addEventListener("click", async () => {
      try {
        await request("DELETE", kind.itemPath(ns, obj.metadata.name));
        dialog.close();
        toast(`Deleted ${label}`);
        resolve(true);
      } catch (err) {
        error.hidden = false;
        replace(error, err.message);
      }
    });
    dialog.addEventListener("close", () => resolve(false), { once: true });
    replace(dialog, h("h2", { id: "confirm-title" }, `Delete ${label}?`),
      h("p", {}, kind.id === "pods" ? "Its containers are stopped and its IP is freed." : "Its cluster IP and node ports are freed."),
      error, h("div", { class: "dialog-actions" }, h("span", { class: "spacer" }), no, yes));
    dialog.showModal();
    no.focus();
  });
}
