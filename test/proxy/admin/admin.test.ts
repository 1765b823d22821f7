import { agent, get, httpRoute, nodeBody, startUpstream, startWith, staticCluster, eventually, type Running, type Upstream } from '../harness';

let app: Upstream;
let sidecar: Running;
let admin: number;
let egress: number;

const body = (targets: Record<string, number>) =>
  nodeBody({
    services: [{ name: 'orders.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/r', targets)] }] }],
    clusters: [staticCluster('orders:8080', [app.port])],
  });

beforeAll(async () => {
  app = await startUpstream('orders');
  sidecar = await startWith(body({ 'orders:8080': 1 }));
  admin = sidecar.handle.ports.admin;
  egress = sidecar.handle.ports.egress!;
});
afterAll(async () => {
  await sidecar.close();
  await Promise.all([app.close(), agent.close()]);
});

const stats = async () => (await get(admin, '/stats')).json() as unknown as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

test('/ready and /live answer 200 when configured', async () => {
  expect((await get(admin, '/ready')).status).toBe(200);
  expect((await get(admin, '/live')).status).toBe(200);
});

test('/stats counts requests, responses by class and per cluster, with the config version', async () => {
  await get(egress, '/', { host: 'orders.demo.local' });
  await get(egress, '/', { host: 'unknown.example' });
  const s = await stats();
  expect(s.config.version).toBe(sidecar.handle.store.current!.version);
  expect(s.config.lastError).toBeNull();
  expect(s.listeners.egress.requests).toBeGreaterThanOrEqual(2);
  expect(s.listeners.egress.responses['2xx']).toBeGreaterThanOrEqual(1);
  expect(s.listeners.egress.responses['4xx']).toBeGreaterThanOrEqual(1);
  expect(s.clusters['orders:8080'].requests).toBeGreaterThanOrEqual(1);
  expect(s.egress.denied).toBeGreaterThanOrEqual(1);
});

test('/clusters lists endpoints with health and in-flight counts', async () => {
  const res = (await get(admin, '/clusters')).json() as unknown as { clusters: { name: string; endpoints: { port: number; healthy: boolean; active: number }[] }[] };
  const orders = res.clusters.find((c) => c.name === 'orders:8080')!;
  expect(orders.endpoints).toEqual([expect.objectContaining({ port: app.port, healthy: true, active: 0 })]);
});

test('/config_dump shows the config in force', async () => {
  const dump = (await get(admin, '/config_dump')).json() as unknown as { version: string; config: { node: { name: string } } };
  expect(dump.version).toBe(sidecar.handle.store.current!.version);
  expect(dump.config.node.name).toBe('client');
});

test.each(['/drain', '/healthcheck/fail', '/healthcheck/ok'])('GET %s is refused with 405', async (path) => {
  const res = await get(admin, path);
  expect(res.status).toBe(405);
  expect(res.headers['x-weft-error']).toBe('WEFT_ERR_METHOD_NOT_ALLOWED');
  expect(res.headers.allow).toBe('POST');
  expect((await get(admin, '/ready')).status).toBe(200);
});

test('unknown admin paths: 404', async () => {
  expect((await get(admin, '/nope')).headers['x-weft-error']).toBe('WEFT_ERR_ADMIN_NOT_FOUND');
});

test('POST /healthcheck/fail fails readiness until POST /healthcheck/ok', async () => {
  expect((await get(admin, '/healthcheck/fail', {}, 'POST')).status).toBe(200);
  expect((await get(admin, '/ready')).status).toBe(503);
  expect((await get(admin, '/healthcheck/ok', {}, 'POST')).status).toBe(200);
  expect((await get(admin, '/ready')).status).toBe(200);
});

test('a bad config keeps the last good one and shows in admin; a good one then applies', async () => {
  const good = sidecar.handle.store.current!.version;
  sidecar.config.writeText('{"schema": "weft.dev/node-config/v1", "version": "nope"');
  await eventually(async () => (await stats()).config.lastError !== null, 'the bad config to be reported');
  let s = await stats();
  expect(s.config.lastError.code).toBe('WEFT_ERR_NODE_CONFIG_INVALID');
  expect(s.config.version).toBe(good);
  expect((await get(egress, '/', { host: 'orders.demo.local' })).status).toBe(200);

  sidecar.config.write({ ...body({ 'orders:8080': 1 }), node: { kind: 'virtualNode', name: 'payments', spiffeId: 'spiffe://weft.test/ns/demo/sa/payments' } });
  await eventually(async () => (await stats()).config.lastError?.code === 'WEFT_ERR_CONFIG_MISMATCH', 'a config for another node to be refused');
  expect((await stats()).config.version).toBe(good);

  const next = sidecar.config.write(body({ 'orders:8080': 2 }));
  await eventually(async () => (await stats()).config.version === next.version, 'the good config to apply');
  s = await stats();
  expect(s.config.lastError).toBeNull();
  expect((await get(egress, '/', { host: 'orders.demo.local' })).status).toBe(200);
});

test('POST /drain fails readiness and stops the traffic listeners; admin stays up', async () => {
  expect((await get(admin, '/drain', {}, 'POST')).status).toBe(200);
  const ready = await get(admin, '/ready');
  expect(ready.status).toBe(503);
  expect(ready.text).toContain('DRAINING');
  await expect(get(egress, '/', { host: 'orders.demo.local', connection: 'close' })).rejects.toThrow();
});
