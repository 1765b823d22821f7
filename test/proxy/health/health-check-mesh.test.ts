/**
 * Active health checks between real sidecars: the caller checks each endpoint, which is a peer
 * sidecar's inbound listener, over the same mTLS as its traffic; the peers pass the check on to
 * their apps. Intervals are scaled down with WEFT_HEALTH_CHECK_SCALE_PERCENT.
 */
import { createServer, type Server } from 'node:http';
import { agent, eventually, get, httpRoute, nodeBody, staticCluster, startWith, TIMEOUT, type Running } from '../harness';
import { TestPki } from '../tls/test-pki';

const A_ID = 'spiffe://weft.test/ns/demo/sa/a';
const B_ID = 'spiffe://weft.test/ns/demo/sa/b';
const pki = new TestPki();

interface App {
  server: Server;
  port: number;
  healthy: boolean;
  /** Requests other than health checks. */
  traffic: number;
  checks: number;
}

async function startApp(): Promise<App> {
  const app = { healthy: true, traffic: 0, checks: 0 } as App;
  app.server = createServer((req, res) => {
    if (req.url === '/health') {
      app.checks++;
      res.writeHead(app.healthy ? 200 : 503).end();
    } else {
      app.traffic++;
      res.writeHead(200).end('ok');
    }
  });
  await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', r));
  app.port = (app.server.address() as { port: number }).port;
  return app;
}

const apps: App[] = [];
const running: Running[] = [];
let a: Running;
let inboundPorts: number[];

beforeAll(async () => {
  const meshCa = pki.ca('mesh-ca');
  const aDir = pki.leaf('a', A_ID, meshCa);
  const bDir = pki.leaf('b', B_ID, meshCa);
  apps.push(await startApp(), await startApp());
  const strict = { mode: 'STRICT' as const, certificate: { mesh: true as const }, validation: { trust: { mesh: true as const }, subjectAlternativeNames: [A_ID] } };
  for (const app of apps) {
    const inbound = [{ port: 8080, protocol: 'http' as const, tls: strict, timeout: TIMEOUT }];
    running.push(await startWith(nodeBody({ name: 'b', inbound }), { certSource: `file:${bDir}`, appPorts: [String(app.port)] }));
  }
  inboundPorts = running.map((r) => r.handle.ports.inbound!);
  const mtls = { mode: 'MUTUAL' as const, certificate: { mesh: true as const }, trust: { mesh: true as const }, subjectAlternativeNames: [B_ID] };
  const healthCheck = { protocol: 'http' as const, path: '/health', intervalMs: 5_000, timeoutMs: 30_000, healthyThreshold: 2, unhealthyThreshold: 2 };
  a = await startWith(
    nodeBody({
      name: 'a',
      services: [{ name: 'b.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('b/all', { 'b:8080': 1 })] }] }],
      clusters: [staticCluster('b:8080', inboundPorts, { tls: mtls, healthCheck })],
    }),
    { certSource: `file:${aDir}`, healthCheckScalePercent: 1 },
  );
  running.push(a);
});
afterAll(async () => {
  await Promise.all(running.map((r) => r.close()));
  for (const app of apps) app.server.closeAllConnections();
  await Promise.all([...apps.map((app) => new Promise((r) => app.server.close(r))), agent.close()]);
});

async function checksHealthy(): Promise<boolean[]> {
  const res = (await get(a.handle.ports.admin, '/clusters')).json() as unknown as { clusters: { name: string; endpoints: { port: number; healthCheck: { healthy: boolean } }[] }[] };
  const endpoints = res.clusters.find((c) => c.name === 'b:8080')!.endpoints;
  return inboundPorts.map((p) => endpoints.find((e) => e.port === p)!.healthCheck.healthy);
}

const send = async (n: number) => {
  for (let i = 0; i < n; i++) {
    const res = await get(a.handle.ports.egress!, '/work', { host: 'b.demo.local' });
    expect([res.status, res.status === 200 ? '' : res.text]).toEqual([200, '']);
  }
};
const traffic = () => apps.map((app) => app.traffic);

test('checks reach each peer over mTLS, take a failing endpoint out of rotation and put it back', async () => {
  await eventually(async () => (await checksHealthy()).every(Boolean), 'both endpoints to pass their first check');
  expect(apps.every((app) => app.checks > 0)).toBe(true);

  apps[1].healthy = false;
  await eventually(async () => !(await checksHealthy())[1], 'the second endpoint to fail its checks');
  const before = traffic();
  await send(10);
  expect(traffic()).toEqual([before[0] + 10, before[1]]);

  apps[1].healthy = true;
  await eventually(async () => (await checksHealthy())[1], 'the second endpoint to pass again');
  const back = traffic();
  await send(10);
  expect(traffic()[1]).toBeGreaterThan(back[1]);
});

test('panic mode: with every endpoint failing its checks, traffic still goes to all of them', async () => {
  apps[0].healthy = false;
  apps[1].healthy = false;
  await eventually(async () => (await checksHealthy()).every((h) => !h), 'both endpoints to fail their checks');
  const before = traffic();
  await send(10);
  const after = traffic();
  expect(after[0]).toBeGreaterThan(before[0]);
  expect(after[1]).toBeGreaterThan(before[1]);
  const stats = (await get(a.handle.ports.admin, '/stats')).json() as unknown as { clusters: Record<string, { healthChecks: { attempts: number; failures: number } }> };
  expect(stats.clusters['b:8080'].healthChecks.failures).toBeGreaterThanOrEqual(4);
});
