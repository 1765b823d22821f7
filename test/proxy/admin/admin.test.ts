import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { agent, get, httpRoute, nodeBody, startUpstream, startWith, staticCluster, eventually, type Running, type Upstream } from '../harness';

let app: Upstream;
let sidecar: Running;
let admin: number;
let egress: number;

const body = (targets: Record<string, number>) =>
  nodeBody({
    services: [{ name: 'orders.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/r', targets)] }] }],
    clusters: [staticCluster('orders:8080', [app.port])],
  });

beforeAll(async () => {
  app = await startUpstream('orders');
  sidecar = await startWith(body({ 'orders:8080': 1 }));
  admin = sidecar.handle.ports.admin;
  egress = sidecar.handle.ports.egress!;
});
afterAll(async () => {
  await sidecar.close();
  await Promise.all([app.close(), agent.close()]);
});

const stats = async () => (await get(admin, '/stats')).json() as unknown as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

test('/ready and /live answer 200 when configured', async () => {
  expect((await get(admin, '/ready')).status).toBe(200);
  expect((await get(admin, '/live')).status).toBe(200);
});

test('/stats counts requests, responses by class and per cluster, with the config version', async () => {
  await get(egress, '/', { host: 'orders.demo.local' });
  await get(egress, '/', { host: 'unknown.example' });
  const s = await stats();
  expect(s.config.version).toBe(sidecar.handle.store.current!.version);
  expect(s.config.lastError).toBeNull();
  expect(s.listeners.egress.requests).toBeGreaterThanOrEqual(2);
  expect(s.listeners.egress.responses['2xx']).toBeGreaterThanOrEqual(1);
  expect(s.listeners.egress.responses['4xx']).toBeGreaterThanOrEqual(1);
  expect(s.clusters['orders:8080'].requests).toBeGreaterThanOrEqual(1);
  expect(s.egress.denied).toBeGreaterThanOrEqual(1);
});

test('/clusters lists endpoints with health and in-flight counts', async () => {
  const res = (await get(admin, '/clusters')).json() as unknown as { clusters: { name: string; endpoints: { port: number; healthy: boolean; active: number }[] }[] };
  const orders = res.clusters.find((c) => c.name === 'orders:8080')!;
  expect(orders.endpoints).toEqual([expect.objectContaining({ port: app.port, healthy: true, active: 0 })]);
});

test('/config_dump shows the config in force', async () => {
  const dump = (await get(admin, '/config_dump')).json() as unknown as { version: string; config: { node: { name: string } } };
  expect(dump.version).toBe(sidecar.handle.store.current!.version);
  expect(dump.config.node.name).toBe('client');
});

test.each(['/drain', '/healthcheck/fail', '/healthcheck/ok'])('GET %s is refused with 405', async (path) => {
  const res = await get(admin, path);
  expect(res.status).toBe(405);
  expect(res.headers['x-weft-error']).toBe('WEFT_ERR_METHOD_NOT_ALLOWED');
  expect(res.headers.allow).toBe('POST');
  expect(res.headers['cache-control']).toBe('no-store');
  expect((await get(admin, '/ready')).status).toBe(200);
});

test('unknown admin paths: 404', async () => {
  expect((await get(admin, '/nope')).headers['x-weft-error']).toBe('WEFT_ERR_ADMIN_NOT_FOUND');
});

test('POST /healthcheck/fail fails readiness until POST /healthcheck/ok', async () => {
  expect((await get(admin, '/healthcheck/fail', {}, 'POST')).status).toBe(200);
  expect((await get(admin, '/ready')).status).toBe(503);
  expect((await get(admin, '/healthcheck/ok', {}, 'POST')).status).toBe(200);
  expect((await get(admin, '/ready')).status).toBe(200);
});

const HOST_REFUSED = 'WEFT_ERR_ADMIN_HOST_REFUSED';
const ORIGIN_REFUSED = 'WEFT_ERR_ADMIN_ORIGIN_REFUSED';
const ready = async () => (await get(admin, '/ready')).status;
const corsHeaders = (headers: Record<string, unknown>) => Object.keys(headers).filter((h) => h.startsWith('access-control-'));

function expectRefused(res: { status: number; headers: Record<string, unknown> }, code: string): void {
  expect(res.status).toBe(403);
  expect(res.headers['x-weft-error']).toBe(code);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(corsHeaders(res.headers)).toEqual([]);
}

/** One request over a raw socket to the admin at `address`, for Host headers undici would not send (or none). */
function rawRequest(port: number, head: string, address = '127.0.0.1'): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, address, () => socket.write(head));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [top, ...rest] = text.split('\r\n\r\n');
      const [statusLine, ...lines] = top.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
  });
}

// DNS rebinding: the browser dials the admin port under the attacker's name, so the name is in Host.
test.each([
  ['GET', '/config_dump'],
  ['GET', '/ready'],
  ['POST', '/drain'],
  ['POST', '/healthcheck/fail'],
  ['POST', '/healthcheck/ok'],
])('%s %s with a foreign Host is refused with 403 and changes nothing', async (method, path) => {
  const res = await get(admin, path, { host: `evil.example:${admin}` }, method);
  expectRefused(res, HOST_REFUSED);
  expect(res.text).not.toContain(sidecar.handle.store.current!.version);
  expect(await ready()).toBe(200);
  expect((await get(egress, '/', { host: 'orders.demo.local' })).status).toBe(200);
});

test.each(['evil.example', 'localhost.evil.example:PORT', '127.0.0.1.evil.example', 'localhost:PORT.evil.example', '0.0.0.0:PORT', '192.0.2.2:PORT', '[::ffff:c000:202]:PORT'])(
  'Host %s is not loopback and is refused',
  async (host) => {
    expectRefused(await get(admin, '/config_dump', { host: host.replace('PORT', String(admin)) }), HOST_REFUSED);
  },
);

test.each(['localhost:PORT', '127.0.0.1:PORT', 'localhost', '127.0.0.1', 'LocalHost:PORT', '127.0.0.2:PORT'])('Host %s is loopback and is served', async (host) => {
  const res = await get(admin, '/config_dump', { host: host.replace('PORT', String(admin)) });
  expect(res.status).toBe(200);
  expect((res.json() as unknown as { version: string }).version).toBe(sidecar.handle.store.current!.version);
});

test('a request without Host (HTTP/1.0 tools) is served', async () => {
  const res = await rawRequest(admin, 'GET /ready HTTP/1.0\r\n\r\n');
  expect(res.status).toBe(200);
  expect(res.body).toBe('LIVE\n');
});

// A page can POST cross-site without a preflight (a form, or fetch with no-cors); the browser then
// sends Origin, `null` from sandboxed frames, file: pages and some redirects.
test.each([
  ['/healthcheck/fail', 'http://evil.example'],
  ['/drain', 'http://evil.example'],
  ['/healthcheck/fail', 'null'],
  ['/drain', 'null'],
  ['/healthcheck/fail', 'http://127.0.0.1:PORT'],
])('POST %s with Origin %s and a loopback Host is refused and changes nothing', async (path, origin) => {
  expectRefused(await get(admin, path, { origin: origin.replace('PORT', String(admin)) }, 'POST'), ORIGIN_REFUSED);
  expect(await ready()).toBe(200);
  expect((await get(egress, '/', { host: 'orders.demo.local' })).status).toBe(200);
});

test.each(['cross-site', 'same-site'])('POST /healthcheck/fail with Sec-Fetch-Site %s is refused', async (site) => {
  expectRefused(await get(admin, '/healthcheck/fail', { 'sec-fetch-site': site }, 'POST'), ORIGIN_REFUSED);
  expect(await ready()).toBe(200);
});

test('POST /healthcheck/ok from a web page does not undo a failed health check; one without Origin does', async () => {
  expect((await get(admin, '/healthcheck/fail', {}, 'POST')).status).toBe(200);
  expectRefused(await get(admin, '/healthcheck/ok', { origin: 'http://evil.example' }, 'POST'), ORIGIN_REFUSED);
  expect(await ready()).toBe(503);
  // Node's fetch, as a hook script would use it, sends Sec-Fetch-Mode but neither Origin nor Sec-Fetch-Site.
  const ok = await fetch(`http://127.0.0.1:${admin}/healthcheck/ok`, { method: 'POST' });
  expect([ok.status, await ok.text()]).toEqual([200, 'OK\n']);
  expect(await ready()).toBe(200);
  // `none` marks a request the user started (address bar, bookmark), not one a page made.
  expect((await get(admin, '/healthcheck/fail', { 'sec-fetch-site': 'none' }, 'POST')).status).toBe(200);
  expect(await ready()).toBe(503);
  expect((await get(admin, '/healthcheck/ok', {}, 'POST')).status).toBe(200);
  expect(await ready()).toBe(200);
});

// Reads are not refused for Origin: without CORS headers the browser keeps the body from the page.
test('no response carries CORS headers, so a page on another origin cannot read the admin; none is cached', async () => {
  const read = await get(admin, '/config_dump', { origin: 'http://evil.example' });
  expect(read.status).toBe(200);
  const preflight = await get(admin, '/drain', { origin: 'http://evil.example', 'access-control-request-method': 'POST' }, 'OPTIONS');
  expect(preflight.status).toBe(405);
  for (const res of [read, preflight, await get(admin, '/stats'), await get(admin, '/nope')]) {
    expect(corsHeaders(res.headers)).toEqual([]);
    expect(res.headers['cache-control']).toBe('no-store');
  }
});

const interfaces = Object.values(networkInterfaces()).flatMap((a) => a ?? []);
const ipv6Loopback = interfaces.some((a) => a.address === '::1');
const external = interfaces.find((a) => a.family === 'IPv4' && !a.internal)?.address;

(ipv6Loopback ? test : test.skip)('an admin listening on ::1 serves Host [::1]:PORT and refuses a foreign Host', async () => {
  const v6 = await startWith(body({ 'orders:8080': 1 }), { adminAddress: '::1' });
  try {
    const port = v6.handle.ports.admin;
    const res = await rawRequest(port, `GET /ready HTTP/1.1\r\nHost: [::1]:${port}\r\nConnection: close\r\n\r\n`, '::1');
    expect(res.status).toBe(200);
    expectRefused(await rawRequest(port, `GET /ready HTTP/1.1\r\nHost: evil.example:${port}\r\nConnection: close\r\n\r\n`, '::1'), HOST_REFUSED);
  } finally {
    await v6.close();
  }
});

(external ? test : test.skip)('an admin listening on a non-loopback address also serves that address as Host', async () => {
  const wide = await startWith(body({ 'orders:8080': 1 }), { adminAddress: external });
  try {
    const port = wide.handle.ports.admin;
    const head = (host: string) => `GET /ready HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
    expect((await rawRequest(port, head(`${external}:${port}`), external)).status).toBe(200);
    expect((await rawRequest(port, head(`localhost:${port}`), external)).status).toBe(200);
    expectRefused(await rawRequest(port, head(`evil.example:${port}`), external), HOST_REFUSED);
  } finally {
    await wide.close();
  }
});

(external ? test : test.skip)('an admin listening on 0.0.0.0 serves only loopback names as Host', async () => {
  const any = await startWith(body({ 'orders:8080': 1 }), { adminAddress: '0.0.0.0' });
  try {
    const port = any.handle.ports.admin;
    const head = (host: string) => `GET /ready HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
    expect((await rawRequest(port, head(`127.0.0.1:${port}`), external)).status).toBe(200);
    expectRefused(await rawRequest(port, head(`${external}:${port}`), external), HOST_REFUSED);
    expectRefused(await rawRequest(port, head(`0.0.0.0:${port}`), external), HOST_REFUSED);
  } finally {
    await any.close();
  }
});

test('a bad config keeps the last good one and shows in admin; a good one then applies', async () => {
  const good = sidecar.handle.store.current!.version;
  sidecar.config.writeText('{"schema": "weft.dev/node-config/v1", "version": "nope"');
  await eventually(async () => (await stats()).config.lastError !== null, 'the bad config to be reported');
  let s = await stats();
  expect(s.config.lastError.code).toBe('WEFT_ERR_NODE_CONFIG_INVALID');
  expect(s.config.version).toBe(good);
  expect((await get(egress, '/', { host: 'orders.demo.local' })).status).toBe(200);

  sidecar.config.write({ ...body({ 'orders:8080': 1 }), node: { kind: 'virtualNode', name: 'payments', spiffeId: 'spiffe://weft.test/ns/demo/sa/payments' } });
  await eventually(async () => (await stats()).config.lastError?.code === 'WEFT_ERR_CONFIG_MISMATCH', 'a config for another node to be refused');
  expect((await stats()).config.version).toBe(good);

  const next = sidecar.config.write(body({ 'orders:8080': 2 }));
  await eventually(async () => (await stats()).config.version === next.version, 'the good config to apply');
  s = await stats();
  expect(s.config.lastError).toBeNull();
  expect((await get(egress, '/', { host: 'orders.demo.local' })).status).toBe(200);
});

test('POST /drain fails readiness and stops the traffic listeners; admin stays up', async () => {
  expect((await get(admin, '/drain', {}, 'POST')).status).toBe(200);
  const ready = await get(admin, '/ready');
  expect(ready.status).toBe(503);
  expect(ready.text).toContain('DRAINING');
  await expect(get(egress, '/', { host: 'orders.demo.local', connection: 'close' })).rejects.toThrow();
});
