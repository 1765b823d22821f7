/**
 * An attempt whose connect failed sends its bodiless request once to another endpoint, not as a
 * retry (the route here has no retry policy): through a real sidecar, one endpoint refusing.
 */
import { request } from 'undici';
import { freePort, httpRoute, nodeBody, startUpstream, startWith, staticCluster, type Running, type Upstream } from '../harness';

let app: Upstream;
let caller: Running;
beforeAll(async () => {
  app = await startUpstream('orders');
  caller = await startWith(
    nodeBody({
      services: [{ name: 'orders.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/r', { 'orders:8080': 1 })] }] }],
      clusters: [staticCluster('orders:8080', [await freePort(), app.port])],
    }),
    { randomSeed: 5 },
  );
});
afterAll(async () => {
  await caller.close();
  await app.close();
});

test('requests without a body that meet a refused connect are answered by the other endpoint, without retries', async () => {
  const egress = caller.handle.ports.egress!;
  const send = async (): Promise<number> => {
    const res = await request(`http://127.0.0.1:${egress}/x`, { headers: { host: 'orders.demo.local' } });
    await res.body.dump();
    return res.statusCode;
  };
  const statuses = await Promise.all(Array.from({ length: 10 }, send));
  expect(statuses).toEqual(Array(10).fill(200));
  const cluster = caller.handle.store.current!.clusters.get('orders:8080')!;
  expect(cluster.stats.connectFailures).toBeGreaterThan(0);
  expect(cluster.stats.retries).toBe(0);
});

test('a request with a body is not sent again: its connect failure is the answer', async () => {
  // A fresh sidecar: the shared one has already taken the refusing endpoint out of rotation.
  const dead = await startWith(
    nodeBody({
      services: [{ name: 'orders.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/r', { 'orders:8080': 1 })] }] }],
      clusters: [staticCluster('orders:8080', [await freePort(), app.port])],
    }),
    { randomSeed: 5 },
  );
  try {
    const egress = dead.handle.ports.egress!;
    const statuses: number[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await request(`http://127.0.0.1:${egress}/x`, { method: 'POST', body: 'payload', headers: { host: 'orders.demo.local' } });
      await res.body.dump();
      statuses.push(res.statusCode);
    }
    // Round robin sends one of the first two to the refusing endpoint: that one fails (503); the
    // other goes to the live endpoint (the refusing one is out of rotation by then, if it came first).
    expect(statuses.sort()).toEqual([200, 503]);
  } finally {
    await dead.close();
  }
});
