// The TypeScript client against a live API server: FLATNET_URL and FLATNET_TOKEN say which
// (tests/tests/clients.rs starts one); Node trusts the cluster's CA through
// NODE_EXTRA_CA_CERTS=DATA_DIR/ca.crt. Run: npm test
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';

import { createPod, createService, flatnetClient, listEndpoints, listPod, watch } from '../src';
import type { Pod, Status } from '../src';

const baseUrl = process.env.FLATNET_URL ?? 'https://127.0.0.1:8080';
const token = process.env.FLATNET_TOKEN ?? '';
const namespace = 'default';
const suffix = randomBytes(3).toString('hex');

function pod(name: string, port = 8080): Pod {
  return {
    metadata: { name },
    spec: { containers: [{ name: 'web', command: ['sleep', '60'], ports: [{ containerPort: port }] }] },
  };
}

test('creates a pod and a service, lists endpoints, watches the change', async () => {
  const client = flatnetClient({ baseUrl, token });
  const before = await listPod({ client, path: { namespace }, throwOnError: true });
  const name = `ts-web-${suffix}`;
  const created = await createPod({ client, path: { namespace }, body: pod(name), throwOnError: true });
  assert.equal(created.response.status, 201);
  assert.equal(created.data.metadata.name, name);

  const svc = await createService({
    client,
    path: { namespace },
    body: { metadata: { name: `ts-svc-${suffix}` }, spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] } },
    throwOnError: true,
  });
  assert.ok(svc.data.spec.clusterIP);

  const endpoints = await listEndpoints({ client, path: { namespace }, throwOnError: true });
  assert.ok(endpoints.data.items.some((e) => e.metadata?.name === `ts-svc-${suffix}`));

  let added: Pod | undefined;
  for await (const ev of watch(client, 'Pod', {
    namespace,
    resourceVersion: before.data.metadata.resourceVersion,
    timeoutSeconds: 2,
  })) {
    if (ev.type === 'ADDED' && ev.object.metadata.name === name) {
      added = ev.object;
      break;
    }
  }
  assert.ok(added, 'the watch saw the pod being added');
  assert.equal(added.spec.containers[0].name, 'web');
});

test('a validation error is a typed 422 naming the field', async () => {
  const client = flatnetClient({ baseUrl, token });
  const result = await createPod({ client, path: { namespace }, body: pod(`ts-bad-${suffix}`, 70000) });
  assert.equal(result.response.status, 422);
  const status: Status | undefined = result.error;
  assert.equal(status?.reason, 'Invalid');
  assert.equal(status?.field, 'spec.containers[0].ports[0].containerPort');
});

test('a request without a valid token is a 401, reads too', async () => {
  for (const client of [flatnetClient({ baseUrl }), flatnetClient({ baseUrl, token: 'not-a-token' })]) {
    const result = await createPod({ client, path: { namespace }, body: pod(`ts-anon-${suffix}`) });
    assert.equal(result.response.status, 401);
    assert.equal(result.error?.reason, 'Unauthorized');
    const read = await listPod({ client, path: { namespace } });
    assert.equal(read.response.status, 401);
    assert.equal(read.error?.reason, 'Unauthorized');
  }
});
