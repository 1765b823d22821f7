/**
 * The cluster's connect-failure state, with real sockets: an endpoint whose connect failed leaves
 * rotation at once, is reconnected to with backoff by the sidecar itself, and returns when a
 * connection is made; a lone endpoint is still picked.
 */
import { createServer, type Server } from 'node:net';
import { ClusterRuntime, type EndpointOutcome } from '../../../proxy/cluster/cluster-runtime';
import { ClusterSchema } from '../../../proxy/contracts';
import type { DiscoveredEndpoint } from '../../../proxy/endpoints/endpoint-source';
import type { Endpoint } from '../../../proxy/endpoints/endpoint';
import { seededRandom } from '../../../proxy/seeded-random';
import { eventually } from '../harness';
import { ManualSource } from '../fixtures/manual-endpoint-source';

const def = ClusterSchema.parse({ name: 'orders:8080', virtualNode: 'orders', port: 8080, protocol: 'http', discovery: { type: 'cloudMap', namespaceName: 'demo.local', serviceName: 'orders' } });
const ep = (id: string, port: number): DiscoveredEndpoint => ({ id, address: '127.0.0.1', port, zone: undefined, weight: 1, healthy: true });
const ctx = { headers: {}, sourceIp: '127.0.0.1' };

async function listen(port = 0): Promise<Server> {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return server;
}
const portOf = (s: Server): number => (s.address() as { port: number }).port;
const close = (s: Server): Promise<void> => new Promise((r) => s.close(() => r()));

function connectFailed(endpoint: Endpoint): EndpointOutcome {
  return { endpoint, status: 0, failure: 'connect', startedAt: 0, endedAt: 0, responseBytes: 0 };
}
const describeOf = (runtime: ClusterRuntime, id: string) => (runtime.describe().endpoints as { id: string; unhealthy: string[]; connect?: { failing: boolean; failures: number } }[]).find((e) => e.id === id);

test('a refused connect takes the endpoint out of rotation until a reconnect succeeds; a response resets the count', async () => {
  const live = await listen();
  const gone = await listen();
  const gonePort = portOf(gone);
  await close(gone);
  const source = new ManualSource();
  const runtime = new ClusterRuntime(def, 'k', undefined, source, undefined, seededRandom(3));
  try {
    source.push([ep('live', portOf(live)), ep('gone', gonePort)]);
    const dead = runtime.currentEndpoints.find((e) => e.id === 'gone')!;
    runtime.reportOutcome(connectFailed(dead));
    expect(describeOf(runtime, 'gone')).toMatchObject({ unhealthy: ['connect_failing'], connect: { failing: true, failures: 1 } });
    for (let i = 0; i < 20; i++) expect(runtime.pick(ctx)!.id).toBe('live');
    // The reconnect (after ~1 s) is refused too: the count grows and it stays out.
    await eventually(() => (dead.connectFailures ?? 0) >= 2, 'a refused reconnect', 5_000);
    expect(describeOf(runtime, 'gone')!.unhealthy).toEqual(['connect_failing']);
    // The peer listens again: the next reconnect brings it back.
    const back = await listen(gonePort);
    try {
      await eventually(() => describeOf(runtime, 'gone')!.unhealthy.length === 0, 'the endpoint back in rotation', 10_000);
      expect(dead.connectFailures).toBe(0);
      expect(describeOf(runtime, 'gone')!.connect).toBeUndefined();
      const picked = new Set(Array.from({ length: 4 }, () => runtime.pick(ctx)!.id));
      expect(picked).toEqual(new Set(['live', 'gone']));
    } finally {
      await close(back);
    }
  } finally {
    await runtime.close();
    await close(live);
  }
});

test('a connection made by a request ends the failing state at once', async () => {
  const source = new ManualSource();
  const runtime = new ClusterRuntime(def, 'k', undefined, source, undefined, seededRandom(3));
  source.push([ep('a', 1), ep('b', 2)]);
  const a = runtime.currentEndpoints[0];
  runtime.reportOutcome(connectFailed(a));
  expect(describeOf(runtime, 'a')!.unhealthy).toEqual(['connect_failing']);
  runtime.reportOutcome({ endpoint: a, status: 200, failure: undefined, startedAt: 0, endedAt: 0, responseBytes: 0 });
  expect(describeOf(runtime, 'a')).toMatchObject({ unhealthy: [] });
  expect(describeOf(runtime, 'a')!.connect).toBeUndefined();
  await runtime.close();
});

test('a lone failing endpoint is still picked (panic mode: the state never empties a cluster)', async () => {
  const source = new ManualSource();
  const runtime = new ClusterRuntime(def, 'k', undefined, source, undefined, seededRandom(3));
  source.push([ep('only', 1)]);
  const only = runtime.currentEndpoints[0];
  runtime.reportOutcome(connectFailed(only));
  expect(describeOf(runtime, 'only')!.unhealthy).toEqual(['connect_failing']);
  expect(runtime.pick(ctx)).toBe(only);
  await runtime.close();
});
