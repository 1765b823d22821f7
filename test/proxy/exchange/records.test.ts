/**
 * Every way a request or a TCP connection can end produces exactly one completion record, with
 * what metrics and logs need (status, flags, route, cluster, bytes, peer). Each case waits until
 * the sidecar holds no request in flight, then counts the records its request produced.
 */
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { connect as h2connect } from 'node:http2';
import { WebSocket, WebSocketServer } from 'ws';
import type { CompletionRecord } from '../../../proxy/exchange/record';
import type { PolicyFactory } from '../../../proxy/policy/policy';
import { agent, eventually, get, httpRoute, tcpThroughConnect, nodeBody, startUpstream, startWith, staticCluster, TIMEOUT, type Running, type Upstream } from '../harness';
import { rawExchange } from '../hardening/raw-http';

let app: Upstream;
let slow: Upstream;
let ws: WebSocketServer;
let wsPort: number;
let echo: NetServer;
let sidecar: Running;
let deadPort: number;
const records: CompletionRecord[] = [];

const denyMarked: PolicyFactory = () => ({ name: 'deny-marked', check: (r) => (r.http?.req.headers['x-deny'] ? { status: 403, code: 'WEFT_ERR_TEST_DENIED' } : undefined) });

beforeAll(async () => {
  app = await startUpstream('app');
  slow = await startUpstream('slow', { delayMs: 1_000 });
  ws = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  ws.on('connection', (c) => c.on('message', (m) => c.send(`echo:${m}`)));
  await new Promise((r) => ws.once('listening', r));
  wsPort = (ws.address() as { port: number }).port;
  echo = createNetServer((s) => {
    s.on('error', () => undefined);
    s.on('data', (d) => s.write(d));
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const probe = createNetServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  deadPort = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  const route = (name: string, cluster: string, prefix: string, extra: Record<string, unknown> = {}) => httpRoute(name, { [cluster]: 1 }, { path: { prefix } }, extra);
  sidecar = await startWith(
    nodeBody({
      name: 'client',
      inbound: [{ port: 8080, protocol: 'http', timeout: TIMEOUT }],
      services: [
        {
          name: 'svc.demo.local',
          listeners: [
            {
              port: 8080,
              protocol: 'http',
              routes: [
                route('svc/ok', 'app:8080', '/ok'),
                route('svc/slow', 'slow:8080', '/slow', { priority: 1, timeout: { perRequestMs: 200, idleMs: 300_000 } }),
                route('svc/dead', 'dead:8080', '/dead', { priority: 2 }),
                route('svc/ws', 'ws:8080', '/ws', { priority: 3 }),
                { ...route('svc/moved', 'app:8080', '/moved', { priority: 4 }), action: { redirect: { path: '/ok' } } },
              ],
            },
          ],
        },
        { name: 'echo.demo.local', listeners: [{ port: 7000, protocol: 'tcp', routes: [{ protocol: 'tcp', name: 'echo/r', priority: 0, match: {}, action: { weightedTargets: [{ cluster: 'echo:7000', weight: 1 }] }, retryPolicy: { maxRetries: 0, perTryTimeoutMs: 0 }, timeout: TIMEOUT }] }] },
      ],
      clusters: [
        staticCluster('app:8080', [app.port]),
        staticCluster('slow:8080', [slow.port]),
        staticCluster('dead:8080', [deadPort]),
        staticCluster('ws:8080', [wsPort]),
        staticCluster('echo:7000', [(echo.address() as { port: number }).port], { port: 7000, protocol: 'tcp' }),
      ],
    }),
    { appPorts: [String(app.port)], maxRequestBodyBytes: 1_000 },
    { onRecord: (r) => records.push(r), policy: [denyMarked] },
  );
});

afterAll(async () => {
  await sidecar.close();
  ws.close();
  await Promise.all([app.close(), slow.close(), agent.close(), new Promise((r) => echo.close(r))]);
});

const idle = () => eventually(() => {
  const s = sidecar.handle.stats;
  return s.inbound.active === 0 && s.egress.active === 0 && s.tunnels === 0;
}, 'the sidecar to have nothing in flight');

/** Runs `act`, waits for the sidecar to be idle and for a record, and returns the records it made. */
async function recordsOf(act: () => Promise<unknown>): Promise<CompletionRecord[]> {
  const before = records.length;
  await act();
  await eventually(() => records.length > before, 'a completion record');
  await idle();
  return records.slice(before);
}

const egress = () => sidecar.handle.ports.egress!;
const svc = { host: 'svc.demo.local:8080' };

test.each([
  ['forwarded and answered', () => get(egress(), '/ok/1', svc), { status: 200, flags: '-', route: 'svc/ok', cluster: 'app:8080', listener: 'egress', attempts: 1 }],
  ['no route', () => get(egress(), '/nowhere', svc), { status: 404, flags: 'NR', errorCode: 'WEFT_ERR_NO_ROUTE', attempts: 0 }],
  ['outside the mesh under DROP_ALL', () => get(egress(), '/', { host: 'example.com' }), { status: 404, flags: 'LR', errorCode: 'WEFT_ERR_EGRESS_DENIED' }],
  ['redirected', () => get(egress(), '/moved/x', svc), { status: 301, flags: '-', attempts: 0 }],
  ['upstream unreachable', () => get(egress(), '/dead', svc), { status: 503, flags: 'UF', errorCode: 'WEFT_ERR_UPSTREAM_CONNECT', cluster: 'dead:8080', attempts: 1 }],
  ['route timeout', () => get(egress(), '/slow', svc), { status: 504, flags: 'UT', errorCode: 'WEFT_ERR_UPSTREAM_TIMEOUT', route: 'svc/slow' }],
  ['refused by inbound policy', () => get(sidecar.handle.ports.inbound!, '/in', { host: 'client', 'x-deny': '1' }), { status: 403, flags: 'RBAC', errorCode: 'WEFT_ERR_TEST_DENIED', listener: 'inbound' }],
  ['forwarded inbound to the app', () => get(sidecar.handle.ports.inbound!, '/in/ok', { host: 'client' }), { status: 200, listener: 'inbound', attempts: 1 }],
  ['malformed request (parser refusal)', () => rawExchange(egress(), 'GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n'), { status: 400, flags: 'DPE', errorCode: 'WEFT_ERR_BAD_REQUEST' }],
  [
    'body over the limit (refused at admission)',
    () => rawExchange(egress(), 'POST /ok HTTP/1.1\r\nHost: svc.demo.local:8080\r\nContent-Length: 5000\r\n\r\n', { until: (t) => t.includes('\r\n\r\n') }),
    { status: 413, flags: 'DPE', errorCode: 'WEFT_ERR_REQUEST_BODY_TOO_LARGE' },
  ],
  [
    'client left before the answer',
    () => rawExchange(egress(), 'GET /slow HTTP/1.1\r\nHost: svc.demo.local:8080\r\n\r\n', { quietMs: 50 }),
    { status: 0, flags: 'DC', route: 'svc/slow' },
  ],
] as const)('%s: one record', async (_what, act, expected) => {
  const made = await recordsOf(act);
  expect(made).toHaveLength(1);
  expect(made[0]).toMatchObject({ kind: 'http', listener: 'egress', ...expected });
  expect(made[0].durationMs).toBeGreaterThanOrEqual(0);
});

test('HTTP/2: one record with the protocol and the body bytes', async () => {
  const made = await recordsOf(
    () =>
      new Promise<void>((resolve, reject) => {
        const session = h2connect(`http://127.0.0.1:${egress()}`);
        const stream = session.request({ ':path': '/ok/h2', ':authority': 'svc.demo.local:8080' });
        stream.resume();
        stream.on('end', () => {
          session.close();
          resolve();
        });
        stream.on('error', reject);
      }),
  );
  expect(made).toHaveLength(1);
  expect(made[0]).toMatchObject({ protocol: 'HTTP/2', status: 200, route: 'svc/ok' });
  expect(made[0].bytesSent).toBeGreaterThan(0);
});

test('a WebSocket: one record, when the tunnel closes', async () => {
  const made = await recordsOf(
    () =>
      new Promise<void>((resolve, reject) => {
        const client = new WebSocket(`ws://127.0.0.1:${egress()}/ws`, { headers: { host: 'svc.demo.local:8080' } });
        client.on('open', () => client.send('hi'));
        client.on('message', () => client.close());
        client.on('close', () => resolve());
        client.on('error', reject);
      }),
  );
  expect(made).toHaveLength(1);
  expect(made[0]).toMatchObject({ status: 101, route: 'svc/ws' });
  expect(made[0].bytesReceived).toBeGreaterThan(0);
});

test('a TCP stream through CONNECT: one record with the bytes both ways', async () => {
  const made = await recordsOf(() => tcpThroughConnect(egress()));
  expect(made).toHaveLength(1);
  expect(made[0]).toMatchObject({ kind: 'tcp', protocol: 'TCP', route: 'echo/r', cluster: 'echo:7000', bytesReceived: 4, bytesSent: 4 });
});

test('without tracing in the config, trace headers pass through untouched; the record keeps the client headers and has no trace context', async () => {
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const made = await recordsOf(() => get(egress(), '/ok/trace', { ...svc, traceparent }));
  expect(app.seen[app.seen.length - 1].headers.traceparent).toBe(traceparent);
  expect(made[0]).toMatchObject({ traceId: undefined, spanId: undefined, parentSpanId: undefined, traceSampled: undefined });
  expect(made[0].headers?.traceparent).toBe(traceparent);
  expect(made[0].requestId).toMatch(/^[0-9a-f-]{36}$/);
});
