/**
 * Local app health through a real sidecar: the inbound listener's health check probes a real app,
 * the inbound listener answers callers' checks from that view without reaching the app, the admin
 * port shows it, and a Cloud Map mock sees exactly the status changes, while the sidecar's own
 * readiness stays healthy.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ServiceDiscoveryClient, UpdateInstanceCustomHealthStatusCommand } from '@aws-sdk/client-servicediscovery';
import { agent, eventually, get, nodeBody, startWith, TIMEOUT, type Running } from '../harness';
import { mockSdk, type SdkMock } from '../aws/sdk-mock';

const HEALTH_CHECK = { protocol: 'http' as const, path: '/health', intervalMs: 5_000, timeoutMs: 2_000, healthyThreshold: 2, unhealthyThreshold: 2 };

/** A local app whose health endpoint can be made to fail; it counts what reaches it. */
class App {
  failing = false;
  readonly seen: string[] = [];
  healthProbes = 0;
  server: Server = createServer((req, res) => {
    if (req.headers['user-agent'] === 'weft-health-check') {
      this.healthProbes++;
      res.writeHead(this.failing ? 500 : 200).end();
      return;
    }
    this.seen.push(req.url ?? '');
    res.writeHead(200).end('app');
  });
  listen(): Promise<number> {
    return new Promise((r) => this.server.listen(0, '127.0.0.1', () => r((this.server.address() as AddressInfo).port)));
  }
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

let app: App;
let sidecar: Running;
let cloudMap: SdkMock;
let inbound: number;
let admin: number;

const statuses = () => cloudMap.commandCalls(UpdateInstanceCustomHealthStatusCommand).map((c) => c.args[0].input);
const appHealth = async () => (await get(admin, '/health/app')).json() as unknown as { status: string; checks: { status: string }[]; cloudMap: { reported: string } };

beforeAll(async () => {
  app = new App();
  const appPort = await app.listen();
  const client = new ServiceDiscoveryClient({ region: 'us-east-1' });
  cloudMap = mockSdk(client);
  cloudMap.on(UpdateInstanceCustomHealthStatusCommand).resolves({});
  sidecar = await startWith(
    nodeBody({ name: 'orders', inbound: [{ port: 8080, protocol: 'http', timeout: TIMEOUT, healthCheck: HEALTH_CHECK }] }),
    { appPorts: [String(appPort)], appHealthIntervalMs: 20, cloudMapServiceId: 'srv-orders', cloudMapInstanceId: 'task-1', randomSeed: 7 },
    { cloudMapHealthClient: client },
  );
  inbound = sidecar.handle.ports.inbound!;
  admin = sidecar.handle.ports.admin;
  await eventually(() => sidecar.handle.appHealth.status === 'HEALTHY', 'the app is seen healthy');
});
afterAll(async () => {
  await sidecar.close();
  await Promise.all([app.close(), agent.close()]);
});

test('the inbound listener answers its health path from the cached view: callers never reach the app', async () => {
  for (let i = 0; i < 20; i++) {
    const res = await get(inbound, '/health');
    expect(res.status).toBe(200);
    expect(res.text).toBe('HEALTHY\n');
  }
  expect(app.seen).not.toContain('/health');
  // Only the exact path is answered; everything else goes to the app as before.
  expect((await get(inbound, '/health/deep')).text).toBe('app');
  expect((await get(inbound, '/healthz')).text).toBe('app');
  expect((await get(inbound, '/health', {}, 'POST', 'x')).text).toBe('app');
  expect(app.seen).toEqual(['/health/deep', '/healthz', '/health']);
  expect((await appHealth()).status).toBe('HEALTHY');
  // A healthy app costs Cloud Map nothing: an instance registers HEALTHY.
  expect(statuses()).toEqual([]);
});

test('an app that fails its checks: exactly one UNHEALTHY, then HEALTHY on recovery; readiness stays 200', async () => {
  app.failing = true;
  await eventually(async () => (await get(inbound, '/health')).status === 503, 'callers see 503');
  expect((await get(inbound, '/health')).text).toBe('UNHEALTHY\n');
  expect((await get(admin, '/ready')).status).toBe(200);
  const down = await get(admin, '/health/app');
  expect(down.status).toBe(503);
  expect(down.json()).toMatchObject({ status: 'UNHEALTHY', checks: [{ listenerPort: 8080, protocol: 'http', path: '/health', status: 'UNHEALTHY', lastFailure: 'status 500' }] });
  await eventually(() => statuses().length === 1, 'Cloud Map is told');
  // Many more failed probes change nothing in Cloud Map.
  const probes = app.healthProbes;
  await eventually(() => app.healthProbes >= probes + 5, 'more probes');
  expect(statuses()).toEqual([{ ServiceId: 'srv-orders', InstanceId: 'task-1', Status: 'UNHEALTHY' }]);
  expect((await get(admin, '/ready')).status).toBe(200);

  app.failing = false;
  await eventually(async () => (await get(inbound, '/health')).status === 200, 'callers see 200 again');
  await eventually(() => statuses().length === 2, 'Cloud Map is told again');
  const after = app.healthProbes;
  await eventually(() => app.healthProbes >= after + 5, 'more probes');
  expect(statuses()).toEqual([
    { ServiceId: 'srv-orders', InstanceId: 'task-1', Status: 'UNHEALTHY' },
    { ServiceId: 'srv-orders', InstanceId: 'task-1', Status: 'HEALTHY' },
  ]);
  const stats = (await get(admin, '/stats')).json() as unknown as { ready: boolean; appHealth: { status: string; cloudMap: { reported: string } } };
  expect(stats.ready).toBe(true);
  expect(stats.appHealth).toMatchObject({ status: 'HEALTHY', cloudMap: { reported: 'HEALTHY', updates: 2, failures: 0 } });
});

test('POST /healthcheck/fail sets the custom status UNHEALTHY; /healthcheck/ok restores it', async () => {
  cloudMap.reset();
  cloudMap.on(UpdateInstanceCustomHealthStatusCommand).resolves({});
  expect((await get(admin, '/healthcheck/fail', {}, 'POST')).status).toBe(200);
  await eventually(() => statuses().length === 1, 'Cloud Map is told');
  expect(statuses()).toEqual([{ ServiceId: 'srv-orders', InstanceId: 'task-1', Status: 'UNHEALTHY' }]);
  expect((await get(admin, '/healthcheck/ok', {}, 'POST')).status).toBe(200);
  await eventually(() => statuses().length === 2, 'Cloud Map is told again');
  expect(statuses()[1]).toEqual({ ServiceId: 'srv-orders', InstanceId: 'task-1', Status: 'HEALTHY' });
});

test('a draining sidecar fails callers\' checks: new connections are refused', async () => {
  expect((await get(inbound, '/health')).status).toBe(200);
  expect((await get(admin, '/drain', {}, 'POST')).status).toBe(200);
  await expect(get(inbound, '/health')).rejects.toThrow(/ECONNREFUSED|socket|closed/);
  // The sidecar's own readiness says it drains; the app's health is still reported apart.
  expect((await get(admin, '/ready')).text).toBe('DRAINING\n');
});
