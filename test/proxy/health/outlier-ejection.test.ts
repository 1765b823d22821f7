/**
 * Outlier detection through real sockets: a sidecar in front of two endpoints, one of which
 * answers 500 (or refuses connections).
 */
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { agent, eventually, get, httpRoute, nodeBody, startUpstream, startWith, staticCluster, type Running, type Upstream } from '../harness';

let good: Upstream;
let bad: Server;
let badPort: number;
let badHits = 0;

beforeAll(async () => {
  good = await startUpstream('good');
  bad = createServer((_req, res) => {
    badHits++;
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end('broken');
  });
  await new Promise<void>((r) => bad.listen(0, '127.0.0.1', r));
  badPort = (bad.address() as { port: number }).port;
});
afterAll(async () => {
  bad.closeAllConnections();
  await Promise.all([good.close(), new Promise((r) => bad.close(r)), agent.close()]);
});

function body(ports: number[], outlierDetection: Record<string, unknown>) {
  return nodeBody({
    services: [{ name: 'orders.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/all', { 'orders:8080': 1 })] }] }],
    clusters: [staticCluster('orders:8080', ports, { outlierDetection } as never)],
  });
}

interface Described {
  port: number;
  healthy: boolean;
  outlier: { ejected: boolean; ejections: number; ejectionMs: number; ejectionLeftMs: number };
}

async function endpoint(admin: number, port: number): Promise<Described> {
  const res = (await get(admin, '/clusters')).json() as unknown as { clusters: { name: string; endpoints: Described[] }[] };
  return res.clusters.find((c) => c.name === 'orders:8080')!.endpoints.find((e) => e.port === port)!;
}

describe('one of two endpoints answering 500', () => {
  let sidecar: Running;
  beforeAll(async () => {
    sidecar = await startWith(body([good.port, badPort], { consecutive5xx: 3, intervalMs: 500, baseEjectionMs: 1_500, maxEjectionPercent: 50 }));
  });
  afterAll(() => sidecar.close());

  test('is ejected after N errors, gets no traffic while ejected, returns, and a second ejection lasts longer', async () => {
    const egress = sidecar.handle.ports.egress!;
    const admin = sidecar.handle.ports.admin;
    const send = () => get(egress, '/', { host: 'orders.demo.local' });

    // Round robin alternates: three 500s in a row from the bad endpoint take at most six requests.
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await send()).status);
    expect(statuses.filter((s) => s === 500)).toHaveLength(3);
    const first = await endpoint(admin, badPort);
    expect(first).toMatchObject({ healthy: false, outlier: { ejected: true, ejections: 1, ejectionMs: 1_500 } });

    const hitsAtEjection = badHits;
    for (let i = 0; i < 10; i++) expect((await send()).status).toBe(200);
    // Still within the ejection: none of those reached it.
    if ((await endpoint(admin, badPort)).outlier.ejected) expect(badHits).toBe(hitsAtEjection);

    await eventually(async () => !(await endpoint(admin, badPort)).outlier.ejected, 'the ejected endpoint to return');
    for (let i = 0; i < 6 && !(await endpoint(admin, badPort)).outlier.ejected; i++) await send();
    expect(badHits).toBeGreaterThan(hitsAtEjection);
    expect(await endpoint(admin, badPort)).toMatchObject({ outlier: { ejected: true, ejections: 2, ejectionMs: 3_000 } });

    const stats = (await get(admin, '/stats')).json() as unknown as { clusters: Record<string, { outlierDetection: Record<string, number> }> };
    expect(stats.clusters['orders:8080'].outlierDetection).toEqual({ ejectionsConsecutive5xx: 2, ejectionsConsecutiveGatewayErrors: 0, ejectionsOverflow: 0 });
  });
});

test('connection refused counts as a gateway error', async () => {
  const closed = createTcpServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const refusedPort = (closed.address() as { port: number }).port;
  await new Promise((r) => closed.close(r));
  // One gateway error ejects: the cluster's connect-failure state takes the endpoint out of
  // rotation after its first refused connect, so it meets no second one.
  const sidecar = await startWith(body([good.port, refusedPort], { consecutive5xx: 100, consecutiveGatewayErrors: 1, intervalMs: 10_000, baseEjectionMs: 30_000, maxEjectionPercent: 50 }));
  try {
    const egress = sidecar.handle.ports.egress!;
    for (let i = 0; i < 4; i++) await get(egress, '/', { host: 'orders.demo.local' });
    expect(await endpoint(sidecar.handle.ports.admin, refusedPort)).toMatchObject({ healthy: false, outlier: { ejected: true, ejections: 1 } });
    for (let i = 0; i < 10; i++) expect((await get(egress, '/', { host: 'orders.demo.local' })).status).toBe(200);
  } finally {
    await sidecar.close();
  }
});

test('maxEjectionPercent: with both endpoints failing, only one is ejected', async () => {
  const other = createServer((_req, res) => res.writeHead(500).end());
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  const otherPort = (other.address() as { port: number }).port;
  const sidecar = await startWith(body([badPort, otherPort], { consecutive5xx: 2, intervalMs: 10_000, baseEjectionMs: 30_000, maxEjectionPercent: 10 }));
  try {
    const egress = sidecar.handle.ports.egress!;
    for (let i = 0; i < 8; i++) expect((await get(egress, '/', { host: 'orders.demo.local' })).status).toBe(500);
    const admin = sidecar.handle.ports.admin;
    const ejected = [(await endpoint(admin, badPort)).outlier.ejected, (await endpoint(admin, otherPort)).outlier.ejected];
    expect(ejected.filter(Boolean)).toHaveLength(1);
    const stats = (await get(admin, '/stats')).json() as unknown as { clusters: Record<string, { outlierDetection: Record<string, number> }> };
    expect(stats.clusters['orders:8080'].outlierDetection.ejectionsOverflow).toBeGreaterThan(0);
  } finally {
    await sidecar.close();
    other.closeAllConnections();
    await new Promise((r) => other.close(r));
  }
});

test('a config reload that keeps the cluster keeps its ejections', async () => {
  const od = { consecutive5xx: 2, intervalMs: 10_000, baseEjectionMs: 60_000, maxEjectionPercent: 50 };
  const sidecar = await startWith(body([good.port, badPort], od));
  try {
    const egress = sidecar.handle.ports.egress!;
    const admin = sidecar.handle.ports.admin;
    for (let i = 0; i < 4; i++) await get(egress, '/', { host: 'orders.demo.local' });
    expect((await endpoint(admin, badPort)).outlier).toMatchObject({ ejected: true, ejections: 1 });
    const next = body([good.port, badPort], od);
    next.clusters.push(staticCluster('other:8080', [good.port]));
    const applied = sidecar.config.write(next);
    await eventually(() => sidecar.handle.store.current!.version === applied.version, 'the reload to apply');
    expect((await endpoint(admin, badPort)).outlier).toMatchObject({ ejected: true, ejections: 1 });
    for (let i = 0; i < 6; i++) expect((await get(egress, '/', { host: 'orders.demo.local' })).status).toBe(200);
  } finally {
    await sidecar.close();
  }
});
