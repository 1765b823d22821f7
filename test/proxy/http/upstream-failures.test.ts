import { startSidecar } from '../../../proxy/main';
import { silentLogger } from '../../../proxy/log';
import { agent, ConfigDir, eventually, get, httpRoute, nodeBody, startUpstream, startWith, staticCluster, testSettings, type Running, type Upstream } from '../harness';

let slow: Upstream;
let fast: Upstream;
let sidecar: Running;
let closedPort: number;

beforeAll(async () => {
  [slow, fast] = await Promise.all([startUpstream('slow', { delayMs: 1_500 }), startUpstream('fast')]);
  // A port nothing listens on: bind, note, close.
  const probe = await startUpstream('gone');
  closedPort = probe.port;
  await probe.close();
  const svc = (name: string, routes: ReturnType<typeof httpRoute>[]) => ({ name, listeners: [{ port: 8080, protocol: 'http' as const, routes }] });
  sidecar = await startWith(
    nodeBody({
      services: [
        svc('slow.demo.local', [httpRoute('slow/r', { 'slow:8080': 1 }, { path: { prefix: '/' } }, { timeout: { perRequestMs: 200, idleMs: 0 } })]),
        svc('narrow.demo.local', [httpRoute('narrow/r', { 'narrow:8080': 1 })]),
        svc('gone.demo.local', [httpRoute('gone/r', { 'gone:8080': 1 })]),
        svc('moved.demo.local', [{ protocol: 'http', name: 'moved/r', priority: 0, match: { path: { prefix: '/old' } }, action: { redirect: { prefix: '/new' } }, retryPolicy: { maxRetries: 0, perTryTimeoutMs: 0 }, timeout: { perRequestMs: 0, idleMs: 0 } }]),
        svc('ops.demo.local', [
          httpRoute('ops/r', { 'fast:8080': 1 }, { path: { prefix: '/' } }, { headers: { request: { set: [{ name: 'x-route', value: 'ops' }], remove: ['x-drop'] }, response: { add: [{ name: 'x-served-by', value: 'weft' }], remove: ['x-upstream'] } } }),
        ]),
      ],
      clusters: [
        staticCluster('slow:8080', [slow.port]),
        staticCluster('narrow:8080', [slow.port], { connectionPool: { maxRequests: 1 } }),
        staticCluster('gone:8080', [closedPort], { connectTimeoutMs: 2_000 }),
        staticCluster('fast:8080', [fast.port]),
      ],
    }),
    { appPorts: [String(closedPort)] },
  );
});
afterAll(async () => {
  await sidecar.close();
  await Promise.all([slow.close(), fast.close(), agent.close()]);
});

test('the route timeout answers 504 WEFT_ERR_UPSTREAM_TIMEOUT', async () => {
  const res = await get(sidecar.handle.ports.egress!, '/', { host: 'slow.demo.local' });
  expect(res.status).toBe(504);
  expect(res.headers['x-weft-error']).toBe('WEFT_ERR_UPSTREAM_TIMEOUT');
});

test('the cluster circuit breaker answers 503 with x-weft-overloaded', async () => {
  const before = slow.seen.length;
  const first = get(sidecar.handle.ports.egress!, '/first', { host: 'narrow.demo.local' });
  await eventually(() => slow.seen.length > before || sidecar.handle.store.current!.clusters.get('narrow:8080')!.stats.active > 0, 'the first request to be in flight');
  const second = await get(sidecar.handle.ports.egress!, '/second', { host: 'narrow.demo.local' });
  expect(second.status).toBe(503);
  expect(second.headers['x-weft-overloaded']).toBe('true');
  expect(second.headers['x-weft-error']).toBe('WEFT_ERR_OVERLOADED');
  expect((await first).status).toBe(200);
});

test('an endpoint that refuses connections: 503 WEFT_ERR_UPSTREAM_CONNECT', async () => {
  const res = await get(sidecar.handle.ports.egress!, '/', { host: 'gone.demo.local' });
  expect(res.status).toBe(503);
  expect(res.headers['x-weft-error']).toBe('WEFT_ERR_UPSTREAM_CONNECT');
});

test('a local app that is not listening: 503 WEFT_ERR_APP_UNREACHABLE', async () => {
  const res = await get(sidecar.handle.ports.inbound!, '/', { host: 'me' });
  expect(res.status).toBe(503);
  expect(res.headers['x-weft-error']).toBe('WEFT_ERR_APP_UNREACHABLE');
});

test('a redirect route answers with its Location', async () => {
  const res = await get(sidecar.handle.ports.egress!, '/old/thing?q=1', { host: 'moved.demo.local' });
  expect(res.status).toBe(301);
  expect(res.headers.location).toBe('http://moved.demo.local/new/thing?q=1');
});

test('route header rules apply to the request and the response', async () => {
  const res = await get(sidecar.handle.ports.egress!, '/', { host: 'ops.demo.local', 'x-drop': '1', 'x-route': 'client' });
  expect(res.status).toBe(200);
  expect(res.json().headers).toMatchObject({ 'x-route': 'ops' });
  expect(res.json().headers['x-drop']).toBeUndefined();
  expect(res.headers['x-served-by']).toBe('weft');
  expect(res.headers['x-upstream']).toBeUndefined();
});

test('a sidecar whose first config is invalid does not start, with a coded error', async () => {
  const dir = new ConfigDir();
  dir.writeText('{"schema":"weft.dev/node-config/v1"}');
  await expect(startSidecar(testSettings({ config: dir.path }), { logger: silentLogger })).rejects.toMatchObject({ code: 'WEFT_ERR_NODE_CONFIG_INVALID' });
  await expect(startSidecar(testSettings({ config: `${dir.path}.missing` }), { logger: silentLogger })).rejects.toMatchObject({ code: 'WEFT_ERR_CONFIG_UNREADABLE' });
  dir.remove();
});
