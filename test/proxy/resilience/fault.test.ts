/**
 * Fault injection through a real sidecar on real sockets: a seeded 10% abort, a delay that the
 * route's timeout does not cut (Istio: a route with a fault has no timeout), a delayed request
 * whose client leaves, and a gRPC abort answered as a trailers-only status.
 */
import { request as httpRequest } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import type { CompletionRecord } from '../../../proxy/exchange/record';
import { Echo, type EchoClient } from '../grpc/echo-service';
import { agent, eventually, get, httpRoute, nodeBody, startUpstream, startWith, staticCluster, TIMEOUT, type ConfigBody, type Running, type Upstream } from '../harness';

type Route = ConfigBody['outbound']['services'][number]['listeners'][number]['routes'][number];

let app: Upstream;
let sidecar: Running;
const records: CompletionRecord[] = [];

const oneSecond = { perRequestMs: 1_000, idleMs: 300_000 };

beforeAll(async () => {
  app = await startUpstream('orders');
  const grpcRoute = {
    protocol: 'grpc',
    name: 'echo/aborted',
    priority: 0,
    match: { serviceName: 'weft.test.Echo' },
    action: { weightedTargets: [{ cluster: 'orders:8080', weight: 1 }] },
    retryPolicy: { maxRetries: 0, perTryTimeoutMs: 0 },
    timeout: TIMEOUT,
    fault: { abort: { percentage: 100, grpcStatus: 14 } },
  } as Route;
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
                httpRoute('orders/abort', { 'orders:8080': 1 }, { path: { prefix: '/abort' } }, { fault: { abort: { percentage: 10, httpStatus: 418 } } }),
                httpRoute('orders/delay', { 'orders:8080': 1 }, { path: { prefix: '/delay' } }, { timeout: oneSecond, fault: { delay: { percentage: 100, fixedDelayMs: 2_000 } } }),
                httpRoute('orders/plain', { 'orders:8080': 1 }, { path: { prefix: '/' } }, { priority: 1 }),
              ],
            },
          ],
        },
        { name: 'echo.demo.local', listeners: [{ port: 8080, protocol: 'grpc', routes: [grpcRoute] }] },
      ],
      clusters: [staticCluster('orders:8080', [app.port])],
    }),
    { randomSeed: 20261205 },
    { onRecord: (r) => records.push(r) },
  );
});

afterAll(async () => {
  await sidecar.close();
  await Promise.all([app.close(), agent.close()]);
});

const recordsOf = (prefix: string) => records.filter((r) => r.path.startsWith(prefix));

test('a 10% abort fault answers its status to 10% ± 2% of 5,000 requests, flagged FI, the rest reach the app', async () => {
  const total = 5_000;
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      const res = await get(sidecar.handle.ports.egress!, `/abort/${i}`, { host: 'orders.demo.local' });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 418) expect(res.text).toBe('fault filter abort');
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const aborted = statuses.get(418) ?? 0;
  expect(aborted + (statuses.get(200) ?? 0)).toBe(total);
  expect(aborted / total).toBeGreaterThanOrEqual(0.08);
  expect(aborted / total).toBeLessThanOrEqual(0.12);
  await eventually(() => recordsOf('/abort/').length === total, 'every record');
  expect(recordsOf('/abort/').filter((r) => r.flags === 'FI' && r.status === 418 && r.attempts === 0)).toHaveLength(aborted);
  expect(app.seen.filter((s) => s.url.startsWith('/abort/'))).toHaveLength(total - aborted);
}, 60_000);

test("a 2 s delay fault is not cut by the route's 1 s timeout: the request is answered, flagged DI", async () => {
  const res = await get(sidecar.handle.ports.egress!, '/delay/slow', { host: 'orders.demo.local' });
  expect(res.status).toBe(200);
  expect(res.json().url).toBe('/delay/slow');
  await eventually(() => recordsOf('/delay/slow').length === 1, 'the record');
  expect(recordsOf('/delay/slow')[0]).toMatchObject({ status: 200, flags: 'DI', attempts: 1 });
});

test('a delayed request whose client leaves ends at once with one record (DI, DC) and never reaches the app', async () => {
  const port = sidecar.handle.ports.egress!;
  const req = httpRequest({ host: '127.0.0.1', port, path: '/delay/gone', headers: { host: 'orders.demo.local' } });
  req.on('error', () => undefined);
  req.end();
  await eventually(() => sidecar.handle.stats.egress.active === 1, 'the request held by the delay');
  req.destroy();
  await eventually(() => recordsOf('/delay/gone').length === 1, 'the record');
  expect(recordsOf('/delay/gone')[0]).toMatchObject({ status: 0, flags: 'DI,DC', attempts: 0 });
  expect(sidecar.handle.stats.egress.active).toBe(0);
  // A later request on the same route is answered only after the cut one's delay would have fired.
  const after = await get(port, '/delay/after', { host: 'orders.demo.local' });
  expect(after.status).toBe(200);
  expect(app.seen.some((s) => s.url === '/delay/gone')).toBe(false);
  expect(recordsOf('/delay/gone')).toHaveLength(1);
});

test('a gRPC abort fault answers the configured grpc-status as a trailers-only response', async () => {
  const client = new Echo(`127.0.0.1:${sidecar.handle.ports.egress!}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'echo.demo.local:8080' }) as unknown as EchoClient;
  try {
    const err = await new Promise<grpc.ServiceError | null>((resolve) => client.Say({ message: 'hi' }, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (e) => resolve(e)));
    expect(err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(err?.details).toBe('fault filter abort');
  } finally {
    client.close();
  }
  await eventually(() => recordsOf('/weft.test.Echo/Say').length === 1, 'the record');
  expect(recordsOf('/weft.test.Echo/Say')[0]).toMatchObject({ status: 200, grpcStatus: 14, flags: 'FI', attempts: 0 });
});
