/** The thresholds of a local app check, counted against a real app's answers. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppHealth, type AppHealthStatus } from '../../../proxy/health/app-health';
import { randomSource } from '../../../proxy/seeded-random';
import { eventually } from '../harness';

const check = { protocol: 'http' as const, path: '/health', intervalMs: 5_000, timeoutMs: 2_000, healthyThreshold: 3, unhealthyThreshold: 2 };

let failing = false;
let probes = 0;
let server: Server;
beforeAll(async () => {
  server = createServer((_req, res) => {
    probes++;
    res.writeHead(failing ? 503 : 200).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

test('the first result decides; then unhealthyThreshold failures and healthyThreshold successes in a row flip it', async () => {
  const changes: { status: AppHealthStatus; probes: number }[] = [];
  const health = new AppHealth({ appHost: '127.0.0.1', random: randomSource(1), intervalOverrideMs: 10, onChange: (status) => changes.push({ status, probes }) });
  const port = (server.address() as AddressInfo).port;
  expect(health.configured).toBe(false);
  health.configure([{ listenerPort: 8080, appPort: port, listener: { port: 8080, protocol: 'http', tls: { mode: 'DISABLED' }, timeout: { perRequestMs: 15_000, idleMs: 300_000 }, healthCheck: check } }]);
  expect(health.configured).toBe(true);
  expect(health.status).toBe('UNKNOWN');
  await eventually(() => health.status === 'HEALTHY', 'healthy');
  expect(changes).toEqual([{ status: 'HEALTHY', probes: 1 }]);

  let from = probes;
  failing = true;
  await eventually(() => health.status === 'UNHEALTHY', 'unhealthy');
  expect(changes[1]).toEqual({ status: 'UNHEALTHY', probes: from + 2 });
  from = probes;
  failing = false;
  await eventually(() => health.status === 'HEALTHY', 'healthy again');
  expect(changes[2]).toEqual({ status: 'HEALTHY', probes: from + 3 });
  expect(health.view().checks[0]).toMatchObject({ listenerPort: 8080, appPort: port, status: 'HEALTHY', consecutiveSuccesses: expect.any(Number), lastFailure: 'status 503' });

  // The same check in a new config keeps its state; removing it forgets the app's health.
  const listener = { port: 8080, protocol: 'http' as const, tls: { mode: 'DISABLED' as const }, timeout: { perRequestMs: 15_000, idleMs: 300_000 } };
  health.configure([{ listenerPort: 8080, appPort: port, listener: { ...listener, healthCheck: check } }]);
  expect(health.status).toBe('HEALTHY');
  health.configure([{ listenerPort: 8080, appPort: port, listener }]);
  expect(health.status).toBe('UNKNOWN');
  expect(health.statusOf(8080)).toBeUndefined();
  health.close();
});
