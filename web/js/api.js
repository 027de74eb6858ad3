// The API: every request with the token the user gave (admin or viewer: the server answers
// nothing but its health checks without one), errors as ApiError with the server's Kubernetes
// Status body ({kind: "Status", code, reason, message, details.causes}), and watch streams.
//
// Events on `window`: "flatnet:token" when the token changes (waiting informers retry at
// once), "flatnet:unauthorized" when the server answers 401 (the token dialog opens).

const TOKEN_KEY = "flatnet.adminToken";

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) || "",
  set: (value) => {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
    window.dispatchEvent(new Event("flatnet:token"));
  },
};

export class ApiError extends Error {
  constructor(code, status) {
    super(status.message || `HTTP ${code}`);
    this.code = code;
    this.reason = status.reason || "";
    // Kubernetes puts the causes in details.causes; flatnet also repeats them at the top.
    this.causes = status.details?.causes || status.causes || [];
    this.field = status.field || this.causes.find((c) => c.field)?.field || null;
  }
}

function headers(json) {
  const out = {};
  const t = token.get();
  if (t) out.Authorization = `Bearer ${t}`;
  if (json) out["Content-Type"] = "application/json";
  return out;
}

async function errorOf(res) {
  if (res.status === 401) window.dispatchEvent(new Event("flatnet:unauthorized"));
  const text = await res.text();
  try {
    return new ApiError(res.status, JSON.parse(text));
  } catch {
    return new ApiError(res.status, { message: text || res.statusText });
  }
}

/** A JSON request; answers the parsed body (or text for non-JSON answers). */
export async function request(method, path, body, { signal } = {}) {
  const res = await fetch(path, {
    method,
    headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (!res.ok) throw await errorOf(res);
  const type = res.headers.get("Content-Type") || "";
  return type.includes("json") ? res.json() : res.text();
}

/**
 * Follow one watch stream from `resourceVersion`, calling `onEvent({type, object})` per line.
 * Answers the last resourceVersion seen when the server ends the stream; throws ApiError
 * (410 when the version is too old: the caller lists again).
 */
export async function watchStream(listPath, resourceVersion, onEvent, signal) {
  const sep = listPath.includes("?") ? "&" : "?";
  const url = `${listPath}${sep}watch=true&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(resourceVersion)}`;
  const res = await fetch(url, { headers: headers(false), signal });
  if (!res.ok) throw await errorOf(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let rv = resourceVersion;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return rv;
    buffer += value;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (!line) continue;
      const event = JSON.parse(line);
      if (event.type === "ERROR") throw new ApiError(event.object?.code || 500, event.object || {});
      rv = event.object?.metadata?.resourceVersion || rv;
      onEvent(event);
    }
  }
}
