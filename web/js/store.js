// The dashboard's copy of the cluster: one informer per kind (a full list, then a watch from
// its resourceVersion, a new list after 410 Gone, reconnects with back-off), like client-go.
// Views subscribe to changes; renders are batched to one per animation frame.

import { request, watchStream } from "./api.js";

const keyOf = (obj) => `${obj.metadata.namespace || ""}/${obj.metadata.name}`;

class Informer {
  constructor(kind) {
    this.kind = kind;
    this.items = new Map();
    this.state = "idle"; // idle | syncing | live | error
    this.error = null;
    this.users = 0;
    this.controller = null;
  }

  acquire() {
    if (this.users++ === 0) {
      this.controller = new AbortController();
      this.run(this.controller.signal);
    }
  }

  release() {
    if (--this.users === 0) {
      this.controller.abort();
      this.controller = null;
      this.state = "idle";
    }
  }

  setState(state, error = null) {
    this.state = state;
    this.error = error;
    changed(this.kind.id);
  }

  async run(signal) {
    let delay = 250;
    while (!signal.aborted) {
      try {
        this.setState("syncing");
        const list = await request("GET", this.kind.listPath, undefined, { signal });
        this.items = new Map(list.items.map((o) => [keyOf(o), o]));
        let rv = list.metadata.resourceVersion;
        this.setState("live");
        for (;;) {
          rv = await watchStream(this.kind.listPath, rv, (e) => this.apply(e), signal);
          delay = 250;
        }
      } catch (e) {
        if (signal.aborted) return;
        // 410 Gone: our version fell out of the kept history; list again at once.
        if (e.code === 410) continue;
        this.setState("error", e);
        // A new token is worth trying at once.
        const retried = await new Promise((resolve) => {
          const timer = setTimeout(() => resolve(false), delay);
          window.addEventListener("flatnet:token", () => (clearTimeout(timer), resolve(true)), { once: true });
        });
        delay = retried ? 250 : Math.min(delay * 2, 8000);
      }
    }
  }

  apply({ type, object }) {
    if (type === "BOOKMARK") return;
    if (type === "DELETED") this.items.delete(keyOf(object));
    else this.items.set(keyOf(object), object);
    changed(this.kind.id);
  }
}

const informers = new Map();
const listeners = new Set();
let pending = new Set();
let scheduled = false;

function changed(kindId) {
  pending.add(kindId);
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    const kinds = pending;
    pending = new Set();
    for (const fn of listeners) fn(kinds);
  });
}

export function informer(kind) {
  if (!informers.has(kind.id)) informers.set(kind.id, new Informer(kind));
  return informers.get(kind.id);
}

/** Keep the kind watched until the returned function is called. */
export function use(kind) {
  const inf = informer(kind);
  inf.acquire();
  return () => inf.release();
}

/** The objects of a kind, sorted by namespace and name. */
export function items(kind) {
  return [...informer(kind).items.values()].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
}

export function get(kind, namespace, name) {
  return informer(kind).items.get(`${namespace || ""}/${name}`);
}

/** Call `fn(changedKindIds)` after each batch of changes; answers an unsubscribe function. */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The watched kinds and their states, for the connection indicator. */
export function states() {
  return [...informers.values()].filter((i) => i.users > 0).map((i) => ({ kind: i.kind, state: i.state, error: i.error }));
}
