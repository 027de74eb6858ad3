// flatnet's TypeScript client: the generated SDK (src/gen, by @hey-api/openapi-ts from
// openapi/openapi.json) plus a configured client and a typed watch. Hand-written; kept by
// scripts/gen-clients.sh.
export * from './gen';
export { watch, collectionPath, WatchError } from './watch';
export type { TypedWatchEvent, WatchOptions, WatchedKind } from './watch';

import { createClient, createConfig } from './gen/client';
import type { Client } from './gen/client';

export type { Client };

export interface FlatnetOptions {
  /** The API server, for example `https://127.0.0.1:8080`. */
  baseUrl: string;
  /** The bearer token (the admin, viewer or a node token); every request but the health checks needs one. */
  token?: string;
  /**
   * The fetch to use (default: the global one). TLS lives here: the API server speaks HTTPS
   * with the cluster's own CA (DATA_DIR/ca.crt). On Node, either start with
   * `NODE_EXTRA_CA_CERTS=ca.crt` (the global fetch then trusts it) or pass a fetch whose agent
   * trusts that CA (an undici `Agent({ connect: { ca } })` as `dispatcher`); browsers trust
   * what the page trusts.
   */
  fetch?: typeof fetch;
}

/** A client for one API server, to pass as `client` to the SDK's functions and to `watch`. */
export function flatnetClient(options: FlatnetOptions): Client {
  return createClient(
    createConfig({
      baseUrl: options.baseUrl,
      auth: options.token,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    }),
  );
}
