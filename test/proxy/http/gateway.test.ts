import { connect } from 'node:net';
import { agent, freePort, get, httpRoute, startUpstream, startWith, staticCluster, type ConfigBody, type Running, type Upstream } from '../harness';

let app: Upstream;
let sidecar: Running;
let port: number;
let body: ConfigBody;

beforeAll(async () => {
  app = await startUpstream('app');
  body = {
    mesh: { name: 'demo', egressFilter: 'DROP_ALL', trustDomain: 'weft.test' },
    node: { kind: 'virtualGateway', name: 'edge', spiffeId: 'spiffe://weft.test/ns/demo/sa/edge' },
    inbound: { listeners: [], policy: {} },
    gateway: {
      listeners: [{ port: 8080, protocol: 'http' }],
      routes: [
        { name: 'edge/app', priority: 0, protocol: 'http', match: { path: { prefix: '/path-to-app/' } }, target: { virtualService: 'app.demo.local' }, rewrite: { prefix: '/' } },
        { name: 'edge/keep-host', priority: 1, protocol: 'http', match: { path: { prefix: '/keep/' } }, target: { virtualService: 'app.demo.local' }, rewrite: { hostnameToTarget: false } },
      ],
      policy: {},
    },
    outbound: { services: [{ name: 'app.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('app/default', { 'app:8080': 1 })] }] }] },
    clusters: [staticCluster('app:8080', [app.port])],
  };
  sidecar = await startWith(body, {}, { bindGatewayPort: () => 0 });
  port = sidecar.handle.ports.gateway[8080];
});
afterAll(async () => {
  await sidecar.close();
  await Promise.all([app.close(), agent.close()]);
});

test('a gateway route rewrites /path-to-app/x to /x and Host to the target service', async () => {
  const res = await get(port, '/path-to-app/x?y=1', { host: 'www.example.com' });
  expect(res.status).toBe(200);
  const seen = res.json();
  expect(seen.url).toBe('/x?y=1');
  expect(seen.headers.host).toBe('app.demo.local');
});

test('hostnameToTarget false keeps the client Host', async () => {
  const res = await get(port, '/keep/a', { host: 'www.example.com' });
  expect(res.status).toBe(200);
  expect(res.json()).toMatchObject({ url: '/keep/a', headers: { host: 'www.example.com' } });
});

test('no gateway route: 404 WEFT_ERR_GATEWAY_NO_ROUTE', async () => {
  const res = await get(port, '/elsewhere', { host: 'www.example.com' });
  expect(res.status).toBe(404);
  expect(res.headers['x-weft-error']).toBe('WEFT_ERR_GATEWAY_NO_ROUTE');
});

test('a gateway has no inbound or egress listener', () => {
  expect(sidecar.handle.ports.inbound).toBeUndefined();
  expect(sidecar.handle.ports.egress).toBeUndefined();
});

test('gateway routes see the normalized path: /path-to-app/%2e%2e/keep/a is /keep/a', async () => {
  // A raw request: HTTP clients normalize the URL themselves, peers need not.
  const response = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('GET /path-to-app/%2e%2e/keep/a HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n'));
    let text = '';
    socket.on('data', (d) => (text += d));
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
  });
  expect(response.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
  // The app echoes what it saw as JSON (chunked on the wire).
  expect(response).toContain('"url":"/keep/a"');
  expect(response).toContain('"host":"www.example.com"');
});

describe('WEFT_GATEWAY_PORTS', () => {
  test('binds a gateway listener on the port it maps the listener port to', async () => {
    const bound = await freePort();
    const moved = await startWith(body, { gatewayPorts: [`8080=${bound}`] });
    try {
      expect(moved.handle.ports.gateway).toEqual({ 8080: bound });
      expect((await get(bound, '/path-to-app/x', { host: 'www.example.com' })).status).toBe(200);
    } finally {
      await moved.close();
    }
  });

  test('a malformed pair stops the sidecar at start, naming the setting', async () => {
    await expect(startWith(body, { gatewayPorts: ['8080:9000'] })).rejects.toMatchObject({ code: 'WEFT_ERR_SETTINGS_INVALID', message: expect.stringContaining('WEFT_GATEWAY_PORTS') });
  });
});
