// The YAML the editor needs for manifests, and no more: block mappings and sequences, plain,
// quoted and flow (`[a, b]`, `{a: 1}`) scalars, comments, one document. JSON is YAML too,
// so a JSON manifest goes through the same parser. Errors name the line.

export class YamlError extends Error {
  constructor(line, message) {
    super(`line ${line}: ${message}`);
    this.line = line;
  }
}

function stripComment(text) {
  let quote = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(text[i - 1]))) return text.slice(0, i);
  }
  return text;
}

/** Parse a manifest; answers a plain object or array. */
export function parseYaml(source) {
  const trimmed = source.trim();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    try {
      return JSON.parse(trimmed);
    } catch {
      // Flow YAML rather than JSON: parsed below.
    }
  }
  const lines = [];
  source.split("\n").forEach((raw, i) => {
    const text = stripComment(raw.replace(/\t/g, "  ")).replace(/\s+$/, "");
    if (!text.trim() || text.trim() === "---") return;
    lines.push({ indent: text.length - text.trimStart().length, text: text.trim(), line: i + 1 });
  });
  if (!lines.length) return {};
  let pos = 0;

  function block(indent) {
    const first = lines[pos];
    if (first.text.startsWith("- ") || first.text === "-") return sequence(first.indent);
    return mapping(first.indent);
  }

  function sequence(indent) {
    const out = [];
    while (pos < lines.length && lines[pos].indent === indent && (lines[pos].text.startsWith("- ") || lines[pos].text === "-")) {
      const l = lines[pos];
      const rest = l.text.slice(1).trimStart();
      if (!rest) {
        pos++;
        out.push(pos < lines.length && lines[pos].indent > indent ? block(lines[pos].indent) : null);
      } else if (/^[^"'{[][^:]*:(\s|$)/.test(rest) || /^["'][^"']*["']:(\s|$)/.test(rest)) {
        // "- key: value": a mapping whose first key sits after the dash.
        const inner = indent + (l.text.length - rest.length);
        lines[pos] = { indent: inner, text: rest, line: l.line };
        out.push(mapping(inner));
      } else {
        pos++;
        out.push(scalar(rest, l.line));
      }
    }
    if (pos < lines.length && lines[pos].indent > indent) throw new YamlError(lines[pos].line, "unexpected indentation");
    return out;
  }

  function mapping(indent) {
    const out = {};
    while (pos < lines.length && lines[pos].indent === indent) {
      const l = lines[pos];
      const m = l.text.match(/^("(?:[^"\\]|\\.)*"|'[^']*'|[^:]+?)\s*:(?:\s+(.*))?$/);
      if (!m) throw new YamlError(l.line, `expected "key: value", got ${JSON.stringify(l.text)}`);
      const key = /^["']/.test(m[1]) ? scalar(m[1], l.line) : m[1];
      pos++;
      if (m[2] !== undefined && m[2] !== "") out[key] = scalar(m[2], l.line);
      else if (pos < lines.length && lines[pos].indent > indent) out[key] = block(lines[pos].indent);
      else if (pos < lines.length && lines[pos].indent === indent && lines[pos].text.startsWith("-")) out[key] = sequence(indent);
      else out[key] = null;
    }
    if (pos < lines.length && lines[pos].indent > indent) throw new YamlError(lines[pos].line, "unexpected indentation");
    return out;
  }

  const result = block(lines[0].indent);
  if (pos < lines.length) throw new YamlError(lines[pos].line, "unexpected indentation");
  return result;
}

function scalar(text, line) {
  const t = text.trim();
  if (t.startsWith('"')) {
    try {
      return JSON.parse(t);
    } catch {
      throw new YamlError(line, `bad double-quoted string ${t}`);
    }
  }
  if (t.startsWith("'")) {
    if (!t.endsWith("'") || t.length < 2) throw new YamlError(line, `bad single-quoted string ${t}`);
    return t.slice(1, -1).replace(/''/g, "'");
  }
  if (t.startsWith("[") || t.startsWith("{")) return flow(t, line);
  if (/^(null|~)$/.test(t)) return null;
  if (/^(true|false)$/.test(t)) return t === "true";
  if (/^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?$/.test(t)) return Number(t);
  return t;
}

function flow(text, line) {
  let i = 0;
  const ws = () => { while (/\s/.test(text[i])) i++; };
  function value() {
    ws();
    if (text[i] === "[") {
      i++;
      const out = [];
      for (ws(); text[i] !== "]"; ws()) {
        out.push(value());
        ws();
        if (text[i] === ",") i++;
        else if (text[i] !== "]") throw new YamlError(line, "expected , or ] in a flow sequence");
      }
      i++;
      return out;
    }
    if (text[i] === "{") {
      i++;
      const out = {};
      for (ws(); text[i] !== "}"; ws()) {
        const key = atom(":");
        if (text[i] !== ":") throw new YamlError(line, "expected : in a flow mapping");
        i++;
        out[key] = value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] !== "}") throw new YamlError(line, "expected , or } in a flow mapping");
      }
      i++;
      return out;
    }
    return scalar(atom(",]}"), line);
  }
  function atom(stops) {
    ws();
    const start = i;
    if (text[i] === '"' || text[i] === "'") {
      const q = text[i++];
      while (i < text.length && text[i] !== q) i += text[i] === "\\" && q === '"' ? 2 : 1;
      i++;
      const raw = text.slice(start, i);
      ws();
      return scalar(raw, line);
    }
    while (i < text.length && !stops.includes(text[i])) i++;
    if (i >= text.length) throw new YamlError(line, "unterminated flow collection");
    return text.slice(start, i).trim();
  }
  const out = value();
  ws();
  if (i !== text.length) throw new YamlError(line, "trailing characters after a flow collection");
  return out;
}

const PLAIN = /^[A-Za-z_/][\w./-]*$/;

function quoteIfNeeded(v) {
  if (typeof v !== "string") return JSON.stringify(v);
  if (PLAIN.test(v) && !/^(true|false|null|~|yes|no|on|off)$/i.test(v)) return v;
  return JSON.stringify(v);
}

/** Render a value as block YAML (for the editor). */
export function toYaml(value, indent = "") {
  if (Array.isArray(value)) {
    if (!value.length) return "[]";
    return value.map((v) => {
      const inner = toYaml(v, `${indent}  `);
      const isBlock = v && typeof v === "object" && Object.keys(v).length;
      return `${indent}- ${isBlock ? inner.trimStart() : inner}`;
    }).join("\n");
  }
  if (value && typeof value === "object") {
    const entries = Object.entries(value);
    if (!entries.length) return "{}";
    return entries.map(([k, v]) => {
      const key = `${indent}${quoteIfNeeded(k)}:`;
      if (v && typeof v === "object" && (Array.isArray(v) ? v.length : Object.keys(v).length)) {
        return `${key}\n${toYaml(v, Array.isArray(v) ? indent : `${indent}  `)}`;
      }
      return `${key} ${toYaml(v, indent)}`;
    }).join("\n");
  }
  return quoteIfNeeded(value);
}
