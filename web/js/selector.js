// Label selectors, the API's syntax: `app=web`, `app==web`, `tier!=db`, `env in (a,b)`,
// `env notin (a)`, `canary`, `!canary`, joined by commas. Parsed once, matched client-side
// against the objects the informers hold.

/** Parse a selector into requirements; throws Error with a message on bad syntax. */
export function parseSelector(text) {
  const reqs = [];
  const parts = [];
  let depth = 0;
  let cur = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  for (const raw of parts.map((p) => p.trim()).filter(Boolean)) {
    let m;
    if ((m = raw.match(/^([\w./-]+)\s+(in|notin)\s*\(([^)]*)\)$/))) {
      reqs.push({ key: m[1], op: m[2], values: m[3].split(",").map((v) => v.trim()).filter(Boolean) });
    } else if ((m = raw.match(/^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/))) {
      reqs.push({ key: m[1], op: m[2] === "!=" ? "!=" : "=", values: [m[3]] });
    } else if ((m = raw.match(/^(!?)\s*([\w./-]+)$/))) {
      reqs.push({ key: m[2], op: m[1] ? "!exists" : "exists", values: [] });
    } else {
      throw new Error(`cannot read ${JSON.stringify(raw)}: use key=value, key!=value, key in (a,b), key or !key`);
    }
  }
  return reqs;
}

export function matches(reqs, labels = {}) {
  return reqs.every(({ key, op, values }) => {
    const has = Object.prototype.hasOwnProperty.call(labels, key);
    const v = labels[key];
    switch (op) {
      case "=": return has && v === values[0];
      case "!=": return !has || v !== values[0];
      case "in": return has && values.includes(v);
      case "notin": return !has || !values.includes(v);
      case "exists": return has;
      default: return !has;
    }
  });
}

/** `{app: "web"}` as `app=web`. */
export function formatSelector(map) {
  return Object.entries(map || {}).map(([k, v]) => `${k}=${v}`).join(",");
}
