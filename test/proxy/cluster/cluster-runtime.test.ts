import type { H1Upstream } from '../../../proxy/cluster/h1-upstream';
import { SERVER_KEEP_ALIVE_MS } from '../../../proxy/h1/server-connection';
import { ClusterRuntime } from '../../../proxy/cluster/cluster-runtime';
import { seededRandom } from '../../../proxy/seeded-random';
import { ClusterSchema } from '../../../proxy/contracts';
import type { DiscoveredEndpoint } from '../../../proxy/endpoints/endpoint-source';
import { EJECTED, UNHEALTHY_CHECKS, UNHEALTHY_DISCOVERY } from '../../../proxy/endpoints/endpoint';
import { ManualSource } from '../fixtures/manual-endpoint-source';

const ep = (id: string, port: number, weight = 1): DiscoveredEndpoint => ({ id, address: '127.0.0.1', port, zone: undefined, weight, healthy: true });

const cluster = ClusterSchema.parse({
  name: 'orders:8080',
  virtualNode: 'orders',
  port: 8080,
  protocol: 'http',
  discovery: { type: 'cloudMap', namespaceName: 'demo.local', serviceName: 'orders' },
  connectionPool: { maxRequests: 2, maxConnections: 1, maxPendingRequests: 1 },
});

test('endpoint updates keep in-flight counts of endpoints that stay, and drop the rest', async () => {
  const source = new ManualSource();
  const runtime = new ClusterRuntime(cluster, 'k', undefined, source, undefined);
  source.push([ep('i-1', 1001), ep('i-2', 1002)]);
  const picked = runtime.pick({ headers: {}, sourceIp: '127.0.0.1' })!;
  runtime.begin(picked);
  source.push([ep(picked.id, picked.port, 3), ep('i-3', 1003)]);
  const described = runtime.describe().endpoints as { id: string; active: number; weight: number }[];
  expect(described.map((e) => e.id).sort()).toEqual([picked.id, 'i-3'].sort());
  expect(described.find((e) => e.id === picked.id)).toMatchObject({ active: 1, weight: 3 });
  runtime.end(picked);
  expect(runtime.stats.active).toBe(0);
  await runtime.close();
  expect(source.stopped).toBe(true);
});

test('the circuit breaker opens at maxRequests, or when one endpoint queue is full', () => {
  const source = new ManualSource();
  const runtime = new ClusterRuntime(cluster, 'k', undefined, source, undefined);
  source.push([ep('i-1', 1001)]);
  const e = runtime.pick({ headers: {}, sourceIp: '127.0.0.1' })!;
  expect(runtime.overloaded(e)).toBe(false);
  runtime.begin(e); // one on the connection
  expect(runtime.overloaded(e)).toBe(false);
  runtime.begin(e); // one pending: the queue (maxPendingRequests 1) and maxRequests (2) are both full
  expect(runtime.overloaded(e)).toBe(true);
  void runtime.close();
});

test('pooled connections to peers idle out before the peer sidecar closes them', async () => {
  const source = new ManualSource();
  const runtime = new ClusterRuntime({ ...cluster, idleTimeoutMs: 300_000 }, 'k', undefined, source, undefined);
  source.push([ep('i-1', 1001)]);
  const pool = runtime.pool(runtime.pick({ headers: {}, sourceIp: '127.0.0.1' })!) as H1Upstream;
  expect(pool.opts.idleTimeoutMs).toBeLessThan(SERVER_KEEP_ALIVE_MS);
  const short = new ClusterRuntime({ ...cluster, idleTimeoutMs: 2_000 }, 'k', undefined, source, undefined);
  source.push([ep('i-1', 1001)]);
  expect((short.pool(short.pick({ headers: {}, sourceIp: '127.0.0.1' })!) as H1Upstream).opts.idleTimeoutMs).toBe(2_000);
  await Promise.all([runtime.close(), short.close()]);
});

describe('endpoint health: one bit per source, none overwrites another', () => {
  const picks = (runtime: ClusterRuntime, n = 20) => new Set(Array.from({ length: n }, () => runtime.pick({ headers: {}, sourceIp: '127.0.0.1' })!.id));

  test('an ejection survives discovery updates, including discovery calling the endpoint healthy', () => {
    const source = new ManualSource();
    const runtime = new ClusterRuntime(cluster, 'k', undefined, source, undefined);
    source.push([ep('i-1', 1001), ep('i-2', 1002), ep('i-3', 1003)]);
    const ejected = runtime.currentEndpoints.find((e) => e.id === 'i-2')!;
    runtime.setHealth(ejected, EJECTED, true);
    expect(picks(runtime)).toEqual(new Set(['i-1', 'i-3']));
    source.push([ep('i-1', 1001), ep('i-2', 1002), ep('i-3', 1003)]);
    expect(ejected.health).toBe(EJECTED);
    expect(picks(runtime)).toEqual(new Set(['i-1', 'i-3']));
    expect((runtime.describe().endpoints as { id: string; unhealthy: string[] }[]).find((e) => e.id === 'i-2')!.unhealthy).toEqual(['outlier_ejected']);
  });

  test('discovery setting and clearing its bit leaves the health-check bit alone', () => {
    const source = new ManualSource();
    const runtime = new ClusterRuntime(cluster, 'k', undefined, source, undefined);
    source.push([ep('i-1', 1001), ep('i-2', 1002), ep('i-3', 1003)]);
    const e = runtime.currentEndpoints.find((x) => x.id === 'i-3')!;
    runtime.setHealth(e, UNHEALTHY_CHECKS, true);
    source.push([ep('i-1', 1001), ep('i-2', 1002), { ...ep('i-3', 1003), healthy: false }]);
    expect(e.health).toBe(UNHEALTHY_CHECKS | UNHEALTHY_DISCOVERY);
    source.push([ep('i-1', 1001), ep('i-2', 1002), ep('i-3', 1003)]);
    expect(e.health).toBe(UNHEALTHY_CHECKS);
    runtime.setHealth(e, UNHEALTHY_CHECKS, false);
    expect(e.health).toBe(0);
    expect(picks(runtime)).toContain('i-3');
  });

  test('outcomes reach every observer', () => {
    const source = new ManualSource();
    const runtime = new ClusterRuntime(cluster, 'k', undefined, source, undefined);
    source.push([ep('i-1', 1001)]);
    const seen: string[] = [];
    runtime.observe((c, o) => seen.push(`${c.name} ${o.endpoint?.id} ${o.status} ${o.failure ?? '-'}`));
    const e = runtime.currentEndpoints[0];
    runtime.reportOutcome({ endpoint: e, status: 503, failure: undefined, startedAt: 0, endedAt: 1, responseBytes: 10 });
    runtime.reportOutcome({ endpoint: e, status: 0, failure: 'connect', startedAt: 1, endedAt: 2, responseBytes: 0 });
    expect(seen).toEqual(['orders:8080 i-1 503 -', 'orders:8080 i-1 0 connect']);
  });
});

test('the balancer draws from the random source it is given, so a seeded sidecar balances the same way each run', async () => {
  const sequence = async (seed: number): Promise<string[]> => {
    const source = new ManualSource();
    const runtime = new ClusterRuntime({ ...cluster, loadBalancer: { ...cluster.loadBalancer, policy: 'RANDOM' } }, 'k', undefined, source, undefined, seededRandom(seed));
    source.push([ep('i-1', 1001), ep('i-2', 1002), ep('i-3', 1003)]);
    const ids = Array.from({ length: 30 }, () => runtime.pick({ headers: {}, sourceIp: '127.0.0.1' })!.id);
    await runtime.close();
    return ids;
  };
  const first = await sequence(7);
  expect(new Set(first).size).toBe(3);
  expect(await sequence(7)).toEqual(first);
  expect(await sequence(8)).not.toEqual(first);
});
