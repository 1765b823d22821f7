/**
 * Policy is compiled with the config and swapped with it: a check built from a reloaded config
 * judges the next request on every inbound listener kind (HTTP/1.1, HTTP/2, transparent mode,
 * the gateway, and TCP listeners with what a connection shows). Sidecars on real sockets; the
 * check comes from the embedder's policy seam and reads the config it was built from.
 */
import { connect as h2connect } from 'node:http2';
import { connect as netConnect, createServer as createNetServer, type Server as NetServer } from 'node:net';
import type { ConfigBody } from '../harness';
import type { PolicyFactory } from '../../../proxy/policy/policy';
import { agent, eventually, gatewayBody, get, nodeBody, startUpstream, startWith, TIMEOUT, type Running, type Upstream } from '../harness';

/** Refuses everything while the config's trust domain says so: the verdict comes from the config in force. */
const fromConfig: PolicyFactory = (config, listener) =>
  config.mesh.trustDomain === 'deny.test' ? { name: `deny-${listener}`, check: (r) => ({ status: 403, code: 'WEFT_ERR_TEST_DENIED', body: `denied on ${r.listener} port ${r.port}${r.http ? '' : ' (tcp)'}\n` }) } : undefined;

let app: Upstream;
let tcpApp: NetServer;
const running: Running[] = [];

beforeAll(async () => {
  app = await startUpstream('app');
  tcpApp = createNetServer((s) => {
    s.on('error', () => undefined);
    s.on('data', (d) => s.write(`echo:${d}`));
  });
  await new Promise<void>((r) => tcpApp.listen(0, '127.0.0.1', r));
});

afterAll(async () => {
  await Promise.all(running.map((r) => r.close()));
  await Promise.all([app.close(), agent.close(), new Promise((r) => tcpApp.close(r))]);
});

async function start(body: ConfigBody, overrides: Parameters<typeof startWith>[1] = {}): Promise<Running> {
  const r = await startWith(body, overrides, { policy: [fromConfig], bindGatewayPort: () => 0 });
  running.push(r);
  return r;
}

/** Rewrites the config with another trust domain and waits until the sidecar applied it. */
async function reload(r: Running, body: ConfigBody, trustDomain: string): Promise<void> {
  const before = r.handle.store.current!.version;
  r.config.write({ ...body, mesh: { ...body.mesh, trustDomain } });
  await eventually(() => r.handle.store.current!.version !== before, 'the new config to be applied');
}

function h2get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const session = h2connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const stream = session.request({ ':path': path, ':authority': 'node' });
    let status = 0;
    let body = '';
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('data', (d) => (body += d));
    stream.on('end', () => {
      session.close();
      resolve({ status, body });
    });
    stream.on('error', reject);
  });
}

function tcpExchange(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port }, () => s.write(text));
    let got = '';
    s.on('data', (d) => {
      got += d;
      if (got.includes(text)) s.end();
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve(got));
  });
}

const httpNode = nodeBody({ name: 'node', inbound: [{ port: 8080, protocol: 'http', timeout: TIMEOUT }] });

test.each([
  ['explicit mode', {}],
  ['transparent mode', { transparent: true }],
])('inbound HTTP/1.1 and HTTP/2 (%s): the reloaded config denies the next request', async (_mode, overrides) => {
  const r = await start(httpNode, { appPorts: [String(app.port)], ...overrides });
  const port = r.handle.ports.inbound!;
  expect((await get(port, '/before', { host: 'node' })).status).toBe(200);
  expect((await h2get(port, '/before-h2')).status).toBe(200);
  await reload(r, httpNode, 'deny.test');
  const denied = await get(port, '/after', { host: 'node' });
  expect(denied.status).toBe(403);
  expect(denied.headers['x-weft-error']).toBe('WEFT_ERR_TEST_DENIED');
  expect(denied.text).toBe('denied on inbound port 8080\n');
  expect(await h2get(port, '/after-h2')).toEqual({ status: 403, body: 'denied on inbound port 8080\n' });
  expect(app.seen.some((s) => s.url.startsWith('/after'))).toBe(false);
  // And back: the next config allows again.
  await reload(r, httpNode, 'weft.test');
  expect((await get(port, '/again', { host: 'node' })).status).toBe(200);
});

test('a TCP listener: the reloaded config refuses the next connection (only what a connection shows is offered)', async () => {
  const body = nodeBody({ name: 'node', inbound: [{ port: 9000, protocol: 'tcp', timeout: TIMEOUT }] });
  const r = await start(body, { appPorts: [String((tcpApp.address() as { port: number }).port)] });
  const port = r.handle.ports.inbound!;
  expect(await tcpExchange(port, 'hello')).toBe('echo:hello');
  await reload(r, body, 'deny.test');
  expect(await tcpExchange(port, 'again')).toBe('');
  expect(r.handle.tcpStats.refused.WEFT_ERR_POLICY_DENIED).toBe(1);
});

test('the gateway: the reloaded config denies the next request', async () => {
  const body = gatewayBody(app.port);
  const r = await start(body);
  const port = r.handle.ports.gateway[8443];
  expect((await get(port, '/before', { host: 'www.example.com' })).status).toBe(200);
  await reload(r, body, 'deny.test');
  const denied = await get(port, '/after', { host: 'www.example.com' });
  expect(denied.status).toBe(403);
  expect(denied.text).toBe('denied on gateway port 8443\n');
});
