/**
 * Local app health in a real sidecar process (the built bundle), against a Cloud Map stand-in
 * reached through AWS_ENDPOINT_URL: a local app that stops answering its checks causes exactly
 * one UpdateInstanceCustomHealthStatus UNHEALTHY, then one HEALTHY when it recovers, while the
 * sidecar's own readiness (the ECS container check) stays 200.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { agent, eventually, get, nodeBody, TIMEOUT } from '../harness';
import { startSidecarProcess, type SidecarProcess } from '../hardening/sidecar-process';

const HEALTH_CHECK = { protocol: 'http' as const, path: '/health', intervalMs: 5_000, timeoutMs: 2_000, healthyThreshold: 2, unhealthyThreshold: 2 };

let failing = false;
let probes = 0;
let app: Server;
const updates: { target: string; body: Record<string, unknown> }[] = [];
let cloudMap: Server;
let sidecar: SidecarProcess;

const listen = (s: Server) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));

beforeAll(async () => {
  app = createServer((_req, res) => {
    probes++;
    res.writeHead(failing ? 500 : 200).end();
  });
  cloudMap = createServer((req, res) => {
    let text = '';
    req.on('data', (d) => (text += d));
    req.on('end', () => {
      updates.push({ target: String(req.headers['x-amz-target']), body: JSON.parse(text || '{}') as Record<string, unknown> });
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end('{}');
    });
  });
  const [appPort, cloudMapPort] = await Promise.all([listen(app), listen(cloudMap)]);
  sidecar = await startSidecarProcess(
    nodeBody({ name: 'orders', inbound: [{ port: 8080, protocol: 'http', timeout: TIMEOUT, healthCheck: HEALTH_CHECK }] }),
    ['--app-ports', String(appPort), '--app-health-interval-ms', '20', '--cloud-map-service-id', 'srv-orders', '--cloud-map-instance-id', 'task-1', '--random-seed', '3'],
    { AWS_ENDPOINT_URL: `http://127.0.0.1:${cloudMapPort}`, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' },
  );
}, 30_000);
afterAll(async () => {
  await sidecar?.stop();
  app.closeAllConnections();
  await Promise.all([new Promise((r) => app.close(r)), new Promise((r) => cloudMap.close(r)), agent.close()]);
});

test('exactly one UNHEALTHY, then HEALTHY; readiness stays 200 throughout', async () => {
  const admin = sidecar.ports.admin;
  const appStatus = async () => ((await get(admin, '/health/app')).json() as unknown as { status: string }).status;
  await eventually(async () => (await appStatus()) === 'HEALTHY', 'the app is seen healthy');
  expect(updates).toEqual([]);

  failing = true;
  await eventually(() => updates.length === 1, 'Cloud Map is told UNHEALTHY');
  expect((await get(admin, '/ready')).status).toBe(200);
  expect((await get(sidecar.ports.inbound, '/health')).status).toBe(503);
  let from = probes;
  await eventually(() => probes >= from + 10, 'more failing probes');
  expect(updates).toHaveLength(1);

  failing = false;
  await eventually(() => updates.length === 2, 'Cloud Map is told HEALTHY');
  from = probes;
  await eventually(() => probes >= from + 10, 'more passing probes');
  expect((await get(admin, '/ready')).status).toBe(200);
  expect(updates).toEqual([
    { target: 'Route53AutoNaming_v20170314.UpdateInstanceCustomHealthStatus', body: { ServiceId: 'srv-orders', InstanceId: 'task-1', Status: 'UNHEALTHY' } },
    { target: 'Route53AutoNaming_v20170314.UpdateInstanceCustomHealthStatus', body: { ServiceId: 'srv-orders', InstanceId: 'task-1', Status: 'HEALTHY' } },
  ]);
  expect(sidecar.events().filter((e) => e.event === 'app_health_reported').map((e) => e.status)).toEqual(['UNHEALTHY', 'HEALTHY']);
});
