/**
 * Mirroring through a real sidecar on real sockets: copies carry `-shadow` hosts at the configured
 * share, bodies within the bound are copied and larger ones are not, and a mirror that never
 * answers or that fails leaves the client's answers alone while its copies stay bounded and counted.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { mirrorStats, MIRROR_BODY_LIMIT, MIRROR_MAX_IN_FLIGHT, shadowHost, type MirrorStats } from '../../../proxy/resilience/mirror';
import { agent, eventually, get, httpRoute, nodeBody, startUpstream, startWith, staticCluster, type Running, type Upstream } from '../harness';

let app: Upstream;
let shadow: Upstream;
/** Accepts connections and reads requests, but never answers. */
let silent: Server;
const silentSockets: Socket[] = [];
let deadPort: number;
let sidecar: Running;

beforeAll(async () => {
  [app, shadow] = await Promise.all([startUpstream('orders'), startUpstream('shadow')]);
  silent = createServer((s) => {
    silentSockets.push(s);
    s.on('data', () => undefined);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  deadPort = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  const mirrored = (name: string, prefix: string, cluster: string, percentage: number) =>
    httpRoute(name, { 'orders:8080': 1 }, { path: { prefix } }, { mirror: { cluster, percentage } });
  sidecar = await startWith(
    nodeBody({
      services: [
        {
          name: 'orders.demo.local',
          listeners: [
            {
              port: 8080,
              protocol: 'http',
              routes: [
                mirrored('orders/half', '/half', 'shadow:8080', 50),
                mirrored('orders/all', '/all', 'shadow:8080', 100),
                mirrored('orders/silent', '/silent', 'silent:8080', 100),
                mirrored('orders/dead', '/dead', 'dead:8080', 100),
                httpRoute('orders/faulted', { 'orders:8080': 1 }, { path: { prefix: '/faulted' } }, { mirror: { cluster: 'shadow:8080', percentage: 100 }, fault: { abort: { percentage: 100, httpStatus: 503 } } }),
                httpRoute('orders/plain', { 'orders:8080': 1 }, { path: { prefix: '/' } }, { priority: 1 }),
              ],
            },
          ],
        },
      ],
      clusters: [
        staticCluster('orders:8080', [app.port]),
        staticCluster('shadow:8080', [shadow.port]),
        staticCluster('silent:8080', [(silent.address() as { port: number }).port]),
        staticCluster('dead:8080', [deadPort]),
      ],
    }),
    { randomSeed: 7 },
  );
});

afterAll(async () => {
  await sidecar.close();
  for (const s of silentSockets) s.destroy();
  await Promise.all([app.close(), shadow.close(), new Promise((r) => silent.close(r)), agent.close()]);
});

const statsOf = (cluster: string): MirrorStats => mirrorStats(sidecar.handle.store.current!.clusters.get(cluster)!)!;
const egress = () => sidecar.handle.ports.egress!;

test("Envoy's shadow host: -shadow after the host, before the port", () => {
  expect(shadowHost('orders.demo.local')).toBe('orders.demo.local-shadow');
  expect(shadowHost('orders.demo.local:8080')).toBe('orders.demo.local-shadow:8080');
  expect(shadowHost('[::1]:8080')).toBe('[::1]-shadow:8080');
});

test('a 50% mirror copies about half the requests, each with a -shadow host, and the client gets the app', async () => {
  const total = 1_000;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const res = await get(egress(), `/half/${next++}`, { host: 'orders.demo.local:8080' });
      expect(res.status).toBe(200);
      expect(res.json().name).toBe('orders');
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const stats = statsOf('shadow:8080');
  await eventually(() => stats.inFlight === 0, 'every copy answered');
  const copies = shadow.seen.filter((s) => s.url.startsWith('/half/'));
  expect(copies).toHaveLength(stats.sent);
  expect(stats.answered).toBe(stats.sent);
  expect(stats.sent / total).toBeGreaterThanOrEqual(0.45);
  expect(stats.sent / total).toBeLessThanOrEqual(0.55);
  expect(new Set(copies.map((c) => c.headers.host))).toEqual(new Set(['orders.demo.local-shadow:8080']));
  expect(app.seen.filter((s) => s.url.startsWith('/half/'))).toHaveLength(total);
}, 60_000);

test('a body within the bound is copied whole; a larger one is sent to the app only, and counted', async () => {
  const small = 'x'.repeat(1_000);
  const res = await get(egress(), '/all/small', { host: 'orders.demo.local', 'content-type': 'text/plain' }, 'POST', small);
  expect(res.json().body).toBe(small);
  await eventually(() => shadow.seen.some((s) => s.url === '/all/small'), 'the copy');
  expect(shadow.seen.find((s) => s.url === '/all/small')!.body).toBe(small);

  const before = statsOf('shadow:8080').bodyTooLarge;
  const large = 'y'.repeat(MIRROR_BODY_LIMIT + 1);
  const big = await get(egress(), '/all/large', { host: 'orders.demo.local', 'content-type': 'text/plain' }, 'POST', large);
  expect(big.status).toBe(200);
  expect(big.json().body).toBe(large);
  expect(statsOf('shadow:8080').bodyTooLarge).toBe(before + 1);
  // Copies are sent in order: once a later request's copy has arrived, the large one's never will.
  await get(egress(), '/all/marker', { host: 'orders.demo.local' });
  await eventually(() => shadow.seen.some((s) => s.url === '/all/marker'), 'the marker copy');
  expect(shadow.seen.some((s) => s.url === '/all/large')).toBe(false);
});

test('a body without a length that grows past the bound cuts its copy, not the request', async () => {
  const before = statsOf('shadow:8080');
  const counted = { bodyTooLarge: before.bodyTooLarge, failed: before.failed };
  const chunk = 'z'.repeat(16 * 1024);
  const chunks = Array.from({ length: 8 }, () => chunk);
  const res = await request(`http://127.0.0.1:${egress()}/all/chunked`, { method: 'POST', headers: { host: 'orders.demo.local', 'content-type': 'text/plain' }, body: Readable.from(chunks), dispatcher: agent });
  expect(res.statusCode).toBe(200);
  expect(((await res.body.json()) as { body: string }).body).toBe(chunks.join(''));
  const stats = statsOf('shadow:8080');
  await eventually(() => stats.inFlight === 0, 'the copy over');
  expect(stats.bodyTooLarge).toBe(counted.bodyTooLarge + 1);
  expect(stats.failed).toBe(counted.failed + 1);
});

test('a mirror that never answers: every client is answered, copies in flight stay at the cap, the rest are dropped and counted', async () => {
  const total = MIRROR_MAX_IN_FLIGHT * 3;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const res = await get(egress(), `/silent/${next++}`, { host: 'orders.demo.local' });
      expect(res.status).toBe(200);
      expect(res.json().name).toBe('orders');
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const stats = statsOf('silent:8080');
  expect(stats.inFlight).toBeLessThanOrEqual(MIRROR_MAX_IN_FLIGHT);
  expect(stats.sent + stats.dropped).toBe(total);
  expect(stats.dropped).toBeGreaterThanOrEqual(total - MIRROR_MAX_IN_FLIGHT);
}, 60_000);

test('a mirror that fails does not touch the answer; its failures are counted', async () => {
  for (let i = 0; i < 20; i++) {
    const res = await get(egress(), `/dead/${i}`, { host: 'orders.demo.local', 'content-type': 'text/plain' }, 'POST', `body-${i}`);
    expect(res.status).toBe(200);
    expect(res.json().body).toBe(`body-${i}`);
  }
  const stats = statsOf('dead:8080');
  await eventually(() => stats.failed === 20, 'every copy failed');
  expect(stats).toMatchObject({ sent: 20, inFlight: 0, answered: 0 });
  const admin = await get(sidecar.handle.ports.admin, '/clusters');
  const dead = (admin.json() as unknown as { clusters: { name: string; stats: { mirror?: MirrorStats } }[] }).clusters.find((c) => c.name === 'dead:8080');
  expect(dead?.stats.mirror).toMatchObject({ sent: 20, failed: 20, inFlight: 0 });
});

test("a request the route's fault aborts is not mirrored (the fault layer is outside the mirror)", async () => {
  const sent = statsOf('shadow:8080').sent;
  for (let i = 0; i < 5; i++) {
    const res = await get(egress(), `/faulted/${i}`, { host: 'orders.demo.local' });
    expect(res.status).toBe(503);
    expect(res.text).toBe('fault filter abort');
  }
  // Copies are counted when they are sent, before the client's request goes on: none was.
  expect(statsOf('shadow:8080').sent).toBe(sent);
});
