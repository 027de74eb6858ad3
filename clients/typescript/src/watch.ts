// Watch streams as async iterators. A watch (`GET …?watch=true`) asked for
// `application/x-ndjson` answers one WatchEvent per line for as long as the stream lasts; the
// generated SDK reads a response whole, so this reads the lines as they come. Works in Node
// (18+) and browsers: fetch, ReadableStream and TextDecoder only.
import type { Client } from './gen/client';
import type { Endpoints, Event, EventType, Node, NodeLease, Pod, Service, Status, WatchEvent } from './gen';

/** The kinds one can watch, by name, with their object types. */
export interface WatchedKind {
  Pod: Pod;
  Service: Service;
  Endpoints: Endpoints;
  Event: Event;
  Node: Node;
  NodeLease: NodeLease;
}

// The collection of each kind: API base path, plural, namespaced (as the kind registry says).
const KINDS: Record<keyof WatchedKind, [string, string, boolean]> = {
  Pod: ['/api/v1', 'pods', true],
  Service: ['/api/v1', 'services', true],
  Endpoints: ['/api/v1', 'endpoints', true],
  Event: ['/api/v1', 'events', true],
  Node: ['/api/v1', 'nodes', false],
  NodeLease: ['/api/v1', 'nodeleases', false],
};

/** One event, typed: the kind's object for ADDED, MODIFIED, DELETED; a Status for ERROR. */
export type TypedWatchEvent<T> =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: T }
  | { type: 'BOOKMARK'; object: { metadata: { resourceVersion: string } } }
  | { type: 'ERROR'; object: Status };

export interface WatchOptions {
  namespace?: string;
  resourceVersion?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** The server ends the stream after this many seconds. */
  timeoutSeconds?: number;
  allowWatchBookmarks?: boolean;
  /** Stop the stream from outside. */
  signal?: AbortSignal;
}

/** The server refused the watch: `status` says why (410 Gone: list again). */
export class WatchError extends Error {
  constructor(
    public readonly statusCode: number,
    public readonly status: Status | undefined,
  ) {
    super(`${statusCode}: ${status?.message ?? 'watch failed'}`);
  }
}

export function collectionPath(kind: keyof WatchedKind, namespace?: string): string {
  const [base, plural, namespaced] = KINDS[kind];
  return namespaced && namespace !== undefined
    ? `${base}/namespaces/${encodeURIComponent(namespace)}/${plural}`
    : `${base}/${plural}`;
}

/** Stream the changes of `kind` until the server ends the stream or the loop breaks. */
export async function* watch<K extends keyof WatchedKind>(
  client: Client,
  kind: K,
  options: WatchOptions = {},
): AsyncGenerator<TypedWatchEvent<WatchedKind[K]>> {
  const config = client.getConfig();
  const params = new URLSearchParams({ watch: 'true' });
  const add = (key: string, value: string | number | boolean | undefined) => {
    if (value !== undefined) params.set(key, String(value));
  };
  add('resourceVersion', options.resourceVersion);
  add('labelSelector', options.labelSelector);
  add('fieldSelector', options.fieldSelector);
  add('timeoutSeconds', options.timeoutSeconds);
  if (options.allowWatchBookmarks) params.set('allowWatchBookmarks', 'true');
  const headers: Record<string, string> = { Accept: 'application/x-ndjson' };
  const token = typeof config.auth === 'function' ? await config.auth({ type: 'http', scheme: 'bearer' }) : config.auth;
  if (token) headers.Authorization = `Bearer ${token}`;
  const doFetch = config.fetch ?? globalThis.fetch;
  const url = `${config.baseUrl ?? ''}${collectionPath(kind, options.namespace)}?${params}`;
  const response = await doFetch(url, { headers, signal: options.signal });
  if (!response.ok || !response.body) {
    let status: Status | undefined;
    try {
      status = (await response.json()) as Status;
    } catch {
      status = undefined;
    }
    throw new WatchError(response.status, status);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (value) buffered += decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) yield toTyped<WatchedKind[K]>(JSON.parse(line) as WatchEvent);
      }
      if (done) break;
    }
    if (buffered.trim()) yield toTyped<WatchedKind[K]>(JSON.parse(buffered) as WatchEvent);
  } finally {
    reader.cancel().catch(() => undefined);
  }
}

function toTyped<T>(ev: WatchEvent): TypedWatchEvent<T> {
  const type: EventType = ev.type;
  return { type, object: ev.object } as unknown as TypedWatchEvent<T>;
}
